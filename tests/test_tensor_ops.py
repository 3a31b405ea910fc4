"""Every op of SPEC's Tensor list: float64 gradcheck over hypothesis shapes (broadcasting,
size-1 dims, repeated advanced indices) and forward + backward against torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import strategies as tst

from autograd_cases import check_op

SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 2**31 - 1)


def normal(rng, shape, kind="any"):
    """Random float64 data away from kinks: 'pos' > 0.3, 'nonzero' |x| > 0.3, a tuple of kink
    points: at least 1e-3 from each (gradcheck's differences straddle a kink closer than its
    step: seed 444 drew -0.50000095 for clamp(-0.5, 0.7))."""
    x = rng.standard_normal(shape)
    if kind == "pos":
        return np.abs(x) + 0.3
    if kind == "nonzero":
        return np.where(x >= 0, x + 0.3, x - 0.3)
    if isinstance(kind, tuple):
        for kink in kind:
            x = np.where(np.abs(x - kink) < 1e-3, kink + 1e-2, x)
    return x


# ---- elementwise binary ops with broadcasting --------------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, "any", "nonzero"),
    "pow": (lambda a, b: a ** b, "pos", "any"),
    "method_add": (lambda a, b: a.add(b), "any", "any"),
    "method_sub": (lambda a, b: a.sub(b), "any", "any"),
    "method_mul": (lambda a, b: a.mul(b), "any", "any"),
    "method_div": (lambda a, b: a.div(b), "any", "nonzero"),
    "method_pow": (lambda a, b: a.pow(b), "pos", "any"),
    "maximum": (lambda a, b: a.maximum(b), "any", "any"),
    "minimum": (lambda a, b: a.minimum(b), "any", "any"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=tst.broadcastable_shapes(2), seed=seeds)
def test_binary_broadcasting(name, shapes, seed):
    fn, ka, kb = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = normal(rng, shapes[0], ka), normal(rng, shapes[1], kb)
    check_op(fn, fn, [a, b])
    check_op(fn, fn, [a, b], requires_grad=[True, False], grad_check=False)
    check_op(fn, fn, [a, b], requires_grad=[False, True], grad_check=False)


@pytest.mark.parametrize("name, ours, theirs", [
    ("maximum", tg.maximum, torch.maximum), ("minimum", tg.minimum, torch.minimum),
    ("matmul", tg.matmul, torch.matmul)])
def test_module_level_binary(name, ours, theirs):
    rng = np.random.default_rng(1)
    check_op(ours, theirs, [rng.standard_normal((3, 4)), rng.standard_normal((4,))])


def test_binary_ties_split_gradient_like_torch():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 0.0, 3.0])
    check_op(lambda x, y: x.maximum(y), torch.maximum, [a, b], grad_check=False)
    check_op(lambda x, y: x.minimum(y), torch.minimum, [a, b], grad_check=False)


SCALAR_OPS = {
    "x+2": lambda x: x + 2, "2+x": lambda x: 2 + x, "x-1.5": lambda x: x - 1.5,
    "3-x": lambda x: 3 - x, "x*2.5": lambda x: x * 2.5, "2*x": lambda x: 2 * x,
    "x/4": lambda x: x / 4, "3/x": lambda x: 3 / x, "x**2": lambda x: x ** 2,
    "x**3": lambda x: x ** 3, "x**0.5": lambda x: x ** 0.5, "2**x": lambda x: 2 ** x,
    "x**-1.5": lambda x: x ** -1.5,
}


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
@settings(max_examples=8, deadline=None)
@given(shape=tst.shapes(), seed=seeds)
def test_scalar_operands(name, shape, seed):
    fn = SCALAR_OPS[name]
    x = normal(np.random.default_rng(seed), shape, "pos")
    check_op(fn, fn, [x])


# ---- elementwise unary ops ---------------------------------------------------------------------
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, "any"),
    "neg_method": (lambda x: x.neg(), lambda x: x.neg(), "any"),
    "abs": (lambda x: x.abs(), lambda x: x.abs(), "nonzero"),
    "abs_builtin": (abs, abs, "nonzero"),
    "exp": (lambda x: x.exp(), torch.exp, "any"),
    "log": (lambda x: x.log(), torch.log, "pos"),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, "pos"),
    "sin": (lambda x: x.sin(), torch.sin, "any"),
    "cos": (lambda x: x.cos(), torch.cos, "any"),
    "tanh": (lambda x: x.tanh(), torch.tanh, "any"),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid, "any"),
    "relu": (lambda x: x.relu(), torch.relu, "nonzero"),
    "square": (lambda x: x.square(), torch.square, "any"),
    "rsqrt": (lambda x: x.rsqrt(), torch.rsqrt, "pos"),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), (-0.5, 0.7)),
    "clamp_min": (lambda x: x.clamp(min=0.2), lambda x: x.clamp(min=0.2), (0.2,)),
    "clamp_max": (lambda x: x.clamp(max=-0.1), lambda x: x.clamp(max=-0.1), (-0.1,)),
    "clip": (lambda x: x.clip(-1.1, 0.3), lambda x: x.clip(-1.1, 0.3), (-1.1, 0.3)),
    "tg.exp": (tg.exp, torch.exp, "any"),
    "tg.log": (tg.log, torch.log, "pos"),
    "tg.sqrt": (tg.sqrt, torch.sqrt, "pos"),
    "tg.sin": (tg.sin, torch.sin, "any"),
    "tg.cos": (tg.cos, torch.cos, "any"),
    "tg.tanh": (tg.tanh, torch.tanh, "any"),
    "tg.sigmoid": (tg.sigmoid, torch.sigmoid, "any"),
    "tg.relu": (tg.relu, torch.relu, "nonzero"),
    "tg.abs": (tg.abs, torch.abs, "nonzero"),
    "tg.neg": (tg.neg, torch.neg, "any"),
    "tg.clamp": (lambda x: tg.clamp(x, -0.3, 0.4), lambda x: torch.clamp(x, -0.3, 0.4),
                 (-0.3, 0.4)),
    "tg.clip": (lambda x: tg.clip(x, -0.3, 0.4), lambda x: torch.clip(x, -0.3, 0.4),
                (-0.3, 0.4)),
    "tg.square": (tg.square, torch.square, "any"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=tst.shapes(max_dims=4), seed=seeds)
def test_unary(name, shape, seed):
    ours, theirs, kind = UNARY[name]
    check_op(ours, theirs, [normal(np.random.default_rng(seed), shape, kind)])


def test_unary_on_hypothesis_arrays():
    """The ``arrays`` strategy drives smooth ops directly (values include 0, repeats, ...)."""
    @settings(max_examples=20, deadline=None)
    @given(tst.arrays(min_value=-2, max_value=2))
    def run(x):
        check_op(lambda t: (t.sin() * t).tanh() + t.exp(),
                 lambda t: (t.sin() * t).tanh() + t.exp(), [x])
    run()


def test_kinks_follow_torch():
    """At 0, relu' = 0 and |x|' = 0; clamp passes the gradient at its bounds (as torch)."""
    x = np.array([-1.0, 0.0, 1.0, -0.5, 0.7])
    check_op(lambda t: t.relu(), torch.relu, [x], grad_check=False)
    check_op(lambda t: t.abs(), torch.abs, [x], grad_check=False)
    check_op(lambda t: t.clamp(-0.5, 0.7), lambda t: t.clamp(-0.5, 0.7), [x], grad_check=False)


@SETTINGS
@given(shapes=tst.broadcastable_shapes(3), seed=seeds)
def test_where_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    cond = rng.standard_normal(shapes[0]) > 0
    a, b = rng.standard_normal(shapes[1]), rng.standard_normal(shapes[2])

    def ours(x, y):
        return tg.where(tg.tensor(cond), x, y)

    def theirs(x, y):
        return torch.where(torch.tensor(cond), x, y)

    check_op(ours, theirs, [a, b])
    check_op(lambda x, y: x.where(tg.tensor(cond), y), theirs, [a, b], grad_check=False)


def test_where_with_scalar_branch():
    x = np.array([-1.0, 2.0, -3.0])
    check_op(lambda t: tg.where(t > 0, t, 0.0), lambda t: torch.where(t > 0, t, 0.0), [x])


# ---- reductions --------------------------------------------------------------------------------
@st.composite
def shape_and_dims(draw, min_side=1):
    shape = draw(tst.shapes(min_dims=1, max_dims=4, min_side=min_side))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "neg", "tuple"]))
    if kind == "none":
        dim = None
    elif kind == "int":
        dim = draw(st.integers(0, nd - 1))
    elif kind == "neg":
        dim = draw(st.integers(-nd, -1))
    else:
        dim = tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))
    return shape, dim, draw(st.booleans()), draw(seeds)


def torch_dim(dim, ndim):
    return tuple(range(ndim)) if dim is None else dim


REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(dim=d, keepdim=k),
            lambda x, d, k: x.sum(dim=torch_dim(d, x.ndim), keepdim=k)),
    "mean": (lambda x, d, k: x.mean(dim=d, keepdim=k),
             lambda x, d, k: x.mean(dim=torch_dim(d, x.ndim), keepdim=k)),
    "logsumexp": (lambda x, d, k: x.logsumexp(dim=d, keepdim=k),
                  lambda x, d, k: x.logsumexp(dim=torch_dim(d, x.ndim), keepdim=k)),
    "amax": (lambda x, d, k: x.amax(dim=d, keepdim=k),
             lambda x, d, k: x.amax(dim=torch_dim(d, x.ndim), keepdim=k)),
    "amin": (lambda x, d, k: x.amin(dim=d, keepdim=k),
             lambda x, d, k: x.amin(dim=torch_dim(d, x.ndim), keepdim=k)),
    "tg.sum": (lambda x, d, k: tg.sum(x, dim=d, keepdim=k),
               lambda x, d, k: torch.sum(x, dim=torch_dim(d, x.ndim), keepdim=k)),
    "tg.mean": (lambda x, d, k: tg.mean(x, dim=d, keepdim=k),
                lambda x, d, k: torch.mean(x, dim=torch_dim(d, x.ndim), keepdim=k)),
    "tg.logsumexp": (lambda x, d, k: tg.logsumexp(x, dim=d, keepdim=k),
                     lambda x, d, k: torch.logsumexp(x, dim=torch_dim(d, x.ndim), keepdim=k)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(case=shape_and_dims())
def test_reductions(name, case):
    shape, dim, keepdim, seed = case
    ours, theirs = REDUCTIONS[name]
    x = normal(np.random.default_rng(seed), shape)
    check_op(lambda t: ours(t, dim, keepdim), lambda t: theirs(t, dim, keepdim), [x])


@pytest.mark.parametrize("name", ["var", "std"])
@SETTINGS
@given(case=shape_and_dims(min_side=2), unbiased=st.sampled_from([None, True, False]))
def test_var_std(name, case, unbiased):
    shape, dim, keepdim, seed = case
    x = normal(np.random.default_rng(seed), shape)
    kw = {} if unbiased is None else {"unbiased": unbiased}
    check_op(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim, **kw),
             lambda t: getattr(t, name)(dim=torch_dim(dim, t.ndim), keepdim=keepdim, **kw), [x])
    # correction= and numpy's ddof= agree with unbiased=
    corr = 0 if unbiased is False else 1
    check_op(lambda t: getattr(tg, name)(t, dim=dim, keepdim=keepdim, correction=corr),
             lambda t: getattr(t, name)(dim=torch_dim(dim, t.ndim), keepdim=keepdim,
                                        correction=corr), [x], grad_check=False)
    ours = getattr(tg.tensor(x), name)(axis=dim, keepdims=keepdim, ddof=corr).numpy()
    np.testing.assert_allclose(ours, getattr(np, name)(x, axis=dim, keepdims=keepdim, ddof=corr))


def test_var_std_unbiased_by_default():
    x = np.arange(6.0).reshape(2, 3)
    assert np.isclose(tg.tensor(x).var().item(), np.var(x, ddof=1))
    assert np.isclose(tg.tensor(x).std().item(), np.std(x, ddof=1))
    np.testing.assert_allclose(tg.tensor(x).var(1).numpy(), np.var(x, axis=1, ddof=1))
    np.testing.assert_allclose(tg.tensor(x).var(1, unbiased=False).numpy(), np.var(x, axis=1))


@pytest.mark.parametrize("name", ["max", "min"])
@SETTINGS
@given(case=shape_and_dims())
def test_max_min(name, case):
    shape, dim, keepdim, seed = case
    x = normal(np.random.default_rng(seed), shape)
    if dim is None:   # a scalar
        check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
        check_op(lambda t: getattr(tg, name)(t), lambda t: getattr(torch, name)(t), [x],
                 grad_check=False)
    elif isinstance(dim, int):   # (values, indices) named tuple
        check_op(lambda t: tuple(getattr(t, name)(dim=dim, keepdim=keepdim)),
                 lambda t: tuple(getattr(t, name)(dim=dim, keepdim=keepdim)), [x])
        res = getattr(tg.tensor(x), name)(dim, keepdim)
        assert res.indices.dtype == np.int64
        np.testing.assert_array_equal(res[1].numpy(), res.indices.numpy())
        np.testing.assert_array_equal(res.values.numpy(), res[0].numpy())


def test_max_with_ties_shares_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    check_op(lambda t: t.max(), lambda t: t.max(), [x], grad_check=False)
    check_op(lambda t: t.amax(dim=1), lambda t: t.amax(dim=1), [x], grad_check=False)


def test_max_of_two_tensors_is_maximum():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_op(lambda x, y: x.max(y), lambda x, y: x.max(y), [a, b])
    check_op(lambda x, y: x.min(y), lambda x, y: x.min(y), [a, b])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@SETTINGS
@given(case=shape_and_dims())
def test_argmax_argmin(name, case):
    shape, dim, keepdim, seed = case
    if isinstance(dim, tuple):
        dim = dim[0]
    x = normal(np.random.default_rng(seed), shape)
    ours = getattr(tg.tensor(x), name)(dim=dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(getattr(tg, name)(tg.tensor(x), dim).numpy(),
                                  getattr(torch, name)(torch.tensor(x), dim).numpy())


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "logsumexp", "amax", "amin",
                                  "argmax", "argmin"])
def test_numpy_axis_keepdims_aliases(name):
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))
    for axis in ([1, -1, (0, 2)] if not name.startswith("arg") else [1, -1]):
        for keep in (False, True):
            a = getattr(x, name)(dim=axis, keepdim=keep)
            b = getattr(x, name)(axis=axis, keepdims=keep)
            np.testing.assert_allclose(a.numpy(), b.numpy())
    a = x.max(axis=1, keepdims=True)
    np.testing.assert_allclose(a.values.numpy(), x.numpy().max(axis=1, keepdims=True))


def test_integer_sum_and_mean():
    x = tg.tensor([[1, 2], [3, 4]])
    assert x.sum().dtype == np.int64 and x.sum().item() == 10
    np.testing.assert_array_equal(x.sum(0).numpy(), [4, 6])
    assert tg.tensor([True, False, True]).sum().item() == 2
    with pytest.raises(RuntimeError, match="mean"):
        x.mean()
    assert x.mean(dtype="float64").item() == 2.5


# ---- shape ops ---------------------------------------------------------------------------------
@st.composite
def shape_and_perm(draw):
    shape = draw(tst.shapes(min_dims=1, max_dims=4))
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(perm), draw(seeds)


@SETTINGS
@given(case=shape_and_perm())
def test_permute_transpose_T(case):
    shape, perm, seed = case
    x = normal(np.random.default_rng(seed), shape)
    check_op(lambda t: t.permute(*perm), lambda t: t.permute(*perm), [x])
    check_op(lambda t: tg.permute(t, perm), lambda t: torch.permute(t, perm), [x],
             grad_check=False)
    d0, d1 = perm[0], perm[-1]
    check_op(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), [x])
    check_op(lambda t: tg.transpose(t, d0, -1), lambda t: torch.transpose(t, d0, -1), [x],
             grad_check=False)
    rev = tuple(reversed(range(len(shape))))
    check_op(lambda t: t.T, lambda t: t.permute(*rev), [x])


@SETTINGS
@given(shape=tst.shapes(max_dims=4), seed=seeds, data=st.data())
def test_reshape_view_flatten(shape, seed, data):
    x = normal(np.random.default_rng(seed), shape)
    n = x.size
    target = data.draw(st.sampled_from([(n,), (1, n), (n, 1, 1), (-1,), (1, -1)]))
    check_op(lambda t: t.reshape(target), lambda t: t.reshape(target), [x])
    check_op(lambda t: t.reshape(*target), lambda t: t.reshape(*target), [x], grad_check=False)
    check_op(lambda t: t.view(target), lambda t: t.view(target), [x], grad_check=False)
    check_op(lambda t: tg.reshape(t, target), lambda t: torch.reshape(t, target), [x],
             grad_check=False)
    check_op(lambda t: t.view_as(tg.zeros(*x.shape[::-1]).reshape(x.shape)),
             lambda t: t.view_as(t), [x], grad_check=False)
    if x.ndim:
        s = data.draw(st.integers(0, x.ndim - 1))
        e = data.draw(st.integers(s, x.ndim - 1))
        check_op(lambda t: t.flatten(s, e), lambda t: t.flatten(s, e), [x])
    check_op(lambda t: tg.flatten(t), lambda t: torch.flatten(t), [x], grad_check=False)


@SETTINGS
@given(shape=tst.shapes(max_dims=4, max_side=3), seed=seeds, data=st.data())
def test_squeeze_unsqueeze(shape, seed, data):
    x = normal(np.random.default_rng(seed), shape)
    check_op(lambda t: t.squeeze(), lambda t: t.squeeze(), [x])
    check_op(lambda t: tg.squeeze(t), lambda t: torch.squeeze(t), [x], grad_check=False)
    if x.ndim:
        d = data.draw(st.integers(-x.ndim, x.ndim - 1))
        check_op(lambda t: t.squeeze(d), lambda t: t.squeeze(d), [x])
    d = data.draw(st.integers(-x.ndim - 1, x.ndim))
    check_op(lambda t: t.unsqueeze(d), lambda t: t.unsqueeze(d), [x])
    check_op(lambda t: tg.unsqueeze(t, d), lambda t: torch.unsqueeze(t, d), [x],
             grad_check=False)


@SETTINGS
@given(shapes=tst.broadcastable_shapes(2), seed=seeds)
def test_expand_broadcast_to(shapes, seed):
    x = normal(np.random.default_rng(seed), shapes[0])
    target = np.broadcast_shapes(*shapes)
    check_op(lambda t: t.expand(*target), lambda t: t.expand(target), [x])
    check_op(lambda t: t.broadcast_to(target), lambda t: t.broadcast_to(target), [x])
    check_op(lambda t: tg.broadcast_to(t, target), lambda t: torch.broadcast_to(t, target), [x],
             grad_check=False)
    check_op(lambda t: tg.expand(t, *target), lambda t: t.expand(target), [x], grad_check=False)
    if x.ndim:
        minus = (-1,) * x.ndim
        check_op(lambda t: t.expand(2, *minus), lambda t: t.expand(2, *minus), [x])


def test_repeat():
    x = np.random.default_rng(0).standard_normal((2, 3))
    check_op(lambda t: t.repeat(2, 1, 3), lambda t: t.repeat(2, 1, 3), [x])


# ---- indexing ----------------------------------------------------------------------------------
@st.composite
def basic_index(draw):
    shape = draw(tst.shapes(min_dims=1, max_dims=3, max_side=5))
    index = []
    for side in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "none", "full"]))
        if kind == "int":
            index.append(draw(st.integers(-side, side - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-side, side)))
            stop = draw(st.one_of(st.none(), st.integers(-side, side)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            index.append(slice(start, stop, step))
        elif kind == "none":
            index += [None, slice(None)]
        else:
            index.append(slice(None))
    if draw(st.booleans()):
        consumed = sum(i is not None for i in index)
        # a leading Ellipsis would shift the indices drawn for the first dims onto the last ones
        index.insert(0 if consumed == len(shape) else len(index), Ellipsis)
    return shape, tuple(index), draw(seeds)


@SETTINGS
@given(case=basic_index())
def test_getitem_basic(case):
    shape, index, seed = case
    x = normal(np.random.default_rng(seed), shape)
    check_op(lambda t: t[index], lambda t: t[index], [x])


def test_getitem_negative_step_gradcheck():
    """numpy allows negative steps (torch does not): compare with numpy, gradcheck."""
    x = np.random.default_rng(0).standard_normal((4, 5))
    t = tg.tensor(x, requires_grad=True)
    np.testing.assert_array_equal(t[::-1, 1::-2].detach().numpy(), x[::-1, 1::-2])
    assert tg.testing.gradcheck(lambda a: a[::-1, 1::-2] * 2, (t,))


@st.composite
def advanced_index(draw):
    shape = draw(tst.shapes(min_dims=1, max_dims=3, max_side=4))
    n_idx = draw(st.integers(1, min(2, len(shape))))
    idx_shape = draw(tst.shapes(min_dims=1, max_dims=2, max_side=5))
    arrays = []
    for side in shape[:n_idx]:
        arrays.append(np.array(draw(st.lists(st.integers(-side, side - 1),
                                             min_size=int(np.prod(idx_shape)),
                                             max_size=int(np.prod(idx_shape))))).reshape(idx_shape))
    lead = draw(st.booleans()) and len(shape) > n_idx
    return shape, arrays, lead, draw(seeds)


@SETTINGS
@given(case=advanced_index())
def test_getitem_advanced_repeated_indices_accumulate(case):
    shape, arrays, lead_slice, seed = case
    x = normal(np.random.default_rng(seed), shape)
    if lead_slice:   # x[:, idx] (slice first, then an index array)
        arrays = [np.clip(arrays[0], -shape[1], shape[1] - 1)]
        ours_idx = (slice(None), tg.tensor(arrays[0]))
        torch_idx = (slice(None), torch.tensor(arrays[0]))
    else:
        ours_idx = tuple(tg.tensor(a) for a in arrays)
        torch_idx = tuple(torch.tensor(a) for a in arrays)
    check_op(lambda t: t[ours_idx], lambda t: t[torch_idx], [x])
    lists = tuple(a.tolist() for a in arrays)
    if not lead_slice and len(lists) == 1 and arrays[0].ndim == 1:   # torch reads nested lists
        # as a tuple of indices (legacy numpy); we follow current numpy
        check_op(lambda t: t[lists[0]], lambda t: t[lists[0]], [x], grad_check=False)


def test_getitem_repeated_index_gradient_counts():
    x = tg.zeros(5, dtype="float64", requires_grad=True)
    x[tg.tensor([0, 0, 0, 3, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 0, 2, 0])


@SETTINGS
@given(shape=tst.shapes(min_dims=1, max_dims=3), seed=seeds)
def test_getitem_boolean_mask(shape, seed):
    rng = np.random.default_rng(seed)
    x = normal(rng, shape)
    mask = rng.standard_normal(shape) > 0
    check_op(lambda t: t[tg.tensor(mask)], lambda t: t[torch.tensor(mask)], [x])
    check_op(lambda t: t[t > 0], lambda t: t[t > 0], [x], grad_check=False)


# ---- joining and splitting ---------------------------------------------------------------------
@st.composite
def cat_case(draw):
    base = draw(tst.shapes(min_dims=1, max_dims=3))
    dim = draw(st.integers(-len(base), len(base) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shapes = []
    for s in sizes:
        sh = list(base)
        sh[dim] = s
        shapes.append(tuple(sh))
    return shapes, dim, draw(seeds)


@SETTINGS
@given(case=cat_case())
def test_cat(case):
    shapes, dim, seed = case
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s) for s in shapes]
    check_op(lambda *ts: tg.cat(ts, dim=dim), lambda *ts: torch.cat(ts, dim=dim), xs)
    check_op(lambda *ts: tg.concatenate(ts, axis=dim), lambda *ts: torch.cat(ts, dim=dim), xs,
             grad_check=False)


@SETTINGS
@given(shape=tst.shapes(max_dims=3), n=st.integers(1, 3), seed=seeds, data=st.data())
def test_stack(shape, n, seed, data):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(shape) for _ in range(n)]
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(lambda *ts: tg.stack(ts, dim=dim), lambda *ts: torch.stack(ts, dim=dim), xs)


@SETTINGS
@given(shape=tst.shapes(min_dims=1, max_dims=3, max_side=6), seed=seeds, data=st.data())
def test_split_chunk(shape, seed, data):
    x = normal(np.random.default_rng(seed), shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, shape[dim]))
    check_op(lambda t: t.split(size, dim), lambda t: t.split(size, dim), [x])
    check_op(lambda t: tg.split(t, size, dim), lambda t: torch.split(t, size, dim), [x],
             grad_check=False)
    chunks = data.draw(st.integers(1, shape[dim]))
    check_op(lambda t: t.chunk(chunks, dim), lambda t: t.chunk(chunks, dim), [x])
    check_op(lambda t: tg.chunk(t, chunks, dim), lambda t: torch.chunk(t, chunks, dim), [x],
             grad_check=False)
    first = data.draw(st.integers(0, shape[dim]))
    sections = [first, shape[dim] - first]
    check_op(lambda t: t.split(sections, dim), lambda t: t.split(sections, dim), [x])


@SETTINGS
@given(shape=tst.shapes(min_dims=1, max_dims=3), seed=seeds, data=st.data())
def test_pad_constant(shape, seed, data):
    x = normal(np.random.default_rng(seed), shape)
    n_dims = data.draw(st.integers(1, len(shape)))
    pad = []
    for d in range(n_dims):
        side = shape[len(shape) - 1 - d]
        pad += [data.draw(st.integers(-(side - 1) // 2, 2)), data.draw(st.integers(-(side // 2), 2))]
    value = data.draw(st.sampled_from([0.0, 1.5]))
    tf = torch.nn.functional
    check_op(lambda t: tg.pad(t, pad, value=value), lambda t: tf.pad(t, pad, value=value), [x])
    check_op(lambda t: t.pad(pad, value=value), lambda t: tf.pad(t, pad, value=value), [x],
             grad_check=False)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@SETTINGS
@given(seed=seeds, data=st.data())
def test_pad_modes(mode, seed, data):
    """torch pads 1-D (N, C, W) and 2-D (N, C, H, W) in these modes; we pad any dims."""
    rng = np.random.default_rng(seed)
    two_d = data.draw(st.booleans())
    shape = (1, 2, data.draw(st.integers(3, 5)), data.draw(st.integers(3, 5))) if two_d else \
        (2, 1, data.draw(st.integers(3, 5)))
    pad = [data.draw(st.integers(0, 2)) for _ in range(4 if two_d else 2)]
    x = rng.standard_normal(shape)
    tf = torch.nn.functional
    check_op(lambda t: tg.pad(t, pad, mode=mode), lambda t: tf.pad(t, pad, mode=mode), [x])
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    widths = [(0, 0)] * (x.ndim - len(pad) // 2) + [
        (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))]
    np.testing.assert_allclose(tg.pad(tg.tensor(x), pad, mode=mode).numpy(),
                               np.pad(x, widths, mode=np_mode))


# ---- matmul ------------------------------------------------------------------------------------
@st.composite
def matmul_case(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batch"]))
    if kind == "vv":
        return (k,), (k,), draw(seeds)
    if kind == "vm":
        batch = draw(tst.shapes(max_dims=2, max_side=3))
        return (k,), batch + (k, m), draw(seeds)
    if kind == "mv":
        batch = draw(tst.shapes(max_dims=2, max_side=3))
        return batch + (n, k), (k,), draw(seeds)
    if kind == "mm":
        return (n, k), (k, m), draw(seeds)
    ba, bb = draw(tst.broadcastable_shapes(2, max_dims=3, max_side=3))
    return ba + (n, k), bb + (k, m), draw(seeds)


@settings(max_examples=40, deadline=None)
@given(case=matmul_case())
def test_matmul_batch_broadcasting(case):
    sa, sb, seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    check_op(lambda x, y: x @ y, lambda x, y: x @ y, [a, b])
    check_op(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b],
             requires_grad=[False, True], grad_check=False)


def test_matmul_with_array_operands():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    np.testing.assert_allclose((tg.tensor(a) @ b).numpy(), a @ b)
    np.testing.assert_allclose((a @ tg.tensor(b)).numpy(), a @ b)


# ---- softmax -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(shape=tst.shapes(min_dims=1, max_dims=4), seed=seeds, data=st.data())
def test_softmax(name, shape, seed, data):
    x = normal(np.random.default_rng(seed), shape) * 3
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    check_op(lambda t: getattr(t, name)(dim), lambda t: getattr(t, name)(dim), [x])
    check_op(lambda t: getattr(tg, name)(t, dim), lambda t: getattr(torch, name)(t, dim), [x],
             grad_check=False)


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    check_op(lambda t: t.softmax(-1), lambda t: t.softmax(-1), [x])
    check_op(lambda t: t.log_softmax(-1), lambda t: t.log_softmax(-1), [x])
    check_op(lambda t: t.logsumexp(-1), lambda t: t.logsumexp(-1), [x])


# ---- comparisons and dtype conversions ----------------------------------------------------------
@pytest.mark.parametrize("op", ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
                                "eq", "ne", "lt", "le", "gt", "ge"])
@SETTINGS
@given(shapes=tst.broadcastable_shapes(2), seed=seeds)
def test_comparisons(op, shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, shapes[0]).astype(np.float64)
    b = rng.integers(-2, 3, shapes[1]).astype(np.float64)
    x = tg.tensor(a, requires_grad=True)
    out = getattr(x, op)(tg.tensor(b))
    expected = getattr(torch.tensor(a), op)(torch.tensor(b))
    assert out.dtype == np.bool_ and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(getattr(x, op)(0.5).numpy(),
                                  getattr(torch.tensor(a), op)(0.5).numpy())


def test_logical_ops():
    a = tg.tensor([True, False, True])
    b = tg.tensor([True, True, False])
    np.testing.assert_array_equal((a & b).numpy(), [True, False, False])
    np.testing.assert_array_equal((a | b).numpy(), [True, True, True])
    np.testing.assert_array_equal((a ^ b).numpy(), [False, True, True])
    np.testing.assert_array_equal((~a).numpy(), [False, True, False])


def test_cast_and_clone_are_differentiable():
    x = np.random.default_rng(0).standard_normal((2, 3))
    check_op(lambda t: t.float().double() * 2, lambda t: t.float().double() * 2, [x],
             grad_check=False, rtol=1e-6, atol=1e-6)
    check_op(lambda t: t.clone() * t, lambda t: t.clone() * t, [x])
    check_op(lambda t: t.to("float32").to(tg.float64), lambda t: t.float().double(), [x],
             grad_check=False, rtol=1e-6, atol=1e-6)
