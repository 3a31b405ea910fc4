"""torch.nn.modules.pooling's names (the classes live in tinygrad_cv.nn)."""
from .. import MaxPool2d, MaxUnpool2d, AvgPool2d, AdaptiveAvgPool2d  # noqa: F401
