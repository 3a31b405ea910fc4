"""Power-average pooling layers ``LPPool1d``, ``LPPool2d``, ``LPPool3d`` (no parameters): torch's
signature ``(norm_type, kernel_size, stride=None, ceil_mode=False)``, attributes kept as given
(``stride=None`` means the kernel), computed by ``functional.lp_pool1d``/``2d``/``3d``:
``y = (sum over each window of x ** p) ** (1 / p)``."""
from __future__ import annotations

from ..functional.lp_pool import lp_pool1d, lp_pool2d, lp_pool3d
from ..module import Module


class _LPPoolNd(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """(N, C, L) or (C, L) -> (N, C, Lo): the p-norm of each window of ``kernel_size``."""

    def forward(self, input):
        return lp_pool1d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """(N, C, H, W) or (C, H, W) -> (N, C, Ho, Wo): the p-norm of each (kh, kw) window."""

    def forward(self, input):
        return lp_pool2d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)


class LPPool3d(_LPPoolNd):
    """(N, C, D, H, W) or (C, D, H, W) -> (N, C, Do, Ho, Wo): the p-norm of each (kd, kh, kw)
    window."""

    def forward(self, input):
        return lp_pool3d(input, float(self.norm_type), self.kernel_size, self.stride,
                         self.ceil_mode)
