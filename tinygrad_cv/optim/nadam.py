"""NAdam (Dozat 2016): Adam with Nesterov momentum and a warming momentum schedule.

With g the gradient (negated when ``maximize``), t the step count, m and v the moment
estimates and P the running product of the momentum coefficients (``mu_product``)::

    p <- p * (1 - lr * weight_decay)   (decoupled_weight_decay)   else   g <- g + weight_decay * p
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));   mu_{t+1} likewise
    P <- P * mu_t
    m <- lerp(m, g, 1 - beta1);   v <- beta2 * v + (1 - beta2) * g^2
    d  = sqrt(v / (1 - beta2^t)) + eps
    p <- p - lr (1 - mu_t) / (1 - P) * g / d - lr mu_{t+1} / (1 - P mu_{t+1}) * m / d

P is kept as a float32 number, as torch keeps it (a scalar of the default dtype).
"""
from __future__ import annotations

import struct

from .. import backend
from ..arguments import to_host_array
from .adam_family import AdamFamily, check_betas, decay_and_first_moment
from .optimizer import (_is_tensor_like, check_nonnegative, check_supported_modes, flat_pieces,
                        lr_operand)


def _float32(value):
    """``value`` rounded to the nearest float32 (as a Python float)."""
    return struct.unpack("f", struct.pack("f", value))[0]


class NAdam(AdamFamily):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None, maximize=False,
    capturable=False, differentiable=False)`` with torch's update rule (state: ``step,
    mu_product, exp_avg, exp_avg_sq``).  ``foreach`` picks torch's kernel and changes nothing
    here; ``capturable=True`` and ``differentiable=True`` raise ``NotImplementedError``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=bool(decoupled_weight_decay),
                        maximize=bool(maximize), foreach=foreach, capturable=capturable,
                        differentiable=differentiable)
        check_supported_modes("NAdam", defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("momentum_decay", group["momentum_decay"])

    def load_state_dict(self, state_dict):
        """As ``Optimizer.load_state_dict``; a ``mu_product`` saved as a scalar tensor (torch's
        state dict) is read as a number."""
        if isinstance(state_dict, dict) and isinstance(state_dict.get("state"), dict):
            state = {}
            for key, pstate in state_dict["state"].items():
                pstate = dict(pstate)
                mu_product = pstate.get("mu_product")
                if mu_product is not None and _is_tensor_like(mu_product):
                    pstate["mu_product"] = _float32(float(to_host_array(mu_product)))
                state[key] = pstate
            state_dict = dict(state_dict, state=state)
        super().load_state_dict(state_dict)

    def _kernel(self, param, grad, state, group):
        lr, eps = lr_operand(group["lr"]), float(group["eps"])
        weight_decay, momentum_decay = float(group["weight_decay"]), float(group["momentum_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
        p = param.array
        xp = backend.get_array_module(p)
        step = state["step"] = state.get("step", 0) + 1
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = state["mu_product"] = _float32(
            float(state.get("mu_product", 1.0)) * _float32(mu))
        arrays = (p, grad, self._state_buffer(state, "exp_avg", param),
                  self._state_buffer(state, "exp_avg_sq", param))
        bias_correction2 = 1.0 - beta2 ** step
        grad_coef = float(-lr * (1.0 - mu) / (1.0 - mu_product))
        avg_coef = float(-lr * mu_next / (1.0 - mu_product * mu_next))

        def update(start, stop):
            p_, g, exp_avg, exp_avg_sq = flat_pieces(arrays, start, stop, p.size)
            g = decay_and_first_moment(p_, g, exp_avg, lr, weight_decay, beta1, maximize,
                                       decoupled)
            exp_avg_sq *= beta2
            exp_avg_sq += (1.0 - beta2) * (g * g)
            denom = exp_avg_sq / bias_correction2
            xp.sqrt(denom, out=denom)
            denom += eps
            change = g * grad_coef
            change /= denom
            p_ += change
            xp.multiply(exp_avg, avg_coef, out=change)
            change /= denom
            p_ += change

        return update, p.size, all(a.flags.c_contiguous for a in arrays)
