"""KL divergence KL(p || q) = E_p[log p - log q] in closed form for pairs of the same family.

    Normal:      1/2 (s_p^2 / s_q^2 + (m_p - m_q)^2 / s_q^2 - 1 - log(s_p^2 / s_q^2))
    Categorical: sum_k p_k (log p_k - log q_k)      (+inf where q_k = 0 < p_k; 0 where p_k = 0)
    Bernoulli:   p (softplus(-l_q) - softplus(-l_p)) + (1 - p) (softplus(l_q) - softplus(l_p))
                 with the same conventions at p, q in {0, 1}
    Uniform:     log((h_q - l_q) / (h_p - l_p)), +inf unless [l_p, h_p] lies within [l_q, h_q]
    Exponential: log(r_p / r_q) + r_q / r_p - 1
    Laplace:     -log(s_p / s_q) + |m_p - m_q| / s_q + (s_p / s_q) exp(-|m_p - m_q| / s_p) - 1
    Gamma:       a_q log(b_p / b_q) + lgamma(a_q) - lgamma(a_p) + (a_p - a_q) psi(a_p)
                 + (b_q - b_p) a_p / b_p
    Beta:        log B(a_q, b_q) - log B(a_p, b_p) + (a_p - a_q) psi(a_p) + (b_p - b_q) psi(b_p)
                 + (a_q - a_p + b_q - b_p) psi(a_p + b_p)
    Poisson:     r_p (log r_p - log r_q) - (r_p - r_q)
    MultivariateNormal: sum log diag L_q - sum log diag L_p
                 + (|L_q^-1 L_p|_F^2 + |L_q^-1 (m_q - m_p)|^2 - k) / 2
    Dirichlet:   lgamma(sum a_p) - lgamma(sum a_q) - sum (lgamma(a_p) - lgamma(a_q))
                 + sum (a_p - a_q) (psi(a_p) - psi(sum a_p))
    HalfNormal:  Normal's with m_p = m_q = 0
    Cauchy:      log(((s_p + s_q)^2 + (m_p - m_q)^2) / (4 s_p s_q))
    Gumbel:      -log(s_p / s_q) + (m_p - m_q) / s_q + g s_p / s_q
                 + exp((m_q - m_p) / s_q + lgamma(1 + s_p / s_q)) - (1 + g)   (g: Euler's)
    Geometric:   -H(p) - log(1 - q) / p - logit(q)
    Binomial:    n (p (logit p - logit q) + log(1 - p) - log(1 - q)) for n_p = n_q, +inf for
                 n_p > n_q (n_p < n_q raises NotImplementedError, as torch)
    LogNormal, OneHotCategorical, Independent: the KL of their base distributions (summed over
    the reinterpreted dims for Independent)
    TransformedDistribution: the base distributions' KL when the transforms are equal
    ContinuousBernoulli: mean_p (l_p - l_q) + log C(p) + log(1 - p) - log C(q) - log(1 - q)
    The other cross-family pairs torch registers (Beta/Exponential/Gamma/Gumbel/Laplace/
    Normal/Uniform/Bernoulli/Poisson combinations): their closed forms, +inf where q's support
    misses part of p's; two members of one ExponentialFamily without a closed form: the
    Bregman divergence of the log normalizer.
    Cross pairs with Pareto and ContinuousBernoulli where torch has them: closed forms for
    Beta/Uniform -> ContinuousBernoulli, ContinuousBernoulli -> Exponential/Normal/Uniform,
    Pareto -> Exponential/Gamma/Normal, Uniform -> Pareto; +inf where q's support misses p's
    Pareto:      a_q log(s_p / s_q) - log(a_q / a_p) + a_q / a_p - 1, +inf where s_p < s_q
    LowRankMultivariateNormal (with itself or MultivariateNormal): the Gaussian KL above on
                 the dense covariance W W^T + D
"""
from __future__ import annotations

import math

from .. import backend, linalg
from ..tensor import Tensor, where
from .bernoulli import Bernoulli, _softplus
from .beta import Beta
from .categorical import Categorical
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .laplace import Laplace
from .log_normal import LogNormal
from .more_families import Binomial, Cauchy, Dirichlet, Geometric, Gumbel, HalfNormal
from .multivariate_normal import MultivariateNormal, _batch_mahalanobis
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .poisson import Poisson
from .uniform import Uniform
from .exp_family import ExponentialFamily
from ..autograd import enable_grad, grad
from .low_rank_multivariate_normal import LowRankMultivariateNormal
from .transformed_distribution import TransformedDistribution
from .transformed_families import Pareto
from .bounded_families import ContinuousBernoulli

_KL = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``type_p`` and ``type_q``."""
    def decorate(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return decorate


def kl_divergence(p, q):
    """KL(p || q), shaped like the batch; the most specific registered pair is used (the one
    whose classes are nearest to p's and q's in their method resolution orders)."""
    mro_p, mro_q = type(p).__mro__, type(q).__mro__
    matches = [((mro_p.index(tp), mro_q.index(tq)), fn) for (tp, tq), fn in _KL.items()
               if tp in mro_p and tq in mro_q]
    if matches:
        return min(matches, key=lambda m: (sum(m[0]), m[0]))[1](p, q)
    raise NotImplementedError(f"kl_divergence: no closed form registered for "
                              f"{type(p).__name__} and {type(q).__name__} (registered: "
                              f"{', '.join(f'{a.__name__}/{b.__name__}' for a, b in _KL)})")


def _fill(t, mask_array, value):
    """t with ``value`` where the raw boolean mask holds (gradient 0 there)."""
    if not bool(mask_array.any()):
        return t
    xp = backend.get_array_module(mask_array)
    return where(xp.broadcast_to(mask_array, tuple(t.shape)), value, t)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = _fill(t, q.probs.array == 0, float("inf"))
    t = _fill(t, p.probs.array == 0, 0.0)
    return t.sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    t1 = _fill(t1, q.probs.array == 0, float("inf"))
    t1 = _fill(t1, p.probs.array == 0, 0.0)
    t2 = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    t2 = _fill(t2, q.probs.array == 1, float("inf"))
    t2 = _fill(t2, p.probs.array == 1, 0.0)
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low.array > p.low.array) | (q.high.array < p.high.array)
    return _fill(result, outside, float("inf"))


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    gap = (p.loc - q.loc).abs()
    return -scale_ratio.log() + gap / q.scale + scale_ratio * (-gap / p.scale).exp() - 1


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    a_p, b_p, a_q, b_q = p.concentration, p.rate, q.concentration, q.rate
    return (a_q * (b_p / b_q).log() + a_q.lgamma() - a_p.lgamma()
            + (a_p - a_q) * a_p.digamma() + (b_q - b_p) * (a_p / b_p))


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a_p, b_p, a_q, b_q = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    total_p = a_p + b_p
    return (q._log_beta() - p._log_beta() + (a_p - a_q) * a_p.digamma()
            + (b_p - b_q) * b_p.digamma() + (a_q - a_p + b_q - b_p) * total_p.digamma())


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    k = p.event_shape[0]
    half_log_det = q._half_log_det() - p._half_log_det()
    lq = q.scale_tril
    shape = tuple(max(a, b) for a, b in zip(lq.shape[:-2], p.scale_tril.shape[:-2]))
    solved = linalg.solve_triangular(lq.expand(*shape, k, k),
                                     p.scale_tril.expand(*shape, k, k), upper=False)
    term2 = (solved ** 2).sum(dim=(-2, -1))
    term3 = _batch_mahalanobis(lq, q.loc - p.loc)
    return half_log_det + 0.5 * (term2 + term3 - k)


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return kl_divergence(p._categorical, q._categorical)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent with different "
                                  "reinterpreted_batch_ndims")
    return p._sum_rightmost(kl_divergence(p.base_dist, q.base_dist))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    a_p, a_q = p.concentration, q.concentration
    sum_p = a_p.sum(-1)
    return (sum_p.lgamma() - a_q.sum(-1).lgamma() - (a_p.lgamma() - a_q.lgamma()).sum(-1)
            + ((a_p - a_q) * (a_p.digamma() - sum_p.digamma().unsqueeze(-1))).sum(-1))


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    return 0.5 * (var_ratio - 1 - var_ratio.log())


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return (((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2).log()
            - (4 * p.scale * q.scale).log())


_EULER = 0.5772156649015329


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ratio = p.scale / q.scale
    shift = (q.loc - p.loc) / q.scale
    return (-ratio.log() - shift + ratio * _EULER + (shift + (1 + ratio).lgamma()).exp()
            - (1 + _EULER))


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    q_logit = q.probs.log() - (-q.probs).log1p()
    return -p.entropy() - (-q.probs).log1p() / p.probs - q_logit


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count.array < q.total_count.array).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count "
                                  "is not implemented")
    def logit(t):
        return t.log() - (-t).log1p()
    kl = p.total_count * (p.probs * (logit(p.probs) - logit(q.probs)) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return _fill(kl, p.total_count.array > q.total_count.array, float("inf"))


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    """q_a log(s_p / s_q) - log(q_a / p_a) + q_a / p_a - 1, +inf where s_p < s_q."""
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * scale_ratio.log() - alpha_ratio.log() + alpha_ratio - 1
    return _fill(result, p.scale.array < q.scale.array, float("inf"))


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    """The base distributions' KL when both push them through equal transforms."""
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError("kl_divergence: TransformedDistributions with different "
                                  "transforms or event shapes")
    return kl_divergence(p.base_dist, q.base_dist)


def _as_dense_mvn(d):
    if isinstance(d, LowRankMultivariateNormal):
        return MultivariateNormal(d.loc, covariance_matrix=d.covariance_matrix,
                                  validate_args=False)
    return d


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank(p, q):
    """The Gaussian KL on the dense covariances W W^T + D."""
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two (Low Rank) Multivariate Normals with "
                         "different event shapes cannot be computed")
    return _kl_mvn_mvn(_as_dense_mvn(p), _as_dense_mvn(q))


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli(p, q):
    return (p.mean * (p.logits - q.logits) + p._cont_bern_log_norm() + (-p.probs).log1p()
            - q._cont_bern_log_norm() - (-q.probs).log1p())


# ---- cross-family pairs with Pareto and ContinuousBernoulli (the ones torch registers) ----

def _infinite_like(t):
    """+inf shaped like ``t`` (the KL where q's support misses part of p's)."""
    xp = backend.get_array_module(t.array)
    return Tensor.wrap(xp.full(tuple(t.shape), xp.inf, dtype=t.dtype))


def _x_log_x(t):
    return t * t.log()


for _p, _q, _param in [(Beta, Pareto, "concentration1"), (ContinuousBernoulli, Pareto, "probs"),
                       (Exponential, ContinuousBernoulli, "rate"), (Exponential, Pareto, "rate"),
                       (Gamma, ContinuousBernoulli, "concentration"),
                       (Gamma, Pareto, "concentration"), (Gumbel, ContinuousBernoulli, "loc"),
                       (Gumbel, Pareto, "loc"), (Laplace, ContinuousBernoulli, "loc"),
                       (Laplace, Pareto, "loc"), (Normal, ContinuousBernoulli, "loc"),
                       (Normal, Pareto, "loc"), (Pareto, Beta, "scale"),
                       (Pareto, ContinuousBernoulli, "scale"), (Pareto, Uniform, "scale")]:
    register_kl(_p, _q)(lambda p, q, _name=_param: _infinite_like(getattr(p, _name)))


def _cb_cross_entropy_part(p_mean, q):
    """-E_p[log q(x)] for a ContinuousBernoulli q, given p's mean."""
    return -p_mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _cb_cross_entropy_part(p.mean, q)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    """+inf where [low, high] leaves [0, 1]."""
    result = -p.entropy() + _cb_cross_entropy_part(p.mean, q)
    return _fill(result, (p.high.array > 1) | (p.low.array < 0), float("inf"))


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    t2 = 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale) ** 2) + q.scale.log()
    t3 = (p.variance + p.mean ** 2 - 2.0 * q.loc * p.mean) / (2.0 * q.scale ** 2)
    return -p.entropy() + t2 + t3


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    """+inf unless [0, 1] lies within [low, high]."""
    result = -p.entropy() + (q.high - q.low).log()
    return _fill(result, (q.low.array > 0) | (q.high.array < 1), float("inf"))


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    scale_rate = p.scale * q.rate
    result = ((p.alpha / scale_rate).log() - p.alpha.reciprocal()
              + p.alpha * scale_rate / (p.alpha - 1) - 1)
    return _fill(result, p.alpha.array <= 1, float("inf"))


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    common = p.scale.log() + p.alpha.reciprocal()
    result = (p.alpha.log() - common + q.concentration.lgamma()
              - q.concentration * q.rate.log() + (1 - q.concentration) * common
              + q.rate * p.alpha * p.scale / (p.alpha - 1) - 1)
    return _fill(result, p.alpha.array <= 1, float("inf"))


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    var_normal = 2 * q.scale ** 2
    common = p.scale / (p.alpha - 1)
    t1 = (math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale).log()
    t3 = p.alpha * common ** 2 / (p.alpha - 2)
    t4 = (p.alpha * common - q.loc) ** 2
    result = t1 - p.alpha.reciprocal() + (t3 + t4) / var_normal - 1
    return _fill(result, p.alpha.array <= 2, float("inf"))


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    t1 = (q.alpha * q.scale ** q.alpha * width).log()
    t2 = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    return _fill(t2 * (q.alpha + 1) - t1, p.low.array < q.scale.array, float("inf"))


# ---- the other cross-family pairs torch registers ----

for _p, _q, _param in [(Exponential, Beta, "rate"), (Exponential, Uniform, "rate"),
                       (Gamma, Beta, "concentration"), (Gamma, Uniform, "concentration"),
                       (Gumbel, Beta, "loc"), (Gumbel, Exponential, "loc"),
                       (Gumbel, Gamma, "loc"), (Gumbel, Uniform, "loc"),
                       (Laplace, Beta, "loc"), (Laplace, Exponential, "loc"),
                       (Laplace, Gamma, "loc"), (Laplace, Uniform, "loc"),
                       (Normal, Beta, "loc"), (Normal, Exponential, "loc"),
                       (Normal, Gamma, "loc"), (Normal, Uniform, "loc"),
                       (Poisson, Bernoulli, "rate"), (Poisson, Binomial, "rate")]:
    register_kl(_p, _q)(lambda p, q, _name=_param: _infinite_like(getattr(p, _name)))


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    a, b = p.concentration1, p.concentration0
    return (-p.entropy() + q.concentration.lgamma() - q.concentration * q.rate.log()
            - (q.concentration - 1) * (a.digamma() - (a + b).digamma())
            + q.rate * a / (a + b))


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    a, b = p.concentration1, p.concentration0
    mean = a / (a + b)
    var_normal = q.scale ** 2
    second_moment = (mean * (1 - mean) / (a + b + 1) + mean ** 2) * 0.5
    return (-p.entropy() + 0.5 * (var_normal * 2 * math.pi).log()
            + (second_moment - q.loc * mean + q.loc ** 2 * 0.5) / var_normal)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return _fill(result, (q.low.array > 0) | (q.high.array < 1), float("inf"))


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ratio.log() + ratio + q.concentration.lgamma()
            + q.concentration * _EULER - (1 + _EULER))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    scale_rate = p.rate * q.scale
    loc_scale = q.loc / q.scale
    return (scale_rate.log() - 1 - loc_scale + loc_scale.exp() * scale_rate / (scale_rate + 1)
            + scale_rate.reciprocal())


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var_normal = q.scale ** 2
    rate_sqr = p.rate ** 2
    return (0.5 * (rate_sqr * var_normal * 2 * math.pi).log() - 1
            + (rate_sqr.reciprocal() - q.loc / p.rate + q.loc ** 2 * 0.5) / var_normal)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    a = p.concentration
    beta_scale = p.rate * q.scale
    loc_scale = q.loc / q.scale
    return ((a - 1) * a.digamma() - a.lgamma() - a + beta_scale.log() + a / beta_scale
            + loc_scale.exp() * (1 + beta_scale.reciprocal()) ** (-a) - loc_scale)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    a = p.concentration
    var_normal = q.scale ** 2
    beta_sqr = p.rate ** 2
    t1 = 0.5 * (beta_sqr * var_normal * 2 * math.pi).log() - a - a.lgamma()
    t2 = 0.5 * (a ** 2 + a) / beta_sqr
    return t1 + (a - 1) * a.digamma() + (t2 - q.loc * a / p.rate + 0.5 * q.loc ** 2) / var_normal


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    ratio = p.scale / q.scale
    t1 = (ratio / math.sqrt(2 * math.pi)).log()
    t2 = (math.pi * ratio * 0.5) ** 2 / 3
    t3 = ((p.loc + p.scale * _EULER - q.loc) / q.scale) ** 2 * 0.5
    return -t1 + t2 + t3 - (_EULER + 1)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var_normal = q.scale ** 2
    ratio = p.scale ** 2 / var_normal
    t1 = 0.5 * (2 * ratio / math.pi).log()
    return (-t1 + ratio + (0.5 * p.loc ** 2 - p.loc * q.loc + 0.5 * q.loc ** 2) / var_normal
            - 1)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_scale = p.loc / q.scale
    var_scale_sqr = (p.scale / q.scale) ** 2
    loc_scale = q.loc / q.scale
    return (-var_scale_sqr.log() * 0.5 + mean_scale - loc_scale
            + (-mean_scale + 0.5 * var_scale_sqr + loc_scale).exp()
            - 0.5 * (1 + math.log(2 * math.pi)))


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_diff = p.loc - q.loc
    diff_ratio = loc_diff / p.scale
    t2 = math.sqrt(2 / math.pi) * p.scale * (-0.5 * diff_ratio ** 2).exp()
    t3 = loc_diff * (math.sqrt(0.5) * diff_ratio).erf()
    return (-(p.scale / q.scale).log() + (t2 + t3) / q.scale
            - 0.5 * (1 + math.log(0.5 * math.pi)))


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    a, b = q.concentration1, q.concentration0
    t2 = (a - 1) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    t3 = (b - 1) * (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    result = t3 + a.lgamma() + b.lgamma() - (a + b).lgamma() - width.log() - t2
    return _fill(result, (p.high.array > 1) | (p.low.array < 0), float("inf"))


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return _fill(result, p.low.array < 0, float("inf"))


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    a = q.concentration
    result = (-width.log() + a.lgamma() - a * q.rate.log()
              + (1 - a) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
              + q.rate * (p.high + p.low) / 2)
    return _fill(result, p.low.array < 0, float("inf"))


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    common = q.scale / (p.high - p.low)
    high = (p.high - q.loc) / q.scale
    low = (p.low - q.loc) / q.scale
    return common.log() + 0.5 * (high + low) - common * ((-high).exp() - (-low).exp())


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / width).log()
    return t1 + 0.5 * (width ** 2 / 12 + ((p.high + p.low - 2 * q.loc) / 2) ** 2) / q.scale ** 2


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """The Bregman divergence of the log normalizer, for two members of one family that has
    no closed form registered."""
    if type(p) is not type(q):
        raise NotImplementedError(f"kl_divergence: no closed form registered for "
                                  f"{type(p).__name__} and {type(q).__name__} (the cross "
                                  "KL-divergence between different exponential families "
                                  "cannot be computed using Bregman divergences)")
    with enable_grad():
        p_params = [t.detach().requires_grad_() for t in p._natural_params]
        log_normalizer = p._log_normalizer(*p_params)
        gradients = grad(log_normalizer.sum(), p_params, create_graph=True)
    q_params = q._natural_params
    result = q._log_normalizer(*q_params) - log_normalizer
    batch = len(result.shape)
    for pp, qp, g in zip(p_params, q_params, gradients):
        term = (qp - pp) * g
        # summed over the parameter's own dims (a batch-shaped parameter is not summed over
        # the batch, where torch sums the event_dim rightmost dims of every parameter)
        if term.ndim > batch:
            term = term.reshape(*term.shape[:batch], -1).sum(-1)
        result = result - term
    return result
