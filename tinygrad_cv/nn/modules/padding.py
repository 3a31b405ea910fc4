"""torch.nn.modules.padding's names (the classes live in tinygrad_cv.nn)."""
from .. import ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d, ConstantPad1d, ConstantPad2d, CircularPad2d  # noqa: F401
