"""Optimizers and schedulers against torch.optim where differential probes found them apart
(torch is the oracle): the warnings torch gives for misuse (scheduler before optimizer,
``get_lr()`` outside a step, ``step(epoch)``), ``zero_grad(set_to_none=False)`` after a
create_graph backward, LambdaLR's saved callable objects, nested SequentialLR, the
constructors' positional order and keyword switches, named parameters.

The rate sequences, resumes and state dicts of the schedulers and the trajectories of the
optimizers are compared with torch in tests/test_optim.py and tests/test_optim_compat.py.
"""
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import optim
from tinygrad_cv.optim import lr_scheduler as ours_sched
from torch.optim import lr_scheduler as torch_sched


def _optimizers(lrs=(0.1, 0.03)):
    """An SGD of ours and torch's with one group per rate."""
    ours = optim.SGD([{"params": [tg.Tensor(np.zeros(2), requires_grad=True)], "lr": lr}
                      for lr in lrs], lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, dtype=torch.float64,
                                                      requires_grad=True)], "lr": lr}
                              for lr in lrs], lr=0.1, momentum=0.9)
    return ours, theirs


def _messages(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


BEFORE = "before `optimizer.step()`"


@pytest.mark.parametrize("order", ["scheduler_first", "optimizer_first", "optimizer_before_build",
                                   "second_scheduler"])
def test_scheduler_step_before_optimizer_step_warns_like_torch(order):
    """torch warns (and only warns) at the first scheduler.step() when optimizer.step() has
    not run since a scheduler was built for the optimizer."""
    results = []
    for sched, opt in ((ours_sched, _optimizers()[0]), (torch_sched, _optimizers()[1])):
        if order == "optimizer_before_build":
            opt.step()
        if order == "second_scheduler":
            first = sched.ExponentialLR(opt, 0.9)
            opt.step()
            first.step()
        scheduler = sched.StepLR(opt, step_size=2, gamma=0.5)
        if order != "scheduler_first" and order != "optimizer_before_build":
            opt.step()
        first_step = _messages(scheduler.step)
        opt.step()
        later_step = _messages(scheduler.step)
        results.append(([BEFORE in m for m in first_step], [BEFORE in m for m in later_step],
                         scheduler.get_last_lr()))
    ours, theirs = results
    assert ours[:2] == theirs[:2]
    assert ours[2] == pytest.approx(theirs[2], rel=1e-15)
    assert any(ours[0]) == (order in ("scheduler_first", "optimizer_before_build"))


def test_scheduler_misuse_warning_keeps_optimizer_and_scheduler_saveable(tmp_path):
    opt = _optimizers()[0]
    scheduler = ours_sched.StepLR(opt, step_size=2)
    opt.step()
    scheduler.step()
    path = tmp_path / "ckpt.safetensors"
    tg.save({"opt": opt, "sched": scheduler}, path)
    loaded = tg.load(path)
    assert loaded["sched"].get_last_lr() == scheduler.get_last_lr()
    assert loaded["opt"].param_groups[0]["lr"] == opt.param_groups[0]["lr"]


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=7)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
])
def test_scheduler_step_with_epoch_is_deprecated_closed_form_like_torch(name, kwargs):
    """``scheduler.step(epoch)`` (deprecated in torch: a warning) sets ``last_epoch`` and
    uses the closed form; stepping on without an epoch continues from there."""
    (ours, theirs), rates = _optimizers(), []
    for sched, opt in ((ours_sched, ours), (torch_sched, theirs)):
        scheduler = getattr(sched, name)(opt, **kwargs)
        seq, messages = [], []
        for epoch in [3, 4, 10, 2, None, None, 7, None, 0, None]:
            opt.step()
            messages += _messages(lambda: scheduler.step() if epoch is None
                                  else scheduler.step(epoch))
            seq.append(scheduler.get_last_lr() + [scheduler.last_epoch])
        rates.append(np.array(seq))
        assert sum("epoch parameter" in m for m in messages) == 6
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-13, atol=0)


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=2)), ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=5)), ("LinearLR", dict(total_iters=3)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.5 ** e)),
])
def test_get_lr_outside_step_warns_like_torch(name, kwargs):
    """``get_lr()`` is the computation behind ``step()``; torch warns when it is called
    directly and points to ``get_last_lr()``; the rates it returns are torch's."""
    values = []
    for sched, opt in zip((ours_sched, torch_sched), _optimizers()):
        scheduler = getattr(sched, name)(opt, **kwargs)
        for _ in range(3):
            opt.step()
            assert _messages(scheduler.step) == []
        got = []
        messages = _messages(lambda: got.append(scheduler.get_lr()))
        assert any("get_last_lr()" in m for m in messages)
        values.append(got[0])
        assert "_get_lr_called_within_step" not in scheduler.state_dict() or sched is torch_sched
    np.testing.assert_allclose(values[0], values[1], rtol=1e-13)


def test_zero_grad_keeping_tensors_detaches_a_graph_gradient_like_torch():
    """``zero_grad(set_to_none=False)`` after ``backward(create_graph=True)``: the same grad
    tensor, zeroed and cut from the graph (torch: ``detach_()`` then ``zero_()``)."""
    for module, lib in ((optim, tg), (torch.optim, torch)):
        p = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
        opt = module.SGD([p], lr=0.1)
        (p ** 3).sum().backward(create_graph=True)
        grad = p.grad
        assert grad.grad_fn is not None
        opt.zero_grad(set_to_none=False)
        assert p.grad is grad
        assert (p.grad.grad_fn, p.grad.requires_grad) == (None, False), module.__name__
        np.testing.assert_array_equal(np.asarray(p.grad.tolist()), [0.0, 0.0])


class _Power:
    """A callable object as the rate factor (its attributes are state, as in torch)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, epoch):
        return self.base ** epoch


def test_lambda_lr_saves_and_restores_callable_objects_like_torch():
    """torch's LambdaLR.state_dict keeps the ``__dict__`` of a factor that is a callable
    object (None for functions and lambdas) and load_state_dict restores it."""
    results = []
    for sched, opt in zip((ours_sched, torch_sched), _optimizers()):
        scheduler = sched.LambdaLR(opt, [_Power(0.5), lambda e: 1.0 + e])
        opt.step()
        scheduler.step()
        saved = scheduler.state_dict()
        scheduler.lr_lambdas[0].base = 0.9
        scheduler.load_state_dict(saved)
        opt.step()
        scheduler.step()
        results.append((saved["lr_lambdas"], scheduler.lr_lambdas[0].base,
                        scheduler.get_last_lr()))
    assert results[0][:2] == results[1][:2] == ([{"base": 0.5}, None], 0.5)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-15)


def test_sequential_lr_of_a_sequential_lr_matches_torch():
    """A SequentialLR inside a SequentialLR: building the outer one undoes the initial step
    of every scheduler at any depth (torch's recursive undo)."""
    rates = []
    for sched, opt in zip((ours_sched, torch_sched), _optimizers()):
        inner = sched.SequentialLR(opt, [sched.LinearLR(opt, 0.5, total_iters=2),
                                         sched.ExponentialLR(opt, 0.9)], milestones=[2])
        outer = sched.SequentialLR(opt, [inner, sched.StepLR(opt, 2, 0.5)], milestones=[6])
        seq = [outer.get_last_lr()]
        for _ in range(12):
            opt.step()
            outer.step()
            seq.append(outer.get_last_lr())
        rates.append(np.array(seq))
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-13)


# ---- constructor signatures: positional order and torch's keyword-only switches -----------------
def _one_step(module, lib, name, args, kwargs, dtype=np.float64):
    """One step of optimizer ``name`` built as ``name(params, *args, **kwargs)`` from the same
    parameter and gradient; the parameter after the step."""
    rng = np.random.default_rng(5)
    value, grad = rng.standard_normal(4).astype(dtype), rng.standard_normal(4).astype(dtype)
    p = lib.tensor(value, requires_grad=True)
    opt = getattr(module, name)([p], *args, **kwargs)
    for _ in range(3):
        p.grad = lib.tensor(grad)
        opt.step()
    return np.asarray(p.detach().tolist()), opt


@pytest.mark.parametrize("name, args", [
    ("SGD", (0.1, 0.9, 0.0, 0.05)),                    # weight_decay is the 5th, nesterov the 6th
    ("SGD", (0.1, 0.9, 0.0, 0.05, True)),
    ("Adam", (0.01, (0.8, 0.9), 1e-6, 0.1, True)),
    ("AdamW", (0.01, (0.8, 0.9), 1e-6, 0.1, True)),
    ("RMSprop", (0.01, 0.9, 1e-6, 0.1, 0.5, True)),
    ("Adadelta", (0.5, 0.8, 1e-5, 0.1)),
])
def test_positional_arguments_mean_what_they_mean_in_torch(name, args):
    ours, _ = _one_step(optim, tg, name, args, {})
    theirs, _ = _one_step(torch.optim, torch, name, args, {})
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta"])
def test_torch_kernel_switches_are_accepted_and_unsupported_modes_raise(name):
    """``foreach`` (and ``fused`` where torch has it) only pick torch's kernel: accepted,
    same result, kept in the groups as torch does; ``capturable=True`` (CUDA graphs) and
    ``differentiable=True`` (autograd through the step) raise ``NotImplementedError``."""
    torch_keys = set(getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
                     .param_groups[0]) - {"params"}
    switches = [k for k in ("foreach", "fused") if k in torch_keys]
    plain, opt = _one_step(optim, tg, name, (), {})
    assert set(opt.param_groups[0]) - {"params"} == torch_keys
    for key in switches:
        for value in (True, False):
            switched, _ = _one_step(optim, tg, name, (), {key: value})
            np.testing.assert_array_equal(switched, plain)
    for key in ("capturable", "differentiable"):
        if key in torch_keys:
            with pytest.raises(NotImplementedError, match=key):
                _one_step(optim, tg, name, (), {key: True})
            with pytest.raises(NotImplementedError, match=key):
                _, opt = _one_step(optim, tg, name, (), {})
                opt.add_param_group({"params": [tg.zeros(2, requires_grad=True)], key: True})


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_with_decoupled_weight_decay_is_adamw_like_torch(amsgrad):
    kwargs = dict(lr=0.05, weight_decay=0.3, amsgrad=amsgrad)
    ours, opt = _one_step(optim, tg, "Adam", (), dict(kwargs, decoupled_weight_decay=True))
    theirs, _ = _one_step(torch.optim, torch, "Adam", (), dict(kwargs, decoupled_weight_decay=True))
    adamw, _ = _one_step(torch.optim, torch, "AdamW", (), kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    np.testing.assert_allclose(ours, adamw, rtol=1e-13)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert optim.AdamW([tg.zeros(1, requires_grad=True)]).param_groups[0]["decoupled_weight_decay"]


def test_torch_adamw_state_dict_keeps_its_decoupled_weight_decay_in_our_adam():
    """torch's AdamW state dict says ``decoupled_weight_decay=True`` in its groups; an Adam of
    ours that loads it continues as torch's AdamW."""
    _, torch_opt = _one_step(torch.optim, torch, "AdamW", (), dict(lr=0.05, weight_decay=0.3))
    p_t = torch_opt.param_groups[0]["params"][0]
    p = tg.tensor(p_t.detach().numpy().copy(), requires_grad=True)
    ours = optim.Adam([p])
    ours.load_state_dict(torch_opt.state_dict())
    grad = np.linspace(-1.0, 1.0, 4)
    for _ in range(3):
        p.grad, p_t.grad = tg.tensor(grad), torch.tensor(grad)
        ours.step()
        torch_opt.step()
    np.testing.assert_allclose(p.array, p_t.detach().numpy(), rtol=1e-13)


# ---- parameters given with their names, and unordered collections -------------------------------
def _linear_pair():
    ours, theirs = tg.nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.array))
        theirs.bias.copy_(torch.tensor(ours.bias.array))
    return ours, theirs


def test_named_parameters_are_accepted_and_their_names_saved_like_torch():
    """torch takes ``model.named_parameters()`` (pairs) and keeps the names as the groups'
    ``param_names``; the parameters are then optimized as usual."""
    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    models, dicts = _linear_pair(), []
    for model, module, lib in zip(models, (optim, torch.optim), (tg, torch)):
        opt = module.Adam(model.named_parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            (model(lib.tensor(x)) ** 2).sum().backward()
            opt.step()
        dicts.append(opt.state_dict())
    ours, theirs = dicts
    assert ours["param_groups"][0]["param_names"] == theirs["param_groups"][0]["param_names"] \
        == ["weight", "bias"]
    np.testing.assert_allclose(models[0].weight.array, models[1].weight.detach().numpy(),
                               rtol=1e-12)
    fresh = optim.Adam(_linear_pair()[0].named_parameters())
    fresh.load_state_dict(theirs)
    assert fresh.param_groups[0]["param_names"] == ["weight", "bias"]


def test_named_and_unnamed_parameters_do_not_mix_and_a_group_set_is_refused_like_torch():
    for module, model in zip((optim, torch.optim), _linear_pair()):
        (_, weight), (_, bias) = model.named_parameters()
        with pytest.raises(ValueError, match="with/without names"):
            module.SGD([("weight", weight), bias], lr=0.1)
        opt = module.SGD([("weight", weight)], lr=0.1)
        with pytest.raises(ValueError, match="with/without names"):
            opt.add_param_group({"params": [bias]})
        with pytest.raises(TypeError, match="ordered collections"):
            module.SGD([{"params": {weight, bias}}], lr=0.1)
