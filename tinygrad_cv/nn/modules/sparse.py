"""torch.nn.modules.sparse's names (the classes live in tinygrad_cv.nn)."""
from .. import Embedding  # noqa: F401
