"""2-D convolution and transposed convolution as GEMMs over strided im2col views.

Shapes (``G`` groups, ``Cg = C / G``, ``Og = O / G``)::

    x: (N, C, H, W)    w: (O, Cg, kh, kw)    y: (N, O, Ho, Wo)
    Ho = (H + pad_top + pad_bottom - dilation * (kh - 1) - 1) // stride + 1

Forward (cross-correlation, the kernel is not flipped)::

    y[n, o, a, b] = b[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, c, a*s + i*d, b*s + j*d]

computed as per-sample columns ``cols = im2col(xpad)`` of shape (N, G, Cg*kh*kw, Ho*Wo) (one
strided view, one copy) and one batched GEMM ``w.reshape(G, Og, Cg*kh*kw) @ cols`` that writes
the (N, O, Ho*Wo) output directly (no transposed copy).

Backward:

* ``dL/dw = sum_n dy[n] (G, Og, Ho*Wo) @ cols[n]^T`` -- batched GEMMs summed over the
  samples, reusing the forward's columns (dy is read in its own layout, no transposed copy);
* ``dL/dx`` is the full correlation of ``dy`` with the flipped, channel-transposed kernel:
  ``dy`` is dilated by the stride (``stride - 1`` zeros between elements), padded by
  ``dilation * (k - 1)`` on each side (plus the rows/columns the forward never reached) less
  the forward padding (a negative amount crops), and correlated at stride 1, so the GEMM
  computes exactly the (H, W) input positions.  When O > C the column gradients
  ``W^T dy[n]`` (C*kh*kw rows instead of O*kh*kw) are computed instead and added back at each
  kernel offset's strided position (col2im, kh*kw slab additions);
* ``dL/db = sum of dy over (N, Ho, Wo)``.

The transposed convolution's forward is exactly that input-gradient computation and its
backward is the convolution forward, so both layers share the same two kernels.  The im2col
buffer is bounded by ``IM2COL_MAX_BYTES``: larger batches are processed in chunks of samples.

Conv2d picks one of three paths: output maps of at most ``SMALL_MAP_MAX_POSITIONS`` positions
(groups 1) use channels-last columns and one GEMM per product (see "small maps" below); other
stride-1 convolutions with enough channels the implicit GEMM on the padded grid; the rest the
per-sample im2col above.
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function

IM2COL_MAX_BYTES = 1 << 25  # 32 MiB per im2col chunk


def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"conv2d: {name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _out_size(size, pad_total, k, stride, dilation):
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


def _pad_hw(x, top, bottom, left, right):
    """Zero-pad the last two axes (negative amounts crop; cropping alone is a view)."""
    if top == bottom == left == right == 0:
        return x
    n, c, h, w = x.shape
    src = x[:, :, max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    if max(top, bottom, left, right) <= 0:
        return src
    xp = backend.get_array_module(x)
    out = xp.zeros((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    out[:, :, max(top, 0):max(top, 0) + src.shape[2], max(left, 0):max(left, 0) + src.shape[3]] = src
    return out


def _dilate_pad(dy, stride, top, bottom, left, right):
    """Insert ``stride - 1`` zeros between elements of the last two axes, then pad (negative
    amounts crop)."""
    sh, sw = stride
    if sh == sw == 1:
        return _pad_hw(dy, top, bottom, left, right)
    xp = backend.get_array_module(dy)
    n, c, h, w = dy.shape
    hd, wd = (h - 1) * sh + 1, (w - 1) * sw + 1
    t, l = max(top, 0), max(left, 0)
    out = xp.zeros((n, c, hd + t + max(bottom, 0), wd + l + max(right, 0)), dtype=dy.dtype)
    out[:, :, t:t + hd:sh, l:l + wd:sw] = dy
    return out[:, :, max(-top, 0):out.shape[2] - max(-bottom, 0),
               max(-left, 0):out.shape[3] - max(-right, 0)]


def _im2col(xpad, kh, kw, stride, dilation, groups, ho, wo):
    """Per-sample columns (N, G, Cg*kh*kw, Ho*Wo) of the padded input: one strided view, one
    copy.  The GEMM ``w (G, Og, Cg*kh*kw) @ cols`` (batched over samples) then writes straight
    into the (N, O, Ho*Wo) output layout, with no transposed copy of the output."""
    n, c, _, _ = xpad.shape
    sn, sc, sh, sw = xpad.strides
    view = backend.as_strided(
        xpad, (n, c, kh, kw, ho, wo),
        (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))
    return view.reshape(n, groups, (c // groups) * kh * kw, ho * wo)


def _chunk_size(n, per_sample_bytes):
    return max(1, min(n, IM2COL_MAX_BYTES // max(per_sample_bytes, 1)))


def _conv_core(xpad, w, stride, dilation, groups, keep_cols=False):
    """Correlate an already padded input with ``w`` (O, Cg, kh, kw): y (N, O, Ho, Wo).

    Per batch chunk, one batched GEMM ``w (G, Og, Cg*kh*kw) @ cols (m, G, Cg*kh*kw, Ho*Wo)``
    written into the chunk's rows of y.  Returns ``(y, cols)``; ``cols`` is the im2col buffer
    when the batch fitted in one chunk and ``keep_cols`` is set (the weight gradient reuses
    it), else None.
    """
    xp = backend.get_array_module(xpad)
    n, c, hp, wp = xpad.shape
    o, cg, kh, kw = w.shape
    ho = _out_size(hp, 0, kh, stride[0], dilation[0])
    wo = _out_size(wp, 0, kw, stride[1], dilation[1])
    wmat = w.reshape(groups, o // groups, cg * kh * kw)
    y = xp.empty((n, o, ho, wo), dtype=xp.result_type(xpad, w))
    step = _chunk_size(n, c * kh * kw * ho * wo * xpad.itemsize)
    cols = None
    for s in range(0, n, step):
        part = xpad[s:s + step]
        cols = _im2col(part, kh, kw, stride, dilation, groups, ho, wo)
        xp.matmul(wmat, cols, out=y[s:s + step].reshape(part.shape[0], groups, o // groups, ho * wo))
    return y, (cols if keep_cols and step >= n else None)


def _weight_grad(xpad, dy, kernel, stride, dilation, groups, cols=None):
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
    step = _chunk_size(n, per_sample * dy.itemsize)
    gw = xp.zeros((groups, og, k), dtype=dy.dtype)
    partial = None
    for s in range(0, n, step):
        m = min(step, n - s)
        chunk = (cols[s:s + m] if cols is not None
                 else _im2col(xpad[s:s + m], kh, kw, stride, dilation, groups, ho, wo))
        if partial is None or partial.shape[0] != m:
            partial = xp.empty((m, groups, og, k), dtype=dy.dtype)
        xp.matmul(dy4[s:s + m], chunk.transpose(0, 1, 3, 2), out=partial)
        gw += partial.sum(axis=0)
    return gw.reshape(o, cg, kh, kw)


def _flip_transpose(w, groups):
    """(O, Cg, kh, kw) -> (C, Og, kh, kw) with both spatial axes reversed, per group."""
    o, cg, kh, kw = w.shape
    og = o // groups
    wt = w.reshape(groups, og, cg, kh, kw).transpose(0, 2, 1, 3, 4).reshape(groups * cg, og, kh, kw)
    return wt[:, :, ::-1, ::-1]


def _input_grad(dy, w, stride, dilation, groups, pads, out_hw):
    """dL/dx (N, C, H, W) of a convolution of x (spatial size ``out_hw``) padded by ``pads``,
    at stride 1 on the grid (``_grid_input_grad``), otherwise by whichever method has the
    smaller column buffer: ``_input_grad_by_correlation`` builds O*kh*kw rows of columns from
    dy, ``_input_grad_by_col2im`` C*kh*kw rows of column gradients."""
    out_channels, in_channels = w.shape[0], w.shape[1] * groups
    n = dy.shape[0]
    hp, wp = out_hw[0] + pads[0] + pads[1], out_hw[1] + pads[2] + pads[3]
    if _use_grid((n, max(out_channels, in_channels), hp, wp), dy.itemsize, w.shape[2:], stride,
                 dilation, min(out_channels, in_channels) // groups):
        dyg = _grid_output(dy, groups, (hp, wp), w.shape[2:], dilation)
        return _grid_input_grad(dyg, w, groups, pads, out_hw, n, dilation)
    if out_channels > in_channels:
        return _input_grad_by_col2im(dy, w, stride, dilation, groups, pads, out_hw)
    return _input_grad_by_correlation(dy, w, stride, dilation, groups, pads, out_hw)


def _input_grad_by_correlation(dy, w, stride, dilation, groups, pads, out_hw):
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
    e = _dilate_pad(dy, stride, eh - top, eh + unreached_h - bottom,
                    ew - left, ew + unreached_w - right)
    wt = backend.get_array_module(w).ascontiguousarray(_flip_transpose(w, groups))
    return _conv_core(e, wt, (1, 1), dilation, groups)[0]


def _input_grad_by_col2im(dy, w, stride, dilation, groups, pads, out_hw):
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
    step = _chunk_size(n, c * kh * kw * ho * wo * dy.itemsize)
    for s in range(0, n, step):
        m = min(step, n - s)
        dcols = xp.matmul(wmat_t, dy4[s:s + m]).reshape(m, c, kh, kw, ho, wo)
        part = acc[s:s + m]
        for i in range(kh):
            for j in range(kw):
                part[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                     j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, :, i, j]
    return xp.ascontiguousarray(acc[:, :, top:top + h, left:left + wd])


# ---- implicit GEMM on the padded grid (stride 1) ---------------------------------------------
# The padded input in channels-last layout, flattened over (n, row, col), is a matrix X of
# R = N*Hp*Wp rows, one per padded-grid position (per group: (G, rows, Cg), zero rows after).
# At stride 1 the output at grid position r (its window's top-left corner) is
#     Y[r] = sum_{i, j} X[r + i*dh*Wp + j*dw] @ W_ij^T,
# a sum of CONTIGUOUS row slices of X; the positions whose window leaves the image are
# computed and cropped, no column buffer is built.  When dw = 1 the kw column taps of a kernel
# row i are adjacent rows of X, so for the output rows ``r = run*q + p`` of one phase p
# (run = kw) the taps of row i read X as a plain (R/run, kw*Cg) matrix whose row stride equals
# its width (a strided view BLAS takes as it is):
#     Y[p::run] = sum_i X_{i,p} @ Wmat_i,   X_{i,p}[q] = X[i*dh*Wp + p + run*q : ... + run]
# -- kh*kw GEMMs with K = kw*Cg (kh*kw GEMMs with K = Cg when dw > 1: run = 1).
# Backward on the same grid: dy is scattered into a zero grid dY (the cropped rows stay zero),
#     dW_i = sum_p X_{i,p}^T @ dY[p::run]   (the long inner dimension is the grid),
#     dX   = the same correlation of dY (led by as many zero rows as the farthest tap reaches)
#            with the flipped, channel-transposed kernel, cropped to the input.
# Work buffers are allocated per call (``_work_buffer``); nothing is cached between calls, so
# concurrent calls from several threads never share memory.


def _work_buffer(xp, shape, dtype, zeroed=False):
    """A fresh work buffer (zero-filled when the caller relies on unwritten positions)."""
    return (xp.zeros if zeroed else xp.empty)(shape, dtype=dtype)


def _grid_plan(n, hp, wp, kernel, dilation):
    """(offsets, run, per_phase, rows): the row offsets of the tap groups (kernel rows when
    dw = 1, else every tap), the phase run (taps per group), the GEMM rows per phase, and the
    rows a grid needs past its largest offset (the farthest tap is ``offsets[-1] + run - 1``
    rows ahead)."""
    (kh, kw), (dh, dw) = kernel, dilation
    if dw == 1:
        offsets, run = [i * dh * wp for i in range(kh)], kw
    else:
        offsets, run = [i * dh * wp + j * dw for i in range(kh) for j in range(kw)], 1
    per_phase = -(-n * hp * wp // run)
    return offsets, run, per_phase, per_phase * run + run - 1


def _to_grid(x, groups, pads, lead, rows):
    """x (N, C, H, W) -> a zero grid (G, rows, Cg) holding x at grid rows
    ``lead + (n*Hp + top + a)*Wp + left + b`` of the (Hp, Wp) = (H + top + bottom,
    W + left + right) grid."""
    xp = backend.get_array_module(x)
    top, bottom, left, right = pads
    n, c, h, w = x.shape
    hp, wp, cg = h + top + bottom, w + left + right, c // groups
    # only the interior is written: the padding rows of the zeroed buffer stay zero
    buf = _work_buffer(xp, (groups, rows, cg), x.dtype, zeroed=True)
    view = buf[:, lead:lead + n * hp * wp].reshape(groups, n, hp, wp, cg)
    view[:, :, top:top + h, left:left + w] = x.reshape(n, groups, cg, h, w).transpose(1, 0, 3, 4, 2)
    return buf


def _from_grid(out, n, hp, wp, top, left, h, w):
    """Grid rows (G, >= N*Hp*Wp, Og) -> a new (N, G*Og, h, w) from rows/cols
    [top:top+h, left:left+w]."""
    xp = backend.get_array_module(out)
    g, _, og = out.shape
    view = out[:, :n * hp * wp].reshape(g, n, hp, wp, og)[:, :, top:top + h, left:left + w]
    result = xp.empty((n, g, og, h, w), dtype=out.dtype)  # a fresh array, not a view of the work buffer
    result[...] = view.transpose(1, 0, 4, 2, 3)
    return result.reshape(n, g * og, h, w)


def _tap_matrix(grid, g, start, width, per_phase):
    """``per_phase`` rows of ``width`` elements, row q starting at grid row ``start + run*q``
    (run*Cg = width elements apart): a strided view whose row stride equals its width."""
    item = grid.itemsize
    return backend.as_strided(grid[g, start:], (per_phase, width), (width * item, item))


def _grid_weight(w, groups, run):
    """(O, Cg, kh, kw) -> (G, S, run*Cg, Og): per tap group s its (j, c) x o matrix."""
    xp = backend.get_array_module(w)
    o, cg, kh, kw = w.shape
    w5 = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1)
    return xp.ascontiguousarray(w5).reshape(groups, kh * kw // run, run * cg, o // groups)


def _grid_correlate(grid, wmats, offsets, run, per_phase):
    """Scratch out (G, per_phase*run, Og): ``out[g, p::run] = sum_s X_{s,p} @ wmats[g, s]``."""
    xp = backend.get_array_module(grid)
    groups, _, cg = grid.shape
    og = wmats.shape[3]
    out = _work_buffer(xp, (groups, per_phase * run, og), grid.dtype)
    part = _work_buffer(xp, (per_phase, og), grid.dtype)
    for g in range(groups):
        for p in range(run):
            acc = out[g, p::run]
            for s, off in enumerate(offsets):
                tap = _tap_matrix(grid, g, off + p, run * cg, per_phase)
                if s == 0:
                    xp.matmul(tap, wmats[g, s], out=acc)
                else:
                    xp.matmul(tap, wmats[g, s], out=part)
                    acc += part
    return out


def _input_grid(x, pads, kernel, dilation, groups):
    n, _, h, w = x.shape
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    offsets, _, _, rows = _grid_plan(n, hp, wp, kernel, dilation)
    return _to_grid(x, groups, pads, 0, offsets[-1] + rows)


def _grid_conv_forward(x, w, pads, dilation, groups):
    """Stride-1 convolution y (N, O, Ho, Wo) on the grid."""
    n, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    hp, wp = h + pads[0] + pads[1], wd + pads[2] + pads[3]
    offsets, run, per_phase, _ = _grid_plan(n, hp, wp, (kh, kw), dilation)
    grid = _input_grid(x, pads, (kh, kw), dilation, groups)
    out = _grid_correlate(grid, _grid_weight(w, groups, run), offsets, run, per_phase)
    ho, wo = hp - dilation[0] * (kh - 1), wp - dilation[1] * (kw - 1)
    return _from_grid(out, n, hp, wp, 0, 0, ho, wo)


def _grid_output(dy, groups, grid_hw, kernel, dilation):
    """dy (N, O, Ho, Wo) scattered into a zero grid (G, rows, Og) led by as many zero
    rows as the farthest tap reaches."""
    n, _, ho, wo = dy.shape
    hp, wp = grid_hw
    offsets, run, _, rows = _grid_plan(n, hp, wp, kernel, dilation)
    lead = offsets[-1] + run - 1
    return _to_grid(dy, groups, (0, hp - ho, 0, wp - wo), lead, lead + offsets[-1] + rows)


def _grid_weight_grad(x, dyg, w_shape, pads, dilation):
    """dL/dw (O, Cg, kh, kw): ``dW_s = sum_p X_{s,p}^T @ dY[p::run]`` per tap group s."""
    xp = backend.get_array_module(dyg)
    o, cg, kh, kw = w_shape
    groups, _, og = dyg.shape
    n, _, h, wd = x.shape
    offsets, run, per_phase, _ = _grid_plan(n, h + pads[0] + pads[1], wd + pads[2] + pads[3],
                                            (kh, kw), dilation)
    grid = _input_grid(x, pads, (kh, kw), dilation, groups)
    lead = offsets[-1] + run - 1
    gw = xp.empty((groups, len(offsets), run * cg, og), dtype=dyg.dtype)
    for g in range(groups):
        for p in range(run):
            dyp = dyg[g, lead + p::run][:per_phase]
            for s, off in enumerate(offsets):
                part = _tap_matrix(grid, g, off + p, run * cg, per_phase).T @ dyp
                if p == 0:
                    gw[g, s] = part
                else:
                    gw[g, s] += part
    gw = gw.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2)
    return xp.ascontiguousarray(gw).reshape(o, cg, kh, kw)


def _grid_input_grad(dyg, w, groups, pads, out_hw, n, dilation):
    """dL/dx (N, C, H, W): the grid correlation of dY with the flipped, channel-transposed
    kernel, cropped to the input's rows/cols of the padded grid."""
    top, bottom, left, right = pads
    h, wd = out_hw
    hp, wp = h + top + bottom, wd + left + right
    _, _, kh, kw = w.shape
    offsets, run, per_phase, _ = _grid_plan(n, hp, wp, (kh, kw), dilation)
    wmats = _grid_weight(_flip_transpose(w, groups), groups, run)
    out = _grid_correlate(dyg, wmats, offsets, run, per_phase)
    return _from_grid(out, n, hp, wp, top, left, h, wd)


GRID_MIN_TAP_WIDTH = 32  # the grid path's GEMMs need K = run * channels of at least this


def _use_grid(padded_shape, itemsize, kernel, stride, dilation, channels):
    """Dispatch rule: the grid (implicit GEMM) path for stride 1 when every grid GEMM has an
    inner dimension (taps per group times ``channels``, the smaller of the input and output
    channels per group) of at least GRID_MIN_TAP_WIDTH and a grid (N*C*Hp*Wp elements) fits
    the im2col bound; otherwise im2col (strided convolutions; few channels, where each grid
    GEMM would write a full output for a few multiply-adds per element; huge inputs, which
    im2col chunks).  Measured on 2 cores, 3x3 kernels: 32->32 channels at 16x16 (batch 64)
    the grid path takes 9.7 ms forward+backward against im2col's 12.9 ms; 1->32 at 28x28
    (batch 128) 19 ms against 15 ms."""
    if tuple(stride) != (1, 1):
        return False
    run = kernel[1] if dilation[1] == 1 else 1
    n, c, hp, wp = padded_shape
    return run * channels >= GRID_MIN_TAP_WIDTH and n * c * hp * wp * itemsize <= IM2COL_MAX_BYTES


# ---- small maps: one GEMM over channels-last columns ------------------------------------------
# For small feature maps (the 8x8 ... 2x2 maps of a diffusion UNet) the grid path computes a
# padded grid several times the output (10x10 for 8x8, 4x4 for 2x2) with kh*kw GEMMs per
# direction, and the im2col path runs one small GEMM per sample.  Here the padded input is
# copied once into channels-last layout (N, Hp, Wp, C), its windows are gathered into one
# column matrix (contiguous runs of C elements)
#     cols[(n, a, b), (i, j, c)] = xpad[n, a*s + i*d, b*s + j*d, c]     (N*Ho*Wo, kh*kw*C)
# and every product is a single GEMM with Wmat[(i, j, c), o] = w[o, c, i, j]:
#     Y = cols @ Wmat (N*Ho*Wo, O),   dW = cols^T @ dY,   dcols = dY @ Wmat^T,
# the input gradient being dcols added back at each kernel offset (kh*kw slab additions into
# the channels-last padded gradient, then cropped).  The layout changes (NCHW <-> NHWC) are
# copies of activation-sized arrays, the bias is added during the output's copy.
SMALL_MAP_MAX_POSITIONS = 64  # output maps of at most this many positions take this path


def _use_columns(out_hw, groups):
    """Dispatch rule of the channels-last column path: groups == 1 and an output map of at
    most SMALL_MAP_MAX_POSITIONS positions.  Measured on 2 cores (one BLAS thread, load ~10,
    batch 128, forward+backward against the grid path): 32->32 at 8x8 37 -> 29 ms, 64->64 at
    4x4 43 -> 20 ms, 64->64 at 2x2 23 -> 10 ms, 96->64 at 8x8 196 -> 104 ms."""
    return groups == 1 and out_hw[0] * out_hw[1] <= SMALL_MAP_MAX_POSITIONS


def _to_channels_last(x, pads):
    """x (N, C, H, W) -> a zero-padded (N, H + top + bottom, W + left + right, C) copy."""
    xp = backend.get_array_module(x)
    top, bottom, left, right = pads
    n, c, h, w = x.shape
    out = xp.empty((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    if top or bottom or left or right:   # zero the border only, the interior is overwritten
        out[:, :top] = 0
        out[:, top + h:] = 0
        out[:, top:top + h, :left] = 0
        out[:, top:top + h, left + w:] = 0
    out[:, top:top + h, left:left + w] = x.transpose(0, 2, 3, 1)
    return out


def _hwc_columns(xpad, kernel, stride, dilation, out_hw):
    """(N*Ho*Wo, kh*kw*C) windows of a channels-last padded input (one strided view, one copy;
    a 1x1 kernel at stride 1 gives a view)."""
    n, _, _, c = xpad.shape
    sn, sh, sw, sc = xpad.strides
    (kh, kw), (ho, wo) = kernel, out_hw
    view = backend.as_strided(xpad, (n, ho, wo, kh, kw, c),
                              (sn, sh * stride[0], sw * stride[1], sh * dilation[0],
                               sw * dilation[1], sc))
    return view.reshape(n * ho * wo, kh * kw * c)


def _hwc_weight(w):
    """(O, C, kh, kw) -> Wmat (kh*kw*C, O), rows ordered (i, j, c) like the columns."""
    o, c, kh, kw = w.shape
    return w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)


def _column_chunks(xpad, kernel, out_hw):
    """Sample ranges whose column matrices stay within IM2COL_MAX_BYTES."""
    n, c = xpad.shape[0], xpad.shape[3]
    per_sample = out_hw[0] * out_hw[1] * kernel[0] * kernel[1] * c * xpad.itemsize
    step = _chunk_size(n, per_sample)
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def _columns_times(xpad, wmat, kernel, stride, dilation, out_hw):
    """cols(xpad) @ wmat (N*Ho*Wo, wmat.shape[1]), the columns built per chunk of samples."""
    xp = backend.get_array_module(xpad)
    n = xpad.shape[0]
    rows = out_hw[0] * out_hw[1]
    out = xp.empty((n * rows, wmat.shape[1]), dtype=xp.result_type(xpad, wmat))
    for s, e in _column_chunks(xpad, kernel, out_hw):
        cols = _hwc_columns(xpad[s:e], kernel, stride, dilation, out_hw)
        xp.matmul(cols, wmat, out=out[s * rows:e * rows])
    return out


def _nhwc_rows_to_nchw(y2, n, out_hw, bias=None):
    """(N*Ho*Wo, O) rows -> a new (N, O, Ho, Wo) array, the bias added during the copy."""
    xp = backend.get_array_module(y2)
    o = y2.shape[1]
    y = xp.empty((n, o) + tuple(out_hw), dtype=y2.dtype)
    src = y2.reshape(n, out_hw[0], out_hw[1], o).transpose(0, 3, 1, 2)
    if bias is not None:
        xp.add(src, bias.reshape(1, o, 1, 1), out=y)
    else:
        y[...] = src
    return y


def _columns_forward(x, w, b, stride, pads, dilation, out_hw):
    """y (N, O, Ho, Wo) and the channels-last padded input (kept for the backward)."""
    xpad = _to_channels_last(x, pads)
    y2 = _columns_times(xpad, _hwc_weight(w), w.shape[2:], stride, dilation, out_hw)
    return _nhwc_rows_to_nchw(y2, x.shape[0], out_hw, b), xpad


def _columns_backward(ctx, dy, xpad, w, stride, pads, dilation, in_hw):
    """(dx, dw, db) of the column path from dy (N, O, Ho, Wo)."""
    xp = backend.get_array_module(dy)
    needs = ctx.needs_input_grad
    n, o, ho, wo = dy.shape
    _, c, kh, kw = w.shape
    dy2 = xp.ascontiguousarray(dy.transpose(0, 2, 3, 1)).reshape(n * ho * wo, o)
    gx = gw = gb = None
    if needs[1]:
        gw2 = None
        for s, e in _column_chunks(xpad, (kh, kw), (ho, wo)):
            cols = _hwc_columns(xpad[s:e], (kh, kw), stride, dilation, (ho, wo))
            part = cols.T @ dy2[s * ho * wo:e * ho * wo]
            if gw2 is None:
                gw2 = part
            else:
                gw2 += part
        gw = xp.ascontiguousarray(gw2.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
    if needs[0]:
        full = _full_correlation_pads(w.shape[2:], dilation, pads)
        if tuple(stride) == (1, 1) and min(full) >= 0:
            # the correlation of dy (padded by the kernel's reach) with the flipped kernel
            gx2 = _columns_times(_to_channels_last(dy, full), _hwc_weight(_flip_transpose(w, 1)),
                                 (kh, kw), (1, 1), dilation, in_hw)
            gx = _nhwc_rows_to_nchw(gx2, n, in_hw)
        else:
            gx = _columns_col2im(dy2, w, xpad.shape, stride, pads, dilation, in_hw, (ho, wo))
    if len(needs) > 2 and needs[2]:
        gb = dy2.sum(axis=0)
    return gx, gw, gb


def _full_correlation_pads(kernel, dilation, pads):
    """Padding of dy for the stride-1 input gradient as a correlation with the flipped kernel:
    ``d * (k - 1) - pad`` on each side (negative when the forward padding exceeds the reach)."""
    (kh, kw), (dh, dw) = kernel, dilation
    top, bottom, left, right = pads
    return dh * (kh - 1) - top, dh * (kh - 1) - bottom, dw * (kw - 1) - left, dw * (kw - 1) - right


def _columns_col2im(dy2, w, padded_shape, stride, pads, dilation, in_hw, out_hw):
    """dL/dx of the column path for strides > 1 (or a forward padding beyond the kernel's
    reach): per chunk of samples ``dcols = dY @ Wmat^T`` is added back at each kernel offset's
    strided position of the channels-last padded gradient, which is then cropped."""
    xp = backend.get_array_module(dy2)
    n, _, _, c = padded_shape
    _, _, kh, kw = w.shape
    ho, wo = out_hw
    wmat_t = _hwc_weight(w).T
    gpad = xp.zeros(padded_shape, dtype=dy2.dtype)
    (sh, sw), (dh, dw) = stride, dilation
    step = _chunk_size(n, ho * wo * kh * kw * c * dy2.itemsize)
    for s in range(0, n, step):
        e = min(s + step, n)
        dcols = (dy2[s * ho * wo:e * ho * wo] @ wmat_t).reshape(e - s, ho, wo, kh, kw, c)
        part = gpad[s:e]
        for i in range(kh):
            for j in range(kw):
                part[:, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                     j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, :, :, i, j]
    top, _, left, _ = pads
    h, wd = in_hw
    return xp.ascontiguousarray(gpad[:, top:top + h, left:left + wd].transpose(0, 3, 1, 2))

def _bias_grad(dy):
    return dy.sum(axis=(0, 2, 3))


class Conv2dFn(Function):
    """Fused 2-D convolution (see the module docstring for the math)."""

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        top, bottom, left, right = pads
        out_hw = (_out_size(x.shape[2], top + bottom, w.shape[2], stride[0], dilation[0]),
                  _out_size(x.shape[3], left + right, w.shape[3], stride[1], dilation[1]))
        if _use_columns(out_hw, groups):
            y, xpad = _columns_forward(x, w, b, stride, pads, dilation, out_hw)
            ctx.cfg = (stride, pads, dilation, groups, x.shape[2:], "columns")
            ctx.save_for_backward(xpad, w, None)
            return y
        need_w = ctx.needs_input_grad[1] if len(ctx.needs_input_grad) > 1 else False
        # the grids hold max(C, O) channels (the input's, then the output gradient's)
        padded = (x.shape[0], max(x.shape[1], w.shape[0]),
                  x.shape[2] + top + bottom, x.shape[3] + left + right)
        grid = _use_grid(padded, x.itemsize, w.shape[2:], stride, dilation,
                         min(w.shape[0] // groups, w.shape[1]))
        if grid:
            y = _grid_conv_forward(x, w, pads, dilation, groups)
            src, kept = x, None
        else:
            src = _pad_hw(x, top, bottom, left, right)
            y, kept = _conv_core(src, w, stride, dilation, groups, keep_cols=need_w)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        ctx.cfg = (stride, pads, dilation, groups, x.shape[2:], grid)
        ctx.save_for_backward(src, w, kept)
        return y

    @staticmethod
    def backward(ctx, dy):
        src, w, kept = ctx.saved_tensors
        stride, pads, dilation, groups, (h, wd), grid = ctx.cfg
        if grid == "columns":
            return _columns_backward(ctx, dy, src, w, stride, pads, dilation, (h, wd))
        if grid:
            return _grid_conv_backward(ctx, dy, src, w, pads, dilation, groups)
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        if needs[1]:
            gw = _weight_grad(src, dy, w.shape[2:], stride, dilation, groups, kept)
        if kept is not None:
            # the columns are used once: drop them before the input gradient's own columns
            # exist (lower peak memory; a retain_graph backward recomputes them)
            ctx.save_for_backward(src, w, None)
            del kept
        if needs[0]:
            gx = _input_grad(dy, w, stride, dilation, groups, pads, (h, wd))
        if len(needs) > 2 and needs[2]:
            gb = _bias_grad(dy)
        return gx, gw, gb


def _grid_conv_backward(ctx, dy, x, w, pads, dilation, groups):
    """Conv2dFn's backward on the grid: one zero grid of dy serves both gradients (the weight
    gradient rebuilds the input's grid in a new buffer)."""
    needs = ctx.needs_input_grad
    n, _, h, wd = x.shape
    grid_hw = (h + pads[0] + pads[1], wd + pads[2] + pads[3])
    dyg = _grid_output(dy, groups, grid_hw, w.shape[2:], dilation)
    gx = gw = gb = None
    if needs[1]:
        gw = _grid_weight_grad(x, dyg, w.shape, pads, dilation)
    if needs[0]:
        gx = _grid_input_grad(dyg, w, groups, pads, (h, wd), n, dilation)
    if len(needs) > 2 and needs[2]:
        gb = _bias_grad(dy)
    return gx, gw, gb


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
        y = _input_grad(x, w, stride, dilation, groups, pads, (hp - 2 * padding[0], wp - 2 * padding[1]))
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
        ctx.cfg = (stride, padding, dilation, groups, (hp, wp))
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        stride, padding, dilation, groups, (hp, wp) = ctx.cfg
        needs = ctx.needs_input_grad
        dypad = _pad_hw(dy, padding[0], hp - dy.shape[2] - padding[0],
                        padding[1], wp - dy.shape[3] - padding[1])
        gx = gw = gb = None
        if needs[0]:
            gx = _conv_core(dypad, w, stride, dilation, groups)[0][:, :, :x.shape[2], :x.shape[3]]
        if needs[1]:
            gw = _weight_grad(dypad, x, w.shape[2:], stride, dilation, groups)
        if len(needs) > 2 and needs[2]:
            gb = _bias_grad(dy)
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
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {padding!r}")
    return ph, ph, pw, pw


def _check_conv_args(name, x, w, groups, in_axis):
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

    input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) -> (N, O, Ho, Wo).
    ``padding``: int, pair, 'same' (stride 1) or 'valid'.
    """
    _check_conv_args("conv2d", input, weight, groups, 1)
    if weight.shape[0] % groups:
        raise ValueError(f"conv2d: {weight.shape[0]} output channels are not divisible by groups={groups}")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    pads = _resolve_padding(padding, tuple(weight.shape[2:]), dilation, stride)
    ho = _out_size(input.shape[2], pads[0] + pads[1], weight.shape[2], stride[0], dilation[0])
    wo = _out_size(input.shape[3], pads[2] + pads[3], weight.shape[3], stride[1], dilation[1])
    if ho <= 0 or wo <= 0:
        raise ValueError(f"conv2d: input of spatial size {tuple(input.shape[2:])} is too small for "
                         f"kernel {tuple(weight.shape[2:])} with dilation {dilation} and padding {padding!r}")
    return Conv2dFn.apply(input, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=int(groups))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, torch.nn.functional.conv_transpose2d's semantics.

    input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw) -> (N, Cout, Ho, Wo) with
    ``Ho = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1``.
    """
    _check_conv_args("conv_transpose2d", input, weight, groups, 0)
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding, output_padding = _pair(padding, "padding"), _pair(output_padding, "output_padding")
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
    return ConvTranspose2dFn.apply(input, weight, bias, stride=stride, padding=padding,
                                   output_padding=output_padding, groups=int(groups), dilation=dilation)
