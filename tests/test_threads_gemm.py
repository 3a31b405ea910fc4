"""Matrix products split over the intra-op threads (``threads.matmul`` and the layers built on
it: Linear, matmul, attention, the fused feed-forward block, recurrences, einsum) against torch
and the serial NumPy formula, with ``threads.MIN_WORK`` lowered so that small drawn shapes
split, and a check that they did split."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv import threads
from tinygrad_cv.nn.functional.linear import FeedForwardReLUFn

from torch_compare import copy_weights, host

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
TORCH = {np.float32: torch.float32, np.float64: torch.float64}


class SplitSpy:
    """Counts the runs of threads.run that had more than one part."""

    def __init__(self):
        self.splits = 0

    def wrap(self, run):
        def counted(parts):
            parts = list(parts)
            if len(parts) > 1:
                self.splits += 1
            return run(parts)
        return counted


def _enter_split_mode(monkeypatch):
    """Two threads, every product worth splitting, and a spy on the splits."""
    spy = SplitSpy()
    monkeypatch.setattr(threads, "MIN_WORK", 2)
    monkeypatch.setattr(threads, "MACS_PER_ELEMENT", 1)
    monkeypatch.setattr(threads, "run", spy.wrap(threads.run))
    return spy


def _split(fn):
    """fn() with two threads and small splits -> (result, number of split runs)."""
    mp = pytest.MonkeyPatch()
    before = tg.get_num_threads()
    tg.set_num_threads(2)
    try:
        spy = _enter_split_mode(mp)
        return fn(), spy.splits
    finally:
        mp.undo()
        tg.set_num_threads(before)


def _serial(fn):
    before = tg.get_num_threads()
    tg.set_num_threads(1)
    try:
        return fn()
    finally:
        tg.set_num_threads(before)


def _close(a, b, dtype, scale=1.0):
    tol = TOL[dtype]
    np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * scale)


# ---- threads.matmul ------------------------------------------------------------------------
BATCHES = [((), ()), ((3,), ()), ((), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((1,), (4,))]


@settings(deadline=None, max_examples=40)
@given(st.sampled_from(BATCHES), st.integers(1, 24), st.integers(1, 24), st.integers(1, 24),
       st.booleans(), st.booleans(), st.booleans(), st.sampled_from([None, "row", "column"]),
       st.sampled_from(DTYPES), st.booleans())
def test_matmul_splits_equal_numpy(batches, m, k, n, inner, ta, tb, bias_kind, dtype, give_out):
    """Batch, row, column and inner-dimension splits, transposed operands, both bias forms."""
    if inner:                  # M and N small, K large: the inner-dimension split
        m, n, k = min(m, 3), min(n, 3), 40 + k
    rng = np.random.default_rng(m * 10000 + k * 100 + n)
    ba, bb = batches
    a = rng.standard_normal(ba + ((k, m) if ta else (m, k))).astype(dtype)
    b = rng.standard_normal(bb + ((n, k) if tb else (k, n))).astype(dtype)
    a, b = (a.swapaxes(-1, -2) if ta else a), (b.swapaxes(-1, -2) if tb else b)
    bias = {None: None, "row": rng.standard_normal(n).astype(dtype),
            "column": rng.standard_normal((m, 1)).astype(dtype)}[bias_kind]
    want = np.matmul(a, b) + (0 if bias is None else bias)
    out = np.full(want.shape, np.nan, dtype) if give_out else None
    got, splits = _split(lambda: threads.matmul(a, b, out=out, bias=bias))
    assert splits == (0 if want.size == 1 and k == 1 else 1)    # a 1x1x1 product: no parts
    assert got.shape == want.shape and got.dtype == want.dtype
    if give_out:
        assert got is out
    _close(got, want, dtype, np.sqrt(k))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmuls_run_several_products_in_one_hand_off(dtype):
    """A layer's dL/dx, dL/dW (inner split) and a small serial product in one split run."""
    rng = np.random.default_rng(5)
    g, w, x = (rng.standard_normal(s).astype(dtype) for s in ((300, 4), (4, 6), (300, 6)))
    tiny = rng.standard_normal((1, 1)).astype(dtype)
    pairs = [(g, w), (g.T, x), (tiny, tiny)]
    got, splits = _split(lambda: threads.matmuls(pairs))
    assert splits == 1
    for result, (a, b) in zip(got, pairs):
        _close(result, a @ b, dtype, 10)


def test_matmul_inner_split_adds_partials(two_threads, monkeypatch):
    """dW = G^T X with a small result and a long inner dimension: K is split, the partial
    products are added, and G^T stays a strided view (no copy of it)."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((5000, 6))
    x = rng.standard_normal((5000, 7))
    seen = []
    matmul = np.matmul

    class Recorder:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(p, q, out=None):
            seen.append((p.shape, q.shape, p.base is not None))
            return matmul(p, q, out=out)

    monkeypatch.setattr(threads.backend, "get_array_module", lambda *a: Recorder())
    monkeypatch.setattr(threads, "MIN_WORK", 2)
    got = threads.matmul(g.T, x)
    np.testing.assert_allclose(got, g.T @ x, rtol=1e-12, atol=1e-10)
    assert sorted(s[0] for s in seen) == [(6, 2500), (6, 2500)]
    assert all(is_view for _, _, is_view in seen)


def test_matmul_leaves_small_cupy_free_and_one_thread_products_alone(two_threads):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    spy = SplitSpy()
    mp = pytest.MonkeyPatch()
    mp.setattr(threads, "run", spy.wrap(threads.run))
    try:
        np.testing.assert_allclose(threads.matmul(a, b), a @ b)      # below MIN_WORK
        np.testing.assert_allclose(threads.matmul(a[0], b), a[0] @ b)   # 1-D operand
    finally:
        mp.undo()
    assert spy.splits == 0


# ---- Linear, tg.matmul ---------------------------------------------------------------------
@settings(deadline=None, max_examples=20)
@given(st.sampled_from([(), (5,), (2, 3)]), st.integers(2, 12), st.integers(2, 12),
       st.booleans(), st.sampled_from(DTYPES))
def test_linear_split_matches_torch(lead, fin, fout, bias, dtype):
    rng = np.random.default_rng(fin * 100 + fout)
    x = rng.standard_normal(lead + (fin,)).astype(dtype)
    tl = torch.nn.Linear(fin, fout, bias=bias).to(TORCH[dtype])
    ol = nn.Linear(fin, fout, bias=bias).to(dtype)
    copy_weights(ol, tl)
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    gy = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(gy))

    def ours():
        ox = tg.tensor(x, requires_grad=True)
        y = ol(ox)
        ol.zero_grad()
        y.backward(tg.tensor(gy))
        return host(y), host(ox.grad), host(ol.weight.grad), (host(ol.bias.grad) if bias else None)

    (y, gx, gw, gb), splits = _split(ours)
    assert splits >= (2 if lead else 1)      # forward, and the backward's products
    scale = max(1.0, float(np.abs(gy).max()))
    _close(y, ty.detach().numpy(), dtype)
    _close(gx, tx.grad.numpy(), dtype, scale)
    _close(gw, tl.weight.grad.numpy(), dtype, scale * 10)
    if bias:
        _close(gb, tl.bias.grad.numpy(), dtype, scale * 10)
    serial = _serial(ours)
    for got, ref in zip((y, gx, gw), serial):
        _close(got, ref, dtype, scale * 10)


SHAPES = [((4, 3), (3, 5)), ((2, 4, 3), (3, 5)), ((4, 3), (2, 3, 5)), ((2, 1, 4, 3), (3, 3, 6)),
          ((3,), (2, 3, 4)), ((2, 4, 3), (3,)), ((6, 4, 3), (6, 3, 2))]


@settings(deadline=None, max_examples=20)
@given(st.sampled_from(SHAPES), st.sampled_from(DTYPES))
def test_tensor_matmul_split_matches_torch(shapes, dtype):
    sa, sb = shapes
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tz = ta @ tb
    tz.backward(torch.cos(tz.detach()))

    def ours():
        oa, ob = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
        z = tg.matmul(oa, ob)
        z.backward(tg.tensor(np.cos(host(z))))
        return host(z), host(oa.grad), host(ob.grad)

    (z, ga, gb), splits = _split(ours)
    assert splits >= 1
    for got, ref in zip((z, ga, gb), (tz.detach(), ta.grad, tb.grad)):
        _close(got, ref.numpy(), dtype, 10)


# ---- attention -----------------------------------------------------------------------------
@settings(deadline=None, max_examples=20)
@given(st.sampled_from([(), (1,), (3,), (2, 3), (1, 1)]), st.integers(2, 7), st.integers(1, 7),
       st.integers(1, 5), st.sampled_from([None, "bool", "float", "causal"]),
       st.sampled_from(DTYPES))
def test_sdpa_split_matches_torch(batch, L, S, E, mask_kind, dtype):
    """Batch splits (N or heads) and query-row splits (no batch axis long enough)."""
    if mask_kind == "causal":
        S = L
    rng = np.random.default_rng(L * 100 + S * 10 + E)
    q = rng.standard_normal(batch + (L, E)).astype(dtype)
    k = rng.standard_normal(batch + (S, E)).astype(dtype)
    v = rng.standard_normal(batch + (S, E + 1)).astype(dtype)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((L, S)) > 0.3
    elif mask_kind == "float":
        mask = rng.standard_normal((L, S)).astype(dtype)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tmask = None if mask is None else torch.tensor(mask)
    to = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=tmask, is_causal=mask_kind == "causal")
    g = rng.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(torch.tensor(g))

    def ours():
        oq, ok, ov = (tg.tensor(a, requires_grad=True) for a in (q, k, v))
        o = F.scaled_dot_product_attention(oq, ok, ov, attn_mask=mask,
                                           is_causal=mask_kind == "causal")
        o.backward(tg.tensor(g))
        return host(o), host(oq.grad), host(ok.grad), host(ov.grad)

    got, splits = _split(ours)
    assert splits >= 1
    refs = (to.detach(), tq.grad, tk.grad, tv.grad)
    for a, ref in zip(got, refs):
        np.testing.assert_allclose(a, np.nan_to_num(ref.numpy()), **TOL[dtype])
    for a, ref in zip(got, _serial(ours)):
        np.testing.assert_allclose(a, ref, **TOL[dtype])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_multihead_and_encoder_layer_split_match_torch(batch_first, dtype):
    """Packed self-attention (heads split), its projections and the fused feed-forward block
    (rows split, per-part weight-gradient partials) through TransformerEncoderLayer."""
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0,
                                          batch_first=batch_first).to(TORCH[dtype])
    ol = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0,
                                    batch_first=batch_first).to(dtype)
    copy_weights(ol, tl)
    x = np.random.default_rng(2).standard_normal((5, 3, 8)).astype(dtype)
    kpm = np.zeros((5, 3) if batch_first else (3, 5), bool)
    kpm[0, -1] = True
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx, src_key_padding_mask=torch.tensor(kpm))
    g = np.cos(ty.detach().numpy())
    ty.backward(torch.tensor(g))

    def ours():
        ox = tg.tensor(x, requires_grad=True)
        ol.zero_grad()
        y = ol(ox, src_key_padding_mask=tg.tensor(kpm))
        y.backward(tg.tensor(g))
        return [host(y), host(ox.grad)] + [host(p.grad) for _, p in ol.named_parameters()]

    got, splits = _split(ours)
    assert splits >= 4
    refs = [ty.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy()
                                                    for _, p in tl.named_parameters()]
    for a, ref in zip(got, refs):
        np.testing.assert_allclose(a, ref, rtol=TOL[dtype]["rtol"] * 5,
                                   atol=TOL[dtype]["atol"] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_feed_forward_split_with_dropout_matches_numpy(dtype):
    rng = np.random.default_rng(3)
    R, D, Fh = 9, 4, 6
    x, w1, b1 = rng.standard_normal((R, D)), rng.standard_normal((Fh, D)), rng.standard_normal(Fh)
    w2, b2 = rng.standard_normal((3, Fh)), rng.standard_normal(3)
    keep = (rng.random((R, Fh)) > 0.4) / 0.6
    x, w1, b1, w2, b2, keep = (a.astype(dtype) for a in (x, w1, b1, w2, b2, keep))
    g = rng.standard_normal((R, 3)).astype(dtype)
    h = np.maximum(x @ w1.T + b1, 0)
    hm = h * keep
    dh = (g @ w2) * keep * (h != 0)
    want = [hm @ w2.T + b2, dh @ w1, dh.T @ x, dh.sum(0), g.T @ hm, g.sum(0)]

    def ours():
        ts = [tg.tensor(a, requires_grad=True) for a in (x, w1, b1, w2, b2)]
        y = FeedForwardReLUFn.apply(*ts, keep=keep)
        y.backward(tg.tensor(g))
        return [host(y)] + [host(t.grad) for t in ts]

    got, splits = _split(ours)
    assert splits == 2
    for a, ref in zip(got, want):
        _close(a, ref, dtype, 10)


# ---- recurrences ---------------------------------------------------------------------------
@settings(deadline=None, max_examples=15)
@given(st.sampled_from(["RNN", "LSTM", "GRU"]), st.integers(1, 4), st.integers(2, 6),
       st.integers(1, 5), st.booleans(), st.booleans(), st.sampled_from(DTYPES))
def test_recurrent_batch_split_matches_torch(kind, T, N, H, bidirectional, bias, dtype):
    """The batch split over the threads (whole recurrence per part) and the weight gradients'
    per-part partials, forward and backward, against torch and one thread."""
    torch.manual_seed(T * 10 + N)
    tl = getattr(torch.nn, kind)(3, H, bidirectional=bidirectional, bias=bias).to(TORCH[dtype])
    ol = getattr(nn, kind)(3, H, bidirectional=bidirectional, bias=bias).to(dtype)
    copy_weights(ol, tl)
    x = np.random.default_rng(T * 7 + N).standard_normal((T, N, 3)).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    tout, _ = tl(tx)
    g = np.sin(tout.detach().numpy())
    tout.backward(torch.tensor(g))

    def ours():
        ox = tg.tensor(x, requires_grad=True)
        ol.zero_grad()
        out, _ = ol(ox)
        out.backward(tg.tensor(g))
        return [host(out), host(ox.grad)] + [host(p.grad) for _, p in ol.named_parameters()]

    got, splits = _split(ours)
    assert splits >= 2                  # forward and backward of each direction
    refs = [tout.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy()
                                                      for _, p in tl.named_parameters()]
    for a, ref in zip(got, refs):
        _close(a, ref, dtype, 10)
    for a, ref in zip(got, _serial(ours)):
        _close(a, ref, dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_cell_split_matches_torch(dtype):
    torch.manual_seed(1)
    tc = torch.nn.LSTMCell(3, 4).to(TORCH[dtype])
    oc = nn.LSTMCell(3, 4).to(dtype)
    copy_weights(oc, tc)
    rng = np.random.default_rng(4)
    x, h, c = (rng.standard_normal(s).astype(dtype) for s in ((5, 3), (5, 4), (5, 4)))
    th, tcn = tc(torch.tensor(x), (torch.tensor(h, requires_grad=True), torch.tensor(c)))
    (th.sum() + 2 * tcn.sum()).backward()

    def ours():
        oh, ocn = oc(tg.tensor(x), (tg.tensor(h), tg.tensor(c)))
        oc.zero_grad()
        (oh.sum() + 2 * ocn.sum()).backward()
        return host(oh), host(ocn), host(oc.weight_hh.grad)

    got, splits = _split(ours)
    assert splits >= 2
    for a, ref in zip(got, (th.detach(), tcn.detach(), tc.weight_hh.grad)):
        _close(a, ref.numpy(), dtype, 10)


# ---- einsum --------------------------------------------------------------------------------
EINSUMS = [("bij,bjk->bik", (3, 4, 5), (3, 5, 2)), ("ij,jk->ik", (4, 5), (5, 6)),
           ("nchw,oc->nohw", (2, 3, 4, 5), (6, 3)), ("bhld,bhsd->bhls", (2, 3, 4, 5), (2, 3, 6, 5)),
           ("...ij,jk->...ik", (2, 1, 4, 5), (5, 3)), ("bij,bjk->ki", (3, 4, 5), (3, 5, 2)),
           ("abc,cd->d", (3, 4, 5), (5, 6)), ("bij,jk->bik", (1, 4, 5), (5, 2))]


@settings(deadline=None, max_examples=20)
@given(st.sampled_from(EINSUMS), st.sampled_from(DTYPES))
def test_einsum_as_split_gemm_matches_torch(case, dtype):
    spec, sa, sb = case
    rng = np.random.default_rng(len(spec))
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tz = torch.einsum(spec, ta, tb)
    g = np.cos(tz.detach().numpy())
    tz.backward(torch.tensor(g))

    def ours():
        from tinygrad_cv.ops import einsum as einsum_module
        mp = pytest.MonkeyPatch()
        mp.setattr(einsum_module, "MIN_PRODUCT", 1)
        try:
            oa, ob = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
            z = tg.einsum(spec, oa, ob)
            z.backward(tg.tensor(g))
            return host(z), host(oa.grad), host(ob.grad)
        finally:
            mp.undo()

    got, splits = _split(ours)
    assert splits >= 1
    for x, ref in zip(got, (tz.detach(), ta.grad, tb.grad)):
        _close(x, ref.numpy(), dtype, 10)


# ---- interpolation -------------------------------------------------------------------------
@settings(deadline=None, max_examples=10)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 6), st.integers(2, 6),
       st.sampled_from([(2, 3), (5, 4), (3, 7)]), st.booleans(), st.sampled_from(DTYPES))
def test_bilinear_split_over_images_matches_torch(n, c, h, w, size, align, dtype):
    x = np.random.default_rng(n * 100 + h * 10 + w).standard_normal((n, c, h, w)).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, size=size, mode="bilinear", align_corners=align)
    g = np.cos(ty.detach().numpy())
    ty.backward(torch.tensor(g))

    def ours():
        ox = tg.tensor(x, requires_grad=True)
        y = F.interpolate(ox, size=size, mode="bilinear", align_corners=align)
        y.backward(tg.tensor(g))
        return host(y), host(ox.grad)

    got, splits = _split(ours)
    assert splits == (2 if n * c > 1 else 0)
    for a, ref in zip(got, (ty.detach(), tx.grad)):
        _close(a, ref.numpy(), dtype, 10)
