"""torch.nn.modules.module's names (the classes live in tinygrad_cv.nn)."""
from .. import Module  # noqa: F401
