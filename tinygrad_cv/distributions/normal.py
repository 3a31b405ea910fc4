"""Normal (Gaussian) distribution N(loc, scale^2).

    rsample = loc + scale * eps,  eps ~ N(0, 1)            (reparameterised: differentiable)
    log_prob(x) = -(x - loc)^2 / (2 scale^2) - log(scale) - log(sqrt(2 pi))
    entropy = 1/2 + 1/2 log(2 pi) + log(scale)
    cdf(x) = (1 + erf((x - loc) / (scale sqrt 2))) / 2,   icdf(p) = loc + scale sqrt 2 erfinv(2p - 1)
"""
from __future__ import annotations

import math

import numbers

from .. import backend
from ..nn.functional import erf
from ..tensor import Tensor
from . import constraints
from .distribution import as_param, as_value, broadcast_shape
from .exp_family import ExponentialFamily


def _is_number(v):
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


class Normal(ExponentialFamily):
    """``Normal(loc, scale, validate_args=None)``; ``loc`` and ``scale`` (> 0) broadcast to
    the batch shape."""

    has_rsample = True
    _param_names = ("loc", "scale")
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.loc / self.scale ** 2, -0.5 * self.scale ** -2)

    def _log_normalizer(self, x, y):
        return -0.25 * x ** 2 / y + 0.5 * (-math.pi / y).log()

    def __init__(self, loc, scale, validate_args=None):
        loc_is_number, scale_is_number = _is_number(loc), _is_number(scale)
        loc, scale = as_param(loc, "loc", "Normal"), as_param(scale, "scale", "Normal")
        if loc_is_number and not scale_is_number:      # a number takes the tensor's dtype
            loc = loc.to(scale.dtype)
        elif scale_is_number and not loc_is_number:
            scale = scale.to(loc.dtype)
        shape = broadcast_shape(tuple(loc.shape), tuple(scale.shape))
        self.loc = loc.expand(*shape) if tuple(loc.shape) != shape else loc
        self.scale = scale.expand(*shape) if tuple(scale.shape) != shape else scale
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            xp = backend.get_array_module(self.scale.array)
            if not bool(xp.all(self.scale.array > 0)):
                self._invalid("scale", self.scale, "GreaterThan(lower_bound=0.0)")
            if bool(xp.isnan(self.loc.array).any()):
                self._invalid("loc", self.loc, "Real()")

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        """loc + scale * eps with eps ~ N(0, 1) of shape ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        rng = backend.get_rng(self.loc.device)
        eps = rng.standard_normal(shape, dtype=self.loc.dtype)
        return self.loc + Tensor.wrap(eps) * self.scale

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        return (-((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) * (1.0 / math.sqrt(2)) / self.scale))

    def icdf(self, value):
        """The quantile loc + scale sqrt(2) erfinv(2p - 1) (torch's expression)."""
        value = as_value(value, self.loc)
        return self.loc + self.scale * (value * 2 - 1).erfinv() * math.sqrt(2)
