"""``tinygrad_cv.utils.checkpoint``: gradient (activation) checkpointing, torch.utils.checkpoint.

``y = checkpoint(f, x, use_reentrant=False)`` computes ``f(x)`` and keeps only its inputs: the
tensors computed inside ``f`` are not kept for the backward pass.  When the gradient reaches
``y``, ``f`` is run again on the same inputs with grad mode on and the gradient is propagated
through that recomputation.  Memory: O(inputs + outputs) per call instead of every activation
of ``f``; time: one more forward of ``f``.

On the tape the call is one node (``_Checkpoint``) whose outputs are ``f``'s tensor outputs:

* ``use_reentrant=False`` (torch's recommended variant): the node's inputs are the tensor
  arguments (also keyword arguments), the leaves ``f`` reached that require grad (a module's
  parameters) and the tensors of the caller's graph ``f`` used through a closure or an
  attribute, all found once after the forward, whose graph is then dropped.  Its backward
  returns d(outputs)/d(each input) from the recomputation (``autograd.grad``), so ``backward``,
  ``autograd.grad``, hooks and ``create_graph=True`` (gradient penalties) work as without
  checkpointing; an output that did not require grad in ``f`` does not here either.
* ``use_reentrant=True`` (torch's historical default): ``f`` runs under ``no_grad``; the node's
  inputs are the tensor arguments only, so its outputs require grad only when one of them does
  (else a warning, and the parameters get no gradient).  Its backward runs a nested
  ``backward`` through the recomputation, which accumulates into the parameters' ``.grad``, and
  returns the arguments' gradients.

``preserve_rng_state=True``: the global generator of the CPU (and of the GPU when a tensor
argument lives there) is saved before the forward and restored for the recomputation, so
dropout draws the same masks; the surrounding stream continues afterwards as if the
recomputation had drawn nothing.
"""
from __future__ import annotations

import contextlib
import sys
import warnings

from .. import backend
from ..autograd.engine import backward as _engine_backward, grad as _engine_grad
from ..autograd.function import Function
from ..autograd.mode import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "noop_context_fn"]

_DETERMINISM_CHECKS = ("default", "none")


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate tensors for backward.

    ``preserve_rng_state`` (keyword, default True) replays the random draws of the forward in
    the recomputation.  ``use_reentrant`` should be given; None warns (as torch) and means
    True.  ``context_fn``, ``determinism_check``, ``debug`` and keyword arguments for
    ``function`` need ``use_reentrant=False``, as in torch.  ``determinism_check="default"``
    checks that the recomputed outputs have the forward's shapes and dtypes; ``debug`` and
    ``early_stop`` are accepted and change nothing (the recomputation always runs to its end).
    """
    if use_reentrant is None:
        warnings.warn(
            "tinygrad_cv.utils.checkpoint: the use_reentrant parameter should be passed "
            "explicitly. use_reentrant=False is recommended; without it, checkpoint uses "
            "use_reentrant=True (torch's historical default).", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return _checkpoint_reentrant(function, preserve, args)
    if debug and context_fn is not noop_context_fn:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, "
                         f"but got {determinism_check}")
    return _checkpoint_non_reentrant(function, preserve, context_fn,
                                     determinism_check == "default", args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a ``Sequential`` or a list of callables) in order on ``input``,
    checkpointing each of the first ``segments - 1`` chunks of ``len(functions) // segments``
    functions; the last chunk (the rest) runs normally.  ``preserve_rng_state`` as in
    ``checkpoint``; other keyword arguments raise ``ValueError``."""
    if use_reentrant is None:
        warnings.warn(
            "tinygrad_cv.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter "
            "should be passed explicitly. use_reentrant=False is recommended; without it, "
            "use_reentrant=True is used (torch's historical default).", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run_function(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    segment_size = len(functions) // segments
    if segments > 1 and segment_size == 0:
        raise ValueError(f"checkpoint_sequential: {segments} segments of {len(functions)} "
                         "functions leave an empty segment; use at most one segment per function")
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1)(input)


# ---- the node ----------------------------------------------------------------------------------
class _Checkpoint(Function):
    """One checkpointed call on the tape: ``forward`` hands back the arrays ``function``
    already produced (no copy); ``backward`` recomputes ``function`` and differentiates it
    (``ctx.recompute``: the grads of the outputs -> the grads of the node's inputs).

    As the reentrant node it also reaches the parameters ``function`` used, which are not its
    inputs (its nested backward fills their ``.grad``): a pass for chosen tensors runs it
    whole (``reaches_beyond_inputs``)."""

    reaches_beyond_inputs = True

    @staticmethod
    def forward(ctx, *arrays, outputs, recompute, non_differentiable):
        ctx.recompute = recompute
        if non_differentiable:
            ctx.mark_non_differentiable(*non_differentiable)
        return tuple(outputs)

    @staticmethod
    def backward(ctx, *grads):
        return ctx.recompute(grads)


class _CheckpointTwice(_Checkpoint):
    """The non-reentrant node: under ``create_graph`` its backward gets Tensors, recomputes on
    the original inputs and returns gradients recorded on the tape (differentiable again).
    Every tensor it reaches is one of its inputs."""

    higher_order = True
    reaches_beyond_inputs = False


# ---- the two variants ------------------------------------------------------------------------
def _checkpoint_reentrant(function, preserve, args):
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)
    rng = _RngStates(args) if preserve else None
    with no_grad():
        result = function(*args)
    leaves, rebuild = _flatten(result)
    out_index = [i for i, v in enumerate(leaves) if isinstance(v, Tensor)]
    tensor_args = [a for a in args if isinstance(a, Tensor)]

    def recompute(grads):
        stand_ins = _detached(args)
        with _replayed(rng), enable_grad():
            again, _ = _flatten(function(*stand_ins))
        roots, root_grads = [], []
        for k, i in enumerate(out_index):
            t = again[i] if i < len(again) else None
            if isinstance(t, Tensor) and t.requires_grad:
                roots.append(t)
                root_grads.append(grads[k])
        if not roots:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        _engine_backward(roots, [Tensor.wrap(g) for g in root_grads])
        return tuple(s.grad.array if s.grad is not None else None
                     for s in stand_ins if isinstance(s, Tensor))

    return _record(tensor_args, leaves, out_index, rebuild, recompute, ())


def _checkpoint_non_reentrant(function, preserve, context_fn, check_metadata, args, kwargs):
    forward_context, recompute_context = context_fn()
    rng = _RngStates(list(args) + list(kwargs.values())) if preserve else None
    stand_args, stand_kwargs = _detached(args), dict(zip(kwargs, _detached(kwargs.values())))
    with forward_context:
        result = function(*stand_args, **stand_kwargs)
    leaves, rebuild = _flatten(result)
    out_index = [i for i, v in enumerate(leaves) if isinstance(v, Tensor)]
    stand_ins = [s for s in list(stand_args) + list(stand_kwargs.values())
                 if isinstance(s, Tensor)]
    arg_tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor)]
    params, outer = _graph_inputs([leaves[i] for i in out_index], stand_ins)
    differentiable = [leaves[i].requires_grad for i in out_index]
    metadata = [(tuple(leaves[i].shape), leaves[i].dtype) for i in out_index]
    n_args = len(arg_tensors)

    def recompute(grads):
        # create_graph: the gradients are Tensors; recompute on the inputs themselves, so that
        # the gradients returned depend on them on the tape
        higher = any(isinstance(g, Tensor) for g in grads)
        if higher:
            stand_args, stand_kwargs = args, kwargs
        else:
            stand_args = _detached(args)
            stand_kwargs = dict(zip(kwargs, _detached(kwargs.values())))
        stand_ins = [s for s in list(stand_args) + list(stand_kwargs.values())
                     if isinstance(s, Tensor)]
        with _replayed(rng), enable_grad(), recompute_context:
            again, _ = _flatten(function(*stand_args, **stand_kwargs))
        outs = [again[i] if i < len(again) else None for i in out_index]
        if check_metadata:
            _check_metadata(metadata, outs)
        roots, root_grads = [], []
        for t, g in zip(outs, grads):
            if isinstance(t, Tensor) and t.requires_grad and g is not None:
                roots.append(t)
                root_grads.append(g)
        wanted = [s for s in stand_ins if s.requires_grad] + params + outer
        if not roots or not wanted:
            return (None,) * (n_args + len(params) + len(outer))
        with _cut(outer):
            found = iter(_engine_grad(roots, wanted, root_grads, retain_graph=True,
                                      create_graph=higher, allow_unused=True))
        result = [next(found) if s.requires_grad else None for s in stand_ins]
        result += [next(found) for _ in params + outer]
        if higher:
            return tuple(result)
        return tuple(None if g is None else g.array for g in result)

    non_diff = [i for i, d in zip(out_index, differentiable) if not d]
    return _record(arg_tensors + params + outer, leaves, out_index, rebuild, recompute, non_diff,
                   node=_CheckpointTwice)


def _record(inputs, leaves, out_index, rebuild, recompute, non_diff, node=_Checkpoint):
    """Put the tensor outputs of ``leaves`` on the tape as the outputs of one _Checkpoint node
    with ``inputs``, and rebuild the function's result around them."""
    if not out_index:
        return rebuild(leaves)
    arrays = [leaves[i].array for i in out_index]
    outs = node.apply(*inputs, outputs=arrays, recompute=recompute,
                             non_differentiable=[leaves[i].array for i in non_diff])
    leaves = list(leaves)
    for i, t in zip(out_index, outs):
        leaves[i] = t
    return rebuild(leaves)


# ---- helpers ---------------------------------------------------------------------------------
def _detached(values):
    """Each tensor of ``values`` cut from the graph (same data), keeping ``requires_grad``."""
    out = []
    for v in values:
        if isinstance(v, Tensor):
            d = v.detach()
            d.requires_grad = v.requires_grad
            v = d
        out.append(v)
    return tuple(out)


def _graph_inputs(outputs, stand_ins):
    """What ``outputs`` were computed from, besides the ``stand_ins``: the leaf tensors that
    require grad (the parameters ``function`` used), in the order first reached, and the
    tensors of the caller's graph that ``function`` reached by other ways than its arguments
    (a closure's or a module attribute's tensor: ``_outer_tensors``).

    Every node reachable from ``outputs`` is visited (also beyond such an outer tensor: a leaf
    found there gets no gradient from the checkpoint, since the recomputation stops at the
    outer tensor, but the parameters behind a tensor wrongly taken for an outer one are still
    found)."""
    stop = {id(s) for s in stand_ins} | {id(t) for t in outputs}
    leaves, seen_leaves, seen_nodes = [], set(), set()
    inner = {}          # id -> non-leaf tensor on the graph (not an output, not a stand-in)
    graph_refs = {}     # id -> how many references the graph itself holds to that tensor
    stack = [t for t in outputs if t.requires_grad]
    while stack:
        t = stack.pop()
        view = t._view_base
        if view is not None and isinstance(view[0], Tensor):
            graph_refs[id(view[0])] = graph_refs.get(id(view[0]), 0) + 1
        node = t.creator
        if node is None:
            if t.requires_grad and id(t) not in seen_leaves and id(t) not in stop:
                seen_leaves.add(id(t))
                leaves.append(t)
            continue
        if node in seen_nodes:
            continue
        seen_nodes.add(node)
        for x in reversed(node.inputs):
            if isinstance(x, Tensor) and x.requires_grad:
                graph_refs[id(x)] = graph_refs.get(id(x), 0) + 1
                if id(x) in stop:
                    continue
                if x.creator is not None:
                    inner[id(x)] = x
                stack.append(x)
    t = x = None     # (no reference of this frame may count in _outer_tensors)
    return leaves, _outer_tensors(inner, graph_refs)


def _outer_tensors(inner, graph_refs):
    """The tensors of ``inner`` referred to from outside the graph (more references than the
    nodes' inputs and views hold): after ``function`` returned, a tensor it computed is held
    by the graph only, so one held elsewhere came from the caller's graph (or was kept by
    ``function``: taking it for an outer tensor only keeps it alive)."""
    return [t for key, t in inner.items()
            if _refcount(t) - _BASE_REFS > graph_refs.get(key, 0)]


def _refcount(t):
    return sys.getrefcount(t)


def _base_refs():
    """The references ``_outer_tensors`` itself holds to each tensor it checks."""
    fresh = Tensor.wrap(backend.module_for_device("cpu").zeros(1))
    inner = {id(fresh): fresh}
    counts = [_refcount(t) for key, t in inner.items()]
    return counts[0] - 1     # (less ``fresh``, this function's own reference)


_BASE_REFS = _base_refs()


@contextlib.contextmanager
def _cut(tensors):
    """Within: ``tensors`` are leaves (no creator, no hooks), so a backward pass through the
    recomputation stops at them (their own nodes are the caller's graph's, run by its pass)."""
    saved = [(t, t.creator, t.hooks) for t in tensors]
    try:
        for t in tensors:
            t.creator = None
            t.hooks = ()
        yield
    finally:
        for t, creator, hooks in saved:
            t.creator = creator
            t.hooks = hooks


def _flatten(result):
    """The leaves of a tensor / tuple / list / dict result, and a function rebuilding it."""
    if isinstance(result, (tuple, list)) and not hasattr(result, "_fields"):
        parts = [_flatten(v) for v in result]
        sizes = [len(p[0]) for p in parts]
        kind = type(result)

        def rebuild(leaves):
            out, at = [], 0
            for (_, sub), n in zip(parts, sizes):
                out.append(sub(leaves[at:at + n]))
                at += n
            return kind(out)
        return [v for p in parts for v in p[0]], rebuild
    if isinstance(result, dict):
        keys = list(result)
        inner_leaves, inner = _flatten([result[k] for k in keys])
        return inner_leaves, lambda leaves: type(result)(zip(keys, inner(leaves)))
    return [result], lambda leaves: leaves[0]


def _check_metadata(expected, outs):
    for k, ((shape, dtype), t) in enumerate(zip(expected, outs)):
        if not isinstance(t, Tensor) or tuple(t.shape) != shape or t.dtype != dtype:
            got = ("not a tensor" if not isinstance(t, Tensor)
                   else f"shape {tuple(t.shape)}, dtype {t.dtype}")
            raise RuntimeError(
                "torch.utils.checkpoint: Recomputed values for the following tensors have "
                f"different metadata than during the forward pass.\noutput {k}: forward had "
                f"shape {shape}, dtype {dtype}; recomputation: {got}")


class _RngStates:
    """The global generators' positions (CPU always, the GPU's when a tensor argument is
    there) at the time of the forward."""

    def __init__(self, values):
        devices = ["cpu"]
        if any(isinstance(v, Tensor) and v.device == "cuda" for v in values):
            devices.append("cuda")
        self.states = {d: _rng_state(d) for d in devices}


def _rng_state(device):
    """A copy of the position of ``device``'s global generator: NumPy's bit-generator state
    (a dict), or for CuPy's cuRAND bit generators a copy of their state array on the GPU."""
    bit_generator = backend.get_rng(device).bit_generator
    on_device = getattr(bit_generator, "_state", None)
    if on_device is not None:
        return ("array", on_device.copy())
    return ("dict", bit_generator.state)


def _set_rng_state(device, saved):
    bit_generator = backend.get_rng(device).bit_generator
    kind, value = saved
    if kind == "array":
        bit_generator._state[...] = value
    else:
        bit_generator.state = value


@contextlib.contextmanager
def _replayed(rng):
    """Within: the generators are where they were at the forward; after: where they were."""
    if rng is None:
        yield
        return
    now = {d: _rng_state(d) for d in rng.states}
    try:
        for d, state in rng.states.items():
            _set_rng_state(d, state)
        yield
    finally:
        for d, state in now.items():
            _set_rng_state(d, state)
