"""torch's legacy ``Variable``: since torch 0.4 a Variable is a Tensor, and ``Variable(t,
requires_grad=...)`` gives a new tensor sharing t's data (cut from t's graph) with that flag.
``isinstance(x, Variable)`` is True for every Tensor, as in torch."""
from __future__ import annotations

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False, volatile=False)`` -> a Tensor."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(bool(requires_grad))
