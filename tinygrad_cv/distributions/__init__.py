"""Probability distributions with torch.distributions' names and semantics.

``Categorical``, ``OneHotCategorical`` (and its ``StraightThrough`` form), ``Bernoulli``,
``Geometric``, ``Binomial``, ``Multinomial``, ``NegativeBinomial``, ``Poisson``, ``Normal``,
``HalfNormal``, ``LogNormal``, ``Uniform``, ``Exponential``, ``Laplace``, ``Cauchy``,
``HalfCauchy``, ``Gumbel``, ``Gamma``, ``InverseGamma``, ``Chi2``, ``Beta``, ``Kumaraswamy``,
``ContinuousBernoulli``, ``StudentT``, ``FisherSnedecor``, ``Weibull``, ``Pareto``,
``GeneralizedPareto``, ``VonMises``, ``Dirichlet``, ``LogisticNormal``, ``RelaxedBernoulli``,
``RelaxedOneHotCategorical``, ``MultivariateNormal``, ``LowRankMultivariateNormal``,
``LKJCholesky``, ``Wishart``, ``MixtureSameFamily``, ``Independent`` and
``TransformedDistribution``: ``sample`` / ``rsample`` (reparameterised where torch's is, the
Gamma-based ones by implicit differentiation, so gradients flow to the parameters),
``log_prob``, ``entropy``, ``cdf``,
``icdf`` (differentiable in the parameters), ``mean``, ``mode``, ``variance``, ``stddev``,
``expand``; draws come from the seeded generator of the parameters' device
(``tinygrad_cv.manual_seed``).  ``arg_constraints`` / ``support`` are ``constraints`` objects
and drive the validation (``validate_args``); ``transforms`` holds the bijections,
``biject_to`` / ``transform_to`` map constraints to them.  ``kl_divergence(p, q)`` has the
closed forms torch registers for these families (the most specific pair wins).
"""
from . import constraints  # noqa: F401
from .distribution import Distribution  # noqa: F401
from .exp_family import ExponentialFamily  # noqa: F401
from .categorical import Categorical  # noqa: F401
from .normal import Normal  # noqa: F401
from .bernoulli import Bernoulli  # noqa: F401
from .uniform import Uniform  # noqa: F401
from .exponential import Exponential  # noqa: F401
from .laplace import Laplace  # noqa: F401
from .log_normal import LogNormal  # noqa: F401
from .gamma import Gamma  # noqa: F401
from .beta import Beta  # noqa: F401
from .poisson import Poisson  # noqa: F401
from .multivariate_normal import MultivariateNormal  # noqa: F401
from .independent import Independent  # noqa: F401
from .one_hot_categorical import (OneHotCategorical,  # noqa: F401
                                  OneHotCategoricalStraightThrough)
from .more_families import (HalfNormal, Cauchy, Gumbel, Geometric, Binomial,  # noqa: F401
                            Chi2, StudentT, Dirichlet)
from .transformed_distribution import TransformedDistribution  # noqa: F401
from .transformed_families import (Weibull, Pareto, HalfCauchy, InverseGamma,  # noqa: F401
                                   Kumaraswamy, LogisticNormal, LogitRelaxedBernoulli,
                                   RelaxedBernoulli, ExpRelaxedCategorical,
                                   RelaxedOneHotCategorical)
from .mixture_same_family import MixtureSameFamily  # noqa: F401
from .count_families import Multinomial, NegativeBinomial  # noqa: F401
from .low_rank_multivariate_normal import LowRankMultivariateNormal  # noqa: F401
from .lkj_cholesky import LKJCholesky  # noqa: F401
from .wishart import Wishart  # noqa: F401
from .bounded_families import (VonMises, ContinuousBernoulli, FisherSnedecor,  # noqa: F401
                               GeneralizedPareto)
from .kl import kl_divergence, register_kl  # noqa: F401
from . import transforms  # noqa: F401
from .transforms import (AbsTransform, AffineTransform, CatTransform,  # noqa: F401
                         ComposeTransform, CorrCholeskyTransform,
                         CumulativeDistributionTransform, ExpTransform,
                         IndependentTransform, LowerCholeskyTransform,
                         PositiveDefiniteTransform, PowerTransform, ReshapeTransform,
                         SigmoidTransform, SoftplusTransform, TanhTransform, SoftmaxTransform,
                         StackTransform, StickBreakingTransform, Transform, identity_transform)
from .constraint_registry import biject_to, transform_to  # noqa: F401

__all__ = ["constraints", "Distribution", "ExponentialFamily", "Categorical",
           "OneHotCategorical", "Normal", "LogNormal",
           "Bernoulli", "Poisson", "Uniform", "Exponential", "Laplace", "Gamma", "Beta",
           "MultivariateNormal", "Independent", "HalfNormal", "Cauchy", "Gumbel", "Geometric",
           "Binomial", "Chi2", "StudentT", "Dirichlet", "kl_divergence", "register_kl",
           "TransformedDistribution", "biject_to", "transform_to", "transforms",
           "Weibull", "Pareto", "HalfCauchy", "InverseGamma", "Kumaraswamy", "LogisticNormal",
           "LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical", "MixtureSameFamily", "Multinomial", "NegativeBinomial",
           "LowRankMultivariateNormal", "LKJCholesky", "Wishart",
           "OneHotCategoricalStraightThrough",
           "VonMises", "ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto",
           "AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform",
           "CorrCholeskyTransform", "CumulativeDistributionTransform", "ExpTransform",
           "IndependentTransform",
           "LowerCholeskyTransform", "PositiveDefiniteTransform", "PowerTransform",
           "ReshapeTransform", "SigmoidTransform", "SoftplusTransform", "TanhTransform",
           "SoftmaxTransform", "StackTransform", "StickBreakingTransform", "Transform",
           "identity_transform"]
