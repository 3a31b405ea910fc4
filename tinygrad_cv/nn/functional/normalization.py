"""Batch, layer and group normalisation as fused Functions with analytic backward.

All three normalise ``x`` over a set of axes holding ``M`` elements per statistic::

    mu = mean(x),  var = mean((x - mu)^2)  (biased),  inv_std = 1 / sqrt(var + eps)
    xhat = (x - mu) * inv_std,             y = gamma * xhat + beta

and share the simplified backward (``g = dL/dxhat = dy * gamma``)::

    dx = inv_std / M * (M * g - sum(g) - xhat * sum(g * xhat))
    dgamma = sum(dy * xhat),   dbeta = sum(dy)   (over every axis but the channel axis)

* batch_norm: statistics per channel over (N, *spatial); gamma/beta per channel.  Training
  updates the running statistics in place with torch's convention
  ``running = (1 - momentum) * running + momentum * batch`` and the unbiased batch variance
  ``var * M / (M - 1)``; evaluation normalises with the running statistics (then ``dx`` is
  simply ``dy * gamma * inv_std``).
* layer_norm: statistics per sample over the trailing ``normalized_shape`` axes; gamma/beta
  of that shape.
* group_norm: (N, C, *) viewed as (N, G, C//G, *), statistics per (n, g); gamma/beta per
  channel.
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
