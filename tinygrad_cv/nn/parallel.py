"""``tinygrad_cv.nn.parallel.DistributedDataParallel`` (torch's place for it); the
implementation is ``tinygrad_cv.distributed.ddp``."""
from ..distributed.ddp import DistributedDataParallel  # noqa: F401

__all__ = ["DistributedDataParallel"]
