"""torch.nn.modules.normalization's names (the classes live in tinygrad_cv.nn)."""
from .. import LayerNorm, GroupNorm  # noqa: F401
