"""Probability distributions with torch.distributions' names and semantics.

``Categorical``, ``Normal``, ``Bernoulli`` and ``Uniform``: ``sample`` / ``rsample`` (Normal's
and Uniform's are reparameterised, so gradients flow to their parameters), ``log_prob`` and
``entropy`` (differentiable in the parameters), ``mean``, ``variance``, ``stddev``; draws come
from the seeded generator of the parameters' device (``tinygrad_cv.manual_seed``).
``kl_divergence(p, q)`` has the closed forms for two distributions of the same family.
"""
from .distribution import Distribution  # noqa: F401
from .categorical import Categorical  # noqa: F401
from .normal import Normal  # noqa: F401
from .bernoulli import Bernoulli  # noqa: F401
from .uniform import Uniform  # noqa: F401
from .kl import kl_divergence, register_kl  # noqa: F401

__all__ = ["Distribution", "Categorical", "Normal", "Bernoulli", "Uniform", "kl_divergence",
           "register_kl"]
