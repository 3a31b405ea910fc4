"""``tinygrad_cv.nn.parallel.DistributedDataParallel`` and ``DataParallel`` (torch's place for
them); the implementations are ``tinygrad_cv.distributed.ddp`` and ``nn.layers.data_parallel``."""
from ..distributed.ddp import DistributedDataParallel  # noqa: F401
from .layers.data_parallel import DataParallel, data_parallel  # noqa: F401

__all__ = ["DistributedDataParallel", "DataParallel", "data_parallel"]
