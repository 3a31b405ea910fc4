"""MaxPool2d, MaxUnpool2d, AvgPool2d and AdaptiveAvgPool2d layers (no parameters)."""
from __future__ import annotations

from ..functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from ..module import Module


def _check4d(layer, x):
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__}: expected input of shape (N, C, H, W) (4-D), "
                         f"got shape {tuple(x.shape)}")


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """y = max over each (kh, kw) window; (N, C, H, W) -> (N, C, Ho, Wo).

    torch's signature; ``dilation``, ``return_indices`` (then ``(y, indices)``) and
    ``ceil_mode`` as ``functional.max_pool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation, self.return_indices = dilation, bool(return_indices)

    def forward(self, x):
        _check4d(self, x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding,
                          getattr(self, "dilation", 1), getattr(self, "ceil_mode", False),
                          getattr(self, "return_indices", False))


class AvgPool2d(_Pool2d):
    """y = mean over each (kh, kw) window; (N, C, H, W) -> (N, C, Ho, Wo).

    torch's signature: ``ceil_mode``, ``count_include_pad`` (default True: zero padding
    counted in the divisor) and ``divisor_override`` as ``functional.avg_pool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override

    def forward(self, x):
        _check4d(self, x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                          getattr(self, "ceil_mode", False),
                          getattr(self, "count_include_pad", True),
                          getattr(self, "divisor_override", None))


class MaxUnpool2d(Module):
    """The inverse placement of ``MaxPool2d(return_indices=True)``; ``forward(x, indices,
    output_size=None)`` as ``functional.max_unpool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x, indices, output_size=None):
        return max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                            output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average over torch's adaptive bins to ``output_size`` (int or pair, None keeps a side)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check4d(self, x)
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
