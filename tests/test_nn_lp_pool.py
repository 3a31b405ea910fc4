"""LPPool1d/2d/3d and F.lp_pool1d/2d/3d against torch (values and gradients), gradcheck, repr."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

NORMS = [1, 2, 3, 1.5, 0.5, -2.0, math.inf, -math.inf]

cases = st.fixed_dictionaries({
    "dims": st.sampled_from([1, 2, 3]), "p": st.sampled_from(NORMS), "k": st.integers(1, 3),
    "s": st.one_of(st.none(), st.integers(1, 3)), "ceil": st.booleans(),
    "size": st.integers(3, 7), "zeros": st.booleans(), "positive": st.booleans(),
    "seed": st.integers(0, 2**16)})


def _pair(dims, case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((2, 3) + (case["size"],) * dims)
    if case["positive"]:
        x = np.abs(x)
    if case["zeros"]:
        x[..., :2] = 0.0     # whole windows of zeros: torch sends back a zero gradient there
    return x


def _compare(x, dims, p, k, s, ceil, dtype=np.float64, tol=1e-10):
    tf = getattr(torch.nn.functional, f"lp_pool{dims}d")
    gf = getattr(F, f"lp_pool{dims}d")
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    xg = tg.tensor(x.astype(dtype), requires_grad=True)
    yt, yg = tf(xt, p, k, s, ceil), gf(xg, p, k, s, ceil)
    assert tuple(yg.shape) == tuple(yt.shape) and yg.dtype == tg.float64 or dtype != np.float64
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(dtype)
    (yt * torch.tensor(w)).sum().backward()
    (yg * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(cases)
def test_functional_matches_torch_forward_and_backward(case):
    _compare(_pair(case["dims"], case), case["dims"], case["p"], case["k"], case["s"],
             case["ceil"])


def test_zero_windows_get_zero_gradient_not_nan():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1.0, -2.0], [0.5, 3.0]]
    _compare(x, 2, 2.0, 2, None, False)
    xg = tg.zeros(1, 1, 4, 4, requires_grad=True)
    F.lp_pool2d(xg, 2, 2).sum().backward()
    assert np.all(xg.grad.numpy() == 0)


def test_ceil_mode_partial_window_scaled_by_full_kernel():
    # torch: the cut-off window is averaged over its elements and multiplied by the full kernel
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    y = F.lp_pool1d(tg.tensor(x), 1, 2, ceil_mode=True).numpy()
    np.testing.assert_allclose(y[0, 0], [3.0, 7.0, 10.0])
    _compare(x, 1, 1, 2, None, True)


def test_float32_and_unbatched():
    rng = np.random.default_rng(3)
    _compare(np.abs(rng.standard_normal((4, 6, 5))), 2, 2.0, (2, 3), (1, 2), False,
             dtype=np.float32, tol=2e-5)
    _compare(rng.standard_normal((3, 8)), 1, 3, 3, 2, True, dtype=np.float32, tol=2e-5)


def test_gradcheck_float64():
    x = tg.tensor(np.abs(np.random.default_rng(4).standard_normal((1, 2, 5, 4))) + 0.1,
                  requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool2d(t, 3, 2, 1, True), (x,))
    assert gradcheck(lambda t: F.lp_pool2d(t, -2.0, (2, 1)), (x,))
    x1 = tg.tensor(np.random.default_rng(5).standard_normal((2, 2, 7)), requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool1d(t, 2, 3, 2), (x1,))
    assert gradcheck(lambda t: F.lp_pool1d(t, math.inf, 2), (x1,))
    x3 = tg.tensor(np.abs(np.random.default_rng(8).standard_normal((1, 1, 3, 4, 3))) + 0.1,
                   requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool3d(t, 2.5, (2, 2, 1), 1, True), (x3,))


@pytest.mark.parametrize("cls,args,shape", [
    ("LPPool1d", (2, 3), (2, 3, 8)), ("LPPool1d", (1.5, 3, 2, True), (3, 7)),
    ("LPPool2d", (2, 3), (2, 3, 7, 6)), ("LPPool2d", (4, (2, 3), (1, 2), True), (3, 5, 6)),
    ("LPPool2d", (math.inf, 2), (1, 2, 4, 4)), ("LPPool3d", (2, 2), (1, 2, 4, 4, 5)),
    ("LPPool3d", (3, (2, 1, 3), (1, 2, 2), True), (2, 5, 4, 7))])
def test_modules_match_torch(cls, args, shape):
    tm, gm = getattr(torch.nn, cls)(*args), getattr(nn, cls)(*args)
    assert repr(gm) == repr(tm)
    assert gm.state_dict() == {} and list(gm.parameters()) == []
    x = np.abs(np.random.default_rng(6).standard_normal(shape))
    np.testing.assert_allclose(gm(tg.tensor(x)).numpy(), tm(torch.tensor(x)).numpy(), rtol=1e-10)
    assert nn.modules.pooling.LPPool2d is nn.LPPool2d and nn.modules.pooling.LPPool3d is nn.LPPool3d


def test_one_tuple_kernel_accepted_in_1d():
    # torch's lp_pool1d multiplies by kernel_size itself and so fails on (3,); here (3,) is 3
    x = tg.tensor(np.abs(np.random.default_rng(7).standard_normal((2, 7))))
    np.testing.assert_allclose(nn.LPPool1d(2, (3,))(x).numpy(), nn.LPPool1d(2, 3)(x).numpy())


def test_bad_arguments_raise_clear_errors():
    x = tg.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match="norm_type"):
        F.lp_pool2d(x, 0, 2)
    with pytest.raises(TypeError, match="norm_type"):
        F.lp_pool2d(x, "2", 2)
    with pytest.raises(ValueError, match="lp_pool1d"):
        F.lp_pool1d(tg.ones(2, 2, 2, 2), 2, 2)
    with pytest.raises(ValueError, match="kernel_size"):
        F.lp_pool2d(x, 2, (2, 2, 2))
    with pytest.raises(ValueError, match="lp_pool3d"):
        F.lp_pool3d(x[0, 0], 2, 2)
