"""torch.nn.modules.container's names (the classes live in tinygrad_cv.nn)."""
from .. import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
