"""Max, average and adaptive-average 2-D pooling (fused, with analytic backward).

Input (N, C, H, W); window ``k = (kh, kw)``, stride ``s``, zero/-inf padding ``p``::

    Ho = (H + 2 p - kh) // s + 1          (ceil_mode off)
    max_pool:  y[n,c,a,b] = max_{i,j} xpad[n, c, a*s + i, b*s + j]      (xpad padded with -inf)
    avg_pool:  y[n,c,a,b] = 1/(kh*kw) * sum_{i,j} xpad[n, c, a*s + i, b*s + j]  (zeros; the
               padding counts in the divisor, torch's count_include_pad=True)

``ceil_mode`` (torch's rule: Ho = ceil((H + 2 p - kh) / s) + 1, less 1 when the last window
would start past H + p) pads the input's far ends first (-inf or 0, with ``F.pad``) so that
the last windows fit; average pooling's other divisors (``count_include_pad=False``: the
window's elements inside the input; with ceil_mode, the window clipped to H + p;
``divisor_override``) multiply the fused result by a constant (Ho, Wo) map kh*kw / divisor.

Average pooling's fast path: when ``k == s``, ``p == 0`` and k divides H and W, the windows are
blocks of a reshape, summed by slice additions, and the backward repeats dy.  Otherwise the
forward adds the kh*kw offsets' strided views and the backward adds each kernel offset's slice
(a loop over the kh*kw offsets, never over pixels).  Max pooling always works offset by offset: the forward is a
running maximum over the kh*kw strided views, and the backward routes each window's gradient
to its first maximum in row-major order (torch's tie rule) through comparison masks, not
scatter.

Max pooling's pair path (kernel 2, stride 2, no padding, even H and W; the common CNN case)
reads the input as rows of window-row pairs (N*C*Ho, 2, W) in chunks of ``PAIR_CHUNK_ROWS``
(a small, cache-resident scratch instead of activation-sized temporaries): the forward takes the
maximum of the two rows (one flat loop over the chunk) and then of column pairs on half the
data; the backward writes each offset's ``dy * first_hit`` straight into one reused gradient
buffer (``autograd/buffers.py``), the first-hit masks built with in-place boolean ops
(``a & ~b`` as ``a > b``).  A window whose maximum is NaN sends the backward to the offset
routing above (it handles the NaN rule).  When the input is a ReLU's output that nothing else
can see, the backward routes ``dy * [max != 0]`` and the ReLU passes that gradient on as it is
(``_unobserved_relu``): it is already zero wherever the ReLU's output is.

Every function takes an unbatched (C, H, W) input too (a batch of one, ``batching``); the
1-D poolings (``pooling1d``) are these on an (N, C, 1, L) view.

Adaptive average pooling with output ``(Ho, Wo)`` uses torch's bins
``[floor(a*H/Ho), ceil((a+1)*H/Ho))`` (``adaptive_bins``, shared with adaptive max pooling): it is ``y = Ph @ x @ Pw^T`` with averaging matrices
``Ph`` (Ho, H) and ``Pw`` (Wo, W) (the reshape path when the sizes divide).
"""
from __future__ import annotations

import math
import sys

from ... import backend, threads
from ...arguments import pair
from ...autograd import buffers
from ...autograd.function import Function
from ...ops.elementwise import ReLU, elementwise_work
from ...tensor import Tensor
from .batching import add_batch, drop_batch
from .interpolation import _sum_blocks, separable_linear
from .padding import pad


def _out_size(size, k, s, p, d=1):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _is_reshape_case(shape, kernel, stride, padding):
    return (kernel == stride and padding == (0, 0)
            and shape[2] % kernel[0] == 0 and shape[3] % kernel[1] == 0)


def _padded(x, padding, value):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _add_windows(gwin, padded_hw, kernel, stride):
    """Sum window gradients (N, C, Ho, Wo, kh, kw) into (N, C, Hp, Wp) (window (a, b) starts at
    (a * sh, b * sw)), one strided slice addition per kernel offset."""
    xp = backend.get_array_module(gwin)
    n, c, ho, wo, kh, kw = gwin.shape
    out = xp.zeros((n, c) + tuple(padded_hw), dtype=gwin.dtype)
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += gwin[:, :, :, :, i, j]
    return out


def _unpad(g, padding, hw):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return g
    return g[:, :, ph:ph + hw[0], pw:pw + hw[1]]


def _offset_slices(kernel, stride, out_hw, dilation=(1, 1)):
    """For each kernel offset (i, j) in row-major order, the (rows, cols) slices of the padded
    input that hold that offset's element of every window: ``xpad[:, :, rows, cols]`` has
    shape (N, C, Ho, Wo) (offset (i, j) sits at (i * dh, j * dw) in its window)."""
    (kh, kw), (sh, sw), (ho, wo), (dh, dw) = kernel, stride, out_hw, dilation
    return [(slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


PAIR_CHUNK_ROWS = 4096  # window-row pairs per chunk of the 2x2/stride-2 max-pool path
_SCRATCH_SLOT = "max_pool_pairs"


def _is_pair_case(shape, kernel, stride, padding):
    """Kernel 2x2, stride 2, no padding, even H and W: windows are disjoint pairs of row pairs."""
    return (kernel == (2, 2) and stride == (2, 2) and padding == (0, 0)
            and shape[2] % 2 == 0 and shape[3] % 2 == 0)


def _max_pool_pairs(x):
    """y (N, C, H/2, W/2) = max over each 2x2 window, chunk by chunk through one small scratch:
    first ``max(x[i], x[i + W])`` over the chunk as one flat array (at each top-row element the
    maximum of its window column; the bottom-row results are not used: twice the elements, but
    one long loop where per-row loops of W elements cost NumPy more), then the maximum of the
    column pairs of the top rows.  The window rows split over the intra-op threads, each part
    with its own scratch (``threads.scratch``)."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    rows = n * c * (h // 2)
    flat = xp.ascontiguousarray(x).reshape(-1)
    y = buffers.empty((rows, w // 2), x.dtype, x)

    def part(start, stop):
        scratch = threads.scratch((min(stop - start, PAIR_CHUNK_ROWS) * 2 * w,), x.dtype, x,
                                  slot=_SCRATCH_SLOT)
        for s in range(start, stop, PAIR_CHUNK_ROWS):
            e = min(stop, s + PAIR_CHUNK_ROWS)
            lo, hi = s * 2 * w, e * 2 * w
            xp.maximum(flat[lo:hi - w], flat[lo + w:hi], out=scratch[:hi - lo - w])
            top = scratch[:hi - lo].reshape(e - s, 2 * w)[:, :w]
            xp.maximum(top[:, 0::2], top[:, 1::2], out=y[s:e])

    threads.for_ranges(part, rows, elementwise_work(flat.size, 2), like=x)
    return y.reshape(n, c, h // 2, w // 2)


def _max_routes_pairs(x, y, dy, nonzero_max_only=False):
    """Max-pool gradient (N, C, H, W) of the pair path when no window maximum is NaN: offsets in
    row-major order (0,0), (0,1), (1,0), (1,1) take ``dy`` where they equal the maximum first
    (torch's rule); the last offset takes it wherever no earlier one did (some offset holds a
    maximum that is not NaN).  ``nonzero_max_only``: route ``dy * [max != 0]`` instead (the
    ReLU hand-off, see ``_unobserved_relu``), chunk by chunk in the cache.  The window rows
    split over the intra-op threads, each part with its own masks (``threads.scratch``)."""
    xp = backend.get_array_module(dy)
    n, c, h, w = x.shape
    rows, half = n * c * (h // 2), w // 2
    x3 = xp.ascontiguousarray(x).reshape(rows, 2, w)
    y2, dy2 = y.reshape(rows, half), xp.ascontiguousarray(dy).reshape(rows, half)
    gx = buffers.empty((n, c, h, w), dy.dtype, dy)
    g3 = gx.reshape(rows, 2, w)

    def part(start, stop):
        chunk = min(stop - start, PAIR_CHUNK_ROWS)
        claimed = threads.scratch((chunk, half), bool, dy, slot=_SCRATCH_SLOT)
        hit = threads.scratch((chunk, half), bool, dy, slot=_SCRATCH_SLOT + "hit")
        masked = (threads.scratch((chunk, half), dy.dtype, dy, slot=_SCRATCH_SLOT + "dy")
                  if nonzero_max_only else None)
        for s in range(start, stop, PAIR_CHUNK_ROWS):
            e = min(stop, s + PAIR_CHUNK_ROWS)
            taken, now, ys, ds = claimed[:e - s], hit[:e - s], y2[s:e], dy2[s:e]
            if nonzero_max_only:
                xp.not_equal(ys, 0, out=now)
                ds = xp.multiply(ds, now, out=masked[:e - s])
            xp.equal(x3[s:e, 0, 0::2], ys, out=taken)
            xp.multiply(ds, taken, out=g3[s:e, 0, 0::2])
            for r, col in ((0, 1), (1, 0)):
                xp.equal(x3[s:e, r, col::2], ys, out=now)
                xp.greater(now, taken, out=now)            # a hit not claimed by an earlier offset
                xp.multiply(ds, now, out=g3[s:e, r, col::2])
                xp.logical_or(taken, now, out=taken)
            xp.logical_not(taken, out=taken)
            xp.multiply(ds, taken, out=g3[s:e, 1, 1::2])

    threads.for_ranges(part, rows, elementwise_work(gx.size, 3), like=dy)
    return gx


class MaxPool2dFn(Function):
    """Fused max pooling; see the module docstring.

    Forward: a running ``maximum`` over the kh*kw strided offset views (one pass each, no
    window copy).  Backward: offsets are visited in row-major order; an offset whose element
    equals the window maximum and is the first to do so (a boolean ``claimed`` mask) receives
    ``dy`` times that mask (torch's first-maximum rule, no scatter, no argmax).  When the
    windows tile the input, each offset view is written once (no zero-fill, no accumulation).
    """

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), valid_hw=None,
                dilation=(1, 1)):
        _, _, h, w = x.shape
        out_hw = tuple(_out_size(x.shape[2 + d], kernel[d], stride[d], padding[d], dilation[d])
                       for d in range(2))
        slices = _offset_slices(kernel, stride, out_hw, dilation)
        ctx.cfg = (kernel, stride, padding, (h, w), slices)
        ctx.dilated = tuple(dilation) != (1, 1)
        ctx.valid_hw = valid_hw or (h, w)   # x's leading rows/columns that are the input's
        if _is_pair_case(x.shape, kernel, stride, padding) and not ctx.dilated:
            y = _max_pool_pairs(x)
            ctx.save_for_backward(x, y)
            return y
        xpad = _padded(x, padding, -float("inf"))
        xp = backend.get_array_module(x)
        y = xpad[:, :, slices[0][0], slices[0][1]].copy()
        for rows, cols in slices[1:]:
            xp.maximum(y, xpad[:, :, rows, cols], out=y)
        ctx.save_for_backward(xpad, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        xpad, y = ctx.saved_tensors
        kernel, stride, padding, hw, slices = ctx.cfg
        if (_is_pair_case(xpad.shape, kernel, stride, padding) and not ctx.dilated
                and not _has_nan(y)):
            relu = _unobserved_relu(ctx, xpad)
            if relu is None:
                return _max_routes_pairs(xpad, y, dy)
            gx = _max_routes_pairs(xpad, y, dy, nonzero_max_only=True)
            relu.note_masked_gradient(gx)
            return gx
        tiled = _is_reshape_case(xpad.shape, kernel, stride, padding) and not ctx.dilated
        inside = None
        if padding != (0, 0) and _has_neg_inf(y):
            inside = _inside_mask(xpad, padding, ctx.valid_hw)
        return _unpad(_max_routes(xpad, y, dy, slices, tiled, inside), padding, hw)


class DilatedMaxPool2dFn(MaxPool2dFn):
    """MaxPool2dFn with a dilation other than 1 (window offsets ``(i * dh, j * dw)``), under
    its own name: the ONNX exporter has no conversion for it and says so, rather than writing
    an undilated MaxPool."""


def _unobserved_relu(ctx, x):
    """The ReLU node that produced this max pool's input ``x``, when the pool is the only thing
    that can see that ReLU output and its gradient (no other consumer or user reference, no
    hook, no retained grad, no in-place change); else None.

    Then the pool may send its input the ReLU's gradient directly: with ``dy`` times
    ``[window max != 0]`` each window's gradient reaches an element that is not 0 (the maximum)
    or nothing (a window whose maximum is 0 holds only ReLU zeros), so ``gx * [x != 0] = gx``
    and the ReLU's backward passes it on without a pass over memory."""
    t = ctx.inputs[0] if ctx.inputs else None
    node = getattr(t, "creator", None)
    if (type(node) is not ReLU or node.released or not node.saved or node.saved[0] is not x
            or t.hooks or t.retains_grad or t._vbox is not None):
        return None
    # t's references: this node's inputs, the local name and getrefcount's argument
    return node if sys.getrefcount(t) <= 3 else None


def _has_nan(y):
    return bool(backend.get_array_module(y).isnan(y).any())


def _has_neg_inf(y):
    return bool(backend.get_array_module(y).isneginf(y).any())


def _inside_mask(xpad, padding, hw):
    """Bool (Hp, Wp) mask of the padded grid, True at the input's own elements (the first
    ``hw`` rows and columns after the padding): a window whose elements are all -inf has the
    padding's -inf as its maximum too, and torch then routes the gradient to the window's
    first element inside the input, never to the padding.  (Without padding a window's first
    element is always inside, also under ceil_mode.)"""
    xp = backend.get_array_module(xpad)
    inside = xp.zeros(xpad.shape[2:], dtype=bool)
    inside[padding[0]:padding[0] + hw[0], padding[1]:padding[1] + hw[1]] = True
    return inside


def _keep_first_hits(hits):
    """Clear, in place, every hit that an earlier mask of ``hits`` (boolean arrays of one
    shape, in the kernel's row-major order) already holds: torch's first-maximum rule."""
    claimed = None
    for hit in hits:
        if claimed is None:
            claimed = hit.copy()
        else:
            hit &= ~claimed
            claimed |= hit


def _first_hits(xpad, y, slices, inside=None):
    """One bool (N, C, Ho, Wo) mask per kernel offset: True where that offset holds its
    window's maximum first (torch's rule; a NaN maximum is the window's last NaN).
    ``inside``: None, or ``_inside_mask`` (padding elements are never a hit)."""
    xp = backend.get_array_module(xpad)
    hits = [xpad[:, :, rows, cols] == y for rows, cols in slices]
    if inside is not None:
        for (rows, cols), hit in zip(slices, hits):
            hit &= inside[rows, cols]
    if _has_nan(y):
        nan_hits = [xp.isnan(xpad[:, :, rows, cols]) for rows, cols in slices]
        _keep_first_hits(nan_hits[::-1])
        hits = [hit | nan_hit for hit, nan_hit in zip(hits, nan_hits)]
    _keep_first_hits(hits)
    return hits


def _max_routes(xpad, y, dy, slices, tiled, inside=None):
    """Max-pool gradient of the padded input, offset by offset: each offset's strided view
    takes ``dy`` where it holds the window maximum first (``_first_hits``).  ``tiled``: the
    windows tile the input exactly (each element in one window), so each view is written
    once, no zero-fill."""
    xp = backend.get_array_module(dy)
    hits = _first_hits(xpad, y, slices, inside)
    if tiled:
        gpad = xp.empty(xpad.shape, dtype=dy.dtype)
        for (rows, cols), hit in zip(slices, hits):
            xp.multiply(dy, hit, out=gpad[:, :, rows, cols])
    else:
        gpad = xp.zeros(xpad.shape, dtype=dy.dtype)
        for (rows, cols), hit in zip(slices, hits):
            gpad[:, :, rows, cols] += dy * hit
    return gpad


class AvgPool2dFn(Function):
    """Fused average pooling (padding counted in the divisor); see the module docstring.

    The window sums add the kh*kw offsets' strided views (``_sum_blocks`` when the windows
    tile the input), never reduce a (.., kh, kw) window view: NumPy's reduction over short
    strided axes is several times slower.  The tiled backward repeats dy (``repeat``)."""

    @staticmethod
    def forward(ctx, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        _, _, h, w = x.shape
        kh, kw = kernel
        ctx.cfg = (kernel, stride, padding, (h, w))
        scale = 1.0 / (kh * kw)
        if _is_reshape_case(x.shape, kernel, stride, padding):
            return _sum_blocks(x, (2, 3), kernel) * scale
        xpad = _padded(x, padding, 0.0)
        ho = _out_size(h, kh, stride[0], padding[0])
        wo = _out_size(w, kw, stride[1], padding[1])
        slices = _offset_slices(kernel, stride, (ho, wo))
        (r0, c0), rest = slices[0], slices[1:]
        y = xpad[:, :, r0, c0] * 1.0          # a new array
        for rows, cols in rest:
            y += xpad[:, :, rows, cols]
        y *= scale
        return y

    @staticmethod
    def backward(ctx, dy):
        kernel, stride, padding, (h, w) = ctx.cfg
        kh, kw = kernel
        xp = backend.get_array_module(dy)
        n, c, ho, wo = dy.shape
        g = dy * (1.0 / (kh * kw))
        if _is_reshape_case((n, c, h, w), kernel, stride, padding):
            return xp.repeat(xp.repeat(g, kh, axis=2), kw, axis=3)
        gwin = xp.broadcast_to(g[..., None, None], (n, c, ho, wo, kh, kw))
        padded_hw = (h + 2 * padding[0], w + 2 * padding[1])
        return _unpad(_add_windows(gwin, padded_hw, kernel, stride), padding, (h, w))


def _ceil_out_size(size, k, s, p, d=1):
    """torch's output size under ceil_mode: the last window must start inside input or
    left padding."""
    out = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def batched(x, op):
    """``add_batch`` for the 2-D poolings: (N, C, H, W) or (C, H, W), else a ValueError."""
    return add_batch(x, 4, op, f"{op}: expected input of shape (N, C, H, W) (4-D) or (C, H, W) "
                               f"(3-D), got shape {tuple(x.shape)}")


def _pool_args(op, x, kernel_size, stride, padding, ceil_mode=False, dilation=(1, 1)):
    """(kernel, stride, padding, (Ho, Wo), (extra rows, extra columns) that ceil_mode's last
    windows need beyond the padded input); ``x`` is a batch (N, C, H, W)."""
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{op}: kernel_size and stride must be positive, got {kernel} and {stride}")
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        raise ValueError(f"{op}: padding {padding} should be at most half of kernel_size {kernel}")
    size = _ceil_out_size if ceil_mode else _out_size
    out_hw = tuple(size(x.shape[2 + d], kernel[d], stride[d], padding[d], dilation[d])
                   for d in range(2))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(x.shape[2:])} is smaller than the "
                         f"kernel {kernel} with padding {padding} and dilation {dilation}")
    extra = tuple(max(0, (out_hw[d] - 1) * stride[d] + dilation[d] * (kernel[d] - 1) + 1
                      - (x.shape[2 + d] + 2 * padding[d])) for d in range(2))
    return kernel, stride, padding, out_hw, extra


def _avg_factors(xp, hw, kernel, stride, padding, out_hw, count_include_pad, divisor_override,
                 dtype):
    """(Ho, Wo) map kh*kw / torch's divisor of each window, or None when it is 1 everywhere.

    Per axis a window starts at o*s - p; counted: up to min(start + k, size + p) (with the
    padding), or inside [0, size) only (``count_include_pad=False``)."""
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be zero")
        counts = [None, float(divisor_override)]
    else:
        per_axis = []
        for d in range(2):
            start = xp.arange(out_hw[d]) * stride[d] - padding[d]
            end = xp.minimum(start + kernel[d], hw[d] + padding[d])
            if not count_include_pad:
                start, end = xp.maximum(start, 0), xp.minimum(end, hw[d])
            per_axis.append(end - start)
        counts = [per_axis, None]
    full = kernel[0] * kernel[1]
    if counts[1] is not None:
        factor = xp.full(out_hw, full / counts[1], dtype=dtype)
    else:
        rows, cols = counts[0]
        factor = (full / (rows[:, None] * cols[None, :])).astype(dtype)
    return None if bool((factor == 1).all()) else factor


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (kh, kw) windows; ``stride`` defaults to ``kernel_size`` (torch's
    signature; ``ceil_mode`` as the module docstring; ``dilation`` spaces a window's
    elements).  ``return_indices=True`` also returns, per output, the flat index h * W + w
    in the input's (H, W) map of the element it took (int64; ``max_unpool2d`` takes it)."""
    op = "max_pool2d"
    input, unbatched = batched(input, op)
    dilation = pair(dilation, "dilation", op)
    if min(dilation) < 1:
        raise ValueError(f"{op}: dilation must be positive, got {dilation}")
    kernel, stride, padding, _, extra = _pool_args(op, input, kernel_size, stride, padding,
                                                   ceil_mode, dilation)
    hw = tuple(input.shape[2:])
    x = input
    if any(extra):
        x = pad(input, (0, extra[1], 0, extra[0]), value=-float("inf"))
    fn = MaxPool2dFn if dilation == (1, 1) else DilatedMaxPool2dFn
    y = fn.apply(x, kernel=kernel, stride=stride, padding=padding,
                 valid_hw=hw if any(extra) else None, dilation=dilation)
    if not return_indices:
        return drop_batch(y, unbatched)
    indices = Tensor.wrap(_max_indices(x.array, y.array, kernel, stride, padding, dilation, hw))
    return drop_batch((y, indices), unbatched)


def _max_indices(x, y, kernel, stride, padding, dilation, hw):
    """int64 (N, C, Ho, Wo): flat index h * W + w (in the unpadded (H, W) input) of the
    element each window's maximum came from, by ``_first_hits``."""
    xp = backend.get_array_module(x)
    xpad = _padded(x, padding, -float("inf"))
    out_hw = y.shape[2:]
    slices = _offset_slices(kernel, stride, out_hw, dilation)
    inside = _inside_mask(xpad, padding, hw) if padding != (0, 0) and _has_neg_inf(y) else None
    index = xp.zeros(y.shape, dtype=xp.int64)
    base_rows = xp.arange(out_hw[0]) * stride[0] - padding[0]
    base_cols = xp.arange(out_hw[1]) * stride[1] - padding[1]
    offsets = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    for (i, j), hit in zip(offsets, _first_hits(xpad, y, slices, inside)):
        flat = ((base_rows + i * dilation[0])[:, None] * hw[1]
                + (base_cols + j * dilation[1])[None, :])
        index += hit * flat
    return index


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse placement of ``max_pool2d(..., return_indices=True)``: a zero (N, C, Ho,
    Wo) map with ``input``'s values at ``indices`` (flat h * Wo + w per (n, c) map).
    (Ho, Wo) = (H - 1) * stride - 2 * padding + kernel, or ``output_size`` (2 or 4 sizes,
    each strictly within stride of that).  Gradient: dy gathered at ``indices``."""
    op = "max_unpool2d"
    if input.ndim == 3:                  # unbatched (C, H, W), as torch
        idx = indices if isinstance(indices, Tensor) else Tensor(backend.as_array(indices))
        size = None if output_size is None else tuple(output_size)[-2:]
        return max_unpool2d(input.unsqueeze(0), idx.unsqueeze(0), kernel_size, stride,
                            padding, size).squeeze(0)
    if input.ndim != 4:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) (4-D) or (C, H, W), got "
                         f"shape {tuple(input.shape)}")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    requested = None
    if output_size is not None:
        requested = tuple(int(n) for n in output_size)
        requested = requested[2:] if len(requested) == 4 else requested
    size = unpool_size(op, input.shape[2:], kernel, stride, padding, requested, output_size)
    idx = indices.array if isinstance(indices, Tensor) else backend.as_array(indices)
    check_unpool_indices(op, idx, input.shape, size)
    return MaxUnpool2dFn.apply(input, indices=backend.to_device(idx, input.device),
                               out_hw=size)


def unpool_size(op, spatial, kernel, stride, padding, requested, output_size):
    """The output sizes of a max-unpooling over ``len(spatial)`` axes: ``(L - 1) * stride -
    2 * padding + kernel`` per axis, or ``requested`` (``output_size`` without its batch and
    channel entries), each strictly within ``stride`` of that."""
    dims = len(spatial)
    default = tuple((spatial[d] - 1) * stride[d] + kernel[d] - 2 * padding[d]
                    for d in range(dims))
    if requested is None:
        return default
    if len(requested) != dims:
        raise ValueError(f"{op}: output_size must have {dims} or {dims + 2} elements, got "
                         f"{tuple(output_size)}")
    for d in range(dims):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < requested[d] < hi:
            raise ValueError(f"{op}: invalid output_size {requested} (dim {d} must be between "
                             f"{lo} and {hi})")
    return requested


def check_unpool_indices(op, idx, input_shape, size):
    """A max-unpooling's indices: the input's shape, integers, within the output's
    ``prod(size)`` positions per (n, c)."""
    if tuple(idx.shape) != tuple(input_shape):
        raise ValueError(f"{op}: expected indices of the input's shape {tuple(input_shape)}, "
                         f"got {tuple(idx.shape)}")
    if not backend.is_integer_or_bool(idx.dtype) or idx.dtype == backend.dtype("bool"):
        raise TypeError(f"{op}: expected integer indices, got dtype {idx.dtype}")
    count = math.prod(size)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= count):
        kind = "map" if len(size) == 2 else "volume"
        raise IndexError(f"{op}: indices must lie in [0, {count}) for an output {kind} of "
                         f"{size}, got values in [{int(idx.min())}, {int(idx.max())}]")


class MaxUnpool2dFn(Function):
    """y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j] on a zero (Ho, Wo) map (a repeated
    index keeps the last value, as torch's loop); dL/dx = dy[n, c].flat[indices]."""

    @staticmethod
    def forward(ctx, x, indices=None, out_hw=(1, 1)):
        xp = backend.get_array_module(x)
        n, c = x.shape[:2]
        rows = xp.arange(n * c)[:, None]
        flat = indices.reshape(n * c, -1)
        ctx.where = (rows, flat)
        ctx.in_hw = x.shape[2:]
        y = xp.zeros((n * c, out_hw[0] * out_hw[1]), dtype=x.dtype)
        y[rows, flat] = x.reshape(n * c, -1)
        return y.reshape(n, c, *out_hw)

    @staticmethod
    def backward(ctx, dy):
        rows, flat = ctx.where
        n, c = dy.shape[:2]
        return dy.reshape(n * c, -1)[rows, flat].reshape(n, c, *ctx.in_hw)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling over (kh, kw) windows (zero padding counted in the divisor unless
    ``count_include_pad=False``; ``ceil_mode`` and ``divisor_override`` as the module
    docstring; torch's signature)."""
    input, unbatched = batched(input, "avg_pool2d")
    kernel, stride, padding, out_hw, extra = _pool_args("avg_pool2d", input, kernel_size,
                                                        stride, padding, ceil_mode)
    factor = None      # every divisor is kh * kw without the three options
    if divisor_override is not None or not count_include_pad or any(extra):
        factor = _avg_factors(backend.get_array_module(input), tuple(input.shape[2:]), kernel,
                              stride, padding, out_hw, count_include_pad, divisor_override,
                              input.dtype)
    if any(extra):
        input = pad(input, (0, extra[1], 0, extra[0]))
    y = AvgPool2dFn.apply(input, kernel=kernel, stride=stride, padding=padding)
    return drop_batch(y if factor is None else y * Tensor.wrap(factor), unbatched)


def adaptive_bins(xp, in_size, out_size):
    """torch's adaptive windows along one axis: output ``a`` covers input
    ``[start[a], end[a]) = [floor(a * in / out), ceil((a + 1) * in / out))`` (int arrays)."""
    a = xp.arange(out_size)
    return (a * in_size) // out_size, -((-(a + 1) * in_size) // out_size)


def adaptive_output_size(op, x, output_size):
    """(Ho, Wo) from an int or a pair (None keeps that side of ``x`` (N, C, H, W))."""
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    out = tuple(x.shape[2 + d] if output_size[d] is None else int(output_size[d])
                for d in range(2))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def _adaptive_matrix(xp, in_size, out_size, dtype):
    """(out, in) averaging matrix of torch's adaptive bins."""
    start, end = adaptive_bins(xp, in_size, out_size)
    cols = xp.arange(in_size)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return inside.astype(dtype) / (end - start)[:, None].astype(dtype)


def adaptive_avg_pool2d(input, output_size):
    """Average over torch's adaptive bins to reach ``output_size`` (int or pair; None keeps a
    side); input (N, C, H, W) or (C, H, W)."""
    op = "adaptive_avg_pool2d"
    input, unbatched = batched(input, op)
    h, w = input.shape[2], input.shape[3]
    ho, wo = adaptive_output_size(op, input, output_size)
    if h % ho == 0 and w % wo == 0:
        k = (h // ho, w // wo)
        y = AvgPool2dFn.apply(input, kernel=k, stride=k, padding=(0, 0))
    else:
        xp = backend.get_array_module(input)
        dt = input.dtype
        y = separable_linear(input, _adaptive_matrix(xp, h, ho, dt),
                             _adaptive_matrix(xp, w, wo, dt))
    return drop_batch(y, unbatched)
