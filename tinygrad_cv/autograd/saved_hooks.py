"""Saved-tensor hooks: how the values a node saves for backward are stored (torch's
``autograd.graph.saved_tensors_hooks``).

Inside ``with saved_tensors_hooks(pack, unpack):`` every node recorded (``Function.apply``)
that saves arrays for backward (``save_for_backward``) stores ``pack(t)`` in place of each
saved array, where ``t`` is the Tensor saved: the input or output Tensor itself when the array
is one of those (as torch hands over the saved input or output), else a Tensor around the
intermediate array.  When the node's backward runs, the engine calls ``unpack(packed)``, which
must return a Tensor with the saved content (same shape; a dtype that casts back), and the
backward computes with that: a pair that compresses, quantizes or moves the saved values
really changes what is stored and what the gradients are computed from.  Under
``create_graph=True`` an unpacked input or output keeps its place on the graph (a recorded
identity from the graph's Tensor to the unpacked values), so higher-order gradients still
reach through it.  The innermost ``saved_tensors_hooks`` applies; hooks are thread-local.

Not covered: values a kernel keeps as plain attributes of its node (index arrays of
indexing, shapes) rather than through ``save_for_backward``.  A node holds its input Tensors
(``node.inputs``) until a backward pass frees it, so packing a saved input does not free that
input's memory (torch's nodes hold only their inputs' nodes): ``save_on_cpu``, whose purpose
is to free device memory that way, is therefore not provided.
"""
from __future__ import annotations

import contextlib
import threading

from .. import backend
from ..tensor import Tensor
from . import function
from .function import Function
from .mode import modes
from .nodes import NodeHooks

_users_lock = threading.Lock()


class _Packed:
    """One saved value as ``pack`` returned it, the ``unpack`` to apply, and the id() of the
    array it was packed from (its Tensor's place on the graph under ``create_graph``)."""

    __slots__ = ("packed", "unpack", "array_id")

    def __init__(self, packed, unpack, array_id):
        self.packed = packed
        self.unpack = unpack
        self.array_id = array_id


class saved_tensors_hooks:
    """Context manager: nodes recorded inside store ``pack_hook(t)`` for each saved Tensor
    ``t`` and compute their backward from ``unpack_hook(packed)`` (see the module docstring)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if modes.saved_hooks_disabled is not None:
            raise RuntimeError(modes.saved_hooks_disabled)
        stack = modes.saved_hooks or ()
        modes.saved_hooks = stack + ((self.pack_hook, self.unpack_hook),)
        with _users_lock:
            function.saved_hooks_users += 1
        return None

    def __exit__(self, *exc):
        stack = modes.saved_hooks
        modes.saved_hooks = stack[:-1] or None
        with _users_lock:
            function.saved_hooks_users -= 1
        return False


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Inside, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``; so does
    entering this while saved-tensor hooks are active (as torch)."""
    if modes.saved_hooks is not None:
        raise RuntimeError(error_message)
    previous = modes.saved_hooks_disabled
    modes.saved_hooks_disabled = str(error_message)
    try:
        yield
    finally:
        modes.saved_hooks_disabled = previous


# ---- applied by Function.apply and the engine -----------------------------------------------
def pack_saved(ctx, inputs, outputs) -> None:
    """Replace each array ``ctx`` saved by ``pack`` of its Tensor (the innermost hooks)."""
    pack, unpack = modes.saved_hooks[-1]
    tensor_of = {}
    for t in inputs:
        if isinstance(t, Tensor):
            tensor_of.setdefault(id(t.array), t)
    for t in outputs:
        tensor_of.setdefault(id(t.array), t)
    packed = []
    for v in ctx.saved:
        if backend.is_array(v):
            t = tensor_of.get(id(v))
            packed.append(_Packed(pack(Tensor.wrap(v) if t is None else t), unpack, id(v)))
        else:
            packed.append(v)
    ctx.saved = tuple(packed)
    ctx.saved_packed = True
    if ctx._node_hooks is None:     # (the engine looks for packed values on such nodes only)
        ctx._node_hooks = NodeHooks()


def unpack_saved(node):
    """The node's saved values with each packed one unpacked (as an array), and per value the
    id() of the array it was packed from (None for a value that was not packed)."""
    values = []
    ids = []
    for v in node.saved:
        if type(v) is _Packed:
            t = v.unpack(v.packed)
            if not isinstance(t, Tensor):
                raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but "
                                f"got result of type {type(t).__name__}")
            values.append(t.array)
            ids.append(v.array_id)
        else:
            values.append(v)
            ids.append(None)
    return tuple(values), ids


class Unpacked(Function):
    """Identity from ``original`` (a Tensor on the graph) to ``unpacked`` (its saved values
    after ``unpack``): recorded under ``create_graph``, so the unpacked values keep the
    original's place on the graph."""

    higher_order = True

    @staticmethod
    def forward(ctx, original, unpacked):
        return unpacked

    @staticmethod
    def backward(ctx, g):
        return g, None


def on_graph(original, unpacked_array):
    """``unpacked_array`` with ``original``'s place on the graph (create_graph)."""
    return Unpacked.apply(original, Tensor.wrap(unpacked_array))
