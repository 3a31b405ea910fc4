"""torch's node API on the graph: what ``t.grad_fn`` offers to code that walks or instruments
the autograd graph (``autograd.graph.Node`` is its abstract base).

Every ``Function`` (a recorded node) and every ``AccumulateGrad`` (the node that adds a leaf's
gradient into its ``.grad``) has:

* ``name()``: ``"<Function>Backward"`` (``MulBackward``; torch: ``MulBackward0``; a user
  ``autograd.Function`` ``Cube`` gives ``CubeBackward`` as in torch), and torch's
  ``"torch::autograd::AccumulateGrad"`` for an accumulator;
* ``next_functions``: one ``(node, output index)`` per input of the node: the input's creator
  and which of its outputs the input is, ``(AccumulateGrad of the leaf, 0)`` for a leaf that
  requires grad, ``(None, 0)`` for a tensor without grad or a constant (a Python number, an
  array; a user ``autograd.Function`` has entries for its Tensor arguments only, as torch's).
  A leaf's ``AccumulateGrad`` is one object while the leaf lives;
* ``metadata``: a dict of the node's own;
* ``register_prehook(fn)``: ``fn(grad_outputs) -> None | tuple`` before the node's backward
  (a tuple replaces ``grad_outputs``); ``register_hook(fn)``: ``fn(grad_inputs, grad_outputs)
  -> None | tuple`` after it (a tuple replaces ``grad_inputs``, one entry per
  ``next_functions`` entry, None where no gradient flows).  Both return a ``RemovableHandle``.
  Under ``create_graph=True`` the hooks see (and may return) recorded Tensors.

The engine runs the hooks (``run_prehooks``, ``run_posthooks``; an ``AccumulateGrad``'s in
``engine._accumulate_into_leaves``): a node without hooks costs nothing more to record or to
run.  A node freed by a backward pass without ``retain_graph`` has no links any more:
``next_functions`` then raises (torch keeps them).
"""
from __future__ import annotations

import collections
import weakref

from ..ops import dual
from ..tensor import Tensor
from .versions import recorded_inputs

ACCUMULATE_GRAD_NAME = "torch::autograd::AccumulateGrad"     # (torch's, so that checks port)


class NodeHooks:
    """The hooks of one node: ``pre`` and ``post``, id -> hook (the dicts a handle removes
    from)."""

    __slots__ = ("pre", "post")

    def __init__(self):
        self.pre = collections.OrderedDict()
        self.post = collections.OrderedDict()


class NodeAPI:
    """The node API shared by ``Function`` (recorded nodes) and ``AccumulateGrad``."""

    __slots__ = ()
    # a NodeHooks once a hook is registered, or the node's saved values are packed by
    # saved_tensors_hooks: the engine looks at nodes that have one only
    _node_hooks = None
    # torch's custom Functions have an edge per Tensor argument only (no (None, 0) for a
    # number); its built-in nodes keep an edge per argument of the derivative formula
    edges_of_tensors_only = False

    def name(self) -> str:
        return f"{type(self).__name__}Backward"

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"     # (torch's form)

    @property
    def next_functions(self):
        """One ``(node, output index)`` per input (see the module docstring)."""
        if getattr(self, "released", False):
            raise RuntimeError(
                f"{self.name()}: next_functions of a node freed by a backward pass; walk the "
                "graph before backward(), or call backward(retain_graph=True)")
        inputs = recorded_inputs(self)
        if self.edges_of_tensors_only:
            inputs = [x for x in inputs if isinstance(x, Tensor)]
        return tuple(gradient_edge(x) for x in inputs)

    @property
    def metadata(self) -> dict:
        """A dict kept with the node (torch's ``grad_fn.metadata``)."""
        meta = self.__dict__.get("_metadata")
        if meta is None:
            meta = self.__dict__["_metadata"] = {}
        return meta

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` before the node's backward; a tuple it returns replaces
        ``grad_outputs``.  Returns a ``RemovableHandle``."""
        return _register(self, "pre", fn)

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` after the node's backward; a tuple it returns
        replaces ``grad_inputs``.  Returns a ``RemovableHandle``."""
        return _register(self, "post", fn)


def _register(node, kind, fn):
    from ..nn.module import RemovableHandle     # (nn imports the kernel: imported on use)
    if not callable(fn):
        raise TypeError(f"register_{'pre' if kind == 'pre' else ''}hook: the hook must be "
                        f"callable, got {type(fn).__name__}")
    hooks = node._node_hooks
    if hooks is None:
        hooks = node._node_hooks = NodeHooks()
    store = getattr(hooks, kind)
    handle = RemovableHandle(store)
    store[handle.id] = fn
    return handle


class AccumulateGrad(NodeAPI):
    """The node that adds a leaf's gradient into its ``.grad`` (``variable``: the leaf, held
    weakly: the accumulator is kept with the leaf, not the other way round).  No inputs."""

    __slots__ = ("_variable", "__dict__", "__weakref__")
    released = False
    next_functions = ()
    inputs = needs_input_grad = ()      # (its post-hooks get grad_inputs = ())

    def __init__(self, leaf):
        self._variable = weakref.ref(leaf)

    @property
    def variable(self):
        return self._variable()

    def name(self) -> str:
        return ACCUMULATE_GRAD_NAME

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"     # (torch's)


# id(leaf) -> its AccumulateGrad (made when first asked for; dropped with the leaf)
accumulators = {}


def accumulator_of(leaf) -> AccumulateGrad:
    """The leaf's ``AccumulateGrad`` (one object while the leaf lives)."""
    key = id(leaf)
    acc = accumulators.get(key)
    if acc is None:
        new = AccumulateGrad(leaf)
        acc = accumulators.setdefault(key, new)
        if acc is new:
            weakref.finalize(leaf, accumulators.pop, key, None)
    return acc


def gradient_edge(x):
    """``(node, output index)`` that ``x``'s gradient goes to; ``(None, 0)`` without one."""
    if not isinstance(x, Tensor) or not x.requires_grad:
        return (None, 0)
    if x.creator is None:
        return (accumulator_of(x), 0)
    return (x.creator, x.out_index)


# ---- running the hooks (called by the engine for a node that has some) -----------------------
def run_prehooks(node, grads, create_graph) -> None:
    """The node's pre-hooks on ``grads`` (a list, one per output; None: no gradient),
    replaced in place by what a hook returns."""
    for fn in tuple(node._node_hooks.pre.values()):
        out = fn(_as_tensors(grads))
        if out is not None:
            grads[:] = _checked(fn, out, grads, create_graph)


def run_posthooks(node, in_grads, grads, create_graph):
    """The node's post-hooks: ``fn(grad_inputs, grad_outputs)`` where ``grad_inputs`` has one
    entry per input, summed to its shape and cast to its dtype (None for an input that gets
    no gradient); returns the (possibly replaced) gradients of the inputs."""
    in_grads = [_to_input(x, g, need) for x, g, need in
                zip(node.inputs, in_grads, node.needs_input_grad)]
    edges = range(len(in_grads))         # (the entries of next_functions)
    if node.edges_of_tensors_only:
        edges = [i for i, x in enumerate(node.inputs) if isinstance(x, Tensor)]
    seen = [in_grads[i] for i in edges]
    outputs = _as_tensors(grads)
    for fn in tuple(node._node_hooks.post.values()):
        out = fn(_as_tensors(seen), outputs)
        if out is not None:
            seen = _checked(fn, out, seen, create_graph)
    for i, g in zip(edges, seen):
        in_grads[i] = g
    return tuple(in_grads)


def _to_input(x, g, need):
    if not need or g is None:
        return None
    xd = x.array
    if g.shape != xd.shape:
        g = dual.sum_to(g, xd.shape)
    if g.dtype != xd.dtype:
        g = dual.astype(g, xd.dtype)
    return g


def _as_tensors(grads):
    return tuple(g if g is None or isinstance(g, Tensor) else Tensor.wrap(g) for g in grads)


def _checked(fn, out, grads, create_graph):
    """A hook's result as the gradients it replaces (torch's checks: as many values, each a
    Tensor or None of the replaced one's shape)."""
    name = getattr(fn, "__name__", type(fn).__name__)
    if isinstance(out, Tensor) or not isinstance(out, (tuple, list)):
        raise TypeError(f"hook '{name}' must return None or a tuple of Tensors, got "
                        f"{type(out).__name__}")
    if len(out) != len(grads):
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got "
                           f"{len(out)}, but expected {len(grads)})")
    result = []
    for new, old in zip(out, grads):
        if new is not None:
            if not isinstance(new, Tensor):
                raise TypeError(f"hook '{name}' must return Tensors or None, got "
                                f"{type(new).__name__}")
            if old is not None and tuple(new.shape) != tuple(old.shape):
                raise RuntimeError(f"hook '{name}' has changed the size of value (from "
                                   f"{tuple(old.shape)} to {tuple(new.shape)})")
            new = new if create_graph else new.array
        result.append(new)
    return result
