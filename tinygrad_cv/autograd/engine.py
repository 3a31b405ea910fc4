"""Reverse-mode execution of the tape.

``run_backward`` walks the graph from the roots in reverse topological order (an iterative
depth-first search, so a 10,000-op chain needs no recursion), calls each node's ``backward``
and sums gradients back to each input's shape (broadcasting).  Leaf gradients accumulate into
``.grad`` (under a lock: backward passes in several threads may share leaves);
``autograd.grad`` instead returns the gradients of the tensors it is asked for.

With ``create_graph=True`` the gradients are Tensors and every ``backward`` runs with grad mode
on, so the backward pass is itself recorded and can be differentiated again.
After the pass, unless ``retain_graph``, every node frees its saved arrays and its links to
its inputs: the graph holds no cycles, and memory does not grow over training steps.
"""
from __future__ import annotations

import threading

from .. import backend
from . import function as _fn
from .function import _modes, check_finite
from ..ops import dual


# Serialises the read-modify-write ``leaf.grad = leaf.grad + g`` across threads: backward passes
# may run concurrently (each has its own graph) but share leaves such as a model's parameters.
# Taken once per backward pass, around the final accumulation only.
_accumulate_lock = threading.Lock()


def _topological_order(root_nodes):
    """Nodes reachable from ``root_nodes``, each before every node it depends on."""
    Tensor = _fn.Tensor
    post = []
    visited = set()      # of nodes (Function defines no __eq__: they hash by identity)
    stack = [(n, False) for n in root_nodes]
    while stack:
        node, done = stack.pop()
        if done:
            post.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        if node.released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (the {type(node).__name__} "
                "node's saved values were freed after the first backward); call "
                "backward(retain_graph=True) the first time if you need to backpropagate twice")
        stack.append((node, True))
        for t in node.inputs:
            if isinstance(t, Tensor):
                c = t.creator
                if c is not None and c not in visited:
                    stack.append((c, False))
    post.reverse()
    return post


def _saved_as_tensors(node):
    """The node's saved values with arrays replaced by the Tensors they belong to."""
    Tensor = _fn.Tensor
    lookup = {}
    for t in node.inputs:
        if isinstance(t, Tensor):
            lookup[id(t.data)] = t
    for ref in node.outputs:
        t = ref()
        if t is not None:
            lookup[id(t.data)] = t
    saved = []
    for v in node.saved:
        if backend.is_array(v):
            t = lookup.get(id(v))
            saved.append(Tensor._wrap(v) if t is None else t)
        else:
            saved.append(v)
    return tuple(saved)


def _as_grad(g, create_graph):
    Tensor = _fn.Tensor
    if create_graph:
        return g if isinstance(g, Tensor) else Tensor._wrap(g)
    return g.data if isinstance(g, Tensor) else g


def _run_hooks(tensor, g, create_graph):
    Tensor = _fn.Tensor
    for hook in tensor.hooks:
        gt = g if isinstance(g, Tensor) else Tensor._wrap(g)
        out = hook(gt)
        if out is not None:
            g = _as_grad(out, create_graph)
    return g


def _add(a, b):
    return b if a is None else a + b


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Backpropagate ``root_grads`` from ``roots``.

    ``inputs=None``: accumulate into the ``.grad`` of every leaf that requires grad.
    ``inputs`` given: return the gradients of those tensors (leaves untouched).
    """
    Tensor = _fn.Tensor
    leaf_grads = {}      # id(leaf) -> [leaf, grad]
    node_grads = {}      # node -> list of grads per output
    for t, g in zip(roots, root_grads):
        g = _as_grad(g, create_graph)
        if t.creator is None:
            entry = leaf_grads.setdefault(id(t), [t, None])
            entry[1] = _add(entry[1], g)
        else:
            slots = node_grads.setdefault(t.creator, [None] * len(t.creator.out_meta))
            slots[t.out_index] = _add(slots[t.out_index], g)
    order = _topological_order({id(t.creator): t.creator for t in roots
                                if t.creator is not None}.values())
    wanted = None
    captured = {}
    if inputs is not None:
        wanted = {}
        for t in inputs:
            wanted[id(t)] = t

    prev_mode = _modes.grad_enabled
    _modes.grad_enabled = create_graph
    anomaly = _modes.anomaly
    try:
        for node in order:
            grads = node_grads.pop(node, None)
            if grads is None:
                continue
            if create_graph and not node.higher_order:
                raise RuntimeError(
                    f"{type(node).__name__} has a first-order backward only; it cannot be "
                    "differentiated twice (create_graph=True)")
            # hooks / retain_grad / capture on the node's outputs, once their grad is complete
            for i, ref in enumerate(node.outputs):
                if grads[i] is None:
                    continue
                t = ref()
                if t is None:
                    continue
                if t.hooks:
                    grads[i] = _run_hooks(t, grads[i], create_graph)
                if t.retains_grad:
                    g = grads[i]
                    t.grad = g.detach() if isinstance(g, Tensor) and not create_graph else (
                        g if isinstance(g, Tensor) else Tensor._wrap(g))
                if wanted is not None and id(t) in wanted:
                    captured[id(t)] = grads[i]
            if len(grads) > 1 and any(g is None for g in grads):   # (one output: always set)
                if all(g is None for g in grads):
                    continue
                for i, g in enumerate(grads):
                    if g is None:
                        shape, dt = node.out_meta[i]
                        grads[i] = dual.zeros(shape, dt, like=node.inputs and _first_array(node))
                        if create_graph:
                            grads[i] = Tensor._wrap(grads[i])
            if create_graph:
                saved_plain = node.saved
                node.saved = _saved_as_tensors(node)
                try:
                    in_grads = type(node).backward(node, *grads)
                finally:
                    node.saved = saved_plain
            else:
                in_grads = type(node).backward(node, *grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(node.inputs):
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned {len(in_grads)} gradients, "
                    f"expected {len(node.inputs)} (one per input)")
            for x, g, need in zip(node.inputs, in_grads, node.needs_input_grad):
                if not need or g is None:
                    continue
                xd = x.data
                if g.shape != xd.shape:
                    g = dual.sum_to(g, xd.shape)
                if g.dtype != xd.dtype:
                    g = dual.astype(g, xd.dtype)
                if anomaly:
                    check_finite(g, f"the gradient computed by {type(node).__name__}.backward")
                c = x.creator
                if c is None:
                    entry = leaf_grads.get(id(x))
                    if entry is None:
                        leaf_grads[id(x)] = [x, g]
                    else:
                        entry[1] = g if entry[1] is None else entry[1] + g
                else:
                    slots = node_grads.get(c)
                    if slots is None:
                        slots = node_grads[c] = [None] * len(c.out_meta)
                    k = x.out_index
                    slots[k] = g if slots[k] is None else slots[k] + g
            if not retain_graph:
                node.saved = ()
                node.inputs = ()
                node.released = True
    finally:
        _modes.grad_enabled = prev_mode

    if wanted is not None:
        result = []
        for t in inputs:
            if t.creator is None:
                entry = leaf_grads.get(id(t))
                g = None if entry is None else entry[1]
                if g is not None and t.hooks:
                    g = _run_hooks(t, g, create_graph)
            else:
                g = captured.get(id(t))
            if g is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated tensors does not contribute to the outputs; "
                    "pass allow_unused=True to get None for it")
            result.append(None if g is None else (g if isinstance(g, Tensor) else Tensor._wrap(g)))
        return tuple(result)

    done = []
    for leaf, g in leaf_grads.values():
        if not leaf.requires_grad:
            continue
        if leaf.hooks:      # (user code: run outside the lock, it may itself call backward)
            g = _run_hooks(leaf, g, create_graph)
        done.append((leaf, g))
    seen = set()
    with _accumulate_lock:
        for leaf, g in done:
            if create_graph:
                leaf.grad = g if leaf.grad is None else leaf.grad + g
            elif leaf.grad is None:
                if id(g) in seen:
                    g = g.copy()
                seen.add(id(g))
                leaf.grad = Tensor._wrap(g)
            else:
                leaf.grad = Tensor._wrap(leaf.grad.data + g)
    return None


def _first_array(node):
    for t in node.inputs:
        if isinstance(t, _fn.Tensor):
            return t.data
    return None
