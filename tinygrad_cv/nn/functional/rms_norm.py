"""Root-mean-square normalisation over the last ``len(normalized_shape)`` dims:

    y = x / sqrt(mean(x^2) + eps) * weight       (eps None: the dtype's machine epsilon)

A composition of primitives (differentiable twice).  Shapes: x (*, *normalized_shape),
weight ``normalized_shape`` -> y of x's shape.
"""
from __future__ import annotations

import numbers

from ... import backend


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """torch.nn.functional.rms_norm."""
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape or k > input.ndim:
        raise RuntimeError(f"rms_norm: expected input with shape [*, "
                           f"{', '.join(map(str, normalized_shape))}], but got input of size "
                           f"{list(input.shape)}")
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise RuntimeError(f"rms_norm: expected weight of shape {list(normalized_shape)}, got "
                           f"{list(weight.shape)}")
    if eps is None:
        eps = float(backend.get_array_module(input.array).finfo(input.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(dim=dims, keepdim=True) + eps).rsqrt()
    return y if weight is None else y * weight


__all__ = ["rms_norm"]
