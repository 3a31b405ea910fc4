"""The modified Bessel functions of the first kind I0 and I1 on xp arrays (NumPy's ``i0`` has
no I1 companion), and the primitive ``BesselI`` that differentiates I0 into I1 and I1 into
I0 - I1 / x:

    I_nu(x) = sum_k (x/2)^(2k + nu) / (k! (k + nu)!)          (nu = 0, 1)
    I0 even, I1 odd;  I0' = I1,  I1' = I0 - I1 / x  (1/2 at x = 0).

For |x| <= ``_SERIES_UP_TO`` the power series (``_SERIES_TERMS`` terms, all positive: no
cancellation, a few ulps); beyond it the asymptotic expansion

    I_nu(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k,
    a_k(nu) / a_(k-1)(nu) = (4 nu^2 - (2k - 1)^2) / (8k),

whose terms keep falling until k ~ 2x (far beyond the ``_ASYMPTOTIC_TERMS`` used).
e^x is taken before the division by sqrt(x), as torch does, so I overflows to inf for
x > 709.78 and is NaN at +-inf (torch's values; SciPy gives inf there).  Within 1e-14
relative of SciPy on [-700, 700] in float64; float32 inputs are computed in float64.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd.function import Function
from . import dual

_SERIES_UP_TO = 30.0
_SERIES_TERMS = 60
_ASYMPTOTIC_TERMS = 25


@backend.fp_quiet
def bessel_i_array(order, x, scaled=False):
    """I0 (order 0) or I1 (order 1) of a raw array, in x's floating dtype (float32 for
    integers); with ``scaled`` the exponentially scaled e^-|x| I(x) (``i0e``/``i1e``: no
    overflow, 0 at +-inf)."""
    xp = backend.get_array_module(x)
    dtype = x.dtype if backend.is_floating(x.dtype) else xp.dtype("float32")
    x = x.astype("float64")
    ax = xp.abs(x)
    small = ax <= _SERIES_UP_TO
    half = xp.where(small, ax, 0.0) / 2
    q = half * half
    term = half if order == 1 else xp.ones_like(half)
    total = term
    for k in range(1, _SERIES_TERMS + 1):
        term = term * q / (k * (k + order))
        total = total + term
    big = xp.where(small, _SERIES_UP_TO + 1, ax)
    nu4 = 4.0 * order * order
    term = xp.ones_like(big)
    series = term
    for k in range(1, _ASYMPTOTIC_TERMS + 1):
        term = term * ((2 * k - 1) ** 2 - nu4) / (8.0 * k * big)
        series = series + term
    if scaled:
        total = total * xp.exp(-xp.where(small, ax, 0.0))
        asymptotic = series / xp.sqrt(2 * math.pi * big)
    else:
        asymptotic = xp.exp(big) * series / xp.sqrt(2 * math.pi * big)
    out = xp.where(small, total, asymptotic)
    out = xp.where(xp.isnan(x), xp.nan, out)
    if order == 1:
        out = xp.where(x < 0, -out, out)
    return out.astype(dtype, copy=False)


class BesselI(Function):
    """y = I_order(x), order 0 or 1;  dI0/dx = I1(x),  dI1/dx = I0(x) - I1(x) / x (1/2 at
    x = 0, the limit); differentiable again, to any order.

    ``scaled``: y = e^-|x| I_order(x) (``i0e``, ``i1e``), whose derivatives are those of I
    scaled the same way minus sgn(x) y:  i0e' = i1e - sgn(x) i0e,
    i1e' = i0e - i1e / x - sgn(x) i1e (1/2 at x = 0)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x, order=0, scaled=False):
        ctx.save_for_backward(x)
        ctx.order, ctx.scaled = order, scaled
        return bessel_i_array(order, x, scaled)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        scaled = ctx.scaled

        def bessel(order):
            if dual.is_tensor(x):
                return BesselI.apply(x, order=order, scaled=scaled)
            return bessel_i_array(order, x, scaled)

        if ctx.order == 0:
            slope = bessel(1)
        else:
            zero = dual.raw(x) == 0
            slope = bessel(0) - dual.where(zero, 0.5, bessel(1) / dual.where(zero, 1.0, x))
        if scaled:
            slope = slope - bessel(ctx.order) * dual.sign(dual.raw(x))
        return g * slope
