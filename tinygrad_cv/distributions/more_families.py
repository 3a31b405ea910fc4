"""Further one-parameter-family distributions: ``HalfNormal``, ``Cauchy``, ``Gumbel``,
``Geometric``, ``Binomial``, ``Chi2``, ``StudentT`` and ``Dirichlet`` (torch.distributions'
names, parameters and formulas).

    HalfNormal(scale)      |N(0, scale^2)|: log_prob = log(2) + Normal(0, scale).log_prob
    Cauchy(loc, scale)     log_prob = -log(pi scale (1 + ((x - loc) / scale)^2))
    Gumbel(loc, scale)     z = (x - loc) / scale: log_prob = -(z + e^-z) - log scale
    Geometric(probs)       failures before the first success: log_prob = k log(1 - p) + log p
    Binomial(n, probs)     log_prob = lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1)
                                      + k log p + (n - k) log(1 - p)
    Chi2(df)               Gamma(df / 2, 1/2)
    StudentT(df, loc, s)   log_prob = lgamma((v+1)/2) - lgamma(v/2) - log(s sqrt(v pi))
                                      - (v+1)/2 log(1 + ((x - loc)/s)^2 / v)
    Dirichlet(alpha)       log_prob = sum (a_i - 1) log x_i + lgamma(sum a) - sum lgamma(a_i)

The reparameterised ones (``rsample``): HalfNormal, Cauchy, Gumbel, and through the implicit
Gamma gradients (``gamma_rsample``) Chi2, StudentT and Dirichlet; Geometric and Binomial draw
with the array library's samplers (``sample`` only).
"""
from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor, where
from . import constraints
from .distribution import Distribution, as_param, as_value, broadcast_params, _shape_of
from .exp_family import ExponentialFamily
from .gamma import Gamma
from .gamma_rsample import standard_gamma_rsample
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform, AffineTransform, ExpTransform
from .uniform import Uniform


def _positive(dist, name, t):
    if dist._validate_args and not bool((t.array > 0).all()):
        dist._invalid(name, t, "GreaterThan(lower_bound=0.0)")


def _require_counts(dist, value, upper, constraint):
    """torch's support error unless ``value`` holds integers in [0, upper] (upper: a Tensor
    or None)."""
    raw = value.array
    ok = (raw >= 0) & (raw == backend.get_array_module(raw).floor(raw))
    if upper is not None:
        ok = ok & (raw <= upper.array)
    dist._require_support(value, ok, constraint)


class _TransformedFamily(TransformedDistribution):
    """A family torch builds as a TransformedDistribution that keeps its own closed forms
    (and sampler): ``expand`` rebuilds it from expanded parameters."""

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        return type(self)(**{name: getattr(self, name).expand(*batch_shape)
                             for name in self._param_names},
                          validate_args=self._validate_args)

    def sample(self, sample_shape=()):
        return Distribution.sample(self, sample_shape)

    def __repr__(self):
        return Distribution.__repr__(self)


class HalfNormal(_TransformedFamily):
    """|N(0, scale^2)|: Normal(0, scale) through AbsTransform (as torch builds it)."""

    has_rsample = True
    _param_names = ("scale",)
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, scale, validate_args=None):
        params, _ = broadcast_params("HalfNormal", scale=scale)
        self.scale = params["scale"]
        super().__init__(Normal(0.0, self.scale, validate_args=False), AbsTransform(),
                         validate_args)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self):
        return self.scale * 0

    @property
    def variance(self):
        return self.scale ** 2 * (1 - 2 / math.pi)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = backend.get_rng(self.scale.device).standard_normal(shape, dtype=self.scale.dtype)
        return (Tensor.wrap(eps) * self.scale).abs()

    def log_prob(self, value):
        value = as_value(value, self.scale)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        log_prob = (math.log(2) - 0.5 * math.log(2 * math.pi) - self.scale.log()
                    - value ** 2 / (2 * self.scale ** 2))
        return where(value.array >= 0, log_prob, -math.inf)     # (unvalidated values below 0)

    def entropy(self):
        return 0.5 * math.log(math.pi / 2) + self.scale.log() + 0.5

    def cdf(self, value):
        value = as_value(value, self.scale)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._require_support(value, value.array >= 0, "GreaterThanEq(lower_bound=0.0)")
        return (value / (self.scale * math.sqrt(2))).erf()

    def icdf(self, value):
        value = as_value(value, self.scale)
        return self.scale * math.sqrt(2) * value.erfinv()


class Cauchy(Distribution):
    has_rsample = True
    _param_names = ("loc", "scale")
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        params, shape = broadcast_params("Cauchy", loc=loc, scale=scale)
        self.loc, self.scale = params["loc"], params["scale"]
        super().__init__(shape, (), validate_args)
        _positive(self, "scale", self.scale)

    def _nan(self):
        xp = backend.get_array_module(self.loc.array)
        return Tensor.wrap(xp.full(self._batch_shape, xp.nan, dtype=self.loc.dtype))

    @property
    def mean(self):
        return self._nan()

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        xp = backend.get_array_module(self.loc.array)
        return Tensor.wrap(xp.full(self._batch_shape, xp.inf, dtype=self.loc.dtype))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = backend.get_rng(self.loc.device).random(shape, dtype=self.loc.dtype)
        t = backend.get_array_module(u).tan(math.pi * (u - 0.5))
        return self.loc + Tensor.wrap(t) * self.scale

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z ** 2).log1p()

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()

    def cdf(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        value = as_value(value, self.loc)
        return ((value - 0.5) * math.pi).tan() * self.scale + self.loc


class Gumbel(_TransformedFamily):
    """Uniform(tiny, 1 - eps) through -log(-log u) scaled and shifted (as torch builds it;
    the closed forms and the sampler are its own)."""

    has_rsample = True
    _param_names = ("loc", "scale")
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        params, shape = broadcast_params("Gumbel", loc=loc, scale=scale)
        self.loc, self.scale = params["loc"], params["scale"]
        info = backend.module_for_device("cpu").finfo(self.loc.dtype)
        xp = backend.get_array_module(self.loc.array)
        base = Uniform(Tensor.wrap(xp.full(shape, float(info.tiny), dtype=self.loc.dtype)),
                       Tensor.wrap(xp.full(shape, 1 - float(info.eps), dtype=self.loc.dtype)),
                       validate_args=False)
        super().__init__(base, [ExpTransform().inv, AffineTransform(0, -1.0),
                                ExpTransform().inv, AffineTransform(self.loc, -self.scale)],
                         validate_args)

    @property
    def mean(self):
        return self.loc + self.scale * 0.5772156649015329

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (math.pi ** 2 / 6) * self.scale ** 2

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = float(backend.module_for_device("cpu").finfo(self.loc.dtype).tiny)
        u = backend.get_rng(self.loc.device).uniform(tiny, 1.0, shape).astype(self.loc.dtype)
        xp = backend.get_array_module(u)
        return self.loc - self.scale * Tensor.wrap(xp.log(-xp.log(u)))

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -(z + (-z).exp()) - self.scale.log()

    def entropy(self):
        return self.scale.log() + (1 + 0.5772156649015329)

    def cdf(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value):
        """loc - scale log(-log q)."""
        value = as_value(value, self.loc)
        return self.loc - self.scale * (-value.log()).log()


class Geometric(Distribution):
    """Failures before the first success, success probability ``probs`` in (0, 1]."""

    _param_names = ("probs",)
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if logits is not None:
            logits = as_param(logits, "logits", "Geometric")
            probs = logits.sigmoid()
        params, shape = broadcast_params("Geometric", probs=probs)
        self.probs = params["probs"]
        super().__init__(shape, (), validate_args)
        if self._validate_args and not bool(((self.probs.array > 0) &
                                             (self.probs.array <= 1)).all()):
            self._invalid("probs", self.probs, "HalfOpenInterval(lower_bound=0.0, "
                                               "upper_bound=1.0)")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return self.probs * 0

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        xp = backend.get_array_module(self.probs.array)
        p = xp.broadcast_to(self.probs.array, shape)
        draws = backend.get_rng(self.probs.device).geometric(p, size=shape) - 1  # failures
        return Tensor.wrap(draws.astype(self.probs.dtype))

    def log_prob(self, value):
        value = as_value(value, self.probs)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            _require_counts(self, value, None, "IntegerGreaterThan(lower_bound=0)")
        p = self.probs
        # k log(1 - p) with 0 log 0 = 0 at p = 1, k = 0 (torch zeroes p there)
        certain = (p.array == 1) & (value.array == 0)
        p_safe = where(certain, 0.0, p) if bool(certain.any()) else p
        return value * (-p_safe).log1p() + p.log()

    def entropy(self):
        p = self.probs
        return (-(1 - p) * (-p).log1p() - p * p.log()) / p


class Binomial(Distribution):
    """``Binomial(total_count=1, probs=None, logits=None)``: successes of ``total_count``
    trials."""

    _param_names = ("total_count", "probs")
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if logits is not None:
            probs = as_param(logits, "logits", "Binomial").sigmoid()
        params, shape = broadcast_params("Binomial", total_count=total_count, probs=probs)
        self.total_count, self.probs = params["total_count"], params["probs"]
        super().__init__(shape, (), validate_args)
        if self._validate_args and not bool(((self.probs.array >= 0) &
                                             (self.probs.array <= 1)).all()):
            self._invalid("probs", self.probs, "Interval(lower_bound=0.0, upper_bound=1.0)")
        n = self.total_count.array
        if self._validate_args and not bool(((n >= 0) & (n == n.round())).all()):
            self._invalid("total_count", self.total_count, "IntegerGreaterThan(lower_bound=0)")

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        xp = backend.get_array_module(self.probs.array)
        n = xp.broadcast_to(self.total_count.array.astype("int64"), shape)
        p = xp.broadcast_to(self.probs.array, shape)
        draws = backend.get_rng(self.probs.device).binomial(n, p, size=shape)
        return Tensor.wrap(draws.astype(self.probs.dtype))

    def log_prob(self, value):
        value = as_value(value, self.probs)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            _require_counts(self, value, self.total_count,
                            "IntegerInterval(lower_bound=0, upper_bound=total_count)")
        n, p = self.total_count, self.probs
        log_comb = (n + 1).lgamma() - (value + 1).lgamma() - (n - value + 1).lgamma()
        return log_comb + value.xlogy(p) + (n - value).xlogy(1 - p)

    def _homogeneous_count(self, what):
        counts = self.total_count.array
        n = int(counts.max()) if counts.size else 0
        if not bool((counts == n).all()):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return n

    def enumerate_support(self, expand=True):
        """0..n shaped (n + 1, 1, ..., 1), expanded to (n + 1, *batch_shape) unless
        ``expand=False`` (one total_count for the whole batch, as torch)."""
        n = self._homogeneous_count("enumerate_support")
        xp = backend.get_array_module(self.probs.array)
        values = Tensor.wrap(xp.arange(n + 1, dtype=self.probs.dtype).reshape(
            (-1,) + (1,) * len(self._batch_shape)))
        return values.expand(n + 1, *self._batch_shape) if expand else values

    def entropy(self):
        """-sum_k P(k) log P(k) over the enumerated support."""
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)


class Chi2(Gamma):
    """``Chi2(df)``: Gamma(df / 2, rate 1/2)."""

    _param_names = ("concentration", "rate")
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        params, _ = broadcast_params("Chi2", df=df)
        df = params["df"]
        xp = backend.get_array_module(df.array)
        half = Tensor.wrap(xp.full(tuple(df.shape), 0.5, dtype=df.dtype))   # (df = inf too)
        super().__init__(df * 0.5, half, validate_args)

    @property
    def df(self):
        return self.concentration * 2


class StudentT(Distribution):
    has_rsample = True
    _param_names = ("df", "loc", "scale")
    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        params, shape = broadcast_params("StudentT", df=df, loc=loc, scale=scale)
        self.df, self.loc, self.scale = params["df"], params["loc"], params["scale"]
        super().__init__(shape, (), validate_args)
        _positive(self, "df", self.df)
        _positive(self, "scale", self.scale)

    @property
    def mean(self):
        """loc for df > 1, else NaN."""
        return where(self.df.array > 1, self.loc, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """scale^2 df / (df - 2) for df > 2, inf for 1 < df <= 2, else NaN."""
        v = self.df.array
        finite = self.scale ** 2 * self.df / (self.df - 2)
        return where(v > 2, finite, where(v > 1, float("inf"), float("nan") * finite.detach()))

    def rsample(self, sample_shape=()):
        """loc + scale z / sqrt(g / (df / 2)), z ~ N(0, 1), g ~ Gamma(df / 2, 1)
        (reparameterised)."""
        shape = self._extended_shape(sample_shape)
        rng = backend.get_rng(self.df.device)
        z = Tensor.wrap(rng.standard_normal(shape).astype(self.df.dtype))
        half = self.df / 2
        g = standard_gamma_rsample(half, shape)
        return self.loc + self.scale * z * (g / half).rsqrt()

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        v = self.df
        z = (value - self.loc) / self.scale
        return (((v + 1) / 2).lgamma() - (v / 2).lgamma() - self.scale.log()
                - 0.5 * (v * math.pi).log() - (v + 1) / 2 * (z ** 2 / v).log1p())

    def entropy(self):
        v = self.df
        lbeta = (v / 2).lgamma() + math.lgamma(0.5) - ((v + 1) / 2).lgamma()
        return (self.scale.log() + (v + 1) / 2 * (((v + 1) / 2).digamma() - (v / 2).digamma())
                + 0.5 * v.log() + lbeta)


class Dirichlet(ExponentialFamily):
    """``Dirichlet(concentration)``: the last dim of the concentration is the event."""

    has_rsample = True
    _param_names = ("concentration",)
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - x.sum(-1).lgamma()

    def __init__(self, concentration, validate_args=None):
        conc = as_param(concentration, "concentration", "Dirichlet")
        if conc.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = conc
        super().__init__(tuple(conc.shape[:-1]), tuple(conc.shape[-1:]), validate_args)
        _positive(self, "concentration", conc)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = (self.concentration - 1).clamp(min=0)
        return c / c.sum(-1, keepdim=True)

    @property
    def variance(self):
        a = self.concentration
        a0 = a.sum(-1, keepdim=True)
        return a * (a0 - a) / (a0 ** 2 * (a0 + 1))

    def rsample(self, sample_shape=()):
        """g / sum(g), g_i ~ Gamma(a_i, 1) (reparameterised)."""
        shape = self._extended_shape(sample_shape)
        g = standard_gamma_rsample(self.concentration, shape)
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        value = as_value(value, self.concentration)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            raw = value.array
            xp = backend.get_array_module(raw)
            self._require_support(value, (raw >= 0).all(-1) & (xp.abs(raw.sum(-1) - 1) < 1e-6),
                                  "Simplex()")
        a = self.concentration
        return ((a - 1).xlogy(value).sum(-1) + a.sum(-1).lgamma() - a.lgamma().sum(-1))

    def entropy(self):
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return (a.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma()
                - ((a - 1) * a.digamma()).sum(-1))
