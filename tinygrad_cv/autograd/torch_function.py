"""``tinygrad_cv.autograd.Function``: torch's custom-function contract on top of the kernel's
(``function.py``, whose ``forward``/``backward`` work on raw arrays).  A subclass that sets
``higher_order = True`` has a backward the engine can record (``create_graph=True``).

A subclass defines, as in torch::

    forward(ctx, *args, **kwargs) -> Tensor | tuple      (Tensors in, grad mode off)
    backward(ctx, *grads)          -> Tensor | None | tuple (one per forward argument)

or torch 2's split form ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``.
``ctx.save_for_backward(*tensors)``/``ctx.saved_tensors``, ``ctx.needs_input_grad``,
``ctx.mark_non_differentiable(*outputs)`` and ``ctx.set_materialize_grads`` are torch's.

How: defining a subclass wraps its ``forward`` and ``backward`` (``__init_subclass__``) into
adapters of the kernel contract -- the arrays the kernel hands over become Tensors (no copy)
before the user's code runs, and the Tensors it returns become arrays again.  Array results
(code written with NumPy on ``.array``) are accepted as they are.  Without ``higher_order``
such a Function is first order (``create_graph=True`` through it raises, as for the kernel's
fused layers); a backward marked ``once_differentiable`` runs unrecorded under
``create_graph`` (the gradients it gives are constants there, as torch's).  ``mark_dirty`` (in-place outputs) is not
supported and raises.
"""
from __future__ import annotations

import functools
import inspect

from .. import backend
from ..tensor import Tensor
from .function import Function as KernelFunction
from .mode import no_grad


def _to_tensor(value):
    return Tensor.wrap(value) if backend.is_array(value) else value


def _to_array(value, what):
    if isinstance(value, Tensor):
        return value.array
    if value is None or backend.is_array(value):
        return value
    if isinstance(value, (int, float, bool)):
        return value
    raise TypeError(f"{what} must return Tensors (or None), got {type(value).__name__}")


def _arrays(result, what):
    if isinstance(result, (tuple, list)):
        return tuple(_to_array(r, what) for r in result)
    return _to_array(result, what)


class Function(KernelFunction):
    """Base class of user-defined differentiable operations with torch's contract (see the
    module docstring)."""

    prunes_needs_input_grad = False     # ctx.needs_input_grad is the forward's, as torch's
    edges_of_tensors_only = True        # next_functions: one per Tensor argument, as torch's

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if forward is not None:
            cls._user_forward = forward
            cls.forward = staticmethod(functools.partial(_run_forward, cls))
        backward = cls.__dict__.get("backward")
        if backward is not None:
            cls._user_backward = backward
            if getattr(_user(backward), "_once_differentiable", False):
                cls.higher_order = True     # (create_graph passes through, unrecorded)
            cls.backward = staticmethod(functools.partial(_run_backward, cls))

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the operation; with ``setup_context`` the arguments are first bound to
        ``forward``'s signature, defaults included (the ``inputs`` it sees, as torch's)."""
        if "setup_context" in _defining(cls) and "_user_forward" in _defining(cls):
            bound = inspect.signature(_user(cls._user_forward)).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        return super().apply(*args, **kwargs)

    def save_for_backward(self, *tensors):
        """Keep tensors for ``backward`` (stored as their arrays, so that under
        ``create_graph`` the engine hands back the graph's own Tensors for them)."""
        self.saved = tuple(t.array if isinstance(t, Tensor) else t for t in tensors)

    @property
    def saved_tensors(self):
        return tuple(_to_tensor(v) for v in KernelFunction.saved_tensors.fget(self))

    def mark_non_differentiable(self, *tensors):
        super().mark_non_differentiable(*[t.array if isinstance(t, Tensor) else t
                                          for t in tensors])

    def mark_dirty(self, *tensors):
        raise NotImplementedError("mark_dirty: in-place outputs of a custom Function are not "
                                  "supported; return a new tensor instead")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError


def _user(fn):
    return fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn


def _run_forward(cls, ctx, *arrays, **kwargs):
    """The kernel's forward: the user's on Tensors, with grad mode off."""
    inputs = tuple(_to_tensor(a) for a in arrays)
    forward = _user(cls._user_forward)
    with no_grad():
        if "setup_context" in _defining(cls):
            output = forward(*inputs, **kwargs)
            _user(_defining(cls)["setup_context"])(ctx, inputs, output)
        else:
            output = forward(ctx, *inputs, **kwargs)
    return _arrays(output, f"{cls.__name__}.forward")


def _run_backward(cls, ctx, *grads):
    """The kernel's backward: the user's on Tensors (None for outputs without gradient when
    ``set_materialize_grads(False)``).  Under ``create_graph`` (a ``higher_order`` Function:
    the engine hands Tensors) it runs recorded and returns Tensors; otherwise with grad mode
    off, its results turned into arrays."""
    backward = _user(cls._user_backward)
    if any(isinstance(g, Tensor) for g in grads):
        if getattr(backward, "_once_differentiable", False):
            with no_grad():
                return _check_shapes(cls, ctx, backward(ctx, *grads))
        return _check_shapes(cls, ctx, backward(ctx, *grads))
    with no_grad():
        result = backward(ctx, *(_grad_tensor(g) for g in grads))
    return _check_shapes(cls, ctx, _arrays(result, f"{cls.__name__}.backward"))


def _grad_tensor(g):
    """An incoming gradient as a Tensor (a NumPy scalar, as a reduction of a 0-d gradient
    gives, becomes a 0-d Tensor: backward always sees Tensors, as torch)."""
    if g is None or isinstance(g, Tensor):
        return g
    return Tensor.wrap(g if backend.is_array(g) else backend.as_array(g))


def _check_shapes(cls, ctx, result):
    """torch's check of the gradients ``backward`` returns: each has its input's shape or one
    the input broadcasts to (then summed back); anything else raises naming the index."""
    grads = result if isinstance(result, tuple) else (result,)
    for i, (x, g) in enumerate(zip(ctx.inputs, grads)):
        if not isinstance(x, Tensor) or g is None or isinstance(g, (int, float, bool)):
            continue
        got, want = tuple(g.shape), tuple(x.shape)
        if got != want and not _broadcasts_to(want, got):
            raise RuntimeError(f"Function {cls.__name__}Backward returned an invalid gradient "
                               f"at index {i} - got {list(got)} but expected shape compatible "
                               f"with {list(want)}")
    return result


def _broadcasts_to(shape, target):
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def _defining(cls):
    """The attributes defined by the user's classes (the MRO below this module's Function)."""
    found = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, Function) and klass is not Function:
            found.update(klass.__dict__)
    return found

