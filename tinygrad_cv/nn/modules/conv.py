"""torch.nn.modules.conv's names (the classes live in tinygrad_cv.nn)."""
from .. import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
