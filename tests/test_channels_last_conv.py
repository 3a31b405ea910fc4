"""The column convolution's channels-last results (conv/columns.py): y and dx are the
(N, C, H, W) views of NHWC buffers, and inputs/output gradients in either layout give torch's
values (float32 and float64), so chains of small-map layers stay channels-last."""
import numpy as np
import torch
from hypothesis import assume, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.functional.conv import dispatch

SETTINGS = settings(max_examples=40, deadline=None)


def channels_last(a):
    """The same values as ``a`` (N, C, H, W) stored channels-last (C the fastest axis)."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


def is_channels_last(a):
    return np.moveaxis(a, 1, -1).flags.c_contiguous


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 8),
       st.sampled_from([(1, 0), (3, 1), (3, 0), (3, 2)]), st.integers(1, 2), st.booleans(),
       st.sampled_from(["float32", "float64"]), st.booleans(), st.booleans(),
       st.integers(0, 2**16))
def test_column_conv_in_any_layout_matches_torch(n, c, o, hw, kernel_pad, stride, bias, dtype,
                                                 x_last, dy_last, seed):
    k, pad = kernel_pad
    assume(hw + 2 * pad >= k)
    ho = (hw + 2 * pad - k) // stride + 1
    assume(ho * ho <= dispatch.SMALL_MAP_MAX_POSITIONS)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    w = rng.standard_normal((o, c, k, k)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    ox = tg.tensor(channels_last(x) if x_last else x, requires_grad=True)
    ow = tg.tensor(w, requires_grad=True)
    ob = None if b is None else tg.tensor(b, requires_grad=True)
    y = F.conv2d(ox, ow, ob, stride=stride, padding=pad)
    assert y.creator.cfg[-1] == "columns"
    assert is_channels_last(y.array)                # the GEMM's NHWC rows, no NCHW copy
    dy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(tg.tensor(channels_last(dy) if dy_last else dy))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
    ty.backward(torch.tensor(dy))
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(ow.grad.numpy(), tw.grad.numpy(), **tol)
    if b is not None:
        np.testing.assert_allclose(ob.grad.numpy(), tb.grad.numpy(), **tol)
    # a leaf's gradient has the leaf's layout (torch's gradient layout contract), whatever the
    # layout of the dx the column path computed
    if x_last:
        assert is_channels_last(ox.grad.array)
    else:
        assert ox.grad.array.flags.c_contiguous


def test_small_map_chain_stays_channels_last_and_matches_torch():
    """conv -> group norm -> SiLU -> + embedding -> conv -> residual add, cat, nearest x2 ->
    conv (a UNet block's layers) in float64: every intermediate result channels-last, values
    and gradients equal to torch's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 4, 4))
    w1, w2, w3 = (rng.standard_normal(s) for s in [(8, 4, 3, 3), (8, 8, 3, 3), (8, 16, 3, 3)])
    gamma, beta, e = rng.standard_normal(8), rng.standard_normal(8), rng.standard_normal((3, 8))
    ours = [tg.tensor(a, requires_grad=True) for a in (x, w1, w2, w3, gamma, beta, e)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w1, w2, w3, gamma, beta, e)]

    def block(lib, f, x, w1, w2, w3, gamma, beta, e, check):
        h = f.conv2d(x, w1, padding=1)
        a = f.silu(f.group_norm(h, 2, gamma, beta))
        a = a + e.reshape(3, 8, 1, 1)
        h2 = f.conv2d(a, w2, padding=1) + h
        c = lib.cat([h2, h], 1)
        up = f.interpolate(c, scale_factor=2, mode="nearest")
        out = f.conv2d(up, w3, padding=1)
        for t in (h, a, h2, c, up, out):
            check(t)
        return out

    def check_ours(t):
        assert is_channels_last(t.array), t.array.strides

    out = block(tg, F, *ours, check_ours)
    tout = block(torch, torch.nn.functional, *theirs, lambda t: None)
    g = rng.standard_normal(out.shape)
    out.backward(tg.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    for o_t, t_t in zip(ours, theirs):
        np.testing.assert_allclose(o_t.grad.numpy(), t_t.grad.numpy(), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 3), st.integers(1, 3), st.sampled_from(["float32", "float64"]),
       st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_nearest_upsampling_in_any_layout_matches_torch(n, c, h, w, fh, fw, dtype, x_last,
                                                        dy_last, seed):
    """Nearest upsampling by integer factors keeps a channels-last input channels-last, and
    sums dy's blocks in either layout, with torch's values."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    ox = tg.tensor(channels_last(x) if x_last else x, requires_grad=True)
    y = F.interpolate(ox, scale_factor=(fh, fw), mode="nearest")
    dy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(tg.tensor(channels_last(dy) if dy_last else dy))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, scale_factor=(fh, fw), mode="nearest")
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    if x_last and not ox.array.flags.c_contiguous:
        assert is_channels_last(y.array)
