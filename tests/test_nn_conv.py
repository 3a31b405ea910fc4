"""Conv2d / ConvTranspose2d: against torch, gradcheck, and against an explicit im2col reference."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.functional.conv import layout as conv_layout
from tinygrad_cv.testing import gradcheck

from torch_compare import compare_layer, host

SETTINGS = settings(max_examples=25, deadline=None)


def reference_conv2d(x, w, b, stride, padding, dilation, groups):
    """Convolution from primitive Tensor ops: explicit im2col by slicing + matmul."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    x = tg.pad(x, (padding, padding, padding, padding))
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    patches = []
    for i in range(kh):
        for j in range(kw):
            r, q = i * dilation, j * dilation
            patches.append(x[:, :, r:r + stride * (ho - 1) + 1:stride, q:q + stride * (wo - 1) + 1:stride])
    cols = tg.stack(patches, dim=2)                        # (N, C, kh*kw, Ho, Wo)
    outs = []
    og = o // groups
    for g in range(groups):
        cg_cols = cols[:, g * cg:(g + 1) * cg].reshape(n, cg * kh * kw, ho * wo)
        wg = w[g * og:(g + 1) * og].reshape(og, cg * kh * kw)
        outs.append(wg @ cg_cols)                           # (N, og, Ho*Wo)
    y = tg.cat(outs, dim=1).reshape(n, o, ho, wo)
    return y if b is None else y + b.reshape(1, o, 1, 1)


conv_cases = st.fixed_dictionaries({
    "stride": st.integers(1, 3), "padding": st.integers(0, 2), "dilation": st.integers(1, 2),
    "groups": st.sampled_from([1, 2, 4]), "cin_per_group": st.integers(1, 3),
    "cout_per_group": st.integers(1, 3), "kh": st.integers(1, 3), "kw": st.integers(1, 3),
    "h": st.integers(5, 9), "w": st.integers(5, 9), "n": st.integers(1, 3),
    "bias": st.booleans(), "seed": st.integers(0, 2**16)})


@SETTINGS
@given(conv_cases, st.sampled_from([np.float32, np.float64]))
def test_conv2d_matches_torch(case, dtype):
    cin, cout = case["cin_per_group"] * case["groups"], case["cout_per_group"] * case["groups"]
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
              groups=case["groups"], bias=case["bias"])
    torch.manual_seed(case["seed"])
    theirs = torch.nn.Conv2d(cin, cout, (case["kh"], case["kw"]), **kw)
    ours = nn.Conv2d(cin, cout, (case["kh"], case["kw"]), **kw)
    x = np.random.default_rng(case["seed"]).standard_normal((case["n"], cin, case["h"], case["w"])).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for train in (True, False):
        compare_layer(ours, theirs, x, train=train, **tol)


@SETTINGS
@given(conv_cases, st.integers(0, 2))
def test_conv_transpose2d_matches_torch(case, output_padding):
    s, d = case["stride"], case["dilation"]
    output_padding = min(output_padding, max(s, d) - 1)
    cin, cout = case["cin_per_group"] * case["groups"], case["cout_per_group"] * case["groups"]
    kw = dict(stride=s, padding=case["padding"], output_padding=output_padding, dilation=d,
              groups=case["groups"], bias=case["bias"])
    torch.manual_seed(case["seed"])
    theirs = torch.nn.ConvTranspose2d(cin, cout, (case["kh"], case["kw"]), **kw)
    ours = nn.ConvTranspose2d(cin, cout, (case["kh"], case["kw"]), **kw)
    x = np.random.default_rng(case["seed"]).standard_normal((case["n"], cin, case["h"], case["w"]))
    try:
        theirs.double()(torch.tensor(x))
    except RuntimeError:
        return  # torch rejects this geometry (output smaller than 1)
    for train in (True, False):
        compare_layer(ours, theirs, x, train=train, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding", ["same", "valid", (1, 2)])
def test_conv2d_string_and_pair_padding(padding):
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(3, 4, (4, 3), padding=padding, dilation=(1, 2))
    ours = nn.Conv2d(3, 4, (4, 3), padding=padding, dilation=(1, 2))
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 9))
    compare_layer(ours, theirs, x, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(conv_cases)
def test_conv2d_fused_matches_primitive_reference(case):
    rng = np.random.default_rng(case["seed"])
    g = case["groups"]
    cin, cout = case["cin_per_group"] * g, case["cout_per_group"] * g
    x = tg.Tensor(rng.standard_normal((case["n"], cin, case["h"], case["w"])), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((cout, cin // g, case["kh"], case["kw"])), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(cout), requires_grad=True)
    args = (case["stride"], case["padding"], case["dilation"], g)
    y = F.conv2d(x, w, b, *args)
    ref = reference_conv2d(x, w, b, *args)
    np.testing.assert_allclose(host(y), host(ref), rtol=1e-10, atol=1e-12)
    gy = tg.Tensor(rng.standard_normal(y.shape))
    grads = tg.autograd.grad(y, (x, w, b), gy)
    ref_grads = tg.autograd.grad(ref, (x, w, b), gy)
    for a, r in zip(grads, ref_grads):
        np.testing.assert_allclose(host(a), host(r), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), (2, 1, 2, 2), (3, 0, 1, 1)])
def test_conv2d_gradcheck(stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((2, 4, 7, 6)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((4, 4 // groups, 3, 2)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), (x, w, b))


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups",
                         [(1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 1, 1, 2, 1)])
def test_conv_transpose2d_gradcheck(stride, padding, output_padding, dilation, groups):
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((2, 4, 4, 3)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((4, 6 // groups, 3, 2)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(6), requires_grad=True)
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)  # noqa: E731
    assert gradcheck(fn, (x, w, b))


@SETTINGS
@given(conv_cases, st.integers(1, 4))
def test_chunked_im2col_matches_single_chunk(case, per_chunk):
    """A small IM2COL_MAX_BYTES forces the batch-chunked path; results must not change."""
    rng = np.random.default_rng(case["seed"])
    g = case["groups"]
    cin, cout = case["cin_per_group"] * g, case["cout_per_group"] * g
    n = case["n"] + 3
    x = rng.standard_normal((n, cin, case["h"], case["w"]))
    w = rng.standard_normal((cout, cin // g, case["kh"], case["kw"]))
    gy_seed = case["seed"] + 1
    args = (case["stride"], case["padding"], case["dilation"], g)

    def run():
        xt, wt = tg.Tensor(x, requires_grad=True), tg.Tensor(w, requires_grad=True)
        y = F.conv2d(xt, wt, None, *args)
        y.backward(tg.Tensor(np.random.default_rng(gy_seed).standard_normal(y.shape)))
        return host(y), host(xt.grad), host(wt.grad)

    full = run()
    saved = conv_layout.IM2COL_MAX_BYTES
    try:
        # about ``per_chunk`` samples per im2col chunk (so chunks of 1..4 samples of n >= 4)
        conv_layout.IM2COL_MAX_BYTES = per_chunk * 8 * cin * case["kh"] * case["kw"] * case["h"] * case["w"]
        chunked = run()
    finally:
        conv_layout.IM2COL_MAX_BYTES = saved
    for a, b in zip(full, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_stride_dilation_of_output_gradient():
    """The stride-dilated dy equals inserting stride-1 zeros between elements, then padding."""
    dy = np.arange(2 * 3 * 2 * 3, dtype=float).reshape(2, 3, 2, 3)
    out = conv_layout.dilate_pad(dy, (2, 3), 1, 2, 0, 1)
    expect = np.zeros((2, 3, 1 + 3 + 2, 7 + 1))
    expect[:, :, 1:4:2, 0:7:3] = dy
    np.testing.assert_array_equal(out, expect)


def test_conv2d_float32_large_batch_against_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 8, 12, 12)).astype(np.float32)
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
    compare_layer(nn.Conv2d(8, 16, 3, stride=2, padding=1), theirs, x, rtol=1e-4, atol=1e-4)


def test_conv2d_default_init_matches_torch_bounds():
    tg.manual_seed(0)
    m = nn.Conv2d(6, 8, (3, 5), groups=2)
    bound = 1 / np.sqrt(3 * 3 * 5)
    assert m.weight.shape == (8, 3, 3, 5) and m.bias.shape == (8,)
    assert np.abs(host(m.weight)).max() <= bound and np.abs(host(m.weight)).max() > 0.8 * bound
    assert np.abs(host(m.bias)).max() <= bound
    t = nn.ConvTranspose2d(6, 8, 3, groups=2)
    assert t.weight.shape == (6, 4, 3, 3)
    assert np.abs(host(t.weight)).max() <= 1 / np.sqrt(4 * 9)
    assert set(m.state_dict()) == set(torch.nn.Conv2d(6, 8, 3).state_dict())


def test_conv_shape_errors_name_layer_and_shapes():
    m = nn.Conv2d(3, 4, 3)
    # torch's ranks: (C, H, W) is an unbatched input (a batch of one), (H, W) is refused
    assert m(tg.randn(3, 5, 5)).shape == (4, 3, 3)
    with pytest.raises(ValueError, match=r"Conv2d.*\(N, 3, H, W\).*\(5, 5\)"):
        m(tg.randn(5, 5))
    with pytest.raises(ValueError, match=r"Conv2d.*in_channels=3.*\(2, 4, 5, 5\)"):
        m(tg.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="ConvTranspose2d"):
        nn.ConvTranspose2d(3, 4, 3)(tg.randn(2, 5, 5, 5))
    with pytest.raises(ValueError, match="too small"):
        m(tg.randn(1, 3, 2, 2))
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_conv2d_on_device(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    torch.manual_seed(0)
    compare_layer(nn.Conv2d(4, 4, 3, padding=1, groups=2), torch.nn.Conv2d(4, 4, 3, padding=1, groups=2),
                  x, device=device, rtol=1e-4, atol=1e-5)
