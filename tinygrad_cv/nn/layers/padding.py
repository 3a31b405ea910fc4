"""Padding layers: ReflectionPad, ReplicationPad, ZeroPad, ConstantPad (1-D and 2-D), CircularPad2d.

``padding`` is an int (every side) or a tuple (left, right) / (left, right, top, bottom), as
torch's; the layers call ``F.pad`` (see nn/functional/padding.py for the modes).
"""
from __future__ import annotations

import numbers

from ..functional.padding import pad
from ..module import Module


def _sides(padding, n, name):
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * (2 * n)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 * n and all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding):
        return tuple(int(p) for p in padding)
    raise ValueError(f"{name}: padding must be an int or a tuple of {2 * n} ints, got {padding!r}")


class _PadNd(Module):
    mode = "constant"
    dims = 2
    layout = "(N, C, H, W) or (C, H, W)"

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = _sides(padding, self.dims, type(self).__name__)
        self.value = value

    def forward(self, x):
        if x.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"{type(self).__name__}: expected input of shape {self.layout}, got "
                             f"shape {tuple(x.shape)}")
        return pad(x, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" else "")


class _Pad1d(_PadNd):
    dims = 1
    layout = "(N, C, L) or (C, L)"


class ReflectionPad1d(_Pad1d):
    """Mirror padding of the last dim (widths smaller than its size)."""
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReflectionPad2d(_PadNd):
    """Mirror padding of the last two dims: [a b c d] -> c b [a b c d] c b."""
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad1d(_Pad1d):
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad2d(_PadNd):
    """Edge padding of the last two dims: [a b c d] -> a a [a b c d] d d."""
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class CircularPad2d(_PadNd):
    """Wrap-around padding of the last two dims: [a b c d] -> c d [a b c d] a b."""
    mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class ConstantPad1d(_Pad1d):
    def __init__(self, padding, value):
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Padding of the last two dims with ``value`` (negative widths crop)."""

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ZeroPad1d(_Pad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(_PadNd):
    """ConstantPad2d with value 0."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)
