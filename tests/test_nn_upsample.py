"""Upsample / interpolate (nearest, bilinear with both align_corners): torch, gradcheck, reference."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

from torch_compare import compare_layer, host

# the module (the package re-exports a function of the same name)
import tinygrad_cv.nn.functional.interpolation as up_mod

SETTINGS = settings(max_examples=25, deadline=None)

resize = st.one_of(
    st.fixed_dictionaries({"size": st.tuples(st.integers(1, 12), st.integers(1, 12)), "scale_factor": st.none()}),
    st.fixed_dictionaries({"size": st.none(), "scale_factor": st.one_of(
        st.sampled_from([2, 3, 0.5, 1.5, 2.5]),
        st.tuples(st.sampled_from([1, 2, 1.5]), st.sampled_from([2, 0.75, 3])))}))
modes = st.sampled_from([("nearest", None), ("bilinear", False), ("bilinear", True)])


@SETTINGS
@given(resize, modes, st.integers(1, 7), st.integers(1, 7), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**16))
def test_upsample_matches_torch(how, mode, h, w, dtype, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, h, w)).astype(dtype)
    sf = how["scale_factor"]
    if sf is not None and min(np.floor(np.array([h, w]) * np.broadcast_to(sf, 2))) < 1:
        return
    kw = dict(size=how["size"], scale_factor=sf, mode=mode[0], align_corners=mode[1])
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)
    for train in (True, False):
        compare_layer(nn.Upsample(**kw), torch.nn.Upsample(**kw), x, train=train, **tol)


def reference_bilinear(x, ho, wo, align_corners):
    """Bilinear resize from primitive ops: integer-array gathers and a lerp per axis."""
    def axis(n_in, n_out):
        o = np.arange(n_out, dtype=float)
        if align_corners:
            src = o * ((n_in - 1) / (n_out - 1)) if n_out > 1 else o * 0
        else:
            src = np.maximum((o + 0.5) * (n_in / n_out) - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0
    h0, h1, lh = axis(x.shape[2], ho)
    w0, w1, lw = axis(x.shape[3], wo)
    lh = tg.Tensor(lh.reshape(1, 1, -1, 1))
    lw = tg.Tensor(lw.reshape(1, 1, 1, -1))
    rows = x[:, :, h0] * (1 - lh) + x[:, :, h1] * lh
    return rows[:, :, :, w0] * (1 - lw) + rows[:, :, :, w1] * lw


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 6), st.integers(1, 6), st.booleans(),
       st.integers(0, 2**16))
def test_bilinear_matches_primitive_reference(ho, wo, h, w, align_corners, seed):
    x = tg.Tensor(np.random.default_rng(seed).standard_normal((2, 2, h, w)), requires_grad=True)
    y = F.interpolate(x, size=(ho, wo), mode="bilinear", align_corners=align_corners)
    ref = reference_bilinear(x, ho, wo, align_corners)
    np.testing.assert_allclose(host(y), host(ref), rtol=1e-10, atol=1e-12)
    gy = tg.Tensor(np.random.default_rng(seed + 1).standard_normal(y.shape))
    (g,) = tg.autograd.grad(y, (x,), gy)
    (gr,) = tg.autograd.grad(ref, (x,), gy)
    np.testing.assert_allclose(host(g), host(gr), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**16))
def test_nearest_integer_fast_path_matches_matrix_path(fh, fw, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, h, w))
    gy = np.random.default_rng(seed + 1).standard_normal((2, 3, h * fh, w * fw))
    xa = tg.Tensor(x, requires_grad=True)
    fast = up_mod.NearestRepeatFn.apply(xa, factors=(fh, fw))
    fast.backward(tg.Tensor(gy))
    xb = tg.Tensor(x, requires_grad=True)
    a = up_mod._nearest_matrix(np, h, h * fh, 1 / fh, x.dtype)
    b = up_mod._nearest_matrix(np, w, w * fw, 1 / fw, x.dtype)
    slow = up_mod.separable_linear(xb, a, b)
    slow.backward(tg.Tensor(gy))
    np.testing.assert_allclose(host(fast), host(slow), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(xa.grad), host(xb.grad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(size=(5, 7), mode="bilinear", align_corners=False),
                                dict(scale_factor=2, mode="bilinear", align_corners=True),
                                dict(size=(7, 3), mode="nearest"), dict(scale_factor=2, mode="nearest")])
def test_interpolate_gradcheck(kw):
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, **kw), (x,))


def test_upsample_errors():
    with pytest.raises(ValueError, match=r"Upsample.*\(N, C, H, W\).*\(4, 4\)"):
        nn.Upsample(scale_factor=2)(tg.randn(4, 4))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(tg.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match="mode"):
        nn.Upsample(scale_factor=2, mode="linear3")
    with pytest.raises(NotImplementedError, match="trilinear mode needs 5-D input"):
        nn.Upsample(scale_factor=2, mode="trilinear")(tg.randn(1, 1, 4, 4))   # a 5-D mode


def test_upsample_on_device(device):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for kw in (dict(scale_factor=2), dict(size=(7, 9), mode="bilinear", align_corners=False)):
        compare_layer(nn.Upsample(**kw), torch.nn.Upsample(**kw), x, device=device)
