"""Elementwise mathematical primitives beyond the basic ones of ``elementwise.py``: the
trigonometric and hyperbolic functions and their inverses, exp2, sinc, and the binary atan2,
hypot, logaddexp(2), xlogy, copysign, fmax/fmin, nan_to_num.

Each forward is the array library's own function (its accuracy, its values at infinities and
outside the domain); each backward is written with operators and the ``_call`` helper, so it
runs on raw arrays and, under ``create_graph``, on Tensors (higher derivatives).  The values
of the derivatives at the edges are torch's (given in each docstring).
"""
from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor
from . import dual
from .elementwise import _Primitive


def _call(name, x):
    """The function ``name`` (sqrt, cosh, sinh, cos, exp, log, ...) of a raw array or of a
    Tensor (its method of the same name: recorded)."""
    if isinstance(x, Tensor):
        return getattr(x, name)()
    return getattr(backend.get_array_module(x), name)(x)


def _mask(cond, g):
    """The boolean array ``cond`` as 0/1 of g's dtype (an array: constant under create_graph)."""
    return cond.astype(dual.raw(g).dtype)


# ---- trigonometric ---------------------------------------------------------------------------
class Tan(_Primitive):
    """tan a;  d/da = 1 + tan^2 a."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        out = backend.get_array_module(a).tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out * out + 1)


class Asin(_Primitive):
    """asin a on [-1, 1] (NaN outside);  d/da = 1 / sqrt(1 - a^2) (inf at +-1)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).arcsin(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / _call("sqrt", 1 - a * a)


class Acos(_Primitive):
    """acos a on [-1, 1] (NaN outside);  d/da = -1 / sqrt(1 - a^2)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).arccos(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g / _call("sqrt", 1 - a * a)


class Atan(_Primitive):
    """atan a;  d/da = 1 / (1 + a^2)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).arctan(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / (a * a + 1)


class Atan2(_Primitive):
    """atan2(a, b), the angle of the point (b, a) in (-pi, pi];
    d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2) (0 at the origin, as torch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend.get_array_module(a, b).arctan2(a, b)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        square = a * a + b * b
        origin = dual.raw(square) == 0
        scale = dual.where(origin, 0.0, g / dual.where(origin, 1.0, square))
        return (scale * b if na else None), (-(scale * a) if nb else None)


class Sinc(_Primitive):
    """sinc a = sin(pi a) / (pi a), 1 at 0;
    d/da = (pi a cos(pi a) - sin(pi a)) / (pi a^2), 0 at 0 (torch's expression: both lose
    the same digits to cancellation near 0)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).sinc(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        zero = dual.raw(a) == 0
        pa = dual.where(zero, 1.0, a) * math.pi
        slope = (pa * _call("cos", pa) - _call("sin", pa)) / (pa * pa) * math.pi
        return g * dual.where(zero, 0.0, slope)


# ---- hyperbolic -------------------------------------------------------------------------------
class Sinh(_Primitive):
    """sinh a;  d/da = cosh a."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).sinh(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _call("cosh", a)


class Cosh(_Primitive):
    """cosh a;  d/da = sinh a."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).cosh(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _call("sinh", a)


class Asinh(_Primitive):
    """asinh a;  d/da = 1 / sqrt(a^2 + 1) (0 in the limit |a| -> inf)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).arcsinh(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / _call("sqrt", a * a + 1)


class Acosh(_Primitive):
    """acosh a on [1, inf) (NaN below);  d/da = 1 / sqrt(a^2 - 1) (inf at +-1, as torch)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).arccosh(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / _call("sqrt", a * a - 1)


class Atanh(_Primitive):
    """atanh a on [-1, 1] (+-inf at +-1, NaN outside);  d/da = 1 / (1 - a^2)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).arctanh(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / (1 - a * a)


# ---- exponential and logarithmic ---------------------------------------------------------------
class Logit(_Primitive):
    """z = log(p / (1 - p)), p = a clamped to [eps, 1 - eps] when ``eps`` is given;
    d/da = 1 / (a (1 - a)) inside, and outside: NaN below 0 and above 1 without eps, 0 below
    eps and above 1 - eps with it (torch's rule)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, eps=None):
        xp = backend.get_array_module(a)
        ctx.save_for_backward(a)
        ctx.eps = eps
        p = a if eps is None else xp.clip(a, eps, 1.0 - eps)
        return xp.log(p / (1 - p))

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xa = dual.raw(a)
        if ctx.eps is None:
            outside, fill = (xa < 0) | (xa > 1), float("nan")
        else:
            outside, fill = (xa < ctx.eps) | (xa > 1.0 - ctx.eps), 0.0
        return dual.where(outside, fill, g / (a * (1 - a)))



class Exp2(_Primitive):
    """2^a;  d/da = 2^a ln 2."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        out = backend.get_array_module(a).exp2(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out * math.log(2.0))


class LogAddExp(_Primitive):
    """z = log(e^a + e^b) (``base=2``: log2(2^a + 2^b)), without overflow;
    d/da = 1 / (1 + e^(b - a)), d/db = 1 / (1 + e^(a - b)) (base 2: powers of 2; torch's
    expressions, also their NaN where a and b are the same infinity)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b, base=math.e):
        xp = backend.get_array_module(a, b)
        ctx.save_for_backward(a, b)
        ctx.log_base = math.log(base)
        return xp.logaddexp(a, b) if base == math.e else xp.logaddexp2(a, b)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        k = ctx.log_base
        ga = g / (_call("exp", (b - a) * k) + 1) if na else None
        gb = g / (_call("exp", (a - b) * k) + 1) if nb else None
        return ga, gb


class Xlogy(_Primitive):
    """z = a log b (``log1p``: a log(1 + b), torch's xlog1py), 0 where a = 0 (unless b is
    NaN).  Derivatives as torch's: dz/da = xlogy(g, b) / g (so 0 where the incoming gradient
    is 0), set to 0 where a = 0 and b <= 0 (b <= -1 for log1p);  dz/db = a / b (a / (1 + b))."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b, log1p=False):
        xp = backend.get_array_module(a, b)
        ctx.save_for_backward(a, b)
        ctx.log1p = log1p
        log_b = xp.log1p(b) if log1p else xp.log(b)
        return xp.where((a == 0) & ~xp.isnan(b), 0.0, a * log_b).astype(
            xp.result_type(a, b), copy=False)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            xa, xb, xg = dual.raw(a), dual.raw(b), dual.raw(g)
            xp = backend.get_array_module(xa, xb)
            edge = -1.0 if ctx.log1p else 0.0
            zero = ((xg == 0) & ~xp.isnan(xb)) | ((xa == 0) & (xb <= edge))
            ga = dual.where(zero, 0.0, g * _call("log1p" if ctx.log1p else "log", b))
        if nb:
            gb = g * a / (b + 1 if ctx.log1p else b)
        return ga, gb


class Hypot(_Primitive):
    """z = sqrt(a^2 + b^2) without overflow;  dz/da = a / z, dz/db = b / z (NaN at the
    origin, as torch)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b):
        out = backend.get_array_module(a, b).hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        scale = g / out
        return (scale * a if na else None), (scale * b if nb else None)


# ---- sign, extrema and non-finite values -----------------------------------------------------
class CopySign(_Primitive):
    """z = |a| with the sign of b;  dz/da = z / a (+-1), 0 where a = 0;  dz/db = 0."""

    @staticmethod
    def forward(ctx, a, b):
        out = backend.get_array_module(a, b).copysign(a, b)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            xa, xo = dual.raw(a), dual.raw(out)
            ratio = backend.get_array_module(xa).where(xa == 0, 0.0, xo / xa)
            ga = g * ratio.astype(dual.raw(g).dtype, copy=False)
        if nb:
            gb = dual.zeros_grad(out, g)
        return ga, gb


class FExtremum(_Primitive):
    """fmax(a, b) / fmin(a, b): the larger / smaller, a NaN operand ignored (NaN only when
    both are).  The gradient goes to a where a wins or ties or b is NaN, else to b (torch's
    rule)."""

    @staticmethod
    def forward(ctx, a, b, kind="fmax"):
        xp = backend.get_array_module(a, b)
        wins = (a >= b) if kind == "fmax" else (a <= b)
        ctx.save_for_backward(wins | xp.isnan(b))
        return getattr(xp, kind)(a, b)

    @staticmethod
    def backward(ctx, g):
        (to_a,) = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        to_a = dual.raw(to_a)
        return (g * _mask(to_a, g) if na else None), (g * _mask(~to_a, g) if nb else None)


class NanToNum(_Primitive):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and
    the dtype's largest and smallest finite values);  d/da = 1 where a is finite, else 0."""

    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        xp = backend.get_array_module(a)
        ctx.save_for_backward(xp.isfinite(a))
        return xp.nan_to_num(a, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (finite,) = ctx.saved_tensors
        return g * _mask(dual.raw(finite), g)


class Mantissa(_Primitive):
    """m of a = m 2^e (frexp: |m| in [1/2, 1), 0, inf and NaN kept), e int32 kept on the node
    (``exponent``);  dm/da = 1 / 2^e (torch's expression, inf for the smallest subnormals)."""

    @staticmethod
    def forward(ctx, a):
        mantissa, exponent = backend.get_array_module(a).frexp(a)
        ctx.exponent = exponent.astype("int32")
        return mantissa

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        xp = backend.get_array_module(ctx.exponent)
        return g / xp.ldexp(xp.ones(ctx.exponent.shape, dtype=dual.raw(g).dtype), ctx.exponent)


class NextAfter(_Primitive):
    """The next floating-point value after a in the direction of b (a itself when a = b);
    its derivative is torch's: dz/da = 1, dz/db = 0."""

    @staticmethod
    def forward(ctx, a, b):
        return backend.get_array_module(a, b).nextafter(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (dual.zeros_grad(g, g) if ctx.needs_input_grad[1] else None)
