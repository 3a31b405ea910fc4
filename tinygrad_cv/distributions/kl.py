"""KL divergence KL(p || q) = E_p[log p - log q] in closed form for pairs of the same family.

    Normal:      1/2 (s_p^2 / s_q^2 + (m_p - m_q)^2 / s_q^2 - 1 - log(s_p^2 / s_q^2))
    Categorical: sum_k p_k (log p_k - log q_k)      (+inf where q_k = 0 < p_k; 0 where p_k = 0)
    Bernoulli:   p (softplus(-l_q) - softplus(-l_p)) + (1 - p) (softplus(l_q) - softplus(l_p))
                 with the same conventions at p, q in {0, 1}
    Uniform:     log((h_q - l_q) / (h_p - l_p)), +inf unless [l_p, h_p] lies within [l_q, h_q]
"""
from __future__ import annotations

from .. import backend
from ..tensor import where
from .bernoulli import Bernoulli, _softplus
from .categorical import Categorical
from .normal import Normal
from .uniform import Uniform

_KL = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``type_p`` and ``type_q``."""
    def decorate(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return decorate


def kl_divergence(p, q):
    """KL(p || q), shaped like the batch."""
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
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
