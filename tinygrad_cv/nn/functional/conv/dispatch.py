"""Which convolution algorithm runs for which shape, and why.

Forward (``conv2d_algorithm``), in this order:

1. ``"columns"`` (``columns.py``) -- groups 1 and an output map of at most
   ``SMALL_MAP_MAX_POSITIONS`` positions.  Why: at 8x8 ... 2x2 maps it is 1.3-2.3x faster
   than the grid (benchmarks/RESULTS.md, "Convolution algorithms").
2. ``"grid"`` (``grid.py``) -- stride 1, every grid GEMM with an inner dimension (taps per
   group times the smaller channel count per group) of at least ``GRID_MIN_TAP_WIDTH``, and a
   grid that fits ``layout.IM2COL_MAX_BYTES``.  Why: 1.3x faster than im2col at 32->32
   channels; slower with few channels (1->32: each GEMM writes a full output for a few
   multiply-adds per element), and huge inputs need im2col's chunks.
3. ``"im2col"`` (``im2col.py``) -- everything else (strides > 1, few channels, huge inputs).

Input gradient (``input_grad``, also the transposed convolution's forward): the grid under
the same rule; else col2im when O * sh * sw > C, else the correlation of the dilated dy.
Why: col2im multiplies dy's Ho*Wo positions, the correlation the dilated dy's H*W ~ sh*sw
times more (mostly zeros); so col2im does 1 / (sh * sw) of the multiply-adds and builds
C*kh*kw*Ho*Wo column values against O*kh*kw*H*W.  At stride 2 with O = C (a 32 -> 32
transposed convolution 16x16 -> 32x32, batch 16) col2im measured 8.3 ms forward + backward
against 14.7 ms; with O = C / 2, 6.1 against 7.9 ms.
"""
from __future__ import annotations

from . import layout
from .grid import grid_input_grad, grid_output
from .im2col import input_grad_by_col2im, input_grad_by_correlation

GRID_MIN_TAP_WIDTH = 32  # the grid path's GEMMs need K = run * channels of at least this
SMALL_MAP_MAX_POSITIONS = 64  # output maps of at most this many positions take the columns


def use_columns(out_hw, groups):
    """The channels-last column path: groups == 1 and an output map of at most
    SMALL_MAP_MAX_POSITIONS positions."""
    return groups == 1 and out_hw[0] * out_hw[1] <= SMALL_MAP_MAX_POSITIONS


def use_grid(padded_shape, itemsize, kernel, stride, dilation, channels):
    """The grid (implicit GEMM) path: stride 1, every grid GEMM with an inner dimension (taps
    per group times ``channels``, the smaller of the input and output channels per group) of at
    least GRID_MIN_TAP_WIDTH, and a grid of ``padded_shape`` (N, C, Hp, Wp) within the column
    bound."""
    if tuple(stride) != (1, 1):
        return False
    run = kernel[1] if dilation[1] == 1 else 1
    n, c, hp, wp = padded_shape
    return (run * channels >= GRID_MIN_TAP_WIDTH
            and n * c * hp * wp * itemsize <= layout.IM2COL_MAX_BYTES)


def conv2d_algorithm(x_shape, w_shape, itemsize, stride, pads, dilation, groups, out_hw):
    """``"columns"``, ``"grid"`` or ``"im2col"`` for a convolution of x (N, C, H, W) with
    w (O, Cg, kh, kw) giving (N, O, *out_hw) maps (the rules in the module docstring)."""
    if use_columns(out_hw, groups):
        return "columns"
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    # the grids hold max(C, O) channels (the input's, then the output gradient's)
    padded = (n, max(c, o), h + pads[0] + pads[1], w + pads[2] + pads[3])
    if use_grid(padded, itemsize, (kh, kw), stride, dilation, min(o // groups, cg)):
        return "grid"
    return "im2col"


def input_grad(dy, w, stride, dilation, groups, pads, out_hw):
    """dL/dx (N, C, H, W) of a convolution of x (spatial size ``out_hw``) padded by ``pads``,
    at stride 1 on the grid (``grid_input_grad``), otherwise by whichever method has less
    work: ``input_grad_by_correlation`` builds O*kh*kw columns at each of the dilated dy's
    H*W positions, ``input_grad_by_col2im`` C*kh*kw column gradients at dy's Ho*Wo ~ H*W /
    (sh * sw)."""
    out_channels, in_channels = w.shape[0], w.shape[1] * groups
    n = dy.shape[0]
    hp, wp = out_hw[0] + pads[0] + pads[1], out_hw[1] + pads[2] + pads[3]
    if use_grid((n, max(out_channels, in_channels), hp, wp), dy.itemsize, w.shape[2:], stride,
                dilation, min(out_channels, in_channels) // groups):
        dyg = grid_output(dy, groups, (hp, wp), w.shape[2:], dilation)
        return grid_input_grad(dyg, w, groups, pads, out_hw, n, dilation)
    if out_channels * stride[0] * stride[1] > in_channels:
        return input_grad_by_col2im(dy, w, stride, dilation, groups, pads, out_hw)
    return input_grad_by_correlation(dy, w, stride, dilation, groups, pads, out_hw)
