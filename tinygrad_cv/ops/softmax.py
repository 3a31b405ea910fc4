"""Softmax and log-softmax along one axis (numerically stable: the row maximum is subtracted)."""
from __future__ import annotations

from .. import backend
from .elementwise import _Primitive
from . import dual


def softmax_array(x, axis, inplace=False, empty_rows_zero=False):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) on a raw array.

    ``inplace`` overwrites ``x`` with the result (for a temporary the caller owns).
    ``empty_rows_zero``: rows that are entirely -inf (everything masked out) give zeros
    instead of NaN, as attention needs.
    """
    if x.size == 0:     # (no maximum to take: an empty result)
        return x if inplace else x.copy()
    xp = backend.get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    if empty_rows_zero:
        m[~xp.isfinite(m)] = 0
    e = xp.subtract(x, m, out=x if inplace else None)
    xp.exp(e, out=e)
    denom = e.sum(axis=axis, keepdims=True)
    if empty_rows_zero:
        denom[denom == 0] = 1
    e /= denom
    return e


def log_softmax_array(x, axis):
    """log softmax(x) = x - max x - log sum exp(x - max x) on a raw array."""
    if x.size == 0:
        return x.copy()
    xp = backend.get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


class Softmax(_Primitive):
    """y = softmax(x);  dL/dx = y * (g - sum(g * y))."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = softmax_array(x, axis)
        ctx.axis = axis
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        return gy - y * gy.sum(axis=ctx.axis, keepdims=True)


class LogSoftmax(_Primitive):
    """y = log softmax(x);  dL/dx = g - exp(y) * sum(g)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = log_softmax_array(x, axis)
        ctx.axis = axis
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - dual.exp(y) * g.sum(axis=ctx.axis, keepdims=True)
