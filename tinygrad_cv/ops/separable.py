"""The separable linear map of the last two axes, the primitive of every resize and of adaptive
average pooling (``nn/functional/interpolation.py``, ``pooling.py``)::

    y = A @ x @ B^T,     A: (Ho, H),  B: (Wo, W) constants,     x: (N, C, H, W) -> (N, C, Ho, Wo)
    dL/dx = A^T @ dy @ B                                (the same map, transposed matrices)

Forward and backward are two GEMMs per block of images (a channels-last array: two products
from the left in its NHWC memory, the result channels-last too); a matrix of 64 rows or more
whose nonzeros lie in a band (every resize's) is applied band by band (``_bands``).  The backward is
this primitive again, so it is recorded under ``create_graph=True`` (second derivatives).
"""
from __future__ import annotations

from .. import backend, threads
from ..autograd.function import Function
from . import dual


_BAND_ROWS = 32      # output rows per product of a banded matrix


def _bands(m):
    """Row blocks ``[(o0, o1, i0, i1), ...]`` of the (out, in) matrix ``m`` outside of which
    its blocks of ``_BAND_ROWS`` rows are zero, and the multiply-adds per input row of the
    products over them; None when they would save under half of one product over all of
    ``m`` (a downsampling or upsampling filter's nonzeros lie in a band around the diagonal:
    2048 -> 512 pixels takes 32 x ~140 blocks instead of 512 x 2048)."""
    out_n, in_n = m.shape
    if out_n < 2 * _BAND_ROWS or in_n < 2 * _BAND_ROWS:
        return None
    xp = backend.get_array_module(m)
    nonzero = m != 0
    filled = nonzero.any(axis=1)
    first = xp.where(filled, xp.argmax(nonzero, axis=1), in_n)
    stop = xp.where(filled, in_n - xp.argmax(nonzero[:, ::-1], axis=1), 0)
    blocks = -(-out_n // _BAND_ROWS)
    pad = blocks * _BAND_ROWS - out_n
    lo = xp.pad(first, (0, pad), constant_values=in_n).reshape(blocks, -1).min(axis=1)
    hi = xp.pad(stop, (0, pad), constant_values=0).reshape(blocks, -1).max(axis=1)
    bands = [(k * _BAND_ROWS, min((k + 1) * _BAND_ROWS, out_n), int(i0), int(i1))
             for k, (i0, i1) in enumerate(zip(lo.tolist(), hi.tolist()))]
    macs = sum((o1 - o0) * max(i1 - i0, 0) for o0, o1, i0, i1 in bands)
    return (bands, macs) if 2 * macs < out_n * in_n else None


def _products(xp, rows, m, bands, out):
    """``out = rows @ m^T`` (rows (R, in), m (out, in)), one product per band of ``m`` when
    ``bands`` (``_bands``) is given."""
    if bands is None:
        xp.matmul(rows, m.T, out=out)
        return
    for o0, o1, i0, i1 in bands[0]:
        if i1 > i0:
            out[:, o0:o1] = xp.matmul(rows[:, i0:i1], m[o0:o1, i0:i1].T)
        else:
            out[:, o0:o1] = 0


def _apply_separable(x, a, b):
    """``a @ x @ b^T`` over the last two axes of x (N, C, H, W) as two 2-D GEMMs per block of
    images (the N*C images split over the intra-op threads, each thread writing its own); a
    banded matrix (large resizes) is applied block by block over its band (``_bands``)."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    ho, wo = a.shape[0], b.shape[0]
    x3 = x.reshape(n * c, h, w)
    y = xp.empty((n * c, ho, wo), dtype=xp.result_type(x, a, b))
    band_a, band_b = _bands(a), _bands(b)

    dt = y.dtype

    def part(s, e):          # the three work arrays come from the thread's reused scratch
        m = e - s
        t = threads.scratch((m * h, wo), dt, x, "separable_rows")
        _products(xp, x3[s:e].reshape(m * h, w), b, band_b, t)
        if band_a is not None:   # large images: a's bands from the left, no transposes
            _left_products(xp, a, band_a, t.reshape(m, h, wo), y[s:e])
            return
        tt = threads.scratch((m, wo, h), dt, x, "separable_columns")
        tt[...] = t.reshape(m, h, wo).transpose(0, 2, 1)
        u = threads.scratch((m * wo, ho), dt, x, "separable_out")
        _products(xp, tt.reshape(m * wo, h), a, band_a, u)
        y[s:e] = u.reshape(m, wo, ho).transpose(0, 2, 1)

    macs = n * c * (h * (band_b[1] if band_b else wo * w) + wo * (band_a[1] if band_a else ho * h))
    threads.for_ranges(part, n * c, macs // threads.MACS_PER_ELEMENT + 2 * n * c * h * wo,
                       like=x)
    return y.reshape(n, c, ho, wo)


def _left_products(xp, m, bands, src, out):
    """``out = m @ src`` over the second-to-last axis (src (..., in, K), out (..., out, K)), one
    product per band of ``m`` when ``bands`` (``_bands``) is given."""
    if bands is None:
        xp.matmul(m, src, out=out)
        return
    for o0, o1, i0, i1 in bands[0]:
        out[..., o0:o1, :] = xp.matmul(m[o0:o1, i0:i1], src[..., i0:i1, :]) if i1 > i0 else 0


def is_channels_last(x):
    """True when x (N, C, H, W) is stored channels-last (C the fastest axis) and not also
    C-contiguous."""
    return not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous


def _apply_separable_nhwc(x, a, b):
    """``_apply_separable`` of a channels-last x, in its (N, H, W, C) memory: (N, H, Wo, C) =
    b @ each row's (W, C), then (N, Ho, Wo*C) = a @ each image's (H, Wo*C): two products from
    the left, no transposes, and y channels-last as x (torch keeps the layout too)."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    ho, wo = a.shape[0], b.shape[0]
    z = x.transpose(0, 2, 3, 1)
    dt = xp.result_type(x, a, b)
    y = xp.empty((n, ho, wo, c), dtype=dt)
    band_a, band_b = _bands(a), _bands(b)

    def part(s, e):
        t = xp.empty((e - s, h, wo, c), dtype=dt)
        _left_products(xp, b, band_b, z[s:e], t)
        _left_products(xp, a, band_a, t.reshape(e - s, h, wo * c),
                       y[s:e].reshape(e - s, ho, wo * c))

    macs = n * c * (h * (band_b[1] if band_b else wo * w) + wo * (band_a[1] if band_a else ho * h))
    threads.for_ranges(part, n, macs // threads.MACS_PER_ELEMENT + n * c * h * wo, like=x)
    return y.transpose(0, 3, 1, 2)


class SeparableLinearFn(Function):
    """y = A @ x @ B^T on the last two axes; dL/dx = A^T @ dy @ B (A, B constants), itself
    this Function with the transposed matrices when the backward is recorded
    (``create_graph=True``)."""

    higher_order = True

    @staticmethod
    def forward(ctx, x, a=None, b=None):
        ctx.ab = (a, b)
        return (_apply_separable_nhwc if is_channels_last(x) else _apply_separable)(x, a, b)

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.ab
        if dual.is_tensor(dy):
            return SeparableLinearFn.apply(dy, a=a.T, b=b.T)
        return (_apply_separable_nhwc if is_channels_last(dy) else _apply_separable)(dy, a.T, b.T)


def separable_linear(x, a, b):
    """Apply the constant matrices ``a`` (Ho, H) and ``b`` (Wo, W) to x (N, C, H, W)."""
    return SeparableLinearFn.apply(x, a=a, b=b)
