"""``Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None)``: the law of
sum_{k=1..df} x_k x_k^T, x_k ~ N(0, Sigma), on p x p positive definite matrices (torch's
parameterisation; exactly one of the three matrices, Sigma = L L^T).

    log_prob(X) = -df (p log 2 / 2 + sum log diag L) - mvlgamma(df / 2, p)
                  + (df - p - 1) / 2 log det X - tr(Sigma^-1 X) / 2
    entropy = (p + 1) (p log 2 / 2 + sum log diag L) + mvlgamma(df / 2, p)
              - (df - p - 1) / 2 sum_{i<p} psi(df / 2 - i / 2) + df p / 2
    mean = df Sigma,  mode = (df - p - 1) Sigma (NaN for df <= p + 1),
    variance_ij = df (Sigma_ij^2 + Sigma_ii Sigma_jj)
    sample (Bartlett): L A A^T L^T, A lower triangular with A_ii = sqrt(Chi2(df - i)) and
    standard normal entries below the diagonal (reparameterised through the Gamma draws)
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import backend, linalg
from ..special import multigammaln
from ..tensor import Tensor, where
from . import constraints
from .gamma_rsample import standard_gamma_rsample
from .distribution import as_param, as_value, broadcast_shape, _shape_of
from .exp_family import ExponentialFamily


def _mvdigamma(x, p):
    """sum_{i<p} psi(x - i / 2)."""
    xp = backend.get_array_module(x.array)
    offsets = Tensor.wrap(xp.arange(p).astype(x.dtype) / 2)
    return (x.unsqueeze(-1) - offsets).digamma().sum(-1)


class Wishart(ExponentialFamily):
    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky,
                       "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True
    _param_names = ("df",)

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        p = self._event_shape[-1]
        return (-self.precision_matrix / 2, (self.df - p - 1) / 2)

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-linalg.slogdet(-2 * x)[1] + math.log(2) * p)
                + multigammaln(y + (p + 1) / 2, p))

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [(name, m) for name, m in (("covariance_matrix", covariance_matrix),
                                           ("precision_matrix", precision_matrix),
                                           ("scale_tril", scale_tril)) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        name, param = given[0]
        param = as_param(param, name, "Wishart")
        if param.ndim < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        p = param.shape[-1]
        if isinstance(df, numbers.Number):
            batch = tuple(param.shape[:-2])
            xp = backend.get_array_module(param.array)
            self.df = Tensor.wrap(xp.full(batch, float(df), dtype=param.dtype))
        else:
            df = as_param(df, "df", "Wishart")
            batch = broadcast_shape(tuple(param.shape[:-2]), tuple(df.shape))
            self.df = df.expand(*batch)
        if bool((self.df.array <= p - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        if bool((self.df.array < p).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to "
                          "occur for ndim - 1 < df < ndim.", stacklevel=2)
        self.__dict__[name] = param.expand(*batch, p, p)
        if name == "scale_tril":
            tril = param
        elif name == "covariance_matrix":
            tril = linalg.cholesky(param)
        else:                               # L of P^-1: the inverse of the flipped factor
            lf = linalg.cholesky(param.flip(-2, -1)).flip(-2, -1)
            xp = backend.get_array_module(param.array)
            eye = Tensor.wrap(xp.eye(p, dtype=param.dtype))
            tril = linalg.solve_triangular(lf.transpose(-2, -1), eye.expand(*lf.shape),
                                           upper=False)
        self._tril = tril
        super().__init__(batch, (p, p), validate_args)

    @property
    def scale_tril(self):
        t = self.__dict__.get("scale_tril")
        return t if t is not None else self._tril.expand(*self._batch_shape, *self._event_shape)

    @property
    def covariance_matrix(self):
        t = self.__dict__.get("covariance_matrix")
        if t is not None:
            return t
        return (self._tril @ self._tril.transpose(-2, -1)).expand(*self._batch_shape,
                                                                   *self._event_shape)

    @property
    def precision_matrix(self):
        t = self.__dict__.get("precision_matrix")
        if t is not None:
            return t
        return linalg.cholesky_inverse(self._tril).expand(*self._batch_shape,
                                                            *self._event_shape)

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        p = self._event_shape[-1]
        new.df = self.df.expand(*batch_shape)
        new._tril = self._tril.expand(*batch_shape, p, p)
        for name in ("covariance_matrix", "precision_matrix", "scale_tril"):
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name].expand(*batch_shape, p, p)
        new._batch_shape = batch_shape
        return new

    def _df_matrix(self):
        return self.df.reshape(*self._batch_shape, 1, 1)

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self._event_shape[-1] - 1
        factor = where(factor.array <= 0, math.nan, factor)
        return factor.reshape(*self._batch_shape, 1, 1) * self.covariance_matrix

    @property
    def variance(self):
        v = self.covariance_matrix
        d = v.diagonal(0, -2, -1)
        return self._df_matrix() * (v ** 2 + d.unsqueeze(-1) * d.unsqueeze(-2))

    def _half_log_det_term(self):
        p = self._event_shape[-1]
        return p * math.log(2) / 2 + self._tril.diagonal(0, -2, -1).log().sum(-1)

    def rsample(self, sample_shape=()):
        """Bartlett: L A A^T L^T with A_ii = sqrt(2 Gamma((df - i) / 2, 1)) (reparameterised)
        and standard normal entries below the diagonal."""
        sample_shape = _shape_of(sample_shape)
        p = self._event_shape[-1]
        xp = backend.get_array_module(self.df.array)
        shape = sample_shape + self._batch_shape
        offsets = Tensor.wrap(xp.arange(p).astype(self.df.dtype))
        g = standard_gamma_rsample((self.df.unsqueeze(-1) - offsets) / 2, shape + (p,))
        eps = float(backend.module_for_device("cpu").finfo(self.df.dtype).eps)
        diag = (2 * g).sqrt().clamp(min=eps)
        noise = backend.get_rng(self.df.device).standard_normal(shape + (p, p))
        a = Tensor.wrap(xp.tril(noise, -1).astype(self.df.dtype)) + diag.diag_embed()
        chol = self._tril @ a
        return chol @ chol.transpose(-2, -1)

    def log_prob(self, value):
        value = as_value(value, self.df)
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        tril = self._tril
        shape = broadcast_shape(tuple(value.shape[:-2]), tuple(tril.shape[:-2]))
        solved = linalg.cholesky_solve(value.expand(*shape, p, p), tril.expand(*shape, p, p))
        return (-nu * self._half_log_det_term() - multigammaln(nu / 2, p)
                + (nu - p - 1) / 2 * linalg.slogdet(value)[1]
                - solved.diagonal(0, -2, -1).sum(-1) / 2)

    def entropy(self):
        nu, p = self.df, self._event_shape[-1]
        return ((p + 1) * self._half_log_det_term() + multigammaln(nu / 2, p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2)


__all__ = ["Wishart"]
