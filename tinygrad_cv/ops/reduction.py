"""Reductions: sum, mean, max/min (values, and values with indices along one axis)."""
from __future__ import annotations

from .. import backend
from .elementwise import _Primitive
from . import dual


def normalize_axes(axis, ndim):
    """``None`` -> all axes; an int or tuple -> a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"dimension {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(_Primitive):
    """y = sum over ``axes``;  dy/dx = 1 broadcast back over the reduced axes."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdims=False):
        ctx.in_shape = a.shape
        ctx.axes = axes
        return a.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(_kept_shape(ctx.in_shape, ctx.axes))
        return dual.broadcast_to(g, ctx.in_shape)


class Mean(_Primitive):
    """y = sum / n over ``axes``;  dy/dx = 1/n broadcast back."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdims=False):
        ctx.in_shape = a.shape
        ctx.axes = axes
        n = 1
        for ax in axes:
            n *= a.shape[ax]
        ctx.n = n
        out = a.sum(axis=axes, keepdims=keepdims)
        if backend.is_floating(a.dtype):
            return out / a.dtype.type(n) if n else out * float("nan")
        return out / n

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(_kept_shape(ctx.in_shape, ctx.axes)) / ctx.n
        return dual.broadcast_to(g, ctx.in_shape)


class Extremum(_Primitive):
    """max/min over ``axes`` (values only); the gradient is shared evenly among ties."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdims=False, pick="max"):
        if a.size == 0:
            raise RuntimeError(f"{pick}(): cannot reduce an empty tensor of shape {a.shape}")
        out = a.max(axis=axes, keepdims=True) if pick == "max" else a.min(axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axes = axes
        return out if keepdims else out.reshape(
            tuple(s for i, s in enumerate(a.shape) if i not in axes))

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xa, xo = dual.raw(a), dual.raw(out)
        hit = xa == xo
        share = hit / hit.sum(axis=ctx.axes, keepdims=True)
        g = g.reshape(xo.shape)
        return g * share.astype(xa.dtype)


class ExtremumDim(_Primitive):
    """(values, indices) of max/min along one axis; the gradient goes to the chosen index."""

    @staticmethod
    def forward(ctx, a, axis=0, keepdims=False, pick="max"):
        if a.shape[axis] == 0:
            raise RuntimeError(f"{pick}(): cannot reduce an empty dimension {axis} of shape {a.shape}")
        xp = backend.get_array_module(a)
        idx = (a.argmax if pick == "max" else a.argmin)(axis=axis, keepdims=True)
        values = xp.take_along_axis(a, idx, axis=axis)
        if not keepdims:
            values = values.squeeze(axis)
        ctx.axis = axis
        ctx.in_shape = a.shape
        ctx.save_for_backward(idx)
        idx_out = idx if keepdims else idx.squeeze(axis)
        idx_out = idx_out.astype("int64", copy=False)
        ctx.mark_non_differentiable(idx_out)
        return values, idx_out

    @staticmethod
    def backward(ctx, g, _g_idx):
        (idx,) = ctx.saved_tensors
        xp = backend.get_array_module(dual.raw(g))
        iota_shape = [1] * len(ctx.in_shape)
        iota_shape[ctx.axis] = ctx.in_shape[ctx.axis]
        onehot = xp.arange(ctx.in_shape[ctx.axis]).reshape(iota_shape) == dual.raw(idx)
        g = g.reshape(_kept_shape(ctx.in_shape, (ctx.axis,)))
        return g * onehot
