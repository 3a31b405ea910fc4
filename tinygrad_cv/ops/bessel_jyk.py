"""The Bessel functions of integer order 0 and 1 that NumPy lacks, on raw xp arrays
(``bessel_j0/j1``, ``bessel_y0/y1``, ``modified_bessel_k0/k1`` and their scaled forms), in
float64 inside (float32 results rounded from it; integers give float32).

J and Y (x >= 0; J0 even, J1 odd, Y NaN below 0, -inf at 0):

* x < 2: the power series (A&S 9.1.10-9.1.13), with H_k = 1 + 1/2 + ... + 1/k,
      J0 = sum (-q)^k / k!^2,  J1 = x/2 sum (-q)^k / (k! (k+1)!),   q = x^2 / 4,
      Y0 = 2/pi (ln(x/2) + gamma) J0 + 2/pi sum_(k>=1) (-1)^(k+1) H_k q^k / k!^2,
      Y1 = -2/(pi x) + 2/pi ln(x/2) J1 - x/(2 pi) sum (psi(k+1) + psi(k+2)) (-q)^k / (k! (k+1)!);
* 2 <= x < 25: Miller's backward recurrence b_(n-1) = 2n/x b_n - b_(n+1) from n = 80,
  normalised by J0 + 2 sum J_2k = 1, and Neumann's series
      Y0 = 2/pi [(ln(x/2) + gamma) J0 + 2 sum_(k>=1) (-1)^(k+1) J_2k / k],
      Y1 = 2/pi [(ln(x/2) + gamma - 1) J1 - J0 / x - sum_(m>=1) (-1)^m (2m+1) / (m(m+1)) J_(2m+1)]
  (the second is -d/dx of the first);
* x >= 25: Hankel's expansion J = sqrt(2/(pi x)) (P cos chi - Q sin chi),
  Y = sqrt(2/(pi x)) (P sin chi + Q cos chi), chi = x - (2 nu + 1) pi / 4, with
  P - iQ = sum_k (-i)^k a_k / x^k, a_k / a_(k-1) = (4 nu^2 - (2k - 1)^2) / (8k) (its 24th
  term is below 1e-17 at x = 25); cos chi and sin chi are formed from cos x and sin x, so the
  phase keeps the digits of large x.

K (x >= 0, NaN below 0, +inf at 0):

* x <= 1: the series (A&S 9.6.13, 9.6.11)
      K0 = -(ln(x/2) + gamma) I0 + sum_(k>=1) H_k q^k / k!^2,
      K1 = 1/x + ln(x/2) I1 - x/4 sum (psi(k+1) + psi(k+2)) q^k / (k! (k+1)!);
* 1 < x < 25: e^x K_nu(x) = integral_0^inf e^(-x (cosh t - 1)) cosh(nu t) dt by the
  trapezoidal rule (step h = 1/10 on [0, 6]): the integrand is analytic in the strip
  |Im t| < pi/2 and decays double-exponentially, so the error is below
  min_d e^(x (1 - cos d) - 2 pi d / h) < 1e-22 for x < 25, with no cancellation;
* x >= 25: the asymptotic expansion e^x K_nu(x) ~ sqrt(pi / (2x)) sum_k a_k / x^k, the a_k of
  Hankel's expansion (24 terms).
"""
from __future__ import annotations

import math

from .. import backend
from .bessel import bessel_i_array

_EULER_GAMMA = 0.5772156649015329
_SERIES_TERMS = 24
_MILLER_FROM = 80
_SMALL, _LARGE = 2.0, 25.0
_HANKEL_TERMS = 24
_K_SERIES_UP_TO = 1.0
_K_STEP, _K_NODES = 0.1, 61


def _prepare(x):
    xp = backend.get_array_module(x)
    dtype = x.dtype if backend.is_floating(x.dtype) else xp.dtype("float32")
    return xp, dtype, x.astype("float64")


def _harmonic(k):
    return sum(1.0 / j for j in range(1, k + 1))


def _series_jy(ax, xp):
    """(J0, J1, Y0, Y1) by the power series (for 0 < ax < 2)."""
    half = ax / 2
    q = half * half
    log_term = xp.log(half)
    j0 = j1 = y0 = y1 = 0.0
    power = xp.ones_like(ax)                      # (-q)^k / (k! k!), then / (k+1) for J1
    for k in range(_SERIES_TERMS):
        if k:
            power = power * (-q) / (k * k)
        j0 = j0 + power
        j1 = j1 + power / (k + 1)
        if k:
            y0 = y0 - _harmonic(k) * power
        psi_sum = 2.0 * (_harmonic(k) - _EULER_GAMMA) + 1.0 / (k + 1)
        y1 = y1 + psi_sum * power / (k + 1)
    j1 = half * j1
    y0 = (2 / math.pi) * ((log_term + _EULER_GAMMA) * j0 + y0)
    y1 = -2 / (math.pi * ax) + (2 / math.pi) * log_term * j1 - (half / math.pi) * y1
    return j0, j1, y0, y1


def _miller_jy(ax, xp):
    """(J0, J1, Y0, Y1) by Miller's recurrence and Neumann's series (for 2 <= ax < 25)."""
    upper = xp.zeros_like(ax)                     # b_(n+1)
    current = xp.full_like(ax, 1e-30)             # b_n, n = _MILLER_FROM (even)
    norm = 2.0 * current
    y0_sum = (-1) ** (_MILLER_FROM // 2 + 1) * current / (_MILLER_FROM // 2)
    y1_sum = 0.0
    inv = 2.0 / ax
    for n in range(_MILLER_FROM, 0, -1):
        upper, current = current, n * inv * current - upper          # current = b_(n-1)
        m = n - 1
        if m % 2 == 0 and m > 0:
            norm = norm + 2.0 * current
            y0_sum = y0_sum + (-1) ** (m // 2 + 1) * current / (m // 2)
        elif m % 2 == 1 and m > 1:
            h = (m - 1) // 2
            y1_sum = y1_sum + (-1) ** h * (2 * h + 1) / (h * (h + 1)) * current
    norm = norm + current
    j0, j1 = current / norm, upper / norm
    log_term = xp.log(ax / 2) + _EULER_GAMMA
    y0 = (2 / math.pi) * (log_term * j0 + 2.0 * y0_sum / norm)
    y1 = (2 / math.pi) * ((log_term - 1.0) * j1 - j0 / ax - y1_sum / norm)
    return j0, j1, y0, y1


def _hankel_jy(ax, xp):
    """(J0, J1, Y0, Y1) by Hankel's asymptotic expansion (for ax >= 25)."""
    out = []
    cos_x, sin_x = xp.cos(ax), xp.sin(ax)
    amplitude = xp.sqrt(2 / (math.pi * ax))
    for nu in (0, 1):
        term = xp.ones_like(ax)
        p, qq = term, 0.0
        for k in range(1, _HANKEL_TERMS + 1):
            term = term * (4 * nu * nu - (2 * k - 1) ** 2) / (8 * k * ax)
            sign = -1 if (k // 2) % 2 else 1      # (-i)^k: real parts 1, -1; imaginary -1, 1
            if k % 2 == 0:
                p = p + sign * term
            else:
                qq = qq + sign * term
        # chi = x - pi/4 (nu = 0) or x - 3 pi/4 (nu = 1)
        if nu == 0:
            cos_chi, sin_chi = (cos_x + sin_x) * math.sqrt(0.5), (sin_x - cos_x) * math.sqrt(0.5)
        else:
            cos_chi, sin_chi = (sin_x - cos_x) * math.sqrt(0.5), -(cos_x + sin_x) * math.sqrt(0.5)
        out.append((amplitude * (p * cos_chi - qq * sin_chi),
                    amplitude * (p * sin_chi + qq * cos_chi)))
    (j0, y0), (j1, y1) = out
    return j0, j1, y0, y1


@backend.fp_quiet
def bessel_jy_arrays(x):
    """(J0(x), J1(x), Y0(x), Y1(x)) of a raw array, each in x's floating dtype."""
    xp, dtype, x = _prepare(x)
    ax = xp.abs(x)
    small, large = ax < _SMALL, ax >= _LARGE
    pieces = (_series_jy(xp.where(small, ax, 1.0), xp),
              _miller_jy(xp.where(small | large, _SMALL, ax), xp),
              _hankel_jy(xp.where(large, ax, _LARGE), xp))
    j0, j1, y0, y1 = (xp.where(small, s, xp.where(large, h, m)) for s, m, h in zip(*pieces))
    j0 = xp.where(ax == 0, 1.0, j0)
    j1 = xp.where(ax == 0, 0.0, j1)
    j1 = xp.where(x < 0, -j1, j1)
    y0, y1 = (xp.where(ax == 0, -xp.inf, xp.where(x < 0, xp.nan, y)) for y in (y0, y1))
    nan = xp.isnan(x) | xp.isinf(x)
    return tuple(xp.where(nan, xp.nan, v).astype(dtype, copy=False) for v in (j0, j1, y0, y1))


def _series_k(ax, xp):
    """(K0, K1) by the series (for 0 < ax <= 1)."""
    half = ax / 2
    q = half * half
    log_term = xp.log(half)
    k0 = k1 = 0.0
    power = xp.ones_like(ax)
    for k in range(_SERIES_TERMS):
        if k:
            power = power * q / (k * k)
            k0 = k0 + _harmonic(k) * power
        psi_sum = 2.0 * (_harmonic(k) - _EULER_GAMMA) + 1.0 / (k + 1)
        k1 = k1 + psi_sum * power / (k + 1)
    k0 = k0 - (log_term + _EULER_GAMMA) * bessel_i_array(0, ax)
    k1 = 1.0 / ax + log_term * bessel_i_array(1, ax) - (half / 2) * k1
    return k0, k1


def scaled_integral_k(ax, xp, orders=(0, 1)):
    """(e^x K_nu(x) for nu in ``orders``) by the trapezoidal rule on the cosh integral (for
    1/2 < ax < 25; any real order nu with |nu| <= 1)."""
    totals = [xp.full_like(ax, 0.5) for _ in orders]        # the half weight of t = 0
    for n in range(1, _K_NODES):
        t = n * _K_STEP
        weight = xp.exp(-ax * (math.cosh(t) - 1.0))
        totals = [total + weight * math.cosh(nu * t) for total, nu in zip(totals, orders)]
    return tuple(total * _K_STEP for total in totals)


def _asymptotic_k(ax, xp):
    """(e^x K0, e^x K1) by the asymptotic expansion (for ax >= 25)."""
    out = []
    for nu in (0, 1):
        term = xp.sqrt(math.pi / (2 * ax))
        total = term
        for k in range(1, _HANKEL_TERMS + 1):
            term = term * (4 * nu * nu - (2 * k - 1) ** 2) / (8 * k * ax)
            total = total + term
        out.append(total)
    return tuple(out)


@backend.fp_quiet
def bessel_k_arrays(x, scaled=False):
    """(K0(x), K1(x)) of a raw array (``scaled``: e^x K0, e^x K1), in x's floating dtype."""
    xp, dtype, x = _prepare(x)
    small = x <= _K_SERIES_UP_TO
    xs = xp.where(small, x, 0.5)
    xs = xp.where(xs > 0, xs, 0.5)
    large = x >= _LARGE
    xm = xp.where(small | large, 2.0, x)
    xl = xp.where(small, 2.0, x)
    series = _series_k(xs, xp)
    integral = [xp.where(large, a, i) for i, a in zip(scaled_integral_k(xm, xp),
                                                      _asymptotic_k(xp.where(large, x, _LARGE), xp))]
    out = []
    for s, i in zip(series, integral):
        v = xp.where(small, s * xp.exp(xs) if scaled else s,
                     i if scaled else i * xp.exp(-xl))
        v = xp.where(x == 0, xp.inf, xp.where(x == xp.inf, 0.0, v))
        out.append(xp.where((x < 0) | xp.isnan(x), xp.nan, v).astype(dtype, copy=False))
    return tuple(out)


@backend.fp_quiet
def spherical_j0_array(x):
    """j0(x) = sin(x) / x (1 at 0, 0 at +-inf), in x's floating dtype."""
    xp, dtype, x = _prepare(x)
    zero = x == 0
    out = xp.sin(x) / xp.where(zero, 1.0, x)
    out = xp.where(zero, 1.0, xp.where(xp.isinf(x), 0.0, out))
    return out.astype(dtype, copy=False)
