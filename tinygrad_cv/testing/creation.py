"""``make_tensor``: torch.testing.make_tensor, random test tensors of a dtype and device.

Values are uniform in [low, high): floats with defaults [-9, 9), signed integers [-9, 10),
unsigned [0, 10), bool [0, 2); given bounds are clamped to the dtype's finite range (integer
bounds are rounded up, as torch).  They come from the seeded generator of the device
(``tinygrad_cv.manual_seed``), so the numbers differ from torch's for the same seed.
``noncontiguous=True`` returns every other element of a tensor twice as long in the last
dimension (a strided view), ``exclude_zero=True`` replaces zeros by 1 (integers, bool) or the
dtype's smallest normal number (floats), ``memory_format`` clones into that format.
"""
from __future__ import annotations

import collections.abc
import functools
import math
import operator
import warnings

from .. import backend
from ..devices import placement
from ..generator import rng_of
from ..tensor import Tensor

__all__ = ["make_tensor"]


def _modify_low_high(low, high, *, lowest, highest, default_low, default_high, dtype):
    """torch's bound handling: defaults, NaN and order checks, clamping, integer rounding."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dtype.kind == "f":
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. Use "
                      "`torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest})")
    low = min(max(low, lowest), highest)
    high = min(max(high, lowest), highest)
    if dtype.kind in "biu":
        return math.ceil(low), math.ceil(high)
    return low, high


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` (ints, or one sequence of ints) with values uniform in
    [low, high) (see the module docstring)."""
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(int(s) for s in shape)
    dt = backend.dtype(dtype)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and dt.kind in "biu":
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dt}")
    if dt.kind not in "biuf":
        raise TypeError(f"The requested dtype '{dt}' is not supported by "
                        "tinygrad_cv.testing.make_tensor().")
    noncontiguous = noncontiguous and functools.reduce(operator.mul, shape, 1) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    device = placement(device)
    rng = rng_of(None, device)
    xp = backend.module_for_device(device)
    if dt.kind == "b":
        low, high = _modify_low_high(low, high, lowest=0, highest=2, default_low=0,
                                     default_high=2, dtype=dt)
        arr = rng.integers(low, high, size=shape).astype(dt)
    elif dt.kind in "iu":
        info = xp.iinfo(dt)
        low, high = _modify_low_high(low, high, lowest=int(info.min),
                                     highest=int(info.max) + (0 if dt == "int64" else 1),
                                     default_low=-9, default_high=10, dtype=dt)
        arr = rng.integers(low, high, size=shape).astype(dt)
    else:
        info = xp.finfo(dt)
        low, high = _modify_low_high(low, high, lowest=float(info.min),
                                     highest=float(info.max), default_low=-9, default_high=9,
                                     dtype=dt)
        arr = _uniform(rng, xp, shape, float(low), float(high), dt)
    t = Tensor.wrap(arr)
    if noncontiguous:
        t = t[..., 1::2]
    elif memory_format is not None:
        t = t.clone(memory_format=memory_format)
    if exclude_zero:
        zero = t.array == 0
        if bool(zero.any()):
            fill = 1 if dt.kind in "biu" else float(xp.finfo(dt).tiny)
            t.array[zero] = fill
    if dt.kind == "f":
        t.requires_grad = bool(requires_grad)
    return t


@backend.fp_quiet
def _uniform(rng, xp, shape, low, high, dt):
    """low + (high - low) * U[0, 1) in float64 (the range halved first when it overflows, as
    torch), rounded to ``dt`` and kept below ``high``."""
    u = rng.random(shape)
    span = high - low
    if math.isfinite(span):
        values = low + span * u
    else:
        values = 2 * (low / 2 + (high / 2 - low / 2) * u)
    out = values.astype(dt)
    if low < high:
        below = xp.nextafter(xp.asarray(high, dtype=dt), xp.asarray(low, dtype=dt))
        out = xp.minimum(out, below)
    return out
