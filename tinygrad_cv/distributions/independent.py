"""``Independent(base, n)``: the last n batch dims of ``base`` reinterpreted as event dims
(log_prob and entropy summed over them), as torch's."""
from __future__ import annotations

from . import constraints
from .distribution import Distribution


class Independent(Distribution):
    arg_constraints = {}

    @constraints.dependent_property
    def support(self):
        result = self.base_dist.support
        if self.reinterpreted_batch_ndims:
            result = constraints.independent(result, self.reinterpreted_batch_ndims)
        return result

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n = int(reinterpreted_batch_ndims)
        shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        batch_ndim = len(base_distribution.batch_shape)
        if n > batch_ndim:
            raise ValueError(f"Expected reinterpreted_batch_ndims <= len(base_distribution."
                             f"batch_shape), actual {n} vs {batch_ndim}")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        super().__init__(shape[:batch_ndim - n], shape[batch_ndim - n:], validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    def expand(self, batch_shape, _instance=None):
        batch_shape = tuple(batch_shape)
        tail = tuple(self.base_dist.batch_shape)[len(self.base_dist.batch_shape)
                                                   - self.reinterpreted_batch_ndims:]
        return Independent(self.base_dist.expand(batch_shape + tail),
                           self.reinterpreted_batch_ndims, self._validate_args)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def _sum_rightmost(self, t):
        n = self.reinterpreted_batch_ndims
        return t.sum(dim=tuple(range(-n, 0))) if n else t

    def log_prob(self, value):
        return self._sum_rightmost(self.base_dist.log_prob(value))

    def entropy(self):
        return self._sum_rightmost(self.base_dist.entropy())

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
