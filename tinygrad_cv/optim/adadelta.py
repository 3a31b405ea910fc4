"""Adadelta (Zeiler 2012): a per-element step size from running averages of squared gradients
and squared updates.

With g the gradient (negated when ``maximize``), s the mean square of gradients and u the mean
square of updates (both start at 0)::

    g <- g + weight_decay * p
    s <- rho * s + (1 - rho) * g^2
    d  = sqrt(u + eps) / sqrt(s + eps) * g
    u <- rho * u + (1 - rho) * d^2
    p <- p - lr * d
"""
from __future__ import annotations

import numbers

from .. import backend
from .optimizer import Optimizer, check_nonnegative, check_supported_modes


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
    capturable=False, maximize=False, differentiable=False)`` with torch's update rule
    (state: ``step, square_avg, acc_delta``).  ``foreach`` picks torch's kernel and changes
    nothing here."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                        maximize=bool(maximize), foreach=foreach, capturable=capturable,
                        differentiable=differentiable)
        check_supported_modes("Adadelta", defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        rho = group["rho"]
        if not isinstance(rho, numbers.Real) or isinstance(rho, bool) or not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho!r} (expected 0 <= rho <= 1)")
        check_nonnegative("epsilon", group["eps"])
        check_nonnegative("weight_decay", group["weight_decay"])

    def _update(self, param, grad, state, group):
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        p = param.array
        xp = backend.get_array_module(p)
        state["step"] = state.get("step", 0) + 1
        square_avg = self._state_buffer(state, "square_avg", param)
        acc_delta = self._state_buffer(state, "acc_delta", param)
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * p
        square_avg *= rho
        square_avg += (1.0 - rho) * (g * g)
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps)
        delta /= std
        delta *= g
        acc_delta *= rho
        acc_delta += (1.0 - rho) * (delta * delta)
        p -= lr * delta
