"""What the Adam family (Adam/AdamW, Adamax, NAdam, RAdam) shares: the checks of its
hyper-parameters and the first part of every update.

With g the gradient (negated when ``maximize``) and m the first moment::

    p <- p * (1 - lr * weight_decay)    (decoupled weight decay)
    g <- g + weight_decay * p           (otherwise: the L2 penalty in the gradient)
    m <- lerp(m, g, 1 - beta1)
"""
from __future__ import annotations

from .optimizer import Optimizer, check_beta, check_nonnegative
from .rmsprop import lerp_


def check_betas(betas):
    """Raise ``ValueError`` unless ``betas`` is a pair ``(beta1, beta2)`` with both in [0, 1);
    the message names the index of the bad one, as torch's."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid betas value: {betas!r} (expected a pair (beta1, beta2))")
    check_beta("beta parameter at index 0", betas[0])
    check_beta("beta parameter at index 1", betas[1])


class AdamFamily(Optimizer):
    """Base of the Adam-family optimizers: torch's checks of ``capturable``/``differentiable``,
    ``eps``, ``betas`` and ``weight_decay`` for every group (under the class's name)."""

    def _validate_group(self, group):
        super()._validate_group(group)
        check_nonnegative("epsilon", group["eps"])
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"])


def decay_and_first_moment(p, g, exp_avg, lr, weight_decay, beta1, maximize, decoupled):
    """The module docstring's three lines on flat pieces (p and exp_avg in place); returns the
    gradient as the rest of the update uses it.  ``lr``: a float or ``lr_operand``'s array."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p *= float(1.0 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    lerp_(exp_avg, g, 1.0 - beta1)
    return g
