"""``conv_transpose2d``: the fused 2-D transposed convolution (``ConvTranspose2dFn``).

Its forward is exactly a convolution's input gradient (``dispatch.input_grad``) and its
backward a convolution forward (``im2col.conv_core``) and weight gradient, so both layers
share the same kernels.
"""
from __future__ import annotations

from ....arguments import pair
from ....autograd.function import Function
from ..batching import add_batch, drop_batch
from .convolution import check_conv_args
from .dispatch import input_grad
from .im2col import conv_core, weight_grad
from .layout import add_bias, bias_grad, pad_hw


class ConvTranspose2dFn(Function):
    """Fused 2-D transposed convolution: the input gradient of a convolution.

    x: (N, Cin, H, W), w: (Cin, Cout/G, kh, kw), y: (N, Cout, Ho, Wo) with
    ``Ho = (H - 1) * s - pad_top - pad_bottom + d * (kh - 1) + output_padding + 1``.
    Backward: ``dx`` = convolution of ``pad(dy)`` with ``w``; ``dw`` = the convolution weight
    gradient with the roles of input (``pad(dy)``) and output gradient (``x``) exchanged.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                groups=1, dilation=(1, 1)):
        _, _, h, wd = x.shape
        _, _, kh, kw = w.shape
        hp = (h - 1) * stride[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
        wp = (wd - 1) * stride[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
        pads = (padding[0], padding[0], padding[1], padding[1])
        y = input_grad(x, w, stride, dilation, groups, pads, (hp - 2 * padding[0], wp - 2 * padding[1]))
        if b is not None:
            add_bias(y, b)   # y is a new array of this call
        ctx.cfg = (stride, padding, dilation, groups, (hp, wp))
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        stride, padding, dilation, groups, (hp, wp) = ctx.cfg
        needs = ctx.needs_input_grad
        dypad = pad_hw(dy, padding[0], hp - dy.shape[2] - padding[0],
                        padding[1], wp - dy.shape[3] - padding[1])
        gx = gw = gb = None
        if needs[0]:
            gx = conv_core(dypad, w, stride, dilation, groups)[0][:, :, :x.shape[2], :x.shape[3]]
        if needs[1]:
            gw = weight_grad(dypad, x, w.shape[2:], stride, dilation, groups)
        if len(needs) > 2 and needs[2]:
            gb = bias_grad(dy)
        return gx, gw, gb


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, torch.nn.functional.conv_transpose2d's semantics.

    input (N, Cin, H, W) or unbatched (Cin, H, W), weight (Cin, Cout/groups, kh, kw) ->
    (N, Cout, Ho, Wo) (or (Cout, Ho, Wo)) with
    ``Ho = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1``.
    """
    input, unbatched = add_batch(input, 4, "conv_transpose2d")
    check_conv_args("conv_transpose2d", input, weight, groups, 0)
    op = "conv_transpose2d"
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    padding, output_padding = pair(padding, "padding", op), pair(output_padding, "output_padding", op)
    for k in range(2):
        if not (output_padding[k] < stride[k] or output_padding[k] < dilation[k]):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller "
                             f"than stride {stride} or dilation {dilation}")
    if min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"conv_transpose2d: padding {padding} and output_padding {output_padding} "
                         "must be non-negative")
    out_hw = tuple((input.shape[2 + k] - 1) * stride[k] - 2 * padding[k]
                   + dilation[k] * (weight.shape[2 + k] - 1) + output_padding[k] + 1 for k in range(2))
    if min(out_hw) <= 0:
        raise ValueError(f"conv_transpose2d: input of spatial size {tuple(input.shape[2:])} is too small "
                         f"for kernel {tuple(weight.shape[2:])} with stride {stride}, padding {padding}, "
                         f"output_padding {output_padding} and dilation {dilation}: the output size "
                         f"would be {out_hw}")
    return drop_batch(ConvTranspose2dFn.apply(input, weight, bias, stride=stride, padding=padding,
                                              output_padding=output_padding, groups=int(groups),
                                              dilation=dilation), unbatched)
