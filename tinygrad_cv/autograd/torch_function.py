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
``create_graph`` (the gradients it gives are constants there, as torch's).  ``mark_dirty``
(inputs changed in place and returned): the caller's own Tensors come back, rebased onto the
node as the framework's in-place ops rebase (``_dirty_outputs``).
"""
from __future__ import annotations

import functools
import inspect
import threading

from .. import backend
from ..tensor import Tensor
from .function import Function as KernelFunction
from .mode import no_grad
from .versions import bump_version, version_box

_forward_state = threading.local()   # .callers: the Tensors apply got; .dirty: mark_dirty's arrays


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
        callers = [a for a in args if isinstance(a, Tensor)]
        _forward_state.callers = callers
        try:
            outputs = super().apply(*args, **kwargs)
        finally:
            dirty, _forward_state.callers, _forward_state.dirty = \
                getattr(_forward_state, "dirty", None), None, None
        return outputs if dirty is None else _dirty_outputs(outputs, dirty, callers)

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
        """The input Tensors ``forward`` changed in place (they must be returned as outputs):
        the caller's tensors themselves come back, moved onto this node's outputs, as torch's
        (``_dirty_outputs``)."""
        self._dirty = tuple(tensors)

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError


def _user(fn):
    return fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn


def _run_forward(cls, ctx, *arrays, **kwargs):
    """The kernel's forward: the user's on Tensors, with grad mode off."""
    inputs = tuple(_to_tensor(a) for a in arrays)
    for t in inputs:       # the caller's version counters: an in-place change here counts
        if isinstance(t, Tensor):
            for caller in getattr(_forward_state, "callers", None) or ():
                if caller.array is t.array:
                    t._vbox = version_box(caller)
                    break
    forward = _user(cls._user_forward)
    with no_grad():
        if "setup_context" in _defining(cls):
            output = forward(*inputs, **kwargs)
            _user(_defining(cls)["setup_context"])(ctx, inputs, output)
        else:
            output = forward(ctx, *inputs, **kwargs)
    arrays_out = _arrays(output, f"{cls.__name__}.forward")
    dirty = ctx.__dict__.pop("_dirty", None)
    if dirty:
        returned = arrays_out if isinstance(arrays_out, tuple) else (arrays_out,)
        if not all(any(t.array is r for r in returned) for t in dirty):
            raise RuntimeError("Some elements marked as dirty during the forward method were "
                               "not returned as output. The inputs that are modified inplace "
                               "must all be outputs of the Function.")
        _forward_state.dirty = [t.array for t in dirty]
    return arrays_out


def _dirty_outputs(outputs, dirty, callers):
    """``mark_dirty``: each output whose array is a dirty input's is replaced by the caller's
    Tensor itself, rebased onto the node as torch's in-place ops are (``autograd/inplace.py``:
    its old place on the graph stays with the nodes recorded before; a view rebases its base
    through CopySlices), and its version counter moves once more (torch counts the mark).  The
    node's own input becomes that old place.  torch's errors: a leaf that requires grad, or a
    view of one, may not be changed in place on the graph."""
    from .inplace import _check_may_rebase, _rebase, _rebase_view

    single = not isinstance(outputs, tuple)
    results = [outputs] if single else list(outputs)
    for k, out in enumerate(results):
        if not any(out.array is d for d in dirty):
            continue
        caller = next((c for c in callers if c.array is out.array), None)
        if caller is None:
            continue
        node = out.creator
        if node is None:                       # nothing recorded: the values changed, that is all
            bump_version(caller)
            if caller.requires_grad:           # (under no_grad: an alias off the graph, as torch)
                out._vbox = version_box(caller)
            else:
                results[k] = caller
            continue
        try:
            view = _check_may_rebase(caller)
        except RuntimeError as exc:
            if caller._view_base is None:      # (torch's words for a leaf here)
                raise RuntimeError(str(exc).replace("is being used", "has been used")) from None
            raise
        old = Tensor.wrap(caller.array)        # the caller's place before the change
        old.requires_grad, old.creator, old.out_index = \
            caller.requires_grad, caller.creator, caller.out_index
        node.inputs = tuple(old if x is caller else x for x in node.inputs)
        version = caller._version
        bump_version(caller)
        if view is None:
            _rebase(caller, out, version)
        else:
            _rebase_view(caller, out, view, version)
        results[k] = caller
    return results[0] if single else tuple(results)


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

