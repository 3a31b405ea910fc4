"""torch.nn.modules.batchnorm's names (the classes live in tinygrad_cv.nn)."""
from .. import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from .. import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: F401,E402
from .. import SyncBatchNorm  # noqa: F401,E402
