"""Poisson distribution with P(k) = rate^k e^(-rate) / k!.

    log_prob(k) = k log rate - rate - lgamma(k + 1)   (xlogy: 0 log 0 = 0)
    mean = variance = rate,  mode = floor(rate)
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from . import constraints
from .distribution import as_value, broadcast_params
from .exp_family import ExponentialFamily


class Poisson(ExponentialFamily):
    """``Poisson(rate, validate_args=None)``, rate >= 0; samples are floats of rate's dtype."""

    _param_names = ("rate",)
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()

    def __init__(self, rate, validate_args=None):
        params, shape = broadcast_params("Poisson", rate=rate)
        self.rate = params["rate"]
        super().__init__(shape, (), validate_args)
        if self._validate_args and not bool((self.rate.array >= 0).all()):
            self._invalid("rate", self.rate, "GreaterThanEq(lower_bound=0.0)")

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        xp = backend.get_array_module(self.rate.array)
        lam = xp.broadcast_to(self.rate.array.astype("float64"), shape)
        draws = backend.get_rng(self.rate.device).poisson(lam, size=shape)
        return Tensor.wrap(draws.astype(self.rate.dtype))

    def log_prob(self, value):
        value = as_value(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            raw = value.array
            xp = backend.get_array_module(raw)
            self._require_support(value, (raw >= 0) & (raw == xp.floor(raw)),
                                  "IntegerGreaterThan(lower_bound=0)")
        return value.xlogy(self.rate) - self.rate - (value + 1).lgamma()
