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


class _GroupedNormFn(Function):
    """Normalisation of x viewed as ``stat_shape`` over ``axes``, then a per-``param_shape``
    affine map (shared by layer_norm and group_norm)."""

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, stat_shape=None, axes=None, param_shape=None,
                param_sum_axes=None, eps=1e-5):
        xp = backend.get_array_module(x)
        xs = x.reshape(stat_shape)
        count = 1
        for a in axes:
            count *= stat_shape[a]
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
        ctx.cfg = (stat_shape, axes, param_shape, count, param_sum_axes)
        ctx.save_for_backward(xhat, inv_std, weight)
        return y

    @staticmethod
    def backward(ctx, dy):
        xhat, inv_std, weight = ctx.saved_tensors
        stat_shape, axes, param_shape, count, sum_axes = ctx.cfg
        needs = ctx.needs_input_grad
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
