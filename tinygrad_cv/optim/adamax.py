"""Adamax (Kingma & Ba 2015, section 7.1): Adam with the infinity norm in place of the second
moment.

With g the gradient (negated when ``maximize``), t the step count, m the first moment and u
the exponentially weighted infinity norm::

    g <- g + weight_decay * p
    m <- lerp(m, g, 1 - beta1)
    u <- max(beta2 * u, |g| + eps)
    p <- p - lr / (1 - beta1^t) * m / u
"""
from __future__ import annotations

from .. import backend
from .adam_family import AdamFamily, check_betas, decay_and_first_moment
from .optimizer import check_supported_modes, flat_pieces, lr_operand


class Adamax(AdamFamily):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None,
    *, maximize=False, differentiable=False, capturable=False)`` with torch's update rule
    (state: ``step, exp_avg, exp_inf``).  ``foreach`` picks torch's kernel and changes nothing
    here; ``capturable=True`` and ``differentiable=True`` raise ``NotImplementedError``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=bool(maximize), differentiable=differentiable,
                        capturable=capturable)
        check_supported_modes("Adamax", defaults)
        super().__init__(params, defaults)

    def _kernel(self, param, grad, state, group):
        lr, eps = lr_operand(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        maximize = group["maximize"]
        p = param.array
        xp = backend.get_array_module(p)
        step = state["step"] = state.get("step", 0) + 1
        arrays = (p, grad, self._state_buffer(state, "exp_avg", param),
                  self._state_buffer(state, "exp_inf", param))
        clr = float(lr / (1.0 - beta1 ** step))

        def update(start, stop):
            p_, g, exp_avg, exp_inf = flat_pieces(arrays, start, stop, p.size)
            g = decay_and_first_moment(p_, g, exp_avg, lr, weight_decay, beta1, maximize,
                                       False)
            norm = xp.abs(g)
            norm += eps
            exp_inf *= beta2
            xp.maximum(exp_inf, norm, out=exp_inf)
            xp.multiply(exp_avg, -clr, out=norm)          # -clr * m / u
            norm /= exp_inf
            p_ += norm

        return update, p.size, all(a.flags.c_contiguous for a in arrays)
