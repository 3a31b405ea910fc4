"""``VonMises``, ``ContinuousBernoulli``, ``FisherSnedecor`` and ``GeneralizedPareto``
(torch's parameters and formulas; GeneralizedPareto's are in its class).

    VonMises(loc, k)       circular: log_prob = k cos(x - loc) - log(2 pi) - log I0(k)
        mean = mode = loc (circular), variance = 1 - I1(k) / I0(k) (circular);
        log I0, log I1 from Abramowitz & Stegun 9.8.1-9.8.4 (|relative error| < 2e-7);
        sample: Best & Fisher's rejection sampler (in float64), no rsample
    ContinuousBernoulli(p) density C(p) p^x (1 - p)^(1 - x) on [0, 1]:
        log C(p) = log|log(1 - p) - log p| - log|1 - 2p|, with Taylor series near p = 1/2
        (inside ``lims``): log 2 + (4/3 + 104/45 d) d, d = (p - 1/2)^2;
        cdf = (p^x (1 - p)^(1 - x) + p - 1) / (2p - 1),
        icdf(u) = (log1p(-p + u (2p - 1)) - log1p(-p)) / (log p - log1p(-p));
        rsample = icdf(u) (reparameterised)
    FisherSnedecor(d1, d2) (X1 / d1) / (X2 / d2), X_i ~ Chi2(d_i):
        log_prob = lgamma((d1 + d2)/2) - lgamma(d1/2) - lgamma(d2/2) + d1/2 log(d1/d2)
                   + (d1/2 - 1) log x - (d1 + d2)/2 log1p(d1 x / d2)
        mean = d2 / (d2 - 2) (d2 > 2, else NaN), mode = (d1 - 2) d2 / (d1 (d2 + 2)) (d1 > 2)
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor, where
from . import constraints
from .bernoulli import _softplus
from .gamma_rsample import standard_gamma_rsample
from .distribution import Distribution, as_param, as_value, broadcast_params, _shape_of
from .exp_family import ExponentialFamily

# Abramowitz & Stegun 9.8.1-9.8.4: I_n(x) for x < 3.75 (in y = (x / 3.75)^2) and
# sqrt(x) e^-x I_n(x) for x >= 3.75 (in y = 3.75 / x), n = 0, 1
_SMALL = ([1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2],
          [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2, 0.32411e-3])
_LARGE = ([0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2,
           -0.2057706e-1, 0.2635537e-1, -0.1647633e-1, 0.392377e-2],
          [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1,
           0.2282967e-1, -0.2895312e-1, 0.1787654e-1, -0.420059e-2])


def _poly(y, coefs):
    result = coefs[-1]
    for c in reversed(coefs[:-1]):
        result = result * y + c
    return result


def _log_bessel_i(x, order):
    """log I_order(x) for x > 0, order 0 or 1 (differentiable; each branch sees only the
    inputs it is used for, so neither overflows nor sends NaN gradients back)."""
    is_small = x.array < 3.75
    xs = where(is_small, x, 1.0)
    xl = where(is_small, 3.75, x)
    small = _poly((xs / 3.75) ** 2, _SMALL[order])
    if order == 1:
        small = xs.abs() * small
    small = small.log()
    large = xl - 0.5 * xl.log() + _poly(3.75 / xl, _LARGE[order]).log()
    return where(is_small, small, large)


class VonMises(Distribution):
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    _param_names = ("loc", "concentration")

    def __init__(self, loc, concentration, validate_args=None):
        params, shape = broadcast_params("VonMises", loc=loc, concentration=concentration)
        self.loc, self.concentration = params["loc"], params["concentration"]
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            self._validate_params()

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * (value - self.loc).cos() - math.log(2 * math.pi)
                - _log_bessel_i(self.concentration, 0))

    def sample(self, sample_shape=()):
        """Best & Fisher (1979): wrapped-Cauchy proposals accepted by a vectorised loop
        until every entry has one (in float64), wrapped to [-pi, pi)."""
        shape = self._extended_shape(sample_shape)
        xp = backend.get_array_module(self.loc.array)
        rng = backend.get_rng(self.loc.device)
        kappa = xp.broadcast_to(self.concentration.array.astype("float64"), shape)
        loc = xp.broadcast_to(self.loc.array.astype("float64"), shape)
        small = kappa < 1e-5
        safe = xp.where(small, 1.0, kappa)                  # (the Taylor form where small)
        tau = 1 + xp.sqrt(1 + 4 * safe ** 2)
        rho = (tau - xp.sqrt(2 * tau)) / (2 * safe)
        r = xp.where(small, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
        x = xp.zeros(shape)
        done = xp.zeros(shape, dtype=bool)
        while not bool(done.all()):
            u1, u2, u3 = rng.random((3,) + tuple(shape))
            z = xp.cos(math.pi * u1)
            f = (1 + r * z) / (r + z)
            c = kappa * (r - f)
            ratio = xp.where(c > 0, c, 1.0) / u2
            accept = ((c * (2 - c) - u2) > 0) | ((c > 0) & (xp.log(ratio) + 1 - c >= 0))
            accept &= ~done
            x = xp.where(accept, xp.sign(u3 - 0.5) * xp.arccos(xp.clip(f, -1, 1)), x)
            done |= accept
        draws = (x + math.pi + loc) % (2 * math.pi) - math.pi
        return Tensor.wrap(draws.astype(self.loc.dtype))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        k = self.concentration
        return 1 - (_log_bessel_i(k, 1) - _log_bessel_i(k, 0)).exp()


def _clamp_probs(t):
    eps = float(backend.module_for_device("cpu").finfo(t.dtype).eps)
    return t.clamp(min=eps, max=1 - eps)


class ContinuousBernoulli(ExponentialFamily):
    """``ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501))``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _param_names = ("probs", "logits")

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log((e^x - 1) / x), with its Taylor series near x = 0 (inside ``lims`` - 1/2)."""
        outside = (x.array <= self._lims[0] - 0.5) | (x.array > self._lims[1] - 0.5)
        cut = where(outside, x, self._lims[0] - 0.5)
        log_norm = cut.expm1().abs().log() - cut.abs().log()
        taylor = 0.5 * x + x ** 2 / 24.0 - x ** 4 / 2880.0
        return where(outside, log_norm, taylor)

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            param = as_param(probs, "probs", "ContinuousBernoulli")
            if validate_args is not None and not bool(
                    constraints.unit_interval.check(param).array.all()):
                raise ValueError("The parameter probs has invalid values")
            self.__dict__["probs"] = _clamp_probs(param)
        else:
            param = as_param(logits, "logits", "ContinuousBernoulli")
            self.__dict__["logits"] = param
        self._lims = tuple(lims)
        super().__init__(tuple(param.shape), (), validate_args)
        if self._validate_args:
            self._validate_params()

    @property
    def probs(self):
        p = self.__dict__.get("probs")
        if p is None:
            p = self.__dict__["probs"] = _clamp_probs(self.__dict__["logits"].sigmoid())
        return p

    @property
    def logits(self):
        lg = self.__dict__.get("logits")
        if lg is None:
            p = _clamp_probs(self.__dict__["probs"])
            lg = self.__dict__["logits"] = p.log() - (-p).log1p()
        return lg

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name].expand(*batch_shape)
        new._batch_shape = batch_shape
        return new

    def _outside(self):
        p = self.probs.array
        return (p <= self._lims[0]) | (p > self._lims[1])

    def _cut_probs(self):
        return where(self._outside(), self.probs, self._lims[0])

    def _cont_bern_log_norm(self):
        cut = self._cut_probs()
        below = where(cut.array <= 0.5, cut, 0.0)
        above = where(cut.array >= 0.5, cut, 1.0)
        log_norm = ((-cut).log1p() - cut.log()).abs().log() - where(
            cut.array <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log())
        d = (self.probs - 0.5) ** 2
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * d) * d
        return where(self._outside(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x ** 2) * x
        return where(self._outside(), mus, taylor)

    @property
    def variance(self):
        cut = self._cut_probs()
        var = cut * (cut - 1.0) / (1.0 - 2.0 * cut) ** 2 + 1.0 / ((-cut).log1p()
                                                                   - cut.log()) ** 2
        d = (self.probs - 0.5) ** 2
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * d) * d
        return where(self._outside(), var, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = backend.get_rng(self.probs.device).random(shape).astype(self.probs.dtype)
        return self.icdf(Tensor.wrap(u))

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        value = as_value(value, self.probs)
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        return logits * value - _softplus(logits) + self._cont_bern_log_norm()

    def cdf(self, value):
        value = as_value(value, self.probs)
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut ** value * (1.0 - cut) ** (1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = where(self._outside(), cdfs, value)
        return where(value.array <= 0.0, 0.0, where(value.array >= 1.0, 1.0, unbounded))

    def icdf(self, value):
        value = as_value(value, self.probs)
        cut = self._cut_probs()
        inverse = (((-cut + value * (2.0 * cut - 1.0)).log1p() - (-cut).log1p())
                   / (cut.log() - (-cut).log1p()))
        return where(self._outside(), inverse, value)

    def entropy(self):
        log_p0 = (-self.probs).log1p()
        log_p1 = self.probs.log()
        return self.mean * (log_p0 - log_p1) - self._cont_bern_log_norm() - log_p0


class FisherSnedecor(Distribution):
    """``FisherSnedecor(df1, df2)`` on (0, inf), reparameterised through the Gamma draws."""

    has_rsample = True
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    _param_names = ("df1", "df2")

    def __init__(self, df1, df2, validate_args=None):
        params, shape = broadcast_params("FisherSnedecor", df1=df1, df2=df2)
        self.df1, self.df2 = params["df1"], params["df2"]
        super().__init__(shape, (), validate_args)
        if self._validate_args:
            self._validate_params()

    @property
    def mean(self):
        return where(self.df2.array > 2, self.df2 / (self.df2 - 2), math.nan)

    @property
    def mode(self):
        d1, d2 = self.df1, self.df2
        return where(d1.array > 2, (d1 - 2) / d1 * d2 / (d2 + 2), math.nan)

    @property
    def variance(self):
        d1, d2 = self.df1, self.df2
        var = 2 * d2 ** 2 * (d1 + d2 - 2) / (d1 * (d2 - 2) ** 2 * (d2 - 4))
        return where(d2.array > 4, var, math.nan)

    def rsample(self, sample_shape=()):
        """(G1 / d1) / (G2 / d2), G_i ~ Gamma(d_i / 2, 1) (reparameterised), floored at the
        smallest normal number."""
        shape = self._extended_shape(sample_shape)
        tiny = float(backend.module_for_device("cpu").finfo(self.df1.dtype).tiny)
        x1 = standard_gamma_rsample(self.df1 * 0.5, shape) / self.df1
        x2 = (standard_gamma_rsample(self.df2 * 0.5, shape) / self.df2).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value):
        value = as_value(value, self.df1)
        if self._validate_args:
            self._validate_sample(value)
        ct1, ct2 = self.df1 * 0.5, self.df2 * 0.5
        ct3 = self.df1 / self.df2
        t1 = (ct1 + ct2).lgamma() - ct1.lgamma() - ct2.lgamma()
        t2 = ct1 * ct3.log() + (ct1 - 1) * value.log()
        t3 = (ct1 + ct2) * (ct3 * value).log1p()
        return t1 + t2 - t3




class GeneralizedPareto(Distribution):
    """``GeneralizedPareto(loc, scale, concentration)``, z = (x - loc) / scale, c the
    concentration (c = 0: the exponential limit):

        log_prob = -log scale - (1/c + 1) log1p(c z)      (c = 0: -log scale - z)
        log survival = -log1p(c z) / c                       (c = 0: -z)
        icdf(u) = loc + scale expm1(-c log1p(-u)) / c       (c = 0: loc - scale log1p(-u))
        mean = loc + scale / (1 - c) (c < 1), variance = scale^2 / ((1-c)^2 (1-2c)) (c < 1/2),
        entropy = log scale + c + 1;  support [loc, loc - scale / c] for c < 0, else [loc, inf)
        rsample = icdf(u) (reparameterised)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True
    _param_names = ("loc", "scale", "concentration")

    def __init__(self, loc, scale, concentration, validate_args=None):
        params, shape = broadcast_params("GeneralizedPareto", loc=loc, scale=scale,
                                         concentration=concentration)
        self.loc, self.scale = params["loc"], params["scale"]
        self.concentration = params["concentration"]
        super().__init__(shape, (), validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        c = self.concentration
        upper = where(c.array < 0, self.loc - self.scale / where(c.array < 0, c, -1.0),
                      math.inf)
        return constraints.interval(self.loc, upper)

    def _safe_concentration(self):
        """(c == 0 within isclose's tolerance, c with 1 there)."""
        c = self.concentration
        xp = backend.get_array_module(c.array)
        zero = xp.isclose(c.array, 0.0)
        return zero, where(zero, 1.0, c)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = backend.get_rng(self.loc.device).random(shape).astype(self.loc.dtype)
        return self.icdf(Tensor.wrap(u))

    def log_prob(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, c = self._safe_concentration()
        y = 1 / c + 1
        nonzero = where(y.array == 0, y, y * (c * z).log1p())
        return -self.scale.log() - where(zero, z, nonzero)

    def log_survival_function(self, value):
        value = as_value(value, self.loc)
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, c = self._safe_concentration()
        return where(zero, -z, -(c * z).log1p() / c)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        value = as_value(value, self.loc)
        zero, c = self._safe_concentration()
        log_u = (-value).log1p()
        return where(zero, self.loc - self.scale * log_u,
                     self.loc + self.scale / c * (-c * log_u).expm1())

    @property
    def mean(self):
        c = self.concentration
        valid = c.array < 1
        result = self.loc + self.scale / (1 - where(valid, c, 0.5))
        return where(valid, result, math.nan)

    @property
    def variance(self):
        c = self.concentration
        valid = c.array < 0.5
        safe = where(valid, c, 0.25)
        return where(valid, self.scale ** 2 / ((1 - safe) ** 2 * (1 - 2 * safe)), math.nan)

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return self.scale.log() + self.concentration + 1


__all__ = ["VonMises", "ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto"]
