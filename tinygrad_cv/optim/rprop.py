"""Rprop (Riedmiller & Braun 1993): resilient backpropagation, a per-element step size that
grows while the gradient keeps its sign and shrinks when it flips; only the gradient's sign
moves the parameter.

With g the gradient (negated when ``maximize``), g_prev the previous step's (zeroed where it
flipped), s the step sizes (starting at ``lr``) and ``etas = (eta-, eta+)``::

    f = eta+  where g * g_prev > 0,   eta-  where g * g_prev < 0,   1  elsewhere
    s <- clamp(s * f, step_size_min, step_size_max)
    g <- 0  where f = eta-
    p <- p - sign(g) * s
    g_prev <- g

with torch's sign (0 at NaN: a NaN gradient leaves its element and step size unchanged).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .optimizer import (Optimizer, check_learning_rate, check_supported_modes, flat_pieces,
                        value_of)


def _sign(x):
    """-1, 0 or 1 in ``x``'s dtype, 0 at NaN (torch's sign)."""
    return (x > 0).astype(x.dtype) - (x < 0)


def check_etas(etas):
    """Raise ``ValueError`` unless ``etas`` is a pair with 0 < eta- < 1 < eta+ (torch's
    message)."""
    if not isinstance(etas, (tuple, list)) or len(etas) != 2:
        raise ValueError(f"Invalid eta values: {etas!r} (expected a pair (etaminus, etaplus))")
    if not 0.0 < etas[0] < 1.0 < etas[1]:
        raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")


def check_step_sizes(step_sizes):
    """Raise ``ValueError`` unless ``step_sizes`` is a pair ``(min, max)`` of numbers."""
    if not isinstance(step_sizes, (tuple, list)) or len(step_sizes) != 2:
        raise ValueError(f"Invalid step_sizes value: {step_sizes!r} (expected a pair "
                         "(step_size_min, step_size_max))")


class Rprop(Optimizer):
    """``Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
    foreach=None, maximize=False, differentiable=False)`` with torch's update rule (state:
    ``step, prev, step_size``; ``step_size`` starts at the group's ``lr``, which is not used
    after that).  ``foreach`` picks torch's kernel and changes nothing here;
    ``capturable=True`` and ``differentiable=True`` raise ``NotImplementedError``."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_learning_rate(lr)
        check_etas(etas)
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                        maximize=bool(maximize), differentiable=differentiable,
                        capturable=capturable)
        check_supported_modes("Rprop", defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        super()._validate_group(group)
        check_etas(group["etas"])
        check_step_sizes(group["step_sizes"])

    def _kernel(self, param, grad, state, group):
        etaminus, etaplus = (float(e) for e in group["etas"])
        step_size_min, step_size_max = (float(s) for s in group["step_sizes"])
        maximize = group["maximize"]
        p = param.array
        xp = backend.get_array_module(p)
        if "step_size" not in state:
            state["step"] = 0
            state["prev"] = Tensor.wrap(xp.zeros_like(p))
            state["step_size"] = Tensor.wrap(xp.full_like(p, value_of(group["lr"])))
        state["step"] += 1
        arrays = (p, grad, state["prev"].array, state["step_size"].array)

        def update(start, stop):
            p_, g, prev, step_size = flat_pieces(arrays, start, stop, p.size)
            if maximize:
                g = -g
            product = g * prev
            factor = xp.ones_like(product)          # eta+ / eta- in the parameter's dtype
            factor[product > 0] = etaplus
            factor[product < 0] = etaminus
            step_size *= factor
            xp.clip(step_size, step_size_min, step_size_max, out=step_size)
            g = xp.where(factor == etaminus, 0, g)
            p_ -= _sign(g) * step_size
            prev[...] = g

        return update, p.size, all(a.flags.c_contiguous for a in arrays)
