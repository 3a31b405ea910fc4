"""``tinygrad_cv.special``: torch.special's functions of the framework (the same operations as
the top-level functions and Tensor methods; the normal distribution's ``ndtr``, ``ndtri`` and
``log_ndtr``, the scaled ``i0e``/``i1e``/``erfcx``, ``entr``, the Bessel functions of orders 0
and 1 (``ops/bessel.py``, ``ops/bessel_jyk.py``), ``airy_ai`` (``ops/airy.py``), Hurwitz'
``zeta`` (``ops/zeta.py``) and the orthogonal polynomials (``ops/orthogonal_polynomials.py``)
here only).  As in torch, the Bessel, Airy and polynomial functions record no graph (their
results never require grad); ``zeta`` is differentiable in q only.

    ndtr(x)  = P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2       (accurate in the left tail)
    ndtri(p) = the x with ndtr(x) = p = -sqrt 2 erfcinv(2p)    (accurate for small p)
"""
from __future__ import annotations

import math

from .autograd.function import Function
from .nn.functional.activation import softmax, log_softmax  # noqa: F401
from .ops import dual
from .ops.bessel import BesselI, bessel_i_array
from .ops.zeta import Zeta
from .ops.airy import airy_ai_array
from .ops.orthogonal_polynomials import orthogonal_polynomial_array
from .ops.bessel_jyk import bessel_jy_arrays, bessel_k_arrays, spherical_j0_array
from .ops.math import Xlogy
from .ops.special import Entr, Erfcx, LogNdtr, erfcinv_array
from . import backend
from .tensor import Tensor, _as_tensor, _floating, _promoted, logsumexp  # noqa: F401
from .tensor_math import (_float_operands, digamma, erf, erfc, erfinv, exp2,  # noqa: F401
                          logit, polygamma, sinc, xlogy)
from .tensor_math import lgamma as gammaln, mvlgamma  # noqa: F401
from .tensor_math import i0, igamma as gammainc, igammac as gammaincc  # noqa: F401

__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "xlogy", "xlog1py", "exp2", "expm1",
           "log1p", "sinc", "round", "softmax", "log_softmax", "logsumexp", "ndtr", "ndtri",
           "gammaln", "digamma", "psi", "polygamma", "multigammaln", "i0", "i1", "gammainc",
           "gammaincc", "i0e", "i1e", "erfcx", "log_ndtr", "entr",
           "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0",
           "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
           "laguerre_polynomial_l", "legendre_polynomial_p", "zeta", "airy_ai"]

psi = digamma


def i1(input):
    """The modified Bessel function of the first kind of order 1: sum_k (x/2)^(2k+1) /
    (k! (k+1)!); its derivative is I0(x) - I1(x) / x."""
    return BesselI.apply(_floating(_as_tensor(input)), order=1)


def i0e(input):
    """The exponentially scaled modified Bessel function e^-|x| I0(x) (no overflow)."""
    return BesselI.apply(_floating(_as_tensor(input)), order=0, scaled=True)


def i1e(input):
    """The exponentially scaled modified Bessel function e^-|x| I1(x) (no overflow)."""
    return BesselI.apply(_floating(_as_tensor(input)), order=1, scaled=True)


def erfcx(input):
    """The scaled complementary error function e^(x^2) erfc(x) (no underflow for large x)."""
    return Erfcx.apply(_no_half(_floating(_as_tensor(input)), "erfcx"))


def log_ndtr(input):
    """log of the standard normal CDF, log Phi(x), accurate in both tails."""
    return LogNdtr.apply(_no_half(_floating(_as_tensor(input)), "log_ndtr"))


def entr(input):
    """The elementwise entropy -x ln x (0 at 0, -inf for x < 0)."""
    return Entr.apply(_floating(_as_tensor(input)))


def _no_half(t, name, dtype=None):
    """``t``, or torch's error where it (or ``dtype``, the result's) is float16 (the functions
    torch has in float32/64 only)."""
    if (t.array.dtype if dtype is None else dtype) == backend.dtype("float16"):
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Half'")
    return t


def _constant(values, pick, name):
    """``pick`` of the raw array of ``values`` as a Tensor outside the graph (torch defines no
    derivatives for these functions: the result does not require grad)."""
    return Tensor.wrap(pick(_no_half(_as_tensor(values), name).array))


def bessel_j0(input):
    """The Bessel function of the first kind of order 0 (not differentiable, as torch)."""
    return _constant(input, lambda x: bessel_jy_arrays(x)[0], "bessel_j0")


def bessel_j1(input):
    """The Bessel function of the first kind of order 1 (not differentiable, as torch)."""
    return _constant(input, lambda x: bessel_jy_arrays(x)[1], "bessel_j1")


def bessel_y0(input):
    """The Bessel function of the second kind of order 0 (-inf at 0, NaN below)."""
    return _constant(input, lambda x: bessel_jy_arrays(x)[2], "bessel_y0")


def bessel_y1(input):
    """The Bessel function of the second kind of order 1 (-inf at 0, NaN below)."""
    return _constant(input, lambda x: bessel_jy_arrays(x)[3], "bessel_y1")


def modified_bessel_i0(input):
    """I0 as ``i0`` but outside the graph (torch has no derivative for this name)."""
    return _constant(input, lambda x: bessel_i_array(0, x), "modified_bessel_i0")


def modified_bessel_i1(input):
    """I1 as ``i1`` but outside the graph (torch has no derivative for this name)."""
    return _constant(input, lambda x: bessel_i_array(1, x), "modified_bessel_i1")


def modified_bessel_k0(input):
    """The modified Bessel function of the second kind K0 (inf at 0, NaN below)."""
    return _constant(input, lambda x: bessel_k_arrays(x)[0], "modified_bessel_k0")


def modified_bessel_k1(input):
    """The modified Bessel function of the second kind K1 (inf at 0, NaN below)."""
    return _constant(input, lambda x: bessel_k_arrays(x)[1], "modified_bessel_k1")


def scaled_modified_bessel_k0(input):
    """e^x K0(x) (no underflow for large x)."""
    return _constant(input, lambda x: bessel_k_arrays(x, scaled=True)[0],
                     "scaled_modified_bessel_k0")


def scaled_modified_bessel_k1(input):
    """e^x K1(x) (no underflow for large x)."""
    return _constant(input, lambda x: bessel_k_arrays(x, scaled=True)[1],
                     "scaled_modified_bessel_k1")


def spherical_bessel_j0(input):
    """The spherical Bessel function j0(x) = sin(x) / x (1 at 0)."""
    return _constant(input, spherical_j0_array, "spherical_bessel_j0")


def airy_ai(input):
    """The Airy function Ai, the solution of y'' = x y decaying as x -> +inf (NaN at +-inf as
    torch; not differentiable, as torch)."""
    return _constant(input, airy_ai_array, "airy_ai")


def _polynomial(kind, shifted=False):
    name = {"t": "chebyshev_polynomial_t", "u": "chebyshev_polynomial_u",
            "v": "chebyshev_polynomial_v", "w": "chebyshev_polynomial_w",
            "h": "hermite_polynomial_h", "he": "hermite_polynomial_he",
            "l": "laguerre_polynomial_l", "p": "legendre_polynomial_p"}[kind]
    if shifted:
        name = "shifted_" + name

    def polynomial(input, n):
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"special_{name}(): expected a Tensor for input or n, got "
                            f"({type(input).__name__}, {type(n).__name__})")
        x, degree = _promoted(*_float_operands(input, n))
        dtype = backend.get_array_module(x.array).result_type(x.array.dtype, degree.array.dtype)
        _no_half(x, name, dtype)
        return Tensor.wrap(orthogonal_polynomial_array(kind, x.array.astype(dtype, copy=False),
                                                       degree.array, shifted))

    polynomial.__name__ = polynomial.__qualname__ = name
    polynomial.__doc__ = (f"``{name}(input, n)``: the polynomial of degree n at input (x and n "
                          "tensors or numbers, broadcast; not differentiable, as torch).")
    return polynomial


chebyshev_polynomial_t = _polynomial("t")
chebyshev_polynomial_u = _polynomial("u")
chebyshev_polynomial_v = _polynomial("v")
chebyshev_polynomial_w = _polynomial("w")
shifted_chebyshev_polynomial_t = _polynomial("t", shifted=True)
shifted_chebyshev_polynomial_u = _polynomial("u", shifted=True)
shifted_chebyshev_polynomial_v = _polynomial("v", shifted=True)
shifted_chebyshev_polynomial_w = _polynomial("w", shifted=True)
hermite_polynomial_h = _polynomial("h")
hermite_polynomial_he = _polynomial("he")
laguerre_polynomial_l = _polynomial("l")
legendre_polynomial_p = _polynomial("p")


def zeta(input, other):
    """The Hurwitz zeta function sum_(k>=0) (k + q)^-x (x = input, q = other; Riemann's zeta
    at q = 1); differentiable in q only (-x zeta(x + 1, q)), as torch."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"special_zeta(): expected a Tensor for input or other, got "
                        f"({type(input).__name__}, {type(other).__name__})")
    x, q = _promoted(*_float_operands(input, other))
    _no_half(x, "zeta", backend.get_array_module(x.array).result_type(x.array, q.array))
    return Zeta.apply(x, q)


def multigammaln(input, p):
    """``mvlgamma``: the multivariate log-gamma function of dimension p."""
    return mvlgamma(input, p)

_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO = math.sqrt(2.0)


def expit(input):
    """The logistic sigmoid 1 / (1 + e^-x)."""
    return _as_tensor(input).sigmoid()


def expm1(input):
    return _as_tensor(input).expm1()


def log1p(input):
    return _as_tensor(input).log1p()


def round(input, decimals=0):  # noqa: A001  (torch's name)
    return _as_tensor(input).round(decimals=decimals)


def xlog1py(input, other):
    """input * log(1 + other), 0 where input is 0 (unless other is NaN)."""
    return Xlogy.apply(*_float_operands(input, other), log1p=True)


def ndtr(input):
    """The standard normal CDF: erfc(-x / sqrt 2) / 2."""
    return erfc(_floating(_as_tensor(input)) * -_SQRT_HALF) * 0.5


class Ndtri(Function):
    """x = ndtri(p) = -sqrt 2 erfcinv(2p) on [0, 1] (-inf at 0, +inf at 1, NaN outside);
    dx/dp = sqrt(2 pi) exp(x^2 / 2) (differentiable again)."""

    higher_order = True

    @staticmethod
    def forward(ctx, p):
        out = erfcinv_array(p * 2.0) * -_SQRT_TWO + 0.0    # (+0 at p = 1/2, as torch)
        ctx.save_for_backward(out)
        return out.astype(p.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (dual.exp(out * out * 0.5) * math.sqrt(2.0 * math.pi))


def ndtri(input):
    """The inverse of the standard normal CDF (the quantile function)."""
    return Ndtri.apply(_floating(_as_tensor(input)))

