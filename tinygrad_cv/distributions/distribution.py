"""The ``Distribution`` base class: shapes, argument validation and the sampling contract.

A distribution has a ``batch_shape`` (independent distributions with their own parameters)
and an ``event_shape`` (the shape of one draw; () for the scalar distributions here).
``sample(sample_shape)`` returns ``sample_shape + batch_shape + event_shape`` draws.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor


def _shape_of(sample_shape):
    if isinstance(sample_shape, numbers.Integral) and not isinstance(sample_shape, bool):
        return (int(sample_shape),)
    try:
        return tuple(int(s) for s in sample_shape)
    except TypeError:
        raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}") from None


def as_param(value, name, dist):
    """``value`` (Tensor, number or array) as a floating Tensor (numbers become float32, the
    default dtype, as torch)."""
    if isinstance(value, Tensor):
        if not backend.is_floating(value.dtype):
            return value.float()
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return Tensor(float(value), dtype="float32")
    try:
        t = Tensor(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{dist}: {name} must be a Tensor or a number, got "
                        f"{type(value).__name__}") from err
    return t if backend.is_floating(t.dtype) else t.float()


def as_value(value, like):
    """A log_prob argument as a Tensor on ``like``'s device (a number takes ``like``'s dtype)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return Tensor(backend.as_array(value, dtype=like.dtype, device=like.device))
    return Tensor(backend.as_array(value, device=like.device))


def broadcast_shape(*shapes):
    return tuple(backend.broadcast_shapes(*shapes))


def broadcast_params(dist, **params):
    """The named parameters (numbers or tensors) as floating Tensors of one dtype (a number
    takes the tensors' dtype), expanded to their broadcast shape; returns (dict, shape)."""
    numbers_only = all(isinstance(v, numbers.Number) for v in params.values())
    tensors = {k: as_param(v, k, dist) for k, v in params.items()}
    if not numbers_only:
        dtype = next(t.dtype for k, t in tensors.items() if not isinstance(params[k],
                                                                            numbers.Number))
        tensors = {k: (t.to(dtype) if isinstance(params[k], numbers.Number) else t)
                   for k, t in tensors.items()}
    shape = broadcast_shape(*[tuple(t.shape) for t in tensors.values()])
    return {k: (t.expand(*shape) if tuple(t.shape) != shape else t)
            for k, t in tensors.items()}, shape


class Distribution:
    """Base class.  Subclasses set ``batch_shape``/``event_shape`` and implement ``sample``
    (and ``rsample`` when reparameterisable), ``log_prob``, ``entropy``, ``mean``,
    ``variance`` (and ``mode``, ``cdf``, ``icdf`` where they have them); what a family lacks
    raises ``NotImplementedError``, as torch."""

    has_rsample = False
    _validate_default = True
    arg_constraints = {}        # parameter name -> constraints.Constraint (torch's)
    support = None              # the constraint every value lies in (set by each family)

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off by default (on, as torch)."""
        if value not in (True, False):
            raise ValueError(f"validate_args must be True or False, got {value!r}")
        Distribution._validate_default = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        self._validate_args = (Distribution._validate_default if validate_args is None
                               else bool(validate_args))
        if self._validate_args:
            self._validate_params()

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return _shape_of(sample_shape) + self._batch_shape + self._event_shape

    def _invalid(self, name, t, constraint):
        raise ValueError(f"Expected parameter {name} (Tensor of shape {tuple(t.shape)}) of "
                         f"distribution {self!r} to satisfy the constraint {constraint}, but "
                         "found invalid values")

    def _require_support(self, value, ok, constraint):
        """Raise torch's error unless the raw boolean array ``ok`` holds everywhere."""
        if not bool(backend.get_array_module(ok).all(ok)):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(value.shape)}) "
                             f"to be within the support {constraint} of the distribution "
                             f"{self!r}, but found invalid values")

    def _validate_params(self):
        """Raise torch's error for the first parameter outside its ``arg_constraints`` entry
        (run by ``__init__`` under validation).  Checked: parameters set on the instance and
        those of ``_param_names`` reachable as properties; dependent constraints and
        parameters not available yet (a family that sets them after ``__init__`` checks
        them itself) are skipped."""
        from .constraints import is_dependent
        for name, constraint in self.arg_constraints.items():
            if is_dependent(constraint):
                continue
            t = self.__dict__.get(name)
            if t is None and name in getattr(self, "_param_names", ()):
                try:
                    t = getattr(self, name)
                except (AttributeError, KeyError):
                    t = None
            if isinstance(t, Tensor) and not bool(constraint.check(t).array.all()):
                self._invalid(name, t, constraint)

    def _validate_sample(self, value):
        """torch's checks of a log_prob/cdf argument: a Tensor whose rightmost dims are the
        event shape, broadcastable with batch_shape + event_shape, inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        start = len(shape) - len(self._event_shape)
        if shape[start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {shape} vs "
                             f"{self._event_shape}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{shape} vs {expected}.")
        support = self.support
        if support is None:
            return
        self._require_support(value, support.check(value).array, repr(support))

    def sample(self, sample_shape=()):
        """Draws (no gradient): ``rsample`` under no_grad for reparameterisable ones."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler "
                                  "(rsample); use sample()")

    def expand(self, batch_shape, _instance=None):
        """The same distribution repeated over a larger ``batch_shape`` (its parameters
        expanded, no copies; torch's ``expand``)."""
        batch_shape = _shape_of(batch_shape)
        try:
            broadcast_shape(batch_shape, self._batch_shape)
        except ValueError:
            raise RuntimeError(f"expand: the batch shape {self._batch_shape} cannot be "
                               f"expanded to {batch_shape}") from None
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name in getattr(self, "_param_names", ()):
            t = self.__dict__.get(name)
            if isinstance(t, Tensor):
                tail = tuple(t.shape[len(self._batch_shape):])
                new.__dict__[name] = t.expand(*batch_shape, *tail)
        new._batch_shape = tuple(batch_shape)
        return new

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    def sample_n(self, n):
        """``sample((n,))`` (deprecated in torch, kept for old scripts)."""
        return self.sample((n,))

    @property
    def stddev(self):
        return self.variance.sqrt()

    def perplexity(self):
        return self.entropy().exp()

    def __repr__(self):
        args = []
        for name in getattr(self, "_param_names", ()):
            t = self.__dict__.get(name)
            if t is not None:
                args.append(f"{name}: {t.item() if t.numel() == 1 else tuple(t.shape)}")
        return f"{type(self).__name__}({', '.join(args)})"


__all__ = ["Distribution"]


class CategoricalBacked:
    """A family parameterised by an inner ``Categorical`` (``self._categorical``): its probs,
    logits and ``expand`` (Multinomial, ExpRelaxedCategorical)."""

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    def expand(self, batch_shape, _instance=None):
        batch_shape = _shape_of(batch_shape)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._categorical = self._categorical.expand(batch_shape)
        new._batch_shape = batch_shape
        return new


class RelaxedParameters:
    """temperature, probs and logits read off ``base_dist`` (the relaxed families built on a
    logit-space law)."""

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def probs(self):
        return self.base_dist.probs

    @property
    def logits(self):
        return self.base_dist.logits
