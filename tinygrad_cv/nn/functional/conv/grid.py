"""Implicit GEMM on the padded grid (stride 1): shifted GEMMs, no column buffer.

The padded input in channels-last layout, flattened over (n, row, col), is a matrix X of
R = N*Hp*Wp rows, one per padded-grid position (per group: (G, rows, Cg), zero rows after).
At stride 1 the output at grid position r (its window's top-left corner) is::

    Y[r] = sum_{i, j} X[r + i*dh*Wp + j*dw] @ W_ij^T,

a sum of CONTIGUOUS row slices of X; the positions whose window leaves the image are computed
and cropped, no column buffer is built.  When dw = 1 the kw column taps of a kernel row i are
adjacent rows of X, so for the output rows ``r = run*q + p`` of one phase p (run = kw) the taps
of row i read X as a plain (R/run, kw*Cg) matrix whose row stride equals its width (a strided
view BLAS takes as it is)::

    Y[p::run] = sum_i X_{i,p} @ Wmat_i,   X_{i,p}[q] = X[i*dh*Wp + p + run*q : ... + run]

-- kh*kw GEMMs with K = kw*Cg (kh*kw GEMMs with K = Cg when dw > 1: run = 1).
Backward on the same grid: dy is scattered into a zero grid dY (the cropped rows stay zero)::

    dW_i = sum_p X_{i,p}^T @ dY[p::run]   (the long inner dimension is the grid),
    dX   = the same correlation of dY (led by as many zero rows as the farthest tap reaches)
           with the flipped, channel-transposed kernel, cropped to the input.

Work buffers are allocated per call (``_work_buffer``); nothing is cached between calls, so
concurrent calls from several threads never share memory.
"""
from __future__ import annotations

from .... import backend
from .layout import bias_grad, flip_transpose


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


def grid_conv_forward(x, w, pads, dilation, groups):
    """Stride-1 convolution y (N, O, Ho, Wo) on the grid."""
    n, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    hp, wp = h + pads[0] + pads[1], wd + pads[2] + pads[3]
    offsets, run, per_phase, _ = _grid_plan(n, hp, wp, (kh, kw), dilation)
    grid = _input_grid(x, pads, (kh, kw), dilation, groups)
    out = _grid_correlate(grid, _grid_weight(w, groups, run), offsets, run, per_phase)
    ho, wo = hp - dilation[0] * (kh - 1), wp - dilation[1] * (kw - 1)
    return _from_grid(out, n, hp, wp, 0, 0, ho, wo)


def grid_output(dy, groups, grid_hw, kernel, dilation):
    """dy (N, O, Ho, Wo) scattered into a zero grid (G, rows, Og) led by as many zero
    rows as the farthest tap reaches."""
    n, _, ho, wo = dy.shape
    hp, wp = grid_hw
    offsets, run, _, rows = _grid_plan(n, hp, wp, kernel, dilation)
    lead = offsets[-1] + run - 1
    return _to_grid(dy, groups, (0, hp - ho, 0, wp - wo), lead, lead + offsets[-1] + rows)


def grid_weight_grad(x, dyg, w_shape, pads, dilation):
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


def grid_input_grad(dyg, w, groups, pads, out_hw, n, dilation):
    """dL/dx (N, C, H, W): the grid correlation of dY with the flipped, channel-transposed
    kernel, cropped to the input's rows/cols of the padded grid."""
    top, bottom, left, right = pads
    h, wd = out_hw
    hp, wp = h + top + bottom, wd + left + right
    _, _, kh, kw = w.shape
    offsets, run, per_phase, _ = _grid_plan(n, hp, wp, (kh, kw), dilation)
    wmats = _grid_weight(flip_transpose(w, groups), groups, run)
    out = _grid_correlate(dyg, wmats, offsets, run, per_phase)
    return _from_grid(out, n, hp, wp, top, left, h, wd)


def grid_conv_backward(ctx, dy, x, w, pads, dilation, groups):
    """Conv2dFn's backward on the grid: one zero grid of dy serves both gradients (the weight
    gradient rebuilds the input's grid in a new buffer)."""
    needs = ctx.needs_input_grad
    n, _, h, wd = x.shape
    grid_hw = (h + pads[0] + pads[1], wd + pads[2] + pads[3])
    dyg = grid_output(dy, groups, grid_hw, w.shape[2:], dilation)
    gx = gw = gb = None
    if needs[1]:
        gw = grid_weight_grad(x, dyg, w.shape, pads, dilation)
    if needs[0]:
        gx = grid_input_grad(dyg, w, groups, pads, (h, wd), n, dilation)
    if len(needs) > 2 and needs[2]:
        gb = bias_grad(dy)
    return gx, gw, gb
