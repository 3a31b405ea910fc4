"""Alpha dropout (SELU networks): dropped units are set to SELU's negative saturation -alpha'
and an affine correction keeps the mean and variance of a standard normal input:

    alpha' = 1.7580993408473766 (= SELU scale * alpha),  a = 1 / sqrt((alpha'^2 p + 1)(1 - p))
    y = a (x m - alpha' (1 - m)) + a alpha' p,   m ~ Bernoulli(1 - p)

``feature_alpha_dropout`` draws one m per channel x[n, c] of a (N, C, *) input.  The mask
comes from the seeded generator of x's device; ``training=False`` or p = 0 returns x, p = 1
gives zeros (torch's).  Gradient: a m.
"""
from __future__ import annotations

import math

from ... import backend
from ...autograd.inplace import apply_inplace
from ...tensor import Tensor

_ALPHA = 1.7580993408473766


def _alpha_dropout(input, p, training, inplace, feature):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    rng = backend.get_rng(input.device)
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(input.shape)
    keep = (rng.random(shape, dtype=backend.dtype("float32")) >= p).astype(input.dtype)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
    scale = Tensor.wrap(keep * input.dtype.type(a))
    shift = Tensor.wrap(((keep - 1.0) * (_ALPHA * a) + _ALPHA * a * p).astype(input.dtype))

    def fn(t):
        return t * scale + shift
    return apply_inplace(input, fn) if inplace else fn(input)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of each element (see the module docstring)."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels x[n, c] of a (N, C, *) input."""
    return _alpha_dropout(input, p, training, inplace, feature=True)


__all__ = ["alpha_dropout", "feature_alpha_dropout"]
