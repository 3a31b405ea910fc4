"""``LowRankMultivariateNormal(loc, cov_factor, cov_diag)``: N(loc, W W^T + D) with W (k, m)
and D = diag(cov_diag), computed through the m x m capacitance C = I + W^T D^-1 W (torch's):

    log det(W W^T + D) = 2 sum log diag chol(C) + sum log D
    x^T (W W^T + D)^-1 x = x^T D^-1 x - |chol(C)^-1 W^T D^-1 x|^2
    log_prob(x) = -(k log(2 pi) + log det + mahalanobis(x - loc)) / 2
    entropy = (k (1 + log(2 pi)) + log det) / 2
    rsample = loc + W eps_m + sqrt(D) eps_k                   (reparameterised)
"""
from __future__ import annotations

import math

from .. import backend, linalg
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, as_param, as_value, broadcast_shape, _shape_of


class LowRankMultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True
    _param_names = ("loc", "cov_factor", "cov_diag")

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        name = "LowRankMultivariateNormal"
        loc = as_param(loc, "loc", name)
        cov_factor = as_param(cov_factor, "cov_factor", name).to(loc.dtype)
        cov_diag = as_param(cov_diag, "cov_diag", name).to(loc.dtype)
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        k = loc.shape[-1]
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if tuple(cov_factor.shape[-2:-1]) != (k,):
            raise ValueError(f"cov_factor must be a batch of matrices with shape {k} x m")
        if tuple(cov_diag.shape[-1:]) != (k,):
            raise ValueError(f"cov_diag must be a batch of vectors with shape {(k,)}")
        m = cov_factor.shape[-1]
        batch = broadcast_shape(tuple(loc.shape[:-1]), tuple(cov_factor.shape[:-2]),
                                tuple(cov_diag.shape[:-1]))
        self.loc = loc.expand(*batch, k)
        self.cov_factor = cov_factor.expand(*batch, k, m)
        self.cov_diag = cov_diag.expand(*batch, k)
        super().__init__(batch, (k,), validate_args)
        if self._validate_args:
            self._validate_params()
        self._capacitance_tril = self._capacitance()

    def _capacitance(self):
        w, d = self.cov_factor, self.cov_diag
        m = w.shape[-1]
        wt_dinv = w.transpose(-2, -1) / d.unsqueeze(-2)
        xp = backend.get_array_module(w.array)
        eye = Tensor.wrap(xp.eye(m, dtype=w.dtype))
        return linalg.cholesky(wt_dinv @ w + eye)

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        k, m = self.cov_factor.shape[-2:]
        return LowRankMultivariateNormal(self.loc.expand(*batch_shape, k),
                                         self.cov_factor.expand(*batch_shape, k, m),
                                         self.cov_diag.expand(*batch_shape, k),
                                         self._validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (self.cov_factor ** 2).sum(-1) + self.cov_diag

    @property
    def covariance_matrix(self):
        w = self.cov_factor
        return w @ w.transpose(-2, -1) + self.cov_diag.diag_embed()

    @property
    def scale_tril(self):
        return linalg.cholesky(self.covariance_matrix)

    @property
    def precision_matrix(self):
        return linalg.cholesky_inverse(self.scale_tril)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        m = self.cov_factor.shape[-1]
        rng = backend.get_rng(self.loc.device)
        eps_w = Tensor.wrap(rng.standard_normal(shape[:-1] + (m,), dtype=self.loc.dtype))
        eps_d = Tensor.wrap(rng.standard_normal(shape, dtype=self.loc.dtype))
        return (self.loc + (self.cov_factor @ eps_w.unsqueeze(-1)).squeeze(-1)
                + self.cov_diag.sqrt() * eps_d)

    def _log_det(self):
        return (2 * self._capacitance_tril.diagonal(0, -2, -1).log().sum(-1)
                + self.cov_diag.log().sum(-1))

    def _mahalanobis(self, x):
        w, d = self.cov_factor, self.cov_diag
        shape = broadcast_shape(tuple(x.shape[:-1]), self._batch_shape)
        k, m = w.shape[-2:]
        x = x.expand(*shape, k)
        wt_dinv = (w.transpose(-2, -1) / d.unsqueeze(-2)).expand(*shape, m, k)
        wt_dinv_x = (wt_dinv @ x.unsqueeze(-1))
        solved = linalg.solve_triangular(self._capacitance_tril.expand(*shape, m, m),
                                         wt_dinv_x, upper=False).squeeze(-1)
        return (x ** 2 / d).sum(-1) - (solved ** 2).sum(-1)

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + self._log_det()
                       + self._mahalanobis(value - self.loc))

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * (k * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return h.expand(*self._batch_shape) if self._batch_shape else h


__all__ = ["LowRankMultivariateNormal"]
