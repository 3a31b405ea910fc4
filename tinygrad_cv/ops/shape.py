"""Shape and indexing primitives: reshape, permute, expand, getitem/index-add, cat, pad."""
from __future__ import annotations

from .. import backend
from .elementwise import _Primitive
from . import dual


class Reshape(_Primitive):
    """y = a with the same elements in ``shape`` (row-major);  dL/da = dL/dy reshaped back."""

    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Permute(_Primitive):
    """y = a with its axes in the order ``axes``;  dL/da = dL/dy permuted by the inverse."""

    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, ax in enumerate(ctx.axes):
            inverse[ax] = i
        return dual.permute(g, tuple(inverse))


class Expand(_Primitive):
    """y = a broadcast to ``shape`` (a view);  dL/da = dL/dy summed over the broadcast axes."""

    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.in_shape = a.shape
        return backend.get_array_module(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return dual.sum_to(g, ctx.in_shape)


def is_basic_index(index) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis (no element repeats)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class GetItem(_Primitive):
    """y = a[index] (basic or advanced);  dL/da = zeros with dL/dy added at ``index``."""

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.in_shape = a.shape
        ctx.index = index
        return a[index]

    @staticmethod
    def backward(ctx, g):
        if dual.is_tensor(g):
            return IndexAdd.apply(g, index=ctx.index, shape=ctx.in_shape)
        return _index_add(g, ctx.index, ctx.in_shape)


def _index_add(g, index, shape):
    xp = backend.get_array_module(g)
    out = xp.zeros(shape, dtype=g.dtype)
    if is_basic_index(index):
        out[index] = g
    else:
        backend.scatter_add(out, index, g)
    return out


class IndexAdd(_Primitive):
    """y = zeros(shape) with g added at ``index`` (repeats accumulate);  dL/dg = dL/dy[index]."""

    @staticmethod
    def forward(ctx, g, index=None, shape=None):
        ctx.index = index
        return _index_add(g, index, shape)

    @staticmethod
    def backward(ctx, gg):
        if dual.is_tensor(gg):
            return GetItem.apply(gg, index=ctx.index)
        return gg[ctx.index]


class IndexPut(IndexAdd):
    """y = zeros(shape) with g written at ``index`` (``x[index] = v``: a repeated index keeps
    one value, as torch's ``index_put_``, never a sum);  dL/dg = dL/dy[index] (every repeat
    receives it, as torch: IndexAdd's backward)."""

    @staticmethod
    def forward(ctx, g, index=None, shape=None):
        ctx.index = index
        out = backend.get_array_module(g).zeros(shape, dtype=g.dtype)
        out[index] = g
        return out


class Cat(_Primitive):
    """y = [a_1 | a_2 | ...] along ``axis``;  dL/da_k = the slice of dL/dy that a_k filled."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return backend.get_array_module(*arrays).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads = []
        start = 0
        lead = (slice(None),) * ctx.axis
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(g[lead + (slice(start, start + size),)] if need else None)
            start += size
        return tuple(grads)


class ConstantPad(_Primitive):
    """Pad with a constant; ``widths`` is numpy's ((before, after), ...) per axis.

    Negative widths crop; a crop below size 0 raises (as torch).  The gradient is the
    un-padded slice of dL/dy.
    """

    @staticmethod
    def forward(ctx, a, widths=None, value=0.0):
        xp = backend.get_array_module(a)
        for axis, ((b, e), n) in enumerate(zip(widths, a.shape)):
            if n + b + e < 0:
                raise RuntimeError(f"pad(): the input size {n} of dim {axis}, padded by ({b}, {e}), "
                                   "gives a negative output size")
        grow = tuple((max(b, 0), max(e, 0)) for b, e in widths)
        out = xp.pad(a, grow, mode="constant", constant_values=value) if any(
            b or e for b, e in grow) else a
        crop = tuple(slice(max(-b, 0), out.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(widths))
        ctx.inner = tuple(slice(max(b, 0), max(b, 0) + s) for (b, _), s in zip(widths, a.shape))
        ctx.crop = crop
        ctx.padded_shape = out.shape
        ctx.in_shape = a.shape
        return out[crop]

    @staticmethod
    def backward(ctx, g):
        if any(s.start or s.stop != n for s, n in zip(ctx.crop, ctx.padded_shape)):
            # some axes were cropped: put g back into the padded frame first
            if dual.is_tensor(g):
                g = IndexAdd.apply(g, index=ctx.crop, shape=ctx.padded_shape)
            else:
                g = _index_add(g, ctx.crop, ctx.padded_shape)
        return g[ctx.inner]


def _diagonal_scatter(g, shape, args):
    xp = backend.get_array_module(g)
    out = xp.zeros(shape, dtype=g.dtype)
    backend.diagonal_view(out, *args)[...] = g
    return out


class Diagonal(_Primitive):
    """y = the diagonal ``offset`` of the planes (dim1, dim2) of a, as its last axis (a view,
    torch's ``diagonal``);  dL/da = zeros with dL/dy written on that diagonal."""

    @staticmethod
    def forward(ctx, a, offset=0, dim1=0, dim2=1):
        ctx.args = (offset, dim1, dim2)
        ctx.in_shape = a.shape
        return backend.diagonal_view(a, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, g):
        if dual.is_tensor(g):
            return DiagonalScatter.apply(g, shape=ctx.in_shape, args=ctx.args)
        return _diagonal_scatter(g, ctx.in_shape, ctx.args)


class DiagonalScatter(_Primitive):
    """y = zeros(shape) with g on the diagonal ``args`` = (offset, dim1, dim2);
    dL/dg = the diagonal of dL/dy (``Diagonal``'s adjoint)."""

    @staticmethod
    def forward(ctx, g, shape=None, args=(0, 0, 1)):
        ctx.args = args
        return _diagonal_scatter(g, shape, args)

    @staticmethod
    def backward(ctx, gg):
        if dual.is_tensor(gg):
            offset, dim1, dim2 = ctx.args
            return Diagonal.apply(gg, offset=offset, dim1=dim1, dim2=dim2)
        return gg.diagonal(*ctx.args)


def unfold_index(xp, axis, size, step, n_windows):
    """The index that reads unfold's windows as advanced indexing: a[..., idx, ...] with
    idx[i, j] = i * step + j has shape (..., n_windows, size, ...)."""
    return (slice(None),) * axis + (
        xp.arange(n_windows)[:, None] * step + xp.arange(size)[None, :],)


class Unfold(_Primitive):
    """y[..., i, ..., j] = a[..., i * step + j, ...] along ``axis``: the windows of ``size``
    every ``step`` (a view, torch's ``unfold``; the window is the last axis);
    dL/da = each window's gradient added back at its place (overlaps accumulate)."""

    @staticmethod
    def forward(ctx, a, axis=0, size=1, step=1):
        ctx.axis, ctx.in_shape = axis, a.shape
        out = backend.unfold_view(a, axis, size, step)
        ctx.index = unfold_index(backend.get_array_module(a), axis, size, step, out.shape[axis])
        return out

    @staticmethod
    def backward(ctx, g):
        # (..., n_windows, ..., size) -> (..., n_windows, size, ...): the window axis after axis
        nd = len(ctx.in_shape) + 1
        order = tuple(range(ctx.axis + 1)) + (nd - 1,) + tuple(range(ctx.axis + 1, nd - 1))
        g = dual.permute(g, order)
        if dual.is_tensor(g):
            return IndexAdd.apply(g, index=ctx.index, shape=ctx.in_shape)
        return _index_add(g, ctx.index, ctx.in_shape)
