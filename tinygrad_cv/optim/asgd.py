"""ASGD (Polyak & Juditsky 1992): stochastic gradient descent with a decaying step size and a
running (Polyak) average of the iterates.

With g the gradient (negated when ``maximize``), t the step count, eta the step size (starting
at ``lr``), mu the averaging weight (starting at 1) and ax the average::

    g <- g + weight_decay * p
    p <- p * (1 - lambd * eta) - eta * g
    ax <- ax + mu * (p - ax)            (ax <- p while mu = 1)
    eta <- lr / (1 + lambd * lr * t) ** alpha
    mu <- 1 / max(1, t - t0)

eta and mu are scalars kept as float32 values (0-d Tensors in the state, as torch keeps them,
cast to the parameter's dtype by ``load_state_dict``); a Tensor ``lr`` is used in its own dtype
for eta's formula, as torch does.
"""
from __future__ import annotations

from .. import backend
from ..arguments import to_host_array
from ..tensor import Tensor
from .optimizer import (Optimizer, _is_tensor_like, check_learning_rate, check_nonnegative,
                        check_supported_modes, flat_pieces, is_tensor_lr, value_of)


def _float32_scalar(xp, value):
    """``value`` as a 0-d float32 array (torch's default dtype for a scalar state)."""
    return xp.asarray(value, dtype="float32")


class ASGD(Optimizer):
    """``ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
    maximize=False, differentiable=False, capturable=False)`` with torch's update rule (state:
    ``step, eta, mu, ax``).  ``foreach`` picks torch's kernel and changes nothing here;
    ``capturable=True`` and ``differentiable=True`` raise ``NotImplementedError``."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_learning_rate(lr)
        check_nonnegative("weight_decay", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=bool(maximize), differentiable=differentiable,
                        capturable=capturable)
        check_supported_modes("ASGD", defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("weight_decay", group["weight_decay"])

    def _kernel(self, param, grad, state, group):
        lambd, alpha, t0 = float(group["lambd"]), float(group["alpha"]), float(group["t0"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        p = param.array
        xp = backend.get_array_module(p)
        if "ax" not in state:
            state["step"] = 0
            state["eta"] = Tensor.wrap(_float32_scalar(xp, value_of(group["lr"])))
            state["mu"] = Tensor.wrap(_float32_scalar(xp, 1.0))
            state["ax"] = Tensor.wrap(xp.zeros_like(p))
        step = state["step"] = state["step"] + 1
        eta, mu = float(state["eta"].item()), float(state["mu"].item())
        arrays = (p, grad, state["ax"].array)
        # the next step's eta and mu, rounded to float32 as torch's scalar tensors round them
        lr = group["lr"]
        if is_tensor_lr(lr):      # torch computes this formula in the Tensor lr's dtype
            lr = xp.asarray(to_host_array(lr).reshape(()))
        state["eta"].array[...] = _float32_scalar(xp, lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"].array[...] = _float32_scalar(xp, 1.0 / max(1.0, step - t0))

        def update(start, stop):
            p_, g, ax = flat_pieces(arrays, start, stop, p.size)
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g + weight_decay * p_
            p_ *= 1 - lambd * eta
            p_ -= eta * g
            if mu != 1:
                change = p_ - ax
                change *= mu
                ax += change
            else:
                ax[...] = p_

        return update, p.size, all(a.flags.c_contiguous for a in arrays)

    def load_state_dict(self, state_dict):
        """As ``Optimizer.load_state_dict``; the scalar ``eta`` and ``mu`` (0-d Tensors, ours
        or torch's) are kept as 0-d Tensors of the parameter's dtype, as torch casts them."""
        scalars = {}
        if isinstance(state_dict, dict) and isinstance(state_dict.get("state"), dict):
            state = {}
            for key, pstate in state_dict["state"].items():
                pstate = dict(pstate)
                for name in ("eta", "mu"):
                    value = pstate.get(name)
                    if value is not None and _is_tensor_like(value):
                        pstate[name] = float(to_host_array(value).reshape(()))
                    if name in pstate:
                        scalars[(int(key), name)] = float(pstate[name])
                state[key] = pstate
            state_dict = dict(state_dict, state=state)
        super().load_state_dict(state_dict)
        by_index = {}
        for saved, group in zip(state_dict["param_groups"], self.param_groups):
            by_index.update(zip((int(i) for i in saved["params"]), group["params"]))
        for (index, name), value in scalars.items():
            p = by_index[index]
            xp = backend.get_array_module(p.array)
            self.state[p][name] = Tensor.wrap(xp.asarray(value, dtype=p.array.dtype))
