"""Reused buffers (autograd/buffers.py) and the layers that write into them (ReLU, batch norm,
2x2 max pooling): a buffer is handed out again only when nothing can reach it, and every fast
path equals torch (forward and backward, float32 and float64, odd shapes, NaN)."""
import importlib

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv.autograd import buffers

SETTINGS = settings(max_examples=25, deadline=None)


@pytest.fixture
def pool_everything(monkeypatch):
    """Pool arrays of every size (the default skips small ones), from an empty pool."""
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    monkeypatch.setattr(buffers, "_pool", {})
    monkeypatch.setattr(buffers, "_held", [0])


def _base(a):
    return a if a.base is None else a.base


# ---- the pool ------------------------------------------------------------------------------
def test_buffer_is_reused_only_when_nothing_reaches_it(pool_everything):
    like = np.empty(1)
    a = buffers.empty((4, 5), np.float32, like)
    assert a.shape == (4, 5) and a.dtype == np.float32 and a.flags.c_contiguous
    first = id(_base(a))      # (an id: a reference would keep the buffer busy)
    holders = {
        "the array": lambda x: x,
        "a view": lambda x: x[1:],
        "a Tensor": lambda x: tg.Tensor.wrap(x),
        "a memoryview": lambda x: memoryview(x),
        "a torch tensor": lambda x: torch.from_numpy(x),
    }
    for what, hold in holders.items():
        held = hold(a)
        del a
        b = buffers.empty((4, 5), np.float32, like)
        assert id(_base(b)) != first, what
        del held, b
        a = buffers.empty((4, 5), np.float32, like)
        assert id(_base(a)) == first, what          # free again once the holder is gone
    del a
    c = buffers.empty((20,), np.float32, like)      # same size, other shape: same buffer
    assert id(_base(c)) == first and c.shape == (20,)
    d = buffers.empty((20,), np.float64, like)      # other dtype: another buffer
    assert id(_base(d)) != first


def test_pool_bounds_and_clear(pool_everything, monkeypatch):
    monkeypatch.setattr(buffers, "MAX_PER_KEY", 2)
    like = np.empty(1)
    kept = [buffers.empty((8,), np.float32, like) for _ in range(4)]    # all in use
    assert len(buffers._pool[np.dtype(np.float32)].by_size[8]) == 2    # the oldest forgotten
    assert buffers.held_bytes() == 2 * 8 * 4
    del kept
    buffers.clear()
    assert buffers.held_bytes() == 0 and not buffers._pool
    monkeypatch.setattr(buffers, "MAX_BYTES", 40)
    a = buffers.empty((8,), np.float32, like)
    b = buffers.empty((8,), np.float32, like)       # over the byte budget: not kept
    assert buffers.held_bytes() == 32 and a.shape == b.shape == (8,)


def test_a_larger_free_buffer_within_fit_is_handed_out(pool_everything, monkeypatch):
    """The smallest free buffer between the size and FIT times it serves a request, as a
    view of its first elements; a larger one, a busy one or another dtype does not."""
    monkeypatch.setattr(buffers, "FIT", 2)
    like = np.empty(1)
    big = buffers.empty((20,), np.float32, like)        # sizes 20 and 12 in the pool
    mid = buffers.empty((12,), np.float32, like)
    big_id, mid_id = id(_base(big)), id(_base(mid))
    del big, mid
    a = buffers.empty((2, 5), np.float32, like)         # 10: 12 fits best (20 fits too)
    assert id(_base(a)) == mid_id and a.shape == (2, 5) and a.flags.c_contiguous
    b = buffers.empty((10,), np.float32, like)          # 12 busy: 20 is within 2x
    assert id(_base(b)) == big_id and b.shape == (10,)
    c = buffers.empty((10,), np.float32, like)          # both busy: a new buffer of 10
    assert id(_base(c)) not in (big_id, mid_id) and _base(c).size == 10
    assert buffers.held_bytes() == (20 + 12 + 10) * 4
    del a, b, c
    d = buffers.empty((9,), np.float32, like)           # 10 free, fits best
    assert _base(d).size == 10
    e = buffers.empty((5,), np.float32, like)           # 12 and 20 are beyond 2 * 5
    assert _base(e).size == 5
    f = buffers.empty((6,), np.float64, like)           # another dtype: its own buffers
    assert _base(f).dtype == np.float64 and _base(f).size == 6
    assert buffers.reusable(d, 1)                       # a view of a larger buffer: the pool's
    view = d[1:]
    assert not buffers.reusable(d, 1)
    del view
    d[...] = 1.0
    g = buffers.empty((9,), np.float32, like)           # d holds 10: 12 is next
    assert _base(g).size == 12
    buffers.clear()                                     # 20, free, goes; those in use stay
    shelf = buffers._pool[np.dtype(np.float32)]
    assert sorted(shelf.by_size) == shelf.sizes == [5, 10, 12]
    assert buffers.held_bytes() == (5 + 10 + 12) * 4 + 6 * 8
    del d, e, f, g
    buffers.clear()
    assert not buffers._pool and buffers.held_bytes() == 0


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=30),
       st.sampled_from([1, 1.5, 2, 4]))
def test_pool_never_hands_out_a_buffer_in_use(requests, fit):
    """Any sequence of requests (each kept or dropped at once), from an empty pool of every
    size: every array handed out has the requested shape, and no two live arrays share
    memory."""
    saved = buffers.MIN_BYTES, buffers.FIT, buffers._pool, buffers._held
    buffers.MIN_BYTES, buffers.FIT, buffers._pool, buffers._held = 0, fit, {}, [0]
    try:
        like = np.empty(1)
        live = []
        for size, keep in requests:
            a = buffers.empty((size,), np.float32, like)
            assert a.shape == (size,) and size <= _base(a).size <= size * fit
            assert not any(np.shares_memory(a, other) for other in live)
            if keep:
                live.append(a)
            del a
        live.clear()
        buffers.clear()
        assert buffers.held_bytes() == 0
    finally:
        buffers.MIN_BYTES, buffers.FIT, buffers._pool, buffers._held = saved


def test_empty_like_keeps_the_memory_order(pool_everything):
    like = np.empty((4, 6, 5, 3), np.float32)
    for a, pooled in ((like, True), (like.transpose(0, 3, 1, 2), True), (like[:, :, ::2], False)):
        for dtype in (None, bool):
            e = buffers.empty_like(a, dtype)
            assert e.shape == a.shape and e.dtype == (a.dtype if dtype is None else dtype)
            assert np.argsort(e.strides).tolist() == np.argsort(a.strides).tolist()
            assert (e.base is not None) == pooled      # (a gapped view: a plain empty_like)


def test_small_arrays_are_not_pooled():
    like = np.empty(1)
    a = buffers.empty((3,), np.float32, like)
    shelf = buffers._pool.get(np.dtype(np.float32))
    assert a.base is None and (shelf is None or 3 not in shelf.by_size)


def test_reusable_counts_every_reference(pool_everything):
    like = np.empty(1)
    a = buffers.empty((6,), np.float32, like)
    assert buffers.reusable(a, 1)
    other = a
    assert not buffers.reusable(a, 1) and buffers.reusable(a, 2)
    del other
    view = a[2:]
    assert not buffers.reusable(a, 1)
    del view
    assert not buffers.reusable(np.empty(6, np.float32), 1)     # not a pool buffer


# ---- ReLU ----------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(["plain", "nan", "zeros"]), st.sampled_from([np.float32, np.float64]),
       st.booleans(), st.integers(1, 5), st.integers(0, 2**16))
def test_relu_pool_chain_matches_torch(n, c, hh, ww, values, dtype, pooled, chunk, seed):
    """ReLU then 2x2 max pooling (the pool hands the ReLU an already masked gradient, chunk by
    chunk) against torch, with NaN and exact zeros (windows whose maximum is 0)."""
    pool_mod = importlib.import_module("tinygrad_cv.nn.functional.pooling")
    saved = buffers.MIN_BYTES, pool_mod.PAIR_CHUNK_ROWS
    pool_mod.PAIR_CHUNK_ROWS = chunk
    if pooled:
        buffers.MIN_BYTES = 0
    try:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, c, 2 * hh, 2 * ww))
        if values == "nan":
            x[rng.random(x.shape) < 0.1] = np.nan
        elif values == "zeros":
            x = np.round(x)
        x = x.astype(dtype)
        dy = rng.standard_normal((n, c, hh, ww)).astype(dtype)
        ours = tg.Tensor(x, requires_grad=True)
        y = F.max_pool2d(F.relu(ours * 1.0), 2)
        y.backward(tg.Tensor(dy))
        theirs = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.max_pool2d(torch.relu(theirs * 1.0), 2)
        ty.backward(torch.tensor(dy))
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    finally:
        buffers.MIN_BYTES, pool_mod.PAIR_CHUNK_ROWS = saved


def test_relu_backward_reuses_buffers_only_when_unobserved(pool_everything, monkeypatch):
    """ReLU then max pooling: the pool's gradient is already masked and passes through; ReLU
    then a multiply: the gradient goes into the ReLU's dead output; an output still held by
    the user gets neither."""
    from tinygrad_cv.ops import elementwise
    seen = []
    backward = elementwise.ReLU.backward

    def spy(ctx, g):
        out_id, g_id = id(ctx.saved[0]), id(g)
        result = backward(ctx, g)
        seen.append("passed" if id(result) == g_id else "into output" if id(result) == out_id
                    else "fresh")
        return result

    monkeypatch.setattr(elementwise.ReLU, "backward", staticmethod(spy))
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)), requires_grad=True)
    F.max_pool2d(F.relu(x * 1.0), 2).sum().backward()
    (F.relu(x * 1.0) * 2.0).sum().backward()
    r = F.relu(x * 1.0)
    F.max_pool2d(r, 2).sum().backward()
    assert seen == ["passed", "into output", "fresh"]


def test_relu_pool_gradient_asked_by_grad_is_torchs(pool_everything):
    """autograd.grad for the ReLU output itself (ties at zero route to the first zero, as
    torch; the fused masking must not show)."""
    x = np.round(np.random.default_rng(2).standard_normal((2, 3, 6, 6)))
    t = tg.Tensor(x, requires_grad=True)
    r = F.relu(t * 1.0)
    (g,) = tg.autograd.grad(F.max_pool2d(r, 2).sum(), [r])
    tt = torch.tensor(x, requires_grad=True)
    tr = torch.relu(tt * 1.0)
    (tg_,) = torch.autograd.grad(torch.nn.functional.max_pool2d(tr, 2).sum(), [tr])
    np.testing.assert_array_equal(g.numpy(), tg_.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_on_channels_last_input_matches_torch(pool_everything, dtype):
    """A channels-last input keeps its layout through ReLU (output, mask and gradient in the
    input's memory order), values and gradients as torch."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 6, 5)).astype(dtype).transpose(0, 3, 1, 2)
    x[0, 0, 0, :2] = np.nan
    dy = rng.standard_normal(x.shape).astype(dtype)
    t = tg.Tensor(x, requires_grad=True)
    y = F.relu(t * 1.0)
    assert np.argsort(y.array.strides).tolist() == np.argsort(x.strides).tolist()
    y.backward(tg.Tensor(dy))
    tt = torch.tensor(x, requires_grad=True)
    ty = torch.relu(tt * 1.0)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


@pytest.mark.parametrize("case", ["held", "retained_grad", "retain_graph", "two_consumers",
                                  "hook"])
def test_relu_output_and_gradient_stay_intact_when_visible(pool_everything, case):
    """Whenever the ReLU's output or the gradient reaching it can still be seen, the values
    equal torch's (no buffer is overwritten under a user)."""
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32)
    results = []
    for lib in ("ours", "torch"):
        t = tg.Tensor(x, requires_grad=True) if lib == "ours" else torch.tensor(x, requires_grad=True)
        relu = F.relu if lib == "ours" else torch.relu
        pool = F.max_pool2d if lib == "ours" else torch.nn.functional.max_pool2d
        r = relu(t * 2.0)
        seen = []
        if case == "retained_grad":
            r.retain_grad()
        if case == "hook":
            r.register_hook(lambda g: seen.append(g * 1.0))
        y = pool(r, 2)
        if case == "two_consumers":
            loss = y.sum() + (r * 3.0).sum()
        else:
            loss = (y * y).sum()
        loss.backward(retain_graph=case == "retain_graph")
        if case == "retain_graph":
            loss.backward()
        out = [t.grad.numpy().copy(), r.detach().numpy().copy()]
        if case == "retained_grad":
            out.append(r.grad.numpy().copy())
        if case == "hook":
            out.append(np.asarray(seen[0].detach().numpy()))
        results.append(out)
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


# ---- batch norm ----------------------------------------------------------------------------
@SETTINGS
@given(st.sampled_from([(2,), (3,), (5, 3), (4, 7)]), st.integers(2, 6), st.integers(1, 5),
       st.sampled_from([1, 64, 300, 1 << 30]), st.booleans(), st.booleans(),
       st.sampled_from([(True, True), (True, False), (False, True)]),
       st.sampled_from([1.0, 40.0]), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**16))
# a float32 mean of 40 rounded to float32 put dgamma 2.8e-5 off here (torch: 8e-7)
@example(spatial=(3,), n=4, c=4, chunk_bytes=1, affine=True, train=True, needs=(True, True),
         offset=40.0, dtype=np.float32, seed=4)
def test_batch_norm_chunked_passes_match_torch(spatial, n, c, chunk_bytes, affine, train, needs,
                                               offset, dtype, seed):
    """Batch norm's chunked two-pass forward and backward (chunks of one sample up to the whole
    batch, pooled buffers; a mean 20x the spread too) against torch: output, input, weight and
    bias gradients, running statistics."""
    bn_mod = importlib.import_module("tinygrad_cv.nn.functional.batch_norm")
    saved = bn_mod.CHUNK_BYTES, buffers.MIN_BYTES
    bn_mod.CHUNK_BYTES, buffers.MIN_BYTES = chunk_bytes, 0
    try:
        rng = np.random.default_rng(seed)
        shape = (n, c) + spatial
        x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
        rm, rv = rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5
        x_grad, p_grad = needs
        ours_x = tg.Tensor(x, requires_grad=x_grad)
        theirs_x = torch.tensor(x, requires_grad=x_grad)
        ow = tg.Tensor(w, requires_grad=p_grad) if affine else None
        ob = tg.Tensor(b, requires_grad=p_grad) if affine else None
        tw = torch.tensor(w, requires_grad=p_grad) if affine else None
        tb = torch.tensor(b, requires_grad=p_grad) if affine else None
        orm, orv, trm, trv = rm.copy(), rv.copy(), torch.tensor(rm), torch.tensor(rv)
        y = F.batch_norm(ours_x * 1.0, orm, orv, ow, ob, training=train, momentum=0.3, eps=1e-3)
        ty = torch.nn.functional.batch_norm(theirs_x * 1.0, trm, trv, tw, tb, training=train,
                                            momentum=0.3, eps=1e-3)
        tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
        np.testing.assert_allclose(orm, trm.numpy(), **tol)
        np.testing.assert_allclose(orv, trv.numpy(), **tol)
        if not (x_grad or (affine and p_grad)):
            return
        y.backward(tg.Tensor(dy))
        ty.backward(torch.tensor(dy))
        pairs = [(ours_x, theirs_x)] if x_grad else []
        if affine and p_grad:
            pairs += [(ow, tw), (ob, tb)]
        for o, t in pairs:
            assert o.grad.numpy().dtype == dtype
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), **tol)
    finally:
        bn_mod.CHUNK_BYTES, buffers.MIN_BYTES = saved


def test_batch_norm_keeps_a_channels_last_layout():
    """A channels-last (N, C, H, W) view in, the same memory order out (no transposing copy
    forced on the next layer); values and gradients as on the contiguous input."""
    rng = np.random.default_rng(3)
    nhwc = rng.standard_normal((4, 5, 6, 3)).astype(np.float32)
    x_cl = nhwc.transpose(0, 3, 1, 2)
    dy = rng.standard_normal(x_cl.shape).astype(np.float32)
    outs = []
    for x in (x_cl, np.ascontiguousarray(x_cl)):
        t = tg.Tensor(x, requires_grad=True)
        y = F.batch_norm(t * 1.0, None, None, training=True)
        y.backward(tg.Tensor(dy))
        outs.append((y.detach().numpy(), t.grad.numpy(), y.array.strides))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-5, atol=1e-6)
    assert np.argsort(outs[0][2]).tolist() == np.argsort(x_cl.strides).tolist()


def test_cnn_step_results_unchanged_by_the_pool(monkeypatch):
    """A conv-BN-ReLU-pool network's loss and gradients over three steps are the same with
    every buffer pooled and with none (reused buffers never leak values between steps)."""
    import tinygrad_cv.nn as nn

    def run():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
        opt = tg.optim.Adam(model.parameters(), lr=1e-2)
        x = tg.tensor(np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype(np.float32))
        y = tg.tensor(np.arange(6) % 3)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        return losses, [p.detach().numpy().copy() for p in model.parameters()]

    monkeypatch.setattr(buffers, "MIN_BYTES", 1 << 40)
    plain = run()
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    monkeypatch.setattr(buffers, "_pool", {})
    pooled = run()
    assert plain[0] == pooled[0]
    for a, b in zip(plain[1], pooled[1]):
        np.testing.assert_array_equal(a, b)


# ---- results of the layers around the convolutions ---------------------------------------------
def _pooled(a):
    """True when ``a`` is a view of a buffer the pool tracks."""
    base = _base(a)
    shelf = buffers._pool.get(base.dtype)
    return shelf is not None and any(b is base for b in shelf.by_size.get(base.size, ()))


def test_linear_add_attention_and_upsample_results_are_reused(pool_everything):
    """The arrays a sampling or training step allocates around its convolutions come from the
    pool (Linear's y and dL/dx, a large Add, self-attention's output and its dL/dqkv, nearest
    upsampling), and the values equal torch's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 16, 8)).astype(np.float32)
    w = rng.standard_normal((24, 8)).astype(np.float32)
    big = rng.standard_normal((2, 3, 128, 128)).astype(np.float32)   # >= the add's pooling size
    img = rng.standard_normal((2, 3, 4, 5)).astype(np.float32).transpose(0, 2, 3, 1).copy()

    def run():
        xt, wt = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
        y = F.linear(xt, wt)
        y.backward(tg.ones_like(y))
        s = tg.tensor(big) + tg.tensor(big)
        attn = tg.nn.MultiheadAttention(8, 2, batch_first=True)
        q = tg.tensor(x, requires_grad=True)
        o, _ = attn(q, q, q, need_weights=False)
        o.backward(tg.ones_like(o))
        up = F.interpolate(tg.tensor(img).permute(0, 3, 1, 2), scale_factor=2, mode="nearest")
        return y, xt.grad, s, o, up

    y, gx, s, o, up = run()
    names = ("linear y", "linear dx", "add", "attention", "upsample")
    assert [_pooled(t.detach().numpy()) for t in (y, gx, s, o, up)] == [True] * 5, names
    torch_y = torch.from_numpy(x) @ torch.from_numpy(w).T
    np.testing.assert_allclose(y.detach().numpy(), torch_y.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx.numpy(), np.ones((4, 16, 24), np.float32) @ w, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(s.numpy(), big + big)
    np.testing.assert_array_equal(up.numpy(), img.transpose(0, 3, 1, 2).repeat(2, 2).repeat(2, 3))
    existing = {id(b) for shelf in buffers._pool.values() for bufs in shelf.by_size.values()
                for b in bufs}
    del y, gx, s, o, up
    again = run()                                     # the same arrays again: the same buffers
    assert all(id(_base(t.detach().numpy())) in existing for t in again)


def test_unet_sampling_steps_take_no_new_buffers(pool_everything):
    """Once warm, a UNet's forward passes under no_grad (a sampler's loop) are served from
    the pool: the pool does not grow, and the outputs do not change."""
    from models.diffusion.unet import UNet

    tg.manual_seed(0)
    model = UNet(in_channels=1, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
                 attention_resolutions=(2,), groups=4, image_size=8).eval()
    x = tg.tensor(np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype(np.float32))
    t = tg.tensor(np.arange(6) * 100)
    with tg.no_grad():
        first = model(x, t).numpy().copy()
        model(x, t)
        held = buffers.held_bytes()
        for _ in range(2):
            np.testing.assert_array_equal(model(x, t).numpy(), first)
    assert buffers.held_bytes() == held
