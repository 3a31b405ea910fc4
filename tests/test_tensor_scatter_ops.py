"""The scatter/index family (scatter, scatter_add, scatter_reduce, index_add/copy/fill/put,
masked_scatter, take_along_dim), lerp, addcmul/addcdiv and addmm/addbmm/baddbmm: values,
dtypes and gradients against torch over hypothesis-drawn shapes, dims and indices (repeats
where torch defines the result), float64 gradcheck and second derivatives, torch's errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import gradcheck

from autograd_cases import check_gradgrad, check_op

SETTINGS = settings(max_examples=12, deadline=None)


@st.composite
def scatter_case(draw, unique=False):
    """(self shape, dim, index int64 array, src shape): index no larger than self apart from
    dim, src of index's shape (torch's backward fails for a larger src: our larger-src
    gradients are gradchecked below); ``unique``: no repeated target along dim."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(-ndim, ndim - 1))
    d = dim % ndim
    n = shape[d]
    ishape = [draw(st.integers(0 if i != d else 1, s)) for i, s in enumerate(shape)]
    ishape[d] = draw(st.integers(1, n if unique else n + 2))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if unique:
        full = list(ishape)
        full[d] = n
        index = np.argsort(rng.random(full), axis=d).take(range(ishape[d]), axis=d)
    else:
        index = rng.integers(0, n, size=ishape)
    sshape = tuple(ishape)
    return shape, dim, index.astype(np.int64), sshape, seed


# ---- scatter, scatter_add, scatter_reduce -------------------------------------------------------
@SETTINGS
@given(scatter_case(unique=True))
def test_scatter_src_and_value_against_torch(case):
    shape, dim, index, sshape, seed = case
    rng = np.random.default_rng(seed)
    x, s = rng.standard_normal(shape), rng.standard_normal(sshape)
    check_op(lambda a, b, i: tg.scatter(a, dim, i, b), lambda a, b, i: torch.scatter(a, dim, i, b),
             [x, s, index])
    check_op(lambda a, i: a.scatter(dim, i, 2.5), lambda a, i: a.scatter(dim, i, 2.5),
             [x, index])


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@SETTINGS
@given(scatter_case())
def test_scatter_add_with_repeats_against_torch(case):
    shape, dim, index, sshape, seed = case
    rng = np.random.default_rng(seed)
    x, s = rng.standard_normal(shape), rng.standard_normal(sshape)
    check_op(lambda a, b, i: a.scatter_add(dim, i, b), lambda a, b, i: a.scatter_add(dim, i, b),
             [x, s, index])
    # torch's older reduce='add' form (torch does not differentiate it: values only)
    ours = tg.tensor(x).scatter(dim, tg.tensor(index), tg.tensor(s), reduce="add")
    np.testing.assert_allclose(ours.numpy(), torch.tensor(x).scatter(
        dim, torch.tensor(index), torch.tensor(s), reduce="add").numpy(), rtol=1e-12)


@SETTINGS
@given(scatter_case(), st.sampled_from(["sum", "prod", "mean", "amax", "amin"]), st.booleans())
def test_scatter_reduce_against_torch(case, reduce, include_self):
    shape, dim, index, sshape, seed = case
    rng = np.random.default_rng(seed)
    x, s = rng.standard_normal(shape), rng.standard_normal(sshape)
    check_op(lambda a, b, i: tg.scatter_reduce(a, dim, i, b, reduce, include_self=include_self),
             lambda a, b, i: torch.scatter_reduce(a, dim, i, b, reduce,
                                                  include_self=include_self), [x, s, index],
             rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
def test_scatter_reduce_second_derivatives_match_torch(reduce):
    rng = np.random.default_rng(1)
    index = np.array([[0, 2, 2], [1, 2, 0]])
    i_t, i_o = torch.tensor(index), tg.tensor(index)
    check_gradgrad(lambda a, b: (a.scatter_reduce(0, i_o, b, reduce) ** 2),
                   lambda a, b: (a.scatter_reduce(0, i_t, b, reduce) ** 2),
                   [rng.standard_normal((3, 3)), rng.standard_normal((2, 3))])


def test_scatter_reduce_prod_with_zeros_and_extremum_ties_match_torch():
    """Zeros in a product (one: the others' product; two: 0) and tied maxima sharing."""
    x = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 5.0]])
    s = np.array([[4.0, 0.0, 0.5], [0.0, 3.0, 5.0]])
    index = np.array([[0, 0, 1], [0, 1, 1]])
    for reduce in ("prod", "amax", "amin"):
        for include_self in (True, False):
            # (torch also counts a left-out self that equals the extremum among the ties)
            x = x if include_self else x + 0.25
            check_op(lambda a, b, i: a.scatter_reduce(0, i, b, reduce, include_self=include_self),
                     lambda a, b, i: a.scatter_reduce(0, i, b, reduce, include_self=include_self),
                     [x, s, index])


def test_scatter_reduce_prod_is_first_order_with_a_clear_error():
    x = tg.tensor(np.ones((2, 2)), requires_grad=True)
    y = x.scatter_reduce(0, tg.tensor([[0, 0]]), x[:1] * 2, "prod")
    (g,) = tg.autograd.grad(y.sum(), [x])
    np.testing.assert_allclose(g.numpy(), [[4.0, 4.0], [1.0, 1.0]])
    y = x.scatter_reduce(0, tg.tensor([[0, 0]]), x[:1] * 2, "prod")
    with pytest.raises(RuntimeError, match="prod.*differentiable once"):
        tg.autograd.grad(y.sum(), [x], create_graph=True)[0].sum().backward()


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32"])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_dtypes_match_torch(dtype, reduce):
    x = np.array([[-7, 2, 9], [4, -5, 6]]).astype(dtype)
    s = np.array([[3, -2, 8], [1, 1, 4]]).astype(dtype)
    index = np.array([[1, 0, 1], [1, 0, 0]])
    for include_self in (True, False):
        ours = tg.tensor(x).scatter_reduce(0, tg.tensor(index), tg.tensor(s), reduce,
                                           include_self=include_self)
        theirs = torch.tensor(x).scatter_reduce(0, torch.tensor(index), torch.tensor(s), reduce,
                                                include_self=include_self)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_reduce_inplace_and_deprecated_multiply_match_torch():
    rng = np.random.default_rng(2)
    x, s = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    index = np.array([[0, 1, 1, 2], [2, 1, 0, 0]])
    ours, theirs = tg.tensor(x), torch.tensor(x)
    ours.scatter_reduce_(0, tg.tensor(index), tg.tensor(s), "amax", include_self=False)
    theirs.scatter_reduce_(0, torch.tensor(index), torch.tensor(s), "amax", include_self=False)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours._version == 1
    np.testing.assert_allclose(
        tg.tensor(x).scatter(0, tg.tensor(index), 3.0, reduce="multiply").numpy(),
        torch.tensor(x).scatter(0, torch.tensor(index), 3.0, reduce="multiply").numpy())
    # on the graph: the in-place form rebases a non-leaf (gradient through the write)
    w, src = tg.tensor(x, requires_grad=True), tg.tensor(s, requires_grad=True)
    wt, st_ = torch.tensor(x, requires_grad=True), torch.tensor(s, requires_grad=True)
    (w * 2).scatter_reduce_(0, tg.tensor(index), src, "mean").sum().backward()
    (wt * 2).scatter_reduce_(0, torch.tensor(index), st_, "mean").sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy())
    np.testing.assert_allclose(src.grad.numpy(), st_.grad.numpy())


def test_scatter_out_of_place_leaves_input_and_its_version_alone():
    x = tg.zeros(3, 4, requires_grad=True)
    y = x.scatter(0, tg.tensor([[2, 0, 1, 0]]), 1.0)
    assert x._version == 0 and float(x.sum().item()) == 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 1, 0], [1, 1, 0, 1], [0, 1, 1, 1]])


@pytest.mark.parametrize("call, error, message", [
    (lambda L, x, i: x.scatter(0, i.float(), 1.0), RuntimeError, "int64"),
    (lambda L, x, i: x.scatter(0, L.tensor([[0, 5]]), 1.0), RuntimeError, "index 5 is out of"),
    (lambda L, x, i: x.scatter(0, L.tensor([[0, -1]]), 1.0), RuntimeError, "index -1 is out"),
    (lambda L, x, i: x.scatter(0, L.tensor([[0, 1, 1, 1, 1]]), 1.0), RuntimeError, "no larger"),
    (lambda L, x, i: x.scatter(0, L.tensor([[0, 1]]), L.ones(1, 1)), RuntimeError, "src"),
    (lambda L, x, i: x.scatter(0, L.tensor([0, 1]), 1.0), RuntimeError, "number of dimensions"),
    (lambda L, x, i: x.scatter(0, i, L.ones(1, 4).double()), RuntimeError, "dtype"),
    (lambda L, x, i: x.scatter(2, i, 1.0), IndexError, "dimension 2 is out of range"),
    (lambda L, x, i: x.scatter(0, i, L.ones(1, 4), reduce="max"), RuntimeError,
     "add or multiply"),
    (lambda L, x, i: x.scatter_add(0, L.tensor([[0, 3]]), L.ones(1, 2)), RuntimeError,
     "index 3"),
    (lambda L, x, i: x.scatter_reduce(0, i, L.ones(1, 4), "foo"), RuntimeError, "sum, prod"),
    (lambda L, x, i: x.scatter_reduce(0, i, L.ones(1, 4).double(), "sum"), RuntimeError,
     "dtype"),
])
def test_scatter_bad_arguments_raise_torch_errors(call, error, message):
    """Ours names what was wrong; torch raises the same exception type for the same call."""
    with pytest.raises(error, match=message):
        call(tg, tg.zeros(3, 4), tg.tensor([[0, 1, 2, 1]]))
    with pytest.raises(error):
        call(torch, torch.zeros(3, 4), torch.tensor([[0, 1, 2, 1]]))


# ---- index_add, index_copy, index_fill, index_put -----------------------------------------------
@st.composite
def index_case(draw, unique=False):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(-ndim, ndim - 1))
    n = shape[dim % ndim]
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    k = draw(st.integers(0, n if unique else n + 2))
    index = rng.permutation(n)[:k] if unique else rng.integers(0, n, size=k)
    sshape = list(shape)
    sshape[dim % ndim] = k
    return shape, dim, index.astype(np.int64), tuple(sshape), seed


@SETTINGS
@given(index_case(), st.sampled_from([1, -2.5]))
def test_index_add_with_repeats_against_torch(case, alpha):
    shape, dim, index, sshape, seed = case
    rng = np.random.default_rng(seed)
    x, s = rng.standard_normal(shape), rng.standard_normal(sshape)
    check_op(lambda a, b, i: tg.index_add(a, dim, i, b, alpha=alpha),
             lambda a, b, i: torch.index_add(a, dim, i, b, alpha=alpha), [x, s, index])
    check_op(lambda a, b, i: a.index_add(dim, i.int(), b),
             lambda a, b, i: a.index_add(dim, i.int(), b), [x, s, index])


@SETTINGS
@given(index_case(unique=True))
def test_index_copy_and_index_fill_against_torch(case):
    shape, dim, index, sshape, seed = case
    rng = np.random.default_rng(seed)
    x, s = rng.standard_normal(shape), rng.standard_normal(sshape)
    check_op(lambda a, b, i: tg.index_copy(a, dim, i, b),
             lambda a, b, i: torch.index_copy(a, dim, i, b), [x, s, index])
    check_op(lambda a, i: tg.index_fill(a, dim, i, -1.5),
             lambda a, i: torch.index_fill(a, dim, i, -1.5), [x, index])
    # a 0-d tensor value is differentiable; negative indices count from the end (torch's
    # backward fails on them: values only)
    check_op(lambda a, v, i: a.index_fill(dim, i, v),
             lambda a, v, i: a.index_fill(dim, i, v), [x, np.array(0.75), index])
    np.testing.assert_array_equal(
        tg.tensor(x).index_fill(dim, tg.tensor(-1 - index), 3.0).numpy(),
        torch.tensor(x).index_fill(dim, torch.tensor(-1 - index), 3.0).numpy())


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 6), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_index_put_against_torch(rows, cols, k, accumulate, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols))
    r, c = rng.integers(0, rows, size=k), rng.integers(0, cols, size=k)     # (repeats)
    if not accumulate:                                    # distinct (row, col) pairs
        flat = rng.permutation(rows * cols)[:k]
        r, c = flat // cols, flat % cols
    v = rng.standard_normal(len(r))
    check_op(lambda a, b, i, j: tg.index_put(a, (i, j), b, accumulate),
             lambda a, b, i, j: torch.index_put(a, (i, j), b, accumulate),
             [x, v, r.astype(np.int64), c.astype(np.int64)])
    # rows only, a broadcast value, in place
    ours, theirs = tg.tensor(x), torch.tensor(x)
    ours.index_put_((tg.tensor(r[:2]),), tg.tensor(2.0), accumulate=accumulate)
    theirs.index_put_((torch.tensor(r[:2]),), torch.tensor(2.0, dtype=torch.float64),
                      accumulate=accumulate)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_index_fill_with_repeated_indices_fills_once_with_torch_gradients():
    """Regression: a repeated index gave a 0-d tensor value its gradient twice."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3))
    check_op(lambda a, v, i: a.index_fill(1, i, v), lambda a, v, i: a.index_fill(1, i, v),
             [x, np.array(0.5), np.array([2, 0, 2])])
    check_gradgrad(lambda a, v: a.index_fill(1, tg.tensor([2, 0, 2]), v) ** 2,
                   lambda a, v: a.index_fill(1, torch.tensor([2, 0, 2]), v) ** 2,
                   [x, np.array(0.5)])


def test_index_ops_keep_integer_dtypes_and_version_counters():
    x = tg.arange(12).reshape(3, 4)
    out = x.index_add(1, tg.tensor([0, 0]), tg.ones(3, 2, dtype=tg.int64), alpha=3)
    np.testing.assert_array_equal(out.numpy(), torch.arange(12).reshape(3, 4).index_add(
        1, torch.tensor([0, 0]), torch.ones(3, 2, dtype=torch.int64), alpha=3).numpy())
    assert out.dtype == tg.int64 and x._version == 0
    x.index_fill_(0, tg.tensor([1]), 7)
    assert x._version == 1 and x.numpy()[1].tolist() == [7] * 4


@pytest.mark.parametrize("call, error, message", [
    (lambda L, x: x.index_add(0, L.tensor([0, 5]), L.ones(2, 4)), RuntimeError, "index 5"),
    (lambda L, x: x.index_add(0, L.tensor([0, -1]), L.ones(2, 4)), RuntimeError, "index -1"),
    (lambda L, x: x.index_add(0, L.tensor([0., 1.]), L.ones(2, 4)), RuntimeError,
     "int32/int64"),
    (lambda L, x: x.index_add(0, L.tensor([0, 1]), L.ones(3, 4)), RuntimeError, "source"),
    (lambda L, x: x.index_add(0, L.tensor([[0, 1]]), L.ones(2, 4)), IndexError, "vector"),
    (lambda L, x: x.index_add(0, L.tensor([0, 1]), L.ones(2, 4).double()), RuntimeError,
     "dtype"),
    (lambda L, x: x.index_copy(0, L.tensor([0, 1]).int(), L.ones(2, 4)), RuntimeError,
     "int64"),
    (lambda L, x: x.index_copy(0, L.tensor([0, 5]), L.ones(2, 4)), IndexError, "index 5"),
    (lambda L, x: x.index_copy(0, L.tensor([0, 1]), L.ones(3, 4)), IndexError, "source"),
    (lambda L, x: x.index_fill(0, L.tensor([0, 1]).int(), 1.0), IndexError, "int64"),
    (lambda L, x: x.index_fill(0, L.tensor([0, 5]), 1.0), IndexError, "index 5"),
    (lambda L, x: x.index_put((L.tensor([0, 5]),), L.tensor(1.0)), IndexError, "index 5"),
    (lambda L, x: x.index_put((L.tensor([0., 1.]),), L.tensor(1.0)), IndexError,
     "long, int"),
    (lambda L, x: x.index_put((L.tensor([0, 1]),), L.ones(3)), RuntimeError,
     "shape mismatch"),
])
def test_index_bad_arguments_raise_torch_errors(call, error, message):
    """Ours names what was wrong; torch raises the same exception type for the same call."""
    with pytest.raises(error, match=message):
        call(tg, tg.zeros(3, 4))
    with pytest.raises(error):
        call(torch, torch.zeros(3, 4))


# ---- masked_scatter, take_along_dim -------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.booleans(), st.integers(0, 2**31 - 1))
def test_masked_scatter_against_torch(rows, cols, broadcast_mask, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols))
    mask = rng.random((1, cols) if broadcast_mask else (rows, cols)) < 0.5
    src = rng.standard_normal(rows * cols + 1)
    check_op(lambda a, s, m: tg.masked_scatter(a, m, s),
             lambda a, s, m: torch.masked_scatter(a, m, s), [x, src, mask])
    check_op(lambda a, s, m: a.clone().masked_scatter_(m, s),
             lambda a, s, m: a.clone().masked_scatter_(m, s), [x, src, mask])


def test_masked_scatter_bad_arguments():
    x = tg.zeros(3, 4)
    with pytest.raises(RuntimeError, match="Number of elements of source"):
        x.masked_scatter(tg.ones(3, 4).bool(), tg.ones(5))
    with pytest.raises(RuntimeError, match="boolean masks"):
        x.masked_scatter(tg.ones(3, 4), tg.ones(12))
    with pytest.raises(RuntimeError, match="same dtypes"):
        x.masked_scatter(tg.ones(3, 4).bool(), tg.ones(12).double())


@SETTINGS
@given(scatter_case(), st.booleans())
def test_take_along_dim_against_torch(case, flat):
    shape, dim, _, _, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    d = dim % len(shape)
    # other dims: input's size or 1 (broadcast); negatives count from the end
    ishape = [rng.integers(1, shape[d] + 2) if i == d else rng.choice([1, s])
              for i, s in enumerate(shape)]
    index = rng.integers(-shape[d], shape[d], size=ishape)
    if flat:                                         # (flat: torch takes no negatives)
        index = rng.integers(0, x.size, size=5)
        check_op(lambda a, i: tg.take_along_dim(a, i), lambda a, i: torch.take_along_dim(a, i),
                 [x, index])
        return
    check_op(lambda a, i: a.take_along_dim(i, dim), lambda a, i: a.take_along_dim(i, dim),
             [x, index])
    # the input broadcast over a larger index
    x1 = x.take([0], axis=d - 1) if len(shape) > 1 else x
    big = list(index.shape)
    big[d - 1] = 3
    index = np.broadcast_to(index.take([0], axis=d - 1), big).copy() if len(shape) > 1 else \
        index
    check_op(lambda a, i: tg.take_along_dim(a, i, dim),
             lambda a, i: torch.take_along_dim(a, i, dim), [x1, index])


def test_take_along_dim_bad_arguments():
    x = tg.zeros(3, 4)
    with pytest.raises(RuntimeError, match="should be Long"):
        tg.take_along_dim(x, tg.tensor([[0, 1]]).int(), 1)
    with pytest.raises(IndexError):
        tg.take_along_dim(x, tg.tensor([[0, 1]]), 2)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tg.take_along_dim(x, tg.tensor([0, 1]), 1)


# ---- lerp, addcmul, addcdiv, addmm, addbmm, baddbmm ---------------------------------------------
@SETTINGS
@given(st.sampled_from([(3,), (2, 3), (1, 3)]), st.sampled_from([(3,), (2, 1)]),
       st.floats(-1.5, 1.5), st.integers(0, 2**31 - 1))
def test_lerp_against_torch(shape_a, shape_b, w, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    big = np.broadcast_shapes(shape_a, shape_b)
    a = np.broadcast_to(a, big).copy()
    check_op(lambda x, y: tg.lerp(x, y, w), lambda x, y: torch.lerp(x, y, w), [a, b])
    weight = rng.uniform(-1, 2, size=shape_b)
    check_op(lambda x, y, t: x.lerp(y, t), lambda x, y, t: x.lerp(y, t), [a, b, weight])
    check_gradgrad(lambda x, y, t: x.lerp(y, t) ** 2, lambda x, y, t: x.lerp(y, t) ** 2,
                   [a, b, weight])


@SETTINGS
@given(st.sampled_from([(2, 3), (3,), (1, 3)]), st.sampled_from([1, 0.5, -2]),
       st.integers(0, 2**31 - 1))
def test_addcmul_addcdiv_against_torch(shape, value, seed):
    rng = np.random.default_rng(seed)
    x, t1 = rng.standard_normal((2, 3)), rng.standard_normal(shape)
    t2 = rng.standard_normal((2, 1))
    t2 = np.where(np.abs(t2) < 0.3, 0.5, t2)
    check_op(lambda a, b, c: tg.addcmul(a, b, c, value=value),
             lambda a, b, c: torch.addcmul(a, b, c, value=value), [x, t1, t2])
    check_op(lambda a, b, c: a.addcdiv(b, c, value=value),
             lambda a, b, c: a.addcdiv(b, c, value=value), [x, t1, t2])
    check_gradgrad(lambda a, b, c: tg.addcdiv(a, b, c, value=value) ** 2,
                   lambda a, b, c: torch.addcdiv(a, b, c, value=value) ** 2, [x, t1, t2])


@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, -2), (0, 1)])
def test_addmm_baddbmm_addbmm_against_torch(beta, alpha):
    rng = np.random.default_rng(3)
    m1, m2 = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    b1, b2 = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 2, 4))
    for inp in (rng.standard_normal((3, 4)), rng.standard_normal((4,))):
        check_op(lambda i, a, b: tg.addmm(i, a, b, beta=beta, alpha=alpha),
                 lambda i, a, b: torch.addmm(i, a, b, beta=beta, alpha=alpha), [inp, m1, m2])
        check_op(lambda i, a, b: i.addbmm(a, b, beta=beta, alpha=alpha),
                 lambda i, a, b: i.addbmm(a, b, beta=beta, alpha=alpha), [inp, b1, b2])
        check_op(lambda i, a, b: tg.baddbmm(i, a, b, beta=beta, alpha=alpha),
                 lambda i, a, b: torch.baddbmm(i, a, b, beta=beta, alpha=alpha), [inp, b1, b2])
    nan = np.full((3, 4), np.nan)
    np.testing.assert_array_equal(tg.addmm(tg.tensor(nan), tg.tensor(m1), tg.tensor(m2),
                                           beta=0).numpy().round(12), (m1 @ m2).round(12))


def test_inplace_blends_and_fused_adds_match_torch_with_gradients():
    rng = np.random.default_rng(4)
    x, a, b = (rng.standard_normal((3, 3)) for _ in range(3))
    b = np.where(np.abs(b) < 0.3, 0.5, b)
    cases = [(lambda t, u, v: t.lerp_(u, v)), (lambda t, u, v: t.addcmul_(u, v, value=2)),
             (lambda t, u, v: t.addcdiv_(u, v, value=-1)),
             (lambda t, u, v: t.addmm_(u, v, beta=0.5, alpha=2)),
             (lambda t, u, v: t[None].baddbmm_(u[None], v[None])),
             (lambda t, u, v: t.addbmm_(u[None], v[None], alpha=3))]
    for fn in cases:
        ours = [tg.tensor(v, requires_grad=True) for v in (x, a, b)]
        theirs = [torch.tensor(v, requires_grad=True) for v in (x, a, b)]
        y_o = fn(ours[0] * 1, ours[1], ours[2])
        y_t = fn(theirs[0] * 1, theirs[1], theirs[2])
        np.testing.assert_allclose(y_o.detach().numpy(), y_t.detach().numpy(), rtol=1e-12)
        (y_o ** 2).sum().backward()
        (y_t ** 2).sum().backward()
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    # the tensor arguments are on the graph also when self does not require grad
    w = tg.tensor(b, requires_grad=True)
    y = tg.tensor(x).addcmul_(tg.tensor(a), w)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), a)


def _float64_leaves(seed):
    """(t, i2, iv): t(*shape) draws a float64 leaf; i2, iv are index tensors with repeats."""
    rng = np.random.default_rng(seed)

    def t(*shape):
        return tg.tensor(rng.standard_normal(shape), requires_grad=True)
    return t, tg.tensor([[0, 2, 2], [1, 2, 0]]), tg.tensor([2, 0, 2])


def test_gradcheck_float64_of_every_differentiable_form():
    t, i2, iv = _float64_leaves(5)
    checks = [
        (lambda a, b: a.scatter(0, i2[:1], b), (t(3, 3), t(2, 4))),
        (lambda a, b: a.scatter_add(0, i2, b), (t(3, 3), t(2, 4))),
        (lambda a, b: a.scatter_reduce(0, i2, b, "prod", include_self=False), (t(3, 3), t(3, 4))),
        (lambda a, b: a.scatter_reduce(0, i2, b, "amax"), (t(3, 3), t(2, 4))),
        (lambda a, b: a.scatter_reduce(0, i2, b, "mean", include_self=False), (t(3, 3), t(2, 3))),
        (lambda a, b: a.index_add(1, iv, b, alpha=2), (t(2, 3), t(2, 3))),
        (lambda a, b: a.index_copy(1, iv[:2], b), (t(2, 3), t(2, 2))),
        (lambda a, b: a.index_put((iv, iv), b, accumulate=True), (t(3, 3), t(3))),
        (lambda a, b: a.masked_scatter(a > 0, b), (t(3, 3), t(9))),
        (lambda a: a.take_along_dim(i2, 1), (t(2, 3),)),
        (lambda a, b, c: tg.lerp(a, b, c), (t(2, 3), t(2, 3), t(3))),
        (lambda a, b, c: tg.addmm(a, b, c, beta=0.5), (t(3), t(2, 4), t(4, 3))),
        (lambda a, b, c: tg.addbmm(a, b, c), (t(2, 3), t(4, 2, 5), t(4, 5, 3))),
    ]
    for fn, inputs in checks:
        assert gradcheck(fn, inputs)


def test_gradgradcheck_float64_of_the_out_of_place_and_inplace_forms():
    """Second derivatives through clone + in-place (the rebased graph) and the blends."""
    t, i2, iv = _float64_leaves(7)
    checks = [
        (lambda a, b: a.scatter(0, i2[:1], b) ** 2, (t(3, 3), t(2, 4))),
        (lambda a, b: a.scatter_add(0, i2, b) ** 2, (t(3, 3), t(2, 4))),
        (lambda a, b: a.index_add(1, iv, b, alpha=2) ** 2, (t(2, 3), t(2, 3))),
        (lambda a, b: a.index_copy(1, iv[:2], b) ** 2, (t(2, 3), t(2, 2))),
        (lambda a, b: a.index_fill(1, iv, b) ** 2, (t(2, 3), t())),
        (lambda a, b: a.index_put((iv, iv), b, accumulate=True) ** 2, (t(3, 3), t(3))),
        (lambda a, b: a.masked_scatter(a.detach() > 0, b) ** 2, (t(3, 3), t(9))),
        (lambda a: a.take_along_dim(i2, 1) ** 2, (t(2, 3),)),
        (lambda a, b: (a * 1).scatter_reduce_(0, i2, b, "amin") ** 2, (t(3, 3), t(2, 3))),
        (lambda a, b, c: (a * 1).addcdiv_(b, c.exp()) ** 2, (t(3), t(3), t(3))),
        (lambda a, b, c: (a * 1).baddbmm_(b, c, alpha=0.5) ** 2, (t(1, 2, 3), t(1, 2, 4),
                                                                 t(1, 4, 3))),
    ]
    for fn, inputs in checks:
        assert tg.testing.gradgradcheck(fn, inputs)


def test_addmm_with_a_sparse_mat1_is_the_sparse_product_as_torch():
    rng = np.random.default_rng(8)
    idx, vals = np.array([[0, 1, 2, 2], [3, 0, 1, 3]]), rng.standard_normal(4)
    d, inp = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    ours = tg.addmm(tg.tensor(inp), tg.sparse_coo_tensor(idx, vals, (3, 4)), tg.tensor(d),
                    beta=0.5, alpha=2.0)
    theirs = torch.addmm(torch.tensor(inp), torch.sparse_coo_tensor(
        torch.tensor(idx), torch.tensor(vals), (3, 4), check_invariants=True), torch.tensor(d),
        beta=0.5, alpha=2.0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
