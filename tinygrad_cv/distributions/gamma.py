"""Gamma distribution with density rate^a x^(a-1) e^(-rate x) / Gamma(a), a = concentration.

    log_prob(x) = a log rate + (a - 1) log x - rate x - lgamma(a)
    entropy = a - log rate + lgamma(a) + (1 - a) digamma(a)
    mean = a / rate,  variance = a / rate^2,  mode = max((a - 1) / rate, 0)
    cdf(x) = P(a, rate x)   (the regularised lower incomplete gamma function)

``rsample`` draws from the array library's gamma sampler, reparameterised by implicit
differentiation of the cdf (``gamma_rsample``), as torch's.
"""
from __future__ import annotations

from ..special import gammainc
from .gamma_rsample import standard_gamma_rsample
from . import constraints
from .distribution import as_value, broadcast_params
from .exp_family import ExponentialFamily


class Gamma(ExponentialFamily):
    """``Gamma(concentration, rate, validate_args=None)``, both > 0."""

    has_rsample = True
    _param_names = ("concentration", "rate")
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return (x + 1).lgamma() + (x + 1) * (-y.reciprocal()).log()

    def __init__(self, concentration, rate, validate_args=None):
        params, shape = broadcast_params("Gamma", concentration=concentration, rate=rate)
        self.concentration, self.rate = params["concentration"], params["rate"]
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            for name in ("concentration", "rate"):
                t = getattr(self, name)
                if not bool((t.array > 0).all()):
                    self._invalid(name, t, "GreaterThan(lower_bound=0.0)")

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        """Gamma(a, 1) draws / rate, reparameterised (implicit gradient in a)."""
        shape = self._extended_shape(sample_shape)
        return standard_gamma_rsample(self.concentration, shape) / self.rate

    def log_prob(self, value):
        value = as_value(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        a, b = self.concentration, self.rate
        return a.xlogy(b) + (a - 1).xlogy(value) - b * value - a.lgamma()

    def cdf(self, value):
        """The regularised lower incomplete gamma P(a, rate x) (no gradient in a, as
        torch)."""
        value = as_value(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self):
        a = self.concentration
        return a - self.rate.log() + a.lgamma() + (1 - a) * a.digamma()
