"""``tensor_indexing.py`` against torch 2.13: take, argwhere, ravel, clone, narrow_copy, msort,
the scatter-into-a-copy family, triangle indices, combinations, broadcasting helpers and the
dtype rules (result_type, promote_types, can_cast over every pair of dtypes); values, dtypes,
gradients and torch's errors."""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _np(t):
    return t.detach().numpy()


def _grads(fo, ft, arrays, seed=0):
    """Values of fo(*ours) and ft(*theirs) equal, then the gradients of the floating inputs
    from one random projection."""
    ours = [tg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    yo, yt = fo(*ours), ft(*theirs)
    np.testing.assert_array_equal(_np(yo), yt.detach().numpy())
    assert _np(yo).dtype == yt.detach().numpy().dtype
    if yt.requires_grad:
        g = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
        (yo * tg.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        for o, t in zip(ours, theirs):
            if t.grad is not None:
                np.testing.assert_allclose(_np(o.grad), t.grad.numpy(), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.data())
def test_take_ravel_argwhere_msort_match_torch(shape, data):
    rng = np.random.default_rng(len(shape) + sum(shape))
    x = rng.standard_normal(shape)
    n = x.size
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=6)),
                   dtype=np.int64).reshape(-1)
    _grads(lambda t: tg.take(t, tg.tensor(idx)), lambda t: torch.take(t, torch.tensor(idx)), [x])
    _grads(lambda t: t.take(tg.tensor(idx.reshape(-1, 1))),
           lambda t: t.take(torch.tensor(idx.reshape(-1, 1))), [x])
    _grads(tg.ravel, torch.ravel, [x])
    mask = np.round(x)
    np.testing.assert_array_equal(_np(tg.argwhere(tg.tensor(mask))),
                                  torch.argwhere(torch.tensor(mask)).numpy())
    if x.ndim:
        _grads(tg.msort, torch.msort, [x])
        _grads(lambda t: tg.narrow_copy(t, -1, 0, 1), lambda t: torch.narrow_copy(t, -1, 0, 1),
               [x])
    _grads(tg.clone, torch.clone, [x])


def test_clone_function_takes_memory_formats():
    x = tg.tensor(np.arange(24.0).reshape(1, 2, 3, 4))
    y = tg.clone(x, memory_format=tg.channels_last)
    t = torch.clone(torch.tensor(x.numpy()), memory_format=torch.channels_last)
    assert y.stride() == t.stride()
    np.testing.assert_array_equal(_np(y), t.numpy())


def test_take_errors():
    x = tg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError):
        tg.take(x, tg.tensor([3]))
    with pytest.raises(RuntimeError, match="long"):
        tg.take(x, tg.tensor([0], dtype=tg.int32))


@pytest.mark.parametrize("dim,index", [(0, 1), (1, -1), (-1, 0), (2, 3)])
def test_select_and_slice_scatter_match_torch(dim, index):
    rng = np.random.default_rng(dim + 7)
    x = rng.standard_normal((3, 4, 5))
    src_shape = list(x.shape)
    del src_shape[dim]
    src = rng.standard_normal(src_shape)
    _grads(lambda a, b: tg.select_scatter(a, b, dim, index),
           lambda a, b: torch.select_scatter(a, b, dim, index), [x, src])
    for start, end, step in ((None, None, 1), (1, None, 2), (0, 2, 1), (-2, None, 1)):
        size = len(range(*slice(start, end, step).indices(x.shape[dim])))
        s_shape = list(x.shape)
        s_shape[dim] = size
        s = rng.standard_normal(s_shape)
        _grads(lambda a, b: tg.slice_scatter(a, b, dim, start, end, step),
               lambda a, b: torch.slice_scatter(a, b, dim, start, end, step), [x, s])
    with pytest.raises(RuntimeError, match="size"):
        tg.select_scatter(tg.tensor(x), tg.tensor(x), dim, index)


@pytest.mark.parametrize("offset,dim1,dim2", [(0, 0, 1), (1, 0, 1), (-1, 1, 2), (2, 2, 0)])
def test_diagonal_scatter_matches_torch(offset, dim1, dim2):
    rng = np.random.default_rng(offset + 3)
    x = rng.standard_normal((3, 4, 5))
    src_shape = torch.diagonal(torch.tensor(x), offset, dim1, dim2).shape
    src = rng.standard_normal(tuple(src_shape))
    _grads(lambda a, b: tg.diagonal_scatter(a, b, offset, dim1, dim2),
           lambda a, b: torch.diagonal_scatter(a, b, offset, dim1, dim2), [x, src])


@pytest.mark.parametrize("row,col,offset", [(3, 4, 0), (4, 3, 1), (4, 4, -2), (0, 3, 0),
                                            (3, 3, 5), (2, 5, -7)])
def test_triangle_indices_match_torch(row, col, offset):
    for name in ("triu_indices", "tril_indices"):
        o, t = getattr(tg, name)(row, col, offset), getattr(torch, name)(row, col, offset)
        np.testing.assert_array_equal(_np(o), t.numpy())
        assert _np(o).dtype == np.int64
    assert tg.triu_indices(3, 3, dtype=tg.int32).dtype == tg.int32


@pytest.mark.parametrize("n,r", [(4, 2), (4, 3), (3, 0), (2, 3), (5, 1)])
@pytest.mark.parametrize("with_replacement", [False, True])
def test_combinations_match_torch(n, r, with_replacement):
    x = np.arange(1.0, n + 1)
    _grads(lambda t: tg.combinations(t, r, with_replacement),
           lambda t: torch.combinations(t, r, with_replacement), [x])
    with pytest.raises(RuntimeError):
        tg.combinations(tg.tensor(np.ones((2, 2))))


def test_broadcast_helpers_match_torch():
    for shapes in (((2, 1), (3,)), ((1,), (4, 1, 3), ()), (5, (2, 1)), ((0, 1), (1, 3))):
        assert tg.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    with pytest.raises((RuntimeError, ValueError)):
        tg.broadcast_shapes((2,), (3,))
    a, b = np.ones((2, 1)), np.arange(3.0)
    oa, ob = tg.broadcast_tensors(tg.tensor(a), tg.tensor(b))
    ta, tb = torch.broadcast_tensors(torch.tensor(a), torch.tensor(b))
    np.testing.assert_array_equal(_np(oa), ta.numpy())
    np.testing.assert_array_equal(_np(ob), tb.numpy())
    assert tg.is_same_size(tg.ones(2, 3), tg.zeros(2, 3)) and not tg.ones(2).is_same_size(tg.ones(3))
    assert tg.is_nonzero(tg.tensor([2.0])) and not tg.tensor(0).is_nonzero()
    for bad in (tg.tensor([1.0, 2.0]), tg.tensor(np.zeros(0))):
        with pytest.raises(RuntimeError, match="ambiguous"):
            tg.is_nonzero(bad)


@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
def test_promote_types_and_can_cast_match_torch(a, b):
    ta, tb = getattr(torch, a), getattr(torch, b)
    assert str(tg.promote_types(getattr(tg, a if a != "bool" else "bool_"),
                                getattr(tg, b if b != "bool" else "bool_"))) == \
        str(torch.promote_types(ta, tb)).split(".")[1]
    assert tg.can_cast(a, b) == torch.can_cast(ta, tb)


@pytest.mark.parametrize("left", ["int32 1-d", "float64 0-d", "uint8 1-d", 2.5, 3, True])
@pytest.mark.parametrize("right", ["float32 1-d", "int64 0-d", "bool 1-d", 1.5, 7, False])
def test_result_type_matches_torch(left, right):
    def make(spec, lib):
        if not isinstance(spec, str):
            return spec
        dtype, kind = spec.split()
        value = np.ones(3 if kind == "1-d" else ()).astype(dtype)
        return lib.tensor(value)
    expected = torch.result_type(make(left, torch), make(right, torch))
    assert str(tg.result_type(make(left, tg), make(right, tg))) == str(expected).split(".")[1]
