"""``tinygrad_cv.utils``: torch.utils' place for ``utils.data`` (the same objects as
``tinygrad_cv.data``)."""
import sys as _sys

from .. import data  # noqa: F401

# ``import tinygrad_cv.utils.data`` and ``from tinygrad_cv.utils.data import DataLoader`` both
# resolve to the one package tinygrad_cv.data (no second copy of its classes)
_sys.modules[__name__ + ".data"] = data
