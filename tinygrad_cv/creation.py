"""Tensor factories: ``tensor, zeros, ones, empty, full, arange, linspace, eye, rand, randn,
randint`` and the ``*_like`` forms, plus ``from_numpy`` / ``from_dlpack``.

Each takes ``dtype=`` (float32 by default), ``device=`` ("cpu"/"cuda"; the default device
when omitted) and ``requires_grad=``.  Random factories draw from the seeded generator of
the device (``tinygrad_cv.manual_seed``).
"""
from __future__ import annotations

from . import backend
from .tensor import (Tensor, _FLOAT32, _INT64, _check_requires_grad, _infer_dtype,
                     _resolve_dtype, _shape_arg)


def _factory_dtype(dtype, default=_FLOAT32):
    return _resolve_dtype(dtype) if dtype is not None else default


def _finish(arr, requires_grad):
    _check_requires_grad(arr.dtype, requires_grad)
    t = Tensor.wrap(arr)
    t.requires_grad = bool(requires_grad)
    return t


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Build a Tensor from data (alias of ``Tensor(...)``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _xp(device):
    return backend.module_for_device(backend.normalize_device(device))


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).zeros(_shape_arg(shape), dtype=_factory_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).ones(_shape_arg(shape), dtype=_factory_dtype(dtype)), requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).empty(_shape_arg(shape), dtype=_factory_dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _finish(_xp(device).full(shape, fill_value, dtype=_factory_dtype(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = _INT64 if all(isinstance(v, int) for v in (start, end, step)) else _FLOAT32
    return _finish(_xp(device).arange(start, end, step, dtype=_resolve_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).linspace(start, end, steps, dtype=_factory_dtype(dtype)),
                   requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).eye(n, m, dtype=_factory_dtype(dtype)), requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples from the seeded generator of ``device``."""
    dt = _factory_dtype(dtype)
    arr = backend.get_rng(device).random(_shape_arg(shape), dtype=dt)
    return _finish(arr, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the seeded generator of ``device``."""
    dt = _factory_dtype(dtype)
    arr = backend.get_rng(device).standard_normal(_shape_arg(shape), dtype=dt)
    return _finish(arr, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, requires_grad=False):
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    arr = backend.get_rng(device).integers(low, high, size=size)
    return _finish(arr.astype(_factory_dtype(dtype, _INT64)), requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return randn(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return rand(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def from_dlpack(obj):
    """A Tensor sharing memory with any DLPack producer (torch, numpy, cupy...)."""
    return Tensor.wrap(backend.from_dlpack(obj))


def from_numpy(array):
    return Tensor.wrap(backend.as_array(array, device="cpu"))
