"""Laplace distribution with density exp(-|x - loc| / scale) / (2 scale).

    rsample = loc - scale sign(u) log(1 - |u|),  u ~ U(-1, 1)     (reparameterised)
    log_prob(x) = -log(2 scale) - |x - loc| / scale,   entropy = 1 + log(2 scale)
    cdf(x) = 1/2 - sign(x - loc) expm1(-|x - loc| / scale) / 2
    icdf(p) = loc - scale sign(p - 1/2) log1p(-2 |p - 1/2|)
"""
from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, as_value, broadcast_params


class Laplace(Distribution):
    """``Laplace(loc, scale, validate_args=None)``, scale > 0."""

    has_rsample = True
    _param_names = ("loc", "scale")
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        params, shape = broadcast_params("Laplace", loc=loc, scale=scale)
        self.loc, self.scale = params["loc"], params["scale"]
        super().__init__(shape, (), validate_args)
        if self._validate_args and not bool((self.scale.array > 0).all()):
            self._invalid("scale", self.scale, "GreaterThan(lower_bound=0.0)")

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale ** 2

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        xp = backend.get_array_module(self.loc.array)
        tiny = float(backend.module_for_device("cpu").finfo(self.loc.dtype).eps)
        u = backend.get_rng(self.loc.device).uniform(tiny - 1, 1, shape).astype(self.loc.dtype)
        step = Tensor.wrap(xp.sign(u) * xp.log1p(-xp.abs(u)))
        return self.loc - self.scale * step

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def entropy(self):
        return 1 + (2 * self.scale).log()

    def cdf(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value):
        value = as_value(value, self.loc)
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()
