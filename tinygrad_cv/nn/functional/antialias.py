"""Antialiased resampling matrices (``interpolate(..., antialias=True)``, modes 'bilinear',
'bicubic' and 'lanczos' on (N, C, H, W); torch's rules).

Each axis is a constant (out, in) matrix ``M`` and the resize is ``y = Mh @ x @ Mw^T``
(``interpolation.separable_linear``: two GEMMs each way, the backward the transposed
products).  Row ``i`` of ``M`` is a filter centred on the output pixel's centre in input
coordinates, stretched by the scale when downsampling so that it averages every input pixel
the output pixel covers::

    center   = scale * (i + 0.5)
    support  = r * max(scale, 1)              r = 1 (triangle), 2 (cubic) or 3 (Lanczos)
    lo       = max(trunc(center - support + 0.5), 0)
    hi       = min(trunc(center + support + 0.5), in)
    M[i, j]  = k((j - center + 0.5) / max(scale, 1))     for lo <= j < hi, else 0
    M[i, :] /= sum_j M[i, j]                               (left as is when the sum is 0)

with ``k`` the triangle ``max(1 - |t|, 0)`` ('bilinear'), Keys' cubic with a = -0.5
('bicubic', the value PIL uses; plain bicubic takes -0.75) or Lanczos-3
``sinc(t) * sinc(t / 3)`` for ``|t| < 3`` ('lanczos', ``sinc(t) = sin(pi t) / (pi t)``).  ``scale`` is ``in / out``,
``1 / scale_factor`` when a scale factor is given (without recompute_scale_factor), or
``(in - 1) / (out - 1)`` (0 when out == 1) with align_corners=True, which changes only the
scale: the centres stay at ``scale * (i + 0.5)``.  As torch computes them, the weights of a
float32 input are float32 arithmetic (float64 for a float64 input).

An axis whose output size equals its input size is left as it is (the identity), as torch's
forward does even when the scale factor is not 1 (e.g. 1.05 on 10 pixels); torch's backward
there uses the filter's matrix instead, the gradient here is the adjoint of the values
returned.
"""
from __future__ import annotations

from ... import backend
from .interpolation import cubic_far, cubic_near

_RADIUS = {"bilinear": 1, "bicubic": 2, "lanczos": 3}
_CUBIC_A = -0.5


def _kernel(xp, mode, t):
    """The filter at distances t (float array of the weights' dtype)."""
    t = xp.abs(t)
    if mode == "bilinear":
        return xp.where(t < 1, 1 - t, 0).astype(t.dtype)
    if mode == "lanczos":
        return xp.where(t < 3, xp.sinc(t) * xp.sinc(t / 3), 0).astype(t.dtype)
    a = t.dtype.type(_CUBIC_A)
    return xp.where(t < 1, cubic_near(t, a), xp.where(t < 2, cubic_far(t, a), 0)).astype(t.dtype)


def antialias_matrix(xp, mode, in_size, out_size, scale, dtype):
    """(out_size, in_size) matrix of one axis (module docstring); ``scale`` the source pixels
    per output pixel (``in / out``, ``1 / scale_factor`` or the align_corners ratio)."""
    if out_size == in_size:
        return xp.eye(in_size, dtype=dtype)
    wdt = xp.float64 if xp.dtype(dtype) == xp.float64 else xp.float32
    s = wdt(scale)
    stretch = max(s, wdt(1))
    support = wdt(_RADIUS[mode]) * stretch
    inv = wdt(1) / stretch
    # torch takes (i + 0.5) and the + 0.5 below in float64 and rounds the centre and the
    # filter's argument to the weights' dtype
    center = (float(s) * (xp.arange(out_size, dtype="float64") + 0.5)).astype(wdt)
    lo = xp.maximum(xp.trunc((center - support).astype("float64") + 0.5), 0)
    hi = xp.minimum(xp.trunc((center + support).astype("float64") + 0.5), in_size)
    j = xp.arange(in_size, dtype=wdt)[None, :]
    t = (((j - center[:, None]).astype("float64") + 0.5) * float(inv)).astype(wdt)
    inside = (j >= lo[:, None]) & (j < hi[:, None])
    w = xp.where(inside, _kernel(xp, mode, t), wdt(0))
    total = w.sum(axis=1, keepdims=True)
    w = xp.where(total != 0, w / xp.where(total != 0, total, wdt(1)), w)
    return w.astype(dtype)


def antialias_matrices(x, mode, out, scale, align_corners):
    """The (Ho, H) and (Wo, W) matrices for x (N, C, H, W) resized to ``out`` = (Ho, Wo);
    ``scale`` the source scales of interpolate (``in / out`` or ``1 / scale_factor``)."""
    xp = backend.get_array_module(x)
    mats = []
    for n, o, s in zip(x.shape[2:], out, scale):
        if align_corners:
            s = (n - 1) / (o - 1) if o > 1 else 0.0
        mats.append(antialias_matrix(xp, mode, n, o, s, x.dtype))
    return tuple(mats)
