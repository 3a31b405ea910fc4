"""``autocast``: torch's mixed-precision region, as a context manager and decorator.

What it does here: it records the region (``is_autocast_enabled(device_type)`` and
``get_autocast_dtype(device_type)`` answer as torch's) and checks its arguments with torch's
rules, but it changes no computation: every operation inside runs in its inputs' own dtypes.
This framework has no per-operation precision policy (torch casts the inputs of matmul,
linear and convolution to the autocast dtype and keeps a list of operations in float32), so a
float32 model computes in float32 inside ``autocast``; its results differ from torch's under
autocast by torch's float16 rounding only, and a model or input the script itself casts to
float16 computes in float16 as anywhere else.  On the CPU NumPy has no fast float16 matrix
product, so casting matmul inputs down would make the region slower without saving memory
that matters; on the GPU it would save memory and bandwidth but not use tensor cores
differently from a float16 model.

State is thread-local and per device type ('cpu', 'cuda'): enabled flag and dtype.  Default
dtypes are torch's float16 for 'cuda'; for 'cpu' torch's default is bfloat16, which does not
exist here, so it is float16.  As torch: ``device_type`` must be a string ('cpu' or 'cuda';
another raises); 'cuda' without a GPU warns and disables the region; a dtype other than
float16 (or bfloat16 where it exists) warns and disables it.  ``cache_enabled`` is accepted
and has no effect (there is no cast cache).
"""
from __future__ import annotations

import functools
import threading
import warnings

from .. import backend

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
           "set_autocast_enabled", "set_autocast_dtype", "custom_fwd", "custom_bwd"]

_DEVICE_TYPES = ("cpu", "cuda")
_TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                       "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                       "privateuseone")


class _State(threading.local):
    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": backend.dtype("float16"), "cuda": backend.dtype("float16")}


_state = _State()


def _check_device_type(device_type) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    kind = device_type.split(":", 1)[0]
    if kind not in _TORCH_DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_TORCH_DEVICE_TYPES)} device type at "
                           f"start of device string: {device_type}")
    if kind not in _DEVICE_TYPES:
        raise RuntimeError(f"autocast: device type {kind!r} is not supported (only 'cpu' and "
                           "'cuda' exist in tinygrad_cv)")
    return kind


def is_autocast_available(device_type: str) -> bool:
    """True for the device types autocast accepts ('cpu', 'cuda')."""
    return _check_device_type(device_type) in _DEVICE_TYPES


def is_autocast_enabled(device_type=None) -> bool:
    """Whether an autocast region is active for ``device_type`` (no argument: 'cuda', as
    torch)."""
    return _state.enabled[_check_device_type("cuda" if device_type is None else device_type)]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """torch.set_autocast_enabled(device_type, enabled) (or (enabled) for 'cuda')."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _state.enabled[_check_device_type(device_type)] = bool(enabled)


def get_autocast_dtype(device_type):
    """The dtype an autocast region of ``device_type`` uses (or would use by default)."""
    return _state.dtype[_check_device_type(device_type)]


def set_autocast_dtype(device_type, dtype) -> None:
    _state.dtype[_check_device_type(device_type)] = backend.dtype(dtype)


def _supported_dtypes():
    names = ["float16"] + (["bfloat16"] if _has_dtype("bfloat16") else [])
    return [backend.dtype(n) for n in names]


def _has_dtype(name):
    try:
        backend.dtype(name)
    except (TypeError, ValueError, KeyError):
        return False
    return True


class autocast:
    """torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None): a region
    in which ``is_autocast_enabled(device_type)`` is True and ``get_autocast_dtype`` is
    ``dtype``; computations keep their inputs' dtypes (see the module docstring).  Also a
    decorator (``@autocast('cuda')``)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        self.device = _check_device_type(device_type)
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None \
            else backend.dtype(dtype)
        self._cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        if enabled and self.device == "cuda" and not backend.cuda_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                          "autocast.", stacklevel=2)
            enabled = False
        if enabled and self.fast_dtype not in _supported_dtypes():
            supported = ", ".join(str(d) for d in _supported_dtypes())
            where = "CPU" if self.device == "cpu" else "CUDA"
            warnings.warn(f"In {where} autocast, but the target dtype is not supported. "
                          f"Disabling autocast.\n{where} Autocast only supports dtypes of "
                          f"{supported} currently.", stacklevel=2)
            enabled = False
        self._enabled = bool(enabled)
        self._saved = []

    def __enter__(self):
        self._saved.append((_state.enabled[self.device], _state.dtype[self.device]))
        _state.enabled[self.device] = self._enabled
        _state.dtype[self.device] = self.fast_dtype
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _state.enabled[self.device], _state.dtype[self.device] = self._saved.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with autocast(self.device, dtype=self.fast_dtype, enabled=self._enabled,
                          cache_enabled=self._cache_enabled):
                return func(*args, **kwargs)
        return decorated


def _cast(value, dtype):
    from ..tensor import Tensor
    if isinstance(value, Tensor) and backend.is_floating(value.dtype):
        return value.to(dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """torch.amp.custom_fwd for a custom Function's ``forward``: inside an enabled autocast
    region with ``cast_inputs`` given, floating Tensor arguments are cast to it and forward
    runs with autocast disabled; otherwise forward runs as is."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    kind = _check_device_type(device_type)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        if cast_inputs is None or not is_autocast_enabled(kind):
            return fwd(*args, **kwargs)
        with autocast(kind, enabled=False):
            return fwd(*_cast(args, backend.dtype(cast_inputs)),
                       **_cast(kwargs, backend.dtype(cast_inputs)))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """torch.amp.custom_bwd for a custom Function's ``backward`` (runs it as is: there is no
    autocast state to restore in backward, since autocast changes no computation)."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    _check_device_type(device_type)
    return bwd
