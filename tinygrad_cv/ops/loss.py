"""Loss primitives whose backward is written with operators and ``dual`` helpers (second
order under ``create_graph=True``): ``BCEFn``, the per-element binary cross-entropy on
probabilities.  Shapes: x and z of one shape -> l of that shape (reductions are applied by
``nn.functional.binary_cross_entropy``).
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from . import dual


class BCEFn(Function):
    """Per-element binary cross-entropy on probabilities x, target z (torch's formulas):

        l = -(z max(log x, -100) + (1 - z) max(log(1 - x), -100)),
        dl/dx = (x - z) / max((1 - x) x, EPS),   dl/dz = log(1 - x) - log x  (= -logit x).

    Both are finite in x at x = 0 and 1 (dl/dz is +-inf there, as torch's).  The backward uses
    only recorded ops, so it can be differentiated again (create_graph).
    """

    higher_order = True
    EPS = 9.999999960041972e-13     # torch's 1e-12, a float32 constant, for every dtype

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x, z):
        xp = backend.get_array_module(x)
        log_x = xp.maximum(xp.log(x), -100)
        log_1mx = xp.maximum(xp.log1p(-x), -100)
        ctx.save_for_backward(x, z)
        return (z - 1) * log_1mx - z * log_x

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        x, z = ctx.saved_tensors
        need_x, need_z = ctx.needs_input_grad
        gx = gz = None
        if need_x:
            var = (1 - x) * x
            var = var.clamp(min=BCEFn.EPS) if dual.is_tensor(var) else \
                backend.get_array_module(var).maximum(var, var.dtype.type(BCEFn.EPS))
            gx = g * (x - z) / var
        if need_z:
            gz = g * (dual.log(1 - x) - dual.log(x))
        return gx, gz
