"""Cross-entropy of a linear map's scores (torch's F.linear_cross_entropy, reference path):

    logits = input @ W^T (+ b),  W (C, *out_features, in_features) -> logits (N, C, *out)
    loss = cross_entropy(logits, target, weight, reduction, ignore_index, label_smoothing)

input (N, in_features) or unbatched (in_features,); ``out_features`` (the middle dims of W)
give the K-dimensional loss and need a batched input.  ``ignore_index=None`` means
cross_entropy's -100 (and must stay None with probability targets).  ``options`` (torch's
chunked, memory-saving evaluation) is not supported: it raises NotImplementedError.
"""
from __future__ import annotations

from .linear import linear
from .loss import cross_entropy


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    """See the module docstring."""
    if options is not None:
        raise NotImplementedError("linear_cross_entropy: options (chunked evaluation) are not "
                                  "supported; the logits are computed in one piece")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {in_features} and {linear_weight.shape[-1]}, "
                           f"respectively")
    classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes,) + out_features:
        raise RuntimeError(f"expected linear_bias shape {(classes,) + out_features}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and input.ndim == 1:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    batch = tuple(input.shape[:-1])
    logits_shape = batch + (classes,) + out_features
    flat_weight = linear_weight.reshape(-1, in_features)
    flat_bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, flat_weight, flat_bias).reshape(logits_shape)
    probabilities = tuple(target.shape) == logits_shape
    if probabilities and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    if ignore_index is None:
        ignore_index = -100
    return cross_entropy(logits, target, weight, ignore_index=ignore_index, reduction=reduction,
                         label_smoothing=label_smoothing)


__all__ = ["linear_cross_entropy"]
