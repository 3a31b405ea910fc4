"""Tensor methods and their function forms with torch's names: each compared with real torch on
the same inputs (values, dtypes, shapes, and gradients of a random projection), hypothesis for
shapes and dims, gradcheck (float64) for the differentiable ones."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.testing import gradcheck
from tinygrad_cv.testing.strategies import arrays, shapes

SETTINGS = settings(max_examples=6, deadline=None)


def host(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return backend.to_numpy(x.array)


def same_dtype(ours, theirs):
    return str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def compare(fn_ours, fn_torch, *arrays_, grad=True, rtol=1e-10, atol=1e-12, seed=0):
    """Run both on the same float64 inputs; compare outputs (and input gradients through a
    random projection of the first output)."""
    ours_in = [tg.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays_]
    torch_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays_]
    out_o, out_t = fn_ours(*ours_in), fn_torch(*torch_in)
    outs_o = out_o if isinstance(out_o, tuple) else (out_o,)
    outs_t = out_t if isinstance(out_t, tuple) else (out_t,)
    assert len(outs_o) == len(outs_t)
    for o, t in zip(outs_o, outs_t):
        assert tuple(o.shape) == tuple(t.shape), (o.shape, t.shape)
        assert same_dtype(o, t), (o.dtype, t.dtype)
        np.testing.assert_allclose(host(o), host(t), rtol=rtol, atol=atol, equal_nan=True)
    if grad and outs_t[0].requires_grad:
        v = np.random.default_rng(seed).standard_normal(tuple(outs_t[0].shape))
        (outs_o[0] * tg.tensor(v)).sum().backward()
        (outs_t[0] * torch.tensor(v)).sum().backward()
        for a, b in zip(ours_in, torch_in):
            if b.requires_grad:
                gb = np.zeros(b.shape) if b.grad is None else b.grad.numpy()
                ga = np.zeros(b.shape) if a.grad is None else host(a.grad)
                np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-12)
    return outs_o


def f64(shape_strategy=None, **kw):
    return arrays(shape_strategy if shape_strategy is not None else shapes(1, 3), "float64", **kw)


# ---- elementwise -----------------------------------------------------------------------------
@SETTINGS
@given(f64(min_value=-0.9, max_value=3.0))
def test_log1p_expm1_match_torch(a):
    compare(lambda x: x.log1p(), lambda x: x.log1p(), a)
    compare(lambda x: tg.log1p(x), lambda x: torch.log1p(x), a)
    compare(lambda x: tg.expm1(x), lambda x: torch.expm1(x), a)


def test_log1p_expm1_gradcheck():
    x = tg.tensor(np.linspace(-0.5, 2.0, 7), requires_grad=True)
    assert gradcheck(lambda t: t.log1p(), (x,))
    assert gradcheck(lambda t: t.expm1(), (x,))
    assert gradcheck(lambda t: t.cumsum(0), (x,))


@SETTINGS
@given(f64(min_value=-4, max_value=4))
def test_rounding_family_matches_torch_with_zero_gradient(a):
    for name in ("floor", "ceil", "trunc", "round", "sign", "frac"):
        compare(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), a)
        compare(lambda x: getattr(tg, name)(x), lambda x: getattr(torch, name)(x), a)
    compare(lambda x: x.round(decimals=2), lambda x: x.round(decimals=2), a)


def test_rounding_integers_keep_dtype():
    a = np.array([-3, 0, 5])
    for name in ("floor", "ceil", "round", "sign"):
        compare(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), a, grad=False)


@SETTINGS
@given(f64(min_value=0.1, max_value=3.0))
def test_rsqrt_square_reciprocal_pow_match_torch(a):
    compare(lambda x: x.rsqrt(), lambda x: x.rsqrt(), a)
    compare(lambda x: tg.rsqrt(x), lambda x: torch.rsqrt(x), a)
    compare(lambda x: x.square(), lambda x: x.square(), a)
    compare(lambda x: tg.reciprocal(x), lambda x: torch.reciprocal(x), a)
    compare(lambda x: tg.pow(x, 3), lambda x: torch.pow(x, 3), a)
    compare(lambda x: tg.pow(2.0, x), lambda x: torch.pow(2.0, x), a)
    compare(lambda x: tg.pow(x, x), lambda x: torch.pow(x, x), a)


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.2), (-0.1, None)])
def test_clamp_keyword_forms_match_torch(lo, hi):
    a = np.linspace(-1, 1, 9)
    compare(lambda x: x.clamp(min=lo, max=hi), lambda x: x.clamp(min=lo, max=hi), a)
    compare(lambda x: tg.clamp(x, min=lo, max=hi), lambda x: torch.clamp(x, min=lo, max=hi), a)


def test_clamp_with_tensor_bounds_matches_torch():
    a, lo, hi = np.linspace(-1, 1, 8), np.full(8, -0.3), np.linspace(0.05, 0.9, 8)
    compare(lambda x, l, h: x.clamp(l, h), lambda x, l, h: x.clamp(l, h), a, lo, hi)


@pytest.mark.parametrize("alpha", [1, 2.5])
def test_add_sub_alpha_and_div_rounding_match_torch(alpha):
    a, b = np.linspace(-3, 3, 7), np.linspace(0.5, 2, 7)
    compare(lambda x, y: tg.add(x, y, alpha=alpha), lambda x, y: torch.add(x, y, alpha=alpha),
            a, b)
    compare(lambda x, y: x.sub(y, alpha=alpha), lambda x, y: x.sub(y, alpha=alpha), a, b)
    for mode in ("trunc", "floor"):
        compare(lambda x, y: tg.div(x, y, rounding_mode=mode),
                lambda x, y: torch.div(x, y, rounding_mode=mode), a, b)
        ia, ib = np.array([-7, 7, -6, 5, 0]), np.array([2, -2, 4, 3, 7])
        compare(lambda x, y: x.div(y, rounding_mode=mode),
                lambda x, y: x.div(y, rounding_mode=mode), ia, ib, grad=False)
    with pytest.raises(ValueError, match="rounding_mode"):
        tg.ones(2).div(2, rounding_mode="round")


@SETTINGS
@given(f64(), f64())
def test_comparison_methods_match_torch(a, b):
    b = b.reshape(-1)[:1].reshape(()) if b.size else b
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        compare(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b,
                grad=False)
        compare(lambda x, y: getattr(tg, name)(x, y), lambda x, y: getattr(torch, name)(x, y),
                a, b, grad=False)


def test_max_min_with_other_tensor_match_torch():
    a, b = np.array([1.0, -2.0, 3.0, 0.5]), np.array([0.0, -1.0, 4.0, 0.25])
    compare(lambda x, y: x.max(y), lambda x, y: x.max(y), a, b)
    compare(lambda x, y: tg.min(x, y), lambda x, y: torch.min(x, y), a, b)


# ---- reductions --------------------------------------------------------------------------------
@SETTINGS
@given(arrays(shapes(1, 3), "bool"), st.data())
def test_all_any_match_torch(a, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    keep = data.draw(st.booleans())
    for name in ("all", "any"):
        compare(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), a, grad=False)
        compare(lambda x: getattr(x, name)(dim, keep), lambda x: getattr(x, name)(dim, keep),
                a, grad=False)
        compare(lambda x: getattr(tg, name)(x, dim=dim), lambda x: getattr(torch, name)(x, dim=dim),
                a, grad=False)


@SETTINGS
@given(f64(min_magnitude=0.1), st.data())
def test_norm_forms_match_torch(a, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    p = data.draw(st.sampled_from([1, 2, 3, float("inf")]))
    keep = data.draw(st.booleans())
    compare(lambda x: x.norm(p, dim, keep), lambda x: x.norm(p, dim, keep), a)
    compare(lambda x: tg.norm(x), lambda x: torch.norm(x), a)
    compare(lambda x: tg.norm(x, p=p, dim=dim, keepdim=keep),
            lambda x: torch.norm(x, p=p, dim=dim, keepdim=keep), a)
    compare(lambda x: x.norm("fro"), lambda x: x.norm("fro"), a)
    if a.ndim == 2:
        compare(lambda x: x.norm("nuc"), lambda x: x.norm("nuc"), a, rtol=1e-9)
    else:
        with pytest.raises(RuntimeError, match="matrix_norm"):
            tg.tensor(a).norm("nuc")


@SETTINGS
@given(f64(unique=True), st.data())
def test_argmax_and_reductions_function_forms_match_torch(a, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    keep = data.draw(st.booleans())
    compare(lambda x: x.argmax(dim, keep), lambda x: x.argmax(dim, keep), a, grad=False)
    compare(lambda x: tg.argmax(x, dim=dim, keepdim=keep),
            lambda x: torch.argmax(x, dim=dim, keepdim=keep), a, grad=False)
    compare(lambda x: tg.argmax(x), lambda x: torch.argmax(x), a, grad=False)
    compare(lambda x: tg.sum(x, dim), lambda x: torch.sum(x, dim), a)
    compare(lambda x: tg.mean(x, dim, keepdim=keep), lambda x: torch.mean(x, dim, keepdim=keep), a)
    compare(lambda x: tg.abs(x), lambda x: torch.abs(x), a)
    compare(lambda x: tg.sigmoid(x), lambda x: torch.sigmoid(x), a)
    compare(lambda x: tg.tanh(x), lambda x: torch.tanh(x), a)
    compare(lambda x: tg.flatten(x), lambda x: torch.flatten(x), a)


# ---- shapes, matrices, indexing --------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_mm_bmm_t_match_torch(n, m, p, b):
    rng = np.random.default_rng(n * 100 + m * 10 + p)
    x, y = rng.standard_normal((n, m)), rng.standard_normal((m, p))
    compare(lambda u, v: u.mm(v), lambda u, v: u.mm(v), x, y)
    compare(lambda u, v: tg.mm(u, v), lambda u, v: torch.mm(u, v), x, y)
    compare(lambda u: u.t(), lambda u: u.t(), x)
    compare(lambda u: tg.t(u), lambda u: torch.t(u), x[0])
    xb, yb = rng.standard_normal((b, n, m)), rng.standard_normal((b, m, p))
    compare(lambda u, v: u.bmm(v), lambda u, v: u.bmm(v), xb, yb)
    compare(lambda u, v: tg.bmm(u, v), lambda u, v: torch.bmm(u, v), xb, yb)
    compare(lambda u, v: tg.outer(u, v), lambda u, v: torch.outer(u, v), x[0], y[:, 0])
    compare(lambda u, v: tg.dot(u, v), lambda u, v: torch.dot(u, v), x[:, 0], x[:, -1])


def test_matrix_shape_errors():
    with pytest.raises(RuntimeError, match="mm"):
        tg.ones(2, 3, 4).mm(tg.ones(4, 2))
    with pytest.raises(RuntimeError, match="bmm"):
        tg.ones(2, 3, 4).bmm(tg.ones(3, 4, 2))
    with pytest.raises(RuntimeError, match="t\\(\\)"):
        tg.ones(2, 3, 4).t()


@SETTINGS
@given(hnp.array_shapes(min_dims=2, max_dims=4, max_side=5), st.integers(-3, 3))
def test_tril_triu_match_torch(shape, k):
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    compare(lambda x: x.tril(k), lambda x: x.tril(k), a)
    compare(lambda x: tg.triu(x, k), lambda x: torch.triu(x, k), a)
    compare(lambda x: x.tril(diagonal=k), lambda x: x.tril(diagonal=k), a > 0, grad=False)


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), st.integers(-4, 4))
def test_diag_matches_torch(n, m, k):
    rng = np.random.default_rng(n * 7 + m)
    compare(lambda x: x.diag(k), lambda x: x.diag(k), rng.standard_normal(n))
    compare(lambda x: tg.diag(x, k), lambda x: torch.diag(x, k), rng.standard_normal((n, m)))


@SETTINGS
@given(f64(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)), st.data())
def test_narrow_flip_roll_cumsum_match_torch(a, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    n = a.shape[dim]
    start = data.draw(st.integers(-n, n - 1))
    length = data.draw(st.integers(0, n - start % n))
    compare(lambda x: x.narrow(dim, start, length), lambda x: x.narrow(dim, start, length), a)
    compare(lambda x: tg.narrow(x, dim, start, length),
            lambda x: torch.narrow(x, dim, start, length), a)
    dims = tuple(sorted(set(data.draw(st.lists(st.integers(0, a.ndim - 1), min_size=1)))))
    compare(lambda x: x.flip(*dims), lambda x: x.flip(dims), a)
    compare(lambda x: tg.flip(x, dims), lambda x: torch.flip(x, dims), a)
    shift = data.draw(st.integers(-7, 7))
    compare(lambda x: x.roll(shift, dim), lambda x: x.roll(shift, dim), a)
    compare(lambda x: tg.roll(x, shift), lambda x: torch.roll(x, shift), a)
    compare(lambda x: x.roll((shift, 1), (dim, 0)), lambda x: x.roll((shift, 1), (dim, 0)), a)
    compare(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), a)
    compare(lambda x: tg.cumsum(x, dim=dim), lambda x: torch.cumsum(x, dim=dim), a)
    compare(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), (a > 0), grad=False)
    compare(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), (a * 3).astype(np.int32), grad=False)


def test_narrow_out_of_range_raises():
    with pytest.raises(RuntimeError, match="exceeds"):
        tg.ones(3, 4).narrow(1, 2, 3)


@SETTINGS
@given(f64(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), st.data())
def test_masked_fill_matches_torch(a, data):
    mask = data.draw(hnp.arrays(bool, a.shape[data.draw(st.integers(0, a.ndim)):]))
    value = data.draw(st.sampled_from([0.0, -1e9, 2.5]))
    compare(lambda x: x.masked_fill(tg.tensor(mask), value),
            lambda x: x.masked_fill(torch.tensor(mask), value), a)
    compare(lambda x, v: tg.masked_fill(x, tg.tensor(mask), v),
            lambda x, v: torch.masked_fill(x, torch.tensor(mask), v), a, np.array(value))


def test_masked_fill_errors_and_integer_value():
    with pytest.raises(RuntimeError, match="boolean"):
        tg.ones(3).masked_fill(tg.tensor([1, 0, 1]), 0.0)
    with pytest.raises(RuntimeError, match="does not broadcast"):
        tg.ones(3).masked_fill(tg.tensor([True, False]), 0.0)
    with pytest.raises(RuntimeError, match="does not broadcast"):
        tg.ones(3).masked_fill(tg.ones(2, 3) > 0, 0.0)
    with pytest.raises(RuntimeError, match="0-dimensional"):
        tg.ones(3).masked_fill(tg.tensor([True, False, True]), tg.ones(3))
    compare(lambda x: x.masked_fill(x > 1, 0.7), lambda x: x.masked_fill(x > 1, 0.7),
            np.array([0, 1, 2, 3]), grad=False)


@SETTINGS
@given(f64(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), unique=True), st.data())
def test_sort_argsort_topk_match_torch(a, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    desc = data.draw(st.booleans())
    k = data.draw(st.integers(0, a.shape[dim]))
    largest = data.draw(st.booleans())
    compare(lambda x: tuple(x.sort(dim, desc)), lambda x: tuple(x.sort(dim, desc)), a)
    compare(lambda x: tuple(tg.sort(x, dim=dim, descending=desc)),
            lambda x: tuple(torch.sort(x, dim=dim, descending=desc)), a)
    compare(lambda x: x.argsort(dim, desc), lambda x: x.argsort(dim, desc), a, grad=False)
    compare(lambda x: tuple(x.topk(k, dim, largest)), lambda x: tuple(x.topk(k, dim, largest)), a)
    compare(lambda x: tuple(tg.topk(x, k, dim=dim)), lambda x: tuple(torch.topk(x, k, dim=dim)), a)


def test_sort_is_stable_and_puts_nan_as_torch():
    a = np.array([2.0, np.nan, 1.0, 2.0, -np.inf, np.inf, 1.0])
    for desc in (False, True):
        compare(lambda x: tuple(x.sort(descending=desc, stable=True)),
                lambda x: tuple(x.sort(descending=desc, stable=True)), a, grad=False)
    ints = np.array([3, 1, 3, 0, 1], dtype=np.uint8)
    compare(lambda x: tuple(x.sort(descending=True, stable=True)),
            lambda x: tuple(x.sort(descending=True, stable=True)), ints, grad=False)


def test_sort_topk_gather_gradcheck():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 5)), requires_grad=True)
    idx = tg.tensor([[0, 0, 4], [1, 2, 1], [3, 3, 3]])
    assert gradcheck(lambda t: t.sort(1, descending=True).values, (x,))
    assert gradcheck(lambda t: t.topk(2, 0).values, (x,))
    assert gradcheck(lambda t: t.gather(1, idx), (x,))
    assert gradcheck(lambda t: t.tril(-1) + t.triu(2) + t.flip(0).roll(2, 1), (x,))
    assert gradcheck(lambda t: t.diag(1).diag(), (x,))
    assert gradcheck(lambda t: t.masked_fill(t > 0, 0.5).narrow(1, 1, 3), (x,))


def test_gather_index_select_unbind_match_torch():
    a = np.random.default_rng(1).standard_normal((3, 4))
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    compare(lambda x: x.gather(1, tg.tensor(idx)), lambda x: x.gather(1, torch.tensor(idx)), a)
    compare(lambda x: tg.gather(x, 0, tg.tensor(idx[:2] % 3)),
            lambda x: torch.gather(x, 0, torch.tensor(idx[:2] % 3)), a)
    with pytest.raises(IndexError, match="out of range"):
        tg.ones(3, 4).gather(1, tg.tensor([[4]]))
    compare(lambda x: x.index_select(1, tg.tensor([3, 0, 3])),
            lambda x: x.index_select(1, torch.tensor([3, 0, 3])), a)
    compare(lambda x: tg.unbind(x, 1), lambda x: torch.unbind(x, 1), a)


@SETTINGS
@given(arrays(shapes(1, 3), "int64", min_value=-3, max_value=3))
def test_unique_matches_torch(a):
    for inv in (False, True):
        for counts in (False, True):
            compare(lambda x: _tuple(x.unique(return_inverse=inv, return_counts=counts)),
                    lambda x: _tuple(x.unique(return_inverse=inv, return_counts=counts)), a,
                    grad=False)
    compare(lambda x: _tuple(tg.unique(x, return_counts=True, dim=0)),
            lambda x: _tuple(torch.unique(x, return_counts=True, dim=0)), a, grad=False)


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else x


@SETTINGS
@given(shapes(1, 3), st.data())
def test_repeat_expand_as_view_as_type_as_match_torch(shape, data):
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    reps = tuple(data.draw(st.integers(1, 3)) for _ in range(len(shape) + data.draw(
        st.integers(0, 1))))
    compare(lambda x: x.repeat(*reps), lambda x: x.repeat(*reps), a)
    target = np.zeros((2,) + shape)
    compare(lambda x, y: x.expand_as(y), lambda x, y: x.expand_as(y), a, target)
    compare(lambda x, y: x.view_as(y), lambda x, y: x.view_as(y), a, a.reshape(-1))
    compare(lambda x, y: x.type_as(y), lambda x, y: x.type_as(y), a,
            np.zeros(1, dtype=np.float32), rtol=1e-6, atol=1e-7)


# ---- new_*, type, format, small queries --------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_new_factories_follow_the_source_tensor(dtype):
    ours, theirs = tg.zeros(2, dtype=dtype), torch.zeros(2, dtype=getattr(torch, dtype))
    for name, args in (("new_zeros", (2, 3)), ("new_ones", ((3,),)), ("new_empty", (4,))):
        o, t = getattr(ours, name)(*args), getattr(theirs, name)(*args)
        assert o.shape == tuple(t.shape) and same_dtype(o, t)
        if name != "new_empty":
            np.testing.assert_array_equal(host(o), t.numpy())
    o, t = ours.new_full((2, 2), 1), theirs.new_full((2, 2), 1)
    assert same_dtype(o, t)
    np.testing.assert_array_equal(host(o), t.numpy())
    o, t = ours.new_tensor([[1, 0]]), theirs.new_tensor([[1, 0]])
    assert same_dtype(o, t)
    np.testing.assert_array_equal(host(o), t.numpy())
    o = ours.new_zeros(2, dtype=tg.float64)
    assert o.dtype == np.float64
    if dtype.startswith("float"):
        assert ours.new_ones(2, requires_grad=True).requires_grad
    else:
        with pytest.raises(RuntimeError, match="floating"):
            ours.new_ones(2, requires_grad=True)


def test_type_names_and_casts_match_torch():
    for name in ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                 "bool"):
        assert tg.zeros(1, dtype=name).type() == torch.zeros(1, dtype=getattr(torch, name)).type()
    x = tg.tensor([1.5, -2.5])
    assert x.type(tg.int64).dtype == np.int64
    assert x.type(tg.LongTensor).dtype == np.int64
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert x.double().type() == "torch.DoubleTensor"
    assert x.half().dtype == np.float16 and x.int().dtype == np.int32
    assert x.byte().type() == "torch.ByteTensor" and x.char().type() == "torch.CharTensor"
    assert x.short().type() == "torch.ShortTensor"
    with pytest.raises(TypeError, match="unknown tensor type"):
        x.type("torch.FooTensor")


def test_format_spec_as_torch():
    loss_o, loss_t = tg.tensor(0.123456), torch.tensor(0.123456)
    for spec in (".4f", "8.2e", "", ">10.3g"):
        assert format(loss_o, spec) == format(loss_t, spec)
    assert f"{tg.tensor(7):d}" == "7"
    with pytest.raises(TypeError):
        format(tg.ones(1), ".4f")   # as torch: only 0-d tensors take a format spec
    with pytest.raises(TypeError):
        format(torch.ones(1), ".4f")


def test_small_queries_match_torch():
    o, t = tg.zeros(2, 3), torch.zeros(2, 3)
    assert o.nelement() == t.nelement() and o.numel() == t.numel() and tg.numel(o) == 6
    assert o.dim() == t.dim() and o.is_cuda == t.is_cuda
    assert o.contiguous() is o and o.is_contiguous()
    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    tx = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y, ty = x.t().contiguous(), tx.t().contiguous()
    assert not x.t().is_contiguous() and not tx.t().is_contiguous()
    assert y.is_contiguous() and ty.is_contiguous()
    np.testing.assert_array_equal(host(y), host(ty))
    (y * tg.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    (ty * torch.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(host(x.grad), tx.grad.numpy())
    assert tg.tensor(2.5).item() == torch.tensor(2.5).item()
    assert tg.is_tensor(o) and not tg.is_tensor(3) and tg.is_floating_point(o)
    assert tg.equal(tg.ones(2), tg.ones(2)) and not tg.equal(tg.ones(2), tg.ones(3))
    assert tg.allclose(tg.ones(2), tg.ones(2) + 1e-9)
    for lib, t in ((tg, o), (torch, torch.ones(2))):     # a format, not its name
        with pytest.raises(TypeError):
            t.contiguous(memory_format="channels_last")


# ---- multinomial ------------------------------------------------------------------------------
def test_multinomial_frequencies_and_rules():
    tg.manual_seed(0)
    w = tg.tensor([[0.0, 1.0, 3.0, 0.0], [2.0, 2.0, 0.0, 4.0]])
    draws = w.multinomial(20000, replacement=True)
    assert draws.shape == (2, 20000) and draws.dtype == np.int64
    freq = np.stack([np.bincount(host(draws)[r], minlength=4) / 20000 for r in range(2)])
    np.testing.assert_allclose(freq, host(w) / host(w).sum(1, keepdims=True), atol=0.015)
    no_rep = tg.multinomial(w, 2)                 # only the two non-zero categories of row 0
    assert sorted(host(no_rep)[0].tolist()) == [1, 2]
    assert len(set(host(no_rep)[1].tolist())) == 2 and 2 not in host(no_rep)[1]
    g1, g2 = tg.Generator().manual_seed(3), tg.Generator().manual_seed(3)
    np.testing.assert_array_equal(host(w[1].multinomial(5, True, generator=g1)),
                                  host(w[1].multinomial(5, True, generator=g2)))
    with pytest.raises(RuntimeError, match="not enough"):
        w.multinomial(3)
    with pytest.raises(RuntimeError, match="n_sample > prob_dist"):
        w.multinomial(5)
    with pytest.raises(RuntimeError, match="inf"):
        tg.tensor([1.0, -1.0]).multinomial(1)
    with pytest.raises(RuntimeError, match="floating"):
        tg.tensor([1, 2]).multinomial(1)


def test_multinomial_without_replacement_first_draw_distribution():
    tg.manual_seed(1)
    w = tg.tensor([1.0, 2.0, 7.0]).expand(6000, 3)
    first = host(w.multinomial(2))[:, 0]
    np.testing.assert_allclose(np.bincount(first, minlength=3) / 6000, [0.1, 0.2, 0.7],
                               atol=0.02)


# ---- einsum ----------------------------------------------------------------------------------
EINSUMS = [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->", [(3, 4)]), ("ij,j", [(3, 4), (4,)]),
           ("...ij,jk->...ik", [(2, 1, 3, 4), (4, 2)]), ("i,j->ij", [(3,), (4,)]),
           ("ij->ji", [(2, 3)]), ("bi,bi->b", [(1, 3), (4, 3)]), ("ijk,k->i", [(2, 3, 4), (4,)]),
           ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]), ("i j , j k", [(2, 3), (3, 2)])]


@pytest.mark.parametrize("equation,shapes", EINSUMS)
def test_einsum_matches_torch_and_gradchecks(equation, shapes):
    rng = np.random.default_rng(len(equation))
    arrs = [rng.standard_normal(s) for s in shapes]
    compare(lambda *x: tg.einsum(equation, *x), lambda *x: torch.einsum(equation, *x), *arrs)
    compare(lambda *x: tg.einsum(equation, list(x)), lambda *x: torch.einsum(equation, list(x)),
            *arrs)
    ins = [tg.tensor(a, requires_grad=True) for a in arrs]
    assert gradcheck(lambda *x: tg.einsum(equation, *x), ins)


def test_einsum_bad_equations_raise():
    with pytest.raises(ValueError, match="operands"):
        tg.einsum("ij,jk->ik", tg.ones(2, 2))
    with pytest.raises(ValueError, match="do not fit"):
        tg.einsum("ijk->i", tg.ones(2, 2))


# ---- smaller forms: log2/log10, clamp_min/max, masked_select, nonzero --------------------------
@SETTINGS
@given(f64(min_value=0.1, max_value=5.0), st.data())
def test_log2_log10_clamp_min_max_masked_select_match_torch(a, data):
    compare(lambda x: x.log2(), lambda x: x.log2(), a)
    compare(lambda x: tg.log10(x), lambda x: torch.log10(x), a)
    compare(lambda x: x.clamp_min(1.0), lambda x: x.clamp_min(1.0), a)
    compare(lambda x: tg.clamp_max(x, 2.0), lambda x: torch.clamp_max(x, 2.0), a)
    mask = data.draw(hnp.arrays(bool, a.shape[data.draw(st.integers(0, a.ndim)):]))
    compare(lambda x: x.masked_select(tg.tensor(mask)),
            lambda x: x.masked_select(torch.tensor(mask)), a)
    compare(lambda x: tg.masked_select(x, tg.tensor(mask)),
            lambda x: torch.masked_select(x, torch.tensor(mask)), a)
    assert tg.tensor(a).is_floating_point() and tg.tensor(a).ndimension() == a.ndim


@SETTINGS
@given(arrays(shapes(0, 3), "int64", min_value=-1, max_value=1))
def test_nonzero_matches_torch(a):
    compare(lambda x: x.nonzero(), lambda x: x.nonzero(), a, grad=False)
    compare(lambda x: tg.nonzero(x, as_tuple=True), lambda x: torch.nonzero(x, as_tuple=True), a,
            grad=False)
