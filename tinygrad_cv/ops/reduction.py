"""Reductions: sum, mean, max/min (values, and values with indices along one axis)."""
from __future__ import annotations

from .. import backend
from .elementwise import _Primitive
from . import dual


def normalize_axes(axis, ndim):
    """``None`` -> all axes; an int or tuple -> a sorted tuple of non-negative axes (a dim out
    of range raises IndexError, a repeated one RuntimeError, as torch)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"dimension {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    unique = tuple(sorted(set(out)))
    if len(unique) < len(out):
        raise RuntimeError(f"dims {tuple(axis)}: a dim appears multiple times (as torch refuses)")
    return unique


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(_Primitive):
    """y = sum over ``axes``;  dy/dx = 1 broadcast back over the reduced axes."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdims=False):
        ctx.in_shape = a.shape
        ctx.axes = axes
        return a.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(_kept_shape(ctx.in_shape, ctx.axes))
        return dual.broadcast_to(g, ctx.in_shape)


class Mean(_Primitive):
    """y = sum / n over ``axes``;  dy/dx = 1/n broadcast back."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdims=False):
        ctx.in_shape = a.shape
        ctx.axes = axes
        n = 1
        for ax in axes:
            n *= a.shape[ax]
        ctx.n = n
        out = a.sum(axis=axes, keepdims=keepdims)
        if backend.is_floating(a.dtype):
            return out / a.dtype.type(n) if n else out * float("nan")
        return out / n

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(_kept_shape(ctx.in_shape, ctx.axes)) / ctx.n
        return dual.broadcast_to(g, ctx.in_shape)


class Prod(_Primitive):
    """y = the product over ``axes``;  dy/dx_i = the product of the other elements of x_i's
    slice: y / x_i where the slice has no zero, else exclusive prefix times suffix products
    (torch's values at zeros; under ``create_graph`` the products of the others are taken
    with this op, so they are differentiable too)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, axes=None, keepdims=False):
        ctx.in_shape = a.shape
        ctx.axes = axes
        out = backend.ensure_array(a.prod(axis=axes, keepdims=keepdims))   # (not a scalar)
        ctx.save_for_backward(a, out)   # (the returned array: create_graph differentiates it)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        kept = _kept_shape(ctx.in_shape, ctx.axes)
        g = g.reshape(kept)
        xa = dual.raw(a)
        if not bool((xa == 0).any()):
            return g * (out.reshape(kept) / a)
        return g * _others_product(a, ctx.axes)


def _others_product(a, axes):
    """For every element of ``a`` (array or Tensor), the product of the other elements of its
    slice over ``axes``."""
    ndim = len(a.shape)
    rest = tuple(i for i in range(ndim) if i not in axes)
    perm = rest + tuple(axes)
    moved = dual.permute(a, perm)
    lead = tuple(a.shape[i] for i in rest)
    n = 1
    for i in axes:
        n *= a.shape[i]
    flat = moved.reshape(lead + (n,))
    if dual.is_tensor(flat):
        xp = backend.get_array_module(flat.array)
        stacked = dual.where(xp.eye(n, dtype=bool), 1.0, flat.reshape(lead + (1, n)))
        others = Prod.apply(stacked, axes=(len(lead) + 1,), keepdims=False)
    else:
        xp = backend.get_array_module(flat)
        ones = xp.ones(lead + (1,), dtype=flat.dtype)
        before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(xp.cumprod(xp.flip(
            xp.concatenate([flat[..., 1:], ones], axis=-1), axis=-1), axis=-1), axis=-1)
        others = before * after
    inverse = [0] * ndim
    for i, p in enumerate(perm):
        inverse[p] = i
    return dual.permute(others.reshape(moved.shape), tuple(inverse))


class Extremum(_Primitive):
    """max/min over ``axes`` (values only); the gradient is shared evenly among ties.

    A NaN makes the result NaN.  ``nan_hits=False`` (amax/amin, as torch): no element equals
    it, and the gradient is NaN.  ``nan_hits=True`` (the full ``max()``/``min()``, torch's
    even distribution): the NaN elements share the gradient.
    """

    @staticmethod
    def forward(ctx, a, axes=None, keepdims=False, pick="max", nan_hits=False):
        if any(a.shape[i] == 0 for i in axes):   # (other empty dims give an empty result)
            raise RuntimeError(f"{pick}(): cannot reduce an empty dimension of shape {a.shape} "
                               f"(dims {axes})")
        out = a.max(axis=axes, keepdims=True) if pick == "max" else a.min(axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axes = axes
        ctx.nan_hits = nan_hits
        return out if keepdims else out.reshape(
            tuple(s for i, s in enumerate(a.shape) if i not in axes))

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xa, xo = dual.raw(a), dual.raw(out)
        hit = xa == xo
        if ctx.nan_hits and xa.dtype.kind == "f":
            xp = backend.get_array_module(xa)
            hit |= xp.isnan(xa) & xp.isnan(xo)
        share = hit / hit.sum(axis=ctx.axes, keepdims=True)
        g = g.reshape(xo.shape)
        return g * share.astype(xa.dtype)


class ExtremumDim(_Primitive):
    """(values, indices) of max/min along one axis; the gradient goes to the chosen index."""

    @staticmethod
    def forward(ctx, a, axis=0, keepdims=False, pick="max"):
        if a.shape[axis] == 0:
            raise RuntimeError(f"{pick}(): cannot reduce an empty dimension {axis} of shape {a.shape}")
        xp = backend.get_array_module(a)
        idx = (a.argmax if pick == "max" else a.argmin)(axis=axis, keepdims=True)
        values = xp.take_along_axis(a, idx, axis=axis)
        if not keepdims:
            values = values.squeeze(axis)
        ctx.axis = axis
        ctx.in_shape = a.shape
        ctx.save_for_backward(idx)
        idx_out = idx if keepdims else idx.squeeze(axis)
        idx_out = idx_out.astype("int64", copy=False)
        ctx.mark_non_differentiable(idx_out)
        return values, idx_out

    @staticmethod
    def backward(ctx, g, _g_idx):
        (idx,) = ctx.saved_tensors
        xp = backend.get_array_module(dual.raw(g))
        iota_shape = [1] * len(ctx.in_shape)
        iota_shape[ctx.axis] = ctx.in_shape[ctx.axis]
        onehot = xp.arange(ctx.in_shape[ctx.axis]).reshape(iota_shape) == dual.raw(idx)
        g = g.reshape(_kept_shape(ctx.in_shape, (ctx.axis,)))
        return g * onehot


def _reduced_count(shape, axes):
    """How many elements each output of a reduction over ``axes`` (None: all) combines."""
    count = 1
    for i, size in enumerate(shape):
        if axes is None or i in axes:
            count *= size
    return count


class VectorNorm(_Primitive):
    """The vector p-norm over ``axes`` for every real p, torch's values and gradient:

        p > 0 or p < 0:  (sum |a|^p)^(1/p)   (p < 0: 0 when an element is 0: |0|^p = inf)
        p = inf / -inf:  max |a| / min |a|
        p = 0:           the count of non-zero elements (NaN counts); no gradient (None: the
                         input receives none, as torch's undefined one)

    gradient:  p = 1: sign(a);  p = 2: a / ||a||;  p = +-inf: sign(a) shared evenly among the
    elements with |a| = ||a|| (or NaN);  otherwise sign(a) |a|^(p-1) / ||a||^(p-1), 0 at the
    elements a = 0 when p < 1 (where |a|^(p-1) is infinite).  0 wherever ||a|| = 0 (the
    formulas give 0/0 there; torch defines the gradient as 0, so F.normalize and
    cosine_similarity of a zero vector are finite).
    """

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, axes=None, keepdims=False, p=2.0):
        if p < 0 or p == float("inf"):
            empty = [i for i in range(a.ndim) if (axes is None or i in axes) and a.shape[i] == 0]
            if empty:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm over the "
                                   f"empty dimension {empty[0]} (of shape {a.shape}): the "
                                   "operation has no identity")
        # float16 is reduced in float32 (torch's accumulation: 300^2 overflows float16)
        out = _norm_kept(_widened(a), axes, p).astype(a.dtype, copy=False)
        kept = out.shape
        if not keepdims:
            out = out.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))
        ctx.save_for_backward(a, out)     # (the returned array: create_graph differentiates it)
        ctx.p = p
        ctx.kept = kept
        ctx.axes = axes
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return None
        out = out.reshape(ctx.kept)
        g = g.reshape(ctx.kept)
        if not dual.is_tensor(g) and a.dtype == _HALF:     # (float16: computed in float32)
            return _norm_grad(_widened(g), _widened(a), _widened(out), p,
                              ctx.axes).astype(_HALF)
        return _norm_grad(g, a, out, p, ctx.axes)


_HALF = backend.dtype("float16")


def _widened(x):
    """A float16 array as float32 (other arrays, and Tensors, unchanged)."""
    return x.astype("float32") if not dual.is_tensor(x) and x.dtype == _HALF else x


def _norm_kept(a, axes, p):
    """The p-norm of the array ``a`` over ``axes``, keeping them (size 1)."""
    if p == 0:
        return (a != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
    if _reduced_count(a.shape, axes) == 1:
        return abs(a)    # one element: |a| exactly, as torch (its square may underflow)
    if p == 2:
        return backend.get_array_module(a).sqrt((a * a).sum(axis=axes, keepdims=True))
    if p == 1:
        return abs(a).sum(axis=axes, keepdims=True)
    if p == float("inf"):
        return abs(a).max(axis=axes, keepdims=True)
    if p == -float("inf"):
        return abs(a).min(axis=axes, keepdims=True)
    return (abs(a) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)


def _norm_grad(g, a, out, p, axes):
    """The gradient of the p-norm ``out`` (kept dims) of ``a`` for the incoming ``g`` (arrays,
    or Tensors under create_graph): VectorNorm's docstring."""
    xa, xo = dual.raw(a), dual.raw(out)
    if p == 1:
        return g * dual.sign(xa)
    if abs(p) == float("inf"):
        xp = backend.get_array_module(xa)
        size = abs(xa)
        hit = (size == xo) | xp.isnan(size)
        share = hit / hit.sum(axis=axes, keepdims=True)
        return g * (dual.sign(xa) * share).astype(xa.dtype, copy=False)
    zero = xo == 0
    safe = dual.where(zero, 1.0, out)        # (no division by zero, even unused)
    if p == 2:
        scale = g / safe
        return dual.where(zero, 0.0, scale) * a
    scale = dual.where(zero, 0.0, g / safe ** (p - 1))
    if p > 1:
        return scale * (dual.sign(xa) * abs(a) ** (p - 1))
    nonzero = xa != 0                        # |a|^(p-1) is infinite at a = 0 when p < 1
    part = dual.sign(xa) * dual.where(nonzero, abs(a), 1.0) ** (p - 1)
    return scale * dual.where(nonzero, part, 0.0)
