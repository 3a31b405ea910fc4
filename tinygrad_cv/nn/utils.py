"""Gradient clipping (torch.nn.utils' clip_grad_norm_ / clip_grad_value_)."""
from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = (sum_p ||g_p||_q^q)^(1/q)  (q = ``norm_type``; q = inf: max_p max |g_p|);
    every g_p is multiplied in place by min(1, max_norm / (total + 1e-6)).
    Returns ``total`` (the norm before clipping) as a 0-d Tensor.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    xp = backend.get_array_module(grads[0].array)
    if math.isinf(norm_type):
        norms = [xp.abs(g.array).max() if g.array.size else xp.asarray(0.0, g.dtype) for g in grads]
        total = xp.stack([xp.asarray(n) for n in norms]).max()
    else:
        norms = [(xp.abs(g.array) ** norm_type).sum() for g in grads]
        total = xp.stack([xp.asarray(n) for n in norms]).sum() ** (1.0 / norm_type)
    total_f = float(total)
    if error_if_nonfinite and not math.isfinite(total_f):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
                           f"is non-finite ({total_f}), so they cannot be clipped")
    coef = max_norm / (total_f + 1e-6)
    if not coef >= 1.0:  # also NaN: torch then propagates NaN into the gradients
        for g in grads:
            g.array *= g.array.dtype.type(coef)
    return Tensor.wrap(xp.asarray(total))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = backend.get_array_module(g.array)
        xp.clip(g.array, -clip_value, clip_value, out=g.array)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
