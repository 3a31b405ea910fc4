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

# host arrays throughout (``compare`` builds its inputs with the Tensor constructor, which keeps
# NumPy data on the CPU as torch's does), so these tests run on the CPU also when the run's
# default device is the (emulated) GPU
pytestmark = pytest.mark.usefixtures("host_default_device")


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
@pytest.mark.parametrize("name,kw", ACTIVATIONS)
def test_activation_values_and_gradients_match_torch(name, kw):
    for dtype in [np.float32, np.float64]:
        x = np.concatenate([np.random.default_rng(0).standard_normal(30) * 4,
                            _SPECIAL]).astype(dtype)
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


def test_activation_modules_match_torch():
    for name, args in ACTIVATION_MODULES:
        if name in ("Hardtanh", "ReLU6", "ELU", "CELU", "SELU", "Threshold", "Hardsigmoid",
                    "Hardswish", "Mish", "RReLU"):
            assert repr(getattr(nn, name)(*args, inplace=True)) == repr(
                getattr(torch.nn, name)(*args, inplace=True))
        ours, theirs = getattr(nn, name)(*args).eval(), getattr(torch.nn, name)(*args).eval()
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
        x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
        compare(ours, theirs, [x])


# ---- regression losses: weight= (torch 2.13) and huber_loss -----------------------------------
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_match_torch(name):
    for dtype in [np.float32, np.float64]:
        for reduction in ["none", "mean", "sum"]:
            rng = np.random.default_rng(6)
            x, y, w = (rng.standard_normal((3, 4)) * 2).astype(dtype), \
                rng.standard_normal((3, 4)).astype(dtype), rng.random((3, 4)).astype(dtype)
            compare(lambda a, b, c: getattr(F, name)(a, b, reduction=reduction, weight=c),
                    lambda a, b, c: getattr(TF, name)(a, b, reduction=reduction, weight=c),
                    [x, y, w], grad=(0, 1))
            with pytest.raises(ValueError, match="same size"):
                getattr(F, name)(tg.Tensor(x), tg.Tensor(y), weight=tg.Tensor(w[0]))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_huber_loss_matches_torch_and_gradchecks(reduction):
    for delta in [0.5, 1.0, 2.0]:
        rng = np.random.default_rng(7)
        x, y = rng.standard_normal((5, 3)) * 2, rng.standard_normal((5, 3))
        x[0, 0] = y[0, 0] + delta                      # on the switch point
        compare(lambda a, b: F.huber_loss(a, b, reduction, delta),
                lambda a, b: TF.huber_loss(a, b, reduction, delta), [x, y], grad=(0, 1))
        gradcheck(lambda a, b: F.huber_loss(a, b, reduction, delta),
                  [tg.Tensor(x + 0.01, requires_grad=True), tg.Tensor(y, requires_grad=True)])
        with pytest.raises(RuntimeError, match="delta"):
            F.huber_loss(tg.Tensor(x), tg.Tensor(y), delta=0.0)


def test_regression_losses_warn_on_broadcast_target_as_torch():
    x = tg.ones(3, 4)
    for fn in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        with pytest.warns(UserWarning, match="target size"):
            fn(x, tg.ones(4))


# ---- kl_div, poisson_nll_loss, gaussian_nll_loss ---------------------------------------------
@pytest.mark.filterwarnings("ignore:reduction")
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
def test_kl_div_matches_torch(reduction):
    for log_target in [False, True]:
        rng = np.random.default_rng(8)
        x = np.log(rng.random((3, 4)) + 0.01)
        t = rng.random((3, 4))
        t[0, 0] = 0.0                                     # 0 log 0 = 0
        if log_target:
            t = np.log(t + 0.01)
        # (the target's gradient at t = 0 is NaN in torch: only the input's is compared there)
        compare(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                [x, t], grad=(0, 1) if log_target else (0,))
        gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                  [tg.Tensor(x, requires_grad=True),
                   tg.Tensor(np.abs(t) + 0.1, requires_grad=True)])


def test_kl_div_mean_warns_and_bad_reduction_raises():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(tg.zeros(2, 3), tg.ones(2, 3))
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(tg.zeros(2, 3), tg.ones(2, 3), reduction="avg")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_poisson_nll_loss_matches_torch(reduction):
    for full in [False, True]:
        for log_input in [True, False]:
            rng = np.random.default_rng(9)
            x = rng.standard_normal((3, 4))
            if not log_input:
                x = np.abs(x)
            t = rng.integers(0, 5, (3, 4)).astype(np.float64)
            t[0, :3] = [0.0, 1.0, 2.0]
            kw = dict(log_input=log_input, full=full, reduction=reduction)
            compare(lambda a, b: F.poisson_nll_loss(a, b, **kw),
                    lambda a, b: TF.poisson_nll_loss(a, b, **kw), [x, t])
            gradcheck(lambda a: F.poisson_nll_loss(a, tg.Tensor(t), **kw),
                      [tg.Tensor(x + 0.1, requires_grad=True)])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gaussian_nll_loss_matches_torch(reduction):
    for vshape in [(4, 3), (4,), (4, 1), (1, 3)]:
        for full in [False, True]:
            rng = np.random.default_rng(10)
            x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
            v = rng.random(vshape) + 0.2
            v.flat[0] = 1e-9                  # clamped to eps, gradient still 1 there
            kw = dict(full=full, reduction=reduction)
            compare(lambda a, b, c: F.gaussian_nll_loss(a, b, c, **kw),
                    lambda a, b, c: TF.gaussian_nll_loss(a, b, c, **kw), [x, y, v], grad=(0, 1, 2))
            compare(lambda a, b: F.gaussian_nll_loss(a, b, 0.7, **kw),
                    lambda a, b: TF.gaussian_nll_loss(a, b, 0.7, **kw), [x, y], grad=(0, 1))
            gradcheck(lambda a, b, c: F.gaussian_nll_loss(a, b, c, **kw),
                      [tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True),
                       tg.Tensor(v + 0.3, requires_grad=True)])


@pytest.mark.parametrize("var", [-np.ones((4, 3)), np.ones((3,)), np.ones((2,)), -1.0])
def test_gaussian_nll_loss_bad_variance_raises_as_torch(var):
    x = np.zeros((4, 3))
    with pytest.raises(ValueError):
        TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(x),
                             var if isinstance(var, float) else torch.tensor(var))
    with pytest.raises(ValueError, match="var"):
        F.gaussian_nll_loss(tg.Tensor(x), tg.Tensor(x),
                            var if isinstance(var, float) else tg.Tensor(var))


# ---- margin and embedding losses -------------------------------------------------------------
def test_elementwise_margin_losses_match_torch():
    for dtype in [np.float32, np.float64]:
        for reduction in ["none", "mean", "sum"]:
            rng = np.random.default_rng(11)
            x1 = (rng.standard_normal((3, 4)) * 2).astype(dtype)
            x2 = rng.standard_normal((3, 4)).astype(dtype)
            y = np.where(rng.random((3, 4)) > 0.5, 1.0, -1.0).astype(dtype)
            x1[0, 0], y[0, 0] = x2[0, 0] + 0.5, 1.0   # a hinge exactly at 0 (gradient 1, torch's)
            x1[0, 1], y[0, 1] = 0.5, -1.0
            for m in (0.0, 0.5):
                compare(lambda a, b, c: F.margin_ranking_loss(a, b, c, m, reduction=reduction),
                        lambda a, b, c: TF.margin_ranking_loss(a, b, c, m, reduction=reduction),
                        [x1, x2, y], grad=(0, 1, 2))
                yh = y.copy()
                yh[1, 0] = 0.0                # neither 1 nor -1: both terms, as torch
                compare(lambda a, b: F.hinge_embedding_loss(a, b, m, reduction=reduction),
                        lambda a, b: TF.hinge_embedding_loss(a, b, m, reduction=reduction),
                        [x1, yh])
            compare(lambda a, b: F.soft_margin_loss(a, b, reduction=reduction),
                    lambda a, b: TF.soft_margin_loss(a, b, reduction=reduction), [x1, y])


def test_soft_margin_loss_is_finite_where_torch_overflows():
    x = tg.Tensor(np.array([-1e4, 1e4, 0.0]), requires_grad=True)
    loss = F.soft_margin_loss(x, tg.Tensor([1.0, -1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(_host(loss), [1e4, 1e4, np.log(2.0)])
    loss.sum().backward()
    np.testing.assert_allclose(_host(x.grad), [-1.0, 1.0, -0.5])


@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
def test_cosine_embedding_loss_matches_torch(margin):
    for reduction in ["none", "mean", "sum"]:
        rng = np.random.default_rng(12)
        a, b = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
        a[4] = 0.0                                        # zero vector: cos 0, at a -margin hinge
        y = np.array([1.0, -1.0, 1.0, 0.0, -1.0])
        kw = dict(margin=margin, reduction=reduction)
        compare(lambda u, v, t: F.cosine_embedding_loss(u, v, t, **kw),
                lambda u, v, t: TF.cosine_embedding_loss(u, v, t, **kw), [a, b, y], grad=(0, 1),
                tol=dict(rtol=1e-8, atol=1e-12))        # the zero row's gradient is ~1e6 * rounding
        compare(lambda u, v, t: F.cosine_embedding_loss(u, v, t, **kw),
                lambda u, v, t: TF.cosine_embedding_loss(u, v, t, **kw),
                [a[1], b[1], np.array(-1.0)], grad=(0, 1))
        gradcheck(lambda u, v: F.cosine_embedding_loss(u, v, tg.Tensor(y), **kw),
                  [tg.Tensor(a + 0.1, requires_grad=True), tg.Tensor(b, requires_grad=True)])
        with pytest.raises(RuntimeError, match="target"):
            F.cosine_embedding_loss(tg.Tensor(a), tg.Tensor(b), tg.ones(5, 1))


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, float("inf")])
def test_triplet_margin_losses_match_torch(p):
    for swap in [False, True]:
        rng = np.random.default_rng(13)
        a, pos, neg = (rng.standard_normal((6, 4)) for _ in range(3))
        for reduction in ("none", "mean"):
            kw = dict(p=p, swap=swap, reduction=reduction, margin=1.5)
            compare(lambda u, v, w: F.triplet_margin_loss(u, v, w, **kw),
                    lambda u, v, w: TF.triplet_margin_loss(u, v, w, **kw), [a, pos, neg],
                    grad=(0, 1, 2))
        compare(lambda u, v, w: F.triplet_margin_loss(u, v, w, p=p, swap=swap),
                lambda u, v, w: TF.triplet_margin_loss(u, v, w, p=p, swap=swap),
                [a[None], pos[None], neg[None]], grad=(0, 1, 2))          # 3-D, as torch
        compare(lambda u, v, w: F.triplet_margin_with_distance_loss(
                    u, v, w, distance_function=lambda s, t: 1 - F.cosine_similarity(s, t),
                    swap=swap, margin=0.3),
                lambda u, v, w: TF.triplet_margin_with_distance_loss(
                    u, v, w, distance_function=lambda s, t: 1 - TF.cosine_similarity(s, t),
                    swap=swap, margin=0.3), [a, pos, neg], grad=(0, 1, 2))
        gradcheck(lambda u, v, w: F.triplet_margin_loss(u, v, w, p=p, swap=swap, margin=3.0),
                  [tg.Tensor(x, requires_grad=True) for x in (a, pos, neg)])


def test_triplet_losses_check_dims_and_margin():
    a = tg.ones(3, 4)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_loss(a, tg.ones(4), a)
    with pytest.raises(ValueError, match="margin"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0.0)
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=-1.0)


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_multilabel_losses_match_torch(shape):
    for reduction in ["none", "mean", "sum"]:
        rng = np.random.default_rng(14)
        x = rng.standard_normal(shape) * 3
        t = (rng.random(shape) > 0.5).astype(np.float64)
        w = rng.random(4)
        compare(lambda a, b: F.multilabel_soft_margin_loss(a, b, reduction=reduction),
                lambda a, b: TF.multilabel_soft_margin_loss(a, b, reduction=reduction), [x, t],
                grad=(0, 1))
        compare(lambda a, b, c: F.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
                lambda a, b, c: TF.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
                [x, t, w], grad=(0, 1))
        # class lists ended by the first -1, repeated classes, a -1 first (no targets)
        labels = np.array([[3, 0, -1, 1], [1, 1, 3, 0], [-1, 1, 2, 0]])[:shape[0] if len(shape) == 2
                                                                        else 1].reshape(shape)
        x[..., 0] = x[..., 3] + 1.0           # a hinge exactly at 0 (gradient 0, torch's)
        ours = tg.Tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        y = F.multilabel_margin_loss(ours, tg.Tensor(labels), reduction=reduction)
        ty = TF.multilabel_margin_loss(theirs, torch.tensor(labels), reduction=reduction)
        np.testing.assert_allclose(_host(y), ty.detach().numpy(), rtol=1e-12)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(_host(ours.grad), theirs.grad.numpy(), rtol=1e-12, atol=1e-15)
        gradcheck(lambda a: F.multilabel_margin_loss(a, tg.Tensor(labels), reduction=reduction),
                  [tg.Tensor(x + 0.05, requires_grad=True)])


def test_multilabel_margin_loss_checks_targets():
    x = tg.ones(2, 4)
    with pytest.raises(IndexError, match="out of range"):
        F.multilabel_margin_loss(x, tg.Tensor([[1, 4, -1, 3], [2, -1, 0, 0]]))
    with pytest.raises(RuntimeError, match="target size"):
        F.multilabel_margin_loss(x, tg.Tensor([[1, 2, -1], [2, -1, 0]]))


# ---- distances -------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [((5, 4), (5, 4)), ((5, 4), (4,)), ((4,), (4,)),
                                    ((2, 3, 4), (3, 4))])
def test_pairwise_distance_and_pdist_match_torch(shapes):
    for p in [1, 2, 3, 0.5, float("inf"), 0]:
        rng = np.random.default_rng(15)
        u, v = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
        for keepdim in (False, True):
            compare(lambda a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
                    lambda a, b: TF.pairwise_distance(a, b, p, keepdim=keepdim), [u, v],
                    grad=(0, 1) if p else ())          # p = 0: torch gives no gradient, ours 0
        rows = rng.standard_normal((5, 3))
        compare(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p), [rows])
        if p:
            gradcheck(lambda a, b: F.pairwise_distance(a, b, p),
                      [tg.Tensor(u, requires_grad=True), tg.Tensor(v, requires_grad=True)])
            gradcheck(lambda a: F.pdist(a, p), [tg.Tensor(rows, requires_grad=True)])


def test_pdist_checks_its_input():
    with pytest.raises(RuntimeError, match="2D"):
        F.pdist(tg.ones(2, 2, 3))
    assert tuple(F.pdist(tg.ones(1, 3)).shape) == (0,)


# ---- loss and distance modules ---------------------------------------------------------------
def test_new_loss_and_distance_modules_match_torch():
    rng = np.random.default_rng(16)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    sign = np.where(y > 0, 1.0, -1.0)
    cases = [("HuberLoss", dict(delta=0.5), [x, y]),
             ("KLDivLoss", dict(reduction="batchmean"), [x, np.abs(y)]),
             ("PoissonNLLLoss", dict(full=True), [x, np.abs(y) * 3]),
             ("GaussianNLLLoss", dict(full=True), [x, y, np.abs(y) + 0.1]),
             ("MarginRankingLoss", dict(margin=0.2), [x, y, sign]),
             ("HingeEmbeddingLoss", dict(margin=0.5), [x, sign]),
             ("CosineEmbeddingLoss", dict(margin=0.1), [x, y, sign[:, 0]]),
             ("TripletMarginLoss", dict(p=1.0, swap=True), [x, y, x[::-1].copy()]),
             ("TripletMarginWithDistanceLoss", {}, [x, y, x[::-1].copy()]),
             ("SoftMarginLoss", {}, [x, sign]),
             ("MultiLabelSoftMarginLoss", {}, [x, (y > 0).astype(np.float64)]),
             ("PairwiseDistance", dict(p=3.0), [x, y]),
             ("CosineSimilarity", dict(dim=0), [x, y])]
    for name, kw, arrays in cases:
        ours, theirs = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(theirs)
        compare(ours, theirs, arrays, grad=(0,))
    labels = np.array([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 1, 2, 0]])
    np.testing.assert_allclose(
        _host(nn.MultiLabelMarginLoss(reduction="sum")(tg.Tensor(x), tg.Tensor(labels))),
        torch.nn.MultiLabelMarginLoss(reduction="sum")(torch.tensor(x), torch.tensor(labels)))


# ---- local_response_norm, gumbel_softmax -----------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 5, 7), (2, 6, 3, 4), (1, 3, 2, 2, 2)])
def test_local_response_norm_matches_torch(shape):
    for dtype in [np.float32, np.float64]:
        x = np.random.default_rng(17).standard_normal(shape).astype(dtype)
        for size, alpha, beta, k in [(1, 1e-4, 0.75, 1.0), (2, 0.1, 0.5, 2.0), (5, 0.5, 1.0, 0.5),
                                     (8, 0.2, 0.75, 1.0)]:
            compare(lambda t: F.local_response_norm(t, size, alpha, beta, k),
                    lambda t: TF.local_response_norm(t, size, alpha, beta, k), [x])
        layer, ref = nn.LocalResponseNorm(3, 0.5), torch.nn.LocalResponseNorm(3, 0.5)
        assert repr(layer) == repr(ref)
        compare(layer, ref, [x])
    small = x[:1, :4].reshape(1, 4, -1)[..., :3].astype(np.float64)
    gradcheck(lambda t: F.local_response_norm(t, 3, 0.5, 0.75, 1.0),
              [tg.Tensor(small, requires_grad=True)])
    with pytest.raises(ValueError, match="3D"):
        F.local_response_norm(tg.ones(2, 3), 2)


def test_gumbel_softmax_samples_and_gradient():
    tg.manual_seed(0)
    logits = tg.Tensor(np.log([[0.1, 0.2, 0.7]] * 4000), requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    assert tuple(soft.shape) == (4000, 3) and str(soft.dtype) == "float64"
    np.testing.assert_allclose(_host(soft).sum(axis=1), 1.0, rtol=1e-12)
    hard = F.gumbel_softmax(logits, hard=True, dim=1)
    h = _host(hard)
    np.testing.assert_allclose(np.sort(h, axis=1), [[0.0, 0.0, 1.0]] * 4000, atol=1e-12)
    # the Gumbel-max trick: argmax frequencies are the softmax of the logits
    np.testing.assert_allclose(h.mean(axis=0), [0.1, 0.2, 0.7], atol=0.03)
    # straight-through: with the same noise, the hard sample is the soft one's argmax and
    # has the soft one's gradient
    w = tg.Tensor(np.random.default_rng(18).standard_normal((4000, 3)))
    grads = []
    for hard in (False, True):
        tg.manual_seed(3)
        logits.grad = None
        y = F.gumbel_softmax(logits, tau=0.5, hard=hard)
        (y * w).sum().backward()
        grads.append((_host(y), _host(logits.grad)))
    np.testing.assert_array_equal(grads[1][0].argmax(axis=1), grads[0][0].argmax(axis=1))
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)
    y = F.gumbel_softmax(tg.Tensor(np.zeros((5, 4), np.float32)), dim=0)
    assert str(y.dtype) == "float32"
    np.testing.assert_allclose(_host(y).sum(axis=0), 1.0, rtol=1e-6)
    for dim in (0, 1, -1):                                     # one-hot along any dim
        h = _host(F.gumbel_softmax(tg.Tensor(np.zeros((3, 4, 5))), hard=True, dim=dim))
        np.testing.assert_allclose(h.sum(axis=dim), 1.0, rtol=1e-12)
        assert set(np.round(h.ravel(), 12)) == {0.0, 1.0}


# ---- unfold / fold ---------------------------------------------------------------------------
FOLD_GEOMETRIES = [dict(kernel_size=3), dict(kernel_size=2, padding=1, stride=2),
                   dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 0), stride=(1, 2)),
                   dict(kernel_size=3, dilation=2, padding=2, stride=3)]


@pytest.mark.parametrize("geometry", FOLD_GEOMETRIES)
def test_unfold_and_fold_match_torch(geometry):
    for dtype in [np.float32, np.float64]:
        for shape in [(2, 3, 7, 6), (3, 5, 5)]:
            x = np.random.default_rng(19).standard_normal(shape).astype(dtype)
            compare(lambda t: F.unfold(t, **geometry), lambda t: TF.unfold(t, **geometry), [x])
            cols = TF.unfold(torch.tensor(x), **geometry).numpy()
            compare(lambda t: F.fold(t, shape[-2:], **geometry),
                    lambda t: TF.fold(t, shape[-2:], **geometry), [cols])


def test_unfold_fold_second_order_and_gradcheck():
    rng = np.random.default_rng(20)
    x = rng.standard_normal((2, 2, 5, 4))
    geometry = dict(kernel_size=2, padding=1, stride=2, dilation=1)
    gradcheck(lambda t: F.unfold(t, **geometry) ** 2, [tg.Tensor(x, requires_grad=True)])
    cols = TF.unfold(torch.tensor(x), **geometry).numpy()
    gradcheck(lambda t: F.fold(t, (5, 4), **geometry) ** 2, [tg.Tensor(cols, requires_grad=True)])
    t, tt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (g,) = tg.autograd.grad((F.unfold(t, **geometry) ** 3).sum(), t, create_graph=True)
    (tg_,) = torch.autograd.grad((TF.unfold(tt, **geometry) ** 3).sum(), tt, create_graph=True)
    (g * g).sum().backward()
    (tg_ * tg_).sum().backward()
    np.testing.assert_allclose(_host(t.grad), tt.grad.numpy(), rtol=1e-10)


def test_unfold_fold_errors_and_modules():
    with pytest.raises(RuntimeError, match="3D"):
        F.unfold(tg.ones(3, 4), 2)
    with pytest.raises(RuntimeError, match="does not fit"):
        F.unfold(tg.ones(1, 1, 3, 4), 5)
    with pytest.raises(RuntimeError, match="sliding blocks"):
        F.fold(tg.ones(1, 4, 5), (3, 3), 2)
    with pytest.raises(RuntimeError, match="divisible"):
        F.fold(tg.ones(1, 5, 4), (3, 3), 2)
    x = np.random.default_rng(21).standard_normal((2, 3, 6, 6))
    for ours, theirs, arr in [(nn.Unfold(2, stride=2), torch.nn.Unfold(2, stride=2), x),
                              (nn.Fold((6, 6), 2, stride=2), torch.nn.Fold((6, 6), 2, stride=2),
                               TF.unfold(torch.tensor(x), 2, stride=2).numpy())]:
        assert repr(ours) == repr(theirs)
        compare(ours, theirs, [arr])


# ---- affine_grid / grid_sample ---------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Since version 1.3.0")   # unit-size grid, both warn
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 3), (2, 2, 3, 3, 4)])
def test_affine_grid_matches_torch(size):
    for align_corners in [False, True]:
        theta = np.random.default_rng(22).standard_normal((size[0], len(size) - 2, len(size) - 1))
        compare(lambda t: F.affine_grid(t, size, align_corners=align_corners),
                lambda t: TF.affine_grid(t, size, align_corners=align_corners), [theta])


def _grid_on_and_off_pixels(h, w, align_corners):
    """Pixel centres, the borders -1/1 and points beyond them (kinks of every padding mode)."""
    xs = np.linspace(-1, 1, w) if align_corners else (np.arange(w) * 2 + 1) / w - 1
    ys = np.linspace(-1, 1, h) if align_corners else (np.arange(h) * 2 + 1) / h - 1
    gx, gy = np.meshgrid(np.concatenate([xs, [-1, 1, -1.5, 1.5, 3.3]]),
                         np.concatenate([ys, [-1, 1, -2.7]]))
    return np.stack([gx, gy], -1)[None]


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_torch(mode, padding_mode):
    for dtype in [np.float32, np.float64]:
        for align_corners in [False, True]:
            rng = np.random.default_rng(23)
            kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
            grad = (0, 1) if mode == "bilinear" else (0,)
            for shape, gshape, scale in [((2, 3, 5, 4), (2, 6, 7, 2), 1.5),
                                         ((1, 1, 1, 5), (1, 3, 3, 2), 4.0)]:
                x = rng.standard_normal(shape).astype(dtype)
                g = ((rng.random(gshape) * 2 - 1) * scale).astype(dtype)
                compare(lambda a, b: F.grid_sample(a, b, **kw),
                        lambda a, b: TF.grid_sample(a, b, **kw),
                        [x, g], grad=grad)
            x = rng.standard_normal((1, 2, 3, 4)).astype(dtype)
            compare(lambda a, b: F.grid_sample(a, b, **kw), lambda a, b: TF.grid_sample(a, b, **kw),
                    [x, _grid_on_and_off_pixels(3, 4, align_corners).astype(dtype)], grad=grad)


def test_grid_sample_gradcheck_and_spatial_transformer_chain():
    rng = np.random.default_rng(24)
    x = rng.standard_normal((1, 2, 4, 5))
    g = (rng.random((1, 3, 3, 2)) * 2 - 1) * 1.4
    for padding_mode in ("zeros", "border", "reflection"):
        gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode=padding_mode, align_corners=False),
                  [tg.Tensor(x, requires_grad=True), tg.Tensor(g, requires_grad=True)])
    theta = rng.standard_normal((1, 2, 3)) * 0.5
    compare(lambda t, a: F.grid_sample(a, F.affine_grid(t, (1, 2, 6, 6), align_corners=True),
                                       align_corners=True),
            lambda t, a: TF.grid_sample(a, TF.affine_grid(t, (1, 2, 6, 6), align_corners=True),
                                        align_corners=True), [theta, x], grad=(0, 1))


def test_grid_sample_and_affine_grid_argument_checks():
    x, g = tg.ones(1, 1, 2, 2), tg.zeros(1, 1, 1, 2)
    with pytest.warns(UserWarning, match="align_corners"):
        F.grid_sample(x, g)
    with pytest.warns(UserWarning, match="align_corners"):
        F.affine_grid(tg.zeros(1, 2, 3), (1, 1, 2, 2))
    with pytest.raises(ValueError, match="mode"):
        F.grid_sample(x, g, mode="cubic", align_corners=False)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(x, g, mode="bicubic", align_corners=False)
    with pytest.raises(RuntimeError, match="batch size"):
        F.grid_sample(tg.ones(2, 1, 2, 2), g, align_corners=False)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(tg.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(NotImplementedError, match="4D and 5D"):
        F.affine_grid(tg.zeros(1, 2, 3), (1, 1, 2), align_corners=False)


# ---- rms_norm, bilinear, channel_shuffle, upsample_*, in-place spellings, alpha dropout ------
def test_rms_norm_matches_torch_and_gradchecks():
    rng = np.random.default_rng(25)
    for dtype in (np.float32, np.float64):
        for shape, ns in [((3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), 5)]:
            x = rng.standard_normal(shape).astype(dtype)
            w = rng.standard_normal(ns).astype(dtype)
            tns = list(ns) if isinstance(ns, tuple) else [ns]
            for eps in (None, 1e-3):
                compare(lambda a, b: F.rms_norm(a, ns, b, eps),
                        lambda a, b: TF.rms_norm(a, tns, b, eps), [x, w], grad=(0, 1))
                compare(lambda a: F.rms_norm(a, ns, eps=eps),
                        lambda a: TF.rms_norm(a, tns, eps=eps), [x])
    gradcheck(lambda a, b: F.rms_norm(a, (3, 4), b), [
        tg.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True),
        tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)])
    with pytest.raises(RuntimeError, match="expected input with shape"):
        F.rms_norm(tg.ones(2, 3), [4])


def test_bilinear_matches_torch_and_gradchecks():
    rng = np.random.default_rng(26)
    w, b = rng.standard_normal((6, 3, 5)), rng.standard_normal(6)
    for s1, s2 in [((4, 3), (4, 5)), ((2, 4, 3), (2, 4, 5)), ((3,), (5,))]:
        x1, x2 = rng.standard_normal(s1), rng.standard_normal(s2)
        compare(F.bilinear, TF.bilinear, [x1, x2, w, b], grad=(0, 1, 2, 3))
        compare(F.bilinear, TF.bilinear, [x1.astype(np.float32), x2.astype(np.float32),
                                          w.astype(np.float32)], grad=(0, 1, 2))
    gradcheck(F.bilinear, [tg.Tensor(a, requires_grad=True) for a in (
        rng.standard_normal((2, 3)), rng.standard_normal((2, 5)), w, b)])
    with pytest.raises(RuntimeError, match="bilinear"):
        F.bilinear(tg.ones(4, 3), tg.ones(4, 4), tg.Tensor(w))


def test_channel_shuffle_and_upsample_aliases_match_torch():
    rng = np.random.default_rng(27)
    for shape, groups in [((2, 6, 3), 2), ((2, 6, 3, 2), 3), ((1, 4, 2, 2, 2), 4)]:
        compare(lambda t: F.channel_shuffle(t, groups), lambda t: TF.channel_shuffle(t, groups),
                [rng.standard_normal(shape)])
    with pytest.raises(RuntimeError, match="divisible"):
        F.channel_shuffle(tg.ones(2, 6, 3), 4)
    x = rng.standard_normal((1, 2, 3, 4))
    with pytest.warns(UserWarning, match="deprecated"):
        compare(lambda t: F.upsample_nearest(t, scale_factor=2),
                lambda t: TF.upsample_nearest(t, scale_factor=2), [x])
    with pytest.warns(UserWarning, match="deprecated"):
        compare(lambda t: F.upsample_bilinear(t, size=(5, 7)),
                lambda t: TF.upsample_bilinear(t, size=(5, 7)), [x])


@pytest.mark.parametrize("name,kw", [("relu_", {}), ("elu_", dict(alpha=0.5)),
                                     ("hardtanh_", dict(min_val=-0.5, max_val=2.0)),
                                     ("leaky_relu_", dict(negative_slope=0.2)),
                                     ("threshold_", dict(threshold=0.1, value=5.0)),
                                     ("rrelu_", {}), ("selu_", {}), ("celu_", dict(alpha=2.0))])
def test_inplace_spellings_match_torch(name, kw):
    x = np.random.default_rng(28).standard_normal(12) * 3
    compare(lambda t: getattr(F, name)(t * 1.0, **kw), lambda t: getattr(TF, name)(t * 1.0, **kw),
            [x])
    t = tg.Tensor(x)
    assert getattr(F, name)(t, **kw) is t


def test_alpha_dropout_keeps_standard_normal_statistics():
    alpha, p = 1.7580993408473766, 0.3
    a = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    dropped_value = a * alpha * (p - 1)                 # a (0 - alpha) + a alpha p
    for fn, shape in ((F.alpha_dropout, (200000,)), (F.feature_alpha_dropout, (4000, 50, 2))):
        x = np.random.default_rng(29).standard_normal(shape)
        np.testing.assert_array_equal(_host(fn(tg.Tensor(x), p, training=False)), x)
        np.testing.assert_array_equal(_host(fn(tg.Tensor(x), 1.0, training=True)), 0 * x)
        tg.manual_seed(0)
        t = tg.Tensor(x, requires_grad=True)
        y = fn(t, p, training=True)
        out = _host(y)
        assert abs(out.mean()) < 0.02 and abs(out.std() - 1) < 0.02
        dropped = np.isclose(out, dropped_value, rtol=0, atol=1e-12)
        assert abs(dropped.mean() - p) < 0.01
        np.testing.assert_allclose(out[~dropped], a * x[~dropped] + a * alpha * p)
        if fn is F.feature_alpha_dropout:         # one draw per channel
            assert (dropped == dropped[:, :, :1]).all()
        y.sum().backward()
        np.testing.assert_allclose(_host(t.grad), np.where(dropped, 0.0, a))
    with pytest.raises(RuntimeError, match="2 dimensions"):
        F.feature_alpha_dropout(tg.ones(3), 0.5, training=True)


def test_rms_bilinear_shuffle_dropout_modules_match_torch():
    rng = np.random.default_rng(30)
    x = rng.standard_normal((2, 4, 3, 4))
    cases = [(nn.RMSNorm(4), torch.nn.RMSNorm(4), [x]),
             (nn.RMSNorm([3, 4], 1e-3, False), torch.nn.RMSNorm([3, 4], 1e-3, False), [x]),
             (nn.Bilinear(4, 3, 5), torch.nn.Bilinear(4, 3, 5),
              [rng.standard_normal((6, 4)), rng.standard_normal((6, 3))]),
             (nn.Bilinear(4, 3, 5, bias=False), torch.nn.Bilinear(4, 3, 5, bias=False),
              [rng.standard_normal((4,)), rng.standard_normal((3,))]),
             (nn.ChannelShuffle(2), torch.nn.ChannelShuffle(2), [x]),
             (nn.AlphaDropout(0.2).eval(), torch.nn.AlphaDropout(0.2).eval(), [x]),
             (nn.FeatureAlphaDropout().eval(), torch.nn.FeatureAlphaDropout().eval(), [x]),
             (nn.Unflatten(1, (2, 2)), torch.nn.Unflatten(1, (2, 2)), [x]),
             (nn.Softmax2d(), torch.nn.Softmax2d(), [x])]
    for ours, theirs, arrays in cases:
        assert repr(ours) == repr(theirs)
        ours, theirs = ours.double(), theirs.double()
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        y = compare(ours, theirs, arrays, grad=tuple(range(len(arrays))))
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(_host(p.grad), dict(theirs.named_parameters())[name].grad,
                                       rtol=1e-10, err_msg=name)
        assert y is not None
    bound = 1 / np.sqrt(4)
    w = _host(nn.Bilinear(4, 3, 50).weight)
    assert w.shape == (50, 4, 3)
    assert -bound <= w.min() < -0.9 * bound and 0.9 * bound < w.max() <= bound


def test_top_level_twins_are_the_functional_ones():
    for name in ("pdist", "pairwise_distance", "cosine_similarity", "channel_shuffle", "prelu",
                 "selu", "celu", "rrelu", "threshold", "hardshrink", "bilinear", "rms_norm",
                 "alpha_dropout", "feature_alpha_dropout"):
        assert getattr(tg, name) is getattr(F, name) and hasattr(torch, name)


def test_cdist_matches_torch():
    cdist = tg.cdist
    rng = np.random.default_rng(31)
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    for s1, s2 in [((2, 1, 4, 3), (3, 5, 3)), ((3, 40, 4), (3, 28, 4))]:
        a, b = rng.standard_normal(s1), rng.standard_normal(s2)
        for p in (0, 1, 2, 0.5, float("inf")):
            for mode in modes:
                compare(lambda u, v: cdist(u, v, p, mode), lambda u, v: torch.cdist(u, v, p, mode),
                        [a, b], grad=(0, 1) if p else (), tol=dict(rtol=1e-9, atol=1e-11))
    x = rng.standard_normal((30, 3))
    y = np.concatenate([x[:2], rng.standard_normal((28, 3))])     # zero distances: gradient 0
    for mode in modes:
        # (the product's rounding leaves a duplicated pair ~4e-8 apart; torch differentiates
        # the product formula there, so its gradient carries ~1e-8 relative noise, ours not)
        compare(lambda u, v: cdist(u, v, compute_mode=mode),
                lambda u, v: torch.cdist(u, v, compute_mode=mode), [x, y], grad=(0, 1),
                tol=dict(rtol=1e-6, atol=1e-11))
    d = cdist(tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True))
    xs = tg.Tensor(x, requires_grad=True)
    cdist(xs, tg.Tensor(y))[1, 1].backward()                     # the duplicated pair alone
    np.testing.assert_array_equal(_host(xs.grad), 0.0)
    assert tuple(d.shape) == (30, 30)
    gradcheck(lambda u, v: cdist(u, v, 1.5), [tg.Tensor(x[:4], requires_grad=True),
                                              tg.Tensor(y[5:8], requires_grad=True)])
    with pytest.raises(RuntimeError, match="columns"):
        cdist(tg.Tensor(x), tg.Tensor(y[:, :2]))
    with pytest.raises(ValueError, match="compute_mode"):
        cdist(tg.Tensor(x), tg.Tensor(y), compute_mode="fast")


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
def test_smooth_l1_and_huber_gradients_at_infinite_residuals(name):
    # each infinite residual takes the linear branch's gradient sign(d) (torch's), not NaN
    x = np.array([np.inf, -np.inf, 0.0, 0.3, 2.0])
    y = np.array([1.0, 2.0, np.inf, 0.0, 0.0])
    for reduction in ("none", "sum"):
        compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction),
                lambda a, b: getattr(TF, name)(a, b, reduction=reduction), [x, y], grad=(0,))


def test_one_hot_of_empty_input_needs_num_classes_as_torch():
    empty = np.zeros(0, np.int64)
    with pytest.raises(RuntimeError):
        TF.one_hot(torch.tensor(empty))
    with pytest.raises(RuntimeError, match="num_classes"):
        F.one_hot(tg.Tensor(empty))
    assert tuple(F.one_hot(tg.Tensor(empty), 3).shape) == tuple(
        TF.one_hot(torch.tensor(empty), 3).shape) == (0, 3)


# ---- ctc_loss --------------------------------------------------------------------------------
def _ctc_problem(dtype):
    rng = np.random.default_rng(32)
    logits = rng.standard_normal((12, 4, 5)).astype(dtype)
    targets = rng.integers(1, 5, (4, 4))
    targets[1, 1] = targets[1, 0]                             # a repeated label needs a blank
    return logits, targets, np.array([12, 10, 7, 12]), np.array([4, 3, 2, 0])


def test_ctc_loss_matches_torch_through_log_softmax():
    for dtype in (np.float32, np.float64):
        logits, targets, il, tl = _ctc_problem(dtype)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else None
        concatenated = np.concatenate([targets[i, :tl[i]] for i in range(4)])
        for reduction, tgt in (("none", targets), ("mean", concatenated), ("sum", targets)):
            compare(lambda z, t, a, b: F.ctc_loss(z.log_softmax(-1), t, a, b,
                                                  reduction=reduction),
                    lambda z, t, a, b: TF.ctc_loss(z.log_softmax(-1), t, a, b,
                                                   reduction=reduction),
                    [logits, tgt, il, tl], grad=(0,), tol=tol)
        compare(lambda z, t, a, b: F.ctc_loss(z.log_softmax(-1), t, a, b, blank=2),
                lambda z, t, a, b: TF.ctc_loss(z.log_softmax(-1), t, a, b, blank=2),
                [logits, np.where(targets == 2, 0, targets), il, tl], grad=(0,), tol=tol)
        compare(lambda z, t, a, b: F.ctc_loss(z.log_softmax(-1), t, a, b),     # unbatched
                lambda z, t, a, b: TF.ctc_loss(z.log_softmax(-1), t, a, b),
                [logits[:, 0], targets[0], np.array(12), np.array(4)], grad=(0,), tol=tol)


def test_ctc_loss_infinite_losses_and_zero_infinity():
    logits, targets, _, _ = _ctc_problem(np.float64)
    targets[0] = 1                          # 1 1 1 1 needs 7 frames: 3 cannot fit
    il, tl = np.array([3, 10, 7, 12]), np.array([4, 3, 2, 1])
    compare(lambda z, t, a, b: F.ctc_loss(z.log_softmax(-1), t, a, b, reduction="none",
                                          zero_infinity=True),
            lambda z, t, a, b: TF.ctc_loss(z.log_softmax(-1), t, a, b, reduction="none",
                                           zero_infinity=True), [logits, targets, il, tl])
    loss = F.ctc_loss(tg.Tensor(logits).log_softmax(-1), tg.Tensor(targets), tg.Tensor(il),
                      tg.Tensor(tl), reduction="none")
    ref = TF.ctc_loss(torch.tensor(logits).log_softmax(-1), torch.tensor(targets),
                      torch.tensor(il), torch.tensor(tl), reduction="none")
    np.testing.assert_allclose(_host(loss), ref.numpy(), rtol=1e-10)
    assert np.isinf(_host(loss)[0])


def test_ctc_loss_gradient_is_the_exact_derivative_and_module():
    logits, targets, il, tl = _ctc_problem(np.float64)
    lp = torch.tensor(logits).log_softmax(-1).numpy()
    gradcheck(lambda x: F.ctc_loss(x, tg.Tensor(targets[:2]), tg.Tensor(il[:2]),
                                   tg.Tensor(tl[:2])), [tg.Tensor(lp[:, :2], requires_grad=True)])
    # torch's gradient with respect to log_probs itself is ours + exp(log_probs) on each
    # sample's frames (its formula folds in a log_softmax); the logits' gradients agree
    ours = tg.Tensor(lp, requires_grad=True)
    theirs = torch.tensor(lp, requires_grad=True)
    F.ctc_loss(ours, tg.Tensor(targets), tg.Tensor(il), tg.Tensor(tl), reduction="sum").backward()
    TF.ctc_loss(theirs, torch.tensor(targets), torch.tensor(il), torch.tensor(tl),
                reduction="sum").backward()
    frames = np.arange(12)[:, None] < il[None, :]
    np.testing.assert_allclose(theirs.grad.numpy() - _host(ours.grad),
                               np.where(frames[..., None], np.exp(lp), 0.0), atol=1e-12)
    assert repr(nn.CTCLoss(blank=1)) == repr(torch.nn.CTCLoss(blank=1))
    np.testing.assert_allclose(
        _host(nn.CTCLoss(zero_infinity=True)(tg.Tensor(lp), tg.Tensor(targets), tg.Tensor(il),
                                             tg.Tensor(tl))),
        torch.nn.CTCLoss(zero_infinity=True)(torch.tensor(lp), torch.tensor(targets),
                                             torch.tensor(il), torch.tensor(tl)).numpy(),
        rtol=1e-10)
    with pytest.raises(RuntimeError, match="target classes"):
        F.ctc_loss(tg.Tensor(lp), tg.Tensor(np.full((4, 4), 5)), tg.Tensor(il), tg.Tensor(tl))


def test_max_pool_with_indices_spellings_match_torch():
    rng = np.random.default_rng(33)
    x4, x3 = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 9))
    cases = [("max_pool2d_with_indices", x4, (3,), dict(stride=2, padding=1)),
             ("max_pool1d_with_indices", x3, (2,), dict(dilation=2, ceil_mode=True)),
             ("adaptive_max_pool2d_with_indices", x4, ((3, 2),), {}),
             ("adaptive_max_pool1d_with_indices", x3, (4,), {})]
    for name, x, args, kw in cases:
        ours = getattr(F, name)(tg.Tensor(x), *args, **kw)
        theirs = getattr(TF, name)(torch.tensor(x), *args, **kw)
        assert len(ours) == len(theirs) == 2
        np.testing.assert_allclose(_host(ours[0]), theirs[0].numpy())
        np.testing.assert_array_equal(_host(ours[1]), theirs[1].numpy())


def test_upsample_layers_store_float_factors_and_older_spellings_match_torch():
    x = np.random.default_rng(34).standard_normal((1, 2, 3, 4))
    for ours, theirs in [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                         (nn.Upsample(scale_factor=(2, 3)), torch.nn.Upsample(scale_factor=(2, 3))),
                         (nn.Upsample(size=(5, 6), mode="bilinear"),
                          torch.nn.Upsample(size=(5, 6), mode="bilinear")),
                         (nn.UpsamplingNearest2d(size=5), torch.nn.UpsamplingNearest2d(size=5)),
                         (nn.UpsamplingBilinear2d(scale_factor=2),
                          torch.nn.UpsamplingBilinear2d(scale_factor=2))]:
        assert repr(ours) == repr(theirs)
        assert ours.scale_factor == theirs.scale_factor
        assert type(ours.scale_factor) is type(theirs.scale_factor)
        compare(ours, theirs, [x])


def test_max_unpool1d_and_unbatched_max_unpool2d_match_torch():
    rng = np.random.default_rng(35)
    for shape, k, s, out in [((2, 3, 9), 3, 3, None), ((3, 10), 2, 2, None),
                             ((2, 3, 9), 2, 2, [9]), ((2, 3, 9), 2, 1, None)]:
        x = rng.standard_normal(shape)
        y, i = TF.max_pool1d(torch.tensor(x), k, s, return_indices=True)
        compare(lambda t: F.max_unpool1d(t, tg.Tensor(i.numpy()), k, s, output_size=out),
                lambda t: TF.max_unpool1d(t, i, k, s, output_size=out), [y.numpy()])
    x = rng.standard_normal((3, 6, 4))                        # unbatched (C, H, W)
    y, i = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    compare(lambda t: F.max_unpool2d(t, tg.Tensor(i.numpy()), 2),
            lambda t: TF.max_unpool2d(t, i, 2), [y.numpy()])
    layer, ref = nn.MaxUnpool1d(3), torch.nn.MaxUnpool1d(3)
    assert repr(layer) == repr(ref)
    y, i = TF.max_pool1d(torch.tensor(rng.standard_normal((2, 3, 9))), 3, return_indices=True)
    compare(lambda t: layer(t, tg.Tensor(i.numpy())), lambda t: ref(t, i), [y.numpy()])
    assert F.native_channel_shuffle is F.channel_shuffle
    with pytest.warns(FutureWarning, match="deprecated"):
        ours = nn.NLLLoss2d(ignore_index=1)
    with pytest.warns(FutureWarning):
        theirs = torch.nn.NLLLoss2d(ignore_index=1)
    assert isinstance(ours, nn.NLLLoss) and repr(ours) == repr(theirs)
    assert ours.ignore_index == theirs.ignore_index == 1


# ---- embedding_bag ---------------------------------------------------------------------------
def test_embedding_bag_matches_torch():
    rng = np.random.default_rng(36)
    idx1, off = np.array([1, 2, 4, 5, 4, 3, 2, 0, 2]), np.array([0, 2, 2, 5])
    idx2 = np.array([[1, 2, 2], [2, 2, 2], [0, 6, 6]])       # a bag of padding only: zeros
    psw = rng.random(9)
    for dtype in (np.float32, np.float64):
        w = rng.standard_normal((7, 3)).astype(dtype)
        for mode in ("sum", "mean", "max"):
            for pidx in (None, 2):
                kw = dict(mode=mode, padding_idx=pidx)
                compare(lambda i, v, o: F.embedding_bag(i, v, o, **kw),
                        lambda i, v, o: TF.embedding_bag(i, v, o, **kw), [idx1, w, off],
                        grad=(1,))
                compare(lambda i, v: F.embedding_bag(i, v, **kw),
                        lambda i, v: TF.embedding_bag(i, v, **kw), [idx2, w], grad=(1,))
                compare(lambda i, v, o: F.embedding_bag(i, v, o, include_last_offset=True, **kw),
                        lambda i, v, o: TF.embedding_bag(i, v, o, include_last_offset=True,
                                                         **kw),
                        [idx1, w, np.array([0, 2, 2, 5, 9])], grad=(1,))
            compare(lambda i, v, o: F.embedding_bag(i, v * 1, o, max_norm=1.0, mode=mode),
                    lambda i, v, o: TF.embedding_bag(i, v * 1, o, max_norm=1.0, mode=mode),
                    [idx1, w * 3, off], grad=(1,))
        for pidx in (None, 2):
            compare(lambda i, v, o, p: F.embedding_bag(i, v, o, mode="sum", padding_idx=pidx,
                                                       per_sample_weights=p),
                    lambda i, v, o, p: TF.embedding_bag(i, v, o, mode="sum", padding_idx=pidx,
                                                        per_sample_weights=p),
                    [idx1, w, off, psw.astype(dtype)], grad=(1, 3))
    gradcheck(lambda v, p: F.embedding_bag(tg.Tensor(idx1), v, tg.Tensor(off), mode="sum",
                                           per_sample_weights=p),
              [tg.Tensor(rng.standard_normal((7, 3)), requires_grad=True),
               tg.Tensor(psw, requires_grad=True)])


def test_embedding_bag_argument_checks_and_module():
    w = tg.Tensor(np.random.default_rng(37).standard_normal((7, 3)))
    idx = tg.Tensor(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(idx, w)
    with pytest.raises(RuntimeError, match="offsets"):
        F.embedding_bag(idx, w, tg.Tensor(np.array([1])))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(idx, w, tg.Tensor(np.array([0])), mode="max",
                        per_sample_weights=tg.ones(3))
    with pytest.raises(ValueError, match="max mode"):
        F.embedding_bag(idx, w, tg.Tensor(np.array([0])), mode="max", scale_grad_by_freq=True)
    for kw in (dict(), dict(mode="sum", padding_idx=2, max_norm=1.0), dict(mode="max")):
        ours, theirs = nn.EmbeddingBag(10, 3, **kw), torch.nn.EmbeddingBag(10, 3, **kw)
        assert repr(ours) == repr(theirs)
        ours.load_state_dict({"weight": theirs.weight.detach().numpy()})
        x, o = np.array([1, 2, 4, 5, 2]), np.array([0, 3])
        np.testing.assert_allclose(_host(ours(tg.Tensor(x), tg.Tensor(o))),
                                   theirs(torch.tensor(x), torch.tensor(o)).detach().numpy(),
                                   rtol=1e-6)
    assert not np.any(_host(nn.EmbeddingBag(10, 3, padding_idx=4).weight)[4])


def test_cross_entropy_class_weight_gradient_as_torch():
    # probability targets: the class weight gets its gradient (it got none); index targets:
    # torch refuses a weight that requires grad (it was silently left without a gradient)
    rng = np.random.default_rng(38)
    for shape in ((3, 4), (4,), (2, 4, 2, 3)):
        for reduction in ("none", "mean", "sum"):
            x, p, w = rng.standard_normal(shape), rng.random(shape), rng.random(4)
            compare(lambda a, b, c: F.cross_entropy(a, b, weight=c, reduction=reduction,
                                                    label_smoothing=0.1),
                    lambda a, b, c: TF.cross_entropy(a, b, weight=c, reduction=reduction,
                                                     label_smoothing=0.1),
                    [x, p, w], grad=(0, 1, 2))
    probabilities = tg.Tensor(rng.random((3, 4)))
    gradcheck(lambda a, c: F.cross_entropy(a, probabilities, weight=c),
              [tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True),
               tg.Tensor(rng.random(4), requires_grad=True)])
    w = tg.Tensor(np.ones(4), requires_grad=True)
    x, y = tg.Tensor(rng.standard_normal((3, 4))), tg.Tensor(np.array([0, 1, 2]))
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
            fn(x, y, weight=w)
        with tg.no_grad():
            fn(x, y, weight=w)


def test_hardtanh_and_relu6_keep_integer_dtypes_as_torch():
    x = np.arange(-8, 9)
    for fn, kw in ((F.hardtanh, dict(min_val=-1.5, max_val=2.7)), (F.relu6, {})):
        ours = fn(tg.Tensor(x), **kw)
        theirs = getattr(TF, fn.__name__)(torch.tensor(x), **kw)
        assert str(ours.dtype) == "int64"
        np.testing.assert_array_equal(_host(ours), theirs.numpy())


# ---- fractional_max_pool2d -------------------------------------------------------------------
def test_fractional_max_pool2d_matches_torch_with_given_samples():
    rng = np.random.default_rng(39)
    for dtype in (np.float32, np.float64):
        for shape, k, size, ratio in [((2, 3, 9, 8), 2, (5, 4), None),
                                      ((2, 3, 9, 8), (3, 2), None, (0.5, 0.5)),
                                      ((3, 10, 7), 3, (4, 3), None),
                                      ((1, 1, 6, 6), 2, (1, 1), None)]:
            x = rng.standard_normal(shape).astype(dtype)
            samples = rng.random((1 if len(shape) == 3 else shape[0], shape[-3], 2)).astype(dtype)
            compare(lambda a, r: F.fractional_max_pool2d(a, k, size, ratio, _random_samples=r),
                    lambda a, r: TF.fractional_max_pool2d(a, k, size, ratio, _random_samples=r),
                    [x, samples])
            ours = F.fractional_max_pool2d_with_indices(tg.Tensor(x), k, size, ratio,
                                                        _random_samples=tg.Tensor(samples))[1]
            theirs = TF.fractional_max_pool2d_with_indices(
                torch.tensor(x), k, size, ratio, _random_samples=torch.tensor(samples))[1]
            np.testing.assert_array_equal(_host(ours), theirs.numpy())


def test_fractional_max_pool2d_random_windows_and_module():
    x = tg.Tensor(np.random.default_rng(40).standard_normal((2, 3, 10, 10)))
    tg.manual_seed(0)
    a = F.fractional_max_pool2d(x, 2, output_size=4)       # alpha = 8 / 3: windows vary
    b = F.fractional_max_pool2d(x, 2, output_size=4)
    assert tuple(a.shape) == (2, 3, 4, 4) and not np.array_equal(_host(a), _host(b))
    layer = nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True)
    assert repr(layer) == repr(torch.nn.FractionalMaxPool2d(3, output_ratio=0.5))
    values, indices = layer(x)
    flat = _host(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, _host(indices).reshape(2, 3, -1), 2),
                                  _host(values).reshape(2, 3, -1))
    with pytest.raises(RuntimeError, match="does not fit"):
        F.fractional_max_pool2d(x, 3, output_size=9)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="either"):
        nn.FractionalMaxPool2d(2)


# ---- linear_cross_entropy --------------------------------------------------------------------
def test_linear_cross_entropy_matches_torch():
    rng = np.random.default_rng(41)
    x, w = rng.standard_normal((6, 4)), rng.standard_normal((5, 4))
    b, cw = rng.standard_normal(5), rng.random(5)
    y = np.array([0, 4, -100, 2, 2, 1])
    y2 = np.where(y == -100, 2, y)
    for kw, t in ((dict(), y), (dict(reduction="sum", label_smoothing=0.1), y),
                  (dict(reduction="none", ignore_index=2), y2)):
        compare(lambda a, v, bb, c: F.linear_cross_entropy(a, v, tg.Tensor(t), linear_bias=bb,
                                                           weight=c, **kw),
                lambda a, v, bb, c: TF.linear_cross_entropy(a, v, torch.tensor(t),
                                                            linear_bias=bb, weight=c, **kw),
                [x, w, b, cw], grad=(0, 1, 2))
    p = rng.random((6, 5))
    compare(lambda a, v, t: F.linear_cross_entropy(a, v, t),
            lambda a, v, t: TF.linear_cross_entropy(a, v, t), [x, w, p], grad=(0, 1, 2))
    compare(lambda a, v: F.linear_cross_entropy(a, v, tg.Tensor(np.array(3))),        # unbatched
            lambda a, v: TF.linear_cross_entropy(a, v, torch.tensor(3)), [x[0], w], grad=(0, 1))
    wk, bk = rng.standard_normal((5, 2, 3, 4)), rng.standard_normal((5, 2, 3))  # K-dim
    yk = rng.integers(0, 5, (6, 2, 3))
    compare(lambda a, v, bb: F.linear_cross_entropy(a, v, tg.Tensor(yk), linear_bias=bb),
            lambda a, v, bb: TF.linear_cross_entropy(a, v, torch.tensor(yk), linear_bias=bb),
            [x, wk, bk], grad=(0, 1, 2))
    with pytest.raises(RuntimeError, match="ignore_index"):
        F.linear_cross_entropy(tg.Tensor(x), tg.Tensor(w), tg.Tensor(p), ignore_index=1)
    with pytest.raises(RuntimeError, match="in_features"):
        F.linear_cross_entropy(tg.Tensor(x), tg.Tensor(w[:, :3]), tg.Tensor(y))
    for kw in (dict(), dict(out_features=(2,), bias=True, label_smoothing=0.2)):
        ours, theirs = nn.LinearCrossEntropyLoss(4, 5, **kw), torch.nn.LinearCrossEntropyLoss(
            4, 5, **kw).double()
        assert repr(ours) == repr(theirs)
        ours = ours.double()
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        target = yk[:, :, 0] if kw else y
        np.testing.assert_allclose(
            _host(ours(tg.Tensor(x), tg.Tensor(target))),
            theirs(torch.tensor(x), torch.tensor(target)).detach().numpy(), rtol=1e-10)


def test_linear_with_zero_features_matches_torch():
    # in_features or out_features 0 (AdaptiveLogSoftmaxWithLoss builds such tail layers):
    # the flattening reshape(-1, 0) raised
    rng = np.random.default_rng(42)
    for i, o, bias in [(8, 0, True), (0, 4, True), (0, 4, False), (0, 0, True)]:
        w, b = rng.standard_normal((o, i)), rng.standard_normal(o)
        for shape in [(5, i), (2, 3, i)]:
            args = [rng.standard_normal(shape), w] + ([b] if bias else [])
            compare(F.linear, TF.linear, args, grad=tuple(range(len(args))))


@pytest.mark.filterwarnings("ignore:Initializing zero-element")     # torch's, for in // 16 = 0
def test_adaptive_log_softmax_with_loss_matches_torch():
    rng = np.random.default_rng(43)
    x = rng.standard_normal((7, 8))
    y = np.array([0, 2, 3, 5, 6, 9, 1])
    for kw in (dict(cutoffs=[3, 6]), dict(cutoffs=[2], head_bias=True, div_value=2.0)):
        ours = nn.AdaptiveLogSoftmaxWithLoss(8, 10, **kw)
        theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, **kw).double()
        assert repr(ours) == repr(theirs)
        ours = ours.double()
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, ref = ours(xo, tg.Tensor(y)), theirs(xt, torch.tensor(y))
        np.testing.assert_allclose(_host(out.output), ref.output.detach().numpy(), rtol=1e-10)
        (out.loss + out.output.sum()).backward()
        (ref.loss + ref.output.sum()).backward()
        np.testing.assert_allclose(_host(xo.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(_host(p.grad), dict(theirs.named_parameters())[name].grad,
                                       rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(_host(ours.log_prob(tg.Tensor(x))),
                                   theirs.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-10)
        np.testing.assert_array_equal(_host(ours.predict(tg.Tensor(x))),
                                      theirs.predict(torch.tensor(x)).numpy())
        one = ours(tg.Tensor(x[0]), tg.Tensor(np.array(9)))            # unbatched
        np.testing.assert_allclose(_host(one.output), theirs(torch.tensor(x[0]),
                                   torch.tensor(9)).output.detach().numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="Target values"):
        ours(tg.Tensor(x), tg.Tensor(np.array([0, 1, 2, 3, 4, 5, 10])))
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[6, 3])
