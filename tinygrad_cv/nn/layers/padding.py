"""Padding layers with torch.nn's names: Reflection-, Replication-, Circular-, Zero- and
ConstantPad in 1-D, 2-D and 3-D.

``padding`` is an int (every side) or a tuple (left, right[, top, bottom[, front, back]]), as
torch's; the layers call ``F.pad`` (see nn/functional/padding.py for the modes).  An N-D layer
takes (N, C, *spatial) or unbatched (C, *spatial) inputs with N spatial dims.
"""
from __future__ import annotations

import numbers

from ..functional.padding import pad
from ..module import Module

_LAYOUTS = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
            3: "(N, C, D, H, W) or (C, D, H, W)"}


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

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = _sides(padding, self.dims, type(self).__name__)
        self.value = value

    def forward(self, input):
        if input.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"{type(self).__name__}: expected input of shape "
                             f"{_LAYOUTS[self.dims]}, got shape {tuple(input.shape)}")
        return pad(input, self.padding, self.mode, self.value if self.mode == "constant" else None)

    def extra_repr(self):
        return f"{self.padding}"


class _ReflectionPad(_PadNd):
    """Mirror padding without repeating the edge: [a b c d] -> c b [a b c d] c b (widths
    smaller than the size)."""
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class _ReplicationPad(_PadNd):
    """Edge padding: [a b c d] -> a a [a b c d] d d."""
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class _CircularPad(_PadNd):
    """Wrap-around padding: [a b c d] -> c d [a b c d] a b (widths at most the size)."""
    mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class _ZeroPad(_PadNd):
    """Zero padding (negative widths crop)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class _ConstantPad(_PadNd):
    """Padding with ``value`` (negative widths crop)."""

    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad1d(_ReflectionPad):
    dims = 1


class ReflectionPad2d(_ReflectionPad):
    dims = 2


class ReflectionPad3d(_ReflectionPad):
    dims = 3


class ReplicationPad1d(_ReplicationPad):
    dims = 1


class ReplicationPad2d(_ReplicationPad):
    dims = 2


class ReplicationPad3d(_ReplicationPad):
    dims = 3


class CircularPad1d(_CircularPad):
    dims = 1


class CircularPad2d(_CircularPad):
    dims = 2


class CircularPad3d(_CircularPad):
    dims = 3


class ZeroPad1d(_ZeroPad):
    dims = 1


class ZeroPad2d(_ZeroPad):
    dims = 2


class ZeroPad3d(_ZeroPad):
    dims = 3


class ConstantPad1d(_ConstantPad):
    dims = 1


class ConstantPad2d(_ConstantPad):
    dims = 2


class ConstantPad3d(_ConstantPad):
    dims = 3
