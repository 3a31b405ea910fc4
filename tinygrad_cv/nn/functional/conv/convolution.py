"""``conv2d``: the fused 2-D convolution (``Conv2dFn``), its argument checks, and the call of
the algorithm the dispatcher picks (``dispatch.conv2d_algorithm``).

input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) -> (N, O, Ho, Wo) with
``Ho = (H + pad_top + pad_bottom - dilation * (kh - 1) - 1) // stride + 1``; the math of each
algorithm is in its module (``im2col``, ``grid``, ``columns``).

Memory layout: the column path (small maps) returns y, and dx, with channels-last strides (the
(N, O, Ho, Wo) view of an NHWC buffer, as torch's ``channels_last``); the other paths return
C-contiguous arrays.  Every path accepts inputs and output gradients in any layout.
"""
from __future__ import annotations

from ....arguments import pair
from ....autograd.function import Function
from ..batching import add_batch, drop_batch
from . import dispatch
from .columns import columns_backward, columns_forward
from .grid import grid_conv_backward, grid_conv_forward
from .im2col import conv_core, weight_grad
from .layout import bias_grad, out_size, pad_hw


class Conv2dFn(Function):
    """Fused 2-D convolution: forward and backward by the algorithm ``dispatch`` picks."""

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        top, bottom, left, right = pads
        out_hw = (out_size(x.shape[2], top + bottom, w.shape[2], stride[0], dilation[0]),
                  out_size(x.shape[3], left + right, w.shape[3], stride[1], dilation[1]))
        algorithm = dispatch.conv2d_algorithm(x.shape, w.shape, x.itemsize, stride, pads,
                                              dilation, groups, out_hw)
        ctx.cfg = (stride, pads, dilation, groups, x.shape[2:], algorithm)
        if algorithm == "columns":
            y, xpad = columns_forward(x, w, b, stride, pads, dilation, out_hw)
            ctx.save_for_backward(xpad, w, None)
            return y
        if algorithm == "grid":
            y = grid_conv_forward(x, w, pads, dilation, groups, bias=b)
            src, kept = x, None
        else:
            need_w = ctx.needs_input_grad[1] if len(ctx.needs_input_grad) > 1 else False
            src = pad_hw(x, top, bottom, left, right)
            y, kept = conv_core(src, w, stride, dilation, groups, keep_cols=need_w, bias=b)
        ctx.save_for_backward(src, w, kept)
        return y

    @staticmethod
    def backward(ctx, dy):
        src, w, kept = ctx.saved_tensors
        stride, pads, dilation, groups, (h, wd), algorithm = ctx.cfg
        if algorithm == "columns":
            return columns_backward(ctx, dy, src, w, stride, pads, dilation, (h, wd))
        if algorithm == "grid":
            return grid_conv_backward(ctx, dy, src, w, pads, dilation, groups)
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        if needs[1]:
            gw = weight_grad(src, dy, w.shape[2:], stride, dilation, groups, kept)
        if kept is not None:
            # the columns are used once: drop them before the input gradient's own columns
            # exist (lower peak memory; a retain_graph backward recomputes them)
            ctx.save_for_backward(src, w, None)
            del kept
        if needs[0]:
            gx = dispatch.input_grad(dy, w, stride, dilation, groups, pads, (h, wd))
        if len(needs) > 2 and needs[2]:
            gb = bias_grad(dy)
        return gx, gw, gb


def _resolve_padding(padding, kernel, dilation, stride):
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same' (torch's rule: the
    extra padding of an even total goes to the bottom/right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = pair(padding, "padding", "conv2d")
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {padding!r}")
    return ph, ph, pw, pw


def check_conv_args(name, x, w, groups, in_axis):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W) (4-D), got shape {tuple(x.shape)}")
    if w.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D weight, got shape {tuple(w.shape)}")
    c = x.shape[1]
    expected = w.shape[0] if in_axis == 0 else w.shape[1] * groups
    if c != expected:
        raise ValueError(f"{name}: expected input with {expected} channels, got {c} "
                         f"(input shape {tuple(x.shape)}, weight shape {tuple(w.shape)}, groups={groups})")
    if c % groups:
        raise ValueError(f"{name}: {c} input channels are not divisible by groups={groups}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, torch.nn.functional.conv2d's semantics.

    input (N, C, H, W) or unbatched (C, H, W), weight (O, C/groups, kh, kw), bias (O,) ->
    (N, O, Ho, Wo) (or (O, Ho, Wo)).  ``padding``: int, pair, 'same' (stride 1) or 'valid'.
    """
    input, unbatched = add_batch(input, 4, "conv2d")
    check_conv_args("conv2d", input, weight, groups, 1)
    if weight.shape[0] % groups:
        raise ValueError(f"conv2d: {weight.shape[0]} output channels are not divisible by groups={groups}")
    stride, dilation = pair(stride, "stride", "conv2d"), pair(dilation, "dilation", "conv2d")
    pads = _resolve_padding(padding, tuple(weight.shape[2:]), dilation, stride)
    ho = out_size(input.shape[2], pads[0] + pads[1], weight.shape[2], stride[0], dilation[0])
    wo = out_size(input.shape[3], pads[2] + pads[3], weight.shape[3], stride[1], dilation[1])
    if ho <= 0 or wo <= 0:
        raise ValueError(f"conv2d: input of spatial size {tuple(input.shape[2:])} is too small for "
                         f"kernel {tuple(weight.shape[2:])} with dilation {dilation} and padding {padding!r}")
    return drop_batch(Conv2dFn.apply(input, weight, bias, stride=stride, pads=pads,
                                     dilation=dilation, groups=int(groups)), unbatched)
