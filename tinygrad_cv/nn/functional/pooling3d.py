"""3-D pooling: the 2-D poolings applied over (H, W), then over D.

A pooling window is a box (kd, kh, kw), and max, sum and the adaptive bins are separable
over a box::

    max_pool3d(x) = P_D(P_HW(x))
    P_HW: the 2-D pooling (kh, kw) of the (N, C*D, H, W) view   -> (N, C*D, Ho, Wo)
    P_D:  the 2-D pooling (kd, 1) of the (N, C, D, Ho*Wo) view  -> (N, C, Do, Ho*Wo)

so the 3-D functions run the fused 2-D kernels (``pooling``, ``adaptive_max_pool``), their
analytic gradients, ceil_mode, padding and CuPy support, with no kernel of their own:

* max: the 2-D pass takes the first maximum of each depth slice in (h, w) order, the depth
  pass the first depth holding the window maximum, so the element taken (and the one the
  gradient reaches) is torch's first maximum in (d, h, w) order (a NaN window its last NaN,
  for the same reason).  The index is ``d * H * W + h * W + w``: the depth pass's depth and
  the 2-D pass's index at that depth.
* average: torch's divisors are products of per-axis counts (``count_include_pad`` and
  ceil_mode clip each axis), which each pass applies to its axes; ``divisor_override`` sums
  in the first pass (divisor 1) and divides by it in the second.
* adaptive average / max: torch's bins are products of per-axis bins.

Input (N, C, D, H, W) or unbatched (C, D, H, W), as torch.
"""
from __future__ import annotations

from ... import backend
from ...arguments import triple
from ...tensor import Tensor
from .adaptive_max_pool import adaptive_max_pool2d
from .batching import add_batch, drop_batch
from .pooling import (MaxUnpool2dFn, _ceil_out_size, _out_size, adaptive_avg_pool2d,
                      avg_pool2d, check_unpool_indices, max_pool2d, unpool_size)


def batched(x, op):
    """``add_batch`` for the 3-D poolings: (N, C, D, H, W) or (C, D, H, W)."""
    return add_batch(x, 5, op, f"{op}: expected input of shape (N, C, D, H, W) (5-D) or "
                               f"(C, D, H, W) (4-D), got shape {tuple(x.shape)}")


def _window(op, x, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """(kernel, stride, padding, dilation) triples after torch's checks on x (N, C, D, H, W)."""
    kernel = triple(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == [] else triple(stride, "stride", op)
    padding, dilation = triple(padding, "padding", op), triple(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} "
                         "must be positive")
    if min(padding) < 0 or any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: pad should be at most half of kernel size, but got "
                         f"padding={padding} and kernel_size={kernel}")
    size = _ceil_out_size if ceil_mode else _out_size
    out = tuple(size(x.shape[2 + d], kernel[d], stride[d], padding[d], dilation[d])
                for d in range(3))
    if min(out) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(x.shape[2:])} is too small for "
                         f"kernel {kernel} with padding {padding} and dilation {dilation}: the "
                         f"output size would be {out}")
    return kernel, stride, padding, dilation


def _planes(x):
    """x (N, C, D, H, W) -> its (N, C*D, H, W) view (the 2-D pass's images)."""
    n, c, d, h, w = x.shape
    return x.reshape(n, c * d, h, w)


def _depth_rows(y, n, c, d):
    """The 2-D pass's (N, C*D, Ho, Wo) -> (N, C, D, Ho*Wo) (the depth pass's images)."""
    return y.reshape(n, c, d, y.shape[2] * y.shape[3])


def _join_indices(plane_index, depth_index, shape, out_hw):
    """int64 (N, C, Do, Ho, Wo) flat indices d * H * W + h * W + w from the 2-D pass's plane
    indices (N, C*D, Ho, Wo) (h * W + w) and the depth pass's (N, C, Do, Ho*Wo) (d * Ho*Wo +
    j): the depth ``d`` of each window's maximum and the plane index there."""
    xp = backend.get_array_module(plane_index)
    n, c, d, h, w = shape
    rows = out_hw[0] * out_hw[1]
    depth = depth_index // rows
    plane = xp.take_along_axis(plane_index.reshape(n, c, d, rows), depth, axis=2)
    return (depth * (h * w) + plane).reshape(n, c, depth.shape[2], *out_hw)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over (kd, kh, kw) windows (elements ``dilation`` apart), torch's signature;
    ``stride`` defaults to ``kernel_size``; ``return_indices=True`` also returns the flat
    index d * H * W + h * W + w of each maximum (int64; ``max_unpool3d`` takes it)."""
    op = "max_pool3d"
    x, unbatched = batched(input, op)
    k, s, p, dl = _window(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    n, c, d = x.shape[:3]
    first = max_pool2d(_planes(x), k[1:], s[1:], p[1:], dl[1:], ceil_mode, return_indices)
    y1 = first[0] if return_indices else first
    second = max_pool2d(_depth_rows(y1, n, c, d), (k[0], 1), (s[0], 1), (p[0], 0),
                        (dl[0], 1), ceil_mode, return_indices)
    out_hw = tuple(y1.shape[2:])
    y2 = second[0] if return_indices else second
    y = y2.reshape(n, c, y2.shape[2], *out_hw)
    if not return_indices:
        return drop_batch(y, unbatched)
    index = _join_indices(first[1].array, second[1].array, x.shape, out_hw)
    return drop_batch((y, Tensor.wrap(index)), unbatched)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over (kd, kh, kw) windows, torch's signature: zero padding counted in the divisor
    unless ``count_include_pad=False``; ``divisor_override`` replaces the divisor."""
    op = "avg_pool3d"
    x, unbatched = batched(input, op)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{op}: divisor must be not zero")
    k, s, p, _ = _window(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if any(x.shape[2 + i] < k[i] for i in range(3)):     # torch's 3-D average pooling rule
        raise ValueError(f"{op}: input image (T: {x.shape[2]} H: {x.shape[3]} W: {x.shape[4]}) "
                         f"smaller than kernel size (kT: {k[0]} kH: {k[1]} kW: {k[2]})")
    n, c, d = x.shape[:3]
    y1 = avg_pool2d(_planes(x), k[1:], s[1:], p[1:], ceil_mode, count_include_pad,
                    None if divisor_override is None else 1)
    y2 = avg_pool2d(_depth_rows(y1, n, c, d), (k[0], 1), (s[0], 1), (p[0], 0), ceil_mode,
                    count_include_pad, divisor_override)
    return drop_batch(y2.reshape(n, c, y2.shape[2], *y1.shape[2:]), unbatched)


def adaptive_output_size(op, x, output_size):
    """(Do, Ho, Wo) from an int or a triple (None keeps that side of x (N, C, D, H, W))."""
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size,) * 3
    if len(output_size) != 3:
        raise ValueError(f"{op}: output_size must be an int or a triple, got {output_size!r}")
    out = tuple(x.shape[2 + d] if output_size[d] is None else int(output_size[d])
                for d in range(3))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def adaptive_avg_pool3d(input, output_size):
    """Mean over torch's adaptive bins ``[floor(a L / Lo), ceil((a + 1) L / Lo))`` of each
    axis to reach ``output_size`` (int or triple; None keeps a side)."""
    op = "adaptive_avg_pool3d"
    x, unbatched = batched(input, op)
    do, ho, wo = adaptive_output_size(op, x, output_size)
    n, c, d = x.shape[:3]
    y1 = adaptive_avg_pool2d(_planes(x), (ho, wo))
    y2 = adaptive_avg_pool2d(_depth_rows(y1, n, c, d), (do, ho * wo))
    return drop_batch(y2.reshape(n, c, do, ho, wo), unbatched)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over torch's adaptive bins to reach ``output_size`` (int or triple; None keeps a
    side); with ``return_indices`` also the flat indices d * H * W + h * W + w."""
    op = "adaptive_max_pool3d"
    x, unbatched = batched(input, op)
    do, ho, wo = adaptive_output_size(op, x, output_size)
    n, c, d = x.shape[:3]
    first = adaptive_max_pool2d(_planes(x), (ho, wo), return_indices)
    y1 = first[0] if return_indices else first
    second = adaptive_max_pool2d(_depth_rows(y1, n, c, d), (do, ho * wo), return_indices)
    y2 = second[0] if return_indices else second
    y = y2.reshape(n, c, do, ho, wo)
    if not return_indices:
        return drop_batch(y, unbatched)
    index = _join_indices(first[1].array, second[1].array, x.shape, (ho, wo))
    return drop_batch((y, Tensor.wrap(index)), unbatched)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse placement of ``max_pool3d(..., return_indices=True)``: a zero (N, C, Do,
    Ho, Wo) volume with ``input``'s values at ``indices`` (flat d * Ho * Wo + h * Wo + w per
    (n, c) volume); Do = (D - 1) * stride - 2 * padding + kernel (and so Ho, Wo), or
    ``output_size`` (3 or 5 sizes, each strictly within stride of that).  Gradient: dy
    gathered at ``indices`` (``MaxUnpool2dFn`` on the flattened volume)."""
    op = "max_unpool3d"
    x, unbatched = batched(input, op)
    idx = indices.array if isinstance(indices, Tensor) else backend.as_array(indices)
    if unbatched:
        idx = idx[None]
    kernel = triple(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else triple(stride, "stride", op)
    padding = triple(padding, "padding", op)
    requested = None
    if output_size is not None:
        requested = tuple(int(s) for s in output_size)
        requested = requested[-3:] if len(requested) in (4, 5) else requested
    size = unpool_size(op, x.shape[2:], kernel, stride, padding, requested, output_size)
    check_unpool_indices(op, idx, x.shape, size)
    n, c = x.shape[:2]
    volume = size[0] * size[1] * size[2]
    y = MaxUnpool2dFn.apply(x.reshape(n, c, 1, -1),
                            indices=backend.to_device(idx.reshape(n, c, 1, -1), x.device),
                            out_hw=(1, volume))
    return drop_batch(y.reshape(n, c, *size), unbatched)
