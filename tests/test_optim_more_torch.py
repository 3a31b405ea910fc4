"""Adagrad, Adamax, NAdam and RAdam against torch.optim (the oracle): 30 steps over two
parameter groups with parameters that miss their gradient in some steps, in float64 (to
1e-12) and float32 (to rounding); their state (names and values), state_dict round trips that
continue bit-equal, torch's state dicts loaded and continued (and ours loaded by torch), the
update split over two intra-op threads equal to one thread, the constructors' positional
order, torch's keyword switches and the argument checks.
"""
import copy

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import optim, threads

SHAPES = [(3, 5), (4,), (2, 3)]        # group 0: the first two; group 1: the last
STEPS = 30

CASES = [
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adagrad", {"maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "momentum_decay": 0.01, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1,
               "decoupled_weight_decay": True, "maximize": True}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def _values(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(dtype, steps=STEPS, seed=1):
    """Per step, the gradient of each parameter or None (the second parameter has none every
    third step, the third every fourth)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        gs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        if t % 3 == 1:
            gs[1] = None
        if t % 4 == 2:
            gs[2] = None
        out.append(gs)
    return out


def _build(lib, module, name, kwargs, values):
    params = [lib.tensor(v.copy(), requires_grad=True) for v in values]
    group1 = {"params": params[2:], "lr": 0.003, "weight_decay": 0.05}
    opt = getattr(module, name)([{"params": params[:2]}, group1], **kwargs)
    return params, opt


def _run(lib, params, opt, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else lib.tensor(g.copy())
        opt.step()


def _numpy(x):
    """A copy of a tensor of either library as a numpy array."""
    return x.detach().numpy().copy()


def _ours(name, kwargs, dtype, grads, values=None):
    params, opt = _build(tg, optim, name, kwargs, _values(dtype) if values is None else values)
    _run(tg, params, opt, grads)
    return params, opt


def _theirs(name, kwargs, dtype, grads):
    params, opt = _build(torch, torch.optim, name, kwargs, _values(dtype))
    _run(torch, params, opt, grads)
    return params, opt


def _state_arrays(opt):
    """{(param index, key): value as numpy or float} of a state dict's state."""
    out = {}
    for idx, pstate in opt.state_dict()["state"].items():
        for k, v in pstate.items():
            out[(int(idx), k)] = (_numpy(v) if hasattr(v, "shape") and len(v.shape) else
                                  float(v.item() if hasattr(v, "item") else v))
    return out


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thirty_steps_of_two_groups_match_torch(name, kwargs, dtype):
    grads = _grads(dtype)
    ours, opt = _ours(name, kwargs, dtype, grads)
    theirs, topt = _theirs(name, kwargs, dtype, grads)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-6, atol=2e-7)
    for o, t, v in zip(ours, theirs, _values(dtype)):
        assert o.dtype == tg.float64 if dtype == np.float64 else o.dtype == tg.float32
        assert not np.array_equal(_numpy(o), v)
        np.testing.assert_allclose(_numpy(o), _numpy(t), **tol)
    mine, torch_state = _state_arrays(opt), _state_arrays(topt)
    assert set(mine) == set(torch_state)
    for key, value in torch_state.items():
        np.testing.assert_allclose(mine[key], value, **tol, err_msg=str(key))
    groups = opt.state_dict()["param_groups"]
    assert [set(g) for g in groups] == [set(g) for g in topt.state_dict()["param_groups"]]


def test_adagrad_makes_its_state_when_built_like_torch():
    values = _values(np.float64)
    _, opt = _build(tg, optim, "Adagrad", {"initial_accumulator_value": 0.25}, values)
    _, topt = _build(torch, torch.optim, "Adagrad", {"initial_accumulator_value": 0.25}, values)
    mine, theirs = _state_arrays(opt), _state_arrays(topt)
    assert set(mine) == set(theirs) == {(i, k) for i in range(3) for k in ("step", "sum")}
    for key, value in theirs.items():
        np.testing.assert_array_equal(mine[key], value)


@pytest.mark.parametrize("name, kwargs", CASES[1::2], ids=IDS[1::2])
def test_state_dict_round_trip_continues_bit_equal(name, kwargs, tmp_path):
    grads = _grads(np.float32)
    straight, _ = _ours(name, kwargs, np.float32, grads)
    params, opt = _ours(name, kwargs, np.float32, grads[:13])
    path = tmp_path / "opt.safetensors"
    tg.save(opt.state_dict(), path)
    in_memory = copy.deepcopy(opt.state_dict())
    for saved in (tg.load(path), in_memory):
        values = [_numpy(p) for p in params]
        resumed_params, resumed = _build(tg, optim, name, kwargs, values)
        resumed.load_state_dict(saved)
        _run(tg, resumed_params, resumed, grads[13:])
        for a, b in zip(resumed_params, straight):
            np.testing.assert_array_equal(_numpy(a), _numpy(b))
    whole = tmp_path / "whole.safetensors"            # the optimizer object itself
    tg.save({"opt": opt}, whole)
    loaded = tg.load(whole)["opt"]
    assert type(loaded) is type(opt)
    loaded_params = [p for g in loaded.param_groups for p in g["params"]]
    _run(tg, loaded_params, loaded, grads[13:])
    for a, b in zip(loaded_params, straight):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_torch_state_dict_loads_and_continues(name, kwargs):
    """Torch's state dict after 12 steps, loaded into ours, continues like torch; ours after
    12 steps, loaded into torch, continues like ours."""
    grads = _grads(np.float64)
    theirs, topt = _theirs(name, kwargs, np.float64, grads)
    head, head_opt = _theirs(name, kwargs, np.float64, grads[:12])
    params, opt = _build(tg, optim, name, kwargs, [_numpy(p) for p in head])
    opt.load_state_dict(head_opt.state_dict())
    _run(tg, params, opt, grads[12:])
    for o, t in zip(params, theirs):
        np.testing.assert_allclose(_numpy(o), _numpy(t), rtol=1e-12, atol=1e-14)

    ours_head, ours_opt = _ours(name, kwargs, np.float64, grads[:12])
    state = ours_opt.state_dict()
    as_torch = {"param_groups": state["param_groups"],
                "state": {i: {k: torch.from_numpy(_numpy(v)) if isinstance(v, tg.Tensor)
                              else v for k, v in s.items()} for i, s in state["state"].items()}}
    tparams, topt2 = _build(torch, torch.optim, name, kwargs, [_numpy(p) for p in ours_head])
    topt2.load_state_dict(as_torch)
    _run(torch, tparams, topt2, grads[12:])
    for o, t in zip(tparams, theirs):
        np.testing.assert_allclose(_numpy(o), _numpy(t), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, kwargs", CASES[1::2], ids=IDS[1::2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_split_over_two_threads_equals_one_thread(name, kwargs, dtype, two_threads,
                                                         monkeypatch):
    grads = _grads(dtype, steps=8)
    monkeypatch.setattr(threads, "MIN_WORK", 2)
    parts, real_run = [], threads.run

    def spy(calls):
        calls = list(calls)
        parts.append(len(calls))
        real_run(calls)

    monkeypatch.setattr(threads, "run", spy)
    split, _ = _ours(name, kwargs, dtype, grads)
    assert parts and all(n == 2 for n in parts)
    tg.set_num_threads(1)
    serial, _ = _ours(name, kwargs, dtype, grads)
    assert len(parts) == len(grads)           # no split with one thread
    for a, b in zip(split, serial):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


def _one_step(module, lib, name, args, kwargs):
    rng = np.random.default_rng(5)
    value, grad = rng.standard_normal(4), rng.standard_normal(4)
    p = lib.tensor(value, requires_grad=True)
    opt = getattr(module, name)([p], *args, **kwargs)
    for _ in range(7):
        p.grad = lib.tensor(grad)
        opt.step()
    return np.asarray(p.detach().tolist()), opt


@pytest.mark.parametrize("name, args", [
    ("Adagrad", (0.05, 0.01, 0.1, 0.5, 1e-6)),
    ("Adamax", (0.01, (0.8, 0.9), 1e-6, 0.1)),
    ("NAdam", (0.01, (0.8, 0.9), 1e-6, 0.1, 0.01, True)),
    ("RAdam", (0.01, (0.5, 0.6), 1e-6, 0.1, True)),
])
def test_positional_arguments_and_defaults_mean_what_they_mean_in_torch(name, args):
    for given in (args, ()):
        ours, opt = _one_step(optim, tg, name, given, {})
        theirs, topt = _one_step(torch.optim, torch, name, given, {})
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert opt.defaults == topt.defaults


@pytest.mark.parametrize("name", ["Adagrad", "Adamax", "NAdam", "RAdam"])
def test_torch_kernel_switches_are_accepted_and_unsupported_modes_raise(name):
    torch_keys = set(getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
                     .param_groups[0]) - {"params"}
    plain, opt = _one_step(optim, tg, name, (), {})
    assert set(opt.param_groups[0]) - {"params"} == torch_keys
    for key in ("foreach", "fused"):
        if key in torch_keys:
            for value in (True, False):
                switched, _ = _one_step(optim, tg, name, (), {key: value})
                np.testing.assert_array_equal(switched, plain)
        else:
            with pytest.raises(TypeError):
                getattr(optim, name)([tg.zeros(2, requires_grad=True)], **{key: None})
    for key in ("capturable", "differentiable"):
        if key in torch_keys:
            with pytest.raises(NotImplementedError, match=key):
                _one_step(optim, tg, name, (), {key: True})
            _, opt = _one_step(optim, tg, name, (), {})
            with pytest.raises(NotImplementedError, match=key):
                opt.add_param_group({"params": [tg.zeros(2, requires_grad=True)], key: True})


BAD = [
    ("Adagrad", {"lr": -0.1}, "learning rate"),
    ("Adagrad", {"lr_decay": -1.0}, "lr_decay"),
    ("Adagrad", {"weight_decay": -1.0}, "weight_decay"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("Adagrad", {"eps": -1.0}, "epsilon"),
    ("Adamax", {"lr": -0.1}, "learning rate"),
    ("Adamax", {"eps": -1.0}, "epsilon"),
    ("Adamax", {"betas": (1.0, 0.9)}, "beta parameter at index 0"),
    ("Adamax", {"betas": (0.9, -0.5)}, "beta parameter at index 1"),
    ("Adamax", {"weight_decay": -1.0}, "weight_decay"),
    ("NAdam", {"lr": -0.1}, "learning rate"),
    ("NAdam", {"eps": -1.0}, "epsilon"),
    ("NAdam", {"betas": (-0.1, 0.9)}, "beta parameter at index 0"),
    ("NAdam", {"betas": (0.9, 1.0)}, "beta parameter at index 1"),
    ("NAdam", {"weight_decay": -1.0}, "weight_decay"),
    ("NAdam", {"momentum_decay": -1.0}, "momentum_decay"),
    ("RAdam", {"lr": -0.1}, "learning rate"),
    ("RAdam", {"eps": -1.0}, "epsilon"),
    ("RAdam", {"betas": (1.5, 0.9)}, "beta parameter at index 0"),
    ("RAdam", {"betas": (0.9, 1.0)}, "beta parameter at index 1"),
    ("RAdam", {"weight_decay": -1.0}, "weight_decay"),
]


@pytest.mark.parametrize("name, kwargs, word", BAD)
def test_bad_arguments_raise_like_torch_naming_the_argument(name, kwargs, word):
    with pytest.raises(ValueError, match=word):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=word):
        getattr(optim, name)([tg.zeros(2, requires_grad=True)], **kwargs)
    opt = getattr(optim, name)([tg.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=word):       # a group's own value is checked too
        opt.add_param_group({"params": [tg.zeros(2, requires_grad=True)], **kwargs})
