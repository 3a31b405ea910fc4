"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

With g the gradient (negated when ``maximize``) and b the momentum buffer::

    g <- g + weight_decay * p
    b <- g                                   (first step)
    b <- momentum * b + (1 - dampening) * g  (later steps)
    g <- g + momentum * b  if nesterov  else  b
    p <- p - lr * g
"""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, nesterov=False, weight_decay=0,
    maximize=False)`` with torch's update rule (state: ``momentum_buffer``)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=bool(nesterov),
                        maximize=bool(maximize))
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening "
                             f"(got momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r})")

    def _update(self, param, grad, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        p = param.array
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = g.copy()
                state["momentum_buffer"] = Tensor.wrap(buf)
            else:
                buf = buf.array
                buf *= momentum
                buf += (1.0 - float(group["dampening"])) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= lr * g
