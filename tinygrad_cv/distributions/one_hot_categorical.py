"""``OneHotCategorical(probs=None, logits=None)``: Categorical draws as one-hot vectors over the
last dim (the event); log_prob(v) = sum_k v_k log p_k."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .categorical import Categorical
from . import constraints
from .distribution import Distribution, as_value


class OneHotCategorical(Distribution):
    _param_names = ("probs", "logits")
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args)
        k = self._categorical.param_shape[-1]
        super().__init__(self._categorical.batch_shape, (k,), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._categorical = self._categorical.expand(batch_shape)
        new._batch_shape = tuple(batch_shape)
        return new

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        idx = self._categorical.mode
        return self._one_hot(idx)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def _one_hot(self, idx):
        xp = backend.get_array_module(idx.array)
        k = self._event_shape[0]
        return Tensor.wrap((idx.array[..., None] == xp.arange(k)).astype(self.probs.dtype))

    def sample(self, sample_shape=()):
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value):
        value = as_value(value, self.probs)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            raw = value.array
            self._require_support(value, ((raw == 0) | (raw == 1)).all(-1) & (raw.sum(-1) == 1),
                                  "OneHot()")
        index = value.argmax(-1)
        return self._categorical.log_prob(index)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        k = self._event_shape[0]
        xp = backend.get_array_module(self.probs.array)
        values = Tensor.wrap(xp.eye(k, dtype=self.probs.dtype).reshape(
            (k,) + (1,) * len(self._batch_shape) + (k,)))
        return values.expand(k, *self._batch_shape, k) if expand else values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose ``rsample`` is the straight-through estimator: the one-hot
    draw in the forward pass, the gradient of ``probs`` in the backward pass
    (draw + probs - probs.detach())."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        draws = self.sample(sample_shape)
        probs = self._categorical.probs
        return draws + (probs - probs.detach())
