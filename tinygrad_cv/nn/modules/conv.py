"""torch.nn.modules.conv's names (the classes live in tinygrad_cv.nn)."""
from .. import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
from .. import (LazyConv1d, LazyConv2d, LazyConvTranspose1d,  # noqa: F401,E402
               LazyConvTranspose2d, LazyConv3d, LazyConvTranspose3d)
