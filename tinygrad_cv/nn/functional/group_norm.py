"""Group normalisation: (N, C, *) viewed as (N, G, C // G, *), statistics per (n, g),
gamma/beta per channel (the math is ``normalization.py``'s)."""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from .normalization import _apply_grouped


class GroupNormFn(Function):
    """Fused group normalisation of x viewed as (N, C, S) with statistics per (n, g) over the
    Cg = C / G channels of group g and their S positions (M = Cg * S values each).

    Forward: ``mu`` from row sums, ``var`` from the dot product of ``x - mu`` with itself
    (einsum: no product temporary), then ``y = (x - mu) * a + beta`` in the buffer of
    ``x - mu`` with the per-(n, c) scale ``a = inv_std[n, g] * gamma[c]``.  Saves x (rather
    than xhat: no second activation-sized buffer) and the (N, G) statistics.

    Backward with per-(n, c) sums of the contiguous rows ``A = sum_s dy`` and
    ``D = sum_s dy * x`` (einsum, no temporaries)::

        sum_s dy * xhat = r (D - mu A)                    (r = inv_std; = dgamma's terms)
        mean_g(g) = sum_{c in g} gamma_c A / M,  mean_g(g xhat) = sum_{c in g} gamma_c r (D - mu A) / M
        dx = a dy + x * (-r^2 mean(g xhat)) + (mu r^2 mean(g xhat) - r mean(g))

    (the module docstring's ``dx`` multiplied out), ``dgamma = sum_n r (D - mu A)``,
    ``dbeta = sum_n A``.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, groups=1, eps=1e-5):
        xp = backend.get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        s = x3.shape[2]
        count = (c // groups) * s
        xg = x3.reshape(n, groups, count)
        mean = xg.sum(axis=2) * (1.0 / count)                       # (N, G)
        centered = xg - mean[:, :, None]
        var = xp.einsum("ngm,ngm->ng", centered, centered) * (1.0 / count)
        inv_std = 1.0 / xp.sqrt(var + eps)
        scale = xp.repeat(inv_std, c // groups, axis=1)              # (N, C)
        if weight is not None:
            scale = scale * weight
        y = centered.reshape(n, c, s)
        y *= scale[:, :, None]
        if bias is not None:
            y += bias[:, None]
        ctx.cfg = (groups, count)
        ctx.save_for_backward(x3, mean, inv_std, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, dy):
        x3, mean, inv_std, weight = ctx.saved_tensors
        groups, count = ctx.cfg
        needs = ctx.needs_input_grad
        xp = backend.get_array_module(dy)
        n, c, s = x3.shape
        cg = c // groups
        dy3 = dy.reshape(n, c, s)
        sum_dy = xp.einsum("ncs->nc", dy3)                             # A (N, C)
        rep = lambda a: xp.repeat(a, cg, axis=1)                       # (N, G) -> (N, C)
        mu_c, r_c = rep(mean), rep(inv_std)
        dy_xhat = (xp.einsum("ncs,ncs->nc", dy3, x3) - mu_c * sum_dy) * r_c   # sum_s dy xhat
        gx = gw = gb = None
        if needs[0]:
            gamma = weight if weight is not None else xp.ones(c, dtype=dy.dtype)
            mean_g = (sum_dy * gamma).reshape(n, groups, cg).sum(axis=2) * (1.0 / count)
            mean_gx = (dy_xhat * gamma).reshape(n, groups, cg).sum(axis=2) * (1.0 / count)
            r2_mean_gx = inv_std * inv_std * mean_gx
            k1 = rep(-r2_mean_gx)                                      # multiplies x
            k0 = rep(mean * r2_mean_gx - inv_std * mean_g)             # the constant
            gx = dy3 * (r_c * gamma)[:, :, None]
            tmp = x3 * k1[:, :, None]
            tmp += k0[:, :, None]
            gx += tmp
            gx = gx.reshape(dy.shape)
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
