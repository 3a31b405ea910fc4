"""The differentiable-function contract: a ``Function`` is one node of the tape.

A ``Function`` subclass defines two static methods on raw arrays::

    forward(ctx, *arrays, **kw) -> array | tuple of arrays
    backward(ctx, *grads)        -> grad | tuple of grads (one per input, None where unused)

``Fn.apply(*tensors, **kw)`` runs ``forward`` on the tensors' arrays and, when grad mode is on
and some input requires grad, records ``ctx`` as the creator of the outputs (the tape).
Non-Tensor arguments (Python scalars, arrays) are constants.

Built-in primitives set ``higher_order = True``: their ``backward`` only uses operations that
work both on raw arrays (the fast first-order path) and on Tensors (when the engine runs with
``create_graph=True`` it hands them Tensors, so the backward pass itself is recorded).
A Function without it raises a clear error under ``create_graph=True``.
"""
from __future__ import annotations

import weakref

from .. import backend
from ..tensor import Tensor
from . import profiling
from .mode import modes
from .nodes import NodeAPI
from .versions import is_stale_view


# how many ``saved_tensors_hooks`` contexts are open (in any thread; ``saved_hooks.py`` counts
# them): while none is, recording a node does not look for the thread's hooks
saved_hooks_users = 0

# True while a profiler records (``profiling.start``/``stop`` set it): each application is then
# timed by ``profiling.timed_apply``, which runs ``apply`` again (``to_time`` says which call)
profiler_on = False


def check_finite(array, what: str) -> None:
    """Raise RuntimeError (anomaly mode) when ``array`` holds NaN or Inf."""
    if array is None:
        return
    if isinstance(array, Tensor):   # (a numpy array's own .data is a memoryview)
        array = array.array
    if backend.is_floating(array.dtype):
        xp = backend.get_array_module(array)
        if not bool(xp.isfinite(array).all()):
            raise RuntimeError(f"detect_anomaly: {what} contains NaN or Inf")


class ShapeError(RuntimeError, ValueError):
    """Operands of an op have shapes that do not fit together (names the op and the shapes)."""


class Function(NodeAPI):
    """Base class of every differentiable operation; an instance is the node on the tape.

    A recorded node holds ``inputs`` (the Tensors and constants it was applied to),
    ``needs_input_grad`` (one bool per input), ``saved`` (what ``forward`` kept),
    ``outputs`` (weak references to its output Tensors) and, with several outputs, ``out_meta``
    (their (shape, dtype), to zero-fill the gradient of an unused one).  ``released`` is set
    once a backward pass has freed it.  torch's node API (``name()``, ``next_functions``,
    ``metadata``, ``register_hook``, ``register_prehook``) comes from ``nodes.NodeAPI``.
    """

    higher_order = False
    # a pass for chosen tensors narrows ``needs_input_grad`` to the inputs that reach them
    # (``engine._pruned_node_backward``); torch's user-defined Functions keep their forward's
    prunes_needs_input_grad = True
    materialize_grads = True    # zeros for an output without gradient (set_materialize_grads)
    versions = None     # [(input index, its version at record time)] of inputs with a counter
    out_versions = None  # {output index: version} for the op of an in-place change
    saved_packed = False    # ``saved`` holds values packed by saved_tensors_hooks

    __slots__ = ("inputs", "needs_input_grad", "saved", "outputs", "out_meta", "released",
                 "non_differentiable", "__dict__")

    def save_for_backward(self, *values) -> None:
        """Keep arrays (inputs, outputs or others) for ``backward``; read them as ``saved_tensors``."""
        self.saved = values

    @property
    def saved_tensors(self):
        if self.released:
            raise RuntimeError(
                f"{type(self).__name__}: the saved values of this graph were already freed by a "
                "backward pass; call backward(retain_graph=True) to backpropagate twice")
        return self.saved

    def mark_non_differentiable(self, *arrays) -> None:
        self.non_differentiable = {id(a) for a in arrays}

    def set_materialize_grads(self, value: bool) -> None:
        """``False``: ``backward`` receives None (not zeros) for an output that got no gradient."""
        self.materialize_grads = bool(value)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run ``forward`` on the arrays of ``inputs`` and record the node when grads are needed."""
        if profiler_on and profiling.to_time():
            return profiling.timed_apply(cls, inputs, kwargs)
        ctx = cls.__new__(cls)
        ctx.saved = ()
        ctx.released = False
        ctx.non_differentiable = None
        arrays, needs, versions = _unpack(cls, inputs)
        record = modes.grad_enabled and any(needs)
        if record and versions is not None:
            ctx.versions = versions
        ctx.needs_input_grad = needs if record else (False,) * len(needs)
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:
            _reraise_forward_error(cls, arrays, e)
        if not record:
            ctx.saved = ()
        if isinstance(out, tuple):
            results = tuple([_wrap_output(cls, o) for o in out])
            if record:
                for o, r in zip(out, results):
                    if r.array is not o:
                        _resave_scalar(ctx, o, r.array)
                ctx._record(inputs, results)
                if saved_hooks_users and ctx.saved and modes.saved_hooks is not None:
                    _pack_saved(ctx, inputs, results)
            return results
        # One output (every primitive but max/min with indices) is recorded inline: the general
        # _record costs ~0.6 us more per op (bench_overhead forward, 1000 ops: 2.9 vs 3.7 ms).
        result = _wrap_output(cls, out)
        if record:
            if result.array is not out:
                _resave_scalar(ctx, out, result.array)
            ctx.inputs = inputs
            ctx.outputs = (weakref.ref(result),)
            excluded = ctx.non_differentiable or ()
            if result.array.dtype.kind == "f" and id(result.array) not in excluded:
                result.requires_grad = True
                result.creator = ctx
            if saved_hooks_users and ctx.saved and modes.saved_hooks is not None:
                _pack_saved(ctx, inputs, (result,))
        return result

    def _record(self, inputs, results) -> None:
        """Link this node to its inputs; it becomes the creator of its floating outputs."""
        self.inputs = inputs
        self.outputs = [weakref.ref(t) for t in results]
        self.out_meta = [(t.array.shape, t.array.dtype) for t in results]
        self.out_ids = [id(t.array) for t in results]   # (a saved output outliving its Tensor)
        excluded = self.non_differentiable or ()
        for i, t in enumerate(results):
            if t.array.dtype.kind == "f" and id(t.array) not in excluded:
                t.requires_grad = True
                t.creator = self
                t.out_index = i


profiling.kernel_apply = Function.__dict__["apply"].__func__     # (what the timed path runs)


def once_differentiable(fn):
    """torch's decorator for a backward that is not itself differentiable: returns ``fn``,
    marked.  A kernel Function without ``higher_order`` is first order already
    (``create_graph=True`` through it raises); the public ``autograd.Function`` runs a marked
    backward unrecorded under ``create_graph`` (its gradients are constants there, as torch's)."""
    fn._once_differentiable = True
    return fn


def _resave_scalar(ctx, scalar, array):
    """A forward that returned a NumPy scalar (a ufunc of 0-d arrays) and saved it: save the
    0-d array its output Tensor holds instead, so that ``create_graph`` finds the output among
    the saved values (a scalar would be a constant: second derivatives of 0-d exp, tanh, sqrt,
    x / y, ... lost the output's own dependence)."""
    if any(v is scalar for v in ctx.saved):
        ctx.saved = tuple(array if v is scalar else v for v in ctx.saved)


def _wrap_output(cls, array):
    """One output of ``forward`` as a Tensor (NumPy reductions may return scalars)."""
    array = backend.ensure_array(array)
    if modes.anomaly and modes.anomaly_check_nan:
        check_finite(array, f"the output of {cls.__name__} (forward)")
    return Tensor.wrap(array)


def _unpack(cls, inputs):
    """The arrays of ``inputs`` (constants as they are), per input whether it requires grad, and
    [(index, version)] of the inputs that have a version counter (``autograd/inplace.py``;
    None when none has)."""
    arrays = []
    needs = []
    first = None
    versions = None
    for x in inputs:
        if isinstance(x, Tensor):
            data = x.array
            if first is None:
                first, first_at, first_tensor = data, len(arrays), x
            elif type(data) is not type(first) and \
                    backend.device_of(data) != backend.device_of(first):
                if _is_cpu_scalar(cls, x):
                    data = backend.to_device(data, backend.device_of(first))
                elif _is_cpu_scalar(cls, first_tensor):
                    first = arrays[first_at] = backend.to_device(first, backend.device_of(data))
                else:
                    raise RuntimeError(
                        f"{cls.__name__}: expected all tensors on the same device, found "
                        f"{backend.device_of(first)} and {backend.device_of(data)}")
            if x._view_base is not None and modes.grad_enabled and is_stale_view(x):
                _refresh_view(x)
            arrays.append(data)
            needs.append(x.requires_grad)
            if x._vbox is not None:
                if versions is None:
                    versions = []
                versions.append((len(arrays) - 1, x._vbox[0]))
        else:
            arrays.append(x)
            needs.append(False)
    return arrays, tuple(needs), versions


def _is_cpu_scalar(cls, x):
    """torch's exception to one device per op: an elementwise op (``cls.takes_cpu_scalars``)
    takes a 0-d CPU tensor with GPU tensors, as a number (here when it needs no gradient)."""
    return (getattr(cls, "takes_cpu_scalars", False) and x.array.ndim == 0
            and not x.requires_grad and backend.device_of(x.array) == "cpu")


def _pack_saved(ctx, inputs, outputs):
    """The node's saved values through the current ``saved_tensors_hooks`` (imported on this
    rare path: ``saved_hooks`` defines a Function)."""
    from .saved_hooks import pack_saved
    pack_saved(ctx, inputs, outputs)


def _refresh_view(x):
    """``x`` replayed on its base's current place (``inplace.refresh_view``; imported here,
    on the rare path: ``inplace`` imports this module)."""
    from .inplace import refresh_view
    refresh_view(x)


def _reraise_forward_error(cls, arrays, err):
    """NumPy's broadcasting error as a ShapeError naming the op and the shapes (others as they
    are)."""
    if "broadcast" in str(err):
        shapes = " and ".join(str(tuple(a.shape)) for a in arrays if backend.is_array(a))
        raise ShapeError(f"{cls.__name__}: shapes {shapes} cannot be broadcast together") from err
    raise err
