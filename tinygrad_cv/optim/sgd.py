"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

With g the gradient (negated when ``maximize``) and b the momentum buffer::

    g <- g + weight_decay * p
    b <- g                                   (first step)
    b <- momentum * b + (1 - dampening) * g  (later steps)
    g <- g + momentum * b  if nesterov  else  b
    p <- p - lr * g
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, check_supported_modes, flat_pieces


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
    maximize=False, foreach=None, differentiable=False, fused=None)`` with torch's update rule
    (state: ``momentum_buffer``).  ``foreach`` and ``fused`` pick torch's kernel and change
    nothing here; ``differentiable=True`` raises ``NotImplementedError``."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=bool(nesterov),
                        maximize=bool(maximize), foreach=foreach,
                        differentiable=differentiable, fused=fused)
        check_supported_modes("SGD", defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening "
                             f"(got momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r})")

    def _kernel(self, param, grad, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        dampening, nesterov = float(group["dampening"]), group["nesterov"]
        maximize = group["maximize"]
        p = param.array
        arrays, first = (p, grad), False
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                first = True
                buf = backend.get_array_module(grad).empty_like(grad)
                state["momentum_buffer"] = Tensor.wrap(buf)
            else:
                buf = buf.array
            arrays += (buf,)

        def update(start, stop):
            pieces = flat_pieces(arrays, start, stop, p.size)
            p_, g = pieces[:2]
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * p_
            if momentum != 0:
                buf = pieces[2]
                if first:
                    buf[...] = g
                else:
                    buf *= momentum
                    buf += (1.0 - dampening) * g
                g = g + momentum * buf if nesterov else buf
            p_ -= lr * g

        return update, p.size, all(a.flags.c_contiguous for a in arrays)
