"""torch's scans, order statistics and counting functions, as functions and methods:
``cumprod, cummax, cummin, logcumsumexp, diff``, ``kthvalue, median, nanmedian, mode``,
``searchsorted, bucketize, histc, bincount, unique_consecutive``.

Each function takes the tensor first and is bound as the method of the same name
(``searchsorted`` and ``bucketize`` are functions only, as in torch).  Values are
differentiable: ``cumprod`` and ``logcumsumexp`` are primitives of ``ops/scan.py``; the values
of ``cummax``/``cummin``/``kthvalue``/``median``/``mode`` are gathered from the input at their
indices (the gradient goes to the element picked, as torch).  Indices are int64, NaN is the
largest value (as torch's sort), ties pick the element torch picks where torch documents it
(cummax/cummin/mode: the last occurrence).
"""
from __future__ import annotations


from . import backend, return_types
from .ops.scan import Cumprod, LogCumSumExp
from .tensor import Tensor, _as_tensor, _axes, cat

_LONG = backend.dtype("int64")
_INT = backend.dtype("int32")



def _dim(input, dim):
    return _axes(dim, input.ndim)[0] if input.ndim else 0


def _picked(name, input, idx, dim, keepdim=True):
    """(values gathered at ``idx`` along ``dim``, the int64 indices), keepdim or not."""
    idx = Tensor.wrap(idx.astype(_LONG))
    if input.ndim == 0:
        return getattr(return_types, name)(input.clone(), idx.reshape(()))
    values = input.gather(dim, idx)
    if not keepdim:
        values, idx = values.squeeze(dim), idx.squeeze(dim)
    return getattr(return_types, name)(values, idx)


# ---- scans -------------------------------------------------------------------------------------
def cumprod(input, dim, *, dtype=None):
    """z_i = prod_{j <= i} x_j along ``dim`` (integers and bools as int64, or ``dtype``)."""
    x = input if dtype is None else input.to(dtype)
    if dtype is None and not backend.is_floating(x.dtype):
        x = x.to(_LONG)
    if x.ndim == 0:
        return x.clone()
    return Cumprod.apply(x, axis=_dim(x, dim))


def _running(input, dim, name):
    """cummax/cummin: the running extremum and the index of its last occurrence (NaN
    propagates, at its own index)."""
    xp = backend.get_array_module(input.array)
    d = _dim(input, dim)
    a = input.array
    if a.ndim == 0 or not a.size:
        return _picked(name, input, xp.zeros(a.shape, dtype=_LONG), d)
    ufunc = xp.maximum if name == "cummax" else xp.minimum
    run = ufunc.accumulate(a, axis=d)
    before = xp.concatenate([xp.take(a, [0], axis=d), xp.delete(run, -1, axis=d)], axis=d)
    record = (a >= before) if name == "cummax" else (a <= before)
    if backend.is_floating(a.dtype):
        # a NaN is a new record; after one, only another NaN is
        seen_nan = xp.logical_or.accumulate(xp.isnan(a), axis=d)
        record = xp.where(seen_nan, xp.isnan(a), record)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = xp.arange(a.shape[d]).reshape(shape)
    return _picked(name, input, xp.maximum.accumulate(xp.where(record, pos, 0), axis=d), d)


def cummax(input, dim):
    return _running(input, dim, "cummax")


def cummin(input, dim):
    return _running(input, dim, "cummin")


def logcumsumexp(input, dim):
    """z_i = log sum_{j <= i} exp(x_j) along ``dim`` (floating inputs)."""
    if not backend.is_floating(input.dtype):
        raise RuntimeError(f"logcumsumexp(): expected a floating input, got {input.dtype}")
    if input.ndim == 0:
        return input.clone()
    return LogCumSumExp.apply(input, axis=_dim(input, dim))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference x[i + 1] - x[i] along ``dim`` (bools: x[i + 1] != x[i]),
    after concatenating ``prepend``/``append``."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = _dim(input, dim)
    parts = [p for p in (prepend, input, append) if p is not None]
    x = cat([_as_tensor(p, like=input) for p in parts], d) if len(parts) > 1 else input
    lead = (slice(None),) * d
    for _ in range(n):
        hi, lo = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        x = hi != lo if x.dtype == backend.dtype("bool") else hi - lo
    return x


# ---- order statistics --------------------------------------------------------------------------
def _order(input, d):
    """Stable ascending order along ``d`` (NaN last)."""
    return backend.get_array_module(input.array).argsort(input.array, axis=d, kind="stable")


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest value along ``dim`` (k from 1) and its index."""
    d = _dim(input, dim)
    a = input.array if input.ndim else input.array.reshape(1)
    n = a.shape[d] if a.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                         f"(k = {k}, size {n})")
    xp = backend.get_array_module(a)
    idx = xp.take(xp.argsort(a, axis=d, kind="stable"), [k - 1], axis=d)
    return _picked("kthvalue", input, idx, d, keepdim)


def _median(input, dim, keepdim, name):
    xp = backend.get_array_module(input.array)
    if dim is None:
        flat = input.reshape(-1)
        if not flat.numel():
            return Tensor.wrap(xp.asarray(xp.nan, dtype=input.dtype))
        return _median(flat, 0, False, name).values
    d = _dim(input, dim)
    a = input.array if input.ndim else input.array.reshape(1)
    if not a.shape[d]:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    order = xp.argsort(a, axis=d, kind="stable")
    nans = xp.isnan(a) if backend.is_floating(a.dtype) else xp.zeros(a.shape, dtype=bool)
    n_nan = nans.sum(axis=d, keepdims=True)
    if name == "median":        # the lower median, or the first NaN of the slice
        k = xp.full(n_nan.shape, (a.shape[d] - 1) // 2)
        first_nan = xp.argmax(nans, axis=d).reshape(n_nan.shape)
        idx = xp.where(n_nan > 0, first_nan, xp.take_along_axis(order, k, axis=d))
    else:                       # nanmedian: the lower median of the numbers (NaN if none)
        k = xp.maximum((a.shape[d] - n_nan - 1) // 2, 0)
        idx = xp.take_along_axis(order, k, axis=d)
    return _picked(name, input, idx, d, keepdim)


def median(input, dim=None, keepdim=False):
    """The lower median (of all elements, or along ``dim`` with its index); NaN when the
    slice has one."""
    return _median(input, dim, keepdim, "median")


def nanmedian(input, dim=None, keepdim=False):
    """``median`` ignoring NaN (NaN for a slice of NaNs only)."""
    return _median(input, dim, keepdim, "nanmedian")


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the
    index of its last occurrence."""
    xp = backend.get_array_module(input.array)
    d = _dim(input, dim)
    a = input.array if input.ndim else input.array.reshape(1)
    n = a.shape[d]
    if not n:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    order = xp.argsort(a, axis=d, kind="stable")
    s = xp.take_along_axis(a, order, axis=d)
    moved = xp.moveaxis(s, d, -1)
    # run lengths of equal sorted values: the position where each run starts, per element
    new_run = xp.ones(moved.shape, dtype=bool)
    new_run[..., 1:] = moved[..., 1:] != moved[..., :-1]
    pos = xp.arange(n)
    start = xp.maximum.accumulate(xp.where(new_run, pos, 0), axis=-1)
    length = pos - start + 1                       # the count so far within the run
    best = xp.argmax(length, axis=-1)              # the first longest run ends here (smallest)
    last_in_sorted = best[..., None]
    # the last occurrence in the input: the largest original index in that run (stable sort:
    # the run's last element)
    idx = xp.take_along_axis(xp.moveaxis(order, d, -1), last_in_sorted, axis=-1)
    return _picked("mode", input, xp.moveaxis(idx, -1, d), d, keepdim)


# ---- searching and counting --------------------------------------------------------------------
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Where ``input``'s values would be inserted into ``sorted_sequence`` (sorted along its
    last dim; 1-D, or with the same leading dims as input) to keep it sorted: the first such
    place (``right=False``/``side='left'``) or the last."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise RuntimeError("side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    seq = _as_tensor(sorted_sequence)
    scalar = not isinstance(input, Tensor)
    values = _as_tensor(input, like=seq)
    xp = backend.get_array_module(seq.array)
    s = seq.array
    if sorter is not None:
        s = xp.take_along_axis(s, sorter.array if isinstance(sorter, Tensor) else
                               xp.asarray(sorter), axis=-1)
    v = values.array
    how = "right" if right else "left"
    if s.ndim <= 1:
        out = xp.searchsorted(s.reshape(-1), v, side=how)
    else:
        if scalar or s.shape[:-1] != v.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension "
                               f"or the first N-1 dimensions of boundaries tensor and input "
                               f"value tensor must match, but we got boundaries tensor "
                               f"{list(s.shape)} and input value tensor {list(v.shape)}")
        rows_s = s.reshape(-1, s.shape[-1])
        rows_v = v.reshape(-1, v.shape[-1])
        out = xp.stack([xp.searchsorted(rs, rv, side=how) for rs, rv in zip(rows_s, rows_v)]
                       ).reshape(v.shape) if rows_s.shape[0] else xp.zeros(v.shape, _LONG)
    return Tensor.wrap(xp.asarray(out).astype(_INT if out_int32 else _LONG))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value among the 1-D sorted ``boundaries``: i with
    boundaries[i-1] < x <= boundaries[i] (``right=False``) or boundaries[i-1] <= x <
    boundaries[i]."""
    boundaries = _as_tensor(boundaries)
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histc(input, bins=100, min=0, max=0):
    """Counts of ``bins`` equal-width bins over [min, max] (the data's range when min = max;
    elements outside are ignored), in input's floating dtype."""
    if not backend.is_floating(input.dtype):
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input.dtype}'")
    if bins <= 0:
        raise RuntimeError(f"bins must be > 0, but got {bins}")
    xp = backend.get_array_module(input.array)
    a = input.array.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"max must be larger than min, got min {min} and max {max}")
    inside = a[(a >= lo) & (a <= hi)]
    b = ((inside - lo) * bins / (hi - lo)).astype(_LONG)
    b = xp.minimum(b, bins - 1)
    return Tensor.wrap(xp.bincount(b, minlength=bins).astype(input.dtype))


def bincount(input, weights=None, minlength=0):
    """Occurrences of each value 0..max of the 1-D non-negative integer ``input`` (at least
    ``minlength`` of them), or the sums of ``weights`` per value (float weights keep their
    dtype, others give float64, as torch)."""
    if input.ndim != 1 or backend.is_floating(input.dtype) or input.dtype == backend.dtype("bool"):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    xp = backend.get_array_module(input.array)
    a = input.array
    if a.size and int(a.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return Tensor.wrap(xp.bincount(a, minlength=minlength).astype(_LONG))
    w = _as_tensor(weights)
    if w.shape != input.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dtype = w.dtype if backend.is_floating(w.dtype) else backend.dtype("float64")
    return Tensor.wrap(xp.bincount(a, weights=w.array, minlength=minlength).astype(dtype))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Each run of equal consecutive elements (slices along ``dim``) reduced to one; the
    inverse indices (shaped like input, or like dim) and run lengths on request.  NaNs are
    never equal."""
    xp = backend.get_array_module(input.array)
    if dim is None:
        a = input.array.reshape(-1)
        change = a[1:] != a[:-1]
        shape = input.shape
    else:
        d = _dim(input, dim)
        m = xp.moveaxis(input.array, d, 0)
        a = m
        change = (m[1:] != m[:-1]).reshape(max(m.shape[0] - 1, 0), -1).any(axis=1)
        shape = (input.shape[d],)
    n = a.shape[0]
    starts = xp.concatenate([xp.ones(min(n, 1), dtype=bool), change])
    values = a[starts]
    out = [Tensor.wrap(values if dim is None else xp.moveaxis(values, 0, d).copy())]
    if return_inverse:
        out.append(Tensor.wrap((xp.cumsum(starts) - 1).astype(_LONG).reshape(shape)))
    if return_counts:
        edges = xp.concatenate([xp.nonzero(starts)[0], xp.asarray([n])])
        out.append(Tensor.wrap(xp.diff(edges).astype(_LONG)))
    return out[0] if len(out) == 1 else tuple(out)


# ---- the methods -------------------------------------------------------------------------------
METHODS = ("cumprod", "cummax", "cummin", "logcumsumexp", "diff", "kthvalue", "median",
           "nanmedian", "mode", "histc", "bincount", "unique_consecutive")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
