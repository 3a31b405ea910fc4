"""Group normalisation: (N, C, *) viewed as (N, G, C // G, *), statistics per (n, g),
gamma/beta per channel (the math is ``normalization.py``'s)."""
from __future__ import annotations

from ... import backend, threads
from ...autograd import buffers
from ...autograd.function import Function
from ...ops.elementwise import elementwise_work
from .normalization import _apply_grouped

# Passes over memory of the values (``elementwise_work``: what a split is weighed by; forward:
# subtract, two sums, scale, shift; backward: subtract, two sums, scale, shift, the dy * a
# product and its add).
FORWARD_PASSES = 5
BACKWARD_PASSES = 7
_SCRATCH_SLOT = "group_norm"


def _channels_to_end(ndim):
    """The axis order that moves axis 1 (channels) of an ``ndim``-axis array to the end (a
    plain transpose: ``numpy.moveaxis`` costs several microseconds of Python per call)."""
    return (0,) + tuple(range(2, ndim)) + (1,)


def _is_channels_last(x):
    """True when x (N, C, *) is stored channels-last: moving the channel axis to the end gives
    a C-contiguous array (and x itself is not C-contiguous)."""
    if x.ndim < 3 or x.flags.c_contiguous:
        return False
    return x.transpose(_channels_to_end(x.ndim)).flags.c_contiguous


def _rows(a, channels_last):
    """a (N, C, *) as (N, S, C) (channels-last) or (N, C, S): a view when ``a`` has that
    layout, else one copy."""
    n, c = a.shape[0], a.shape[1]
    if channels_last:
        return a.transpose(_channels_to_end(a.ndim)).reshape(n, -1, c)
    return a.reshape(n, c, -1)


def _unrows(a, shape, channels_last):
    """Inverse of ``_rows``: (N, S, C) or (N, C, S) -> the (N, C, *) ``shape`` (a view)."""
    if channels_last:
        ndim = len(shape)
        return a.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)).transpose(
            (0, ndim - 1) + tuple(range(1, ndim - 1)))
    return a.reshape(shape)


class GroupNormFn(Function):
    """Fused group normalisation of x (N, C, *) with statistics per (n, g) over the Cg = C / G
    channels of group g and their S positions (M = Cg * S values each).

    Layouts: x in channels-last memory (the column convolution's output) is worked on as its
    free (N, S, C) view and y is returned in the same layout; otherwise as (N, C, S).  The
    per-(n, c) sums below are einsums over S in either layout (no temporaries).

    Forward, shifted by one sample value per group (``k[n, g] = x[n, first channel of g,
    first position]``) so that float32 sums keep their digits when |mean| >> std::

        c0 = x - k,  m0 = sum c0 / M,  var = sum c0^2 / M - m0^2,  r = 1 / sqrt(var + eps)
        y = c0 * a + (beta - m0 a),    a = r gamma       (in the buffer of c0)

    (``mean = k + m0``).  Saves x and the (N, G) statistics.

    Backward, with the centred input ``xc = x - mean`` (recomputed: the multiplied-out form
    ``x * k1 + k0`` cancels catastrophically when |mean| >> std), per-(n, c) sums
    ``A = sum_s dy``, ``B = r sum_s dy xc`` (= sum_s dy xhat, dgamma's terms)::

        mean_g(g) = sum_{c in g} gamma_c A / M,   mean_g(g xhat) = sum_{c in g} gamma_c B / M
        dx = a dy + xc * (-r^2 mean(g xhat)) - r mean(g)

    ``dgamma = sum_n B``, ``dbeta = sum_n A``.  dx has the layout x had.

    Threads: everything above is per sample but the last two sums, so both passes split the
    samples over the intra-op threads (``threads.for_ranges``); each part writes its rows of y
    (or dx), of the (N, G) statistics and of the per-sample (N, C) sums A and B, all allocated
    before the split, and dgamma/dbeta sum B and A over N afterwards.  The result does not
    depend on the thread count.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, groups=1, eps=1e-5):
        xp = backend.get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        cg = c // groups
        last = _is_channels_last(x)
        xv = _rows(x, last)                                            # (N, S, C) or (N, C, S)
        s = xv.shape[1] if last else xv.shape[2]
        count = cg * s
        sub = "nsc" if last else "ncs"
        expand = (lambda a: a[:, None, :]) if last else (lambda a: a[:, :, None])
        y = buffers.empty(xv.shape, xv.dtype, xv)
        mean = xp.empty((n, groups), dtype=xv.dtype)
        inv_std = xp.empty((n, groups), dtype=xv.dtype)

        def part(start, stop):            # samples [start, stop): y, mean and inv_std rows
            m = stop - start
            rep = lambda a: a.repeat(cg, axis=1)                      # (m, G) -> (m, C)
            group_sum = lambda a: a.reshape(m, groups, cg).sum(axis=2)  # (m, C) -> (m, G)
            xs = xv[start:stop]
            first = xs[:, 0, ::cg] if last else xs[:, ::cg, 0]         # k (m, G)
            c0 = xp.subtract(xs, expand(rep(first)), out=y[start:stop])
            m0 = group_sum(xp.einsum(sub + "->nc", c0)) * (1.0 / count)
            var = group_sum(xp.einsum(f"{sub},{sub}->nc", c0, c0)) * (1.0 / count) - m0 * m0
            r = inv_std[start:stop]
            xp.divide(1.0, xp.sqrt(xp.maximum(var, 0) + eps), out=r)
            scale = rep(r)                                             # a (m, C)
            if weight is not None:
                scale = scale * weight
            offset = -rep(m0) * scale
            if bias is not None:
                offset += bias
            c0 *= expand(scale)
            c0 += expand(offset)
            xp.add(first, m0, out=mean[start:stop])

        threads.for_ranges(part, n, elementwise_work(xv.size, FORWARD_PASSES), like=xv)
        ctx.cfg = (groups, count, last)
        ctx.save_for_backward(xv, mean, inv_std, weight)
        return _unrows(y, x.shape, last)

    @staticmethod
    def backward(ctx, dy):
        xv, mean, inv_std, weight = ctx.saved_tensors
        groups, count, last = ctx.cfg
        needs = ctx.needs_input_grad
        xp = backend.get_array_module(dy)
        n = xv.shape[0]
        c = xv.shape[2] if last else xv.shape[1]
        cg = c // groups
        sub = "nsc" if last else "ncs"
        expand = (lambda a: a[:, None, :]) if last else (lambda a: a[:, :, None])
        dyv = _rows(dy, last)
        need_params = (weight is not None and needs[1]) or (len(needs) > 2 and needs[2])
        sum_dy = xp.empty((n, c), dtype=dyv.dtype)                     # A (N, C)
        dy_xhat = xp.empty((n, c), dtype=dyv.dtype)                    # B = sum_s dy xhat
        gx = buffers.empty(dyv.shape, dyv.dtype, dyv) if needs[0] else None
        gamma = weight if weight is not None else xp.ones(c, dtype=dy.dtype)

        def part(start, stop):            # samples [start, stop): gx, A and B rows
            m = stop - start
            rep = lambda a: a.repeat(cg, axis=1)                      # (m, G) -> (m, C)
            group_sum = lambda a: a.reshape(m, groups, cg).sum(axis=2)  # (m, C) -> (m, G)
            dys = dyv[start:stop]
            r = inv_std[start:stop]
            if gx is not None:
                xc = gx[start:stop]
            else:
                xc = threads.scratch(dys.shape, dys.dtype, dys, slot=_SCRATCH_SLOT)
            xp.subtract(xv[start:stop], expand(rep(mean[start:stop])), out=xc)
            r_c = rep(r)
            a_sum = xp.einsum(sub + "->nc", dys)
            b_sum = xp.einsum(f"{sub},{sub}->nc", dys, xc) * r_c
            sum_dy[start:stop] = a_sum
            dy_xhat[start:stop] = b_sum
            if gx is None:
                return
            mean_g = group_sum(a_sum * gamma) * (1.0 / count)
            mean_gx = group_sum(b_sum * gamma) * (1.0 / count)
            xc *= expand(rep(-r * r * mean_gx))
            xc += expand(rep(-r * mean_g))
            scaled = threads.scratch(dys.shape, dys.dtype, dys, slot=_SCRATCH_SLOT)
            xc += xp.multiply(dys, expand(r_c * gamma), out=scaled)

        if needs[0] or need_params:
            threads.for_ranges(part, n, elementwise_work(dyv.size, BACKWARD_PASSES), like=dyv)
        gw = gb = None
        if weight is not None and needs[1]:
            gw = dy_xhat.sum(axis=0)
        if len(needs) > 2 and needs[2]:
            gb = sum_dy.sum(axis=0)
        return (None if gx is None else _unrows(gx, dy.shape, last)), gw, gb


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, *) per sample over groups of C // num_groups channels."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels are not divisible by num_groups={num_groups}")
    if input.numel() == num_groups:      # one value per (sample, group) over the whole batch
        raise ValueError(f"group_norm: expected more than 1 value per group, got input of "
                         f"shape {tuple(input.shape)} with num_groups={num_groups}")
    if input.numel() == 0:
        rest = 1
        for size in input.shape[2:]:
            rest *= size
        return _apply_grouped(input, weight, bias, (n, num_groups, (c // num_groups) * rest), (2,),
                              (c,) + (1,) * (input.ndim - 2), (0,) + tuple(range(2, input.ndim)),
                              eps)
    return GroupNormFn.apply(input, weight, bias, groups=int(num_groups), eps=float(eps))
