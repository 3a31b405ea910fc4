"""The general algorithm: per-sample im2col columns and batched GEMMs (any stride, dilation,
padding, groups).

Forward (cross-correlation, the kernel is not flipped)::

    y[n, o, a, b] = sum_{c, i, j} w[o, c, i, j] * xpad[n, c, a*s + i*d, b*s + j*d]

computed as per-sample columns ``cols = im2col(xpad)`` of shape (N, G, Cg*kh*kw, Ho*Wo) (one
strided view, one copy) and one batched GEMM ``w.reshape(G, Og, Cg*kh*kw) @ cols`` that writes
the (N, O, Ho*Wo) output directly (no transposed copy).

Backward:

* ``dL/dw = sum_n dy[n] (G, Og, Ho*Wo) @ cols[n]^T`` -- batched GEMMs summed over the
  samples, reusing the forward's columns (dy is read in its own layout, no transposed copy);
* ``dL/dx`` is the full correlation of ``dy`` with the flipped, channel-transposed kernel
  (``input_grad_by_correlation``): ``dy`` is dilated by the stride (``stride - 1`` zeros
  between elements), padded by ``dilation * (k - 1)`` on each side (plus the rows/columns the
  forward never reached) less the forward padding (a negative amount crops), and correlated at
  stride 1, so the GEMM computes exactly the (H, W) input positions.  Or, by col2im
  (``input_grad_by_col2im``), the column gradients ``W^T dy[n]`` (C*kh*kw rows instead of
  O*kh*kw) added back at each kernel offset's strided position (kh*kw slab additions);
* ``dL/db = sum of dy over (N, Ho, Wo)``.

Column buffers are bounded by ``layout.IM2COL_MAX_BYTES`` (larger batches go in chunks).

Threads (``threads.py``): every pass splits the samples; each thread builds and multiplies its
columns in chunks of ``layout.THREAD_CHUNK_BYTES`` in its scratch (or in the batch's kept column
buffer), the weight gradient's sum over samples is one partial per thread added by the caller
(``layout.split_sum``), and col2im adds each chunk's column gradients into a padded chunk of
its own before copying the chunk's interior out.
"""
from __future__ import annotations

from .... import backend, threads
from ....autograd import buffers
from .layout import (chunk_size, dilate_pad, flip_transpose, gemm_work, out_size, split_sum,
                     thread_chunk, work_buffer)


def im2col(xpad, kh, kw, stride, dilation, groups, ho, wo, out=None):
    """Per-sample columns (N, G, Cg*kh*kw, Ho*Wo) of the padded input: one strided view, one
    copy (into ``out`` when given, else the calling thread's ``layout.work_buffer``, valid
    until it asks for the same slot again).  The GEMM ``w (G, Og, Cg*kh*kw) @ cols`` (batched
    over samples) then writes straight into the (N, O, Ho*Wo) output layout, with no
    transposed copy of the output."""
    n, c, _, _ = xpad.shape
    sn, sc, sh, sw = xpad.strides
    view = backend.as_strided(
        xpad, (n, c, kh, kw, ho, wo),
        (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))
    shape = (n, groups, (c // groups) * kh * kw, ho * wo)
    if out is None:
        out = work_buffer(shape, xpad.dtype, xpad, slot=3)
    out.reshape(view.shape)[...] = view
    return out


def conv_core(xpad, w, stride, dilation, groups, keep_cols=False, bias=None):
    """Correlate an already padded input with ``w`` (O, Cg, kh, kw): y (N, O, Ho, Wo), plus
    ``bias`` (O,) when given (added to each chunk's rows while they are in the cache).

    Per batch chunk, one batched GEMM ``w (G, Og, Cg*kh*kw) @ cols (m, G, Cg*kh*kw, Ho*Wo)``
    written into the chunk's rows of y.  Returns ``(y, cols)``; ``cols`` is the im2col buffer
    when the batch fitted in one chunk and ``keep_cols`` is set (the weight gradient reuses
    it), else None.  The samples split over the threads, each thread's in chunks of
    ``layout.THREAD_CHUNK_BYTES`` of columns (in its scratch, or in the kept buffer).
    """
    xp = backend.get_array_module(xpad)
    n, c, hp, wp = xpad.shape
    o, cg, kh, kw = w.shape
    ho = out_size(hp, 0, kh, stride[0], dilation[0])
    wo = out_size(wp, 0, kw, stride[1], dilation[1])
    wmat = w.reshape(groups, o // groups, cg * kh * kw)
    y = xp.empty((n, o, ho, wo), dtype=xp.result_type(xpad, w))
    y4 = y.reshape(n, groups, o // groups, ho * wo)
    per_sample = c * kh * kw * ho * wo * xpad.itemsize
    kept = None
    if keep_cols and chunk_size(n, per_sample) >= n:
        kept = buffers.empty((n, groups, cg * kh * kw, ho * wo), xpad.dtype, xpad)
    step = min(chunk_size(n, per_sample), thread_chunk(per_sample))
    b3 = None if bias is None else bias.reshape(groups, o // groups, 1)

    def part(start, stop):
        for s in range(start, stop, step):
            e = min(s + step, stop)
            cols = im2col(xpad[s:e], kh, kw, stride, dilation, groups, ho, wo,
                          out=None if kept is None else kept[s:e])
            xp.matmul(wmat, cols, out=y4[s:e])
            if b3 is not None:
                y4[s:e] += b3

    threads.for_ranges(part, n, gemm_work(n * o * cg * kh * kw * ho * wo), like=xpad)
    return y, kept


def weight_grad(xpad, dy, kernel, stride, dilation, groups, cols=None):
    """dL/dw (O, Cg, kh, kw) = sum over samples of dy[n] (G, Og, Ho*Wo) @ cols[n]^T, the
    per-sample products batched in chunks (the (m, G, Og, Cg*kh*kw) partial products bounded
    by ``IM2COL_MAX_BYTES`` and, per thread, ``THREAD_CHUNK_BYTES``) and summed; columns rebuilt
    per chunk when not given.  The samples split over the threads, one partial sum each."""
    xp = backend.get_array_module(dy)
    n, o, ho, wo = dy.shape
    c = xpad.shape[1]
    kh, kw = kernel
    og, cg = o // groups, c // groups
    k = cg * kh * kw
    dy4 = dy.reshape(n, groups, og, ho * wo)
    per_sample = (o * k if cols is not None else max(groups * k * ho * wo, o * k)) * dy.itemsize
    step = min(chunk_size(n, per_sample), thread_chunk(per_sample))

    def part(start, stop, gw):
        gw[...] = 0
        for s in range(start, stop, step):
            e = min(s + step, stop)
            chunk = (cols[s:e] if cols is not None
                     else im2col(xpad[s:e], kh, kw, stride, dilation, groups, ho, wo))
            partial = work_buffer((e - s, groups, og, k), dy.dtype, dy, slot=4)
            xp.matmul(dy4[s:e], chunk.transpose(0, 1, 3, 2), out=partial)
            gw += partial.sum(axis=0)

    gw = split_sum(part, n, gemm_work(n * o * k * ho * wo), (groups, og, k), dy.dtype, dy)
    return gw.reshape(o, cg, kh, kw)


def input_grad_by_correlation(dy, w, stride, dilation, groups, pads, out_hw):
    """The full correlation of the stride-dilated ``dy`` with the flipped kernel, cropped by
    the forward padding; the crop is folded into the padding of ``dy`` (a negative amount
    crops), so the GEMM computes exactly the (H, W) positions that are kept."""
    top, bottom, left, right = pads
    h, wd = out_hw
    _, _, ho, wo = dy.shape
    _, _, kh, kw = w.shape
    eh, ew = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
    # rows/columns of the padded input past the last window (never reached by the forward)
    unreached_h = h + top + bottom - eh - (ho - 1) * stride[0] - 1
    unreached_w = wd + left + right - ew - (wo - 1) * stride[1] - 1
    e = dilate_pad(dy, stride, eh - top, eh + unreached_h - bottom,
                    ew - left, ew + unreached_w - right)
    wt = backend.get_array_module(w).ascontiguousarray(flip_transpose(w, groups))
    return conv_core(e, wt, (1, 1), dilation, groups)[0]


def input_grad_by_col2im(dy, w, stride, dilation, groups, pads, out_hw):
    """The transpose of im2col: per-sample column gradients ``W^T dy[n]`` (G, Cg*kh*kw, Ho*Wo),
    one batched GEMM per batch chunk reading dy in its own (N, O, Ho*Wo) layout, then each
    kernel offset's (m, C, Ho, Wo) slab is added into the padded input gradient at its strided
    position (kh*kw adds), which is cropped.  The samples split over the threads; each
    thread's chunks (``THREAD_CHUNK_BYTES`` of column gradients) and their padded gradient
    live in its scratch, and the chunk's interior is copied into the result."""
    xp = backend.get_array_module(dy)
    top, bottom, left, right = pads
    h, wd = out_hw
    n, o, ho, wo = dy.shape
    _, cg, kh, kw = w.shape
    c = cg * groups
    (sh, sw), (dh, dw) = stride, dilation
    hp, wp = h + top + bottom, wd + left + right
    wmat_t = w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
    dy4 = dy.reshape(n, groups, o // groups, ho * wo)
    gx = xp.empty((n, c, h, wd), dtype=dy.dtype)
    per_sample = c * kh * kw * ho * wo * dy.itemsize
    step = min(chunk_size(n, per_sample), thread_chunk(per_sample))

    def part(start, stop):
        for s in range(start, stop, step):
            m = min(s + step, stop) - s
            dcols = work_buffer((m, groups, cg * kh * kw, ho * wo), dy.dtype, dy, slot=3)
            xp.matmul(wmat_t, dy4[s:s + m], out=dcols)
            dcols = dcols.reshape(m, c, kh, kw, ho, wo)
            acc = work_buffer((m, c, hp, wp), dy.dtype, dy, slot=4)
            acc[...] = 0
            for i in range(kh):
                for j in range(kw):
                    acc[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                        j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, :, i, j]
            gx[s:s + m] = acc[:, :, top:top + h, left:left + wd]

    threads.for_ranges(part, n, gemm_work(n * c * kh * kw * ho * wo * (o // groups)), like=dy)
    return gx
