"""Channel-wise ("feature") dropout: dropout1d, dropout2d, dropout3d.

Each channel x[n, c] (a whole feature map) is kept with probability 1 - p and scaled by
1 / (1 - p), or zeroed: y[n, c, ...] = x[n, c, ...] * m[n, c] / (1 - p), m ~ Bernoulli(1 - p),
so E[y] = x.  The mask comes from the seeded generator of x's device
(``tinygrad_cv.manual_seed``); ``training=False`` or p = 0 returns x itself.
"""
from __future__ import annotations

import warnings

from ... import backend
from ...autograd.inplace import apply_inplace
from ...tensor import Tensor


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def feature_dropout(input, p, training, inplace=False):
    """Drop whole slices input[n, c] of a (N, C, *) input (one mask value per (n, c));
    ``inplace=True`` writes the result into ``input`` (torch's in-place rules)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    if input.ndim < 2:
        raise ValueError(f"feature dropout needs an input of shape (N, C, *), got shape "
                         f"{tuple(input.shape)}")
    rng = backend.get_rng(input.device)
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = rng.random(mask_shape, dtype=backend.dtype("float32")) >= p
    scale = Tensor.wrap(keep.astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p)))
    return apply_inplace(input, Tensor.__mul__, scale) if inplace else input * scale


def _unbatched(input, p, training, batched_ndim, inplace):
    if input.ndim == batched_ndim:
        return feature_dropout(input, p, training, inplace)
    if inplace:     # the unsqueezed view shares input's storage and version
        feature_dropout(input.unsqueeze(0), p, training, inplace)
        return input
    return feature_dropout(input.unsqueeze(0), p, training).squeeze(0)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, L) or unbatched (C, L) inputs."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{tuple(input.shape)}")
    return _unbatched(input, p, training, 3, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, H, W) inputs.

    A 3-D input is treated as (N, C, L) (channel-wise 1-D dropout), as torch does today, with
    torch's warning; other ranks are channel-dropped along dim 1 with a deprecation warning.
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated; dropout2d expects (N, C, H, W) inputs", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim", stacklevel=2)
    return feature_dropout(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, D, H, W) or unbatched (C, D, H, W) inputs."""
    _check_p(p)
    if input.ndim not in (4, 5):
        raise ValueError(f"dropout3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got shape {tuple(input.shape)}")
    return _unbatched(input, p, training, 5, inplace)
