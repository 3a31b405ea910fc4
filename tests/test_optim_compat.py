"""Adadelta and LBFGS against torch.optim on the same model: the same parameters after several
steps (every option), the LBFGS closure, history and strong-Wolfe search, state_dict round
trips and the errors for what is not supported."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import nn, optim
from two_layer import TwoLayer, two_layer_problem


pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


def _problem(dtype, seed=0):
    return two_layer_problem(dtype, seed, samples=24)


def _pair(dtype=np.float64, seed=0):
    """(our model, torch parameters, loss closures' data) on the same weights."""
    weights, X, Y = _problem(dtype, seed)
    model = TwoLayer(weights)
    tparams = [torch.tensor(w.copy(), requires_grad=True) for w in weights]
    return model, tparams, X, Y


def _loss_ours(model, X, Y):
    return ((model(tg.Tensor(X)) - tg.Tensor(Y)) ** 2).mean()


def _loss_torch(ps, X, Y):
    return (((torch.tensor(X) @ ps[0] + ps[1]).tanh() @ ps[2] - torch.tensor(Y)) ** 2).mean()


def _assert_params_equal(model, tparams, atol=1e-6, rtol=1e-6):
    for ours, theirs in zip(model.parameters(), tparams):
        np.testing.assert_allclose(ours.numpy() if not ours.requires_grad else
                                   ours.detach().numpy(), theirs.detach().numpy(),
                                   atol=atol, rtol=rtol)


# ---- Adadelta ------------------------------------------------------------------------------------
@settings(max_examples=4, deadline=None)
@given(st.sampled_from([1.0, 0.5]), st.sampled_from([0.9, 0.5, 1.0]),
       st.sampled_from([1e-6, 1e-3]), st.sampled_from([0.0, 0.1]), st.booleans(),
       st.sampled_from([np.float32, np.float64]))
def test_adadelta_matches_torch(lr, rho, eps, weight_decay, maximize, dtype):
    kw = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
    if rho == 1.0 and maximize:
        # rho = 1 keeps the averages at 0: plain gradient ascent with step lr, whose loss grows
        # to ~1e9 in 8 steps and amplifies float32 rounding to ~2% (1e-11 in float64)
        dtype = np.float64
    model, tparams, X, Y = _pair(dtype)
    ours = optim.Adadelta(model.parameters(), **kw)
    theirs = torch.optim.Adadelta(tparams, **kw)
    for _ in range(6):
        ours.zero_grad()
        _loss_ours(model, X, Y).backward()
        ours.step()
        theirs.zero_grad()
        _loss_torch(tparams, X, Y).backward()
        theirs.step()
    _assert_params_equal(model, tparams)
    for i, p in enumerate(tparams):
        s = theirs.state[p]
        o = ours.state_dict()["state"][i]
        assert o["step"] == int(s["step"])
        for k in ("square_avg", "acc_delta"):
            np.testing.assert_allclose(o[k].numpy(), s[k].numpy(), rtol=1e-5, atol=1e-7)


def test_adadelta_param_groups_and_state_dict_round_trip():
    model, tparams, X, Y = _pair()
    ps = list(model.parameters())
    groups = [dict(params=ps[:1], lr=0.5), dict(params=ps[1:], rho=0.8)]
    ours = optim.Adadelta(groups, lr=1.0)
    theirs = torch.optim.Adadelta([dict(params=tparams[:1], lr=0.5),
                                   dict(params=tparams[1:], rho=0.8)], lr=1.0)
    for step in range(6):
        if step == 3:     # a fresh optimizer resumes from the saved state
            sd = ours.state_dict()
            ours = optim.Adadelta(groups, lr=1.0)
            ours.load_state_dict(sd)
            assert ours.param_groups[1]["rho"] == 0.8
        ours.zero_grad()
        _loss_ours(model, X, Y).backward()
        ours.step()
        theirs.zero_grad()
        _loss_torch(tparams, X, Y).backward()
        theirs.step()
    _assert_params_equal(model, tparams, atol=1e-10, rtol=1e-10)


def test_adadelta_rejects_bad_and_unsupported_arguments():
    p = [nn.Parameter(tg.zeros(2))]
    with pytest.raises(ValueError, match="rho"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        optim.Adadelta(p, eps=-1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adadelta(p, lr=-1)
    with pytest.raises(NotImplementedError, match="capturable"):
        optim.Adadelta(p, capturable=True)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adadelta(p, differentiable=True)
    optim.Adadelta(p, foreach=True)   # accepted: only picks torch's kernel


# ---- LBFGS ---------------------------------------------------------------------------------------
def _run_lbfgs(kw, steps, dtype=np.float64, seed=0):
    model, tparams, X, Y = _pair(dtype, seed)
    ours = optim.LBFGS(model.parameters(), **kw)
    theirs = torch.optim.LBFGS(tparams, **kw)

    def closure_ours():
        ours.zero_grad()
        loss = _loss_ours(model, X, Y)
        loss.backward()
        return loss

    def closure_torch():
        theirs.zero_grad()
        loss = _loss_torch(tparams, X, Y)
        loss.backward()
        return loss

    for _ in range(steps):
        lo, lt = ours.step(closure_ours), theirs.step(closure_torch)
        np.testing.assert_allclose(float(lo), float(lt.detach()), rtol=1e-6, atol=1e-9)
    return model, tparams, ours, theirs


@pytest.mark.parametrize("kw", [
    dict(),                                                          # torch's defaults
    dict(lr=0.5, max_iter=5, history_size=3),                        # the history wraps
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", max_iter=4, history_size=2, lr=0.8),
    dict(max_iter=3, max_eval=2, tolerance_change=1e-5),
])
def test_lbfgs_matches_torch(kw):
    model, tparams, ours, theirs = _run_lbfgs(kw, steps=2)
    _assert_params_equal(model, tparams, atol=1e-8, rtol=1e-8)
    so, st_ = ours.state[next(iter(model.parameters()))], theirs.state[tparams[0]]
    assert (so["n_iter"], so["func_evals"]) == (st_["n_iter"], st_["func_evals"])
    assert len(so["old_dirs"]) == len(st_["old_dirs"])
    np.testing.assert_allclose(so["d"], st_["d"].numpy(), rtol=1e-6, atol=1e-9)


def test_lbfgs_float32_matches_torch():
    model, tparams, *_ = _run_lbfgs(dict(line_search_fn="strong_wolfe", max_iter=5), steps=2,
                                    dtype=np.float32)
    _assert_params_equal(model, tparams, atol=1e-5, rtol=1e-4)


def test_lbfgs_solves_a_quadratic():
    """On f(x) = 1/2 x^T A x - b^T x (A SPD) both variants reach A^-1 b."""
    rng = np.random.default_rng(2)
    M = rng.normal(size=(6, 6))
    A, b = M @ M.T + 6 * np.eye(6), rng.normal(size=6)
    for search in (None, "strong_wolfe"):
        x = nn.Parameter(tg.zeros(6, dtype="float64"))
        opt = optim.LBFGS([x], line_search_fn=search, max_iter=50, tolerance_change=1e-14,
                          tolerance_grad=1e-10)

        def closure():
            opt.zero_grad()
            loss = 0.5 * (x * (tg.Tensor(A) @ x)).sum() - (tg.Tensor(b) * x).sum()
            loss.backward()
            return loss

        for _ in range(5):
            opt.step(closure)
        np.testing.assert_allclose(x.detach().numpy(), np.linalg.solve(A, b), atol=1e-6)


def test_lbfgs_state_dict_round_trip_continues_like_torch():
    kw = dict(line_search_fn="strong_wolfe", max_iter=3, history_size=4)
    model, tparams, X, Y = _pair()
    ours = optim.LBFGS(model.parameters(), **kw)
    theirs = torch.optim.LBFGS(tparams, **kw)

    def make(opt, loss_fn):
        def closure():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss
        return closure

    for step in range(4):
        if step == 2:
            sd = ours.state_dict()
            assert isinstance(sd["state"][0]["d"], tg.Tensor)
            ours = optim.LBFGS(model.parameters(), **kw)
            ours.load_state_dict(sd)
        ours.step(make(ours, lambda: _loss_ours(model, X, Y)))
        theirs.step(make(theirs, lambda: _loss_torch(tparams, X, Y)))
    _assert_params_equal(model, tparams, atol=1e-8, rtol=1e-8)


def test_lbfgs_errors():
    p = [nn.Parameter(tg.zeros(2))]
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS(p, line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([dict(params=p), dict(params=[nn.Parameter(tg.zeros(1))])])
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS(p).step()
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS(p, history_size=0)


def test_lbfgs_and_adadelta_load_torch_state_and_survive_save_load():
    """torch's LBFGS state (flat tensors, 0-d tensors, lists) loads into ours, which then
    continues exactly as torch; both optimizers' states pass through tinygrad_cv.save/load."""
    import io
    kw = dict(line_search_fn="strong_wolfe", max_iter=3, history_size=4)
    model, tparams, X, Y = _pair()
    theirs = torch.optim.LBFGS(tparams, **kw)

    def closure_torch():
        theirs.zero_grad()
        loss = _loss_torch(tparams, X, Y)
        loss.backward()
        return loss

    theirs.step(closure_torch)
    theirs.step(closure_torch)
    for p, t in zip(model.parameters(), tparams):
        p.array[...] = t.detach().numpy()
    ours = optim.LBFGS(model.parameters(), **kw)
    ours.load_state_dict(theirs.state_dict())

    def closure_ours():
        ours.zero_grad()
        loss = _loss_ours(model, X, Y)
        loss.backward()
        return loss

    ours.step(closure_ours)
    theirs.step(closure_torch)
    _assert_params_equal(model, tparams, atol=1e-12, rtol=1e-12)
    for opt in (ours, optim.Adadelta(model.parameters())):
        if isinstance(opt, optim.LBFGS):
            opt.step(closure_ours)
        else:
            closure_ours()
            opt.step()
        buf = io.BytesIO()
        tg.save(opt.state_dict(), buf)
        buf.seek(0)
        fresh = type(opt)(model.parameters())
        fresh.load_state_dict(tg.load(buf))
        a, b = opt.state_dict()["state"][0], fresh.state_dict()["state"][0]
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], tg.Tensor):
                np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
