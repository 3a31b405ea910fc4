"""The Hurwitz zeta function zeta(x, q) = sum_(k>=0) (k + q)^-x on raw xp arrays, and the
primitive ``Zeta`` (differentiable in q only, as torch).

Euler-Maclaurin summation: with the first N terms summed directly (N = 9, or the first N
with q + N > 9 for negative q) and a = q + N,

    zeta(x, q) = sum_(k<N) (q + k)^-x + a^(1-x) / (x - 1) + a^-x / 2
                 + sum_(j=1..12) B_2j / (2j)! * x (x+1) ... (x+2j-2) * a^(-x-2j+1),

B_2j the Bernoulli numbers (computed exactly below from sum_(k<=m) C(m+1, k) B_k = 0); the
remainder is below 2 (2j)! / (2 pi a)^(2j) of the last term, ~1e-19 relative for x = 2.

Domain as torch (Cephes' conventions): inf at x = 1 (even for q NaN) and at the poles
q = 0, -1, -2, ... (also q = -inf); NaN for x < 1, at q = +inf, and for q < 0 with x not an
integer; at x = +inf the limit (1 at q = 1, inf below, 0 above: torch's is NaN there) ((q + k)^-x undefined); NaN below q = -10^4 (more direct terms than are summed).
Computed in float64; float32 results rounded from it.
"""
from __future__ import annotations

import math
from fractions import Fraction

from .. import backend
from ..autograd.function import Function

_DIRECT_TERMS = 9
_MAX_DIRECT_TERMS = 10_000
_BERNOULLI_TERMS = 12


def _bernoulli(count):
    """B_0 .. B_count as exact fractions."""
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        numbers.append(-sum(math.comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


# B_2j / (2j)!, j = 1 .. _BERNOULLI_TERMS
_EM_COEFFS = tuple(float(b / math.factorial(2 * j)) for j, b in
                   enumerate(_bernoulli(2 * _BERNOULLI_TERMS)[2::2], start=1))


@backend.fp_quiet
def zeta_array(x, q):
    """zeta(x, q) of raw floating arrays, broadcast, in their promoted dtype."""
    xp = backend.get_array_module(x, q)
    dtype = xp.result_type(x, q)
    x, q = xp.broadcast_arrays(x.astype("float64"), q.astype("float64"))
    # N = 9 direct terms, more for q < 0 so that a = q + N > 9 (at most _MAX_DIRECT_TERMS)
    finite_q = xp.where(xp.isfinite(q), q, 0.0)
    count = xp.clip(xp.floor(_DIRECT_TERMS - finite_q) + 1, _DIRECT_TERMS, _MAX_DIRECT_TERMS)
    total = xp.zeros_like(x)
    for k in range(int(xp.max(count)) if count.size else 0):
        total = total + xp.where(k < count, xp.power(q + k, -x), 0.0)
    a = q + count
    a_pow = xp.power(a, -x)                             # a^-x
    total = total + a * a_pow / (x - 1.0) + 0.5 * a_pow
    rising = x * a_pow / a                              # x (x+1)...(x+2j-2) a^(-x-2j+1)
    for j, coeff in enumerate(_EM_COEFFS, start=1):
        total = total + coeff * rising
        rising = rising * (x + 2 * j - 1) * (x + 2 * j) / (a * a)
    pole = (q <= 0) & (q == xp.floor(q))
    undefined = (q == xp.inf) | ((q < 0) & (x != xp.floor(x))) | \
        (q + _MAX_DIRECT_TERMS <= _DIRECT_TERMS)
    out = xp.where(undefined, xp.nan, total)
    # x = +inf: the limit, sum of |q + k|^-inf (inf if some |q + k| < 1, 1 at q = 1, else 0)
    limit = xp.where(q < 1, xp.inf, xp.where(q == 1, 1.0, xp.where(q == xp.inf, xp.nan, 0.0)))
    out = xp.where(x == xp.inf, limit, out)
    out = xp.where(xp.isnan(x) | xp.isnan(q), xp.nan, out)
    out = xp.where(pole, xp.inf, out)                   # (checked in this order, as Cephes)
    out = xp.where(x < 1, xp.nan, out)
    out = xp.where(x == 1, xp.inf, out)
    return out.astype(dtype, copy=False)


class Zeta(Function):
    """y = zeta(x, q);  dy/dq = -x zeta(x + 1, q) (differentiable again); dy/dx raises torch's
    NotImplementedError."""

    higher_order = True

    @staticmethod
    def forward(ctx, x, q):
        ctx.save_for_backward(x, q)
        return zeta_array(x, q)

    @staticmethod
    def backward(ctx, g):
        x, q = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        shifted = x + 1.0
        if hasattr(q, "requires_grad") or hasattr(shifted, "requires_grad"):
            from ..tensor import _as_tensor
            slope = Zeta.apply(_as_tensor(shifted), _as_tensor(q))
        else:
            slope = zeta_array(shifted, q)
        return None, -g * x * slope
