"""Beta distribution on [0, 1] with density x^(a-1) (1 - x)^(b-1) / B(a, b),
a = concentration1, b = concentration0.

    log_prob(x) = (a - 1) log x + (b - 1) log(1 - x) - log B(a, b),
    log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)
    entropy = log B(a, b) - (a - 1) psi(a) - (b - 1) psi(b) + (a + b - 2) psi(a + b)
    mean = a / (a + b),  variance = a b / ((a + b)^2 (a + b + 1))

``rsample`` is X / (X + Y) with X ~ Gamma(a, 1), Y ~ Gamma(b, 1) (reparameterised through
the implicit Gamma gradients).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, where
from . import constraints
from .distribution import as_value, broadcast_params
from .exp_family import ExponentialFamily
from .gamma_rsample import standard_gamma_rsample


class Beta(ExponentialFamily):
    """``Beta(concentration1, concentration0, validate_args=None)``, both > 0."""

    has_rsample = True
    _param_names = ("concentration1", "concentration0")
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return x.lgamma() + y.lgamma() - (x + y).lgamma()

    def __init__(self, concentration1, concentration0, validate_args=None):
        params, shape = broadcast_params("Beta", concentration1=concentration1,
                                         concentration0=concentration0)
        self.concentration1, self.concentration0 = params["concentration1"], \
            params["concentration0"]
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            for name in self._param_names:
                t = getattr(self, name)
                if not bool((t.array > 0).all()):
                    self._invalid(name, t, "GreaterThan(lower_bound=0.0)")

    def _log_beta(self):
        a, b = self.concentration1, self.concentration0
        return a.lgamma() + b.lgamma() - (a + b).lgamma()

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """(a - 1)+ / ((a - 1)+ + (b - 1)+), torch's (as its Dirichlet's): NaN where both
        excesses are 0, and where a < 1 and b < 1 the endpoint of the larger (1 on a tie)."""
        a, b = self.concentration1, self.concentration0
        c1, c0 = (a - 1).clamp(min=0), (b - 1).clamp(min=0)
        mode = c1 / (c1 + c0)
        both_small = (a.array < 1) & (b.array < 1)
        if bool(both_small.any()):
            endpoint = (a.array >= b.array).astype(mode.dtype)
            mode = where(both_small, Tensor.wrap(endpoint), mode)
        return mode

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        """X / (X + Y), X ~ Gamma(a, 1), Y ~ Gamma(b, 1) (reparameterised), kept inside
        [eps, 1 - eps]."""
        shape = self._extended_shape(sample_shape)
        x = standard_gamma_rsample(self.concentration1, shape)
        y = standard_gamma_rsample(self.concentration0, shape)
        eps = float(backend.module_for_device("cpu").finfo(x.dtype).eps)
        return (x / (x + y)).clamp(min=eps, max=1 - eps)

    def log_prob(self, value):
        value = as_value(value, self.concentration1)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._require_support(value, (value.array >= 0) & (value.array <= 1),
                                  "Interval(lower_bound=0.0, upper_bound=1.0)")
        a, b = self.concentration1, self.concentration0
        return (a - 1).xlogy(value) + (b - 1).xlogy(1 - value) - self._log_beta()

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (self._log_beta() - (a - 1) * a.digamma() - (b - 1) * b.digamma()
                + (total - 2) * total.digamma())
