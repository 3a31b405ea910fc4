"""Multivariate normal N(loc, Sigma) on R^k, parameterised by the covariance, the precision or
the lower Cholesky factor L of Sigma = L L^T (``scale_tril``).

    rsample = loc + L eps,  eps ~ N(0, I)                 (reparameterised)
    log_prob(x) = -(k log(2 pi) + |L^-1 (x - loc)|^2) / 2 - sum_i log L_ii
    entropy = k (1 + log(2 pi)) / 2 + sum_i log L_ii

From a precision P: L = the Cholesky factor of P^-1, computed as in torch (through the
Cholesky factor of the flipped P).
"""
from __future__ import annotations

import math

from .. import backend, linalg
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, as_param, as_value, broadcast_shape


def _batch_mahalanobis(scale_tril, diff):
    """|L^-1 diff|^2 over the last dim (diff (..., k), L (..., k, k), broadcast)."""
    shape = broadcast_shape(tuple(diff.shape[:-1]), tuple(scale_tril.shape[:-2]))
    k = diff.shape[-1]
    l = scale_tril.expand(*shape, k, k)
    d = diff.expand(*shape, k)
    solved = linalg.solve_triangular(l, d.unsqueeze(-1), upper=False).squeeze(-1)
    return (solved ** 2).sum(-1)


class MultivariateNormal(Distribution):
    """``MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None,
    scale_tril=None, validate_args=None)``: exactly one of the three matrices."""

    has_rsample = True
    _param_names = ("loc", "scale_tril")
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        loc = as_param(loc, "loc", "MultivariateNormal")
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        matrix = as_param(given[0], "matrix", "MultivariateNormal").to(loc.dtype)
        if matrix.ndim < 2:
            raise ValueError("covariance_matrix, precision_matrix or scale_tril must be at "
                             "least two-dimensional, with optional leading batch dimensions")
        k = loc.shape[-1]
        if tuple(matrix.shape[-2:]) != (k, k):
            raise ValueError(f"the matrix must be {k} x {k} to match loc's last dim, got "
                             f"{tuple(matrix.shape[-2:])}")
        batch = broadcast_shape(tuple(loc.shape[:-1]), tuple(matrix.shape[:-2]))
        if (Distribution._validate_default if validate_args is None else validate_args):
            self._check_matrix(matrix, "scale_tril" if scale_tril is not None else
                               "covariance_matrix" if covariance_matrix is not None else
                               "precision_matrix")
        if scale_tril is not None:
            tril = matrix
        elif covariance_matrix is not None:
            tril = linalg.cholesky(matrix)
        else:                                           # L of P^-1 from P's flipped factor
            flipped = matrix.flip(-2, -1)
            lf = linalg.cholesky(flipped).flip(-2, -1)
            xp = backend.get_array_module(matrix.array)
            eye = Tensor.wrap(xp.eye(k, dtype=matrix.dtype))
            tril = linalg.solve_triangular(lf.transpose(-2, -1), eye.expand(*lf.shape),
                                           upper=False)
        self.loc = loc.expand(*batch, k)
        self.scale_tril = tril.expand(*batch, k, k)
        # the matrix given is kept and returned as it is (as torch: its gradient goes
        # straight to it), the others are derived from scale_tril
        self._given = ("covariance_matrix" if covariance_matrix is not None else
                       "precision_matrix" if precision_matrix is not None else "scale_tril",
                       matrix.expand(*batch, k, k))
        super().__init__(batch, (k,), validate_args)

    def _check_matrix(self, matrix, name):
        """torch's constraints: scale_tril lower triangular with a positive diagonal, the
        other two symmetric positive definite (ValueError naming the parameter)."""
        raw = matrix.array
        xp = backend.get_array_module(raw)
        if name == "scale_tril":
            ok = (bool((xp.triu(raw, 1) == 0).all())
                  and bool((xp.diagonal(raw, 0, -2, -1) > 0).all()))
            constraint = "LowerCholesky()"
        else:
            ok = bool(xp.allclose(raw, xp.swapaxes(raw, -1, -2), atol=1e-6))
            if ok:
                try:
                    xp.linalg.cholesky(raw)
                except xp.linalg.LinAlgError:
                    ok = False
            constraint = "PositiveDefinite()"
        if not ok:
            self._invalid(name, matrix, constraint)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape)
        name, matrix = self._given
        new._given = (name, matrix.expand(*batch_shape, *matrix.shape[-2:]))
        return new

    @property
    def covariance_matrix(self):
        if self._given[0] == "covariance_matrix":
            return self._given[1]
        return self.scale_tril @ self.scale_tril.transpose(-2, -1)

    @property
    def precision_matrix(self):
        if self._given[0] == "precision_matrix":
            return self._given[1]
        return linalg.cholesky_inverse(self.scale_tril)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (self.scale_tril ** 2).sum(-1)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = backend.get_rng(self.loc.device).standard_normal(shape, dtype=self.loc.dtype)
        return self.loc + (self.scale_tril @ Tensor.wrap(eps).unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self.scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        m = _batch_mahalanobis(self.scale_tril, value - self.loc)
        return -0.5 * (k * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(*self._batch_shape) if self._batch_shape else h

