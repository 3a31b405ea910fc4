"""A pass for chosen tensors (``autograd.grad(outputs, inputs)``, ``backward(inputs=...)``)
computes only what reaches them, as torch's engine does: built-in nodes are asked only for the
inputs on the path, nodes off the path do not run, and hooks off the path are not called.
torch is the oracle where the behaviour is visible."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv.autograd.function import Function as KernelFunction


class _RecordingScale(KernelFunction):
    """y = a * b, recording the ``needs_input_grad`` each backward sees."""
    seen = []

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        _RecordingScale.seen.append(tuple(ctx.needs_input_grad))
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


def test_built_in_nodes_are_asked_only_for_inputs_on_the_path():
    _RecordingScale.seen = []
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    y = _RecordingScale.apply(a, b).sum()
    ga, = tg.autograd.grad(y, a, retain_graph=True)
    np.testing.assert_array_equal(ga.numpy(), [3.0, 4.0])
    y.backward()
    assert _RecordingScale.seen == [(True, False), (True, True)]   # then the full pass
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_backward_with_inputs_is_pruned_too():
    _RecordingScale.seen = []
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    _RecordingScale.apply(a, b).sum().backward(inputs=[b])
    assert _RecordingScale.seen == [(False, True)]
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_user_functions_keep_the_forwards_needs_input_grad_as_torch():
    seen = {}

    def make(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, g):
                a, b = ctx.saved_tensors
                seen[lib.__name__] = tuple(ctx.needs_input_grad)
                return g * b, g * a
        return Scale

    results = []
    for lib in (torch, tg):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        results.append(lib.autograd.grad(make(lib).apply(a, b).sum(), a)[0].detach().numpy())
        assert b.grad is None
    assert seen["tinygrad_cv"] == seen["torch"] == (True, True)
    np.testing.assert_array_equal(*results)


def test_igamma_gradient_in_x_alone_with_a_requiring_grad_as_torch():
    a_np, x_np = [1.5, 2.0, 0.3], [0.5, 3.0, 1.2]
    results = []
    for lib in (torch, tg):
        a = lib.tensor(a_np, dtype=lib.float64, requires_grad=True)
        x = lib.tensor(x_np, dtype=lib.float64, requires_grad=True)
        for fn in (lib.igamma, lib.igammac):
            results.append(lib.autograd.grad(fn(a, x).sum(), x)[0].detach().numpy())
        with pytest.raises(RuntimeError):        # both raise for the gradient in a
            lib.autograd.grad(lib.igamma(a, x).sum(), a)
    np.testing.assert_allclose(results[2], results[0], rtol=1e-12)
    np.testing.assert_allclose(results[3], results[1], rtol=1e-12)


def test_hooks_off_the_path_are_not_called_as_torch():
    calls = {}
    for lib in (torch, tg):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        on = x * 2.0
        off = w * 3.0
        log = calls[lib.__name__] = []
        on.register_hook(lambda g, log=log: log.append("on"))
        off.register_hook(lambda g, log=log: log.append("off"))
        lib.autograd.grad((on * off).sum(), x)
    assert calls["tinygrad_cv"] == calls["torch"] == ["on"]


def test_input_gradients_of_a_conv_net_match_torch_and_leave_the_weights_alone():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((3, 2, 6, 6))
    nets = []
    for lib in (torch, tg):
        lib.manual_seed(0)
        nets.append(lib.nn.Sequential(lib.nn.Conv2d(2, 4, 3, padding=1), lib.nn.GroupNorm(2, 4),
                                      lib.nn.SiLU(), lib.nn.Conv2d(4, 1, 3), lib.nn.Flatten(),
                                      lib.nn.Linear(16, 1)).double())
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        q.data = tg.tensor(p.detach().numpy())
    grads = []
    for lib, net in zip((torch, tg), nets):
        x = lib.tensor(x_np, requires_grad=True)
        grads.append(lib.autograd.grad(net(x).sum(), x)[0].numpy())
        assert all(p.grad is None for p in net.parameters())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


def test_a_gradient_penalty_in_the_input_matches_torch():
    """dD(x)/dx of an MLP (weights on the graph, not asked for), then the penalty's gradient in
    the weights (create_graph): the same numbers as torch."""
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((5, 3))
    nets = []
    for lib in (torch, tg):
        lib.manual_seed(0)
        nets.append(lib.nn.Sequential(lib.nn.Linear(3, 8), lib.nn.Tanh(),
                                      lib.nn.Linear(8, 1)).double())
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        q.data = tg.tensor(p.detach().numpy())
    outs = []
    for lib, net in zip((torch, tg), nets):
        x = lib.tensor(x_np, requires_grad=True)
        g, = lib.autograd.grad(net(x).sum(), x, create_graph=True)
        assert all(p.grad is None for p in net.parameters())
        ((g.norm(2, dim=1) - 1) ** 2).mean().backward()
        outs.append([g.detach().numpy()] + [None if p.grad is None else p.grad.numpy()
                                            for p in net.parameters()])
    for ours, theirs in zip(outs[1], outs[0]):
        if theirs is None:
            assert ours is None or not np.any(ours)
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
