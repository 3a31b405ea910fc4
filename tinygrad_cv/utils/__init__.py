"""``tinygrad_cv.utils``: torch.utils' place for ``utils.data``, which *is* the package
``tinygrad_cv.data`` (the same module objects, so the same classes).

torch's module paths resolve to the modules holding those names::

    tinygrad_cv.utils.data              -> tinygrad_cv.data
    tinygrad_cv.utils.data.dataset      -> tinygrad_cv.data.dataset   (Dataset, Subset, ...)
    tinygrad_cv.utils.data.dataloader   -> tinygrad_cv.data.dataset   (DataLoader, default_collate)
    tinygrad_cv.utils.data.sampler      -> tinygrad_cv.data.sampler
    tinygrad_cv.utils.data.distributed  -> tinygrad_cv.distributed.sampler (DistributedSampler)

``tinygrad_cv.utils.checkpoint`` is gradient checkpointing (``checkpoint``, ``checkpoint_sequential``).
"""
import sys as _sys

from .. import data  # noqa: F401
from . import checkpoint  # noqa: F401  (torch.utils.checkpoint)
from ..data import dataset as _dataset, sampler as _sampler
from ..distributed import sampler as _distributed_sampler

# registered under torch's names, so ``import tinygrad_cv.utils.data.sampler`` finds the loaded
# module instead of loading data/sampler.py a second time under another name
for _name, _module in {"": data, ".dataset": _dataset, ".dataloader": _dataset,
                       ".sampler": _sampler, ".distributed": _distributed_sampler}.items():
    _sys.modules[__name__ + ".data" + _name] = _module
