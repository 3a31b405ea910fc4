"""Fractional max pooling (Graham 2014), torch's F.fractional_max_pool2d / 3d.

Each (sample, channel) plane draws one u ~ U[0, 1) per spatial axis (or takes
``_random_samples`` (N, C, 2) ordered (u_w, u_h), or (N, C, 3) ordered (u_t, u_h, u_w)) and
pools k-wide windows starting at the pseudo-random sequence, per axis of input size n, output
size m and window k (alpha = (n - k) / (m - 1), computed in the input's dtype as torch):

    start[i] = int((i + u) alpha) - int(u alpha)   for i < m - 1,   start[m - 1] = n - k

The maximum of each window is gathered (the first one on ties, the last NaN if the window has
one, as torch), so the gradient goes to that element; ``return_indices`` gives its flat
position h * W + w (2-D) or t * H * W + h * W + w (3-D) in its plane.  Input (N, C, H, W) or
(C, H, W), output (N, C, m_h, m_w); input (N, C, T, H, W) or (C, T, H, W), output
(N, C, m_t, m_h, m_w).
"""
from __future__ import annotations

import math

from ... import backend
from ...arguments import pair, triple
from ...tensor import Tensor


def _starts(xp, samples, n, m, k, dtype):
    """(P, m) window starts for P planes' samples (P,) (none for m = 0)."""
    if m <= 1:
        return xp.full((samples.shape[0], m), n - k, dtype=xp.int64)
    alpha = dtype.type(n - k) / dtype.type(m - 1)
    i = xp.arange(m - 1, dtype=dtype)[None, :]
    u = samples.astype(dtype)[:, None]
    seq = (((i + u) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64))
    last = xp.full((samples.shape[0], 1), n - k, dtype=xp.int64)
    return xp.concatenate([seq, last], axis=1)


def _window_positions(xp, starts, kernel, sizes):
    """(P, prod(m), prod(k)) flat positions in each plane of the windows whose per-axis starts
    are ``starts`` (a list of (P, m_d) arrays), for window ``kernel`` and plane ``sizes``."""
    ndim, planes = len(starts), starts[0].shape[0]
    flat, stride = 0, 1
    for d in reversed(range(ndim)):
        grid = [1] * (1 + 2 * ndim)
        grid[0], grid[1 + d] = planes, starts[d].shape[1]
        offset = [1] * (1 + 2 * ndim)
        offset[1 + ndim + d] = kernel[d]
        position = starts[d].reshape(grid) + xp.arange(kernel[d]).reshape(offset)
        flat = flat + position * stride
        stride *= sizes[d]
    outputs = tuple(start.shape[1] for start in starts)
    return xp.broadcast_to(flat, (planes,) + outputs + tuple(kernel)).reshape(
        planes, math.prod(outputs), math.prod(kernel))


def _first_max(xp, window):
    """Index along the last axis of each window's maximum as torch picks it: the first
    maximum, or the last NaN where the window holds NaNs."""
    nan = xp.isnan(window)
    last_nan = window.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
    return xp.where(nan.any(axis=-1), last_nan, window.argmax(axis=-1))


def _pool_planes(x, kernel, output_size, samples):
    """(values, indices) of fractional max pooling of batched ``x`` (N, C, *sizes) with
    ``samples`` (N * C, ndim) giving u per plane and spatial axis (in axis order)."""
    xp = backend.get_array_module(x.array)
    n, c, sizes = x.shape[0], x.shape[1], tuple(x.shape[2:])
    starts = [_starts(xp, samples[:, d], sizes[d], output_size[d], kernel[d], x.dtype)
              for d in range(len(sizes))]
    flat = _window_positions(xp, starts, kernel, sizes)            # (P, M, K)
    planes = x.reshape(n * c, math.prod(sizes))
    window = planes.array[xp.arange(n * c)[:, None, None], flat]
    best = _first_max(xp, window)
    chosen = xp.take_along_axis(flat, best[..., None], axis=2)[..., 0]   # (P, M)
    out = planes.gather(1, Tensor.wrap(chosen)).reshape((n, c) + tuple(output_size))
    return out, Tensor.wrap(chosen.reshape((n, c) + tuple(output_size)))


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
    h, w = x.shape[2:]
    kh, kw = pair(kernel_size, "kernel_size", op)
    if output_size is None:
        rh, rw = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * 2
        output_size = (int(h * rh), int(w * rw))
    oh, ow = pair(output_size, "output_size", op)
    if oh + kh - 1 > h or ow + kw - 1 > w or min(kh, kw) < 1 or min(oh, ow) < 0:
        raise RuntimeError(f"{op}: output size {(oh, ow)} with pool size {(kh, kw)} does not fit "
                           f"the input size {(h, w)} (need output + pool - 1 <= input)")
    samples = _samples(op, _random_samples, x)[:, ::-1]              # (u_h, u_w) per plane
    out, indices = _pool_planes(x, (kh, kw), (oh, ow), samples)
    if input.ndim == 3:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning (values, indices) always, as torch."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def _triple_as_torch(value, name, op):
    """``value`` (an int or a (t, h, w) triple) as a triple; another length is a RuntimeError,
    as torch."""
    try:
        return triple(value, name, op)
    except ValueError as error:
        raise RuntimeError(f"{op}: {name} must either be a single int or a tuple of three "
                           f"ints, got {value!r}") from error


def _samples(op, random_samples, x):
    """The (N * C, d) samples per plane of batched ``x`` (N, C, *d sizes), in torch's column
    order: drawn, or the first N rows of the given (N', C, d) ``random_samples`` (N' >= N, the
    input's dtype) as torch."""
    n, c, ndim = x.shape[0], x.shape[1], x.ndim - 2
    if random_samples is None:
        rng = backend.get_rng(x.device)
        return rng.random((n * c, ndim), dtype=backend.dtype("float64")).astype(x.dtype)
    samples = random_samples.array if isinstance(random_samples, Tensor) else \
        backend.as_array(random_samples, device=x.device)
    if samples.ndim != 3:
        raise RuntimeError(f"{op}: expected _random_samples to have 3 dimensions, got "
                           f"{samples.ndim}")
    if samples.shape[0] < n or samples.shape[1] != c or samples.shape[2] != ndim:
        raise RuntimeError(f"{op}: expected _random_samples of shape (>= {n}, {c}, {ndim}), got "
                           f"{tuple(samples.shape)}")
    if samples.dtype != x.dtype:
        raise RuntimeError(f"{op}: expected _random_samples to have the same dtype as input "
                           f"({x.dtype}), got {samples.dtype}")
    return samples[:n].reshape(n * c, ndim)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Max over pseudo-random (kt, kh, kw) windows to reach ``output_size`` (or
    int(size * ``output_ratio``)); input (N, C, T, H, W) or (C, T, H, W); see the module
    docstring.  Needs output + pool - 1 < input on every axis (strict, as torch)."""
    op = "fractional_max_pool3d"
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{op}: expected a 4D or 5D input, got shape {tuple(input.shape)}")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    x = input if input.ndim == 5 else input.unsqueeze(0)
    sizes = tuple(x.shape[2:])
    kernel = _triple_as_torch(kernel_size, "kernel_size", op)
    if output_size is None:
        ratio = _ratio3(output_ratio)
        output_size = tuple(int(size * r) for size, r in zip(sizes, ratio))
    output_size = _triple_as_torch(output_size, "output_size", op)
    if min(kernel) < 1 or min(output_size) < 0:
        raise RuntimeError(f"{op}: kernel_size {kernel} must be positive and output_size "
                           f"{output_size} not negative")
    if x.shape[1] == 0:
        raise RuntimeError(f"{op}: expected input to have non-zero size for non-batch "
                           f"dimensions, got shape {tuple(input.shape)}")
    for axis in (0, 1, 2):
        if output_size[axis] + kernel[axis] - 1 >= sizes[axis]:
            name = ("time", "height", "width")[axis]
            raise RuntimeError(f"{op}: pool {name} {kernel[axis]} too large relative to input "
                               f"{name} {sizes[axis]} (need output + pool - 1 < input, got "
                               f"output size {output_size} and input size {sizes})")
    samples = _samples(op, _random_samples, x)
    out, indices = _pool_planes(x, kernel, output_size, samples)
    if input.ndim == 4:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out


def _ratio3(ratio):
    """An output ratio given as one number or a (t, h, w) triple, as a triple of floats."""
    return tuple(ratio) if isinstance(ratio, (tuple, list)) else (ratio,) * 3


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool3d`` returning (values, indices) always, as torch."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]
