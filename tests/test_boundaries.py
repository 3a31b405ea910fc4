"""Values and gradients at the boundaries of ops' domains follow torch exactly: zero vectors,
probabilities 0 and 1, zero bases and exponents, NaN inputs, ties; and sizes at the edge of
what a transposed convolution can produce raise clear errors as torch does."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F


NAN, INF = float("nan"), float("inf")
DTYPES = ["float32", "float64"]
RTOL = {"float32": 1e-5, "float64": 1e-12}
ATOL = {"float32": 1e-7, "float64": 1e-15}     # rounding of values that are exactly 0


def _same(ours, theirs, dtype, what, term_scale=0.0):
    """Equal values up to rounding (relative to the largest finite value, or to
    ``term_scale``, the size of the terms a result is a difference of, plus a floor for
    values that are 0 in exact arithmetic), NaN where torch has NaN and infinities of the
    same sign."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN pattern")
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(theirs), err_msg=f"{what}: +inf")
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs), err_msg=f"{what}: -inf")
    finite = np.isfinite(theirs)
    scale = max(float(np.abs(theirs[finite]).max()) if finite.any() else 0.0, term_scale)
    np.testing.assert_allclose(ours[finite], theirs[finite], err_msg=what,
                               rtol=RTOL[dtype], atol=RTOL[dtype] * scale * 4 + ATOL[dtype])


def compare_with_torch(our_fn, torch_fn, arrays, dtype, seed=0, grad_term_scale=0.0):
    """Forward and backward (a random output gradient) of ``our_fn`` vs ``torch_fn``;
    ``grad_term_scale``: the size of the terms the gradients are differences of (see _same)."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # log(0), 0 ** -1 on the way
        yo, yt = our_fn(*ours), torch_fn(*theirs)
        assert yo.dtype == np.dtype(dtype)
        _same(yo.detach().numpy(), yt.detach().numpy(), dtype, "forward")
        g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(dtype)
        yo.backward(tg.tensor(g))
        yt.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.grad is not None and a.grad.dtype == np.dtype(dtype)
        _same(a.grad.numpy(), b.grad.numpy(), dtype, f"gradient of input {i}", grad_term_scale)


ZERO_ROW = [[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]]

# name -> (ours, torch, arrays): each holds the boundary point of the issue
CASES = {
    "normalize_zero_vector": (lambda x: F.normalize(x, dim=1), lambda x: TF.normalize(x, dim=1),
                              [ZERO_ROW]),
    "normalize_p3_zero_vector": (lambda x: F.normalize(x, p=3, dim=1),
                                 lambda x: TF.normalize(x, p=3, dim=1), [ZERO_ROW]),
    "normalize_p1_zero_vector": (lambda x: F.normalize(x, p=1, dim=1),
                                 lambda x: TF.normalize(x, p=1, dim=1), [ZERO_ROW]),
    "normalize_tiny_vector": (lambda x: F.normalize(x, dim=0), lambda x: TF.normalize(x, dim=0),
                              [[1e-13, -3e-13]]),
    "cosine_one_zero_vector": (lambda a, b: F.cosine_similarity(a, b),
                               lambda a, b: TF.cosine_similarity(a, b),
                               [ZERO_ROW, [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]]),
    "cosine_both_zero": (lambda a, b: F.cosine_similarity(a, b),
                         lambda a, b: TF.cosine_similarity(a, b), [ZERO_ROW, ZERO_ROW]),
    "cosine_tiny_norm": (lambda a, b: F.cosine_similarity(a, b, dim=0),
                         lambda a, b: TF.cosine_similarity(a, b, dim=0),
                         [[1e-9, 2e-9], [3.0, -1.0]]),
    "bce_mean_at_0_and_1": (lambda p, z: F.binary_cross_entropy(p, z),
                            lambda p, z: TF.binary_cross_entropy(p, z),
                            [[0.0, 1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 0.0, 0.3]]),
    "bce_none_at_0_and_1": (lambda p, z: F.binary_cross_entropy(p, z, reduction="none"),
                            lambda p, z: TF.binary_cross_entropy(p, z, reduction="none"),
                            [[0.0, 1.0, 0.0, 1.0, 0.25], [0.0, 1.0, 1.0, 0.0, 0.5]]),
    "bce_weighted_sum": (lambda p, z: F.binary_cross_entropy(p, z, weight=tg.tensor(
                             np.array([2.0, 0.5, 1.0]).astype(p.dtype)), reduction="sum"),
                         lambda p, z: TF.binary_cross_entropy(p, z, weight=torch.tensor(
                             np.array([2.0, 0.5, 1.0])).to(p.dtype), reduction="sum"),
                         [[0.0, 1.0, 0.7], [0.5, 0.5, 1.0]]),
    "pow_zero_exponent_at_zero": (lambda x: x ** 0, lambda x: x ** 0, [[0.0, 1.0, -2.0]]),
    "pow_float_zero_exponent": (lambda x: x ** 0.0, lambda x: x ** 0.0, [[0.0, 1.0, -2.0]]),
    "pow_tensor_exponent_zero_base": (lambda x, y: x ** y, lambda x, y: x ** y,
                                      [[0.0, 0.0, 2.0, -1.0, 0.0, 0.0],
                                       [0.0, 2.0, 0.0, 2.0, -1.0, 0.5]]),
    "rpow_zero_base": (lambda y: 0.0 ** y, lambda y: 0.0 ** y, [[0.0, 2.0, -1.0]]),
    "sqrt_at_zero": (lambda x: x.sqrt(), lambda x: x.sqrt(), [[0.0, 1.0, 4.0]]),
    "abs_at_zero_and_nan": (lambda x: x.abs(), lambda x: x.abs(), [[0.0, -1.0, NAN, 2.0]]),
    "relu_at_nan": (lambda x: x.relu(), lambda x: x.relu(), [[NAN, 1.0, -1.0, 0.0]]),
    "F_relu_at_nan": (lambda x: F.relu(x), lambda x: TF.relu(x), [[NAN, 1.0, -1.0, 0.0]]),
    "leaky_relu_at_nan": (lambda x: F.leaky_relu(x), lambda x: TF.leaky_relu(x),
                          [[NAN, 1.0, -1.0, 0.0]]),
    "max_with_nan": (lambda x: x.max(), lambda x: x.max(), [[1.0, NAN, 3.0, NAN]]),
    "min_with_nan": (lambda x: x.min(), lambda x: x.min(), [[[1.0, NAN], [3.0, -1.0]]]),
    "max_ties": (lambda x: x.max(), lambda x: x.max(), [[3.0, 1.0, 3.0, 3.0]]),
    "max_dim_with_nan": (lambda x: x.max(dim=1)[0], lambda x: x.max(dim=1)[0],
                         [[[1.0, NAN, 3.0, NAN], [2.0, 5.0, 5.0, 1.0]]]),
    "min_dim_with_nan": (lambda x: x.min(dim=0)[0], lambda x: x.min(dim=0)[0],
                         [[[1.0, NAN, 3.0], [2.0, 1.0, 1.0]]]),
    "amax_with_nan": (lambda x: x.amax(dim=1), lambda x: x.amax(dim=1),
                      [[[1.0, NAN, 3.0], [2.0, 5.0, 5.0]]]),
    "amin_all_with_nan": (lambda x: x.amin(), lambda x: x.amin(), [[[1.0, NAN], [3.0, 0.0]]]),
    "clamp_at_nan_and_bounds": (lambda x: x.clamp(-1, 1), lambda x: x.clamp(-1, 1),
                                [[NAN, -1.0, 1.0, 2.0, 0.0]]),
    "clamp_min_at_nan": (lambda x: x.clamp(min=0), lambda x: x.clamp(min=0), [[NAN, -1.0, 0.0]]),
    "maximum_with_nan": (lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b),
                         [[0.0, NAN, 1.0, 2.0, NAN], [0.0, 1.0, NAN, 1.0, NAN]]),
    "minimum_with_nan": (lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b),
                         [[0.0, NAN, 1.0, 2.0, NAN], [0.0, 1.0, NAN, 1.0, NAN]]),
    "std_of_constant": (lambda x: x.std(), lambda x: x.std(), [[1.5, 1.5, 1.5]]),
    "std_dim_constant_row": (lambda x: x.std(dim=1, correction=0),
                             lambda x: x.std(dim=1, correction=0), [[[2.0, 2.0], [1.0, 3.0]]]),
    "norm_of_zero": (lambda x: x.norm(), lambda x: x.norm(), [[0.0, 0.0]]),
    "norm_inf_ties_and_zero": (lambda x: x.norm(float("inf"), dim=1),
                               lambda x: x.norm(float("inf"), dim=1),
                               [[[0.0, 0.0, 0.0], [2.0, -2.0, 1.0]]]),
    "norm_half_with_zero_element": (lambda x: x.norm(0.5, dim=1), lambda x: x.norm(0.5, dim=1),
                                    [[[0.0, 0.0, 0.0], [2.0, 0.0, 1.0]]]),
    "normalize_inf_zero_vector": (lambda x: F.normalize(x, p=float("inf"), dim=1),
                                  lambda x: TF.normalize(x, p=float("inf"), dim=1), [ZERO_ROW]),
    "norm_dim_of_zero_rows": (lambda x: x.norm(dim=1), lambda x: x.norm(dim=1), [ZERO_ROW]),
    # a norm over one element is |x| even where its float32 square underflows (as torch)
    "norm_of_one_tiny_value": (lambda x: x.norm(), lambda x: x.norm(), [[1.1754943508222875e-38]]),
    "norm_p3_of_one_tiny_value_per_row": (lambda x: x.norm(3, dim=1), lambda x: x.norm(3, dim=1),
                                          [[[1e-30], [-2e-20]]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_boundary_matches_torch(name, dtype):
    our_fn, torch_fn, arrays = CASES[name]
    compare_with_torch(our_fn, torch_fn, arrays, dtype)


# the probes, each on its own (they printed NaN before)
def test_normalize_and_cosine_of_zero_vector_have_finite_gradients():
    x = tg.tensor(np.zeros((1, 3)), requires_grad=True)
    F.normalize(x).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    a = tg.tensor(np.zeros((1, 3)), requires_grad=True)
    b = tg.tensor(np.ones((1, 3)), requires_grad=True)
    F.cosine_similarity(a, b).sum().backward()
    assert np.isfinite(a.grad.numpy()).all() and np.isfinite(b.grad.numpy()).all()


def test_bce_at_0_and_1_has_finite_input_gradient():
    p = tg.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    F.binary_cross_entropy(p, tg.tensor([0.0, 1.0, 1.0, 0.0])).backward()
    assert np.isfinite(p.grad.numpy()).all()


def test_pow_zero_at_zero_relu_and_max_at_nan():
    x = tg.tensor([0.0], requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.numpy()[0] == 0.0
    y = tg.tensor([NAN, 1.0], requires_grad=True)
    y.relu().sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    m = tg.tensor([1.0, NAN, 2.0], requires_grad=True)
    m.max().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [0.0, 1.0, 0.0])


# hypothesis: random vectors where zeros, NaNs and ties are common
_special = st.sampled_from([0.0, -0.0, NAN, 1.0, -1.0, 2.0])
_values = st.one_of(_special, st.floats(-3, 3, allow_nan=False, width=32))


def _vectors(min_size=1, max_size=6):
    return st.lists(_values, min_size=min_size, max_size=max_size)


UNARY = {
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "abs": (lambda x: x.abs(), lambda x: x.abs()),
    "clamp": (lambda x: x.clamp(-1.0, 1.0), lambda x: x.clamp(-1.0, 1.0)),
    "max": (lambda x: x.max(), lambda x: x.max()),
    "min": (lambda x: x.min(), lambda x: x.min()),
    "max_dim": (lambda x: x.max(dim=0)[0], lambda x: x.max(dim=0)[0]),
    "amax": (lambda x: x.amax(), lambda x: x.amax()),
    "pow0": (lambda x: x ** 0, lambda x: x ** 0),
    "pow2": (lambda x: x ** 2, lambda x: x ** 2),
    "norm": (lambda x: x.norm(), lambda x: x.norm()),
    "norm_p3": (lambda x: x.norm(3), lambda x: x.norm(3)),
    "norm_p05": (lambda x: x.norm(0.5), lambda x: x.norm(0.5)),
    "norm_inf": (lambda x: x.norm(float("inf")), lambda x: x.norm(float("inf"))),
    "normalize": (lambda x: F.normalize(x, dim=0), lambda x: TF.normalize(x, dim=0)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=25, deadline=None)
@given(values=_vectors(), dtype=st.sampled_from(DTYPES))
def test_unary_boundaries_random(name, values, dtype):
    _unary_boundaries(name, values, dtype)


def test_normalize_of_one_tiny_value_agrees_up_to_rounding():
    _unary_boundaries("normalize", [1e-09], "float32")    # found by hypothesis


def _unary_boundaries(name, values, dtype):
    our_fn, torch_fn = UNARY[name]
    term_scale = 0.0
    if name == "normalize":
        # d normalize / dx = g / |x| - x (x . g) / |x|^3: a difference of terms of size
        # |g| / |x| (|x| clamped at eps = 1e-12), exactly 0 for a single element but a few
        # ulps of 1e9 in float32 at |x| = 1e-9
        finite = [0.0 if v != v else v for v in values]
        term_scale = 3.0 / max(float(np.linalg.norm(np.asarray(finite, dtype))), 1e-12)
    compare_with_torch(our_fn, torch_fn, [values], dtype, grad_term_scale=term_scale)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 5), dtype=st.sampled_from(DTYPES))
def test_binary_boundaries_random(data, n, dtype):
    a = data.draw(st.lists(_values, min_size=n, max_size=n))
    b = data.draw(st.lists(_values, min_size=n, max_size=n))
    compare_with_torch(lambda x, y: x.maximum(y), torch.maximum, [a, b], dtype)
    compare_with_torch(lambda x, y: x.minimum(y), torch.minimum, [a, b], dtype)
    finite = [[0.0 if v != v else v for v in vec] for vec in (a, b)]
    # d cos / dy = g (x / |x| - cos y / |y|) / |y|: a difference of terms of size |g| / |y|
    # (|y| clamped at eps = 1e-8), exactly 0 for a single element but 1 ulp of 1e7 in float32
    norms = [max(float(np.linalg.norm(np.asarray(v, dtype))), 1e-8) for v in finite]
    compare_with_torch(lambda x, y: F.cosine_similarity(x, y, dim=0),
                       lambda x, y: TF.cosine_similarity(x, y, dim=0), finite, dtype,
                       grad_term_scale=3.0 / min(norms))


_prob = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1, width=32))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 5), dtype=st.sampled_from(DTYPES),
       reduction=st.sampled_from(["none", "mean", "sum"]))
def test_bce_boundaries_random(data, n, dtype, reduction):
    p = data.draw(st.lists(_prob, min_size=n, max_size=n))
    z = data.draw(st.lists(_prob, min_size=n, max_size=n))
    compare_with_torch(lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction),
                       lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction),
                       [p, z], dtype)


@settings(max_examples=40, deadline=None)
@given(base=st.lists(st.sampled_from([0.0, 0.5, 2.0, -1.5]), min_size=3, max_size=3),
       exponent=st.lists(st.sampled_from([0.0, 1.0, 2.0, 0.5, -1.0, 3.0]), min_size=3,
                         max_size=3),
       dtype=st.sampled_from(DTYPES))
def test_pow_boundaries_random(base, exponent, dtype):
    compare_with_torch(lambda x, y: x ** y, lambda x, y: x ** y, [base, exponent], dtype)
    for e in set(exponent):
        compare_with_torch(lambda x: x ** e, lambda x: x ** e, [base], dtype)
    compare_with_torch(lambda y: 0.0 ** y, lambda y: 0.0 ** y, [exponent], dtype)


# ---- create_graph at the boundaries: the first-order gradient is the same as torch's, and so
# ---- is the second order wherever torch's is a number (torch's double backward gives NaN at
# ---- some boundary points, from 0 * inf in a branch that its ``where`` discards; ours may be
# ---- finite there)
def _second_order(lib, fn, arrays, vs, ws):
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    grad = tg.autograd.grad if lib is tg else torch.autograd.grad
    y = fn(*xs)
    g = grad([y], xs, [lib.tensor(vs)], create_graph=True, allow_unused=True)
    total = sum((gi * lib.tensor(w)).sum() for gi, w in zip(g, ws) if gi is not None)
    hh = grad([total], xs, allow_unused=True) if total.requires_grad else [None] * len(xs)
    as_np = (lambda t: t.detach().numpy()) if lib is tg else (lambda t: t.detach().numpy())
    return ([as_np(t) for t in g],
            [np.zeros(np.shape(a)) if t is None else as_np(t) for t, a in zip(hh, arrays)])
GRADGRAD_AT_BOUNDARY = {
    "pow_zero_exponent": (lambda x: x ** 0 * x, [[0.0, 1.5, -2.0]]),
    "pow_tensor_zero_base": (lambda x, y: x ** y, [[0.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
    "relu_at_nan": (lambda x: x.relu() * x, [[NAN, 1.0, -1.0]]),
    "abs_at_zero": (lambda x: x.abs() * x, [[0.0, -1.0, 2.0]]),
    "max_with_nan": (lambda x: x.max() * x, [[1.0, NAN, 3.0]]),
    "max_ties": (lambda x: x.max() * x, [[3.0, 1.0, 3.0]]),
    "maximum_with_nan": (lambda a, b: a.maximum(b) * a, [[0.0, NAN, 1.0], [0.0, 1.0, NAN]]),
    "norm_zero_rows": (lambda x: x.norm(dim=1) * x.sum(1), [ZERO_ROW]),
    "norm_p05_zero_element": (lambda x: x.norm(0.5, dim=1) * x.sum(1), [[[0.0, 0.0, 0.0],
                                                                          [2.0, 0.0, 1.0]]]),
    "norm_inf_ties": (lambda x: x.norm(float("inf"), dim=1) * x.sum(1), [[[0.0, 0.0, 0.0],
                                                                          [2.0, -2.0, 1.0]]]),
    "std_constant_row": (lambda x: x.std(dim=1) * x.sum(1), [[[2.0, 2.0, 2.0], [1.0, 3.0, 0.5]]]),
    "normalize_zero_vector": ((lambda x: F.normalize(x, dim=1) if isinstance(x, tg.Tensor)
                               else TF.normalize(x, dim=1)), [ZERO_ROW]),
    "cosine_zero_vector": ((lambda a, b: F.cosine_similarity(a, b) if isinstance(a, tg.Tensor)
                            else TF.cosine_similarity(a, b)),
                           [ZERO_ROW, [[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]]),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD_AT_BOUNDARY))
def test_gradgrad_at_boundary_matches_torch(name):
    fn, arrays = GRADGRAD_AT_BOUNDARY[name]
    arrays = [np.array(a) for a in arrays]
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        probe = fn(*[torch.tensor(a) for a in arrays])
        vs = rng.standard_normal(tuple(probe.shape))
        ws = [rng.standard_normal(a.shape) for a in arrays]
        g_ours, hh_ours = _second_order(tg, fn, arrays, vs, ws)
        g_theirs, hh_theirs = _second_order(torch, fn, arrays, vs, ws)
    for a, b in zip(g_ours, g_theirs):
        _same(a, b, "float64", "first order (create_graph)")
    for a, b in zip(hh_ours, hh_theirs):
        number = ~np.isnan(b)
        _same(a[number], b[number], "float64", "second order")


@pytest.mark.parametrize("name", ["normalize_zero_vector", "cosine_one_zero_vector",
                                  "bce_none_at_0_and_1", "pow_tensor_exponent_zero_base",
                                  "rpow_zero_base", "relu_at_nan", "max_with_nan",
                                  "abs_at_zero_and_nan", "maximum_with_nan"])
def test_create_graph_first_order_equals_plain(name):
    our_fn, _, arrays = CASES[name]
    g = [tg.tensor(np.array(a), requires_grad=True) for a in arrays]
    h = [tg.tensor(np.array(a), requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = tg.autograd.grad(our_fn(*g).sum(), g)
        graph = tg.autograd.grad(our_fn(*h).sum(), h, create_graph=True)
    for a, b in zip(plain, graph):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


# ---- conv_transpose2d: an output size of zero or less raises, as in conv2d ------------------
def test_conv_transpose2d_non_positive_output_raises():
    x, w = tg.randn(1, 2, 1, 1), tg.randn(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: .*too small.*\(-1, -1\)"):
        F.conv_transpose2d(x, w, padding=2)
    with pytest.raises(ValueError, match="too small"):
        F.conv_transpose2d(x, tg.randn(2, 3, 2, 2), padding=1)       # exactly 0
    with pytest.raises(ValueError, match="too small"):
        F.conv_transpose2d(x, w, stride=2, padding=3, output_padding=1)
    with pytest.raises(ValueError, match="too small"):
        F.conv_transpose2d(tg.randn(1, 2, 2, 1), w, padding=(0, 2))  # one side only
    with pytest.raises(ValueError, match="non-negative"):
        F.conv_transpose2d(x, w, padding=-1)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 4), wd=st.integers(1, 4), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 4), output_padding=st.integers(0, 2), dilation=st.integers(1, 2))
def test_conv_transpose2d_raises_exactly_when_torch_does(h, wd, k, stride, padding,
                                                         output_padding, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, h, wd)).astype(np.float32)
    w = rng.standard_normal((2, 3, k, k)).astype(np.float32)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    try:
        expected = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), **kw)
    except RuntimeError:
        expected = None
    if expected is None or 0 in expected.shape:
        # torch raises, except on some of its code paths for an output size of exactly 0
        # (an empty tensor); ours always raises there, as conv2d does
        with pytest.raises(ValueError, match="conv_transpose2d"):
            F.conv_transpose2d(tg.tensor(x), tg.tensor(w), **kw)
        return
    got = F.conv_transpose2d(tg.tensor(x), tg.tensor(w), **kw)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)
