"""In-place operations with torch's rules.

The version counters (``t._version``, shared by views) and the engine's checks are in
``versions.py``.

``x.op_(*args)`` computes ``y = x.op(*args)``, writes y into x's storage and bumps the version.
y must keep x's shape (a broadcast may not grow x) and its dtype must cast to x's by NumPy's
'same_kind' rule (torch: "result type Float can't be cast to the desired output type Long").

* grad mode off (``no_grad``), or nothing involved requires grad: only the storage changes;
* x a leaf that requires grad, grad mode on: RuntimeError, as torch;
* otherwise x is *rebased*: the op is recorded on a stand-in holding x's old value (a copy,
  with x's old place on the graph) and x becomes its output, so ``y = x * 2; y.add_(1)``
  backpropagates 2 into x.  Nodes recorded before that used x keep its old place: x's
  ``_history`` lists (version before the change, old place), and the engine routes their
  gradients there (``current_inputs``);
* x a view (``y[1]``, ``y.view(-1)[2:4]``, ...): its root base is rebased as torch's
  CopySlices (the old base with the view's part replaced by the op's result) and x becomes
  the same view of the new base.  Another view taken *before* such a change is replayed on
  the changed base when it is next used (``refresh_view``, called by ``Function.apply`` and
  here), as torch regenerates its grad_fn.

``x[index] = value`` on the graph is ``where(mask, value placed at index, x)``, rebased the
same way.
"""
from __future__ import annotations

import weakref

from .. import backend
from ..ops.reduction import normalize_axes
from ..ops.shape import IndexAdd, IndexPut
from ..tensor import Tensor, where
from .function import Function
from .mode import modes
from .versions import (bump_version, is_stale_view, replay, torch_type_name,
                       version_box)

LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."
LEAF_VIEW_ERROR = ("a view of a leaf Variable that requires grad is being used in an in-place "
                   "operation.")
OVERLAP_ERROR = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location (or its memory is read-only). Please clone() the tensor before performing "
    "the operation.")
GRAPH_VIEW_ERROR = (
    "in-place operation on an expanded view of a tensor that is part of the graph; clone() "
    "the tensor first")


# ---- in-place operations ---------------------------------------------------------------------
def apply_inplace(self, fn, *args, casting="same_kind"):
    """``self`` overwritten by ``fn(self, *args)`` (an out-of-place Tensor computation), with
    torch's rules for the graph (see the module docstring); returns ``self``."""
    if self._view_base is not None and modes.grad_enabled and is_stale_view(self):
        refresh_view(self)
    if modes.grad_enabled and (self.requires_grad or any(
            isinstance(a, Tensor) and a.requires_grad for a in args)):
        view = _check_may_rebase(self)
        stand_in = _stand_in(self)
        out = fn(stand_in, *args)
        version = self._version
        write(self, out.array, casting)
        if view is None:
            _rebase(self, out, version)
        else:
            _rebase_view(self, out, view, version)
    else:
        write(self, fn(self, *args).array, casting)
    return self


def _ufunc_in_place(name, arr, other):
    """NumPy's/CuPy's ``name`` ufunc writing into ``arr`` (no temporary), or False when it
    refuses (dtype, shape): the general path then raises torch's error."""
    try:
        getattr(backend.get_array_module(arr), name)(arr, other, out=arr, casting="same_kind")
    except (TypeError, ValueError, OverflowError):   # (uint8 - 1: the operator path wraps)
        return False
    return True


_ufunc_in_place_quiet = backend.fp_quiet(_ufunc_in_place)


def arithmetic_inplace(self, name, general, other, alpha=1):
    """``add_``/``sub_`` (``alpha`` scales other), ``mul_``, ``div_`` (``name``: the ufunc).
    Off the graph with an array or Python-number operand, the ufunc runs in place (as fast as
    torch's optimizer idioms, ``p.add_(g, alpha=-lr)``); otherwise (on the graph, NumPy
    scalars, a refusal) ``apply_inplace(self, general, other, alpha)``."""
    if not (modes.grad_enabled and (self.requires_grad or getattr(other, "requires_grad",
                                                                  False))):
        o = other.array if isinstance(other, Tensor) else other
        arr = self.array
        if (type(o) is int or type(o) is float or backend.is_array(o)) \
                and 0 not in arr.strides:
            if alpha != 1:
                o = o * alpha
            if _ufunc_in_place_quiet(name, arr, o):
                bump_version(self)
                return self
    return apply_inplace(self, general, other, alpha)


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
    if arr.size == 0:                  # (nothing to write: no overlap, even in an expand)
        bump_version(self)
        return
    if not getattr(arr.flags, "writeable", True) or any(   # (CuPy arrays have no such flag)
            st == 0 and n > 1 for st, n in zip(arr.strides, arr.shape)):   # (an expand)
        raise RuntimeError(OVERLAP_ERROR)
    arr[...] = value
    bump_version(self)


def assign_inplace(self, index, value) -> None:
    """``self[index] = value`` with grad mode on and ``self`` (or ``value``) requiring grad:
    ``self`` is rebased on ``where(mask, value, self)`` (no gradient to the replaced part)."""
    if self.requires_grad and self.creator is None:
        raise RuntimeError(LEAF_VIEW_ERROR)
    xp = backend.get_array_module(self.array)
    mask = xp.zeros(self.shape, dtype=bool)
    mask[index] = True
    if isinstance(value, Tensor) and value.requires_grad:
        # value broadcast to the indexed part and placed (differentiably) into zeros; leading
        # unit dims beyond the part's are dropped first (x[0] = v of shape (1, n), as torch)
        part = self.array[index].shape
        lead = 0
        while value.ndim - lead > len(part) and value.shape[lead] == 1:
            lead += 1
        if lead:
            value = value.reshape(value.shape[lead:])
        full = IndexPut.apply(value.expand(*part), index=index, shape=self.shape)
        apply_inplace(self, lambda x, f: where(mask, f, x), full)
        return
    full = xp.zeros_like(self.array)
    full[index] = value.array if isinstance(value, Tensor) else value
    apply_inplace(self, lambda x: where(mask, full, x))


def index_array(index, device):
    """``index`` as a raw array: a Tensor's own, else converted on ``device`` with integers as
    int64 (torch's index dtype)."""
    if isinstance(index, Tensor):
        return index.array
    idx = backend.as_array(index, device=device)
    return idx.astype("int64") if idx.dtype.kind in "iu" else idx


def check_index_range(op, idx, dim, size, low=0, error=RuntimeError):
    """Raise ``error`` naming ``op`` unless every entry of ``idx`` lies in [low, size)."""
    if idx.size and (int(idx.min()) < low or int(idx.max()) >= size):
        bad = int(idx.min()) if int(idx.min()) < low else int(idx.max())
        raise error(f"{op}(): index {bad} is out of bounds for dimension {dim} with size "
                    f"{size}")


def scatter_index(self, dim, index, src=None, op="scatter"):
    """(the full index that ``scatter_(dim, index, ...)`` writes through, the part of a ``src``
    it reads): ``self[i_0, ..., index[i], ..., i_n] = src[i]`` for every i in index's shape.
    torch's checks, named after ``op``: an int64/int32 index with self's number of dims, no larger
    than self apart from ``dim`` (and than a tensor ``src``), entries in [0, self.size(dim))."""
    idx = index_array(index, self.device)
    if idx.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"{op}(): Expected dtype int64 or int32 for index, got {idx.dtype}")
    if idx.ndim != self.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as self "
                           f"tensor ({idx.ndim} vs {self.ndim})")
    xp = backend.get_array_module(idx)
    dim = normalize_axes(dim, self.ndim)[0] if self.ndim else 0   # (IndexError, as torch)
    if self.ndim == 0:
        return (), ()
    if any(d != dim and n > m for d, (n, m) in enumerate(zip(idx.shape, self.shape))) or (
            isinstance(src, Tensor) and (src.ndim != idx.ndim or any(
                n > m for n, m in zip(idx.shape, src.shape)))):
        raise RuntimeError(f"{op}(): Expected index {list(idx.shape)} to be no larger than self "
                           f"{list(self.shape)} apart from dimension {dim}" + (
                               f" and to be no larger size than src {list(src.shape)}"
                               if isinstance(src, Tensor) else ""))
    check_index_range(op, idx, dim, self.shape[dim])
    full = []
    for d, n in enumerate(idx.shape):
        shape = [1] * idx.ndim
        shape[d] = n
        full.append(idx if d == dim else xp.arange(n).reshape(shape))
    return tuple(full), tuple(slice(0, n) for n in idx.shape)


def add_at(self, index, value, alpha=1):
    """``self[index] += alpha * value`` in place, repeated indices accumulating (the
    ``scatter_add_``/``index_add_`` family), with torch's rules for the graph."""
    def added(x, v):
        return x + IndexAdd.apply(v * alpha if alpha != 1 else v, index=index, shape=x.shape)
    return apply_inplace(self, added, value)


def reshape_inplace(self, fn, kind, arg=None):
    """``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``: ``self`` takes the shape of the view
    ``fn(self)`` (``kind``/``arg`` as for ``share_version``), on the graph as that view op's
    output; the version is bumped (as torch)."""
    view = None
    if modes.grad_enabled and self.requires_grad:
        view = _check_may_rebase(self)
        if view is not None:
            raise RuntimeError(f"{kind} in place of a view on the graph is not supported by "
                               "tinygrad_cv; use the out-of-place form")
        stand_in = Tensor.wrap(self.array)
        stand_in._vbox = version_box(self)
        stand_in.requires_grad, stand_in.creator, stand_in.out_index = \
            True, self.creator, self.out_index
        out = fn(stand_in)
        version = self._version
        bump_version(self)
        _rebase(self, out, version)
    else:
        out = fn(self)
        bump_version(self)
    base = self._view_base
    if base is not None and base[1] is not None:
        step = (kind, out.shape if kind == "reshape" else arg)
        self._view_base = (base[0], base[1] + (step,), base[2])
    self.array = out.array
    return self


def _check_may_rebase(self):
    """torch's errors for an in-place change on the graph; returns (root base, steps) for a
    view, else None."""
    view = self._view_base
    if view is not None:
        root, steps, _ = view
        if root.requires_grad and root.creator is None:
            raise RuntimeError(LEAF_VIEW_ERROR)
        if steps is None or any(kind == "expand" for kind, _ in steps):
            raise RuntimeError(GRAPH_VIEW_ERROR)
        return view
    if self.requires_grad and self.creator is None:
        raise RuntimeError(LEAF_ERROR)
    return None


def _stand_in(self):
    """A tensor with ``self``'s place on the graph and a copy of its current value."""
    t = Tensor.wrap(self.array.copy())
    t.requires_grad = self.requires_grad
    t.creator = self.creator
    t.out_index = self.out_index
    return t


def _rebase(self, out, version, keep_hooks=False) -> None:
    """``self`` becomes the output ``out`` of the recorded op; its old place on the graph is
    kept in its history for the nodes recorded before (``version``: its version then; a
    tensor that was off the graph leaves a constant there, which also tells its views that
    they are stale).  The old place is its old node's output from now on (sharing self's
    version counter): the hooks registered so far go with it, unless ``keep_hooks``, so they
    see the gradient of the value they were registered on (as torch)."""
    old = Tensor.wrap(self.array)      # (its value is not read: shape and dtype only)
    old.requires_grad, old.creator, old.out_index = \
        self.creator is not None, self.creator, self.out_index
    self._history = list(getattr(self, "_history", ())) + [(version, old)]
    if self.creator is not None:
        old._vbox = self._vbox
        if not keep_hooks:
            old.hooks, self.hooks = self.hooks, ()
        outputs = list(self.creator.outputs)
        if outputs[self.out_index]() is self:
            outputs[self.out_index] = weakref.ref(old)
            self.creator.outputs = type(self.creator.outputs)(outputs)
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


# ---- in-place changes of views ---------------------------------------------------------------
class CopySlices(Function):
    """r = a with its view ``steps`` replaced by o (the base after an in-place change of a view
    of it);  dL/da = dL/dr with the view zeroed, dL/do = dL/dr's view.  First order."""

    @staticmethod
    def forward(ctx, a, o, steps=()):
        ctx.steps = steps
        r = a.copy()
        replay(r, steps)[...] = o
        return r

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        part = replay(ga, ctx.steps)
        go = part.copy()
        part[...] = 0
        return ga, go


class ViewOf(Function):
    """v = the view ``steps`` of a;  dL/da = zeros with dL/dv written into that view.
    First order."""

    @staticmethod
    def forward(ctx, a, steps=()):
        ctx.steps = steps
        ctx.in_shape = a.shape
        return replay(a, steps)

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        ga = xp.zeros(ctx.in_shape, dtype=g.dtype)
        if any(kind in ("expand", "unfold") for kind, _ in ctx.steps):
            # a view that repeats elements: add g at each one's flat position in a
            where = replay(xp.arange(ga.size).reshape(ctx.in_shape), ctx.steps)
            backend.scatter_add(ga.reshape(-1), where.reshape(-1), g.reshape(-1))
            return ga
        replay(ga, ctx.steps)[...] = g
        return ga


def refresh_view(self) -> None:
    """torch's replay of a view whose base was rebased by an in-place op since the view was
    taken (``is_stale_view``): ``self`` becomes the same view of the base's current place, so
    its gradient follows the new value; its old place stays in its history for the nodes
    recorded before."""
    root, steps, _ = self._view_base
    # the old place served the uses recorded up to the base's last change (its version
    # before that change); a use recorded since (refreshed first) gets the new one
    _rebase(self, ViewOf.apply(root, steps=steps), root._history[-1][0], keep_hooks=True)
    self._view_base = (root, steps, self._vbox[0])


def _rebase_view(self, out, view, version) -> None:
    """After ``out`` was written into the view ``self``: its root base becomes
    ``CopySlices(old base, out)`` and ``self`` the view of that (torch's CopySlices)."""
    root, steps, _ = view
    old = Tensor.wrap(root.array)      # the base's old place (CopySlices reads no values)
    old.requires_grad, old.creator, old.out_index = root.requires_grad, root.creator, \
        root.out_index
    _rebase(root, CopySlices.apply(old, out, steps=steps), version)
    _rebase(self, ViewOf.apply(root, steps=steps), version)
    self._view_base = (root, steps, self._vbox[0])
