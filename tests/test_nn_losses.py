"""Every loss against torch.nn.functional (forward and gradients, all reductions, float64 and
float32), the fused cross-entropy against a composition of primitive ops, float64 gradchecks,
the loss modules, and the stability of BCE-with-logits at +-1e4."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

SETTINGS = settings(max_examples=25, deadline=None)
REDUCTIONS = ["mean", "sum", "none"]
seeds = st.integers(0, 2**31 - 1)
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-6)}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}


def pair(x, dtype="float64", requires_grad=True):
    """The same data as our Tensor and a torch tensor."""
    x = np.asarray(x, dtype=dtype)
    return tg.tensor(x, requires_grad=requires_grad), torch.tensor(x, requires_grad=requires_grad)


def backprop_both(lo, lt, seed=0):
    g = np.random.default_rng(seed).standard_normal(lt.shape).astype(str(lt.dtype).split(".")[-1])
    lo.backward(tg.tensor(g))
    lt.backward(torch.tensor(g))


def check_close(ours, theirs, dtype="float64"):
    np.testing.assert_allclose(ours.detach().numpy() if hasattr(ours, "detach") else ours,
                               theirs.detach().numpy(), **TOL[dtype])


@st.composite
def class_problem(draw, allow_ignore=True):
    """Scores of shape (C,), (N, C) or (N, C, d1[, d2]) and matching integer targets."""
    c = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["unbatched", "batched", "spatial"]))
    if kind == "unbatched":
        shape, tshape = (c,), ()
    elif kind == "batched":
        n = draw(st.integers(1, 5))
        shape, tshape = (n, c), (n,)
    else:
        n = draw(st.integers(1, 3))
        extra = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
        shape, tshape = (n, c) + extra, (n,) + extra
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * draw(st.sampled_from([0.5, 2.0, 8.0]))
    y = rng.integers(0, c, size=tshape)
    ignore_index = -100
    if allow_ignore and draw(st.booleans()):
        ignore_index = int(draw(st.sampled_from([-100, 0, c - 1])))
        drop = rng.random(tshape) < 0.3
        y = np.where(drop, ignore_index, y)
    weight = rng.random(c) + 0.1 if draw(st.booleans()) else None
    return x, y, ignore_index, weight, seed


# ---- cross entropy -------------------------------------------------------------------------
def cross_entropy_reference(x, y, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The same loss composed of primitive ops (log_softmax, indexing, sums): the reference for
    the fused Function's backward."""
    cdim = 0 if x.ndim == 1 else 1
    logp = x.log_softmax(cdim)
    c = x.shape[cdim]
    if x.ndim == 1:
        rows, yr = logp.reshape(1, c), y.reshape(1)
    else:
        rows = logp.permute(0, *range(2, x.ndim), 1).reshape(-1, c)
        yr = y.reshape(-1)
    valid = yr != ignore_index
    safe = np.where(valid, yr, 0)
    w = np.ones(c) if weight is None else weight
    coef = w[safe] * valid
    picked = rows[np.arange(len(safe)), safe]
    per = picked * tg.tensor(-(1 - label_smoothing) * coef)
    per = per - (rows * tg.tensor(w)).sum(dim=1) * tg.tensor(valid * (label_smoothing / c))
    if reduction == "none":
        return per.reshape(y.shape)
    if reduction == "sum":
        return per.sum()
    return per.sum() / float(coef.sum())


@SETTINGS
@given(problem=class_problem(), reduction=st.sampled_from(REDUCTIONS),
       smoothing=st.sampled_from([0.0, 0.1, 0.35]))
def test_cross_entropy_matches_torch_float64(problem, reduction, smoothing):
    x, y, ignore_index, weight, seed = problem
    valid = y != ignore_index
    if reduction == "mean" and not valid.any():
        return  # 0/0 in both frameworks
    xo, xt = pair(x)
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    lo = F.cross_entropy(xo, y, weight=None if weight is None else tg.tensor(weight), **kw)
    lt = TF.cross_entropy(xt, torch.tensor(y), weight=None if weight is None else torch.tensor(weight), **kw)
    check_close(lo, lt)
    backprop_both(lo, lt, seed)
    check_close(xo.grad, xt.grad)
    # the fused backward equals the primitive composition's
    xr = tg.tensor(x, requires_grad=True)
    lr = cross_entropy_reference(xr, y, weight, ignore_index, reduction, smoothing)
    check_close(lr, lt)
    lr.backward(tg.tensor(np.random.default_rng(seed).standard_normal(lt.shape)))
    check_close(xr.grad, xt.grad)


@SETTINGS
@given(problem=class_problem(allow_ignore=False), reduction=st.sampled_from(REDUCTIONS),
       smoothing=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_matches_torch_float32(problem, reduction, smoothing):
    x, y, _, weight, seed = problem
    xo, xt = pair(x, "float32")
    w = None if weight is None else weight.astype(np.float32)
    lo = F.cross_entropy(xo, tg.tensor(y), weight=w, reduction=reduction, label_smoothing=smoothing)
    lt = TF.cross_entropy(xt, torch.tensor(y), weight=None if w is None else torch.tensor(w),
                          reduction=reduction, label_smoothing=smoothing)
    assert lo.dtype == np.float32
    np.testing.assert_allclose(lo.detach().numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-5)
    backprop_both(lo, lt, seed)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


@SETTINGS
@given(problem=class_problem(allow_ignore=False), reduction=st.sampled_from(REDUCTIONS),
       smoothing=st.sampled_from([0.0, 0.25]))
def test_cross_entropy_probability_targets(problem, reduction, smoothing):
    x, _, _, weight, seed = problem
    rng = np.random.default_rng(seed + 1)
    cdim = 0 if x.ndim == 1 else 1
    t = rng.random(x.shape)
    t /= t.sum(axis=cdim, keepdims=True)
    xo, xt = pair(x)
    to, tt = pair(t)
    lo = F.cross_entropy(xo, to, weight=weight, reduction=reduction, label_smoothing=smoothing)
    lt = TF.cross_entropy(xt, tt, weight=None if weight is None else torch.tensor(weight),
                          reduction=reduction, label_smoothing=smoothing)
    check_close(lo, lt)
    backprop_both(lo, lt, seed)
    check_close(xo.grad, xt.grad)
    check_close(to.grad, tt.grad)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(smoothing, reduction):
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((4, 5, 3)), requires_grad=True)
    y = np.array([[0, 4, -1], [2, 2, 1], [3, -1, 0], [1, 1, 4]])
    w = rng.random(5) + 0.5
    assert gradcheck(lambda x: F.cross_entropy(x, y, weight=w, ignore_index=-1, reduction=reduction,
                                               label_smoothing=smoothing), (x,))
    t = tg.tensor(rng.random((4, 5)), requires_grad=True)
    x2 = tg.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    assert gradcheck(lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
                     (x2, t))


def test_cross_entropy_plain_gradient_is_softmax_minus_onehot_over_n():
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    y = np.array([0, 3, 1, 1, 2, 0])
    F.cross_entropy(x, y).backward()
    p = F.softmax(x.detach(), 1).numpy()
    expected = (p - np.eye(4)[y]) / 6
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_errors():
    x = tg.randn(3, 4)
    with pytest.raises(ValueError, match=r"cross_entropy.*target of shape \(3,\).*\(2,\)"):
        F.cross_entropy(x, tg.tensor([0, 1]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, tg.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), weight=tg.ones(3))
    with pytest.raises(ValueError, match="probability target"):
        F.cross_entropy(x, tg.rand(3, 5))


def test_cross_entropy_is_first_order_only():
    x = tg.randn(3, 4, requires_grad=True)
    (g,) = tg.autograd.grad(F.cross_entropy(x, tg.tensor([0, 1, 2])), [x])
    assert g.shape == (3, 4)
    with pytest.raises(RuntimeError, match="first-order"):
        tg.autograd.grad(F.cross_entropy(x, tg.tensor([0, 1, 2])), [x], create_graph=True)


# ---- nll / multi margin ----------------------------------------------------------------------
@SETTINGS
@given(problem=class_problem(), reduction=st.sampled_from(REDUCTIONS))
def test_nll_loss_matches_torch(problem, reduction):
    x, y, ignore_index, weight, seed = problem
    if reduction == "mean" and not (y != ignore_index).any():
        return
    xo, xt = pair(x)
    lo = F.nll_loss(xo, y, weight=weight, ignore_index=ignore_index, reduction=reduction)
    lt = TF.nll_loss(xt, torch.tensor(y), weight=None if weight is None else torch.tensor(weight),
                     ignore_index=ignore_index, reduction=reduction)
    check_close(lo, lt)
    backprop_both(lo, lt, seed)
    check_close(xo.grad, xt.grad)


def test_nll_loss_gradcheck():
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    assert gradcheck(lambda x: F.nll_loss(x, np.array([0, 2, 2, 1, -100])), (x,))


@SETTINGS
@given(n=st.integers(0, 5), c=st.integers(1, 6), p=st.sampled_from([1, 2]),
       margin=st.sampled_from([1.0, 0.5, 2.0]), use_weight=st.booleans(),
       reduction=st.sampled_from(REDUCTIONS), seed=seeds)
def test_multi_margin_loss_matches_torch(n, c, p, margin, use_weight, reduction, seed):
    rng = np.random.default_rng(seed)
    shape, tshape = ((c,), ()) if n == 0 else ((n, c), (n,))
    x = rng.standard_normal(shape)
    y = rng.integers(0, c, size=tshape)
    weight = rng.random(c) + 0.1 if use_weight else None
    xo, xt = pair(x)
    lo = F.multi_margin_loss(xo, y, p=p, margin=margin, weight=weight, reduction=reduction)
    lt = TF.multi_margin_loss(xt, torch.tensor(y), p=p, margin=margin,
                              weight=None if weight is None else torch.tensor(weight), reduction=reduction)
    check_close(lo, lt)
    backprop_both(lo, lt, seed)
    check_close(xo.grad, xt.grad)


def test_multi_margin_loss_gradcheck():
    x = tg.tensor(np.random.default_rng(2).standard_normal((4, 5)) * 0.3, requires_grad=True)
    y = np.array([0, 4, 2, 2])
    assert gradcheck(lambda x: F.multi_margin_loss(x, y), (x,))
    assert gradcheck(lambda x: F.multi_margin_loss(x, y, p=2, reduction="none"), (x,))


# ---- binary cross-entropy ------------------------------------------------------------------
@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), use_weight=st.booleans(),
       use_pos=st.booleans(), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from(["float64", "float32"]), seed=seeds)
def test_bce_with_logits_matches_torch(shape, use_weight, use_pos, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    x = rng.standard_normal(shape) * 4
    z = rng.random(shape)
    xo, xt = pair(x, dtype)
    zo, zt = pair(z, dtype)
    kw_o, kw_t = {}, {}
    if use_weight:
        w = rng.random(shape[-1:]) + 0.2  # broadcast over the leading dims
        kw_o["weight"], kw_t["weight"] = pair(w, dtype, requires_grad=False)  # torch: no grad
    if use_pos:
        pw = rng.random(shape[-1:]) * 3
        kw_o["pos_weight"], kw_t["pos_weight"] = pair(pw, dtype, requires_grad=False)  # torch: no grad
    lo = F.binary_cross_entropy_with_logits(xo, zo, reduction=reduction, **kw_o)
    lt = TF.binary_cross_entropy_with_logits(xt, zt, reduction=reduction, **kw_t)
    check_close(lo, lt, dtype)
    backprop_both(lo, lt, seed)
    check_close(xo.grad, xt.grad, dtype)
    check_close(zo.grad, zt.grad, dtype)


def test_bce_with_logits_gradcheck():
    rng = np.random.default_rng(0)
    x, z, w, pw = (tg.tensor(a, requires_grad=True) for a in (
        rng.standard_normal((3, 4)) * 3, rng.random((3, 4)), rng.random(4) + 0.5, rng.random(4) * 2))
    assert gradcheck(lambda x, z: F.binary_cross_entropy_with_logits(x, z), (x, z))
    assert gradcheck(lambda x, z, w, pw: F.binary_cross_entropy_with_logits(
        x, z, weight=w, pos_weight=pw, reduction="none"), (x, z, w, pw))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_with_logits_finite_for_huge_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype=dtype)
    z = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype=dtype)
    xo, xt = pair(x, dtype)
    lo = F.binary_cross_entropy_with_logits(xo, tg.tensor(z), reduction="none")
    lt = TF.binary_cross_entropy_with_logits(xt, torch.tensor(z), reduction="none")
    assert np.isfinite(lo.detach().numpy()).all()
    np.testing.assert_allclose(lo.detach().numpy(), [0.0, 0.0, 1e4, 1e4, np.log(2)], rtol=1e-6)
    check_close(lo, lt, dtype)
    lo.sum().backward()
    lt.sum().backward()
    assert np.isfinite(xo.grad.numpy()).all()
    check_close(xo.grad, xt.grad, dtype)


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), use_weight=st.booleans(),
       reduction=st.sampled_from(REDUCTIONS), seed=seeds)
def test_binary_cross_entropy_matches_torch(shape, use_weight, reduction, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    p = rng.random(shape) * 0.9 + 0.05
    z = rng.random(shape)
    w = rng.random(shape) if use_weight else None
    po, pt = pair(p)
    lo = F.binary_cross_entropy(po, z, weight=w, reduction=reduction)
    lt = TF.binary_cross_entropy(pt, torch.tensor(z), weight=None if w is None else torch.tensor(w),
                                 reduction=reduction)
    check_close(lo, lt)
    backprop_both(lo, lt, seed)
    check_close(po.grad, pt.grad)


def test_binary_cross_entropy_clamps_log_and_checks_range():
    po, pt = pair([0.0, 1.0, 0.5])
    z = np.array([1.0, 0.0, 1.0])
    lo = F.binary_cross_entropy(po, z, reduction="none")
    check_close(lo, TF.binary_cross_entropy(pt, torch.tensor(z), reduction="none"))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([1.5]), tg.tensor([1.0]))
    with pytest.raises(ValueError, match="same as input size"):
        F.binary_cross_entropy_with_logits(tg.randn(3), tg.rand(4))


# ---- regression losses ---------------------------------------------------------------------
REGRESSION = {
    "mse": (lambda a, b, r: F.mse_loss(a, b, reduction=r), lambda a, b, r: TF.mse_loss(a, b, reduction=r)),
    "l1": (lambda a, b, r: F.l1_loss(a, b, reduction=r), lambda a, b, r: TF.l1_loss(a, b, reduction=r)),
    "smooth_l1": (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r),
                  lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r)),
    "smooth_l1_beta": (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.3),
                       lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r, beta=0.3)),
    "smooth_l1_beta0": (lambda a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.0),
                        lambda a, b, r: TF.smooth_l1_loss(a, b, reduction=r, beta=0.0)),
}


@pytest.mark.parametrize("name", sorted(REGRESSION))
@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 4), max_size=3), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from(["float64", "float32"]), seed=seeds)
def test_regression_losses_match_torch(name, shape, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    ours, theirs = REGRESSION[name]
    a, b = rng.standard_normal((2,) + tuple(shape)) * 2
    ao, at = pair(a, dtype)
    bo, bt = pair(b, dtype)
    lo, lt = ours(ao, bo, reduction), theirs(at, bt, reduction)
    check_close(lo, lt, dtype)
    backprop_both(lo, lt, seed)
    check_close(ao.grad, at.grad, dtype)
    check_close(bo.grad, bt.grad, dtype)


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_losses_gradcheck(name):
    rng = np.random.default_rng(0)
    a, b = (tg.tensor(v, requires_grad=True) for v in rng.standard_normal((2, 3, 4)) * 2)
    assert gradcheck(lambda a, b: REGRESSION[name][0](a, b, "mean"), (a, b))


# ---- NT-Xent -------------------------------------------------------------------------------
def nt_xent_torch(z, temperature):
    """SimCLR's loss written directly in torch: 2N views, positives i <-> i+N, no self pairs."""
    n = z.shape[0] // 2
    u = TF.normalize(z, dim=1)
    sim = u @ u.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return TF.cross_entropy(sim, labels)


@SETTINGS
@given(n=st.integers(1, 6), d=st.integers(2, 8), temperature=st.sampled_from([0.1, 0.5, 1.0]),
       split=st.booleans(), dtype=st.sampled_from(["float64", "float32"]), seed=seeds)
def test_nt_xent_matches_reference(n, d, temperature, split, dtype, seed):
    z = np.random.default_rng(seed).standard_normal((2 * n, d))
    zo, zt = pair(z, dtype)
    lo = F.nt_xent_loss(zo[:n], zo[n:], temperature) if split else F.nt_xent_loss(zo, temperature=temperature)
    lt = nt_xent_torch(zt, temperature)
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lo.detach().numpy(), lt.detach().numpy(), **tol)
    lo.backward()
    lt.backward()
    np.testing.assert_allclose(zo.grad.numpy(), zt.grad.numpy(), **tol)


def test_nt_xent_properties_and_gradcheck():
    rng = np.random.default_rng(0)
    z1 = rng.standard_normal((4, 3))
    # identical views are the easiest case: lower loss than unrelated views
    same = F.nt_xent_loss(tg.tensor(z1), tg.tensor(z1), 0.2).item()
    other = F.nt_xent_loss(tg.tensor(z1), tg.tensor(rng.standard_normal((4, 3))), 0.2).item()
    assert same < other
    # scale-invariant (cosine similarity)
    assert abs(F.nt_xent_loss(tg.tensor(3 * z1), tg.tensor(z1), 0.2).item() - same) < 1e-6
    a, b = (tg.tensor(v, requires_grad=True) for v in rng.standard_normal((2, 3, 4)))
    assert gradcheck(lambda a, b: F.nt_xent_loss(a, b, 0.5), (a, b))
    with pytest.raises(ValueError, match="2N"):
        F.nt_xent_loss(tg.randn(3, 4))
    with pytest.raises(ValueError, match="temperature"):
        F.nt_xent_loss(tg.randn(4, 4), temperature=0)


# ---- loss modules --------------------------------------------------------------------------
def test_loss_modules_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    w = rng.random(4) + 0.5
    cases = [
        (nn.CrossEntropyLoss(weight=tg.tensor(w), label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1), y),
        (nn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"), y),
        (nn.MultiMarginLoss(), torch.nn.MultiMarginLoss(), y),
        (nn.BCEWithLogitsLoss(pos_weight=tg.tensor(w)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)),
         rng.random((5, 4))),
        (nn.MSELoss(), torch.nn.MSELoss(), rng.standard_normal((5, 4))),
        (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none"), rng.standard_normal((5, 4))),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), rng.standard_normal((5, 4))),
        (nn.BCELoss(), torch.nn.BCELoss(), rng.random((5, 4))),
    ]
    for ours, theirs, target in cases:
        assert list(ours.state_dict()) == list(theirs.state_dict()), type(ours).__name__
        xi = 1 / (1 + np.exp(-x)) if isinstance(ours, nn.BCELoss) else x
        xo, xt = pair(xi)
        tt = torch.tensor(target)
        lo, lt = ours(xo, tg.tensor(target)), theirs(xt, tt)
        check_close(lo, lt)
        backprop_both(lo, lt)
        check_close(xo.grad, xt.grad)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="bad")


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_normalize_and_cosine_similarity_match_torch(p):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 4, 5))
    ao, at = pair(a)
    bo, bt = pair(b)
    check_close(F.normalize(ao, p=p, dim=1), TF.normalize(at, p=p, dim=1))
    lo, lt = F.cosine_similarity(ao, bo, dim=1), TF.cosine_similarity(at, bt, dim=1)
    check_close(lo, lt)
    backprop_both(lo, lt)
    check_close(ao.grad, at.grad)
    check_close(bo.grad, bt.grad)
    assert gradcheck(lambda x: F.normalize(x, p=p, dim=0), (tg.tensor(a, requires_grad=True),))
