"""torch.nn.functional.pad: constant, reflect, replicate and circular padding.

``pad`` lists (before, after) pairs from the last dim backwards: ``(left, right)`` pads the
last dim, ``(left, right, top, bottom)`` the last two, and so on.  The modes::

    constant   x padded with ``value`` (negative widths crop)
    reflect    mirror without repeating the edge: [a b c d] -> c b [a b c d] c b   (width < n)
    replicate  repeat the edge:                    [a b c d] -> a a [a b c d] d d
    circular   wrap around:                        [a b c d] -> c d [a b c d] a b  (width <= n)

'constant' is the primitive ``tinygrad_cv.pad``.  The border modes are built, one padded
axis at a time, from basic slices of the input (reversed for 'reflect', a size-1 edge expanded
for 'replicate') concatenated around it::

    reflect    [x[b:0:-1], x, x[n-2 : n-2-a : -1]]
    replicate  [expand(x[0:1], b), x, expand(x[n-1:n], a)]
    circular   [x[n-b:], x, x[:a]]

so the gradient is the primitives' (slices written back, no scatter-add of repeated indices)
and is itself differentiable.
"""
from __future__ import annotations

import numbers

from ...tensor import cat
from ...tensor import pad as _tensor_pad

_MODES = ("constant", "reflect", "replicate", "circular")


def _along(x, axis, start, stop):
    return x[(slice(None),) * axis + (slice(start, stop),)]


def _border(x, axis, mode, before, after):
    """x padded along ``axis`` by (before, after) in ``mode``."""
    n = x.shape[axis]
    pieces = []
    if mode == "reflect":
        if before:         # x[before], ..., x[1]
            pieces.append(_along(x, axis, 1, before + 1).flip(axis))
        pieces.append(x)
        if after:          # x[n - 2], ..., x[n - 1 - after]
            pieces.append(_along(x, axis, n - 1 - after, n - 1).flip(axis))
    elif mode == "replicate":
        def edge(index, width):
            shape = list(x.shape)
            shape[axis] = width
            return _along(x, axis, index, index + 1).expand(*shape)
        pieces = (([edge(0, before)] if before else []) + [x]
                  + ([edge(n - 1, after)] if after else []))
    else:
        if before:
            pieces.append(_along(x, axis, n - before, n))
        pieces.append(x)
        if after:
            pieces.append(_along(x, axis, 0, after))
    return cat(pieces, dim=axis) if len(pieces) > 1 else x


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
    out = input
    for i in range(len(pad) // 2):
        before, after = pad[2 * i], pad[2 * i + 1]
        if before or after:
            out = _border(out, input.ndim - 1 - i, mode, before, after)
    return out if out is not input else input.clone()
