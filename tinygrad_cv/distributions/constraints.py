"""Constraints: the sets a distribution's parameters and values live in (torch.distributions.
constraints' names and semantics).

A constraint ``c`` has ``c.check(value)``: a boolean Tensor shaped like ``value`` less the
constraint's ``event_dim`` rightmost dims (an event is valid when all of it is), ``is_discrete``
(integer-valued sets) and ``event_dim`` (0: scalars, 1: vectors such as the simplex, 2:
matrices).  The sets:

    real                 x == x (not NaN)                     real_vector   independent(real, 1)
    positive             x > 0          nonnegative   x >= 0  greater_than(l) x > l
    greater_than_eq(l)   x >= l         less_than(u)  x < u
    interval(l, u)       l <= x <= u    half_open_interval(l, u)  l <= x < u
    unit_interval        interval(0, 1)
    boolean              x in {0, 1}    one_hot       0/1 entries summing to 1 (event_dim 1)
    integer_interval(l, u), nonnegative_integer, positive_integer   integers in the range
    simplex              x >= 0, |sum x - 1| < 1e-6 (event_dim 1)
    multinomial(n)       x >= 0, sum x <= n (event_dim 1, discrete)
    lower_triangular     tril(X) == X;  lower_cholesky: also diag(X) > 0
    corr_cholesky        lower Cholesky with unit-norm rows (tolerance 10 k eps)
    square, symmetric (|X - X^T| <= 1e-6 + 1e-5 |X^T|), positive_semidefinite (eigenvalues
                         >= 0), positive_definite (a Cholesky factor exists)
    independent(c, n)    c over n more rightmost dims      cat / stack: pieces along a dim
    dependent            a placeholder whose set depends on other parameters (check raises)
"""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Tensor


def _raw(value):
    """The raw array of a Tensor, number or array."""
    if isinstance(value, Tensor):
        return value.array
    return backend.as_array(value)


def _bound(bound):
    return bound.array if isinstance(bound, Tensor) else bound


def _result(ok, value):
    """The boolean array as a Tensor (a numpy bool scalar becomes a 0-d array)."""
    xp = backend.get_array_module(_raw(value))
    return Tensor.wrap(xp.asarray(ok, dtype=bool))


class Constraint:
    """Base class: ``check(value)`` returns a boolean Tensor of the batch shape."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__[1:] + "()"


class _Dependent(Constraint):
    """A placeholder for a set that depends on other parameters (its check raises)."""

    def __init__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self):
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self):
        if self._event_dim is NotImplemented:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        if is_discrete is NotImplemented:
            is_discrete = self._is_discrete
        if event_dim is NotImplemented:
            event_dim = self._event_dim
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, x):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint):
    """Whether ``constraint`` is a ``dependent`` placeholder."""
    return isinstance(constraint, _Dependent)


class _DependentProperty(property, _Dependent):
    """A property whose class-level value is a ``dependent`` placeholder (the support of a
    distribution whose set depends on its parameters)::

        @constraints.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return constraints.interval(self.low, self.high)
    """

    def __init__(self, fn=None, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        property.__init__(self, fn)
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    def __call__(self, fn):
        return _DependentProperty(fn, is_discrete=self._is_discrete, event_dim=self._event_dim)


class _IndependentConstraint(Constraint):
    """``base_constraint`` over ``reinterpreted_batch_ndims`` more rightmost dims."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        if not isinstance(base_constraint, Constraint):
            raise TypeError(f"independent: expected a Constraint, got "
                            f"{type(base_constraint).__name__}")
        n = reinterpreted_batch_ndims
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"independent: reinterpreted_batch_ndims must be an int >= 0, "
                             f"got {n!r}")
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = int(n)

    @property
    def is_discrete(self):
        return self.base_constraint.is_discrete

    @property
    def event_dim(self):
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value):
        result = self.base_constraint.check(value).array
        n = self.reinterpreted_batch_ndims
        if result.ndim < n:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got "
                             f"{_raw(value).ndim}")
        if n:
            result = result.reshape(result.shape[:result.ndim - n] + (-1,)).all(-1)
        return _result(result, value)

    def __repr__(self):
        return (f"{type(self).__name__[1:]}({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        x = _raw(value)
        return _result((x == 0) | (x == 1), value)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value):
        x = _raw(value)
        return _result(((x == 0) | (x == 1)).all(-1) & (x.sum(-1) == 1), value)


def _is_integer(x):
    xp = backend.get_array_module(x)
    if x.dtype.kind != "f":
        return xp.ones(x.shape, dtype=bool)
    return xp.isfinite(x) & (x == xp.floor(x))          # (torch's x % 1 == 0: inf is not)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        x = _raw(value)
        return _result(_is_integer(x) & (_bound(self.lower_bound) <= x)
                       & (x <= _bound(self.upper_bound)), value)

    def __repr__(self):
        return (f"{type(self).__name__[1:]}(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _IntegerLessThan(Constraint):
    is_discrete = True

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        x = _raw(value)
        return _result(_is_integer(x) & (x <= _bound(self.upper_bound)), value)

    def __repr__(self):
        return f"{type(self).__name__[1:]}(upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        x = _raw(value)
        return _result(_is_integer(x) & (x >= _bound(self.lower_bound)), value)

    def __repr__(self):
        return f"{type(self).__name__[1:]}(lower_bound={self.lower_bound})"


class _Real(Constraint):
    def check(self, value):
        x = _raw(value)
        return _result(x == x, value)


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return _result(_bound(self.lower_bound) < _raw(value), value)

    def __repr__(self):
        return f"{type(self).__name__[1:]}(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value):
        return _result(_bound(self.lower_bound) <= _raw(value), value)


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return _result(_raw(value) < _bound(self.upper_bound), value)

    def __repr__(self):
        return f"{type(self).__name__[1:]}(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        x = _raw(value)
        return _result((_bound(self.lower_bound) <= x) & (x <= _bound(self.upper_bound)), value)

    def __repr__(self):
        return (f"{type(self).__name__[1:]}(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _HalfOpenInterval(_Interval):
    def check(self, value):
        x = _raw(value)
        return _result((_bound(self.lower_bound) <= x) & (x < _bound(self.upper_bound)), value)


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value):
        x = _raw(value)
        xp = backend.get_array_module(x)
        return _result((x >= 0).all(-1) & (xp.abs(x.sum(-1) - 1) < 1e-6), value)


class _Multinomial(Constraint):
    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, x):
        raw = _raw(x)
        return _result((raw >= 0).all(-1) & (raw.sum(-1) <= _bound(self.upper_bound)), x)


class _LowerTriangular(Constraint):
    event_dim = 2

    def check(self, value):
        x = _raw(value)
        xp = backend.get_array_module(x)
        return _result((xp.tril(x) == x).reshape(x.shape[:-2] + (-1,)).all(-1), value)


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, value):
        x = _raw(value)
        xp = backend.get_array_module(x)
        tril = (xp.tril(x) == x).reshape(x.shape[:-2] + (-1,)).all(-1)
        diag = (xp.diagonal(x, 0, -2, -1) > 0).all(-1)
        return _result(tril & diag, value)


class _CorrCholesky(Constraint):
    event_dim = 2

    def check(self, value):
        x = _raw(value)
        xp = backend.get_array_module(x)
        tol = float(backend.module_for_device("cpu").finfo(x.dtype).eps) * x.shape[-1] * 10
        row_norm = xp.sqrt((x * x).sum(-1))
        unit = (xp.abs(row_norm - 1.0) <= tol).all(-1)
        return _result(_LowerCholesky().check(value).array & unit, value)


class _Square(Constraint):
    event_dim = 2

    def check(self, value):
        x = _raw(value)
        xp = backend.get_array_module(x)
        return _result(xp.full(x.shape[:-2], x.shape[-2] == x.shape[-1], dtype=bool), value)


class _Symmetric(_Square):
    def check(self, value):
        square = super().check(value)
        if not bool(square.array.all()):
            return square
        x = _raw(value)
        xp = backend.get_array_module(x)
        xt = xp.swapaxes(x, -1, -2)
        close = xp.abs(x - xt) <= 1e-6 + 1e-5 * xp.abs(xt)
        return _result(close.all(-2).all(-1), value)


class _PositiveSemidefinite(_Symmetric):
    def check(self, value):
        sym = super().check(value)
        if not bool(sym.array.all()):
            return sym
        x = _raw(value)
        xp = backend.get_array_module(x)
        return _result((xp.linalg.eigvalsh(x) >= 0).all(-1), value)


class _PositiveDefinite(_Symmetric):
    def check(self, value):
        sym = super().check(value)
        if not bool(sym.array.all()):
            return sym
        x = _raw(value)
        xp = backend.get_array_module(x)
        # a Cholesky factor exists iff the symmetric matrix's eigenvalues are all > 0
        return _result((xp.linalg.eigvalsh(x) > 0).all(-1), value)


def _narrow(x, dim, start, length):
    index = [slice(None)] * x.ndim
    index[dim] = slice(start, start + length)
    return x[tuple(index)]


class _Cat(Constraint):
    """``cseq[i]`` on the i-th piece (of ``lengths[i]``, default 1) along ``dim``."""

    def __init__(self, cseq, dim=0, lengths=None):
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise TypeError("cat: every element of cseq must be a Constraint")
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.cseq):
            raise ValueError(f"cat: {len(self.cseq)} constraints but {len(self.lengths)} "
                             "lengths")
        self.dim = dim

    @property
    def is_discrete(self):
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self):
        return max(c.event_dim for c in self.cseq)

    def check(self, value):
        x = _raw(value)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"cat: dim {self.dim} out of range for a value of {x.ndim} dims")
        xp = backend.get_array_module(x)
        checks, start = [], 0
        for constr, length in zip(self.cseq, self.lengths):
            checks.append(constr.check(Tensor.wrap(_narrow(x, self.dim, start, length))).array)
            start += length
        return _result(xp.concatenate(checks, self.dim), value)


class _Stack(Constraint):
    """``cseq[i]`` on the i-th slice along ``dim``."""

    def __init__(self, cseq, dim=0):
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise TypeError("stack: every element of cseq must be a Constraint")
        self.dim = dim

    @property
    def is_discrete(self):
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self):
        dim = max(c.event_dim for c in self.cseq)
        if self.dim + dim < 0:
            dim += 1
        return dim

    def check(self, value):
        x = _raw(value)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"stack: dim {self.dim} out of range for a value of {x.ndim} dims")
        xp = backend.get_array_module(x)
        pieces = [xp.take(x, i, axis=self.dim) for i in range(x.shape[self.dim])]
        if len(pieces) != len(self.cseq):
            raise ValueError(f"stack: {len(self.cseq)} constraints for {len(pieces)} slices")
        return _result(xp.stack([c.check(Tensor.wrap(p)).array
                                 for c, p in zip(self.cseq, pieces)], self.dim), value)


class MixtureSameFamilyConstraint(Constraint):
    """The component distribution's support, checked with the mixture's batch dim removed."""

    def __init__(self, base_constraint):
        self.base_constraint = base_constraint

    @property
    def is_discrete(self):
        return self.base_constraint.is_discrete

    @property
    def event_dim(self):
        return self.base_constraint.event_dim

    def check(self, value):
        x = _raw(value)
        if x.ndim < self.event_dim:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {x.ndim}")
        xp = backend.get_array_module(x)
        result = self.base_constraint.check(
            Tensor.wrap(xp.expand_dims(x, -1 - self.event_dim))).array
        keep = x.ndim - self.event_dim
        return _result(result.reshape(result.shape[:keep] + (-1,)).all(-1), value)

    def __repr__(self):
        return f"{type(self).__name__}({self.base_constraint!r})"


dependent = _Dependent()
dependent_property = _DependentProperty
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
multinomial = _Multinomial
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
corr_cholesky = _CorrCholesky()
square = _Square()
symmetric = _Symmetric()
positive_semidefinite = _PositiveSemidefinite()
positive_definite = _PositiveDefinite()
cat = _Cat
stack = _Stack

__all__ = ["Constraint", "boolean", "cat", "corr_cholesky", "dependent", "dependent_property",
           "greater_than", "greater_than_eq", "independent", "integer_interval", "interval",
           "half_open_interval", "is_dependent", "less_than", "lower_cholesky",
           "lower_triangular", "MixtureSameFamilyConstraint", "multinomial", "nonnegative",
           "nonnegative_integer", "one_hot", "positive", "positive_semidefinite",
           "positive_definite", "positive_integer", "real", "real_vector", "simplex", "square",
           "stack", "symmetric", "unit_interval"]
