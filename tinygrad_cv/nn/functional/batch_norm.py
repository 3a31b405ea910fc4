"""Batch normalisation (statistics per channel over (N, *spatial)) as one fused Function.

The math is ``normalization.py``'s; training updates the running statistics in place with
torch's convention ``running = (1 - momentum) * running + momentum * batch`` and the unbiased
batch variance ``var * M / (M - 1)``; evaluation normalises with the running statistics (then
``dx`` is simply ``dy * gamma * inv_std``).
"""
from __future__ import annotations

from ... import backend, threads
from ...autograd import buffers
from ...autograd.function import Function
from ...ops.elementwise import elementwise_work


# Samples per chunk of the training passes: about 512 KB of x, so a chunk's temporaries stay
# in the core's cache between the steps that read them again.
CHUNK_BYTES = 1 << 19
_SCRATCH_SLOT = "batch_norm"


def _sample_sums(a):
    """Per-(sample, channel) sums of an (N, C, S) array along the contiguous S: (N, C)."""
    return backend.get_array_module(a).einsum("ncs->nc", a)


def _sample_dots(a, b):
    """Per-(sample, channel) ``sum_s a * b`` of (N, C, S) arrays without the product
    temporary: (N, C)."""
    return backend.get_array_module(a).einsum("ncs,ncs->nc", a, b)


def _chunks(x3, start=0, stop=None):
    """Slices of samples [start, stop) of x3 (N, C, S), each about ``CHUNK_BYTES``."""
    stop = x3.shape[0] if stop is None else stop
    per = max(1, CHUNK_BYTES // max(1, x3[:1].nbytes))
    return [slice(s, min(stop, s + per)) for s in range(start, stop, per)]


def _over_samples(fn, x3, passes):
    """``fn(chunk)`` for every chunk of samples of x3, the samples split over the intra-op
    threads (each part runs its own chunks; ``passes`` over x3 weigh the split)."""
    def part(start, stop):
        for blk in _chunks(x3, start, stop):
            fn(blk)

    threads.for_ranges(part, x3.shape[0], elementwise_work(x3.size, passes), like=x3)


class BatchNormFn(Function):
    """Fused batch normalisation over every axis but 1 of x (N, C, *).

    Works on the (N, C, S) view with per-channel (C,) statistics, so every broadcast is a
    scalar per contiguous row.  Saves x (which the graph keeps alive anyway), the mean (as
    m and r below) and inv_std rather than xhat (an activation-sized buffer less per layer).

    Training forward, chunk by chunk of samples (``CHUNK_BYTES``, so a chunk is re-read from
    the cache, not from memory): ``m = sum(x) / M`` rounded to x's dtype (one pass), then
    ``c = x - m`` written into y's buffer with ``sum(c)`` and ``sum(c^2)`` taken from it while
    it is in the cache, so that::

        mu = m + r,  r = sum(c) / M,   var = sum(c^2) / M - r^2

    then ``y = c * scale + (beta - r * scale)`` (``scale = gamma * inv_std``).  The rounding of
    m is what r takes back: a float32 mean of values around 40 is off by up to 2e-6, which
    ``x - mu`` would carry into every centred value (dgamma and dx 20-40x further from the
    exact values than torch's, whose sums run in double), while ``x - m`` is exact for x
    within a factor 2 of m.  Training backward, with ``a = gamma * inv_std``, in two chunked
    passes::

        pass 1:  c = x - m (into gx's buffer),  sum(dy),  sum(dy * (x - mu)) = sum(dy * c) - r sum(dy)
        pass 2:  gx = a * (dy - c k - (sum(dy) / M - r k)),  k = inv_std^2 sum(dy * (x - mu)) / M

    (in place on c; the module docstring's formula with ``g = gamma * dy``; ``sum(dy * xhat)
    = inv_std * sum(dy * (x - mu))`` and ``sum(dy)`` are also ``dgamma`` and ``dbeta``).
    Outputs and gradients are written into reused buffers (``autograd/buffers.py``).

    Threads: every pass splits the samples over the intra-op threads (``_over_samples``), each
    part running its own chunks.  The sums are taken per (sample, channel) into (N, C) arrays
    allocated before the split (each part writes its rows) and summed over N afterwards, so
    the statistics do not depend on the thread count.
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
            per_sample = xp.empty((n, c), dtype=x3.dtype)

            def sums(blk):
                per_sample[blk] = _sample_sums(x3[blk])

            _over_samples(sums, x3, 1)
            shift = (per_sample.sum(axis=0) * (1.0 / count)).astype(x3.dtype)       # m
            per_sample_c = xp.empty((n, c), dtype=x3.dtype)

            def squares(blk):
                centered = xp.subtract(x3[blk], shift[:, None], out=y[blk])
                per_sample_c[blk] = _sample_sums(centered)
                per_sample[blk] = _sample_dots(centered, centered)

            _over_samples(squares, x3, 3)
            residual = per_sample_c.sum(axis=0) * (1.0 / count)                     # r
            var = xp.maximum(per_sample.sum(axis=0) * (1.0 / count) - residual * residual, 0)
            inv_std = 1.0 / xp.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1.0 - momentum
                running_mean += momentum * (shift.astype(running_mean.dtype)
                                            + residual.astype(running_mean.dtype))
            if running_var is not None:
                unbiased = var * (count / max(count - 1, 1))
                running_var *= 1.0 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype)
            scale = inv_std * weight if affine else inv_std
            offset = (bias - residual * scale) if affine else -residual * scale

            def affine_map(blk):      # y = (x - m) * scale + (beta - r * scale)
                xp.multiply(y[blk], scale[:, None], out=y[blk])
                y[blk] += offset[:, None]

            _over_samples(affine_map, x3, 2)
        else:
            shift = running_mean.astype(x.dtype)                  # m = mu, r = 0
            residual = xp.zeros_like(shift)
            inv_std = (1.0 / xp.sqrt(running_var + eps)).astype(x.dtype)
            # y = x * scale + offset with scale = gamma * inv_std, offset = beta - mu * scale
            scale = inv_std * weight if affine else inv_std
            offset = bias - shift * scale if affine else -shift * scale

            def affine_map(blk):
                xp.multiply(x3[blk], scale[:, None], out=y[blk])
                y[blk] += offset[:, None]

            _over_samples(affine_map, x3, 2)
        ctx.cfg = (count, training, affine)
        ctx.save_for_backward(x3, shift, residual, inv_std, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy):
        x3, shift, residual, inv_std, weight = ctx.saved_tensors
        count, training, affine = ctx.cfg
        needs = ctx.needs_input_grad
        xp = backend.get_array_module(dy)
        dy3 = dy.reshape(x3.shape)
        scale = inv_std * weight if affine else inv_std
        need_sums = training or (affine and (needs[1] or needs[2]))
        gx = gw = gb = None
        sum_dy = sum_dy_xhat = None
        if need_sums:
            # pass 1: c = x - m into gx's buffer (or a scratch), with both sums from the cache
            out = buffers.empty_like(x3, dy3.dtype) if (training and needs[0]) else None
            n, c = x3.shape[0], x3.shape[1]
            per_dy = xp.empty((n, c), dtype=dy3.dtype)
            per_dy_c = xp.empty((n, c), dtype=dy3.dtype)

            def sums(blk):
                if out is not None:
                    dst = out[blk]
                else:
                    dst = threads.scratch(x3[blk].shape, dy3.dtype, x3, slot=_SCRATCH_SLOT)
                centered = xp.subtract(x3[blk], shift[:, None], out=dst)
                per_dy[blk] = _sample_sums(dy3[blk])
                per_dy_c[blk] = _sample_dots(dy3[blk], centered)

            _over_samples(sums, x3, 3)
            sum_dy = per_dy.sum(axis=0)
            sum_dy_c = per_dy_c.sum(axis=0) - residual * sum_dy        # sum(dy * (x - mu))
            sum_dy_xhat = sum_dy_c * inv_std
        if needs[0]:
            if training:
                # pass 2: gx = a * (dy - c k - (sum(dy)/M - r k)), in place on c
                k = inv_std * inv_std * sum_dy_c * (1.0 / count)
                k_c = k[:, None]
                mean_dy = (sum_dy * (1.0 / count) - residual * k)[:, None]

                def gradient(blk):
                    g = out[blk]
                    xp.multiply(g, k_c, out=g)
                    xp.subtract(dy3[blk], g, out=g)
                    xp.subtract(g, mean_dy, out=g)
                    xp.multiply(g, scale[:, None], out=g)

                _over_samples(gradient, x3, 4)
                gx = out.reshape(dy.shape)
            else:
                gx = buffers.empty_like(dy3)

                def gradient(blk):
                    xp.multiply(dy3[blk], scale[:, None], out=gx[blk])

                _over_samples(gradient, x3, 1)
                gx = gx.reshape(dy.shape)
        if affine and needs[1]:
            gw = sum_dy_xhat
        if affine and needs[2]:
            gb = sum_dy
        return gx, gw, gb


def _empty_batch_norm(input, weight, bias):
    """batch_norm of an input with no values: the input's (empty) shape through the affine
    map, so that ``weight`` and ``bias`` get their (zero) gradients, as torch."""
    shape = (1, -1) + (1,) * (input.ndim - 2)
    out = input * 1.0
    if weight is not None:
        out = out * weight.reshape(*shape)
    if bias is not None:
        out = out + bias.reshape(*shape)
    return out


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
    c = input.shape[1]
    per_channel = input.numel() // c if c else 0
    if training and per_channel == 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {tuple(input.shape)}")
    xp = backend.get_array_module(input)
    affine = weight is not None or bias is not None
    if per_channel == 0:     # an empty batch: an empty output, the statistics untouched
        return _empty_batch_norm(input, weight, bias)
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
