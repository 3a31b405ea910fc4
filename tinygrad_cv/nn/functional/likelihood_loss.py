"""Losses of distributions, with torch's reductions ('mean', 'sum', 'none'; kl_div also
'batchmean'):

    kl_div             KL(target || exp(input)) per element: t (log t - x)  (t log t = 0 at t = 0),
                       or exp(t) (t - x) with ``log_target``
    poisson_nll_loss   exp(x) - t x  (``log_input``), else x - t log(x + eps); ``full`` adds
                       Stirling's t log t - t + 0.5 log(2 pi t) where t > 1
    gaussian_nll_loss  0.5 (log v + (x - t)^2 / v) (+ 0.5 log 2 pi with ``full``), v = max(var, eps)

Shapes: input and target of one shape (broadcast as torch); 'none' returns that shape.
Every loss is a composition of primitives (differentiable twice).
"""
from __future__ import annotations

import math
import warnings

from ... import backend
from ...tensor import Tensor, where
from .loss import _as_like, _check_reduction, _reduce, legacy_reduction


def _xlogx(t):
    """t log t with 0 at t = 0 (NaN stays NaN)."""
    zero = t.array == 0
    safe = where(zero, 1.0, t)
    return where(zero, 0.0, t * safe.log())


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence of log-probabilities ``input`` from ``target`` (probabilities,
    or log-probabilities with ``log_target``).  'batchmean' divides the sum by input.shape[0]
    (the KL divergence per sample); 'mean' divides by the element count (with torch's warning)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, "mean", "kl_div")
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size. 'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.", stacklevel=2)
    if reduction != "batchmean":
        _check_reduction(reduction, "kl_div")
    target = _as_like(target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogx(target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Negative log-likelihood of ``target`` under Poisson(rate): rate = exp(input) with
    ``log_input`` (loss exp(x) - t x), else rate = input (loss x - t log(x + eps)); ``full``
    adds the Stirling approximation of log(t!) where t > 1."""
    reduction = legacy_reduction(size_average, reduce, reduction, "poisson_nll_loss")
    target = _as_like(target, input)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target.array > 1
        t = where(big, target, 2.0)       # any value > 1 keeps the unused branch finite
        stirling = t * t.log() - t + (t * (2 * math.pi)).log() * 0.5
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def _variance_like(var, input):
    """torch's accepted shapes of ``var``: the input's, the input's without its last dim
    (one variance per row), or the input's with exactly one dim of size 1 (broadcast)."""
    if not isinstance(var, Tensor):
        value = float(var)
        if value < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        xp = backend.get_array_module(input.array)
        return Tensor.wrap(xp.full(input.shape, value, dtype=input.dtype))
    if bool((var.array < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if tuple(var.shape) == tuple(input.shape):
        return var
    if tuple(var.shape) == tuple(input.shape[:-1]):
        return var.unsqueeze(-1)
    if var.ndim == input.ndim and sum(
            v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var
    raise ValueError(f"gaussian_nll_loss: var is of incorrect size {tuple(var.shape)} for "
                     f"input of size {tuple(input.shape)}")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under N(input, var):
    0.5 (log v + (x - t)^2 / v) with v = max(var, eps), the clamp invisible to the gradient
    (torch clamps without recording it), plus 0.5 log(2 pi) with ``full``."""
    v = _variance_like(var, input)
    _check_reduction(reduction, "gaussian_nll_loss")
    raw = v.array
    v = v + Tensor.wrap(raw.clip(min=eps) - raw)       # max(var, eps) with gradient 1
    d = input - _as_like(target, input)
    loss = (v.log() + d * d / v) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


__all__ = ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"]
