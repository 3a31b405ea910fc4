"""Conv1d/2d/3d and ConvTranspose1d/2d/3d layers (torch.nn's parameters, names and
initialisation).  The 1-D layers call ``conv1d``/``conv_transpose1d`` (the 2-D kernels on an
(N, C, 1, L) view), the 3-D ones ``conv3d``/``conv_transpose3d`` (depth columns and the 2-D
kernels); every layer takes unbatched inputs ((C, L), (C, H, W) or (C, D, H, W)) as torch."""
from __future__ import annotations

from ...creation import empty
from .. import init
from ...arguments import pair, single, triple
from ..functional.batching import add_batch, drop_batch
from ..functional.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from ..functional.conv.three_d import conv3d, conv_transpose3d
from ..functional.padding import pad
from ..module import Module, Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared parameter set-up: ``weight`` ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) and ``bias`` ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), ``fan_in`` computed from
    the weight's dims 1.. (torch's rule, also for the transposed layout).  ``_dims``: 1, 2 or
    3 spatial dims (sizes are 1-tuples, pairs or triples, as torch's)."""

    _dims = 2
    _spatial = "H, W"

    def _sizes(self, value, name):
        return {1: single, 2: pair, 3: triple}[self._dims](value, name, type(self).__name__)

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, transposed, device, dtype):
        super().__init__()
        name = type(self).__name__
        in_channels, out_channels, groups = int(in_channels), int(out_channels), int(groups)
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must be divisible by groups={groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = self._sizes(kernel_size, "kernel_size")
        self.stride = self._sizes(stride, "stride")
        self.padding = padding if isinstance(padding, str) else self._sizes(padding, "padding")
        self.dilation = self._sizes(dilation, "dilation")
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

    def _batched(self, x):
        """``(x as a batch, whether it was unbatched)`` after the rank and channel checks."""
        name, c, sp, d = type(self).__name__, self.in_channels, self._spatial, self._dims
        wanted = f"(N, {c}, {sp}) ({d + 2}-D) or ({c}, {sp}) ({d + 1}-D)"
        batch, unbatched = add_batch(x, d + 2, name,
                                     f"{name}: expected input of shape {wanted}, got shape "
                                     f"{tuple(x.shape)}")
        if batch.shape[1] != c:
            raise ValueError(f"{name}: expected input of shape {wanted} (in_channels={c}), "
                             f"got shape {tuple(x.shape)}")
        return batch, unbatched

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0,) * self._dims) != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if getattr(self, "padding_mode", "zeros") != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d and Conv2d: ``padding`` an int, a tuple, 'same' or 'valid'; ``padding_mode``
    'zeros', 'reflect', 'replicate' or 'circular' (the last three pad with ``F.pad`` in that
    mode, then convolve unpadded, as torch)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        name = type(self).__name__
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'} (or an int or a tuple)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, False, device, dtype)
        self.padding_mode = padding_mode
        if padding == "same" and self.stride != (1,) * self._dims:
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")

    def _mode_pad(self):
        """F.pad's widths, last dim first ((left, right) or (left, right, top, bottom));
        'same' puts the odd extra on the right/bottom."""
        if self.padding == "valid":
            return (0,) * (2 * self._dims)
        sides = []
        for d in reversed(range(self._dims)):
            if self.padding == "same":
                total = self.dilation[d] * (self.kernel_size[d] - 1)
                sides += [total // 2, total - total // 2]
            else:
                sides += [self.padding[d], self.padding[d]]
        return tuple(sides)

    def forward(self, input):
        input, unbatched = self._batched(input)
        padding = self.padding
        if self.padding_mode != "zeros":
            input, padding = pad(input, self._mode_pad(), mode=self.padding_mode), 0
        y = self._conv(input, self.weight, self.bias, self.stride, padding, self.dilation,
                       self.groups)
        return drop_batch(y, unbatched)


class Conv1d(_Conv):
    """1-D convolution: (N, in, L) or (in, L) -> (N, out, Lo), ``weight`` (out, in/groups, k);
    ``Lo = (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1`` (options as ``_Conv``)."""

    _dims, _spatial, _conv = 1, "L", staticmethod(conv1d)


class Conv2d(_Conv):
    """2-D convolution: (N, in, H, W) or (in, H, W) -> (N, out, Ho, Wo), ``weight`` (out,
    in/groups, kh, kw) (options as ``_Conv``)."""

    _conv = staticmethod(conv2d)


class Conv3d(_Conv):
    """3-D convolution: (N, in, D, H, W) or (in, D, H, W) -> (N, out, Do, Ho, Wo), ``weight``
    (out, in/groups, kd, kh, kw) (options as ``_Conv``)."""

    _dims, _spatial, _conv = 3, "D, H, W", staticmethod(conv3d)


class _ConvTranspose(_ConvNd):
    """Transposed convolution, ``weight`` (in, out/groups, *kernel)::

        Lo = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1

    ``forward(x, output_size=None)``: an ``output_size`` (the spatial sizes, or with the
    leading (N, C) / (C,)) picks the output padding that gives it instead of
    ``output_padding`` (torch's rule: each side within [size at output_padding 0, that +
    stride - 1]).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode must be 'zeros' (the only mode supported "
                             f"for {name}), got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, True, device, dtype)
        self.output_padding = self._sizes(output_padding, "output_padding")

    def _output_padding(self, x, output_size, unbatched):
        if output_size is None:
            return self.output_padding
        name, dims = type(self).__name__, self._dims
        size = tuple(int(s) for s in output_size)
        if len(size) == dims + (1 if unbatched else 2):
            size = size[-dims:]
        if len(size) != dims:
            raise ValueError(f"{name}: output_size must have {dims} or {dims + 2} elements "
                             f"({dims + 1} for an unbatched input), got {tuple(output_size)}")
        smallest = tuple((x.shape[2 + d] - 1) * self.stride[d] - 2 * self.padding[d]
                         + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(dims))
        largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
        if any(not lo <= n <= hi for n, lo, hi in zip(size, smallest, largest)):
            raise ValueError(f"{name}: requested an output size of {size}, but valid "
                             f"sizes range from {smallest} to {largest} (for an input of "
                             f"{tuple(x.shape[2:])})")
        return tuple(n - lo for n, lo in zip(size, smallest))

    def forward(self, input, output_size=None):
        input, unbatched = self._batched(input)
        y = self._conv(input, self.weight, self.bias, self.stride, self.padding,
                       self._output_padding(input, output_size, unbatched), self.groups,
                       self.dilation)
        return drop_batch(y, unbatched)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution: (N, in, L) or (in, L) -> (N, out, Lo), ``weight`` (in,
    out/groups, k) (``output_size`` and sizes as ``_ConvTranspose``)."""

    _dims, _spatial, _conv = 1, "L", staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution: (N, in, H, W) or (in, H, W) -> (N, out, Ho, Wo), ``weight``
    (in, out/groups, kh, kw) (``output_size`` and sizes as ``_ConvTranspose``)."""

    _conv = staticmethod(conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution: (N, in, D, H, W) or (in, D, H, W) -> (N, out, Do, Ho, Wo),
    ``weight`` (in, out/groups, kd, kh, kw) (``output_size`` and sizes as ``_ConvTranspose``)."""

    _dims, _spatial, _conv = 3, "D, H, W", staticmethod(conv_transpose3d)
