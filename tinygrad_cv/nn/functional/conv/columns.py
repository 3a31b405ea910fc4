"""Small maps: one GEMM per product over channels-last columns (groups 1).

For small feature maps (the 8x8 ... 2x2 maps of a diffusion UNet) the grid path computes a
padded grid several times the output (10x10 for 8x8, 4x4 for 2x2) with kh*kw GEMMs per
direction, and the im2col path runs one small GEMM per sample.  Here the padded input is
copied once into channels-last layout (N, Hp, Wp, C), its windows are gathered into one
column matrix (contiguous runs of C elements)::

    cols[(n, a, b), (i, j, c)] = xpad[n, a*s + i*d, b*s + j*d, c]     (N*Ho*Wo, kh*kw*C)

and every product is a single GEMM with ``Wmat[(i, j, c), o] = w[o, c, i, j]``::

    Y = cols @ Wmat (N*Ho*Wo, O),   dW = cols^T @ dY,   dcols = dY @ Wmat^T,

the input gradient being, at stride 1, the same column product of dY (padded by the kernel's
reach) with the flipped kernel, otherwise dcols added back at each kernel offset (kh*kw slab
additions into the channels-last padded gradient, then cropped).

Channels-last results: the GEMMs produce NHWC rows, so y (and dx) are returned as the
(N, O, Ho, Wo)-shaped *view* of the (N, Ho, Wo, O) buffer (torch's ``channels_last``: the
logical shape is NCHW, only the strides differ) -- no NCHW copy.  An input in that layout
(the previous convolution's output, or any elementwise result of it: NumPy ufuncs keep the
memory order) makes the padded channels-last copy a copy of contiguous rows, and a dy in that
layout makes ``dY`` (N*Ho*Wo, O) a free view.  Any other layout works too (one strided copy).

Threads.  Every pass runs on the intra-op threads (``threads.py``) with the samples split:
each thread builds and multiplies column chunks of at most ``layout.THREAD_CHUNK_BYTES`` in its
own scratch buffer (they stay in its cache), writes its samples' rows of y / dx, and the weight
gradient's sums over samples are one partial per thread added by the caller
(``layout.split_sum``).  With one thread (or small work, or CuPy) the same chunks run in turn.
"""
from __future__ import annotations

from .... import backend, threads
from ....autograd import buffers
from .layout import flip_transpose, gemm_work, split_sum, thread_chunk, work_buffer


def _copy_samples(dst, src, count):
    """dst[...] = src (both indexed by samples on axis 0), the samples split over the threads."""
    def part(start, stop):
        dst[start:stop] = src[start:stop]
    threads.for_ranges(part, count, dst.size, like=dst)


def _to_channels_last(x, pads):
    """x (N, C, H, W) -> a zero-padded (N, H + top + bottom, W + left + right, C) copy (a
    pooled buffer, ``autograd/buffers.py``; the samples split over the threads); without
    padding, a channels-last x itself (its free NHWC view)."""
    top, bottom, left, right = pads
    n, c, h, w = x.shape
    nhwc = x.transpose(0, 2, 3, 1)
    if not (top or bottom or left or right) and nhwc.flags.c_contiguous:
        return nhwc
    out = buffers.empty((n, h + top + bottom, w + left + right, c), x.dtype, x)

    def part(start, stop):
        mine = out[start:stop]
        if top or bottom or left or right:   # zero the border only, the interior is overwritten
            mine[:, :top] = 0
            mine[:, top + h:] = 0
            mine[:, top:top + h, :left] = 0
            mine[:, top:top + h, left + w:] = 0
        mine[:, top:top + h, left:left + w] = nhwc[start:stop]
    threads.for_ranges(part, n, out.size, like=x)
    return out


def _hwc_columns(xpad, kernel, stride, dilation, out_hw, slot=0):
    """(N*Ho*Wo, kh*kw*C) windows of a channels-last padded input: one strided view copied
    into the calling thread's work buffer ``slot`` (``layout.work_buffer``: valid until the
    thread asks for that slot again); a 1x1 kernel at stride 1 gives a view."""
    n, _, _, c = xpad.shape
    sn, sh, sw, sc = xpad.strides
    (kh, kw), (ho, wo) = kernel, out_hw
    view = backend.as_strided(xpad, (n, ho, wo, kh, kw, c),
                              (sn, sh * stride[0], sw * stride[1], sh * dilation[0],
                               sw * dilation[1], sc))
    if (kh, kw) == (1, 1) and tuple(stride) == (1, 1) and xpad.flags.c_contiguous:
        return view.reshape(n * ho * wo, c)
    cols = work_buffer((n * ho * wo, kh * kw * c), xpad.dtype, xpad, slot)
    cols.reshape(view.shape)[...] = view
    return cols


def _hwc_weight(w):
    """(O, C, kh, kw) -> Wmat (kh*kw*C, O), rows ordered (i, j, c) like the columns."""
    o, c, kh, kw = w.shape
    return w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)


def _columns_times(xpad, wmat, kernel, stride, dilation, out_hw, bias=None):
    """cols(xpad) @ wmat (+ bias) (N*Ho*Wo, wmat.shape[1]), the columns built per chunk of
    samples: the samples split over the intra-op threads (``threads.py``), each thread
    building and multiplying chunks of at most ``layout.THREAD_CHUNK_BYTES`` of columns (they
    stay in its cache) and adding the bias to its rows while they are in the cache."""
    xp = backend.get_array_module(xpad)
    n = xpad.shape[0]
    rows = out_hw[0] * out_hw[1]
    out = buffers.empty((n * rows, wmat.shape[1]), xp.result_type(xpad, wmat), xpad)
    step = thread_chunk(rows * kernel[0] * kernel[1] * xpad.shape[3] * xpad.itemsize)

    def part(start, stop):
        for s in range(start, stop, step):
            e = min(s + step, stop)
            cols = _hwc_columns(xpad[s:e], kernel, stride, dilation, out_hw)
            mine = out[s * rows:e * rows]
            xp.matmul(cols, wmat, out=mine)
            if bias is not None:
                mine += bias

    threads.for_ranges(part, n, gemm_work(n * rows * wmat.shape[0] * wmat.shape[1]), like=xpad)
    return out


def channels_last_view(y2, n, out_hw):
    """(N*Ho*Wo, O) rows -> their (N, O, Ho, Wo) view with channels-last strides (no copy)."""
    return y2.reshape(n, out_hw[0], out_hw[1], y2.shape[1]).transpose(0, 3, 1, 2)


def nhwc_rows(a):
    """(N, C, H, W) -> (N*H*W, C) rows (a view when ``a`` is channels-last, else one copy,
    the samples split over the threads)."""
    n, c, h, w = a.shape
    nhwc = a.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous:
        return nhwc.reshape(n * h * w, c)
    out = buffers.empty((n, h, w, c), a.dtype, a)
    _copy_samples(out, nhwc, n)
    return out.reshape(n * h * w, c)


def columns_forward(x, w, b, stride, pads, dilation, out_hw):
    """y (N, O, Ho, Wo), channels-last strides, and the channels-last padded input (kept for
    the backward)."""
    xpad = _to_channels_last(x, pads)
    y2 = _columns_times(xpad, _hwc_weight(w), w.shape[2:], stride, dilation, out_hw, bias=b)
    return channels_last_view(y2, x.shape[0], out_hw), xpad


def columns_backward(ctx, dy, xpad, w, stride, pads, dilation, in_hw):
    """(dx, dw, db) of the column path from dy (N, O, Ho, Wo), any strides; dx has
    channels-last strides."""
    needs = ctx.needs_input_grad
    n, o, ho, wo = dy.shape
    _, c, kh, kw = w.shape
    gx = gw = gb = None
    full = _full_correlation_pads(w.shape[2:], dilation, pads)
    correlation = tuple(stride) == (1, 1) and min(full) >= 0
    need_bias = len(needs) > 2 and needs[2]
    shared = needs[0] and needs[1] and correlation
    dy2 = nhwc_rows(dy) if (need_bias or needs[1] and not shared
                            or needs[0] and not correlation) else None
    if shared:
        gx, gw = _shared_columns_backward(dy, xpad, w, pads, full, dilation, in_hw)
    else:
        if needs[1]:
            gw2 = _columns_weight_grad(xpad, dy2, (kh, kw), stride, dilation, (ho, wo))
            gw = gw2.reshape(kh, kw, c, o).transpose(3, 2, 0, 1).copy()
        if needs[0] and correlation:
            # the correlation of dy (padded by the kernel's reach) with the flipped kernel
            gx2 = _columns_times(_to_channels_last(dy, full), _hwc_weight(flip_transpose(w, 1)),
                                 (kh, kw), (1, 1), dilation, in_hw)
            gx = channels_last_view(gx2, n, in_hw)
        elif needs[0]:
            gx = _columns_col2im(dy2, w, xpad.shape, stride, pads, dilation, in_hw, (ho, wo))
    if need_bias:
        gb = _rows_sum(dy2)
    return gx, gw, gb


def _rows_sum(a2):
    """The column sums (O,) of (M, O) rows, the rows split over the threads."""
    def part(start, stop, out):
        a2[start:stop].sum(axis=0, out=out)
    return split_sum(part, a2.shape[0], a2.size, a2.shape[1:], a2.dtype, a2)


def _columns_weight_grad(xpad, dy2, kernel, stride, dilation, out_hw):
    """G = cols^T @ dY (kh*kw*C, O), rows (i, j, c): per thread over its samples, its column
    chunks (scratch) multiplied into its partial (added by ``split_sum``)."""
    xp = backend.get_array_module(dy2)
    n, _, _, c = xpad.shape
    rows = out_hw[0] * out_hw[1]
    k, o = kernel[0] * kernel[1] * c, dy2.shape[1]
    step = thread_chunk(rows * k * xpad.itemsize)

    def factors(s, e):
        return _hwc_columns(xpad[s:e], kernel, stride, dilation, out_hw).T, dy2[s * rows:e * rows]

    return split_sum(lambda start, stop, g: _sum_of_products(g, start, stop, step, factors), n,
                     gemm_work(n * rows * k * o), (k, o), xp.result_type(xpad, dy2), dy2)


def _sum_of_products(g, start, stop, step, factors):
    """g = sum over the chunks [s, e) of [start, stop) (``step`` samples each) of a @ b, with
    (a, b) = factors(s, e): the first product written into g, the others added in place (BLAS
    beta = 1); zeros for an empty range."""
    if start == stop:
        g[...] = 0
    for s in range(start, stop, step):
        a, b = factors(s, min(s + step, stop))
        if s == start:
            backend.get_array_module(g).matmul(a, b, out=g)
        else:
            backend.matmul_accumulate(a, b, g)


def _shared_columns_backward(dy, xpad, w, pads, full, dilation, in_hw):
    """(dx, dw) at stride 1 from ONE column build per chunk: the columns of dy padded by the
    kernel's reach (``full``), ``dcols[(n, p, q), (i, j, o)] = dypad[n, p + d i, q + d j, o]``
    over the input's H*W positions, give both products::

        dX = dcols @ Wflip               (Wflip[(i, j, o), c] = w[o, c, kh-1-i, kw-1-j])
        G  = dcols^T @ X                 (X: the (N*H*W, C) rows of the unpadded input)
        dW[o, c, kh-1-i, kw-1-j] = G[(i, j, o), c]

    (dW[o, c, i', j'] = sum dy[n, a, b, o] x[n, a + d i' - top, b + d j' - left, c]; with
    p = a + d i' - top the dy index is p + d (kh-1-i') - (d (kh-1) - top), the column's.)
    This replaces the rebuild of the input's columns for dW by a copy of the input.  Each
    thread takes a range of samples: its dX rows written in place, its G a partial."""
    xp = backend.get_array_module(dy)
    n = dy.shape[0]
    o, c, kh, kw = w.shape
    top, _, left, _ = pads
    h, wd = in_hw
    rows = h * wd
    k = kh * kw * o
    dypad = _to_channels_last(dy, full)
    wflip = _hwc_weight(flip_transpose(w, 1))
    interior = xpad[:, top:top + h, left:left + wd]
    x_is_rows = interior.flags.c_contiguous
    gx2 = buffers.empty((n * rows, c), xp.result_type(dy, w), dy)
    step = thread_chunk(rows * k * dy.itemsize)

    def factors(s, e):   # dX's rows of the chunk on the way, then G's factors
        cols = _hwc_columns(dypad[s:e], (kh, kw), (1, 1), dilation, in_hw)
        xp.matmul(cols, wflip, out=gx2[s * rows:e * rows])
        if x_is_rows:
            return cols.T, interior[s:e].reshape((e - s) * rows, c)
        x_rows = work_buffer(((e - s) * rows, c), xpad.dtype, xpad, slot=1)
        x_rows.reshape(e - s, h, wd, c)[...] = interior[s:e]
        return cols.T, x_rows

    g = split_sum(lambda start, stop, g: _sum_of_products(g, start, stop, step, factors), n,
                  gemm_work(2 * n * rows * k * c), (k, c), xp.result_type(dy, xpad), dy)
    gw = g.reshape(kh, kw, o, c)[::-1, ::-1].transpose(2, 3, 0, 1).copy()
    return channels_last_view(gx2, n, in_hw), gw


def _full_correlation_pads(kernel, dilation, pads):
    """Padding of dy for the stride-1 input gradient as a correlation with the flipped kernel:
    ``d * (k - 1) - pad`` on each side (negative when the forward padding exceeds the reach)."""
    (kh, kw), (dh, dw) = kernel, dilation
    top, bottom, left, right = pads
    return dh * (kh - 1) - top, dh * (kh - 1) - bottom, dw * (kw - 1) - left, dw * (kw - 1) - right


def _columns_col2im(dy2, w, padded_shape, stride, pads, dilation, in_hw, out_hw):
    """dL/dx of the column path for strides > 1 (or a forward padding beyond the kernel's
    reach), returned with channels-last strides: per thread over its samples, per chunk
    ``dcols = dY @ Wmat^T`` (scratch) is added back at each kernel offset's strided position
    of the chunk's channels-last padded gradient (scratch), whose interior is copied out."""
    xp = backend.get_array_module(dy2)
    n, hp, wp, c = padded_shape
    _, _, kh, kw = w.shape
    ho, wo = out_hw
    top, _, left, _ = pads
    h, wd = in_hw
    wmat_t = _hwc_weight(w).T
    gx = buffers.empty((n, h, wd, c), dy2.dtype, dy2)
    (sh, sw), (dh, dw) = stride, dilation
    step = thread_chunk(ho * wo * kh * kw * c * dy2.itemsize)

    def part(start, stop):
        for s in range(start, stop, step):
            e = min(s + step, stop)
            dcols = work_buffer(((e - s) * ho * wo, kh * kw * c), dy2.dtype, dy2, slot=0)
            xp.matmul(dy2[s * ho * wo:e * ho * wo], wmat_t, out=dcols)
            dcols = dcols.reshape(e - s, ho, wo, kh, kw, c)
            gpad = work_buffer((e - s, hp, wp, c), dy2.dtype, dy2, slot=1)
            gpad[...] = 0
            for i in range(kh):
                for j in range(kw):
                    gpad[:, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                         j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, :, :, i, j]
            gx[s:e] = gpad[:, top:top + h, left:left + wd]

    threads.for_ranges(part, n, gemm_work(n * ho * wo * kh * kw * c * dy2.shape[1]), like=dy2)
    return gx.transpose(0, 3, 1, 2)
