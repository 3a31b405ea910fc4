"""Batch normalisation whose statistics are those of the batch of every process together
(``nn.SyncBatchNorm`` in training, data-parallel over ranks).

Each rank holds x_r (N_r, C, *); per channel, with M = sum_r N_r * S the global count::

    mean = sum_r sum(x_r) / M                       (all-reduce 1: counts and sums)
    var  = sum_r sum((x_r - mean)^2) / M            (all-reduce 2: centred squares, biased)
    y_r  = (x_r - mean) / sqrt(var + eps) * weight + bias

The two-step variance avoids E[x^2] - mean^2's cancellation; the sums are accumulated in
float64.  The running statistics move as torch's: ``running = (1 - m) running + m batch``
with the unbiased ``var * M / (M - 1)``, identically on every rank.

Backward (the global batch's gradient, with xhat = (x - mean) / std)::

    sum_dy, sum_dy_xhat = all-reduce of the ranks' per-channel sums  (all-reduce 3)
    dx_r = weight / std * (dy_r - sum_dy / M - xhat_r * sum_dy_xhat / M)
    dweight_r = sum(dy_r * xhat_r),  dbias_r = sum(dy_r)                (this rank's part)

so x's gradient includes every rank's effect through the shared mean and variance, and the
weight and bias gradients are each rank's share, as torch's (data-parallel training averages
them over ranks like every other parameter's).  ``all_reduce(array)`` is the caller's:
it sums a float64 array over the ranks in place (every rank calls it in the same order).
First order (the backward works on raw arrays).
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function

_F64 = "float64"


def _channel_sums(a):
    """Per-channel sums of a (N, C, S) array: per-(sample, channel) sums along the contiguous
    S in a's dtype (no temporary), then over the samples in float64: (C,) float64."""
    return backend.get_array_module(a).einsum("ncs->nc", a).sum(axis=0, dtype=_F64)


def _channel_dots(a, b):
    """Per-channel ``sum(a * b)`` of (N, C, S) arrays, without the product temporary."""
    return backend.get_array_module(a).einsum("ncs,ncs->nc", a, b).sum(axis=0, dtype=_F64)


class SyncBatchNormFn(Function):
    """The fused forward/backward above; inputs x (N, C, *), weight and bias (C,) or None.
    Saves x, the mean and 1/std (xhat is recomputed in the backward)."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, momentum, eps, all_reduce):
        xp = backend.get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        stats = xp.empty(c + 1, dtype=_F64)
        stats[:c] = _channel_sums(x3)
        stats[c] = n * x3.shape[2]
        all_reduce(stats)
        count = float(stats[c])
        if count <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when "
                             f"training over all ranks, got {int(count)}")
        mean = stats[:c] / count
        mean_x = mean.astype(x.dtype)[:, None]
        y = xp.subtract(x3, mean_x)                  # x - mean, then y in place
        squares = _channel_dots(y, y)
        all_reduce(squares)
        var = squares / count
        inv_std = 1.0 / xp.sqrt(var + eps)
        scale = inv_std if weight is None else inv_std * weight
        y *= scale.astype(x.dtype)[:, None]
        if bias is not None:
            y += bias[:, None]
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += (momentum * mean).astype(running_mean.dtype)
        if running_var is not None:
            running_var *= 1.0 - momentum
            running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)
        ctx.count, ctx.all_reduce = count, all_reduce
        ctx.save_for_backward(x3, mean_x, inv_std.astype(x.dtype), weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy):
        x3, mean_x, inv_std, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        xp = backend.get_array_module(dy)
        c = x3.shape[1]
        dy3 = dy.reshape(x3.shape)
        centred = xp.subtract(x3, mean_x)            # becomes gx in place
        local = xp.empty(2 * c, dtype=_F64)
        local[:c] = _channel_sums(dy3)
        local[c:] = _channel_dots(dy3, centred) * inv_std      # sum(dy * xhat)
        gw = local[c:].astype(dy.dtype) if weight is not None and needs[1] else None
        gb = local[:c].astype(dy.dtype) if len(needs) > 2 and needs[2] else None
        gx = None
        ctx.all_reduce(local)           # every rank takes part, whatever it needs
        if needs[0]:
            mean_dy = (local[:c] / ctx.count).astype(dy.dtype)[:, None]
            k = (inv_std * local[c:] / ctx.count).astype(dy.dtype)[:, None]   # xhat factor
            scale = (inv_std if weight is None else inv_std * weight)[:, None]
            # gx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = centred * inv_std
            centred *= k
            xp.subtract(dy3, centred, out=centred)
            centred -= mean_dy
            centred *= scale
            gx = centred.reshape(dy.shape)
        return gx, gw, gb


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, all_reduce):
    """Training-mode batch norm of ``input`` (N, C, *) with the statistics of every rank's
    batch (``all_reduce(float64 array)`` sums over the ranks in place); the running statistics
    (Tensors or None) are updated in place.  Returns y of input's shape."""
    if input.ndim < 2:
        raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {input.ndim}D input)")
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
    return SyncBatchNormFn.apply(input, weight, bias, running_mean=rm, running_var=rv,
                                 momentum=float(momentum), eps=float(eps),
                                 all_reduce=all_reduce)
