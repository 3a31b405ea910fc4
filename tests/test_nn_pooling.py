"""MaxPool2d / AvgPool2d / AdaptiveAvgPool2d: torch, gradcheck, primitive reference, fast path."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.functional import pooling as pool_mod
from tinygrad_cv.testing import gradcheck

from torch_compare import compare_layer, host

SETTINGS = settings(max_examples=25, deadline=None)

pool_cases = st.fixed_dictionaries({
    "k": st.integers(1, 4), "s": st.integers(1, 4), "p": st.integers(0, 2),
    "h": st.integers(4, 10), "w": st.integers(4, 10), "n": st.integers(1, 3), "c": st.integers(1, 3),
    "ties": st.booleans(), "seed": st.integers(0, 2**16)}).filter(lambda d: 2 * d["p"] <= d["k"])


def _input(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"]))
    if case["ties"]:
        x = np.round(x)  # many equal values: torch's first-maximum rule decides the gradient
    return x.astype(dtype)


def reference_pool(x, k, s, p, kind):
    """Pooling from primitive Tensor ops: one strided slice per kernel offset, stacked."""
    n, c, h, w = x.shape
    x = tg.pad(x, (p, p, p, p), value=-np.inf if kind == "max" else 0.0)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    parts = [x[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s] for i in range(k) for j in range(k)]
    stacked = tg.stack(parts, dim=-1)
    return stacked.amax(dim=-1) if kind == "max" else stacked.mean(dim=-1)


@SETTINGS
@given(pool_cases, st.sampled_from([np.float32, np.float64]))
def test_pools_match_torch(case, dtype):
    x = _input(case, dtype)
    k, s, p = case["k"], case["s"], case["p"]
    if (case["h"] + 2 * p - k) // s + 1 < 1 or (case["w"] + 2 * p - k) // s + 1 < 1:
        return
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for train in (True, False):
        compare_layer(nn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), x, train=train, **tol)
        compare_layer(nn.AvgPool2d(k, s, p), torch.nn.AvgPool2d(k, s, p), x, train=train, **tol)


@SETTINGS
@given(st.integers(1, 9), st.one_of(st.none(), st.integers(1, 9)), st.integers(3, 11),
       st.integers(3, 11), st.integers(0, 2**16))
def test_adaptive_avg_pool_matches_torch(oh, ow, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, h, w))
    size = (oh, ow)
    for train in (True, False):
        compare_layer(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x, train=train,
                      rtol=1e-12, atol=1e-12)


@SETTINGS
@given(pool_cases)
def test_fused_pools_match_primitive_reference(case):
    case = dict(case, ties=False)  # the primitive max splits ties; compare on distinct values
    k, s, p = case["k"], case["s"], case["p"]
    if (case["h"] + 2 * p - k) // s + 1 < 1 or (case["w"] + 2 * p - k) // s + 1 < 1:
        return
    x = tg.Tensor(_input(case), requires_grad=True)
    gy = None
    for kind, fn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        y = fn(x, k, s, p)
        ref = reference_pool(x, k, s, p, kind)
        np.testing.assert_allclose(host(y), host(ref), rtol=1e-12, atol=1e-12)
        gy = tg.Tensor(np.random.default_rng(1).standard_normal(y.shape))
        (g,) = tg.autograd.grad(y, (x,), gy)
        (gr,) = tg.autograd.grad(ref, (x,), gy)
        np.testing.assert_allclose(host(g), host(gr), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(st.integers(2, 4), st.integers(2, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_reshape_fast_path_matches_strided_path(kh, kw, ho, wo, seed):
    """kernel == stride dividing the input takes the reshape path; compare with the windows path."""
    x = np.round(np.random.default_rng(seed).standard_normal((2, 3, kh * ho, kw * wo)))
    shape = x.shape
    assert pool_mod._is_reshape_case(shape, (kh, kw), (kh, kw), (0, 0))
    gy = np.random.default_rng(seed + 1).standard_normal((2, 3, ho, wo))
    for fn in (pool_mod.MaxPool2dFn, pool_mod.AvgPool2dFn):
        xt = tg.Tensor(x, requires_grad=True)
        y = fn.apply(xt, kernel=(kh, kw), stride=(kh, kw), padding=(0, 0))
        y.backward(tg.Tensor(gy))
        # the same pooling through the strided-window path (a one-pixel-larger input, cropped)
        xbig = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-1e9)
        xb = tg.Tensor(xbig, requires_grad=True)
        yb = fn.apply(xb, kernel=(kh, kw), stride=(kh, kw), padding=(0, 0))
        assert not pool_mod._is_reshape_case(xbig.shape, (kh, kw), (kh, kw), (0, 0))
        gy_big = np.zeros(yb.shape)
        gy_big[:, :, :ho, :wo] = gy
        yb.backward(tg.Tensor(gy_big))
        np.testing.assert_allclose(host(y), host(yb)[:, :, :ho, :wo], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(host(xt.grad), host(xb.grad)[:, :, :-1, :-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 3, 0)])
def test_pool_gradcheck(k, s, p):
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 2, 7, 6)), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool2d(x, k, s, p), (x,))
    assert gradcheck(lambda x: F.avg_pool2d(x, k, s, p), (x,))


@pytest.mark.parametrize("size", [(3, 2), (1, 1), (4, 3)])
def test_adaptive_gradcheck(size):
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 2, 7, 6)), requires_grad=True)
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), (x,))


def test_max_pool_first_maximum_gets_gradient():
    x = tg.Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(host(x.grad)[0, 0], [[1, 0], [0, 0]])


def test_pool_shape_errors():
    # torch's ranks: (C, H, W) is an unbatched input (a batch of one), (H, W) is refused
    assert nn.MaxPool2d(2)(tg.randn(3, 4, 4)).shape == (3, 2, 2)
    with pytest.raises(ValueError, match=r"MaxPool2d.*\(N, C, H, W\).*\(4, 4\)"):
        nn.MaxPool2d(2)(tg.randn(4, 4))
    with pytest.raises(ValueError, match="AvgPool2d"):
        nn.AvgPool2d(2)(tg.randn(4, 4))
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d"):
        nn.AdaptiveAvgPool2d(2)(tg.randn(4, 4))
    with pytest.raises(ValueError, match="padding"):
        F.max_pool2d(tg.randn(1, 1, 4, 4), 2, 2, 2)


def test_pools_on_device(device):
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 7)).astype(np.float32)
    compare_layer(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1), x, device=device)
    compare_layer(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x[..., :6], device=device)
    compare_layer(nn.AdaptiveAvgPool2d((3, 5)), torch.nn.AdaptiveAvgPool2d((3, 5)), x, device=device)
