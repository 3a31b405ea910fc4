"""Function forms of Tensor methods, with torch's names and signatures:
``tinygrad_cv.mm(a, b) == a.mm(b)``, ``tinygrad_cv.topk(x, 3)``, ``tinygrad_cv.pow(2, x)``...

(The older function forms -- exp, log, sum, max, clamp, flatten, ... -- are in tensor.py.)
Each converts a non-Tensor first argument with ``_as_tensor`` and calls the method, so there
is one implementation of each operation.
"""
from __future__ import annotations

import builtins

from . import backend
from .ops.einsum import Einsum, diagonal_subscripts, parse_equation, sublist_equation
from .tensor import Tensor, _as_tensor

# ---- arithmetic ------------------------------------------------------------------------------


def add(input, other, *, alpha=1):
    """input + alpha * other."""
    return _as_tensor(input).add(other, alpha=alpha)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    return _as_tensor(input).sub(other, alpha=alpha)


subtract = sub


def mul(input, other):
    """input * other."""
    return _as_tensor(input) * other if isinstance(input, Tensor) else _as_tensor(other) * input


multiply = mul


def div(input, other, *, rounding_mode=None):
    """input / other; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient (integers
    stay integers)."""
    if not isinstance(input, Tensor):
        other = _as_tensor(other)
        input = _as_tensor(input, like=other)
    return input.div(other, rounding_mode=rounding_mode)


divide = div
true_divide = div


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    x = _as_tensor(input)
    return (x if alpha == 1 else x * alpha).__rsub__(other) if not isinstance(other, Tensor) \
        else other - (x if alpha == 1 else x * alpha)


def floor_divide(input, other):
    """input // other (the quotient rounded down)."""
    return _as_tensor(input).floor_divide(other) if isinstance(input, Tensor) else \
        _as_tensor(other).__rfloordiv__(input)


def remainder(input, other):
    """input % other (the sign of other, as Python's)."""
    return _as_tensor(input).remainder(other) if isinstance(input, Tensor) else \
        _as_tensor(other).__rmod__(input)


def fmod(input, other):
    """C's fmod (the sign of input)."""
    if not isinstance(input, Tensor):
        other = _as_tensor(other)
        input = _as_tensor(input, like=other)
    return input.fmod(other)


def pow(input, exponent):
    """input ** exponent (either may be a number)."""
    if isinstance(input, Tensor):
        return input ** exponent
    return _as_tensor(exponent).__rpow__(input)


def rsqrt(input):
    """1 / sqrt(input)."""
    return _as_tensor(input).rsqrt()


def reciprocal(input):
    """1 / input."""
    return _as_tensor(input).reciprocal()


def log1p(input):
    """ln(1 + input)."""
    return _as_tensor(input).log1p()


def expm1(input):
    """e^input - 1."""
    return _as_tensor(input).expm1()


def floor(input):
    return _as_tensor(input).floor()


def ceil(input):
    return _as_tensor(input).ceil()


def trunc(input):
    return _as_tensor(input).trunc()


def round(input, *, decimals=0):
    """Round half to even."""
    return _as_tensor(input).round(decimals)


def frac(input):
    return _as_tensor(input).frac()


def sign(input):
    return _as_tensor(input).sign()


# ---- comparisons and tests ---------------------------------------------------------------------
def eq(input, other):
    return _as_tensor(input).eq(other)


def ne(input, other):
    return _as_tensor(input).ne(other)


def lt(input, other):
    return _as_tensor(input).lt(other)


def le(input, other):
    return _as_tensor(input).le(other)


def gt(input, other):
    return _as_tensor(input).gt(other)


def ge(input, other):
    return _as_tensor(input).ge(other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def isnan(input):
    return _as_tensor(input).isnan()


def isfinite(input):
    return _as_tensor(input).isfinite()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return backend.is_floating(input.dtype)


def numel(input):
    return input.numel()


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """The product over ``dim`` (one dim, or all)."""
    return _as_tensor(input).prod(dim, keepdim, dtype=dtype)


def all(input, dim=None, keepdim=False):
    return _as_tensor(input).all(dim, keepdim)


def any(input, dim=None, keepdim=False):
    return _as_tensor(input).any(dim, keepdim)


def equal(input, other):
    """True when both have the same shape and elements."""
    return tuple(input.shape) == tuple(other.shape) and builtins.bool(
        (input == other).all().item())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol |other| everywhere."""
    xp = backend.get_array_module(input.array)
    return builtins.bool(xp.allclose(input.array, _as_tensor(other, like=input).array,
                                     rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    xp = backend.get_array_module(input.array)
    return Tensor.wrap(xp.isclose(input.array, _as_tensor(other, like=input).array, rtol=rtol,
                                  atol=atol, equal_nan=equal_nan))


# ---- matrices ----------------------------------------------------------------------------------
def mm(input, mat2):
    return _as_tensor(input).mm(mat2)


def bmm(input, mat2):
    return _as_tensor(input).bmm(mat2)


def t(input):
    return _as_tensor(input).t()


def outer(input, vec2):
    return _as_tensor(input).outer(vec2)


ger = outer


def dot(input, other):
    return _as_tensor(input).dot(other)


def tril(input, diagonal=0):
    return _as_tensor(input).tril(diagonal)


def triu(input, diagonal=0):
    return _as_tensor(input).triu(diagonal)


def diag(input, diagonal=0):
    return _as_tensor(input).diag(diagonal)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm (``Tensor.norm``): vector p-norms, 'fro' and 'nuc' over ``dim``."""
    return _as_tensor(input).norm(p, dim, keepdim, dtype)


# ---- indexing and ordering ------------------------------------------------------------------
def narrow(input, dim, start, length):
    return _as_tensor(input).narrow(dim, start, length)


def masked_fill(input, mask, value):
    return _as_tensor(input).masked_fill(mask, value)


def flip(input, dims):
    return _as_tensor(input).flip(*((dims,) if isinstance(dims, int) else dims))


def roll(input, shifts, dims=None):
    return _as_tensor(input).roll(shifts, dims)


def cumsum(input, dim, *, dtype=None):
    return _as_tensor(input).cumsum(dim, dtype=dtype)


def gather(input, dim, index):
    return _as_tensor(input).gather(dim, index)


def index_select(input, dim, index):
    return _as_tensor(input).index_select(dim, index)


def unbind(input, dim=0):
    return _as_tensor(input).unbind(dim)


def sort(input, dim=-1, descending=False, stable=False):
    return _as_tensor(input).sort(dim, descending, stable)


def argsort(input, dim=-1, descending=False, stable=False):
    return _as_tensor(input).argsort(dim, descending, stable)


def topk(input, k, dim=-1, largest=True, sorted=True):
    return _as_tensor(input).topk(k, dim, largest, sorted)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    return _as_tensor(input).unique(sorted, return_inverse, return_counts, dim)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    return _as_tensor(input).multinomial(num_samples, replacement, generator=generator)


def einsum(equation, *operands):
    """Einstein summation (``einsum("bij,bjk->bik", a, b)``; operands may also be one list, or
    come in torch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``), differentiable in
    every operand; '...' broadcasts; a subscript repeated inside one operand takes that
    diagonal (``einsum("ii->i", a)``, traces ``"ii"``)."""
    if not isinstance(equation, str):
        equation, operands = sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): at least one operand is needed")
    first = next((o for o in operands if isinstance(o, Tensor)), None)
    tensors = [_as_tensor(o, like=first) for o in operands]
    inputs, out = parse_equation(equation, [t.shape for t in tensors])
    for k, subs in enumerate(inputs):       # repeated letters: their diagonal first
        steps, inputs[k] = diagonal_subscripts(subs)
        for d1, d2 in steps:
            n1, n2 = tensors[k].shape[d1], tensors[k].shape[d2]
            if n1 != n2:
                raise RuntimeError(f"einsum(): a subscript is repeated for operand {k} but "
                                   f"the sizes don't match, {n2} != {n1}")
            tensors[k] = tensors[k].diagonal(0, d1, d2)
    spec = (inputs, out)
    floating = [t for t in tensors if backend.is_floating(t.dtype)]
    if floating and len(floating) != len(tensors):
        tensors = [t if backend.is_floating(t.dtype) else t.to(floating[0].dtype)
                   for t in tensors]
    return Einsum.apply(*tensors, spec=spec)


def log2(input):
    return _as_tensor(input).log2()


def log10(input):
    return _as_tensor(input).log10()


def clamp_min(input, min):
    return _as_tensor(input).clamp_min(min)


def clamp_max(input, max):
    return _as_tensor(input).clamp_max(max)


def masked_select(input, mask):
    return _as_tensor(input).masked_select(mask)


def nonzero(input, *, as_tuple=False):
    return _as_tensor(input).nonzero(as_tuple=as_tuple)
