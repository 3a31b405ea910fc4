"""Scans along one axis: cumulative sum, cumulative product, log-cumulative-sum-exp."""
from __future__ import annotations

from .. import backend
from . import dual
from .elementwise import _Primitive


def _reverse_cumsum(g, axis):
    """sum_{j >= i} g_j along ``axis`` (array or Tensor)."""
    if hasattr(g, "_tensor_marker"):
        return g.flip(axis).cumsum(axis).flip(axis)
    xp = backend.get_array_module(g)
    return xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis)


class Cumsum(_Primitive):
    """z_i = sum_{j <= i} a_j along ``axis``;  dL/da_j = sum_{i >= j} dL/dz_i (a reversed
    cumulative sum of the incoming gradient)."""

    @staticmethod
    def forward(ctx, a, axis=0):
        ctx.axis = axis
        return backend.get_array_module(a).cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return _reverse_cumsum(g, ctx.axis)


def _moved(x, axis):
    """``x`` with ``axis`` first (a view) and the inverse for the result."""
    xp = backend.get_array_module(x)
    return xp.moveaxis(x, axis, 0), (lambda y: xp.moveaxis(y, 0, axis))


class Cumprod(_Primitive):
    """z_i = prod_{j <= i} a_j along ``axis``;  dL/da_j = sum_{i >= j} dL/dz_i prod_{k <= i,
    k != j} a_k: with no zero in a, reverse_cumsum(dL/dz * z) / a_j; else, per position,
    (prod_{k < j} a_k) S_j with S_j = dL/dz_j + a_{j+1} S_{j+1} (a recurrence along the axis,
    vectorised over the others).  Second order where a has no zero."""

    @staticmethod
    def forward(ctx, a, axis=0):
        ctx.axis = axis
        out = backend.get_array_module(a).cumprod(a, axis=axis)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xa = a.array if hasattr(a, "_tensor_marker") else a
        if not (xa == 0).any():
            return _reverse_cumsum(g * out, ctx.axis) / a
        if hasattr(g, "_tensor_marker"):
            raise NotImplementedError("cumprod: the second derivative where the input has "
                                      "zeros is not supported")
        xp = backend.get_array_module(g)
        am, back = _moved(a, ctx.axis)
        gm, _ = _moved(g, ctx.axis)
        n = am.shape[0]
        s = xp.empty(gm.shape, dtype=gm.dtype)
        if n:
            s[n - 1] = gm[n - 1]
        for j in range(n - 2, -1, -1):        # (one vector step per position along the axis)
            s[j] = gm[j] + am[j + 1] * s[j + 1]
        before = xp.ones(am.shape, dtype=gm.dtype)       # prod_{k < j} a_k
        if n > 1:
            before[1:] = xp.cumprod(am[:-1], axis=0)
        return back(before * s)


def _reverse_logcumsumexp(x, axis):
    """log sum_{j >= i} e^{x_j} along ``axis`` (array or Tensor)."""
    if hasattr(x, "_tensor_marker"):
        return LogCumSumExp.apply(x.flip(axis), axis=axis).flip(axis)
    xp = backend.get_array_module(x)
    return xp.flip(xp.logaddexp.accumulate(xp.flip(x, axis), axis=axis), axis)


class LogCumSumExp(_Primitive):
    """z_i = log sum_{j <= i} e^{a_j} along ``axis`` (NumPy's exact logaddexp accumulation);
    dL/da_j = sum_{i >= j} dL/dz_i e^{a_j - z_i}, summed separately over the positive and the
    negative dL/dz in log space (no overflow): e^{a_j + rlcse(log g+ - z)_j} - e^{a_j +
    rlcse(log g- - z)_j}, rlcse the reversed logcumsumexp (so the backward is itself
    differentiable)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, axis=0):
        xp = backend.get_array_module(a)
        ctx.axis = axis
        out = xp.logaddexp.accumulate(a, axis=axis) if a.size else a.copy()
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xg = dual.raw(g)
        if not xg.size:
            return g
        total = dual.zeros_grad(a, g)
        for mask, signed, sign in ((xg > 0, g, 1.0), (xg < 0, -g, -1.0)):
            if not mask.any():
                continue
            log_g = dual.where(mask, dual.log(dual.where(mask, signed, 1.0)), -float("inf"))
            total = total + sign * dual.exp(_reverse_logcumsumexp(log_g - out, ctx.axis) + a)
        # an element at -inf gets 0 (the formula's -inf + inf would be NaN)
        return dual.where(dual.raw(a) == -float("inf"), 0.0, total)
