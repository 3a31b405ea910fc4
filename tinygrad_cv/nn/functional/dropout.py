"""Inverted dropout: y = x * m / (1 - p), m_i ~ Bernoulli(1 - p), identity when not training."""
from __future__ import annotations

from ... import backend
from ...autograd.inplace import apply_inplace
from ...tensor import Tensor


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (E[y] = input).

    The mask comes from the seeded generator of input's device (``tinygrad_cv.manual_seed``).
    ``p = 1`` gives zeros; ``training=False`` or ``p = 0`` returns input unchanged.
    ``inplace=True`` writes the result into input (torch's in-place rules) and returns input.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        scale = 0.0
    else:
        scale = Tensor.wrap(dropout_factors(input.shape, input.dtype, p, input.device))
    return apply_inplace(input, Tensor.__mul__, scale) if inplace else input * scale


def dropout_factors(shape, dtype, p, device):
    """The raw array of inverted-dropout factors m = [u >= p] / (1 - p), 0 <= p < 1, with u
    uniform from the seeded generator of ``device`` (the draw ``dropout`` makes)."""
    rng = backend.get_rng(device)
    keep = rng.random(tuple(shape), dtype=backend.dtype("float32")) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
