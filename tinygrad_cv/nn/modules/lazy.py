"""torch.nn.modules.lazy's name ``LazyModuleMixin`` (it lives in tinygrad_cv.nn.layers.lazy)."""
from ..layers.lazy import LazyModuleMixin  # noqa: F401
