"""The LU family (``linalg.lu_factor``, ``lu_factor_ex``, ``lu``, ``lu_solve``, ``lu_unpack``,
the deprecated ``torch.lu`` / ``torch.lu_solve`` and their methods) against torch 2.13: packed
factors and pivots (random, ill-conditioned, tied and singular matrices, batches, m != n),
``info``, gradients on the same upstream gradients and second derivatives, gradcheck in
float64, and torch's errors."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import gradcheck, gradgradcheck

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


def _np(t):
    return t.detach().numpy()


def _matrix(rng, shape, kind):
    """A random matrix of ``kind``: 'random', 'ill' (columns scaled over 8 decades), 'ties'
    (small integers: equal candidate pivots), 'singular' (a repeated column, a zero row)."""
    a = rng.standard_normal(shape)
    if kind == "ill":
        a = a * np.logspace(0, -8, shape[-1])
    elif kind == "ties":
        a = rng.integers(-2, 3, size=shape).astype(float)
    elif kind == "singular" and min(shape[-2:]) > 1:
        a[..., :, -1] = 2 * a[..., :, 0]
        a[..., -1, :] = 0
    return a


def _check_factor(a):
    ours = tg.linalg.lu_factor_ex(tg.tensor(a))
    theirs = torch.linalg.lu_factor_ex(torch.tensor(a))
    np.testing.assert_array_equal(_np(ours.pivots), theirs.pivots.numpy())
    assert _np(ours.pivots).dtype == np.int32 and _np(ours.info).dtype == np.int32
    np.testing.assert_array_equal(_np(ours.info), theirs.info.numpy())
    tol = 1e-5 if a.dtype == np.float32 else 1e-12
    scale = max(1.0, float(np.abs(a).max())) if a.size else 1.0
    np.testing.assert_allclose(_np(ours.LU), theirs.LU.numpy(), rtol=tol, atol=tol * scale)
    p, l, u = tg.linalg.lu(tg.tensor(a))
    tp, tl, tu = torch.linalg.lu(torch.tensor(a))
    np.testing.assert_array_equal(_np(p), tp.numpy())
    np.testing.assert_allclose(_np(l), tl.numpy(), rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(_np(u), tu.numpy(), rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(_np(p @ l @ u), a, rtol=tol, atol=10 * tol * scale)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([(), (2,), (2, 3)]), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from(["random", "ill", "ties", "singular"]),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_factors_and_pivots_match_torch(batch, m, n, kind, dtype, seed):
    _check_factor(_matrix(np.random.default_rng(seed), batch + (m, n), kind).astype(dtype))


def test_larger_and_empty_matrices_match_torch():
    rng = np.random.default_rng(1)
    _check_factor(rng.standard_normal((3, 40, 40)))
    _check_factor(rng.standard_normal((30, 50)).astype(np.float32))
    hilbert = 1 / (np.arange(8)[:, None] + np.arange(8) + 1.0)
    _check_factor(hilbert)
    for shape in [(0, 3), (3, 0), (0, 3, 3), (2, 0, 0)]:
        _check_factor(np.zeros(shape))


def test_non_finite_matrices_match_torch():
    """NaN is never the column maximum unless it comes first (BLAS's i?amax), infinities
    propagate as LAPACK's; no floating-point warnings."""
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = rng.standard_normal((4, 4))
        a[rng.random((4, 4)) < 0.2] = rng.choice([np.nan, np.inf, -np.inf])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = tg.linalg.lu_factor_ex(tg.tensor(a))
        theirs = torch.linalg.lu_factor_ex(torch.tensor(a))
        np.testing.assert_array_equal(_np(ours.pivots), theirs.pivots.numpy())
        np.testing.assert_allclose(_np(ours.LU), theirs.LU.numpy(), rtol=1e-12, atol=1e-14)


def test_info_of_singular_matrices_and_errors():
    a = np.stack([np.eye(3), np.zeros((3, 3)), [[1.0, 2, 3], [2, 4, 6], [1, 1, 1]]])
    ours, theirs = tg.linalg.lu_factor_ex(tg.tensor(a)), torch.linalg.lu_factor_ex(
        torch.tensor(a))
    np.testing.assert_array_equal(_np(ours.info), theirs.info.numpy())
    assert list(_np(ours.info)) == [0, 1, 3]
    wide = np.array([[1.0, 1, 1], [1, 1, 2]])
    assert int(tg.linalg.lu_factor_ex(tg.tensor(wide)).info) == 2
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): U\[1,1\] is zero"):
        tg.linalg.lu_factor(tg.tensor(a))
    with pytest.raises(RuntimeError, match=r"U\[2,2\] is zero"):
        tg.linalg.lu_factor_ex(tg.tensor([[1.0, 2], [2, 4]]), check_errors=True)
    p, l, u = tg.linalg.lu(tg.tensor(a))               # singular: factorised, no error
    np.testing.assert_allclose(_np(p @ l @ u), a, atol=1e-12)


def test_lu_unpack_and_deprecated_forms_match_torch():
    rng = np.random.default_rng(2)
    for shape in [(2, 4, 4), (3, 5), (5, 3)]:
        a = rng.standard_normal(shape)
        lu_, piv = tg.linalg.lu_factor(tg.tensor(a))
        tlu, tpiv = torch.linalg.lu_factor(torch.tensor(a))
        for flags in [(True, True), (False, True), (True, False)]:
            ours, theirs = tg.lu_unpack(lu_, piv, *flags), torch.lu_unpack(tlu, tpiv, *flags)
            assert type(ours).__name__ == "lu_unpack" and ours._fields == ("P", "L", "U")
            for o, t in zip(ours, theirs):
                assert tuple(o.shape) == tuple(t.shape)
                np.testing.assert_allclose(_np(o), t.numpy(), atol=1e-12)
    a = rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = tg.lu(tg.tensor(a)), torch.lu(torch.tensor(a))
        assert type(ours) is tuple and len(ours) == 2
        info = tg.tensor(a).lu(get_infos=True)
        assert type(info).__name__ == "_lu_with_info" and int(info.info) == 0
        np.testing.assert_allclose(_np(ours[0]), theirs[0].numpy(), atol=1e-12)
        x = tg.lu_solve(tg.tensor(b), *ours)
        np.testing.assert_allclose(_np(x), torch.lu_solve(torch.tensor(b), *theirs).numpy(),
                                   atol=1e-12)
        np.testing.assert_allclose(_np(tg.tensor(b).lu_solve(*ours)), _np(x), atol=0)
    with pytest.warns(UserWarning, match="torch.lu is deprecated"):
        tg.lu(tg.tensor(a))
    with pytest.warns(UserWarning, match="torch.lu_solve is deprecated"):
        tg.lu_solve(tg.tensor(b), *ours)
    for name in ["linalg_lu_factor", "linalg_lu_factor_ex", "linalg_lu", "lu_unpack",
                 "_lu_with_info"]:
        assert getattr(tg.return_types, name)._fields == getattr(torch.return_types,
                                                                 name).__match_args__


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([(), (2,)]), st.integers(1, 4), st.sampled_from([0, 2]),
       st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_lu_solve_matches_torch(batch, n, k, left, adjoint, seed):
    """Values and gradients (LU and B) of every left/adjoint combination, B broadcast over
    LU's batch or not."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n)) + 2 * np.eye(n)
    bshape = (n, k) if left else (k, n)
    b = rng.standard_normal(((3,) if k == 0 else batch) + bshape)
    if k == 0:          # (B with its own batch, LU without one: broadcast)
        a = a[(0,) * len(batch)] if batch else a
        b = rng.standard_normal((3,) + ((n, 2) if left else (2, n)))
    lu_np, piv = (t.numpy() for t in torch.linalg.lu_factor(torch.tensor(a)))
    g = None
    for lib, mk in [(tg, tg.tensor), (torch, torch.tensor)]:
        lu_, b_ = mk(lu_np, requires_grad=True), mk(b, requires_grad=True)
        x = lib.linalg.lu_solve(lu_, mk(piv), b_, left=left, adjoint=adjoint)
        if g is None:
            g = rng.standard_normal(tuple(x.shape))
            ours = (x, *lib.autograd.grad((x * mk(g)).sum(), [lu_, b_]))
        else:
            theirs = (x, *lib.autograd.grad((x * mk(g)).sum(), [lu_, b_]))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(_np(o), t.detach().numpy(), rtol=1e-9, atol=1e-10)


def _grads(lib, mk, a, gs, fn, create_graph):
    x = mk(a, requires_grad=True)
    outs = fn(lib, x)
    loss = sum((o * mk(g)).sum() for o, g in zip(outs, gs))
    (gx,) = lib.autograd.grad(loss, [x], create_graph=create_graph)
    if not create_graph:
        return outs, gx, None
    (ggx,) = lib.autograd.grad((gx * gx).sum(), [x])
    return outs, gx, ggx


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (3, 5), (5, 3), (2, 2, 4), (1, 1)])
def test_gradients_and_second_derivatives_match_torch(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape)
    packed = lambda lib, x: (lib.linalg.lu_factor(x)[0],)
    unpacked = lambda lib, x: tuple(lib.linalg.lu(x))[1:]
    for fn in (packed, unpacked):
        shapes = [tuple(o.shape) for o in fn(torch, torch.tensor(a))]
        gs = [rng.standard_normal(s) for s in shapes]
        ours = _grads(tg, tg.tensor, a, gs, fn, True)
        theirs = _grads(torch, torch.tensor, a, gs, fn, True)
        np.testing.assert_allclose(_np(ours[1]), theirs[1].detach().numpy(), rtol=1e-9,
                                   atol=1e-10)
        np.testing.assert_allclose(_np(ours[2]), theirs[2].numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_gradcheck(shape):
    rng = np.random.default_rng(7)
    a = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda x: tg.linalg.lu_factor(x)[0], [a])
    assert gradcheck(lambda x: tuple(tg.linalg.lu(x))[1:], [a])
    assert gradgradcheck(lambda x: tuple(tg.linalg.lu(x))[1:], [a])
    if shape[0] == shape[1]:
        lu_, piv = tg.linalg.lu_factor(a.detach())
        b = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
        lu_ = lu_.requires_grad_()
        assert gradcheck(lambda l, y: tg.linalg.lu_solve(l, piv, y, adjoint=True), [lu_, b])
        assert gradgradcheck(lambda l, y: tg.linalg.lu_solve(l, piv, y, left=False),
                             [lu_, tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)])


def test_gradient_of_a_singular_matrix_is_nan_as_torch():
    a = np.stack([[[1.0, 2], [2, 4]], [[2.0, 1], [1, 3]]])
    x = tg.tensor(a, requires_grad=True)
    tg.linalg.lu_factor_ex(x).LU.sum().backward()
    t = torch.tensor(a, requires_grad=True)
    torch.linalg.lu_factor_ex(t).LU.sum().backward()
    np.testing.assert_array_equal(np.isnan(_np(x.grad)), np.isnan(t.grad.numpy()))
    assert np.isnan(_np(x.grad)[0]).all()
    np.testing.assert_allclose(_np(x.grad)[1], t.grad.numpy()[1], rtol=1e-12)


def _message(fn):
    with pytest.raises(BaseException) as info:
        fn()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("case", [
    lambda L, A: L.linalg.lu_factor(L.ones(3, 3, dtype=L.int64)),
    lambda L, A: L.linalg.lu_factor(L.ones(3, 3, dtype=L.float16)),
    lambda L, A: L.linalg.lu_factor(L.ones(3)),
    lambda L, A: L.linalg.lu(L.ones(3)),
    lambda L, A: L.linalg.lu_factor(A, pivot=False),
    lambda L, A: L.linalg.lu_solve(*L.linalg.lu_factor(A)[:1], L.linalg.lu_factor(A)[1].long(),
                                   L.ones(3, 2)),
    lambda L, A: L.linalg.lu_solve(*L.linalg.lu_factor(A), L.ones(3)),
    lambda L, A: L.linalg.lu_solve(*L.linalg.lu_factor(A), L.ones(4, 2)),
    lambda L, A: L.linalg.lu_solve(*L.linalg.lu_factor(A), L.ones(2, 4), left=False),
    lambda L, A: L.linalg.lu_solve(*L.linalg.lu_factor(A), L.ones(3, 2, dtype=L.float64)),
    lambda L, A: L.linalg.lu_solve(L.ones(3, 4), L.linalg.lu_factor(A)[1], L.ones(3, 2)),
    lambda L, A: L.linalg.lu_solve(L.ones(3), L.linalg.lu_factor(A)[1], L.ones(3, 2)),
    lambda L, A: L.linalg.lu_solve(L.linalg.lu_factor(A)[0], L.linalg.lu_factor(A)[1][:2],
                                   L.ones(3, 2)),
    lambda L, A: L.lu_unpack(*L.linalg.lu_factor(A)[:1], L.linalg.lu_factor(A)[1].long()),
    lambda L, A: L.lu_unpack(L.ones(3), L.linalg.lu_factor(A)[1]),
    lambda L, A: L.lu_unpack(L.linalg.lu_factor(A)[0], L.tensor([5, 1, 1], dtype=L.int32)),
    lambda L, A: L.lu_unpack(L.linalg.lu_factor(A)[0], L.tensor(1, dtype=L.int32)),
    lambda L, A: L.linalg.lu_solve(L.stack([A, A]), L.linalg.lu_factor(A)[1], L.ones(3, 1)),
])
def test_errors_match_torch(case):
    a = np.random.default_rng(3).standard_normal((3, 3)).astype(np.float32)
    ours = _message(lambda: case(tg, tg.tensor(a)))
    theirs = _message(lambda: case(torch, torch.tensor(a)))
    assert issubclass(ours[0], theirs[0])
    assert ours[1] == theirs[1]


def test_lu_solve_of_a_singular_factorisation_raises():
    lu_, piv, info = tg.linalg.lu_factor_ex(tg.tensor([[1.0, 2], [2, 4]]))
    assert int(info) == 2
    with pytest.raises(tg.linalg.LinAlgError, match="lu_solve: U has a zero on its diagonal"):
        tg.linalg.lu_solve(lu_, piv, tg.ones(2, 1))


def test_factor_and_gradient_on_each_device(device):
    """On the GPU (or its emulation) too; there no-pivoting is available (torch: CUDA only)."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 4, 3))
    x = tg.tensor(a, device=device, requires_grad=True)
    ours = tg.linalg.lu_factor_ex(x)
    theirs = torch.linalg.lu_factor_ex(torch.tensor(a))
    assert ours.LU.device.type == ours.pivots.device.type == device
    np.testing.assert_array_equal(ours.pivots.cpu().numpy(), theirs.pivots.numpy())
    np.testing.assert_allclose(ours.LU.detach().cpu().numpy(), theirs.LU.numpy(), atol=1e-12)
    g = rng.standard_normal(a.shape)
    (ours.LU * tg.tensor(g, device=device)).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (torch.linalg.lu_factor_ex(t).LU * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    b = tg.tensor(rng.standard_normal((2, 4, 2)), device=device)
    square = tg.tensor(a[..., :3, :], device=device)
    x_solved = tg.linalg.lu_solve(*tg.linalg.lu_factor(square), b[..., :3, :])
    np.testing.assert_allclose(x_solved.cpu().numpy(),
                               np.linalg.solve(a[..., :3, :], b.cpu().numpy()[..., :3, :]),
                               atol=1e-10)
    if device == "cpu":
        with pytest.raises(RuntimeError, match="LU without pivoting is not implemented on the"):
            tg.linalg.lu(x, pivot=False)
    else:
        p, l, u = tg.linalg.lu(x, pivot=False)
        assert tuple(p.shape) == (0,)
        np.testing.assert_allclose((l @ u).detach().cpu().numpy(), a, atol=1e-12)
        piv = tg.linalg.lu_factor(x, pivot=False).pivots
        np.testing.assert_array_equal(piv.cpu().numpy(), [[1, 2, 3]] * 2)
