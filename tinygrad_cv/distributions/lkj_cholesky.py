"""``LKJCholesky(dim, concentration=1.0)``: the Cholesky factor L of a dim x dim correlation
matrix drawn from the LKJ law, density of the correlation matrix proportional to
det(L L^T)^(concentration - 1) (torch's parameterisation).

    log_prob(L) = sum_{i=2..dim} (2 (c - 1) + dim - i) log L_ii - log Z,
    log Z = (dim - 1)/2 log(pi) + mvlgamma(c + (dim - 2)/2, dim - 1)
            - (dim - 1) lgamma(c + (dim - 1)/2)
    sample (onion method): row i has squared length y_i ~ Beta(i/2 + ..., c + (dim - 2 - i)/2)
    in a uniformly random direction of its first i entries, the diagonal completing the
    unit norm (no rsample)
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import no_grad
from ..special import multigammaln
from ..tensor import Tensor
from . import constraints
from .beta import Beta
from .distribution import Distribution, as_value, broadcast_params, _shape_of


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky
    _param_names = ("concentration",)

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = int(dim)
        params, shape = broadcast_params("LKJCholesky", concentration=concentration)
        self.concentration = params["concentration"]
        c = self.concentration
        xp = backend.get_array_module(c.array)
        offset = Tensor.wrap(xp.concatenate([xp.zeros(1), xp.arange(self.dim - 1)])
                             .astype(c.dtype))
        marginal = c + 0.5 * (self.dim - 2)
        self._beta = Beta(offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset,
                          validate_args=False)
        super().__init__(shape, (self.dim, self.dim), validate_args)

    def expand(self, batch_shape, _instance=None):
        return LKJCholesky(self.dim, self.concentration.expand(*_shape_of(batch_shape)),
                           self._validate_args)

    def sample(self, sample_shape=()):
        with no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            shape = self._extended_shape(sample_shape)
            rng = backend.get_rng(y.device)
            u = Tensor.wrap(rng.standard_normal(shape).astype(y.dtype)).tril(-1)
            norm = (u * u).sum(-1, keepdim=True).sqrt()
            xp = backend.get_array_module(u.array)
            first_row = xp.arange(self.dim).reshape(-1, 1) == 0      # row 0 is all zero
            direction = Tensor.wrap(xp.where(first_row, 0.0, (u / norm).array)
                                    .astype(y.dtype))
            w = y.sqrt() * direction
            tiny = float(backend.module_for_device("cpu").finfo(w.dtype).tiny)
            diag = (1 - (w ** 2).sum(-1)).clamp(min=tiny).sqrt()
            return w + diag.diag_embed()

    def log_prob(self, value):
        value = as_value(value, self.concentration)
        if self._validate_args:
            self._validate_sample(value)
        diag = value.diagonal(0, -2, -1)[..., 1:]
        xp = backend.get_array_module(value.array)
        order = Tensor.wrap(xp.arange(2, self.dim + 1).astype(value.dtype))
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalised = (order * diag.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normaliser = (0.5 * dm1 * math.log(math.pi) + multigammaln(alpha - 0.5, dm1)
                      - alpha.lgamma() * dm1)
        return unnormalised - normaliser


__all__ = ["LKJCholesky"]
