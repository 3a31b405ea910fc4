"""In-place operations with torch's rules, and the version counter that guards them.

Version counter: ``t._version`` counts the in-place changes of ``t``'s storage.  Tensors that
view one storage (``reshape``/``view``, ``transpose``/``permute``, ``expand``, basic indexing,
``detach()``) share one counter, a one-element list in ``t._vbox`` (``None`` until a view is
taken or the tensor is changed in place: version 0, so the forward hot path pays nothing).
``t.data`` is torch's: the same storage, off the graph, with a counter of its own (changes
made through it are invisible to autograd, as in torch).

``x.op_(*args)`` computes ``y = x.op(*args)``, writes y into x's storage and bumps the version.
y must keep x's shape (a broadcast may not grow x) and its dtype must cast to x's by NumPy's
'same_kind' rule (torch: "result type Float can't be cast to the desired output type Long").

* grad mode off (``no_grad``), or nothing involved requires grad: only the storage changes;
* x a leaf that requires grad, grad mode on: RuntimeError, as torch;
* otherwise x is *rebased*: the op is recorded on a stand-in holding x's old value (a copy,
  with x's old place on the graph) and x becomes its output, so ``y = x * 2; y.add_(1)``
  backpropagates 2 into x.  Nodes recorded before that used x keep its old place: x's
  ``_history`` lists (version before the change, old place), and the engine routes their
  gradients there (``current_inputs``).

At backward time the engine checks that no tensor a node saved (an input or an output) was
changed in place after the node was recorded: ``Function.apply`` records the versions of the
inputs whose counter exists (``ctx.versions``); outputs start at version 0 (or, for the op of
an in-place change, the version it left: ``ctx.out_versions``).
"""
from __future__ import annotations

import weakref

from .. import backend
from ..tensor import Tensor, where
from .mode import modes

LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."
LEAF_VIEW_ERROR = ("a view of a leaf Variable that requires grad is being used in an in-place "
                   "operation.")
GRAPH_VIEW_ERROR = (
    "in-place operation on a view of a tensor that is part of the graph is not supported by "
    "tinygrad_cv (torch rewrites the base's history, tinygrad_cv does not); apply it to the "
    "base tensor, or use the out-of-place form")

VIEW_OF_CHANGED_ERROR = (
    "a view of a tensor that was changed in place on the graph afterwards is used in this "
    "backward pass; tinygrad_cv cannot replay the view on the changed tensor (torch does): "
    "take the view after the in-place operation")

_TORCH_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                      "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                      "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def torch_type_name(dtype) -> str:
    """torch's short name of a dtype (Float, Long, ...), as its error messages spell it."""
    return _TORCH_DTYPE_NAMES.get(str(dtype), str(dtype))


# ---- the version counter ---------------------------------------------------------------------
def version_box(t):
    """``t``'s counter, created (at 0) if it has none yet."""
    box = t._vbox
    if box is None:
        box = t._vbox = [0]
    return box


def bump_version(t) -> None:
    box = t._vbox
    if box is None:
        t._vbox = [1]
    else:
        box[0] += 1


def share_version(view, base):
    """``view`` (just made from ``base``) shares base's counter when its array is a view of
    base's storage, and remembers its base; returns ``view``."""
    a, b = view.array, base.array
    if view is not base and a.base is not None and (a.base is b or a.base is b.base):
        view._vbox = version_box(base)
        view._view_base = getattr(base, "_view_base", base)
    return view


def _aliases(saved, array) -> bool:
    """Whether the saved value ``saved`` is ``array`` or a view of the same storage."""
    if saved is array:
        return True
    base = getattr(saved, "base", None)
    return base is not None and base is (array if array.base is None else array.base)


def _saves(node, array) -> bool:
    return any(_aliases(s, array) for s in node.saved if backend.is_array(s))


def _version_error(t, what, current, expected):
    shape = list(t.shape)
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [tinygrad_cv.{torch_type_name(t.dtype)}Tensor {shape}]{what}, is at version "
        f"{current}; expected version {expected} instead. Hint: the in-place operation changed "
        "a value this node saved for backward; use the out-of-place form, or clone() first.")


# ---- the engine's checks (run only for tensors that have a counter) ----------------------------
def current_inputs(node):
    """``node.inputs`` with each rebased input replaced by its place on the graph at record
    time; raises torch's error when a saved input was changed in place since."""
    recorded = node.versions
    inputs = list(node.inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or t._vbox is None:
            continue
        expected = 0 if recorded is None else recorded[i]
        if t._vbox[0] == expected:
            continue
        if _saves(node, t.array):
            raise _version_error(t, "", t._vbox[0], expected)
        if getattr(t, "_history", None) and _views_of(node, t):
            raise RuntimeError(VIEW_OF_CHANGED_ERROR)
        for version, old in getattr(t, "_history", ()):
            if version >= expected:
                inputs[i] = old
                break
    node.inputs = tuple(inputs)
    node.versions = None
    return node.inputs


def _views_of(node, t) -> bool:
    """Whether an output of ``node`` is a view sharing ``t``'s storage (and counter)."""
    return any(r() is not None and r()._vbox is t._vbox for r in node.outputs)


def check_saved_outputs(node) -> None:
    """Raise torch's error when ``node`` saved one of its outputs, changed in place since
    (expected version: 0, or the version an in-place op left it at, ``node.out_versions``)."""
    for index, ref in enumerate(node.outputs):
        t = ref()
        if t is None or t._vbox is None:
            continue
        expected = (node.out_versions or {}).get(index, 0)
        if t._vbox[0] != expected and _saves(node, t.array):
            raise _version_error(t, f", which is output {index} of {type(node).__name__}",
                                 t._vbox[0], expected)


# ---- in-place operations ---------------------------------------------------------------------
def apply_inplace(self, fn, *args, casting="same_kind"):
    """``self`` overwritten by ``fn(self, *args)`` (an out-of-place Tensor computation), with
    torch's rules for the graph (see the module docstring); returns ``self``."""
    if modes.grad_enabled and (self.requires_grad or any(
            isinstance(a, Tensor) and a.requires_grad for a in args)):
        _check_may_rebase(self)
        stand_in = _stand_in(self)
        out = fn(stand_in, *args)
        version = self._version
        write(self, out.array, casting)
        _rebase(self, out, version)
    else:
        write(self, fn(self, *args).array, casting)
    return self


def write(self, value, casting="same_kind") -> None:
    """Copy the array ``value`` into ``self``'s storage (same shape, castable dtype), bump the
    version."""
    arr = self.array
    if value.shape != arr.shape:
        raise RuntimeError(f"output with shape {list(arr.shape)} doesn't match the broadcast "
                           f"shape {list(value.shape)}")
    if value.dtype != arr.dtype and not backend.get_array_module(arr).can_cast(
            value.dtype, arr.dtype, casting):
        raise RuntimeError(f"result type {torch_type_name(value.dtype)} can't be cast to the "
                           f"desired output type {torch_type_name(arr.dtype)}")
    if not arr.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location (or its memory is read-only). Please clone() the tensor "
            "before performing the operation.")
    arr[...] = value
    bump_version(self)


def assign_inplace(self, index, value) -> None:
    """``self[index] = value`` with grad mode on and ``self`` (or ``value``) requiring grad:
    ``self`` is rebased on ``where(mask, value, self)`` (no gradient to the replaced part)."""
    if isinstance(value, Tensor) and value.requires_grad:
        raise RuntimeError(
            "x[index] = value with a value that requires grad is not supported by tinygrad_cv; "
            "build the result with where() or cat(), or assign under no_grad()")
    if self.requires_grad and self.creator is None:
        raise RuntimeError(LEAF_VIEW_ERROR)
    xp = backend.get_array_module(self.array)
    mask = xp.zeros(self.shape, dtype=bool)
    mask[index] = True
    full = xp.zeros_like(self.array)
    full[index] = value.array if isinstance(value, Tensor) else value
    apply_inplace(self, lambda x: where(mask, full, x))


def _check_may_rebase(self) -> None:
    base = getattr(self, "_view_base", None)
    if base is not None:
        if base.requires_grad and base.creator is None:
            raise RuntimeError(LEAF_VIEW_ERROR)
        raise RuntimeError(GRAPH_VIEW_ERROR)
    if self.requires_grad and self.creator is None:
        raise RuntimeError(LEAF_ERROR)


def _stand_in(self):
    """A tensor with ``self``'s place on the graph and a copy of its current value."""
    t = Tensor.wrap(self.array.copy())
    t.requires_grad = self.requires_grad
    t.creator = self.creator
    t.out_index = self.out_index
    return t


def _rebase(self, out, version) -> None:
    """``self`` becomes the output ``out`` of the recorded op; its old place on the graph is
    kept in its history for the nodes recorded before (``version``: its version then)."""
    if self.creator is not None:
        old = Tensor.wrap(self.array)      # (its value is not read: shape and dtype only)
        old.requires_grad, old.creator, old.out_index = True, self.creator, self.out_index
        self._history = list(getattr(self, "_history", ())) + [(version, old)]
    node = out.creator
    self.creator = node
    self.out_index = out.out_index
    self.requires_grad = out.requires_grad
    if node is not None:
        outputs = list(node.outputs)
        outputs[out.out_index] = weakref.ref(self)
        node.outputs = type(node.outputs)(outputs)
        # a saved output is now self's storage (same values), guarded by self's version
        node.saved = tuple([self.array if s is out.array else s for s in node.saved])
        node.out_versions = {out.out_index: self._version}
