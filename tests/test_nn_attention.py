"""Attention: the fused scaled-dot-product Function (gradcheck, primitive reference, torch),
MultiheadAttention, Transformer encoder/decoder layers and PositionalEncoding against torch."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend
from tinygrad_cv.testing import gradcheck

from torch_compare import (assert_param_grads_match, assert_same_state_layout, copy_weights,
                           host)

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}


def ref_attention(q, k, v, mask=None, causal=False, scale=None):
    """softmax(scale q k^T + M) v from primitive Tensor ops (bool mask: True = take part)."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.transpose(-1, -2)) * scale
    L, S = q.shape[-2], k.shape[-2]
    if causal:
        mask = np.tril(np.ones((L, S), dtype=bool))
    if mask is not None:
        if mask.dtype == bool:
            s = s + tg.Tensor(np.where(mask, 0.0, -np.inf).astype(s.dtype))
        else:
            s = s + tg.Tensor(mask.astype(s.dtype))
    return s.softmax(dim=-1) @ v


def random_mask(rng, shape, kind):
    """A mask of ``kind`` ('bool' with every row keeping key 0, 'float', None)."""
    if kind is None:
        return None
    if kind == "bool":
        m = rng.random(shape) > 0.4
        m[..., 0] = True
        return m
    return rng.standard_normal(shape)


def project_loss(outputs, rng, dtype, ours):
    """sum_k <w_k, y_k> with fixed random w_k (same for both frameworks given the same rng)."""
    loss = 0
    for y in outputs:
        w = rng.standard_normal(tuple(y.shape)).astype(dtype)
        loss = loss + (y * (tg.Tensor(w) if ours else torch.tensor(w))).sum()
    return loss


# ---- scaled_dot_product_attention ---------------------------------------------------------
@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal"])
@pytest.mark.parametrize("need_weights", [False, True])
def test_sdpa_gradcheck(mask_kind, need_weights):
    rng = np.random.default_rng(0)
    q, k, v = (tg.Tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(2, 3, 4), (2, 5, 4), (2, 5, 3)])
    causal = mask_kind == "causal"
    mask = None if causal else random_mask(rng, (3, 5), mask_kind)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal, need_weights=need_weights), (q, k, v))


def test_sdpa_gradcheck_with_dropout():
    rng = np.random.default_rng(1)
    q, k, v = (tg.Tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(2, 4, 3), (2, 4, 3), (2, 4, 3)])

    def fn(q, k, v):
        tg.manual_seed(7)  # the same dropout mask in every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, need_weights=True)

    assert gradcheck(fn, (q, k, v))
    out, w = fn(q, k, v)
    ref_w = host(F.scaled_dot_product_attention(q, k, v, need_weights=True)[1])
    kept = host(w) != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(host(w)[kept], ref_w[kept] / 0.6, rtol=1e-12)
    np.testing.assert_allclose(host(out), host(w) @ host(v), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(batch=st.lists(st.integers(1, 3), min_size=0, max_size=2), L=st.integers(1, 6),
       S=st.integers(1, 6), E=st.integers(1, 5), Ev=st.integers(1, 5),
       mask_kind=st.sampled_from([None, "bool", "float", "causal"]),
       mask_batched=st.booleans(), scale=st.sampled_from([None, 0.5]),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_sdpa_matches_torch_and_primitive_reference(batch, L, S, E, Ev, mask_kind,
                                                    mask_batched, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    lead = tuple(batch)
    arrs = [rng.standard_normal(lead + s).astype(dtype) for s in [(L, E), (S, E), (S, Ev)]]
    causal = mask_kind == "causal"
    mshape = (lead + (L, S)) if mask_batched else (L, S)
    mask = None if causal else random_mask(rng, mshape, mask_kind)
    if mask is not None and mask.dtype != bool:
        mask = mask.astype(dtype)
    ours = [tg.Tensor(a, requires_grad=True) for a in arrs]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrs]
    refs = [tg.Tensor(a, requires_grad=True) for a in arrs]
    y = F.scaled_dot_product_attention(*ours, attn_mask=mask, is_causal=causal, scale=scale)
    yt = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if mask is None else torch.tensor(mask), is_causal=causal,
        scale=scale)
    yr = ref_attention(*refs, mask=mask, causal=causal, scale=scale)
    tol = TOL[dtype]
    np.testing.assert_allclose(host(y), host(yt), **tol)
    np.testing.assert_allclose(host(y), host(yr), **tol)
    g = rng.standard_normal(yt.shape).astype(dtype)
    y.backward(tg.Tensor(g))
    yt.backward(torch.tensor(g))
    yr.backward(tg.Tensor(g))
    for a, b, c in zip(ours, theirs, refs):
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), **tol)
        np.testing.assert_allclose(host(a.grad), host(c.grad), **tol)


def _packed_reference(qkv, heads, batch_first, mask, scale, dropout_p, need_weights):
    """The straightforward form of PackedSelfAttention: slice Q, K, V out of the packed
    Tensor, permute them to (N, heads, L, d), the fused SDPA Function, permute back."""
    A, B, E3 = qkv.shape
    E = E3 // 3
    perm = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
    q, k, v = (qkv[..., j * E:(j + 1) * E].reshape(A, B, heads, E // heads).permute(*perm)
               for j in range(3))
    from tinygrad_cv.nn.functional.attention import ScaledDotProductAttention
    res = ScaledDotProductAttention.apply(q, k, v, mask=mask, scale=scale, dropout_p=dropout_p,
                                          return_weights=need_weights)
    o, w = res if need_weights else (res, None)
    back = (0, 2, 1, 3) if batch_first else (2, 0, 1, 3)
    o = o.permute(*back).reshape(A, B, E)
    return (o, w) if need_weights else o


@settings(max_examples=15, deadline=None)
@given(heads_d=st.sampled_from([(1, 1), (1, 3), (2, 2), (4, 3)]), A=st.integers(1, 5),
       B=st.integers(1, 5), batch_first=st.booleans(),
       mask_kind=st.sampled_from([None, "float", "padding"]), dropout=st.sampled_from([0.0, 0.3]),
       need_weights=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 2**16))
def test_packed_self_attention_matches_split_sdpa(heads_d, A, B, batch_first, mask_kind,
                                                  dropout, need_weights, dtype, seed):
    """The fused packed path (strided head views, output and dQ/dK/dV written in the token
    layout) against slice + permute + ScaledDotProductAttention, forward and backward, with
    the same dropout draw (same seed)."""
    from tinygrad_cv.nn.functional.attention import PackedSelfAttention
    heads, d = heads_d
    E = heads * d
    N, L = (A, B) if batch_first else (B, A)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((A, B, 3 * E)).astype(dtype)
    mask = None
    if mask_kind == "float":
        mask = rng.standard_normal((N, heads, L, L)).astype(dtype)
    elif mask_kind == "padding":     # additive key-padding mask, one row fully masked
        mask = np.where(rng.random((N, 1, 1, L)) < 0.4, -np.inf, 0.0).astype(dtype)
        mask[0, ..., :] = -np.inf
    kw = dict(mask=mask, scale=1.0 / math.sqrt(d), dropout_p=dropout)
    xo, xr = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    tg.manual_seed(seed)
    yo = PackedSelfAttention.apply(xo, heads=heads, batch_first=batch_first,
                                   return_weights=need_weights, **kw)
    tg.manual_seed(seed)
    yr = _packed_reference(xr, heads, batch_first, need_weights=need_weights, **kw)
    outs_o, outs_r = (list(yo), list(yr)) if need_weights else ([yo], [yr])
    tol = TOL[dtype]
    for a, b in zip(outs_o, outs_r):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(host(a), host(b), **tol)
    project_loss(outs_o, np.random.default_rng(1), dtype, True).backward()
    project_loss(outs_r, np.random.default_rng(1), dtype, True).backward()
    np.testing.assert_allclose(host(xo.grad), host(xr.grad), **tol)


@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_self_attention_gradcheck(batch_first):
    from tinygrad_cv.nn.functional.attention import PackedSelfAttention
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.standard_normal((3, 2, 12)), requires_grad=True)
    mask = rng.standard_normal((3 if batch_first else 2, 2, 2 if batch_first else 3,
                                2 if batch_first else 3))

    def fn(x):
        return PackedSelfAttention.apply(x, mask=mask, heads=2, batch_first=batch_first,
                                         scale=0.7, return_weights=True)

    assert gradcheck(fn, (x,))


def test_sdpa_fully_masked_row_gives_zeros_like_torch():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in [(3, 4), (2, 4), (2, 4)])
    mask = np.array([[True, True], [False, False], [True, False]])
    qt = tg.Tensor(q, requires_grad=True)
    y = F.scaled_dot_product_attention(qt, tg.Tensor(k), tg.Tensor(v), attn_mask=mask)
    yt = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(host(y), yt.numpy(), rtol=1e-12, atol=1e-14)
    assert np.all(host(y)[1] == 0)
    y.sum().backward()
    assert np.all(np.isfinite(host(qt.grad)))


def test_sdpa_bad_shapes_raise():
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(tg.zeros(2, 3, 4), tg.zeros(2, 5, 3), tg.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="attn_mask"):
        F.scaled_dot_product_attention(tg.zeros(2, 3, 4), tg.zeros(2, 5, 4), tg.zeros(2, 5, 3),
                                       attn_mask=np.ones((3, 4), dtype=bool))


# ---- MultiheadAttention -------------------------------------------------------------------
def mha_masks(rng, N, h, L, S, attn_kind, attn_3d, kpm_kind, causal, dtype):
    """(attn_mask, key_padding_mask) as nn.MultiheadAttention takes them (bool True = masked);
    every query keeps key 0 visible so no row is fully masked."""
    attn = kpm = None
    if causal:
        attn = np.triu(np.ones((L, S), dtype=bool), 1)
    elif attn_kind == "bool":
        attn = rng.random((N * h, L, S) if attn_3d else (L, S)) < 0.4
        attn[..., 0] = False
    elif attn_kind == "float":
        attn = rng.standard_normal((N * h, L, S) if attn_3d else (L, S)).astype(dtype)
    if kpm_kind is not None and attn is not None:  # torch wants both masks of one type
        kpm_kind = "bool" if attn.dtype == bool else "float"
    if kpm_kind == "bool":
        kpm = rng.random((N, S)) < 0.4
        kpm[:, 0] = False
    elif kpm_kind == "float":
        kpm = rng.standard_normal((N, S)).astype(dtype)
    return attn, kpm


def _t(a):
    return None if a is None else torch.tensor(a)


@settings(max_examples=25, deadline=None)
@given(E_h=st.sampled_from([(4, 1), (6, 2), (8, 4)]), L=st.integers(1, 5), S=st.integers(1, 5),
       N=st.integers(1, 3), batch_first=st.booleans(), mode=st.sampled_from(["self", "kv", "cross"]),
       kvdim=st.sampled_from([None, 3]), bias=st.booleans(),
       attn_kind=st.sampled_from([None, "bool", "float"]), attn_3d=st.booleans(),
       kpm_kind=st.sampled_from([None, "bool", "float"]), causal=st.booleans(),
       need_weights=st.booleans(), average=st.booleans(), train=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_multihead_attention_matches_torch(E_h, L, S, N, batch_first, mode, kvdim, bias,
                                           attn_kind, attn_3d, kpm_kind, causal, need_weights,
                                           average, train, dtype, seed):
    E, h = E_h
    if mode == "self":
        S, kvdim = L, None
    if causal:
        S = L
    torch.manual_seed(seed)
    kw = dict(bias=bias, batch_first=batch_first, kdim=kvdim, vdim=kvdim)
    theirs = torch.nn.MultiheadAttention(E, h, **kw).to(getattr(torch, dtype))
    ours = nn.MultiheadAttention(E, h, dtype=dtype, **kw)
    assert_same_state_layout(ours, theirs)
    copy_weights(ours, theirs)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)

    def seq(n, d):
        return rng.standard_normal((N, n, d) if batch_first else (n, N, d)).astype(dtype)

    q = seq(L, E)
    kd = kvdim or E
    k = q if mode == "self" else seq(S, kd)
    v = k if mode in ("self", "kv") else seq(S, kd)
    attn, kpm = mha_masks(rng, N, h, L, S, attn_kind, attn_3d, kpm_kind, causal, dtype)

    def leaves(make):
        qq = make(q)
        kk = qq if mode == "self" else make(k)
        vv = kk if mode in ("self", "kv") else make(v)
        return qq, kk, vv

    qo, ko, vo = leaves(lambda a: tg.Tensor(a, requires_grad=True))
    qt, kt, vt = leaves(lambda a: torch.tensor(a, requires_grad=True))
    margs = dict(need_weights=need_weights, average_attn_weights=average, is_causal=causal)
    yo, wo = ours(qo, ko, vo, key_padding_mask=kpm, attn_mask=attn, **margs)
    yt, wt = theirs(qt, kt, vt, key_padding_mask=_t(kpm), attn_mask=_t(attn), **margs)
    tol = TOL[dtype]
    np.testing.assert_allclose(host(yo), host(yt), **tol)
    outs_o, outs_t = [yo], [yt]
    if need_weights:
        assert tuple(wo.shape) == tuple(wt.shape)
        np.testing.assert_allclose(host(wo), host(wt), **tol)
        outs_o.append(wo)
        outs_t.append(wt)
    else:
        assert wo is None and wt is None
    project_loss(outs_o, np.random.default_rng(1), dtype, True).backward()
    project_loss(outs_t, np.random.default_rng(1), dtype, False).backward()
    for a, b in {id(x): (x, y) for x, y in [(qo, qt), (ko, kt), (vo, vt)]}.values():
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), **tol)
    assert_param_grads_match(ours, theirs, tol)


def test_multihead_attention_unbatched_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(6, 3).double()
    ours = nn.MultiheadAttention(6, 3, dtype="float64")
    copy_weights(ours, theirs)
    rng = np.random.default_rng(0)
    x, m = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    kpm = np.array([False, True, False, False, True])
    yo, wo = ours(tg.Tensor(x), tg.Tensor(m), tg.Tensor(m), key_padding_mask=kpm)
    yt, wt = theirs(torch.tensor(x), torch.tensor(m), torch.tensor(m),
                    key_padding_mask=torch.tensor(kpm))
    assert yo.shape == (4, 6) and wo.shape == (4, 5)
    np.testing.assert_allclose(host(yo), host(yt), **TOL["float64"])
    np.testing.assert_allclose(host(wo), host(wt), **TOL["float64"])


def test_multihead_attention_dropout_train_vs_eval():
    tg.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = tg.randn(5, 3, 8)
    m.eval()
    a, wa = m(x, x, x)
    b, _ = m(x, x, x)
    np.testing.assert_array_equal(host(a), host(b))
    np.testing.assert_allclose(host(wa).sum(-1), 1, rtol=1e-5)
    m.train()
    c, wc = m(x, x, x, average_attn_weights=False)
    assert not np.allclose(host(a), host(c))
    vals = host(wc)
    assert np.any(vals == 0) and np.all((vals == 0) | (vals > 0))


def test_multihead_attention_is_causal_alone_builds_the_causal_mask():
    tg.manual_seed(0)
    m = nn.MultiheadAttention(8, 2)
    x = tg.randn(5, 2, 8)
    kpm = tg.Tensor(np.array([[False] * 5, [False, False, False, True, True]]))
    a, wa = m(x, x, x, is_causal=True, key_padding_mask=kpm)
    b, wb = m(x, x, x, attn_mask=np.triu(np.ones((5, 5), dtype=bool), 1),
              key_padding_mask=kpm)
    np.testing.assert_allclose(host(a), host(b), rtol=1e-6)
    np.testing.assert_allclose(host(wa), host(wb), rtol=1e-6)
    assert np.all(np.triu(host(wa)[0], 1) == 0)


def test_multihead_attention_init_and_names():
    m = nn.MultiheadAttention(16, 4)
    t = torch.nn.MultiheadAttention(16, 4)
    assert list(m.state_dict()) == list(t.state_dict())
    bound = math.sqrt(6 / (16 + 48))
    w = host(m.in_proj_weight)
    assert w.min() >= -bound and w.max() <= bound and w.std() > bound / 4
    assert not np.any(host(m.in_proj_bias)) and not np.any(host(m.out_proj.bias))
    m2 = nn.MultiheadAttention(16, 4, kdim=5, vdim=7, bias=False)
    t2 = torch.nn.MultiheadAttention(16, 4, kdim=5, vdim=7, bias=False)
    assert [(k, tuple(v.shape)) for k, v in m2.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t2.state_dict().items()]


def test_multihead_attention_bad_shapes_raise():
    m = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*query.*\(\*, N, 8\).*\(5, 3, 6\)"):
        m(tg.zeros(5, 3, 6), tg.zeros(5, 3, 8), tg.zeros(5, 3, 8))
    with pytest.raises(ValueError, match=r"MultiheadAttention.*key_padding_mask.*\(3, 5\)"):
        m(tg.zeros(4, 3, 8), tg.zeros(5, 3, 8), tg.zeros(5, 3, 8),
          key_padding_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"MultiheadAttention.*attn_mask"):
        m(tg.zeros(4, 3, 8), tg.zeros(5, 3, 8), tg.zeros(5, 3, 8),
          attn_mask=np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)


# ---- Transformer layers ---------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(decoder=st.booleans(), E_h=st.sampled_from([(4, 1), (8, 2), (12, 3)]),
       ff=st.integers(1, 16), L=st.integers(1, 5), S=st.integers(1, 5), N=st.integers(1, 3),
       batch_first=st.booleans(), norm_first=st.booleans(),
       activation=st.sampled_from(["relu", "gelu"]), bias=st.booleans(),
       masks=st.booleans(), causal=st.booleans(), train=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_transformer_layers_match_torch(decoder, E_h, ff, L, S, N, batch_first, norm_first,
                                        activation, bias, masks, causal, train, dtype, seed):
    E, h = E_h
    torch.manual_seed(seed)
    kw = dict(dim_feedforward=ff, dropout=0.0, activation=activation, batch_first=batch_first,
              norm_first=norm_first, bias=bias)
    name = "TransformerDecoderLayer" if decoder else "TransformerEncoderLayer"
    theirs = getattr(torch.nn, name)(E, h, **kw).to(getattr(torch, dtype))
    ours = getattr(nn, name)(E, h, dtype=dtype, **kw)
    assert_same_state_layout(ours, theirs)
    copy_weights(ours, theirs)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)

    def seq(n):
        return rng.standard_normal((N, n, E) if batch_first else (n, N, E)).astype(dtype)

    x = seq(L)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    self_mask = np.triu(np.ones((L, L), dtype=bool), 1) if causal else None
    kpm = None
    if masks:
        kpm = rng.random((N, L)) < 0.4
        kpm[:, 0] = False
    if decoder:
        mem = seq(S)
        mo, mt = tg.Tensor(mem, requires_grad=True), torch.tensor(mem, requires_grad=True)
        mem_kpm = None
        if masks:
            mem_kpm = rng.random((N, S)) < 0.4
            mem_kpm[:, 0] = False
        yo = ours(xo, mo, tgt_mask=self_mask, tgt_key_padding_mask=kpm,
                  memory_key_padding_mask=mem_kpm, tgt_is_causal=causal)
        yt = theirs(xt, mt, tgt_mask=_t(self_mask), tgt_key_padding_mask=_t(kpm),
                    memory_key_padding_mask=_t(mem_kpm), tgt_is_causal=causal)
    else:
        yo = ours(xo, src_mask=self_mask, src_key_padding_mask=kpm, is_causal=causal)
        yt = theirs(xt, src_mask=_t(self_mask), src_key_padding_mask=_t(kpm), is_causal=causal)
    tol = TOL[dtype]
    np.testing.assert_allclose(host(yo), host(yt), **tol)
    g = rng.standard_normal(yt.shape).astype(dtype)
    yo.backward(tg.Tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(host(xo.grad), xt.grad.numpy(), **tol)
    if decoder:
        np.testing.assert_allclose(host(mo.grad), mt.grad.numpy(), **tol)
    assert_param_grads_match(ours, theirs, tol)


@settings(max_examples=15, deadline=None)
@given(R=st.integers(1, 6), D=st.integers(1, 5), Fh=st.integers(1, 7), Do=st.integers(1, 4),
       bias=st.booleans(), dropout=st.sampled_from([0.0, 0.4]),
       needs=st.sampled_from([(True,) * 5, (True, False, False, False, False),
                              (False, True, True, True, True)]),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_feed_forward_relu_fn_matches_composition(R, D, Fh, Do, bias, dropout, needs, dtype,
                                                  seed):
    """The fused Linear -> ReLU -> dropout factors -> Linear node against the composition of
    linear, relu, a multiply and linear: output and the gradient of every input."""
    from tinygrad_cv.nn.functional.linear import FeedForwardReLUFn
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s).astype(dtype) for s in [(R, D), (Fh, D), (Fh,), (Do, Fh),
                                                           (Do,)]]
    arrs[0][0, 0] = 0.0                                   # an exact zero pre-activation row
    arrs[1][0] = 0.0
    if not bias:
        arrs[2] = arrs[4] = None
    keep = None
    if dropout:
        keep = ((rng.random((R, Fh)) >= dropout) / (1 - dropout)).astype(dtype)
    g = rng.standard_normal((R, Do)).astype(dtype)

    def leaves():
        return [None if a is None else tg.Tensor(a, requires_grad=r)
                for a, r in zip(arrs, needs)]

    ours, ref = leaves(), leaves()
    y = FeedForwardReLUFn.apply(*ours, keep=keep)
    h = F.relu(F.linear(ref[0], ref[1], ref[2]))
    if keep is not None:
        h = h * tg.Tensor(keep)
    yr = F.linear(h, ref[3], ref[4])
    tol = TOL[dtype]
    np.testing.assert_allclose(host(y), host(yr), **tol)
    y.backward(tg.Tensor(g))
    yr.backward(tg.Tensor(g))
    for a, b in zip(ours, ref):
        if a is not None and a.requires_grad:
            np.testing.assert_allclose(host(a.grad), host(b.grad), **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_feed_forward_keeps_the_dropout_draws(dtype):
    """A training step of an encoder layer with dropout: the fused ReLU block (drawing the
    dropout factors itself) gives the same outputs and gradients as the unfused Linear, ReLU,
    Dropout, Linear path (an activation the fusion does not recognise) from the same seed."""
    layers = []
    for act in ("relu", lambda t: F.relu(t)):
        tg.manual_seed(3)
        layers.append(nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.3,
                                                 activation=act, dtype=dtype))
    layers[1].load_state_dict(layers[0].state_dict())
    x = np.random.default_rng(0).standard_normal((5, 3, 8)).astype(dtype)
    results = []
    for layer in layers:
        layer.train()
        xt = tg.Tensor(x, requires_grad=True)
        tg.manual_seed(11)
        y = layer(xt)
        (y * y).sum().backward()
        results.append([host(y), host(xt.grad)] + [host(p.grad) for p in layer.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    assert not np.allclose(results[0][0], host(layers[0].eval()(tg.Tensor(x))))


def test_transformer_layer_submodule_names():
    enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    names = [n for n, _ in enc.named_children()]
    for n in ["self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1",
              "dropout2"]:
        assert n in names
    dec = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    names = [n for n, _ in dec.named_children()]
    for n in ["self_attn", "multihead_attn", "norm3", "dropout3"]:
        assert n in names
    assert list(dec.state_dict()) == list(torch.nn.TransformerDecoderLayer(8, 2, 16).state_dict())


def test_transformer_dropout_train_vs_eval():
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.3)
    x = tg.randn(4, 2, 8)
    layer.eval()
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(host(a), host(b))
    layer.train()
    assert not np.allclose(host(layer(x)), host(a))


def test_transformer_bad_input_raises():
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer.*src.*8\).*\(4, 2, 6\)"):
        nn.TransformerEncoderLayer(8, 2)(tg.zeros(4, 2, 6))
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer.*memory"):
        nn.TransformerDecoderLayer(8, 2)(tg.zeros(4, 2, 8), tg.zeros(4, 2, 5))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


# ---- PositionalEncoding ---------------------------------------------------------------------
def test_positional_encoding_formula_of_the_notes():
    d, n = 7, 30
    pe = nn.PositionalEncoding(d, max_len=n, dropout=0.0)
    table = np.empty((n, d))
    for i in range(n):
        for j in range(d):
            table[i, j] = (math.sin(i * 10000 ** (-j / d)) if j % 2 == 0
                           else math.cos(i * 10000 ** (-(j - 1) / d)))
    np.testing.assert_allclose(host(pe.pe), table, atol=1e-6)
    assert "pe" not in pe.state_dict() and "pe" in dict(pe.named_buffers())
    x = np.random.default_rng(0).standard_normal((5, 3, d)).astype("float32")
    np.testing.assert_allclose(host(pe(tg.Tensor(x))), x + table[:5, None], atol=1e-6)
    pe_bf = nn.PositionalEncoding(d, max_len=n, dropout=0.0, batch_first=True)
    xb = x.transpose(1, 0, 2)
    np.testing.assert_allclose(host(pe_bf(tg.Tensor(xb))), xb + table[None, :5], atol=1e-6)
    np.testing.assert_allclose(host(pe(tg.Tensor(x[:, 0]))), x[:, 0] + table[:5], atol=1e-6)


def test_positional_encoding_grad_dropout_and_errors():
    pe = nn.PositionalEncoding(4, max_len=6, dropout=0.5)
    x = tg.randn(3, 2, 4, requires_grad=True)
    pe.eval()
    pe(x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.ones((3, 2, 4), dtype=np.float32))
    pe.train()
    y = host(pe(x))
    assert np.any(y == 0)
    with pytest.raises(ValueError, match=r"PositionalEncoding.*max_len 6"):
        pe(tg.zeros(7, 2, 4))
    with pytest.raises(ValueError, match=r"PositionalEncoding.*\(L, N, 4\).*\(3, 2, 5\)"):
        pe(tg.zeros(3, 2, 5))


def test_attention_runs_on_device(device):
    m = nn.MultiheadAttention(8, 2, batch_first=True).to(device)
    x = tg.randn(2, 5, 8, device=device, requires_grad=True)
    kpm = backend.to_device(np.array([[False] * 5, [False, False, True, True, True]]), device)
    y, w = m(x, x, x, key_padding_mask=kpm)
    (y.sum() + w.sum()).backward()
    assert x.grad.device == device and y.shape == (2, 5, 8)


@pytest.mark.parametrize("batch_first", [False, True])
def test_fused_attention_and_feed_forward_export_to_onnx(batch_first):
    """PackedSelfAttention (both layouts, with a mask and averaged weights) and
    FeedForwardReLUFn through onnx.export, run by onnxruntime against our eval outputs."""
    import io
    ort = pytest.importorskip("onnxruntime")
    from tinygrad_cv.onnx import export

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.1,
                                                    batch_first=batch_first)
            self.attn = nn.MultiheadAttention(8, 4, batch_first=batch_first)

        def forward(self, x):
            y = self.layer(x, src_mask=np.triu(np.ones((5, 5), dtype=bool), 1))
            return self.attn(y, y, y)

    tg.manual_seed(0)
    block = Block().eval()
    x = tg.randn(3, 5, 8) if batch_first else tg.randn(5, 3, 8)
    buf = io.BytesIO()
    export(block, (x,), buf, input_names=["x"])
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": host(x)})
    with tg.no_grad():
        want = block(x)
    assert len(got) == 2
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, host(b), rtol=1e-4, atol=1e-5)
