"""The LU factorisation with partial pivoting (LAPACK's getrf) as a differentiable primitive.

Shapes: A (..., m, n), k = min(m, n).  The factorisation is A = P L U with P (..., m, m) a
permutation, L (..., m, k) unit lower-trapezoidal, U (..., k, n) upper-trapezoidal; it is kept
packed as LAPACK's: LU = tril(L, -1) + U (..., m, n), with 1-based int32 ``pivots``
(..., k): row j was swapped with row pivots[j] - 1 at step j.

Forward: Gaussian elimination over the k columns, each step vectorised over the batch and the
column's rows: the pivot is the first maximum |value| of the column at and below the diagonal
(LAPACK's i?amax), its row is swapped into place over the whole matrix, the column below is
scaled by the reciprocal of the pivot (by a division where |pivot| is below the smallest normal
number, as getrf2) and the trailing block gets the rank-1 update.  A zero pivot (the column is
zero at and below the diagonal) is left unscaled; ``info`` is the 1-based index of the first
one (0: none), as LAPACK's.

Backward (P is piecewise constant; gL = tril(gLU, -1)[:, :k], gU = triu(gLU)[:k]).  Square A:
X = L^-1 P^T dA U^-1 = L^-1 dL + dU U^-1 splits into its strictly lower part (L^-1 dL) and
its upper part (dU U^-1), so dL = L tril(X, -1), dU = triu(X) U and

    M = tril(L^T gL, -1) + triu(gU U^T),       gA = P L^-T M U^-T.

Wide A (m < n), U = [U1 | U2]: A2 = P L U2 gives dU2 = L^-1 P^T dA2 - tril(X1, -1) U2, so

    M = tril(L^T gL - gU2 U2^T, -1) + triu(gU1 U1^T),   gA = P L^-T [M U1^-T | gU2].

Tall A (m > n), L = [L1; L2]: P^T A2 = L2 U gives dL2 = (P^T dA)2 U^-1 - L2 triu(X1), so

    M = tril(L1^T gL1, -1) + triu(gU U^T - L2^T gL2),   gA = P [L1^-T M; gL2] U^-T.

The triangular solves are ``linalg.solve_triangular``, on raw arrays (first order) or Tensors
(recorded, so the backward is itself differentiable).  A singular U (a zero pivot) has no
inverse: the gradient of that matrix is NaN, as torch's.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, cat
from . import dual
from .elementwise import _Primitive

_INT32 = backend.dtype("int32")
_INT64 = backend.dtype("int64")


def lu_factor_array(a, pivot=True):
    """(LU, pivots, info, perm) of raw arrays A (..., m, n): pivots (..., k) int32 1-based,
    info (...) int32, perm (..., m) int64 with (P^T A)[i] = A[perm[i]].  Without ``pivot``
    no rows are swapped (pivots[j] = j + 1)."""
    xp = backend.get_array_module(a)
    *batch, m, n = a.shape
    k = min(m, n)
    count = 1
    for s in batch:
        count *= s
    lu = a.reshape(count, m, n).copy()
    rows = xp.arange(count)
    pivots = xp.broadcast_to(xp.arange(1, k + 1, dtype=_INT32), (count, k)).copy()
    perm = xp.broadcast_to(xp.arange(m, dtype=_INT64), (count, m)).copy()
    info = xp.zeros(count, dtype=_INT32)
    tiny = xp.finfo(a.dtype).tiny
    for j in range(k):
        if pivot and j + 1 < m:
            p = _first_max_abs(xp, lu[:, j:, j]) + j
            pivots[:, j] = p + 1
            _swap_rows(lu, rows, j, p)
            _swap_rows(perm, rows, j, p)
        d = lu[:, j, j]
        zero = d == 0
        info = xp.where((info == 0) & zero, j + 1, info).astype(_INT32)
        if j + 1 < m:
            safe = xp.where(zero, 1, d)[:, None]
            col = lu[:, j + 1:, j]
            scaled = xp.where((xp.abs(safe) >= tiny), col * (1 / safe), col / safe)
            lu[:, j + 1:, j] = xp.where(zero[:, None], col, scaled)
            if j + 1 < n:
                lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    return (lu.reshape(*batch, m, n), pivots.reshape(*batch, k), info.reshape(batch),
            perm.reshape(*batch, m))


def _first_max_abs(xp, col):
    """The index of the first maximum |value| of each row of ``col`` (b, r), as BLAS's i?amax
    (a running maximum with ``>``): a NaN is never larger, unless it comes first."""
    mag = xp.abs(col)
    nan = xp.isnan(mag)
    mag = xp.where(nan, -1, mag)
    mag[:, 0] = xp.where(nan[:, 0], xp.inf, mag[:, 0])
    return xp.argmax(mag, axis=1)


def _swap_rows(x, rows, j, p):
    """Swap row j with row p[b] of each matrix (or vector) x[b], in place."""
    here = x[:, j].copy()
    x[:, j] = x[rows, p]
    x[rows, p] = here


def pivots_to_permutation(pivots, m):
    """perm (..., m) int64 with (P^T A)[i] = A[perm[i]] from LAPACK's 1-based sequential row
    swaps ``pivots`` (...,  k) (raw int arrays)."""
    xp = backend.get_array_module(pivots)
    *batch, k = pivots.shape
    count = 1
    for s in batch:
        count *= s
    piv = pivots.reshape(count, k).astype(_INT64) - 1
    perm = xp.broadcast_to(xp.arange(m, dtype=_INT64), (count, m)).copy()
    rows = xp.arange(count)
    for j in range(k):
        _swap_rows(perm, rows, j, piv[:, j])
    return perm.reshape(*batch, m)


def permutation_matrix(perm, dtype):
    """P (..., m, m) with P^T A = A[perm] (raw arrays): P[perm[i], i] = 1."""
    xp = backend.get_array_module(perm)
    m = perm.shape[-1]
    return xp.swapaxes(xp.eye(m, dtype=dtype)[perm], -1, -2)


class LUFactor(_Primitive):
    """(LU, pivots, info) = getrf(A); the gradient of LU in the module docstring (pivots and
    info are integers: not differentiable)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, pivot=True):
        lu, pivots, info, perm = lu_factor_array(a, pivot)
        ctx.save_for_backward(lu, perm)
        return lu, pivots, info

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g, _g_pivots=None, _g_info=None):
        lu, perm = ctx.saved_tensors
        return lu_backward(lu, perm, g)


def _tril(x, k=0):
    return x.tril(k) if dual.is_tensor(x) else backend.get_array_module(x).tril(x, k)


def _triu(x, k=0):
    return x.triu(k) if dual.is_tensor(x) else backend.get_array_module(x).triu(x, k)


def _triangular_solve(t, b, **kwargs):
    """``linalg.solve_triangular(t, b, **kwargs)`` of raw arrays (a raw result) or Tensors."""
    from ..linalg import solve_triangular     # (linalg imports the kernel: imported on use)
    if dual.is_tensor(t) or dual.is_tensor(b):
        return solve_triangular(t, b, **kwargs)
    return solve_triangular(Tensor.wrap(t), Tensor.wrap(b), **kwargs).array


def lu_backward(lu, perm, g):
    """gA from the packed factors ``lu`` (..., m, n), the row order ``perm`` and gLU ``g``."""
    m, n = lu.shape[-2], lu.shape[-1]
    k = min(m, n)
    raw = dual.raw(lu)
    xp = backend.get_array_module(raw)
    l = _tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=raw.dtype)
    u = _triu(lu[..., :k, :])
    gl, gu = _tril(g[..., :, :k], -1), _triu(g[..., :k, :])
    l1, u1 = l[..., :k, :], u[..., :, :k]
    lower = dual.swap_last(l1) @ gl[..., :k, :]
    upper = gu[..., :, :k] @ dual.swap_last(u1)
    if n > m:
        lower = lower - gu[..., :, k:] @ dual.swap_last(u[..., :, k:])
    if m > n:
        upper = upper - dual.swap_last(l[..., k:, :]) @ gl[..., k:, :]
    inner = _tril(lower, -1) + _triu(upper)
    zero_pivot = xp.diagonal(dual.raw(u1), 0, -2, -1) == 0
    singular = zero_pivot.any(axis=-1)
    if singular.any():                          # (solved with ones there, then set to NaN)
        u1 = u1 + zero_pivot[..., None, :] * xp.eye(k, dtype=raw.dtype)
    l1t, u1t = dual.swap_last(l1), dual.swap_last(u1)
    if m >= n:      # square or tall: P [L1^-T M; gL2] U^-T
        top = _triangular_solve(l1t, inner, upper=True, unitriangular=True)
        stacked = _concat(top, gl[..., k:, :], axis=-2) if m > n else top
        ga = _triangular_solve(u1t, stacked, upper=False, left=False)
    else:           # wide: P L^-T [M U1^-T | gU2]
        right = _triangular_solve(u1t, inner, upper=False, left=False)
        ga = _triangular_solve(l1t, _concat(right, gu[..., :, k:], axis=-1), upper=True,
                               unitriangular=True)
    p = permutation_matrix(dual.raw(perm), raw.dtype)
    ga = (Tensor.wrap(p) if dual.is_tensor(ga) else p) @ ga
    if singular.any():
        ga = dual.where(singular[..., None, None], xp.nan, ga)
    return ga


def _concat(a, b, axis):
    if dual.is_tensor(a) or dual.is_tensor(b):
        return cat([a, b], dim=axis)
    return backend.get_array_module(a).concatenate([a, b], axis=axis)
