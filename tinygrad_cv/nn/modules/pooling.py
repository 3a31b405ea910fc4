"""torch.nn.modules.pooling's names (the classes live in tinygrad_cv.nn)."""
from .. import (MaxPool1d, MaxPool2d, MaxUnpool2d, AvgPool1d, AvgPool2d,  # noqa: F401
               AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, MaxPool3d, AvgPool3d,
               MaxUnpool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d)
from .. import LPPool1d, LPPool2d, LPPool3d  # noqa: F401,E402
