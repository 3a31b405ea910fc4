"""torch.nn.modules.pixelshuffle's names (the classes live in tinygrad_cv.nn)."""
from .. import PixelShuffle, PixelUnshuffle  # noqa: F401
