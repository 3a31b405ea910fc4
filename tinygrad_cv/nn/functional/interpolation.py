"""Resampling of the spatial axes: nearest, nearest-exact, (bi/tri)linear, bicubic and area
interpolation (torch's rules).

Every mode (and adaptive average pooling, which is mode 'area') is a separable linear map of
the last two axes::

    y = A @ x @ B^T,     A: (Ho, H),  B: (Wo, W),     x: (N, C, H, W) -> y: (N, C, Ho, Wo)
    dL/dx = A^T @ dy @ B

computed as two GEMMs each way (``separable_linear``, the primitive of ``ops/separable.py``; a
matrix of 64 rows or more whose nonzeros lie in a band, as every resize's do, is applied band
by band).  Nearest upsampling by integer factors is a broadcast (its backward a reshaped
sum).  ``antialias=True`` (modes 'bilinear', 'bicubic', 'lanczos') takes the normalised,
scale-stretched filter matrices of ``antialias.py`` through the same map.

Source coordinates of output index ``o`` (``scale = in / out``, or ``1 / scale_factor`` when
a scale factor is given, as torch does without ``recompute_scale_factor``):

* nearest: ``src = min(floor(o * scale), in - 1)``
* nearest-exact: ``src = min(floor((o + 0.5) * scale), in - 1)``
* bilinear, align_corners=False: ``src = max((o + 0.5) * scale - 0.5, 0)``
* bicubic, align_corners=False: ``src = (o + 0.5) * scale - 0.5`` (not clamped)
* bilinear and bicubic, align_corners=True: ``src = o * (in - 1) / (out - 1)`` (0 when
  out == 1)

except, as torch, on an axis whose output size equals its input size (``src = o``, both
modes: a scale factor such as 1.1 that floors back to the input size changes nothing) or is
twice it (nearest only: ``src = o // 2``, whatever the scale factor, e.g. 2.1).

with ``y = (1 - l) * x[i0] + l * x[i1]``, ``i0 = floor(src)``, ``i1 = min(i0 + 1, in - 1)``,
``l = src - i0`` along each axis (bilinear).  Bicubic takes x[i0 - 1 .. i0 + 2] (indices
clamped to [0, in - 1]) with Keys' cubic convolution weights, a = -0.75, at distances
``t + 1, t, 1 - t, 2 - t`` (``t = src - i0``).  Area is ``adaptive_avg_pool2d`` to the size.

Volumes (N, C, D, H, W; modes 'nearest', 'nearest-exact', 'trilinear', 'area') are the same
maps per axis (``_interpolate_volume``): the 2-D map of the (N, C*D, H, W) view, then the
depth matrix applied to the (N, C, D, Ho*Wo) view (``DepthLinearFn``); trilinear is bilinear's
matrices on the three axes.  Nearest has no exact cases there (torch's 3-D kernel takes
``floor(o * scale)`` on every axis).  (N, C, L) inputs ('linear' and the rest) are volumes of
shape (N, C, 1, 1, L).
"""
from __future__ import annotations

import math
import warnings

from ... import backend
from ...autograd import buffers
from ...autograd.function import Function
from ...ops.separable import is_channels_last, separable_linear


def _sum_blocks(a, axes, factors):
    """Sum of each run of ``f`` consecutive elements along each of ``axes`` (the adjoint of
    repeating them), innermost axis first, as ``f`` slice additions per axis: NumPy's
    reduction over several short strided axes is ~10x slower (2x nearest upsampling of a
    (2, 16, 8, 16, 16) volume: 8.8 ms against 0.8 ms)."""
    for axis, f in sorted(zip(axes, factors), reverse=True):
        if f == 1:
            continue
        shape = a.shape
        blocks = a.reshape(shape[:axis] + (shape[axis] // f, f) + shape[axis + 1:])
        lead = (slice(None),) * (axis + 1)
        total = blocks[lead + (0,)] + blocks[lead + (1,)]
        for i in range(2, f):
            total += blocks[lead + (i,)]
        a = total
    return a


class NearestRepeatFn(Function):
    """Nearest upsampling by integer factors of the trailing axes ((fh, fw) for (N, C, H, W),
    (fd, fh, fw) for (N, C, D, H, W)): y[..., i, j] = x[..., i // fh, j // fw].

    The forward repeats one axis at a time (``repeat``: 6x faster than a broadcast copy with
    short inner runs), the backward adds each block's slices (``_sum_blocks``).  A
    channels-last (N, C, H, W) x (a column convolution's output) is repeated in its NHWC
    memory and y is returned channels-last too (runs of C contiguous values); the backward
    sums the (fh, fw) blocks of dy in whichever of the two layouts dy has."""

    @staticmethod
    def forward(ctx, x, factors=(2, 2)):
        xp = backend.get_array_module(x)
        ctx.factors = tuple(factors)
        if x.ndim == 4 and is_channels_last(x):
            n, c, h, w = x.shape
            fh, fw = factors
            y = buffers.empty((n, h, fh, w, fw, c), x.dtype, x)
            y[...] = x.transpose(0, 2, 3, 1)[:, :, None, :, None, :]
            return y.reshape(n, h * fh, w * fw, c).transpose(0, 3, 1, 2)
        y = x
        for axis, f in zip(range(x.ndim - len(factors), x.ndim), factors):
            if f > 1:
                y = xp.repeat(y, f, axis=axis)
        return x.copy() if y is x else y

    @staticmethod
    def backward(ctx, dy):
        factors = ctx.factors
        if dy.ndim == 4 and is_channels_last(dy):
            return _sum_blocks(dy.transpose(0, 2, 3, 1), (1, 2), factors).transpose(0, 3, 1, 2)
        return _sum_blocks(dy, range(dy.ndim - len(factors), dy.ndim), factors)


def _nearest_source(xp, in_size, out_size, scale, exact_cases=True):
    """Nearest source index of each output index; ``exact_cases``: torch's 2-D rule for an
    output size equal to (or twice) the input's (module docstring), which its 3-D kernel
    does not have."""
    if exact_cases and out_size in (in_size, 2 * in_size):
        return xp.arange(out_size) // (out_size // in_size)
    o = xp.arange(out_size, dtype="float32")   # float32 arithmetic, as torch computes it
    return xp.minimum(xp.floor(o * xp.float32(scale)).astype(int), in_size - 1)


def _nearest_matrix(xp, in_size, out_size, scale, dtype, exact_cases=True):
    src = _nearest_source(xp, in_size, out_size, scale, exact_cases)
    return (src[:, None] == xp.arange(in_size)[None, :]).astype(dtype)


def _bilinear_matrix(xp, in_size, out_size, scale, align_corners, dtype):
    if out_size == in_size:                     # torch's exact case (module docstring)
        return xp.eye(in_size, dtype=dtype)
    o = xp.arange(out_size, dtype="float64")
    if align_corners:
        src = o * ((in_size - 1) / (out_size - 1)) if out_size > 1 else o * 0.0
    else:
        src = xp.maximum((o + 0.5) * scale - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(int), in_size - 1)
    i1 = xp.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    cols = xp.arange(in_size)[None, :]
    m = (cols == i0[:, None]) * (1.0 - lam)[:, None] + (cols == i1[:, None]) * lam[:, None]
    return m.astype(dtype)


def _nearest_exact_matrix(xp, in_size, out_size, scale, dtype):
    # float32 arithmetic, as torch computes the source index
    o = xp.arange(out_size, dtype="float32")
    src = xp.minimum(xp.floor((o + xp.float32(0.5)) * xp.float32(scale)).astype(int),
                     in_size - 1)
    return (src[:, None] == xp.arange(in_size)[None, :]).astype(dtype)


_CUBIC_A = -0.75


def cubic_near(x, a=_CUBIC_A):
    """Keys' kernel for |x| <= 1 (parameter a)."""
    return ((a + 2) * x - (a + 3)) * x * x + 1


def cubic_far(x, a=_CUBIC_A):
    """Keys' kernel for 1 < |x| < 2 (parameter a)."""
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _bicubic_matrix(xp, in_size, out_size, scale, align_corners, dtype):
    o = xp.arange(out_size, dtype="float64")
    if align_corners:
        src = o * ((in_size - 1) / (out_size - 1)) if out_size > 1 else o * 0.0
    else:
        src = (o + 0.5) * scale - 0.5
    i0 = xp.floor(src)
    t = src - i0
    cols = xp.arange(in_size)[None, :]
    m = xp.zeros((out_size, in_size), dtype="float64")
    for k, weight in enumerate((cubic_far(t + 1), cubic_near(t), cubic_near(1 - t),
                                cubic_far(2 - t))):
        index = xp.clip(i0.astype(int) - 1 + k, 0, in_size - 1)
        m += (cols == index[:, None]) * weight[:, None]     # clamped taps add up
    return m.astype(dtype)


def _output_size(op, shape, size, scale_factor):
    """(output sizes, source scales, scale factors or None) of the spatial axes of ``shape``
    (2 for 4-D input, 3 for 5-D)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    spatial = tuple(shape[2:])
    dims = len(spatial)
    if size is not None:
        size = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
        if len(size) != dims:
            raise ValueError(f"{op}: size must be an int or {dims} ints for {dims + 2}-D input, "
                             f"got {size!r}")
        return (tuple(int(s) for s in size), tuple(n / int(s) for n, s in zip(spatial, size)),
                None)
    sf = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
          else (scale_factor,) * dims)
    if len(sf) != dims:
        raise ValueError(f"{op}: scale_factor must be a number or {dims} numbers for "
                         f"{dims + 2}-D input, got {scale_factor!r}")
    out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, sf))
    return out, tuple(1.0 / f for f in sf), sf


MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area", "linear", "trilinear",
         "lanczos")
_MODE_NDIM = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5,
              "lanczos": 4}                                           # the others: any
_ANTIALIAS_MODES = ("bilinear", "bicubic", "lanczos")


def _repeats(in_size, out_size, scale_factor):
    """True when nearest resampling of one axis repeats each input element out/in times."""
    if out_size % in_size:
        return False
    factor = out_size // in_size
    return scale_factor is None or factor in (1, 2) or scale_factor == factor


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, H, W) to ``size`` or by ``scale_factor`` (modes 'nearest',
    'nearest-exact', 'bilinear', 'bicubic', 'area'; the module docstring); (N, C, D, H, W)
    with 'trilinear' instead of the 2-D modes, (N, C, L) with 'linear' (the volume path on an
    (N, C, 1, 1, L) view).

    ``recompute_scale_factor=True``: the output size comes from ``scale_factor`` and the
    coordinates from the sizes (``scale = in / out``), as if that size had been given.
    ``antialias=True`` ('bilinear', 'bicubic' and 'lanczos' on 4-D input): the filter is
    stretched by the scale when downsampling, each output pixel a normalised average of all
    the input pixels it covers (``antialias.py``); mode 'lanczos' (Lanczos-3) exists only so,
    with align_corners False."""
    op = "interpolate"
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: expected input of shape (N, C, L) (3-D), (N, C, H, W) (4-D) or "
                         f"(N, C, D, H, W) (5-D), got shape {tuple(input.shape)}")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode not in _MODE_NDIM and align_corners is not None:
        raise ValueError(f"{op}: align_corners only applies to modes 'linear', 'bilinear', "
                         "'bicubic', 'trilinear' and 'lanczos'")
    if recompute_scale_factor and size is not None:
        raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
    # torch's order: the size or scale factor is checked before the mode's dimensions
    out, scale, sf = _output_size(op, input.shape, size, scale_factor)
    if recompute_scale_factor:
        out, scale, sf = _output_size(op, input.shape, out, None)
    if antialias and not (mode in _ANTIALIAS_MODES and input.ndim == 4):
        raise ValueError(f"{op}: antialias=True is restricted to modes 'bilinear', 'bicubic' and "
                         f"'lanczos' on 4-D (N, C, H, W) input, got mode {mode!r} and "
                         f"{input.ndim}-D input")
    if _MODE_NDIM.get(mode, input.ndim) != input.ndim:
        raise NotImplementedError(f"{op}: got {input.ndim}-D input, but {mode} mode needs "
                                  f"{_MODE_NDIM[mode]}-D input")
    if mode == "lanczos" and align_corners:
        raise ValueError(f"{op}: mode 'lanczos' does not support align_corners=True")
    if mode == "lanczos" and not antialias:
        raise ValueError(f"{op}: mode 'lanczos' requires antialias=True")
    if mode in _MODE_NDIM and not backend.is_floating(input.dtype):
        raise NotImplementedError(f"{op}: mode {mode!r} needs a floating-point input, got "
                                  f"{input.dtype} (integer resampling, torch's saturating "
                                  "uint8 arithmetic, is not provided: convert with .float())")
    if min(out) < 1:
        raise ValueError(f"{op}: output size {out} must be positive")
    if input.ndim == 5:
        return _interpolate_volume(input, out, scale, mode, align_corners)
    if input.ndim == 3:
        n, c, length = input.shape
        y = _interpolate_volume(input.reshape(n, c, 1, 1, length), (1, 1) + out,
                                (1.0, 1.0) + scale, "trilinear" if mode == "linear" else mode,
                                align_corners)
        return y.reshape(n, c, out[0])
    if antialias:
        from .antialias import antialias_matrices      # it builds on this module
        return separable_linear(input, *antialias_matrices(input, mode, out, scale,
                                                           bool(align_corners)))
    ho, wo = out
    h, w = input.shape[2], input.shape[3]
    if mode == "nearest" and _repeats(h, ho, None if sf is None else sf[0]) and _repeats(
            w, wo, None if sf is None else sf[1]):
        return NearestRepeatFn.apply(input, factors=(ho // h, wo // w))
    if mode == "area":
        from .pooling import adaptive_avg_pool2d      # pooling builds on this module
        return adaptive_avg_pool2d(input, (ho, wo))
    xp = backend.get_array_module(input)
    dt = input.dtype
    if mode == "nearest":
        a = _nearest_matrix(xp, h, ho, scale[0], dt)
        b = _nearest_matrix(xp, w, wo, scale[1], dt)
    elif mode == "nearest-exact":
        a = _nearest_exact_matrix(xp, h, ho, scale[0], dt)
        b = _nearest_exact_matrix(xp, w, wo, scale[1], dt)
    else:
        matrix = _bilinear_matrix if mode == "bilinear" else _bicubic_matrix
        ac = bool(align_corners)
        a = matrix(xp, h, ho, scale[0], ac, dt)
        b = matrix(xp, w, wo, scale[1], ac, dt)
    return separable_linear(input, a, b)


def _axis_matrix(xp, mode, in_size, out_size, scale, align_corners, dtype):
    """(out, in) resampling matrix of one axis for the volume modes."""
    if mode == "nearest":
        return _nearest_matrix(xp, in_size, out_size, scale, dtype, exact_cases=False)
    if mode == "nearest-exact":
        return _nearest_exact_matrix(xp, in_size, out_size, scale, dtype)
    return _bilinear_matrix(xp, in_size, out_size, scale, bool(align_corners), dtype)


class DepthLinearFn(Function):
    """y[n, c] = A @ x[n, c] for x (N, C, D, R) and a constant A (Do, D) (one batched GEMM);
    dL/dx[n, c] = A^T @ dy[n, c]."""

    @staticmethod
    def forward(ctx, x, a=None):
        ctx.a = a
        return backend.get_array_module(x).matmul(a, x)

    @staticmethod
    def backward(ctx, dy):
        return backend.get_array_module(dy).matmul(ctx.a.T, dy)


def _volume_repeats(xp, in_size, out_size, scale):
    """True when 3-D nearest resampling of one axis repeats each input element out/in times
    (its source indices, without the 2-D exact cases, are o // (out / in))."""
    if out_size % in_size:
        return False
    src = _nearest_source(xp, in_size, out_size, scale, exact_cases=False)
    return bool((src == xp.arange(out_size) // (out_size // in_size)).all())


def _interpolate_volume(input, out, scale, mode, align_corners):
    """Resample x (N, C, D, H, W) to ``out`` (Do, Ho, Wo): the (H, W) map of the (N, C*D, H,
    W) view, then the depth map of the (N, C, D, Ho*Wo) view (module docstring)."""
    n, c, d, h, w = input.shape
    do, ho, wo = out
    if mode == "area":
        from .pooling3d import adaptive_avg_pool3d      # pooling builds on this module
        return adaptive_avg_pool3d(input, out)
    xp = backend.get_array_module(input)
    if mode == "nearest" and all(_volume_repeats(xp, i, o, s)
                                 for i, o, s in zip((d, h, w), out, scale)):
        return NearestRepeatFn.apply(input, factors=(do // d, ho // h, wo // w))
    planes = input.reshape(n, c * d, h, w)
    dt = input.dtype
    md, mh, mw = (_axis_matrix(xp, mode, i, o, s, align_corners, dt)
                  for i, o, s in zip((d, h, w), out, scale))
    identity = (h, w) == (ho, wo) and all(bool((m == xp.eye(m.shape[0], dtype=dt)).all())
                                          for m in (mh, mw))
    y = planes if identity else separable_linear(planes, mh, mw)
    y = DepthLinearFn.apply(y.reshape(n, c, d, ho * wo), a=md)
    return y.reshape(n, c, do, ho, wo)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
             recompute_scale_factor=None):
    """Alias of ``interpolate`` (torch.nn.functional.upsample)."""
    return interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated alias: ``interpolate(input, size, scale_factor, mode='nearest')``."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated alias: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
