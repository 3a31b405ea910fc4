"""Categorical distribution over {0, ..., K-1}.

From ``probs`` p (non-negative, normalised along the last dim) or ``logits`` l (normalised to
log-probabilities l - logsumexp(l)); the other form is derived lazily:
``logits = log(clamp(p, eps, 1 - eps))``, ``probs = softmax(l)``.

    log_prob(k) = logits[..., k]           entropy = -sum_k p_k max(logits_k, finfo.min)
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, as_param, as_value, broadcast_shape


def _finfo(dtype):
    xp = backend.module_for_device("cpu")
    return xp.finfo(dtype)


class Categorical(Distribution):
    """``Categorical(probs=None, logits=None, validate_args=None)``: the last dim of the
    parameter indexes the K categories, the others are the batch.  Samples are int64."""

    _param_names = ("probs", "logits")
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = as_param(probs, "probs", "Categorical")
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            param = probs
        else:
            logits = as_param(logits, "logits", "Categorical")
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            param = logits
        super().__init__(tuple(param.shape[:-1]), (), validate_args)
        self._num_events = param.shape[-1]
        if probs is not None:
            if self._validate_args:
                raw = probs.array
                xp = backend.get_array_module(raw)
                if not bool(xp.all(raw >= 0)) or not bool(xp.all(raw.sum(-1) > 0)):
                    self._invalid("probs", probs, "Simplex()")
            self.__dict__["probs"] = probs / probs.sum(-1, keepdim=True)
        else:
            if self._validate_args:
                xp = backend.get_array_module(logits.array)
                if bool(xp.isnan(logits.array).any()):
                    self._invalid("logits", logits, "IndependentConstraint(Real(), 1)")
            self.__dict__["logits"] = logits - logits.logsumexp(dim=-1, keepdim=True)

    # the lazily derived parameter (cached, like torch's lazy_property)
    @property
    def probs(self):
        p = self.__dict__.get("probs")
        if p is None:
            p = self.__dict__["probs"] = self.__dict__["logits"].softmax(dim=-1)
        return p

    @property
    def logits(self):
        lg = self.__dict__.get("logits")
        if lg is None:
            p = self.__dict__["probs"]
            eps = float(_finfo(p.dtype).eps)
            lg = self.__dict__["logits"] = p.clamp(min=eps, max=1 - eps).log()
        return lg

    @property
    def param_shape(self):
        return self._batch_shape + (self._num_events,)

    @property
    def mean(self):
        return self._nan()

    @property
    def variance(self):
        return self._nan()

    def _nan(self):
        p = self.probs
        xp = backend.get_array_module(p.array)
        return Tensor.wrap(xp.full(self._batch_shape, xp.nan, dtype=p.dtype))

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    def sample(self, sample_shape=()):
        """int64 draws of shape ``sample_shape + batch_shape`` (inverse-CDF sampling through
        ``Tensor.multinomial``)."""
        shape = self._extended_shape(sample_shape)
        n = 1
        for s in shape[:len(shape) - len(self._batch_shape)]:
            n *= s
        rows = self.probs.detach().reshape(-1, self._num_events)
        if n == 0:
            xp = backend.get_array_module(rows.array)
            return Tensor.wrap(xp.zeros(shape, dtype="int64"))
        draws = rows.multinomial(n, replacement=True)           # (batch, n)
        return draws.transpose(0, 1).reshape(*shape)

    def _check_value(self, value):
        raw = value.array
        xp = backend.get_array_module(raw)
        ok = (raw >= 0) & (raw < self._num_events) & (raw == xp.floor(raw)) \
            if raw.dtype.kind == "f" else (raw >= 0) & (raw < self._num_events)
        if not bool(xp.all(ok)):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(raw.shape)}) to "
                             f"be within the support IntegerInterval(lower_bound=0, "
                             f"upper_bound={self._num_events - 1}) of the distribution "
                             f"{self!r}, but found invalid values")

    def log_prob(self, value):
        """logits[..., value] with value broadcast against the batch shape."""
        value = as_value(value, self.probs if "probs" in self.__dict__ else self.logits)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            self._check_value(value)
        shape = broadcast_shape(tuple(value.shape), self._batch_shape)
        index = value.long().expand(*shape).unsqueeze(-1)
        log_pmf = self.logits.expand(*shape, self._num_events)
        return log_pmf.gather(-1, index).squeeze(-1)

    def entropy(self):
        """-sum_k p_k log p_k (log p clamped at the dtype's lowest value, so 0 log 0 = 0)."""
        logits = self.logits
        low = float(_finfo(logits.dtype).min)
        return -(logits.clamp(min=low) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        """The K values (K, 1, ..., 1), expanded to (K, *batch_shape) unless ``expand=False``."""
        xp = backend.get_array_module(self.probs.array)
        values = xp.arange(self._num_events, dtype="int64").reshape(
            (-1,) + (1,) * len(self._batch_shape))
        t = Tensor.wrap(values)
        return t.expand(self._num_events, *self._batch_shape) if expand else t
