"""Tensor factories: ``tensor, as_tensor, zeros, ones, empty, full, arange, linspace,
logspace, eye, rand, randn, randint, randperm`` and the ``*_like`` forms, ``from_numpy`` /
``from_dlpack``, and torch's typed constructors (``FloatTensor``, ``LongTensor``, ...).

Each takes ``dtype=`` (float32 by default), ``device=`` ("cpu"/"cuda" or a
``tinygrad_cv.device``; the default device when omitted) and ``requires_grad=``.  Random
factories draw from ``generator=`` (a ``tinygrad_cv.Generator``) or the seeded global
generator of the device (``tinygrad_cv.manual_seed``).
"""
from __future__ import annotations

import numbers

from . import backend, memory_formats
from .devices import placement
from .generator import rng_of
from .tensor import (Tensor, _FLOAT32, _INT64, _TYPE_NAMES, _check_requires_grad, _infer_dtype,
                     _resolve_dtype, _shape_arg)


def _factory_dtype(dtype, default=_FLOAT32):
    return _resolve_dtype(dtype) if dtype is not None else default


def _finish(arr, requires_grad):
    _check_requires_grad(arr.dtype, requires_grad)
    t = Tensor.wrap(arr)
    t.requires_grad = bool(requires_grad)
    return t


def _default_placement(data, device):
    """torch's rule for ``tensor``/``as_tensor`` without ``device``: an array or Tensor goes to
    the default device once one other than the CPU is set (``set_default_device("cuda")``),
    else it stays where it is (``Tensor(...)`` and ``from_numpy`` keep it where it is)."""
    if device is None and (isinstance(data, Tensor) or backend.is_array(data)):
        default = backend.get_default_device()
        if default != "cpu":
            return default
    return device


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Build a Tensor from data (a copy; an array or Tensor goes to the default device when
    one other than the CPU is set, as in torch)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype,
                  device=_default_placement(data, device))


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing memory when it already is an array or Tensor of that
    dtype and device (a copy otherwise)."""
    device = _default_placement(data, device)
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    if backend.is_array(data):
        arr = backend.to_device(data, placement(device) if device is not None
                                else backend.device_of(data))
        dtype = _resolve_dtype(dtype)
        return Tensor.wrap(arr if dtype is None or arr.dtype == dtype else arr.astype(dtype))
    return Tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """``obj`` as a Tensor: sharing memory with a Tensor or array of that dtype and device
    unless ``copy`` is True (``copy=False`` raises where a copy is needed)."""
    shared = as_tensor(obj, dtype=dtype, device=device)
    source = obj.array if isinstance(obj, Tensor) else obj if backend.is_array(obj) else None
    same = (source is not None and backend.device_of(source) == backend.device_of(shared.array)
            and backend.get_array_module(source).shares_memory(shared.array, source))
    if copy is False and not same:
        raise ValueError("asarray(): can't alias the data with the requested dtype or device "
                         "(copy=False)")
    out = Tensor.wrap(shared.array.copy()) if copy and same else shared
    return out.requires_grad_() if requires_grad else out


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor of the number ``s`` (the default floating dtype unless ``dtype``)."""
    dt = get_default_dtype() if dtype is None else backend.dtype(dtype)
    return _finish(_xp(device).asarray(s, dtype=dt).reshape(()), requires_grad)


def _xp(device):
    return backend.module_for_device(placement(device))


def _size(shape, size, what):
    """The shape of a factory: ints, one sequence, or torch's ``size=`` keyword; a negative
    size raises torch's RuntimeError."""
    if size is not None:
        if shape:
            raise TypeError(f"{what}() got the size both as arguments and as size=")
        shape = (size,)
    shape = _shape_arg(shape)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(shape)}: {list(shape)}")
    return shape


def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).zeros(_size(shape, size, "zeros"), dtype=_factory_dtype(dtype)),
                   requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).ones(_size(shape, size, "ones"), dtype=_factory_dtype(dtype)),
                   requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).empty(_size(shape, size, "empty"), dtype=_factory_dtype(dtype)),
                   requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _finish(_xp(device).full(shape, fill_value, dtype=_factory_dtype(dtype)), requires_grad)


def _number(value):
    """A Python number, a NumPy scalar or a one-element Tensor as a Python number."""
    return value.item() if isinstance(value, Tensor) else value


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... up to (not including) end; int64 when every bound is an
    integer (Python, NumPy or tensor), else float32; a zero step or one pointing away from
    end raises (as torch)."""
    start, end, step = _number(start), _number(end), _number(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError(f"arange(): upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        dtype = _INT64 if all(isinstance(v, numbers.Integral) for v in (start, end, step)) \
            else _FLOAT32
    return _finish(_xp(device).arange(start, end, step, dtype=_resolve_dtype(dtype)), requires_grad)


def _steps(steps):
    steps = _number(steps)
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    return steps


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end inclusive (bounds may be 0-d tensors)."""
    return _finish(_xp(device).linspace(_number(start), _number(end), _steps(steps),
                                        dtype=_factory_dtype(dtype)), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps) (as torch, computed in float64, then cast)."""
    xp = _xp(device)
    exponents = xp.linspace(_number(start), _number(end), _steps(steps), dtype="float64")
    return _finish(xp.power(float(_number(base)), exponents).astype(_factory_dtype(dtype)),
                   requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye(): n and m must be greater or equal to 0, got n={n}, m={m}")
    return _finish(_xp(device).eye(n, m, dtype=_factory_dtype(dtype)), requires_grad)


def _float_dtype(dtype, what):
    dt = _factory_dtype(dtype)
    if not backend.is_floating(dt) or dt.itemsize < 4:
        raise TypeError(f"{what}(): dtype must be float32 or float64, got {dt}")
    return dt


def rand(*shape, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform [0, 1) samples from ``generator`` or the seeded generator of ``device``."""
    dt = _float_dtype(dtype, "rand")
    arr = rng_of(generator, device).random(_size(shape, size, "rand"), dtype=dt)
    return _finish(arr, requires_grad)


def randn(*shape, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal samples from ``generator`` or the seeded generator of ``device``."""
    dt = _float_dtype(dtype, "randn")
    arr = rng_of(generator, device).standard_normal(_size(shape, size, "randn"), dtype=dt)
    return _finish(arr, requires_grad)


def _int_arg(value, name):
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"randint(): {name} must be an int, got {type(value).__name__}")
    return int(value)


def randint(*args, size=None, low=None, high=None, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform in [low, high) of shape ``size``: ``randint(high, size)`` or
    ``randint(low, high, size)`` (torch's forms; int64 unless ``dtype``)."""
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if size is None:
        raise TypeError("randint(): missing the size argument: randint(high, size) or "
                        "randint(low, high, size), size a tuple of ints")
    if len(args) == 2 and low is None and high is None:
        low, high = args
    elif len(args) == 1 and high is None:
        high = args[0]
    elif args:
        raise TypeError(f"randint(): expected (high, size) or (low, high, size), got "
                        f"{len(args)} positional numbers and low={low!r}, high={high!r}")
    if high is None:
        raise TypeError("randint(): high is required")
    low = 0 if low is None else _int_arg(low, "low")
    high = _int_arg(high, "high")
    if high <= low:
        raise RuntimeError(f"randint(): random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    shape = _shape_arg((size,))
    arr = rng_of(generator, device).integers(low, high, size=shape)
    dt = _factory_dtype(dtype, _INT64)
    _check_requires_grad(dt, requires_grad)
    return _finish(arr.astype(dt), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1 (int64 unless ``dtype``)."""
    n = _int_arg(n, "n")
    if n < 0:
        raise RuntimeError(f"randperm(): trying to create tensor with negative dimension {n}")
    rng = rng_of(generator, device)
    # (CuPy's Generator may lack permutation: the order of uniform keys is one)
    arr = rng.permutation(n) if hasattr(rng, "permutation") else rng.random(n).argsort()
    return _finish(arr.astype(_factory_dtype(dtype, _INT64)), requires_grad)


def _like(t, make, memory_format):
    """``make()``'s tensor laid out like ``t`` (torch's ``memory_format=``, preserve by
    default)."""
    out = make()
    arr = memory_formats.like(t.array, out.array, memory_format or memory_formats.preserve_format)
    if arr is not out.array:
        out.array = arr
    return out


def zeros_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(t, lambda: zeros(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                                  requires_grad=requires_grad), memory_format)


def ones_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(t, lambda: ones(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                                 requires_grad=requires_grad), memory_format)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(t, lambda: full(t.shape, fill_value, dtype=dtype or t.dtype,
                                 device=device or t.device, requires_grad=requires_grad),
                 memory_format)


def randn_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(t, lambda: randn(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                                  requires_grad=requires_grad), memory_format)


def rand_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(t, lambda: rand(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                                 requires_grad=requires_grad), memory_format)


def empty_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(t, lambda: empty(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                                  requires_grad=requires_grad), memory_format)


def randint_like(t, low=0, high=None, dtype=None, device=None, requires_grad=False):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(t.shape), dtype=dtype or t.dtype,
                   device=device or t.device, requires_grad=requires_grad)


def from_dlpack(obj):
    """A Tensor sharing memory with any DLPack producer (torch, numpy, cupy...)."""
    return Tensor.wrap(backend.from_dlpack(obj))


def from_numpy(array):
    return Tensor.wrap(backend.as_array(array, device="cpu"))


def get_default_dtype():
    """float32: the dtype of floating tensors built without ``dtype=``."""
    return _FLOAT32


def set_default_dtype(dtype):
    """Only float32 is supported as the default floating dtype (pass ``dtype=`` instead)."""
    if _resolve_dtype(dtype) != _FLOAT32:
        raise NotImplementedError(f"set_default_dtype({dtype}): the default floating dtype is "
                                  "always float32; pass dtype= to the factories instead")


# ---- torch's typed constructors: FloatTensor(2, 3) (uninitialised), LongTensor([1, 2]) ------
class TensorType:
    """A typed constructor such as ``FloatTensor``: ``T(*sizes)`` is an uninitialised tensor of
    that shape, ``T(data)`` a copy of ``data`` in that dtype; ``isinstance(x, T)`` checks the
    dtype and device, and ``x.type(T)`` casts."""

    tensor_type_of = True

    def __init__(self, dtype_name, device="cpu"):
        self.dtype = backend.dtype(dtype_name)
        self.device = device
        self.__name__ = _TYPE_NAMES[dtype_name]

    def __call__(self, *args, requires_grad=False):
        if not args:
            return empty(0, dtype=self.dtype, device=self.device, requires_grad=requires_grad)
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=self.dtype, device=self.device,
                         requires_grad=requires_grad)
        if len(args) != 1:
            raise TypeError(f"{self.__name__}(): expected sizes (ints) or one sequence of data, "
                            f"got {len(args)} arguments")
        data = args[0].array if isinstance(args[0], Tensor) else args[0]
        return Tensor(data, dtype=self.dtype, device=self.device, requires_grad=requires_grad)

    def __instancecheck__(self, obj):
        return isinstance(obj, Tensor) and obj.dtype == self.dtype and \
            backend.device_of(obj.array) == self.device

    def __repr__(self):
        prefix = "torch.cuda." if self.device == "cuda" else "torch."
        return f"<tensor type {prefix}{self.__name__}>"


def _tensor_types(device):
    return {_TYPE_NAMES[name]: TensorType(name, device) for name in _TYPE_NAMES}


_CPU_TYPES = _tensor_types("cpu")
FloatTensor = _CPU_TYPES["FloatTensor"]
DoubleTensor = _CPU_TYPES["DoubleTensor"]
HalfTensor = _CPU_TYPES["HalfTensor"]
LongTensor = _CPU_TYPES["LongTensor"]
IntTensor = _CPU_TYPES["IntTensor"]
ShortTensor = _CPU_TYPES["ShortTensor"]
CharTensor = _CPU_TYPES["CharTensor"]
ByteTensor = _CPU_TYPES["ByteTensor"]
BoolTensor = _CPU_TYPES["BoolTensor"]
