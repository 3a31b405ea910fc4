"""Higher-order gradients: Hessians, Jacobians, a WGAN-GP gradient penalty and the gradient of
the gradient of every primitive op, against torch (create_graph=True) and numerically."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
import torch.nn.functional as TF
from tinygrad_cv.autograd.functional import hessian, jacobian
from tinygrad_cv.testing import gradgradcheck

from autograd_cases import check_gradgrad


def test_hessian_of_quadratic_form_is_A_plus_AT():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = tg.tensor(rng.standard_normal(4), requires_grad=True)
    H = hessian(lambda v: v @ tg.tensor(A) @ v, x)
    np.testing.assert_allclose(H.numpy(), A + A.T, rtol=1e-12, atol=1e-12)


def test_hessian_matches_torch():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(5)

    def f_ours(v):
        return (v.sin() * v.exp()).sum() + (v @ v).log()

    def f_torch(v):
        return (v.sin() * v.exp()).sum() + (v @ v).log()

    H = hessian(f_ours, tg.tensor(x0))
    Ht = torch.autograd.functional.hessian(f_torch, torch.tensor(x0))
    np.testing.assert_allclose(H.numpy(), Ht.numpy(), rtol=1e-10, atol=1e-12)


def test_jacobian_matches_torch():
    rng = np.random.default_rng(2)
    x0, W = rng.standard_normal(3), rng.standard_normal((4, 3))

    def f(v, lib):
        return (lib.tensor(W) @ v).tanh() * v.sum()

    J = jacobian(lambda v: f(v, tg), tg.tensor(x0))
    Jt = torch.autograd.functional.jacobian(lambda v: f(v, torch), torch.tensor(x0))
    assert J.shape == (4, 3)
    np.testing.assert_allclose(J.numpy(), Jt.numpy(), rtol=1e-12)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    Ja, Jb = jacobian(lambda p, q: p * q, (tg.tensor(a), tg.tensor(b)))
    Jta, Jtb = torch.autograd.functional.jacobian(lambda p, q: p * q,
                                                  (torch.tensor(a), torch.tensor(b)))
    assert Ja.shape == (2, 3, 2, 3) and Jb.shape == (2, 3, 3)
    np.testing.assert_allclose(Ja.numpy(), Jta.numpy())
    np.testing.assert_allclose(Jb.numpy(), Jtb.numpy())


def _mlp(lib, x, W1, b1, W2, b2, act):
    h = x @ W1 + b1
    h = h.relu() if act == "relu" else h.tanh()
    return h @ W2 + b2


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_wgan_gp_penalty_matches_torch(act):
    """penalty = mean((||d D(x_hat)/d x_hat||_2 - 1)^2) through a 2-layer MLP critic; the
    gradients of the penalty w.r.t. W1, b1, W2 (second-order terms) must match torch."""
    rng = np.random.default_rng(3)
    arrays = dict(W1=rng.standard_normal((5, 8)) * 0.5, b1=rng.standard_normal(8) * 0.1,
                  W2=rng.standard_normal((8, 1)) * 0.5, b2=rng.standard_normal(1) * 0.1)
    real, fake = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    eps = rng.random((6, 1))
    results = {}
    for lib in (tg, torch):
        params = {k: lib.tensor(v, requires_grad=True) for k, v in arrays.items()}
        x_hat = (lib.tensor(eps) * lib.tensor(real) + (1 - lib.tensor(eps)) * lib.tensor(fake))
        x_hat.requires_grad_()
        out = _mlp(lib, x_hat, params["W1"], params["b1"], params["W2"], params["b2"], act)
        grad = tg.autograd.grad if lib is tg else torch.autograd.grad
        (g,) = grad(out.sum(), [x_hat], create_graph=True)
        norm = ((g * g).sum(1) + 1e-12).sqrt()
        penalty = ((norm - 1) ** 2).mean()
        critic = out.mean()
        (critic + 10 * penalty).backward()
        results[lib.__name__] = (penalty.item(), {k: v.grad.numpy() for k, v in params.items()},
                                 g.detach().numpy())
    ours, theirs = results["tinygrad_cv"], results["torch"]
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-10, atol=1e-12)
    for k in arrays:
        np.testing.assert_allclose(ours[1][k], theirs[1][k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_backward_create_graph_accumulates_differentiable_grad():
    x = tg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()                            # d/dx sum(3x^2) = 6x
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())


def test_third_derivative():
    x = tg.tensor([0.3, -0.7], dtype="float64", requires_grad=True)
    (g1,) = tg.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
    (g2,) = tg.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = tg.autograd.grad(g2.sum(), x)
    t = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)
    (h1,) = torch.autograd.grad((t.sin() * t).sum(), t, create_graph=True)
    (h2,) = torch.autograd.grad(h1.sum(), t, create_graph=True)
    (h3,) = torch.autograd.grad(h2.sum(), t)
    np.testing.assert_allclose(g3.numpy(), h3.numpy(), rtol=1e-12)


# ---- gradient of the gradient of each primitive ------------------------------------------------
def _rng(seed):
    return np.random.default_rng(seed)


def _pos(rng, shape):
    return np.abs(rng.standard_normal(shape)) + 0.3


GRADGRAD = {
    "add": (lambda a, b: a + b, lambda r: [r.standard_normal((2, 3)), r.standard_normal(3)]),
    "sub": (lambda a, b: a - b, lambda r: [r.standard_normal((2, 3)), r.standard_normal((2, 1))]),
    "mul": (lambda a, b: a * b, lambda r: [r.standard_normal((2, 3)), r.standard_normal(3)]),
    "div": (lambda a, b: a / b, lambda r: [r.standard_normal((2, 3)), _pos(r, 3)]),
    "pow": (lambda a, b: a ** b, lambda r: [_pos(r, (2, 3)), r.standard_normal(3)]),
    "pow_scalar": (lambda a: a ** 3, lambda r: [r.standard_normal((2, 3))]),
    "neg": (lambda a: -a, lambda r: [r.standard_normal((2, 3))]),
    "abs": (lambda a: a.abs() * a, lambda r: [r.standard_normal((2, 3))]),
    "exp": (lambda a: a.exp(), lambda r: [r.standard_normal((2, 3))]),
    "log": (lambda a: a.log(), lambda r: [_pos(r, (2, 3))]),
    "sqrt": (lambda a: a.sqrt(), lambda r: [_pos(r, (2, 3))]),
    "sin": (lambda a: a.sin(), lambda r: [r.standard_normal((2, 3))]),
    "cos": (lambda a: a.cos(), lambda r: [r.standard_normal((2, 3))]),
    "tanh": (lambda a: a.tanh(), lambda r: [r.standard_normal((2, 3))]),
    "sigmoid": (lambda a: a.sigmoid(), lambda r: [r.standard_normal((2, 3))]),
    "relu": (lambda a: a.relu() * a, lambda r: [r.standard_normal((2, 3))]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, lambda r: [r.standard_normal((2, 3))]),
    "maximum": (lambda a, b: a.maximum(b) * a, lambda r: [r.standard_normal((2, 3)),
                                                           r.standard_normal(3)]),
    "minimum": (lambda a, b: a.minimum(b) * b, lambda r: [r.standard_normal((2, 3)),
                                                           r.standard_normal(3)]),
    "sum": (lambda a: (a.sum(1, keepdim=True) * a), lambda r: [r.standard_normal((2, 3))]),
    "mean": (lambda a: (a.mean(0) ** 2), lambda r: [r.standard_normal((2, 3))]),
    "max": (lambda a: a.max(1)[0] * a.sum(1), lambda r: [r.standard_normal((2, 3))]),
    "amax": (lambda a: a.amax(0) * a.sum(0), lambda r: [r.standard_normal((2, 3))]),
    "var": (lambda a: a.var(1), lambda r: [r.standard_normal((2, 3))]),
    "std": (lambda a: a.std(0), lambda r: [r.standard_normal((3, 2))]),
    "logsumexp": (lambda a: a.logsumexp(1), lambda r: [r.standard_normal((2, 3))]),
    "matmul": (lambda a, b: a @ b, lambda r: [r.standard_normal((2, 3)), r.standard_normal((3, 4))]),
    "matmul_batch": (lambda a, b: (a @ b).tanh(), lambda r: [r.standard_normal((2, 1, 2, 3)),
                                                             r.standard_normal((3, 3, 2))]),
    "matmul_vec": (lambda a, b: (a @ b).sin(), lambda r: [r.standard_normal(3),
                                                          r.standard_normal((2, 3, 4))]),
    "reshape": (lambda a: a.reshape(3, 2) ** 2, lambda r: [r.standard_normal((2, 3))]),
    "permute": (lambda a: a.permute(2, 0, 1).sin(), lambda r: [r.standard_normal((2, 3, 2))]),
    "expand": (lambda a: a.expand(4, 2, 3) ** 2, lambda r: [r.standard_normal((2, 1))]),
    "getitem": (lambda a: a[1:, ::2] ** 2, lambda r: [r.standard_normal((3, 4))]),
    "getitem_advanced": (lambda a: a[[0, 0, 2]] ** 3, lambda r: [r.standard_normal((3, 2))]),
    "cat": (lambda a, b: tg.cat([a, b], 1).tanh() if isinstance(a, tg.Tensor)
            else torch.cat([a, b], 1).tanh(), lambda r: [r.standard_normal((2, 3)),
                                                         r.standard_normal((2, 2))]),
    "pad": (lambda a: (tg.pad(a, (1, 2)) if isinstance(a, tg.Tensor) else
                       torch.nn.functional.pad(a, (1, 2))) ** 2,
            lambda r: [r.standard_normal((2, 3))]),
    "where": (lambda a, b: (tg.where(a > 0, a, b) if isinstance(a, tg.Tensor) else
                            torch.where(a > 0, a, b)) ** 2,
              lambda r: [r.standard_normal((2, 3)), r.standard_normal(3)]),
    "softmax": (lambda a: a.softmax(-1), lambda r: [r.standard_normal((2, 4))]),
    "log_softmax": (lambda a: a.log_softmax(0), lambda r: [r.standard_normal((3, 2))]),
    "cast": (lambda a: a.float().double() * a, lambda r: [r.standard_normal((2, 3))]),
    "pow_zero": (lambda a: a ** 0 * a.sin(), lambda r: [r.standard_normal((2, 3))]),
    "max_all": (lambda a: a.max() * a, lambda r: [r.standard_normal((2, 3))]),
    "norm": (lambda a: a.norm(dim=1) * a.sum(1), lambda r: [r.standard_normal((2, 3))]),
    "norm_p3": (lambda a: a.norm(p=3, dim=0, keepdim=True) * a, lambda r: [r.standard_normal((2, 3))]),
    "norm_p1": (lambda a: a.norm(p=1) * a, lambda r: [r.standard_normal((2, 3))]),
    "norm_p05": (lambda a: a.norm(p=0.5, dim=1) * a.sum(1), lambda r: [r.standard_normal((2, 3))]),
    "norm_inf": (lambda a: a.norm(p=float("inf"), dim=0) * a, lambda r: [r.standard_normal((2, 3))]),
    "normalize": (lambda a: (F.normalize(a, dim=1) if isinstance(a, tg.Tensor) else
                             TF.normalize(a, dim=1)), lambda r: [r.standard_normal((2, 3))]),
    "cosine_similarity": (lambda a, b: (F.cosine_similarity(a, b) if isinstance(a, tg.Tensor) else
                                        TF.cosine_similarity(a, b)),
                          lambda r: [r.standard_normal((2, 3)), r.standard_normal(3)]),
    "binary_cross_entropy": (lambda p, z: (F.binary_cross_entropy(p, z, reduction="none")
                                           if isinstance(p, tg.Tensor) else
                                           TF.binary_cross_entropy(p, z, reduction="none")),
                             lambda r: [r.uniform(0.1, 0.9, (2, 3)), r.uniform(0, 1, (2, 3))]),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD))
def test_gradgrad_against_torch(name):
    fn, make = GRADGRAD[name]
    arrays = make(_rng(7))
    rtol = 1e-5 if name == "cast" else 1e-6
    check_gradgrad(fn, fn, arrays, rtol=rtol, atol=1e-6 if name == "cast" else 1e-8)


@pytest.mark.parametrize("name", sorted(set(GRADGRAD) - {"cast"}))
def test_gradgradcheck_numerical(name):
    fn, make = GRADGRAD[name]
    inputs = [tg.tensor(a, requires_grad=True) for a in make(_rng(11))]
    assert gradgradcheck(fn, inputs, atol=1e-5, rtol=1e-4)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4), k=st.integers(1, 4))
def test_gradgrad_mlp_random_shapes(seed, n, k):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, k)), rng.standard_normal((k, 3)), rng.standard_normal(3)]
    fn = lambda x, w, b: ((x @ w + b).tanh() ** 2).sum(-1)   # noqa: E731
    check_gradgrad(fn, fn, arrays)
