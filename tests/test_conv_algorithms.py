"""Each convolution algorithm (conv/im2col.py, conv/grid.py, conv/columns.py) against the
straightforward reference (explicit windows) or torch on hypothesis shapes: forward, weight and
input gradients; the layout helpers; the dispatcher's choice (conv/dispatch.py).  The
transposed convolution is checked against torch in test_nn_conv.py."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.functional.conv import columns, dispatch, grid, im2col, layout

SETTINGS = settings(max_examples=30, deadline=None)


# ---- the straightforward reference -------------------------------------------------------------
def _reference_conv(x, weight, dy, stride, dilation, groups, pads):
    """y, dL/dw and dL/dx of a convolution written out over explicit windows (einsum per
    group for y and dL/dw, one strided slab addition per kernel offset for dL/dx)."""
    (sh, sw), (dh, dw) = stride, dilation
    top, bottom, left, right = pads
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    og = o // groups
    xpad = np.zeros((n, c, h + top + bottom, w + left + right))
    xpad[:, :, top:top + h, left:left + w] = x
    ho, wo = dy.shape[2:]
    win = np.empty((n, c, ho, wo, kh, kw))
    for i in range(kh):
        for j in range(kw):
            win[..., i, j] = xpad[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                                  j * dw:j * dw + sw * (wo - 1) + 1:sw]
    y, gw = np.empty_like(dy), np.empty_like(weight)
    gxpad = np.zeros_like(xpad)
    for g in range(groups):
        cs, os_ = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        y[:, os_] = np.einsum("nchwij,ocij->nohw", win[:, cs], weight[os_])
        gw[os_] = np.einsum("nchwij,nohw->ocij", win[:, cs], dy[:, os_])
        for i in range(kh):
            for j in range(kw):
                gxpad[:, cs, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                      j * dw:j * dw + sw * (wo - 1) + 1:sw] += np.einsum(
                          "nohw,oc->nchw", dy[:, os_], weight[os_, :, i, j])
    return y, gw, gxpad[:, :, top:top + h, left:left + w]


def _reference_dilate_pad(dy, stride, top, bottom, left, right):
    """Dilate into a buffer padded by the positive amounts, then crop the negative ones."""
    sh, sw = stride
    n, c, h, w = dy.shape
    big = np.zeros((n, c, (h - 1) * sh + 1 + 2 * 8, (w - 1) * sw + 1 + 2 * 8))
    big[:, :, 8:8 + (h - 1) * sh + 1:sh, 8:8 + (w - 1) * sw + 1:sw] = dy
    return big[:, :, 8 - top:big.shape[2] - 8 + bottom, 8 - left:big.shape[3] - 8 + right]


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.lists(st.integers(-2, 3), min_size=4, max_size=4),
       st.integers(3, 6), st.integers(3, 6), st.integers(0, 2**16))
def test_dilate_pad_with_negative_amounts_crops(sh, sw, pads, h, w, seed):
    top, bottom, left, right = pads
    assume((h - 1) * sh + 1 + top + bottom > 0 and (w - 1) * sw + 1 + left + right > 0)
    dy = np.random.default_rng(seed).standard_normal((2, 3, h, w))
    out = layout.dilate_pad(dy, (sh, sw), *pads)
    np.testing.assert_array_equal(out, _reference_dilate_pad(dy, (sh, sw), *pads))


# ---- im2col ------------------------------------------------------------------------------------
@SETTINGS
@given(st.fixed_dictionaries({
    "n": st.integers(1, 5), "groups": st.integers(1, 3), "cin_g": st.integers(1, 4),
    "cout_g": st.integers(1, 4), "kh": st.integers(1, 3), "kw": st.integers(1, 3),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "pads": st.tuples(*[st.integers(0, 2)] * 4), "h": st.integers(1, 9), "w": st.integers(1, 9),
    "seed": st.integers(0, 2**16)}), st.integers(1, 3))
def test_im2col_conv_matches_window_reference(case, chunk):
    """The im2col path (per-sample columns, batched GEMMs into the (N, O, Ho*Wo) layout):
    forward, weight gradient from the kept columns and from rebuilt chunked ones, and both
    input-gradient methods, against the explicit-window reference; batches in one chunk or in
    chunks of ``chunk`` samples."""
    g, stride, dilation, pads = case["groups"], case["stride"], case["dilation"], case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    ho = (h + pads[0] + pads[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + pads[2] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    assume(ho > 0 and wo > 0)
    rng = np.random.default_rng(case["seed"])
    cin, cout = g * case["cin_g"], g * case["cout_g"]
    x = rng.standard_normal((case["n"], cin, h, w))
    weight = rng.standard_normal((cout, case["cin_g"], kh, kw))
    dy = rng.standard_normal((case["n"], cout, ho, wo))
    ref = _reference_conv(x, weight, dy, stride, dilation, g, pads)
    xpad = layout.pad_hw(x, *pads)
    y, cols = im2col.conv_core(xpad, weight, stride, dilation, g, keep_cols=True)
    gw_kept = im2col.weight_grad(xpad, dy, (kh, kw), stride, dilation, g, cols)
    saved = layout.IM2COL_MAX_BYTES
    try:
        layout.IM2COL_MAX_BYTES = chunk * 8 * cin * kh * kw * ho * wo
        y_chunked, none = im2col.conv_core(xpad, weight, stride, dilation, g, keep_cols=True)
        gw_chunked = im2col.weight_grad(xpad, dy, (kh, kw), stride, dilation, g)
        args = (dy, weight, stride, dilation, g, pads, (h, w))
        gx_col2im = im2col.input_grad_by_col2im(*args)
        gx_corr = im2col.input_grad_by_correlation(*args)
    finally:
        layout.IM2COL_MAX_BYTES = saved
    assert none is None or chunk >= case["n"]
    for fast, r in [(y, ref[0]), (y_chunked, ref[0]), (gw_kept, ref[1]), (gw_chunked, ref[1]),
                    (gx_col2im, ref[2]), (gx_corr, ref[2])]:
        assert fast.shape == r.shape and fast.flags.c_contiguous
        np.testing.assert_allclose(fast, r, rtol=1e-10, atol=1e-10)


conv_cases = st.fixed_dictionaries({
    "n": st.integers(1, 4), "groups": st.integers(1, 3), "cin_g": st.integers(1, 3),
    "cout_g": st.integers(1, 3), "kh": st.integers(1, 3), "kw": st.integers(1, 3),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "pads": st.tuples(*[st.integers(0, 2)] * 4), "h": st.integers(3, 8), "w": st.integers(3, 8),
    "seed": st.integers(0, 2**16)})


@SETTINGS
@given(conv_cases, st.integers(1, 4))
def test_conv_input_grad_col2im_matches_correlation(case, chunk):
    """Both input-gradient methods (the dispatcher picks by column-buffer size) agree, chunked
    or not, for any stride, dilation, padding and groups."""
    g, (sh, sw), (dh, dw) = case["groups"], case["stride"], case["dilation"]
    top, bottom, left, right = case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    ho = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    wo = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    assume(ho > 0 and wo > 0)
    rng = np.random.default_rng(case["seed"])
    cin = g * case["cin_g"]
    dy = rng.standard_normal((case["n"], g * case["cout_g"], ho, wo))
    weight = rng.standard_normal((g * case["cout_g"], case["cin_g"], kh, kw))
    args = (dy, weight, (sh, sw), (dh, dw), g, case["pads"], (h, w))
    ref = im2col.input_grad_by_correlation(*args)
    saved = layout.IM2COL_MAX_BYTES
    try:
        layout.IM2COL_MAX_BYTES = chunk * 8 * cin * kh * kw * ho * wo
        fast = im2col.input_grad_by_col2im(*args)
    finally:
        layout.IM2COL_MAX_BYTES = saved
    assert fast.shape == ref.shape == (case["n"], cin, h, w)
    np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(0, 2**16))
def test_conv_backward_twice_with_retained_graph(stride, dilation, padding, seed):
    """The weight gradient's columns are dropped after first use; a second backward through a
    retained graph recomputes them and accumulates the same gradients again."""
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, None, stride, padding, dilation)
    gy = tg.Tensor(rng.standard_normal(y.shape))
    y.backward(gy, retain_graph=True)
    once = x.grad.numpy().copy(), w.grad.numpy().copy()
    y.backward(gy)
    np.testing.assert_allclose(x.grad.numpy(), 2 * once[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), 2 * once[1], rtol=1e-12, atol=1e-12)


# ---- implicit GEMM on the grid -------------------------------------------------------------------
grid_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "groups": st.integers(1, 3), "cin_g": st.integers(1, 4),
    "cout_g": st.integers(1, 4), "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "dilation": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "pads": st.tuples(*[st.integers(0, 3)] * 4), "h": st.integers(1, 8), "w": st.integers(1, 8),
    "seed": st.integers(0, 2**16)})


def _grid_and_reference(case, rng):
    """(grid path, window reference) of y, dL/dw and dL/dx for one stride-1 geometry."""
    g, (dh, dw), pads = case["groups"], case["dilation"], case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    x = rng.standard_normal((case["n"], g * case["cin_g"], h, w))
    weight = rng.standard_normal((g * case["cout_g"], case["cin_g"], kh, kw))
    dy = rng.standard_normal((case["n"], g * case["cout_g"], ho, wo))
    ref = _reference_conv(x, weight, dy, (1, 1), (dh, dw), g, pads)
    dyg = grid.grid_output(dy, g, (hp, wp), (kh, kw), (dh, dw))
    fast = (grid.grid_conv_forward(x, weight, pads, (dh, dw), g),
            grid.grid_weight_grad(x, dyg, weight.shape, pads, (dh, dw)),
            grid.grid_input_grad(dyg, weight, g, pads, (h, w), case["n"], (dh, dw)))
    return fast, ref


@SETTINGS
@given(grid_cases, grid_cases)
def test_grid_conv_matches_window_reference(case, other):
    """The implicit-GEMM grid path (stride 1: forward, weight and input gradients) equals the
    window reference for any padding (asymmetric too), dilation, groups, kernel and channel counts;
    the reused scratch buffers give the same results after another geometry used them."""
    def valid(c):
        return (c["h"] + c["pads"][0] + c["pads"][1] > c["dilation"][0] * (c["kh"] - 1)
                and c["w"] + c["pads"][2] + c["pads"][3] > c["dilation"][1] * (c["kw"] - 1))
    assume(valid(case) and valid(other))
    first, ref = _grid_and_reference(case, np.random.default_rng(case["seed"]))
    _grid_and_reference(other, np.random.default_rng(other["seed"]))
    again, _ = _grid_and_reference(case, np.random.default_rng(case["seed"]))
    for f, a, r in zip(first, again, ref):
        assert f.shape == r.shape and f.flags.c_contiguous
        np.testing.assert_allclose(f, r, rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(f, a)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.sampled_from([0, 1, 2, "same"]),
       st.integers(1, 2), st.integers(1, 3), st.integers(0, 2**16))
def test_grid_dispatch_conv_layers_match_torch(k, dilation, padding, groups, cpg, seed):
    """Conv2d and ConvTranspose2d (stride 1) through the grid path, forced for any channel
    count, against torch: outputs and all gradients."""
    rng = np.random.default_rng(seed)
    c, o = groups * cpg, groups * (cpg + 1)
    x = rng.standard_normal((2, c, 6, 5))
    saved = dispatch.GRID_MIN_TAP_WIDTH
    dispatch.GRID_MIN_TAP_WIDTH = 1
    try:
        for transpose in (False, True):
            w = rng.standard_normal((c, o // groups, k, k) if transpose else (o, cpg, k, k))
            b = rng.standard_normal(o)
            if transpose:
                pad = 0 if padding == "same" else min(padding, dilation * (k - 1))
                ours_fn, theirs_fn = F.conv_transpose2d, torch.nn.functional.conv_transpose2d
                kw = dict(padding=pad, groups=groups, dilation=dilation)
            else:
                ours_fn, theirs_fn = F.conv2d, torch.nn.functional.conv2d
                kw = dict(padding=padding, groups=groups, dilation=dilation)
            ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
            ty = theirs_fn(*ts, **kw)
            gy = rng.standard_normal(tuple(ty.shape))
            ty.backward(torch.tensor(gy))
            os_ = [tg.Tensor(a, requires_grad=True) for a in (x, w, b)]
            oy = ours_fn(*os_, **kw)
            oy.backward(tg.Tensor(gy))
            np.testing.assert_allclose(oy.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
            for o_t, t_t in zip(os_, ts):
                np.testing.assert_allclose(o_t.grad.numpy(), t_t.grad.numpy(), rtol=1e-10, atol=1e-10)
    finally:
        dispatch.GRID_MIN_TAP_WIDTH = saved


# ---- small-map columns ---------------------------------------------------------------------------
@st.composite
def small_conv_cases(draw):
    k = draw(st.integers(1, 3))
    stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pad = draw(st.integers(0, 3))
    reach = dilation * (k - 1)
    h = draw(st.integers(max(1, reach + 1 - 2 * pad), 8))
    w = draw(st.integers(max(1, reach + 1 - 2 * pad), 8))
    ho = (h + 2 * pad - reach - 1) // stride + 1
    wo = (w + 2 * pad - reach - 1) // stride + 1
    assume(ho * wo <= dispatch.SMALL_MAP_MAX_POSITIONS)
    return dict(n=draw(st.integers(1, 4)), c=draw(st.integers(1, 5)), o=draw(st.integers(1, 5)),
                h=h, w=w, k=k, stride=stride, dilation=dilation, pad=pad,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@SETTINGS
@given(small_conv_cases(), st.sampled_from([None, 1, 300]))
def test_column_conv_path_matches_torch(case, chunk_bytes):
    """Output, input, weight and bias gradients of the column path (every padding: the input
    gradient as a correlation or, past the kernel's reach or at stride 2, by col2im; column
    matrices split into chunks of samples: ``chunk_bytes`` of columns per chunk) against torch
    in float64."""
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"]))
    weight = rng.standard_normal((case["o"], case["c"], case["k"], case["k"]))
    bias = rng.standard_normal(case["o"]) if case["bias"] else None
    kw = dict(stride=case["stride"], padding=case["pad"], dilation=case["dilation"])
    saved = layout.THREAD_CHUNK_BYTES
    if chunk_bytes is not None:
        layout.THREAD_CHUNK_BYTES = chunk_bytes
    try:
        ox, ow = tg.tensor(x, requires_grad=True), tg.tensor(weight, requires_grad=True)
        ob = None if bias is None else tg.tensor(bias, requires_grad=True)
        y = F.conv2d(ox, ow, ob, **kw)
        assert y.creator.cfg[-1] == "columns"      # the path under test was taken
        dy = rng.standard_normal(y.shape)
        (y * tg.tensor(dy)).sum().backward()
    finally:
        layout.THREAD_CHUNK_BYTES = saved
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    tb = None if bias is None else torch.tensor(bias, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    (ty * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ox.grad.array, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ow.grad.array, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    if bias is not None:
        np.testing.assert_allclose(ob.grad.array, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@SETTINGS
@given(small_conv_cases())
def test_column_kernels_match_window_reference(case):
    """The column path's own functions (forward, then dx/dw/db from dy) against the window
    reference, called directly (no dispatcher)."""
    rng = np.random.default_rng(case["seed"])
    n, c, o, k, h, w = case["n"], case["c"], case["o"], case["k"], case["h"], case["w"]
    stride, dilation, pad = (case["stride"],) * 2, (case["dilation"],) * 2, (case["pad"],) * 4
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((o, c, k, k))
    bias = rng.standard_normal(o)
    ho = (h + 2 * case["pad"] - case["dilation"] * (k - 1) - 1) // case["stride"] + 1
    wo = (w + 2 * case["pad"] - case["dilation"] * (k - 1) - 1) // case["stride"] + 1
    dy = rng.standard_normal((n, o, ho, wo))
    ref_y, ref_gw, ref_gx = _reference_conv(x, weight, dy, stride, dilation, 1, pad)

    class Ctx:
        needs_input_grad = (True, True, True)
    y, xpad = columns.columns_forward(x, weight, bias, stride, pad, dilation, (ho, wo))
    gx, gw, gb = columns.columns_backward(Ctx, dy, xpad, weight, stride, pad, dilation, (h, w))
    np.testing.assert_allclose(y, ref_y + bias.reshape(1, -1, 1, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gb, dy.sum(axis=(0, 2, 3)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape,w_shape,stride,groups,expected", [
    ((64, 32, 16, 16), (32, 32, 3, 3), 1, 1, "grid"),      # enough channels, stride 1
    ((128, 64, 4, 4), (64, 64, 3, 3), 1, 1, "columns"),    # a small map
    ((128, 1, 28, 28), (32, 1, 3, 3), 1, 1, "im2col"),     # one input channel: K = 3 < 32
    ((2, 32, 32, 32), (32, 32, 3, 3), 2, 1, "im2col"),     # strided, a large map
    ((2, 64, 8, 8), (64, 32, 3, 3), 1, 2, "grid"),         # grouped: never the columns
    ((2, 4, 4, 4), (4, 2, 3, 3), 1, 2, "im2col"),          # grouped, few channels
])
def test_dispatcher_picks_the_documented_algorithm(x_shape, w_shape, stride, groups, expected):
    """The rules of conv/dispatch.py on the cases of benchmarks/bench_conv_paths.py, and the
    algorithm a Conv2dFn node records is the one the dispatcher names."""
    pads = (1, 1, 1, 1)
    ho = (x_shape[2] + 2 - 3) // stride + 1
    got = dispatch.conv2d_algorithm(x_shape, w_shape, 4, (stride, stride), pads, (1, 1), groups,
                                    (ho, ho))
    assert got == expected
    x = tg.zeros(*x_shape, requires_grad=True)
    y = F.conv2d(x, tg.zeros(*w_shape), stride=stride, padding=1, groups=groups)
    assert y.creator.cfg[-1] == expected


def test_column_path_is_taken_for_small_maps_only():
    small = F.conv2d(tg.randn(2, 3, 8, 8, requires_grad=True), tg.randn(4, 3, 3, 3), padding=1)
    large = F.conv2d(tg.randn(2, 3, 9, 9, requires_grad=True), tg.randn(4, 3, 3, 3), padding=1)
    grouped = F.conv2d(tg.randn(2, 4, 4, 4, requires_grad=True), tg.randn(4, 2, 3, 3), padding=1,
                       groups=2)
    assert small.creator.cfg[-1] == "columns"
    assert large.creator.cfg[-1] != "columns"
    assert grouped.creator.cfg[-1] != "columns"


def test_column_path_without_grad_saves_nothing():
    with tg.no_grad():
        x = tg.randn(2, 3, 4, 4, requires_grad=True)
        y = F.conv2d(x, tg.randn(5, 3, 3, 3, requires_grad=True), padding=1)
    assert y.creator is None and not y.requires_grad
