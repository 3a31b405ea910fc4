"""Reparameterised Gamma draws by implicit differentiation (as torch's ``_standard_gamma``):
for x ~ Gamma(a, 1) with cdf P(a, x) held fixed at the uniform it came from,

    dx/da = -(dP/da)(a, x) / p(x; a),   p(x; a) = exp((a - 1) log x - x - lgamma(a)),

with dP/da by a central difference of the regularised incomplete gamma function in float64
(step 1e-5 max(a, 1), kept inside (0, 2a)).  Beta, Dirichlet, Chi2, StudentT,
InverseGamma, FisherSnedecor and Wishart draws built from these are reparameterised too.
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from ..ops.gamma import lgamma_array
from ..ops.incomplete_gamma import regularized_gamma_array
from ..tensor import Tensor


class _StandardGammaDraw(Function):
    """y = the given draws x (forward); dy/da = -(dP/da) / p(x; a) (backward)."""

    @staticmethod
    def forward(ctx, alpha, draws=None):
        ctx.save_for_backward(alpha, draws)
        return draws

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        xp = backend.get_array_module(alpha)
        a = alpha.astype("float64")
        x64 = x.astype("float64")
        h = xp.minimum(1e-5 * xp.maximum(a, 1.0), a / 2)
        dp_da = (regularized_gamma_array(a + h, x64) - regularized_gamma_array(a - h, x64)) \
            / (2 * h)
        log_density = (a - 1) * xp.log(x64) - x64 - lgamma_array(a)
        dx_da = -dp_da * xp.exp(-log_density)
        dx_da = xp.where(xp.isfinite(dx_da), dx_da, 0.0)
        return (g * dx_da.astype(alpha.dtype),)


def standard_gamma_rsample(alpha, shape):
    """Gamma(alpha, 1) draws of ``shape`` (``alpha`` a Tensor broadcast to it), with the
    implicit reparameterisation gradient to ``alpha``."""
    shape = tuple(shape)
    alpha = alpha.expand(*shape) if tuple(alpha.shape) != shape else alpha
    a = alpha.array
    xp = backend.get_array_module(a)
    draws = backend.get_rng(alpha.device).standard_gamma(a.astype("float64"), size=shape)
    tiny = float(backend.module_for_device("cpu").finfo(alpha.dtype).tiny)
    draws = xp.maximum(draws.astype(alpha.dtype), tiny)
    if not alpha.requires_grad:
        return Tensor.wrap(draws)
    return _StandardGammaDraw.apply(alpha, draws=draws)


__all__ = ["standard_gamma_rsample"]
