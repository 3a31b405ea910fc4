"""The autograd API against torch as the oracle: ``grad``/``backward`` keywords, grad modes,
on the same inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv.autograd import grad


def _pair(values):
    return (tg.tensor(values, dtype="float64", requires_grad=True),
            torch.tensor(values, dtype=torch.float64, requires_grad=True))


def _close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_tensor_backward_takes_gradient_keyword():
    x, xt = _pair([1.0, -2.0, 3.0])
    v = [0.5, 1.0, 2.0]
    (x * x).backward(gradient=tg.tensor(v, dtype="float64"))
    (xt * xt).backward(gradient=torch.tensor(v, dtype=torch.float64))
    _close(x.grad, xt.grad)


def test_tensor_backward_inputs_accumulates_only_into_them():
    (x, xt), (w, wt) = _pair([1.0, 2.0]), _pair([3.0, -1.0])
    ys = []
    for a, b in ((x, w), (xt, wt)):
        y = a * b
        (y * y).sum().backward(inputs=[a, y], retain_graph=True)
        (y * y).sum().backward(inputs=a)
        ys.append(y)
    assert w.grad is None and wt.grad is None
    _close(x.grad, xt.grad)
    _close(ys[0].grad, ys[1].grad)


def test_autograd_backward_inputs_non_leaf():
    x, xt = _pair([1.0, 2.0])
    grads = []
    for lib, a in ((tg, x), (torch, xt)):
        y = a * 3
        lib.autograd.backward([(y * y).sum()], inputs=[y])
        grads.append(y.grad)
        assert a.grad is None
    _close(*grads)


def test_grad_materialize_grads_gives_zeros():
    (x, xt), (u, ut) = _pair([1.0, 2.0]), _pair([5.0, 6.0, 7.0])
    ours = grad((x * 2).sum(), [x, u], materialize_grads=True)
    theirs = torch.autograd.grad((xt * 2).sum(), [xt, ut], materialize_grads=True)
    for a, b in zip(ours, theirs):
        _close(a, b)
    with pytest.raises(ValueError):
        grad((x * 2).sum(), [x, u], allow_unused=False, materialize_grads=True)


def test_grad_outputs_of_the_wrong_shape_raise_runtime_error():
    x, xt = _pair([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError):
        torch.autograd.grad(xt * 2, xt, grad_outputs=torch.ones(2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="shape"):
        grad(x * 2, x, grad_outputs=tg.ones(2, dtype="float64"))


def test_retained_grad_of_a_non_leaf_accumulates_over_backward_passes():
    x, xt = _pair([1.0, 2.0])
    ys = []
    for a in (x, xt):
        y = a * 3
        y.retain_grad()
        (y * y).sum().backward(retain_graph=True)
        (y * y).sum().backward()
        ys.append(y)
    _close(ys[0].grad, ys[1].grad)


def _records(lib):
    return (lib.ones(1, requires_grad=True) * 2).requires_grad, lib.is_inference_mode_enabled()


@pytest.mark.parametrize("make", [
    lambda lib: lib.no_grad(_records),                       # bare decorator
    lambda lib: lib.no_grad()(lambda lib_: lib.enable_grad(_records)(lib_)),
    lambda lib: lib.inference_mode(_records),
    lambda lib: lib.inference_mode()(_records),
    lambda lib: lib.inference_mode(False)(_records),
    lambda lib: lib.set_grad_enabled(False)(_records),
])
def test_grad_modes_as_decorators_match_torch(make):
    ours, theirs = make(tg), make(torch)
    assert tg.is_grad_enabled() and torch.is_grad_enabled()     # building one changes nothing
    assert ours(tg) == theirs(torch)
    assert tg.is_grad_enabled()


def test_inference_mode_as_a_context_manager_nested():
    seen = []
    for lib in (tg, torch):
        with lib.no_grad():
            with lib.inference_mode():
                inner = [_records(lib)]
                with lib.inference_mode(False):
                    inner.append(_records(lib))
                inner.append(_records(lib))
            inner.append(_records(lib))
        inner.append(_records(lib))
        seen.append(inner)
    assert seen[0] == seen[1]
    assert tg.autograd.inference_mode is tg.inference_mode


def _custom_functions(lib):
    """The same torch-style Functions, written once per library."""

    class TwoOutputs(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            ctx.seen_none = gb is None
            return ga * 2 if gb is None else ga * 2 + gb * 3

    class WithConstant(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale=3.0):
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g * 3.0, None         # a trailing None beyond the inputs is accepted

    return TwoOutputs, WithConstant


def test_custom_function_set_materialize_grads_false_passes_none():
    seen = []
    for lib in (tg, torch):
        two, _ = _custom_functions(lib)
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        a, _b = two.apply(x)
        a.sum().backward()
        seen.append((x.grad, a.grad_fn.seen_none))
    _close(seen[0][0], seen[1][0])
    assert seen[0][1] is True and seen[1][1] is True


def test_custom_function_may_return_extra_none_gradients():
    grads = []
    for lib in (tg, torch):
        _, const = _custom_functions(lib)
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        const.apply(x).sum().backward()
        grads.append(x.grad)
    _close(*grads)


def _nested_close(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _nested_close(a, b)
    else:
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)


_X = np.array([0.5, -1.0, 2.0])
_W = np.array([[1.0, -2.0], [0.5, 3.0]])
_FUNCTIONAL_CASES = {
    "jacobian one": lambda F, x, w: F.jacobian(lambda a: a.tanh() * a, x),
    "jacobian tuple in/out": lambda F, x, w: F.jacobian(
        lambda a, b: (a * b.sum(), (a.sum() * b).exp()), (x, w), vectorize=True),
    "jacobian unused input": lambda F, x, w: F.jacobian(lambda a, b: a * 2, (x, w)),
    "hessian tuple": lambda F, x, w: F.hessian(lambda a, b: (a.sin().sum() * b).sum(), (x, w)),
    "vjp": lambda F, x, w: F.vjp(lambda a, b: a.exp() * b.sum(), (x, w), x * 0 + 0.5),
    "vjp scalar without v": lambda F, x, w: F.vjp(lambda a: (a ** 3).sum(), x),
    "jvp": lambda F, x, w: F.jvp(lambda a, b: (a.exp() * b.sum(), a.sum() * b), (x, w),
                                 (x * 0 + 0.5, w * 0 + 2.0)),
    "vhp": lambda F, x, w: F.vhp(lambda a: (a.sin() * a).sum(), x, x * 0 + 1.5),
    "hvp tuple": lambda F, x, w: F.hvp(lambda a, b: (a.cos().sum() * b * b).sum(), (x, w),
                                       (x * 0 - 1.0, w * 0 + 0.25)),
}


@pytest.mark.parametrize("case", sorted(_FUNCTIONAL_CASES))
def test_functional_matches_torch(case):
    import tinygrad_cv.autograd.functional as ours
    import torch.autograd.functional as theirs
    run = _FUNCTIONAL_CASES[case]
    mine = run(ours, tg.tensor(_X), tg.tensor(_W))
    ref = run(theirs, torch.tensor(_X), torch.tensor(_W))
    _nested_close(mine, ref)


def test_functional_create_graph_and_strict():
    import tinygrad_cv.autograd.functional as ours
    import torch.autograd.functional as theirs
    grads = []
    for lib, F in ((tg, ours), (torch, theirs)):
        x = lib.tensor(_X, requires_grad=True)
        h = F.hessian(lambda a: (a ** 4).sum(), x, create_graph=True)
        assert h.requires_grad
        h.sum().backward()
        grads.append(x.grad)
        with pytest.raises(RuntimeError):
            F.jacobian(lambda a, b: a * 2, (x, x * 1), strict=True)
        with pytest.raises(RuntimeError):
            F.jacobian(lambda a: a * 2, x, strict=True, vectorize=True)
    _close(*grads)


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_is_grads_batched(create_graph):
    (x, xt), (w, wt) = _pair([1.0, -2.0, 3.0]), _pair([0.5, 4.0])
    vs = np.arange(12.0).reshape(4, 3) - 5
    ours = grad((x * x).tanh(), [x, w], grad_outputs=tg.tensor(vs), is_grads_batched=True,
                allow_unused=True, create_graph=create_graph)
    theirs = torch.autograd.grad((xt * xt).tanh(), [xt, wt], grad_outputs=torch.tensor(vs),
                                 is_grads_batched=True, allow_unused=True,
                                 create_graph=create_graph)
    _close(ours[0], theirs[0])
    assert ours[1] is None and theirs[1] is None
    assert ours[0].requires_grad == theirs[0].requires_grad == create_graph


def test_removing_one_of_two_registrations_of_a_hook_keeps_the_other():
    grads = []
    for lib in (tg, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        double = lambda g: g * 2      # noqa: E731
        first = x.register_hook(double)
        x.register_hook(double)
        first.remove()
        first.remove()                # (removing twice is harmless)
        (x * 1).sum().backward()
        grads.append(x.grad)
    _close(*grads)


def test_grad_with_no_inputs_raises():
    x, xt = _pair([1.0, 2.0])
    with pytest.raises(RuntimeError):
        torch.autograd.grad((xt * 2).sum(), [])
    with pytest.raises(RuntimeError, match="inputs"):
        grad((x * 2).sum(), [])


def test_assigning_a_grad_of_the_wrong_shape_raises():
    x, xt = _pair([1.0, 2.0])
    with pytest.raises(RuntimeError):
        xt.grad = torch.ones(3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="shape"):
        x.grad = tg.ones(3, dtype="float64")
    with pytest.raises(TypeError):
        x.grad = [1.0, 2.0]
    x.grad = tg.ones(2, dtype="float64")
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.autograd.backward([x * 2]),                      # non-scalar, no grad
    lambda lib, x: lib.autograd.backward([lib.ones(2).sum()]),          # no graph
    lambda lib, x: lib.autograd.backward([x * 2], [lib.ones(3, dtype=x.dtype)]),   # shape
])
def test_autograd_backward_checks_its_tensors_like_torch(call):
    x, xt = _pair([1.0, 2.0])
    with pytest.raises(RuntimeError):
        call(torch, xt)
    with pytest.raises(RuntimeError):
        call(tg, x)
    assert x.grad is None


@pytest.mark.parametrize("on_leaf", [False, True])
def test_a_hook_that_changes_the_gradient_shape_raises(on_leaf):
    for lib in (torch, tg):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x if on_leaf else x * 2
        y.register_hook(lambda g: g[:1])
        with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the s"):
            (y * y).sum().backward()


def test_retain_grad_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        torch.ones(2).retain_grad()
    with pytest.raises(RuntimeError, match="require grad"):
        tg.ones(2).retain_grad()
    x = tg.ones(2, requires_grad=True)
    x.retain_grad()                   # a leaf: nothing changes
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_leaf_gradient_has_the_leaf_layout_as_torch():
    """torch's gradient layout contract: W.grad of ``x @ W.t()`` is row-major like W (the
    product computes it transposed), so ``W.grad.view(-1)`` is a view of it."""
    w = tg.randn(3, 4, requires_grad=True)
    x = tg.randn(2, 4)
    (x @ w.t()).sum().backward()
    assert w.grad.is_contiguous()
    flat = w.grad.view(-1)
    flat[0] = 5.0
    assert w.grad[0, 0].item() == 5.0
    wt = torch.randn(3, 4, requires_grad=True)
    (torch.randn(2, 4) @ wt.t()).sum().backward()
    assert wt.grad.is_contiguous()


def test_a_second_backward_adds_into_the_same_grad_tensor_as_torch():
    """Outside create_graph, torch sums a later gradient into the existing ``.grad`` in place:
    the same tensor object, views of it see the sum, and its version counter moves.  (A
    ``.grad`` that is itself on the graph, from ``backward(create_graph=True)``, gets a new
    tensor here; torch sums into it in place as well.)"""
    seen = []
    for lib in (torch, tg):
        p = lib.zeros(3, dtype=lib.float64, requires_grad=True)
        (p * 2).sum().backward()
        first, view = p.grad, p.grad.view(-1)
        (p * 3).sum().backward()
        seen.append((p.grad is first, view.tolist(), first._version))
        p.grad = None
        (p * 2).sum().backward()
        seen.append((p.grad is first, first.tolist()))     # a new tensor after None
    assert seen[:2] == seen[2:]
