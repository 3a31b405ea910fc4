"""Activation primitives whose backward is written with operators and ``dual`` helpers (so it
runs on raw arrays and, under ``create_graph=True``, on Tensors):

    LeakyReLUFn  y = x (x > 0) or slope x
    GELUFn       y = x Phi(x) (exact, through erfc) or its tanh approximation
    SiLUFn       y = x sigmoid(x)
    HardswishFn  y = x relu6(x + 3) / 6
    ELUFn        y = scale x (x > 0) or scale alpha (exp(input_scale x) - 1)  (elu, selu, celu)
    SoftplusFn   y = log(1 + exp(beta x)) / beta, x above the threshold
    LogSigmoidFn y = min(x, 0) - log(1 + exp(-|x|))
    MishFn       y = x tanh(softplus(x))

The piecewise ones give torch's closed-form gradient: on each piece g times that piece's
slope, the pieces chosen (not multiplied by masks), so an infinite or NaN incoming gradient
stays on its piece (inf, not NaN, where the slope is non-zero; 0 where the slope is 0).

Shapes: any input shape; the output has the same shape.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import buffers
from ..autograd.versions import torch_type_name
from ..autograd.function import Function
from . import dual
from .elementwise import split_rows
from .special import erf_dual, erfc_array

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715

# SiLU's passes over memory in units of an ``add`` (what a split is weighed by): the forward's
# negate, exp (about 3), +1 and divide; the backward's two divides, subtract, +1 and multiply.
FORWARD_COST = 6
BACKWARD_COST = 6


def _sigmoid_array(x):
    """sigmoid(x) = 1/(1 + e^-x) without overflow and with full relative accuracy for x << 0:
    e = exp(-|x|);  1/(1 + e) for x >= 0,  e/(1 + e) for x < 0."""
    xp = backend.get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0, e) / (1.0 + e)


def _sigmoid_dual(x):
    """sigmoid on an array or a recording Tensor."""
    return x.sigmoid() if dual.is_tensor(x) else _sigmoid_array(x)


def require_floating(name, x):
    """NotImplementedError, as torch's, unless the array ``x`` is floating."""
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{name} is not implemented for {torch_type_name(x.dtype)} "
                                  f"tensors (floating ones only, as torch)")


class LeakyReLUFn(Function):
    """y = x if x > 0 else slope * x;  dy/dx = 1 if x > 0 else slope."""

    higher_order = True

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        require_floating("leaky_relu", x)
        xp = backend.get_array_module(x)
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        return xp.where(positive, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, g):
        (positive,) = ctx.saved_tensors
        positive = dual.raw(positive)
        xp = backend.get_array_module(positive)
        factor = xp.where(positive, 1.0, ctx.slope)      # (chosen: 1, not 1 + 0 * inf)
        return g * factor.astype(dual.raw(g).dtype, copy=False)


class HardswishFn(Function):
    """y = x min(max(x + 3, 0), 6) / 6;  dy/dx = 0 for x <= -3, x/3 + 1/2 inside (-3, 3), 1 for
    x >= 3 (torch's values, also on the boundaries).  The gradient is 0 below, g above and
    g (x/3 + 1/2) inside, chosen per element: an infinite g gives +-inf inside (NaN only at
    x = -3/2, where the slope is 0, as torch's), 0 below; a NaN x gives NaN.  y(-inf) is NaN
    (-inf * 0), as torch's."""

    higher_order = True

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x):
        require_floating("hardswish", x)
        ctx.save_for_backward(x)
        return x * backend.get_array_module(x).clip(x + 3, 0, 6) / 6

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xr = dual.raw(x)
        # the inner piece at x clamped to [-3, 3]: its value where chosen, and finite (with
        # finite derivatives) where not, so create_graph's masked branches give 0, not NaN
        inner = x.clamp(-3, 3) if dual.is_tensor(x) else \
            backend.get_array_module(x).clip(x, -3, 3)
        inside = g * (inner / 3 + 0.5)
        return dual.where(xr <= -3, 0.0, dual.where(xr >= 3, g, inside))


class ELUFn(Function):
    """y = scale x for x > 0, else scale alpha (exp(input_scale x) - 1) (torch's elu; selu and
    celu are its instances);  dy/dx = scale, or scale alpha input_scale exp(input_scale x),
    computed from x (not from y + 1, which loses the digits of exp for x << 0) and chosen per
    element, so the gradient stays finite-times-g on each side (inf under an infinite g, not
    NaN).  A NaN x takes the exponential side (NaN), -0.0 too (y = -0.0), as torch's
    vectorised kernel."""

    higher_order = True

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        require_floating("elu", x)
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x)
        ctx.coefs = (alpha * scale, scale, input_scale)
        positive = x > 0
        return xp.where(positive, x * scale, xp.expm1(x * input_scale) * (alpha * scale))

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        negcoef, poscoef, input_scale = ctx.coefs
        # exp at min(x, 0): its value where chosen, finite where not (create_graph's masked
        # branch then gives 0, not 0 * inf)
        below_x = x.clamp(max=0) if dual.is_tensor(x) else \
            backend.get_array_module(x).minimum(x, 0)
        below = g * input_scale * negcoef * dual.exp(below_x * input_scale)
        return dual.where(dual.raw(x) > 0, g * poscoef, below)


class SoftplusFn(Function):
    """y = log(1 + exp(beta x)) / beta, and x where beta x > threshold;  dy/dx = z / (z + 1),
    z = exp(beta x) (1 above the threshold), chosen per element (torch's softplus: a NaN x
    gives a NaN gradient)."""

    higher_order = True

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x, beta=1.0, threshold=20.0):
        require_floating("softplus", x)
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        scaled = x * beta
        smooth = xp.log1p(xp.exp(xp.minimum(scaled, threshold))) / beta
        return xp.where(scaled > threshold, x, smooth)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        scaled = x * ctx.beta
        z = dual.exp(scaled.clamp(max=ctx.threshold) if dual.is_tensor(scaled) else
                     backend.get_array_module(scaled).minimum(scaled, ctx.threshold))
        return dual.where(dual.raw(scaled) > ctx.threshold, g, g * z / (z + 1))


class LogSigmoidFn(Function):
    """y = log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)) (finite for every x);  dy/dx =
    sigmoid(-x), times g (torch's closed form: inf, not NaN, under an infinite g)."""

    higher_order = True

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x):
        require_floating("log_sigmoid", x)
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _sigmoid_dual(-x)


class MishFn(Function):
    """y = x tanh(softplus(x));  dy/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x)),
    times g (torch's closed form: an infinite g gives +-inf, not NaN)."""

    higher_order = True

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x):
        require_floating("mish", x)
        xp = backend.get_array_module(x)
        t = xp.tanh(xp.log1p(xp.exp(x)))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        if dual.is_tensor(x):       # create_graph: t as a function of the recorded x
            t = SoftplusFn.apply(x).tanh()
        return g * (t + x * _sigmoid_dual(x) * (1 - t * t))


class GELUFn(Function):
    """Gaussian error linear unit.

    exact:  y = x Phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2,  dy/dx = Phi(x) + x phi(x),
            phi(x) = exp(-x^2/2) / sqrt(2 pi).
    'tanh': y = x/2 (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3),
            dy/dx = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2),  t = tanh(u).
    """

    higher_order = True

    @staticmethod
    def forward(ctx, x, approximate="none"):
        require_floating("gelu", x)
        ctx.approximate = approximate
        if approximate == "tanh":  # (1 + tanh u)/2 = sigmoid(2u), accurate for u << 0
            s = _sigmoid_array((x + x * x * x * _GELU_CUBIC) * (2 * _SQRT_2_OVER_PI))
        else:
            s = erfc_array(x * -_SQRT_HALF) * 0.5  # Phi(x) = erfc(-x/sqrt 2)/2
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors  # s: the forward's sigmoid(2u) or Phi(x)
        recording = dual.is_tensor(x)  # create_graph: recompute s as a function of x
        if ctx.approximate == "tanh":
            # with s = sigmoid(2u) = (1 + t)/2:  (1 - t^2)/2 = 2 s (1 - s)
            if recording:
                s = _sigmoid_dual((x + x * x * x * _GELU_CUBIC) * (2 * _SQRT_2_OVER_PI))
            slope = s + x * (s * (1 - s)) * ((x * x * (3 * _GELU_CUBIC) + 1) * (2 * _SQRT_2_OVER_PI))
            return g * slope
        if recording:
            s = (1 - erf_dual(x * -_SQRT_HALF)) * 0.5
        pdf = dual.exp(x * x * -0.5) * _INV_SQRT_2PI
        return g * (s + x * pdf)


def _silu_denominator(x, out=None):
    """d = 1 + exp(-x) in one buffer of x's size (3 passes; ``out`` when given): exp(-x)
    overflows to inf for x << 0, which gives x / d = -0 and 1 / d = 0 exactly (the warning is
    silenced), so no branch on the sign is needed."""
    xp = backend.get_array_module(x)
    d = xp.negative(x, out=out) if out is not None else -xp.asarray(x)
    if d.ndim == 0:
        d = xp.asarray(d).reshape(())       # (a 0-d result is a scalar, not writable in place)
    errstate = getattr(xp, "errstate", None)
    if errstate is not None:
        with errstate(over="ignore"):
            xp.exp(d, out=d)
    else:
        xp.exp(d, out=d)
    d += 1
    return d


class SiLUFn(Function):
    """y = x sigmoid(x) = x / d,  d = 1 + exp(-x);  dy/dx = s (1 + x (1 - s)),  s = 1 / d.

    The forward is 4 passes over memory (negate, exp, +1 in d's buffer, then ``x / d``) and
    keeps d; the first-order backward needs no exponential: ``g (1 + x - x / d) / d`` in one
    buffer (5 passes), the same value as ``g s (1 + x (1 - s))``.  Every array keeps its
    input's memory order (``buffers.empty_like``), so channels-last activations stay
    channels-last.  Both passes split the samples over the intra-op threads (``split_rows``).
    Under ``create_graph`` s is recomputed from the recorded x instead."""

    higher_order = True

    @staticmethod
    def forward(ctx, x):
        require_floating("silu", x)
        if x.ndim == 0:
            d = _silu_denominator(x)
            ctx.save_for_backward(x, d)
            return x / d
        xp = backend.get_array_module(x)
        d, y = buffers.empty_like(x), buffers.empty_like(x)

        def part(y, d, x):
            _silu_denominator(x, out=d)
            xp.divide(x, d, out=y)

        split_rows(part, (y, d, x), FORWARD_COST)
        ctx.save_for_backward(x, d)
        return y

    @staticmethod
    def backward(ctx, g):
        x, d = ctx.saved_tensors
        if dual.is_tensor(x) or dual.is_tensor(g):
            s = _sigmoid_dual(x)
            return g * (s * (x * (1 - s) + 1))
        xp = backend.get_array_module(d)
        if d.ndim == 0 or g.shape != d.shape:
            return _silu_slope_times(xp.empty_like(d), g, x, d)
        slope = buffers.empty_like(d)
        split_rows(_silu_slope_times, (slope, g, x, d), BACKWARD_COST)
        return slope


def _silu_slope_times(slope, g, x, d):
    """slope = g (1 + x - x / d) / d, in ``slope``'s buffer (returned)."""
    xp = backend.get_array_module(d)
    xp.divide(x, d, out=slope)      # x s, then 1 + x - x s, then / d and times g (in place)
    xp.subtract(x, slope, out=slope)
    slope += 1
    slope /= d
    slope *= g
    return slope
