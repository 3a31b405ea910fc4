"""torch.nn.functional.pad: constant, reflect, replicate and circular padding.

``pad`` lists (before, after) pairs from the last dim backwards: ``(left, right)`` pads the
last dim, ``(left, right, top, bottom)`` the last two, and so on.  The modes::

    constant   x padded with ``value`` (negative widths crop)
    reflect    mirror without repeating the edge: [a b c d] -> c b [a b c d] c b   (width < n)
    replicate  repeat the edge:                    [a b c d] -> a a [a b c d] d d
    circular   wrap around:                        [a b c d] -> c d [a b c d] a b  (width <= n)

'constant' is the primitive ``tinygrad_cv.pad``.  The three border modes are the fused
``BorderPad``: forward by the array library's pad, backward by folding the border gradient
back onto the edge, one padded axis at a time (last first)::

    reflect    dx[1 : b+1] += flip(dy[:b]),   dx[n-1-a : n-1] += flip(dy[b+n:])
    replicate  dx[0] += sum(dy[:b]),          dx[n-1] += sum(dy[b+n:])
    circular   dx[n-b:] += dy[:b],            dx[:a] += dy[b+n:]

with dx starting as the interior dy[b : b+n] (b, a: the widths before/after, n: the size).
Under ``create_graph=True`` the backward is the transpose of the equivalent index gather
(an index-add per axis), so it is differentiable again.
"""
from __future__ import annotations

import numbers

from ... import backend
from ...autograd import Function
from ...ops import dual
from ...ops.shape import IndexAdd
from ...tensor import pad as _tensor_pad

_MODES = ("constant", "reflect", "replicate", "circular")
_ARRAY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _along(axis, index):
    return (slice(None),) * axis + (index,)


def _positions(xp, mode, n, before, after):
    """The source index of each padded position along one axis."""
    pos = xp.arange(-before, n + after)
    if mode == "reflect":
        period = 2 * (n - 1)
        pos = xp.abs(pos) % period if period else pos * 0
        return xp.where(pos >= n, period - pos, pos)
    if mode == "replicate":
        return xp.clip(pos, 0, n - 1)
    return pos % n


def _fold(xp, g, axis, mode, n, before, after):
    """The gradient of one axis' padding: dy (.., b + n + a, ..) -> dx (.., n, ..)."""
    dx = g[_along(axis, slice(before, before + n))].copy()
    head = g[_along(axis, slice(0, before))]
    tail = g[_along(axis, slice(before + n, before + n + after))]
    flip = slice(None, None, -1)
    if mode == "reflect":
        if before:
            dx[_along(axis, slice(1, before + 1))] += head[_along(axis, flip)]
        if after:
            dx[_along(axis, slice(n - 1 - after, n - 1))] += tail[_along(axis, flip)]
    elif mode == "replicate":
        if before:
            dx[_along(axis, slice(0, 1))] += head.sum(axis=axis, keepdims=True)
        if after:
            dx[_along(axis, slice(n - 1, n))] += tail.sum(axis=axis, keepdims=True)
    else:
        if before:
            dx[_along(axis, slice(n - before, n))] += head
        if after:
            dx[_along(axis, slice(0, after))] += tail
    return dx


class BorderPad(Function):
    """Reflect / replicate / circular padding with ``widths`` ((before, after) per axis):
    y = x[pos_0, pos_1, ...] (the source positions of ``_positions``); dL/dx folds dL/dy's
    border back onto the edge (module docstring)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x, widths=None, mode="reflect"):
        ctx.cfg = (widths, mode, x.shape)
        return backend.get_array_module(x).pad(x, widths, mode=_ARRAY_MODES[mode])

    @staticmethod
    def backward(ctx, g):
        widths, mode, in_shape = ctx.cfg
        axes = [a for a, (b, e) in enumerate(widths) if b or e]
        xp = backend.get_array_module(dual.raw(g))
        for axis in reversed(axes):
            before, after = widths[axis]
            n = in_shape[axis]
            if dual.is_tensor(g):     # create_graph: the transpose of the gather, recorded
                shape = g.shape[:axis] + (n,) + g.shape[axis + 1:]
                pos = _positions(xp, mode, n, before, after)
                g = IndexAdd.apply(g, index=_along(axis, pos), shape=shape)
            else:
                g = _fold(xp, g, axis, mode, n, before, after)
        return g


def _check_pad(input, pad, mode):
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad(): pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"pad(): padding length must be divisible by 2, got {tuple(pad)}")
    dims = len(pad) // 2
    if dims > input.ndim:
        raise ValueError(f"pad(): padding {tuple(pad)} pads {dims} dims of a {input.ndim}-D input")
    if mode not in _MODES:
        raise ValueError(f"pad(): mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode == "constant":
        return
    if dims not in (1, 2, 3) or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"pad(): {mode} padding of the last {dims} dims needs a {dims + 1}-D (unbatched) or "
            f"{dims + 2}-D (batched) input, got shape {tuple(input.shape)}")
    for i in range(dims):
        n = input.shape[input.ndim - 1 - i]
        before, after = pad[2 * i], pad[2 * i + 1]
        if before < 0 or after < 0:
            raise NotImplementedError(f"pad(): negative widths {tuple(pad)} are only supported "
                                      "in 'constant' mode")
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"pad(): reflect padding ({before}, {after}) must be smaller than "
                             f"the size {n} of dim {input.ndim - 1 - i} (shape "
                             f"{tuple(input.shape)})")
        if mode == "circular" and (before > n or after > n):
            raise ValueError(f"pad(): circular padding ({before}, {after}) must be at most the "
                             f"size {n} of dim {input.ndim - 1 - i} (shape {tuple(input.shape)})")
        if mode == "replicate" and n == 0 and (before or after):
            raise ValueError(f"pad(): cannot replicate-pad the empty dim {input.ndim - 1 - i}")


def pad(input, pad, mode="constant", value=None):
    """Pad ``input`` by ``pad`` = (left, right[, top, bottom[, front, back]]) in ``mode``.

    ``value`` (default 0) fills in 'constant' mode; giving it with another mode is an error,
    as in torch.  Shapes: each padded dim grows from n to n + before + after.
    """
    _check_pad(input, pad, mode)
    pad = tuple(int(p) for p in pad)
    if mode == "constant":
        return _tensor_pad(input, pad, mode, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad(): padding mode {mode!r} doesn't take in value argument")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return BorderPad.apply(input, widths=tuple(widths), mode=mode)
