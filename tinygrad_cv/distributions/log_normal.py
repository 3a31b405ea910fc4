"""Log-normal distribution: exp(X) with X ~ N(loc, scale^2).

    rsample = exp(loc + scale eps)                       (reparameterised)
    log_prob(y) = Normal.log_prob(log y) - log y,   entropy = Normal.entropy + loc
    mean = exp(loc + scale^2 / 2),   variance = (exp(scale^2) - 1) exp(2 loc + scale^2)
"""
from __future__ import annotations

from . import constraints
from .distribution import Distribution, as_value
from .normal import Normal


class LogNormal(Distribution):
    """``LogNormal(loc, scale, validate_args=None)``: ``base_dist`` is Normal(loc, scale)."""

    has_rsample = True
    _param_names = ("loc", "scale")
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive

    def __init__(self, loc, scale, validate_args=None):
        self.base_dist = Normal(loc, scale, validate_args)
        self.loc, self.scale = self.base_dist.loc, self.base_dist.scale
        super().__init__(self.base_dist.batch_shape, (), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape)
        new.base_dist = self.base_dist.expand(batch_shape)
        return new

    @property
    def mean(self):
        return (self.loc + self.scale ** 2 / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale ** 2).exp()

    @property
    def variance(self):
        s2 = self.scale ** 2
        return s2.expm1() * (2 * self.loc + s2).exp()

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape).exp()

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        log_value = value.log()
        return self.base_dist.log_prob(log_value) - log_value

    def entropy(self):
        return self.base_dist.entropy() + self.loc

    def cdf(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        return self.base_dist.cdf(value.log())

    def icdf(self, value):
        return self.base_dist.icdf(value).exp()
