"""Regression tests for the defects the language_translation port (tests/ports/) revealed,
each compared with torch on the same inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend


def host(t):
    return backend.to_numpy(t.array)


@pytest.mark.parametrize("ignore_index", [0, 3])
def test_cross_entropy_refuses_ignore_index_with_probability_targets(ignore_index):
    """torch: 'ignore_index is not supported for floating point target' (a class index
    >= 0 given with class-probability targets); it computed the loss, ignoring nothing."""
    rng = np.random.default_rng(0)
    x, p = rng.standard_normal((3, 4), np.float32), rng.random((3, 4), np.float32)
    with pytest.raises(RuntimeError, match="not supported for floating point target"):
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p),
                                          ignore_index=ignore_index)
    with pytest.raises(RuntimeError, match="ignore_index.*floating point"):
        tg.nn.functional.cross_entropy(tg.tensor(x), tg.tensor(p), ignore_index=ignore_index)
    with pytest.raises(RuntimeError, match="ignore_index.*floating point"):
        tg.nn.CrossEntropyLoss(ignore_index=ignore_index)(tg.tensor(x), tg.tensor(p))


@pytest.mark.parametrize("ignore_index", [-100, -5])
def test_cross_entropy_probability_targets_accept_a_negative_ignore_index(ignore_index):
    rng = np.random.default_rng(1)
    x, p = rng.standard_normal((3, 4), np.float32), rng.random((3, 4), np.float32)
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p),
                                            ignore_index=ignore_index)
    ours = tg.nn.functional.cross_entropy(tg.tensor(x), tg.tensor(p), ignore_index=ignore_index)
    np.testing.assert_allclose(host(ours), ref.numpy(), rtol=1e-6)


def _grads(fw, arrays, fn):
    """fn(*tensors) -> out with requires_grad float inputs; (out, [grads]) as arrays after
    out.backward(weights) with fixed weights."""
    ts = [fw.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(fw, *ts)
    out = out[0] if isinstance(out, tuple) else out
    w = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(np.float32)
    (out * fw.tensor(w)).sum().backward()
    to_np = (lambda t: t.detach().numpy()) if fw is torch else host
    return to_np(out), [None if t.grad is None else to_np(t.grad) for t in ts
                        if t.requires_grad]


def _assert_same_grads(arrays, fn):
    ref, ref_grads = _grads(torch, arrays, fn)
    ours, our_grads = _grads(tg, arrays, fn)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    assert [g is None for g in our_grads] == [g is None for g in ref_grads]
    for o, r in zip(our_grads, ref_grads):
        np.testing.assert_allclose(o, r, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mask_shape", [(4, 5), (2, 1, 4, 5), (3, 1, 5)])
def test_sdpa_float_mask_that_requires_grad_gets_its_gradient(mask_shape):
    """An additive attention bias being learned (a relative-position bias passed as
    attn_mask): dL/dM = dL/dS summed over the axes M was broadcast along; it got none."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s, np.float32) for s in ((2, 3, 4, 6), (2, 3, 5, 6),
                                                           (2, 3, 5, 6)))
    mask = rng.standard_normal(mask_shape, np.float32)
    mask[..., 0, 1] = -np.inf     # a masked pair: no gradient there
    _assert_same_grads([q, k, v, mask], lambda fw, q, k, v, m:
                       fw.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m))


def test_sdpa_float_mask_gradient_gradcheck():
    from tinygrad_cv.testing import gradcheck
    rng = np.random.default_rng(1)
    q, k, v = (tg.tensor(rng.standard_normal((2, 3, 4))) for _ in range(3))
    m = tg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert gradcheck(lambda m: tg.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m), (m,))


@pytest.mark.parametrize("self_attention", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("masks", ["attn", "attn3d", "kpm", "both"])
def test_multihead_attention_float_masks_that_require_grad_get_their_gradients(
        self_attention, need_weights, masks):
    """nn.MultiheadAttention's float attn_mask (L, S) / (N*h, L, S) and key_padding_mask
    (N, S), alone or mixed with a bool one, get dL/dS summed as torch's; the packed
    self-attention and the cross-attention paths both."""
    rng = np.random.default_rng(2)
    L, S, N, E, H = 4, (4 if self_attention else 5), 3, 8, 2
    x = rng.standard_normal((L, N, E), np.float32)
    kv = x if self_attention else rng.standard_normal((S, N, E), np.float32)
    attn = {"attn": rng.standard_normal((L, S), np.float32),
            "attn3d": rng.standard_normal((N * H, L, S), np.float32),
            "kpm": np.triu(np.ones((L, S), bool), 1),
            "both": rng.standard_normal((L, S), np.float32)}[masks]
    kpm = {"attn": None, "attn3d": None, "kpm": rng.standard_normal((N, S), np.float32),
           "both": rng.standard_normal((N, S), np.float32)}[masks]
    tm = torch.nn.MultiheadAttention(E, H)
    gm = tg.nn.MultiheadAttention(E, H)
    gm.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    arrays = [x] + ([] if self_attention else [kv]) + [attn] + ([] if kpm is None else [kpm])

    def fn(fw, *ts):
        ts = list(ts)
        q = ts.pop(0)
        k = q if self_attention else ts.pop(0)
        a = ts.pop(0)
        p = ts.pop(0) if ts else None
        module = tm if fw is torch else gm
        return module(q, k, k, attn_mask=a, key_padding_mask=p, need_weights=need_weights)
    _assert_same_grads(arrays, fn)


def test_multihead_attention_unbatched_float_key_padding_mask_gets_its_gradient():
    rng = np.random.default_rng(3)
    x, kpm = rng.standard_normal((4, 8), np.float32), rng.standard_normal(4, np.float32)
    tm = torch.nn.MultiheadAttention(8, 2)
    gm = tg.nn.MultiheadAttention(8, 2)
    gm.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    _assert_same_grads([x, kpm], lambda fw, x, p: (tm if fw is torch else gm)(
        x, x, x, key_padding_mask=p, need_weights=False))


def test_transformer_float_masks_that_require_grad_get_their_gradients():
    """nn.Transformer with the translation script's masks (a float causal tgt_mask, bool
    padding masks) plus a learned memory_mask: values and every input's gradient as torch's
    (torch keeps the masks when padding masks are given; without them it takes a causal
    mask as its is_causal hint and gives the mask no gradient)."""
    rng = np.random.default_rng(4)
    S, T, N, E = 5, 4, 3, 8
    src, tgt = rng.standard_normal((S, N, E), np.float32), rng.standard_normal((T, N, E),
                                                                               np.float32)
    tgt_mask = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    memory_mask = rng.standard_normal((T, S), np.float32)
    pad_s = np.zeros((N, S), bool)
    pad_s[0, 3:] = True
    pad_t = np.zeros((N, T), bool)
    pad_t[1, 2:] = True
    tm = torch.nn.Transformer(E, 2, 1, 1, 16, dropout=0.0)
    gm = tg.nn.Transformer(E, 2, 1, 1, 16, dropout=0.0)
    gm.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    _assert_same_grads(
        [src, tgt, tgt_mask, memory_mask, pad_s, pad_t],
        lambda fw, s, t, tmask, mmask, ps, pt: (tm if fw is torch else gm)(
            s, t, tgt_mask=tmask, memory_mask=mmask, src_key_padding_mask=ps,
            tgt_key_padding_mask=pt, memory_key_padding_mask=ps))


@pytest.mark.parametrize("dtype", [np.float32, np.bool_])
def test_embedding_with_non_integer_indices_raises_runtime_error_as_torch(dtype):
    """torch raises RuntimeError ('Expected tensor for argument #1 'indices' to have one of
    the following scalar types: Long, Int'); it was a TypeError here."""
    weight, idx = np.ones((3, 2), np.float32), np.zeros(2, dtype)
    with pytest.raises(RuntimeError, match="Long, Int"):
        torch.nn.functional.embedding(torch.tensor(idx), torch.tensor(weight))
    with pytest.raises(RuntimeError, match="embedding: expected integer"):
        tg.nn.functional.embedding(tg.tensor(idx), tg.tensor(weight))
    if dtype is np.bool_:      # torch's embedding_bag takes bool indices (as 0/1)
        return
    with pytest.raises(RuntimeError, match="Long, Int"):
        torch.nn.functional.embedding_bag(torch.tensor(idx), torch.tensor(weight),
                                          torch.tensor([0]))
    with pytest.raises(RuntimeError, match="expected integer"):
        tg.nn.functional.embedding_bag(tg.tensor(idx), tg.tensor(weight), tg.tensor([0]))


@pytest.mark.parametrize("src_shape, tgt_shape, message", [
    ((5, 3, 8), (4, 2, 8), "batch number of src and tgt must be equal"),
    ((5, 3, 6), (4, 3, 6), "feature number of src and tgt must be equal to d_model")])
def test_transformer_shape_mismatch_raises_runtime_error_as_torch(src_shape, tgt_shape,
                                                                   message):
    """torch raises RuntimeError; it was only a ValueError here (still one: ShapeError)."""
    for fw in (torch, tg):
        model = fw.nn.Transformer(8, 2, 1, 1, 16)
        with pytest.raises(RuntimeError, match=message):
            model(fw.zeros(src_shape), fw.zeros(tgt_shape))


@pytest.mark.parametrize("mask_shape", [(6, 5), (2, 5, 5)])
def test_multihead_attention_attn_mask_of_wrong_shape_raises_runtime_error_as_torch(
        mask_shape):
    """torch: RuntimeError ('The shape of the 2D attn_mask is ...'); a ValueError here."""
    for fw in (torch, tg):
        m = fw.nn.MultiheadAttention(8, 2)
        x = fw.zeros(5, 3, 8)
        with pytest.raises(RuntimeError, match="attn_mask"):
            m(x, x, x, attn_mask=fw.zeros(mask_shape, dtype=fw.bool))
