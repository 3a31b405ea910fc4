"""Counting distributions: ``Multinomial`` and ``NegativeBinomial`` (torch's parameters and
formulas).

    Multinomial(n, probs)   counts x of n Categorical draws over the last dim:
        log_prob(x) = lgamma(sum x + 1) - sum lgamma(x_k + 1) + sum x_k log p_k
        mean = n p,  variance = n p (1 - p)
        entropy = n H(Categorical) - lgamma(n + 1) + sum_k E[lgamma(x_k + 1)], x_k ~ Bin(n, p_k)
    NegativeBinomial(r, probs)  successes before r failures, success probability p = sigmoid(l):
        log_prob(k) = r logsigmoid(-l) + k logsigmoid(l)
                      + lgamma(r + k) - lgamma(k + 1) - lgamma(r)   (0 where r + k = 0)
        mean = r e^l,  variance = mean / sigmoid(-l),  mode = floor((r - 1) e^l)+
        sample: Poisson(Gamma(r, rate e^-l))
"""
from __future__ import annotations

import math
import numbers

from .. import backend
from ..nn import functional as F
from ..tensor import Tensor, where
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import (CategoricalBacked, Distribution, as_value, broadcast_params,
                           _shape_of)


class Multinomial(CategoricalBacked, Distribution):
    """``Multinomial(total_count=1, probs=None, logits=None)``; ``total_count`` an int (one
    count for the whole batch, as torch); samples are floats of the parameter's dtype."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, numbers.Integral):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = int(total_count)
        self._categorical = Categorical(probs, logits, validate_args)
        param_shape = self._categorical.param_shape
        super().__init__(param_shape[:-1], param_shape[-1:], validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)


    @property
    def param_shape(self):
        return self._categorical.param_shape


    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """Counts of ``total_count`` Categorical draws (summed one-hot vectors)."""
        sample_shape = _shape_of(sample_shape)
        k = self._event_shape[0]
        draws = self._categorical.sample((self.total_count,) + sample_shape)
        xp = backend.get_array_module(draws.array)
        counts = (draws.array[..., None] == xp.arange(k)).sum(0)
        return Tensor.wrap(counts.astype(self.probs.dtype))

    def log_prob(self, value):
        value = as_value(value, self.probs)
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        shape = backend.broadcast_shapes(tuple(logits.shape), tuple(value.shape))
        logits, value = logits.expand(*shape), value.expand(*shape)
        zero = (value.array == 0) & (logits.array == -float("inf"))
        if bool(zero.any()):
            logits = where(zero, 0.0, logits)
        log_factorial_n = (value.sum(-1) + 1).lgamma()
        log_factorial_xs = (value + 1).lgamma().sum(-1)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        n = self.total_count
        probs = self.probs
        xp = backend.get_array_module(probs.array)
        support = Tensor.wrap(xp.arange(n + 1, dtype=probs.dtype).reshape(
            (n + 1,) + (1,) * probs.ndim))                     # (n + 1, 1, ..., 1)
        p = probs.clamp(min=0, max=1)
        log_binom = (math.lgamma(n + 1) - (support + 1).lgamma() - (n - support + 1).lgamma()
                     + support.xlogy(p) + (n - support).xlogy(1 - p))
        weights = (support + 1).lgamma()
        return (n * self._categorical.entropy() - math.lgamma(n + 1)
                + (log_binom.exp() * weights).sum(0).sum(-1))


class NegativeBinomial(Distribution):
    """``NegativeBinomial(total_count, probs=None, logits=None)``: successes before
    ``total_count`` failures; samples are floats."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer
    _param_names = ("total_count", "probs", "logits")

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name = "probs" if probs is not None else "logits"
        params, shape = broadcast_params("NegativeBinomial", total_count=total_count,
                                         **{name: probs if probs is not None else logits})
        self.total_count = params["total_count"]
        self._bernoulli = Bernoulli(**{name: params[name]}, validate_args=False)
        self.__dict__[name] = params[name]
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            self._validate_params()

    @property
    def probs(self):
        return self._bernoulli.probs

    @property
    def logits(self):
        return self._bernoulli.logits

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        name = "probs" if "probs" in self.__dict__ else "logits"
        return NegativeBinomial(self.total_count.expand(*batch_shape),
                                **{name: self.__dict__[name].expand(*batch_shape)},
                                validate_args=self._validate_args)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        xp = backend.get_array_module(self.logits.array)
        rng = backend.get_rng(self.logits.device)
        r = xp.broadcast_to(self.total_count.array.astype("float64"), shape)
        scale = xp.broadcast_to(xp.exp(self.logits.array.astype("float64")), shape)
        rate = xp.where(r > 0, rng.standard_gamma(xp.where(r > 0, r, 1.0)), 0.0) * scale
        return Tensor.wrap(rng.poisson(rate).astype(self.logits.dtype))

    def log_prob(self, value):
        value = as_value(value, self.logits)
        if self._validate_args:
            self._validate_sample(value)
        r, logits = self.total_count, self.logits
        log_unnormalized = r * F.logsigmoid(-logits) + value * F.logsigmoid(logits)
        log_normalization = -(r + value).lgamma() + (1.0 + value).lgamma() + r.lgamma()
        empty = (r.array + value.array) == 0
        if bool(empty.any()):
            log_normalization = where(empty, 0.0, log_normalization)
        return log_unnormalized - log_normalization


__all__ = ["Multinomial", "NegativeBinomial"]
