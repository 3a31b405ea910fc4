"""Version counters: how many in-place changes a tensor's storage has had, and the checks the
engine makes with them at backward time (torch's rules).

``t._version`` counts the in-place changes of ``t``'s storage.  Tensors that view one storage
(``reshape``/``view``, ``transpose``/``permute``, ``expand``, basic indexing, ``detach()``)
share one counter, a one-element list in ``t._vbox`` (``None`` until a view is taken or the
tensor is changed in place: version 0, so the forward hot path pays nothing).  A view also
keeps ``t._view_base`` = (root base, the steps that make the view from it, the version its
place on the graph is of), which the in-place changes of views replay (``inplace.py``).
``t.data`` has a counter of its own (as torch: changes through it are invisible to autograd).

``Function.apply`` records the versions of the inputs that have a counter (``ctx.versions``);
outputs start at version 0 (or, for the op of an in-place change, the version it left:
``ctx.out_versions``).  Before any backward runs, the engine's ordering phase calls
``check_saved_outputs`` and ``current_inputs`` for the nodes that touch a counter: a saved
input or output changed since raises torch's error; an input rebased by an in-place op since
is replaced by its place on the graph at record time (its ``_history``).
"""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Tensor

VIEW_OF_CHANGED_ERROR = (
    "a view was used after its base was changed in place on the graph; tinygrad_cv cannot "
    "replay the view on the changed base (torch does): take the view after the in-place "
    "operation")

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


_STRIDED = ("diagonal", "unfold")    # views NumPy builds on a stand-in base object


def share_version(view, base, kind, arg=None):
    """``view`` (just made from ``base`` by ``kind``: "reshape", "permute" (``arg``: the axes),
    "index" (``arg``: the raw index), "expand", "diagonal" (``arg``: (offset, dim1, dim2)) or
    "unfold" (``arg``: (axis, size, step))) shares base's counter when its array is a view of
    base's storage, and remembers (root base, the steps from it, the version its place on
    the graph is of); returns ``view``.

    NumPy's ``a[i]`` with integers only is a scalar copy: it is replaced by the 0-d view
    ``a[i, ...]``, so that ``x[0].add_(1)`` changes ``x`` as in torch."""
    a, b = view.array, base.array
    if a.base is None:
        if kind != "index" or a.ndim or not _integers_only(arg):
            return view
        arg = (arg if isinstance(arg, tuple) else (arg,)) + (Ellipsis,)
        a = view.array = b[arg]
    if view is base or (kind not in _STRIDED and a.base is not b and a.base is not b.base):
        return view
    box = base._vbox
    if box is None:
        box = base._vbox = [0]
    view._vbox = box
    parent = base._view_base
    root, steps = (base, ()) if parent is None else parent[:2]
    if steps is not None:
        steps = steps + ((kind, view.shape if kind in ("reshape", "expand") else arg),)
    view._view_base = (root, steps, box[0])
    return view


def is_stale_view(t) -> bool:
    """Whether the view ``t`` (``t._view_base`` set) was taken before its root base was last
    rebased by an in-place op on the graph: its place on the graph is then the view of the
    base's old value (``inplace.refresh_view`` replays it on the current one)."""
    root, steps, made_at = t._view_base
    history = getattr(root, "_history", None)
    return steps is not None and bool(history) and history[-1][0] >= made_at


def _integers_only(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in items)


def replay(array, steps):
    """The view of ``array`` that ``steps`` (from ``share_version``) describe."""
    for kind, arg in steps:
        if kind == "reshape":
            array = array.reshape(arg)
        elif kind == "expand":
            array = backend.get_array_module(array).broadcast_to(array, arg)
        elif kind == "permute":
            array = array.transpose(arg)
        elif kind == "diagonal":
            array = backend.diagonal_view(array, *arg)
        elif kind == "unfold":
            array = backend.unfold_view(array, *arg)
        else:
            array = array[arg]
    return array


def _aliases(saved, array) -> bool:
    """Whether the saved value ``saved`` is ``array`` or a view of the same storage."""
    if saved is array:
        return True
    base = getattr(saved, "base", None)
    return base is not None and base is (array if array.base is None else array.base)


def _saves(node, array) -> bool:
    """Whether ``node`` saved ``array`` (or a view of its storage).  A value packed by
    ``saved_tensors_hooks`` is the hooks' own copy: changing the array in place since is no
    error (as torch: the backward uses what was packed)."""
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
    recorded = dict(node.versions or ())
    inputs = list(node.inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or t._vbox is None:
            continue
        expected = recorded.get(i, 0)
        if _stale_view(t, expected):
            raise RuntimeError(VIEW_OF_CHANGED_ERROR)
        if t._vbox[0] == expected:
            continue
        if _saves(node, t.array):
            raise _version_error(t, "", t._vbox[0], expected)
        inputs[i] = _recorded_place(t, expected)
    node.inputs = tuple(inputs)
    return node.inputs


def recorded_inputs(node):
    """``node.inputs`` as they were when the node was recorded (an input rebased by an
    in-place op since: its old place), without the checks of ``current_inputs`` and without
    changing the node (the graph API reads it: ``Function.next_functions``)."""
    if not any(isinstance(t, Tensor) and t._vbox is not None for t in node.inputs):
        return node.inputs
    recorded = dict(node.versions or ())
    return tuple(t if not isinstance(t, Tensor) or t._vbox is None
                 or t._vbox[0] == recorded.get(i, 0) else _recorded_place(t, recorded.get(i, 0))
                 for i, t in enumerate(node.inputs))


def _recorded_place(t, expected):
    """The place on the graph ``t`` had at version ``expected`` (``t`` if never rebased)."""
    for version, old in getattr(t, "_history", ()):
        if version >= expected:
            return old
    return t


def _stale_view(t, expected) -> bool:
    """Whether ``t`` is a view on the graph whose base was rebased by an in-place op between
    the view's making (its place on the graph) and version ``expected`` (a node's use)."""
    view = t._view_base
    if view is None or t.creator is None or expected == view[2]:
        return False
    return any(view[2] <= v < expected for v, _ in getattr(view[0], "_history", ()))


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
