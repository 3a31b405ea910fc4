"""torch's remaining top-level functions, as thin adapters over the existing implementations.

* Settings and queries: ``set_float32_matmul_precision`` / ``get_float32_matmul_precision``,
  ``set_anomaly_enabled`` / ``is_anomaly_enabled`` / ``is_anomaly_check_nan_enabled`` (the
  anomaly mode of ``autograd/mode.py``, the one ``detect_anomaly`` sets),
  ``set_default_tensor_type``, ``set_flush_denormal``, ``typename``, ``is_storage``,
  ``is_signed``, ``is_inference``, ``get_device``, and the complex-free ``is_conj``,
  ``is_neg``, ``conj``, ``resolve_conj``, ``resolve_neg``, ``conj_physical`` (tensors here are
  real: the tensor itself, or False).
* The layer functions torch exposes at top level with ATen's signatures, which differ from
  ``nn.functional``'s: ``dropout(input, p, train)`` and its feature/alpha/in-place forms,
  ``batch_norm`` / ``instance_norm`` (weight and bias before the running statistics),
  ``embedding(weight, indices, padding_idx=-1, ...)`` (weight first; a negative padding_idx
  means none), the losses with ``reduction`` as an int (0 none, 1 mean, 2 sum), the pools with
  ``stride=()`` meaning the kernel size, ``adaptive_max_pool1d`` returning (values, indices).
* In-place forms ``torch.X_(t, ...)``: ``t.X_(...)`` (the same tensor object returned; the
  method's graph rules apply).
* ``conv3d``, ``conv_transpose3d``, ``max_pool3d``, the bit shifts ``bitwise_left_shift`` /
  ``bitwise_right_shift``, ``vmap`` (``func.vmap``), ``set_warn_always`` (recorded).
* ``detach``, ``fill``, ``range`` (deprecated: inclusive end), ``empty_strided``,
  ``split_with_sizes``, ``constant_pad_nd``, ``frombuffer`` (shares the buffer's memory),
  ``histogram`` (hist, bin_edges), ``gradient`` (central differences, a tuple).

Every adapter calls the framework's one implementation of the thing (``nn.functional``, the
Tensor methods, ``autograd.mode``); none computes a layer itself.
"""
from __future__ import annotations

import builtins
import math
import numbers
import warnings

from . import backend, return_types
from .autograd.mode import is_anomaly_check_nan_enabled, is_anomaly_enabled, modes
from .backends import cuda as _cuda_backend
from . import creation
from .creation import TensorType, empty, linspace, set_default_dtype
from .creation import arange as _arange
from .nn import functional as F
from .nn.functional.feature_dropout import feature_dropout as _feature_dropout
from .tensor import Tensor, _as_tensor, _resolve_dtype, cat
from .tensor_math import i0, igamma, igammac, nextafter
from .tensor_compat import bitwise_left_shift, bitwise_right_shift
from .func import vmap

_FLOAT64 = backend.dtype("float64")
_DTYPE_CLASS = next(c for c in type(_FLOAT64).__mro__ if c.__name__ == "dtype")


def _tensor(name, input, position=1, what="input"):
    """``input`` itself when it is a Tensor, else torch's TypeError."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, not "
                        f"{type(input).__name__}")
    return input


# ---- settings -------------------------------------------------------------------------------
_warn_always = [False]


def set_warn_always(b):
    """torch's switch that repeats its warn-once warnings; recorded (the framework's warnings go
    through Python's ``warnings`` module, whose filters decide how often one shows)."""
    _warn_always[0] = bool(b)


def is_warn_always_enabled():
    return _warn_always[0]


_PRECISIONS = ("highest", "high", "medium")
_precision = ["highest"]


def set_float32_matmul_precision(precision):
    """'highest', 'high' or 'medium': the precision float32 matrix products may use.

    Products here are always computed in full float32 (or better), which each of the three
    settings allows ('high' and 'medium' permit, and do not require, TF32 or bfloat16 inner
    products).  The setting is recorded and reflected in ``backends.cuda.matmul`` as torch
    does (``allow_tf32`` is True unless 'highest').  Another string warns and changes nothing
    (as torch); a non-string raises."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", stacklevel=2)
        return
    _precision[0] = precision
    _cuda_backend.matmul.allow_tf32 = precision != "highest"
    _cuda_backend.matmul.fp32_precision = "ieee" if precision == "highest" else "tf32"


def get_float32_matmul_precision():
    """The setting of ``set_float32_matmul_precision`` ('highest' by default; 'high' after
    ``backends.cuda.matmul.allow_tf32 = True`` and 'highest' after setting it False, as
    torch)."""
    if _cuda_backend.matmul.allow_tf32 != (_precision[0] != "highest"):
        _precision[0] = "high" if _cuda_backend.matmul.allow_tf32 else "highest"
    return _precision[0]


def set_anomaly_enabled(mode, check_nan=True):
    """Turn anomaly mode on or off for this thread (what ``with detect_anomaly(check_nan):``
    does for its block): with ``check_nan`` the forward outputs and backward gradients are
    checked for NaN/Inf and the first op producing one raises."""
    modes.anomaly = builtins.bool(mode)
    modes.anomaly_check_nan = builtins.bool(check_nan)


def set_default_tensor_type(t):
    """Deprecated in torch: set the default floating dtype from a CPU tensor type
    (``FloatTensor``, ``DoubleTensor``) or its name ('torch.FloatTensor').  The dtype goes to
    ``set_default_dtype`` (which supports float32 only); a non-floating or unknown type
    raises TypeError."""
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    if isinstance(t, str):
        prefix, _, name = t.rpartition(".")
        if prefix in ("torch.cuda", "tinygrad_cv.cuda"):
            raise NotImplementedError(f"set_default_tensor_type({t!r}): only CPU tensor types "
                                      f"are supported (use set_default_device for the GPU)")
        found = getattr(creation, name, None)
        if prefix not in ("torch", "tinygrad_cv") or not isinstance(found, TensorType):
            raise TypeError(f"set_default_tensor_type: unknown tensor type {t!r} (expected "
                            f"'torch.FloatTensor' or 'torch.DoubleTensor')")
        t = found
    if not isinstance(t, TensorType):
        raise TypeError("invalid type object: only floating-point types are supported as the "
                        "default type")
    if not backend.is_floating(t.dtype):
        raise TypeError("only floating-point types are supported as the default type")
    if t.device != "cpu":
        raise NotImplementedError(f"set_default_tensor_type({t!r}): only CPU tensor types "
                                  f"are supported (use set_default_device for the GPU)")
    set_default_dtype(t.dtype)


def set_flush_denormal(mode):
    """False: NumPy and CuPy offer no switch for the CPU's flush-to-zero mode, so denormal
    floats are kept (torch also returns False where the CPU cannot flush)."""
    return False


def typename(obj):
    """The qualified name of obj's type: 'torch.FloatTensor' for a tensor, 'torch.dtype' for a
    dtype, 'int', 'tinygrad_cv.nn.layers.linear.Linear', ... (torch's rules)."""
    if isinstance(obj, Tensor):
        return obj.type()
    if isinstance(obj, _DTYPE_CLASS):
        return "torch.dtype"
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def is_storage(obj):
    """Whether ``obj`` is a storage (``UntypedStorage`` or ``TypedStorage``)."""
    from .storage import is_storage as _is_storage
    return _is_storage(obj)


def is_signed(input):
    """Whether input's dtype holds negative numbers (floats and signed integers)."""
    return _tensor("is_signed", input).is_signed()


def is_inference(input):
    """False (tensors made under ``inference_mode`` are ordinary tensors here)."""
    return _tensor("is_inference", input).is_inference()


def get_device(input):
    """-1 on the CPU, the GPU's index on the GPU."""
    return _tensor("get_device", input).get_device()


def _complex_free(name, doc):
    def fn(input):
        return getattr(_tensor(name, input), name)()
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + " (there is no complex dtype: tensors are real)"
    return fn


is_conj = _complex_free("is_conj", "False")
is_neg = _complex_free("is_neg", "False")
conj = _complex_free("conj", "The input itself")
resolve_conj = _complex_free("resolve_conj", "The input itself")
resolve_neg = _complex_free("resolve_neg", "The input itself")
conj_physical = _complex_free("conj_physical", "The input itself")
conj_physical_ = _complex_free("conj_physical", "In place: the input itself, unchanged")
conj_physical_.__name__ = conj_physical_.__qualname__ = "conj_physical_"


# ---- layer functions with ATen's signatures ----------------------------------------------
conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d = F.conv_transpose1d, F.conv_transpose2d
conv_transpose3d = F.conv_transpose3d
adaptive_avg_pool1d = F.adaptive_avg_pool1d


def _stride(stride):
    """ATen's empty stride (``()``, the default) means the kernel size (``None`` in F)."""
    return None if stride is None or (not isinstance(stride, numbers.Number) and
                                      len(stride) == 0) else stride


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False,
               count_include_pad=True):
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                        count_include_pad)


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    """(values, int64 indices into the length axis)."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                        return_indices=True)


def adaptive_max_pool1d(input, output_size):
    """(values, indices), always both (ATen's form)."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def dropout(input, p, train):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) when
    ``train``."""
    return F.dropout(input, p, train)


def dropout_(input, p, train):
    return F.dropout(input, p, train, inplace=True)


def feature_dropout(input, p, train):
    """Zero whole channels input[n, c] with probability p (dropout1d/2d/3d's mask)."""
    return _feature_dropout(input, p, train)


def feature_dropout_(input, p, train):
    return _feature_dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p, train):
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """``F.layer_norm`` (``cudnn_enable`` is accepted and has no effect)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """``F.group_norm`` (``cudnn_enabled`` is accepted and has no effect)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    """``F.batch_norm`` with ATen's argument order (weight and bias first)."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    """``F.instance_norm`` with ATen's argument order (weight and bias first)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``weight[indices]`` (``F.embedding`` with the weight first); rows at a non-negative
    ``padding_idx`` get no gradient, a negative one means none."""
    padding_idx = None if padding_idx is None or padding_idx < 0 else padding_idx
    return F.embedding(indices, weight, padding_idx, None, 2.0, scale_grad_by_freq, sparse)


_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction):
    """ATen's int reduction (0 none, 1 mean, 2 sum) as nn.functional's string."""
    if isinstance(reduction, builtins.bool) or not isinstance(reduction, numbers.Integral) or \
            not 0 <= reduction <= 2:
        raise ValueError(f"reduction must be 0 (none), 1 (mean) or 2 (sum), got {reduction!r}")
    return _REDUCTIONS[reduction]


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction=1):
    return F.binary_cross_entropy_with_logits(input, target, weight,
                                              reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def kl_div(input, target, reduction=1, *, log_target=False):
    """ATen's kl_div: reduction 1 is the mean over all elements (no 'batchmean' here)."""
    name = _reduction(reduction)
    loss = F.kl_div(input, target, reduction="none" if name == "mean" else name,
                    log_target=log_target)
    return loss.mean() if name == "mean" else loss


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        reduction=1):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1,
             zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction(reduction), zero_infinity)


# ---- in-place forms ------------------------------------------------------------------------
_IN_PLACE_METHODS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
    "arctan_", "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
    "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "detach_", "erf_",
    "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_",
    "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_",
    "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_",
    "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")


def _in_place(name):
    def fn(input, *args, **kwargs):
        return getattr(_tensor(name, input), name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``: in place, returns input."
    return fn


for _name in _IN_PLACE_METHODS:
    globals()[_name] = _in_place(_name)
celu_, selu_, rrelu_, threshold_ = F.celu_, F.selu_, F.rrelu_, F.threshold_


# ---- misc -----------------------------------------------------------------------------------
def detach(input):
    """``input.detach()``: the same data, off the graph."""
    return _tensor("detach", input).detach()


def fill(input, value):
    """A new tensor of input's shape and dtype holding ``value`` (a number or a 0-d tensor;
    gradients flow to a value tensor, none to input)."""
    return _tensor("fill", input).clone().fill_(value)


def range(start, end, step=1, *, dtype=None, device=None, requires_grad=False):  # noqa: A001
    """Deprecated in torch: start, start + step, ... up to and including end, in the default
    floating dtype (float32) unless ``dtype`` is given; the values are computed in float64
    (start + i step) and cast."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = math.floor((end - start) / step) + 1   # (as torch: 1 // 0.1 would give 9)
    values = _arange(count, dtype=_FLOAT64, device=device) * step + start
    out = values.to(_resolve_dtype(dtype) if dtype is not None else backend.dtype("float32"))
    return out.requires_grad_(requires_grad)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, pin_memory=False,
                  requires_grad=False):
    """An uninitialised tensor of shape ``size`` whose elements lie ``stride`` elements apart
    (a view into a fresh buffer just large enough)."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of "
                           f"strides ({len(stride)})")
    if any(s < 0 for s in stride):
        raise RuntimeError("empty_strided: negative strides are not supported")
    span = 0 if 0 in size else 1 + builtins.sum((n - 1) * s for n, s in zip(size, stride))
    flat = empty(span, dtype=dtype, device=device)
    itemsize = flat.array.itemsize
    out = Tensor.wrap(backend.as_strided(flat.array, size, tuple(s * itemsize for s in stride)))
    return out.requires_grad_(requires_grad)


def split_with_sizes(input, split_sizes, dim=0):
    """``input.split_with_sizes(split_sizes, dim)``."""
    return _tensor("split_with_sizes", input).split_with_sizes(split_sizes, dim)


def constant_pad_nd(input, pad, value=0):
    """``F.pad(input, pad, 'constant', value)`` (negative pads crop)."""
    return F.pad(input, pad, "constant", value)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over ``buffer``'s memory (an object with the buffer protocol: bytearray,
    array.array, mmap, ...), no copy: writes to either show in the other.  ``count``
    elements (-1: to the end) of ``dtype`` from byte ``offset``.  A read-only buffer (bytes)
    warns, as torch, and gives a read-only tensor."""
    dt = _resolve_dtype(dtype)
    nbytes = memoryview(buffer).nbytes
    if nbytes == 0 or count == 0:
        raise ValueError(f"both buffer length ({nbytes}) and count ({count}) must not be 0")
    if not 0 <= offset < nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({nbytes} bytes) minus 1")
    if count < 0:
        if (nbytes - offset) % dt.itemsize:
            raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({dt.itemsize})")
        count = (nbytes - offset) // dt.itemsize
    elif offset + count * dt.itemsize > nbytes:
        raise ValueError(f"requested buffer length ({count} * {dt.itemsize} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({nbytes} bytes)")
    array = backend.module_for_device("cpu").frombuffer(buffer, dtype=dt, count=count,
                                                         offset=offset)
    if not array.flags.writeable:
        warnings.warn("The given buffer is not writable: the tensor shares its memory and is "
                      "read-only.", UserWarning, stacklevel=2)
    out = Tensor.wrap(array)
    return out.requires_grad_(requires_grad)




@backend.fp_quiet
def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """(hist, bin_edges): counts (or sums of ``weight``) of input's elements in each bin.

    ``bins`` an int: that many equal bins over ``range`` (default: input's min and max;
    [min - 0.5, max + 0.5] when they are equal, [0, 1] for an empty input), edges as
    ``linspace``; a 1-D tensor: the increasing edges.  Each bin is [e_i, e_{i+1}), the last
    also holds its right edge; elements outside are ignored.  ``density``: hist / (total *
    bin width), so the histogram integrates to 1.  Floating inputs only; not
    differentiable."""
    x = _tensor("histogram", input)
    if not backend.is_floating(x.dtype):
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{x.dtype}'")
    a = x.array.reshape(-1)
    xp = backend.get_array_module(a)
    if isinstance(bins, Tensor):
        if bins.dtype != x.dtype:
            raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                               f"same dtype, but got input with dtype {x.dtype} and bins with "
                               f"dtype {bins.dtype}")
        if bins.ndim != 1 or bins.shape[0] < 1:
            raise RuntimeError("torch.histogram: bins tensor should have one dimension and at "
                               "least 1 element")
        edges = bins.detach().clone()
    else:
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                               f"dimension 0")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif a.size:
            lo, hi = float(a.min()), float(a.max())
        else:
            lo, hi = 0.0, 1.0
        if lo > hi:
            raise RuntimeError(f"torch.histogram: min should not exceed max, but got min {lo} "
                               f"max {hi}")
        if not (xp.isfinite(lo) and xp.isfinite(hi)):
            raise RuntimeError(f"torch.histogram: range [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = linspace(lo, hi, bins + 1, dtype=x.dtype, device=x.device)
    w = None
    if weight is not None:
        w = _as_tensor(weight)
        if w.dtype != x.dtype:
            raise RuntimeError(f"torch.histogram: weight should have the input's dtype "
                               f"{x.dtype}, got {w.dtype}")
        if tuple(w.shape) != tuple(x.shape):
            raise RuntimeError(f"torch.histogram: weight should have the same shape as input, "
                               f"got {tuple(w.shape)} and {tuple(x.shape)}")
        w = w.array.reshape(-1)
    counts = xp.histogram(a, bins=edges.array, weights=w)[0].astype(x.dtype)
    if density:
        widths = edges.array[1:] - edges.array[:-1]
        counts = (counts / (counts.sum() * widths)).astype(x.dtype)
    return return_types.histogram(Tensor.wrap(counts), edges)


def _spacings(name, spacing, dims, ndim, dim_given):
    """One entry per dim: a number (uniform spacing) or a 1-D coordinate tensor."""
    if isinstance(spacing, (numbers.Number, Tensor)) and not (
            isinstance(spacing, Tensor) and spacing.ndim > 0):
        return [spacing.item() if isinstance(spacing, Tensor) else spacing] * len(dims)
    spacing = list(spacing)
    if len(spacing) != len(dims):
        what = (f"'dim.size() = {len(dims)}', since dim argument was given" if dim_given else
                f"'self.dim() = {ndim}', since dim argument was not given")
        raise RuntimeError(f"{name} expected spacing to be unspecified, a scalar, or a list of "
                           f"length equal to {what}, but got a list of length {len(spacing)}")
    bad = [h.ndim for h in spacing if isinstance(h, Tensor) and h.ndim != 1]
    if bad:
        raise RuntimeError(f"{name} expected each element of spacing to have one dimension, "
                           f"but got an element with {bad[0]} dimensions!")
    return spacing


def _along(values, d, ndim):
    """A 1-D tensor shaped to broadcast along dim d of an ndim-D tensor."""
    return values.reshape([-1 if i == d else 1 for i in builtins.range(ndim)])


def _gradient_along(x, d, h, edge_order):
    """d x / d coordinate along dim d: central differences inside, one-sided (first or second
    order) at the two ends; h a number (uniform spacing) or the coordinates."""
    n = x.shape[d]

    def s(start, length=None):
        start = start + n if start < 0 else start
        return x.narrow(d, start, (n - start) if length is None else length)

    if not isinstance(h, Tensor):
        inner = (s(2) - s(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first, last = (s(1, 1) - s(0, 1)) / h, (s(-1, 1) - s(-2, 1)) / h
        else:
            first = (s(0, 1) * -1.5 + s(1, 1) * 2 - s(2, 1) * 0.5) / h
            last = (s(-3, 1) * 0.5 - s(-2, 1) * 2 + s(-1, 1) * 1.5) / h
        return cat([first, inner, last], d)
    c = h.to(x.dtype)
    if c.ndim != 1 or c.shape[0] != n:
        raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and "
                           f"to have {n} elements along dim {d}, got coordinates of shape "
                           f"{tuple(c.shape)}")
    dx = c[1:] - c[:-1]
    d1, d2 = dx[:-1], dx[1:]
    a, b, e = -d2 / (d1 * (d1 + d2)), (d2 - d1) / (d1 * d2), d1 / (d2 * (d1 + d2))
    inner = (_along(a, d, x.ndim) * s(0, n - 2) + _along(b, d, x.ndim) * s(1, n - 2)
             + _along(e, d, x.ndim) * s(2))
    if edge_order == 1:
        first, last = (s(1, 1) - s(0, 1)) / dx[0], (s(-1, 1) - s(-2, 1)) / dx[-1]
    else:
        p, q = dx[0], dx[1]
        first = (s(0, 1) * (-(2 * p + q) / (p * (p + q))) + s(1, 1) * ((p + q) / (p * q))
                 + s(2, 1) * (-p / (q * (p + q))))
        p, q = dx[-2], dx[-1]
        last = (s(-3, 1) * (q / (p * (p + q))) + s(-2, 1) * (-(p + q) / (p * q))
                + s(-1, 1) * ((2 * q + p) / (q * (p + q))))
    return cat([first, inner, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of ``input`` along each of ``dim`` (all dims by default), a tuple: central
    differences (x[i+1] - x[i-1]) / 2h inside (the three-point formula for unequal
    coordinates), one-sided differences of order ``edge_order`` (1 or 2) at the ends.
    ``spacing``: a number (one spacing for every dim), one number per dim, or one 1-D
    coordinate tensor per dim.  Integer inputs give float32; differentiable."""
    x = _tensor("gradient", input)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if not backend.is_floating(x.dtype):
        x = x.float()
    dim_given = dim is not None
    dims = list(builtins.range(x.ndim)) if dim is None else (
        [dim] if isinstance(dim, numbers.Integral) else list(dim))
    dims = [d % x.ndim if x.ndim else d for d in dims]
    if len(set(dims)) != len(dims):
        raise RuntimeError("torch.gradient: dim appears multiple times in the list of dims")
    hs = _spacings("torch.gradient", spacing, dims, x.ndim, dim_given)
    for d in dims:
        if x.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    return tuple(_gradient_along(x, d, h, edge_order) for d, h in zip(dims, hs))


__all__ = [
    "set_float32_matmul_precision", "get_float32_matmul_precision", "set_anomaly_enabled",
    "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_default_tensor_type",
    "set_flush_denormal", "typename", "is_storage", "is_signed", "is_inference", "get_device",
    "is_conj", "is_neg", "conj", "resolve_conj", "resolve_neg", "conj_physical",
    "conj_physical_",
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "avg_pool1d", "max_pool1d",
    "max_pool2d", "max_pool1d_with_indices", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout_",
    "feature_alpha_dropout_", "layer_norm", "group_norm", "batch_norm", "instance_norm",
    "embedding", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
    "margin_ranking_loss", "hinge_embedding_loss", "triplet_margin_loss", "poisson_nll_loss",
    "ctc_loss", *_IN_PLACE_METHODS, "celu_", "selu_", "rrelu_", "threshold_",
    "detach", "fill", "range", "empty_strided", "split_with_sizes", "constant_pad_nd",
    "frombuffer", "histogram", "gradient", "nextafter", "i0", "igamma", "igammac",
    "conv3d", "conv_transpose3d", "max_pool3d", "bitwise_left_shift", "bitwise_right_shift",
    "vmap", "set_warn_always", "is_warn_always_enabled"]
del _name
