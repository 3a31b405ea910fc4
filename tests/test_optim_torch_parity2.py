"""Rprop and ASGD, optimizer hooks and a Tensor learning rate against torch.optim (the oracle).

Rprop and ASGD: 30 steps over two parameter groups whose parameters miss their gradient in
some steps (and get all-zero gradients in others), float64 (to 1e-12) and float32 (to
rounding), hypothesis over the hyper-parameters; their state (names, order, values), state
dict round trips that continue bit-equal, torch's state dicts loaded and continued (and ours
loaded by torch), the update split over two threads equal to one, the argument checks.

Hooks: the same script of registrations, steps, state_dict and load_state_dict calls run on
both libraries records the same events (order, arguments, return values, removal, prepend),
for the global step hooks as well, and for LBFGS.

Tensor lr: every optimizer stepped with ``lr=tensor(...)`` as torch (also a float32 lr on
float64 parameters, whose formulas torch rounds in float32), the Tensor kept in the group, the
refusals torch makes, state dicts with it (torch's too), and every scheduler filling the Tensor
in place with torch's sequence of rates.

Every optimizer: scalar (0-d) parameters, non-finite gradients and random hyper-parameters
against torch; optimizers written for torch (no ``lr``, ``self.state[p]`` as a defaultdict).
"""
import copy

import numpy as np
import pytest
import torch
import torch.optim.optimizer as torch_optimizer
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import optim, threads
from tinygrad_cv.optim import optimizer as tg_optimizer

SHAPES = [(3, 5), (4,), (2, 1, 3)]       # group 0: the first two; group 1: the last
STEPS = 30


def _values(dtype, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _grads(dtype, steps=STEPS, shapes=SHAPES, seed=1):
    """Per step, each parameter's gradient or None: the second misses it every third step,
    the third every fourth; every fifth step the first one's is all zeros (Rprop's third
    case, a zero product)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        gs = [rng.standard_normal(s).astype(dtype) for s in shapes]
        if t % 3 == 1:
            gs[1] = None
        if t % 4 == 2:
            gs[2] = None
        if t % 5 == 3:
            gs[0] = np.zeros_like(gs[0])
        out.append(gs)
    return out


def _build(lib, module, name, kwargs, values, group1=None):
    params = [lib.tensor(v.copy(), requires_grad=True) for v in values]
    group1 = {"lr": 0.003} if group1 is None else group1
    opt = getattr(module, name)([{"params": params[:2]}, {"params": params[2:], **group1}],
                                **kwargs)
    return params, opt


def _run(lib, params, opt, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else lib.tensor(g.copy())
        opt.step()


def _numpy(x):
    return x.detach().numpy().copy()


def _pair(name, kwargs, dtype, grads, group1=None, values=None):
    values = _values(dtype) if values is None else values
    ours, opt = _build(tg, optim, name, kwargs, values, group1)
    _run(tg, ours, opt, grads)
    theirs, topt = _build(torch, torch.optim, name, kwargs, values, group1)
    _run(torch, theirs, topt, grads)
    return ours, opt, theirs, topt


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-6, atol=2e-7)


def _state(opt):
    """[(param index, key, value as numpy)] of a state dict's state, in its order."""
    out = []
    for idx, pstate in opt.state_dict()["state"].items():
        for k, v in pstate.items():
            value = _numpy(v) if hasattr(v, "detach") else np.asarray(v)
            out.append((int(idx), k, value))
    return out


def _assert_state_matches(opt, topt, dtype):
    mine, theirs = _state(opt), _state(topt)
    assert [(i, k) for i, k, _ in mine] == [(i, k) for i, k, _ in theirs]
    for (_, k, a), (_, _, b) in zip(mine, theirs):
        assert a.shape == b.shape, k
        np.testing.assert_allclose(a, b, **_tol(dtype), err_msg=k)


CASES = [
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"lr": 0.02, "etas": (0.7, 1.1), "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.02, "t0": 3, "lambd": 0.1, "maximize": True, "weight_decay": 0.05}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thirty_steps_of_two_groups_match_torch(name, kwargs, dtype):
    ours, opt, theirs, topt = _pair(name, kwargs, dtype, _grads(dtype))
    for o, t, v in zip(ours, theirs, _values(dtype)):
        assert o.dtype == (tg.float64 if dtype == np.float64 else tg.float32)
        assert not np.array_equal(_numpy(o), v)
        np.testing.assert_allclose(_numpy(o), _numpy(t), **_tol(dtype))
    _assert_state_matches(opt, topt, dtype)
    groups, tgroups = opt.state_dict()["param_groups"], topt.state_dict()["param_groups"]
    assert [list(g) for g in groups] == [list(g) for g in tgroups]
    assert groups == tgroups


@settings(max_examples=12, deadline=None, derandomize=True)
@given(lr=st.floats(1e-4, 0.5), etaminus=st.floats(0.05, 0.95), etaplus=st.floats(1.05, 3.0),
       low=st.floats(1e-8, 1e-2), high=st.floats(0.05, 60.0), maximize=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_rprop_matches_torch_over_hyperparameters(lr, etaminus, etaplus, low, high, maximize,
                                                  dtype):
    kwargs = dict(lr=lr, etas=(etaminus, etaplus), step_sizes=(low, high), maximize=maximize)
    grads = _grads(dtype, steps=20)
    ours, opt, theirs, topt = _pair("Rprop", kwargs, dtype, grads, group1={})
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(_numpy(o), _numpy(t), **_tol(dtype))
    _assert_state_matches(opt, topt, dtype)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(lr=st.floats(1e-4, 0.3), lambd=st.floats(0.0, 0.5), alpha=st.floats(0.0, 1.0),
       t0=st.integers(0, 25), weight_decay=st.floats(0.0, 0.5), maximize=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_asgd_matches_torch_over_hyperparameters(lr, lambd, alpha, t0, weight_decay, maximize,
                                                 dtype):
    kwargs = dict(lr=lr, lambd=lambd, alpha=alpha, t0=float(t0), weight_decay=weight_decay,
                  maximize=maximize)
    grads = _grads(dtype, steps=20)
    ours, opt, theirs, topt = _pair("ASGD", kwargs, dtype, grads, group1={})
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(_numpy(o), _numpy(t), **tol)


def test_asgd_scalars_are_float32_zero_dim_tensors_like_torch():
    ours, opt, theirs, topt = _pair("ASGD", {"t0": 2}, np.float64, _grads(np.float64, 5))
    for pstate, tstate in zip(opt.state.values(), topt.state.values()):
        for key in ("eta", "mu"):
            assert pstate[key].shape == tstate[key].shape == ()
            assert pstate[key].dtype == tg.float32 and tstate[key].dtype == torch.float32
            assert pstate[key].item() == tstate[key].item()


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_continues_bit_equal(name, kwargs, tmp_path):
    grads = _grads(np.float32)
    straight, _ = _build(tg, optim, name, kwargs, _values(np.float32))
    _run(tg, straight, _, grads)
    params, opt = _build(tg, optim, name, kwargs, _values(np.float32))
    _run(tg, params, opt, grads[:13])
    path = tmp_path / "opt.safetensors"
    tg.save(opt.state_dict(), path)
    for saved in (tg.load(path), copy.deepcopy(opt.state_dict())):
        resumed_params, resumed = _build(tg, optim, name, kwargs, [_numpy(p) for p in params])
        resumed.load_state_dict(saved)
        _run(tg, resumed_params, resumed, grads[13:])
        for a, b in zip(resumed_params, straight):
            np.testing.assert_array_equal(_numpy(a), _numpy(b))
    whole = tmp_path / "whole.safetensors"
    tg.save({"opt": opt}, whole)
    loaded = tg.load(whole)["opt"]
    assert type(loaded) is type(opt)
    loaded_params = [p for g in loaded.param_groups for p in g["params"]]
    _run(tg, loaded_params, loaded, grads[13:])
    for a, b in zip(loaded_params, straight):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_state_dict_loads_and_continues_and_ours_loads_into_torch(name, kwargs, dtype):
    grads = _grads(dtype)
    _, _, theirs, _ = _pair(name, kwargs, dtype, grads)
    head, head_opt = _build(torch, torch.optim, name, kwargs, _values(dtype))
    _run(torch, head, head_opt, grads[:12])
    params, opt = _build(tg, optim, name, kwargs, [_numpy(p) for p in head])
    opt.load_state_dict(head_opt.state_dict())
    _run(tg, params, opt, grads[12:])
    for o, t in zip(params, theirs):
        np.testing.assert_allclose(_numpy(o), _numpy(t), **_tol(dtype))

    ours_head, ours_opt = _build(tg, optim, name, kwargs, _values(dtype))
    _run(tg, ours_head, ours_opt, grads[:12])
    state = ours_opt.state_dict()
    as_torch = {"param_groups": state["param_groups"],
                "state": {i: {k: torch.from_numpy(_numpy(v)) if isinstance(v, tg.Tensor) else v
                              for k, v in s.items()} for i, s in state["state"].items()}}
    tparams, topt = _build(torch, torch.optim, name, kwargs, [_numpy(p) for p in ours_head])
    topt.load_state_dict(as_torch)
    _run(torch, tparams, topt, grads[12:])
    for o, t in zip(tparams, theirs):
        np.testing.assert_allclose(_numpy(o), _numpy(t), **_tol(dtype))


def test_asgd_scalars_take_the_parameter_dtype_after_a_load_like_torch():
    _, opt, _, topt = _pair("ASGD", {}, np.float64, _grads(np.float64, 4))
    params, fresh = _build(tg, optim, "ASGD", {}, _values(np.float64))
    tparams, tfresh = _build(torch, torch.optim, "ASGD", {}, _values(np.float64))
    fresh.load_state_dict(opt.state_dict())
    tfresh.load_state_dict(topt.state_dict())
    for pstate, tstate in zip(fresh.state.values(), tfresh.state.values()):
        assert pstate["eta"].dtype == tg.float64 and tstate["eta"].dtype == torch.float64
        assert pstate["mu"].shape == tstate["mu"].shape == ()


@pytest.mark.parametrize("name, kwargs", CASES[1::2], ids=IDS[1::2])
def test_update_split_over_two_threads_equals_one_thread(name, kwargs, two_threads,
                                                         monkeypatch):
    grads = _grads(np.float64, steps=8)
    monkeypatch.setattr(threads, "MIN_WORK", 2)
    parts, real_run = [], threads.run

    def spy(calls):
        calls = list(calls)
        parts.append(len(calls))
        real_run(calls)

    monkeypatch.setattr(threads, "run", spy)
    split, opt = _build(tg, optim, name, kwargs, _values(np.float64))
    _run(tg, split, opt, grads)
    assert parts and all(n == 2 for n in parts)
    tg.set_num_threads(1)
    serial, opt = _build(tg, optim, name, kwargs, _values(np.float64))
    _run(tg, serial, opt, grads)
    for a, b in zip(split, serial):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


def _seven_steps(module, lib, name, args, kwargs):
    rng = np.random.default_rng(5)
    value = rng.standard_normal(4)
    p = lib.tensor(value, requires_grad=True)
    opt = getattr(module, name)([p], *args, **kwargs)
    for _ in range(7):
        p.grad = lib.tensor(rng.standard_normal(4))
        opt.step()
    return np.asarray(p.detach().tolist()), opt


@pytest.mark.parametrize("name, args", [
    ("Rprop", (0.05, (0.4, 1.3), (1e-4, 1.0))),
    ("ASGD", (0.05, 0.01, 0.6, 3.0, 0.1)),
])
def test_positional_arguments_and_defaults_mean_what_they_mean_in_torch(name, args):
    for given_args in (args, ()):
        ours, opt = _seven_steps(optim, tg, name, given_args, {})
        theirs, topt = _seven_steps(torch.optim, torch, name, given_args, {})
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert {k: (list(v) if isinstance(v, tuple) else v) for k, v in opt.defaults.items()} \
            == {k: (list(v) if isinstance(v, tuple) else v) for k, v in topt.defaults.items()}
        assert list(opt.param_groups[0]) == list(topt.param_groups[0])


@pytest.mark.parametrize("name", ["Rprop", "ASGD"])
def test_torch_kernel_switches_are_accepted_and_unsupported_modes_raise(name):
    plain, _ = _seven_steps(optim, tg, name, (), {})
    for value in (True, False, None):
        switched, _ = _seven_steps(optim, tg, name, (), {"foreach": value})
        np.testing.assert_array_equal(switched, plain)
    for lib, module in ((torch, torch.optim), (tg, optim)):
        with pytest.raises(TypeError):
            getattr(module, name)([lib.zeros(2, requires_grad=True)], fused=True)
    for key in ("capturable", "differentiable"):
        with pytest.raises(NotImplementedError, match=key):
            _seven_steps(optim, tg, name, (), {key: True})
        _, opt = _seven_steps(optim, tg, name, (), {})
        with pytest.raises(NotImplementedError, match=key):
            opt.add_param_group({"params": [tg.zeros(2, requires_grad=True)], key: True})


BAD = [
    ("Rprop", {"lr": -0.1}, "learning rate"),
    ("Rprop", {"etas": (1.0, 1.2)}, "eta values: 1.0, 1.2"),
    ("Rprop", {"etas": (0.5, 0.9)}, "eta values: 0.5, 0.9"),
    ("Rprop", {"etas": (0.0, 1.2)}, "eta values: 0.0, 1.2"),
    ("ASGD", {"lr": -0.1}, "learning rate"),
    ("ASGD", {"weight_decay": -1.0}, "weight_decay"),
]


@pytest.mark.parametrize("name, kwargs, words", BAD)
def test_bad_arguments_raise_like_torch(name, kwargs, words):
    with pytest.raises(ValueError, match=words):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=words):
        getattr(optim, name)([tg.zeros(2, requires_grad=True)], **kwargs)
    opt = getattr(optim, name)([tg.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=words):     # a group's own value is checked too
        opt.add_param_group({"params": [tg.zeros(2, requires_grad=True)], **kwargs})


# ---- hooks --------------------------------------------------------------------------------------
def _hook_script(lib, module, global_hooks):
    """Registrations, steps and state-dict calls on one library; returns the events seen."""
    events = []
    p = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = module.SGD([p], lr=0.1, momentum=0.9)

    def pre(tag, replace=None):
        def hook(o, args, kwargs):
            assert o is opt and args[0] is opt
            events.append((tag, len(args), sorted(kwargs)))
            return replace(args, kwargs) if replace else None
        return hook

    def post(tag):
        def hook(o, args, kwargs):
            events.append((tag, len(args), sorted(kwargs)))
        return hook

    handles = [global_hooks.register_optimizer_step_pre_hook(pre("global pre")),
               global_hooks.register_optimizer_step_post_hook(post("global post"))]
    try:
        h1 = opt.register_step_pre_hook(pre("pre 1"))
        opt.register_step_pre_hook(pre("pre 2", lambda a, k: (a, {"closure": lambda: 4.5})))
        opt.register_step_post_hook(post("post 1"))
        h4 = opt.register_step_post_hook(post("post 2"))
        p.grad = lib.ones(3)
        events.append(("step returned", opt.step()))       # pre 2's closure replaces None
        h1.remove()
        h4.remove()
        h4.remove()                                         # removing twice is harmless
        events.append(("step returned", opt.step(closure=None)))
        for h in handles:
            h.remove()
        handles = []
        opt.step()
    finally:
        for h in handles:
            h.remove()

    opt.register_state_dict_pre_hook(lambda o: events.append(("sd pre a",)))
    opt.register_state_dict_pre_hook(lambda o: events.append(("sd pre b",)), prepend=True)
    opt.register_state_dict_post_hook(
        lambda o, sd: events.append(("sd post a", sorted(sd), sd["param_groups"][0]["lr"])))

    def extend(o, sd):
        events.append(("sd post b", sorted(sd)))
        return {**sd, "extra": 7}

    h = opt.register_state_dict_post_hook(extend, prepend=True)
    sd = opt.state_dict()
    events.append(("sd keys", sorted(sd)))
    h.remove()
    sd = opt.state_dict()
    events.append(("sd keys", sorted(sd)))

    def halve(o, sd):
        events.append(("load pre a", sorted(sd)))
        groups = [dict(g, lr=g["lr"] / 2) for g in sd["param_groups"]]
        return {**sd, "param_groups": groups}

    opt.register_load_state_dict_pre_hook(halve)
    opt.register_load_state_dict_pre_hook(
        lambda o, sd: events.append(("load pre b", sd["param_groups"][0]["lr"])), prepend=True)
    opt.register_load_state_dict_post_hook(
        lambda o: events.append(("load post a", o.param_groups[0]["lr"])))
    opt.register_load_state_dict_post_hook(lambda o: events.append(("load post b",)),
                                           prepend=True)
    given_dict = opt.state_dict()
    opt.load_state_dict(given_dict)
    events.append(("given dict unchanged", given_dict["param_groups"][0]["lr"]))
    events.append(("lr", opt.param_groups[0]["lr"]))
    events.append(("p", [round(float(v), 10) for v in p.detach().tolist()]))
    return events


def test_hooks_run_in_torch_order_with_torch_arguments_and_results():
    ours = _hook_script(tg, optim, tg_optimizer)
    theirs = _hook_script(torch, torch.optim, torch_optimizer)
    assert ours == theirs
    assert ("step returned", 4.5) in ours


def test_a_pre_hook_returning_something_else_raises_like_torch():
    for lib, module in ((tg, optim), (torch, torch.optim)):
        p = lib.zeros(2, requires_grad=True)
        opt = module.Adam([p])
        opt.register_step_pre_hook(lambda o, a, k: 5)
        with pytest.raises(RuntimeError, match="must return None or a tuple of "
                                               r"\(new_args, new_kwargs\), but got 5"):
            opt.step()


def test_lbfgs_and_subclass_steps_run_the_hooks_once():
    def closure_for(p):
        def closure():
            p.grad = None
            loss = (p * p).sum()
            loss.backward()
            return loss
        return closure

    counts = []
    for lib, module in ((tg, optim), (torch, torch.optim)):
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        opt = module.LBFGS([p], max_iter=3)
        seen = []
        opt.register_step_pre_hook(lambda o, a, k: seen.append("pre"))
        opt.register_step_post_hook(lambda o, a, k: seen.append("post"))
        opt.step(closure_for(p))
        counts.append(seen)
    assert counts[0] == counts[1] == ["pre", "post"]

    class Clipped(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt, seen = Clipped([p], lr=0.1), []
    opt.register_step_pre_hook(lambda o, a, k: seen.append("pre"))
    handle = tg_optimizer.register_optimizer_step_post_hook(lambda o, a, k: seen.append("g"))
    try:
        p.grad = tg.ones(2)
        opt.step()
    finally:
        handle.remove()
    assert seen == ["pre", "g"]
    np.testing.assert_allclose(_numpy(p), [0.9, 1.9])


def test_hooks_are_not_saved_or_copied_with_the_optimizer(tmp_path):
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt, seen = optim.SGD([p], lr=0.1), []
    opt.register_step_pre_hook(lambda o, a, k: seen.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: seen.append("sd"))
    tg.save({"opt": opt}, tmp_path / "opt.safetensors")
    loaded = tg.load(tmp_path / "opt.safetensors")["opt"]
    clone = copy.deepcopy(opt)
    for other in (loaded, clone):
        other.param_groups[0]["params"][0].grad = tg.ones(2)
        other.step()
        other.state_dict()
    assert seen == []
    p.grad = tg.ones(2)
    opt.step()
    assert seen == ["pre"]


# ---- a Tensor learning rate ---------------------------------------------------------------------
TENSOR_LR_CASES = [
    ("SGD", {"momentum": 0.9, "weight_decay": 0.1}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "fused": True}),
    ("Adam", {"weight_decay": 0.1, "foreach": False}),
    ("Adam", {"amsgrad": True, "fused": True}),
    ("AdamW", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True, "foreach": True}),
    ("Adadelta", {"foreach": True}),
    ("Adagrad", {"lr_decay": 0.01}),
    ("Adagrad", {"lr_decay": 0.01, "weight_decay": 0.1, "fused": True}),
    ("AdamW", {"fused": True}),
    ("Adamax", {}),
    ("NAdam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("RAdam", {"weight_decay": 0.1}),
    ("Rprop", {"foreach": True}),
    ("ASGD", {"t0": 3, "lambd": 0.01}),
]
TENSOR_LR_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(TENSOR_LR_CASES)]


@pytest.mark.parametrize("name, kwargs", TENSOR_LR_CASES, ids=TENSOR_LR_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_tensor_lr_steps_like_torch_and_stays_in_the_group(name, kwargs, dtype):
    grads = _grads(dtype)
    results = []
    for lib, module in ((tg, optim), (torch, torch.optim)):
        lr_dtype = getattr(lib, np.dtype(dtype).name)
        lr, lr1 = lib.tensor(0.02, dtype=lr_dtype), lib.tensor([0.005], dtype=lr_dtype)
        params, opt = _build(lib, module, name, dict(kwargs, lr=lr), _values(dtype),
                             {"lr": lr1})
        _run(lib, params, opt, grads)
        assert opt.param_groups[0]["lr"] is lr and opt.param_groups[1]["lr"] is lr1
        assert opt.defaults["lr"] is lr
        results.append([_numpy(p) for p in params])
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t, **_tol(dtype))


def test_lbfgs_with_a_tensor_lr_matches_torch():
    results = []
    for lib, module in ((tg, optim), (torch, torch.optim)):
        p = lib.tensor([1.5, -0.5, 2.0], dtype=lib.float64, requires_grad=True)
        opt = module.LBFGS([p], lr=lib.tensor(0.5, dtype=lib.float64), max_iter=4)

        def closure():
            opt.zero_grad()
            loss = ((p - 1) ** 4).sum() + (p * p).sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        results.append(_numpy(p))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


ALL_OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "Adamax", "NAdam",
                  "RAdam", "Rprop", "ASGD", "LBFGS"]


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_tensor_lr_refusals_match_torch(name):
    for lib, module in ((tg, optim), (torch, torch.optim)):
        cls = getattr(module, name)
        p = lib.zeros(2, requires_grad=True)
        with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
            cls([p], lr=lib.tensor([0.1, 0.2]))
        with pytest.raises(ValueError, match="learning rate"):
            cls([p], lr=lib.tensor(-0.1))
        if name in ("Adam", "AdamW"):
            with pytest.raises(ValueError, match="lr as a Tensor is not supported for "
                                                 "capturable=False and foreach=True"):
                cls([p], lr=lib.tensor(0.1), foreach=True)
        cls([p], lr=lib.tensor([0.1]))
    opt = getattr(optim, name)([tg.zeros(2, requires_grad=True)])
    if name != "LBFGS":                         # a group's own Tensor lr is checked as well
        with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
            opt.add_param_group({"params": [tg.zeros(2, requires_grad=True)],
                                 "lr": tg.tensor([0.1, 0.2])})


def test_a_tensor_lr_round_trips_through_the_state_dict(tmp_path):
    grads = _grads(np.float64)
    results = []
    for lib, module in ((tg, optim), (torch, torch.optim)):
        params, opt = _build(lib, module, "Adam", {"lr": lib.tensor(0.02, dtype=lib.float64)},
                             _values(np.float64), {})
        _run(lib, params, opt, grads[:10])
        saved = opt.state_dict()
        if lib is tg:
            tg.save(saved, tmp_path / "opt.safetensors")
            saved = tg.load(tmp_path / "opt.safetensors")
        fresh_params, fresh = _build(lib, module, "Adam", {}, [_numpy(p) for p in params], {})
        fresh.load_state_dict(saved)
        lr = fresh.param_groups[0]["lr"]
        assert type(lr) is lib.Tensor and lr.item() == 0.02
        assert lr is not opt.param_groups[0]["lr"]
        _run(lib, fresh_params, fresh, grads[10:])
        results.append([_numpy(p) for p in fresh_params])
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)


SCHEDULERS = {
    "StepLR": lambda L, o, m: L.StepLR(o, 4, 0.5),
    "MultiStepLR": lambda L, o, m: L.MultiStepLR(o, [3, 7, 7, 20], 0.3),
    "ExponentialLR": lambda L, o, m: L.ExponentialLR(o, 0.93),
    "CosineAnnealingLR": lambda L, o, m: L.CosineAnnealingLR(o, 7, 0.001),
    "LambdaLR": lambda L, o, m: L.LambdaLR(o, lambda e: 0.9 ** e + 0.1),
    "MultiplicativeLR": lambda L, o, m: L.MultiplicativeLR(o, lambda e: 0.95),
    "LinearLR": lambda L, o, m: L.LinearLR(o, 0.2, 1.0, 10),
    "ConstantLR": lambda L, o, m: L.ConstantLR(o, 0.3, 5),
    "PolynomialLR": lambda L, o, m: L.PolynomialLR(o, 12, 2.0),
    "CosineAnnealingWarmRestarts":
        lambda L, o, m: L.CosineAnnealingWarmRestarts(o, 5, 2, 0.001),
    "OneCycleLR": lambda L, o, m: L.OneCycleLR(o, 0.5, total_steps=40),
    "CyclicLR": lambda L, o, m: L.CyclicLR(o, 0.01, 0.2, step_size_up=4),
    "ReduceLROnPlateau": lambda L, o, m: L.ReduceLROnPlateau(o, patience=2, factor=0.5),
    "SequentialLR": lambda L, o, m: L.SequentialLR(
        o, [L.LinearLR(o, 0.1, 1.0, 5), L.ExponentialLR(o, 0.9)], [5]),
    "ChainedScheduler": lambda L, o, m: L.ChainedScheduler(
        [L.ExponentialLR(o, 0.9), L.StepLR(o, 3, 0.5)]),
    "SWALR": lambda L, o, m: m.swa_utils.SWALR(o, 0.05, anneal_epochs=6),
    "SWALR-linear": lambda L, o, m: m.swa_utils.SWALR(o, [0.05, 0.01], anneal_epochs=6,
                                                      anneal_strategy="linear"),
}


def _lr_sequence(lib, module, make, dtype, steps=25):
    """The groups' rates and ``get_last_lr()`` after each of ``steps`` scheduler steps, with
    checks that the groups keep their own Tensors and the scheduler hands out copies."""
    lr_dtype = getattr(lib, dtype)
    ps = [lib.zeros(3, requires_grad=True), lib.zeros(2, requires_grad=True)]
    lrs = [lib.tensor(0.1, dtype=lr_dtype), lib.tensor(0.03, dtype=lr_dtype)]
    opt = module.SGD([{"params": ps[:1], "lr": lrs[0]}, {"params": ps[1:], "lr": lrs[1]}],
                     momentum=0.9)
    scheduler = make(module.lr_scheduler, opt, module)
    out = []
    for _ in range(steps):
        for p in ps:
            p.grad = lib.ones(p.shape)
        opt.step()
        if isinstance(scheduler, module.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)
        else:
            scheduler.step()
        last = scheduler.get_last_lr()
        assert all(g["lr"] is lr for g, lr in zip(opt.param_groups, lrs))
        assert all(type(v) is lib.Tensor and v is not lr for v, lr in zip(last, lrs))
        assert all(g["lr"].dtype == lr_dtype for g in opt.param_groups)
        out.append([float(g["lr"]) for g in opt.param_groups] + [float(v) for v in last])
    out.append([float(v) for p in ps for v in p.detach().reshape(-1).tolist()])
    return out


@pytest.mark.parametrize("name", list(SCHEDULERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_schedulers_fill_a_tensor_lr_in_place_with_torch_rates(name, dtype):
    ours = _lr_sequence(tg, optim, SCHEDULERS[name], dtype)
    theirs = _lr_sequence(torch, torch.optim, SCHEDULERS[name], dtype)
    np.testing.assert_allclose(np.array(ours[:-1]), np.array(theirs[:-1]), rtol=0, atol=0)
    np.testing.assert_allclose(ours[-1], theirs[-1], rtol=1e-6)     # float32 parameters


def test_scheduler_keeps_copies_of_a_tensor_lr_as_torch():
    for lib, module in ((tg, optim), (torch, torch.optim)):
        lr = lib.tensor(0.1)
        opt = module.SGD([lib.zeros(2, requires_grad=True)], lr=lr)
        scheduler = module.lr_scheduler.StepLR(opt, 1, 0.5)
        group = opt.param_groups[0]
        assert type(group["initial_lr"]) is lib.Tensor and group["initial_lr"] is not lr
        assert type(scheduler.base_lrs[0]) is lib.Tensor and scheduler.base_lrs[0] is not lr
        opt.step()
        scheduler.step()
        assert lr.item() == pytest.approx(0.05)
        assert group["initial_lr"].item() == pytest.approx(0.1)
        assert scheduler.base_lrs[0].item() == pytest.approx(0.1)


@pytest.mark.parametrize("name, kwargs", TENSOR_LR_CASES, ids=TENSOR_LR_IDS)
def test_a_float32_tensor_lr_on_float64_parameters_rounds_its_formulas_like_torch(name, kwargs):
    """torch computes the lr formulas (``lr / (1 - beta1^t)``, AdamW's ``1 - lr * wd``) in the
    Tensor's float32: the float64 parameters follow those roundings to 1e-12."""
    grads = _grads(np.float64)
    results = []
    for lib, module in ((tg, optim), (torch, torch.optim)):
        params, opt = _build(lib, module, name, dict(kwargs, lr=lib.tensor(0.02)),
                             _values(np.float64), {"lr": lib.tensor(0.005)})
        _run(lib, params, opt, grads)
        results.append([_numpy(p) for p in params])
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)


# ---- every optimizer: scalar parameters, non-finite gradients, random hyper-parameters ---------
STEPPED = ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD"]


def _random_hyperparameters(name, rng):
    """Hyper-parameters of ``name`` drawn from ``rng`` (torch's valid ranges)."""
    pick = rng.choice
    lr, wd, maximize = float(pick([0.0, 1e-3, 0.05, 0.3])), float(pick([0.0, 0.1])), \
        bool(rng.random() < 0.3)
    betas = (float(rng.uniform(0, 0.99)), float(rng.uniform(0.5, 0.9999)))
    common = dict(lr=lr, maximize=maximize)
    if name == "SGD":
        momentum = float(pick([0.0, 0.5, 0.9]))
        nesterov = bool(momentum > 0 and rng.random() < 0.5)
        return dict(common, momentum=momentum, nesterov=nesterov, weight_decay=wd,
                    dampening=0.0 if nesterov else float(pick([0.0, 0.3])))
    if name in ("Adam", "AdamW"):
        return dict(common, betas=betas, eps=float(pick([1e-8, 1e-3])), weight_decay=wd,
                    amsgrad=bool(rng.random() < 0.5))
    if name == "RMSprop":
        return dict(common, alpha=float(rng.uniform(0.5, 1)), weight_decay=wd,
                    momentum=float(pick([0.0, 0.5])), centered=bool(rng.random() < 0.5))
    if name == "Adadelta":
        return dict(common, rho=float(rng.uniform(0, 1)), weight_decay=wd)
    if name == "Adagrad":
        return dict(common, lr_decay=float(pick([0.0, 0.1])), weight_decay=wd,
                    initial_accumulator_value=float(pick([0.0, 0.5])))
    if name == "Adamax":
        return dict(common, betas=betas, weight_decay=wd)
    if name == "NAdam":
        return dict(common, betas=betas, weight_decay=wd,
                    momentum_decay=float(pick([4e-3, 0.1])),
                    decoupled_weight_decay=bool(rng.random() < 0.5))
    if name == "RAdam":
        return dict(common, betas=betas, weight_decay=wd,
                    decoupled_weight_decay=bool(rng.random() < 0.5))
    if name == "Rprop":
        return dict(common, etas=(float(rng.uniform(0.01, 0.99)), float(rng.uniform(1.01, 3))),
                    step_sizes=(float(pick([0.0, 1e-6, 1e-2])), float(pick([1e-3, 1.0, 50.0]))))
    return dict(common, lambd=float(pick([0.0, 1e-4, 0.1])), alpha=float(rng.uniform(0, 1)),
                t0=float(pick([0.0, 3.0, 1e6])), weight_decay=wd)


def _random_grads(rng, shapes, dtype, steps=20):
    """Gradients with missing ones, all-zero ones, huge ones and single inf/NaN entries."""
    out = []
    for _ in range(steps):
        gs = []
        for s in shapes:
            g, kind = rng.standard_normal(s).astype(dtype), rng.random()
            if kind < 0.1:
                g = None
            elif kind < 0.15:
                g = np.zeros(s, dtype)
            elif kind < 0.18:
                g = g * 1e6
            elif kind < 0.2:
                g.reshape(-1)[0] = np.inf if rng.random() < 0.5 else np.nan
            gs.append(g)
        out.append(gs)
    return out


def _compare_random_run(name, seed, dtype, shapes):
    rng = np.random.default_rng(seed)
    kwargs = _random_hyperparameters(name, rng)
    values = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = _random_grads(rng, shapes, dtype)
    ours, _, theirs, _ = _pair(name, kwargs, dtype, grads, group1={"lr": 0.01}, values=values)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for o, t in zip(ours, theirs):
        assert _numpy(o).shape == _numpy(t).shape
        np.testing.assert_allclose(_numpy(o), _numpy(t), equal_nan=True, **tol,
                                   err_msg=f"{name} {kwargs}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # inf/NaN gradients
@pytest.mark.parametrize("name", STEPPED)
def test_scalar_parameters_step_like_torch(name):
    """0-d parameters (a learned temperature or scale): the Adam family's updates failed on
    them ("return arrays must be of ArrayType")."""
    for seed, dtype in ((3, np.float64), (4, np.float32)):
        _compare_random_run(name, seed, dtype, [(), (2,), ()])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # inf/NaN gradients
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rprop_with_non_finite_gradients_matches_torch(seed):
    """torch's sign is 0 at NaN: a NaN gradient leaves its element and step size alone."""
    _compare_random_run("Rprop", 100 + seed, np.float32, [(3, 4), (5,), (1, 3)])
    _compare_random_run("Rprop", 200 + seed, np.float64, [(2, 2), (3,), ()])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # inf/NaN gradients
@settings(max_examples=25, deadline=None, derandomize=True)
@given(name=st.sampled_from(STEPPED), seed=st.integers(0, 2 ** 32 - 1),
       dtype=st.sampled_from([np.float64, np.float32]),
       shapes=st.lists(st.lists(st.integers(1, 4), max_size=3).map(tuple), min_size=3,
                       max_size=3))
def test_every_optimizer_matches_torch_over_random_hyperparameters(name, seed, dtype, shapes):
    _compare_random_run(name, seed, dtype, shapes)


def test_torch_state_dict_with_a_tensor_lr_and_scheduler_loads_and_continues():
    """torch's groups hold torch Tensors (lr, the scheduler's initial_lr): they load as ours."""
    grads = _grads(np.float64)
    results = []
    for lib, module in ((torch, torch.optim), (tg, optim)):
        params, opt = _build(torch, torch.optim, "AdamW",
                             {"lr": torch.tensor(0.02, dtype=torch.float64)},
                             _values(np.float64), {})
        scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)
        for gs in grads[:8]:
            for p, g in zip(params, gs):
                p.grad = None if g is None else torch.tensor(g)
            opt.step()
            scheduler.step()
        saved_opt = opt.state_dict()
        params, opt = _build(lib, module, "AdamW", {}, [_numpy(p) for p in params], {})
        opt.load_state_dict(saved_opt)
        assert all(type(g[k]) is lib.Tensor for g in opt.param_groups for k in ("lr", "initial_lr"))
        scheduler = module.lr_scheduler.ExponentialLR(opt, 0.9, last_epoch=7)
        lrs = []
        for gs in grads[8:]:
            for p, g in zip(params, gs):
                p.grad = None if g is None else lib.tensor(g)
            opt.step()
            scheduler.step()
            lrs.append(float(opt.param_groups[1]["lr"]))
        results.append((lrs, [_numpy(p) for p in params]))
    assert results[0][0] == results[1][0]
    for o, t in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)


def _sign_descent(lib, module):
    """An optimizer of one's own, written as for torch: no ``lr`` among its defaults."""
    class SignDescent(module.Optimizer):
        def __init__(self, params, step_size=0.1):
            super().__init__(params, {"step_size": step_size})

        def step(self, closure=None):
            with lib.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            p.add_(p.grad.sign(), alpha=-group["step_size"])
                            self.state[p]["count"] = self.state[p].get("count", 0) + 1

    return SignDescent


def test_an_optimizer_of_ones_own_without_lr_works_and_runs_hooks_like_torch():
    """The base class asked every group for an ``lr`` (KeyError): torch's does not."""
    results = []
    for lib, module, global_hooks in ((tg, optim, tg_optimizer),
                                      (torch, torch.optim, torch_optimizer)):
        p = lib.tensor([1.0, -2.0, 0.0], requires_grad=True)
        opt = _sign_descent(lib, module)([p], step_size=0.25)
        seen = []
        opt.register_step_post_hook(lambda o, a, k: seen.append("post"))
        handle = global_hooks.register_optimizer_step_pre_hook(lambda o, a, k: seen.append("pre"))
        try:
            for g in ([0.5, -0.5, 1.0], [-1.0, 2.0, 0.0]):
                p.grad = lib.tensor(g)
                opt.step()
        finally:
            handle.remove()
        opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
        sd = opt.state_dict()
        results.append((_numpy(p).tolist(), seen, sd["param_groups"], sd["state"]))
    assert results[0] == results[1]


def test_optimizer_state_reads_like_torchs_defaultdict():
    for lib, module in ((tg, optim), (torch, torch.optim)):
        p, q = lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)
        opt = module.SGD([p, q], lr=0.1, momentum=0.9)
        assert opt.state.get(q) is None and q not in opt.state and len(opt.state) == 0
        state = opt.state[p]
        assert state == {} and p in opt.state and len(opt.state) == 1
        state["mine"] = 1
        assert opt.state[p]["mine"] == 1 and opt.state.pop(q, "none") == "none"
        p.grad = lib.ones(2)
        opt.step()
        assert sorted(opt.state[p]) == ["mine", "momentum_buffer"]
        assert list(opt.state_dict()["state"]) == [0]


def test_a_wrapping_optimizer_that_skips_the_base_init_works_like_torch():
    """Lookahead-style wrappers set param_groups themselves: no ``state`` until they set one
    (AttributeError, as torch); the wrapped optimizer runs its hooks.  (torch cannot register
    hooks on such a wrapper, its hook dicts come from ``__init__``; here it can.)"""
    seen = []
    for lib, module in ((tg, optim), (torch, torch.optim)):
        class Wrapper(module.Optimizer):
            def __init__(self, base):
                self.base, self.param_groups, self.defaults = base, base.param_groups, \
                    base.defaults

            def step(self, closure=None):
                return self.base.step(closure)

        p = lib.zeros(2, requires_grad=True)
        base = module.SGD([p], lr=0.1)
        wrapper = Wrapper(base)
        assert not hasattr(wrapper, "state")
        events = []
        base.register_step_pre_hook(lambda o, a, k: events.append("base"))
        if lib is tg:
            wrapper.register_step_pre_hook(lambda o, a, k: events.append("wrapper"))
        p.grad = lib.ones(2)
        wrapper.step()
        seen.append((events, _numpy(p).tolist()))
    assert seen[0] == (["wrapper", "base"], seen[1][1]) and seen[1][0] == ["base"]


def _scheduled(lib, module, make, tensor_lr):
    ps = [lib.zeros(3, requires_grad=True), lib.zeros(2, requires_grad=True)]
    lr0, lr1 = (lib.tensor(0.1), lib.tensor(0.03)) if tensor_lr else (0.1, 0.03)
    opt = module.SGD([{"params": ps[:1], "lr": lr0}, {"params": ps[1:], "lr": lr1}],
                     momentum=0.9)
    return ps, opt, make(module.lr_scheduler, opt, module)


def _advance(lib, module, ps, opt, scheduler, steps):
    rates = []
    for _ in range(steps):
        for p in ps:
            p.grad = lib.ones(p.shape)
        opt.step()
        if isinstance(scheduler, module.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)
        else:
            scheduler.step()
        rates.append([float(g["lr"]) for g in opt.param_groups]
                     + [float(v) for v in scheduler.get_last_lr()])
    return rates


@pytest.mark.parametrize("name", list(SCHEDULERS))
@pytest.mark.parametrize("tensor_lr", [False, True])
def test_torch_scheduler_state_dicts_load_and_continue_with_torch_rates(name, tensor_lr):
    """torch's scheduler state dicts carry two transient flags (``_is_initial``,
    ``_get_lr_called_within_step``) that the loader refused, and torch Tensors."""
    make = SCHEDULERS[name]
    ps, topt, tscheduler = _scheduled(torch, torch.optim, make, tensor_lr)
    _advance(torch, torch.optim, ps, topt, tscheduler, 7)
    # copies: torch's state dicts share the group's Tensor lr, which the next steps fill
    saved_opt, saved_scheduler = copy.deepcopy((topt.state_dict(), tscheduler.state_dict()))
    theirs = _advance(torch, torch.optim, ps, topt, tscheduler, 10)
    ours_ps, opt, scheduler = _scheduled(tg, optim, make, tensor_lr)
    opt.load_state_dict(saved_opt)
    scheduler.load_state_dict(saved_scheduler)
    ours = _advance(tg, optim, ours_ps, opt, scheduler, 10)
    assert ours == theirs
    if tensor_lr:
        assert all(type(v) is tg.Tensor for v in scheduler.get_last_lr())
