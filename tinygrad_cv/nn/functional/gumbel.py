"""Gumbel-softmax: a differentiable sample of a one-hot (``hard``) or relaxed categorical.

    g = -log(E),  E ~ Exponential(1)   (standard Gumbel noise, the seeded generator of the
                                        logits' device)
    y_soft = softmax((logits + g) / tau, dim)
    y_hard = onehot(argmax y_soft)  and, with ``hard=True``, y = y_hard - stop(y_soft) + y_soft
             (forward one-hot, gradient of y_soft: the straight-through estimator)

argmax(logits + g) is distributed as Categorical(softmax(logits)) (the Gumbel-max trick).
"""
from __future__ import annotations

from ... import backend
from ...tensor import Tensor


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Sample of shape ``logits.shape``: soft (each slice along ``dim`` sums to 1) or one-hot
    with ``hard``.  ``eps`` is accepted and unused, as torch."""
    rng = backend.get_rng(logits.device)
    dtype = logits.dtype if logits.dtype.kind == "f" else backend.dtype("float32")
    draw_dtype = dtype if dtype in (backend.dtype("float32"), backend.dtype("float64")) \
        else backend.dtype("float32")
    exponential = rng.standard_exponential(tuple(logits.shape), dtype=draw_dtype)
    gumbels = Tensor.wrap(-backend.get_array_module(exponential).log(exponential).astype(dtype))
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    xp = backend.get_array_module(y_soft.array)
    axis = dim % y_soft.ndim
    index = xp.expand_dims(y_soft.array.argmax(axis=axis), axis)
    classes = xp.arange(y_soft.shape[axis]).reshape((-1,) + (1,) * (y_soft.ndim - 1 - axis))
    y_hard = (classes == index).astype(y_soft.dtype)
    return Tensor.wrap(y_hard) - y_soft.detach() + y_soft


__all__ = ["gumbel_softmax"]
