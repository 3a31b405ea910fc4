"""Optimizers, schedulers and EMA against torch.optim: same parameter trajectory, same rates."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import nn, optim
from tinygrad_cv.optim import lr_scheduler as ours_sched
from two_layer import TwoLayer, two_layer_problem

STEPS = 20


_problem = two_layer_problem


def _loss_ours(model, X, Y):
    return ((model(tg.Tensor(X)) - tg.Tensor(Y)) ** 2).mean()


def _loss_torch(ps, X, Y):
    return (((torch.tensor(X) @ ps[0] + ps[1]).tanh() @ ps[2] - torch.tensor(Y)) ** 2).mean()


def _groups(params, group_kwargs):
    """One group per entry of group_kwargs (params split as [w1], [b1, w2]) or a plain list."""
    if group_kwargs is None:
        return list(params)
    params = list(params)
    return [dict(params=params[:1], **group_kwargs[0]), dict(params=params[1:], **group_kwargs[1])]


def run_ours(opt_cls, kwargs, group_kwargs=None, sched=None, steps=STEPS):
    weights, X, Y = _problem()
    model = TwoLayer(weights)
    opt = opt_cls(_groups(model.parameters(), group_kwargs), **kwargs)
    scheduler = sched[0](opt, **sched[1]) if sched else None
    for _ in range(steps):
        opt.zero_grad()
        _loss_ours(model, X, Y).backward()
        opt.step()
        if scheduler:
            scheduler.step()
    return [p.array.copy() for p in model.parameters()]


def run_torch(opt_cls, kwargs, group_kwargs=None, sched=None, steps=STEPS):
    weights, X, Y = _problem()
    ps = [torch.tensor(w, requires_grad=True) for w in weights]
    opt = opt_cls(_groups(ps, group_kwargs), **kwargs)
    scheduler = sched[0](opt, **sched[1]) if sched else None
    for _ in range(steps):
        opt.zero_grad()
        _loss_torch(ps, X, Y).backward()
        opt.step()
        if scheduler:
            scheduler.step()
    return [p.detach().numpy() for p in ps]


def assert_same_trajectory(ours, theirs, rtol=1e-5, atol=1e-8):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.01)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_trajectory_matches_torch(name, kwargs):
    ours = run_ours(getattr(optim, name), kwargs)
    theirs = run_torch(getattr(torch.optim, name), kwargs)
    assert_same_trajectory(ours, theirs)
    assert not np.allclose(ours[0], _problem()[0][0])  # the parameters did move


@pytest.mark.parametrize("name,group_kwargs", [
    ("SGD", [dict(lr=0.1, momentum=0.9), dict(lr=0.01, nesterov=True, momentum=0.5)]),
    ("RMSprop", [dict(lr=0.02), dict(lr=0.001, centered=True)]),
    ("Adam", [dict(lr=0.1, amsgrad=True), dict(lr=0.01, weight_decay=0.1)]),
    ("AdamW", [dict(lr=0.1), dict(lr=0.01, weight_decay=0.5)]),
])
def test_param_groups_with_different_hyperparameters(name, group_kwargs):
    ours = run_ours(getattr(optim, name), {}, group_kwargs)
    theirs = run_torch(getattr(torch.optim, name), {}, group_kwargs)
    assert_same_trajectory(ours, theirs)


def test_trajectory_with_scheduler():
    sched_ours = (ours_sched.StepLR, dict(step_size=5, gamma=0.5))
    sched_torch = (torch.optim.lr_scheduler.StepLR, dict(step_size=5, gamma=0.5))
    ours = run_ours(optim.Adam, dict(lr=0.1, amsgrad=True), sched=sched_ours)
    theirs = run_torch(torch.optim.Adam, dict(lr=0.1, amsgrad=True), sched=sched_torch)
    assert_same_trajectory(ours, theirs)


# ---- float32: identical gradient sequences, so only the update arithmetic is compared -------
def _float32_grad(p, target):
    return (np.sin(3 * p) + 0.5 * p - target).astype(np.float32)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_float32_updates_match_torch(name, kwargs):
    rng = np.random.default_rng(1)
    init = rng.normal(size=(3, 5)).astype(np.float32)
    target = rng.normal(size=(3, 5)).astype(np.float32)
    p = nn.Parameter(tg.Tensor(init.copy()))
    q = torch.tensor(init.copy(), requires_grad=True)
    o1, o2 = getattr(optim, name)([p], **kwargs), getattr(torch.optim, name)([q], **kwargs)
    for _ in range(STEPS):
        p.grad = tg.Tensor(_float32_grad(p.array, target))
        q.grad = torch.from_numpy(_float32_grad(q.detach().numpy(), target))
        o1.step()
        o2.step()
    assert p.array.dtype == np.float32
    for key, value in o2.state[q].items():
        ours = o1.state[p][key]
        if key == "step":
            assert ours == int(value)
        else:
            assert ours.dtype == tg.float32
            # float32 rounding may differ by an ulp of the buffer's largest entries
            scale = float(np.abs(value.numpy()).max())
            np.testing.assert_allclose(ours.array, value.numpy(), rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-7)


# ---- hypothesis over hyper-parameters --------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(lr=st.floats(1e-3, 0.2), momentum=st.floats(0.0, 0.95), dampening=st.floats(0.0, 0.5),
       weight_decay=st.floats(0.0, 0.2), nesterov=st.booleans())
def test_sgd_hyperparameters(lr, momentum, dampening, weight_decay, nesterov):
    if nesterov:
        momentum, dampening = max(momentum, 0.1), 0.0
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
              nesterov=nesterov)
    assert_same_trajectory(run_ours(optim.SGD, kw, steps=8), run_torch(torch.optim.SGD, kw, steps=8))


@settings(max_examples=20, deadline=None)
@given(lr=st.floats(1e-3, 0.1), b1=st.floats(0.0, 0.95), b2=st.floats(0.5, 0.9999),
       eps=st.sampled_from([1e-8, 1e-6, 1e-3]), weight_decay=st.floats(0.0, 0.2),
       amsgrad=st.booleans(), decoupled=st.booleans())
def test_adam_hyperparameters(lr, b1, b2, eps, weight_decay, amsgrad, decoupled):
    kw = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    name = "AdamW" if decoupled else "Adam"
    assert_same_trajectory(run_ours(getattr(optim, name), kw, steps=8),
                           run_torch(getattr(torch.optim, name), kw, steps=8))


@settings(max_examples=20, deadline=None)
@given(lr=st.floats(1e-3, 0.05), alpha=st.floats(0.5, 0.999), momentum=st.floats(0.0, 0.9),
       weight_decay=st.floats(0.0, 0.2), centered=st.booleans())
def test_rmsprop_hyperparameters(lr, alpha, momentum, weight_decay, centered):
    kw = dict(lr=lr, alpha=alpha, momentum=momentum, weight_decay=weight_decay, centered=centered)
    assert_same_trajectory(run_ours(optim.RMSprop, kw, steps=8),
                           run_torch(torch.optim.RMSprop, kw, steps=8))


# ---- behaviour ------------------------------------------------------------------------------
def test_params_without_grad_are_skipped_and_zero_grad():
    a, b = nn.Parameter(tg.ones(3)), nn.Parameter(tg.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    assert b.grad is None and np.array_equal(b.array, np.ones(2, np.float32))
    assert b not in opt.state and opt.state[a]["step"] == 1
    assert not np.allclose(a.array, 1)
    opt.zero_grad(set_to_none=False)
    assert np.array_equal(a.grad.array, np.zeros(3))
    opt.zero_grad()
    assert a.grad is None


def test_step_closure_returns_loss():
    p = nn.Parameter(tg.Tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.array, [0.0, 0.0])


def test_invalid_hyperparameters_raise_value_error():
    p = [nn.Parameter(tg.ones(2))]
    with pytest.raises(ValueError, match="learning rate.*-0.1"):
        optim.SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="beta parameter at index 0.*1.5"):
        optim.Adam(p, betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.AdamW(p, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="epsilon.*-1e-08"):
        optim.RMSprop(p, eps=-1e-8)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(p, lr=0.1, momentum=-1)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.Adam(p, weight_decay=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([{"params": p, "lr": -1.0}], lr=0.1)


def test_parameter_in_two_groups_raises():
    a, b = nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(3))
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a, b]}, {"params": [a]}], lr=0.1)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([a, a], lr=0.1)


def test_add_param_group_uses_defaults():
    a, b = nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is b


def test_state_dict_structure_matches_torch():
    kw = dict(lr=0.05, amsgrad=True)
    weights, X, Y = _problem()
    model = TwoLayer(weights)
    ps = [torch.tensor(w, requires_grad=True) for w in weights]
    o1 = optim.Adam([{"params": [model.w1]}, {"params": [model.b1, model.w2], "lr": 0.01}], **kw)
    o2 = torch.optim.Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.01}], **kw)
    for _ in range(3):
        o1.zero_grad(), o2.zero_grad()
        _loss_ours(model, X, Y).backward(), _loss_torch(ps, X, Y).backward()
        o1.step(), o2.step()
    s1, s2 = o1.state_dict(), o2.state_dict()
    assert set(s1["state"]) == set(s2["state"]) == {0, 1, 2}
    for i in s2["state"]:
        assert list(s1["state"][i]) == list(s2["state"][i])
        assert s1["state"][i]["step"] == int(s2["state"][i]["step"])
        np.testing.assert_allclose(s1["state"][i]["exp_avg"].array, s2["state"][i]["exp_avg"].numpy(),
                                   rtol=1e-10)
    for g1, g2 in zip(s1["param_groups"], s2["param_groups"]):
        assert g1["params"] == g2["params"]
        for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
            assert g1[key] == g2[key]
    # torch's state dict loads into a fresh optimizer of ours, which then continues like torch
    o3 = optim.Adam([{"params": [model.w1]}, {"params": [model.b1, model.w2]}], lr=0.5)
    o3.load_state_dict(o2.state_dict())
    assert o3.param_groups[1]["lr"] == 0.01 and o3.param_groups[0]["amsgrad"] is True
    for _ in range(3):
        o3.zero_grad(), o2.zero_grad()
        _loss_ours(model, X, Y).backward(), _loss_torch(ps, X, Y).backward()
        o3.step(), o2.step()
    assert_same_trajectory([p.array for p in model.parameters()], [p.detach().numpy() for p in ps],
                           rtol=1e-10)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
])
def test_state_dict_round_trip_then_continue(name, kwargs):
    """Stop after k steps, load the state into a fresh optimizer, continue: same as uninterrupted."""
    k = 7
    uninterrupted = run_ours(getattr(optim, name), kwargs)
    weights, X, Y = _problem()
    model = TwoLayer(weights)
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    for _ in range(k):
        opt.zero_grad()
        _loss_ours(model, X, Y).backward()
        opt.step()
    saved_model = {key: v.array.copy() for key, v in model.state_dict().items()}
    saved_opt = opt.state_dict()
    # a different model object and optimizer (with other hyper-parameters) resume from it
    model2 = TwoLayer([w * 0 for w in weights])
    model2.load_state_dict(saved_model)
    opt2 = getattr(optim, name)(model2.parameters(), lr=1.0)
    opt2.load_state_dict(saved_opt)
    # the loaded state is a copy: stepping the old optimizer does not change the new one
    before = {i: {key: (v.array.copy() if hasattr(v, "array") else v) for key, v in s.items()}
              for i, s in opt2.state_dict()["state"].items()}
    opt.zero_grad()
    _loss_ours(model, X, Y).backward()
    opt.step()
    for i, s in opt2.state_dict()["state"].items():
        for key, v in s.items():
            assert np.array_equal(v.array if hasattr(v, "array") else v, before[i][key])
    for _ in range(STEPS - k):
        opt2.zero_grad()
        _loss_ours(model2, X, Y).backward()
        opt2.step()
    for a, b in zip([p.array for p in model2.parameters()], uninterrupted):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_validates_before_changing_anything():
    a, b = nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(3))
    opt = optim.Adam([a, b], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    other = optim.Adam([nn.Parameter(tg.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters"):
        other.load_state_dict(sd)
    wrong_shape = optim.Adam([nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(4))], lr=0.3)
    with pytest.raises(ValueError, match=r"exp_avg' of parameter 1 has shape \(3,\)"):
        wrong_shape.load_state_dict(sd)
    assert wrong_shape.state == {} and wrong_shape.param_groups[0]["lr"] == 0.3
    with pytest.raises(ValueError, match="groups"):
        wrong_shape.load_state_dict({"state": {}, "param_groups": []})
    bad_lr = {"state": {}, "param_groups": [dict(sd["param_groups"][0], lr=-1.0)]}
    fresh = optim.Adam([nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(3))], lr=0.3)
    with pytest.raises(ValueError, match="learning rate"):
        fresh.load_state_dict(bad_lr)
    assert fresh.param_groups[0]["lr"] == 0.3


# ---- schedulers: the lr sequence over 30 epochs equals torch's ------------------------------
SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 22], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=30)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e) + 0.01 * e)),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.9, total_iters=8)),
    ("LinearLR", dict()),
]


def _lr_sequence(opt_module, sched_module, name, kwargs, epochs=30, build=None):
    p1, p2 = [torch.zeros(2, requires_grad=True)], [torch.zeros(3, requires_grad=True)]
    if opt_module is optim:
        p1, p2 = [nn.Parameter(tg.zeros(2))], [nn.Parameter(tg.zeros(3))]
    opt = opt_module.SGD([{"params": p1}, {"params": p2, "lr": 0.02}], lr=0.1, momentum=0.9)
    sched = build(opt, sched_module) if build else getattr(sched_module, name)(opt, **kwargs)
    seq = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == seq[-1]
    return seq


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[s[0] + str(i) for i, s in enumerate(SCHEDULERS)])
def test_scheduler_matches_torch(name, kwargs):
    ours = _lr_sequence(optim, ours_sched, name, kwargs)
    theirs = _lr_sequence(torch.optim, torch.optim.lr_scheduler, name, kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_linear_warmup_then_cosine_matches_torch_sequential():
    def build(opt, mod):
        if mod is ours_sched:
            warm = mod.LinearWarmup(opt, warmup_epochs=5, start_factor=0.1)
        else:
            warm = mod.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5)
        cos = mod.CosineAnnealingLR(opt, T_max=20, eta_min=1e-4)
        return mod.SequentialLR(opt, [warm, cos], milestones=[5])

    ours = _lr_sequence(optim, ours_sched, None, None, build=build)
    theirs = _lr_sequence(torch.optim, torch.optim.lr_scheduler, None, None, build=build)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert ours[0][0] == pytest.approx(0.01) and ours[5][0] == pytest.approx(0.1)


def test_linear_warmup_values():
    p = nn.Parameter(tg.zeros(2))
    opt = optim.SGD([p], lr=1.0)
    sched = ours_sched.LinearWarmup(opt, warmup_epochs=4, start_factor=0.2)
    seq = [sched.get_last_lr()[0]]
    for _ in range(6):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(seq, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("name,kwargs", SCHEDULERS[:5], ids=[s[0] + str(i) for i, s in enumerate(SCHEDULERS[:5])])
def test_scheduler_state_dict_resume(name, kwargs):
    full = _lr_sequence(optim, ours_sched, name, kwargs, epochs=25)
    p = [nn.Parameter(tg.zeros(2))], [nn.Parameter(tg.zeros(3))]
    opt = optim.SGD([{"params": p[0]}, {"params": p[1], "lr": 0.02}], lr=0.1, momentum=0.9)
    sched = getattr(ours_sched, name)(opt, **kwargs)
    for _ in range(11):
        opt.step()
        sched.step()
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_state
    q = [nn.Parameter(tg.zeros(2))], [nn.Parameter(tg.zeros(3))]
    opt2 = optim.SGD([{"params": q[0]}, {"params": q[1], "lr": 0.02}], lr=0.1, momentum=0.9)
    sched2 = getattr(ours_sched, name)(opt2, **kwargs)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert sched2.get_last_lr() == full[11]
    seq = []
    for _ in range(14):
        opt2.step()
        sched2.step()
        seq.append(sched2.get_last_lr())
    assert seq == full[12:]


def test_lambda_scheduler_state_dict_skips_functions():
    opt = optim.SGD([nn.Parameter(tg.zeros(2))], lr=0.1)
    sched = ours_sched.LambdaLR(opt, lambda e: 0.5 ** e)
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None]
    sched.load_state_dict(sd)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.05]


# ---- EMA -----------------------------------------------------------------------------------
class _WithBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(tg.Tensor(np.array([1.0, 2.0])))
        self.register_buffer("count", tg.Tensor(np.array([0.0])))


def test_ema_update_apply_restore():
    model = _WithBuffer()
    ema = optim.EMA(model, decay=0.9)
    shadow = np.array([1.0, 2.0])
    rng = np.random.default_rng(0)
    for i in range(5):
        model.w.array[...] = rng.normal(size=2)
        model.count.array[...] = i + 1
        ema.update()
        shadow = 0.9 * shadow + 0.1 * model.w.array
    np.testing.assert_allclose(ema.shadow["w"], shadow, rtol=1e-6)
    assert ema.shadow["count"][0] == 5 and ema.num_updates == 5
    current = model.w.array.copy()
    with ema.average_parameters():
        np.testing.assert_allclose(model.w.array, shadow, rtol=1e-6)
    np.testing.assert_array_equal(model.w.array, current)
    ema.store()
    ema.apply_to()
    np.testing.assert_allclose(model.w.array, shadow, rtol=1e-6)
    ema.restore()
    np.testing.assert_array_equal(model.w.array, current)
    with pytest.raises(RuntimeError, match="store"):
        ema.restore()
    other = _WithBuffer()
    ema.apply_to(other)
    np.testing.assert_allclose(other.w.array, shadow, rtol=1e-6)


def test_ema_matches_torch_averaged_model_formula():
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    weights, X, Y = _problem()
    model = TwoLayer(weights)
    tmodel = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(w)) for w in weights])
    ema = optim.EMA(model, decay=0.95)
    tema = AveragedModel(tmodel, multi_avg_fn=get_ema_multi_avg_fn(0.95))
    tema.update_parameters(tmodel)  # torch's first call copies; ours starts from the copy
    opt = optim.SGD(model.parameters(), lr=0.1)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    for _ in range(10):
        opt.zero_grad(), topt.zero_grad()
        _loss_ours(model, X, Y).backward()
        _loss_torch(list(tmodel), X, Y).backward()
        opt.step(), topt.step()
        ema.update()
        tema.update_parameters(tmodel)
    for name, tp in zip(["w1", "b1", "w2"], tema.module):
        np.testing.assert_allclose(ema.shadow[name], tp.detach().numpy(), rtol=1e-10)


def test_ema_state_dict_round_trip_and_validation():
    model = _WithBuffer()
    ema = optim.EMA(model, decay=0.5)
    model.w.array[...] = 3.0
    ema.update()
    sd = ema.state_dict()
    ema2 = optim.EMA(_WithBuffer(), decay=0.1)
    ema2.load_state_dict(sd)
    assert ema2.decay == 0.5 and ema2.num_updates == 1
    np.testing.assert_array_equal(ema2.shadow["w"], [2.0, 2.5])
    bad = {"shadow": {"w": tg.zeros(3), "count": tg.zeros(1)}}
    with pytest.raises(ValueError, match="'w' has shape"):
        ema2.load_state_dict(bad)
    np.testing.assert_array_equal(ema2.shadow["w"], [2.0, 2.5])
    with pytest.raises(ValueError, match="decay"):
        optim.EMA(model, decay=1.5)


def test_optimizer_on_device(device, to_device):
    init = np.linspace(-1, 1, 6).reshape(2, 3)
    p = nn.Parameter(tg.Tensor(to_device(init.copy())))
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()
    assert p.device == device and opt.state[p]["exp_avg"].device == device
    q = torch.tensor(init, requires_grad=True)
    topt = torch.optim.Adam([q], lr=0.1, amsgrad=True)
    for _ in range(3):
        topt.zero_grad()
        (q ** 2).sum().backward()
        topt.step()
    np.testing.assert_allclose(tg.backend.to_numpy(p.array), q.detach().numpy(), rtol=1e-10)
    assert math.isfinite(float(tg.backend.to_numpy(p.array).sum()))
