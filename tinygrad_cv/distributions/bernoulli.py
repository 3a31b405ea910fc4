"""Bernoulli distribution over {0, 1}.

From ``probs`` p or ``logits`` l = log(p / (1 - p)) (p = sigmoid(l)); with the stable
softplus(l) = max(l, 0) + log(1 + e^-|l|)::

    log_prob(x) = x l - softplus(l)                 (= -BCE_with_logits(l, x))
    entropy     = softplus(l) - p l                 (= BCE_with_logits(l, p))
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, where
from . import constraints
from .distribution import as_param, as_value
from .exp_family import ExponentialFamily


def _softplus(x):
    """log(1 + e^x), stable both ways and with softplus'(0) = 1/2 (the relu + log1p(e^-|x|)
    form has a zero gradient at exactly 0): x + log1p(e^-x) for x > 0, log1p(e^x) else."""
    positive = x.array > 0
    x_pos = where(positive, x, 0.0)
    x_neg = where(positive, 0.0, x)
    return where(positive, x_pos + (-x_pos).exp().log1p(), x_neg.exp().log1p())


class Bernoulli(ExponentialFamily):
    """``Bernoulli(probs=None, logits=None, validate_args=None)``; samples are floats 0/1 of
    the parameter's dtype, as torch's."""

    _param_names = ("probs", "logits")
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return _softplus(x)

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name = "probs" if probs is not None else "logits"
        param = as_param(probs if probs is not None else logits, name, "Bernoulli")
        super().__init__(tuple(param.shape), (), validate_args)
        if self._validate_args:
            raw = param.array
            xp = backend.get_array_module(raw)
            if name == "probs" and not bool(xp.all((raw >= 0) & (raw <= 1))):
                self._invalid("probs", param, "Interval(lower_bound=0.0, upper_bound=1.0)")
            if name == "logits" and bool(xp.isnan(raw).any()):
                self._invalid("logits", param, "Real()")
        self.__dict__[name] = param

    @property
    def probs(self):
        p = self.__dict__.get("probs")
        if p is None:
            p = self.__dict__["probs"] = self.__dict__["logits"].sigmoid()
        return p

    @property
    def logits(self):
        lg = self.__dict__.get("logits")
        if lg is None:
            p = self.__dict__["probs"]
            eps = float(backend.module_for_device("cpu").finfo(p.dtype).eps)
            pc = p.clamp(min=eps, max=1 - eps)
            lg = self.__dict__["logits"] = pc.log() - (-pc).log1p()
        return lg

    @property
    def param_shape(self):
        return self._batch_shape

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        p = self.probs
        xp = backend.get_array_module(p.array)
        m = (p.array >= 0.5).astype(p.dtype)
        return Tensor.wrap(xp.where(p.array == 0.5, xp.nan, m).astype(p.dtype))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """0/1 draws (the parameter's dtype) of shape ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach().array
        rng = backend.get_rng(self.probs.device)
        u = rng.random(shape, dtype=p.dtype if p.dtype.itemsize >= 4 else "float32")
        xp = backend.get_array_module(p)
        return Tensor.wrap((u < xp.broadcast_to(p, shape)).astype(p.dtype))

    def log_prob(self, value):
        value = as_value(value, self.probs if "probs" in self.__dict__ else self.logits)
        if self._validate_args:
            self._validate_sample(value)
        if self._validate_args:
            raw = value.array
            xp = backend.get_array_module(raw)
            if not bool(xp.all((raw == 0) | (raw == 1))):
                raise ValueError(f"Expected value argument (Tensor of shape "
                                 f"{tuple(raw.shape)}) to be within the support Boolean() of "
                                 f"the distribution {self!r}, but found invalid values")
        logits = self.logits
        if not backend.is_floating(value.dtype):
            value = value.to(logits.dtype)
        return value * logits - _softplus(logits)

    def entropy(self):
        logits = self.logits
        return _softplus(logits) - self.probs * logits

    def enumerate_support(self, expand=True):
        xp = backend.get_array_module(self.probs.array)
        values = Tensor.wrap(xp.arange(2, dtype=self.probs.dtype).reshape(
            (-1,) + (1,) * len(self._batch_shape)))
        return values.expand(2, *self._batch_shape) if expand else values
