"""tinygrad_cv: a computer-vision deep-learning framework on NumPy, and on CuPy on the GPU.

    import tinygrad_cv as tg
    x = tg.randn(4, 3, requires_grad=True)
    (x.relu() ** 2).sum().backward()
"""
from . import backend  # noqa: F401
from .backend import cuda_available, get_default_device, manual_seed, set_default_device  # noqa: F401
# the kernel first: tensor.py defines Tensor, then binds the ops, Function and the engine
from .tensor import (Tensor, matmul, maximum, minimum, where, cat, concatenate,  # noqa: F401
                     stack, split, chunk, pad, exp, log, sqrt, sin, cos, tanh, sigmoid, relu,
                     clamp, clip, abs, neg, sum, mean, max, min, var, std, logsumexp, argmax,
                     argmin, reshape, flatten, squeeze, unsqueeze, permute, transpose, softmax,
                     log_softmax, amax, amin, square, expand, broadcast_to)
from .autograd import (detect_anomaly, enable_grad, is_grad_enabled, no_grad,  # noqa: F401
                       set_grad_enabled)
from . import autograd  # noqa: F401
from .creation import (tensor, zeros, ones, empty, full, arange, linspace, eye,  # noqa: F401
                       rand, randn, randint, zeros_like, ones_like, full_like, randn_like,
                       rand_like, from_dlpack, from_numpy)

float32 = backend.dtype("float32")
float64 = backend.dtype("float64")
float16 = backend.dtype("float16")
int32 = backend.dtype("int32")
int64 = backend.dtype("int64")
bool_ = backend.dtype("bool")
long = int64
double = float64

__version__ = "0.1.0"
from .io import save, load  # noqa: E402,F401
from . import testing, viz  # noqa: E402,F401
from . import distributed  # noqa: E402,F401
