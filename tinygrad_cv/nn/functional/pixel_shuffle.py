"""Sub-pixel rearrangement (Shi et al. 2016): pixel_shuffle and its inverse pixel_unshuffle.

    pixel_shuffle(x, r):   (*, C r^2, H, W) -> (*, C, H r, W r),
                           y[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j, h, w]
    pixel_unshuffle(y, r): the inverse, (*, C, H r, W r) -> (*, C r^2, H, W)

    channel_shuffle(x, g): (N, C, *) -> (N, C, *), the g channel groups interleaved

Each is a reshape, a permutation and a reshape, so their gradients are the inverse
rearrangement (and they are differentiable to any order).
"""
from __future__ import annotations

import numbers


def _factor(value, name, fn):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    return int(value)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r) with r = ``upscale_factor``."""
    r = _factor(upscale_factor, "upscale_factor", "pixel_shuffle")
    if input.ndim < 3:
        raise ValueError(f"pixel_shuffle: expected an input of at least 3 dims (*, C, H, W), "
                         f"got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle: the channels {c} of input {tuple(input.shape)} must "
                         f"be divisible by upscale_factor^2 = {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W) with r = ``downscale_factor``."""
    r = _factor(downscale_factor, "downscale_factor", "pixel_unshuffle")
    if input.ndim < 3:
        raise ValueError(f"pixel_unshuffle: expected an input of at least 3 dims (*, C, H, W), "
                         f"got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle: the height {h} and width {w} of input "
                         f"{tuple(input.shape)} must be divisible by downscale_factor {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """(N, C, *) -> (N, C, *) with the channels of the ``groups`` groups interleaved:
    y[:, k g + j] = x[:, j (C / g) + k] (ShuffleNet), a reshape, a transpose and a reshape."""
    groups = _factor(groups, "groups", "channel_shuffle")
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle: expected an input of at least 3 dims (N, C, *), "
                           f"got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise RuntimeError(f"channel_shuffle: the number of channels {c} must be divisible by "
                           f"groups {groups}")
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle      # torch's name of the same operation
