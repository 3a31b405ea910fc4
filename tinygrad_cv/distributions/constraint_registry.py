"""``biject_to(c)`` and ``transform_to(c)``: a transform from unconstrained reals onto the set
of constraint ``c`` (torch's registries).  ``biject_to`` gives bijections (for HMC-like
samplers), ``transform_to`` any map onto the set (for optimising constrained parameters):

    real                      identity_transform
    greater_than(l)(_eq)      Exp then Affine(l, 1) (positive, nonnegative: l = 0)
    less_than(u)              Exp then Affine(u, -1)
    interval(l, u), half_open_interval   Sigmoid then Affine(l, u - l) (Sigmoid alone on [0, 1])
    simplex                   biject_to: StickBreakingTransform; transform_to: SoftmaxTransform
    independent(c, n)         IndependentTransform(that of c, n)
    cat / stack               CatTransform / StackTransform of the pieces' transforms
    corr_cholesky             CorrCholeskyTransform
    lower_cholesky            transform_to only: LowerCholeskyTransform
    positive_definite / positive_semidefinite   transform_to only: PositiveDefiniteTransform

``register(constraint, factory)`` adds a rule (by the constraint's class).
"""
from __future__ import annotations

import numbers

from . import constraints
from . import transforms as T


class ConstraintRegistry:
    """Constraint class -> factory(constraint) returning a Transform."""

    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for ``constraint`` (a Constraint class or instance); usable as
        a decorator when ``factory`` is omitted."""
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not isinstance(constraint, type) or not issubclass(constraint,
                                                              constraints.Constraint):
            raise TypeError(f"Expected constraint to be either a Constraint subclass or "
                            f"instance, but got {constraint}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint):
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__} "
                                      "constraints") from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()

C = constraints


def _real(constraint):
    return T.identity_transform


def _greater_than(constraint):
    return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(constraint.lower_bound, 1)])


def _less_than(constraint):
    return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(constraint.upper_bound, -1)])


def _interval(constraint):
    low, high = constraint.lower_bound, constraint.upper_bound
    if (isinstance(low, numbers.Number) and low == 0 and isinstance(high, numbers.Number)
            and high == 1):
        return T.SigmoidTransform()
    return T.ComposeTransform([T.SigmoidTransform(), T.AffineTransform(low, high - low)])


for _registry in (biject_to, transform_to):
    _registry.register(C._Real, _real)
    _registry.register(C._GreaterThan, _greater_than)
    _registry.register(C._GreaterThanEq, _greater_than)
    _registry.register(C._LessThan, _less_than)
    _registry.register(C._Interval, _interval)
    _registry.register(C._HalfOpenInterval, _interval)
    _registry.register(C._IndependentConstraint,
                       lambda c, r=_registry: T.IndependentTransform(
                           r(c.base_constraint), c.reinterpreted_batch_ndims))
    _registry.register(C._Cat, lambda c, r=_registry: T.CatTransform(
        [r(part) for part in c.cseq], c.dim, c.lengths))
    _registry.register(C._Stack, lambda c, r=_registry: T.StackTransform(
        [r(part) for part in c.cseq], c.dim))


biject_to.register(C._Simplex, lambda c: T.StickBreakingTransform())
transform_to.register(C._Simplex, lambda c: T.SoftmaxTransform())
biject_to.register(C._CorrCholesky, lambda c: T.CorrCholeskyTransform())
transform_to.register(C._CorrCholesky, lambda c: T.CorrCholeskyTransform())
transform_to.register(C._LowerCholesky, lambda c: T.LowerCholeskyTransform())
transform_to.register(C._PositiveDefinite, lambda c: T.PositiveDefiniteTransform())
transform_to.register(C._PositiveSemidefinite, lambda c: T.PositiveDefiniteTransform())

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]
