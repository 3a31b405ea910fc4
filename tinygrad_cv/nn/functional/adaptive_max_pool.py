"""Adaptive max pooling: the maximum over torch's adaptive windows (``pooling.adaptive_bins``,
the windows of adaptive average pooling).

Input (N, C, H, W) or (C, H, W), output (Ho, Wo)::

    y[n, c, a, b] = max x[n, c, rows_a, cols_b],   rows_a = [floor(a H / Ho), ceil((a + 1) H / Ho))

When Ho divides H and Wo divides W the windows tile the input and this is ``max_pool2d`` with
kernel = stride = (H / Ho, W / Wo) (its fast paths and ONNX export).  Otherwise the windows
(at most ``ceil(H / Ho) + 1`` rows) are gathered as (N, C, Ho, Wo, Kh * Kw) with each
window's index list padded by repeating its last element (a repeat changes no maximum and
comes after its original, so the first maximum in row-major order is unchanged); the
position of each maximum is torch's (the first maximum; a window holding NaN takes its last
NaN), given as the flat index h * W + w.  The Function gathers x at those indices; its
gradient scatter-adds dy to them.
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from ...tensor import Tensor
from .batching import drop_batch
from .pooling import adaptive_bins, adaptive_output_size, batched, max_pool2d


def _window_index(xp, in_size, out_size):
    """(out, K) input positions of each adaptive window, the short ones padded with their last
    position."""
    start, end = adaptive_bins(xp, in_size, out_size)
    k = int((end - start).max())
    return xp.minimum(start[:, None] + xp.arange(k)[None, :], end[:, None] - 1)


def _max_indices(x, out_hw):
    """int64 (N, C, Ho, Wo): flat index h * W + w of each adaptive window's maximum."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    rows, cols = _window_index(xp, h, out_hw[0]), _window_index(xp, w, out_hw[1])
    r, q = rows[:, None, :, None], cols[None, :, None, :]          # (Ho, Wo, Kh, Kw)
    size = rows.shape[1] * cols.shape[1]
    windows = x[:, :, r, q].reshape(n, c, out_hw[0], out_hw[1], size)
    pos = windows.argmax(axis=-1)
    nan = xp.isnan(windows)
    if bool(nan.any()):
        last_nan = size - 1 - nan[..., ::-1].argmax(axis=-1)
        pos = xp.where(nan.any(axis=-1), last_nan, pos)
    flat = xp.broadcast_to((r * w + q).reshape(out_hw[0], out_hw[1], size), windows.shape)
    return xp.take_along_axis(flat, pos[..., None], axis=-1)[..., 0].astype(xp.int64)


class AdaptiveMaxPool2dFn(Function):
    """y[n, c, a, b] = x[n, c].flat[index[n, c, a, b]]; dL/dx[n, c].flat[i] = sum of dy over
    the outputs whose index is i (adjacent windows may share their maximum)."""

    @staticmethod
    def forward(ctx, x, index=None):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        ctx.index, ctx.in_shape = index, x.shape
        flat = index.reshape(n, c, -1)
        return xp.take_along_axis(x.reshape(n, c, h * w), flat, axis=2).reshape(index.shape)

    @staticmethod
    def backward(ctx, dy):
        xp = backend.get_array_module(dy)
        n, c, h, w = ctx.in_shape
        gx = xp.zeros((n * c, h * w), dtype=dy.dtype)
        rows = xp.arange(n * c)[:, None]
        backend.scatter_add(gx, (rows, ctx.index.reshape(n * c, -1)), dy.reshape(n * c, -1))
        return gx.reshape(n, c, h, w)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over torch's adaptive windows to reach ``output_size`` (int or pair; None keeps
    a side); input (N, C, H, W) or (C, H, W).  ``return_indices=True`` also returns the flat
    index h * W + w of each maximum (int64, as ``max_pool2d``'s)."""
    op = "adaptive_max_pool2d"
    input, unbatched = batched(input, op)
    h, w = input.shape[2:]
    ho, wo = adaptive_output_size(op, input, output_size)
    if h % ho == 0 and w % wo == 0:
        k = (h // ho, w // wo)
        return drop_batch(max_pool2d(input, k, k, return_indices=return_indices), unbatched)
    index = _max_indices(input.array, (ho, wo))
    y = AdaptiveMaxPool2dFn.apply(input, index=index)
    return drop_batch((y, Tensor.wrap(index)) if return_indices else y, unbatched)
