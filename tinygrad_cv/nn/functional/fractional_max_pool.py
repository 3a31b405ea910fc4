"""Fractional max pooling (Graham 2014), torch's F.fractional_max_pool2d.

Each (sample, channel) plane draws u = (u_w, u_h) ~ U[0, 1) (or takes ``_random_samples``
(N, C, 2)) and pools (kh, kw) windows starting at the pseudo-random sequence, per axis of
input size n, output size m and window k (alpha = (n - k) / (m - 1), computed in the input's
dtype as torch):

    start[i] = int((i + u) alpha) - int(u alpha)   for i < m - 1,   start[m - 1] = n - k

The maximum of each window is gathered (the first one on ties), so the gradient goes to
that element; ``return_indices`` gives its flat position h * W + w.  Input (N, C, H, W) or
(C, H, W); output (N, C, m_h, m_w).
"""
from __future__ import annotations

from ... import backend
from ...arguments import pair
from ...tensor import Tensor


def _starts(xp, samples, n, m, k, dtype):
    """(P, m) window starts for P planes' samples (P,)."""
    if m == 1:
        return xp.full((samples.shape[0], 1), n - k, dtype=xp.int64)
    alpha = dtype.type(n - k) / dtype.type(m - 1)
    i = xp.arange(m - 1, dtype=dtype)[None, :]
    u = samples.astype(dtype)[:, None]
    seq = (((i + u) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64))
    last = xp.full((samples.shape[0], 1), n - k, dtype=xp.int64)
    return xp.concatenate([seq, last], axis=1)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Max over pseudo-random (kh, kw) windows to reach ``output_size`` (or
    int(size * ``output_ratio``)); see the module docstring."""
    op = "fractional_max_pool2d"
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3D or 4D input, got shape {tuple(input.shape)}")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    x = input if input.ndim == 4 else input.unsqueeze(0)
    n, c, h, w = x.shape
    kh, kw = pair(kernel_size, "kernel_size", op)
    if output_size is None:
        rh, rw = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * 2
        output_size = (int(h * rh), int(w * rw))
    oh, ow = pair(output_size, "output_size", op)
    if oh + kh - 1 > h or ow + kw - 1 > w or min(oh, ow, kh, kw) < 1:
        raise RuntimeError(f"{op}: output size {(oh, ow)} with pool size {(kh, kw)} does not fit "
                           f"the input size {(h, w)} (need output + pool - 1 <= input)")
    xp = backend.get_array_module(x.array)
    if _random_samples is None:
        rng = backend.get_rng(x.device)
        samples = rng.random((n, c, 2), dtype=backend.dtype("float64")).astype(x.dtype)
    else:
        samples = _random_samples.array if isinstance(_random_samples, Tensor) else \
            backend.as_array(_random_samples, device=x.device)
        if tuple(samples.shape) != (n, c, 2):
            raise RuntimeError(f"{op}: expected _random_samples of shape ({n}, {c}, 2), got "
                               f"{tuple(samples.shape)}")
    samples = samples.reshape(n * c, 2)
    rows = _starts(xp, samples[:, 1], h, oh, kh, x.dtype)          # (P, oh)
    cols = _starts(xp, samples[:, 0], w, ow, kw, x.dtype)          # (P, ow)
    hh = rows[:, :, None, None, None] + xp.arange(kh)[None, None, None, :, None]
    ww = cols[:, None, :, None, None] + xp.arange(kw)[None, None, None, None, :]
    flat = (hh * w + ww).reshape(n * c, oh * ow, kh * kw)           # window positions
    planes = x.reshape(n * c, h * w)
    window = planes.array[xp.arange(n * c)[:, None, None], flat]
    best = window.argmax(axis=2)                                  # the first maximum
    chosen = xp.take_along_axis(flat, best[..., None], axis=2)[..., 0]   # (P, oh * ow)
    out = planes.gather(1, Tensor.wrap(chosen)).reshape(n, c, oh, ow)
    indices = Tensor.wrap(chosen.reshape(n, c, oh, ow))
    if input.ndim == 3:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning (values, indices) always, as torch."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices"]
