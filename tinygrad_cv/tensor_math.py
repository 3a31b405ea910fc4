"""torch's elementwise mathematical functions, as functions and methods: the trigonometric and
hyperbolic families (with NumPy's ``arc*`` aliases), the error functions, lgamma, digamma,
polygamma and mvlgamma, the Bessel function i0, the regularized incomplete gamma functions
igamma/igammac, nextafter, exp2, logit, sinc,
xlogy, atan2, hypot, logaddexp(2), copysign, fmax/fmin, float_power, nan_to_num, the sign and
infinity tests, the logical and bitwise families, gcd/lcm and deg2rad/rad2deg.

Each function takes the tensor first (``tinygrad_cv.atan2(y, x)``; a number is accepted where
torch accepts one) and is bound as the method of the same name (``y.atan2(x)``), with its
in-place form (``y.atan2_(x)``, through ``apply_inplace``: torch's graph rules and version
counter).  Dtypes as torch: integer and bool inputs of the floating functions give float32
(the default dtype), binary operands are promoted as the arithmetic operators promote them.
The differentiable ones are the primitives of ``ops/math.py`` and ``ops/special.py`` (their
derivatives, also at the edges, are torch's).
"""
from __future__ import annotations

import math

from . import backend, return_types
from .autograd.inplace import apply_inplace
from .autograd.versions import torch_type_name
from .ops.math import (Acos, Acosh, Asin, Asinh, Atan, Atan2, Atanh, CopySign, Cosh, Exp2,
                       FExtremum, Hypot, LogAddExp, Logit, Mantissa, NanToNum, Sinc, Sinh, Tan,
                       Xlogy)
from .ops.bessel import BesselI
from .ops.gamma import LogGammaDerivative
from .ops.incomplete_gamma import RegularizedGamma
from .ops.math import NextAfter
from .ops.special import Erf, Erfc, Erfinv
from .tensor import Tensor, _as_tensor, _floating, _operand_tensors

_FLOAT64 = backend.dtype("float64")


def _float_operands(a, b, name=None):
    """``a`` and ``b`` as Tensors of one floating dtype: promoted as the arithmetic operators
    do, integers and bools then as float32 (torch's default dtype).  With ``name``, integer
    operands raise torch's error instead (the functions torch has for floats only)."""
    a, b = _operand_tensors(a, b)
    if not backend.is_floating(a.dtype):
        if name is not None:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                      f"'{torch_type_name(a.dtype)}'")
        a, b = a.float(), b.float()
    return a, b


def _unary(primitive):
    def fn(input):
        return primitive.apply(_floating(_as_tensor(input)))
    return fn


# ---- trigonometric and hyperbolic ------------------------------------------------------------
tan = _unary(Tan)
asin = _unary(Asin)
acos = _unary(Acos)
atan = _unary(Atan)
sinh = _unary(Sinh)
cosh = _unary(Cosh)
asinh = _unary(Asinh)
acosh = _unary(Acosh)
atanh = _unary(Atanh)
sinc = _unary(Sinc)
for _f, _doc in ((tan, "tan x"), (asin, "asin x on [-1, 1]"), (acos, "acos x on [-1, 1]"),
                 (atan, "atan x"), (sinh, "sinh x"), (cosh, "cosh x"), (asinh, "asinh x"),
                 (acosh, "acosh x on [1, inf)"), (atanh, "atanh x on [-1, 1]"),
                 (sinc, "sin(pi x) / (pi x), 1 at 0")):
    _f.__doc__ = _doc + " (NaN outside the domain; integers give float32)."
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def atan2(input, other):
    """The angle of the point (other, input) in (-pi, pi]: atan(input / other) in the right
    quadrant."""
    return Atan2.apply(*_float_operands(input, other))


arctan2 = atan2


def hypot(input, other):
    """sqrt(input^2 + other^2) without overflow."""
    return Hypot.apply(*_float_operands(input, other, "hypot"))


def deg2rad(input):
    """Degrees to radians (integers give float32)."""
    return _floating(_as_tensor(input)) * (math.pi / 180.0)


def rad2deg(input):
    """Radians to degrees (integers give float32)."""
    return _floating(_as_tensor(input)) * (180.0 / math.pi)


# ---- exponential, logarithmic and error functions -------------------------------------------
exp2 = _unary(Exp2)
exp2.__doc__ = "2^x (integers give float32)."
erf = _unary(Erf)
erf.__doc__ = "The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt."
erfc = _unary(Erfc)
erfc.__doc__ = "1 - erf(x), accurate in the right tail."
erfinv = _unary(Erfinv)
erfinv.__doc__ = "The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside)."


def logit(input, eps=None):
    """log(p / (1 - p)); with ``eps``, p is first clamped to [eps, 1 - eps] (the gradient is
    then 0 outside that interval, as torch)."""
    return Logit.apply(_floating(_as_tensor(input)), eps=None if eps is None else float(eps))


def xlogy(input, other):
    """input * log(other), 0 where input is 0 (unless other is NaN)."""
    return Xlogy.apply(*_float_operands(input, other))


def logaddexp(input, other):
    """log(e^input + e^other) without overflow."""
    return LogAddExp.apply(*_float_operands(input, other, "logaddexp"))


def logaddexp2(input, other):
    """log2(2^input + 2^other) without overflow."""
    return LogAddExp.apply(*_float_operands(input, other, "logaddexp2"), base=2.0)


def float_power(input, exponent):
    """input ** exponent computed in float64 (the result is float64, as torch)."""
    if isinstance(input, Tensor) or not isinstance(exponent, Tensor):
        return _as_tensor(input).to(_FLOAT64) ** (
            exponent.to(_FLOAT64) if isinstance(exponent, Tensor) else exponent)
    return exponent.to(_FLOAT64).__rpow__(input)


def ldexp(input, other):
    """input * 2^other (integers give float32)."""
    x = _floating(_as_tensor(input))
    return x * (2.0 ** _floating(_as_tensor(other, like=x)))




def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2^exponent, |mantissa| in [1/2, 1) (0, inf
    and NaN kept), exponent int32; the mantissa's gradient is 2^-exponent."""
    x = _as_tensor(input)
    if not backend.is_floating(x.dtype):
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    exponent = backend.get_array_module(x.array).frexp(x.array)[1].astype("int32")
    return return_types.frexp(Mantissa.apply(x), Tensor.wrap(exponent))


# ---- the log-gamma function and its derivatives -------------------------------------------------
def lgamma(input):
    """log |Gamma(x)| (inf at 0, -1, -2, ...)."""
    return LogGammaDerivative.apply(_floating(_as_tensor(input)), order=-1)


def digamma(input):
    """psi(x) = d/dx lgamma(x) (-inf at +0, +inf at -0, NaN at the negative integers)."""
    return LogGammaDerivative.apply(_floating(_as_tensor(input)), order=0)


def polygamma(n, input):
    """The n-th derivative of digamma (n >= 0)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n!r}")
    return LogGammaDerivative.apply(_floating(_as_tensor(input)), order=int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma function of dimension p:
    p (p - 1) / 4 log(pi) + sum_(i < p) lgamma(x - i / 2); every element must exceed
    (p - 1) / 2 (as torch)."""
    x = _floating(_as_tensor(input))
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1, got {p!r}")
    if bool((x.array <= (p - 1) / 2).any()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    total = lgamma(x)
    for i in range(1, p):
        total = total + lgamma(x - i / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


# ---- sign, extrema and non-finite values -----------------------------------------------------
def i0(input):
    """The modified Bessel function of the first kind of order 0: sum_k (x/2)^(2k) / (k!)^2;
    its derivative is I1 (``special.i1``)."""
    return BesselI.apply(_floating(_as_tensor(input)), order=0)


def igamma(input, other):
    """The regularized lower incomplete gamma function P(a, x) (a = input, x = other):
    1/Gamma(a) int_0^x t^(a-1) e^-t dt; differentiable in x only (as torch)."""
    return RegularizedGamma.apply(*_float_operands(input, other, "igamma"), upper=False)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return RegularizedGamma.apply(*_float_operands(input, other, "igammac"), upper=True)


def nextafter(input, other):
    """The next representable value after input towards other (floating dtypes only);
    the gradient passes to input unchanged, other gets zero (as torch)."""
    return NextAfter.apply(*_float_operands(input, other, "nextafter"))


def copysign(input, other):
    """|input| with the sign of other (its sign bit: -0.0 counts as negative)."""
    return CopySign.apply(*_float_operands(input, other))


def fmax(input, other):
    """The larger of the two, a NaN ignored (NaN only where both are)."""
    return _f_extremum(input, other, "fmax")


def fmin(input, other):
    """The smaller of the two, a NaN ignored (NaN only where both are)."""
    return _f_extremum(input, other, "fmin")


def _f_extremum(input, other, kind):
    a, b = _operand_tensors(input, other)
    if not backend.is_floating(a.dtype):
        xp = backend.get_array_module(a.array)
        return Tensor.wrap(getattr(xp, kind)(a.array, b.array))
    return FExtremum.apply(a, b, kind=kind)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (defaults: 0 and the
    dtype's largest and smallest finite values); integer tensors are returned as copies."""
    x = _as_tensor(input)
    if not backend.is_floating(x.dtype):
        return x.clone()
    return NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


def sgn(input):
    """The sign of a real tensor (torch's sgn; its gradient is zero)."""
    return _as_tensor(input).sign()


def signbit(input):
    """True where the sign bit is set (negative values, -0.0 and NaNs with the bit)."""
    x = _as_tensor(input)
    return Tensor.wrap(backend.get_array_module(x.array).signbit(x.array))


def _test(name):
    def fn(input):
        x = _as_tensor(input)
        return Tensor.wrap(getattr(backend.get_array_module(x.array), name)(x.array))
    return fn


isinf = _test("isinf")
isinf.__doc__ = "True where the value is +inf or -inf."


def isposinf(input):
    """True where the value is +inf."""
    x = _as_tensor(input)
    return Tensor.wrap(backend.get_array_module(x.array).isinf(x.array) & (x.array > 0))


def isneginf(input):
    """True where the value is -inf."""
    x = _as_tensor(input)
    return Tensor.wrap(backend.get_array_module(x.array).isinf(x.array) & (x.array < 0))


def isreal(input):
    """True everywhere (the tensors here are real)."""
    x = _as_tensor(input)
    return Tensor.wrap(backend.get_array_module(x.array).ones(x.shape, dtype=bool))


def heaviside(input, values):
    """0 where input < 0 (and at NaN), ``values`` where input == 0, 1 where input > 0 (same
    dtypes, as torch; not differentiable)."""
    x, v = _as_tensor(input), _as_tensor(values, like=_as_tensor(input))
    if x.dtype != v.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different "
                           f"dtypes (got {torch_type_name(x.dtype)} and "
                           f"{torch_type_name(v.dtype)})")
    xp = backend.get_array_module(x.array)
    out = xp.where(x.array == 0, v.array, x.array > 0)
    return Tensor.wrap(out.astype(x.dtype, copy=False))


def positive(input):
    """input itself (torch refuses bool tensors)."""
    x = _as_tensor(input)
    if x.array.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


def negative(input):
    x = _as_tensor(input)
    if x.array.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return -x


def absolute(input):
    return _as_tensor(input).abs()


def fix(input):
    """trunc: rounding towards zero."""
    return _as_tensor(input).trunc()


# ---- logical and bitwise ----------------------------------------------------------------------
def _logical(name):
    def fn(input, other):
        a, b = _as_tensor(input), _as_tensor(other, like=_as_tensor(input))
        xp = backend.get_array_module(a.array)
        return Tensor.wrap(getattr(xp, name)(a.array, b.array))
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name.split('_')[1]} of the truth values (non-zero is True): bool."
    return fn


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def logical_not(input):
    return _as_tensor(input).logical_not()


def _integer_operands(name, input, other, kinds="iub"):
    a, b = _operand_tensors(input, other)
    if a.array.dtype.kind not in kinds:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                  f"'{torch_type_name(a.dtype)}'")
    return a, b


def _bitwise(name, kinds="iub"):
    def fn(input, other):
        a, b = _integer_operands(name, input, other, kinds)
        return Tensor.wrap(getattr(backend.get_array_module(a.array), name)(a.array, b.array))
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} of integer or bool tensors."
    return fn


bitwise_and = _bitwise("bitwise_and")
bitwise_or = _bitwise("bitwise_or")
bitwise_xor = _bitwise("bitwise_xor")
gcd = _bitwise("gcd", kinds="iu")
gcd.__doc__ = "The greatest common divisor of integer tensors (non-negative)."
lcm = _bitwise("lcm", kinds="iu")
lcm.__doc__ = "The least common multiple of integer tensors (non-negative)."


def bitwise_not(input):
    """~input of an integer or bool tensor."""
    x = _as_tensor(input)
    _integer_operands("bitwise_not", x, x)
    return ~x


# ---- the methods -------------------------------------------------------------------------------
def _in_place(fn):
    def method(self, *args, **kwargs):
        return apply_inplace(self, lambda x, *a: fn(x, *a, **kwargs), *args)
    return method


_OUT_OF_PLACE = ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                 "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "sinc",
                 "atan2", "arctan2", "hypot", "deg2rad", "rad2deg", "exp2", "erf", "erfc",
                 "erfinv", "logit", "xlogy", "logaddexp", "logaddexp2", "float_power",
                 "lgamma", "digamma", "mvlgamma", "ldexp", "frexp", "i0", "igamma",
                 "igammac", "nextafter",
                 "copysign", "fmax", "fmin", "nan_to_num", "sgn", "signbit", "isinf",
                 "isposinf", "isneginf", "isreal", "heaviside", "positive", "negative",
                 "absolute", "fix", "logical_and", "logical_or", "logical_xor", "bitwise_and",
                 "bitwise_or", "bitwise_xor", "bitwise_not", "gcd", "lcm")
_IN_PLACE = ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
             "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "sinc", "atan2",
             "arctan2", "hypot", "deg2rad", "rad2deg", "exp2", "erf", "erfc", "erfinv", "logit",
             "lgamma", "digamma", "mvlgamma", "i0", "igamma", "igammac", "nextafter",
             "xlogy", "copysign", "nan_to_num", "sgn", "negative", "absolute", "fix",
             "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
             "bitwise_or", "bitwise_xor", "bitwise_not", "gcd", "lcm")
METHODS = _OUT_OF_PLACE + tuple(name + "_" for name in _IN_PLACE) + (
    "float_power_", "polygamma", "polygamma_")


def float_power_(self, exponent):
    """In place: only a float64 tensor can hold the float64 result (as torch)."""
    if self.dtype != _FLOAT64:
        raise RuntimeError(f"the base given to float_power_ has dtype "
                           f"{torch_type_name(self.dtype)} but the "
                           f"operation's result requires dtype Double")
    return apply_inplace(self, float_power, exponent)


for _name in _OUT_OF_PLACE:
    setattr(Tensor, _name, globals()[_name])
for _name in _IN_PLACE:
    setattr(Tensor, _name + "_", _in_place(globals()[_name]))
Tensor.float_power_ = float_power_


def _polygamma_method(self, n):
    """``x.polygamma(n)`` (the method takes n after the tensor, as torch)."""
    return polygamma(n, self)


def _polygamma_in_place(self, n):
    return apply_inplace(self, lambda x: polygamma(n, x))


Tensor.polygamma = _polygamma_method
Tensor.polygamma_ = _polygamma_in_place
del _name, _f, _doc
