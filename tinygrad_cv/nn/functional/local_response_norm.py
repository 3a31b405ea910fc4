"""Local response normalisation across channels (AlexNet's LRN, torch's formula).

For x (N, C, *) and a window of ``size`` channels c' in [c - size//2, c + (size-1)//2]
(channels outside [0, C) count as 0):

    y[n, c] = x[n, c] / (k + alpha / size * sum_{c'} x[n, c']^2) ^ beta

A composition of primitives (differentiable twice); the window sum is ``size`` shifted slices
of the zero-padded squares (one pass per window offset, not per element).
"""
from __future__ import annotations

from ...tensor import pad


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """torch.nn.functional.local_response_norm for inputs of 3 or more dims."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input "
                         f"(got {input.ndim} dimensions)")
    if size < 1:
        raise ValueError(f"local_response_norm: size must be at least 1, got {size}")
    if input.numel() == 0:
        return input
    n, c = input.shape[0], input.shape[1]
    sq = (input * input).reshape(n, c, -1)
    padded = pad(sq, (0, 0, size // 2, (size - 1) // 2))
    window = padded[:, 0:c]
    for offset in range(1, size):
        window = window + padded[:, offset:offset + c]
    div = (window.reshape(input.shape) * (alpha / size) + k) ** beta
    return input / div


__all__ = ["local_response_norm"]
