"""Pooling layers (no parameters): MaxPool1d/2d/3d, MaxUnpool1d/2d/3d, AvgPool1d/2d/3d,
FractionalMaxPool2d/3d and adaptive average/max pooling in 1-D, 2-D and 3-D.  The 3-D layers
take (N, C, D, H, W) or unbatched (C, D, H, W), the 2-D ones (N, C, H, W) or (C, H, W), the
1-D ones (N, C, L) or (C, L), as torch."""
from __future__ import annotations

from ...arguments import pair, single, triple
from ..functional.adaptive_max_pool import adaptive_max_pool2d
from ..functional.fractional_max_pool import fractional_max_pool2d, fractional_max_pool3d
from ..functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from ..functional.pooling1d import (adaptive_avg_pool1d, adaptive_max_pool1d, avg_pool1d,
                                    max_pool1d, max_unpool1d)
from ..functional.pooling3d import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d,
                                    max_pool3d, max_unpool3d)
from ..module import Module


def _check4d(layer, x):
    if x.ndim not in (3, 4):
        raise ValueError(f"{type(layer).__name__}: expected input of shape (N, C, H, W) (4-D) "
                         f"or (C, H, W) (3-D), got shape {tuple(x.shape)}")


def _check3d(layer, x):
    if x.ndim not in (2, 3):
        raise ValueError(f"{type(layer).__name__}: expected input of shape (N, C, L) (3-D) or "
                         f"(C, L) (2-D), got shape {tuple(x.shape)}")


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

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={getattr(self, 'dilation', 1)}, "
                f"ceil_mode={getattr(self, 'ceil_mode', False)}")

    def forward(self, input):
        _check4d(self, input)
        return max_pool2d(input, self.kernel_size, self.stride, self.padding,
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

    def forward(self, input):
        _check4d(self, input)
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                          getattr(self, "ceil_mode", False),
                          getattr(self, "count_include_pad", True),
                          getattr(self, "divisor_override", None))


class MaxUnpool2d(Module):
    """The inverse placement of ``MaxPool2d(return_indices=True)``; ``forward(x, indices,
    output_size=None)`` as ``functional.max_unpool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", "MaxUnpool2d")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "MaxUnpool2d")
        self.padding = pair(padding, "padding", "MaxUnpool2d")

    def forward(self, input, indices, output_size=None):
        return max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(Module):
    """The inverse placement of ``MaxPool1d(return_indices=True)``; ``forward(x, indices,
    output_size=None)`` as ``functional.max_unpool1d``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = single(kernel_size, "kernel_size", "MaxUnpool1d")
        self.stride = self.kernel_size if stride is None else single(stride, "stride",
                                                                      "MaxUnpool1d")
        self.padding = single(padding, "padding", "MaxUnpool1d")

    def forward(self, input, indices, output_size=None):
        return max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class FractionalMaxPool2d(Module):
    """Max over pseudo-random (kh, kw) windows (``functional.fractional_max_pool2d``), to
    ``output_size`` or ``output_ratio`` (each in (0, 1)) of the input size; new random window
    sequences at each call unless ``_random_samples`` (N, C, 2) is given."""

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", "FractionalMaxPool2d")
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else pair(output_size, "output_size",
                                                                  "FractionalMaxPool2d")
        self.output_ratio = None
        if output_ratio is not None:
            self.output_ratio = (tuple(output_ratio) if isinstance(output_ratio, (tuple, list))
                                 else (output_ratio, output_ratio))
        if output_size is None and output_ratio is None:
            raise ValueError("FractionalMaxPool2d requires specifying either an output size, or "
                             "a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return fractional_max_pool2d(input, self.kernel_size, self.output_size,
                                     self.output_ratio, self.return_indices,
                                     _random_samples=self._random_samples)


class FractionalMaxPool3d(Module):
    """Max over pseudo-random (kt, kh, kw) windows (``functional.fractional_max_pool3d``), to
    ``output_size`` or ``output_ratio`` (each in (0, 1)) of the input size; new random window
    sequences at each call unless ``_random_samples`` (N, C, 3) is given.  Input
    (N, C, T, H, W) or (C, T, H, W)."""

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        kernels = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
        if not all(k > 0 for k in kernels):
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = triple(kernel_size, "kernel_size", "FractionalMaxPool3d")
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else triple(output_size, "output_size",
                                                                    "FractionalMaxPool3d")
        self.output_ratio = None
        if output_ratio is not None:
            self.output_ratio = (tuple(output_ratio) if isinstance(output_ratio, (tuple, list))
                                 else (output_ratio,) * 3)
        if output_size is None and output_ratio is None:
            raise ValueError("FractionalMaxPool3d requires specifying either an output size, or "
                             "a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and (len(self.output_ratio) != 3 or
                                              not all(0 < r < 1 for r in self.output_ratio)):
            raise ValueError(f"output_ratio must be three numbers between 0 and 1 (got "
                             f"{output_ratio})")

    def forward(self, input):
        return fractional_max_pool3d(input, self.kernel_size, self.output_size,
                                     self.output_ratio, self.return_indices,
                                     _random_samples=self._random_samples)


class _Adaptive(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_Adaptive):
    """Average over torch's adaptive bins to ``output_size`` (int or pair, None keeps a side)."""

    def forward(self, input):
        _check4d(self, input)
        return adaptive_avg_pool2d(input, self.output_size)


class MaxPool1d(Module):
    """y = max over each window of ``kernel_size`` (elements ``dilation`` apart); (N, C, L) or
    (C, L) -> (N, C, Lo); torch's signature, options as ``functional.max_pool1d``."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, input):
        _check3d(self, input)
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """y = mean over each window of ``kernel_size``; (N, C, L) or (C, L) -> (N, C, Lo); torch's
    signature (sizes kept as 1-tuples), options as ``functional.avg_pool1d``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = single(kernel_size, "kernel_size", "AvgPool1d")
        self.stride = self.kernel_size if stride is None else single(stride, "stride", "AvgPool1d")
        self.padding = single(padding, "padding", "AvgPool1d")
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def forward(self, input):
        _check3d(self, input)
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(_Adaptive):
    """Mean over torch's adaptive windows to ``output_size``; (N, C, L) or (C, L)."""

    def forward(self, input):
        _check3d(self, input)
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool1d(_Adaptive):
    """Max over torch's adaptive windows to ``output_size``; (N, C, L) or (C, L); with
    ``return_indices`` also the maxima's positions in L."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = bool(return_indices)

    def forward(self, input):
        _check3d(self, input)
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_Adaptive):
    """Max over torch's adaptive windows to ``output_size`` (int or pair, None keeps a side);
    (N, C, H, W) or (C, H, W); with ``return_indices`` also the flat indices h * W + w."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = bool(return_indices)

    def forward(self, input):
        _check4d(self, input)
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)


def _check5d(layer, x):
    if x.ndim not in (4, 5):
        raise ValueError(f"{type(layer).__name__}: expected input of shape (N, C, D, H, W) "
                         f"(5-D) or (C, D, H, W) (4-D), got shape {tuple(x.shape)}")


class MaxPool3d(MaxPool2d):
    """y = max over each (kd, kh, kw) window; (N, C, D, H, W) or (C, D, H, W) -> (N, C, Do,
    Ho, Wo); torch's signature, options as ``functional.max_pool3d``."""

    def forward(self, input):
        _check5d(self, input)
        return max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)


class AvgPool3d(AvgPool2d):
    """y = mean over each (kd, kh, kw) window; (N, C, D, H, W) or (C, D, H, W); torch's
    signature, options as ``functional.avg_pool3d``."""

    def forward(self, input):
        _check5d(self, input)
        return avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)


class MaxUnpool3d(Module):
    """The inverse placement of ``MaxPool3d(return_indices=True)``; ``forward(x, indices,
    output_size=None)`` as ``functional.max_unpool3d``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = triple(kernel_size, "kernel_size", "MaxUnpool3d")
        self.stride = self.kernel_size if stride is None else triple(stride, "stride",
                                                                      "MaxUnpool3d")
        self.padding = triple(padding, "padding", "MaxUnpool3d")

    def forward(self, input, indices, output_size=None):
        return max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool3d(_Adaptive):
    """Mean over torch's adaptive bins to ``output_size`` (int or triple, None keeps a side);
    (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input):
        _check5d(self, input)
        return adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_Adaptive):
    """Max over torch's adaptive bins to ``output_size`` (int or triple, None keeps a side);
    (N, C, D, H, W) or (C, D, H, W); with ``return_indices`` also the flat indices
    d * H * W + h * W + w."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = bool(return_indices)

    def forward(self, input):
        _check5d(self, input)
        return adaptive_max_pool3d(input, self.output_size, self.return_indices)
