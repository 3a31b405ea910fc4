"""Log-normal distribution: exp(X) with X ~ N(loc, scale^2), a TransformedDistribution of
Normal(loc, scale) by ExpTransform (as torch builds it).

    rsample = exp(loc + scale eps)                       (reparameterised)
    log_prob(y) = Normal.log_prob(log y) - log y,   entropy = Normal.entropy + loc
    mean = exp(loc + scale^2 / 2),   variance = (exp(scale^2) - 1) exp(2 loc + scale^2)
    cdf(y) = Normal.cdf(log y),      icdf(p) = exp(Normal.icdf(p))
"""
from __future__ import annotations

from . import constraints
from .distribution import _shape_of
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform


class LogNormal(TransformedDistribution):
    """``LogNormal(loc, scale, validate_args=None)``: ``base_dist`` is Normal(loc, scale);
    values must be > 0 (torch's support)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(Normal(loc, scale, validate_args), ExpTransform(), validate_args)

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        return LogNormal(self.loc.expand(*batch_shape), self.scale.expand(*batch_shape),
                         self._validate_args)

    @property
    def mean(self):
        return (self.loc + self.scale ** 2 / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale ** 2).exp()

    @property
    def variance(self):
        s2 = self.scale ** 2
        return s2.expm1() * (2 * self.loc + s2).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc

    def __repr__(self):
        return f"LogNormal(loc: {self._describe(self.loc)}, scale: {self._describe(self.scale)})"

    @staticmethod
    def _describe(t):
        return t.item() if t.numel() == 1 else tuple(t.shape)
