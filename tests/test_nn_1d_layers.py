"""The 1-D layers (Conv1d, ConvTranspose1d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d,
AdaptiveMaxPool1d), AdaptiveMaxPool2d and unbatched inputs to the 1-D and 2-D layers, against
torch with copied weights: forward, input/weight/bias gradients, float32 and float64, gradcheck,
argument errors and ONNX export."""
import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

from torch_compare import compare_layer, host

pytestmark = [pytest.mark.usefixtures("torch_on_one_thread"),
              # torch's own note on its 'same' padding with even kernels
              pytest.mark.filterwarnings("ignore:Using padding='same'")]

SETTINGS = settings(max_examples=8, deadline=None)
DTYPES = st.sampled_from(["float32", "float64"])


def _input(rng, shape, dtype, ties=False):
    x = rng.standard_normal(shape)
    return (np.round(x * 2) / 2 if ties else x).astype(dtype)


# ---- convolutions --------------------------------------------------------------------------------
@st.composite
def conv1d_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k, d = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.sampled_from(["int", "same", "valid"]))
    stride = 1 if padding == "same" else draw(st.integers(1, 3))
    length = draw(st.integers(d * (k - 1) + 2, d * (k - 1) + 9))
    if padding == "int":
        padding = draw(st.integers(0, min(3, length - 1)))   # reflect needs padding < L
    batch = draw(st.sampled_from([None, 1, 2]))               # None: unbatched (C, L)
    return dict(in_channels=cin, out_channels=cout, kernel_size=k, stride=stride,
                padding=padding, dilation=d, groups=groups, bias=draw(st.booleans()),
                padding_mode=mode), batch, length


@SETTINGS
@given(conv1d_cases(), DTYPES, st.integers(0, 2**16))
def test_conv1d_matches_torch(case, dtype, seed):
    kw, batch, length = case
    ours, theirs = nn.Conv1d(**kw), torch.nn.Conv1d(**kw)
    assert repr(ours) == repr(theirs)
    lead = () if batch is None else (batch,)
    x = _input(np.random.default_rng(seed), lead + (kw["in_channels"], length), dtype)
    compare_layer(ours, theirs, x)          # forward, input, weight and bias gradients


@st.composite
def conv_transpose1d_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    output_padding = draw(st.integers(0, max(s, d) - 1))
    padding = draw(st.integers(0, (d * (k - 1)) // 2))
    batch = draw(st.sampled_from([None, 1, 2]))
    return dict(in_channels=cin, out_channels=cout, kernel_size=k, stride=s, padding=padding,
                output_padding=output_padding, groups=groups, bias=draw(st.booleans()),
                dilation=d), batch, draw(st.integers(1, 7))


@SETTINGS
@given(conv_transpose1d_cases(), DTYPES, st.integers(0, 2**16))
def test_conv_transpose1d_matches_torch(case, dtype, seed):
    kw, batch, length = case
    ours, theirs = nn.ConvTranspose1d(**kw), torch.nn.ConvTranspose1d(**kw)
    assert repr(ours) == repr(theirs)
    lead = () if batch is None else (batch,)
    x = _input(np.random.default_rng(seed), lead + (kw["in_channels"], length), dtype)
    compare_layer(ours, theirs, x)


def test_conv_transpose1d_output_size_matches_torch():
    kw = dict(stride=3, padding=1)
    ours, theirs = nn.ConvTranspose1d(2, 3, 3, **kw), torch.nn.ConvTranspose1d(2, 3, 3, **kw)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 2, 4)).astype("float32")
    for size in ([10], [12], (2, 3, 11)):
        want = theirs(torch.tensor(x), output_size=size)
        got = ours(tg.Tensor(x), output_size=size)
        np.testing.assert_allclose(host(got), host(want), rtol=2e-5, atol=2e-6)
    # unbatched input: the sizes alone or with the channel count
    for size in ([11], [3, 11]):
        want = theirs(torch.tensor(x[0]), output_size=size)
        np.testing.assert_allclose(host(ours(tg.Tensor(x[0]), output_size=size)), host(want),
                                   rtol=2e-5, atol=2e-6)
    with pytest.raises(ValueError, match=r"ConvTranspose1d: requested an output size of \(13,\).*"
                                         r"\(10,\) to \(12,\)"):
        ours(tg.Tensor(x), output_size=[13])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_functional_conv1d_and_conv_transpose1d_match_torch(dtype):
    """F.conv1d / F.conv_transpose1d with every gradient (input, weight, bias)."""
    rng = np.random.default_rng(1)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    cases = [
        (F.conv1d, torch.nn.functional.conv1d, (2, 4, 11), (6, 2, 3),
         dict(stride=2, padding=2, dilation=2, groups=2)),
        (F.conv1d, torch.nn.functional.conv1d, (4, 9), (3, 4, 4), dict(padding="same")),
        (F.conv1d, torch.nn.functional.conv1d, (1, 4, 9), (3, 4, 4), dict(padding="valid")),
        (F.conv_transpose1d, torch.nn.functional.conv_transpose1d, (2, 4, 6), (4, 3, 3),
         dict(stride=3, padding=1, output_padding=2, groups=2, dilation=2)),
        (F.conv_transpose1d, torch.nn.functional.conv_transpose1d, (4, 6), (4, 1, 2), {}),
    ]
    for ours, theirs, xshape, wshape, kw in cases:
        arrays = [rng.standard_normal(s).astype(dtype) for s in (xshape, wshape)]
        bias_len = wshape[0] if ours is F.conv1d else wshape[1] * kw.get("groups", 1)
        arrays.append(rng.standard_normal(bias_len).astype(dtype))
        a = [tg.Tensor(v, requires_grad=True) for v in arrays]
        t = [torch.tensor(v, requires_grad=True) for v in arrays]
        y, yt = ours(*a, **kw), theirs(*t, **kw)
        np.testing.assert_allclose(host(y), host(yt), **tol)
        g = rng.standard_normal(yt.shape).astype(dtype)
        y.backward(tg.Tensor(g))
        yt.backward(torch.tensor(g))
        for ai, ti, what in zip(a, t, ("input", "weight", "bias")):
            np.testing.assert_allclose(host(ai.grad), host(ti.grad), err_msg=what, **tol)


def test_conv1d_gradcheck():
    rng = np.random.default_rng(2)
    x, w, b = (tg.Tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 4, 7), (4, 2, 3), (4,)))
    gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
              [x, w, b])
    wt = tg.Tensor(rng.standard_normal((4, 1, 3)), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, output_padding=1, groups=4),
              [x, wt, b])
    reflect = nn.Conv1d(4, 2, 3, padding=2, padding_mode="reflect").double()
    gradcheck(lambda x: reflect(x), [tg.Tensor(rng.standard_normal((4, 6)), requires_grad=True)])


# ---- 1-D pooling ---------------------------------------------------------------------------------
@st.composite
def pool1d_cases(draw):
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    d = draw(st.integers(1, 2))
    length = draw(st.integers(d * (k - 1) + 1, d * (k - 1) + 8))
    return k, s, p, d, draw(st.booleans()), draw(st.sampled_from([None, 1, 3])), length


@SETTINGS
@given(pool1d_cases(), DTYPES, st.booleans(), st.integers(0, 2**16))
def test_max_pool1d_matches_torch(case, dtype, indices, seed):
    k, s, p, d, ceil, batch, length = case
    lead = () if batch is None else (batch,)
    x = _input(np.random.default_rng(seed), lead + (2, length), dtype, ties=True)
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    kw["return_indices"] = indices
    ours, theirs = nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw)
    assert repr(ours) == repr(theirs)
    if not indices:
        compare_layer(ours, theirs, x)
        return
    a, t = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (y, i), (yt, it) = ours(a), theirs(t)
    np.testing.assert_array_equal(host(y), host(yt))
    np.testing.assert_array_equal(host(i), host(it))
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(host(a.grad), host(t.grad))


@SETTINGS
@given(pool1d_cases(), DTYPES, st.booleans(), st.integers(0, 2**16))
def test_avg_pool1d_matches_torch(case, dtype, count_include_pad, seed):
    k, s, p, _, ceil, batch, length = case
    lead = () if batch is None else (batch,)
    x = _input(np.random.default_rng(seed), lead + (2, max(length, k)), dtype)
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil,
              count_include_pad=count_include_pad)
    ours, theirs = nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw)
    assert repr(ours) == repr(theirs)
    compare_layer(ours, theirs, x)


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 7), st.sampled_from([None, 1, 2]), DTYPES,
       st.integers(0, 2**16))
def test_adaptive_pool1d_matches_torch(length, out, batch, dtype, seed):
    lead = () if batch is None else (batch,)
    x = _input(np.random.default_rng(seed), lead + (3, length), dtype, ties=True)
    compare_layer(nn.AdaptiveAvgPool1d(out), torch.nn.AdaptiveAvgPool1d(out), x)
    compare_layer(nn.AdaptiveMaxPool1d(out), torch.nn.AdaptiveMaxPool1d(out), x)
    (y, i), (yt, it) = F.adaptive_max_pool1d(tg.Tensor(x), out, True), \
        torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), out, True)
    np.testing.assert_array_equal(host(y), host(yt))
    np.testing.assert_array_equal(host(i), host(it))


# ---- AdaptiveMaxPool2d ---------------------------------------------------------------------------
@SETTINGS
@given(st.tuples(st.integers(1, 9), st.integers(1, 9)),
       st.tuples(st.sampled_from([None, 1, 2, 3, 4, 5]), st.sampled_from([None, 1, 2, 3, 4, 5])),
       st.sampled_from([None, 1, 2]), DTYPES, st.integers(0, 2**16))
def test_adaptive_max_pool2d_matches_torch(hw, out, batch, dtype, seed):
    lead = () if batch is None else (batch,)
    x = _input(np.random.default_rng(seed), lead + (2,) + hw, dtype, ties=True)
    ours, theirs = nn.AdaptiveMaxPool2d(out), torch.nn.AdaptiveMaxPool2d(out)
    assert repr(ours) == repr(theirs)
    compare_layer(ours, theirs, x)
    a, t = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (y, i), (yt, it) = F.adaptive_max_pool2d(a, out, True), \
        torch.nn.functional.adaptive_max_pool2d(t, out, True)
    np.testing.assert_array_equal(host(i), host(it))
    assert i.dtype == tg.int64
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(host(a.grad), host(t.grad), rtol=1e-6, atol=1e-6)


def test_adaptive_max_pool2d_nan_and_shared_maxima_as_torch():
    """A window holding NaN takes its last NaN (torch's rule); overlapping windows that share
    their maximum both send it their gradient."""
    x = np.arange(35, dtype=np.float64).reshape(1, 1, 5, 7) % 4
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan
    a, t = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (y, i), (yt, it) = F.adaptive_max_pool2d(a, (2, 3), True), \
        torch.nn.functional.adaptive_max_pool2d(t, (2, 3), True)
    np.testing.assert_array_equal(host(i), host(it))
    np.testing.assert_array_equal(host(y), host(yt))
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(host(a.grad), host(t.grad))


def test_pooling_gradcheck():
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.standard_normal((2, 3, 9)), requires_grad=True)
    gradcheck(lambda x: F.max_pool1d(x, 3, 2, 1, dilation=2, ceil_mode=True), [x])
    gradcheck(lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [x])
    gradcheck(lambda x: F.adaptive_avg_pool1d(x, 4), [x])
    gradcheck(lambda x: F.adaptive_max_pool1d(x, 4), [x])
    x2 = tg.Tensor(rng.standard_normal((2, 7, 5)), requires_grad=True)   # unbatched (C, H, W)
    gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, None)), [x2])


# ---- unbatched inputs to the 2-D layers ----------------------------------------------------------
UNBATCHED_2D = {
    "Conv2d": lambda lib: lib.nn.Conv2d(3, 4, 3, stride=2, padding=1),
    "Conv2d_reflect": lambda lib: lib.nn.Conv2d(3, 2, 3, padding="same", padding_mode="reflect"),
    "ConvTranspose2d": lambda lib: lib.nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1),
    "MaxPool2d": lambda lib: lib.nn.MaxPool2d(3, 2, 1, ceil_mode=True),
    "AvgPool2d": lambda lib: lib.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
    "AdaptiveAvgPool2d": lambda lib: lib.nn.AdaptiveAvgPool2d((3, 2)),
    "AdaptiveMaxPool2d": lambda lib: lib.nn.AdaptiveMaxPool2d((3, None)),
}


@pytest.mark.parametrize("name", sorted(UNBATCHED_2D))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unbatched_2d_layers_match_torch(name, dtype):
    x = np.random.default_rng(4).standard_normal((3, 7, 6)).astype(dtype)
    yo, yt = compare_layer(UNBATCHED_2D[name](tg), UNBATCHED_2D[name](torch), x)
    assert yo.ndim == 3


def test_unbatched_functional_2d_matches_torch():
    x = np.random.default_rng(5).standard_normal((2, 6, 6))
    w = np.random.default_rng(6).standard_normal((2, 2, 3, 3))
    for ours, theirs in [
            (F.conv2d(tg.Tensor(x), tg.Tensor(w), padding=1),
             torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1)),
            (F.conv_transpose2d(tg.Tensor(x), tg.Tensor(w), stride=2),
             torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2)),
            (F.avg_pool2d(tg.Tensor(x), 2), torch.nn.functional.avg_pool2d(torch.tensor(x), 2)),
            (F.adaptive_avg_pool2d(tg.Tensor(x), 4),
             torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), 4))]:
        np.testing.assert_allclose(host(ours), host(theirs), rtol=1e-12, atol=1e-12)
    (y, i), (yt, it) = F.max_pool2d(tg.Tensor(x), 3, 2, return_indices=True), \
        torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, return_indices=True)
    np.testing.assert_array_equal(host(y), host(yt))
    np.testing.assert_array_equal(host(i), host(it))


# ---- argument errors -----------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"Conv1d: expected input of shape \(N, 3, L\).*"
                                         r"\(1, 3, 4, 5\)"):
        nn.Conv1d(3, 4, 3)(tg.randn(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"Conv1d.*in_channels=3.*\(1, 2, 5\)"):
        nn.Conv1d(3, 4, 3)(tg.randn(1, 2, 5))
    with pytest.raises(ValueError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to "
                                         r"conv1d, but got input of size: \[5\]"):
        F.conv1d(tg.randn(5), tg.randn(4, 3, 3))
    with pytest.raises(ValueError, match="expected a 3-D weight"):
        F.conv1d(tg.randn(1, 3, 5), tg.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expected input\[1, 2, 5\] to have 3 channels, "
                                         r"but got 2"):
        F.conv1d(tg.randn(1, 2, 5), tg.randn(4, 3, 3))
    with pytest.raises(ValueError, match="Kernel size can't be greater than actual input size"):
        nn.Conv1d(3, 4, 5)(tg.randn(1, 3, 2))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv1d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv1d(tg.randn(1, 3, 5), tg.randn(4, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string 'foo'"):
        nn.Conv1d(3, 4, 3, padding="foo")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size must be an int or a 1-tuple"):
        nn.Conv1d(3, 4, (3, 3))
    with pytest.raises(ValueError, match="ConvTranspose1d: padding_mode must be 'zeros'"):
        nn.ConvTranspose1d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output padding must be smaller than either "
                                         "stride or dilation"):
        F.conv_transpose1d(tg.randn(1, 3, 5), tg.randn(3, 2, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"ConvTranspose1d: output_size must have 1 or 3"):
        nn.ConvTranspose1d(3, 4, 3)(tg.randn(1, 3, 5), output_size=[1, 7])
    with pytest.raises(ValueError, match=r"MaxPool1d: expected input of shape \(N, C, L\)"
                                         r".*\(1, 2, 3, 4\)"):
        nn.MaxPool1d(2)(tg.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"max_pool1d: padding should be at most half of kernel "
                                         r"size, but got padding=2 and kernel_size=2"):
        F.max_pool1d(tg.randn(1, 2, 8), 2, padding=2)
    with pytest.raises(ValueError, match="dilation must be greater than zero"):
        F.max_pool1d(tg.randn(1, 3, 5), 2, dilation=0)
    with pytest.raises(ValueError, match="kernel_size and stride must be positive"):
        F.avg_pool1d(tg.randn(1, 3, 5), 0)
    with pytest.raises(ValueError, match="avg_pool1d: expected input of shape"):
        F.avg_pool1d(tg.randn(5), 2)
    with pytest.raises(ValueError, match="AdaptiveMaxPool1d"):
        nn.AdaptiveMaxPool1d(2)(tg.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match="adaptive_avg_pool1d: output_size must be positive"):
        F.adaptive_avg_pool1d(tg.randn(1, 2, 3), 0)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: output_size must be an int "
                                         r"or a pair"):
        F.adaptive_max_pool2d(tg.randn(1, 2, 3, 4), (1, 2, 3))
    with pytest.raises(ValueError, match=r"AdaptiveMaxPool2d.*\(N, C, H, W\).*\(3, 4\)"):
        nn.AdaptiveMaxPool2d(2)(tg.randn(3, 4))
    with pytest.raises(ValueError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to "
                                         r"conv2d, but got input of size: \[5, 5\]"):
        F.conv2d(tg.randn(5, 5), tg.randn(4, 3, 3, 3))


def test_layers_are_under_torch_module_paths():
    from tinygrad_cv.nn.modules import conv, pooling
    assert conv.Conv1d is nn.Conv1d and conv.ConvTranspose1d is nn.ConvTranspose1d
    assert pooling.AdaptiveMaxPool2d is nn.AdaptiveMaxPool2d and pooling.MaxPool1d is nn.MaxPool1d
    assert set(nn.Conv1d(2, 3, 3).state_dict()) == set(torch.nn.Conv1d(2, 3, 3).state_dict())


# ---- ONNX export ---------------------------------------------------------------------------------
def test_conv1d_maxpool1d_model_matches_onnxruntime():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from tinygrad_cv.onnx import export

    model = nn.Sequential(nn.Conv1d(3, 8, 5, padding=2, padding_mode="reflect"), nn.ReLU(),
                          nn.MaxPool1d(3, 2, 1), nn.Conv1d(8, 4, 3, dilation=2, groups=2),
                          nn.AvgPool1d(2), nn.Flatten(), nn.Linear(16, 2)).eval()
    buf = io.BytesIO()
    export(model, (tg.randn(2, 3, 26),), buf, input_names=["x"], output_names=["y"],
           dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert {"Conv", "MaxPool", "AveragePool"} <= {n.op_type for n in proto.graph.node}
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for n in (2, 5):
        x = tg.randn(n, 3, 26)
        with tg.no_grad():
            want = host(model(x))
        np.testing.assert_allclose(session.run(None, {"x": host(x)})[0], want, rtol=1e-5, atol=1e-5)


def test_adaptive_max_pool_without_onnx_conversion_raises_naming_it():
    """Windows that do not tile the input have no ONNX conversion: the export says so (when
    the sizes divide it is a MaxPool)."""
    pytest.importorskip("onnx")
    from tinygrad_cv.onnx import UnsupportedOperatorError, export

    with pytest.raises(UnsupportedOperatorError, match="AdaptiveMaxPool2dFn"):
        export(nn.AdaptiveMaxPool1d(3).eval(), (tg.randn(1, 2, 8),), io.BytesIO())
    export(nn.AdaptiveMaxPool1d(4).eval(), (tg.randn(1, 2, 8),), io.BytesIO())
