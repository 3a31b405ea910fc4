"""Fast paths introduced for speed, each against the straightforward reference on random shapes."""
import numpy as np
from hypothesis import assume, given, settings, strategies as st

from tinygrad_cv.nn.functional import conv as conv_mod

SETTINGS = settings(max_examples=30, deadline=None)


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
    out = conv_mod._dilate_pad(dy, (sh, sw), *pads)
    np.testing.assert_array_equal(out, _reference_dilate_pad(dy, (sh, sw), *pads))


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4),
       st.booleans(), st.integers(0, 2**16))
def test_tiled_max_pool_routes_match_offset_routes(kh, kw, ho, wo, ties, seed):
    """The max-pool backward of tiling windows (each offset view written once) equals the
    accumulating offset routing and a per-window argmax reference, ties included."""
    from tinygrad_cv.nn.functional import pooling as pool_mod
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, kh * ho, kw * wo))
    if ties:
        x = np.maximum(np.round(x), 0.0)  # many equal maxima, as after a ReLU
    y = x.reshape(2, 3, ho, kh, wo, kw).max(axis=(3, 5))
    dy = rng.standard_normal(y.shape)
    slices = pool_mod._offset_slices((kh, kw), (kh, kw), (ho, wo))
    fast = pool_mod._max_routes(x, y, dy, slices, tiled=True)
    np.testing.assert_array_equal(fast, pool_mod._max_routes(x, y, dy, slices, tiled=False))
    first = np.zeros_like(x)  # the plain rule: the first row-major maximum of each window
    win = x.reshape(2, 3, ho, kh, wo, kw).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, ho, wo, -1)
    idx = win.argmax(axis=-1)
    for n, c, a, b in np.ndindex(*y.shape):
        i, j = divmod(idx[n, c, a, b], kw)
        first[n, c, a * kh + i, b * kw + j] = dy[n, c, a, b]
    np.testing.assert_array_equal(fast, first)


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
    xpad = conv_mod._pad_hw(x, *pads)
    y, cols = conv_mod._conv_core(xpad, weight, stride, dilation, g, keep_cols=True)
    gw_kept = conv_mod._weight_grad(xpad, dy, (kh, kw), stride, dilation, g, cols)
    saved = conv_mod.IM2COL_MAX_BYTES
    try:
        conv_mod.IM2COL_MAX_BYTES = chunk * 8 * cin * kh * kw * ho * wo
        y_chunked, none = conv_mod._conv_core(xpad, weight, stride, dilation, g, keep_cols=True)
        gw_chunked = conv_mod._weight_grad(xpad, dy, (kh, kw), stride, dilation, g)
        args = (dy, weight, stride, dilation, g, pads, (h, w))
        gx_col2im = conv_mod._input_grad_by_col2im(*args)
        gx_corr = conv_mod._input_grad_by_correlation(*args)
    finally:
        conv_mod.IM2COL_MAX_BYTES = saved
    assert none is None or chunk >= case["n"]
    for fast, r in [(y, ref[0]), (y_chunked, ref[0]), (gw_kept, ref[1]), (gw_chunked, ref[1]),
                    (gx_col2im, ref[2]), (gx_corr, ref[2])]:
        assert fast.shape == r.shape and fast.flags.c_contiguous
        np.testing.assert_allclose(fast, r, rtol=1e-10, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(0, 2**16))
def test_conv_backward_twice_with_retained_graph(stride, dilation, padding, seed):
    """The weight gradient's columns are dropped after first use; a second backward through a
    retained graph recomputes them and accumulates the same gradients again."""
    import tinygrad_cv as tg
    import tinygrad_cv.nn.functional as F
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


def test_max_pool_routes_nan_maxima_like_torch():
    import torch
    import tinygrad_cv as tg
    import tinygrad_cv.nn.functional as F
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    x[0, 1, 2, 3] = x[1, 2, 0, 0] = x[1, 2, 1, 1] = np.nan
    for k, s, p in ((2, 2, 0), (3, 2, 1)):
        xt = tg.Tensor(x, requires_grad=True)
        F.max_pool2d(xt, k, s, p).sum().backward()
        tt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(tt, k, s, p).sum().backward()
        np.testing.assert_array_equal(xt.grad.numpy(), tt.grad.numpy())


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
    ref = conv_mod._input_grad_by_correlation(*args)
    saved = conv_mod.IM2COL_MAX_BYTES
    try:
        conv_mod.IM2COL_MAX_BYTES = chunk * 8 * cin * kh * kw * ho * wo
        fast = conv_mod._input_grad_by_col2im(*args)
    finally:
        conv_mod.IM2COL_MAX_BYTES = saved
    assert fast.shape == ref.shape == (case["n"], cin, h, w)
    np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10)


grid_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "groups": st.integers(1, 3), "cin_g": st.integers(1, 4),
    "cout_g": st.integers(1, 4), "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "dilation": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "pads": st.tuples(*[st.integers(0, 3)] * 4), "h": st.integers(1, 8), "w": st.integers(1, 8),
    "seed": st.integers(0, 2**16)})


def _grid_and_im2col(case, rng):
    """(grid path, im2col reference) of y, dL/dw and dL/dx for one stride-1 geometry."""
    g, (dh, dw), pads = case["groups"], case["dilation"], case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    ho, wo = hp - dh * (kh - 1), wp - dw * (kw - 1)
    x = rng.standard_normal((case["n"], g * case["cin_g"], h, w))
    weight = rng.standard_normal((g * case["cout_g"], case["cin_g"], kh, kw))
    dy = rng.standard_normal((case["n"], g * case["cout_g"], ho, wo))
    xpad = conv_mod._pad_hw(x, *pads)
    ref = (conv_mod._conv_core(xpad, weight, (1, 1), (dh, dw), g)[0],
           conv_mod._weight_grad(xpad, dy, (kh, kw), (1, 1), (dh, dw), g),
           conv_mod._input_grad_by_correlation(dy, weight, (1, 1), (dh, dw), g, pads, (h, w)))
    dyg = conv_mod._grid_output(dy, g, (hp, wp), (kh, kw), (dh, dw))
    fast = (conv_mod._grid_conv_forward(x, weight, pads, (dh, dw), g),
            conv_mod._grid_weight_grad(x, dyg, weight.shape, pads, (dh, dw)),
            conv_mod._grid_input_grad(dyg, weight, g, pads, (h, w), case["n"], (dh, dw)))
    return fast, ref


@SETTINGS
@given(grid_cases, grid_cases)
def test_grid_conv_matches_im2col(case, other):
    """The implicit-GEMM grid path (stride 1: forward, weight and input gradients) equals the
    im2col path for any padding (asymmetric too), dilation, groups, kernel and channel counts;
    the reused scratch buffers give the same results after another geometry used them."""
    def valid(c):
        return (c["h"] + c["pads"][0] + c["pads"][1] > c["dilation"][0] * (c["kh"] - 1)
                and c["w"] + c["pads"][2] + c["pads"][3] > c["dilation"][1] * (c["kw"] - 1))
    assume(valid(case) and valid(other))
    first, ref = _grid_and_im2col(case, np.random.default_rng(case["seed"]))
    _grid_and_im2col(other, np.random.default_rng(other["seed"]))
    again, _ = _grid_and_im2col(case, np.random.default_rng(case["seed"]))
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
    import torch
    import tinygrad_cv as tg
    import tinygrad_cv.nn.functional as F
    rng = np.random.default_rng(seed)
    c, o = groups * cpg, groups * (cpg + 1)
    x = rng.standard_normal((2, c, 6, 5))
    saved = conv_mod.GRID_MIN_TAP_WIDTH
    conv_mod.GRID_MIN_TAP_WIDTH = 1
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
        conv_mod.GRID_MIN_TAP_WIDTH = saved


def _reference_max_pool_2x2(x, dy):
    """Per-window reference of 2x2/stride-2 max pooling: the maximum, and dy routed to the
    first row-major maximum, or to the last NaN of a window that holds one (torch's rules)."""
    n, c, h, w = x.shape
    y, gx = np.empty((n, c, h // 2, w // 2), dtype=x.dtype), np.zeros_like(x)
    for i, j, a, b in np.ndindex(*y.shape):
        win = x[i, j, 2 * a:2 * a + 2, 2 * b:2 * b + 2].ravel()
        nans = np.flatnonzero(np.isnan(win))
        k = nans[-1] if nans.size else int(np.argmax(win))
        y[i, j, a, b] = win[k]
        gx[i, j, 2 * a + k // 2, 2 * b + k % 2] = dy[i, j, a, b]
    return y, gx


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5),
       st.sampled_from(["plain", "ties", "nan", "inf"]), st.sampled_from([np.float32, np.float64]),
       st.integers(1, 7), st.integers(0, 2**16))
def test_max_pool_pair_path_matches_window_reference(n, c, ho, wo, values, dtype, chunk, seed):
    """The 2x2/stride-2 pair path (forward and backward, chunked through the scratch or not)
    against the per-window reference: ties go to the first maximum, NaN windows to their last
    NaN, infinities are ordinary maxima."""
    import tinygrad_cv as tg
    import tinygrad_cv.nn.functional as F
    from tinygrad_cv.nn.functional import pooling as pool_mod
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, 2 * ho, 2 * wo))
    if values != "plain":
        x = np.maximum(np.round(x), 0.0)  # many equal maxima, as after a ReLU
    special = {"nan": np.nan, "inf": np.inf}.get(values)
    if special is not None:
        x[rng.random(x.shape) < 0.2] = special
        if values == "inf":
            x[rng.random(x.shape) < 0.1] = -np.inf
    x = x.astype(dtype)
    dy = rng.standard_normal((n, c, ho, wo)).astype(dtype)
    y_ref, gx_ref = _reference_max_pool_2x2(x, dy)
    saved = pool_mod.PAIR_CHUNK_ROWS
    try:
        pool_mod.PAIR_CHUNK_ROWS = chunk
        xt = tg.Tensor(x, requires_grad=True)
        y = F.max_pool2d(xt, 2)
        y.backward(tg.Tensor(dy))
    finally:
        pool_mod.PAIR_CHUNK_ROWS = saved
    assert y.dtype == xt.dtype and xt.grad.numpy().dtype == x.dtype
    np.testing.assert_array_equal(y.detach().numpy(), y_ref)
    np.testing.assert_array_equal(xt.grad.numpy(), gx_ref)
    if values != "nan":
        direct = pool_mod._max_routes_pairs(x, y_ref, dy)
        np.testing.assert_array_equal(direct, gx_ref)
