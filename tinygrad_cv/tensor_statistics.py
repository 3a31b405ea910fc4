"""torch's statistics functions, as functions and methods: NaN-ignoring sums and means,
``std_mean``/``var_mean``, ``aminmax``, ``count_nonzero``, ``quantile``/``nanquantile``, ``cov``,
``corrcoef`` and the trapezoidal rule (``trapezoid``/``trapz``, ``cumulative_trapezoid``).

Each is a composition of the framework's differentiable operations (sort, gather, lerp, sums,
products), so the gradients are theirs; the argument rules and errors are torch's.
"""
from __future__ import annotations

import numbers

from . import backend, return_types
from .ops.elementwise import NanToZero
from .tensor import Tensor, _as_tensor, _axes, _reduced_axes, where

_INT64 = backend.dtype("int64")



def _reduced_dims(x, dim):
    """The reduced dims as a sorted tuple (all when ``dim`` is None)."""
    if dim is None:
        return tuple(range(x.ndim))
    return tuple(sorted(_reduced_axes(dim, x.ndim)))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum treating NaN as zero (its gradient: 1 at numbers, 0 at NaN)."""
    x = _as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if not backend.is_floating(x.dtype):
        return x.sum(dim=dim, keepdim=keepdim)
    return NanToZero.apply(x).sum(dim=dim, keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean over the numbers (NaN where a slice has none); floating tensors only."""
    x = _as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if not backend.is_floating(x.dtype):
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got "
                           f"{x.dtype}")
    xp = backend.get_array_module(x.array)
    count = Tensor.wrap((~xp.isnan(x.array)).astype(x.dtype)).sum(dim=dim, keepdim=keepdim)
    return nansum(x, dim, keepdim) / count


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) over ``dim``; torch's forms ``std_mean(x, dim, unbiased, keepdim)`` and
    ``std_mean(x, unbiased)`` too."""
    x, dim, unbiased = _spread_args(input, dim, unbiased)
    return (x.std(dim, unbiased, keepdim, correction=correction),
            x.mean(dim=dim, keepdim=keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over ``dim``; torch's forms ``var_mean(x, dim, unbiased, keepdim)`` and
    ``var_mean(x, unbiased)`` too."""
    x, dim, unbiased = _spread_args(input, dim, unbiased)
    return (x.var(dim, unbiased, keepdim, correction=correction),
            x.mean(dim=dim, keepdim=keepdim))


def _spread_args(input, dim, unbiased):
    """(tensor, dim, unbiased): a bool in ``dim``'s place is ``unbiased`` (over every dim)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return _as_tensor(input), dim, unbiased


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) as a named tuple (``.min``, ``.max``); an empty tensor raises."""
    x = _as_tensor(input)
    if x.numel() == 0 and (dim is None or x.shape[_axes(dim, x.ndim)[0]] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    return return_types.aminmax(x.amin(dim=dim, keepdim=keepdim), x.amax(dim=dim, keepdim=keepdim))


def count_nonzero(input, dim=None):
    """The number of non-zero elements over ``dim`` (int64)."""
    x = _as_tensor(input)
    xp = backend.get_array_module(x.array)
    dims = _reduced_dims(x, dim)
    return Tensor.wrap(xp.count_nonzero(x.array, axis=dims).astype(_INT64, copy=False))


# ---- quantiles --------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles along ``dim`` (of the flattened tensor when None): the sorted values
    at position q (n - 1), between neighbours by ``interpolation``; NaN where the slice holds
    a NaN.  A 1-D q puts its axis first in the result."""
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", ignore_nan=False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` over the numbers of each slice (NaN only where a slice has none)."""
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", ignore_nan=True)


def _quantile(input, q, dim, keepdim, interpolation, name, ignore_nan):
    x = _as_tensor(input)
    xp = backend.get_array_module(x.array)
    if not backend.is_floating(x.dtype):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}() interpolation must be one of {', '.join(_INTERPOLATIONS)}. "
                         f"Got {interpolation!r}")
    scalar_q = isinstance(q, numbers.Real)
    qs = backend.as_array(q, dtype="float64", device=x.device) if scalar_q else (
        q.array.astype("float64") if isinstance(q, Tensor) else
        backend.as_array(q, dtype="float64", device=x.device))
    if qs.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if isinstance(q, Tensor) and q.dtype != x.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    if bool(((qs < 0) | (qs > 1)).any()):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if x.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    qs = qs.reshape(-1)
    if dim is None:
        work, out_shape = x.reshape(1, -1), ()
        kept_shape = (1,) * x.ndim
    else:
        d = _axes(dim, x.ndim)[0]                 # (a 0-d tensor takes dim 0 or -1: d = 0)
        x1 = x if x.ndim else x.reshape(1)
        others = [i for i in range(x1.ndim) if i != d]
        work = x1.permute(*others, d).reshape(-1, x1.shape[d])       # (rows, n)
        out_shape = tuple(x1.shape[i] for i in others)
        kept_shape = tuple(1 if i == d else s for i, s in enumerate(x.shape))
    values, _ = work.sort(dim=-1)                                   # NaN last
    rows, n = work.shape
    isnan = xp.isnan(work.array)
    count = (n - isnan.sum(axis=1)) if ignore_nan else xp.full(rows, n)
    # positions (Q, rows) in each slice's sorted numbers
    pos = qs[:, None] * xp.maximum(count - 1, 0)[None, :]
    low = xp.floor(pos)
    high = xp.ceil(pos)
    if interpolation == "lower":
        high = low
    elif interpolation == "higher":
        low = high
    elif interpolation == "nearest":
        low = high = xp.round(pos)
    weight = (xp.full(pos.shape, 0.5) if interpolation == "midpoint" else pos - low) * (low != high)
    # a slice without a result (a NaN in it; for nanquantile, only NaNs) takes its last sorted
    # value, a NaN, which also receives the gradient (as torch)
    no_result = ((count == 0) if ignore_nan else isnan.any(axis=1))[None, :]
    low, high = xp.where(no_result, n - 1, low), xp.where(no_result, n - 1, high)
    weight = xp.where(no_result, 0.0, weight)
    idx_low = low.astype(_INT64).T                                   # (rows, Q)
    idx_high = high.astype(_INT64).T
    v_low = values.gather(1, Tensor.wrap(idx_low))
    v_high = values.gather(1, Tensor.wrap(idx_high))
    out = v_low.lerp(v_high, Tensor.wrap(weight.T.astype(x.dtype)))
    out = out.T                                                     # (Q, rows)
    shape = (kept_shape if keepdim else out_shape)
    out = out.reshape((len(qs),) + shape)
    return out[0] if scalar_q else out


# ---- covariance -------------------------------------------------------------------------------
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns; a 1-D input is one variable), with frequency and observation weights, as
    numpy.cov / torch.cov."""
    x = _as_tensor(input)
    if x.ndim > 2:
        raise ValueError(f"cov(): expected input to have two or fewer dimensions but got an "
                         f"input with {x.ndim} dimensions")
    if not backend.is_floating(x.dtype):
        x = x.float()
    obs = x.reshape(1, -1) if x.ndim < 2 else x
    n = obs.shape[1]
    w = None
    for weights, kind in ((fweights, "fweights"), (aweights, "aweights")):
        if weights is None:
            continue
        wt = _as_tensor(weights)
        if wt.ndim > 1 or wt.numel() != n:
            raise ValueError(f"cov(): expected {kind} to have one dimension of size {n}, got "
                             f"shape {tuple(wt.shape)}")
        if kind == "fweights" and backend.is_floating(wt.dtype):
            raise ValueError("cov(): expected fweights to have integral dtype")
        if bool((wt.array < 0).any()):
            raise ValueError(f"cov(): {kind} cannot be negative")
        wt = wt.to(x.dtype)
        w = wt if w is None else w * wt
    if w is None:
        w_sum = float(n)
        mean = obs.mean(dim=1, keepdim=True)
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        mean = (obs * w).sum(dim=1, keepdim=True) / w_sum
        if aweights is None or correction == 0:
            norm = w_sum - correction
        else:
            aw = _as_tensor(aweights).to(x.dtype)
            norm = w_sum - correction * (w * aw).sum() / w_sum
    centred = obs - mean
    weighted = centred if w is None else centred * w
    out = weighted.matmul(centred.transpose(0, 1))
    if isinstance(norm, Tensor):
        norm = where(norm.array <= 0, 0.0, norm)
    elif norm <= 0:
        norm = 0.0
    out = out / norm
    return out.reshape(()) if obs.shape[0] == 1 else out      # one variable: 0-d, as torch


def corrcoef(input):
    """Pearson correlation coefficients of the variables in the rows, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diag()
    stddev = d.sqrt()
    c = c / stddev[:, None]
    c = c / stddev[None, :]
    return c.clamp(-1, 1)


# ---- the trapezoidal rule ---------------------------------------------------------------------
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Integral of y along ``dim`` by the trapezoidal rule: sample points ``x`` (a tensor
    broadcast along dim, or the spacing ``dx``, default 1)."""
    y = _as_tensor(y)
    increments = _trapezoid_increments(y, x, dx, dim, "trapezoid")
    if increments is None:
        return y.sum(dim=dim) * 0
    return increments.sum(dim=dim)


trapz = trapezoid


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along ``dim`` (one element fewer than y there)."""
    y = _as_tensor(y)
    increments = _trapezoid_increments(y, x, dx, dim, "cumulative_trapezoid")
    if increments is None:
        return y.narrow(dim, 0, 0)
    return increments.cumsum(dim=dim)


def _trapezoid_increments(y, x, dx, dim, name):
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: x and dx")
    d = _axes(dim, y.ndim)[0]
    n = y.shape[d]
    if n == 0:
        return None
    left, right = y.narrow(d, 0, n - 1), y.narrow(d, 1, n - 1)
    mid = (left + right) * 0.5
    if x is None:
        return mid * (1.0 if dx is None else dx)
    xt = _as_tensor(x, like=y)
    if xt.ndim == 1:
        if xt.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = n
        xt = xt.reshape(*shape)
        spacing = xt.narrow(d, 1, n - 1) - xt.narrow(d, 0, n - 1)
    else:
        xd = _axes(dim, xt.ndim)[0]
        m = xt.shape[xd]
        spacing = xt.narrow(xd, 1, m - 1) - xt.narrow(xd, 0, m - 1)
    return mid * spacing


# ---- the methods -------------------------------------------------------------------------------
METHODS = ("nansum", "nanmean", "aminmax", "count_nonzero", "quantile", "nanquantile", "cov",
           "corrcoef")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
