"""Activations: relu, leaky_relu, sigmoid, tanh, gelu (erf / tanh), silu, softmax, log_softmax,
softmin, and torch's other pointwise activations (hardtanh, relu6, elu, selu, celu, softplus,
logsigmoid, mish, softsign, tanhshrink, threshold, hardsigmoid, hardswish, hardshrink,
softshrink, prelu, rrelu) and glu.

Shapes: any input shape; the output has the same shape (softmax/log_softmax/softmin along
``dim``; glu halves ``dim``).  The primitives (formulas, derivatives) are in ``ops.activation``
(LeakyReLUFn, GELUFn, SiLUFn) and ``ops.elementwise`` (ReLU, Sigmoid, Tanh); the others are
compositions of primitives whose branches are chosen with ``where`` so that the gradient at a
kink is torch's (stated per function).  Every activation here is differentiable twice.
"""
from __future__ import annotations

from ... import backend
from ...autograd.inplace import apply_inplace
from ...ops.activation import (ELUFn, GELUFn, HardswishFn, LeakyReLUFn, LogSigmoidFn, MishFn,
                                SiLUFn, SoftplusFn, require_floating)
from ...tensor import Tensor, where


_MAX_FINITE = 1.7976931348623157e308


def _floating(name, t):
    """``t``, which must be floating (NotImplementedError otherwise, as torch's kernels)."""
    require_floating(name, t.array)
    return t


def _not_bool(name, t):
    """``t``, which must not be bool (RuntimeError otherwise, as torch)."""
    if t.array.dtype.kind == "b":
        raise RuntimeError(f"{name}: bool inputs are not supported (as torch)")
    return t


def relu(input, inplace=False):
    """max(input, 0);  gradient [input > 0].  ``inplace=True`` overwrites input (torch's rules)."""
    _not_bool("relu", input)
    return input.relu_() if inplace else input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    def fn(t):
        return LeakyReLUFn.apply(t, negative_slope=float(negative_slope))
    return apply_inplace(input, fn) if inplace else fn(input)


def sigmoid(input):
    """1 / (1 + exp(-input));  gradient s (1 - s)."""
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def gelu(x, approximate="none"):
    """GELU, exact (``approximate='none'``, via erf) or the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFn.apply(x, approximate=approximate)


def silu(input, inplace=False):
    return apply_inplace(input, SiLUFn.apply) if inplace else SiLUFn.apply(input)


def _softmax_dim(x, dim, name):
    if dim is None:
        # torch's legacy implicit choice: dim 0 for 0/1/3-D inputs, 1 otherwise
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for an input of shape {tuple(x.shape)}")
    return dim


def softmax(input, dim=None, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (stable: the maximum is subtracted first)."""
    if dtype is not None:
        input = input.to(dtype)
    return _floating("softmax", input).softmax(_softmax_dim(input, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):
    """x_i - logsumexp_j x_j along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return _floating("log_softmax", input).log_softmax(_softmax_dim(input, dim, "log_softmax"))


def softmin(input, dim=None, dtype=None):
    """softmax(-input) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    _floating("softmin", _not_bool("softmin", input))
    return (-input).softmax(_softmax_dim(input, dim, "softmin"))


# ---- piecewise activations (torch's formulas; the gradient at each kink is torch's) ---------
def _maybe_inplace(x, fn, inplace):
    return apply_inplace(x, fn) if inplace else fn(x)


def _mask(x, fn):
    """The raw boolean array fn(x.array) (no graph)."""
    return fn(x.array)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(input, min_val, max_val);  gradient 1 strictly inside (min_val, max_val), else 0."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val {max_val}")
    _not_bool("hardtanh", input)

    def fn(t):
        if t.dtype.kind in "iu":        # integers stay integers, the bounds cast (torch's)
            return t.clamp(int(min_val), int(max_val))
        inside = _mask(t, lambda a: (a > min_val) & (a < max_val))
        return where(inside, t, t.detach().clamp(min_val, max_val))
    return _maybe_inplace(input, fn, inplace)


def relu6(input, inplace=False):
    """min(max(input, 0), 6) = hardtanh(input, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace=inplace)


def elu(input, alpha=1.0, inplace=False):
    """input for input > 0, alpha (exp(input) - 1) otherwise;  gradient 1 or alpha exp(input)
    (``ops.activation.ELUFn``, torch's closed form)."""
    return _maybe_inplace(input, lambda t: ELUFn.apply(t, alpha=float(alpha)), inplace)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(input, alpha) with torch's constants (alpha 1.6733, scale 1.0507)."""
    return _maybe_inplace(input, lambda t: ELUFn.apply(t, alpha=_SELU_ALPHA, scale=_SELU_SCALE),
                          inplace)


def celu(input, alpha=1.0, inplace=False):
    """max(0, input) + min(0, alpha (exp(input / alpha) - 1)) = elu with input_scale 1/alpha."""
    if alpha == 0:
        raise RuntimeError("celu: alpha must not be 0 (ZeroDivisionError in torch's terms)")
    return _maybe_inplace(input, lambda t: ELUFn.apply(t, alpha=float(alpha),
                                                       input_scale=1.0 / alpha), inplace)


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold;  gradient
    sigmoid(beta x) (1 above the threshold) (``ops.activation.SoftplusFn``)."""
    return SoftplusFn.apply(x, beta=float(beta), threshold=float(threshold))


def logsigmoid(x):
    """log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)) (finite for every x);  gradient
    sigmoid(-x) (``ops.activation.LogSigmoidFn``)."""
    return LogSigmoidFn.apply(x)


def mish(input, inplace=False):
    """input tanh(softplus(input)) (``ops.activation.MishFn``, torch's closed-form gradient)."""
    return _maybe_inplace(input, MishFn.apply, inplace)


def softsign(input):
    """input / (1 + |input|)."""
    if input.array.dtype.kind == "b":
        _floating("softsign", input)
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    """input - tanh(input)."""
    return _not_bool("tanhshrink", input) - input.tanh()


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else ``value`` (NaN stays NaN);  gradient 1 where kept.
    An integer input stays integer (``value`` cast, as torch); bool raises."""
    if input.array.dtype.kind == "b":
        _floating("threshold", input)
    if input.array.dtype.kind in "iu":
        value = int(value)

    def fn(t):
        keep = ~_mask(t, lambda a: a <= threshold)     # NaN is kept, as torch
        return where(keep, t, value)
    return _maybe_inplace(input, fn, inplace)


_threshold = threshold      # for threshold_, whose argument named threshold hides it


def hardsigmoid(input, inplace=False):
    """relu6(input + 3) / 6 (rounded as torch's);  gradient 1/6 strictly inside (-3, 3), else
    0."""
    _floating("hardsigmoid", input)
    return _maybe_inplace(input, lambda t: hardtanh(t + 3.0, 0.0, 6.0) / 6.0, inplace)


def hardswish(input, inplace=False):
    """input relu6(input + 3) / 6 (``ops.activation.HardswishFn``: torch's closed-form gradient,
    0 for input <= -3, (2 input + 3)/6 inside (-3, 3), 1 for input >= 3)."""
    return _maybe_inplace(input, HardswishFn.apply, inplace)


def hardshrink(x, lambd=0.5):
    """x where |x| > lambd, else 0 (NaN stays NaN)."""
    _floating("hardshrink", x)
    return where(_mask(x, lambda a: (a >= -lambd) & (a <= lambd)), 0.0, x)


def softshrink(x, lambd=0.5):
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0  (lambd >= 0)."""
    if not 0 <= lambd <= _MAX_FINITE:
        raise RuntimeError(f"softshrink: lambd must be in [0, the largest finite float], got "
                           f"{lambd}")
    _floating("softshrink", x)
    return where(_mask(x, lambda a: (a >= -lambd) & (a <= lambd)), 0.0,
                 where(_mask(x, lambda a: a > lambd), x - lambd, x + lambd))


def prelu(x, weight):
    """x for x > 0, weight * x otherwise; ``weight`` has 1 element or one per channel (dim 1
    of x; an input of fewer than 2 dims has 1 channel);  gradient at 0 is the weight's."""
    n = weight.numel()
    if n != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if weight.ndim != 1 or n != channels:
            raise RuntimeError(f"prelu: weight of shape {tuple(weight.shape)} does not match "
                               f"the {channels} channels of an input of shape {tuple(x.shape)}")
        if x.ndim >= 2:
            weight = weight.reshape((n,) + (1,) * (x.ndim - 2))
    else:
        weight = weight.reshape(())
    positive = _mask(x, lambda a: a > 0)
    # the weight's gradient is g x on the negative side only: x there, 0 elsewhere (0, not
    # 0 * x, where x is +inf, as torch's)
    return where(positive, x, where(positive, 0.0, x) * weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomised leaky ReLU: slope a ~ U(lower, upper) per negative element when training
    (the seeded generator of input's device), the mean slope (lower + upper) / 2 otherwise."""
    if lower > upper:
        raise RuntimeError(f"rrelu: the lower bound {lower} should be less than or equal to "
                           f"the upper bound {upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2.0, inplace=inplace)
    _floating("rrelu", input)

    def fn(t):
        rng = backend.get_rng(t.device)
        u = rng.random(tuple(t.shape), dtype=backend.dtype("float64"))
        slope = (lower + (upper - lower) * u).astype(t.dtype)
        return where(_mask(t, lambda a: a > 0), t, t * Tensor.wrap(slope))
    return _maybe_inplace(input, fn, inplace)


def glu(input, dim=-1):
    """a * sigmoid(b) where (a, b) are the two halves of input along ``dim`` (even size)."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _floating("glu", input)
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} is size "
                           f"{size}")
    half = size // 2
    return input.narrow(dim, 0, half) * input.narrow(dim, half, half).sigmoid()


# ---- torch's in-place spellings: f_(x, ...) = f(x, ..., inplace=True) -----------------------
def relu_(input):
    return relu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "softmax", "log_softmax",
           "softmin", "hardtanh", "relu6", "elu", "selu", "celu", "softplus", "logsigmoid",
           "mish", "softsign", "tanhshrink", "threshold", "hardsigmoid", "hardswish",
           "hardshrink", "softshrink", "prelu", "rrelu", "glu", "relu_", "leaky_relu_",
           "hardtanh_", "elu_", "selu_", "celu_", "threshold_", "rrelu_"]
