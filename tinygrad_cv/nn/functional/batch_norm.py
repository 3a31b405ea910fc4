"""Batch normalisation (statistics per channel over (N, *spatial)) as one fused Function.

The math is ``normalization.py``'s; training updates the running statistics in place with
torch's convention ``running = (1 - momentum) * running + momentum * batch`` and the unbiased
batch variance ``var * M / (M - 1)``; evaluation normalises with the running statistics (then
``dx`` is simply ``dy * gamma * inv_std``).
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function


def _channel_sum(a):
    """Per-channel sum of an (N, C, S) array: sums along the contiguous S, then over N."""
    return backend.get_array_module(a).einsum("ncs->nc", a).sum(axis=0)


def _channel_dot(a, b):
    """Per-channel ``sum(a * b)`` of (N, C, S) arrays without the product temporary: dot
    products along the contiguous S, then a sum over N."""
    xp = backend.get_array_module(a)
    return xp.einsum("ncs,ncs->nc", a, b).sum(axis=0)


class BatchNormFn(Function):
    """Fused batch normalisation over every axis but 1 of x (N, C, *).

    Works on the (N, C, S) view with per-channel (C,) statistics, so every broadcast is a
    scalar per contiguous row.  Saves x (which the graph keeps alive anyway), the mean and
    inv_std rather than xhat (an activation-sized buffer less per layer); the forward computes
    ``y = x * scale + shift`` (``scale = gamma * inv_std``, ``shift = beta - mu * scale``, as
    torch's CPU kernel does) in the buffer of ``x - mu``.  Training backward, with
    ``a = gamma * inv_std`` and
    ``x - mu`` recomputed::

        sum(dy * xhat) = inv_std * sum(dy * (x - mu))
        dx = a * dy - (x - mu) * (a * inv_std * sum(dy * xhat) / M) - a * sum(dy) / M

    (the module docstring's formula with ``g = gamma * dy`` multiplied out), where the two
    sums are also ``dgamma`` and ``dbeta``.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5, affine=True):
        xp = backend.get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        count = x3.shape[0] * x3.shape[2]
        if training:
            mean = _channel_sum(x3) * (1.0 / count)
            centered = x3 - mean[:, None]
            var = _channel_dot(centered, centered) * (1.0 / count)
            inv_std = 1.0 / xp.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1.0 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype)
            if running_var is not None:
                unbiased = var * (count / max(count - 1, 1))
                running_var *= 1.0 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype)
        else:
            mean = running_mean.astype(x.dtype)
            inv_std = (1.0 / xp.sqrt(running_var + eps)).astype(x.dtype)
            centered = xp.empty(x3.shape, dtype=x3.dtype)
        # y = x * scale + shift with scale = gamma * inv_std, shift = beta - mean * scale
        # (two passes over x, written into the buffer of x - mu when training)
        scale = inv_std * weight if affine else inv_std
        shift = bias - mean * scale if affine else -mean * scale
        y = xp.multiply(x3, scale[:, None], out=centered)
        y += shift[:, None]
        ctx.cfg = (count, training, affine)
        ctx.save_for_backward(x3, mean, inv_std, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy):
        x3, mean, inv_std, weight = ctx.saved_tensors
        count, training, affine = ctx.cfg
        needs = ctx.needs_input_grad
        dy3 = dy.reshape(x3.shape)
        scale = inv_std * weight if affine else inv_std
        need_sums = training or (affine and (needs[1] or needs[2]))
        sum_dy = _channel_sum(dy3) if need_sums else None
        centered = sum_dy_xhat = None
        if need_sums:
            centered = x3 - mean[:, None]
            sum_dy_xhat = _channel_dot(dy3, centered) * inv_std
        gx = gw = gb = None
        if needs[0]:
            gx = dy3 * scale[:, None]
            if training:
                centered *= (scale * inv_std * sum_dy_xhat * (1.0 / count))[:, None]
                centered += (scale * sum_dy * (1.0 / count))[:, None]
                gx -= centered
            gx = gx.reshape(dy.shape)
        if affine and needs[1]:
            gw = sum_dy_xhat
        if affine and needs[2]:
            gb = sum_dy
        return gx, gw, gb


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """torch.nn.functional.batch_norm: (N, C, *) normalised per channel.

    With ``training`` the batch statistics are used and ``running_mean``/``running_var`` (when
    given) are updated in place; otherwise the running statistics are used.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got shape {tuple(input.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    if training and input.numel() // input.shape[1] <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {tuple(input.shape)}")
    xp = backend.get_array_module(input)
    affine = weight is not None or bias is not None
    c = input.shape[1]
    if affine:
        if weight is None:
            weight = xp.ones(c, dtype=input.dtype)
        if bias is None:
            bias = xp.zeros(c, dtype=input.dtype)
    rm = running_mean.array if hasattr(running_mean, "_tensor_marker") else running_mean
    rv = running_var.array if hasattr(running_var, "_tensor_marker") else running_var
    args = (input, weight, bias) if affine else (input, None, None)
    return BatchNormFn.apply(*args, running_mean=rm, running_var=rv, training=bool(training),
                             momentum=float(momentum), eps=float(eps), affine=affine)
