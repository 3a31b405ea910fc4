"""torch.nn.modules.dropout's names (the classes live in tinygrad_cv.nn)."""
from .. import Dropout, Dropout1d, Dropout2d, Dropout3d  # noqa: F401
