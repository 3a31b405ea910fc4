"""``conv3d`` and ``conv_transpose3d``: depth columns plus the 2-D convolutions.

A 3-D convolution of x (N, C, D, H, W) with w (O, C/G, kd, kh, kw) is, after gathering the
depth windows into channels (im2col along D only)::

    cols[n, o, c, i, h, w] = xpad[n, c, o * sd + i * dd, h, w]      (N, Do, C, kd, H, W)
    y[n, :, o] = conv2d(cols[n, o] as (C*kd, H, W), w as (O, C/G*kd, kh, kw))

i.e. one 2-D convolution of the (N*Do, C*kd, H, W) view with the (O, C/G*kd, kh, kw) view
of the weight (group g's channels (c, i) stay contiguous), so the 3-D layer runs the 2-D
algorithms (``dispatch``: column GEMMs, grid, im2col, col2im), threads and CuPy arrays with
no kernel of its own; its columns are those of a 3-D im2col, built in two steps.  The depth
columns' gradient (``DepthColumnsFn``) adds each depth offset's slab back (kd slab additions).

The transposed convolution is the adjoint: ``conv_transpose2d`` of the (N*Di, Cin, H, W)
view with w (Cin, Cout/G, kd, kh, kw) viewed (Cin, Cout/G*kd, kh, kw) gives the (N, Di,
Cout, kd, Ho, Wo) depth columns of the output, which ``DepthFoldFn`` adds at depth
``di * sd + i * dd`` (then crops the padding); its gradient gathers the depth columns.
Unbatched (C, D, H, W) inputs are a batch of one (``batching``).
"""
from __future__ import annotations

from .... import backend, threads
from ....arguments import triple
from ....autograd.function import Function
from ..batching import add_batch, drop_batch
from .convolution import Conv2dFn
from .layout import out_size
from .transposed import ConvTranspose2dFn


def depth_columns(x, kd, stride, dilation, front, back, depth_out):
    """(N, Do, C, kd, H, W) depth windows of x (N, C, D, H, W) zero-padded by ``front`` and
    ``back`` along D: one strided view of the padded input copied once (the samples split
    over the threads)."""
    xp = backend.get_array_module(x)
    n, c, d, h, w = x.shape
    if front or back:
        xpad = xp.zeros((n, c, d + front + back, h, w), dtype=x.dtype)
        xpad[:, :, front:front + d] = x
    else:
        xpad = x
    sn, sc, sd, sh, sw = xpad.strides
    view = backend.as_strided(xpad, (n, depth_out, c, kd, h, w),
                              (sn, sd * stride, sc, sd * dilation, sh, sw))
    out = xp.empty(view.shape, dtype=x.dtype)

    def part(start, stop):
        out[start:stop] = view[start:stop]
    threads.for_ranges(part, n, out.size, like=x)
    return out


def fold_depth(cols, padded_depth, stride, dilation, front, depth):
    """The adjoint of ``depth_columns``: cols (N, Do, C, kd, H, W) added into a zero
    (N, C, padded_depth, H, W) at depth ``o * stride + i * dilation`` (one slab addition per
    depth offset i), then the depths [front, front + depth) kept."""
    xp = backend.get_array_module(cols)
    n, do, c, kd, h, w = cols.shape
    acc = xp.zeros((n, c, padded_depth, h, w), dtype=cols.dtype)
    for i in range(kd):
        start = i * dilation
        acc[:, :, start:start + stride * (do - 1) + 1:stride] += cols[:, :, :, i].transpose(0, 2, 1, 3, 4)
    if front == 0 and depth == padded_depth:
        return acc
    return acc[:, :, front:front + depth]


class DepthColumnsFn(Function):
    """x (N, C, D, H, W) -> its depth windows (N, Do, C, kd, H, W) (``depth_columns``);
    backward ``fold_depth``."""

    @staticmethod
    def forward(ctx, x, kd=1, stride=1, dilation=1, pads=(0, 0), depth_out=1):
        ctx.cfg = (kd, stride, dilation, pads, x.shape[2])
        return depth_columns(x, kd, stride, dilation, pads[0], pads[1], depth_out)

    @staticmethod
    def backward(ctx, dy):
        _, stride, dilation, (front, back), depth = ctx.cfg
        return fold_depth(dy, depth + front + back, stride, dilation, front, depth)


class DepthFoldFn(Function):
    """cols (N, Do, C, kd, H, W) -> (N, C, depth, H, W) (``fold_depth``); backward
    ``depth_columns`` of the gradient padded back to ``padded_depth``."""

    @staticmethod
    def forward(ctx, cols, padded_depth=1, stride=1, dilation=1, front=0, depth=1):
        ctx.cfg = (cols.shape[1], cols.shape[3], padded_depth, stride, dilation, front, depth)
        return fold_depth(cols, padded_depth, stride, dilation, front, depth)

    @staticmethod
    def backward(ctx, dy):
        do, kd, padded_depth, stride, dilation, front, depth = ctx.cfg
        return depth_columns(dy, kd, stride, dilation, front, padded_depth - front - depth, do)


def _check(op, x, w, groups, in_axis):
    """torch's rank and channel checks for x (N, C, D, H, W) and a 5-D weight."""
    if w.ndim != 5:
        raise ValueError(f"{op}: expected a 5-D weight, got weight of size {list(w.shape)}")
    if groups < 1:
        raise ValueError(f"{op}: non-positive groups is not supported, got groups={groups}")
    expected = w.shape[0] if in_axis == 0 else w.shape[1] * groups
    if x.shape[1] != expected:
        raise ValueError(f"{op}: given groups={groups}, weight of size {list(w.shape)}, "
                         f"expected input{list(x.shape)} to have {expected} channels, but got "
                         f"{x.shape[1]} channels instead")
    if x.shape[1] % groups:
        raise ValueError(f"{op}: {x.shape[1]} input channels are not divisible by "
                         f"groups={groups}")


def _resolve_padding(op, padding, kernel, dilation, stride):
    """((front, back), (top, bottom), (left, right)) from an int, a triple, 'valid' or 'same'
    (torch's rule: an odd total puts the extra on the back/bottom/right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * 3
        if padding == "same":
            if stride != (1, 1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 "convolutions")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                         "{'valid', 'same'}")
    pads = triple(padding, "padding", op)
    if min(pads) < 0:
        raise ValueError(f"{op}: negative padding is not supported, got {padding!r}")
    return tuple((p, p) for p in pads)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation, torch.nn.functional.conv3d's semantics.

    input (N, C, D, H, W) or unbatched (C, D, H, W), weight (O, C/groups, kd, kh, kw), bias
    (O,) -> (N, O, Do, Ho, Wo) with ``Do = (D + 2 p - dilation (kd - 1) - 1) // stride + 1``
    (and so Ho, Wo); ``padding``: int, triple, 'same' (stride 1) or 'valid'.
    """
    op = "conv3d"
    x, unbatched = add_batch(input, 5, op)
    groups = int(groups)
    _check(op, x, weight, groups, 1)
    if weight.shape[0] % groups:
        raise ValueError(f"{op}: {weight.shape[0]} output channels are not divisible by "
                         f"groups={groups}")
    stride, dilation = triple(stride, "stride", op), triple(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride {stride} and dilation {dilation} must be positive")
    kernel = tuple(weight.shape[2:])
    pads = _resolve_padding(op, padding, kernel, dilation, stride)
    out = tuple(out_size(x.shape[2 + k], sum(pads[k]), kernel[k], stride[k], dilation[k])
                for k in range(3))
    if min(out) <= 0:
        padded = tuple(x.shape[2 + k] + sum(pads[k]) for k in range(3))
        reach = tuple(dilation[k] * (kernel[k] - 1) + 1 for k in range(3))
        raise ValueError(f"{op}: calculated padded input size per channel: {padded}. Kernel "
                         f"size: {reach}. Kernel size can't be greater than actual input size "
                         f"(input of size {list(x.shape)})")
    n, c = x.shape[:2]
    o, cg, kd, kh, kw = weight.shape
    cols = DepthColumnsFn.apply(x, kd=kd, stride=stride[0], dilation=dilation[0],
                                pads=pads[0], depth_out=out[0])
    y2 = Conv2dFn.apply(cols.reshape(n * out[0], c * kd, *x.shape[3:]),
                        weight.reshape(o, cg * kd, kh, kw), bias, stride=stride[1:],
                        pads=pads[1] + pads[2], dilation=dilation[1:], groups=groups)
    y = y2.reshape(n, out[0], o, out[1], out[2]).permute(0, 2, 1, 3, 4).contiguous()
    return drop_batch(y, unbatched)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution, torch.nn.functional.conv_transpose3d's semantics.

    input (N, Cin, D, H, W) or unbatched (Cin, D, H, W), weight (Cin, Cout/groups, kd, kh,
    kw), bias (Cout,) -> (N, Cout, Do, Ho, Wo) with
    ``Do = (D - 1) * stride - 2 * padding + dilation * (kd - 1) + output_padding + 1``.
    """
    op = "conv_transpose3d"
    x, unbatched = add_batch(input, 5, op)
    groups = int(groups)
    _check(op, x, weight, groups, 0)
    stride, dilation = triple(stride, "stride", op), triple(dilation, "dilation", op)
    padding = triple(padding, "padding", op)
    output_padding = triple(output_padding, "output_padding", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride {stride} and dilation {dilation} must be positive")
    if min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{op}: padding {padding} and output_padding {output_padding} must be "
                         "non-negative")
    for k in range(3):
        if not (output_padding[k] < stride[k] or output_padding[k] < dilation[k]):
            raise ValueError(f"{op}: output padding must be smaller than either stride or "
                             f"dilation, but got output_padding={output_padding}, "
                             f"stride={stride}, dilation={dilation}")
    n, cin, di, h, w = x.shape
    _, cog, kd, kh, kw = weight.shape
    out = tuple((x.shape[2 + k] - 1) * stride[k] - 2 * padding[k]
                + dilation[k] * (weight.shape[2 + k] - 1) + output_padding[k] + 1 for k in range(3))
    if min(out) <= 0:
        raise ValueError(f"{op}: input of spatial size {tuple(x.shape[2:])} is too small for "
                         f"kernel {tuple(weight.shape[2:])} with stride {stride}, padding "
                         f"{padding}, output_padding {output_padding} and dilation {dilation}: "
                         f"the output size would be {out}")
    x2 = x.permute(0, 2, 1, 3, 4).reshape(n * di, cin, h, w)
    y2 = ConvTranspose2dFn.apply(x2, weight.reshape(cin, cog * kd, kh, kw), None,
                                 stride=stride[1:], padding=padding[1:],
                                 output_padding=output_padding[1:], groups=groups,
                                 dilation=dilation[1:])
    cols = y2.reshape(n, di, groups * cog, kd, out[1], out[2])
    padded = out[0] + 2 * padding[0]
    y = DepthFoldFn.apply(cols, padded_depth=padded, stride=stride[0], dilation=dilation[0],
                          front=padding[0], depth=out[0])
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return drop_batch(y, unbatched)
