"""Implicit GEMM on a compact padded grid (stride 1): shifted GEMMs, no column buffer.

Layout.  The input in channels-last layout, flattened over (image row, column), is a matrix X
of Cg-channel rows (per group: (G, rows, Cg)).  Every image row takes P (the pitch) grid rows,
its W pixels then P - W zero rows; every image takes HS rows of pitch P, its H rows then
HS - H zero rows.  The zeros after a row pad both its right side and the next row's left side,
and an image's zero rows pad both its bottom and the next image's top::

    X[lead + (n*HS + a)*P + b] = x[n, :, a, b],   P >= W + max(left, right),
                                                  HS >= H + max(top, bottom)

(P >= Wo, HS >= Ho too, and P a multiple of ``run`` below).  With ``lead = top*P + left`` the
output position (n, a, b) is grid row rho = (n*HS + a)*P + b and its tap (i, j) is the X row
rho + i*dh*P + j*dw, so the output is a sum of CONTIGUOUS row slices of X::

    Y[rho] = sum_{i, j} X[rho + i*dh*P + j*dw] @ W_ij^T,

computed for every rho up to the last output position; the rows of the zero gaps are computed
and dropped (HS*P / (Ho*Wo) = 1.15-1.2 of the useful work for a 3x3 kernel on 14x14-16x16 maps,
against 1.27-1.31 with every image padded on its own).

Phases.  When dw = 1 the kw taps of kernel row i are adjacent rows of X, so for the output rows
``rho = run*q + p`` of phase p (run = kw) the taps read X as a (M/run, kw*Cg) matrix whose row
stride equals its width (a C-contiguous view)::

    Y_p = sum_i X_{i,p} @ Wmat_i,   X_{i,p}[q] = X[i*dh*P + p + run*q : ... + run]

-- kh GEMMs per phase with K = kw*Cg (kh*kw GEMMs with K = Cg when dw > 1: run = 1), summed in
the phase-major result (G, run, M/run, Og): every phase's rows are contiguous (BLAS writes a
contiguous output about 1.3x faster than every run-th row of the flat grid).  As P is a
multiple of run, output column b belongs to phase b % run, and the crop copy reads each phase
as a (N, HS, P/run, Og) view.

Backward on the same layout: dy is scattered into a zero grid dY (``grid_output``: dY[L + rho]
holds dy at rho, zeros at the dropped positions, L = dh*(kh-1)*P + dw*(kw-1) zero rows ahead)::

    dW_i = sum_p X_{i,p}^T @ dY[L + p::run]   (the long inner dimension is the grid),
    dX   = the same correlation of dY with the flipped, channel-transposed kernel, started
           top*P + left rows into dY, whose row (n*HS + a)*P + b is the input position (n, a, b).

Work buffers and outputs come from ``autograd.buffers`` (reused once nothing references them, so
a training step does not fault in fresh pages); no buffer is shared between live calls.

Threads (``threads.py``): the copies into and out of the grid split the samples; the
correlations split every phase's rows (each thread its own row range of every phase, in blocks
of at most BLOCK_ROWS, its block sums in its scratch buffer); the weight gradient splits the
phase rows too (the sum over them: one partial per thread, added by the caller).
"""
from __future__ import annotations

from typing import NamedTuple

from .... import backend, threads
from ....autograd import buffers
from .layout import bias_grad, flip_transpose, gemm_work, split_sum, work_buffer


BLOCK_ROWS = 4096  # at most this many phase rows per block of GEMMs (4096 x 96 float32: 1.6 MB)


class OutputGrid(NamedTuple):
    """dy scattered into a zero grid (``grid_output``) and the layout it was written in."""
    array: object     # (G, rows, Og)
    pitch: int        # P: grid rows per image row
    image_rows: int   # HS: image rows (of P grid rows) per image
    lead: int         # grid rows ahead of dy's first position


def _run(kernel, dilation):
    """Taps per phase: the kernel width when its taps are adjacent (dw = 1), else 1."""
    return kernel[1] if dilation[1] == 1 else 1


def _compact_layout(in_hw, out_hw, pads, run):
    """(P, HS): the smallest pitch (a multiple of ``run``) and image height of the shared-padding
    grid for an (H, W) input padded by ``pads`` giving (Ho, Wo) outputs."""
    (h, w), (ho, wo) = in_hw, out_hw
    top, bottom, left, right = pads
    pitch = max(w + max(left, right), wo)
    return -(-pitch // run) * run, max(h + max(top, bottom), ho)


def _tap_offsets(kernel, dilation, pitch):
    """Grid-row offsets of the tap groups: one per kernel row when dw = 1 (its kw taps are the
    ``run`` adjacent rows), else one per tap."""
    (kh, kw), (dh, dw) = kernel, dilation
    if dw == 1:
        return [i * dh * pitch for i in range(kh)]
    return [i * dh * pitch + j * dw for i in range(kh) for j in range(kw)]


def _rows_used(n, image_rows, pitch, hw, run):
    """Grid rows up to the last position of an (h, w) map in the last image, rounded up to a
    whole phase: the rows a correlation computes."""
    h, w = hw
    last = ((n - 1) * image_rows + h - 1) * pitch + w
    return -(-last // run) * run


def _to_grid(x, groups, lead, rows, pitch, image_rows):
    """x (N, C, H, W) -> a zero grid (G, rows, Cg) holding x[n, :, a, b] at grid row
    ``lead + (n*HS + a)*P + b`` (a reused buffer: only the gaps are zeroed, x overwrites the
    rest; the samples split over the threads)."""
    n, c, h, w = x.shape
    cg = c // groups
    end = lead + n * image_rows * pitch
    buf = buffers.empty((groups, rows, cg), x.dtype, x)
    buf[:, :lead] = 0
    buf[:, end:] = 0
    view = buf[:, lead:end].reshape(groups, n, image_rows, pitch, cg)
    src = x.reshape(n, groups, cg, h, w).transpose(1, 0, 3, 4, 2)

    def part(start, stop):
        mine = view[:, start:stop]
        mine[:, :, h:] = 0
        mine[:, :, :h, w:] = 0
        mine[:, :, :h, :w] = src[:, start:stop]
    threads.for_ranges(part, n, view.size, like=x)
    return buf


def _phase_rows_to_nchw(out, n, pitch, image_rows, hw, bias=None):
    """Phase-major rows (G, run, >= N*HS*P/run, Og) -> a new (N, G*Og, h, w) array (plus
    ``bias`` (G*Og,) in the same pass when given): position (n, a, b) is row
    (n*HS + a)*P/run + b//run of phase b % run (the samples split over the threads)."""
    xp = backend.get_array_module(out)
    g, run, _, og = out.shape
    h, w = hw
    per_image = image_rows * pitch // run
    y = buffers.empty((n, g, og, h, w), out.dtype, out)
    b3 = None if bias is None else bias.reshape(g, og, 1, 1)

    def part(start, stop):
        for gi in range(g):
            for p in range(min(run, w)):
                cols = len(range(p, w, run))
                src = out[gi, p, :n * per_image].reshape(n, image_rows, pitch // run, og)
                src = src[start:stop, :h, :cols].transpose(0, 3, 1, 2)
                if b3 is None:
                    y[start:stop, gi, :, :, p::run] = src
                else:
                    xp.add(src, b3[gi], out=y[start:stop, gi, :, :, p::run])
    threads.for_ranges(part, n, y.size, like=out)
    return y.reshape(n, g * og, h, w)


def _tap_matrix(grid, g, start, width, per_phase):
    """``per_phase`` rows of ``width`` elements, row q starting at grid row ``start + run*q``
    (run*Cg = width elements apart): a C-contiguous view of the grid."""
    item = grid.itemsize
    return backend.as_strided(grid[g, start:], (per_phase, width), (width * item, item))


def _grid_weight(w, groups, run):
    """(O, Cg, kh, kw) -> (G, S, run*Cg, Og): per tap group s its (j, c) x o matrix."""
    xp = backend.get_array_module(w)
    o, cg, kh, kw = w.shape
    w5 = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1)
    return xp.ascontiguousarray(w5).reshape(groups, kh * kw // run, run * cg, o // groups)


def _row_blocks(start, stop):
    """[(q0, q1)] covering the phase rows [start, stop): one block up to 2*BLOCK_ROWS rows,
    else the fewest equal blocks of at most BLOCK_ROWS (every block is another BLAS call;
    measured, one BLAS thread: 3 blocks of a 9,600-row phase 0.93x of one, 2 blocks of 6,528
    rows 1.04x)."""
    rows = stop - start
    blocks = 1 if rows <= 2 * BLOCK_ROWS else -(-rows // BLOCK_ROWS)
    size = max(1, -(-rows // blocks))
    return [(q, min(q + size, stop)) for q in range(start, stop, size)]


def _grid_correlate(grid, wmats, offsets, run, rows_used, rows_total):
    """Phase-major (G, run, rows_total/run, Og) with phase p's row q = ``sum_s X_{s,p}[q] @
    wmats[g, s]`` for the first rows_used/run rows (the rest is left unwritten).  The rows go
    in blocks of at most BLOCK_ROWS: the taps of a block overlap (X_{s,p} is X_{0,p} a few
    rows on), so they and the block's sum stay in the cache through its GEMMs and additions.
    Each thread takes a range of every phase's rows (its blocks' products in its scratch)."""
    xp = backend.get_array_module(grid)
    groups, _, cg = grid.shape
    og = wmats.shape[3]
    per_phase = rows_used // run
    out = buffers.empty((groups, run, rows_total // run, og), grid.dtype, grid)

    def rows(start, stop):
        blocks = _row_blocks(start, stop)
        if not blocks:
            return
        # the first block is the largest
        part = work_buffer((blocks[0][1] - blocks[0][0], og), grid.dtype, grid, slot=2)
        for g in range(groups):
            for p in range(run):
                for q0, q1 in blocks:
                    acc = out[g, p, q0:q1]
                    for s, off in enumerate(offsets):
                        tap = _tap_matrix(grid, g, off + p + run * q0, run * cg, q1 - q0)
                        if s == 0:
                            xp.matmul(tap, wmats[g, s], out=acc)
                        else:
                            xp.matmul(tap, wmats[g, s], out=part[:q1 - q0])
                            acc += part[:q1 - q0]

    macs = groups * rows_used * len(offsets) * run * cg * og
    threads.for_ranges(rows, per_phase, gemm_work(macs), like=grid)
    return out


def _input_grid(x, pads, kernel, dilation, groups, pitch, image_rows, rows_used):
    """x on the grid, led by ``top*P + left`` zero rows, long enough for every tap of the
    first ``rows_used`` output rows."""
    n = x.shape[0]
    offsets = _tap_offsets(kernel, dilation, pitch)
    run = _run(kernel, dilation)
    lead = pads[0] * pitch + pads[2]
    rows = max(lead + n * image_rows * pitch, offsets[-1] + rows_used + run)
    return _to_grid(x, groups, lead, rows, pitch, image_rows)


def grid_conv_forward(x, w, pads, dilation, groups, bias=None):
    """Stride-1 convolution y (N, O, Ho, Wo) on the grid (plus ``bias`` (O,) when given, added
    in the copy out of the grid)."""
    n, _, h, wd = x.shape
    kernel = w.shape[2:]
    run = _run(kernel, dilation)
    out_hw = (h + pads[0] + pads[1] - dilation[0] * (kernel[0] - 1),
              wd + pads[2] + pads[3] - dilation[1] * (kernel[1] - 1))
    pitch, image_rows = _compact_layout((h, wd), out_hw, pads, run)
    used = _rows_used(n, image_rows, pitch, out_hw, run)
    grid = _input_grid(x, pads, kernel, dilation, groups, pitch, image_rows, used)
    out = _grid_correlate(grid, _grid_weight(w, groups, run), _tap_offsets(kernel, dilation, pitch),
                          run, used, n * image_rows * pitch)
    return _phase_rows_to_nchw(out, n, pitch, image_rows, out_hw, bias)


def grid_output(dy, groups, grid_hw, kernel, dilation, pads=None):
    """dy (N, O, Ho, Wo) scattered into a zero grid led by as many zero rows as the farthest
    tap reaches (an ``OutputGrid``).  With the forward's ``pads`` the grid has the compact
    layout; without them (only the padded size (Hp, Wp) = ``grid_hw`` known) each image keeps
    its own (Hp, Wp) block."""
    n, _, ho, wo = dy.shape
    run = _run(kernel, dilation)
    if pads is None:
        pitch, image_rows = -(-grid_hw[1] // run) * run, grid_hw[0]
    else:
        in_hw = (grid_hw[0] - pads[0] - pads[1], grid_hw[1] - pads[2] - pads[3])
        pitch, image_rows = _compact_layout(in_hw, (ho, wo), pads, run)
    lead = dilation[0] * (kernel[0] - 1) * pitch + dilation[1] * (kernel[1] - 1)
    rows = lead + n * image_rows * pitch + run
    return OutputGrid(_to_grid(dy, groups, lead, rows, pitch, image_rows), pitch, image_rows, lead)


def grid_weight_grad(x, dyg, w_shape, pads, dilation):
    """dL/dw (O, Cg, kh, kw): ``dW_s = sum_p X_{s,p}^T @ dY[L + p::run]`` per tap group s."""
    xp = backend.get_array_module(dyg.array)
    o, cg, kh, kw = w_shape
    groups, _, og = dyg.array.shape
    n, _, h, wd = x.shape
    run = _run((kh, kw), dilation)
    out_hw = (h + pads[0] + pads[1] - dilation[0] * (kh - 1),
              wd + pads[2] + pads[3] - dilation[1] * (kw - 1))
    used = _rows_used(n, dyg.image_rows, dyg.pitch, out_hw, run)
    per_phase = used // run
    offsets = _tap_offsets((kh, kw), dilation, dyg.pitch)
    grid = _input_grid(x, pads, (kh, kw), dilation, groups, dyg.pitch, dyg.image_rows, used)

    def rows(start, stop, gw):
        """gw = the sum over the phase rows [start, stop) (a thread's partial)."""
        if start == stop:
            gw[...] = 0
        for g in range(groups):
            for p in range(run):
                dyp = dyg.array[g, dyg.lead + p::run][:per_phase]
                for q0, q1 in _row_blocks(start, stop):   # dY's block stays in the cache
                    for s, off in enumerate(offsets):
                        tap_t = _tap_matrix(grid, g, off + p + run * q0, run * cg, q1 - q0).T
                        if p == 0 and q0 == start:
                            xp.matmul(tap_t, dyp[q0:q1], out=gw[g, s])
                        else:
                            gw[g, s] += tap_t @ dyp[q0:q1]

    gw = split_sum(rows, per_phase, gemm_work(groups * used * len(offsets) * run * cg * og),
                   (groups, len(offsets), run * cg, og), dyg.array.dtype, dyg.array)
    gw = gw.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2)
    return xp.ascontiguousarray(gw).reshape(o, cg, kh, kw)


def grid_input_grad(dyg, w, groups, pads, out_hw, n, dilation):
    """dL/dx (N, C, H, W) with (H, W) = ``out_hw``: the grid correlation of dY with the flipped,
    channel-transposed kernel, started ``top*P + left`` rows into dY's data."""
    top, _, left, _ = pads
    kernel = w.shape[2:]
    run = _run(kernel, dilation)
    used = _rows_used(n, dyg.image_rows, dyg.pitch, out_hw, run)
    start = dyg.lead + top * dyg.pitch + left \
        - dilation[0] * (kernel[0] - 1) * dyg.pitch - dilation[1] * (kernel[1] - 1)
    offsets = [start + off for off in _tap_offsets(kernel, dilation, dyg.pitch)]
    wmats = _grid_weight(flip_transpose(w, groups), groups, run)
    out = _grid_correlate(dyg.array, wmats, offsets, run, used, n * dyg.image_rows * dyg.pitch)
    return _phase_rows_to_nchw(out, n, dyg.pitch, dyg.image_rows, out_hw)


def grid_conv_backward(ctx, dy, x, w, pads, dilation, groups):
    """Conv2dFn's backward on the grid: one zero grid of dy serves both gradients (the weight
    gradient rebuilds the input's grid in a new buffer)."""
    needs = ctx.needs_input_grad
    n, _, h, wd = x.shape
    grid_hw = (h + pads[0] + pads[1], wd + pads[2] + pads[3])
    dyg = grid_output(dy, groups, grid_hw, w.shape[2:], dilation, pads)
    gx = gw = gb = None
    if needs[1]:
        gw = grid_weight_grad(x, dyg, w.shape, pads, dilation)
    if needs[0]:
        gx = grid_input_grad(dyg, w, groups, pads, (h, wd), n, dilation)
    if len(needs) > 2 and needs[2]:
        gb = bias_grad(dy)
    return gx, gw, gb
