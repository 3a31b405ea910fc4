"""tinygrad_cv: a computer-vision deep-learning framework on NumPy, and on CuPy on the GPU.

    import tinygrad_cv as tg
    x = tg.randn(4, 3, requires_grad=True)
    (x.relu() ** 2).sum().backward()
"""
from . import backend  # noqa: F401
from .backend import cuda_available, get_default_device, manual_seed, set_default_device  # noqa: F401
from .threads import get_num_threads, set_num_threads  # noqa: F401
from .threads import get_num_interop_threads, set_num_interop_threads  # noqa: F401
from .printing import set_printoptions  # noqa: F401
from .size import Size  # noqa: F401
# the kernel first: tensor.py defines Tensor, then binds the ops, Function and the engine
from .tensor import (Tensor, matmul, maximum, minimum, where, cat, concatenate,  # noqa: F401
                     stack, split, chunk, pad, exp, log, sqrt, sin, cos, tanh, sigmoid, relu,
                     clamp, clip, abs, neg, sum, mean, max, min, var, std, logsumexp, argmax,
                     argmin, reshape, flatten, squeeze, unsqueeze, permute, transpose, softmax,
                     log_softmax, amax, amin, square, expand, broadcast_to)
from .autograd import (detect_anomaly, enable_grad, inference_mode,  # noqa: F401
                       is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled)
from . import autograd  # noqa: F401
from .creation import (tensor, zeros, ones, empty, full, arange, linspace, eye,  # noqa: F401
                       rand, randn, randint, zeros_like, ones_like, full_like, randn_like,
                       rand_like, from_dlpack, from_numpy)
# torch compatibility: devices, generators, typed constructors, more function forms
from .devices import device  # noqa: E402,F401
from .generator import Generator, get_rng_state, set_rng_state  # noqa: E402,F401
from .creation import (as_tensor, randperm, empty_like, randint_like, logspace,  # noqa: E402,F401
                       get_default_dtype, set_default_dtype, FloatTensor, DoubleTensor,
                       HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor,
                       BoolTensor)
from .tensor_functions import (add, sub, subtract, mul, multiply, div, divide,  # noqa: E402,F401
                               true_divide, pow, rsqrt, reciprocal, log1p, expm1, floor, ceil,
                               trunc, round, frac, sign, eq, ne, lt, le, gt, ge, greater,
                               greater_equal, less, less_equal, not_equal, isnan, isfinite,
                               is_tensor, is_floating_point, numel, all, any, equal, allclose,
                               isclose, mm, bmm, t, outer, ger, dot, tril, triu, diag, norm,
                               narrow, masked_fill, flip, roll, cumsum, gather, index_select,
                               unbind, sort, argsort, topk, unique, multinomial, einsum,
                               log2, log10, clamp_min, clamp_max, masked_select, nonzero,
                               floor_divide, remainder, fmod, prod)
from .tensor_scatter import (scatter, scatter_add, scatter_reduce, index_add,  # noqa: E402,F401
                             index_copy, index_fill, index_put, index_put_, masked_scatter,
                             take_along_dim, lerp, addcmul, addcdiv, addmm, addbmm, baddbmm)
from .tensor_math import (tan, asin, acos, atan, sinh, cosh, asinh, acosh,  # noqa: E402,F401
                          atanh, arcsin, arccos, arctan, arcsinh, arccosh, arctanh, sinc, atan2,
                          arctan2, hypot, deg2rad, rad2deg, exp2, erf, erfc, erfinv, logit,
                          xlogy, logaddexp, logaddexp2, float_power, copysign, fmax, fmin,
                          nan_to_num, sgn, signbit, isinf, isposinf, isneginf, isreal,
                          heaviside, positive, negative, absolute, fix, logical_and, logical_or,
                          logical_xor, logical_not, bitwise_and, bitwise_or, bitwise_xor,
                          bitwise_not, gcd, lcm, lgamma, digamma, polygamma, mvlgamma,
                          ldexp, frexp)
from .tensor_statistics import (nansum, nanmean, std_mean, var_mean,  # noqa: E402,F401
                                aminmax, count_nonzero, quantile, nanquantile, cov, corrcoef,
                                trapezoid, trapz, cumulative_trapezoid)
from .tensor_products import (trace, kron, inner, vdot, tensordot, mv, addmv,  # noqa: E402,F401
                              addr, chain_matmul, dist, renorm, block_diag, diag_embed,
                              diagflat, vander)
from .tensor_indexing import (take, argwhere, ravel, clone, narrow_copy,  # noqa: E402,F401
                              msort, select_scatter, slice_scatter, diagonal_scatter, triu_indices,
                              tril_indices, combinations, broadcast_shapes, broadcast_tensors,
                              is_nonzero, is_same_size, result_type, promote_types, can_cast,
                              isin, tensor_split, hsplit, vsplit, dsplit, unravel_index,
                              put, index_reduce)
from .tensor_random import (normal, bernoulli, poisson, seed,  # noqa: E402,F401
                            initial_seed)
from .dtype_info import finfo, iinfo, is_complex  # noqa: E402,F401
from .windows import (hann_window, hamming_window, blackman_window,  # noqa: E402,F401
                      bartlett_window, kaiser_window)
from .tensor_functions import rsub  # noqa: E402,F401
from .creation import asarray, scalar_tensor  # noqa: E402,F401
from .tensor import cat as concat  # noqa: E402,F401
from . import tensor_storage  # noqa: E402,F401  (binds the storage queries)
from .storage import TypedStorage, UntypedStorage  # noqa: E402,F401  (and t.storage())
from .tensor_kind import layout, strided, sparse_coo  # noqa: E402,F401  (and the flags)
from . import tensor_compat  # noqa: E402,F401  (binds torch's remaining methods)
from . import view_variants  # noqa: E402  (the *_copy and unsafe_* forms of the views)
from . import tensor_callables  # noqa: E402,F401  (apply_, map_, map2_)
from .view_variants import *  # noqa: E402,F401,F403
from .compiling import compile  # noqa: E402,F401
from . import func  # noqa: E402,F401
from .tensor_views import (select, movedim, moveaxis, swapdims, swapaxes,  # noqa: E402,F401
                           unflatten, diagonal, unfold, fliplr, flipud, rot90, tile,
                           repeat_interleave, atleast_1d, atleast_2d, atleast_3d, hstack,
                           vstack, row_stack, dstack, column_stack, meshgrid, cartesian_prod,
                           adjoint)
from .tensor_ordering import (cumprod, cummax, cummin, logcumsumexp, diff,  # noqa: E402,F401
                              kthvalue, median, nanmedian, mode, searchsorted, bucketize, histc,
                              bincount, unique_consecutive)
from .memory_formats import (memory_format, preserve_format,  # noqa: E402,F401
                             contiguous_format, channels_last, channels_last_3d)

float32 = backend.dtype("float32")
float64 = backend.dtype("float64")
float16 = backend.dtype("float16")
int32 = backend.dtype("int32")
int64 = backend.dtype("int64")
bool_ = backend.dtype("bool")
long = int64
double = float64
# torch's dtype names (NumPy dtypes underneath); ``dtype`` is their class
float = float32  # noqa: A001
half = float16
int8 = backend.dtype("int8")
int16 = backend.dtype("int16")
uint8 = backend.dtype("uint8")
short = int16
int = int32  # noqa: A001
bool = bool_  # noqa: A001
dtype = next(c for c in type(float32).__mro__ if c.__name__ == "dtype")

__version__ = "0.1.0"
from .io import save, load  # noqa: E402,F401
from . import onnx, serialization  # noqa: E402,F401
from . import testing, viz  # noqa: E402,F401
# torch's namespaces, reachable after a bare ``import tinygrad_cv``
from . import nn, optim, utils, cuda, accelerator, backends  # noqa: E402,F401
from . import profiler  # noqa: E402,F401
# torch's top-level twins of nn.functional functions (those with the same signature)
from .nn.functional import (pdist, pairwise_distance, cosine_similarity,  # noqa: E402,F401
                            channel_shuffle, pixel_shuffle, pixel_unshuffle, prelu, selu,
                            celu, rrelu, threshold, hardshrink, bilinear, rms_norm,
                            alpha_dropout, feature_alpha_dropout)
from .nn.functional.distance import cdist  # noqa: E402,F401
from .backends import (use_deterministic_algorithms,  # noqa: E402,F401
                       are_deterministic_algorithms_enabled,
                       is_deterministic_algorithms_warn_only_enabled)
from . import distributed  # noqa: E402,F401
from . import distributions  # noqa: E402,F401
from . import special  # noqa: E402,F401
from . import linalg  # noqa: E402,F401
from .linalg import (det, logdet, inverse, pinverse, matrix_power,  # noqa: E402,F401
                     matrix_exp, cholesky_solve, cholesky_inverse)
from .linalg import (cholesky_top as cholesky, qr_top as qr, svd_top as svd,  # noqa: E402,F401
                     cross_top as cross, slogdet_top as slogdet)
from .linalg_lu import (lu_top as lu, lu_solve_top as lu_solve,  # noqa: E402,F401
                        lu_unpack)
from . import sparse  # noqa: E402,F401
from .sparse import sparse_coo_tensor, spmm  # noqa: E402,F401
from . import amp  # noqa: E402,F401
from . import multiprocessing  # noqa: E402,F401  (tensors cross processes in shared memory)
from .amp import (autocast, is_autocast_enabled, get_autocast_dtype,  # noqa: E402,F401
                  set_autocast_enabled, set_autocast_dtype)
# torch's remaining top-level functions: settings, ATen-signature layer functions, in-place forms
from . import toplevel_twins  # noqa: E402
globals().update({_n: getattr(toplevel_twins, _n) for _n in toplevel_twins.__all__})
