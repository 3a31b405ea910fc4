"""Fast paths introduced for speed, each against the straightforward reference on random shapes
(the convolution algorithms are in test_conv_algorithms.py)."""
import numpy as np
from hypothesis import given, settings, strategies as st


SETTINGS = settings(max_examples=30, deadline=None)


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
