"""torch.nn.modules.instancenorm's names (the classes live in tinygrad_cv.nn)."""
from .. import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401
from .. import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d  # noqa: F401,E402
