"""The error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, vectorised on xp arrays.

NumPy has no erf, so it is evaluated here from two classical expansions:

* |x| < 3:  erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
  (all terms positive, so no cancellation; term_n = term_(n-1) * 2x^2 / (2n+1)).
* |x| >= 3: erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  (Laplace's continued fraction, evaluated bottom-up from a fixed depth), erf = 1 - erfc.

Both are accurate to ~1e-14 in float64.  Float32/float16 inputs use the cheaper
Abramowitz-Stegun 7.1.26 form 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1/(1 + p|x|)
(|error| < 1.5e-7) with a short Maclaurin series near 0 to keep the relative error small there.
"""
from __future__ import annotations

import math

from ... import backend
from ...autograd.function import Function
from ...ops import dual

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SERIES_TERMS = 45
_CF_DEPTH = 40
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_MACLAURIN_TERMS = 8


def _erf_float64(ax, xp):
    """erf(|x|) for float64 |x| (series below 3, continued fraction above)."""
    small = xp.minimum(ax, 3.0)
    x2 = small * small
    term = small.copy()
    total = small.copy()
    for n in range(1, _SERIES_TERMS):
        term *= x2 * (2.0 / (2 * n + 1))
        total += term
    series = _TWO_OVER_SQRT_PI * xp.exp(-x2) * total
    large = xp.maximum(ax, 3.0)
    frac = large.copy()
    for k in range(_CF_DEPTH, 0, -1):
        frac = large + (k / 2.0) / frac
    tail = 1.0 - xp.exp(-large * large) / (math.sqrt(math.pi) * frac)
    return xp.where(ax < 3.0, series, tail)


def _erf_low_precision(ax, xp):
    """erf(|x|) for float32/16 |x| (Maclaurin series below 0.5, A&S 7.1.26 above)."""
    t = 1.0 / (1.0 + _AS_P * ax)
    poly = t * (_AS_A[0] + t * (_AS_A[1] + t * (_AS_A[2] + t * (_AS_A[3] + t * _AS_A[4]))))
    approx = 1.0 - poly * xp.exp(-ax * ax)
    # erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    x2 = ax * ax
    term = ax.copy()
    total = ax.copy()
    for n in range(1, _MACLAURIN_TERMS):
        term = term * (-x2 / n)
        total = total + term / (2 * n + 1)
    return xp.where(ax < 0.5, _TWO_OVER_SQRT_PI * total, approx)


def erf_array(x):
    """erf of a raw array (odd function: computed on |x|, sign restored)."""
    xp = backend.get_array_module(x)
    if not backend.is_floating(x.dtype):
        x = x.astype("float32")
    ax = xp.abs(x)
    if x.dtype == xp.float64:
        out = _erf_float64(ax, xp)
    else:
        out = _erf_low_precision(ax.astype(xp.float32), xp).astype(x.dtype)
    return xp.copysign(out, x)


class Erf(Function):
    """y = erf(x);  dy/dx = 2/sqrt(pi) * exp(-x^2) (differentiable again)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (dual.exp(-(x * x)) * _TWO_OVER_SQRT_PI)


def erf(x):
    """Elementwise error function of a Tensor (differentiable)."""
    return Erf.apply(x)


def erf_dual(x):
    """erf of an array or (recording) Tensor, for backward formulas that must run on both."""
    return Erf.apply(x) if dual.is_tensor(x) else erf_array(x)
