"""Adagrad (Duchi et al. 2011): a per-element step size from the sum of all squared gradients.

With g the gradient (negated when ``maximize``), t the step count and s the running sum of
squares (starting at ``initial_accumulator_value``)::

    g <- g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s <- s + g^2
    p <- p - clr * g / (sqrt(s) + eps)
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, check_nonnegative, check_supported_modes, flat_pieces,
                        lr_operand)


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None)`` with
    torch's update rule (state: ``step, sum``, made for every parameter when the optimizer is
    built, as torch).  ``foreach`` and ``fused`` pick torch's kernel and change nothing here;
    ``differentiable=True`` raises ``NotImplementedError``."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=bool(maximize), differentiable=differentiable, fused=fused)
        check_supported_modes("Adagrad", defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state.setdefault(p, {}), p, group)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("lr_decay", group["lr_decay"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_nonnegative("initial_accumulator_value", group["initial_accumulator_value"])
        check_nonnegative("epsilon", group["eps"])

    @staticmethod
    def _init_state(state, param, group):
        """``step`` 0 and ``sum`` filled with the group's ``initial_accumulator_value``."""
        if "sum" not in state:
            xp = backend.get_array_module(param.array)
            state["step"] = 0
            state["sum"] = Tensor.wrap(xp.full_like(param.array,
                                                    float(group["initial_accumulator_value"])))

    def _kernel(self, param, grad, state, group):
        lr, eps = lr_operand(group["lr"], group.get("fused")), float(group["eps"])
        weight_decay, lr_decay = float(group["weight_decay"]), float(group["lr_decay"])
        maximize = group["maximize"]
        p = param.array
        xp = backend.get_array_module(p)
        self._init_state(state, param, group)    # a group added after the optimizer was built
        step = state["step"] = state["step"] + 1
        arrays = (p, grad, state["sum"].array)
        clr = float(lr / (1.0 + (step - 1) * lr_decay))

        def update(start, stop):
            p_, g, total = flat_pieces(arrays, start, stop, p.size)
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * p_
            total += g * g
            std = xp.sqrt(total)
            std += eps
            change = g * -clr
            change /= std
            p_ += change

        return update, p.size, all(a.flags.c_contiguous for a in arrays)
