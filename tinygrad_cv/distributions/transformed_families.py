"""Families built as a TransformedDistribution of a simpler one (as torch builds them):

    Weibull(scale, k)        Exp(1) -> x^(1/k) -> scale x
        mean = scale G(1 + 1/k), variance = scale^2 (G(1 + 2/k) - G(1 + 1/k)^2),
        entropy = g (1 - 1/k) + log(scale / k) + 1        (G: Gamma function, g: Euler's)
    Pareto(scale, alpha)     Exp(alpha) -> e^x -> scale x;  support [scale, inf)
        mean = a scale / (a - 1) (a = max(alpha, 1)), entropy = log(scale / alpha) + 1/alpha + 1
    HalfCauchy(scale)        |Cauchy(0, scale)|: log_prob = Cauchy's + log 2 on x >= 0
    InverseGamma(a, rate)    1 / Gamma(a, rate): mean = rate / (a - 1) (a > 1, else inf),
        entropy = a + log rate + lgamma(a) - (1 + a) psi(a)
    Kumaraswamy(a, b)        U(0, 1) -> u^(1/b) -> 1 - x -> x^(1/a);
        E[x^n] = b G(1 + n/a) G(b) / G(1 + n/a + b)
    LogisticNormal(loc, s)   Normal(loc, s) over k-1 dims -> StickBreakingTransform (k-simplex)
    RelaxedBernoulli(t, p)   sigmoid of LogitRelaxedBernoulli:
        x = (logit(u) + logit(p)) / t,  log_prob(x) = log t + d - 2 log(1 + e^d), d = l - t x
    RelaxedOneHotCategorical(t, p)   exp of ExpRelaxedCategorical (Gumbel-softmax):
        x = log_softmax((l + g) / t), g = -log(-log u);
        log_prob(x) = lgamma(K) + (K - 1) log t + sum_k log_softmax(l - t x)_k

All reparameterised where the base is (every one but InverseGamma: this framework's Gamma
has no rsample).  Parameters broadcast to the batch shape; ``expand`` rebuilds the family
from expanded parameters.
"""
from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor, where
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import (CategoricalBacked, Distribution, RelaxedParameters, as_value,
                           broadcast_params, _shape_of)
from .exponential import Exponential
from .gamma import Gamma
from .more_families import Cauchy
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ExpTransform, PowerTransform,
                         SigmoidTransform, StickBreakingTransform)
from .uniform import Uniform

_EULER = 0.5772156649015329


def _full(like, value):
    xp = backend.get_array_module(like.array)
    return Tensor.wrap(xp.full(tuple(like.shape), value, dtype=like.dtype))


def _expand_params(dist, batch_shape, **extra):
    """A new instance of ``type(dist)`` from its ``_param_names`` expanded to
    ``batch_shape`` (validation as the original's)."""
    batch_shape = _shape_of(batch_shape)
    params = {name: getattr(dist, name).expand(*batch_shape) for name in dist._param_names}
    return type(dist)(**params, **extra, validate_args=dist._validate_args)


class _ParamFamily(TransformedDistribution):
    """Shared: parameter validation and ``expand`` through the constructor."""

    def _check(self):
        if self._validate_args:
            self._validate_params()

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, batch_shape)

    def __repr__(self):
        return Distribution.__repr__(self)


class Weibull(_ParamFamily):
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    _param_names = ("scale", "concentration")

    def __init__(self, scale, concentration, validate_args=None):
        params, _ = broadcast_params("Weibull", scale=scale, concentration=concentration)
        self.scale, self.concentration = params["scale"], params["concentration"]
        self.concentration_reciprocal = self.concentration.reciprocal()
        base = Exponential(_full(self.scale, 1.0), validate_args=validate_args)
        super().__init__(base, [PowerTransform(self.concentration_reciprocal),
                                AffineTransform(0, self.scale)], validate_args)
        self._check()

    @property
    def mean(self):
        return self.scale * (1 + self.concentration_reciprocal).lgamma().exp()

    @property
    def mode(self):
        k = self.concentration
        return self.scale * ((k - 1) / k) ** self.concentration_reciprocal

    @property
    def variance(self):
        r = self.concentration_reciprocal
        return self.scale ** 2 * ((1 + 2 * r).lgamma().exp() - (2 * (1 + r).lgamma()).exp())

    def entropy(self):
        r = self.concentration_reciprocal
        return _EULER * (1 - r) + (self.scale * r).log() + 1


class Pareto(_ParamFamily):
    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}
    _param_names = ("scale", "alpha")

    def __init__(self, scale, alpha, validate_args=None):
        params, _ = broadcast_params("Pareto", scale=scale, alpha=alpha)
        self.scale, self.alpha = params["scale"], params["alpha"]
        base = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base, [ExpTransform(), AffineTransform(0, self.scale)], validate_args)
        self._check()

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)
        return self.scale ** 2 * a / ((a - 1) ** 2 * (a - 2))

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())


class HalfCauchy(_ParamFamily):
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _param_names = ("scale",)

    def __init__(self, scale, validate_args=None):
        params, _ = broadcast_params("HalfCauchy", scale=scale)
        scale = params["scale"]
        super().__init__(Cauchy(scale * 0, scale, validate_args=False), AbsTransform(),
                         validate_args)
        self._check()

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return _full(self.scale, math.inf)

    @property
    def mode(self):
        return self.scale * 0

    @property
    def variance(self):
        return _full(self.scale, math.inf)

    def log_prob(self, value):
        value = as_value(value, self.scale)
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return where(value.array >= 0, log_prob, -math.inf)

    def cdf(self, value):
        value = as_value(value, self.scale)
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((as_value(prob, self.scale) + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class InverseGamma(_ParamFamily):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    _param_names = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=None):
        base = Gamma(concentration, rate, validate_args=validate_args)
        super().__init__(base, PowerTransform(_full(base.rate, -1.0)), validate_args)

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        a = self.concentration
        return where(a.array > 1, self.rate / (a - 1), math.inf)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        a = self.concentration
        return where(a.array > 2, self.rate ** 2 / ((a - 1) ** 2 * (a - 2)), math.inf)

    def entropy(self):
        a = self.concentration
        return a + self.rate.log() + a.lgamma() - (1 + a) * a.digamma()


def _kumaraswamy_moment(a, b, n):
    arg = 1 + n / a
    return b * (arg.lgamma() + b.lgamma() - (arg + b).lgamma()).exp()


class Kumaraswamy(_ParamFamily):
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True
    _param_names = ("concentration1", "concentration0")

    def __init__(self, concentration1, concentration0, validate_args=None):
        params, _ = broadcast_params("Kumaraswamy", concentration1=concentration1,
                                     concentration0=concentration0)
        self.concentration1, self.concentration0 = params["concentration1"], \
            params["concentration0"]
        c0 = self.concentration0
        base = Uniform(_full(c0, 0.0), _full(c0, 1.0), validate_args=validate_args)
        super().__init__(base, [PowerTransform(c0.reciprocal()), AffineTransform(1.0, -1.0),
                                PowerTransform(self.concentration1.reciprocal())],
                         validate_args)
        self._check()

    @property
    def mean(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        """((a - 1) / (a b - 1))^(1/a) in log space; NaN unless a >= 1 and b >= 1."""
        a, b = self.concentration1, self.concentration0
        log_mode = b.reciprocal() * (-b).log1p() - (-b * a).log1p()
        bad = (b.array < 1) | (a.array < 1)
        return where(bad, math.nan, log_mode).exp()

    @property
    def variance(self):
        return (_kumaraswamy_moment(self.concentration1, self.concentration0, 2)
                - self.mean ** 2)

    def entropy(self):
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        h0 = (self.concentration0 + 1).digamma() + _EULER
        return t0 + t1 * h0 - self.concentration1.log() - self.concentration0.log()


class LogisticNormal(_ParamFamily):
    """The k-simplex law of StickBreakingTransform(x), x ~ Normal(loc, scale) over k - 1
    dims (the last dim of the parameters)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand((1,))
        super().__init__(base, StickBreakingTransform(), validate_args)

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        tail = (self.loc.shape[-1],)
        return LogisticNormal(self.loc.expand(*batch_shape, *tail),
                              self.scale.expand(*batch_shape, *tail), self._validate_args)


def _clamp_probs(t):
    eps = float(backend.module_for_device("cpu").finfo(t.dtype).eps)
    return t.clamp(min=eps, max=1 - eps)


def _temperature(value, like):
    if isinstance(value, Tensor):
        return value.to(like.dtype) if value.dtype != like.dtype else value
    return Tensor(backend.as_array(float(value), dtype=like.dtype, device=like.device))


class LogitRelaxedBernoulli(Distribution):
    """The logit of a RelaxedBernoulli draw: (logit(u) + logits) / temperature."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True
    _param_names = ("probs", "logits")

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._bernoulli = Bernoulli(probs, logits, validate_args)
        like = self._bernoulli.probs if probs is not None else self._bernoulli.logits
        self.temperature = _temperature(temperature, like)
        super().__init__(self._bernoulli.batch_shape, (), validate_args)

    @property
    def probs(self):
        return self._bernoulli.probs

    @property
    def logits(self):
        return self._bernoulli.logits

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._bernoulli = self._bernoulli.expand(batch_shape)
        new._batch_shape = batch_shape
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = _clamp_probs(self.probs.expand(*shape))
        u = backend.get_rng(probs.device).random(shape).astype(probs.dtype)
        u = _clamp_probs(Tensor.wrap(u))
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value):
        value = as_value(value, self.logits)
        if self._validate_args:
            self._validate_sample(value)
        diff = self.logits - value * self.temperature
        return self.temperature.log() + diff - 2 * diff.exp().log1p()


class RelaxedBernoulli(RelaxedParameters, TransformedDistribution):
    """``RelaxedBernoulli(temperature, probs=None, logits=None)``: sigmoid of a
    LogitRelaxedBernoulli draw, on (0, 1) (reparameterised)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args)
        super().__init__(base, SigmoidTransform(), validate_args)


    def __repr__(self):
        return f"RelaxedBernoulli(batch_shape={self._batch_shape})"


class ExpRelaxedCategorical(CategoricalBacked, Distribution):
    """The log of a RelaxedOneHotCategorical draw: log_softmax((logits + gumbel) / t)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args)
        self.temperature = _temperature(temperature, self._categorical.logits)
        super().__init__(self._categorical.batch_shape,
                         (self._categorical.param_shape[-1],), validate_args)



    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        logits = self.logits
        u = backend.get_rng(logits.device).random(shape).astype(logits.dtype)
        u = _clamp_probs(Tensor.wrap(u))
        gumbels = -((-(u.log())).log())
        scores = (logits + gumbels) / self.temperature
        return scores - scores.logsumexp(dim=-1, keepdim=True)

    def log_prob(self, value):
        value = as_value(value, self.logits)
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        t = self.temperature
        log_scale = math.lgamma(k) + (k - 1) * t.log()
        score = self.logits - value * t
        score = (score - score.logsumexp(dim=-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(RelaxedParameters, TransformedDistribution):
    """``RelaxedOneHotCategorical(temperature, probs=None, logits=None)``: the Gumbel-softmax
    (Concrete) law on the simplex, reparameterised."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args)
        super().__init__(base, ExpTransform(), validate_args)


    def __repr__(self):
        return f"RelaxedOneHotCategorical(batch_shape={self._batch_shape})"


__all__ = ["Weibull", "Pareto", "HalfCauchy", "InverseGamma", "Kumaraswamy", "LogisticNormal",
           "LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"]
