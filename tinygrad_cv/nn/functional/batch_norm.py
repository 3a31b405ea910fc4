"""Batch normalisation (statistics per channel over (N, *spatial)) as one fused Function.

The math is ``normalization.py``'s; training updates the running statistics in place with
torch's convention ``running = (1 - momentum) * running + momentum * batch`` and the unbiased
batch variance ``var * M / (M - 1)``; evaluation normalises with the running statistics (then
``dx`` is simply ``dy * gamma * inv_std``).
"""
from __future__ import annotations

from ... import backend
from ...autograd import buffers
from ...autograd.function import Function


# Samples per chunk of the training passes: about 512 KB of x, so a chunk's temporaries stay
# in the core's cache between the steps that read them again.
CHUNK_BYTES = 1 << 19


def _channel_sum(a):
    """Per-channel sum of an (N, C, S) array: sums along the contiguous S, then over N."""
    return backend.get_array_module(a).einsum("ncs->nc", a).sum(axis=0)


def _channel_dot(a, b):
    """Per-channel ``sum(a * b)`` of (N, C, S) arrays without the product temporary: dot
    products along the contiguous S, then a sum over N."""
    xp = backend.get_array_module(a)
    return xp.einsum("ncs,ncs->nc", a, b).sum(axis=0)


def _chunks(x3):
    """Slices of the sample axis of x3 (N, C, S), each about ``CHUNK_BYTES``."""
    n = x3.shape[0]
    per = max(1, CHUNK_BYTES // max(1, x3[:1].nbytes))
    return [slice(s, min(n, s + per)) for s in range(0, n, per)]


class BatchNormFn(Function):
    """Fused batch normalisation over every axis but 1 of x (N, C, *).

    Works on the (N, C, S) view with per-channel (C,) statistics, so every broadcast is a
    scalar per contiguous row.  Saves x (which the graph keeps alive anyway), the mean and
    inv_std rather than xhat (an activation-sized buffer less per layer).

    Training forward, chunk by chunk of samples (``CHUNK_BYTES``, so a chunk is re-read from
    the cache, not from memory): ``mu = sum(x) / M`` (one pass), then ``y = x - mu`` written
    into y's buffer with ``sum((x - mu)^2)`` taken from it while it is in the cache, then
    ``y = y * scale + beta`` (``scale = gamma * inv_std``).  Training backward, with
    ``a = gamma * inv_std``, in two chunked passes::

        pass 1:  c = x - mu (into gx's buffer),  sum(dy),  sum(dy * c)
        pass 2:  gx = a * (dy - sum(dy) / M - c * inv_std^2 * sum(dy * c) / M)   (in place on c)

    (the module docstring's formula with ``g = gamma * dy``; ``sum(dy * xhat) = inv_std *
    sum(dy * c)`` and ``sum(dy)`` are also ``dgamma`` and ``dbeta``).  Outputs and gradients
    are written into reused buffers (``autograd/buffers.py``).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5, affine=True):
        xp = backend.get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        count = x3.shape[0] * x3.shape[2]
        y = buffers.empty_like(x3)
        if training:
            mean = _channel_sum(x3) * (1.0 / count)
            sq = xp.zeros((c,), dtype=x3.dtype)
            chunks = _chunks(x3)
            for blk in chunks:
                centered = xp.subtract(x3[blk], mean[:, None], out=y[blk])
                sq += _channel_dot(centered, centered)
            var = sq * (1.0 / count)
            inv_std = 1.0 / xp.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1.0 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype)
            if running_var is not None:
                unbiased = var * (count / max(count - 1, 1))
                running_var *= 1.0 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype)
            scale = inv_std * weight if affine else inv_std
            for blk in chunks:      # y = (x - mu) * scale + beta
                xp.multiply(y[blk], scale[:, None], out=y[blk])
                if affine:
                    y[blk] += bias[:, None]
        else:
            mean = running_mean.astype(x.dtype)
            inv_std = (1.0 / xp.sqrt(running_var + eps)).astype(x.dtype)
            # y = x * scale + shift with scale = gamma * inv_std, shift = beta - mean * scale
            scale = inv_std * weight if affine else inv_std
            shift = bias - mean * scale if affine else -mean * scale
            xp.multiply(x3, scale[:, None], out=y)
            y += shift[:, None]
        ctx.cfg = (count, training, affine)
        ctx.save_for_backward(x3, mean, inv_std, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy):
        x3, mean, inv_std, weight = ctx.saved_tensors
        count, training, affine = ctx.cfg
        needs = ctx.needs_input_grad
        xp = backend.get_array_module(dy)
        dy3 = dy.reshape(x3.shape)
        scale = inv_std * weight if affine else inv_std
        need_sums = training or (affine and (needs[1] or needs[2]))
        gx = gw = gb = None
        sum_dy = sum_dy_xhat = None
        if need_sums:
            # pass 1: x - mu into gx's buffer (or a scratch), with both sums from the cache
            out = buffers.empty_like(x3, dy3.dtype) if (training and needs[0]) else None
            chunks = _chunks(x3)
            sum_dy = xp.zeros((x3.shape[1],), dtype=dy3.dtype)
            sum_dy_c = xp.zeros((x3.shape[1],), dtype=dy3.dtype)
            for blk in chunks:
                dst = out[blk] if out is not None else None
                centered = xp.subtract(x3[blk], mean[:, None], out=dst)
                sum_dy += _channel_sum(dy3[blk])
                sum_dy_c += _channel_dot(dy3[blk], centered)
            sum_dy_xhat = sum_dy_c * inv_std
        if needs[0]:
            if training:
                # pass 2: gx = a * (dy - sum(dy)/M - c * inv_std^2 * sum(dy * c)/M), in place on c
                k_c = (inv_std * inv_std * sum_dy_c * (1.0 / count))[:, None]
                mean_dy = (sum_dy * (1.0 / count))[:, None]
                for blk in chunks:
                    g = out[blk]
                    xp.multiply(g, k_c, out=g)
                    xp.subtract(dy3[blk], g, out=g)
                    xp.subtract(g, mean_dy, out=g)
                    xp.multiply(g, scale[:, None], out=g)
                gx = out.reshape(dy.shape)
            else:
                gx = xp.multiply(dy3, scale[:, None], out=buffers.empty_like(dy3))
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
