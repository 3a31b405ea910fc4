"""torch's remaining everyday functions against torch 2.13: finfo/iinfo, the signal windows,
isin, tensor_split/hsplit/vsplit/dsplit, unravel_index, rsub, asarray, scalar_tensor, concat,
and the random functions (normal, bernoulli, poisson, random_, exponential_, geometric_,
log_normal_, cauchy_, seed/initial_seed: shapes, dtypes, argument errors, and the sample
statistics against the distributions)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_torch(name):
    o, t = tg.finfo(getattr(tg, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(o, field) == getattr(t, field), field
    assert o.dtype == t.dtype
    assert tg.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError):
        tg.finfo(tg.int32)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64", "bool"])
def test_iinfo_matches_torch(name):
    o = tg.iinfo(getattr(tg, name if name != "bool" else "bool_"))
    if name == "bool":
        assert (o.min, o.max) == (0, 1)
        return
    t = torch.iinfo(getattr(torch, name))
    assert (o.bits, o.min, o.max, o.dtype) == (t.bits, t.min, t.max, t.dtype)
    with pytest.raises(TypeError):
        tg.iinfo(tg.float32)


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("length", [0, 1, 2, 5, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(name, length, periodic):
    for dtype in (None, "float64"):
        o = getattr(tg, name)(length, periodic, dtype=None if dtype is None else tg.float64)
        t = getattr(torch, name)(length, periodic, dtype=None if dtype is None else torch.float64)
        np.testing.assert_allclose(_np(o), t.numpy(), rtol=1e-6 if dtype is None else 1e-12,
                                   atol=1e-7 if dtype is None else 1e-14)
        assert _np(o).dtype == t.numpy().dtype
    np.testing.assert_allclose(_np(tg.hamming_window(6, False, 0.6, 0.4)),
                               torch.hamming_window(6, False, 0.6, 0.4).numpy(), rtol=1e-6)
    np.testing.assert_allclose(_np(tg.kaiser_window(7, True, 3.0)),
                               torch.kaiser_window(7, True, 3.0).numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError):
        getattr(tg, name)(-1)


def test_isin_matches_torch():
    e = np.array([[1, 2, 3], [4, 5, 6]])
    for test in (np.array([2, 6, 9]), np.array(4), np.array([], dtype=np.int64)):
        for invert in (False, True):
            np.testing.assert_array_equal(
                _np(tg.isin(tg.tensor(e), tg.tensor(test), invert=invert)),
                torch.isin(torch.tensor(e), torch.tensor(test), invert=invert).numpy())
    np.testing.assert_array_equal(_np(tg.isin(tg.tensor(e), 5)),
                                  torch.isin(torch.tensor(e), 5).numpy())


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=3), st.data())
def test_tensor_split_matches_torch(shape, data):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    spec = data.draw(st.integers(1, 5) | st.lists(st.integers(-2, 8), max_size=4))
    xo = tg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    po, pt = tg.tensor_split(xo, spec, dim), torch.tensor_split(xt, spec, dim)
    assert len(po) == len(pt)
    for a, b in zip(po, pt):
        np.testing.assert_array_equal(_np(a), b.detach().numpy())
    # gradients through the parts
    sum((p * (i + 1)).sum() for i, p in enumerate(po)).backward()
    sum((p * (i + 1)).sum() for i, p in enumerate(pt)).backward()
    np.testing.assert_array_equal(_np(xo.grad), xt.grad.numpy())


def test_hsplit_vsplit_dsplit_match_torch():
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    for name, specs in (("hsplit", (2, [1, 3])), ("vsplit", (2, [1])), ("dsplit", (3, [2, 5]))):
        for spec in specs:
            po = getattr(tg, name)(tg.tensor(x), spec)
            pt = getattr(torch, name)(torch.tensor(x), spec)
            assert [tuple(p.shape) for p in po] == [tuple(p.shape) for p in pt]
            for a, b in zip(po, pt):
                np.testing.assert_array_equal(_np(a), b.numpy())
    np.testing.assert_array_equal(_np(tg.hsplit(tg.arange(6), 3)[1]), [2, 3])
    for bad in (lambda: tg.hsplit(tg.tensor(x), 3), lambda: tg.dsplit(tg.tensor(x[0]), 2),
                lambda: tg.tensor_split(tg.tensor(x), 0)):
        with pytest.raises(RuntimeError):
            bad()


def test_unravel_index_rsub_scalar_tensor_concat_match_torch():
    idx = np.array([0, 5, 23, -1, 7])
    for shape in ((2, 3, 4), (24,), 24):
        for o, t in zip(tg.unravel_index(tg.tensor(idx), shape),
                        torch.unravel_index(torch.tensor(idx), shape)):
            np.testing.assert_array_equal(_np(o), t.numpy())
    with pytest.raises(RuntimeError):
        tg.unravel_index(tg.tensor([24]), (2, 3, 4))
    x = np.array([1.0, 2.0])
    for other, alpha in ((5, 1), (5, 2), (np.array([1.0, 1.0]), 3)):
        ot = other if np.isscalar(other) else torch.tensor(other)
        oo = other if np.isscalar(other) else tg.tensor(other)
        np.testing.assert_array_equal(_np(tg.rsub(tg.tensor(x), oo, alpha=alpha)),
                                      torch.rsub(torch.tensor(x), ot, alpha=alpha).numpy())
    for value in (3, 2.5, True):
        o, t = tg.scalar_tensor(value), torch.scalar_tensor(value)
        assert o.shape == () and o.item() == t.item() and _np(o).dtype == t.numpy().dtype
    np.testing.assert_array_equal(_np(tg.concat([tg.ones(2), tg.zeros(1)])), [1, 1, 0])


def test_asarray_shares_memory_as_torch():
    a = np.arange(4.0)
    t = tg.asarray(a)
    a[0] = 7.0
    assert t[0].item() == 7.0
    c = tg.asarray(a, copy=True)
    a[1] = 9.0
    assert c[1].item() == 1.0
    assert tg.asarray(a, dtype=tg.float32).dtype == tg.float32
    with pytest.raises(ValueError, match="copy=False"):
        tg.asarray(a, dtype=tg.float32, copy=False)
    x = tg.tensor([1.0, 2.0])
    assert tg.asarray(x) is x
    assert tg.asarray([1, 2]).dtype == tg.int64
    assert tg.asarray([1.0], requires_grad=True).requires_grad


# ---- random --------------------------------------------------------------------------------------
def test_normal_forms_shapes_dtypes_and_statistics():
    tg.manual_seed(0)
    m = tg.tensor(np.full((400, 50), 3.0), requires_grad=True)
    s = tg.tensor(np.full((50,), 2.0), requires_grad=True)
    draws = tg.normal(m, s)
    assert tuple(draws.shape) == (400, 50) and draws.dtype == tg.float64
    values = _np(draws)
    assert abs(values.mean() - 3.0) < 0.05 and abs(values.std() - 2.0) < 0.05
    draws.sum().backward()          # on the graph with zero gradients (as torch)
    assert not m.grad.numpy().any() and not s.grad.numpy().any()
    assert tuple(tg.normal(tg.zeros(3), 1.0).shape) == (3,)
    assert tuple(tg.normal(0.0, tg.ones(2, 2)).shape) == (2, 2)
    n = tg.normal(1.0, 0.5, (20000,))
    assert n.dtype == tg.float32 and abs(_np(n).mean() - 1.0) < 0.02
    g = tg.Generator().manual_seed(3)
    a = tg.normal(0.0, 1.0, (5,), generator=g)
    g.manual_seed(3)
    np.testing.assert_array_equal(_np(a), _np(tg.normal(0.0, 1.0, (5,), generator=g)))
    with pytest.raises(RuntimeError):
        tg.normal(tg.zeros(2), tg.tensor([1.0, -1.0]))
    with pytest.raises(RuntimeError):
        tg.normal(0.0, -1.0, (2,))


def test_bernoulli_and_poisson():
    tg.manual_seed(1)
    p = tg.tensor(np.array([0.0, 0.25, 1.0]).repeat(20000).reshape(3, -1))
    b = tg.bernoulli(p)
    assert b.dtype == p.dtype and set(np.unique(_np(b))) <= {0.0, 1.0}
    np.testing.assert_allclose(_np(b).mean(axis=1), [0.0, 0.25, 1.0], atol=0.01)
    assert abs(_np(p.bernoulli(0.7)).mean() - 0.7) < 0.01
    with pytest.raises(RuntimeError):
        tg.bernoulli(tg.tensor([1.5]))
    rates = tg.tensor(np.array([0.0, 2.0, 30.0]).repeat(20000).reshape(3, -1), dtype=tg.float32)
    d = tg.poisson(rates)
    assert d.dtype == tg.float32 and torch.poisson(torch.ones(1)).dtype == torch.float32
    np.testing.assert_allclose(_np(d).mean(axis=1), [0.0, 2.0, 30.0], rtol=0.02, atol=0.01)
    with pytest.raises(RuntimeError):
        tg.poisson(tg.tensor([-1.0]))


def test_in_place_random_fills():
    tg.manual_seed(2)
    n = 40000
    x = tg.zeros(n, dtype=tg.int32).random_(3, 7)
    assert x.dtype == tg.int32 and set(np.unique(_np(x))) == {3, 4, 5, 6}
    assert set(np.unique(_np(tg.zeros(100).random_(2)))) <= {0.0, 1.0}
    big = _np(tg.zeros(1000).random_())
    assert big.min() >= 0 and big.max() <= 2 ** 24 and big.max() > 2 ** 20
    e = _np(tg.zeros(n).exponential_(2.0))
    assert abs(e.mean() - 0.5) < 0.02 and e.min() >= 0
    g = _np(tg.zeros(n).geometric_(0.25))
    assert g.min() >= 1 and abs(g.mean() - 4.0) < 0.1
    ln = _np(tg.zeros(n, dtype=tg.float64).log_normal_(0.5, 0.25))
    assert abs(np.log(ln).mean() - 0.5) < 0.01 and abs(np.log(ln).std() - 0.25) < 0.01
    c = _np(tg.zeros(n).cauchy_(1.0, 2.0))
    assert abs(np.median(c) - 1.0) < 0.1
    assert abs(np.median(np.abs(c - 1.0)) - 2.0) < 0.1     # the half-width is sigma
    for bad in (lambda: tg.zeros(2).random_(5, 5), lambda: tg.zeros(2).exponential_(0),
                lambda: tg.zeros(2).geometric_(1.5), lambda: tg.zeros(2).log_normal_(0, 0),
                lambda: tg.zeros(2).cauchy_(0, -1)):
        with pytest.raises(RuntimeError):
            bad()
    leaf = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.exponential_()


def test_seed_and_initial_seed():
    tg.manual_seed(1234)
    assert tg.initial_seed() == 1234
    s = tg.seed()
    assert isinstance(s, int) and tg.initial_seed() == s
    a = _np(tg.rand(3))
    tg.manual_seed(s)
    np.testing.assert_array_equal(a, _np(tg.rand(3)))
    assert math.isfinite(float(s))


# ---- put, index_reduce, fill_diagonal_, sum_to_size, storage queries --------------------------
def test_put_and_put_in_place_match_torch():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 5], [-1, 5]])
    src = np.array([[10.0, 20.0], [30.0, 40.0]])
    for accumulate in (False, True):
        xo, so = tg.tensor(x, requires_grad=True), tg.tensor(src, requires_grad=True)
        xt, st_ = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
        yo = tg.put(xo, tg.tensor(idx), so, accumulate)
        yt = torch.put(xt, torch.tensor(idx), st_, accumulate)
        if accumulate:
            np.testing.assert_array_equal(_np(yo), yt.detach().numpy())
        else:                 # (index 5 twice: which write wins is unspecified)
            keep = np.ones(12, bool)
            keep[5] = False
            np.testing.assert_array_equal(_np(yo).reshape(-1)[keep], yt.detach().numpy().reshape(-1)[keep])
        g = np.arange(12.0).reshape(3, 4)
        (yo * tg.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_array_equal(_np(xo.grad), xt.grad.numpy())
        if accumulate:
            np.testing.assert_array_equal(_np(so.grad), st_.grad.numpy())
    y = tg.tensor(x)
    assert y.put_(tg.tensor([1]), tg.tensor([7.0])) is y and y[0, 1].item() == 7.0
    for bad in (lambda: tg.tensor(x).put_(tg.tensor([12]), tg.tensor([1.0])),
                lambda: tg.tensor(x).put_(tg.tensor([1, 2]), tg.tensor([1.0]))):
        with pytest.raises((IndexError, RuntimeError)):
            bad()


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_index_reduce_matches_torch(reduce, include_self, dim):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    src_shape = (3, 5) if dim == 0 else (4, 3)
    src = rng.standard_normal(src_shape)
    idx = np.array([0, 2, 0])
    xo, so = tg.tensor(x, requires_grad=True), tg.tensor(src, requires_grad=True)
    xt, st_ = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    yo = xo.index_reduce(dim, tg.tensor(idx), so, reduce, include_self=include_self)
    yt = xt.index_reduce(dim, torch.tensor(idx), st_, reduce, include_self=include_self)
    np.testing.assert_allclose(_np(yo), yt.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(x.shape)
    (yo * tg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(_np(xo.grad), xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_np(so.grad), st_.grad.numpy(), rtol=1e-12, atol=1e-15)
    z = tg.tensor(x)
    z.index_reduce_(dim, tg.tensor(idx), tg.tensor(src), reduce, include_self=include_self)
    np.testing.assert_allclose(_np(z), yt.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape,wrap", [((3, 4), False), ((7, 3), True), ((7, 3), False),
                                        ((3, 3, 3), False), ((2, 5), True)])
def test_fill_diagonal_matches_torch(shape, wrap):
    o = tg.zeros(*shape).fill_diagonal_(2.5, wrap)
    t = torch.zeros(*shape).fill_diagonal_(2.5, wrap)
    np.testing.assert_array_equal(_np(o), t.numpy())
    with pytest.raises(RuntimeError):
        tg.zeros(2, 3, 4).fill_diagonal_(1)


def test_sum_to_size_and_storage_queries_match_torch():
    x = np.arange(24.0).reshape(2, 3, 4)
    for size in ((3, 4), (1, 4), (2, 1, 1), (2, 3, 4), (1,)):
        xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = xo.sum_to_size(size), xt.sum_to_size(size)
        np.testing.assert_array_equal(_np(yo), yt.detach().numpy())
        yo.sum().backward()
        yt.sum().backward()
        np.testing.assert_array_equal(_np(xo.grad), xt.grad.numpy())
    assert tuple(tg.tensor(x).sum_to_size(1, 4).shape) == (1, 4)
    with pytest.raises(RuntimeError):
        tg.tensor(x).sum_to_size((5,))
    t, r = tg.tensor(x, dtype=tg.float32), torch.tensor(x, dtype=torch.float32)
    assert t.nbytes == r.nbytes and t.itemsize == r.itemsize
    assert t.storage_offset() == 0 and t[1, 2:].storage_offset() == r[1, 2:].storage_offset()
    assert t[1].data_ptr() - t.data_ptr() == r[1].data_ptr() - r.data_ptr()
    assert t.pin_memory() is t and not t.is_pinned()


def test_compile_returns_the_eager_callable():
    model = tg.nn.Linear(2, 3)
    assert tg.compile(model) is model
    assert tg.compile(mode="max-autotune")(model) is model

    @tg.compile
    def f(x):
        return x * 2

    @tg.compile(fullgraph=True, dynamic=False)
    def g(x):
        return x + 1

    assert f(tg.tensor(2.0)).item() == 4.0 and g(tg.tensor(2.0)).item() == 3.0
    for bad in (lambda: tg.compile(model, mode="fast"),
                lambda: tg.compile(model, mode="default", options={}), lambda: tg.compile(3)):
        with pytest.raises(RuntimeError):
            bad()
    with pytest.raises(RuntimeError):
        torch.compile(model, mode="fast")
