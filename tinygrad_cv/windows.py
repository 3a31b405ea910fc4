"""torch's signal windows: ``hann_window``, ``hamming_window``, ``blackman_window``,
``bartlett_window`` and ``kaiser_window`` (1-D, float32 by default).

With N points and ``periodic`` (the default, for spectral analysis), the window is the
symmetric one of N + 1 points without its last; with n = 0 .. M-1 and M the symmetric length:

    hamming   alpha - beta cos(2 pi n / (M - 1))        (hann: alpha = beta = 1/2)
    blackman  0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))
    bartlett  1 - |2 n / (M - 1) - 1|
    kaiser    I0(beta sqrt(1 - (2 n / (M - 1) - 1)^2)) / I0(beta)

A window of one point is [1]; of none, empty.
"""
from __future__ import annotations

import math

from . import backend
from .creation import get_default_dtype
from .tensor import Tensor


def _window(name, length, periodic, dtype, device, requires_grad, shape_fn):
    if isinstance(length, Tensor) and length.ndim == 0 and length.dtype.kind in "iu":
        length = int(length.item())          # (a 0-d integer tensor, as torch takes)
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={length}")
    dt = get_default_dtype() if dtype is None else backend.dtype(dtype)
    if dt.kind != "f":
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    xp = backend.module_for_device(device or backend.get_default_device())
    if length <= 1:
        out = xp.ones(length, dtype=dt)
    else:
        m = length + 1 if periodic else length
        n = xp.arange(m, dtype="float64")
        out = shape_fn(xp, n, m)[:length].astype(dt)
    t = Tensor.wrap(out)
    return t.requires_grad_() if requires_grad else t


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    return _hamming("hamming_window", window_length, periodic, alpha, beta, dtype, device,
                    requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    return _hamming("hann_window", window_length, periodic, 0.5, 0.5, dtype, device,
                    requires_grad)


def _hamming(name, length, periodic, alpha, beta, dtype, device, requires_grad):
    return _window(name, length, periodic, dtype, device, requires_grad,
                   lambda xp, n, m: alpha - beta * xp.cos(2 * math.pi * n / (m - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, m: 0.42 - 0.5 * xp.cos(2 * math.pi * n / (m - 1))
                   + 0.08 * xp.cos(4 * math.pi * n / (m - 1)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, m: 1 - xp.abs(2 * n / (m - 1) - 1))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, m: xp.i0(beta * xp.sqrt(
                       xp.maximum(1 - (2 * n / (m - 1) - 1) ** 2, 0.0))) / xp.i0(beta))
