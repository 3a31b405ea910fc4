"""torch.nn.modules.transformer's names (the classes live in tinygrad_cv.nn)."""
from .. import Transformer, TransformerEncoder, TransformerDecoder, TransformerEncoderLayer, TransformerDecoderLayer  # noqa: F401
