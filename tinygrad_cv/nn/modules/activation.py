"""torch.nn.modules.activation's names (the classes live in tinygrad_cv.nn)."""
from .. import ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Softmax, LogSoftmax, MultiheadAttention  # noqa: F401
