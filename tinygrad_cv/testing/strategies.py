"""Hypothesis strategies for shapes, NumPy arrays and Tensors (needs the ``hypothesis`` package).

    from hypothesis import given
    from tinygrad_cv.testing import gradcheck, strategies as tst

    @given(tst.tensors(tst.shapes(max_dims=3), requires_grad=True))
    def test_my_op(x):
        assert gradcheck(my_op, (x,))

    @given(tst.broadcastable_shapes(2))
    def test_my_binary_op(shapes):
        a_shape, b_shape = shapes            # e.g. (3, 1, 4) and (5, 1)

Small sides by default (gradcheck costs two forward passes per input element).
"""
from __future__ import annotations

import math

from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import backend
from ..tensor import Tensor

__all__ = ["shapes", "broadcastable_shapes", "arrays", "tensors"]


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of ``min_dims..max_dims`` sides, each in ``min_side..max_side`` (size-1 dims included)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, base_shape=(), min_dims=0, max_dims=3, min_side=1,
                         max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together (NumPy rules).

    Dims of size 1 and missing leading dims appear, so gradients must be summed back to each
    input's shape.  The broadcast result shape is ``numpy.broadcast_shapes(*shapes)``.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, base_shape=base_shape, min_dims=min_dims, max_dims=max_dims,
        min_side=min_side, max_side=max_side).map(lambda b: tuple(b.input_shapes))


def _float_elements(min_value, max_value, min_magnitude, dtype):
    width = {2: 16, 4: 32}.get(backend.dtype(dtype).itemsize, 64)
    base = st.floats(min_value=min_value, max_value=max_value, allow_nan=False,
                     allow_infinity=False, width=width)
    if min_magnitude:
        # push values away from zero (for log, division, abs or relu kinks)
        base = base.map(lambda v: math.copysign(abs(v) + min_magnitude, v))
        if min_value >= 0:
            base = base.map(abs)
        elif max_value <= 0:
            base = base.map(lambda v: -abs(v))
    return base


def arrays(shape=None, dtype="float64", min_value=-3.0, max_value=3.0, min_magnitude=0.0,
           unique=False):
    """NumPy arrays of ``shape`` (a tuple or a strategy; default ``shapes()``).

    Floating elements lie in ``[min_value, max_value]``; ``min_magnitude > 0`` keeps them at
    least that far from zero (the interval then widens by ``min_magnitude``); ``unique=True``
    avoids ties (useful for max/min/sort-like ops).  Integer dtypes draw from the same range.
    """
    dtype = backend.dtype(dtype)
    if shape is None:
        shape = shapes()
    if backend.is_floating(dtype):
        elements = _float_elements(min_value, max_value, min_magnitude, dtype)
    elif dtype == backend.dtype("bool"):
        elements = st.booleans()
    else:
        elements = st.integers(int(math.ceil(min_value)), int(math.floor(max_value)))
    return hnp.arrays(dtype=dtype, shape=shape, elements=elements, unique=unique)


@st.composite
def _tensors(draw, shape, dtype, requires_grad, device, array_kwargs):
    data = draw(arrays(shape, dtype=dtype, **array_kwargs))
    return Tensor(data, requires_grad=requires_grad and backend.is_floating(data.dtype),
                  device=device)


def tensors(shape=None, dtype="float64", requires_grad=False, device=None, **array_kwargs):
    """Tensors built from ``arrays(shape, dtype, **array_kwargs)`` on ``device``.

    ``requires_grad`` applies to floating dtypes only (integer tensors cannot require grad).
    """
    return _tensors(shape, dtype, requires_grad, device, array_kwargs)
