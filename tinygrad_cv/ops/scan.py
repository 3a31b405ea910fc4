"""Scans along one axis: cumulative sum."""
from __future__ import annotations

from .. import backend
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
