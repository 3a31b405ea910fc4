"""``tinygrad_cv.linalg`` (and torch's top-level forms) against torch.linalg 2.13: values,
gradients on the same upstream gradients, second derivatives, gradcheck in float64, batches
and broadcasting, torch's errors.  Eigenvectors and singular vectors are compared through
quantities that do not depend on their signs (their squares, reconstructions)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import gradcheck

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

SETTINGS = settings(max_examples=15, deadline=None)


def _np(t):
    return t.detach().numpy()


def _spd(rng, batch, n):
    m = rng.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def _symmetric(rng, batch, n):
    m = rng.standard_normal(batch + (n, n))
    return (m + np.swapaxes(m, -1, -2)) / 2


def _compare(fo, ft, arrays, rtol=1e-9, atol=1e-11, second=True, seed=0):
    """Outputs (a tuple or one) equal; gradients of the inputs from one random projection of
    the outputs equal; with ``second``, the gradients of the squared first gradients too."""
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    yo, yt = fo(*ours), ft(*theirs)
    yo = yo if isinstance(yo, tuple) else (yo,)
    yt = yt if isinstance(yt, tuple) else (yt,)
    rng = np.random.default_rng(seed)
    lo = lt = 0
    for o, t in zip(yo, yt):
        np.testing.assert_allclose(_np(o), t.detach().numpy(), rtol=rtol, atol=atol)
        assert _np(o).dtype == t.detach().numpy().dtype
        if t.requires_grad and t.dtype.is_floating_point:
            g = rng.standard_normal(tuple(t.shape))
            lo = lo + (o * tg.tensor(g)).sum()
            lt = lt + (t * torch.tensor(g)).sum()
    go = tg.autograd.grad(lo, ours, create_graph=second)
    gt = torch.autograd.grad(lt, theirs, create_graph=second)
    for a, b in zip(go, gt):
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=rtol, atol=atol)
    if second and any(g.requires_grad for g in gt):
        sum((g * g).sum() for g in gt if g.requires_grad).backward()
        if not any(g.requires_grad for g in go):        # constant first derivatives here
            for b in theirs:
                assert b.grad is None or np.allclose(b.grad.numpy(), 0, atol=1e-12)
            return
        sum((g * g).sum() for g in go if g.requires_grad).backward()
        for a, b in zip(ours, theirs):
            if b.grad is not None:
                np.testing.assert_allclose(_np(a.grad), b.grad.numpy(), rtol=1e-7, atol=1e-9)


batches = st.sampled_from([(), (2,), (2, 3)])


@SETTINGS
@given(batches, st.integers(1, 4), st.integers(0, 2**16))
def test_det_slogdet_inv_solve_match_torch(batch, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n)) + 2 * np.eye(n)
    b = rng.standard_normal(batch + (n, 2))
    v = rng.standard_normal(batch + (n,))
    _compare(tg.linalg.det, torch.linalg.det, [a])
    _compare(lambda x: tg.linalg.slogdet(x)[1], lambda x: torch.linalg.slogdet(x)[1], [a])
    np.testing.assert_array_equal(_np(tg.linalg.slogdet(tg.tensor(a)).sign),
                                  torch.linalg.slogdet(torch.tensor(a)).sign.numpy())
    _compare(tg.linalg.inv, torch.linalg.inv, [a])
    _compare(tg.linalg.solve, torch.linalg.solve, [a, b])
    _compare(tg.linalg.solve, torch.linalg.solve, [a, v])
    _compare(lambda x, y: tg.linalg.solve(x, y, left=False),
             lambda x, y: torch.linalg.solve(x, y, left=False), [a, np.swapaxes(b, -1, -2)])
    _compare(tg.logdet, torch.logdet, [a @ np.swapaxes(a, -1, -2)])


def test_det_of_singular_matrices_has_the_cofactor_gradient():
    """At singular matrices the gradient of det is still the cofactor matrix (rank n - 1: not
    zero; torch 2.13 returns zeros there): against the cofactors from the minors and by
    finite differences."""
    a = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, 1.0, -1.0]],
                  [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]])
    x = tg.tensor(a, requires_grad=True)
    tg.linalg.det(x).sum().backward()
    cof = np.empty_like(a)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                minor = np.delete(np.delete(a[b], i, 0), j, 1)
                cof[b, i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    np.testing.assert_allclose(_np(x.grad), cof, atol=1e-12)
    assert gradcheck(tg.linalg.det, [tg.tensor(a, requires_grad=True)])


def test_solve_broadcasts_batches_and_errors():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 1, 4, 4)) + 3 * np.eye(4)
    b = rng.standard_normal((2, 4, 5))
    _compare(tg.linalg.solve, torch.linalg.solve, [a, b], second=False)
    with pytest.raises(RuntimeError, match="singular"):
        tg.linalg.inv(tg.tensor(np.zeros((2, 2))))
    with pytest.raises(RuntimeError, match="square"):
        tg.linalg.det(tg.tensor(np.zeros((2, 3))))
    with pytest.raises(RuntimeError, match="2 dimensions"):
        tg.linalg.inv(tg.tensor(np.zeros(3)))


@SETTINGS
@given(batches, st.integers(1, 4), st.booleans(), st.integers(0, 2**16))
def test_cholesky_and_triangular_solves_match_torch(batch, n, upper, seed):
    rng = np.random.default_rng(seed)
    a = _spd(rng, batch, n)
    b = rng.standard_normal(batch + (n, 3))
    _compare(lambda x: tg.linalg.cholesky(x, upper=upper),
             lambda x: torch.linalg.cholesky(x, upper=upper), [a])
    t = np.tril(rng.standard_normal(batch + (n, n))) + 2 * np.eye(n)
    t = np.swapaxes(t, -1, -2) if upper else t
    for left in (True, False):
        rhs = b if left else np.swapaxes(b, -1, -2)
        for unit in (False, True):
            _compare(lambda x, y: tg.linalg.solve_triangular(x, y, upper=upper, left=left,
                                                             unitriangular=unit),
                     lambda x, y: torch.linalg.solve_triangular(x, y, upper=upper, left=left,
                                                                unitriangular=unit),
                     [t, rhs], second=False)
    l = np.linalg.cholesky(a)
    l = np.swapaxes(l, -1, -2) if upper else l
    _compare(lambda x, y: tg.cholesky_solve(x, y, upper),
             lambda x, y: torch.cholesky_solve(x, y, upper), [b, l], second=False)
    _compare(lambda y: tg.cholesky_inverse(y, upper), lambda y: torch.cholesky_inverse(y, upper),
             [l] if batch == () else [l[(0,) * len(batch)]], second=False)


def test_cholesky_of_a_matrix_that_is_not_positive_definite_raises():
    with pytest.raises(RuntimeError, match="positive-definite"):
        tg.linalg.cholesky(tg.tensor(np.array([[1.0, 2.0], [2.0, 1.0]])))


@SETTINGS
@given(batches, st.sampled_from([(4, 3), (3, 3), (2, 4), (5, 1)]),
       st.sampled_from(["reduced", "complete"]), st.integers(0, 2**16))
def test_qr_matches_torch(batch, shape, mode, seed):
    a = np.random.default_rng(seed).standard_normal(batch + shape)
    m, n = shape
    differentiable = not (mode == "complete" and m > n)
    fo = lambda x: tuple(tg.linalg.qr(x, mode))
    ft = lambda x: tuple(torch.linalg.qr(x, mode))
    if differentiable:
        _compare(fo, ft, [a], rtol=1e-8, atol=1e-10)
    else:
        for o, t in zip(fo(tg.tensor(a)), ft(torch.tensor(a))):
            np.testing.assert_allclose(_np(o), t.numpy(), rtol=1e-10, atol=1e-12)
        q, _ = tg.linalg.qr(tg.tensor(a, requires_grad=True), mode)
        with pytest.raises(NotImplementedError):
            q.sum().backward()
    r_only = tg.linalg.qr(tg.tensor(a), "r")
    assert r_only.Q.numel() == 0
    np.testing.assert_allclose(_np(r_only.R), torch.linalg.qr(torch.tensor(a), "r").R.numpy(),
                               rtol=1e-10, atol=1e-12)


@SETTINGS
@given(batches, st.integers(1, 4), st.sampled_from(["L", "U"]), st.integers(0, 2**16))
def test_eigh_matches_torch(batch, n, uplo, seed):
    rng = np.random.default_rng(seed)
    a = _symmetric(rng, batch, n)
    # each triangle read alone: the other is garbage
    noise = np.triu(rng.standard_normal(batch + (n, n)), 1)
    a = a + (noise if uplo == "L" else np.swapaxes(noise, -1, -2))
    c = rng.standard_normal(batch + (n, n))
    _compare(lambda x: tg.linalg.eigvalsh(x, uplo), lambda x: torch.linalg.eigvalsh(x, uplo), [a])
    # sign-free: eigenvalues and the squared eigenvectors
    _compare(lambda x: (lambda r: (r[0], r[1] * r[1] * tg.tensor(c)))(tg.linalg.eigh(x, uplo)),
             lambda x: (lambda r: (r[0], r[1] * r[1] * torch.tensor(c)))(
                 torch.linalg.eigh(x, uplo)), [a], rtol=1e-7, atol=1e-9)


@SETTINGS
@given(batches, st.sampled_from([(4, 3), (3, 3), (2, 4), (1, 3)]), st.integers(0, 2**16))
def test_svd_matches_torch(batch, shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + shape)
    k = min(shape)
    cu = rng.standard_normal(batch + (shape[0], k))
    cv = rng.standard_normal(batch + (k, shape[1]))
    _compare(tg.linalg.svdvals, torch.linalg.svdvals, [a])
    sign_free = lambda r, lib: (r[1], r[0] * r[0] * lib.tensor(cu), r[2] * r[2] * lib.tensor(cv),
                                (r[0] * r[1][..., None, :]) @ r[2])
    _compare(lambda x: sign_free(tg.linalg.svd(x, full_matrices=False), tg),
             lambda x: sign_free(torch.linalg.svd(x, full_matrices=False), torch), [a],
             rtol=1e-7, atol=1e-9)


def test_svd_full_matrices_and_torch_svd_form():
    a = np.random.default_rng(2).standard_normal((4, 2))
    u, s, vh = tg.linalg.svd(tg.tensor(a))
    assert tuple(u.shape) == (4, 4) and tuple(vh.shape) == (2, 2)
    np.testing.assert_allclose(_np(s), np.linalg.svd(a)[1])
    U, S, V = tg.svd(tg.tensor(a))
    np.testing.assert_allclose(_np((U * S) @ V.T), a, atol=1e-12)
    assert tuple(tg.tensor(a).svd(some=False).U.shape) == (4, 4)
    x = tg.tensor(a, requires_grad=True)
    with pytest.raises(NotImplementedError):
        tg.linalg.svd(x).U.sum().backward()


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 5)])
@pytest.mark.parametrize("hermitian", [False, True])
def test_pinv_matrix_rank_lstsq_match_torch(shape, hermitian):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape)
    if hermitian:
        a = _symmetric(rng, (), shape[0])
    if hermitian:     # torch 2.13's own backward of pinv(hermitian=True) raises: gradcheck
        np.testing.assert_allclose(_np(tg.linalg.pinv(tg.tensor(a), hermitian=True)),
                                   torch.linalg.pinv(torch.tensor(a), hermitian=True).numpy(),
                                   rtol=1e-10, atol=1e-12)
        assert gradcheck(lambda x: tg.linalg.pinv(x + x.transpose(0, 1), hermitian=True),
                         [tg.tensor(a, requires_grad=True)])
    else:
        _compare(lambda x: tg.linalg.pinv(x), lambda x: torch.linalg.pinv(x), [a], second=False)
    low_rank = a[:, :1] @ a[:1, :] if not hermitian else np.outer(a[0], a[0])
    for m in (a, low_rank):
        for kwargs in ({}, {"atol": 0.5}, {"rtol": 0.3}):
            assert tg.linalg.matrix_rank(tg.tensor(m), hermitian=hermitian, **kwargs).item() == \
                torch.linalg.matrix_rank(torch.tensor(m), hermitian=hermitian, **kwargs).item()
    b = rng.standard_normal((a.shape[0], 2))
    for driver in ("gelsd", "gelss", "gelsy"):
        o = tg.linalg.lstsq(tg.tensor(a), tg.tensor(b), driver=driver)
        t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        for field in ("solution", "residuals", "rank", "singular_values"):
            np.testing.assert_allclose(_np(getattr(o, field)), getattr(t, field).numpy(),
                                       rtol=1e-9, atol=1e-11, err_msg=f"{driver} {field}")
    _compare(lambda x, y: tg.linalg.lstsq(x, y, driver="gelsd").solution,
             lambda x, y: torch.linalg.lstsq(x, y, driver="gelsd").solution, [a, b], second=False)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norms_and_cond_match_torch(ord):
    a = np.random.default_rng(4).standard_normal((2, 3, 4))
    _compare(lambda x: tg.linalg.matrix_norm(x, ord), lambda x: torch.linalg.matrix_norm(x, ord),
             [a], second=False)
    _compare(lambda x: tg.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=True),
             lambda x: torch.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=True), [a],
             second=False)
    sq = a[0, :, :3] + 2 * np.eye(3)
    if ord in (2, -2):
        _compare(lambda x: tg.linalg.cond(x, ord), lambda x: torch.linalg.cond(x, ord), [sq],
                 second=False)
    else:   # torch 2.13's backward of cond through inv raises (an in-place error): gradcheck
        np.testing.assert_allclose(_np(tg.linalg.cond(tg.tensor(sq), ord)),
                                   torch.linalg.cond(torch.tensor(sq), ord).numpy(), rtol=1e-10)
        assert gradcheck(lambda x: tg.linalg.cond(x, ord), [tg.tensor(sq, requires_grad=True)])


@pytest.mark.parametrize("ord", [2, 1, 3.5, math.inf, -math.inf, 0, -1])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_vector_norm_and_norm_match_torch(ord, dim):
    a = np.random.default_rng(5).standard_normal((2, 3, 4)) + 0.1
    if ord == 0:      # the count of non-zeros: torch's is not connected to the graph at all
        for keep in (False, True):
            np.testing.assert_array_equal(
                _np(tg.linalg.vector_norm(tg.tensor(a), 0, dim, keep)),
                torch.linalg.vector_norm(torch.tensor(a), 0, dim, keep).numpy())
        return
    _compare(lambda x: tg.linalg.vector_norm(x, ord, dim), lambda x: torch.linalg.vector_norm(
        x, ord, dim), [a], second=False)
    _compare(lambda x: tg.linalg.vector_norm(x, ord, dim, keepdim=True),
             lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim=True), [a], second=False)
    try:
        expected = torch.linalg.norm(torch.tensor(a), ord, dim)
    except RuntimeError:    # ord without dim on 3-D; a matrix norm of order 3.5: both raise
        with pytest.raises(RuntimeError):
            tg.linalg.norm(tg.tensor(a), ord, dim)
    else:
        assert expected is not None
        _compare(lambda x: tg.linalg.norm(x, ord, dim), lambda x: torch.linalg.norm(x, ord, dim),
                 [a], second=False)
    _compare(lambda x: tg.linalg.norm(x), lambda x: torch.linalg.norm(x), [a], second=False)


def test_products_powers_exponential_and_helpers_match_torch():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((2, 4, 3)), rng.standard_normal((4, 3))
    _compare(lambda x, y: tg.linalg.cross(x, y), lambda x, y: torch.linalg.cross(x, y),
             [a, b[None].copy()])
    _compare(lambda x, y: tg.linalg.cross(x, y, dim=1),
             lambda x, y: torch.linalg.cross(x, y, dim=1), [a[:, :3], b[None, :3].copy()])
    _compare(tg.cross, lambda x, y: torch.cross(x, y, dim=2), [a, b[None].copy()])
    m = rng.standard_normal((3, 3)) * 0.7
    for n in (0, 1, 2, 5, -1, -3):
        _compare(lambda x: tg.linalg.matrix_power(x, n),
                 lambda x: torch.linalg.matrix_power(x, n), [m + 2 * np.eye(3)])
    _compare(tg.linalg.matrix_exp, torch.linalg.matrix_exp, [rng.standard_normal((2, 3, 3))],
             rtol=1e-8)
    _compare(tg.linalg.matrix_exp, torch.linalg.matrix_exp, [rng.standard_normal((3, 3)) * 5],
             rtol=1e-7, second=False)
    _compare(lambda *t: tg.linalg.multi_dot(list(t)), lambda *t: torch.linalg.multi_dot(list(t)),
             [rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal((4, 2))])
    _compare(lambda x, y: tg.linalg.vecdot(x, y, dim=1),
             lambda x, y: torch.linalg.vecdot(x, y, dim=1), [a, a[::-1].copy()])
    _compare(lambda x: tg.linalg.diagonal(x, offset=1), lambda x: torch.linalg.diagonal(
        x, offset=1), [a])
    _compare(lambda x: tg.linalg.vander(x, N=4), lambda x: torch.linalg.vander(x, N=4),
             [rng.standard_normal((2, 3))], second=False)
    t4 = rng.standard_normal((2, 3, 6)) + np.eye(6).reshape(6, 6)[:6].reshape(2, 3, 6)
    _compare(lambda x: tg.linalg.tensorinv(x, ind=2), lambda x: torch.linalg.tensorinv(x, ind=2),
             [t4], second=False)
    _compare(lambda x, y: tg.linalg.tensorsolve(x, y), lambda x, y: torch.linalg.tensorsolve(
        x, y), [t4, rng.standard_normal((2, 3))], second=False)


def test_torch_top_level_forms_and_methods():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    for name in ("det", "logdet", "inverse", "pinverse", "matrix_exp"):
        _compare(getattr(tg, name), getattr(torch, name), [a @ a.T], second=False)
        np.testing.assert_allclose(_np(getattr(tg.tensor(a @ a.T), name)()),
                                   getattr(torch.tensor(a @ a.T), name)().numpy(), rtol=1e-10)
    _compare(lambda x: tg.tensor(1.0) * x.matrix_power(3), lambda x: x.matrix_power(3), [a])
    _compare(lambda x: x.cholesky(), lambda x: x.cholesky(), [a @ a.T], second=False)
    q, r = tg.tensor(a).qr()
    tq, tr = torch.tensor(a).qr()
    np.testing.assert_allclose(_np(q), tq.numpy(), atol=1e-12)
    np.testing.assert_allclose(_np(r), tr.numpy(), atol=1e-12)
    sign, logabs = tg.tensor(a).slogdet()
    np.testing.assert_allclose(logabs.item(), torch.tensor(a).slogdet()[1].item())


@pytest.mark.parametrize("name,args", [("det", [(3, 3)]), ("inv", [(3, 3)]),
                                       ("solve", [(3, 3), (3, 2)]), ("matrix_exp", [(2, 2)]),
                                       ("cholesky", "spd"), ("qr", [(4, 3)]), ("qr", [(2, 4)]),
                                       ("svdvals", [(3, 2)]), ("eigvalsh", "sym")])
def test_gradcheck(name, args):
    rng = np.random.default_rng(8)
    if args == "spd":
        inputs, fn = [_spd(rng, (), 3)], tg.linalg.cholesky
    elif args == "sym":
        inputs, fn = [_symmetric(rng, (), 3)], tg.linalg.eigvalsh
    else:
        inputs = [rng.standard_normal(s) + (2 * np.eye(s[0]) if s[0] == s[-1] else 0)
                  for s in args]
        fn = (lambda x: tg.linalg.qr(x)[0].sum(-1) + tg.linalg.qr(x)[1].sum()) \
            if name == "qr" else getattr(tg.linalg, name)
    if name == "cholesky":       # symmetric perturbations only
        inputs_t = [tg.tensor(np.tril(inputs[0]), requires_grad=True)]
        assert gradcheck(lambda t: fn(t + t.transpose(0, 1) - t.diag().diag()), inputs_t)
        return
    if name == "eigvalsh":
        inputs_t = [tg.tensor(np.tril(inputs[0]), requires_grad=True)]
        assert gradcheck(lambda t: fn(t + t.transpose(0, 1) - t.diag().diag()), inputs_t)
        return
    assert gradcheck(fn, [tg.tensor(x, requires_grad=True) for x in inputs])
