"""interpolate(..., antialias=True), modes 'bilinear', 'bicubic' and 'lanczos'
(nn/functional/antialias.py), and the separable map under every resize (ops/separable.py):
values and gradients against torch on the same inputs, float64 gradcheck, second-order
gradients, torch's errors, a photo downsampled 4x, ONNX export."""
import io
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.data import load_sample_image
from tinygrad_cv.nn.functional.antialias import antialias_matrix
from tinygrad_cv.ops import separable
from tinygrad_cv.testing import gradcheck

from torch_compare import host

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

SETTINGS = settings(max_examples=60, deadline=None)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def channels_last(a):
    """The same values as ``a`` (N, C, H, W) stored channels-last (C the fastest axis)."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


def torch_reference(x, gy, kw):
    """torch's values and input gradient for ``interpolate(x, **kw)`` (antialias=True), around
    two places where its kernels disagree with the map they implement:

    * an output width of 1 with the height resized: torch's forward repeats its first output
      row down the column (its own backward is that of the filter), so the values come from the
      transposed problem, which it computes right;
    * an axis whose size a scale factor != 1 leaves unchanged (e.g. 10 * 1.05 -> 10): its
      forward leaves the axis as it is, its backward applies the filter's matrix; the gradient
      is taken with that factor set to 1 (the same forward, the identity's backward).
    """
    h, w = x.shape[2:]
    xt = torch.tensor(x, requires_grad=True)
    sf = kw.get("scale_factor")
    grad_kw = dict(kw)
    if sf is not None and not kw.get("recompute_scale_factor"):
        grad_kw["scale_factor"] = tuple(1.0 if math.floor(n * f) == n else f
                                        for n, f in zip((h, w), sf))
    TF.interpolate(xt, antialias=True, **grad_kw).backward(torch.tensor(gy))
    y = TF.interpolate(torch.tensor(x), antialias=True, **kw)
    if y.shape[3] == 1 and y.shape[2] != h:
        flipped = dict(kw)
        for key in ("size", "scale_factor"):
            if flipped.get(key) is not None:
                flipped[key] = tuple(flipped[key])[::-1]
        y = TF.interpolate(torch.tensor(x).transpose(2, 3), antialias=True,
                           **flipped).transpose(2, 3)
    return y.numpy(), xt.grad.numpy()


resize = st.one_of(
    st.fixed_dictionaries({"size": st.tuples(st.integers(1, 40), st.integers(1, 40))}),
    st.fixed_dictionaries({
        "scale_factor": st.tuples(*[st.one_of(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]),
                                              st.floats(0.05, 3.0).map(lambda f: round(f, 3)))
                                    for _ in range(2)]),
        "recompute_scale_factor": st.sampled_from([None, False, True])}))


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 40), resize,
       st.sampled_from(["bilinear", "bicubic", "lanczos"]), st.booleans(),
       st.sampled_from([np.float32, np.float64]), st.booleans(), st.integers(0, 2**16))
def test_antialias_matches_torch(h, w, how, mode, align_corners, dtype, last, seed):
    align_corners = align_corners and mode != "lanczos"      # lanczos: False only
    sf = how.get("scale_factor")
    if sf is not None and min(math.floor(h * sf[0]), math.floor(w * sf[1])) < 1:
        return
    kw = dict(how, mode=mode, align_corners=align_corners)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, h, w)).astype(dtype)
    ours = tg.tensor(channels_last(x) if last else x, requires_grad=True)
    y = F.interpolate(ours, antialias=True, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y_ref, gx_ref = torch_reference(x, gy, kw)
    assert y.dtype == dtype and tuple(y.shape) == y_ref.shape
    # float32: rounding grows with the magnitude of the sums (bicubic/lanczos overshoot)
    scale = {"rtol": TOL[dtype]["rtol"]}
    np.testing.assert_allclose(host(y), y_ref, atol=TOL[dtype]["atol"] * (1 + np.abs(y_ref).max()),
                               **scale)
    y.backward(tg.tensor(gy))
    assert ours.grad.dtype == dtype
    np.testing.assert_allclose(host(ours.grad), gx_ref,
                               atol=TOL[dtype]["atol"] * (1 + np.abs(gx_ref).max()), **scale)


def test_torch_quirks_worked_around_are_real():
    """The two places ``torch_reference`` steps around: torch's forward at an output width of
    1 repeats the first row (the transposed problem gives the filter's values), and its
    backward on an axis a scale factor leaves at its size is not the forward's adjoint."""
    x = np.random.default_rng(0).standard_normal((1, 1, 6, 5))
    col = TF.interpolate(torch.tensor(x), size=(9, 1), mode="bilinear", antialias=True)
    assert np.ptp(col.numpy()) == 0                       # one value down the whole column
    ours = F.interpolate(tg.tensor(x), size=(9, 1), mode="bilinear", antialias=True)
    y_ref, _ = torch_reference(x, np.ones((1, 1, 9, 1)), dict(size=(9, 1), mode="bilinear"))
    np.testing.assert_allclose(host(ours), y_ref, rtol=1e-12, atol=1e-13)
    assert np.ptp(y_ref) > 0.1

    xt = torch.tensor(x, requires_grad=True)
    y = TF.interpolate(xt, scale_factor=(1.1, 0.5), mode="bilinear", antialias=True)
    assert y.shape[2] == 6                                # 6 * 1.1 floors back to 6
    gy = torch.randn(y.shape, dtype=torch.float64)
    y.backward(gy)
    # the forward is linear in x: its adjoint is <y(e_k), gy> for each basis image e_k
    eye = torch.eye(30, dtype=torch.float64).reshape(30, 1, 6, 5)
    adjoint = (TF.interpolate(eye, scale_factor=(1.1, 0.5), mode="bilinear", antialias=True)
               * gy).sum(dim=(1, 2, 3)).reshape(x.shape)
    assert not torch.allclose(xt.grad, adjoint)           # torch's backward is not it
    ours = tg.tensor(x, requires_grad=True)
    F.interpolate(ours, scale_factor=(1.1, 0.5), mode="bilinear", antialias=True).backward(
        tg.tensor(gy.numpy()))
    np.testing.assert_allclose(host(ours.grad), adjoint.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("kw", [dict(size=(3, 4)), dict(size=(11, 2), align_corners=True),
                                dict(scale_factor=(0.4, 1.7)),
                                dict(scale_factor=(1.05, 0.3)),       # height stays 7
                                dict(size=(1, 1), align_corners=True),
                                dict(size=(9, 1))])
def test_antialias_gradcheck(mode, kw):
    if mode == "lanczos" and kw.get("align_corners"):
        kw = dict(kw, align_corners=False)
    x = tg.tensor(np.random.default_rng(1).standard_normal((1, 2, 7, 9)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, mode=mode, antialias=True, **kw), (x,))


@SETTINGS
@given(st.integers(1, 20), st.integers(1, 20), st.integers(0, 20), st.integers(0, 20),
       st.integers(0, 2**16))
def test_bilinear_upsampling_is_plain_bilinear(h, w, dh, dw, seed):
    """Upsampling, the triangle keeps its width 1: the same map as plain bilinear."""
    x = tg.tensor(np.random.default_rng(seed).standard_normal((1, 2, h, w)))
    size = (h + dh, w + dw)
    np.testing.assert_allclose(
        host(F.interpolate(x, size=size, mode="bilinear", antialias=True)),
        host(F.interpolate(x, size=size, mode="bilinear")), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_downsampling_filter_is_stretched_and_normalised(mode):
    """4x down: each row averages the 4 (triangle), 8 (cubic) or 12 (Lanczos-3) pixels on
    either side of the output centre, sums to 1, and matches the closed form away from the
    borders."""
    m = antialias_matrix(np, mode, 64, 16, 4.0, np.float64)
    np.testing.assert_allclose(m.sum(axis=1), 1, rtol=1e-14)
    radius = 4 * {"bilinear": 1, "bicubic": 2, "lanczos": 3}[mode]
    center = 4 * 8 + 2                                    # output 8's centre, 34 input pixels
    taps = np.nonzero(m[8])[0]
    assert taps.min() >= center - radius and taps.max() < center + radius
    t = np.abs(np.arange(64) + 0.5 - center) / 4
    if mode == "bilinear":
        k = np.maximum(1 - t, 0)
    elif mode == "lanczos":
        k = np.where(t < 3, np.sin(np.pi * t) * np.sin(np.pi * t / 3) / (np.pi ** 2 * t * t / 3),
                     0)
    else:
        a = -0.5
        k = np.where(t < 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                     np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0))
    np.testing.assert_allclose(m[8], k / k.sum(), rtol=1e-12, atol=1e-15)


def _outcome(fn):
    try:
        fn()
    except Exception as e:          # noqa: BLE001 - the type is what is compared
        return type(e)
    return None


@pytest.mark.parametrize("ndim", [3, 4, 5])
def test_antialias_errors_as_torch(ndim):
    shape = (1, 2) + (6,) * (ndim - 2)
    for mode in ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear",
                 "area", "lanczos"):
        for align_corners, antialias, how in itertools.product(
                (None, False, True), (False, True),
                (dict(scale_factor=0.5), dict(size=(2, 2)),     # (2, 2): wrong for 3-D and 5-D
                 dict(scale_factor=0.5, recompute_scale_factor=True))):
            kw = dict(how, mode=mode, align_corners=align_corners, antialias=antialias)
            theirs = _outcome(lambda: TF.interpolate(torch.zeros(shape), **kw))
            ours = _outcome(lambda: F.interpolate(tg.zeros(*shape), **kw))
            assert ours is theirs, kw
    with pytest.raises(ValueError, match="antialias=True is restricted to modes 'bilinear', "
                                         "'bicubic' and 'lanczos' on 4-D"):
        F.interpolate(tg.zeros(*shape), scale_factor=0.5, mode="nearest", antialias=True)
    with pytest.raises(TypeError):                        # as torch.nn.Upsample: no such option
        nn.Upsample(scale_factor=0.5, mode="bilinear", antialias=True)
    x = tg.zeros(1, 1, 6, 6)
    with pytest.raises(ValueError, match="mode 'lanczos' requires antialias=True"):
        nn.Upsample(scale_factor=0.5, mode="lanczos")(x)
    with pytest.raises(ValueError, match="mode 'lanczos' does not support align_corners=True"):
        F.interpolate(x, size=3, mode="lanczos", align_corners=True, antialias=True)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_photo_downsampled_4x_matches_torch(mode):
    image = load_sample_image("astronaut", device="cpu")         # (512, 512, 3) in [0, 1]
    x = np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)[None])
    for align_corners in ((False,) if mode == "lanczos" else (False, True)):
        kw = dict(scale_factor=0.25, mode=mode, align_corners=align_corners, antialias=True)
        ours = F.interpolate(tg.tensor(x), **kw)
        theirs = TF.interpolate(torch.tensor(x), **kw).numpy()
        assert ours.shape == (1, 3, 128, 128)
        np.testing.assert_allclose(host(ours), theirs, rtol=1e-5, atol=1e-6)


def test_antialias_on_device(device):
    x = np.random.default_rng(0).standard_normal((2, 3, 17, 12)).astype(np.float32)
    gy = np.random.default_rng(1).standard_normal((2, 3, 5, 7)).astype(np.float32)
    ours = tg.tensor(x, device=device, requires_grad=True)
    y = F.interpolate(ours, size=(5, 7), mode="bicubic", antialias=True)
    y.backward(tg.tensor(gy, device=device))
    xt = torch.tensor(x, requires_grad=True)
    yt = TF.interpolate(xt, size=(5, 7), mode="bicubic", antialias=True)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(host(ours.grad), xt.grad.numpy(), rtol=2e-5, atol=2e-6)


def test_antialias_exports_to_onnx():
    """The two constant matrices become two MatMuls: onnxruntime gives the same values."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from tinygrad_cv.onnx import export

    class Shrink(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=(0.25, 0.4), mode="bicubic", antialias=True)

    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 25)).astype(np.float32))
    buf = io.BytesIO()
    export(Shrink(), (x,), buf, input_names=["x"])
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()), full_check=True)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": host(x)})[0]
    want = TF.interpolate(torch.tensor(host(x)), scale_factor=(0.25, 0.4), mode="bicubic",
                          antialias=True).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("mode, kw", [("bilinear", dict(antialias=True)),
                                      ("lanczos", dict(antialias=True)),
                                      ("bicubic", dict(align_corners=True)),
                                      ("nearest", {}), ("area", {})])
def test_banded_products_match_torch(mode, kw, monkeypatch):
    """Resizes of at least 64 pixels apply the matrices band by band (ops/separable.py):
    a 4x shrink of the height with a 2.4x enlargement of the width, values and gradients."""
    banded = []

    def spy(m, bands=separable._bands):
        found = bands(m)
        banded.append(found is not None)
        return found

    monkeypatch.setattr(separable, "_bands", spy)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 300, 70))
    gy = rng.standard_normal((2, 2, 75, 168))
    ours = tg.tensor(x, requires_grad=True)
    y = F.interpolate(ours, size=(75, 168), mode=mode, **kw)
    y.backward(tg.tensor(gy))
    xt = torch.tensor(x, requires_grad=True)
    yt = TF.interpolate(xt, size=(75, 168), mode=mode, **kw)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(host(y), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(ours.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert banded == [True] * 4                  # both axes, forward and backward


@pytest.mark.parametrize("mode, kw", [("bilinear", dict(antialias=True)),
                                      ("bicubic", dict(antialias=False)),
                                      ("lanczos", dict(antialias=True))])
def test_integer_input_raises_instead_of_wrong_values(mode, kw):
    """The weights cast to uint8 were 0 or 1 (values off by up to 255 from torch's)."""
    x = tg.tensor(np.random.default_rng(0).integers(0, 256, (1, 3, 8, 8)).astype(np.uint8))
    with pytest.raises(NotImplementedError, match="needs a floating-point input, got uint8"):
        F.interpolate(x, size=(3, 5), mode=mode, **kw)
    y = F.interpolate(x, size=(3, 5), mode="nearest")          # exact in any dtype
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(
        host(y), TF.interpolate(torch.tensor(host(x)), size=(3, 5), mode="nearest").numpy())


@pytest.mark.parametrize("mode, kw", [("bicubic", dict(antialias=True)),
                                      ("bilinear", dict(align_corners=True))])
def test_second_order_gradients_match_torch(mode, kw):
    """create_graph=True through the resize (a gradient penalty on a resized input): the
    backward is recorded as the transposed map."""
    rng = np.random.default_rng(4)
    x, gy = rng.standard_normal((2, 2, 13, 9)), rng.standard_normal((2, 2, 5, 11))

    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gy, requires_grad=True)
    (gx,) = torch.autograd.grad(TF.interpolate(xt, size=(5, 11), mode=mode, **kw), xt, gt,
                                create_graph=True)
    (ggt,) = torch.autograd.grad((gx ** 3).sum(), gt)

    xo, go = tg.tensor(x, requires_grad=True), tg.tensor(gy, requires_grad=True)
    (gxo,) = tg.autograd.grad(F.interpolate(xo, size=(5, 11), mode=mode, **kw), (xo,), go,
                              create_graph=True)
    (ggo,) = tg.autograd.grad((gxo ** 3).sum(), (go,))
    np.testing.assert_allclose(host(ggo), ggt.numpy(), rtol=1e-10, atol=1e-12)


def is_channels_last(t):
    """The raw array's layout (on any device: a copy to the host would be C-contiguous)."""
    a = t.array
    return a.transpose(0, 2, 3, 1).flags.c_contiguous and not a.flags.c_contiguous


@pytest.mark.parametrize("size, kw", [((5, 7), dict(mode="bilinear", antialias=True)),
                                      ((70, 90), dict(mode="lanczos", antialias=True)),   # banded
                                      ((9, 4), dict(mode="bicubic", align_corners=True)),
                                      ((6, 6), dict(mode="area"))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_last_input_gives_channels_last_output(size, kw, dtype):
    """As torch: a channels-last x gives a channels-last y (computed in its NHWC memory), a
    channels-last dy a channels-last dx; the values and gradients are torch's."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 24, 300 if size[0] == 70 else 18)).astype(dtype)
    gy = rng.standard_normal((2, 3) + size).astype(dtype)
    ours = tg.tensor(channels_last(x), requires_grad=True)
    y = F.interpolate(ours, size=size, **kw)
    assert is_channels_last(y)
    y.backward(tg.tensor(channels_last(gy)))
    assert is_channels_last(ours.grad)
    xt = torch.tensor(x).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    yt = TF.interpolate(xt, size=size, **kw)
    assert yt.is_contiguous(memory_format=torch.channels_last)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(host(y), yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(host(ours.grad), xt.grad.numpy(), **TOL[dtype])
