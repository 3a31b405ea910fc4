"""3-D (volumetric) layers against torch on the same inputs and weights: conv3d and
conv_transpose3d (padding modes, 'same'/'valid', groups, dilation, output_padding,
output_size), the 3-D poolings (max with indices, unpool, average with every divisor rule,
adaptive), BatchNorm3d, InstanceNorm3d and 5-D interpolation; gradcheck in float64; torch's
state_dict keys, repr and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

from torch_compare import compare_layer, host

SETTINGS = settings(max_examples=15, deadline=None)
# torch warns that it copies the input for padding='same' with an even kernel
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
TOL64 = dict(rtol=1e-9, atol=1e-11)


def _both(fn_ours, fn_torch, arrays, seed=0, index_out=False):
    """Run both functions on float64 copies of ``arrays``; compare the output, the gradient of
    every input (the same random output gradient) and, with ``index_out``, the indices."""
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    yo, yt = fn_ours(*ours), fn_torch(*theirs)
    if index_out:
        (yo, io), (yt, it) = yo, yt
        np.testing.assert_array_equal(host(io), it.numpy())
        assert host(io).dtype == np.int64
    assert tuple(yo.shape) == tuple(yt.shape)
    np.testing.assert_allclose(host(yo), yt.detach().numpy(), **TOL64)
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    yo.backward(tg.tensor(g))
    yt.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), **TOL64)


# ----------------------------------------------------------------------------- convolution

conv_case = st.fixed_dictionaries({
    "groups": st.sampled_from([1, 2]), "cg": st.integers(1, 2), "og": st.integers(1, 2),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
    "padding": st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
                         st.sampled_from(["same", "valid"])),
    "size": st.tuples(st.integers(1, 2), st.integers(3, 6), st.integers(3, 6), st.integers(3, 6)),
    "bias": st.booleans(), "seed": st.integers(0, 2**16)})


@SETTINGS
@given(conv_case)
def test_conv3d_matches_torch(case):
    g = case["groups"]
    n, d, h, w = case["size"]
    k, s, dl, p = case["kernel"], case["stride"], case["dilation"], case["padding"]
    if p == "same":
        s = (1, 1, 1)
    reach = [dl[i] * (k[i] - 1) + 1 for i in range(3)]
    pads = (0, 0, 0) if p in ("same", "valid") else p
    assume(p == "same" or all(sz + 2 * pads[i] >= reach[i] for i, sz in enumerate((d, h, w))))
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((n, g * case["cg"], d, h, w))
    wt = rng.standard_normal((g * case["og"], case["cg"]) + k)
    arrays = [x, wt] + ([rng.standard_normal(g * case["og"])] if case["bias"] else [])
    _both(lambda x, w, *b: F.conv3d(x, w, *b, stride=s, padding=p, dilation=dl, groups=g),
          lambda x, w, *b: TF.conv3d(x, w, *b, stride=s, padding=p, dilation=dl, groups=g),
          arrays)


convt_case = st.fixed_dictionaries({
    "groups": st.sampled_from([1, 2]), "cg": st.integers(1, 2), "og": st.integers(1, 2),
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
    "padding": st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 1)),
    "output_padding": st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 1)),
    "size": st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
    "bias": st.booleans(), "seed": st.integers(0, 2**16)})


@SETTINGS
@given(convt_case)
def test_conv_transpose3d_matches_torch(case):
    g = case["groups"]
    n, d, h, w = case["size"]
    k, s, dl, p, op = (case[key] for key in ("kernel", "stride", "dilation", "padding",
                                             "output_padding"))
    assume(all(op[i] < max(s[i], dl[i]) for i in range(3)))
    out = [(sz - 1) * s[i] - 2 * p[i] + dl[i] * (k[i] - 1) + op[i] + 1
           for i, sz in enumerate((d, h, w))]
    assume(min(out) > 0)
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((n, g * case["cg"], d, h, w))
    wt = rng.standard_normal((g * case["cg"], case["og"]) + k)
    arrays = [x, wt] + ([rng.standard_normal(g * case["og"])] if case["bias"] else [])
    kw = dict(stride=s, padding=p, output_padding=op, groups=g, dilation=dl)
    _both(lambda x, w, *b: F.conv_transpose3d(x, w, *b, **kw),
          lambda x, w, *b: TF.conv_transpose3d(x, w, *b, **kw), arrays)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [(1, 2, 1), "same"])
def test_conv3d_module_padding_modes(padding_mode, padding, device):
    torch.manual_seed(0)
    kw = dict(kernel_size=(3, 2, 3), padding=padding, padding_mode=padding_mode, groups=2)
    x = np.random.default_rng(1).standard_normal((2, 4, 4, 5, 6))
    compare_layer(nn.Conv3d(4, 6, **kw), torch.nn.Conv3d(4, 6, **kw), x, device=device)


def test_conv_transpose3d_module_and_output_size(device):
    torch.manual_seed(0)
    kw = dict(kernel_size=(3, 2, 3), stride=(2, 3, 2), padding=(1, 0, 1), groups=2,
              dilation=(1, 2, 1))
    x = np.random.default_rng(2).standard_normal((2, 4, 3, 2, 3))
    ours, theirs = nn.ConvTranspose3d(4, 6, **kw), torch.nn.ConvTranspose3d(4, 6, **kw)
    compare_layer(ours, theirs, x, device=device)
    for size in [(6, 8, 6), (2, 6, 5, 7, 6), (5, 6, 5)]:
        xt = torch.tensor(x)
        expected = theirs(xt, output_size=size).detach().numpy()
        np.testing.assert_allclose(host(ours(tg.tensor(x, device=device), output_size=size)),
                                   expected, **TOL64)
    with pytest.raises(ValueError, match="valid sizes range"):
        ours(tg.tensor(x), output_size=(9, 8, 6))


def test_unbatched_conv3d_and_transpose():
    torch.manual_seed(0)
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    compare_layer(nn.Conv3d(2, 3, 2, stride=(1, 2, 1)), torch.nn.Conv3d(2, 3, 2, stride=(1, 2, 1)), x)
    compare_layer(nn.ConvTranspose3d(2, 3, 2, stride=2), torch.nn.ConvTranspose3d(2, 3, 2, stride=2), x)


def test_conv3d_float32_forward_backward():
    torch.manual_seed(0)
    x = np.random.default_rng(4).standard_normal((2, 8, 6, 10, 10)).astype(np.float32)
    # weight gradients of ~50 summed from ~10^4 products: float32 rounding of ~1e-5 absolute
    compare_layer(nn.Conv3d(8, 16, 3, padding=1), torch.nn.Conv3d(8, 16, 3, padding=1), x,
                  rtol=1e-4, atol=2e-4)
    compare_layer(nn.ConvTranspose3d(8, 4, 2, stride=2), torch.nn.ConvTranspose3d(8, 4, 2, stride=2),
                  x, rtol=1e-4, atol=2e-4)


def test_conv_gradcheck():
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((1, 2, 3, 4, 3)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 1, 2, 2, 1)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv3d(x, w, b, (2, 1, 1), 1, (1, 2, 1), 2), (x, w, b))
    assert gradcheck(lambda x, w, b: F.conv_transpose3d(x, w, b, (2, 1, 2), (1, 0, 0), (1, 0, 1), 2),
                     (x, w, b))


def test_conv_state_dict_repr_and_init():
    cases = [((4, 6, 3), {}),
             ((4, 6, (1, 2, 3)), dict(stride=(1, 2, 1), padding=1, dilation=2, groups=2,
                                      bias=False, padding_mode="reflect")),
             ((2, 2, 3), dict(padding="same"))]
    for args, kw in cases:
        ours, theirs = nn.Conv3d(*args, **kw), torch.nn.Conv3d(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for args, kw in [((4, 6, 3, 2, 1, 1, 2, False, 1), {}), ((4, 6, (1, 2, 3)), dict(dilation=(1, 2, 3)))]:
        ours, theirs = nn.ConvTranspose3d(*args, **kw), torch.nn.ConvTranspose3d(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C/groups * kd*kh*kw
    conv = nn.Conv3d(8, 64, 3)
    bound = 1 / np.sqrt(8 * 27)
    weight = host(conv.weight)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound
    assert abs(weight.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert np.abs(host(conv.bias)).max() <= bound
    convt = nn.ConvTranspose3d(8, 4, 3, groups=2)    # fan_in from weight dims 1..: 2 * 27
    assert np.abs(host(convt.weight)).max() <= 1 / np.sqrt(2 * 27)


def test_conv_errors():
    x = tg.randn(1, 4, 5, 5, 5)
    with pytest.raises(ValueError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d"):
        F.conv3d(tg.randn(4, 5, 5), tg.randn(2, 4, 3, 3, 3))
    with pytest.raises(ValueError, match="5-D weight"):
        F.conv3d(x, tg.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="expected input.*to have 6 channels"):
        F.conv3d(x, tg.randn(2, 3, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="3 output channels are not divisible by groups=2"):
        F.conv3d(x, tg.randn(3, 2, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="3 input channels are not divisible by groups=2"):
        F.conv_transpose3d(tg.randn(1, 3, 2, 2, 2), tg.randn(3, 2, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="Kernel size can't be greater than actual input size"):
        F.conv3d(x, tg.randn(2, 4, 6, 3, 3))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv3d(x, tg.randn(2, 4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string"):
        F.conv3d(x, tg.randn(2, 4, 3, 3, 3), padding="full")
    with pytest.raises(ValueError, match="output padding must be smaller"):
        F.conv_transpose3d(x, tg.randn(4, 2, 3, 3, 3), stride=2, output_padding=(0, 2, 0))
    with pytest.raises(ValueError, match="output size would be"):
        F.conv_transpose3d(tg.randn(1, 4, 1, 1, 1), tg.randn(4, 2, 1, 1, 1), padding=1)
    with pytest.raises(ValueError, match="must be divisible by groups"):
        nn.Conv3d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match=r"Conv3d: expected input of shape \(N, 4, D, H, W\)"):
        nn.Conv3d(4, 6, 3)(tg.randn(1, 3, 5, 5, 5))
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv3d(4, 6, 3, padding_mode="mirror")


# ----------------------------------------------------------------------------- pooling

pool_case = st.fixed_dictionaries({
    "kernel": st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    "stride": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3))),
    "pad": st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
    "ceil_mode": st.booleans(), "ties": st.booleans(),
    "size": st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(3, 7), st.integers(3, 6),
                      st.integers(3, 7)),
    "seed": st.integers(0, 2**16)})


def _pool_input(case):
    rng = np.random.default_rng(case["seed"])
    if case["ties"]:
        return rng.integers(0, 3, case["size"]).astype(np.float64)
    return rng.standard_normal(case["size"])


def _torch_rejects(fn, x):
    """True when torch raises on ``x``; then ours must raise a ValueError too."""
    try:
        fn(torch.tensor(x))
    except RuntimeError:
        return True
    return False


@SETTINGS
@given(pool_case)
def test_max_pool3d_matches_torch(case):
    kw = dict(kernel_size=case["kernel"], stride=case["stride"], padding=case["pad"],
              dilation=case["dilation"], ceil_mode=case["ceil_mode"], return_indices=True)
    x = _pool_input(case)
    if _torch_rejects(lambda x: TF.max_pool3d(x, **kw), x):
        with pytest.raises(ValueError):
            F.max_pool3d(tg.tensor(x), **kw)
        return
    _both(lambda x: F.max_pool3d(x, **kw), lambda x: TF.max_pool3d(x, **kw), [x],
          index_out=True)


@SETTINGS
@given(pool_case, st.booleans(), st.sampled_from([None, 1, 5]))
def test_avg_pool3d_matches_torch(case, count_include_pad, divisor_override):
    kw = dict(kernel_size=case["kernel"], stride=case["stride"], padding=case["pad"],
              ceil_mode=case["ceil_mode"], count_include_pad=count_include_pad,
              divisor_override=divisor_override)
    x = _pool_input(case)
    if _torch_rejects(lambda x: TF.avg_pool3d(x, **kw), x):
        with pytest.raises(ValueError):
            F.avg_pool3d(tg.tensor(x), **kw)
        return
    _both(lambda x: F.avg_pool3d(x, **kw), lambda x: TF.avg_pool3d(x, **kw), [x])


adaptive_size = st.one_of(st.integers(1, 4),
                          st.tuples(st.one_of(st.none(), st.integers(1, 5)), st.integers(1, 5),
                                    st.one_of(st.none(), st.integers(1, 5))))


@SETTINGS
@given(adaptive_size, st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 6),
                                st.integers(1, 6), st.integers(1, 6)),
       st.booleans(), st.integers(0, 2**16))
def test_adaptive_pool3d_matches_torch(output_size, size, ties, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size).astype(np.float64) if ties else rng.standard_normal(size)
    _both(lambda x: F.adaptive_avg_pool3d(x, output_size),
          lambda x: TF.adaptive_avg_pool3d(x, output_size), [x])
    _both(lambda x: F.adaptive_max_pool3d(x, output_size, True),
          lambda x: TF.adaptive_max_pool3d(x, output_size, True), [x], index_out=True)


@pytest.mark.parametrize("shape,kernel,stride,output_size", [
    ((2, 3, 6, 8, 8), 2, None, None), ((2, 3, 7, 8, 9), 2, None, (7, 8, 9)),
    ((2, 3, 7, 8, 9), (2, 3, 2), (2, 2, 3), (2, 3, 7, 8, 9)), ((3, 7, 8, 9), 2, None, (7, 8, 9))])
def test_max_unpool3d_matches_torch(shape, kernel, stride, output_size):
    x = torch.tensor(np.random.default_rng(6).standard_normal(shape))
    y, index = TF.max_pool3d(x, kernel, stride, return_indices=True)
    _both(lambda y: F.max_unpool3d(y, tg.tensor(index.numpy()), kernel, stride, output_size=output_size),
          lambda y: TF.max_unpool3d(y, index, kernel, stride, output_size=output_size),
          [y.numpy()])
    unpool, theirs = nn.MaxUnpool3d(kernel, stride), torch.nn.MaxUnpool3d(kernel, stride)
    assert repr(unpool) == repr(theirs)
    np.testing.assert_array_equal(host(unpool(tg.tensor(y.numpy()), tg.tensor(index.numpy()),
                                              output_size)),
                                  theirs(y, index, output_size).numpy())


def test_pool_modules_repr_and_compare(device):
    x = np.random.default_rng(7).standard_normal((2, 3, 5, 6, 7))
    pairs = [(nn.MaxPool3d(2), torch.nn.MaxPool3d(2)),
             (nn.MaxPool3d((2, 3, 2), stride=1, padding=1, dilation=2, ceil_mode=True),
              torch.nn.MaxPool3d((2, 3, 2), stride=1, padding=1, dilation=2, ceil_mode=True)),
             (nn.AvgPool3d(3), torch.nn.AvgPool3d(3)),
             (nn.AvgPool3d((2, 3, 2), 2, 1, True, False, 3),
              torch.nn.AvgPool3d((2, 3, 2), 2, 1, True, False, 3)),
             (nn.AdaptiveAvgPool3d((2, None, 3)), torch.nn.AdaptiveAvgPool3d((2, None, 3))),
             (nn.AdaptiveMaxPool3d(3), torch.nn.AdaptiveMaxPool3d(3))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == []
        compare_layer(ours, theirs, x, device=device)
    yo, io = nn.MaxPool3d(2, return_indices=True)(tg.tensor(x[0], device=device))  # unbatched
    yt, it = torch.nn.MaxPool3d(2, return_indices=True)(torch.tensor(x[0]))
    np.testing.assert_array_equal(host(io), it.numpy())
    np.testing.assert_allclose(host(yo), yt.numpy())
    yo, io = nn.AdaptiveMaxPool3d((2, 3, 2), return_indices=True)(tg.tensor(x, device=device))
    np.testing.assert_array_equal(host(io), TF.adaptive_max_pool3d(torch.tensor(x), (2, 3, 2), True)[1].numpy())


def test_pool_gradcheck():
    rng = np.random.default_rng(8)
    x = tg.tensor(rng.standard_normal((1, 2, 4, 3, 5)), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool3d(x, (2, 2, 3), (1, 2, 2), 1, ceil_mode=True), (x,))
    assert gradcheck(lambda x: F.avg_pool3d(x, (3, 2, 2), 2, (1, 1, 0), True, False), (x,))
    assert gradcheck(lambda x: F.adaptive_avg_pool3d(x, (3, 2, 4)), (x,))
    assert gradcheck(lambda x: F.adaptive_max_pool3d(x, (3, 2, 4)), (x,))


def test_pool_errors():
    x = tg.randn(1, 2, 4, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool3d: expected input of shape \(N, C, D, H, W\)"):
        F.max_pool3d(tg.randn(4, 4, 4), 2)
    with pytest.raises(ValueError, match="pad should be at most half"):
        F.max_pool3d(x, 2, padding=(0, 2, 0))
    with pytest.raises(ValueError, match="too small for kernel"):
        F.avg_pool3d(x, (5, 2, 2))
    with pytest.raises(ValueError, match="must be positive"):
        F.max_pool3d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="smaller than kernel size"):    # torch's 3-D rule
        F.avg_pool3d(tg.randn(1, 1, 2, 4, 4), 3, 2, 1)
    with pytest.raises(ValueError, match="divisor must be not zero"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool3d(x, (0, 2, 2))
    with pytest.raises(ValueError, match="int or a triple"):
        F.adaptive_max_pool3d(x, (2, 2))
    with pytest.raises(ValueError, match=r"MaxPool3d: expected input of shape \(N, C, D, H, W\)"):
        nn.MaxPool3d(2)(tg.randn(1, 1, 1, 4, 4, 4))
    y, index = F.max_pool3d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool3d(y, index, 2, output_size=(8, 4, 4))
    with pytest.raises(IndexError, match="indices must lie in"):
        F.max_unpool3d(y, index * 100, 2)


# ----------------------------------------------------------------------------- normalisation

@pytest.mark.parametrize("kw", [{}, dict(affine=False), dict(momentum=None),
                                dict(track_running_stats=False)])
def test_batch_norm3d(kw, device):
    x = np.random.default_rng(9).standard_normal((3, 4, 2, 3, 5)) * 2 + 1
    ours, theirs = nn.BatchNorm3d(4, **kw), torch.nn.BatchNorm3d(4, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    compare_layer(ours, theirs, x, steps=2, device=device)
    compare_layer(ours, theirs, x, train=False, device=device)


@pytest.mark.parametrize("kw", [{}, dict(affine=True), dict(track_running_stats=True),
                                dict(affine=True, track_running_stats=True, momentum=0.3)])
def test_instance_norm3d(kw, device):
    x = np.random.default_rng(10).standard_normal((2, 3, 2, 3, 4)) * 3 - 1
    ours, theirs = nn.InstanceNorm3d(3, **kw), torch.nn.InstanceNorm3d(3, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    compare_layer(ours, theirs, x, steps=2, device=device)
    compare_layer(ours, theirs, x, train=False, device=device)
    compare_layer(ours, theirs, x[0], device=device)        # unbatched (C, D, H, W)


def test_norm3d_errors():
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected input of shape \(N, 4, D, H, W\)"):
        nn.BatchNorm3d(4)(tg.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="num_features=4"):
        nn.BatchNorm3d(4)(tg.randn(2, 3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm3d: expected input of shape \(N, C, D, H, W\)"):
        nn.InstanceNorm3d(4)(tg.randn(2, 4, 3))


# ----------------------------------------------------------------------------- interpolation

@SETTINGS
@given(st.one_of(
    st.fixed_dictionaries({"size": st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))}),
    st.fixed_dictionaries({"scale_factor": st.one_of(
        st.sampled_from([2, 0.5, 1.5]),
        st.tuples(st.sampled_from([1, 2, 1.5]), st.sampled_from([2, 0.75]), st.sampled_from([1, 3])))})),
    st.sampled_from([("nearest", None), ("nearest-exact", None), ("trilinear", False),
                     ("trilinear", True), ("area", None)]),
    st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)), st.integers(0, 2**16))
def test_interpolate_5d_matches_torch(resize, mode, spatial, seed):
    mode, align = mode
    if mode == "area" and "scale_factor" in resize:
        return
    x = np.random.default_rng(seed).standard_normal((2, 2) + spatial)
    kw = dict(resize, mode=mode, align_corners=align)
    if _torch_rejects(lambda x: TF.interpolate(x, **kw), x):     # an output size of 0
        with pytest.raises(ValueError, match="must be positive"):
            F.interpolate(tg.tensor(x), **kw)
        return
    _both(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [x])


@pytest.mark.parametrize("scale_factor", [1.1, 2.1, (1.1, 2, 2.1)])
def test_interpolate_5d_nearest_has_no_exact_size_cases(scale_factor):
    """torch's 3-D nearest forward takes floor(o / scale_factor) also where the output size
    comes out equal to (or twice) the input's (unlike its 2-D kernel: src = o, o // 2 there).
    Its backward there routes by o // 2 (not the forward's adjoint); ours is the adjoint of
    the forward, checked by gradcheck."""
    x = np.random.default_rng(13).standard_normal((1, 2, 4, 5, 3))
    np.testing.assert_array_equal(
        host(F.interpolate(tg.tensor(x), scale_factor=scale_factor)),
        TF.interpolate(torch.tensor(x), scale_factor=scale_factor).numpy())
    v = tg.tensor(x[:, :1], requires_grad=True)
    assert gradcheck(lambda v: F.interpolate(v, scale_factor=scale_factor), (v,))


def test_nearest_volume_repeat_and_onnx_export():
    """Integer 5-D nearest upsampling (one repeat per axis, block sums backward) against torch,
    and its ONNX Resize with three scales run by onnxruntime."""
    import io

    import onnxruntime as ort
    from tinygrad_cv.onnx import export
    x = np.random.default_rng(15).standard_normal((2, 3, 2, 3, 4))
    for factors in [(2, 2, 2), (1, 3, 2), (3, 1, 1)]:
        _both(lambda v: F.interpolate(v, scale_factor=factors),
              lambda v: TF.interpolate(v, scale_factor=factors), [x])
    up = nn.Upsample(scale_factor=(2, 1, 3))
    buf = io.BytesIO()
    xf = tg.tensor(x.astype(np.float32))
    export(up, (xf,), buf, input_names=["x"])
    got = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_array_equal(got, host(up(xf)))


def test_upsample_5d(device):
    x = np.random.default_rng(11).standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    for kw in (dict(scale_factor=2), dict(scale_factor=(2, 1, 3)),
               dict(size=(5, 7, 3), mode="trilinear"),
               dict(scale_factor=2, mode="trilinear", align_corners=True)):
        ours, theirs = nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(ours) == repr(theirs)
        compare_layer(ours, theirs, x, device=device, rtol=1e-5, atol=1e-6)
    v = tg.tensor(np.random.default_rng(12).standard_normal((1, 1, 2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda v: F.interpolate(v, size=(3, 4, 5), mode="trilinear"), (v,))
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4-D input"):
        F.interpolate(tg.randn(1, 1, 2, 2, 2), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="size must be an int or 3 ints for 5-D input"):
        F.interpolate(tg.randn(1, 1, 2, 2, 2), size=(2, 2))


# ----------------------------------------------------------------------------- lazy 3-D layers

LAZY_CASES = [  # (class, constructor args, input shape)
    ("LazyConv3d", (4, 3), (2, 3, 4, 5, 5)),
    ("LazyConv3d", (6, (3, 1, 2), 1, "same", 1, 3, False, "circular"), (6, 3, 4, 5)),
    ("LazyConvTranspose3d", (4, 3, 2, 1, 1, 2), (2, 4, 2, 3, 3)),
    ("LazyBatchNorm3d", (), (2, 3, 2, 3, 3)),
    ("LazyBatchNorm3d", (1e-3, None, False), (2, 3, 2, 3, 3)),
    ("LazyInstanceNorm3d", (), (2, 3, 2, 3, 4)),
    ("LazyInstanceNorm3d", (1e-5, 0.1, True, False), (1, 3, 2, 3, 4)),
]


@pytest.mark.parametrize("cls,args,shape", LAZY_CASES)
def test_lazy_3d_layers_match_torch(cls, args, shape):
    ours, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(14).standard_normal(shape)
    with torch.no_grad():
        theirs(torch.tensor(x, dtype=torch.float32))     # the first call infers the shapes
    ours(tg.tensor(x.astype(np.float32)))
    assert type(ours) is getattr(nn, type(theirs).__name__)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    compare_layer(ours, theirs, x.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_lazy_conv3d_initialisation():
    conv = nn.LazyConv3d(40, (3, 2, 2), groups=2)
    conv(tg.zeros(1, 8, 3, 3, 3))
    bound = 1 / np.sqrt(4 * 12)
    weight = host(conv.weight)
    assert weight.shape == (40, 4, 3, 2, 2)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.abs(host(conv.bias)).max() <= bound
    with pytest.raises(ValueError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to LazyConv3d"):
        nn.LazyConv3d(4, 3)(tg.zeros(2, 3, 3))


@SETTINGS
@given(st.one_of(st.fixed_dictionaries({"size": st.integers(1, 9)}),
                 st.fixed_dictionaries({"scale_factor": st.sampled_from([2, 0.5, 1.5, 1.1, 2.1, 3])})),
       st.sampled_from([("nearest", None), ("nearest-exact", None), ("linear", False),
                        ("linear", True), ("area", None)]),
       st.integers(1, 6), st.integers(0, 2**16))
def test_interpolate_3d_input_matches_torch(resize, mode, length, seed):
    """(N, C, L) inputs: 'linear' and the other 1-D modes, through the volume path."""
    mode, align = mode
    assume(not (mode == "area" and "scale_factor" in resize))
    x = np.random.default_rng(seed).standard_normal((2, 3, length))
    kw = dict(resize, mode=mode, align_corners=align)
    if _torch_rejects(lambda x: TF.interpolate(x, **kw), x):
        with pytest.raises(ValueError, match="must be positive"):
            F.interpolate(tg.tensor(x), **kw)
        return
    np.testing.assert_allclose(host(F.interpolate(tg.tensor(x), **kw)),
                               TF.interpolate(torch.tensor(x), **kw).numpy(), **TOL64)
    if mode != "nearest" or "size" in resize:    # torch's 1-D nearest backward: as its 3-D one
        _both(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [x])


def test_upsample_linear_module_and_errors():
    x = np.random.default_rng(16).standard_normal((2, 3, 5)).astype(np.float32)
    for kw in (dict(scale_factor=2, mode="linear"), dict(size=7, mode="linear", align_corners=True),
               dict(scale_factor=3)):
        ours, theirs = nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(ours) == repr(theirs)
        compare_layer(ours, theirs, x, rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="linear mode needs 3-D input"):
        F.interpolate(tg.randn(1, 1, 2, 2), scale_factor=2, mode="linear")
    with pytest.raises(NotImplementedError, match="trilinear mode needs 5-D input"):
        F.interpolate(tg.randn(1, 1, 2), scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match="align_corners only applies"):
        F.interpolate(tg.randn(1, 1, 2), scale_factor=2, mode="nearest", align_corners=True)
