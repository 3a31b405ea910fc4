"""Conv2d and ConvTranspose2d layers (torch.nn's parameters, names and initialisation)."""
from __future__ import annotations

from ...creation import empty
from .. import init
from ...arguments import pair
from ..functional.conv import conv2d, conv_transpose2d
from ..functional.padding import pad
from ..module import Module, Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared parameter set-up: ``weight`` ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) and ``bias`` ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), ``fan_in`` computed from
    the weight's dims 1..3 (torch's rule, also for the transposed layout)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, transposed, device, dtype):
        super().__init__()
        name = type(self).__name__
        in_channels, out_channels, groups = int(in_channels), int(out_channels), int(groups)
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must be divisible by groups={groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride = pair(stride, "stride", name)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", name)
        self.dilation = pair(dilation, "dilation", name)
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def _check(self, x):
        name = type(self).__name__
        if x.ndim != 4:
            raise ValueError(f"{name}: expected input of shape (N, {self.in_channels}, H, W) (4-D), "
                             f"got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{name}: expected input of shape (N, {self.in_channels}, H, W) "
                             f"(in_channels={self.in_channels}), got shape {tuple(x.shape)}")

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if getattr(self, "padding_mode", "zeros") != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution: (N, in, H, W) -> (N, out, Ho, Wo), ``weight`` (out, in/groups, kh, kw).

    ``padding``: int, pair, 'same' or 'valid'; ``padding_mode`` 'zeros', 'reflect',
    'replicate' or 'circular' (the last three pad with ``F.pad`` in that mode, then convolve
    unpadded, as torch).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"Conv2d: padding must be 'same', 'valid', an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, False, device, dtype)
        self.padding_mode = padding_mode
        if padding == "same" and self.stride != (1, 1):
            raise ValueError("Conv2d: padding='same' is not supported for strided convolutions")

    def _mode_pad(self):
        """(left, right, top, bottom) for F.pad (torch's reversed padding; 'same' puts the odd
        extra on the right/bottom)."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            sides = []
            for k, d in ((self.kernel_size[1], self.dilation[1]),
                         (self.kernel_size[0], self.dilation[0])):
                total = d * (k - 1)
                sides += [total // 2, total - total // 2]
            return tuple(sides)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def forward(self, x):
        self._check(x)
        if self.padding_mode != "zeros":
            x = pad(x, self._mode_pad(), mode=self.padding_mode)
            return conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution, ``weight`` (in, out/groups, kh, kw)::

        Ho = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1

    ``forward(x, output_size=None)``: an ``output_size`` (Ho, Wo), or (N, C, Ho, Wo), picks
    the output padding that gives it instead of ``output_padding`` (torch's rule: each side
    within [size at output_padding 0, that + stride - 1]).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: padding_mode must be 'zeros', got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, True, device, dtype)
        self.output_padding = pair(output_padding, "output_padding", "ConvTranspose2d")

    def _output_padding(self, x, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)
        if len(size) == 4:
            size = size[2:]
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have 2 or 4 elements, got "
                             f"{tuple(output_size)}")
        smallest = tuple((x.shape[2 + d] - 1) * self.stride[d] - 2 * self.padding[d]
                         + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(2))
        largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
        if any(not lo <= n <= hi for n, lo, hi in zip(size, smallest, largest)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {size}, but valid "
                             f"sizes range from {smallest} to {largest} (for an input of "
                             f"{tuple(x.shape[2:])})")
        return tuple(n - lo for n, lo in zip(size, smallest))

    def forward(self, x, output_size=None):
        self._check(x)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups, self.dilation)
