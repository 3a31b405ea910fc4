"""The error function primitives ``Erf``, ``Erfc`` and ``Erfinv``:
erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, erfc = 1 - erf and the inverse of erf,
vectorised on xp arrays (NumPy has none).

* |x| < 1:  the Maclaurin series erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
  truncated where the next term is below the dtype's precision, evaluated by Horner in x^2.
* |x| >= 1: erfc(x) = t * exp(P(u) - x^2) with t = 2/(2 + x) and P a Chebyshev series in u,
  the affine image of t in [2/29, 2/3] (x in [1, 27]) onto [-1, 1].  P approximates
  log(erfc(x) e^(x^2) / t), a smooth slowly varying function; its coefficients were fitted
  for this module by least squares at Chebyshev nodes against 40-digit values of erfc.

The erfc form keeps full relative accuracy in the right tail (erfc(9) ~ 4e-37).  Accuracy:
~1e-13 relative in float64 (degree 18), ~1e-7 in float32 (degree 8, computed in float32).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd.function import Function
from . import dual

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# Maclaurin coefficients of erf(x)/x as a polynomial in x^2
_MACLAURIN = tuple(_TWO_OVER_SQRT_PI * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(18))
_MACLAURIN_TERMS = {"float64": 17, "float32": 11}

# Chebyshev coefficients of log(erfc(x) exp(x^2) / t) in u, t = 2/(2 + x), for x in [1, 27]
_T_MIN, _T_MAX = 2.0 / 29.0, 2.0 / 3.0
_X_MAX = 27.0
_CHEB = {
    "float64": (-0.8322147429256503, 0.37688483622363206, 0.013026248441122311,
                -0.0015997881324556096, -0.00025608523960219775, 1.3836474434745311e-05,
                5.583725957698597e-06, -1.593714090974417e-07, -1.377424090039259e-07,
                3.2594206883067066e-09, 3.692088593590865e-09, -1.3748221307672145e-10,
                -1.0214933331732984e-10, 7.083796444243902e-12, 2.7198762098210186e-12,
                -3.387897052468929e-13, -6.166625552260767e-14, 1.4068028429806631e-14,
                8.164480785155634e-16),
    "float32": (-0.8322147429256503, 0.376884836223632, 0.013026248441122485,
                -0.001599788132455691, -0.0002560852396021757, 1.3836474434607973e-05,
                5.583725957729086e-06, -1.5937140914221287e-07, -1.3774240896558687e-07),
}


def _working_dtype(x):
    """float64 stays float64; every other dtype is computed in float32."""
    return "float64" if x.dtype == backend.dtype("float64") else "float32"


def _erf_small(ax, kind):
    """erf(|x|) by the Maclaurin series (accurate for |x| <= 1)."""
    x2 = ax * ax
    coeffs = _MACLAURIN[:_MACLAURIN_TERMS[kind]]
    acc = x2 * 0 + coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = acc * x2 + c
    return ax * acc


def _erfc_large(ax, kind, xp, scaled=False):
    """erfc(|x|) = t exp(P(u) - x^2) (accurate for 1 <= |x| <= 27; underflows to 0 past
    ~27); with ``scaled`` erfcx(|x|) = e^(x^2) erfc(|x|) = t exp(P(u))."""
    xc = xp.clip(ax, 1.0, _X_MAX)
    t = 2.0 / (2.0 + xc)
    u = (2.0 * t - (_T_MIN + _T_MAX)) * (1.0 / (_T_MAX - _T_MIN))
    coeffs = _CHEB[kind]
    # Clenshaw's recurrence: b_k = c_k + 2u b_(k+1) - b_(k+2);  P = c_0 + u b_1 - b_2
    b1 = u * 0
    b2 = b1
    two_u = 2.0 * u
    for c in reversed(coeffs[1:]):
        b1, b2 = two_u * b1 - b2 + c, b1
    poly = u * b1 - b2 + coeffs[0]
    return t * xp.exp(poly if scaled else poly - ax * ax)


def _erf_or_erfc_abs(x, want):
    """(x as a float array, erf(|x|) or erfc(|x|) as ``want`` says, xp).

    Each series runs only on the elements of its range (boolean compress and scatter).
    """
    xp = backend.get_array_module(x)
    if not backend.is_floating(x.dtype):
        x = x.astype("float32")
    kind = _working_dtype(x)
    ax = xp.abs(x).astype(kind, copy=False)
    small = ax < 1.0
    large = ~small
    near = _erf_small(ax[small], kind)
    tail = _erfc_large(ax[large], kind, xp)
    out = xp.empty_like(ax)
    if want == "erf":
        out[small] = near
        out[large] = 1.0 - tail
    else:
        out[small] = 1.0 - near
        out[large] = tail
    return x, out.astype(x.dtype, copy=False), xp


def erf_array(x):
    """erf of a raw array (odd function: computed on |x|, sign restored)."""
    x, erf_abs, xp = _erf_or_erfc_abs(x, "erf")
    return xp.copysign(erf_abs, x)


def erfc_array(x):
    """erfc(x) = 1 - erf(x) of a raw array, with relative accuracy in the right tail."""
    x, erfc_abs, xp = _erf_or_erfc_abs(x, "erfc")
    return xp.where(x >= 0, erfc_abs, 2.0 - erfc_abs)


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


def erf_dual(x):
    """erf of an array or (recording) Tensor, for backward formulas that must run on both."""
    return Erf.apply(x) if dual.is_tensor(x) else erf_array(x)


class Erfc(Function):
    """y = erfc(x) = 1 - erf(x) (full relative accuracy in the right tail);
    dy/dx = -2/sqrt(pi) * exp(-x^2) (differentiable again)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erfc_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (dual.exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


# Winitzki's closed-form approximation of erfinv (relative error below 2e-3), the start of the
# Halley iterations below
_WINITZKI_A = 0.147
_HALLEY_STEPS = 3


@backend.fp_quiet
def _erfinv_abs(ay, q):
    """erfinv(|y|) from ``ay = |y|`` and ``q = 1 - |y|`` (float64; each exact where it is
    used: ``ay`` for |y| <= 1/2, ``q`` above), +inf at |y| = 1, NaN above and at NaN.

    Start: Winitzki's approximation with ``L = ln(1 - y^2) = ln q + ln(1 + |y|)``,
    ``x0 = sqrt(sqrt((2/(pi a) + L/2)^2 - L/a) - (2/(pi a) + L/2))``, a = 0.147.  Then
    Halley's iteration on f(x) = erf(x) - |y|, written for |y| > 1/2 as f(x) = q - erfc(x),
    which keeps the digits of the tail; as f'' = -2x f' in both forms, a step is
    ``x -= r / (1 + x r)`` with ``r = f / f'``.  Three steps from a 2e-3 start reach full
    float64 accuracy (5e-16 relative against SciPy's erfinv on [-1, 1] and in the tails down
    to 1 - |y| = 1e-300).
    """
    xp = backend.get_array_module(ay)
    tail = ay > 0.5
    log_term = xp.log(q) + xp.log1p(ay)
    c = 2.0 / (math.pi * _WINITZKI_A) + 0.5 * log_term
    x = xp.sqrt(xp.sqrt(c * c - log_term / _WINITZKI_A) - c)
    inner = q > 0.0
    x = xp.where(inner, x, 0.0)                      # the iteration runs on finite values only
    for _ in range(_HALLEY_STEPS):
        slope = _TWO_OVER_SQRT_PI * xp.exp(-x * x)
        residual = xp.where(tail, q - erfc_array(x), erf_array(x) - ay)
        r = residual / slope
        x = x - r / (1.0 + x * r)
    return xp.where(inner, x, xp.where(q == 0.0, xp.inf, xp.nan))


def _result_dtype(y):
    xp = backend.get_array_module(y)
    return y.dtype if backend.is_floating(y.dtype) else xp.dtype("float32")


def erfinv_array(y):
    """The inverse error function of a raw array: erf(erfinv(y)) = y on (-1, 1), +-inf at
    +-1, NaN outside [-1, 1] and at NaN (odd: computed on |y| in float64, ``_erfinv_abs``;
    float32 results are rounded from the float64 ones)."""
    xp = backend.get_array_module(y)
    ay = xp.abs(y.astype("float64"))
    x = _erfinv_abs(ay, 1.0 - ay)                    # 1 - |y| is exact above 1/2 (Sterbenz)
    return xp.copysign(x, y).astype(_result_dtype(y), copy=False)


@backend.fp_quiet
def erfcinv_array(z):
    """The inverse of erfc on [0, 2] (erfinv(1 - z), +inf at 0, -inf at 2), with the digits of
    small z kept (the tail of ``ndtri``): for z <= 1, |y| = 1 - z and q = z; above,
    |y| = z - 1 and q = 2 - z (exact)."""
    xp = backend.get_array_module(z)
    z64 = z.astype("float64")
    upper = z64 > 1.0
    ay = xp.where(upper, z64 - 1.0, 1.0 - z64)
    q = xp.where(upper, 2.0 - z64, z64)
    x = _erfinv_abs(ay, q)
    x = xp.where(upper, -x, x)
    x = xp.where((z64 < 0) | (z64 > 2), xp.nan, x)
    return x.astype(_result_dtype(z), copy=False)


class Erfinv(Function):
    """x = erfinv(y);  dx/dy = sqrt(pi)/2 * exp(x^2) (differentiable again)."""

    higher_order = True

    @staticmethod
    def forward(ctx, y):
        out = erfinv_array(y)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (dual.exp(out * out) * (1.0 / _TWO_OVER_SQRT_PI))


# erfcx beyond _X_MAX: the asymptotic series 1 / (x sqrt pi) * sum_k (-1)^k (2k - 1)!! / (2x^2)^k,
# whose k-th term is below 23!! / 1458^12 ~ 3e-27 at x = 27
_ERFCX_ASYMPTOTIC_TERMS = 12


@backend.fp_quiet
def erfcx_array(x):
    """The scaled complementary error function erfcx(x) = e^(x^2) erfc(x) of a raw array
    (float64 inside; integers give float32):

    * x >= 1: t exp(P(u)), the tail form of ``erfc`` without its e^-x^2, up to 27; beyond, the
      asymptotic series (erfcx(x) ~ 1 / (x sqrt pi));
    * x < 1: e^(x^2) erfc(x), x^2 split exactly as xh^2 + xl (2 xh + xl) (xh: x rounded to
      2^-20) so that the large e^(x^2) of negative x keeps full relative accuracy; inf below
      -26.6 (overflow), as torch.
    """
    xp = backend.get_array_module(x)
    dtype = _result_dtype(x)
    x = x.astype("float64")
    tail = x >= 1.0
    xt = xp.where(tail, x, 1.0)
    mid = _erfc_large(xt, "float64", xp, scaled=True)
    far = xp.where(xt > _X_MAX, xt, _X_MAX + 1.0)
    inv2x2 = 0.5 / (far * far)
    term = xp.ones_like(far)
    series = term
    for k in range(1, _ERFCX_ASYMPTOTIC_TERMS + 1):
        term = term * -(2 * k - 1) * inv2x2
        series = series + term
    tail_value = xp.where(xt > _X_MAX, series / (far * math.sqrt(math.pi)), mid)
    tail_value = xp.where(xt == xp.inf, 0.0, tail_value)
    xs = xp.where(tail, 0.0, x)
    xh = xp.round(xs * 2.0 ** 20) * 2.0 ** -20
    xl = xs - xh
    body = xp.exp(xh * xh) * xp.exp(xl * (2.0 * xh + xl)) * erfc_array(xs)
    out = xp.where(tail, tail_value, xp.where(x == -xp.inf, xp.inf, body))
    return out.astype(dtype, copy=False)


class Erfcx(Function):
    """y = erfcx(x) = e^(x^2) erfc(x);  dy/dx = 2x y - 2/sqrt(pi) (differentiable again)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x):
        out = erfcx_array(x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        if dual.is_tensor(x):
            out = Erfcx.apply(x)
        return g * (2.0 * x * out - _TWO_OVER_SQRT_PI)


def erfcx_dual(x):
    return Erfcx.apply(x) if dual.is_tensor(x) else erfcx_array(x)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)


@backend.fp_quiet
def log_ndtr_array(x):
    """log Phi(x), Phi the standard normal CDF, of a raw array (float64 inside):
    log1p(-erfc(x / sqrt 2) / 2) for x >= -1 (Phi(x) = 1 - Phi(-x) near 1), and
    log(erfcx(z) / 2) - z^2 with z = -x / sqrt 2 below (no underflow: -x^2/2 - log(-x sqrt(2 pi))
    asymptotically)."""
    xp = backend.get_array_module(x)
    dtype = _result_dtype(x)
    x = x.astype("float64")
    upper = x >= -1.0
    xu = xp.where(upper, x, 0.0)
    xl = xp.where(upper, -2.0, x)
    near = xp.log1p(-0.5 * erfc_array(xu * _SQRT_HALF))
    far = xp.log(0.5 * erfcx_array(-xl * _SQRT_HALF)) - 0.5 * (xl * xl)
    return xp.where(upper, near, far).astype(dtype, copy=False)


class LogNdtr(Function):
    """y = log Phi(x);  dy/dx = phi(x) / Phi(x) = sqrt(2/pi) / erfcx(-x / sqrt 2) (NaN at -inf,
    as torch; differentiable again)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return log_ndtr_array(x)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        slope = _SQRT_TWO_OVER_PI / erfcx_dual(x * -_SQRT_HALF)
        return g * dual.where(dual.raw(x) == -math.inf, math.nan, slope)


class Entr(Function):
    """y = entr(x) = -x ln x for x > 0, 0 at 0, -inf for x < 0 (NaN at NaN);
    dy/dx = -(ln x + 1) (inf at 0, NaN below 0, as torch; differentiable again)."""

    higher_order = True

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x):
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x)
        out = xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1.0)), 0.0)
        return xp.where(x < 0, -xp.inf, xp.where(xp.isnan(x), xp.nan, out)).astype(x.dtype, copy=False)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * -(dual.log(x) + 1.0)
