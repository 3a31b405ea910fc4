"""Scaled dot-product attention (fused, analytic backward) and the multi-head attention forward.

    S = scale * Q K^T + M,   P = softmax(S) (rows),   P' = dropout(P),   O = P' V

Shapes: Q (..., L, E), K (..., S, E), V (..., S, Ev) -> O (..., L, Ev); batch dims broadcast.
``M`` comes from ``attn_mask`` (a bool mask where True = the pair takes part, as torch's
``scaled_dot_product_attention``, or a float mask that is added) or from ``is_causal``
(key j visible to query i when j <= i).  A row whose keys are all masked gives P = 0 (torch's
behaviour) instead of NaN.  Backward with batched matmuls::

    dV = P'^T dO,   dP' = dO V^T,   dP = dP' * keep / (1 - p),
    dS = P * (dP - rowsum(dP * P)),  dQ = scale dS K,  dK = scale dS^T Q
"""
from __future__ import annotations

import math

from ... import backend
from ...autograd.function import Function
from ...ops.dual import raw
from ...ops.softmax import softmax_array
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward",
           "ScaledDotProductAttention"]


def mask_array(mask):
    """The raw array of a mask given as a Tensor, an array or a list (None stays None)."""
    return None if mask is None else backend.ensure_array(raw(mask))


def _broadcasts_to(shape, target):
    """True when an array of ``shape`` broadcasts against ``target`` without growing it."""
    if len(shape) > len(target):
        return False
    return all(a in (1, b) for a, b in zip(shape[::-1], target[::-1]))


def causal_mask(xp, L, S):
    """Bool (L, S) mask, True where key j may be seen by query i (j <= i, top-left aligned)."""
    return xp.tril(xp.ones((L, S), dtype=bool))


class ScaledDotProductAttention(Function):
    """Fused attention: inputs q, k, v (Tensors); ``mask`` a raw bool/float array or None.

    Returns O, or (O, P') with ``return_weights=True`` (P' = attention weights after dropout).
    """

    @staticmethod
    def forward(ctx, q, k, v, mask=None, scale=1.0, dropout_p=0.0, return_weights=False):
        xp = backend.get_array_module(q)
        s = q @ xp.swapaxes(k, -1, -2)
        s *= scale
        if mask is not None:
            if mask.dtype == bool:
                s = xp.where(mask, s, -xp.inf).astype(s.dtype, copy=False)
            else:
                s += mask
        p = softmax_array(s, -1, inplace=True, empty_rows_zero=mask is not None)
        keep = None
        pd = p
        if dropout_p > 0.0:
            rng = backend.get_rng(backend.device_of(q))
            keep = (rng.random(p.shape, dtype=p.dtype) >= dropout_p).astype(p.dtype)
            keep *= 1.0 / (1.0 - dropout_p)
            pd = p * keep
        out = pd @ v
        ctx.scale = scale
        ctx.save_for_backward(q, k, v, p, keep)
        if return_weights:
            return out, pd
        return out

    @staticmethod
    def backward(ctx, g, g_weights=None):
        q, k, v, p, keep = ctx.saved_tensors
        xp = backend.get_array_module(q)
        nq, nk, nv = ctx.needs_input_grad[:3]
        pd = p if keep is None else p * keep
        dv = xp.swapaxes(pd, -1, -2) @ g if nv else None
        dp = g @ xp.swapaxes(v, -1, -2)
        if g_weights is not None:
            dp += g_weights
        if keep is not None:
            dp *= keep
        # dS = P * (dP - rowsum(dP * P)), then the scale of S = scale * Q K^T
        row = (dp * p).sum(axis=-1, keepdims=True)
        dp -= row
        dp *= p
        dp *= ctx.scale
        dq = dp @ k if nq else None
        dk = xp.swapaxes(dp, -1, -2) @ q if nk else None
        return dq, dk, dv


def _check_qkv(q, k, v):
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: expected q, k, v of shape (..., L, E), "
                         f"(..., S, E), (..., S, Ev), got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: expected q (..., L, E), k (..., S, E), "
                         f"v (..., S, Ev), got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, need_weights=False):
    """softmax(scale * Q K^T + M) V with M from ``attn_mask``/``is_causal`` (see module doc).

    ``attn_mask``: bool (True = take part) or float (added), broadcastable to (..., L, S); it
    is a constant (no gradient).  ``scale`` defaults to 1/sqrt(E).  ``dropout_p`` is applied to
    the attention weights whenever it is > 0 (as torch's functional form).
    ``need_weights=True`` returns ``(output, weights)``.
    """
    _check_qkv(query, key, value)
    xp = backend.get_array_module(query)
    L, S = query.shape[-2], key.shape[-2]
    mask = mask_array(attn_mask)
    if is_causal:
        if mask is not None:
            raise ValueError("scaled_dot_product_attention: give either attn_mask or "
                             "is_causal=True, not both")
        mask = causal_mask(xp, L, S)
    if mask is not None:
        if mask.dtype != bool:
            mask = mask.astype(query.dtype, copy=False)
        qb, kb = tuple(query.shape[:-2]), tuple(key.shape[:-2])
        n = max(len(qb), len(kb))
        qb, kb = (1,) * (n - len(qb)) + qb, (1,) * (n - len(kb)) + kb
        target = tuple(max(a, b) for a, b in zip(qb, kb)) + (L, S)
        if not _broadcasts_to(tuple(mask.shape), target):
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape "
                             f"{tuple(mask.shape)} does not broadcast to {target}")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    return ScaledDotProductAttention.apply(query, key, value, mask=mask, scale=float(scale),
                                           dropout_p=float(dropout_p),
                                           return_weights=need_weights)


def _project(x, weight, bias):
    """x (..., E_in) W^T + b as one 2-D GEMM (the leading dims flattened)."""
    lead = x.shape[:-1]
    y = linear(x.reshape(-1, x.shape[-1]), weight, bias)
    return y.reshape(*lead, weight.shape[0])


def _additive_mask(mask, dtype, what):
    """Float additive form of an nn.MultiheadAttention mask (bool True = NOT allowed)."""
    if mask is None:
        return None
    xp = backend.get_array_module(mask)
    if mask.dtype == bool:
        out = xp.zeros(mask.shape, dtype=dtype)
        out[mask] = -xp.inf
        return out
    if not backend.is_floating(mask.dtype):
        raise TypeError(f"MultiheadAttention: {what} must be bool or float, got {mask.dtype}")
    return mask.astype(dtype, copy=False)


def multi_head_attention_forward(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                                 out_proj_weight, out_proj_bias, *, dropout_p=0.0,
                                 training=True, key_padding_mask=None, need_weights=True,
                                 attn_mask=None, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, average_attn_weights=True,
                                 is_causal=False):
    """Multi-head attention on sequence-first tensors (torch.nn.functional's layout).

    query (L, N, E), key (S, N, kdim), value (S, N, vdim).  With heads h and d = E / h::

        Q = query W_q^T + b_q,  K = key W_k^T + b_k,  V = value W_v^T + b_v  (split into h heads)
        O_head = softmax(Q_h K_h^T / sqrt(d) + M) V_h,   out = concat(O_heads) W_o^T + b_o

    ``in_proj_weight`` (3E, E) packs W_q, W_k, W_v (or pass ``q/k/v_proj_weight`` separately);
    ``in_proj_bias`` (3E,).  Masks follow nn.MultiheadAttention: ``attn_mask`` (L, S) or
    (N*h, L, S), ``key_padding_mask`` (N, S); bool True = not allowed, float = added.
    ``is_causal`` without ``attn_mask`` builds the causal mask.
    Returns (out (L, N, E), weights (N, L, S) averaged over heads, (N, h, L, S), or None).
    """
    L, N, E = query.shape
    S = key.shape[0]
    if E % num_heads:
        raise ValueError(f"MultiheadAttention: embed_dim {E} is not divisible by num_heads "
                         f"{num_heads}")
    d = E // num_heads
    b = in_proj_bias
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b[:E], b[E:2 * E], b[2 * E:]
    if q_proj_weight is not None:
        q = _project(query, q_proj_weight, bq)
        k = _project(key, k_proj_weight, bk)
        v = _project(value, v_proj_weight, bv)
    elif query is key and key is value:
        qkv = _project(query, in_proj_weight, b).reshape(L, N, 3, num_heads, d)
        qkv = qkv.permute(2, 1, 3, 0, 4)           # (3, N, h, L, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
    else:
        q = _project(query, in_proj_weight[:E], bq)
        if key is value:
            kv = _project(key, in_proj_weight[E:], None if b is None else b[E:])
            k, v = kv.split(E, dim=-1)
        else:
            k = _project(key, in_proj_weight[E:2 * E], bk)
            v = _project(value, in_proj_weight[2 * E:], bv)
    if q.ndim == 3:  # (L, N, E) -> (N, h, L, d)
        q = q.reshape(L, N, num_heads, d).permute(1, 2, 0, 3)
        k = k.reshape(S, N, num_heads, d).permute(1, 2, 0, 3)
        v = v.reshape(S, N, num_heads, d).permute(1, 2, 0, 3)
    dtype = q.dtype
    xp = backend.get_array_module(q.array)
    mask = None
    am = _additive_mask(mask_array(attn_mask), dtype, "attn_mask")
    if am is None and is_causal:
        am = _additive_mask(~causal_mask(xp, L, S), dtype, "attn_mask")
    if am is not None:
        if am.shape == (L, S):
            mask = am
        elif am.shape == (N * num_heads, L, S):
            mask = am.reshape(N, num_heads, L, S)
        else:
            raise ValueError(f"MultiheadAttention: expected attn_mask of shape {(L, S)} or "
                             f"{(N * num_heads, L, S)}, got {tuple(am.shape)}")
    kpm = _additive_mask(mask_array(key_padding_mask), dtype, "key_padding_mask")
    if kpm is not None:
        if kpm.shape != (N, S):
            raise ValueError(f"MultiheadAttention: expected key_padding_mask of shape {(N, S)}, "
                             f"got {tuple(kpm.shape)}")
        kpm = kpm.reshape(N, 1, 1, S)
        mask = kpm if mask is None else mask + kpm
    p = dropout_p if training else 0.0
    res = ScaledDotProductAttention.apply(q, k, v, mask=mask, scale=1.0 / math.sqrt(d),
                                          dropout_p=float(p), return_weights=need_weights)
    o, weights = (res if need_weights else (res, None))
    o = o.permute(2, 0, 1, 3).reshape(L * N, E)
    out = linear(o, out_proj_weight, out_proj_bias).reshape(L, N, E)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    return out, weights
