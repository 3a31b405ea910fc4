"""torch.nn.modules.flatten's names (the classes live in tinygrad_cv.nn)."""
from .. import Flatten  # noqa: F401
