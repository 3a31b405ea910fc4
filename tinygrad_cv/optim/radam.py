"""RAdam (Liu et al. 2020): Adam whose adaptive step is switched on, and scaled by a
rectification term, once the variance of the adaptive rate is tractable.

With g the gradient (negated when ``maximize``), t the step count and m, v Adam's moments::

    p <- p * (1 - lr * weight_decay)   (decoupled_weight_decay)   else   g <- g + weight_decay * p
    m <- lerp(m, g, 1 - beta1);   v <- beta2 * v + (1 - beta2) * g^2
    rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    p <- p - lr * m / (1 - beta1^t) * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r   (rho_t > 5)
    p <- p - lr * m / (1 - beta1^t)                                              (otherwise)
"""
from __future__ import annotations

from .. import backend
from .adam_family import AdamFamily, check_betas, decay_and_first_moment
from .optimizer import check_supported_modes, flat_pieces, lr_operand


class RAdam(AdamFamily):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
    differentiable=False)`` with torch's update rule (state: ``step, exp_avg, exp_avg_sq``).
    ``foreach`` picks torch's kernel and changes nothing here; ``capturable=True`` and
    ``differentiable=True`` raise ``NotImplementedError``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=bool(maximize), foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=bool(decoupled_weight_decay),
                        differentiable=differentiable)
        check_supported_modes("RAdam", defaults)
        super().__init__(params, defaults)

    def _kernel(self, param, grad, state, group):
        lr, eps = lr_operand(group["lr"]), float(group["eps"])
        lr_value = float(lr)
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
        p = param.array
        xp = backend.get_array_module(p)
        step = state["step"] = state.get("step", 0) + 1
        arrays = (p, grad, self._state_buffer(state, "exp_avg", param),
                  self._state_buffer(state, "exp_avg_sq", param))
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * (beta2 ** step) / bias_correction2
        rectified = rho_t > 5.0
        if rectified:
            rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5

        def update(start, stop):
            p_, g, exp_avg, exp_avg_sq = flat_pieces(arrays, start, stop, p.size)
            g = decay_and_first_moment(p_, g, exp_avg, lr, weight_decay, beta1, maximize,
                                       decoupled)
            exp_avg_sq *= beta2
            exp_avg_sq += (1.0 - beta2) * (g * g)
            change = exp_avg / bias_correction1
            change *= lr_value
            if rectified:
                adaptive = xp.sqrt(exp_avg_sq)
                adaptive += eps
                xp.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
                change *= adaptive
                change *= rect
            p_ -= change

        return update, p.size, all(a.flags.c_contiguous for a in arrays)
