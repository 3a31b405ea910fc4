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

from ... import backend
from ...autograd.function import Function


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


def _rows_forward(x2, weight, bias, eps):
    """Layer norm of the rows of x2 (R, M) -> (y, xhat, inv_std (R, 1)); sums as GEMVs."""
    xp = backend.get_array_module(x2)
    M = x2.shape[1]
    mean = _row_sums(x2, xp.full((M,), 1.0 / M, dtype=x2.dtype))
    xhat = x2 - mean[:, None]
    var = _row_dots(xhat, xhat)
    var *= 1.0 / M
    var += eps
    inv_std = xp.sqrt(var)
    xp.divide(1.0, inv_std, out=inv_std)
    inv_std = inv_std[:, None]
    xhat *= inv_std
    if weight is not None:
        y = xhat * weight
    else:
        y = xhat.copy()
    if bias is not None:
        y += bias
    return y, xhat, inv_std


def _rows_backward(dy, xhat, inv_std, weight, needs):
    """(dx, dgamma, dbeta) of _rows_forward; every sum is a GEMV::

        dx = inv_std (g - mean(g) - xhat mean(g xhat)),  g = dy gamma,
        mean(g) = dy @ gamma / M,   mean(g xhat) = (dy xhat) @ gamma / M
    """
    xp = backend.get_array_module(dy)
    R, M = dy.shape
    dx = dgamma = dbeta = None
    dy_xhat = dy * xhat if (needs[0] or (weight is not None and needs[1])) else None
    if weight is not None and needs[1]:
        dgamma = xp.ones(R, dtype=dy.dtype) @ dy_xhat
    if len(needs) > 2 and needs[2]:
        dbeta = xp.ones(R, dtype=dy.dtype) @ dy
    if needs[0]:
        if weight is not None:
            mean_gx = _row_sums(dy_xhat, weight)
            mean_g = _row_sums(dy, weight)
            dx = dy * weight
        else:
            mean_gx = _row_sums(dy_xhat, xp.ones(M, dtype=dy.dtype))
            mean_g = _row_sums(dy, xp.ones(M, dtype=dy.dtype))
            dx = dy.copy()
        mean_gx *= 1.0 / M
        mean_g *= 1.0 / M
        dx -= mean_g[:, None]
        xp.multiply(xhat, mean_gx[:, None], out=dy_xhat)
        dx -= dy_xhat
        dx *= inv_std
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
