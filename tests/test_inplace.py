"""In-place methods with torch's rules, against torch on the same inputs: values, versions,
gradients through rebased tensors, the leaf error, the version-counter error (and the cases
where torch does not raise), views sharing the counter, broadcasting, dtypes, optimizers."""
import operator
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import strategies as tst

# torch warns that add_(alpha, other) is deprecated; the cases use that form on purpose
pytestmark = pytest.mark.filterwarnings("ignore:This overload of:UserWarning")

# name -> (the in-place call on (self, other), whether self must be positive)
CASES = {
    "add_": (lambda t, o: t.add_(o), False),
    "add_alpha": (lambda t, o: t.add_(o, alpha=0.5), False),
    "add_scalar": (lambda t, o: t.add_(2.5), False),
    "sub_": (lambda t, o: t.sub_(o, alpha=2), False),
    "add_alpha_first": (lambda t, o: t.add_(-0.1, o), False),      # torch's deprecated form
    "sub_alpha_first": (lambda t, o: t.sub_(3, o), False),
    "mul_": (lambda t, o: t.mul_(o), False),
    "mul_scalar": (lambda t, o: t.mul_(-1.5), False),
    "div_": (lambda t, o: t.div_(o), False),
    "div_floor": (lambda t, o: t.div_(o, rounding_mode="floor"), False),
    "pow_": (lambda t, o: t.pow_(o), True),
    "pow_scalar": (lambda t, o: t.pow_(3), False),
    "neg_": (lambda t, o: t.neg_(), False),
    "abs_": (lambda t, o: t.abs_(), False),
    "exp_": (lambda t, o: t.exp_(), False),
    "log_": (lambda t, o: t.log_(), True),
    "sqrt_": (lambda t, o: t.sqrt_(), True),
    "sigmoid_": (lambda t, o: t.sigmoid_(), False),
    "tanh_": (lambda t, o: t.tanh_(), False),
    "relu_": (lambda t, o: t.relu_(), False),
    "sin_": (lambda t, o: t.sin_(), False),
    "cos_": (lambda t, o: t.cos_(), False),
    "square_": (lambda t, o: t.square_(), False),
    "reciprocal_": (lambda t, o: t.reciprocal_(), True),
    "rsqrt_": (lambda t, o: t.rsqrt_(), True),
    "log1p_": (lambda t, o: t.log1p_(), True),
    "expm1_": (lambda t, o: t.expm1_(), False),
    "log2_": (lambda t, o: t.log2_(), True),
    "floor_": (lambda t, o: t.floor_(), False),
    "ceil_": (lambda t, o: t.ceil_(), False),
    "trunc_": (lambda t, o: t.trunc_(), False),
    "round_": (lambda t, o: t.round_(decimals=1), False),
    "frac_": (lambda t, o: t.frac_(), False),
    "sign_": (lambda t, o: t.sign_(), False),
    "clamp_": (lambda t, o: t.clamp_(-0.5, 0.9), False),
    "clip_": (lambda t, o: t.clip_(min=0.1), False),
    "clamp_min_": (lambda t, o: t.clamp_min_(0.2), False),
    "clamp_max_": (lambda t, o: t.clamp_max_(0.3), False),
    "fill_": (lambda t, o: t.fill_(3.0), False),
    "zero_": (lambda t, o: t.zero_(), False),
    "copy_": (lambda t, o: t.copy_(o), False),
    "masked_fill_": (lambda t, o: t.masked_fill_(o > 1.0, -2.0), False),
    "addcmul_": (lambda t, o: t.addcmul_(o, o, value=0.5), False),
    "addcdiv_": (lambda t, o: t.addcdiv_(o, o + 3.0, value=2.0), False),
    "lerp_": (lambda t, o: t.lerp_(o, 0.3), False),
    "iadd": (lambda t, o: operator.iadd(t, o), False),
    "isub": (lambda t, o: operator.isub(t, 0.25), False),
    "imul": (lambda t, o: operator.imul(t, o), False),
    "itruediv": (lambda t, o: operator.itruediv(t, o), False),
    "ipow": (lambda t, o: operator.ipow(t, 2), False),
}


def _inputs(positive, seed=0, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    lo = 0.3 if positive else -1.5
    self_ = rng.uniform(lo, 2.0, size=shape)
    other = rng.uniform(0.5, 2.0, size=shape)   # (a divisor, an exponent base)
    return self_, other


def _close(ours, theirs):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12,
                               atol=1e-12)


def _grad(t):
    g = t.grad
    return None if g is None else g.numpy()


def _same_grad(ours, theirs):
    a, b = _grad(ours), _grad(theirs)
    if b is None:
        assert a is None or not np.any(a)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_values_and_version_as_torch(name):
    call, positive = CASES[name]
    s, o = _inputs(positive)
    ours, theirs = tg.tensor(s), torch.tensor(s)
    out_ours, out_theirs = call(ours, tg.tensor(o)), call(theirs, torch.tensor(o))
    assert out_ours is ours and out_theirs is theirs
    _close(ours, theirs)
    assert ours.dtype == np.float64
    assert ours._version == theirs._version == 1


@pytest.mark.parametrize("name", CASES)
def test_rebased_non_leaf_backpropagates_as_torch(name):
    """``y = x * 1.5; y.op_(o)``: y takes the op's place on the graph; x and o get torch's
    gradients, also through a consumer of y recorded before the change (when torch allows)."""
    call, positive = CASES[name]
    s, o = _inputs(positive, seed=1)
    w = np.random.default_rng(2).standard_normal(s.shape)
    results = []
    for lib in (tg, torch):
        x, other = lib.tensor(s, requires_grad=True), lib.tensor(o, requires_grad=True)
        y = x * 1.5
        before = y + 1.0            # saves nothing: still valid after y changes
        assert call(y, other) is y
        assert not y.is_leaf and y.requires_grad
        ((y * lib.tensor(w)).sum() + (before * before).sum()).backward()
        results.append((y, x, other))
    (y, x, other), (ty, tx, tother) = results
    _close(y, ty)
    _same_grad(x, tx)
    _same_grad(other, tother)


@pytest.mark.parametrize("name", ["add_", "mul_", "exp_", "clamp_", "fill_", "copy_", "iadd"])
def test_leaf_that_requires_grad_raises_torch_error_only_with_grad_mode(name):
    call, positive = CASES[name]
    s, o = _inputs(positive)
    for lib in (tg, torch):
        leaf = lib.tensor(s, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation"):
            call(leaf, lib.tensor(o))
    ours, theirs = tg.tensor(s, requires_grad=True), torch.tensor(s, requires_grad=True)
    with tg.no_grad():
        call(ours, tg.tensor(o))
    with torch.no_grad():
        call(theirs, torch.tensor(o))
    _close(ours, theirs)
    assert ours.is_leaf and ours.requires_grad and ours._version == theirs._version


def test_views_of_a_leaf_that_requires_grad_raise_as_torch():
    for lib in (tg, torch):
        x = lib.tensor(np.ones((2, 3)), requires_grad=True)
        for write in (lambda: x.view(6).add_(1), lambda: x[0].mul_(2),
                      lambda: x.__setitem__(0, 5.0)):
            with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires "
                                                   "grad"):
                write()


def _views_changed_in_place(lib):
    x = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    w = lib.tensor(np.array([1.5, -2.0, 0.5]), requires_grad=True)
    y = x * 2
    y[1].mul_(w)                       # a row, by a tensor that requires grad
    y[:, 0].add_(1)                    # a strided column
    y.view(6)[2:4].mul_(0.5)           # a slice of a reshape
    y.transpose(0, 1)[1].mul_(3)       # a row of a transpose
    y[0, 2].sub_(4)                    # one element (a 0-d view, as torch)
    y.view(6)[1:5].relu_()
    (y * y).sum().backward()
    return y, x, w


def _assignments_with_grad(lib):
    x = lib.tensor(np.arange(1.0, 4.0), requires_grad=True)
    w = lib.tensor(2.0, requires_grad=True)
    buf = lib.zeros(3, dtype=lib.float64)       # no grad: joins the graph by the writes
    buf[1] = w * 3
    buf[0:2] += x[:2] * w
    buf[x > 2] = x[2:] * 5                      # a boolean mask: not a view
    (buf * buf).sum().backward()
    return buf, x, w


@pytest.mark.parametrize("script", [_views_changed_in_place, _assignments_with_grad],
                         ids=lambda f: f.__name__.strip("_"))
def test_in_place_changes_of_views_rebase_their_base_as_torch(script):
    """torch's CopySlices: the base's new value is its old one with the view's part replaced,
    the gradient flows to the op's inputs for that part and to the old base elsewhere."""
    (y, x, w), (ty, tx, tw) = script(tg), script(torch)
    _close(y, ty)
    _same_grad(x, tx)
    _same_grad(w, tw)
    assert y._version == ty._version


def test_view_taken_before_an_in_place_change_of_its_base_is_replayed_as_torch():
    """torch replays the view on the changed base: its gradient follows the new value."""
    def grads(lib):
        x = lib.tensor(np.ones(3), requires_grad=True)
        y = x * 2
        v = y[1:]
        y.mul_(2)
        v.sum().backward()
        return x.grad.numpy()
    np.testing.assert_array_equal(grads(tg), grads(torch))
    np.testing.assert_array_equal(grads(tg), [0.0, 4.0, 4.0])


def _scatters(lib):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = lib.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    pairs = lib.tensor(np.array([[3, 1], [0, 2], [1, 1]]))
    y = x * 1.0
    y.scatter_(0, lib.tensor(np.array([[0, 2, 1], [1, 0, 2]])), w[:2, :3] * 1.0)
    y.scatter_(1, pairs[:, :1], 7.0)
    y.scatter_add_(1, pairs, w[:, :2] * 1.0)          # (1, 1) twice: accumulates
    y.index_fill_(1, lib.tensor([2]), -1.0)
    y.index_add_(0, lib.tensor([2, 0, 2]), w, alpha=0.5)
    y.index_copy_(1, lib.tensor([3]), w[:, :1] * 2)
    (y * y).sum().backward()
    return y, x, w


def test_scatter_and_index_methods_as_torch():
    (y, x, w), (ty, tx, tw) = _scatters(tg), _scatters(torch)
    _close(y, ty)
    _same_grad(x, tx)
    _same_grad(w, tw)
    assert y._version == ty._version
    for lib in (tg, torch):     # the one-hot idiom, off the graph
        one_hot = lib.zeros(4, 3).scatter_(1, lib.tensor([[0], [2], [1], [2]]), 1)
        assert one_hot.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]


# ---- the version-counter error ---------------------------------------------------------------
VERSION_ERROR = re.compile(r"one of the variables needed for gradient computation has been "
                           r"modified by an inplace operation: .* is at version (\d+); "
                           r"expected version (\d+) instead")


def _run(lib, script):
    """(the error message or None, x.grad) of ``script(lib, x)`` then backward."""
    x = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    try:
        script(lib, x).sum().backward()
    except RuntimeError as e:
        return str(e), None
    return None, _grad(x)


def _no_grad(lib):
    return lib.no_grad()


def _saved_input_changed(lib, x):
    y = x * 1.0
    z = y * y                 # saves y
    y.add_(1)
    return z


def _saved_leaf_changed_under_no_grad(lib, x):
    z = x * x                 # saves x
    with _no_grad(lib):
        x.mul_(2)
    return z


def _saved_output_changed(lib, x):
    y = x.exp()               # saves its output
    y.add_(1)
    return y


def _saved_output_changed_through_a_view(lib, x):
    y = x.sigmoid()
    with _no_grad(lib):
        y.view(3)[0:2].mul_(2)
    return y


def _saved_output_changed_through_detach(lib, x):
    y = x.tanh()
    y.detach().zero_()
    return y


def _unsaved_input_changed(lib, x):
    y = x + 1.0               # saves nothing
    with _no_grad(lib):
        x.add_(1)
    return y * 3


def _consumer_recorded_before_a_rebase(lib, x):
    y = x * 2
    z = y + 1                 # recorded before y changes: uses y's old value
    y.mul_(3)
    return z + y


def _chained_relu(lib, x):
    y = (x * 3).relu_()
    y.mul_(2).sub_(1).relu_()
    return y * y


def _changed_through_data(lib, x):
    y = x.exp()
    y.data.add_(1)            # .data has its own counter: not seen (torch's hazard)
    return y


def _setitem_on_non_leaf(lib, x):
    y = x * 2
    y[1] = 0.0
    return y * x


def _rebased_twice_then_saved(lib, x):
    y = x * 1.0
    y.add_(2).mul_(x * x)
    return y.sqrt()


VERSION_SCRIPTS = [_saved_input_changed, _saved_leaf_changed_under_no_grad, _saved_output_changed,
                   _saved_output_changed_through_a_view, _saved_output_changed_through_detach,
                   _unsaved_input_changed, _consumer_recorded_before_a_rebase, _chained_relu,
                   _changed_through_data, _setitem_on_non_leaf, _rebased_twice_then_saved]


@pytest.mark.parametrize("script", VERSION_SCRIPTS, ids=lambda f: f.__name__.strip("_"))
def test_version_counter_raises_exactly_where_torch_does(script):
    ours_err, ours_grad = _run(tg, script)
    theirs_err, theirs_grad = _run(torch, script)
    if theirs_err is None:
        assert ours_err is None, ours_err
        np.testing.assert_allclose(ours_grad, theirs_grad, rtol=1e-12)
    else:
        assert ours_err is not None, f"torch raised: {theirs_err}"
        found, expected = VERSION_ERROR.search(ours_err), VERSION_ERROR.search(theirs_err)
        assert found and expected, (ours_err, theirs_err)
        assert found.groups() == expected.groups()


def test_backward_twice_through_inputs_changed_before_recording():
    """Versions recorded at the node's making are kept: a retained graph whose inputs were
    changed in place *before* it was recorded backpropagates twice, as in torch."""
    grads = []
    for lib in (tg, torch):
        x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = x * 2
        y.add_(1).mul_(3)                # y at version 2, rebased
        z = (y * y).sum()                # records y's version 2
        z.backward(retain_graph=True)
        z.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_version_is_shared_by_views_and_detach_not_by_data():
    results = []
    for lib in (tg, torch):
        a = lib.tensor(np.arange(6.0))
        views = [a.view(2, 3), a.reshape(3, 2).transpose(0, 1), a[1:4], a.detach(),
                 a.view(2, 3)[1]]
        data = a.data
        views[2].add_(1)
        a.mul_(2)
        views[4].zero_()
        data.sub_(1)
        results.append(([v._version for v in views], a._version, data._version,
                        a.numpy().copy()))
    assert results[0][:3] == results[1][:3]
    np.testing.assert_array_equal(results[0][3], results[1][3])
    assert results[0][1] == 3


def test_setitem_bumps_the_version_and_copies_do_not_share_it():
    for lib in (tg, torch):
        a = lib.tensor(np.zeros((2, 3)))
        fancy = a[[0, 1]]                 # advanced indexing: a copy
        a[0, 1] = 4.0
        a[:, 2] = lib.tensor([1.0, 2.0])
        assert a._version == 2 and fancy._version == 0


# ---- shapes and dtypes -----------------------------------------------------------------------
OPS = ["add_", "sub_", "mul_", "div_", "copy_", "iadd", "imul"]


def _outcome(lib, name, s, o, grad):
    """The result (or the error type) of ``CASES[name]`` on self ``s`` and other ``o``."""
    call = CASES[name][0]
    x = lib.tensor(s, requires_grad=grad)
    other = lib.tensor(o, requires_grad=grad)
    y = x * 1.0 if grad else x
    try:
        call(y, other)
    except RuntimeError as e:
        assert "doesn't match the broadcast shape" in str(e) or "expand" in str(e), str(e)
        return "error", None, None
    if not grad:
        return y.numpy().copy(), None, None
    (y * y).sum().backward()
    return y.detach().numpy().copy(), _grad(x), _grad(other)


@settings(max_examples=40, deadline=None)
@given(shapes=tst.broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(OPS), grad=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_broadcasting_keeps_self_shape_as_torch(shapes, name, grad, seed):
    """The other operand broadcasts to self's shape; a broadcast that would grow self raises."""
    rng = np.random.default_rng(seed)
    s, o = rng.uniform(0.5, 2, shapes[0]), rng.uniform(0.5, 2, shapes[1])
    ours, theirs = _outcome(tg, name, s, o, grad), _outcome(torch, name, s, o, grad)
    if isinstance(theirs[0], str):
        assert isinstance(ours[0], str), "torch raised, tinygrad_cv did not"
        return
    assert not isinstance(ours[0], str), "tinygrad_cv raised, torch did not"
    for a, b in zip(ours, theirs):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype,call", [
    ("int64", lambda t, lib: t.add_(1.5)), ("int64", lambda t, lib: t.div_(2)),
    ("int64", lambda t, lib: t.mul_(2)), ("int32", lambda t, lib: t.add_(3)),
    ("int32", lambda t, lib: t.add_(lib.tensor([1, 2, 3]))),
    ("bool", lambda t, lib: t.add_(1)), ("int64", lambda t, lib: t.fill_(2.7)),
    ("int64", lambda t, lib: t.copy_(lib.tensor([1.7, -2.2, 3.9]))),
    ("float32", lambda t, lib: t.add_(lib.tensor(np.full(3, 0.1)))),
    ("int64", lambda t, lib: t.sqrt_()),
])
def test_result_dtype_must_cast_to_self_as_torch(dtype, call):
    values = np.array([1, 0, 3]).astype(dtype)
    outcomes = []
    for lib in (tg, torch):
        t = lib.tensor(values)
        try:
            call(t, lib)
        except RuntimeError as e:
            outcomes.append(str(e))
            continue
        outcomes.append((str(t.dtype).replace("torch.", ""), t.numpy().tolist()))
    assert outcomes[0] == outcomes[1]


def test_shape_changing_in_place_methods_as_torch():
    """t_, transpose_, squeeze_, unsqueeze_: the tensor takes the view's shape (on the graph as
    that view op's output; a leaf that requires grad raises), its version is bumped."""
    results = []
    for lib in (tg, torch):
        x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        w = lib.tensor(np.arange(6.0).reshape(3, 2) + 1)
        y = x * 2
        before = y * 1.0
        y.t_().unsqueeze_(0).squeeze_(0).transpose_(0, 1).t_()
        ((y * w).sum() + (before * before).sum()).backward()
        with pytest.raises(RuntimeError, match="a leaf Variable"):
            x.unsqueeze_(0)
        b = lib.zeros(2, 3)
        v = b[0:2]
        v.t_()
        v[0, 1] = 5.0                   # still a view of b, transposed
        results.append((tuple(y.shape), y._version, x.grad.tolist(), b.tolist(),
                        tuple(v.shape)))
    assert results[0] == results[1]


def test_in_place_logical_operators_as_torch():
    a, b = np.array([True, False, True, False]), np.array([True, True, False, False])
    results = []
    for lib in (tg, torch):
        x = lib.tensor(a)
        alias = x.view(4)
        x |= lib.tensor(b)
        x &= lib.tensor(~b | a)
        x ^= lib.tensor(b)
        results.append((alias.tolist(), x._version))
    assert results[0] == results[1]


def test_expanded_self_is_refused():
    for lib in (tg, torch):
        e = lib.tensor(np.ones(3)).expand(2, 3)
        with pytest.raises(RuntimeError, match="more than one element of the written-to "
                                               "tensor refers to a single memory location"):
            e.add_(1)


# ---- random fills ----------------------------------------------------------------------------
@pytest.mark.usefixtures("host_default_device")   # (host inputs / a CPU generator)
def test_random_fills_draw_in_place_and_follow_the_generator():
    t = tg.empty(2000, dtype="float64")
    array = t.array
    g = tg.Generator().manual_seed(3)
    assert t.uniform_(-2, 3, generator=g) is t and t.array is array
    u = t.numpy().copy()
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.2
    t.uniform_(-2, 3, generator=tg.Generator().manual_seed(3))
    np.testing.assert_array_equal(t.numpy(), u)
    t.normal_(1.0, 2.0)
    n = t.numpy()
    assert abs(n.mean() - 1.0) < 0.2 and abs(n.std() - 2.0) < 0.2
    t.bernoulli_(0.25)
    assert set(np.unique(t.numpy())) <= {0.0, 1.0} and abs(t.numpy().mean() - 0.25) < 0.05
    assert t._version == 4
    p = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable"):
        p.normal_()
    with tg.no_grad():
        p.uniform_()
    assert p.requires_grad and p.is_leaf and np.all(p.detach().numpy() < 1)


# ---- optimizers ------------------------------------------------------------------------------
def _script_sgd(lib, w0, steps=5, lr=0.1, momentum=0.9):
    """The hand-written update of many public scripts: p.data / no_grad in-place methods."""
    w = lib.tensor(w0, requires_grad=True)
    b = lib.tensor(np.zeros(3), requires_grad=True)
    x = lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3))
    buf = lib.zeros_like(w)
    for _ in range(steps):
        loss = (((x @ w) + b).tanh() ** 2).mean()
        loss.backward()
        with lib.no_grad():
            buf.mul_(momentum).add_(w.grad)
            w.sub_(buf, alpha=lr)
            b -= lr * b.grad
        b.data.add_(0.01 * b.grad.data)
        w.grad.zero_()
        b.grad.zero_()
    return w, b


def test_hand_written_optimizer_steps_match_torch():
    w0 = np.random.default_rng(5).standard_normal((3, 3))
    (w, b), (tw, tb) = _script_sgd(tg, w0), _script_sgd(torch, w0)
    _close(w, tw)
    _close(b, tb)
    assert w._version == tw._version and b._version == tb._version


def test_library_optimizers_stay_right_after_in_place_changes():
    """Adam on sum(w^2 + w), with ``w.mul_(0.99)`` under no_grad between steps, against Adam's
    formulas in NumPy (torch.optim's first step costs seconds of imports; test_optim compares
    the optimizers with torch)."""
    w0 = np.random.default_rng(6).standard_normal((4, 2))
    w = tg.tensor(w0, requires_grad=True)
    opt = tg.optim.Adam([w], lr=0.05)
    ref, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for step in range(1, 5):
        opt.zero_grad()
        (w * w + w).sum().backward()
        opt.step()
        with tg.no_grad():
            w.mul_(0.99)
        g = 2 * ref + 1
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        ref = ref - 0.05 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        ref = ref * 0.99
    np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-12)
    assert w._version >= 4          # (the user's mul_ calls; the optimizer may add its own)


@pytest.mark.parametrize("script", ["y.mul_(x).add_(x).sigmoid_()", "y.mul_(x).exp_().add_(x)"])
def test_second_order_through_in_place_ops_as_torch(script):
    """create_graph=True through rebased tensors: the same gradients of gradients (or the
    same version error) as torch."""
    outcomes = []
    for lib in (tg, torch):
        x = lib.tensor(np.array([0.5, 1.5, -2.0]), requires_grad=True)
        y = x * x
        try:
            eval(script, {"x": x, "y": y})
            (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
            g.sum().backward()
        except RuntimeError as e:
            outcomes.append(VERSION_ERROR.search(str(e)).groups())
            continue
        outcomes.append((g.detach().numpy(), x.grad.numpy()))
    if isinstance(outcomes[1][0], str):
        assert outcomes[0] == outcomes[1]
    else:
        for a, b in zip(*outcomes):
            np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("update", ["sgd_step", "init_normal", "load_state_dict"])
def test_library_parameter_writes_bump_the_version_as_torch(update):
    """optimizer.step(), nn.init's fills and load_state_dict change parameters in place: a
    graph recorded before them and backpropagated after raises torch's version error, and the
    parameter's version advances by the same count as torch's."""
    outcomes = []
    for lib in (tg, torch):
        lib.manual_seed(0)
        layer = lib.nn.Linear(3, 2)
        layer.weight.grad = lib.ones(2, 3)
        loss = layer.weight.pow(2).sum()        # pow saves the weight for backward
        before = layer.weight._version
        if update == "sgd_step":
            lib.optim.SGD(layer.parameters(), lr=0.1).step()
        elif update == "init_normal":
            lib.nn.init.normal_(layer.weight)
        else:
            layer.load_state_dict({k: v.detach().clone() for k, v in layer.state_dict().items()})
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
        outcomes.append(layer.weight._version - before)
    assert outcomes[0] == outcomes[1]
