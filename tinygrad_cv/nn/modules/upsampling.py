"""torch.nn.modules.upsampling's names (the classes live in tinygrad_cv.nn)."""
from .. import Upsample  # noqa: F401
