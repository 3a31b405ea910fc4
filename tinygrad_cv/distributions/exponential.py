"""Exponential distribution Exp(rate) on [0, inf).

    rsample = e / rate,  e ~ Exp(1)                 (reparameterised)
    log_prob(x) = log rate - rate x,   entropy = 1 - log rate
    cdf(x) = 1 - exp(-rate x),         icdf(p) = -log(1 - p) / rate
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from . import constraints
from .distribution import as_value, broadcast_params
from .exp_family import ExponentialFamily


class Exponential(ExponentialFamily):
    """``Exponential(rate, validate_args=None)``, rate > 0."""

    has_rsample = True
    _param_names = ("rate",)
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -(-x).log()

    def __init__(self, rate, validate_args=None):
        params, shape = broadcast_params("Exponential", rate=rate)
        self.rate = params["rate"]
        super().__init__(shape, (), validate_args)
        if self._validate_args and not bool((self.rate.array > 0).all()):
            self._invalid("rate", self.rate, "GreaterThan(lower_bound=0.0)")

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return self.rate * 0

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        e = backend.get_rng(self.rate.device).standard_exponential(shape, dtype=self.rate.dtype)
        return Tensor.wrap(e) / self.rate

    def log_prob(self, value):
        value = as_value(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        return self.rate.log() - self.rate * value

    def entropy(self):
        return 1.0 - self.rate.log()

    def cdf(self, value):
        value = as_value(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        value = as_value(value, self.rate)
        return -(-value).log1p() / self.rate
