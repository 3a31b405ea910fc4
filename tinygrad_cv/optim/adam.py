"""Adam and AdamW.

With g the gradient (negated when ``maximize``), t the step count, m and v the first and
second moment estimates::

    g <- g + weight_decay * p                      (Adam: L2 penalty in the gradient)
    p <- p * (1 - lr * weight_decay)               (AdamW, decoupled_weight_decay=True)
    m <- lerp(m, g, 1 - beta1)      = beta1 * m + (1 - beta1) * g
    v <- beta2 * v + (1 - beta2) * g^2
    v_max <- max(v_max, v)                         (amsgrad; v_max replaces v below)
    bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t
    p <- p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
"""
from __future__ import annotations

import math

from .. import backend
from .adam_family import AdamFamily, check_betas, decay_and_first_moment
from .optimizer import check_supported_modes, flat_pieces, is_tensor_lr, lr_operand


class Adam(AdamFamily):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False)`` with torch's update rule (state: ``step, exp_avg,
    exp_avg_sq, max_exp_avg_sq``); ``decoupled_weight_decay=True`` is AdamW's rule.
    ``foreach`` and ``fused`` pick torch's kernel and change nothing here;
    ``capturable=True`` and ``differentiable=True`` raise ``NotImplementedError``."""

    decoupled_weight_decay = False   # the rule of groups saved without the key

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=bool(amsgrad), maximize=bool(maximize), foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=bool(decoupled_weight_decay))
        check_supported_modes(type(self).__name__, defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        if is_tensor_lr(group["lr"]) and group["foreach"] and not group["capturable"]:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        super()._validate_group(group)

    def _kernel(self, param, grad, state, group):
        lr, eps = lr_operand(group["lr"], group.get("fused")), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        maximize = group["maximize"]
        decoupled = group.get("decoupled_weight_decay", self.decoupled_weight_decay)
        p = param.array
        xp = backend.get_array_module(p)
        step = state["step"] = state.get("step", 0) + 1
        arrays = (p, grad, self._state_buffer(state, "exp_avg", param),
                  self._state_buffer(state, "exp_avg_sq", param))
        if group["amsgrad"]:
            arrays += (self._state_buffer(state, "max_exp_avg_sq", param),)
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
        neg_step_size = float(-(lr / bias_correction1))

        def update(start, stop):
            pieces = flat_pieces(arrays, start, stop, p.size)
            p_, g, exp_avg, exp_avg_sq = pieces[:4]
            g = decay_and_first_moment(p_, g, exp_avg, lr, weight_decay, beta1, maximize,
                                       decoupled)
            # one scratch array holds (1 - beta2) g^2, then the denominator, then the step
            scratch = xp.multiply(g, g)
            scratch *= 1.0 - beta2
            exp_avg_sq *= beta2
            exp_avg_sq += scratch
            second = exp_avg_sq
            if len(pieces) > 4:
                second = pieces[4]
                xp.maximum(second, exp_avg_sq, out=second)
            xp.sqrt(second, out=scratch)                  # sqrt(v) / sqrt(bc2) + eps
            scratch /= bias_correction2_sqrt
            scratch += eps
            xp.divide(exp_avg, scratch, out=scratch)      # -(lr / bc1) m / (...)
            scratch *= neg_step_size
            p_ += scratch

        return update, p.size, all(a.flags.c_contiguous for a in arrays)


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, *, maximize=False, foreach=None, capturable=False, differentiable=False,
    fused=None)``: Adam with decoupled weight decay ``p <- p * (1 - lr * weight_decay)``
    before the Adam step (``decoupled_weight_decay=True`` in its groups, as torch)."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
