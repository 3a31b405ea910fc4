"""Uniform distribution on [low, high).

    rsample = low + (high - low) * u,  u ~ U(0, 1)       (reparameterised: differentiable)
    log_prob(x) = -log(high - low) on [low, high), -inf outside
    entropy = log(high - low)
    cdf(x) = clamp((x - low) / (high - low), 0, 1),   icdf(p) = low + p (high - low)
"""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, as_param, as_value, broadcast_shape


def _is_number(v):
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


class Uniform(Distribution):
    """``Uniform(low, high, validate_args=None)`` with low < high, broadcast to the batch
    shape."""

    has_rsample = True
    _param_names = ("low", "high")
    @property
    def arg_constraints(self):
        """low < high, as torch's: ``low`` less than ``high``, ``high`` greater than ``low``."""
        return {"low": constraints.less_than(self.high),
                "high": constraints.greater_than(self.low)}

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def __init__(self, low, high, validate_args=None):
        low_is_number, high_is_number = _is_number(low), _is_number(high)
        low, high = as_param(low, "low", "Uniform"), as_param(high, "high", "Uniform")
        if low_is_number and not high_is_number:
            low = low.to(high.dtype)
        elif high_is_number and not low_is_number:
            high = high.to(low.dtype)
        shape = broadcast_shape(tuple(low.shape), tuple(high.shape))
        self.low = low.expand(*shape) if tuple(low.shape) != shape else low
        self.high = high.expand(*shape) if tuple(high.shape) != shape else high
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            xp = backend.get_array_module(self.low.array)
            if not bool(xp.all(self.low.array < self.high.array)):
                self._invalid("low", self.low, "LessThan(upper_bound=high)")

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        xp = backend.get_array_module(self.low.array)
        return Tensor.wrap(xp.full(self._batch_shape, xp.nan, dtype=self.low.dtype))

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        rng = backend.get_rng(self.low.device)
        u = rng.random(shape, dtype=self.low.dtype)
        return self.low + Tensor.wrap(u) * (self.high - self.low)

    def _check_support(self, value):
        """Validation against the closed interval [low, high] (torch's support constraint;
        log_prob is still -inf at high)."""
        xp = backend.get_array_module(value.array)
        if not bool(xp.all((value.array >= self.low.array) & (value.array <= self.high.array))):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(value.shape)}) "
                             f"to be within the support Interval(lower_bound=low, "
                             f"upper_bound=high) of the distribution {self!r}, but found "
                             "invalid values")

    def log_prob(self, value):
        """-log(high - low) inside [low, high), -inf outside (the gradient is that of
        -log(high - low) everywhere, as torch's)."""
        value = as_value(value, self.low)
        if self._validate_args:
            self._check_support(value)
        xp = backend.get_array_module(value.array)
        inside = (value.array >= self.low.array) & (value.array < self.high.array)
        outside = Tensor.wrap(xp.where(inside, 0.0, -xp.inf).astype(self.low.dtype))
        return outside - (self.high - self.low).log()

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        value = as_value(value, self.low)
        if self._validate_args:
            self._check_support(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        """The quantile low + p (high - low) (no validation of p, as torch)."""
        value = as_value(value, self.low)
        return value * (self.high - self.low) + self.low
