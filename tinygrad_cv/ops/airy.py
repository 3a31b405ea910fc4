"""The Airy function Ai (the solution of y'' = x y that decays as x -> +inf) on raw xp arrays,
in float64 inside (float32 results rounded from it; integers give float32; NaN at +-inf and
NaN, as torch).  With zeta = 2/3 |x|^(3/2):

* x < -11.5: the asymptotic expansion (A&S 10.4.60)
      Ai(x) ~ |x|^(-1/4) / sqrt(pi) [sin(zeta + pi/4) sum_k (-1)^k u_2k / zeta^2k
                                    - cos(zeta + pi/4) sum_k (-1)^k u_(2k+1) / zeta^(2k+1)],
      u_k / u_(k-1) = (6k - 5)(6k - 3)(6k - 1) / (216 k (2k - 1))      (24 terms; the smallest
  term at zeta = 26 is ~e^(-2 zeta));
* -11.5 <= x <= 1: the Taylor series about the nearest integer c (|x - c| <= 1/2), whose
  coefficients follow from y'' = x y:  a_(n+2) = (c a_n + a_(n-1)) / ((n+1)(n+2)), started from
  Ai(c) and Ai'(c).  Those are tabulated when the module loads by the same Taylor steps from
  Ai(0) = 1 / (3^(2/3) Gamma(2/3)), Ai'(0) = -1 / (3^(1/3) Gamma(1/3)), in 40-digit decimal
  arithmetic (no digits lost to the oscillation);
* 1 < x < 11.5: Ai(x) = sqrt(x / 3) / pi K_(1/3)(zeta), K by the trapezoidal rule of
  ``bessel_jyk``;
* x >= 11.5: Ai(x) ~ e^-zeta / (2 sqrt(pi) x^(1/4)) sum_k (-1)^k u_k / zeta^k (0 beyond
  x ~ 104, where e^-zeta underflows).
"""
from __future__ import annotations

import decimal
import math

from .. import backend
from .bessel_jyk import scaled_integral_k

_LOW, _HIGH = -11.5, 1.0
_CENTRES = range(-12, 2)
_TAYLOR_TERMS = 40
_ASYMPTOTIC_TERMS = 24


def _taylor_table():
    """{c: (Ai(c), Ai'(c))} for the integer centres, stepping from 0 in decimal arithmetic."""
    ctx = decimal.Context(prec=40)
    D = decimal.Decimal
    start = (D(1) / (D(3) ** (D(2) / D(3)) * D(repr(math.gamma(2 / 3)))),
             -D(1) / (D(3) ** (D(1) / D(3)) * D(repr(math.gamma(1 / 3)))))
    table = {0: start}
    for direction in (-1, 1):
        value, slope = start
        c = 0
        while (c + direction) in _CENTRES:
            coeffs = [value, slope, D(0)]                  # a_0, a_1, a_2 = c a_0 / 2
            coeffs[2] = ctx.divide(c * value, 2)
            for n in range(1, 80):
                coeffs.append(ctx.divide(c * coeffs[n] + coeffs[n - 1], (n + 1) * (n + 2)))
            h = D(direction)
            value = sum(a * h ** n for n, a in enumerate(coeffs))
            slope = sum(n * a * h ** (n - 1) for n, a in enumerate(coeffs) if n)
            c += direction
            table[c] = (value, slope)
    return {c: (float(v), float(s)) for c, (v, s) in table.items()}


_TABLE = _taylor_table()


def _u_coefficients():
    u = [1.0]
    for k in range(1, _ASYMPTOTIC_TERMS + 1):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / (216 * k * (2 * k - 1)))
    return u


_U = _u_coefficients()


def _taylor(x, xp):
    """Ai(x) by the Taylor series about the nearest tabulated centre."""
    centre = xp.clip(xp.round(x), min(_CENTRES), max(_CENTRES))
    value = xp.zeros_like(x)
    slope = xp.zeros_like(x)
    for c, (v, s) in _TABLE.items():
        value = xp.where(centre == c, v, value)
        slope = xp.where(centre == c, s, slope)
    h = x - centre
    a_n_minus_1, before, last = value, slope, centre * value / 2      # a_0, a_1, a_2
    power = h * h
    total = value + slope * h + last * power
    for n in range(1, _TAYLOR_TERMS):              # a_(n+2) = (c a_n + a_(n-1)) / ((n+1)(n+2))
        nxt = (centre * before + a_n_minus_1) / ((n + 1) * (n + 2))
        a_n_minus_1, before, last = before, last, nxt
        power = power * h
        total = total + nxt * power
    return total


def _positive_k(x, xp):
    zeta = (2.0 / 3.0) * x * xp.sqrt(x)
    (scaled,) = scaled_integral_k(zeta, xp, orders=(1.0 / 3.0,))
    return xp.sqrt(x / 3.0) / math.pi * xp.exp(-zeta) * scaled


def _positive_asymptotic(x, xp):
    zeta = (2.0 / 3.0) * x * xp.sqrt(x)
    total = xp.zeros_like(x)
    power = xp.ones_like(x)
    for k, u in enumerate(_U):
        total = total + (-1) ** k * u * power
        power = power / zeta
    return xp.exp(-zeta) / (2.0 * math.sqrt(math.pi) * xp.sqrt(xp.sqrt(x))) * total


def _negative_asymptotic(x, xp):
    ax = -x
    zeta = (2.0 / 3.0) * ax * xp.sqrt(ax)
    even = xp.zeros_like(x)
    odd = xp.zeros_like(x)
    power = xp.ones_like(x)
    for k, u in enumerate(_U):
        sign = -1 if (k // 2) % 2 else 1
        if k % 2 == 0:
            even = even + sign * u * power
        else:
            odd = odd + sign * u * power
        power = power / zeta
    # sin(zeta + pi/4) = (sin zeta + cos zeta) / sqrt 2, cos(zeta + pi/4) = (cos - sin) / sqrt 2
    s, c = xp.sin(zeta), xp.cos(zeta)
    return (((s + c) * even - (c - s) * odd) * math.sqrt(0.5)
            / (math.sqrt(math.pi) * xp.sqrt(xp.sqrt(ax))))


@backend.fp_quiet
def airy_ai_array(x):
    """Ai(x) of a raw array, in x's floating dtype (float32 for integers)."""
    xp = backend.get_array_module(x)
    dtype = x.dtype if backend.is_floating(x.dtype) else xp.dtype("float32")
    x = x.astype("float64")
    below, above = x < _LOW, x > _HIGH
    far = x >= -_LOW
    middle = ~below & ~above
    out = xp.where(middle, _taylor(xp.where(middle, x, 0.0), xp), 0.0)
    out = xp.where(below, _negative_asymptotic(xp.where(below, x, 2 * _LOW), xp), out)
    out = xp.where(above & ~far, _positive_k(xp.where(above & ~far, x, 2.0), xp), out)
    out = xp.where(far, _positive_asymptotic(xp.where(far, x, -2 * _LOW), xp), out)
    out = xp.where(xp.isnan(x) | xp.isinf(x), xp.nan, out)
    return out.astype(dtype, copy=False)
