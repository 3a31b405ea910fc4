"""``tensor_statistics.py`` and ``tensor_products.py`` against torch 2.13: values, dtypes,
shapes and the gradients of every input on the same upstream gradients (float64), with
hypothesis over shapes, dims and options; NaN handling; torch's errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import gradcheck

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

SETTINGS = settings(max_examples=30, deadline=None)


def _np(t):
    return t.detach().numpy()


def _both(arrays, grad=True):
    """The same float64 arrays as tinygrad_cv and torch leaves."""
    ours = [tg.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    return ours, theirs


def _compare(fo, ft, arrays, rtol=1e-10, atol=1e-12, seed=0, grad_where=None):
    """fo(*ours) against ft(*theirs): every output's values and dtype, then the gradients of
    every floating input from one random projection of the outputs (at the elements
    ``grad_where`` selects, with equal totals, when given)."""
    ours, theirs = _both(arrays)
    yo, yt = fo(*ours), ft(*theirs)
    yo = yo if isinstance(yo, tuple) else (yo,)
    yt = yt if isinstance(yt, tuple) else (yt,)
    assert len(yo) == len(yt)
    rng = np.random.default_rng(seed)
    lo, lt = 0, 0
    for o, t in zip(yo, yt):
        assert _np(o).dtype == t.detach().numpy().dtype, (_np(o).dtype, t.dtype)
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(_np(o), t.detach().numpy(), rtol=rtol, atol=atol,
                                   equal_nan=True)
        if t.requires_grad:
            g = rng.standard_normal(tuple(t.shape))
            lo = lo + (o * tg.tensor(g)).sum()
            lt = lt + (t * torch.tensor(g)).sum()
    if isinstance(lt, int):
        return
    lt.backward()
    lo.backward()
    for o, t in zip(ours, theirs):
        if t.grad is not None:
            assert o.grad is not None
            go, gt = _np(o.grad), t.grad.numpy()
            if grad_where is not None:
                np.testing.assert_allclose(go.sum(), gt.sum(), rtol=rtol, atol=atol)
                go, gt = go[grad_where], gt[grad_where]
            np.testing.assert_allclose(go, gt, rtol=rtol, atol=atol, equal_nan=True)


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


# ---- statistics ------------------------------------------------------------------------------
@SETTINGS
@given(shapes, st.data(), st.booleans(), st.booleans())
def test_nan_reductions_match_torch(shape, data, keepdim, with_nan):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    if with_nan:
        x[rng.random(shape) < 0.3] = np.nan
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    for name in ("nansum", "nanmean"):
        _compare(lambda t: getattr(tg, name)(t, dim, keepdim),
                 lambda t: getattr(torch, name)(t, dim, keepdim), [x])
        _compare(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim),
                 lambda t: getattr(t, name)(dim=dim, keepdim=keepdim), [x])
    _compare(lambda t: tg.count_nonzero(t.detach() * 0 + np.round(x), dim),
             lambda t: torch.count_nonzero(t.detach() * 0 + torch.tensor(np.round(x)), dim), [x])


def test_nansum_of_integers_and_nanmean_errors():
    a = np.array([[1, 2], [3, 4]])
    assert _np(tg.nansum(tg.tensor(a), 0)).tolist() == torch.nansum(torch.tensor(a), 0).tolist()
    with pytest.raises(RuntimeError, match="floating"):
        tg.nanmean(tg.tensor(a))


@SETTINGS
@given(shapes, st.data(), st.booleans(), st.sampled_from([0, 1, 2]))
def test_std_var_mean_and_aminmax_match_torch(shape, data, keepdim, correction):
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    reduced = x.size if dim is None else shape[dim]
    if correction >= reduced:    # no degrees of freedom: torch warns (its gradients differ)
        correction = 0
    for name in ("std_mean", "var_mean"):
        _compare(lambda t: getattr(tg, name)(t, dim, correction=correction, keepdim=keepdim),
                 lambda t: getattr(torch, name)(t, dim, correction=correction, keepdim=keepdim),
                 [x])
    _compare(lambda t: tuple(tg.aminmax(t, dim=dim, keepdim=keepdim)),
             lambda t: tuple(torch.aminmax(t, dim=dim, keepdim=keepdim)), [x])
    res = tg.tensor(x).aminmax()
    assert res.min.item() == x.min() and res.max.item() == x.max()


def test_std_mean_unbiased_and_aminmax_empty():
    x = np.random.default_rng(0).standard_normal((3, 4))
    _compare(lambda t: tg.std_mean(t, 1, unbiased=False), lambda t: torch.std_mean(t, 1, unbiased=False), [x])
    with pytest.raises(RuntimeError, match="aminmax"):
        tg.aminmax(tg.tensor(np.zeros((0,))))


@SETTINGS
@given(shapes, st.data(), st.booleans(),
       st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]),
       st.sampled_from(["scalar", "vector"]), st.booleans())
def test_quantiles_match_torch(shape, data, keepdim, interpolation, q_kind, with_nan):
    rng = np.random.default_rng(len(shape) * 7 + sum(shape))
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.15] = 0.5                     # ties
    if with_nan:
        x[rng.random(shape) < 0.3] = np.nan
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    q = float(data.draw(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0, 1 / 3])))
    for name in ("quantile", "nanquantile"):
        if q_kind == "scalar":
            fo = lambda t: getattr(tg, name)(t, q, dim, keepdim, interpolation=interpolation)
            ft = lambda t: getattr(torch, name)(t, q, dim, keepdim, interpolation=interpolation)
        else:
            qs = np.array([0.0, 0.1, 0.5, 0.75, 1.0])
            fo = lambda t: getattr(tg, name)(t, tg.tensor(qs), dim, keepdim,
                                             interpolation=interpolation)
            ft = lambda t: getattr(torch, name)(t, torch.tensor(qs), dim, keepdim,
                                                interpolation=interpolation)
        # which of equal values (the ties, or the NaNs of a slice whose result is NaN) takes
        # the gradient depends on the sort's order among them, unspecified in torch: compare
        # the other elements and the totals
        _compare(fo, ft, [x], grad_where=~np.isnan(x) & (x != 0.5))


def test_quantile_errors_match_torch():
    x = tg.tensor([1.0, 2.0])
    for bad in (lambda: tg.quantile(x, 1.5), lambda: tg.quantile(x, -0.1),
                lambda: tg.quantile(tg.tensor([1, 2]), 0.5),
                lambda: tg.quantile(x, tg.tensor([[0.5]])),
                lambda: tg.quantile(tg.tensor(np.zeros(0, np.float32)), 0.5),
                lambda: tg.quantile(x, tg.tensor([0.5], dtype=tg.float64))):
        with pytest.raises(RuntimeError):
            bad()
    with pytest.raises(ValueError, match="interpolation"):
        tg.quantile(x, 0.5, interpolation="cubic")


@SETTINGS
@given(st.integers(1, 4), st.integers(2, 6), st.sampled_from([0, 1, 2]),
       st.sampled_from(["none", "f", "a", "both"]))
def test_cov_and_corrcoef_match_torch(variables, observations, correction, weights):
    rng = np.random.default_rng(variables * 10 + observations)
    x = rng.standard_normal((variables, observations))
    fw = rng.integers(1, 4, observations)
    aw = rng.random(observations) + 0.1
    kw = {"none": {}, "f": {"fweights": fw}, "a": {"aweights": aw},
          "both": {"fweights": fw, "aweights": aw}}[weights]
    _compare(lambda t: tg.cov(t, correction=correction,
                              **{k: tg.tensor(v) for k, v in kw.items()}),
             lambda t: torch.cov(t, correction=correction,
                                 **{k: torch.tensor(v) for k, v in kw.items()}), [x])
    if observations > 1:
        _compare(tg.corrcoef, torch.corrcoef, [x])
    _compare(lambda t: tg.cov(t[0]), lambda t: torch.cov(t[0]), [x])


def test_cov_argument_errors():
    x = tg.tensor(np.ones((2, 3)))
    for kwargs in ({"fweights": tg.tensor([1.0, 2.0, 3.0])}, {"fweights": tg.tensor([1, 2])},
                   {"aweights": tg.tensor([-1.0, 1.0, 1.0])}):
        with pytest.raises(ValueError):
            tg.cov(x, **kwargs)
    with pytest.raises(ValueError, match="two or fewer"):
        tg.cov(tg.tensor(np.ones((2, 2, 2))))


@SETTINGS
@given(shapes, st.data(), st.sampled_from(["none", "dx", "x1d", "xfull"]))
def test_trapezoid_matches_torch(shape, data, spacing):
    rng = np.random.default_rng(sum(shape) + len(shape))
    y = rng.standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    if spacing == "x1d":
        xs = np.sort(rng.standard_normal(n))
        args, kw = [y, xs], {}
    elif spacing == "xfull":
        args, kw = [y, np.sort(rng.standard_normal(shape), axis=dim)], {}
    else:
        args, kw = [y], ({"dx": 0.3} if spacing == "dx" else {})
    for name in ("trapezoid", "cumulative_trapezoid"):
        _compare(lambda *t: getattr(tg, name)(*t, dim=dim, **kw),
                 lambda *t: getattr(torch, name)(*t, dim=dim, **kw), args)
    _compare(lambda t: tg.trapz(t, dim=dim), lambda t: torch.trapz(t, dim=dim), [y])


# ---- products -------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_matrix_products_match_torch(n, m, k):
    rng = np.random.default_rng(n * 16 + m * 4 + k)
    a, b = rng.standard_normal((n, m)), rng.standard_normal((m, k))
    v, w, c = rng.standard_normal(m), rng.standard_normal(n), rng.standard_normal((n, m))
    _compare(tg.trace, torch.trace, [a])
    _compare(tg.mv, torch.mv, [a, v])
    _compare(lambda i, x, y: tg.addmv(i, x, y, beta=0.5, alpha=2.0),
             lambda i, x, y: torch.addmv(i, x, y, beta=0.5, alpha=2.0), [w, a, v])
    _compare(lambda i, x, y: tg.addr(i, x, y, beta=2, alpha=-1),
             lambda i, x, y: torch.addr(i, x, y, beta=2, alpha=-1), [c, w, v])
    _compare(tg.vdot, torch.vdot, [v, v[::-1].copy()])
    _compare(lambda x, y: tg.chain_matmul(x, y, y.T), lambda x, y: torch.chain_matmul(x, y, y.T),
             [a, b])
    _compare(tg.kron, torch.kron, [a, b])
    _compare(tg.inner, torch.inner, [a, c])
    for p in (1, 2, 3.5, float("inf")):
        _compare(lambda x, y: tg.dist(x, y, p), lambda x, y: torch.dist(x, y, p), [a, c])
    # p = 0 counts the differing elements (torch's has no gradient at all)
    assert tg.dist(tg.tensor(a), tg.tensor(c), 0).item() == torch.dist(
        torch.tensor(a), torch.tensor(c), 0).item()
    # beta = 0 ignores NaN in input (as torch)
    nan_in = np.full(n, np.nan)
    _compare(lambda i, x, y: tg.addmv(i, x, y, beta=0), lambda i, x, y: torch.addmv(i, x, y, beta=0),
             [nan_in, a, v])


@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3),
       st.lists(st.integers(1, 3), min_size=0, max_size=3))
def test_kron_and_inner_shapes_match_torch(sa, sb):
    rng = np.random.default_rng(len(sa) * 5 + len(sb))
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    _compare(tg.kron, torch.kron, [a, b])
    if not sa or not sb or sa[-1] == sb[-1]:
        _compare(tg.inner, torch.inner, [a, b])
    else:
        with pytest.raises(RuntimeError):
            tg.inner(tg.tensor(a), tg.tensor(b))


@pytest.mark.parametrize("dims,b_shape", [(0, (2, 5)), (1, (2, 5)), (2, (4, 2, 5)),
                                          (([1], [0]), (4, 2, 5)), (([0, 2], [1, 0]), (2, 3, 5)),
                                          (([-1], [-2]), (4, 2, 5))])
def test_tensordot_matches_torch(dims, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4, 2)), rng.standard_normal(b_shape)
    _compare(lambda x, y: tg.tensordot(x, y, dims), lambda x, y: torch.tensordot(x, y, dims),
             [a, b])
    with pytest.raises(RuntimeError):
        tg.tensordot(tg.tensor(a), tg.tensor(a), ([0], [1]))


@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 0.5), (3, -1, 2.0), (2, 0, 100.0)])
def test_renorm_matches_torch(p, dim, maxnorm):
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    _compare(lambda t: tg.renorm(t, p, dim, maxnorm), lambda t: torch.renorm(t, p, dim, maxnorm),
             [x])
    y = tg.tensor(x)
    y.renorm_(p, dim, maxnorm)
    np.testing.assert_allclose(_np(y), torch.tensor(x).renorm_(p, dim, maxnorm).numpy())


@SETTINGS
@given(st.lists(st.lists(st.integers(0, 3), min_size=0, max_size=2), min_size=0, max_size=4))
def test_block_diag_matches_torch(shapes_):
    rng = np.random.default_rng(len(shapes_))
    blocks = [rng.standard_normal(s) for s in shapes_]
    if not blocks:
        assert tuple(tg.block_diag().shape) == tuple(torch.block_diag().shape)
        return
    if any(b.size == 0 for b in blocks):
        # torch's backward misplaces the gradients after an empty block (its forward does
        # not): values only here, gradients by gradcheck
        o = tg.block_diag(*[tg.tensor(b) for b in blocks])
        np.testing.assert_array_equal(_np(o), torch.block_diag(*[torch.tensor(b) for b in blocks]))
        if any(b.size for b in blocks):
            assert gradcheck(lambda *t: tg.block_diag(*t),
                             [tg.tensor(b, requires_grad=bool(b.size)) for b in blocks])
    else:
        _compare(lambda *t: tg.block_diag(*t), lambda *t: torch.block_diag(*t), blocks)
    mixed = [np.arange(3), np.ones((2, 2), np.float32)]
    o = tg.block_diag(*[tg.tensor(b) for b in mixed])
    t = torch.block_diag(*[torch.tensor(b) for b in mixed])
    assert _np(o).dtype == t.numpy().dtype
    np.testing.assert_array_equal(_np(o), t.numpy())


@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(-2, 2), st.data())
def test_diag_embed_and_diagflat_match_torch(shape, offset, data):
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    ndim = len(shape) + 1
    d1 = data.draw(st.integers(-ndim, ndim - 1))
    d2 = data.draw(st.integers(-ndim, ndim - 1).filter(lambda d: d % ndim != d1 % ndim))
    _compare(lambda t: tg.diag_embed(t, offset, d1, d2),
             lambda t: torch.diag_embed(t, offset, d1, d2), [x])
    _compare(lambda t: tg.diagflat(t, offset), lambda t: torch.diagflat(t, offset), [x])


@pytest.mark.parametrize("n", [None, 0, 1, 4])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander_matches_torch(n, increasing):
    """Values against torch; gradients by gradcheck (torch's own vander raises in its backward:
    its cumulative product is modified in place)."""
    x = np.array([0.5, -2.0, 3.0])
    np.testing.assert_allclose(_np(tg.vander(tg.tensor(x), n, increasing)),
                               torch.vander(torch.tensor(x), n, increasing).numpy(), rtol=1e-15)
    if n != 0:
        assert gradcheck(lambda t: tg.vander(t, n, increasing), [tg.tensor(x, requires_grad=True)])
    ints = np.array([1, 2, 3])
    np.testing.assert_array_equal(_np(tg.vander(tg.tensor(ints), n, increasing)),
                                  torch.vander(torch.tensor(ints), n, increasing).numpy())


def test_products_gradcheck_and_errors():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    for fn, args in ((tg.kron, (a, b)), (lambda x, y: tg.tensordot(x, y, 1), (a, b)),
                     (tg.trace, (a @ b,)), (lambda x: tg.quantile(x, 0.3, 1), (a,)),
                     (tg.cov, (a,)), (lambda x: tg.diag_embed(x, -1), (a,)),
                     (lambda x: tg.renorm(x, 2, 0, 0.5), (a,))):
        assert gradcheck(fn, [tg.tensor(v, requires_grad=True) for v in args])
    for bad in (lambda: tg.trace(tg.tensor(np.ones(3))), lambda: tg.mv(tg.tensor(a), tg.tensor(a)),
                lambda: tg.vdot(tg.tensor(a), tg.tensor(a)), lambda: tg.chain_matmul(),
                lambda: tg.renorm(tg.tensor(a), -1, 0, 1.0),
                lambda: tg.block_diag(tg.tensor(np.ones((1, 1, 1)))),
                lambda: tg.diag_embed(tg.tensor(a), 0, 1, 1)):
        with pytest.raises(RuntimeError):
            bad()
