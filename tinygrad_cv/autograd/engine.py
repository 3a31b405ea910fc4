"""Reverse-mode execution of the tape, and its two entry points ``grad`` and ``backward``.

``run_backward`` goes through three phases:

1. order: the nodes reachable from the roots, each before the nodes it depends on (an
   iterative depth-first search, so a 10,000-op chain needs no recursion);
2. accumulate: each node's ``backward`` turns the gradients of its outputs into gradients of
   its inputs, summed back to each input's shape (broadcasting) and added to what that input
   (a node's output, or a leaf) has already received;
3. release: unless ``retain_graph``, each node frees its saved arrays and its links to its
   inputs once it has run: the graph holds no cycles, and memory does not grow over steps.

At the end leaf gradients accumulate into ``.grad`` (under a lock: backward passes in several
threads may share leaves), or ``grad()`` returns the gradients of the tensors it is asked for.

With ``create_graph=True`` the gradients are Tensors and every ``backward`` runs with grad mode
on, so the backward pass is itself recorded and can be differentiated again.
"""
from __future__ import annotations

import functools
import itertools
import threading
import weakref

from .. import backend
from ..ops import dual
from ..tensor import Tensor, stack
from . import profiling
from .function import check_finite
from .nodes import accumulators, run_posthooks, run_prehooks
from .saved_hooks import on_graph, unpack_saved
from .versions import bump_version, check_saved_outputs, current_inputs
from .mode import modes


# Serialises the read-modify-write ``leaf.grad = leaf.grad + g`` across threads: backward passes
# may run concurrently (each has its own graph) but share leaves such as a model's parameters.
# Taken once per backward pass, around the final accumulation only.
_accumulate_lock = threading.Lock()


# ---- the entry points ------------------------------------------------------------------------
def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``sum(outputs * grad_outputs)`` with respect to each of ``inputs``.

    ``.grad`` is not touched; with ``create_graph=True`` the result is itself differentiable
    (higher-order gradients, gradient penalties, Hessians).  ``materialize_grads=True`` gives
    zeros (not None) for inputs the outputs do not depend on (it implies ``allow_unused``).
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("grad(): materialize_grads=True requires allow_unused to be True or None")
    allow_unused = bool(allow_unused) or materialize_grads
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if not inputs:
        raise RuntimeError("grad(): inputs must not be empty")
    grad_outputs = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, create_graph, retain_graph,
                             allow_unused, materialize_grads)
    if not all(t.requires_grad for t in inputs):
        raise RuntimeError("grad(): one of the inputs does not require grad")
    root_grads = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("grad(): one of the outputs does not require grad (no graph)")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad(): grad_outputs must be given for the non-scalar output "
                                   f"of shape {tuple(out.shape)}")
            g = _ones_like(out)
        else:
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(f"grad(): grad_outputs has shape {tuple(g.shape)} but its output "
                                   f"has shape {tuple(out.shape)}")
            if isinstance(g, Tensor) and not create_graph:
                g = g.array
        root_grads.append(g)
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, root_grads, retain_graph=retain_graph,
                         create_graph=create_graph, inputs=inputs, allow_unused=allow_unused)
    if materialize_grads:
        grads = tuple(Tensor.wrap(backend.get_array_module(t.array).zeros(t.shape, dtype=t.dtype))
                      if g is None else g for t, g in zip(inputs, grads))
    return grads


def _batched_grad(outputs, inputs, grad_outputs, create_graph, retain_graph, allow_unused,
                  materialize_grads):
    """``is_grads_batched``: the first axis of every grad_output indexes independent vectors;
    each result gains that axis (one backward pass per vector)."""
    sizes = {int(g.shape[0]) for g in grad_outputs if g is not None and len(g.shape) > 0}
    if len(sizes) != 1 or any(g is None or len(g.shape) == 0 for g in grad_outputs):
        raise RuntimeError("grad(is_grads_batched=True): every grad_output must be given, with "
                           "the same leading batch size")
    (size,) = sizes
    keep = create_graph if retain_graph is None else retain_graph
    per_input = [[] for _ in inputs]
    for b in range(size):
        found = grad(outputs, inputs, [g[b] for g in grad_outputs], create_graph=create_graph,
                     retain_graph=True if b < size - 1 else keep, allow_unused=allow_unused,
                     materialize_grads=materialize_grads)
        for k, g in enumerate(found):
            per_input[k].append(g)
    result = []
    for t, gs in zip(inputs, per_input):
        if all(g is None for g in gs):
            result.append(None)
            continue
        xp = backend.get_array_module(t.array)
        gs = [Tensor.wrap(xp.zeros(t.shape, dtype=t.dtype)) if g is None else g for g in gs]
        result.append(_stack(gs, create_graph))
    return tuple(result)


def _stack(tensors, create_graph):
    if create_graph:
        return stack(tensors)
    xp = backend.get_array_module(tensors[0].array)
    return Tensor.wrap(xp.stack([g.array for g in tensors]))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of several outputs into the leaves' ``.grad`` at once.

    ``inputs`` given (a tensor or a sequence): accumulate into the ``.grad`` of those tensors
    only (leaves or not); the other leaves are untouched.
    """
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"backward(): {len(tensors)} tensors but {len(grads)} grad_tensors")
    gs = [_root_grad(k, t, g) for k, (t, g) in enumerate(zip(tensors, grads))]
    retain_graph = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(tensors, gs, retain_graph=retain_graph, create_graph=create_graph)
        return
    inputs = _as_list(inputs)
    if not inputs:
        raise RuntimeError("backward(): inputs must not be empty (pass None for all leaves)")
    if not all(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        raise RuntimeError("backward(): one of the inputs does not require grad")
    for t in inputs:        # a non-leaf input keeps (and accumulates) its .grad from now on
        if t.creator is not None:
            t.retains_grad = True
    found = run_backward(tensors, gs, retain_graph=retain_graph, create_graph=create_graph,
                         inputs=inputs, allow_unused=True)
    found = list(found)
    for k, (t, g) in enumerate(zip(inputs, found)):
        acc = _hooked_accumulator(t) if g is not None and t.creator is None else None
        if acc is not None and acc._node_hooks.pre:
            found[k] = _accumulator_prehooks(acc, g, create_graph)
    with _accumulate_lock:
        for t, g in zip(inputs, found):
            if g is not None and t.creator is None:
                _add_to_grad(t, g, create_graph, shared=True)
    for t, g in zip(inputs, found):
        acc = _hooked_accumulator(t) if g is not None and t.creator is None else None
        if acc is not None and acc._node_hooks.post:
            run_posthooks(acc, (), [g], create_graph)


def _root_grad(k, t, g):
    """The gradient backward() starts ``tensors[k]`` from, checked as torch checks it."""
    if not t.requires_grad:
        raise RuntimeError(f"backward(): element {k} of tensors does not require grad and has "
                           "no graph")
    if g is None:
        if t.numel() != 1:
            raise RuntimeError(f"backward(): grad can be implicitly created only for scalar "
                               f"outputs; element {k} has shape {tuple(t.shape)}")
        return _ones_like(t)
    if not isinstance(g, Tensor) and not backend.is_array(g):
        g = Tensor(g, dtype=t.dtype, device=t.device)
    if tuple(g.shape) != tuple(t.shape):
        raise RuntimeError(f"backward(): grad_tensors[{k}] has shape {tuple(g.shape)} but "
                           f"tensors[{k}] has shape {tuple(t.shape)}")
    return g


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _ones_like(t):
    return backend.get_array_module(t.array).ones(t.shape, dtype=t.dtype)


# ---- the pass --------------------------------------------------------------------------------
_task_ids = itertools.count()


class _Pass:
    """The state of one backward pass: the gradients received so far, per leaf and per node."""

    def __init__(self, create_graph, retain_graph, inputs):
        self.create_graph = create_graph
        self.anomaly = modes.anomaly and modes.anomaly_check_nan
        self.retain_graph = retain_graph
        self.leaf_grads = {}      # id(leaf) -> [leaf, grad]
        self.node_grads = {}      # node -> [grad of each output] (None: none received)
        self.wanted = None if inputs is None else {id(t) for t in inputs}
        self.captured = {}        # id(non-leaf tensor asked for by grad()) -> its grad
        self.root_grad_ids = set()   # id() of the storage of the gradients it started from
        self.graph_nodes = self.graph_leaves = self.reaching = None   # (note_graph)
        self.task_id = next(_task_ids)      # (unique per pass: autograd.graph's hooks)

    def note_graph(self, order, reaching):
        """Keep what ``will_compute_grad`` needs (before the nodes free their inputs)."""
        self.graph_nodes = set(order)
        self.reaching = reaching
        self.graph_leaves = {id(t) for node in order for t in node.inputs
                             if isinstance(t, Tensor) and t.creator is None and t.requires_grad}

    def will_compute_grad(self, tensor) -> bool:
        """Whether this pass computes ``tensor``'s gradient (torch's
        ``_will_engine_execute_node`` of its node): its creator is reached (and, in a pass for
        chosen tensors, is on the way to one of them or is one's creator), or it is a leaf
        reached (and, in such a pass, chosen)."""
        if self.graph_nodes is None:
            raise RuntimeError("will_compute_grad: this backward pass began before a multi-grad "
                               "hook was registered")
        node = tensor.creator
        if node is None:
            return id(tensor) in self.graph_leaves and (
                self.wanted is None or id(tensor) in self.wanted)
        if node not in self.graph_nodes:
            return False
        return self.reaching is None or id(tensor) in self.wanted or any(self.reaching[node])

    def add(self, tensor, g):
        """Add ``g`` to the gradient ``tensor`` has received (a leaf's, or its node's slot)."""
        node = tensor.creator
        if node is None:
            entry = self.leaf_grads.get(id(tensor))
            if entry is None:
                self.leaf_grads[id(tensor)] = [tensor, g]
            else:
                entry[1] = g if entry[1] is None else entry[1] + g
        else:
            slots = self.node_grads.get(node)
            if slots is None:
                slots = self.node_grads[node] = [None] * len(node.outputs)
            k = tensor.out_index
            slots[k] = g if slots[k] is None else slots[k] + g


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Backpropagate ``root_grads`` from ``roots``.

    ``inputs=None``: accumulate into the ``.grad`` of every leaf that requires grad.
    ``inputs`` given: return the gradients of those tensors (leaves untouched).
    """
    state = _Pass(create_graph, retain_graph, inputs)
    for t, g in zip(roots, root_grads):
        g = _as_grad(g, create_graph)
        state.root_grad_ids.add(_storage_id(g))   # (the caller's: a leaf reached gets a copy)
        state.add(t, g)
    order = _topological_order({id(t.creator): t.creator for t in roots
                                if t.creator is not None}.values())
    reaching = None if inputs is None else _inputs_reaching(order, state.wanted)
    if multi_grad_hooks:
        state.note_graph(order, reaching)
    prev_mode, prev_pass = modes.grad_enabled, modes.backward_pass
    modes.backward_pass = state     # (the pass hooks run in: autograd.graph)
    try:
        modes.grad_enabled = create_graph
        try:
            for node in order:
                grads = state.node_grads.pop(node, None)
                if grads is None:
                    continue
                if reaching is None:
                    in_grads = _node_backward(node, grads, state)
                    if in_grads is not None:
                        _accumulate(node, in_grads, state)
                else:
                    _pruned_node_backward(node, grads, state, reaching[node])
                if not retain_graph:
                    _release(node)
        finally:
            modes.grad_enabled = prev_mode
        if inputs is not None:
            return _requested_grads(inputs, state, allow_unused)
        _accumulate_into_leaves(state)
        return None
    finally:
        modes.backward_pass = prev_pass


# how many multi-grad hooks are registered (``graph.register_multi_grad_hook``): while any
# is, each pass notes which nodes and leaves it will reach (``_Pass.will_compute_grad``)
multi_grad_hooks = 0


# ---- phase 1: order --------------------------------------------------------------------------
def _topological_order(root_nodes):
    """Nodes reachable from ``root_nodes``, each before every node it depends on."""
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
        if node.saved:      # outputs changed in place? (now: a later release may free them)
            for ref in node.outputs:
                t = ref()
                if t is not None and t._vbox is not None:
                    check_saved_outputs(node)
                    break
        for t in node.inputs:
            if isinstance(t, Tensor):
                if t._vbox is not None:     # changed in place since recorded? (rare)
                    _push_creators(current_inputs(node), visited, stack)
                    break
                c = t.creator
                if c is not None and c not in visited:
                    stack.append((c, False))
    post.reverse()
    return post


def _push_creators(inputs, visited, stack):
    """Push the unvisited creators of ``inputs`` (checked and resolved by ``current_inputs``:
    a rebased input's place on the graph at record time)."""
    for t in inputs:
        if isinstance(t, Tensor):
            c = t.creator
            if c is not None and c not in visited:
                stack.append((c, False))


def _inputs_reaching(order, wanted):
    """A pass for chosen tensors (``grad(outputs, inputs)``, ``backward(inputs=...)``) computes
    only what reaches them, as torch's engine does: per node of ``order``, a flag per input
    that is True when the input is wanted or its creator has such an input (nodes visited from
    the leaves up, each after the creators of its inputs).  A node whose backward reaches
    tensors that are not its inputs (``reaches_beyond_inputs``) runs whole."""
    reaching = {}
    for node in reversed(order):
        if getattr(node, "reaches_beyond_inputs", False):  # (a reentrant checkpoint: whole)
            reaching[node] = tuple(isinstance(t, Tensor) for t in node.inputs)
            continue
        flags = []
        for t in node.inputs:
            creator = getattr(t, "creator", None)
            flags.append(isinstance(t, Tensor) and (
                id(t) in wanted or (creator is not None and any(reaching.get(creator, ())))))
        reaching[node] = tuple(flags)
    return reaching


def _pruned_node_backward(node, grads, state, reaching):
    """One node of a pass for chosen tensors: the outputs' gradients observed (captured for
    ``grad``), then the backward asked only for the inputs in ``reaching`` (so a convolution
    asked for dL/dx alone skips its weight gradient, as torch's does).  A user-defined
    ``autograd.Function`` keeps the ``needs_input_grad`` of its forward (torch's contract);
    only the gradients it returns for inputs off the path are dropped."""
    if not any(reaching):        # off the path: only a wanted output is observed (captured)
        for i, ref in enumerate(node.outputs):
            t = ref()
            if t is not None and grads[i] is not None and id(t) in state.wanted \
                    and t.creator is node:
                _observe(t, grads[i], state)
        return
    needs = node.needs_input_grad
    if node.prunes_needs_input_grad:
        node.needs_input_grad = tuple(need and reach for need, reach in zip(needs, reaching))
    try:
        in_grads = _node_backward(node, grads, state)
        if in_grads is not None:
            _accumulate(node, tuple(g if reach else None for g, reach in zip(in_grads, reaching)),
                        state)
    finally:
        node.needs_input_grad = needs


# True while a profiler records (``profiling.start``/``stop`` set it)
profiler_on = False


# ---- phase 2: accumulate ---------------------------------------------------------------------
def _observe_outputs(node, grads, state):
    """Hooks, retained and captured gradients of ``node``'s outputs, whose gradients ``grads``
    are complete when the node is reached (a hook's result replaces its entry)."""
    for i, ref in enumerate(node.outputs):
        t = ref()
        if t is not None and grads[i] is not None and (
                t.hooks or t.retains_grad or state.wanted is not None) \
                and t.creator is node:       # (not a tensor rebased by an in-place op since)
            grads[i] = _observe(t, grads[i], state)


def _node_backward(node, grads, state, timed=False):
    """The gradients of ``node``'s inputs from those of its outputs (None: nothing to send).
    While a profiler records, ``profiling.timed_backward`` times it (and calls it with
    ``timed=True``)."""
    if profiler_on and not timed:
        return profiling.timed_backward(node, grads, state)
    create_graph = state.create_graph
    if create_graph and not node.higher_order:
        raise RuntimeError(
            f"{type(node).__name__} has a first-order backward only; it cannot be "
            "differentiated twice (create_graph=True)")
    _observe_outputs(node, grads, state)      # the outputs' grads are complete
    hooks = node._node_hooks        # (autograd.graph's node hooks, packed saved values: rare)
    if hooks is not None:
        if hooks.pre:
            run_prehooks(node, grads, create_graph)
        grads_seen = tuple(grads)       # (the post-hooks see None, not zero-filled gradients)
    if len(grads) > 1 and any(g is None for g in grads):      # (one output: always set)
        if all(g is None for g in grads):
            return None
        if node.materialize_grads:      # (else backward sees None: set_materialize_grads)
            _zero_fill(node, grads, create_graph)
    if create_graph or (hooks is not None and node.saved_packed):
        saved_plain = node.saved
        node.saved = _saved_for_backward(node, create_graph)
        try:
            in_grads = type(node).backward(node, *grads)
        finally:
            node.saved = saved_plain
    else:
        in_grads = type(node).backward(node, *grads)
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if len(in_grads) > len(node.inputs) and all(g is None for g in in_grads[len(node.inputs):]):
        in_grads = in_grads[:len(node.inputs)]     # (trailing Nones are allowed, as torch)
    if len(in_grads) != len(node.inputs):
        raise RuntimeError(
            f"{type(node).__name__}.backward returned {len(in_grads)} gradients, "
            f"expected {len(node.inputs)} (one per input)")
    if hooks is not None and hooks.post:
        in_grads = run_posthooks(node, in_grads, grads_seen, create_graph)
    return in_grads


profiling.node_backward = _node_backward     # (what the timed path runs)


def _observe(t, g, state):
    """Run ``t``'s hooks on its complete gradient ``g``, keep it (retain_grad), capture it (grad())."""
    if t.hooks:
        g = _run_hooks(t, g, state.create_graph)
    if t.retains_grad:       # (accumulates over backward passes, like a leaf's .grad;
        _add_to_grad(t, g, state.create_graph, shared=True)   # g flows on to the inputs)
    if state.wanted is not None and id(t) in state.wanted:
        state.captured[id(t)] = g
    return g


def _zero_fill(node, grads, create_graph):
    """Zeros for the outputs of a multi-output node that received no gradient."""
    like = next((t.array for t in node.inputs if isinstance(t, Tensor)), None)
    for i, g in enumerate(grads):
        if g is None:
            shape, dtype = node.out_meta[i]
            grads[i] = dual.zeros(shape, dtype, like=like)
            if create_graph:
                grads[i] = Tensor.wrap(grads[i])


def _accumulate(node, in_grads, state):
    """Add each input's gradient, summed back to its shape and cast to its dtype."""
    for x, g, need in zip(node.inputs, in_grads, node.needs_input_grad):
        if not need or g is None:
            continue
        xd = x.array
        if g.shape != xd.shape:
            g = dual.sum_to(g, xd.shape)
        if g.dtype != xd.dtype:
            g = dual.astype(g, xd.dtype)
        if state.anomaly:
            check_finite(g, f"the gradient computed by {type(node).__name__}.backward")
        state.add(x, g)


# ---- phase 3: release ------------------------------------------------------------------------
def _release(node):
    """Free the node's saved values and its links to its inputs (it cannot run again)."""
    node.saved = ()
    node.inputs = ()
    node.released = True


# ---- the results -----------------------------------------------------------------------------
def _requested_grads(inputs, state, allow_unused):
    """grad(): the gradient of each of ``inputs`` (as Tensors), leaves untouched."""
    result = []
    for t in inputs:
        if t.creator is None:
            entry = state.leaf_grads.get(id(t))
            g = None if entry is None else entry[1]
            if g is not None and t.hooks:
                g = _run_hooks(t, g, state.create_graph)
        else:
            g = state.captured.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                "One of the differentiated tensors does not contribute to the outputs; "
                "pass allow_unused=True to get None for it")
        result.append(None if g is None else (g if isinstance(g, Tensor) else Tensor.wrap(g)))
    return tuple(result)


def _accumulate_into_leaves(state):
    """backward(): add each leaf's gradient to its ``.grad`` (hooks first, outside the lock)."""
    done = []
    for leaf, g in state.leaf_grads.values():
        if not leaf.requires_grad:
            continue
        if leaf.hooks:      # (user code: run outside the lock, it may itself call backward)
            g = _run_hooks(leaf, g, state.create_graph)
        acc = _hooked_accumulator(leaf)
        if acc is not None and acc._node_hooks.pre:
            g = _accumulator_prehooks(acc, g, state.create_graph)
        done.append((leaf, g))
    seen = set(state.root_grad_ids)
    with _accumulate_lock:
        for leaf, g in done:
            # one storage reaching two leaves (or the caller's gradient): each gets its own
            key = _storage_id(g)
            _add_to_grad(leaf, g, state.create_graph, shared=key in seen)
            seen.add(key)
    if _post_accumulate_hooks:
        for leaf, _ in done:
            for hook in tuple(_post_accumulate_hooks.get(id(leaf), ())):
                hook(leaf)
    if accumulators:
        for leaf, g in done:
            acc = _hooked_accumulator(leaf)
            if acc is not None and acc._node_hooks.post:
                run_posthooks(acc, (), [g], state.create_graph)


def _hooked_accumulator(leaf):
    """The leaf's ``AccumulateGrad`` when it has hooks (``autograd.graph``), else None."""
    acc = accumulators.get(id(leaf)) if accumulators else None
    return None if acc is None or acc._node_hooks is None else acc


def _accumulator_prehooks(acc, g, create_graph):
    """The gradient an ``AccumulateGrad``'s pre-hooks leave (they may replace it)."""
    grads = [g]
    run_prehooks(acc, grads, create_graph)
    return grads[0]


# id(leaf) -> its post-accumulate-grad hooks (``register_post_accumulate_hook``); an entry is
# dropped with its tensor (weakref.finalize)
_post_accumulate_hooks = {}


def register_post_accumulate_hook(tensor, hook):
    """Run ``hook(tensor)`` after each backward pass has accumulated ``tensor.grad`` (torch's
    ``register_post_accumulate_grad_hook``); returns a handle with ``remove()``."""
    key = id(tensor)
    hooks = _post_accumulate_hooks.get(key)
    if hooks is None:
        hooks = _post_accumulate_hooks[key] = []
        weakref.finalize(tensor, _post_accumulate_hooks.pop, key, None)
    entry = functools.partial(hook)

    class _Handle:
        def remove(self):
            if entry in hooks:
                hooks.remove(entry)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.remove()

    hooks.append(entry)
    return _Handle()


def _add_to_grad(t, g, create_graph, shared=False):
    """``t.grad += g``, or ``t.grad = g`` the first time: a copy when ``g``'s memory is
    ``shared`` with another holder (another leaf, a retained gradient, the caller's gradient)
    or cannot be written (a broadcast), so that ``.grad`` never aliases anything else and can
    be changed in place (torch: a fresh tensor unless nothing else refers to the gradient).
    ``g``: a Tensor or a raw array; under ``create_graph`` the sum is recorded (higher-order
    gradients), else it is raw."""
    raw = g.array if isinstance(g, Tensor) else g
    fresh = t.grad is None and (shared or not _writeable(raw))
    if create_graph:        # (a view of another tensor is copied too: .grad is no view)
        g = g if isinstance(g, Tensor) else Tensor.wrap(g)
        fresh = fresh or g._view_base is not None
        t.grad = (g.clone() if fresh else g) if t.grad is None else t.grad + g
        return
    grad = t.grad
    if grad is None:
        t.grad = Tensor.wrap(_in_layout_of(t.array, raw, fresh))
    elif _can_add_in_place(grad, raw):      # torch: the same .grad tensor, summed in place
        backend.get_array_module(raw).add(grad.array, raw, out=grad.array)
        bump_version(grad)
    else:
        t.grad = Tensor.wrap(grad.array + raw)


def _can_add_in_place(grad, raw) -> bool:
    """Whether a later gradient ``raw`` may be added into the existing ``.grad`` in place (as
    torch's accumulation does outside ``create_graph``): a plain tensor off the graph whose
    memory can be written, with the shape and dtype of the sum and no memory shared with
    ``raw``."""
    target = grad.array
    return (not grad.requires_grad and grad.creator is None and _writeable(target)
            and target.shape == raw.shape and target.dtype == raw.dtype
            and _storage_id(grad) != _storage_id(raw))


def _in_layout_of(leaf, raw, fresh):
    """``raw`` as a leaf's first ``.grad``: in the leaf's memory layout (torch's gradient
    layout contract: the gradient of a row-major parameter is row-major, of a channels-last
    one channels-last; a transposed gradient, e.g. of ``x @ W.t()``, is copied so that
    ``W.grad.view(-1)`` is a view), else as it is, or a copy when ``fresh``."""
    if raw.shape == leaf.shape and raw.strides != leaf.strides and raw.size > 1:
        out = backend.get_array_module(raw).empty_like(leaf, dtype=raw.dtype)
        if out.strides != raw.strides:
            out[...] = raw
            return out
    return raw.copy(order="K") if fresh else raw


def _writeable(raw) -> bool:
    """Whether ``raw`` can be changed in place as a gradient of its own (not a read-only or
    stride-0 broadcast, as the gradient of a sum is)."""
    return getattr(raw.flags, "writeable", True) and 0 not in raw.strides


def _storage_id(g) -> int:
    """id() of the memory a gradient (array or Tensor) lives in: its base array's, if a view."""
    raw = g.array if isinstance(g, Tensor) else g
    base = getattr(raw, "base", None)
    return id(raw if base is None else base)


# ---- helpers ---------------------------------------------------------------------------------
def _saved_for_backward(node, create_graph):
    """What the node's backward reads as ``node.saved``: the values packed by
    ``saved_tensors_hooks`` unpacked, and under ``create_graph`` Tensors on the graph."""
    if not node.saved_packed:
        return _saved_as_tensors(node)
    values, packed_from = unpack_saved(node)
    return _saved_as_tensors(node, values, packed_from) if create_graph else values


def _saved_as_tensors(node, values=None, packed_from=None):
    """The node's saved values (or ``values``, unpacked from those packed from the arrays
    whose id()s ``packed_from`` lists) with arrays replaced by the Tensors they belong to (an
    unpacked copy of an input or output: on that Tensor's place on the graph)."""
    lookup = {}
    for t in node.inputs:
        if isinstance(t, Tensor):
            lookup[id(t.array)] = t
    dead = {}
    out_ids = node.__dict__.get("out_ids")
    for i, ref in enumerate(node.outputs):
        t = ref()
        if t is not None:
            lookup[id(t.array)] = t
        elif out_ids is not None:
            dead[out_ids[i]] = i
    saved = []
    for k, v in enumerate(node.saved if values is None else values):
        if backend.is_array(v):
            key = id(v) if packed_from is None or packed_from[k] is None else packed_from[k]
            t = lookup.get(key)
            if t is None and key in dead:
                t = _revived_output(node, v, dead[key])
            elif t is not None and t.array is not v:
                t = on_graph(t, v)
            saved.append(Tensor.wrap(v) if t is None else t)
        else:
            saved.append(v)
    return tuple(saved)


def _revived_output(node, array, index):
    """A saved output of a multi-output node whose Tensor was freed (an unused output: U and
    Vh of svdvals' SVD, Q of a QR whose R alone is used): a new Tensor on the node, so that a
    recorded backward still depends on it (else second derivatives lose that dependence)."""
    if array.dtype.kind != "f" or id(array) in (node.non_differentiable or ()):
        return None
    t = Tensor.wrap(array)
    t.requires_grad = True
    t.creator = node
    t.out_index = index
    return t


def _as_grad(g, create_graph):
    """A gradient as the pass carries it: a Tensor with create_graph, else a raw array."""
    if create_graph:
        return g if isinstance(g, Tensor) else Tensor.wrap(g)
    return g.array if isinstance(g, Tensor) else g


def _run_hooks(tensor, g, create_graph):
    for hook in tensor.hooks:
        gt = g if isinstance(g, Tensor) else Tensor.wrap(g)
        out = hook(gt)
        if out is not None:
            if tuple(out.shape) != tuple(gt.shape):
                name = getattr(hook, "__name__", None) or getattr(
                    getattr(hook, "func", None), "__name__", type(hook).__name__)
                raise RuntimeError(f"hook '{name}' has changed the shape of the gradient from "
                                   f"{tuple(gt.shape)} to {tuple(out.shape)}")
            g = _as_grad(out, create_graph)
    return g
