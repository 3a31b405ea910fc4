"""torch.nn.modules.conv's names (the classes live in tinygrad_cv.nn)."""
from .. import Conv2d, ConvTranspose2d  # noqa: F401
