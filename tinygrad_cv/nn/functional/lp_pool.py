"""Power-average (LP) pooling: ``lp_pool1d``, ``lp_pool2d``, ``lp_pool3d`` (torch's definition).

For a window ``w`` of ``K`` elements (``K = k`` in 1-D, ``kh * kw`` in 2-D, ``kd * kh * kw``
in 3-D) and ``p = norm_type``::

    y = (K * avg_pool(x ** p)) ** (1 / p) = (sum_{i in w} x_i ** p) ** (1 / p)

built on ``avg_pool1d``/``2d``/``3d`` (no padding) and the power op, so shapes, ``stride``
(default: the kernel), ``ceil_mode`` and unbatched inputs follow average pooling.  With
``ceil_mode`` a window cut off by the input's far end is averaged over the elements it holds
and then multiplied by the full ``K``, as torch (so it is ``K / n`` times that window's sum).
``p = inf`` is ``max_pool(|x|)`` and ``p = -inf`` is ``-max_pool(-|x|)`` (the smallest
``|x|``).

Gradient (torch's): ``dy/dx_i = K/n * y ** (1 - p) * x_i ** (p - 1)`` where the pooled value
``s = avg_pool(x ** p)`` is non-zero, and 0 where it is 0 (torch's
``sign(s) * relu(|s|)`` step sends nothing back there instead of ``0 ** (1/p - 1) = inf``).
The same masking is written here with ``where`` on a copy of ``s`` with 1 in place of 0.
First order, as the average pooling it runs on.  Negative inputs with a non-integer ``p`` give NaN, as
torch.
"""
from __future__ import annotations

import math
import numbers

from ...arguments import pair, single, triple
from ...tensor import where
from .pooling import avg_pool2d, max_pool2d
from .pooling1d import avg_pool1d, max_pool1d
from .pooling3d import avg_pool3d, max_pool3d


def _root(pooled, window_elems, norm_type):
    """``(K * s) ** (1 / p)`` with a zero gradient where ``s == 0`` (torch's rule)."""
    inv = 1.0 / norm_type
    nonzero = pooled != 0
    safe = where(nonzero, pooled, 1.0)
    at_zero = math.inf if inv < 0 else 0.0
    return where(nonzero, (safe * window_elems).pow(inv), at_zero)


def _check_rank(op, input, spatial):
    if input.ndim not in (spatial + 1, spatial + 2):
        names = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
                 3: "(N, C, D, H, W) or (C, D, H, W)"}[spatial]
        raise ValueError(f"{op}: expected input of shape {names}, got shape "
                         f"{tuple(input.shape)}")


def _check_norm(op, norm_type):
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool):
        raise TypeError(f"{op}: norm_type must be a number, got {type(norm_type).__name__}")
    if norm_type == 0:
        raise ValueError(f"{op}: norm_type must be non-zero (the result is s ** (1 / p))")


_POOLS = {1: (single, avg_pool1d, max_pool1d), 2: (pair, avg_pool2d, max_pool2d),
          3: (triple, avg_pool3d, max_pool3d)}


def _lp_pool(spatial, input, norm_type, kernel_size, stride, ceil_mode):
    """LP pooling over the last ``spatial`` axes (module docstring)."""
    op = f"lp_pool{spatial}d"
    sizes, avg_pool, max_pool = _POOLS[spatial]
    _check_rank(op, input, spatial)
    _check_norm(op, norm_type)
    if norm_type == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    window_elems = math.prod(sizes(kernel_size, "kernel_size", op))
    pooled = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _root(pooled, window_elems, norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over each window of x ** p) ** (1 / p)``; (N, C, L) or (C, L) -> (N, C, Lo),
    ``Lo`` as ``avg_pool1d`` with no padding; torch's signature."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over each (kh, kw) window of x ** p) ** (1 / p)``; (N, C, H, W) or (C, H, W) ->
    (N, C, Ho, Wo), sizes as ``avg_pool2d`` with no padding; torch's signature."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over each (kd, kh, kw) window of x ** p) ** (1 / p)``; (N, C, D, H, W) or
    (C, D, H, W) -> (N, C, Do, Ho, Wo), sizes as ``avg_pool3d`` with no padding; torch's
    signature."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
