"""Sparse COO tensors against torch.sparse: construction, coalesce, to_dense/to_sparse, and
sparse @ dense products with gradients for the dense operand and the values."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import sparse
from tinygrad_cv.testing import gradcheck, gradgradcheck

SETTINGS = settings(max_examples=10, deadline=None)


pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


TOL = dict(rtol=1e-12, atol=1e-12)


def _np(t):
    return t.detach().numpy()


def _coo(rng, shape, nnz, dense=()):
    """Random (indices, values), duplicates likely when nnz is large."""
    idx = np.stack([rng.integers(0, s, size=nnz) for s in shape]).astype(np.int64)
    return idx, rng.standard_normal((nnz,) + tuple(dense))


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 12), st.sampled_from([(), (2,)]),
       st.booleans(), st.integers(0, 2**16))
def test_construct_coalesce_and_to_dense_match_torch(m, n, nnz, dense, give_size, seed):
    rng = np.random.default_rng(seed)
    idx, vals = _coo(rng, (m, n), nnz, dense)
    size = (m, n) + dense if give_size or nnz == 0 else None
    so = tg.sparse_coo_tensor(idx, vals, size)
    st_ = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(vals),
                                  *(() if size is None else (size,)), check_invariants=True)
    assert so.is_sparse and isinstance(so, tg.Tensor)
    assert so.shape == tuple(st_.shape) and so._nnz() == st_._nnz()
    assert (so.sparse_dim(), so.dense_dim()) == (st_.sparse_dim(), st_.dense_dim())
    np.testing.assert_array_equal(_np(so._indices()), st_._indices().numpy())
    np.testing.assert_allclose(_np(so.to_dense()), st_.to_dense().numpy(), **TOL)
    co, ct = so.coalesce(), st_.coalesce()
    assert co.is_coalesced() and so.is_coalesced() == st_.is_coalesced()
    np.testing.assert_array_equal(_np(co.indices()), ct.indices().numpy())
    np.testing.assert_allclose(_np(co.values()), ct.values().numpy(), **TOL)


@SETTINGS
@given(st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)), st.integers(1, 3),
       st.integers(0, 2**16))
def test_to_sparse_matches_torch_and_its_values_are_differentiable(shape, sparse_dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * (rng.random(shape) < 0.4)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    so, st_ = xo.to_sparse(sparse_dim), xt.to_sparse(sparse_dim)
    assert so.is_coalesced()
    np.testing.assert_array_equal(_np(so.indices()), st_.indices().numpy())
    np.testing.assert_allclose(_np(so.values()), _np(st_.values()), **TOL)
    np.testing.assert_allclose(_np(so.to_dense()), x, **TOL)
    g = rng.standard_normal(tuple(st_.values().shape))
    (so.values() * tg.Tensor(g)).sum().backward()
    (st_.values() * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(_np(xo.grad), xt.grad.numpy(), **TOL)


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(0, 15),
       st.booleans(), st.integers(0, 2**16))
def test_sparse_mm_matches_torch_with_gradients(m, k, n, nnz, coalesce, seed):
    rng = np.random.default_rng(seed)
    idx, vals = _coo(rng, (m, k), nnz)
    d = rng.standard_normal((k, n))
    vo, vt = tg.Tensor(vals, requires_grad=True), torch.tensor(vals, requires_grad=True)
    do, dt = tg.Tensor(d, requires_grad=True), torch.tensor(d, requires_grad=True)
    so = tg.sparse_coo_tensor(idx, vo, (m, k))
    st_ = torch.sparse_coo_tensor(torch.tensor(idx), vt, (m, k), check_invariants=True)
    if coalesce:
        so, st_ = so.coalesce(), st_.coalesce()
    yo, yt = sparse.mm(so, do), torch.sparse.mm(st_, dt)
    np.testing.assert_allclose(_np(yo), _np(yt), **TOL)
    g = rng.standard_normal((m, n))
    yo.backward(tg.Tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(_np(do.grad), dt.grad.numpy(), **TOL)
    if nnz:
        np.testing.assert_allclose(_np(vo.grad), vt.grad.numpy(), **TOL)


def test_function_and_operator_forms_and_dense_times_sparse():
    rng = np.random.default_rng(0)
    idx, vals = _coo(rng, (3, 4), 5)
    so = tg.sparse_coo_tensor(idx, vals, (3, 4))
    st_ = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(vals), (3, 4),
                                  check_invariants=True)
    d, left = rng.standard_normal((4, 2)), rng.standard_normal((2, 3))
    expect = torch.mm(st_, torch.tensor(d)).numpy()
    for out in (tg.mm(so, tg.Tensor(d)), so @ tg.Tensor(d), so.mm(tg.Tensor(d)),
                sparse.spmm(so, tg.Tensor(d)), so.matmul(tg.Tensor(d))):
        np.testing.assert_allclose(_np(out), expect, **TOL)
    np.testing.assert_allclose(_np(tg.Tensor(left) @ so), torch.tensor(left) @ st_.to_dense(),
                               **TOL)
    np.testing.assert_allclose(_np(so.t().to_dense()), st_.t().to_dense().numpy(), **TOL)
    np.testing.assert_allclose(
        _np(sparse.addmm(tg.ones(3, 2, dtype="float64"), so, tg.Tensor(d), beta=0.5, alpha=2.0)),
        torch.sparse.addmm(torch.ones(3, 2, dtype=torch.float64), st_, torch.tensor(d),
                           beta=0.5, alpha=2.0).numpy(), **TOL)
    np.testing.assert_allclose(_np((so * 2.0).to_dense()), (st_ * 2.0).to_dense().numpy(), **TOL)


def test_sparse_leaf_gradient_is_at_the_stored_coordinates_like_torch_sparse_mm():
    idx = np.array([[1, 0, 1], [0, 2, 0]])
    vals = np.array([1.0, 2.0, 3.0])
    so = tg.sparse_coo_tensor(idx, vals, (2, 3), requires_grad=True)
    st_ = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(vals), (2, 3),
                                  requires_grad=True, check_invariants=True)
    d = np.random.default_rng(1).standard_normal((3, 2))
    sparse.mm(so, tg.Tensor(d)).sum().backward()
    torch.sparse.mm(st_, torch.tensor(d)).sum().backward()
    assert so.is_leaf and so.grad.is_sparse
    np.testing.assert_allclose(_np(so.grad.to_dense()), st_.grad.to_dense().numpy(), **TOL)


def test_gradcheck_products_and_to_dense():
    rng = np.random.default_rng(2)
    idx, vals = _coo(rng, (3, 4), 6)
    v = tg.Tensor(vals, requires_grad=True)
    d = tg.Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    gradcheck(lambda v, d: sparse.mm(tg.sparse_coo_tensor(idx, v, (3, 4)), d), [v, d])
    gradcheck(lambda v: tg.sparse_coo_tensor(idx, v, (3, 4)).coalesce().to_dense() ** 2, [v])
    gradgradcheck(lambda v: tg.sparse_coo_tensor(idx, v, (3, 4)).coalesce().to_dense() ** 3,
                  [v])
    # the product is a fused first-order layer: a second-order request says so
    out = sparse.mm(tg.sparse_coo_tensor(idx, v, (3, 4)), d)
    with pytest.raises(RuntimeError, match="RowScatter"):
        tg.autograd.grad(out.sum(), [d], create_graph=True)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="outside the size"):
        tg.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,))
    with pytest.raises(ValueError, match="nnz = 2"):
        tg.sparse_coo_tensor([[0, 1]], [1.0, 2.0, 3.0], (3,))
    with pytest.raises(ValueError, match="not sorted without repeats"):
        tg.sparse_coo_tensor([[1, 0]], [1.0, 2.0], (3,), is_coalesced=True)
    assert tg.sparse_coo_tensor([[0, 2]], [1.0, 2.0], (3,), is_coalesced=True).is_coalesced()
    s = tg.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 1.0], (2, 2))
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        s + 1                                   # torch's message
    with pytest.raises(RuntimeError, match="to_dense"):
        s.sum()
    with pytest.raises(NotImplementedError, match="sparse @ sparse"):
        sparse.mm(s, s)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        sparse.mm(s, tg.ones(3, 2))
    assert not tg.ones(2).is_sparse
    assert "nnz=2" in repr(s) and "layout=sparse_coo" in repr(s)


@pytest.mark.filterwarnings("ignore:torch.sparse.SparseTensor")   # torch: deprecated form
def test_graph_convolution_as_in_pygcn():
    """tkipf/pygcn's pattern: the adjacency built with torch.sparse.FloatTensor(indices,
    values, shape), each layer output = torch.spmm(adj, input @ W) + b; forward and gradients
    equal torch's."""
    rng = np.random.default_rng(4)
    n, f, h = 6, 4, 3
    rows, cols = np.nonzero(rng.random((n, n)) < 0.4)
    idx = np.vstack((rows, cols)).astype(np.int64)
    vals = rng.random(len(rows)).astype(np.float32)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((n, f), (f, h), (h,)))

    def run(lib, tensor):
        adj = lib.sparse.FloatTensor(tensor(idx), tensor(vals), (n, n))
        weight, bias = tensor(w), tensor(b)
        weight.requires_grad_(True)
        bias.requires_grad_(True)
        out = lib.spmm(adj, tensor(x) @ weight) + bias
        (out * out).sum().backward()
        return out, weight.grad, bias.grad, adj.dtype

    ours = run(tg, tg.tensor)
    theirs = run(torch, torch.tensor)
    assert ours[3] == tg.float32
    for a, b_ in zip(ours[:3], theirs[:3]):
        np.testing.assert_allclose(_np(a), _np(b_), rtol=1e-5, atol=1e-6)
    empty = tg.sparse.DoubleTensor(2, 3)
    assert empty.shape == (2, 3) and empty._nnz() == 0 and empty.dtype == tg.float64
    np.testing.assert_array_equal(_np(empty.to_dense()), np.zeros((2, 3)))


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 5), n=st.integers(1, 5), nnz=st.integers(0, 8), seed=st.integers(0, 99))
def test_addition_matches_torch_with_gradients(m, n, nnz, seed):
    """dense + sparse -> dense, dense - sparse, sparse + sparse -> sparse (uncoalesced), with
    the gradients of the dense term and the values; sparse + dense raises as torch's."""
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.integers(0, m, nnz), rng.integers(0, n, nnz)]).astype(np.int64)
    val, dense = rng.standard_normal(nnz), rng.standard_normal((m, n))
    results = []
    for lib in (torch, tg):
        v, d = lib.tensor(val, requires_grad=True), lib.tensor(dense, requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor(idx), v, (m, n))
        both = s + s
        out = (d + s) * (d - s) + both.to_dense()
        (out * out).sum().backward()
        # (the number of entries of an uncoalesced sum is torch's implementation detail)
        results.append((_np(out), _np(v.grad), _np(d.grad), both.is_sparse,
                        both.is_coalesced() or not s.is_coalesced()))
        with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
            s + d
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_addition_of_different_sizes_raises():
    s = tg.sparse_coo_tensor(tg.tensor([[0], [1]]), tg.tensor([1.0]), (2, 3))
    with pytest.raises(RuntimeError, match="sizes must match"):
        tg.ones(3, 3) + s
    with pytest.raises(RuntimeError, match="sizes must match"):
        s + tg.sparse_coo_tensor(tg.tensor([[0], [1]]), tg.tensor([1.0]), (2, 4))
