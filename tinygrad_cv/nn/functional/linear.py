"""Affine map y = x W^T + b (the primitive, with its gradients, is ``ops.linear.LinearFn``).

Shapes: x (*, in_features), W (out_features, in_features), b (out_features,) -> y (*, out).
"""
from __future__ import annotations

from ...ops.linear import LinearFn


def linear(x, weight, bias=None):
    """x W^T + b with x (*, in_features), W (out_features, in_features)."""
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: expected input (*, {weight.shape[-1]}) for a weight of shape "
                         f"{tuple(weight.shape)}, got shape {tuple(x.shape)}")
    if bias is None:
        return LinearFn.apply(x, weight)
    return LinearFn.apply(x, weight, bias)
