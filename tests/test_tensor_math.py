"""The elementwise mathematical functions of ``tensor_math.py`` and ``special.py`` against torch
2.13: values (float32 and float64, random points of the domain plus its edges: 0, -0, the
domain's ends, +-inf, NaN), first and second derivatives on the same upstream gradients,
gradcheck in float64, dtypes (integers give float32), function, method and in-place forms,
and torch's errors; erfinv / ndtri also against SciPy in the far tails."""
import math
import zlib

import numpy as np
import pytest
import scipy.special
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import gradcheck

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.0, 1e-8, 30.0, -30.0, math.inf, -math.inf,
         math.nan]

# name -> (low, high) of the random interior points (where the derivative is finite)
UNARY = {
    "tan": (-1.4, 1.4), "asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "atan": (-5, 5),
    "sinh": (-5, 5), "cosh": (-5, 5), "asinh": (-5, 5), "acosh": (1.05, 6),
    "atanh": (-0.95, 0.95), "sinc": (-3, 3), "exp2": (-5, 5), "erf": (-3, 3),
    "erfc": (-3, 3), "erfinv": (-0.95, 0.95), "logit": (0.05, 0.95),
    "deg2rad": (-400, 400), "rad2deg": (-7, 7), "nan_to_num": (-5, 5),
}
ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
           "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2"}
BINARY = {"atan2": (-3, 3), "hypot": (-3, 3), "logaddexp": (-5, 5), "logaddexp2": (-5, 5),
          "xlogy": (0.1, 3), "copysign": (-3, 3), "fmax": (-3, 3), "fmin": (-3, 3),
          "float_power": (0.2, 3)}
SPECIAL = {"ndtr": (-5, 5), "ndtri": (0.02, 0.98), "expit": (-5, 5), "xlog1py": None,
           "erfinv": (-0.95, 0.95), "erfc": (-3, 3)}


def _np(t):
    return t.detach().numpy()


def _values(rng, low, high, n=40):
    return np.concatenate([rng.uniform(low, high, n), EDGES])


def _assert_same(ours, theirs, rtol, atol=0.0, signed_zeros=True):
    """Equal dtypes and shapes, values within the tolerances (NaN where torch has NaN, the
    same infinities) and, for values (not gradients), the same signs of zeros."""
    theirs = theirs.detach().numpy()
    ours = _np(ours)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)
    if signed_zeros:
        both_zero = (ours == 0) & (theirs == 0)
        assert np.array_equal(np.signbit(ours[both_zero]), np.signbit(theirs[both_zero]))


def _rtol(dtype):
    return 2e-6 if dtype == np.float32 else 1e-12


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_values_and_gradients_match_torch(name, dtype):
    rng = np.random.default_rng(zlib.crc32(name.encode()))   # the same data in every run
    x = _values(rng, *UNARY[name]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = getattr(tg, name)(xo), getattr(torch, name)(xt)
    _assert_same(yo, yt, _rtol(dtype), atol=1e-30)
    yo.backward(tg.tensor(g))
    yt.backward(torch.tensor(g))
    ours, theirs = xo.grad, xt.grad
    if name == "logit" and dtype == np.float32:
        # torch's float32 kernel gives logit's gradient at -0 the sign of +0's (its float64
        # one does not): compare the other points
        keep = ~((x == 0) & np.signbit(x))
        ours, theirs = tg.tensor(_np(ours)[keep]), theirs[torch.tensor(keep)]
    _assert_same(ours, theirs, 2e-5 if dtype == np.float32 else 1e-11, atol=1e-30,
                 signed_zeros=False)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck_and_second_derivative(name):
    low, high = UNARY[name]
    x = np.random.default_rng(1).uniform(low, high, 6)
    assert gradcheck(getattr(tg, name), [tg.tensor(x, requires_grad=True)])
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go,) = tg.autograd.grad(getattr(tg, name)(xo).sum(), [xo], create_graph=True)
    (gt,) = torch.autograd.grad(getattr(torch, name)(xt).sum(), [xt], create_graph=True)
    if not gt.requires_grad:           # a piecewise-linear function: no second derivative
        return
    (go * go).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(_np(xo.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_values_and_gradients_match_torch(name, dtype):
    rng = np.random.default_rng(zlib.crc32(name.encode()))   # the same data in every run
    low, high = BINARY[name]
    a = _values(rng, low, high)
    b = rng.permutation(_values(rng, low, high))
    # every pair of edge values, and a broadcast of the second operand
    a = np.concatenate([a, np.repeat(EDGES, len(EDGES))]).astype(dtype)
    b = np.concatenate([b, np.tile(EDGES, len(EDGES))]).astype(dtype)
    g = rng.standard_normal(a.shape).astype(dtype)
    ao, bo = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    yo, yt = getattr(tg, name)(ao, bo), getattr(torch, name)(at, bt)
    # (the sign of fmax(0, -0) is unspecified; torch's logaddexp2(-1, -1) is -5e-17, not 0)
    _assert_same(yo, yt, _rtol(dtype), atol=1e-7 if dtype == np.float32 else 1e-16,
                 signed_zeros=name not in ("fmax", "fmin"))
    yo.backward(tg.tensor(g).to(yo.dtype))
    yt.backward(torch.tensor(g).to(yt.dtype))
    tol = 2e-5 if dtype == np.float32 else 1e-11
    _assert_same(ao.grad, at.grad, tol, atol=1e-30, signed_zeros=False)
    _assert_same(bo.grad, bt.grad, tol, atol=1e-30, signed_zeros=False)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck_broadcast_and_second_derivative(name):
    low, high = BINARY[name]
    rng = np.random.default_rng(2)
    a, b = rng.uniform(low, high, (3, 4)), rng.uniform(low, high, (4,))
    if name in ("fmax", "fmin", "copysign"):     # keep the points away from the kinks
        b = np.where(np.abs(a - b) < 0.1, b + 0.3, b) if name != "copysign" else b
        a = np.where(np.abs(a) < 0.1, 0.5, a)
    fn = getattr(tg, name)
    assert gradcheck(fn, [tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)])
    ao, bo = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    go = tg.autograd.grad(fn(ao, bo).sum(), [ao, bo], create_graph=True)
    gt = torch.autograd.grad(getattr(torch, name)(at, bt).sum(), [at, bt], create_graph=True)
    if not any(t.requires_grad for t in gt):
        return
    sum((t * t).sum() for t in gt if t.requires_grad).backward()
    if not any(t.requires_grad for t in go):     # constant first derivatives: torch's are too
        for t in (at, bt):
            assert t.grad is None or not t.grad.any()
        return
    sum((t * t).sum() for t in go if t.requires_grad).backward()
    for o, t in ((ao, at), (bo, bt)):
        if t.grad is not None:
            np.testing.assert_allclose(_np(o.grad), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(BINARY)), st.sampled_from(["number", "tensor"]),
       st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.bool_]),
       st.floats(-3, 3) | st.integers(-3, 3), st.booleans())
def test_binary_operand_kinds_and_promotion_match_torch(name, kind, dtype, number, first):
    x = np.array([0.25, 1.5, 2.0, 3.0]).astype(dtype)
    other = number if kind == "number" else np.array(number).astype(
        np.float64 if isinstance(number, float) else np.int64)
    to = tg.tensor(x)
    tt = torch.tensor(x)
    oo = other if kind == "number" else tg.tensor(other)
    ot = other if kind == "number" else torch.tensor(other)
    args_o, args_t = ((to, oo), (tt, ot)) if first else ((oo, to), (ot, tt))
    if kind == "number" and not first:
        args_o, args_t = (to, oo), (tt, ot)
    try:
        expected = getattr(torch, name)(*args_t)
    except TypeError:       # torch's function forms take no number here; ours do
        return
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(tg, name)(*args_o)
        return
    _assert_same(getattr(tg, name)(*args_o), expected, 2e-6, atol=1e-30)


@pytest.mark.parametrize("name", ["tan", "asin", "acosh", "atanh", "sinh", "exp2", "erf",
                                  "erfinv", "logit", "sinc", "deg2rad"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8])
def test_integer_inputs_give_float32_or_torch_error(name, dtype):
    x = np.array([0, 1, 2, 1]).astype(dtype)
    try:
        expected = getattr(torch, name)(torch.tensor(x))
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(tg, name)(tg.tensor(x))
        return
    _assert_same(getattr(tg, name)(tg.tensor(x)), expected, 2e-6)


@pytest.mark.parametrize("name", sorted(set(UNARY) | set(ALIASES)))
def test_method_and_in_place_forms(name):
    low, high = UNARY.get(name) or (UNARY.get(ALIASES[name]) or BINARY[ALIASES[name]])
    x = np.random.default_rng(3).uniform(low, high, 5)
    binary = ALIASES.get(name) in BINARY
    args = (tg.tensor(x[::-1].copy()),) if binary else ()
    expected = getattr(tg, name)(tg.tensor(x), *args)
    np.testing.assert_array_equal(_np(getattr(tg.tensor(x), name)(*args)), _np(expected))
    # in place on a leaf's clone: the values, and the gradient through the overwritten tensor
    leaf = tg.tensor(x, requires_grad=True)
    y = leaf * 1.0
    out = getattr(y, name + "_")(*args)
    assert out is y
    np.testing.assert_array_equal(_np(y), _np(expected))
    y.sum().backward()
    leaf_t = torch.tensor(x, requires_grad=True)
    torch_name = ALIASES.get(name, name)
    # (torch's in-place asinh/acosh/atanh have no derivative: the out-of-place one's)
    getattr(torch, torch_name)(leaf_t * 1.0, *(torch.tensor(x[::-1].copy()),) if binary
                               else ()).sum().backward()
    np.testing.assert_allclose(_np(leaf.grad), leaf_t.grad.numpy(), rtol=1e-11)
    with pytest.raises(RuntimeError, match="in-place|inplace|leaf"):
        getattr(tg.tensor(x, requires_grad=True), name + "_")(*args)


def test_erfinv_and_ndtri_tails_against_scipy():
    y = np.concatenate([np.linspace(-1, 1, 2001), 1 - np.logspace(-300, -1, 200),
                        -1 + np.logspace(-16, -1, 50)])
    np.testing.assert_allclose(_np(tg.erfinv(tg.tensor(y))), scipy.special.erfinv(y),
                               rtol=2e-15, atol=0)
    p = np.concatenate([np.logspace(-300, -1, 200), np.linspace(0.01, 0.99, 99),
                        1 - np.logspace(-16, -2, 20)])
    np.testing.assert_allclose(_np(tg.special.ndtri(tg.tensor(p))), scipy.special.ndtri(p),
                               rtol=1e-14, atol=0)
    edges = np.array([0.0, 1.0, -0.5, 1.5, np.nan])
    _assert_same(tg.special.ndtri(tg.tensor(edges)), torch.special.ndtri(torch.tensor(edges)), 0)
    _assert_same(tg.erfinv(tg.tensor([-1.0, 1.0, 1.5, -2.0, np.nan, 0.0, -0.0])),
                 torch.erfinv(torch.tensor([-1.0, 1.0, 1.5, -2.0, np.nan, 0.0, -0.0])), 0)


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_namespace_matches_torch(name):
    rng = np.random.default_rng(4)
    if name == "xlog1py":
        a, b = _values(rng, -2, 2), rng.permutation(_values(rng, -0.9, 3))
        args = lambda lib, rg: (lib.tensor(a, requires_grad=rg), lib.tensor(b, requires_grad=rg))
    else:
        x = _values(rng, *SPECIAL[name])
        args = lambda lib, rg: (lib.tensor(x, requires_grad=rg),)
    ao, at = args(tg, True), args(torch, True)
    yo, yt = getattr(tg.special, name)(*ao), getattr(torch.special, name)(*at)
    if name == "ndtr":      # torch's is 0 below -26 or so (its 1 + erf(x / sqrt 2)); SciPy's:
        np.testing.assert_allclose(_np(yo), scipy.special.ndtr(x), rtol=1e-13, atol=0)
        yt = torch.where(torch.tensor(x) < -20, torch.tensor(scipy.special.ndtr(x)), yt)
    _assert_same(yo, yt, 2e-12, atol=1e-300)
    g = rng.standard_normal(yt.shape)
    yo.backward(tg.tensor(g))
    yt.backward(torch.tensor(g))
    for o, t in zip(ao, at):
        _assert_same(o.grad, t.grad, 1e-10, atol=1e-150, signed_zeros=False)
    interior = [tg.tensor(rng.uniform(0.1, 0.9, 4), requires_grad=True) for _ in ao]
    assert gradcheck(getattr(tg.special, name), interior)


def test_special_reexports_are_the_framework_functions():
    x = tg.tensor([[0.5, -1.0, 2.0]])
    for name in ("erf", "erfc", "exp2", "expm1", "log1p", "sinc", "logit"):
        np.testing.assert_array_equal(_np(getattr(tg.special, name)(x)),
                                      _np(getattr(tg, name)(x)))
    np.testing.assert_allclose(_np(tg.special.softmax(x, 1)), _np(x.softmax(1)))
    np.testing.assert_allclose(_np(tg.special.log_softmax(x, dim=1, dtype=tg.float64)),
                               torch.special.log_softmax(torch.tensor([[0.5, -1.0, 2.0]]), 1,
                                                         dtype=torch.float64).numpy())
    np.testing.assert_allclose(_np(tg.special.logsumexp(x, 1)),
                               torch.special.logsumexp(torch.tensor([[0.5, -1.0, 2.0]]), 1))
    np.testing.assert_array_equal(_np(tg.special.round(tg.tensor([0.5, 1.25]), decimals=1)),
                                  torch.special.round(torch.tensor([0.5, 1.25]), decimals=1))


LOGICAL = ["logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
           "bitwise_xor", "gcd", "lcm"]


@pytest.mark.parametrize("name", LOGICAL)
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.bool_, np.float32])
def test_logical_bitwise_gcd_match_torch(name, dtype):
    a = np.array([0, 1, 2, 6, 12, 5, 0]).astype(dtype)
    b = np.array([0, 0, 3, 4, 18, 5, 7]).astype(dtype)
    try:
        expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    except RuntimeError:
        with pytest.raises(RuntimeError):
            getattr(tg, name)(tg.tensor(a), tg.tensor(b))
        return
    _assert_same(getattr(tg, name)(tg.tensor(a), tg.tensor(b)), expected, 0)
    got = getattr(tg.tensor(a), name + "_")(tg.tensor(b))
    _assert_same(got, getattr(torch.tensor(a), name + "_")(torch.tensor(b)), 0)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float32])
def test_unary_tests_and_sign_functions_match_torch(dtype):
    x = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan]) if dtype == np.float32 \
        else np.array([0, 1, 2, 0, 3])
    x = x.astype(dtype)
    for name in ("isinf", "isposinf", "isneginf", "isreal", "signbit", "sgn", "sign",
                 "negative", "positive", "logical_not", "bitwise_not", "nan_to_num"):
        try:
            expected = getattr(torch, name)(torch.tensor(x))
        except (RuntimeError, TypeError):
            with pytest.raises(RuntimeError):
                getattr(tg, name)(tg.tensor(x))
            continue
        _assert_same(getattr(tg, name)(tg.tensor(x)), expected, 0)


def test_nan_to_num_arguments_and_heaviside():
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -0.0], dtype=np.float32)
    for kwargs in ({}, {"nan": 2.0}, {"posinf": 9.0, "neginf": -9.0}, {"nan": -1.0, "posinf": 1e38}):
        _assert_same(tg.nan_to_num(tg.tensor(x), **kwargs),
                     torch.nan_to_num(torch.tensor(x), **kwargs), 0)
    v = np.array([0.5, 0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    _assert_same(tg.heaviside(tg.tensor(x), tg.tensor(v)),
                 torch.heaviside(torch.tensor(x), torch.tensor(v)), 0)
    with pytest.raises(RuntimeError, match="dtype"):
        tg.heaviside(tg.tensor(x), tg.tensor(v.astype(np.float64)))


def test_float_power_dtype_and_in_place_rule():
    x = np.array([0.5, 2.0, 3.0], dtype=np.float32)
    _assert_same(tg.float_power(tg.tensor(x), 2), torch.float_power(torch.tensor(x), 2), 1e-15)
    _assert_same(tg.float_power(2, tg.tensor(x)), torch.float_power(2, torch.tensor(x)), 1e-15)
    with pytest.raises(RuntimeError, match="Double"):
        tg.tensor(x).float_power_(2)
    y = tg.tensor(x.astype(np.float64))
    y.float_power_(tg.tensor([2.0, 0.5, 1.0], dtype=tg.float64))
    np.testing.assert_allclose(_np(y), [0.25, 2 ** 0.5, 3.0])


def test_deg2rad_refuses_integers_and_logit_eps_gradient():
    for fn in ("deg2rad", "rad2deg"):
        try:
            getattr(torch, fn)(torch.tensor([1, 2]))
            torch_raises = False
        except RuntimeError:
            torch_raises = True
        if torch_raises:
            with pytest.raises(RuntimeError):
                getattr(tg, fn)(tg.tensor([1, 2]))
    p = np.array([0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0])
    po, pt = tg.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    yo, yt = tg.logit(po, eps=0.1), torch.logit(pt, eps=0.1)
    _assert_same(yo, yt, 1e-14)
    yo.sum().backward()
    yt.sum().backward()
    _assert_same(po.grad, pt.grad, 1e-12, signed_zeros=False)


# ---- lgamma, digamma, polygamma, mvlgamma ------------------------------------------------------
def _gamma_points():
    rng = np.random.default_rng(5)
    return np.concatenate([rng.uniform(-30, 30, 400), rng.uniform(0, 3, 200),
                           np.logspace(-300, 300, 40), -rng.uniform(0, 1e5, 40) - 0.3,
                           [0.5, -0.5, 1.5, 2.5, 171.5, 1e-20, -1e-20, 1e-300]])


@pytest.mark.parametrize("order", [-1, 0, 1, 2, 3, 6])
def test_log_gamma_family_against_scipy(order):
    """Away from the poles: lgamma within 1e-12 relative (5e-15 absolute near its zeros at 1
    and 2), psi^(n) within 1e-12 relative for n < 3, 1e-11 above (4e-15 absolute near psi's
    zero)."""
    x = _gamma_points()
    if order == -1:
        ours, ref, atol = _np(tg.lgamma(tg.tensor(x))), scipy.special.gammaln(x), 5e-15
    else:
        ours = _np(tg.polygamma(order, tg.tensor(x)))
        ref, atol = scipy.special.polygamma(order, x), 4e-15
    finite = np.isfinite(ref)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-12 if order < 3 else 1e-11,
                               atol=atol)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "polygamma1", "polygamma2", "polygamma3"])
def test_log_gamma_family_edges_and_dtypes_match_torch(name):
    x = np.array([0.0, -0.0, -1.0, -2.0, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-320, -4.5, 3.25])
    fn_o = (lambda t: tg.polygamma(int(name[-1]), t)) if name[-1].isdigit() else getattr(tg, name)
    fn_t = (lambda t: torch.polygamma(int(name[-1]), t)) if name[-1].isdigit() else \
        getattr(torch, name)
    ours, theirs = _np(fn_o(tg.tensor(x))), fn_t(torch.tensor(x)).numpy()
    # torch's polygamma(1, x) at the negative integers is a large finite number and
    # polygamma(n >= 2, +-inf) NaN or inf (artifacts of its zeta): the limits here
    if name.startswith("polygamma"):
        skip = np.isin(x, [-1.0, -2.0, np.inf, -np.inf])
        ours, theirs = ours[~skip], theirs[~skip]
        n = int(name[-1])
        np.testing.assert_array_equal(_np(fn_o(tg.tensor([-1.0, np.inf]))),
                                      [np.inf if n % 2 else -np.inf, 0.0])
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15, equal_nan=True)
    for dtype in (np.float32, np.int64):
        v = np.array([1, 2, 3, 5]).astype(dtype)
        _assert_same(fn_o(tg.tensor(v)), fn_t(torch.tensor(v)), 2e-6, atol=1e-7,
                     signed_zeros=False)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "polygamma"])
def test_log_gamma_family_derivatives_match_torch(name):
    x = np.array([0.3, 1.7, 4.5, 12.0, -2.5, -0.7, 25.0])
    fo = (lambda t: tg.polygamma(2, t)) if name == "polygamma" else getattr(tg, name)
    ft = (lambda t: torch.polygamma(2, t)) if name == "polygamma" else getattr(torch, name)
    assert gradcheck(fo, [tg.tensor(x, requires_grad=True)])
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go,) = tg.autograd.grad(fo(xo).sum(), [xo], create_graph=True)
    (gt,) = torch.autograd.grad(ft(xt).sum(), [xt], create_graph=True)
    np.testing.assert_allclose(_np(go), _np(gt), rtol=1e-9)
    (go * go).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(_np(xo.grad), xt.grad.numpy(), rtol=1e-9)


def test_mvlgamma_and_special_names_match_torch():
    x = np.array([[2.5, 3.0], [7.25, 1.6]])
    for p in (1, 2, 3):
        xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = tg.mvlgamma(xo, p), torch.mvlgamma(xt, p)
        _assert_same(yo, yt, 1e-12)
        yo.sum().backward()
        yt.sum().backward()
        _assert_same(xo.grad, xt.grad, 1e-11, signed_zeros=False)
        _assert_same(tg.special.multigammaln(tg.tensor(x), p),
                     torch.special.multigammaln(torch.tensor(x), p), 1e-12)
    with pytest.raises(RuntimeError, match="greater than"):
        tg.mvlgamma(tg.tensor([0.9]), 3)
    with pytest.raises(RuntimeError):
        tg.polygamma(-1, tg.tensor([1.0]))
    v = np.array([0.5, 1.5, 4.0])
    for name in ("gammaln", "digamma", "psi"):
        _assert_same(getattr(tg.special, name)(tg.tensor(v)),
                     getattr(torch.special, name)(torch.tensor(v)), 1e-12, atol=1e-15)
    _assert_same(tg.special.polygamma(2, tg.tensor(v)), torch.special.polygamma(2, torch.tensor(v)),
                 1e-12)
    y = tg.tensor(v)
    assert y.lgamma_() is y
    np.testing.assert_allclose(_np(y), scipy.special.gammaln(v), atol=1e-15)
    np.testing.assert_allclose(_np(tg.tensor(v).polygamma_(1)), scipy.special.polygamma(1, v))


def test_ldexp_and_frexp_match_torch():
    x = np.array([0.0, -0.0, 1.0, -3.5, 1e-310, 6e4, np.inf, -np.inf, np.nan, 0.3])
    e = np.array([1, -2, 0, 3, 10, -5, 1, 2, 0, 1030])
    for dtype in (np.float32, np.float64):
        xo, xt = tg.tensor(x.astype(dtype), requires_grad=True), \
            torch.tensor(x.astype(dtype), requires_grad=True)
        mo, eo = tg.frexp(xo)
        mt, et = torch.frexp(xt)
        _assert_same(mo, mt, 0)
        _assert_same(eo, et, 0)
        mo.sum().backward()
        mt.sum().backward()
        _assert_same(xo.grad, xt.grad, 0, signed_zeros=False)
        assert xo.frexp().exponent.dtype == tg.int32
        with tg.no_grad():
            _assert_same(tg.tensor(x.astype(dtype)).frexp().mantissa, mt, 0)
    for dtype in (np.float32, np.float64, np.int64):
        xo, xt = tg.tensor(x.astype(dtype) if dtype != np.int64 else e), \
            torch.tensor(x.astype(dtype) if dtype != np.int64 else e)
        _assert_same(tg.ldexp(xo, tg.tensor(e)), torch.ldexp(xt, torch.tensor(e)), 1e-6,
                     signed_zeros=dtype != np.int64)
    with pytest.raises(RuntimeError, match="floating"):
        tg.frexp(tg.tensor([1, 2]))
