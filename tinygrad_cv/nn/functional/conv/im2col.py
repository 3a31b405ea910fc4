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
"""
from __future__ import annotations

from .... import backend
from .layout import chunk_size, dilate_pad, flip_transpose, out_size


def im2col(xpad, kh, kw, stride, dilation, groups, ho, wo):
    """Per-sample columns (N, G, Cg*kh*kw, Ho*Wo) of the padded input: one strided view, one
    copy.  The GEMM ``w (G, Og, Cg*kh*kw) @ cols`` (batched over samples) then writes straight
    into the (N, O, Ho*Wo) output layout, with no transposed copy of the output."""
    n, c, _, _ = xpad.shape
    sn, sc, sh, sw = xpad.strides
    view = backend.as_strided(
        xpad, (n, c, kh, kw, ho, wo),
        (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))
    return view.reshape(n, groups, (c // groups) * kh * kw, ho * wo)


def conv_core(xpad, w, stride, dilation, groups, keep_cols=False):
    """Correlate an already padded input with ``w`` (O, Cg, kh, kw): y (N, O, Ho, Wo).

    Per batch chunk, one batched GEMM ``w (G, Og, Cg*kh*kw) @ cols (m, G, Cg*kh*kw, Ho*Wo)``
    written into the chunk's rows of y.  Returns ``(y, cols)``; ``cols`` is the im2col buffer
    when the batch fitted in one chunk and ``keep_cols`` is set (the weight gradient reuses
    it), else None.
    """
    xp = backend.get_array_module(xpad)
    n, c, hp, wp = xpad.shape
    o, cg, kh, kw = w.shape
    ho = out_size(hp, 0, kh, stride[0], dilation[0])
    wo = out_size(wp, 0, kw, stride[1], dilation[1])
    wmat = w.reshape(groups, o // groups, cg * kh * kw)
    y = xp.empty((n, o, ho, wo), dtype=xp.result_type(xpad, w))
    step = chunk_size(n, c * kh * kw * ho * wo * xpad.itemsize)
    cols = None
    for s in range(0, n, step):
        part = xpad[s:s + step]
        cols = im2col(part, kh, kw, stride, dilation, groups, ho, wo)
        xp.matmul(wmat, cols, out=y[s:s + step].reshape(part.shape[0], groups, o // groups, ho * wo))
    return y, (cols if keep_cols and step >= n else None)


def weight_grad(xpad, dy, kernel, stride, dilation, groups, cols=None):
    """dL/dw (O, Cg, kh, kw) = sum over samples of dy[n] (G, Og, Ho*Wo) @ cols[n]^T, the
    per-sample products batched in chunks (the (m, G, Og, Cg*kh*kw) partial products bounded
    by ``IM2COL_MAX_BYTES``) and summed; columns rebuilt per chunk when not given."""
    xp = backend.get_array_module(dy)
    n, o, ho, wo = dy.shape
    c = xpad.shape[1]
    kh, kw = kernel
    og, cg = o // groups, c // groups
    k = cg * kh * kw
    dy4 = dy.reshape(n, groups, og, ho * wo)
    per_sample = o * k if cols is not None else max(groups * k * ho * wo, o * k)
    step = chunk_size(n, per_sample * dy.itemsize)
    gw = xp.zeros((groups, og, k), dtype=dy.dtype)
    partial = None
    for s in range(0, n, step):
        m = min(step, n - s)
        chunk = (cols[s:s + m] if cols is not None
                 else im2col(xpad[s:s + m], kh, kw, stride, dilation, groups, ho, wo))
        if partial is None or partial.shape[0] != m:
            partial = xp.empty((m, groups, og, k), dtype=dy.dtype)
        xp.matmul(dy4[s:s + m], chunk.transpose(0, 1, 3, 2), out=partial)
        gw += partial.sum(axis=0)
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
    position (kh*kw adds), which is cropped."""
    xp = backend.get_array_module(dy)
    top, bottom, left, right = pads
    h, wd = out_hw
    n, o, ho, wo = dy.shape
    _, cg, kh, kw = w.shape
    c = cg * groups
    (sh, sw), (dh, dw) = stride, dilation
    wmat_t = w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
    dy4 = dy.reshape(n, groups, o // groups, ho * wo)
    acc = xp.zeros((n, c, h + top + bottom, wd + left + right), dtype=dy.dtype)
    step = chunk_size(n, c * kh * kw * ho * wo * dy.itemsize)
    for s in range(0, n, step):
        m = min(step, n - s)
        dcols = xp.matmul(wmat_t, dy4[s:s + m]).reshape(m, c, kh, kw, ho, wo)
        part = acc[s:s + m]
        for i in range(kh):
            for j in range(kw):
                part[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                     j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, :, i, j]
    return xp.ascontiguousarray(acc[:, :, top:top + h, left:left + wd])
