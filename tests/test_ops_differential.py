"""Tensor-level ops against torch (the oracle): values, dtypes, shapes, errors and gradients at
the edges (0-d and empty tensors, mixed dtypes, ties and bounds, negative and tuple dims)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype in ("uint8", "int32", "int64"):
        return rng.integers(1, 5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _pair(array, requires_grad=False):
    """The same data as a torch tensor and a tinygrad_cv tensor."""
    t = torch.tensor(array, requires_grad=requires_grad)
    o = tg.tensor(array, requires_grad=requires_grad)
    return t, o


def _same(ours, theirs, tol=1e-6):
    """Equal dtype, shape and values (NaN where torch has NaN)."""
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol,
                               atol=tol)


# ---- type promotion ---------------------------------------------------------------------------
_BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
           "eq": lambda a, b: a == b, "lt": lambda a, b: a < b,
           "and": lambda a, b: a & b, "xor": lambda a, b: a ^ b}


@settings(max_examples=80, deadline=None)
@given(d1=st.sampled_from(DTYPES), d2=st.sampled_from(DTYPES),
       zero_dim=st.sampled_from(["neither", "left", "right", "both"]),
       op=st.sampled_from(sorted(_BINARY)))
def test_binary_promotion_with_0d_tensors(d1, d2, zero_dim, op):
    """torch: a 0-d tensor does not widen a dimensioned one of its category (float32 + 0-d
    float64 -> float32, uint8 + 0-d int64 -> uint8); comparisons compare in that dtype."""
    if op in ("and", "xor") and "float" in d1 + d2:
        return
    a = _array(d1, () if zero_dim in ("left", "both") else (4,), seed=1)
    b = _array(d2, () if zero_dim in ("right", "both") else (4,), seed=1)
    (ta, oa), (tb, ob) = _pair(a), _pair(b)
    fn = _BINARY[op]
    _same(fn(oa, ob), fn(ta, tb))


def test_comparison_in_the_float_dtype_of_the_tensor():
    """float32 tensor vs float64 0-d tensor of the same number: torch compares in float32."""
    a = np.array([0.1, 0.2], np.float32)
    (ta, oa), (tb, ob) = _pair(a), _pair(np.array(0.1))
    _same(oa == ob, ta == tb)
    _same(ob > oa, tb > ta)
    big = np.array([16777217])     # an int64 not representable in float32
    (ti, oi), (tf, of) = _pair(big), _pair(np.array([16777216.0], np.float32))
    _same(oi == of, ti == tf)


@pytest.mark.parametrize("op", ["__and__", "__or__", "__xor__"])
@pytest.mark.parametrize("dtype", ["bool", "int32", "int64"])
def test_bitwise_ops_with_a_python_scalar_on_the_left(op, dtype):
    t, o = _pair(_array(dtype, (5,)))
    scalar = True if dtype == "bool" else 6
    reflected = op.replace("__", "__r", 1)
    _same(getattr(o, reflected)(scalar), getattr(t, reflected)(scalar))
    _same(eval(f"scalar {dict(__and__='&', __or__='|', __xor__='^')[op]} o"),
          eval(f"scalar {dict(__and__='&', __or__='|', __xor__='^')[op]} t"))


def test_0d_float64_operand_keeps_float32_gradients():
    """The 0-d operand is cast (differentiably): its gradient comes back in its own dtype."""
    x_t, x_o = _pair(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    s_t, s_o = _pair(np.array(0.5), requires_grad=True)
    out_o, out_t = (x_o * s_o).sum(), (x_t * s_t).sum()
    _same(out_o, out_t)
    out_o.backward()
    out_t.backward()
    _same(x_o.grad, x_t.grad)
    _same(s_o.grad, s_t.grad)


# ---- clamp ------------------------------------------------------------------------------------
_GRID = st.lists(st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]), min_size=6, max_size=6)


def _backward_both(out_o, out_t, weights):
    """Backpropagate the output gradient ``weights`` through both graphs."""
    out_o.backward(tg.tensor(weights))
    out_t.backward(torch.tensor(weights))


@settings(max_examples=60, deadline=None)
@given(x=_GRID, lo=_GRID, hi=_GRID, form=st.sampled_from(["both", "min", "max", "0d", "bcast"]))
def test_clamp_with_tensor_bounds_values_and_subgradients(x, lo, hi, form):
    """Ties at the bounds give the whole gradient to x (none to the bound); lo > hi gives hi;
    0-d tensor bounds receive their gradient."""
    x = np.array(x, np.float32)
    lo, hi = np.array(lo, np.float32), np.array(hi, np.float32)
    if form == "0d":
        lo, hi = lo[:1].reshape(()), hi[:1].reshape(())
    if form == "bcast":
        x, lo, hi = x.reshape(2, 3), lo[:3], hi[:2].reshape(2, 1)
    (xt, xo), (lt, lo_), (ht, ho) = (_pair(v, requires_grad=True) for v in (x, lo, hi))
    kw_t = {"min": None if form == "max" else lt, "max": None if form == "min" else ht}
    kw_o = {"min": None if form == "max" else lo_, "max": None if form == "min" else ho}
    out_t, out_o = xt.clamp(**kw_t), xo.clamp(**kw_o)
    _same(out_o, out_t)
    weights = np.arange(1, out_t.numel() + 1, dtype=np.float32).reshape(out_t.shape)
    _backward_both(out_o, out_t, weights)
    for ours, theirs in ((xo, xt), (lo_, lt), (ho, ht)):
        if theirs.grad is None:
            assert ours.grad is None
        else:
            _same(ours.grad, theirs.grad)


def test_clamp_of_an_integer_tensor_with_float_bounds_is_float32():
    t, o = _pair(np.arange(-3, 4))
    _same(o.clamp(-0.5, 1.5), t.clamp(-0.5, 1.5))
    _same(o.clamp(min=0.5), t.clamp(min=0.5))
    _same(o.clamp(0, 2), t.clamp(0, 2))
    _same(tg.clamp(o, max=tg.tensor(1.5)), torch.clamp(t, max=torch.tensor(1.5)))


def test_clamp_with_tensor_bounds_second_order():
    """The backward is itself differentiable (gradcheck of the gradient in float64)."""
    from tinygrad_cv.testing import gradcheck
    x = tg.tensor([-1.5, -0.3, 0.2, 0.9, 2.0], dtype="float64", requires_grad=True)
    lo = tg.tensor([-1.0, 0.0, -0.5, 0.5, 0.0], dtype="float64", requires_grad=True)
    hi = tg.tensor([1.0, 1.0, 0.1, 1.5, 1.0], dtype="float64", requires_grad=True)
    gradcheck(lambda a, b, c: (a.clamp(b, c) ** 2).sum(), [x, lo, hi])
    (gx,) = tg.autograd.grad((x.clamp(lo, hi) ** 2).sum(), x, create_graph=True)
    gx.sum().backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((xt.clamp(torch.tensor(lo.detach().numpy()),
                                          torch.tensor(hi.detach().numpy())) ** 2).sum(), xt,
                                create_graph=True)
    gt.sum().backward()
    _same(gx, gt)
    _same(x.grad, xt.grad)


# ---- where ------------------------------------------------------------------------------------
_OPERANDS = {"int": 2, "float": 0.5, "bool": True,
             "i64": np.array([1, 2, 3]), "f32": np.array([0.5, 1.5, 2.5], np.float32),
             "f64 0-d": np.array(1.25), "b": np.array([True, False, True])}


@pytest.mark.parametrize("left", sorted(_OPERANDS))
@pytest.mark.parametrize("right", sorted(_OPERANDS))
def test_where_promotes_like_torch(left, right):
    """Python numbers are weak (where(c, 2, float32) is float32, not float64); tensors
    promote as in arithmetic."""
    a, b = _OPERANDS[left], _OPERANDS[right]
    if left in ("int", "float", "bool") and right in ("int", "float", "bool"):
        return    # torch.where(c, scalar, scalar) is a different overload
    cond = np.array([True, False, True])
    conv_t = lambda v: torch.tensor(v) if isinstance(v, np.ndarray) else v  # noqa: E731
    conv_o = lambda v: tg.tensor(v) if isinstance(v, np.ndarray) else v    # noqa: E731
    _same(tg.where(tg.tensor(cond), conv_o(a), conv_o(b)),
          torch.where(torch.tensor(cond), conv_t(a), conv_t(b)))


def test_where_gradients_and_the_one_argument_form():
    c = np.array([[True, False, True]])
    (xt, xo), (yt, yo) = (_pair(np.array(v, np.float32).reshape(2, 1) + np.zeros((2, 3),
                          np.float32), requires_grad=True) for v in ([1, 2], [3, 4]))
    out_t, out_o = torch.where(torch.tensor(c), xt, 2), tg.where(tg.tensor(c), xo, 2)
    _same(out_o, out_t)
    _backward_both(out_o, out_t, np.arange(6, dtype=np.float32).reshape(2, 3))
    _same(xo.grad, xt.grad)
    for ours, theirs in zip(tg.where(tg.tensor(c)), torch.where(torch.tensor(c))):
        _same(ours, theirs)


# ---- division with rounding -------------------------------------------------------------------
_NUMERATORS = [-7.0, -6.0, -1.0, -0.0, 0.0, 1.0, 0.3, 6.0, 7.0, float("inf")]
_DENOMINATORS = [2.0, -2.0, 0.1, -0.1, 3.0, -0.7, float("inf"), float("-inf")]


@settings(max_examples=60, deadline=None)
@given(a=st.lists(st.sampled_from(_NUMERATORS), min_size=4, max_size=4),
       b=st.lists(st.sampled_from(_DENOMINATORS), min_size=4, max_size=4),
       dtype=st.sampled_from(["float32", "float64"]), mode=st.sampled_from(["floor", "trunc"]))
def test_div_rounding_modes_on_floats(a, b, dtype, mode):
    """floor is exact floor division (1 // 0.1 is 9, -5 // inf is -1), not floor(a / b); the
    gradient is zero for both operands."""
    (at, ao), (bt, bo) = (_pair(np.array(v, dtype), requires_grad=True) for v in (a, b))
    out_t, out_o = at.div(bt, rounding_mode=mode), ao.div(bo, rounding_mode=mode)
    _same(out_o, out_t)
    _same(tg.div(ao, 0.1, rounding_mode=mode), torch.div(at, 0.1, rounding_mode=mode))
    _backward_both(out_o, out_t, np.ones(4, np.float32))
    _same(ao.grad, at.grad)
    _same(bo.grad, bt.grad)


@pytest.mark.parametrize("mode", ["floor", "trunc"])
@pytest.mark.parametrize("dtypes", [("int64", "int64"), ("int32", "int64"), ("int32", "int32"),
                                    ("uint8", "int64 0-d"), ("int64", "float32")])
def test_div_rounding_modes_on_integers(mode, dtypes):
    a = np.array([-7, -6, -1, 0, 1, 6, 7]).astype(dtypes[0])
    if dtypes[0] == "uint8":
        a = np.abs(a).astype("uint8")
    b = np.array(3) if "0-d" in dtypes[1] else np.array([2, -2, 3, -3, 2, -4, -2]).astype(
        dtypes[1])
    (at, ao), (bt, bo) = _pair(a), _pair(b)
    _same(ao.div(bo, rounding_mode=mode), at.div(bt, rounding_mode=mode))
    scalar = 2 if dtypes[0] == "uint8" else -2
    _same(ao.div(scalar, rounding_mode=mode), at.div(scalar, rounding_mode=mode))


def test_integer_division_by_zero_raises_like_torch():
    a, z = tg.tensor([1, -1]), tg.tensor([0, 1])
    for mode in ("floor", "trunc"):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            a.div(z, rounding_mode=mode)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            a.div(0, rounding_mode=mode)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            torch.tensor([1, -1]).div(0, rounding_mode=mode)


# ---- setitem ----------------------------------------------------------------------------------
@pytest.mark.parametrize("index", [[0, 0, 2], [1, 1, 1], [2, 0, 2, 0]])
def test_setitem_with_repeated_indices_on_the_graph_writes_once(index):
    """x[idx] = v with v requiring grad: a repeated index holds v (it was v summed over the
    repeats); v's gradient gathers the output gradient at every repeat, as torch."""
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    (xt, xo), (vt, vo) = _pair(base, requires_grad=True), _pair(
        np.array([0.5, -1.0, 2.0, 3.0], np.float32), requires_grad=True)
    yt, yo = xt * 1.0, xo * 1.0
    yt[torch.tensor(index)] = vt
    yo[tg.tensor(index)] = vo
    _same(yo, yt)
    _backward_both(yo, yt, np.arange(1, 13, dtype=np.float32).reshape(3, 4))
    _same(xo.grad, xt.grad)
    _same(vo.grad, vt.grad)


# ---- indexing ---------------------------------------------------------------------------------
_INDEX_KINDS = ["int", "neg", "slice", "none", "ellipsis", "array", "array2d", "mask", "int0d"]


def _index(kinds, shape, lib):
    """An index tuple of ``kinds`` for an array of ``shape`` in ``lib`` (None when the kinds
    take more dims than there are)."""
    out, dim = [], 0
    for k in kinds:
        if k == "none":
            out.append(None)
            continue
        if k == "ellipsis":
            out.append(Ellipsis)
            dim = len(shape) - sum(1 for j in kinds[kinds.index(k) + 1:] if j != "none")
            continue
        if dim >= len(shape):
            return None
        n = shape[dim]
        out.append({"int": 1 % n, "neg": -1, "slice": slice(1, None, 2),
                    "array": lib.tensor([0, n - 1, 0]), "array2d": lib.tensor([[0], [n - 1]]),
                    "mask": lib.tensor([i % 2 == 0 for i in range(n)]),
                    "int0d": lib.tensor(n - 1)}[k])
        dim += 1
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(st.sampled_from(_INDEX_KINDS), min_size=1, max_size=4).filter(
    lambda ks: ks.count("ellipsis") <= 1))
def test_getitem_and_setitem_layout_matches_torch(kinds):
    """Integers select first (torch), so x[1, :, idx] has idx's dims where idx stood; the
    same positions are written by x[1, :, idx] = v, and the gradient scatters back there."""
    x = np.arange(3 * 4 * 5 * 2, dtype=np.float32).reshape(3, 4, 5, 2)
    it, io = _index(kinds, x.shape, torch), _index(kinds, x.shape, tg)
    if it is None:
        return
    xt, xo = _pair(x, requires_grad=True)
    try:
        out_t = xt[it]
    except IndexError:
        with pytest.raises(IndexError):
            xo[io]
        return
    out_o = xo[io]
    _same(out_o, out_t)
    weights = np.arange(out_t.numel(), dtype=np.float32).reshape(out_t.shape)
    _backward_both(out_o, out_t, weights)
    _same(xo.grad, xt.grad)
    at, ao = torch.tensor(x), tg.tensor(x)
    at[it] = torch.tensor(weights + 1000)
    ao[io] = tg.tensor(weights + 1000)
    _same(ao, at)


def test_empty_list_index_selects_nothing():
    xt, xo = _pair(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    _same(xo[[]], xt[[]])
    _same(xo[:, []], xt[:, []])


# ---- cat and stack ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtypes", [("int64", "float32"), ("float32", "int64", "float64"),
                                    ("bool", "float32"), ("int32", "int64"), ("uint8", "bool")])
def test_cat_promotes_dtypes_like_torch(dtypes):
    arrays = [_array(d, (2, 3), seed=i) for i, d in enumerate(dtypes)]
    _same(tg.cat([tg.tensor(a) for a in arrays], dim=1),
          torch.cat([torch.tensor(a) for a in arrays], dim=1))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_skips_1d_empty_tensors_and_gives_them_an_empty_gradient(dim):
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    (xt, xo), (et, eo) = _pair(x, requires_grad=True), _pair(np.zeros(0, np.float32),
                                                             requires_grad=True)
    out_t, out_o = torch.cat([et, xt, et], dim=dim), tg.cat([eo, xo, eo], dim=dim)
    _same(out_o, out_t)
    _backward_both(out_o, out_t, np.ones(out_t.shape, np.float32))
    _same(xo.grad, xt.grad)
    _same(eo.grad, et.grad)
    _same(tg.cat([tg.tensor([]), tg.tensor([])]), torch.cat([torch.tensor([]),
                                                             torch.tensor([])]))
    _same(tg.cat([tg.tensor([]), tg.tensor([1, 2])]), torch.cat([torch.tensor([]),
                                                                 torch.tensor([1, 2])]))


# ---- reductions -------------------------------------------------------------------------------
_REDUCTIONS = {
    "sum": lambda x, **k: x.sum(**k), "mean": lambda x, **k: x.mean(**k),
    "var": lambda x, **k: x.var(correction=0, **k), "amax": lambda x, **k: x.amax(**k),
    "amin": lambda x, **k: x.amin(**k), "logsumexp": lambda x, **k: x.logsumexp(**k),
    "max": lambda x, **k: x.max(**k)[0], "argmin": lambda x, **k: x.argmin(**k),
    "softmax": lambda x, dim, keepdim: x.softmax(dim),
    "log_softmax": lambda x, dim, keepdim: x.log_softmax(dim),
    "norm": lambda x, dim, keepdim: x.norm(2, dim=dim, keepdim=keepdim),
}


@pytest.mark.parametrize("name", sorted(_REDUCTIONS))
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_of_a_0d_tensor_accept_dim_0_and_minus_1(name, dim, keepdim):
    xt, xo = _pair(np.array(1.5, np.float32), requires_grad=True)
    out_t = _REDUCTIONS[name](xt, dim=dim, keepdim=keepdim)
    out_o = _REDUCTIONS[name](xo, dim=dim, keepdim=keepdim)
    _same(out_o, out_t)
    if out_t.requires_grad:
        _backward_both(out_o, out_t, np.array(2.0, np.float32))
        _same(xo.grad, xt.grad)


@pytest.mark.parametrize("name", ["amax", "amin", "logsumexp", "sum", "softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((0, 3), 1), ((0, 3), -1), ((2, 0), 0), ((0, 3), 0),
                                        ((2, 0), 1), ((2, 0), (0, 1))])
def test_reductions_of_empty_tensors_match_torch(name, shape, dim):
    """An empty result where only the kept dims are empty; logsumexp of nothing is -inf;
    amax/amin over an empty dim raise (as torch)."""
    if name in ("softmax", "log_softmax") and isinstance(dim, tuple):
        return
    xt, xo = _pair(np.zeros(shape, np.float32))
    try:
        out_t = _REDUCTIONS[name](xt, dim=dim, keepdim=False)
    except (RuntimeError, IndexError):
        with pytest.raises(RuntimeError):
            _REDUCTIONS[name](xo, dim=dim, keepdim=False)
        return
    _same(_REDUCTIONS[name](xo, dim=dim, keepdim=False), out_t)


def test_logsumexp_of_integer_and_bool_tensors_is_float32():
    for a in (np.array([[1, 2], [3, 4]]), np.array([[True, False], [True, True]])):
        t, o = _pair(a)
        _same(o.logsumexp(dim=1), t.logsumexp(dim=1))


def test_argmax_with_a_tuple_of_dims_raises_instead_of_using_the_first():
    with pytest.raises(TypeError, match="must be int"):
        tg.zeros(2, 3).argmax(dim=(0, 1))
    with pytest.raises(TypeError):
        torch.zeros(2, 3).argmax(dim=(0, 1))


# ---- shape ops --------------------------------------------------------------------------------
_SHAPE_CALLS = [
    ("unsqueeze", lambda L, x: x.unsqueeze(4)), ("unsqueeze", lambda L, x: x.unsqueeze(-5)),
    ("unsqueeze", lambda L, x: x.unsqueeze(-4)), ("unsqueeze", lambda L, x: x.unsqueeze(3)),
    ("transpose", lambda L, x: x.transpose(3, 0)),
    ("transpose", lambda L, x: x.transpose(-1, -3)),
    ("transpose 1-d", lambda L, x: x[0, 0].transpose(0, 1)),
    ("flatten", lambda L, x: x.flatten(2, 1)), ("flatten", lambda L, x: x.flatten(0, 5)),
    ("flatten", lambda L, x: x.flatten(-2, -1)),
    ("flatten 0-d", lambda L, x: x[0, 0, 0].flatten(0, -1)),
    ("expand", lambda L, x: x.expand(-1, 2, 3, 4)),
    ("expand", lambda L, x: x.expand(5, -1, -1, -1)),
    ("stack", lambda L, x: L.stack([x, x], 4)), ("stack", lambda L, x: L.stack([x, x], -4)),
    ("stack", lambda L, x: L.stack([x, x], 3)), ("cat", lambda L, x: L.cat([x, x], 3)),
    ("cat", lambda L, x: L.cat([x, x], -3)),
    ("permute", lambda L, x: x.permute(0, 1, -4)), ("permute", lambda L, x: x.permute(2, 0, -2)),
    ("transpose_", lambda L, x: x.clone().transpose_(0, 3)),
    ("transpose_", lambda L, x: x.clone().transpose_(0, -1)),
    ("index_fill_", lambda L, x: x.clone().index_fill_(3, L.tensor([0]), 1.0)),
    ("index_fill_", lambda L, x: x.clone().index_fill_(-1, L.tensor([0]), 1.0)),
    ("scatter_", lambda L, x: x.clone().scatter_(3, L.tensor([[[0]]]), 1.0)),
    ("scatter_", lambda L, x: x.clone().scatter_(-1, L.tensor([[[0]]]), 1.0)),
]


@pytest.mark.parametrize("call", _SHAPE_CALLS, ids=[name for name, _ in _SHAPE_CALLS])
def test_shape_ops_check_dims_like_torch(call):
    """Out-of-range dims raise (they wrapped around), flatten's start after end raises,
    -1 in a new leading dim of expand raises (it took a size from the wrong dim)."""
    xt, xo = _pair(np.arange(24.0, dtype=np.float32).reshape(2, 3, 4))
    try:
        out_t = call[1](torch, xt)
    except (IndexError, RuntimeError) as e:
        with pytest.raises(type(e)):
            call[1](tg, xo)
        return
    _same(call[1](tg, xo), out_t)


@pytest.mark.parametrize("shape, dim", [((0, 3), 0), ((3, 0), 1), ((3, 0), -1)])
def test_split_and_chunk_of_an_empty_dim(shape, dim):
    xt, xo = _pair(np.zeros(shape, np.float32))
    for op in (lambda x: x.split(2, dim), lambda x: x.chunk(3, dim),
               lambda x: x.split([0, 0], dim)):
        pieces_t, pieces_o = op(xt), op(xo)
        assert len(pieces_o) == len(pieces_t)
        for o, t in zip(pieces_o, pieces_t):
            _same(o, t)
    with pytest.raises(RuntimeError, match="chunks"):
        xo.chunk(0, dim)


# ---- //, %, fmod -------------------------------------------------------------------------------
_REMAINDERS = {"//": lambda a, b: a // b, "%": lambda a, b: a % b,
               "fmod": lambda a, b: a.fmod(b), "remainder": lambda a, b: a.remainder(b)}


@settings(max_examples=60, deadline=None)
@given(a=st.lists(st.sampled_from(_NUMERATORS[:-1] + [-7.5, 7.25]), min_size=4, max_size=4),
       b=st.lists(st.sampled_from(_DENOMINATORS), min_size=4, max_size=4),
       dtype=st.sampled_from(["float32", "float64", "int64"]), op=st.sampled_from(
           sorted(_REMAINDERS)), scalar=st.sampled_from([None, 2, -3, 0.5]))
def test_floor_division_and_remainders_match_torch(a, b, dtype, op, scalar):
    """The signs of Python's // and % (torch's), C's fmod; gradients 1 and -q."""
    fn = _REMAINDERS[op]
    a = np.array(a, dtype)
    if dtype == "int64":
        b = np.array([int(v) if np.isfinite(v) and int(v) else 3 for v in b])
    else:
        b = np.array(b, dtype)
    grad = dtype != "int64" and op != "//" and scalar is None
    (at, ao), (bt, bo) = _pair(a, requires_grad=grad), _pair(b, requires_grad=grad)
    if scalar is not None:
        _same(fn(ao, scalar), fn(at, scalar))
        return
    out_t, out_o = fn(at, bt), fn(ao, bo)
    _same(out_o, out_t)
    if grad:
        _backward_both(out_o, out_t, np.arange(1, 5, dtype=dtype))
        _same(ao.grad, at.grad)
        _same(bo.grad, bt.grad)


def test_reflected_and_in_place_floor_division_and_remainder():
    (it, io), (ft, fo) = _pair(np.array([2, -3, 5])), _pair(np.array([0.7, -2.0, 3.0],
                                                                      np.float32))
    for fn in (lambda x: 7 // x, lambda x: -7 % x, lambda x: 7.5 // x, lambda x: 7.5 % x):
        _same(fn(io), fn(it))
        _same(fn(fo), fn(ft))
    for t, o in ((it, io), (ft, fo)):
        t, o = t.clone(), o.clone()
        t //= 2
        o //= 2
        _same(o, t)
        t %= 3
        o %= 3
        _same(o, t)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        io % 0


# ---- prod -------------------------------------------------------------------------------------
_PROD_DATA = {"plain": [[1.5, -2.0, 3.0], [0.5, 2.0, -1.0]], "one zero": [[1.0, 0.0, 3.0],
              [2.0, 2.0, -1.0]], "zeros": [[0.0, 0.0, 3.0], [2.0, 0.0, 0.0]],
              "nan and inf": [[1.0, float("nan"), 3.0], [2.0, 0.0, float("inf")]]}


@pytest.mark.parametrize("data", sorted(_PROD_DATA))
@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}])
def test_prod_values_and_gradients_at_zeros(data, kwargs):
    """The gradient at a zero is the product of the others (not 0/0)."""
    xt, xo = _pair(np.array(_PROD_DATA[data], np.float32), requires_grad=True)
    out_t, out_o = xt.prod(**kwargs), xo.prod(**kwargs)
    _same(out_o, out_t)
    _backward_both(out_o, out_t, np.arange(1, out_t.numel() + 1, dtype=np.float32).reshape(
        out_t.shape))
    _same(xo.grad, xt.grad)


def test_prod_dtypes_and_second_order():
    for a in (np.array([[1, 2], [3, -4]]), np.array([True, False]), np.array([2, 3], np.int32)):
        t, o = _pair(a)
        _same(o.prod(), t.prod())
    _same(tg.tensor([1, 2]).prod(dtype=tg.float64), torch.tensor([1, 2]).prod(
        dtype=torch.float64))
    for data in ([[1.5, -2.0, 3.0], [0.5, 2.0, -1.0]], [[1.0, 0.0, 3.0], [0.0, 0.0, 2.0]]):
        for dim in (None, 1):
            xt, xo = _pair(np.array(data), requires_grad=True)
            pt, po = (xt.prod(), xo.prod()) if dim is None else (xt.prod(dim), xo.prod(dim))
            (gt,) = torch.autograd.grad(pt.sum(), xt, create_graph=True)
            (go,) = tg.autograd.grad(po.sum(), xo, create_graph=True)
            _same(go, gt)
            (gt ** 2).sum().backward()
            (go ** 2).sum().backward()
            _same(xo.grad, xt.grad)


# ---- second order through 0-d results ---------------------------------------------------------
_SCALAR_FNS = {"div": lambda x, y: x / y, "exp": lambda x, y: (x * y).exp(),
               "sqrt": lambda x, y: (x * y).sqrt(), "tanh": lambda x, y: (x * y).tanh(),
               "sigmoid": lambda x, y: (x * y).sigmoid(), "pow": lambda x, y: x ** y,
               "expm1": lambda x, y: (x * y).expm1(), "norm": lambda x, y: (x * y).norm()}


@pytest.mark.parametrize("name", sorted(_SCALAR_FNS))
def test_second_derivatives_of_0d_ops_match_torch(name):
    """NumPy's ufuncs return scalars for 0-d arrays: a saved output must still be the output
    (create_graph differentiates through it)."""
    fn = _SCALAR_FNS[name]
    (xt, xo), (yt, yo) = _pair(np.array(0.7), requires_grad=True), _pair(np.array(1.3),
                                                                         requires_grad=True)
    gt = torch.autograd.grad(fn(xt, yt), (xt, yt), create_graph=True)
    go = tg.autograd.grad(fn(xo, yo), (xo, yo), create_graph=True)
    (gt[0] * gt[1]).backward()
    (go[0] * go[1]).backward()
    _same(xo.grad, xt.grad)
    _same(yo.grad, yt.grad)


def test_all_and_any_keep_uint8():
    for a in (np.array([[1, 2, 0], [3, 250, 1]], np.uint8), np.array([[1.0, 0.0, 2.0]])):
        t, o = _pair(a)
        _same(o.all(), t.all())
        _same(o.any(dim=1), t.any(dim=1))
        _same(o.all(dim=0, keepdim=True), t.all(dim=0, keepdim=True))


@pytest.mark.parametrize("index, shape", [((0,), (1, 4, 5)), ((0,), (1, 1, 5)),
                                          ((slice(None), [0, 2]), (1, 3, 2, 5)),
                                          ((1, slice(None), [0, 4]), (1, 4, 2))])
def test_setitem_on_the_graph_takes_values_with_leading_unit_dims(index, shape):
    """x[0] = v with v of shape (1, 4, 5) (torch drops the leading unit dims; it raised)."""
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    v = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 100
    (xt, xo), (vt, vo) = _pair(x, requires_grad=True), _pair(v, requires_grad=True)
    it = tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)
    io = tuple(tg.tensor(i) if isinstance(i, list) else i for i in index)
    yt, yo = xt * 1.0, xo * 1.0
    yt[it] = vt
    yo[io] = vo
    _same(yo, yt)
    _backward_both(yo, yt, np.arange(60, dtype=np.float32).reshape(3, 4, 5))
    _same(vo.grad, vt.grad)
    _same(xo.grad, xt.grad)


@pytest.mark.parametrize("op", [lambda a, b: a < b, lambda a, b: a == b, lambda a, b: a & b])
def test_comparisons_of_unbroadcastable_shapes_raise_runtime_error(op):
    """As torch (and the arithmetic operators): RuntimeError naming both shapes."""
    with pytest.raises(RuntimeError):
        op(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(2,\)"):
        op(tg.zeros(2, 3, dtype="int64"), tg.zeros(2, dtype="int64"))


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(0.5), np.int64(1)])
def test_numbers_keep_the_tensor_dtype_in_maximum_minimum_and_clamp(scalar):
    """A Python or NumPy number is weak (as in torch's arithmetic): float32 stays float32 (it
    became float64), an integer tensor with a float number becomes float32."""
    for data in (np.array([1.5, -2.0, 3.0], np.float32), np.array([1, 2, 3])):
        t, o = _pair(data)
        expected = (t + float(scalar) if isinstance(scalar, (float, np.floating)) else t).dtype
        for fn in (lambda x: tg.maximum(x, scalar), lambda x: tg.minimum(scalar, x),
                   lambda x: x.clamp(min=scalar), lambda x: x.clamp(max=scalar)):
            assert str(fn(o).dtype) == str(expected).replace("torch.", "")
        _same(o.clamp(min=scalar), t.clamp(min=scalar.item() if hasattr(scalar, "item")
                                           else scalar))


def test_argmax_of_an_empty_dim_raises_index_error_as_torch():
    for lib in (torch, tg):
        with pytest.raises(IndexError):
            lib.zeros(0).argmax()
        with pytest.raises(IndexError):
            lib.zeros(0, 3).argmin(0)
    _same(tg.zeros(0, 3).argmax(1), torch.zeros(0, 3).argmax(1))


# ---- broad nets: binary ops and reductions with broadcasting, ties and gradients --------------
_SHAPES = [(), (1,), (3,), (2, 3), (2, 1), (1, 3), (2, 2, 3), (0, 3)]
_BINARY_GRAD = {
    "add": lambda L, a, b: a + b, "sub": lambda L, a, b: a - b, "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / b, "pow": lambda L, a, b: a.abs() ** b,
    "maximum": lambda L, a, b: L.maximum(a, b), "minimum": lambda L, a, b: L.minimum(a, b),
    "where": lambda L, a, b: L.where(a > b, a, b), "clamp": lambda L, a, b: a.clamp(min=b),
    "rem": lambda L, a, b: a % (b.abs() + 0.5), "fmod": lambda L, a, b: a.fmod(b.abs() + 0.5),
}


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # (README: inf * 0)
@settings(max_examples=80, deadline=None)
@given(op=st.sampled_from(sorted(_BINARY_GRAD)), s1=st.sampled_from(_SHAPES),
       s2=st.sampled_from(_SHAPES), d1=st.sampled_from(["float32", "float64"]),
       d2=st.sampled_from(["float32", "float64"]), ties=st.booleans(), seed=st.integers(0, 99))
def test_binary_ops_broadcast_promote_and_differentiate_as_torch(op, s1, s2, d1, d2, ties, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s).astype(d) for s, d in ((s1, d1), (s2, d2)))
    if ties:
        a, b = np.round(a), np.round(b)
    (at, ao), (bt, bo) = _pair(a, requires_grad=True), _pair(b, requires_grad=True)
    try:
        out_t = _BINARY_GRAD[op](torch, at, bt)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            _BINARY_GRAD[op](tg, ao, bo)
        return
    out_o = _BINARY_GRAD[op](tg, ao, bo)
    _same(out_o, out_t, tol=1e-5)
    _backward_both(out_o, out_t, rng.standard_normal(out_t.shape).astype(str(out_o.dtype)))
    _same(ao.grad, at.grad, tol=1e-5)
    _same(bo.grad, bt.grad, tol=1e-5)


_REDUCE_GRAD = {
    "sum": lambda x, d, k: x.sum(dim=d, keepdim=k), "mean": lambda x, d, k: x.mean(d, k),
    "var": lambda x, d, k: x.var(dim=d, keepdim=k, correction=0),
    "amax": lambda x, d, k: x.amax(dim=d, keepdim=k), "amin": lambda x, d, k: x.amin(d, k),
    "logsumexp": lambda x, d, k: x.logsumexp(dim=d, keepdim=k),
    "norm": lambda x, d, k: x.norm(2, dim=d, keepdim=k),
    "max": lambda x, d, k: x.max(dim=d[0], keepdim=k)[0],
    "min": lambda x, d, k: x.min(dim=d[0], keepdim=k)[0],
    "argmax": lambda x, d, k: x.argmax(dim=d[0], keepdim=k),
    "prod": lambda x, d, k: x.prod(dim=d[0], keepdim=k),
    "softmax": lambda x, d, k: x.softmax(d[0]), "cumsum": lambda x, d, k: x.cumsum(d[0]),
}


@settings(max_examples=80, deadline=None)
@given(op=st.sampled_from(sorted(_REDUCE_GRAD)),
       shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
       dims=st.lists(st.integers(-3, 2), min_size=1, max_size=2, unique=True),
       keepdim=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 99))
def test_reductions_with_ties_match_torch(op, shape, dims, keepdim, dtype, seed):
    """Ties (integer-valued data) share or pick the gradient as torch does."""
    dims = tuple(d for d in dims if -len(shape) <= d < len(shape))
    if not dims or len({d % len(shape) for d in dims}) < len(dims):
        return
    x = np.random.default_rng(seed).integers(-2, 3, size=shape).astype(dtype)
    xt, xo = _pair(x, requires_grad=True)
    out_t, out_o = _REDUCE_GRAD[op](xt, dims, keepdim), _REDUCE_GRAD[op](xo, dims, keepdim)
    _same(out_o, out_t, tol=1e-5)
    if out_t.requires_grad:
        _backward_both(out_o, out_t, np.arange(out_t.numel(), dtype=dtype).reshape(
            out_t.shape))
        _same(xo.grad, xt.grad, tol=1e-5)


# ---- construction -----------------------------------------------------------------------------
@pytest.mark.parametrize("data", [[1, 2.5], [[1], [2.5]], [[1, 2], [3, 4.5]], (1, 2.5),
                                  [True, 2], [[True], [2.5]], [2.5, 1], [0.5, True], [1, 2],
                                  [True, False], [], [[]], [np.int32(1), 2],
                                  [np.float32(1.5), 2.5]])
def test_tensor_from_mixed_lists_takes_the_highest_kind(data):
    """[1, 2.5] is float32 [1.0, 2.5] (it was int64 [1, 2]: the first element decided)."""
    t, o = torch.tensor(data), tg.tensor(data)
    _same(o, t)
    _same(tg.Tensor(data), t)
    _same(tg.tensor([1.5, -2.0]) + data if np.asarray(data).size == 2 else o,
          torch.tensor([1.5, -2.0]) + t if t.numel() == 2 else t)


def test_tensor_from_a_list_of_0d_tensors():
    for values in ([1.5, 2.0], [1, 2]):
        _same(tg.tensor([tg.tensor(v) for v in values]),
              torch.tensor([torch.tensor(v) for v in values]))


@pytest.mark.parametrize("call", [lambda x: x.mean(dim=(0, 0)), lambda x: x.amax(dim=(0, -3)),
                                  lambda x: x.sum(dim=(1, -2)), lambda x: x.flip(0, 0)])
def test_a_repeated_dim_raises_as_torch(call):
    """(it was taken once, silently)"""
    xt, xo = _pair(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(RuntimeError):
        call(xt)
    with pytest.raises(RuntimeError, match="multiple times"):
        call(xo)


# ---- small integer dtypes with Python ints ----------------------------------------------------
_WRAPS = {"add": lambda x, s: x + s, "radd": lambda x, s: s + x, "sub": lambda x, s: x - s,
          "rsub": lambda x, s: s - x, "mul": lambda x, s: x * s, "div": lambda x, s: x / s,
          "rdiv": lambda x, s: s / x, "and": lambda x, s: x & s, "or": lambda x, s: s | x,
          "lt": lambda x, s: x < s, "eq": lambda x, s: x == s, "floor": lambda x, s: x // s}


@pytest.mark.parametrize("name", sorted(_WRAPS))
@pytest.mark.parametrize("dtype, scalar", [("uint8", -1), ("uint8", 300), ("int8", 200),
                                           ("int16", -40000), ("int32", 2 ** 40)])
def test_python_ints_outside_a_small_integer_dtype_wrap_as_torch(name, dtype, scalar):
    """uint8 - 1 is uint8 + 255 in torch (NumPy raises OverflowError); true division
    computes in float32 with the int as it is."""
    t, o = _pair(np.array([1, 4, 2, 9]).astype(dtype))
    fn = _WRAPS[name]
    try:
        expected = fn(t, scalar)
    except RuntimeError:             # (2 ** 40 wraps to 0 in int32: a division by zero)
        with pytest.raises(RuntimeError):
            fn(o, scalar)
        return
    _same(fn(o, scalar), expected)


def test_bool_and_integer_powers_and_squares_as_torch():
    bt, bo = _pair(np.array([True, False, True]))
    _same(bo.square(), bt.square())             # int64 (was bool)
    _same(bo ** 2, bt ** 2)                     # int64 (was int8)
    _same(tg.maximum(bo, 2), torch.maximum(bt, torch.tensor(2)))       # int64 (was bool)
    _same(tg.where(bo, 3, bo), torch.where(bt, 3, bt))
    it, io = _pair(np.array([1, 2, 3]))
    with pytest.raises(RuntimeError, match="negative integer powers"):
        it ** -1
    with pytest.raises(RuntimeError, match="negative integer powers"):
        io ** -1


@pytest.mark.parametrize("op", [lambda x: x.add_(-1), lambda x: x.sub_(1), lambda x: x.mul_(-1),
                                lambda x: x.__iadd__(300), lambda x: x.sub_(1, alpha=3)])
def test_in_place_arithmetic_of_uint8_with_python_ints_wraps(op):
    t, o = _pair(np.array([1, 2, 3], np.uint8))
    _same(op(o), op(t))


@pytest.mark.parametrize("op", [lambda x: x.__setitem__(0, -1) or x, lambda x: x.fill_(-1),
                                lambda x: x.masked_fill(x > 1, -1),
                                lambda x: x.masked_fill_(x > 1, -1),
                                lambda x: x.index_fill_(0, type(x)([1]).long(), -1)])
def test_writing_a_negative_int_into_uint8_wraps(op):
    """(x[0] = -1 and masked_fill(m, -1) raised NumPy's OverflowError)"""
    t, o = _pair(np.array([1, 2, 3], np.uint8))
    _same(op(o), op(t))


def test_comparing_with_none_is_a_python_bool_as_torch():
    """(it was a tensor of False: `if mask == None` raised for more than one element)"""
    for lib in (torch, tg):
        x = lib.tensor([1.0, 2.0])
        assert (x == None) is False      # noqa: E711
        assert (x != None) is True       # noqa: E711
        assert (x == "a") is False
    _same(tg.tensor([1.0, 2.0]).eq(2.0), torch.tensor([1.0, 2.0]).eq(2.0))


@pytest.mark.filterwarnings("ignore:std\\(\\)")      # (torch's degrees-of-freedom warning)
@pytest.mark.parametrize("shape, kwargs", [((1,), {}), ((1, 3), {"dim": 0}),
                                           ((2, 3), {"dim": 1, "correction": 3})])
def test_std_without_degrees_of_freedom_has_nan_gradients_as_torch(shape, kwargs):
    """(the gradient was 0: the norm's convention at 0 hid the 0/0)"""
    xt, xo = _pair(np.arange(1.0, np.prod(shape) + 1, dtype=np.float32).reshape(shape),
                   requires_grad=True)
    out_t, out_o = xt.std(**kwargs), xo.std(**kwargs)
    _same(out_o, out_t)
    _backward_both(out_o, out_t, np.ones(out_t.shape, np.float32))
    _same(xo.grad, xt.grad)


def test_module_level_division_functions_and_prod_match_torch():
    """``tinygrad_cv.floor_divide/remainder/fmod/prod`` as torch's module functions."""
    a = np.array([[7.0, -7.0, 7.5], [-1.0, 0.0, 5.0]], np.float32)
    b = np.array([[2.0, 2.0, -2.0], [0.3, 3.0, -0.5]], np.float32)
    for name in ("floor_divide", "remainder", "fmod"):
        got = getattr(tg, name)(tg.tensor(a), tg.tensor(b)).numpy()
        np.testing.assert_array_equal(got, getattr(torch, name)(torch.tensor(a),
                                                                torch.tensor(b)).numpy())
    assert tg.prod(tg.tensor(a)).item() == torch.prod(torch.tensor(a)).item()
    np.testing.assert_array_equal(tg.prod(tg.tensor(a), 1).numpy(),
                                  torch.prod(torch.tensor(a), 1).numpy())
