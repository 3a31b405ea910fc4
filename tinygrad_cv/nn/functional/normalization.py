"""Normalisation shared by batch, layer and group normalisation, and layer_norm itself.

All three normalise ``x`` over a set of axes holding ``M`` elements per statistic::

    mu = mean(x),  var = mean((x - mu)^2)  (biased),  inv_std = 1 / sqrt(var + eps)
    xhat = (x - mu) * inv_std,             y = gamma * xhat + beta

and share the simplified backward (``g = dL/dxhat = dy * gamma``)::

    dx = inv_std / M * (M * g - sum(g) - xhat * sum(g * xhat))
    dgamma = sum(dy * xhat),   dbeta = sum(dy)   (over every axis but the channel axis)

* layer_norm (here): statistics per sample over the trailing ``normalized_shape`` axes;
  gamma/beta of that shape.
* batch_norm (``batch_norm.py``): statistics per channel over (N, *spatial).
* group_norm (``group_norm.py``): (N, C, *) viewed as (N, G, C//G, *), statistics per (n, g).
"""
from __future__ import annotations

from ... import backend, threads
from ...autograd import buffers
from ...autograd.function import Function
from ...ops.elementwise import elementwise_work

# Passes over memory of layer norm's row path (what a split of its rows is weighed by).
FORWARD_PASSES = 6
BACKWARD_PASSES = 8


def _normalize_backward(g, xhat, inv_std, axes, count):
    """dx = inv_std / M * (M g - sum(g) - xhat * sum(g xhat)), sums over ``axes`` (kept)."""
    sum_g = g.sum(axis=axes, keepdims=True)
    sum_gx = (g * xhat).sum(axis=axes, keepdims=True)
    dx = g * count
    dx -= sum_g
    dx -= xhat * sum_gx
    dx *= inv_std * (1.0 / count)
    return dx


def _moments(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    return mean, centered, var


def _row_sums(a, w):
    """a (R, M) @ w (M,): the weighted sum of every row as one GEMV (NumPy's reductions along
    a short last axis are several times slower)."""
    return a @ w


def _row_dots(a, b):
    """sum_j a[r, j] b[r, j] for every row r of (R, M) arrays, without an (R, M) temporary."""
    return backend.get_array_module(a).matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


def _row_ranges(a, passes):
    """The [start, stop) row ranges of a (R, M) that the intra-op threads take (one range,
    the whole, when ``threads.usable`` says one thread)."""
    return threads.split(a.shape[0], threads.usable(a, elementwise_work(a.size, passes)))


def _rows_forward(x2, weight, bias, eps):
    """Layer norm of the rows of x2 (R, M) -> (y, xhat, inv_std (R, 1)); sums as GEMVs.  The
    rows split over the intra-op threads; y, xhat and inv_std are allocated before."""
    xp = backend.get_array_module(x2)
    M = x2.shape[1]
    xhat = buffers.empty(x2.shape, x2.dtype, x2)
    y = buffers.empty(x2.shape, x2.dtype, x2)
    inv_std = xp.empty((x2.shape[0], 1), dtype=x2.dtype)
    ones_m = xp.full((M,), 1.0 / M, dtype=x2.dtype)

    def part(start, stop):
        x, xh, r, out = x2[start:stop], xhat[start:stop], inv_std[start:stop, 0], y[start:stop]
        mean = _row_sums(x, ones_m)
        xp.subtract(x, mean[:, None], out=xh)
        var = _row_dots(xh, xh)
        var *= 1.0 / M
        var += eps
        xp.sqrt(var, out=r)
        xp.divide(1.0, r, out=r)
        xh *= r[:, None]
        if weight is not None:
            xp.multiply(xh, weight, out=out)
        else:
            out[...] = xh
        if bias is not None:
            out += bias

    threads.run([lambda s=s, e=e: part(s, e) for s, e in _row_ranges(x2, FORWARD_PASSES)])
    return y, xhat, inv_std


def _rows_backward(dy, xhat, inv_std, weight, needs):
    """(dx, dgamma, dbeta) of _rows_forward; every sum is a GEMV::

        dx = inv_std (g - mean(g) - xhat mean(g xhat)),  g = dy gamma,
        mean(g) = dy @ gamma / M,   mean(g xhat) = (dy xhat) @ gamma / M

    The rows split over the intra-op threads: each part writes its rows of dx and its own
    partial dgamma/dbeta (sums over its rows; allocated before the split, added after)."""
    xp = backend.get_array_module(dy)
    R, M = dy.shape
    need_gamma = weight is not None and needs[1]
    need_beta = len(needs) > 2 and needs[2]
    if not (needs[0] or need_gamma or need_beta):
        return None, None, None
    ranges = _row_ranges(dy, BACKWARD_PASSES)
    partial_gamma = xp.empty((len(ranges), M), dtype=dy.dtype) if need_gamma else None
    partial_beta = xp.empty((len(ranges), M), dtype=dy.dtype) if need_beta else None
    dx = buffers.empty(dy.shape, dy.dtype, dy) if needs[0] else None
    gamma = weight if weight is not None else xp.ones(M, dtype=dy.dtype)

    def part(i, start, stop):
        d, xh = dy[start:stop], xhat[start:stop]
        dy_xhat = d * xh if (needs[0] or need_gamma) else None
        if need_gamma:
            xp.matmul(xp.ones(stop - start, dtype=dy.dtype), dy_xhat, out=partial_gamma[i])
        if need_beta:
            xp.matmul(xp.ones(stop - start, dtype=dy.dtype), d, out=partial_beta[i])
        if dx is None:
            return
        out = dx[start:stop]
        mean_gx = _row_sums(dy_xhat, gamma)
        mean_g = _row_sums(d, gamma)
        if weight is not None:
            xp.multiply(d, weight, out=out)
        else:
            out[...] = d
        mean_gx *= 1.0 / M
        mean_g *= 1.0 / M
        out -= mean_g[:, None]
        xp.multiply(xh, mean_gx[:, None], out=dy_xhat)
        out -= dy_xhat
        out *= inv_std[start:stop]

    threads.run([lambda i=i, s=s, e=e: part(i, s, e) for i, (s, e) in enumerate(ranges)])
    dgamma = None if partial_gamma is None else threads.add_partials(partial_gamma)
    dbeta = None if partial_beta is None else threads.add_partials(partial_beta)
    return dx, dgamma, dbeta


class _GroupedNormFn(Function):
    """Normalisation of x viewed as ``stat_shape`` over ``axes``, then a per-``param_shape``
    affine map (shared by layer_norm and group_norm).

    Layer norm (statistics over the last axis of a 2-D ``stat_shape`` whose features the
    parameters cover) takes the row path (``_rows_forward``/``_rows_backward``: sums as GEMVs,
    fewer passes); other views the general one."""

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, stat_shape=None, axes=None, param_shape=None,
                param_sum_axes=None, eps=1e-5):
        xp = backend.get_array_module(x)
        xs = x.reshape(stat_shape)
        count = 1
        for a in axes:
            count *= stat_shape[a]
        rows = (len(stat_shape) == 2 and tuple(axes) == (1,) and count > 0 and stat_shape[0] > 0
                and all(p is None or p.size == count for p in (weight, bias)))
        ctx.cfg = (stat_shape, axes, param_shape, count, param_sum_axes, rows)
        if rows:
            y, xhat, inv_std = _rows_forward(
                xs, None if weight is None else weight.reshape(count),
                None if bias is None else bias.reshape(count), eps)
            ctx.save_for_backward(xhat, inv_std, weight)
            return y.reshape(x.shape)
        mean, centered, var = _moments(xs, axes)
        inv_std = 1.0 / xp.sqrt(var + eps)
        xhat = centered
        xhat *= inv_std
        xhat = xhat.reshape(x.shape)
        if weight is not None:
            y = xhat * weight.reshape(param_shape)
        else:
            y = xhat.copy()
        if bias is not None:
            y += bias.reshape(param_shape)
        ctx.save_for_backward(xhat, inv_std, weight)
        return y

    @staticmethod
    def backward(ctx, dy):
        xhat, inv_std, weight = ctx.saved_tensors
        stat_shape, axes, param_shape, count, sum_axes, rows = ctx.cfg
        needs = ctx.needs_input_grad
        if rows:
            dx, gw, gb = _rows_backward(dy.reshape(stat_shape), xhat, inv_std,
                                        None if weight is None else weight.reshape(count),
                                        needs)
            return (None if dx is None else dx.reshape(dy.shape),
                    None if gw is None else gw.reshape(weight.shape),
                    None if gb is None else gb.reshape(param_shape))
        gx = gw = gb = None
        if needs[0]:
            g = dy * weight.reshape(param_shape) if weight is not None else dy
            gx = _normalize_backward(g.reshape(stat_shape), xhat.reshape(stat_shape), inv_std,
                                     axes, count).reshape(dy.shape)
        if weight is not None and needs[1]:
            gw = (dy * xhat).sum(axis=sum_axes).reshape(weight.shape)
        if len(needs) > 2 and needs[2]:
            gb = dy.sum(axis=sum_axes)
        return gx, gw, gb


def _apply_grouped(x, weight, bias, stat_shape, axes, param_shape, param_sum_axes, eps):
    return _GroupedNormFn.apply(x, weight, bias, stat_shape=stat_shape, axes=axes,
                                param_shape=param_shape, param_sum_axes=param_sum_axes,
                                eps=float(eps))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` axes of ``input`` (per sample)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise ValueError(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                         f"got shape {tuple(input.shape)}")
    lead = input.shape[:input.ndim - k]
    rows = 1
    for s in lead:
        rows *= s
    size = 1
    for s in normalized_shape:
        size *= s
    return _apply_grouped(input, weight, bias, (rows, size), (1,), normalized_shape,
                          tuple(range(len(lead))), eps)
