"""Differential tests of nn.functional's losses, activations and misc ops against torch (CPU):
values, gradients of every differentiable input, output dtypes and shapes, and errors where
torch raises.  Each new function is also gradchecked in float64."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _host(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else tg.backend.to_numpy(t.array)


def compare(ours_fn, torch_fn, arrays, grad=(0,), tol=None, seed=0):
    """Run both functions on the same arrays (those at ``grad`` positions require grad),
    backpropagate one random output gradient and compare output, dtype and gradients."""
    dtype = next(a.dtype.type for a in arrays if a.dtype.kind == "f")
    tol = tol or TOL[dtype]
    ours = [tg.Tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
    np.testing.assert_allclose(_host(y), _host(ty), **tol)
    if grad:
        up = np.random.default_rng(seed).standard_normal(tuple(ty.shape)).astype(dtype)
        y.backward(tg.Tensor(up))
        ty.backward(torch.tensor(up))
        for i in grad:
            np.testing.assert_allclose(_host(ours[i].grad), _host(theirs[i].grad),
                                       err_msg=f"gradient of input {i}", **tol)
    return y


# ---- F.pad -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pad", [(-2, -2), (-3, -3), (-4, 0), (1, -5)])
def test_pad_crop_below_zero_raises_as_torch(pad):
    x = np.ones((2, 3), np.float32)
    with pytest.raises(RuntimeError):
        TF.pad(torch.tensor(x), pad)
    with pytest.raises(RuntimeError, match="negative output size"):
        F.pad(tg.Tensor(x), pad)


def test_pad_crop_to_zero_and_negative_constant_match_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    for pad in [(-2, -3), (-1, 2), (2, -1), (-1, 1, 1, -2)]:
        compare(lambda t: F.pad(t, pad, value=1.5), lambda t: TF.pad(t, pad, value=1.5), [x])


# ---- activations -----------------------------------------------------------------------------
# kinks and thresholds of every activation below, plus huge and infinite values
_SPECIAL = [0.0, -1.0, 1.0, -3.0, 3.0, 6.0, 20.0, 21.0, -20.0, 0.5, -0.5, 1e4, -1e4, 1e-30,
            np.inf, -np.inf]
ACTIVATIONS = [
    ("hardtanh", {}), ("hardtanh", dict(min_val=-2.0, max_val=0.5)), ("relu6", {}),
    ("elu", {}), ("elu", dict(alpha=0.3)), ("selu", {}), ("celu", dict(alpha=2.0)),
    ("softplus", {}), ("softplus", dict(beta=2, threshold=5)), ("logsigmoid", {}), ("mish", {}),
    ("softsign", {}), ("tanhshrink", {}), ("threshold", dict(threshold=0.5, value=-2.0)),
    ("hardsigmoid", {}), ("hardswish", {}), ("hardshrink", {}), ("softshrink", dict(lambd=1.0)),
    ("rrelu", dict(training=False)), ("softmin", dict(dim=0)), ("glu", dict(dim=0)),
]


@pytest.mark.filterwarnings("ignore:invalid value")     # inf * 0 in mish's/hardswish's graph
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", ACTIVATIONS)
def test_activation_values_and_gradients_match_torch(name, kw, dtype):
    x = np.concatenate([np.random.default_rng(0).standard_normal(30) * 4, _SPECIAL]).astype(dtype)
    if name in ("softmin", "glu"):
        x = x[np.isfinite(x)][:40]
    tol = TOL[dtype]
    if name == "hardsigmoid" and dtype == np.float64:
        tol = dict(rtol=1e-7, atol=1e-12)   # torch's backward multiplies by a float32 1/6
    compare(lambda t: getattr(F, name)(t, **kw), lambda t: getattr(TF, name)(t, **kw), [x],
            tol=tol)


@pytest.mark.parametrize("name,kw", ACTIVATIONS)
def test_activation_gradcheck_and_nan(name, kw):
    x = np.random.default_rng(1).standard_normal(8) * 3
    x[np.abs(np.abs(x) - 3) < 0.1] += 0.3          # away from the kinks at +-3 ...
    x[np.abs(np.abs(x) - 0.5) < 0.1] += 0.3        # ... +-0.5 ...
    x[np.abs(np.abs(x) - 1) < 0.1] += 0.3          # ... and +-1
    gradcheck(lambda t: getattr(F, name)(t, **kw), [tg.Tensor(x, requires_grad=True)])
    if name != "glu":   # NaN in, NaN out (as torch)
        nan = np.array([np.nan, 1.0])
        ours = _host(getattr(F, name)(tg.Tensor(nan), **kw))
        assert np.isnan(ours[0]) == np.isnan(TF.__dict__[name](torch.tensor(nan), **kw)[0].item())


def test_activation_second_derivatives_match_torch():
    x = np.random.default_rng(2).standard_normal(10) * 3
    for name in ("elu", "selu", "celu", "softplus", "logsigmoid", "mish", "hardswish", "glu"):
        t = tg.Tensor(x, requires_grad=True)
        tt = torch.tensor(x, requires_grad=True)
        (g,) = tg.autograd.grad(getattr(F, name)(t).sum(), t, create_graph=True)
        (tg_,) = torch.autograd.grad(getattr(TF, name)(tt).sum(), tt, create_graph=True)
        (g * g).sum().backward()
        (tg_ * tg_).sum().backward()
        np.testing.assert_allclose(_host(t.grad), tt.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("shape,wshape", [((3, 4, 5), (4,)), ((3, 4, 5), (1,)), ((3, 4), (4,)),
                                          ((5,), (1,)), ((), (1,)), ((2, 3, 2, 2), (3,))])
def test_prelu_matches_torch(shape, wshape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    x[np.abs(x) < 0.3] = 0.0                        # the kink at 0 takes the weight's slope
    compare(F.prelu, TF.prelu, [x, rng.standard_normal(wshape)], grad=(0, 1))
    gradcheck(F.prelu, [tg.Tensor(x + 0.05, requires_grad=True),
                        tg.Tensor(rng.standard_normal(wshape), requires_grad=True)])


@pytest.mark.parametrize("shape,wshape", [((5,), (5,)), ((3, 4), (3,)), ((3, 4), (2, 2))])
def test_prelu_channel_mismatch_raises(shape, wshape):
    with pytest.raises(RuntimeError):
        TF.prelu(torch.ones(shape), torch.ones(wshape))
    with pytest.raises(RuntimeError, match="channels"):
        F.prelu(tg.ones(shape), tg.ones(wshape))


def test_rrelu_training_draws_slopes_in_range_and_backpropagates_them():
    x = tg.Tensor(-np.linspace(0.1, 2, 1000), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slope = _host(y) / _host(x)
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(_host(x.grad), slope, rtol=1e-6)
    np.testing.assert_array_equal(_host(F.rrelu(tg.Tensor([2.0, 0.5]), training=True)), [2.0, 0.5])


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "elu", "selu", "celu", "threshold",
                                  "hardsigmoid", "hardswish", "mish", "rrelu"])
def test_activation_inplace_matches_out_of_place(name):
    kw = dict(threshold=0.1, value=3.0) if name == "threshold" else {}
    x = np.random.default_rng(4).standard_normal(12)
    a = tg.Tensor(x, requires_grad=True)
    b = a * 1.0
    out = getattr(F, name)(b, inplace=True, **kw)
    assert out is b
    out.sum().backward()
    t = torch.tensor(x, requires_grad=True)
    getattr(TF, name)(t * 1.0, inplace=True, **kw).sum().backward()
    np.testing.assert_allclose(_host(b), _host(getattr(F, name)(tg.Tensor(x), **kw)))
    # (torch's hardsigmoid backward multiplies by a float32 1/6)
    np.testing.assert_allclose(_host(a.grad), t.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_glu_odd_size_raises_and_softmin_dtype():
    with pytest.raises(RuntimeError, match="even"):
        F.glu(tg.ones(4, 5))
    y = F.softmin(tg.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3)), 1, dtype=tg.float64)
    assert str(y.dtype) == "float64"
    np.testing.assert_allclose(_host(y), TF.softmin(torch.arange(6.0).reshape(2, 3), 1,
                                                    dtype=torch.float64).numpy(), rtol=1e-12)


ACTIVATION_MODULES = [("Hardtanh", (-2.0, 0.5)), ("ReLU6", ()), ("ELU", (0.5,)), ("CELU", ()),
                      ("SELU", ()), ("Softplus", (2, 5)), ("Threshold", (0.1, 2.0)),
                      ("Hardsigmoid", ()), ("Hardswish", ()), ("Mish", ()), ("Hardshrink", ()),
                      ("Softshrink", (0.3,)), ("GLU", ()), ("LogSigmoid", ()), ("Softsign", ()),
                      ("Tanhshrink", ()), ("RReLU", ()), ("PReLU", (4,)), ("Softmin", (1,))]


@pytest.mark.parametrize("name,args", ACTIVATION_MODULES)
def test_activation_modules_match_torch(name, args):
    ours, theirs = getattr(nn, name)(*args).eval(), getattr(torch.nn, name)(*args).eval()
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    compare(ours, theirs, [x])
