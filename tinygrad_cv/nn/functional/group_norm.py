"""Group normalisation: (N, C, *) viewed as (N, G, C // G, *), statistics per (n, g),
gamma/beta per channel (the math is ``normalization.py``'s)."""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from .normalization import _apply_grouped


def _is_channels_last(x):
    """True when x (N, C, *) is stored channels-last: moving the channel axis to the end gives
    a C-contiguous array (and x itself is not C-contiguous)."""
    if x.ndim < 3 or x.flags.c_contiguous:
        return False
    return backend.get_array_module(x).moveaxis(x, 1, -1).flags.c_contiguous


def _rows(a, channels_last):
    """a (N, C, *) as (N, S, C) (channels-last) or (N, C, S): a view when ``a`` has that
    layout, else one copy."""
    n, c = a.shape[0], a.shape[1]
    if channels_last:
        return backend.get_array_module(a).moveaxis(a, 1, -1).reshape(n, -1, c)
    return a.reshape(n, c, -1)


def _unrows(a, shape, channels_last):
    """Inverse of ``_rows``: (N, S, C) or (N, C, S) -> the (N, C, *) ``shape`` (a view)."""
    if channels_last:
        xp = backend.get_array_module(a)
        return xp.moveaxis(a.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)), -1, 1)
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
        rep = lambda a: xp.repeat(a, cg, axis=1)                       # (N, G) -> (N, C)
        group_sum = lambda a: a.reshape(n, groups, cg).sum(axis=2)     # (N, C) -> (N, G)
        first = xv[:, 0, ::cg] if last else xv[:, ::cg, 0]             # k (N, G)
        c0 = xv - expand(rep(first))
        m0 = group_sum(xp.einsum(sub + "->nc", c0)) * (1.0 / count)
        var = group_sum(xp.einsum(f"{sub},{sub}->nc", c0, c0)) * (1.0 / count) - m0 * m0
        inv_std = 1.0 / xp.sqrt(xp.maximum(var, 0) + eps)
        scale = rep(inv_std)                                           # a (N, C)
        if weight is not None:
            scale = scale * weight
        offset = -rep(m0) * scale
        if bias is not None:
            offset += bias
        c0 *= expand(scale)
        c0 += expand(offset)
        ctx.cfg = (groups, count, last)
        ctx.save_for_backward(xv, first + m0, inv_std, weight)
        return _unrows(c0, x.shape, last)

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
        rep = lambda a: xp.repeat(a, cg, axis=1)                       # (N, G) -> (N, C)
        group_sum = lambda a: a.reshape(n, groups, cg).sum(axis=2)     # (N, C) -> (N, G)
        dyv = _rows(dy, last)
        sum_dy = xp.einsum(sub + "->nc", dyv)                          # A (N, C)
        xc = xv - expand(rep(mean))
        r_c = rep(inv_std)
        dy_xhat = xp.einsum(f"{sub},{sub}->nc", dyv, xc) * r_c          # B = sum_s dy xhat
        gx = gw = gb = None
        if needs[0]:
            gamma = weight if weight is not None else xp.ones(c, dtype=dy.dtype)
            mean_g = group_sum(sum_dy * gamma) * (1.0 / count)
            mean_gx = group_sum(dy_xhat * gamma) * (1.0 / count)
            gx = dyv * expand(r_c * gamma)
            xc *= expand(rep(-inv_std * inv_std * mean_gx))
            xc += expand(rep(-inv_std * mean_g))
            gx += xc
            gx = _unrows(gx, dy.shape, last)
        if weight is not None and needs[1]:
            gw = dy_xhat.sum(axis=0)
        if len(needs) > 2 and needs[2]:
            gb = sum_dy.sum(axis=0)
        return gx, gw, gb


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, *) per sample over groups of C // num_groups channels."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels are not divisible by num_groups={num_groups}")
    if input.numel() == 0:
        rest = input.numel() // max(n * c, 1)
        return _apply_grouped(input, weight, bias, (n, num_groups, (c // num_groups) * rest), (2,),
                              (c,) + (1,) * (input.ndim - 2), (0,) + tuple(range(2, input.ndim)),
                              eps)
    return GroupNormFn.apply(input, weight, bias, groups=int(num_groups), eps=float(eps))
