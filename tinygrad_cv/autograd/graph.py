"""``tinygrad_cv.autograd.graph``: torch's ``torch.autograd.graph`` for code that walks or
instruments the autograd graph.

* ``Node``: the abstract base of graph nodes (``isinstance(t.grad_fn, Node)``); the API
  itself is in ``nodes.py`` (``name()``, ``next_functions``, ``metadata``, ``register_hook``,
  ``register_prehook``);
* ``increment_version(tensor or tensors)``: count an in-place change made behind autograd's
  back (a saved tensor changed so then fails the backward pass, as torch's);
* ``register_multi_grad_hook(tensors, fn, mode="all"|"any")``;
* ``saved_tensors_hooks(pack, unpack)`` and ``disable_saved_tensors_hooks(message)``
  (``saved_hooks.py``).  ``save_on_cpu`` is not provided: a node holds its input Tensors
  until a backward pass frees it, so moving its saved copies to the host would free no device
  memory (see ``saved_hooks.py``).
"""
from __future__ import annotations

import abc
import threading

from ..tensor import Tensor
from . import engine
from .function import Function
from .mode import modes
from .nodes import AccumulateGrad
from .saved_hooks import disable_saved_tensors_hooks, saved_tensors_hooks
from .versions import bump_version

__all__ = ["Node", "increment_version", "register_multi_grad_hook", "saved_tensors_hooks",
           "disable_saved_tensors_hooks"]


class Node(abc.ABC):
    """The abstract base of autograd graph nodes: every ``grad_fn`` (a ``Function``) and every
    ``AccumulateGrad`` is one (registered virtual subclasses)."""

    @abc.abstractmethod
    def name(self) -> str:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def next_functions(self):
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def metadata(self) -> dict:
        raise NotImplementedError

    @abc.abstractmethod
    def register_hook(self, fn):
        raise NotImplementedError

    @abc.abstractmethod
    def register_prehook(self, fn):
        raise NotImplementedError


Node.register(Function)
Node.register(AccumulateGrad)


def increment_version(tensor) -> None:
    """Bump the version counter of ``tensor`` (or of each tensor of an iterable), as an
    in-place change does."""
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        if not isinstance(t, Tensor):
            raise TypeError(f"increment_version: expected Tensors, got {type(t).__name__}")
        bump_version(t)


_count_lock = threading.Lock()     # (engine.multi_grad_hooks is counted from several threads)


def _count_multi_hook(delta):
    with _count_lock:
        engine.multi_grad_hooks += delta


class _MultiHandle:
    """The handle of a multi-grad hook: ``remove()`` removes its hook from every tensor."""

    def __init__(self, handles):
        self.handles = tuple(handles)
        self._live = True

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        if self._live:
            self._live = False
            _count_multi_hook(-1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """``mode="all"``: ``fn(grads)`` once per backward pass, after the gradients of all of
    ``tensors`` that the pass computes are ready (``grads``: one per tensor, None for those it
    does not compute: off the graph, or not on the way to the chosen ``inputs``).
    ``mode="any"``: ``fn(grad)`` with the first of those gradients, once per pass.  The hook
    must not change its arguments.  Returns a handle with ``remove()``."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"register_multi_grad_hook: tensors[{i}] is a "
                            f"{type(t).__name__}, not a Tensor")
        if mode == "all" and not t.requires_grad:
            raise RuntimeError(f"register_multi_grad_hook: tensors[{i}] does not require grad "
                               "(it has no gradient to wait for)")
    lock = threading.Lock()
    if mode == "all":
        pending = {}    # task id of the pass -> [gradients so far, how many are still to come]

        def make_hook(index):
            def hook(grad):
                state = _current_pass()
                with lock:
                    entry = pending.get(state.task_id)
                    if entry is None:
                        expected = sum(state.will_compute_grad(t) for t in tensors)
                        entry = pending[state.task_id] = [[None] * len(tensors), expected]
                    entry[0][index] = grad
                    entry[1] -= 1
                    done = entry[1] <= 0
                    if done:
                        del pending[state.task_id]
                if done:
                    fn(entry[0])
            return hook

        handles = [t.register_hook(make_hook(i)) for i, t in enumerate(tensors)]
    else:
        ran = set()     # task ids of the passes the hook has run in

        def any_hook(grad):
            state = _current_pass()
            with lock:
                first = state.task_id not in ran
                ran.add(state.task_id)
            if first:
                fn(grad)

        handles = [t.register_hook(any_hook) for t in tensors if t.requires_grad]
    _count_multi_hook(1)
    return _MultiHandle(handles)


def _current_pass():
    state = modes.backward_pass
    if state is None:
        raise RuntimeError("a multi-grad hook was called outside a backward pass")
    return state
