"""The values users hand to the library, in the form the code works with.

* ``pair(v, name, op)``: a 2-D size or step (kernel, stride, padding, image size) given as one
  int or an (h, w) pair -> ``(h, w)`` ints; anything else is a ValueError naming ``op`` and
  ``name``.
* ``single(v, name, op)``: a 1-D size or step given as one int or a 1-tuple -> ``(n,)``.
* ``triple(v, name, op)``: a 3-D size or step given as one int or a (d, h, w) triple.
* ``to_host_array(value)``: the raw array of a Tensor, an array, or a torch tensor (detached,
  copied to the host), e.g. a state_dict value copied from torch.
"""
from __future__ import annotations

import numbers

from . import backend
from .ops.dual import raw


def _ints(value, n, name, op, form):
    """``value`` (an int, or a sequence of ``n`` ints) as an ``n``-tuple of ints."""
    if isinstance(value, numbers.Number):
        return (int(value),) * n
    try:
        items = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        items = ()
    if len(items) != n:
        raise ValueError(f"{op}: {name} must be an int or {form}, got {value!r}")
    return items


def pair(value, name, op):
    """``value`` (an int or a pair) as an ``(h, w)`` tuple of ints."""
    return _ints(value, 2, name, op, "an (h, w) pair")


def single(value, name, op):
    """``value`` (an int or a 1-sequence) as a ``(n,)`` tuple of ints (torch's ``_single``)."""
    return _ints(value, 1, name, op, "a 1-tuple")


def triple(value, name, op):
    """``value`` (an int or a triple) as a ``(d, h, w)`` tuple of ints (torch's ``_triple``)."""
    return _ints(value, 3, name, op, "a (d, h, w) triple")


def _is_torch_tensor(value):
    return not backend.is_array(value) and hasattr(value, "detach") and hasattr(value, "cpu")


def to_host_array(value):
    """The raw array of a Tensor or an array (unchanged), or a torch tensor's values as a host
    array; other values (lists, scalars) are returned as they are."""
    value = raw(value)
    if _is_torch_tensor(value):
        return value.detach().cpu().numpy()
    return value
