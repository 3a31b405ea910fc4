"""torch.nn.functional.pad: constant, reflect, replicate and circular padding.

``pad`` lists (before, after) pairs from the last dim backwards: ``(left, right)`` pads the
last dim, ``(left, right, top, bottom)`` the last two, and so on.  The modes::

    constant   x padded with ``value`` (negative widths crop)
    reflect    mirror without repeating the edge: [a b c d] -> c b [a b c d] c b   (width < n)
    replicate  repeat the edge:                    [a b c d] -> a a [a b c d] d d
    circular   wrap around:                        [a b c d] -> c d [a b c d] a b  (width <= n)

The three gathering modes are one advanced index per padded axis (``tinygrad_cv.pad``), so
their gradient scatters back and sums the copies of each edge element.
"""
from __future__ import annotations

import numbers

from ...tensor import pad as _tensor_pad

_MODES = ("constant", "reflect", "replicate", "circular")


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
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f"pad(): padding mode {mode!r} doesn't take in value argument")
    return _tensor_pad(input, tuple(int(p) for p in pad), mode,
                       0.0 if value is None else value)
