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

from ... import backend, threads
from ...autograd import buffers
from ...autograd.function import Function, ShapeError
from ...ops.dual import raw, sum_to
from ...ops.softmax import softmax_array
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward",
           "ScaledDotProductAttention", "PackedSelfAttention"]


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


def _row_dot(a, b):
    """sum_j a[..., j] b[..., j] with the last axis kept (length 1): one batched dot per row,
    no temporary of a's size."""
    return backend.get_array_module(a).matmul(a[..., None, :], b[..., :, None])[..., 0]


def _attention_split(q, k, v, cost_per_score):
    """How attention splits over the intra-op threads: (threads, axis counted from the end of
    the scores, its length, whether K and V are sliced too).  The largest broadcast batch axis
    (N or heads) when it has a part per thread, else the query rows L (K, V whole)."""
    batch = tuple(backend.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
    L, S = q.shape[-2], k.shape[-2]
    scores = L * S
    for b in batch:
        scores *= b
    count = threads.usable(q, scores * cost_per_score)
    if count > 1 and batch:
        axis = max(range(len(batch)), key=lambda i: batch[i])
        if batch[axis] >= count:
            return count, len(batch) + 2 - axis, batch[axis], True
    return count, 2, L, False


def attention_forward(q, k, v, mask, scale, dropout_p, out=None):
    """O = dropout(softmax(scale Q K^T + M)) V on raw arrays -> (O, P, keep or None).

    ``mask``: None, bool (True = take part) or additive float, broadcastable to the scores;
    ``out``: an array (a view is fine) of O's shape to write O into.  The scores, softmax,
    dropout and P'V of each batch slice (or block of query rows) run on one intra-op thread
    (one hand-off for the whole forward); the dropout draws come from the caller, before the
    split, so they do not depend on the thread count.
    """
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"attention: dropout probability has to be between 0 and 1, but got "
                         f"{dropout_p}")
    xp = backend.get_array_module(q)
    batch = tuple(backend.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
    L, S = q.shape[-2], k.shape[-2]
    dt = xp.result_type(q, k)
    p = buffers.empty(batch + (L, S), dt, q)
    keep = None
    pd = p
    if dropout_p > 0.0:
        rng = backend.get_rng(backend.device_of(q))
        keep = (rng.random(p.shape, dtype=p.dtype) >= dropout_p).astype(p.dtype)
        keep *= 1.0 / (1.0 - dropout_p) if dropout_p < 1.0 else 0.0     # p = 1: all dropped
        pd = buffers.empty(p.shape, dt, q)
    if out is None:
        out = buffers.empty(batch + (L, v.shape[-1]), xp.result_type(pd, v), q)
    hidden = None if mask is None or mask.dtype != bool else ~mask
    count, end, length, whole = _attention_split(
        q, k, v, (q.shape[-1] + v.shape[-1]) // threads.MACS_PER_ELEMENT + 4)

    def part(s, e):
        def cut(x):
            return threads.take_range(x, end, s, e)
        ks, vs = (cut(k), cut(v)) if whole else (k, v)
        ps = cut(p)
        xp.matmul(cut(q), xp.swapaxes(ks, -1, -2), out=ps)
        ps *= scale
        if hidden is not None:
            xp.copyto(ps, -xp.inf, where=cut(hidden))
        elif mask is not None:
            ps += cut(mask)
        softmax_array(ps, -1, inplace=True, empty_rows_zero=mask is not None)
        pds = ps
        if keep is not None:
            pds = xp.multiply(ps, cut(keep), out=cut(pd))
        xp.matmul(pds, vs, out=cut(out))

    if count <= 1:
        part(0, length)
    else:
        threads.run([lambda s=s, e=e: part(s, e) for s, e in threads.split(length, count)])
    return out, p, keep


def attention_backward(g, q, k, v, p, keep, scale, needs, g_weights=None, outs=(None,) * 3,
                       need_scores=False):
    """(dQ, dK, dV) of attention_forward for dL/dO = g (and dL/dP' = g_weights).

    ``needs``: which of the three to compute (None for the others); ``outs``: arrays (views
    are fine) to write each into, or None.  ``need_scores=True`` appends dL/dS (the scores'
    shape), the gradient of an additive float mask before its broadcast is summed.  The scale is folded into V (dP is formed from
    scale V, a smaller array than the scores), and rowsum(dP * P) is one batched dot per row::

        dS = P * (dP - rowsum(dP * P)),   dQ = dS K,   dK = dS^T Q   (dS already scaled)

    Each batch slice runs on one intra-op thread when the largest batch axis has a part per
    thread (dK and dV sum over the query rows, so rows are not split: then one thread).
    """
    xp = backend.get_array_module(q)
    nq, nk, nv = needs
    batch = tuple(p.shape[:-2])
    dt = xp.result_type(g, p, q, k, v)
    shapes = (batch + tuple(q.shape[-2:]), batch + tuple(k.shape[-2:]),
              batch + tuple(v.shape[-2:]))
    grads = [None if not need else (o if o is not None else buffers.empty(shape, dt, q))
             for need, o, shape in zip(needs, outs, shapes)]
    count, end, length, whole = _attention_split(
        q, k, v, (2 * q.shape[-1] + 2 * v.shape[-1]) // threads.MACS_PER_ELEMENT + 4)
    if not whole:
        count = 1
    oq, ok, ov = grads
    ds = buffers.empty(p.shape, dt, q) if need_scores else None

    def part(s, e):
        def cut(x):
            return threads.take_range(x, end, s, e) if count > 1 else x
        gs, ps, keeps = cut(g), cut(p), cut(keep)
        if nv:
            pd = ps if keeps is None else ps * keeps
            xp.matmul(xp.swapaxes(pd, -1, -2), gs, out=cut(ov))
        vs = cut(v) * scale
        dp = gs @ xp.swapaxes(vs, -1, -2)
        if g_weights is not None:
            dp += cut(g_weights) * scale
        if keeps is not None:
            dp *= keeps
        dp -= _row_dot(dp, ps)
        dp *= ps
        if ds is not None:
            xp.multiply(dp, 1.0 / scale if scale else 0.0, out=cut(ds))
        if nq:
            xp.matmul(dp, cut(k), out=cut(oq))
        if nk:
            xp.matmul(xp.swapaxes(dp, -1, -2), cut(q), out=cut(ok))

    if count <= 1:
        part(0, 0)
    else:
        threads.run([lambda s=s, e=e: part(s, e) for s, e in threads.split(length, count)])
    return tuple(grads) + ((ds,) if need_scores else ())


class ScaledDotProductAttention(Function):
    """Fused attention: inputs q, k, v (Tensors); ``mask`` a raw bool/float array or None, or
    a float Tensor given as the fourth input (then it gets dL/dM = dL/dS, summed over the
    axes it was broadcast along).

    Returns O, or (O, P') with ``return_weights=True`` (P' = attention weights after dropout).
    """

    @staticmethod
    def forward(ctx, q, k, v, mask=None, scale=1.0, dropout_p=0.0, return_weights=False):
        out, p, keep = attention_forward(q, k, v, mask, scale, dropout_p)
        ctx.scale = scale
        ctx.mask_shape = None if mask is None else tuple(mask.shape)
        ctx.save_for_backward(q, k, v, p, keep)
        if return_weights:
            return out, (p if keep is None else p * keep)
        return out

    @staticmethod
    def backward(ctx, g, g_weights=None):
        q, k, v, p, keep = ctx.saved_tensors
        needs = ctx.needs_input_grad
        mask_grad = len(needs) > 3 and needs[3]
        grads = attention_backward(g, q, k, v, p, keep, ctx.scale, needs[:3], g_weights,
                                   need_scores=mask_grad)
        if mask_grad:
            return grads[:3] + (sum_to(grads[3], ctx.mask_shape),)
        return grads


def _heads(x, heads, batch_first):
    """(A, B, heads * d) tokens -> the (N, heads, L, d) view (no copy); (A, B) is (N, L) with
    ``batch_first``, else (L, N)."""
    A, B, E = x.shape
    x4 = x.reshape(A, B, heads, E // heads)
    return x4.transpose(0, 2, 1, 3) if batch_first else x4.transpose(1, 2, 0, 3)


class PackedSelfAttention(Function):
    """Multi-head self-attention on the packed projection ``qkv`` = [Q | K | V] (A, B, 3E).

    (A, B) is (N, L) with ``batch_first``, else (L, N); each of Q, K, V splits its E features
    into ``heads`` heads of d = E / heads.  The heads are strided views of ``qkv`` (no copies),
    O (A, B, E) is written head by head in the token layout the output projection reads, and
    the backward writes dQ, dK, dV straight into one (A, B, 3E) gradient: no split, permute
    or concatenation nodes.  Math: ``attention_forward``/``attention_backward``, with the mask
    (additive float or None) broadcast over (N, heads, L, L); a mask Tensor given as the second
    input gets dL/dS summed to its shape.
    Returns O, or (O, P' (N, heads, L, L)) with ``return_weights=True``.
    """

    @staticmethod
    def forward(ctx, qkv, mask=None, heads=1, batch_first=False, scale=1.0, dropout_p=0.0,
                return_weights=False):
        A, B, E3 = qkv.shape
        E = E3 // 3
        q, k, v = (_heads(qkv[..., j * E:(j + 1) * E], heads, batch_first) for j in range(3))
        out = buffers.empty((A, B, E), qkv.dtype, qkv)
        _, p, keep = attention_forward(q, k, v, mask, scale, dropout_p,
                                       out=_heads(out, heads, batch_first))
        ctx.cfg = (heads, batch_first, scale)
        ctx.mask_shape = None if mask is None else tuple(mask.shape)
        ctx.save_for_backward(qkv, p, keep)
        if return_weights:
            return out, (p if keep is None else p * keep)
        return out

    @staticmethod
    def backward(ctx, g, g_weights=None):
        qkv, p, keep = ctx.saved_tensors
        heads, batch_first, scale = ctx.cfg
        E = qkv.shape[-1] // 3
        split = [(qkv[..., j * E:(j + 1) * E]) for j in range(3)]
        q, k, v = (_heads(a, heads, batch_first) for a in split)
        dqkv = buffers.empty(qkv.shape, qkv.dtype, qkv)
        outs = tuple(_heads(dqkv[..., j * E:(j + 1) * E], heads, batch_first) for j in range(3))
        mask_grad = len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]
        grads = attention_backward(_heads(g, heads, batch_first), q, k, v, p, keep, scale,
                                   (True, True, True), g_weights, outs, need_scores=mask_grad)
        if mask_grad:
            return dqkv, sum_to(grads[3], ctx.mask_shape)
        return dqkv


def _check_qkv(q, k, v):
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: expected q, k, v of shape (..., L, E), "
                         f"(..., S, E), (..., S, Ev), got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: expected q (..., L, E), k (..., S, E), "
                         f"v (..., S, Ev), got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")


def _repeat_heads(x, heads, what):
    """Grouped-query attention: x (..., h, S, E) with h dividing ``heads`` -> (..., heads, S, E),
    each of its heads repeated heads / h times in place (torch's ``repeat_interleave`` on the
    heads axis -3); a differentiable expand and reshape."""
    h = x.shape[-3]
    if h == heads:
        return x
    if heads % h:
        raise ValueError(f"scaled_dot_product_attention: the number of heads in key and value "
                         f"must divide the number of heads in query ({heads}), got {what} with "
                         f"{h}")
    lead, (S, E) = tuple(x.shape[:-3]), tuple(x.shape[-2:])
    grouped = x.unsqueeze(-3).expand(*lead, h, heads // h, S, E)
    return grouped.reshape(*lead, heads, S, E)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False,
                                 need_weights=False):
    """softmax(scale * Q K^T + M) V with M from ``attn_mask``/``is_causal`` (see module doc).

    ``attn_mask``: bool (True = take part) or float (added), broadcastable to (..., L, S); a
    float Tensor that requires grad gets dL/dS summed to its shape.  ``scale`` defaults to 1/sqrt(E).  ``dropout_p`` is applied to
    the attention weights whenever it is > 0 (as torch's functional form).
    ``enable_gqa=True`` (grouped-query attention): q (..., Hq, L, E), k and v with Hk, Hv
    heads dividing Hq; each key/value head serves Hq / Hk consecutive query heads.
    ``need_weights=True`` returns ``(output, weights)``.
    """
    _check_qkv(query, key, value)
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise ValueError(f"scaled_dot_product_attention: enable_gqa=True needs q, k, v "
                             f"with a heads axis (..., H, L, E), got {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        key = _repeat_heads(key, query.shape[-3], f"key {tuple(key.shape)}")
        value = _repeat_heads(value, query.shape[-3], f"value {tuple(value.shape)}")
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
            if not backend.is_floating(mask.dtype):
                raise TypeError(f"scaled_dot_product_attention: attn_mask must be bool (True = "
                                f"take part) or float (added to the scores), got {mask.dtype}")
            mask = mask.astype(query.dtype, copy=False)
        qb, kb = tuple(query.shape[:-2]), tuple(key.shape[:-2])
        n = max(len(qb), len(kb))
        qb, kb = (1,) * (n - len(qb)) + qb, (1,) * (n - len(kb)) + kb
        target = tuple(max(a, b) for a, b in zip(qb, kb)) + (L, S)
        if not _broadcasts_to(tuple(mask.shape), target):
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape "
                             f"{tuple(mask.shape)} does not broadcast to {target}")
    if scale is None:       # E = 0: every score is 0 whatever the scale
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    if _learned(attn_mask):   # an input of the node: its gradient is dL/dS
        mask = attn_mask.to(query.dtype)
    return _apply_masked(ScaledDotProductAttention, query, key, value, mask=mask,
                         scale=float(scale), dropout_p=float(dropout_p),
                         return_weights=need_weights)


def _learned(mask):
    """True for a float mask Tensor that requires grad (an additive bias being learned)."""
    return getattr(mask, "requires_grad", False) and mask.is_floating_point()


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


def _attention_mask(attn_mask, key_padding_mask, is_causal, dtype, xp, N, heads, L, S):
    """The additive float mask (broadcastable to (N, heads, L, S)) of nn.MultiheadAttention's
    ``attn_mask`` (L, S) or (N*heads, L, S) and ``key_padding_mask`` (N, S), or None; a
    Tensor (their sum, recorded) when a float mask requires grad."""
    if _learned(attn_mask) or _learned(key_padding_mask):
        return _learned_attention_mask(attn_mask, key_padding_mask, is_causal, dtype, xp, N,
                                       heads, L, S)
    mask = None
    am = _additive_mask(mask_array(attn_mask), dtype, "attn_mask")
    if am is None and is_causal:
        am = _additive_mask(~causal_mask(xp, L, S), dtype, "attn_mask")
    if am is not None:
        if am.shape == (L, S):
            mask = am
        elif am.shape == (N * heads, L, S):
            mask = am.reshape(N, heads, L, S)
        else:
            raise ShapeError(f"MultiheadAttention: expected attn_mask of shape {(L, S)} or "
                             f"{(N * heads, L, S)}, got {tuple(am.shape)}")
    kpm = _additive_mask(mask_array(key_padding_mask), dtype, "key_padding_mask")
    if kpm is not None:
        if kpm.shape != (N, S):
            raise ValueError(f"MultiheadAttention: expected key_padding_mask of shape {(N, S)}, "
                             f"got {tuple(kpm.shape)}")
        kpm = kpm.reshape(N, 1, 1, S)
        mask = kpm if mask is None else mask + kpm
    return mask


def _learned_attention_mask(attn_mask, key_padding_mask, is_causal, dtype, xp, N, heads, L, S):
    """``_attention_mask`` as a recorded sum of Tensors: each mask checked and shaped by the
    constant path, the learned ones taken as they are (cast to ``dtype``), so their gradient
    is dL/dS summed over what they were broadcast along."""
    from ...tensor import Tensor
    parts = []
    for m, am, km in ((attn_mask, attn_mask, None), (key_padding_mask, None, key_padding_mask)):
        if m is None:
            continue
        const = _attention_mask(mask_array(am) if am is not None else None,
                                mask_array(km) if km is not None else None,
                                is_causal and am is not None, dtype, xp, N, heads, L, S)
        parts.append(m.to(dtype).reshape(const.shape) if _learned(m) else Tensor.wrap(const))
    if attn_mask is None and is_causal:
        parts.append(Tensor.wrap(_additive_mask(~causal_mask(xp, L, S), dtype, "attn_mask")))
    mask = parts[0]
    for part in parts[1:]:
        mask = mask + part
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False,
                                 batch_first=False):
    """Multi-head attention on sequence-first tensors (torch.nn.functional's signature).

    query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E) ... with
    ``batch_first``, this framework's addition; the output follows), or unbatched (L, E),
    (S, kdim), (S, vdim).  With heads h and d = E / h::

        Q = query W_q^T + b_q,  K = key W_k^T + b_k,  V = value W_v^T + b_v  (split into h heads)
        O_head = softmax(Q_h K_h^T / sqrt(d) + M) V_h,   out = concat(O_heads) W_o^T + b_o

    ``in_proj_weight`` (3E, E) packs W_q, W_k, W_v; with ``use_separate_proj_weight=True``
    they are ``q/k/v_proj_weight`` instead; ``in_proj_bias`` (3E,).  Masks follow
    nn.MultiheadAttention: ``attn_mask`` (L, S) or (N*h, L, S), ``key_padding_mask`` (N, S)
    ((S,) unbatched); bool True = not allowed, float = added.  ``is_causal`` without
    ``attn_mask`` builds the causal mask.  ``dropout_p`` applies when ``training``.

    Extra keys and values (torch's order, each padding the masks by one zero column, i.e. a
    key every query may see): ``bias_k``/``bias_v`` (1, 1, E) are appended to the projected
    K and V sequences (S -> S + 1); ``static_k``/``static_v`` (N*h, S', d) replace the
    projected K/V heads; ``add_zero_attn`` appends a zero key and value to every head after
    that.  Returns (out like query, weights (N, L, S_total) averaged over heads,
    (N, h, L, S_total), or None; without N when unbatched).
    """
    extras = _extra_keys(bias_k, bias_v, add_zero_attn, static_k, static_v)
    if query.shape[-1] != embed_dim_to_check:
        raise ValueError(f"multi_head_attention_forward: expected query with embed_dim_to_check "
                         f"= {embed_dim_to_check} features, got shape {tuple(query.shape)}")
    if not use_separate_proj_weight:
        q_proj_weight = k_proj_weight = v_proj_weight = None
        if in_proj_weight is None:
            raise ValueError("multi_head_attention_forward: in_proj_weight is None (pass "
                             "use_separate_proj_weight=True with q/k/v_proj_weight)")
    elif q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
        raise ValueError("multi_head_attention_forward: use_separate_proj_weight=True needs "
                         "q_proj_weight, k_proj_weight and v_proj_weight")
    batched = query.ndim == 3
    kpm = key_padding_mask if _learned(key_padding_mask) else mask_array(key_padding_mask)
    if not batched:         # one sequence: a batch of one, keeping which inputs are the same
        same_qk, same_kv = query is key, key is value
        query = query.unsqueeze(1)
        key = query if same_qk else key.unsqueeze(1)
        value = key if same_kv else value.unsqueeze(1)
        if kpm is not None:
            kpm = kpm.reshape(1, -1)
    out, weights = _multi_head_attention(
        query, key, value, num_heads, in_proj_weight, in_proj_bias, out_proj_weight,
        out_proj_bias, dropout_p=dropout_p, training=training, key_padding_mask=kpm,
        need_weights=need_weights, attn_mask=attn_mask, q_proj_weight=q_proj_weight,
        k_proj_weight=k_proj_weight, v_proj_weight=v_proj_weight,
        average_attn_weights=average_attn_weights, is_causal=is_causal,
        batch_first=batched and batch_first, extras=extras)
    if not batched:
        out = out.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights


def _extra_keys(bias_k, bias_v, add_zero_attn, static_k, static_v):
    """torch's checks of the extra-key arguments; None when there are none, else the tuple
    (bias_k, bias_v, add_zero_attn, static_k, static_v)."""
    if (bias_k is None) != (bias_v is None):
        raise ValueError("multi_head_attention_forward: bias_k is set but bias_v is None"
                         if bias_v is None else
                         "multi_head_attention_forward: bias_v is set but bias_k is None")
    if bias_k is not None and static_k is not None:
        raise ValueError("multi_head_attention_forward: bias cannot be added to static key.")
    if bias_v is not None and static_v is not None:
        raise ValueError("multi_head_attention_forward: bias cannot be added to static value.")
    if bias_k is None and not add_zero_attn and static_k is None and static_v is None:
        return None
    return bias_k, bias_v, bool(add_zero_attn), static_k, static_v


def _multi_head_attention(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                          out_proj_weight, out_proj_bias, *, dropout_p, training,
                          key_padding_mask, need_weights, attn_mask, q_proj_weight,
                          k_proj_weight, v_proj_weight, average_attn_weights, is_causal,
                          batch_first, extras=None):
    """multi_head_attention_forward on batched inputs (3-D, its layouts and masks).

    Self-attention with the packed weight (``query is key is value``) runs as one GEMM into
    [Q | K | V] and ``PackedSelfAttention`` on it, in the caller's layout (no transposes).
    Returns (out like query, weights (N, L, S) averaged over heads, (N, h, L, S), or None).
    """
    if query.shape[-1] % num_heads:
        raise ValueError(f"MultiheadAttention: embed_dim {query.shape[-1]} is not divisible by "
                         f"num_heads {num_heads}")
    p = dropout_p if training else 0.0
    if q_proj_weight is None and query is key and key is value and extras is None:
        A, B, E = query.shape
        N, L = (A, B) if batch_first else (B, A)
        xp = backend.get_array_module(query.array)
        mask = _attention_mask(attn_mask, key_padding_mask, is_causal, query.dtype, xp, N,
                               num_heads, L, L)
        qkv = linear(query, in_proj_weight, in_proj_bias)
        res = _apply_masked(PackedSelfAttention, qkv, mask=mask, heads=num_heads,
                                        batch_first=bool(batch_first),
                                        scale=1.0 / math.sqrt(E // num_heads),
                                        dropout_p=float(p), return_weights=need_weights)
        o, weights = (res if need_weights else (res, None))
        out = linear(o, out_proj_weight, out_proj_bias)
    else:
        if batch_first:          # to (L, N, E), keeping which of them are the same tensor
            same_qk, same_kv = query is key, key is value
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        out, weights = _multi_head_attention_general(
            query, key, value, num_heads, in_proj_weight, in_proj_bias, out_proj_weight,
            out_proj_bias, p, key_padding_mask, need_weights, attn_mask, q_proj_weight,
            k_proj_weight, v_proj_weight, is_causal, extras)
        if batch_first:
            out = out.transpose(0, 1)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    return out, weights


def _multi_head_attention_general(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                                  out_proj_weight, out_proj_bias, p, key_padding_mask,
                                  need_weights, attn_mask, q_proj_weight, k_proj_weight,
                                  v_proj_weight, is_causal, extras=None):
    """multi_head_attention_forward for cross-attention, separate projection weights or
    extra keys (``extras`` from ``_extra_keys``), sequence-first: -> (out (L, N, E),
    weights (N, h, L, S_total) or None)."""
    bias_k, bias_v, zero_attn, static_k, static_v = extras or (None, None, False, None, None)
    L, N, E = query.shape
    d = E // num_heads
    b = in_proj_bias
    if q_proj_weight is not None:
        bq, bk, bv = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        q = _project(query, q_proj_weight, bq)
        k = None if static_k is not None else _project(key, k_proj_weight, bk)
        v = None if static_v is not None else _project(value, v_proj_weight, bv)
    else:
        q = _project(query, in_proj_weight[:E], None if b is None else b[:E])
        if key is value and static_k is None and static_v is None:
            kv = _project(key, in_proj_weight[E:], None if b is None else b[E:])
            k, v = kv.split(E, dim=-1)
        else:
            k = None if static_k is not None else _project(
                key, in_proj_weight[E:2 * E], None if b is None else b[E:2 * E])
            v = None if static_v is not None else _project(
                value, in_proj_weight[2 * E:], None if b is None else b[2 * E:])
    if bias_k is not None:        # one more key and value, the same for every sample
        k = _append_rows(k, bias_k.reshape(1, 1, E).expand(1, N, E), 0)
        v = _append_rows(v, bias_v.reshape(1, 1, E).expand(1, N, E), 0)
    # (L, N, E) -> (N, h, L, d)
    q = q.reshape(L, N, num_heads, d).permute(1, 2, 0, 3)
    k = _static_heads(static_k, N, num_heads, d, "static_k") if static_k is not None else \
        k.reshape(k.shape[0], N, num_heads, d).permute(1, 2, 0, 3)
    v = _static_heads(static_v, N, num_heads, d, "static_v") if static_v is not None else \
        v.reshape(v.shape[0], N, num_heads, d).permute(1, 2, 0, 3)
    xp = backend.get_array_module(q.array)
    if zero_attn:                 # a zero key and value in every head
        k = _append_rows(k, _zeros_like_heads(k, xp), 2)
        v = _append_rows(v, _zeros_like_heads(v, xp), 2)
    if k.shape[2] != v.shape[2]:
        raise ValueError(f"multi_head_attention_forward: the keys and values have different "
                         f"lengths ({k.shape[2]} and {v.shape[2]})")
    added = (bias_k is not None) + zero_attn
    S = k.shape[2] - added
    mask = _attention_mask(attn_mask, key_padding_mask, is_causal, q.dtype, xp, N, num_heads,
                           L, S)
    if added and mask is not None:
        mask = _pad_keys(mask, added, xp)
    res = _apply_masked(ScaledDotProductAttention, q, k, v, mask=mask, scale=1.0 / math.sqrt(d),
                        dropout_p=float(p), return_weights=need_weights)
    o, weights = (res if need_weights else (res, None))
    o = o.permute(2, 0, 1, 3).reshape(L * N, E)
    out = linear(o, out_proj_weight, out_proj_bias).reshape(L, N, E)
    return out, weights


def _append_rows(x, rows, dim):
    """x with ``rows`` appended along ``dim`` (a recorded concatenation)."""
    from ...tensor import cat
    return cat([x, rows.to(x.dtype)], dim=dim)


def _zeros_like_heads(x, xp):
    """Zeros (N, h, 1, d) for x (N, h, S, d): the zero key/value of ``add_zero_attn``."""
    from ...tensor import Tensor
    return Tensor.wrap(xp.zeros(tuple(x.shape[:2]) + (1, x.shape[3]), dtype=x.dtype))


def _static_heads(static, N, heads, d, what):
    """A ``static_k``/``static_v`` (N*heads, S, d) as (N, heads, S, d), checked as torch."""
    if static.ndim != 3 or static.shape[0] != N * heads:
        raise ValueError(f"multi_head_attention_forward: expecting {what}.size(0) of "
                         f"{N * heads}, but got shape {tuple(static.shape)}")
    if static.shape[2] != d:
        raise ValueError(f"multi_head_attention_forward: expecting {what}.size(2) of {d}, but "
                         f"got {static.shape[2]}")
    return static.reshape(N, heads, static.shape[1], d)


def _pad_keys(mask, count, xp):
    """The additive mask with ``count`` zero columns appended (keys every query may see): a
    raw array, or a recorded Tensor when the mask is learned."""
    if hasattr(mask, "_tensor_marker"):
        from ...tensor import Tensor, cat
        zeros = xp.zeros(tuple(mask.shape[:-1]) + (count,), dtype=mask.dtype)
        return cat([mask, Tensor.wrap(zeros)], dim=-1)
    return xp.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, count)])


def _apply_masked(function, *inputs, mask, **kwargs):
    """``function.apply`` with the mask as the node's last input when it is a Tensor that
    requires grad (it gets one), else as the constant ``mask=``."""
    if getattr(mask, "requires_grad", False):
        return function.apply(*inputs, mask, **kwargs)
    return function.apply(*inputs, mask=mask, **kwargs)
