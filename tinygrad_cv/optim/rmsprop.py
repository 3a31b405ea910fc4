"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

With g the gradient (negated when ``maximize``), s the mean square, a the mean gradient
(``centered`` only) and b the momentum buffer::

    g <- g + weight_decay * p
    s <- alpha * s + (1 - alpha) * g^2
    a <- lerp(a, g, 1 - alpha);   d = sqrt(s - a^2) + eps     (centered)
                                  d = sqrt(s) + eps           (otherwise)
    b <- momentum * b + g / d;    p <- p - lr * b             (momentum > 0)
                                  p <- p - lr * g / d         (otherwise)
"""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, check_nonnegative, check_supported_modes


def lerp_(start, end, weight):
    """``start <- start + weight * (end - start)`` in place, rounded like torch's lerp."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)
    return start


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, capturable=False, foreach=None, maximize=False, differentiable=False)``
    (state: ``step, square_avg, momentum_buffer, grad_avg``).  ``foreach`` picks torch's
    kernel and changes nothing here; ``capturable=True`` and ``differentiable=True`` raise
    ``NotImplementedError``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=bool(centered),
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=bool(maximize), differentiable=differentiable)
        check_supported_modes("RMSprop", defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("epsilon", group["eps"])
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_nonnegative("alpha", group["alpha"])

    def _update(self, param, grad, state, group):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum, weight_decay = float(group["momentum"]), float(group["weight_decay"])
        p = param.array
        xp_sqrt = backend.get_array_module(p).sqrt
        state["step"] = state.get("step", 0) + 1
        square_avg = self._state_buffer(state, "square_avg", param)
        if momentum > 0:
            buf = self._state_buffer(state, "momentum_buffer", param)
        if group["centered"]:
            grad_avg = self._state_buffer(state, "grad_avg", param)
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * p
        square_avg *= alpha
        square_avg += (1.0 - alpha) * g * g
        if group["centered"]:
            lerp_(grad_avg, g, 1.0 - alpha)
            avg = xp_sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp_sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf *= momentum
            buf += g / avg
            p -= lr * buf
        else:
            p += (-lr * g) / avg
