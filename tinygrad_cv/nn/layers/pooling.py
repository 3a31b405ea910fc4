"""MaxPool2d, AvgPool2d and AdaptiveAvgPool2d layers (no parameters)."""
from __future__ import annotations

from ..functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from ..module import Module


def _check4d(layer, x):
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__}: expected input of shape (N, C, H, W) (4-D), "
                         f"got shape {tuple(x.shape)}")


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        if ceil_mode:
            raise NotImplementedError(f"{type(self).__name__}: ceil_mode=True is not supported")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = False

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """y = max over each (kh, kw) window; (N, C, H, W) -> (N, C, Ho, Wo)."""

    def forward(self, x):
        _check4d(self, x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """y = mean over each (kh, kw) window (zero padding counted); (N, C, H, W) -> (N, C, Ho, Wo)."""

    def forward(self, x):
        _check4d(self, x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


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
