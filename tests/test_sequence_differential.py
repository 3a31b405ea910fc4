"""Differential checks of the sequence and attention layers against torch (same weights, same
inputs): the cases a probe round found different, each a regression test.

Recurrent layers: constructor checks, empty sequences, ``all_weights``.  Attention:
``F.scaled_dot_product_attention(enable_gqa=True)``, mask dtypes, a head dim of 0, dropout
p = 1 and outside [0, 1], torch's positional signature of ``F.multi_head_attention_forward``,
MultiheadAttention's attributes.  Embedding: torch's argument names.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F


def _pair(a, grad=True):
    """The same float64 array as a torch tensor and as ours (both leaves)."""
    a = np.asarray(a)
    rg = grad and a.dtype.kind == "f"
    return (torch.tensor(a.copy(), requires_grad=rg),
            tg.Tensor(a.copy(), requires_grad=rg))


def _host(t):
    return t.detach().numpy()


def _backward_both(out_t, out_o, seed=0):
    """Backpropagate the same random projection of both outputs."""
    w = np.random.default_rng(seed).standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(w)).sum().backward()
    (out_o * tg.Tensor(w)).sum().backward()


def _assert_close(ours, theirs, tol=1e-10):
    np.testing.assert_allclose(_host(ours), _host(theirs), rtol=tol, atol=tol)


# ---- scaled_dot_product_attention -------------------------------------------------------------
@pytest.mark.parametrize("q_shape, k_heads, v_heads, extra", [
    ((2, 4, 3, 8), 2, 2, {}),
    ((2, 6, 3, 8), 2, 3, {}),                     # k and v repeat differently
    ((2, 4, 3, 8), 1, 4, {"is_causal": True}),
    ((4, 3, 8), 2, 2, {"mask": (4, 3, 5)}),        # q (heads, L, E): no batch axis
    ((2, 4, 3, 8), 4, 4, {"scale": 0.3}),          # equal heads: nothing repeats
])
def test_sdpa_enable_gqa_matches_torch(q_shape, k_heads, v_heads, extra):
    rng = np.random.default_rng(0)
    lead, E = q_shape[:-3], q_shape[-1]
    S = 5
    qt, qo = _pair(rng.standard_normal(q_shape))
    kt, ko = _pair(rng.standard_normal(lead + (k_heads, S, E)))
    vt, vo = _pair(rng.standard_normal(lead + (v_heads, S, 6)))
    kw = dict(extra)
    kw_o = dict(extra)
    if "mask" in kw:
        m = rng.standard_normal(kw.pop("mask"))
        kw["attn_mask"], kw_o["attn_mask"] = torch.tensor(m), tg.Tensor(m)
        del kw_o["mask"]
    out_t = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, enable_gqa=True, **kw)
    out_o = F.scaled_dot_product_attention(qo, ko, vo, enable_gqa=True, **kw_o)
    _assert_close(out_o, out_t)
    _backward_both(out_t, out_o)
    for ours, theirs in ((qo, qt), (ko, kt), (vo, vt)):
        _assert_close(ours.grad, theirs.grad)


def test_sdpa_enable_gqa_errors():
    q, k = tg.randn(2, 4, 3, 8), tg.randn(2, 3, 5, 8)
    with pytest.raises(ValueError, match="divide the number of heads"):
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(tg.randn(3, 8), tg.randn(5, 8), tg.randn(5, 8),
                                       enable_gqa=True)
    # without enable_gqa, differing head counts do not broadcast (as torch)
    with pytest.raises(ValueError):
        F.scaled_dot_product_attention(q, tg.randn(2, 2, 5, 8), tg.randn(2, 2, 5, 8))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_sdpa_integer_mask_raises(dtype):
    """torch refuses integer masks; adding 0/1 values as scores would silently give wrong
    attention to a caller who meant "1 = take part"."""
    q = tg.randn(2, 4, 8)
    mask = tg.Tensor(np.ones((4, 4), dtype=dtype))
    with pytest.raises(TypeError, match="attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mask)


def test_sdpa_zero_head_dim_matches_torch():
    """E = 0: every score is 0, so each query averages V (torch's result), no division error."""
    rng = np.random.default_rng(1)
    qt, qo = _pair(np.zeros((2, 3, 0)))
    kt, ko = _pair(np.zeros((2, 5, 0)))
    vt, vo = _pair(rng.standard_normal((2, 5, 4)))
    out_t = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt)
    out_o = F.scaled_dot_product_attention(qo, ko, vo)
    _assert_close(out_o, out_t)


# ---- F.multi_head_attention_forward ----------------------------------------------------------
def _torch_mha(E=8, heads=2, **kw):
    torch.manual_seed(0)
    m = torch.nn.MultiheadAttention(E, heads, **kw).double()
    return m, {k: tg.Tensor(v.detach().numpy().copy(), requires_grad=True)
               for k, v in m.named_parameters()}


@pytest.mark.parametrize("mode", ["self", "cross", "separate", "unbatched"])
def test_functional_multi_head_attention_takes_torch_arguments(mode):
    """torch's positional order (embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
    bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, ...)."""
    E, H, L, S, N = 8, 2, 4, 5, 3
    rng = np.random.default_rng(2)
    separate = mode == "separate"
    tm, p = _torch_mha(E, H, kdim=6 if separate else None, vdim=7 if separate else None)
    unbatched = mode == "unbatched"
    lead = () if unbatched else (N,)
    qt, qo = _pair(rng.standard_normal((L,) + lead + (E,)))
    if mode == "self":
        (kt, ko), (vt, vo) = (qt, qo), (qt, qo)
    else:
        kt, ko = _pair(rng.standard_normal((S,) + lead + (6 if separate else E,)))
        vt, vo = _pair(rng.standard_normal((S,) + lead + (7 if separate else E,)))
    S_ = L if mode == "self" else S
    kpm = np.zeros(lead + (S_,))
    kpm[..., -1] = -np.inf
    amask = rng.standard_normal((L, S_))
    tw = dict(tm.named_parameters())
    common_t = dict(training=False, key_padding_mask=torch.tensor(kpm), need_weights=True,
                    attn_mask=torch.tensor(amask), average_attn_weights=False)
    common_o = dict(training=False, key_padding_mask=tg.Tensor(kpm), need_weights=True,
                    attn_mask=tg.Tensor(amask), average_attn_weights=False)
    if separate:
        common_t.update(use_separate_proj_weight=True, q_proj_weight=tw["q_proj_weight"],
                        k_proj_weight=tw["k_proj_weight"], v_proj_weight=tw["v_proj_weight"])
        common_o.update(use_separate_proj_weight=True, q_proj_weight=p["q_proj_weight"],
                        k_proj_weight=p["k_proj_weight"], v_proj_weight=p["v_proj_weight"])
    out_t, w_t = torch.nn.functional.multi_head_attention_forward(
        qt, kt, vt, E, H, tw.get("in_proj_weight"), tw["in_proj_bias"], None, None, False, 0.0,
        tw["out_proj.weight"], tw["out_proj.bias"], **common_t)
    out_o, w_o = F.multi_head_attention_forward(
        qo, ko, vo, E, H, p.get("in_proj_weight"), p["in_proj_bias"], None, None, False, 0.0,
        p["out_proj.weight"], p["out_proj.bias"], **common_o)
    assert tuple(out_o.shape) == tuple(out_t.shape) and tuple(w_o.shape) == tuple(w_t.shape)
    _assert_close(out_o, out_t)
    _assert_close(w_o, w_t)
    _backward_both(out_t, out_o)
    for name, param in p.items():
        _assert_close(param.grad, tw[name].grad)
    _assert_close(qo.grad, qt.grad)


def test_functional_multi_head_attention_refuses_what_it_cannot_do():
    _, p = _torch_mha()
    x = tg.randn(4, 3, 8, dtype="float64")
    args = (p["in_proj_weight"], p["in_proj_bias"])
    out = (p["out_proj.weight"], p["out_proj.bias"])
    with pytest.raises(ValueError, match="embed_dim_to_check"):
        F.multi_head_attention_forward(x, x, x, 6, 2, *args, None, None, False, 0.0, *out)
    bias_k = tg.zeros(1, 1, 8, dtype="float64")
    with pytest.raises(ValueError, match="bias_v is None"):
        F.multi_head_attention_forward(x, x, x, 8, 2, *args, bias_k, None, False, 0.0, *out)
    with pytest.raises(ValueError, match="static key"):
        F.multi_head_attention_forward(x, x, x, 8, 2, *args, bias_k, bias_k, False, 0.0, *out,
                                       static_k=tg.zeros(6, 4, 4, dtype="float64"))
    with pytest.raises(ValueError, match="static_k"):
        F.multi_head_attention_forward(x, x, x, 8, 2, *args, None, None, False, 0.0, *out,
                                       static_k=x)


def test_multihead_attention_has_torch_attributes():
    for kw in ({}, {"kdim": 5, "vdim": 6}):
        theirs, ours = torch.nn.MultiheadAttention(8, 2, **kw), nn.MultiheadAttention(8, 2, **kw)
        for name in ("bias_k", "bias_v", "add_zero_attn", "_qkv_same_embed_dim", "head_dim"):
            assert getattr(ours, name) == getattr(theirs, name), name


# ---- recurrent layers -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_recurrent_constructor_checks_as_torch(kind):
    ours = getattr(nn, kind)
    for args, kw in (((0, 4), {}), ((3, 0), {}), ((3, 4), {"num_layers": 0})):
        with pytest.raises(ValueError, match="greater than zero"):
            ours(*args, **kw)
    for args, kw in (((3, 4.0), {}), ((3.5, 4), {}), ((3, 4), {"num_layers": 1.5})):
        with pytest.raises(TypeError):
            ours(*args, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours(3, 4, dropout=0.5)
        ours(3, 4, num_layers=2, dropout=0.5)
    assert len(caught) == 1 and "num_layers greater than 1" in str(caught[0].message)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("shape", [(0, 2, 3), (0, 3)])
def test_recurrent_empty_sequence_raises_as_torch(kind, shape):
    m = getattr(nn, kind)(3, 4)
    with pytest.raises(ValueError, match="sequence length"):
        m(tg.zeros(*shape))
    with pytest.raises(RuntimeError):
        getattr(torch.nn, kind)(3, 4)(torch.zeros(*shape))


def test_recurrent_empty_batch_still_runs_as_torch():
    out, h = nn.GRU(3, 4, num_layers=2)(tg.zeros(5, 0, 3))
    out_t, h_t = torch.nn.GRU(3, 4, num_layers=2)(torch.zeros(5, 0, 3))
    assert tuple(out.shape) == tuple(out_t.shape) and tuple(h.shape) == tuple(h_t.shape)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_all_weights_as_torch(kind, bias):
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, bias=bias)
    ours = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, bias=bias)
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert ours._all_weights == theirs._all_weights
    assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]
    params = dict(ours.named_parameters())
    for names, ws in zip(ours._all_weights, ours.all_weights):
        assert all(w is params[n] for n, w in zip(names, ws))
    assert ours.proj_size == theirs.proj_size == 0


# ---- embedding --------------------------------------------------------------------------------
def test_embedding_arguments_have_torch_names():
    """``input`` by keyword, as torch's F.embedding, F.one_hot and Embedding.forward."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 3))
    idx = np.array([[1, 0, 5], [2, 2, 0]])
    wt, wo = _pair(w)
    out_t = torch.nn.functional.embedding(input=torch.tensor(idx), weight=wt, padding_idx=2)
    out_o = F.embedding(input=tg.Tensor(idx), weight=wo, padding_idx=2)
    _assert_close(out_o, out_t)
    _backward_both(out_t, out_o)
    _assert_close(wo.grad, wt.grad)
    layer = nn.Embedding.from_pretrained(tg.Tensor(w))
    _assert_close(layer(input=tg.Tensor(idx)), out_t)
    np.testing.assert_array_equal(
        F.one_hot(input=tg.Tensor(idx), num_classes=6).numpy(),
        torch.nn.functional.one_hot(input=torch.tensor(idx), num_classes=6).numpy())


# ---- attention dropout at its limits ------------------------------------------------------------
def test_attention_dropout_one_drops_everything_as_torch():
    """p = 1: every weight dropped, so the attention output is 0 (torch), not a division by
    zero; MultiheadAttention in training then returns the output projection's bias."""
    rng = np.random.default_rng(4)
    qt, qo = _pair(rng.standard_normal((2, 3, 4)))
    out_t = torch.nn.functional.scaled_dot_product_attention(qt, qt, qt, dropout_p=1.0)
    out_o = F.scaled_dot_product_attention(qo, qo, qo, dropout_p=1.0)
    _assert_close(out_o, out_t)
    _backward_both(out_t, out_o)
    _assert_close(qo.grad, qt.grad)
    tm, _ = _torch_mha(dropout=1.0)
    om = nn.MultiheadAttention(8, 2, dropout=1.0).double()
    om.load_state_dict({k: tg.Tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((4, 3, 8))
    _assert_close(om(*(tg.Tensor(x),) * 3, need_weights=False)[0],
                  tm(*(torch.tensor(x),) * 3, need_weights=False)[0])


@pytest.mark.parametrize("p", [1.5, -0.1])
def test_attention_dropout_outside_zero_one_raises(p):
    q = tg.randn(2, 3, 4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=p)
    m = nn.MultiheadAttention(4, 2, dropout=p)
    m.eval()
    m(q, q, q)                                  # no dropout in eval: accepted, as torch
    m.train()
    with pytest.raises(ValueError, match="between 0 and 1"):
        m(q, q, q)
