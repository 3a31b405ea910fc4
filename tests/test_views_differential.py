"""Views, in-place semantics, creation and ordering functions against torch (same inputs):
data sharing between a view and its base, gradients through in-place changes, leaf gradients
that own their memory, and the torch functions added for these (``select``, ``movedim``,
``diagonal``, ``unfold``, ``cumprod``, ``searchsorted``, ...)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import torch

import tinygrad_cv as tc


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().numpy())


def assert_same(ours, ref, rtol=1e-5, atol=1e-6):
    """Same shape, dtype name and values (tensors or nested tuples/lists of them)."""
    if isinstance(ref, (tuple, list)):
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            assert_same(a, b, rtol, atol)
        return
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype) == str(ref.dtype).replace("torch.", "")
    np.testing.assert_allclose(_np(ours).astype(np.float64), _np(ref).astype(np.float64),
                               rtol=rtol, atol=atol)


def both(fn):
    """fn(lib) run with torch and with tinygrad_cv."""
    return fn(tc), fn(torch)


# ---- leaf gradients own their memory -----------------------------------------------------------
def test_leaf_grad_of_a_sum_is_writeable():
    """x.sum()'s gradient reaches x as a broadcast of ones: x.grad must still be changeable in
    place (it was a read-only stride-0 view: zero_grad(set_to_none=False) raised)."""
    def run(T):
        x = T.zeros(2, 3, requires_grad=True)
        (x.sum() + (x * 2).sum() * 0).backward()
        x.grad.mul_(3)
        x.grad[0, 1] = 7.0
        y = T.zeros(2, 3, requires_grad=True)
        y.sum().backward()
        y.grad.zero_()
        return x.grad, y.grad
    assert_same(*both(run))
    p = tc.zeros(2, 3, requires_grad=True)
    p.sum().backward()
    tc.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)       # (it raised: read-only)
    assert not p.grad.numpy().any()


@pytest.mark.parametrize("case", ["retained_view", "retained_chain", "root_grad"])
def test_leaf_grad_aliases_nothing_else(case):
    """A leaf's .grad changed in place leaves the retained gradients and the caller's
    gradient alone (they shared the array)."""
    def run(T):
        x = T.ones(6, requires_grad=True)
        if case == "retained_view":
            y = x.view(2, 3)
            y.retain_grad()
            (y * T.arange(6.0).view(2, 3)).sum().backward()
            other = y.grad
        elif case == "retained_chain":
            y = x * 1
            y.retain_grad()
            z = y + 0
            z.retain_grad()
            z.sum().backward()
            z.grad.add_(5)
            other = y.grad
        else:
            other = T.arange(6.0)
            (x + 0).backward(other)
        with T.no_grad():
            x.grad.add_(100)
        return other, x.grad
    assert_same(*both(run))


# ---- detach_, data, detach ---------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda T: T.zeros(3)[0],
                                  lambda T: (T.zeros(3, requires_grad=True) * 2).view(3),
                                  lambda T: T.zeros(2, 3).t()])
def test_detach_in_place_of_a_view_raises(make):
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            make(T).detach_()


def test_detach_in_place_of_a_non_view():
    def run(T):
        y = T.ones(3, requires_grad=True) * 2
        y.detach_()
        d = T.zeros(2).detach()
        d.detach_()
        return y.requires_grad, y.is_leaf, y.grad_fn is None
    ours, ref = both(run)
    assert ours == ref


# ---- views taken before an in-place change of their base: replayed (torch) ---------------------
def _two_views_both_changed(T, x):
    y = x * 1
    a, b = y[0], y[0]
    a.mul_(2)
    b.mul_(3)          # b was taken before a's change: its old place skipped a's factor 2
    y.sum().backward()
    return y


def _stale_view_changed_in_place(T, x):
    y = x * 1
    v = y[1]
    y.mul_(2)
    v.add_(x[0])
    (y ** 2).sum().backward()
    return y


def _sibling_view_used_after(T, x):
    y = x * 1
    v = y.view(3, 2)
    y.t().mul_(2)
    (v ** 2).sum().backward()
    return v


def _same_shape_view_used_after(T, x):
    y = x * 1
    v = y.view(2, 3)
    y.mul_(5)
    (v * v).sum().backward()
    return v


def _view_of_view_used_before_and_after(T, x):
    y = x * 1
    v = y.view(-1)[1:4]
    a = (v + 2).sum()
    y[0].mul_(3)
    b = (v ** 3).sum()
    (a + b).backward()
    return v


def _view_of_a_constant_base_changed_by_a_graph_value(T, x):
    base = T.zeros(2, 3)
    v = base[:, 1:]
    base.add_(x * x)             # base joins the graph; v follows it
    (v * 2).sum().backward()
    return v


def _view_replayed_then_base_changed_again(T, x):
    """(the replayed view's uses were routed to its place before the replay: the first
    change's gradient was lost)"""
    y = x * 1
    v = y[..., ::2]
    loss = (y * 2).sum()
    y.add_(x[0, 0] * 2)
    u = v.unfold(-1, 1, 1)           # v replayed here
    loss = loss + (v * 1).sum() + (u * 3).sum()
    y.add_(0.99)                     # y changes again; v is not used after
    (loss + (y * y).sum()).backward()
    return y


@pytest.mark.parametrize("script", [_two_views_both_changed, _stale_view_changed_in_place,
                                    _view_replayed_then_base_changed_again,
                                    _sibling_view_used_after, _same_shape_view_used_after,
                                    _view_of_view_used_before_and_after,
                                    _view_of_a_constant_base_changed_by_a_graph_value])
def test_view_taken_before_a_change_of_its_base_follows_the_new_value(script):
    """(two of these gave a silently wrong gradient, the others raised)"""
    def run(T):
        x = T.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        out = script(T, x)
        return out.detach(), x.grad
    assert_same(*both(run))


def test_version_error_through_a_replayed_view_as_torch():
    """A value saved before the base changed still raises torch's error."""
    for T in (torch, tc):
        x = T.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        y = x * 1
        v = y[1]
        a = v * v
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (a.sum() + (v * 1).sum()).backward()


@pytest.mark.parametrize("make", [lambda x: x.view(2, 3), lambda x: x.reshape(2, 3),
                                  lambda x: x.expand(2, 3), lambda x: x.view_as(x),
                                  lambda x: x.squeeze(), lambda x: x.broadcast_to((2, 3))])
def test_a_view_of_the_same_shape_is_a_new_view(make):
    """x.view(x.shape) is a new tensor on x's storage (it was x itself: unsqueeze_ of the view
    reshaped x, and an in-place change of a same-shape expand raised)."""
    def run(T):
        x = T.zeros(2, 3)
        v = make(x)
        v.add_(1)
        v.unsqueeze_(0)
        return v is x, x, v
    (ours_is, ox, ov), (ref_is, rx, rv) = both(run)
    assert ours_is == ref_is is False
    assert_same((ox, ov), (rx, rv))


# ---- the version-counter error exactly where torch raises it ----------------------------------
_NO_ERROR_IN_TORCH = {
    "y * 2, y changed": (lambda T, y: y * 2, "input"),
    "2 * y, y changed": (lambda T, y: 2 * y, "input"),
    "y * constant tensor, y changed": (lambda T, y: y * T.ones(3), "input"),
    "y / 2, output changed": (lambda T, y: y / 2, "output"),
    "y / constant tensor, output changed": (lambda T, y: y / T.full((3,), 2.0), "output"),
    "constant / y, output changed": (lambda T, y: T.ones(3, requires_grad=True) / y, "output"),
    "y ** 2, output changed": (lambda T, y: y ** 2, "output"),
    "y @ constant, y changed": (lambda T, y: y @ T.ones(3, 2), "input"),
    "y expanded, y changed": (lambda T, y: y.expand(2, 3), "input"),
    "linear(y) with a frozen weight, y changed": (
        lambda T, y: T.nn.functional.linear(y, T.ones(2, 3)), "input"),
}


@pytest.mark.parametrize("case", sorted(_NO_ERROR_IN_TORCH))
def test_no_version_error_where_torch_saves_nothing_changed(case):
    """Ops saved values their backward does not need (the other factor of a product with a
    constant, the quotient, the power): a later in-place change raised torch's version error
    where torch computes the gradient."""
    op, changed = _NO_ERROR_IN_TORCH[case]

    def run(T):
        x = T.tensor([0.5, 1.0, 2.0], requires_grad=True)
        y = x * 1
        out = op(T, y)
        (y if changed == "input" else out).add_(1)
        (out * 1).sum().backward()
        return x.grad
    assert_same(*both(run))


@pytest.mark.parametrize("op", [lambda y: y * y, lambda y: y.sin(), lambda y: y @ y,
                                lambda y: y / y.detach().requires_grad_(), lambda y: y ** y])
def test_version_error_where_torch_raises(op):
    for T in (torch, tc):
        x = T.tensor([0.5, 1.0, 2.0], requires_grad=True)
        y = x * 1
        out = op(y)
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


def test_gradients_of_products_and_quotients_with_constants():
    """The saved-value changes keep every gradient (first and second order) as torch's."""
    def run(T):
        a = T.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]], requires_grad=True)
        b = T.tensor([0.75, 2.0, -1.25], requires_grad=True)
        c = T.tensor([1.0, 2.0, 3.0])
        v = T.tensor([1.0, -2.0])
        outs = [a * c, c * b, a / c, c / b, a / b, a ** 2, a ** b.abs(), a @ b, v @ a, a @ c,
                c @ b, b @ b]
        total = sum(((o * o).sum() for o in outs), T.tensor(0.0))
        ga, gb = T.autograd.grad(total, (a, b), create_graph=True)
        (ga.sum() + (gb * gb).sum()).backward()
        return ga, gb, a.grad, b.grad
    assert_same(*both(run), rtol=1e-5, atol=1e-5)


# ---- creation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(5,), (0, 5), (0.0, 1.0, 0.1), (1, 0, -0.25), (5, 0, -1), (0, 0),
                                  (10, 0, -3), (2.5,), (np.int64(4),), (np.int32(1), 7, 2)])
def test_arange_as_torch(args):
    assert_same(tc.arange(*args), torch.arange(*args))


def test_arange_takes_tensor_bounds_with_their_kind():
    """A 0-d int tensor bound gives int64 (it gave float32), a float one float32."""
    for bound in ([3], [3.0]):
        assert_same(tc.arange(tc.tensor(bound[0])), torch.arange(torch.tensor(bound[0])))
    assert_same(tc.arange(1, tc.tensor(7), tc.tensor(2)),
                torch.arange(1, torch.tensor(7), torch.tensor(2)))


@pytest.mark.parametrize("args, match", [((0, 5, -1), "inconsistent with step sign"),
                                         ((5, 0, 1), "inconsistent with step sign"),
                                         ((0, 5, 0), "step must be nonzero")])
def test_arange_bad_steps_raise_as_torch(args, match):
    """(a step pointing away from end gave an empty tensor; a zero step ZeroDivisionError)"""
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match=match):
            T.arange(*args)


def test_linspace_logspace_as_torch():
    assert_same(tc.linspace(tc.tensor(0.0), tc.tensor(1.0), 5),        # (tensor bounds crashed)
                torch.linspace(torch.tensor(0.0), torch.tensor(1.0), 5))
    for args, kw in [((0, 2, 3), {}), ((0, 2, 3, 2), {}), ((1, 0, 4), {}), ((0, 1, 1), {}),
                     ((-1, 1, 5, 10.0), {}), ((0, 2, 3), {"dtype": "int64"}),
                     ((0, 3, 4), {"dtype": "float64"}), ((0, 1, 0), {})]:
        ours_kw = {k: getattr(tc, v) for k, v in kw.items()}
        ref_kw = {k: getattr(torch, v) for k, v in kw.items()}
        assert_same(tc.logspace(*args, **ours_kw), torch.logspace(*args, **ref_kw))
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
            T.linspace(0, 1, -1)
        with pytest.raises(RuntimeError):
            T.eye(-1)


def test_unique_keeps_each_nan_as_torch():
    """(NaNs were merged into one value)"""
    x = [1.0, float("nan"), 1.0, float("nan"), 0.5]
    ours = tc.tensor(x).unique(return_counts=True)
    ref = torch.tensor(x).unique(return_counts=True)
    assert_same(ours, ref)


# ---- views added: select, movedim, unflatten, diagonal, unfold, ... -------------------------------
_B = np.random.default_rng(5).standard_normal((2, 3, 4))

_VIEWS = {
    "select": lambda x: x.select(1, -1),
    "movedim": lambda x: x.movedim([0, 1], [2, 0]),
    "moveaxis": lambda x: x.moveaxis(-1, 0),
    "swapdims": lambda x: x.swapdims(0, 2),
    "unflatten": lambda x: x.unflatten(2, (2, -1)),
    "diagonal": lambda x: x.diagonal(1, 2, 1),
    "diagonal_neg": lambda x: x.diagonal(-1, 0, 2),
    "unfold": lambda x: x.unfold(2, 2, 2),
    "unfold_overlap": lambda x: x.unfold(-1, 3, 1),
    "unfold_gaps": lambda x: x.unfold(1, 1, 2),
}


def _weighted(T, y):
    return y * T.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))


@pytest.mark.parametrize("name", sorted(_VIEWS))
def test_new_views_values_gradients_and_data_sharing(name):
    view = _VIEWS[name]

    def run(T):
        x = T.tensor(_B, requires_grad=True)
        y = view(x * x)
        _weighted(T, y).sum().backward()          # (overlapping windows accumulate)
        g1 = x.grad
        x.grad = None
        gx, = T.autograd.grad(_weighted(T, view(x * x)).sum() ** 2, x, create_graph=True)
        (gx * gx).sum().backward()                # second order
        base = T.tensor(_B)
        v = view(base)
        base.mul_(2)                              # the view sees its base's change
        return y.detach(), g1, gx.detach(), x.grad, v.clone()
    assert_same(*both(run))


@pytest.mark.parametrize("name", ["select", "movedim", "unflatten", "diagonal", "diagonal_neg",
                                  "unfold", "unfold_gaps"])
def test_in_place_change_of_a_new_view_reaches_the_base_and_its_gradient(name):
    view = _VIEWS[name]

    def run(T):
        x = T.tensor(_B, requires_grad=True)
        y = x * 1
        v = view(y)
        v.mul_(3)
        w = view(y)                 # taken after the change
        old = view(x * 1)
        (x * 1).mul_(2)
        (y * y).sum().backward()
        plain = T.tensor(_B)
        view(plain).zero_()
        return y.detach(), x.grad, w.detach(), old.detach(), plain
    assert_same(*both(run))


def test_unfold_of_a_0d_tensor_as_torch():
    """(it raised NotImplementedError)"""
    def run(T):
        x = T.tensor(5.0, requires_grad=True)
        y = x.unfold(0, 1, 1)
        (y * 3).sum().backward()
        return y.detach(), x.unfold(-1, 0, 2).detach(), x.grad
    assert_same(*both(run))
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="maximum size"):
            T.tensor(5.0).unfold(0, 2, 1)


def test_writing_overlapping_unfold_windows_raises():
    """torch writes them (each element once per window it is in); refused here, like writes
    into an expanded tensor."""
    with pytest.raises(RuntimeError, match="single memory location"):
        tc.tensor(_B).unfold(2, 2, 1).mul_(-1)


@pytest.mark.parametrize("call", [lambda T: T.tensor(_B).select(0, 2),
                                  lambda T: T.tensor(1.0).select(0, 0),
                                  lambda T: T.tensor(_B).movedim([0, 0], [1, 2]),
                                  lambda T: T.tensor(_B).movedim([0, 1], [1]),
                                  lambda T: T.tensor(_B).unflatten(2, (3, 2)),
                                  lambda T: T.tensor(_B).unflatten(2, (-1, -1)),
                                  lambda T: T.tensor(_B).diagonal(0, 1, 1),
                                  lambda T: T.tensor(_B).unfold(2, 5, 1),
                                  lambda T: T.tensor(_B).unfold(2, 2, 0),
                                  lambda T: T.tensor(_B).rot90(1, (1, 1)),
                                  lambda T: T.tensor([1.0]).fliplr(),
                                  lambda T: T.tensor(_B).repeat_interleave(-1),
                                  lambda T: T.tensor(_B).repeat_interleave(T.tensor([1, 2]), 1),
                                  lambda T: T.meshgrid(T.zeros(2, 2), indexing="ij"),
                                  lambda T: T.meshgrid(T.zeros(2), indexing="ab"),
                                  lambda T: T.hstack([])])
def test_bad_arguments_raise_as_torch(call):
    errors = []
    for T in (torch, tc):
        with pytest.raises((RuntimeError, IndexError, ValueError)) as info:
            call(T)
        errors.append(info.type)
    assert errors[0] is errors[1]


def test_stride_and_in_place_triangles():
    def run(T):
        x = T.tensor(_B)
        strides = (x.stride(), x.stride(-1), x.transpose(0, 2).stride(), x[:, ::2].stride(),
                   T.zeros(3, 1).expand(3, 4).stride())
        a = T.tensor(_B, requires_grad=True)
        y = a * 1
        y.tril_(-1)
        y[1].triu_(1)
        (y * y).sum().backward()
        return strides, y.detach(), a.grad
    (s1, *r1), (s2, *r2) = both(run)
    assert s1 == s2
    assert_same(r1, r2)


_REARRANGE = {
    "rot90_1": lambda T, x: x.rot90(1, (2, 1)),
    "rot90_2": lambda T, x: T.rot90(x, 2),
    "rot90_-1": lambda T, x: x.rot90(-1, (0, -1)),
    "rot90_4": lambda T, x: x.rot90(4),
    "fliplr": lambda T, x: x.fliplr(),
    "flipud": lambda T, x: T.flipud(x),
    "tile": lambda T, x: x.tile((2, 1, 1, 2)),
    "tile_short": lambda T, x: T.tile(x, (2,)),
    "repeat_interleave": lambda T, x: x.repeat_interleave(2),
    "repeat_interleave_dim": lambda T, x: x.repeat_interleave(T.tensor([1, 0, 2]), dim=1),
    "repeat_interleave_0d": lambda T, x: x.repeat_interleave(T.tensor(3), dim=-1),
    "hstack": lambda T, x: T.hstack([x, x[:, :1] * 2]),
    "vstack": lambda T, x: T.vstack((x[0, 0], x[1, 1])),
    "row_stack": lambda T, x: T.row_stack([x[0], x[1]]),
    "dstack": lambda T, x: T.dstack([x[0], x[1] * 2, x[0, :, :, None]]),
    "column_stack": lambda T, x: T.column_stack([x[0, 0], x[1, 1], x[0, 1:2].reshape(4, 1)]),
    "atleast": lambda T, x: T.cat([t.reshape(-1) for t in T.atleast_3d(x[0, 0, 0], x[0, 0])]
                                  + [T.atleast_2d(x[1, 1]).reshape(-1)]),
    "meshgrid_ij": lambda T, x: T.stack(T.meshgrid(x[0, 0], x[1, 1], indexing="ij")),
    "meshgrid_xy": lambda T, x: T.stack(T.meshgrid(x[0, 0, :3], x[1, 1], x[0, 1, :2],
                                                   indexing="xy")),
    "cartesian_prod": lambda T, x: T.cartesian_prod(x[0, 0, :2], x[1, 1], x[0, 1, :3]),
}


@pytest.mark.parametrize("name", sorted(_REARRANGE))
def test_rearranging_functions_values_and_gradients(name):
    def run(T):
        x = T.tensor(_B, requires_grad=True)
        y = _REARRANGE[name](T, x)
        _weighted(T, y).sum().backward()
        return y.detach(), x.grad
    assert_same(*both(run))


def test_meshgrid_without_indexing_warns_and_is_ij():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0]
    with pytest.warns(UserWarning, match="indexing"):
        ours = tc.meshgrid(tc.tensor(a), tc.tensor(b))
    with pytest.warns(UserWarning):
        ref = torch.meshgrid(torch.tensor(a), torch.tensor(b))
    assert_same(ours, ref)
    assert_same(tc.repeat_interleave(tc.tensor([2, 0, 3])),
                torch.repeat_interleave(torch.tensor([2, 0, 3])))


# ---- scans, order statistics, counting ----------------------------------------------------------
_D = np.array([[3.0, 1, 2, 1, 3], [0, 0, 5, 5, 1], [2, 2, 2, 1, 1]])
_Z = np.array([[2.0, 0.5, 3, 0, 4], [0, 1.5, -2, -0.75, 1], [1, -1, 0.5, 2, 1.25]])  # no ties
_N = np.array([[3.0, np.nan, 2, 1, np.nan], [0, 0, 5, -np.inf, 1], [2, np.inf, 2, 1, 1]])

_SCANS = {
    "cumprod": lambda x, d: x.cumprod(d),
    "cumprod_fn": lambda x, d: x.__class__.cumprod(x * 1, dim=d),
    "cummax": lambda x, d: x.cummax(d),
    "cummin": lambda x, d: x.cummin(d),
    "logcumsumexp": lambda x, d: x.logcumsumexp(d),
    "diff": lambda x, d: x.diff(dim=d),
    "diff2": lambda x, d: x.diff(n=2, dim=d, prepend=x[:1] * 0 if d == 0 else x[:, :1] * 0),
    "kthvalue": lambda x, d: x.kthvalue(2, d, keepdim=True)[0],
    "median": lambda x, d: x.median(d).values,
    "nanmedian": lambda x, d: x.nanmedian(d)[0],
    "mode": lambda x, d: x.mode(d),
}


# (NaN data not for cumprod's gradient, logcumsumexp's and mode: torch's results there are
# its implementation's: the order of nan * 0 products, the "mode" of NaNs)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")       # (sums of the infinite values)
@pytest.mark.parametrize("name, data", [
    (name, data) for name in sorted(_SCANS) for data in ("ties", "zeros", "nan")
    if not (data == "nan" and name in ("cumprod", "cumprod_fn", "mode", "logcumsumexp",
                                       "diff2"))])
def test_scans_and_order_statistics_values_indices_gradients(name, data):
    a = {"ties": _D, "zeros": _Z, "nan": _N}[data]

    def run(T):
        out = []
        for d in (0, 1, -1):
            x = T.tensor(a, requires_grad=True)
            y = _SCANS[name](x, d)
            vals = y[0] if isinstance(y, tuple) else y
            w = T.tensor(np.cos(np.arange(vals.numel())).reshape(tuple(vals.shape)))
            if name in ("kthvalue", "median", "nanmedian") and data != "zeros":
                out.append(vals.detach())    # (which of tied elements: unspecified in torch)
                continue
            (vals * w).nan_to_num(0.0).sum().backward()
            out += [vals.detach(), x.grad.nan_to_num(0.0)]
            if isinstance(y, tuple):
                out.append(y[1])
        return out
    assert_same(*both(run))


@pytest.mark.parametrize("name", ["cumprod", "logcumsumexp"])
def test_scan_gradcheck(name):
    x = tc.tensor(np.random.default_rng(3).standard_normal((3, 4)), requires_grad=True)
    tc.testing.gradcheck(lambda t: getattr(t, name)(1), (x,))
    w = np.cos(np.arange(12.0)).reshape(3, 4)      # second order (cumprod: no zero in x)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    g, = tc.autograd.grad((getattr(x, name)(1) * tc.tensor(w)).sum(), x, create_graph=True)
    gt, = torch.autograd.grad((getattr(xt, name)(1) * torch.tensor(w)).sum(), xt,
                              create_graph=True)
    assert_same(g.detach(), gt.detach())
    (g * g).sum().backward()
    (gt * gt).sum().backward()
    assert_same(x.grad, xt.grad)


def test_order_statistics_of_all_elements_and_edges():
    def run(T):
        x = T.tensor(_D)
        return (x.median(), T.median(T.tensor([1.0, 2, 3, 4])), T.tensor(_N).median(),
                T.tensor(_N).nanmedian(), T.tensor([float("nan")] * 2).nanmedian(),
                T.tensor(3.0).cummax(0).values, T.tensor([4, 1, 5]).cummin(0).indices,
                T.tensor([True, False, True]).cumprod(0), T.tensor([1, 2, 3]).cumprod(0),
                T.tensor([1, 2, 3]).cumprod(0, dtype=T.float32),
                T.tensor([True, False, False, True]).diff(), T.tensor([1, 4, 9]).diff())
    assert_same(*both(run))
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="out of range"):
            T.tensor(_D).kthvalue(6, 1)
        with pytest.raises(RuntimeError):
            T.tensor(3.0).diff()


def test_search_and_count_as_torch():
    s = [1.0, 3, 5, 7, 9]
    q = [[0.0, 3, 6, 9, 10], [1, 1, 5, 8, 2]]

    def run(T):
        seq, val = T.tensor(s), T.tensor(q)
        rows = T.tensor(np.sort(np.array(q), 1))
        return (T.searchsorted(seq, val), T.searchsorted(seq, val, right=True),
                T.searchsorted(seq, val, side="right"), T.searchsorted(rows, val),
                T.searchsorted(seq, val, out_int32=True), T.searchsorted(seq, 5.0),
                T.searchsorted(T.tensor([5.0, 1, 3]), T.tensor([2.0, 4]),
                               sorter=T.tensor([1, 2, 0])),
                T.bucketize(val, seq), T.bucketize(val, seq, right=True),
                T.histc(val, bins=4, min=0, max=10), T.histc(val, bins=5), val.histc(3, 1, 8),
                T.histc(T.tensor([2.0, 2.0]), bins=4),
                T.bincount(T.tensor([1, 1, 3, 0])),
                T.bincount(T.tensor([1, 1, 3]), weights=T.tensor([0.5, 1.0, 2.0]), minlength=6),
                T.bincount(T.tensor([1, 1, 3]), weights=T.tensor([1, 2, 3])),
                T.bincount(T.tensor([], dtype=T.int64)))
    assert_same(*both(run))
    for call in (lambda T: T.bincount(T.tensor([-1, 2])), lambda T: T.histc(T.tensor([1, 2])),
                 lambda T: T.searchsorted(T.tensor([[1.0, 2]]), T.tensor([[1.0], [2.0]]))):
        for T in (torch, tc):
            with pytest.raises(RuntimeError):
                call(T)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_consecutive_as_torch(dim):
    x = [[1, 1, 2], [1, 1, 2], [3, 3, 3], [1, 1, 2]]

    def run(T):
        t = T.tensor(x)
        return (t.unique_consecutive(dim=dim),
                T.unique_consecutive(t, return_inverse=True, return_counts=True, dim=dim),
                T.tensor([1.0, float("nan"), float("nan"), 2]).unique_consecutive())
    assert_same(*both(run))


# ---- einsum: repeated subscripts, sublists ------------------------------------------------------
@pytest.mark.parametrize("equation, shapes", [
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->ij", [(2, 2, 3)]), ("ijj->i", [(2, 3, 3)]),
    ("iii->i", [(2, 2, 2)]), ("...ii->...i", [(4, 3, 3)]), ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("bii,bi->b", [(2, 3, 3), (2, 3)]), ("ijij->ij", [(2, 3, 2, 3)])])
def test_einsum_repeated_subscripts_as_torch(equation, shapes):
    """(a subscript repeated inside one operand raised NotImplementedError)"""
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in shapes]

    def run(T):
        xs = [T.tensor(a, requires_grad=True) for a in arrays]
        y = T.einsum(equation, *xs)
        _weighted(T, y).sum().backward()
        return [y.detach()] + [x.grad for x in xs]
    assert_same(*both(run))
    x = tc.tensor(arrays[0], requires_grad=True)
    rest = [tc.tensor(a) for a in arrays[1:]]
    tc.testing.gradcheck(lambda t: tc.einsum(equation, t, *rest), (x,))


def test_einsum_sublist_form_and_errors_as_torch():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)

    def run(T):
        x, y = T.tensor(a), T.tensor(b)
        return (T.einsum(x, [0, 1], y, [1, 2], [0, 2]), T.einsum(x, [0, 1], y, [1, 2]),
                T.einsum(x, [Ellipsis, 1], y, [1, 2], [Ellipsis, 2]), T.einsum(x, [0, 0 + 1]))
    assert_same(*both(run))
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="sizes don't match"):
            T.einsum("iij->j", T.ones(3, 2, 4))


# ---- memory formats: clone, contiguous, is_contiguous -------------------------------------------
_LAYOUTS = {"plain": lambda x: x, "transposed": lambda x: x.transpose(1, 3),
            "sliced": lambda x: x[:, :, ::2], "permuted": lambda x: x.permute(0, 2, 3, 1),
            "permuted_sliced": lambda x: x.permute(3, 2, 1, 0)[:, 1:]}


@pytest.mark.parametrize("fmt", [None, "preserve_format", "contiguous_format", "channels_last"])
@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_clone_and_contiguous_memory_formats_as_torch(layout, fmt):
    """clone keeps the strides' order (it always made a row-major copy) and takes
    memory_format=; contiguous/is_contiguous take the formats (they raised)."""
    def run(T):
        x = _LAYOUTS[layout](T.tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True))
        kw = {} if fmt is None else {"memory_format": getattr(T, fmt)}
        y = x.clone(**kw)
        c = x if fmt == "preserve_format" else x.contiguous(**kw)
        (y * y).sum().backward()
        return (y.detach(), y.stride(), y.is_contiguous(),
                y.is_contiguous(memory_format=T.channels_last), c.stride(), c is x)
    (y1, *s1), (y2, *s2) = both(run)
    assert_same(y1, y2)
    assert s1 == s2


def test_memory_format_errors_as_torch():
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
            T.zeros(2, 3).t().contiguous(memory_format=T.preserve_format)
        with pytest.raises(RuntimeError, match="rank 4"):
            T.zeros(2, 3).clone(memory_format=T.channels_last)
        assert T.zeros(2, 3).contiguous(memory_format=T.preserve_format).shape == (2, 3)
        assert not T.zeros(2, 3).is_contiguous(memory_format=T.channels_last)
    assert repr(tc.channels_last) == repr(torch.channels_last)


def test_view_as_another_dtype_as_torch():
    """(view(dtype) crashed in the shape parser)"""
    def run(T):
        y = T.arange(6.0).view(2, 3)
        z = y.view(T.int32)
        z[0, 0] = 1                      # the same bytes: y changes, its version too
        return (y.t().view(T.int32), y.view(T.int16), z, y.clone(), y._version,
                T.arange(4, dtype=T.int64).view(T.float64) * 0 + 1)
    ours, ref = both(run)
    assert ours[4] == ref[4]
    assert_same(ours[:4] + ours[5:], ref[:4] + ref[5:])
    for T in (torch, tc):
        with pytest.raises(RuntimeError, match="stride"):
            T.arange(6.0).view(2, 3).t().view(T.int16)
        with pytest.raises(RuntimeError, match="divisible"):
            T.arange(6.0).view(2, 3).view(T.float64)


# ---- random programs of views and in-place changes against torch --------------------------------
_PROGRAM_VIEWS = [
    lambda t: t.select(t.ndim - 1, 0) if t.ndim else None,
    lambda t: t.narrow(0, 1, t.shape[0] - 1) if t.ndim and t.shape[0] > 1 else None,
    lambda t: t.transpose(0, -1) if t.ndim >= 2 else None,
    lambda t: t.reshape(-1) if t.ndim >= 2 else None,
    lambda t: t.unsqueeze(0),
    lambda t: t.squeeze(),
    lambda t: t.diagonal(0, 0, 1) if t.ndim >= 2 else None,
    lambda t: t[..., ::2] if t.ndim else None,
    lambda t: t.unfold(-1, 2, 2) if t.ndim and t.shape[-1] >= 2 else None,
    lambda t: t.movedim(0, -1) if t.ndim >= 2 else None,
    lambda t: t[0] if t.ndim else None,
    lambda t: t.detach(),
]
_PROGRAM_CHANGES = [
    lambda T, t, x, c: t.mul_(c),
    lambda T, t, x, c: t.add_(x[0, 0, 0] * c),          # a value on the graph
    lambda T, t, x, c: t.sub_(c),
    lambda T, t, x, c: t.zero_(),
    lambda T, t, x, c: t.clamp_(-c, c),
    lambda T, t, x, c: t.__setitem__((0,) if t.ndim else (), x[0, 1, 0] * c),
    lambda T, t, x, c: t.copy_((x[1, 0, 0] * c).expand(*t.shape)),
]


def _run_program(T, steps):
    x = T.tensor(np.linspace(-1.5, 1.5, 48).reshape(3, 4, 4), requires_grad=True)
    y = x * 1
    live, loss = [y], 0
    for kind, pick, c in steps:
        t = live[pick % len(live)]
        if kind == 0:
            v = _PROGRAM_VIEWS[pick % len(_PROGRAM_VIEWS)](t)
            if v is not None and v.numel():
                live.append(v)
        elif kind == 1:
            _PROGRAM_CHANGES[pick % len(_PROGRAM_CHANGES)](T, t, x, c)
        else:
            loss = loss + _weighted(T, t).sum()
    (loss + (y * y).sum()).backward()
    return y.detach(), x.grad


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1000), st.sampled_from([0.5, 1.25])),
                min_size=2, max_size=8))
def test_random_view_and_in_place_programs_as_torch(steps):
    """Views of views, in-place changes through any of them (on the graph or not), uses
    before and after: the final value and the gradient are torch's, and an error where torch
    raises one (found: a replayed view losing a change's gradient)."""
    try:
        ref = _run_program(torch, steps)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            _run_program(tc, steps)
        return
    assert_same(_run_program(tc, steps), ref, rtol=1e-9, atol=1e-9)


def test_assigning_into_an_expanded_tensor_raises_as_torch():
    """(NumPy's ValueError 'assignment destination is read-only' came through)"""
    for T in (torch, tc):
        e = T.zeros(3, 1).expand(3, 4)
        with pytest.raises(RuntimeError, match="more than one element of the written-to"):
            e[0] = 1.0


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_take_size_keyword_and_refuse_negative_sizes_as_torch(name):
    """(size= was an unexpected keyword; a negative size gave NumPy's ValueError)"""
    for T in (torch, tc):
        t = getattr(T, name)(size=(2, 3), dtype=T.float64)
        assert tuple(t.shape) == (2, 3) and str(t.dtype).endswith("float64")
        assert tuple(getattr(T, name)([2, 0]).shape) == (2, 0)
        with pytest.raises(RuntimeError, match="negative"):
            getattr(T, name)(2, -1)


def test_conjugate_transposes_of_real_tensors_as_torch():
    """H, mH, adjoint (they did not exist); mT of a vector raises torch's RuntimeError."""
    def run(T):
        x = T.tensor(_B)
        v = x.mH
        v[0, 0, 0] = -1.0                     # a view
        return x[0].H, x.mH, x.adjoint(), T.adjoint(x), x
    assert_same(*both(run))
    for T in (torch, tc):
        for bad in (lambda t: t.H, lambda t: t[0, 0].mH, lambda t: t[0, 0].mT):
            with pytest.raises(RuntimeError):
                bad(T.tensor(_B))


@pytest.mark.parametrize("change", ["mul", "view_mul", "twice"])
def test_hooks_registered_before_an_in_place_change_see_the_old_value_gradient(change):
    """(they fired with the gradient of the changed value, at the new place)"""
    def run(T):
        x = T.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
        y = x * 2
        seen = []
        y.register_hook(lambda g: seen.append(("before", g.clone())))
        if change == "mul":
            y.mul_(3)
        elif change == "view_mul":
            y[0].mul_(3)
        else:
            y.mul_(3)
            y.register_hook(lambda g: seen.append(("between", g.clone())))
            y.add_(y.detach() * 0 + x[1, 1])
        y.register_hook(lambda g: seen.append(("after", g * 100)))
        y.retain_grad()
        (y * y).sum().backward()
        return [name for name, _ in seen], [g for _, g in seen], y.grad, x.grad
    (n1, *r1), (n2, *r2) = both(run)
    assert n1 == n2
    assert_same(r1, r2)


def test_leaf_grads_sharing_memory_through_views_are_separated():
    """Two leaves whose gradients are one storage (one a view of the other's) get their own
    (changing one changed the other)."""
    def run(T):
        a = T.ones(6, requires_grad=True)
        b = T.ones(2, 3, requires_grad=True)
        (a.view(2, 3) + b).backward(T.arange(6.0).view(2, 3))
        with T.no_grad():
            a.grad.add_(100)
        return a.grad, b.grad
    assert_same(*both(run))
    # a view of the caller's gradient is copied too (torch keeps such a view: its reuse test
    # counts references to the view, not to the storage; an identical tensor it copies)
    a = tc.ones(6, requires_grad=True)
    g = tc.arange(6.0).view(2, 3)
    a.view(2, 3).backward(g)
    a.grad.add_(100)
    assert g.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_second_order_leaf_grad_through_a_view_is_no_view():
    x = tc.ones(2, 3, requires_grad=True)
    (x.view(-1) ** 2).sum().backward(create_graph=True)
    assert x.grad._view_base is None and x.grad.grad_fn is not None
    opt = tc.optim.SGD([x], lr=0.1)
    opt.zero_grad(set_to_none=False)          # (detach_ of a view would raise)
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like", "full_like"])
def test_like_factories_keep_the_layout_as_torch(name):
    """(they were always row-major: torch's default memory_format is preserve_format)"""
    def run(T):
        f = getattr(T, name)
        args = (2.5,) if name == "full_like" else ()
        x = T.zeros(2, 3, 4).transpose(0, 2)
        return (f(x, *args).stride(), f(x, *args, memory_format=T.contiguous_format).stride(),
                f(T.zeros(3, 1).expand(3, 4), *args).stride(),
                f(T.zeros(4, 6)[:, ::2].t(), *args).stride(),
                f(T.zeros(2, 3, 4, 5), *args, memory_format=T.channels_last).stride(),
                f(x, *args, dtype=T.float64, requires_grad=True).requires_grad)
    ours, ref = both(run)
    assert ours == ref
    assert_same(tc.full_like(tc.zeros(2, 3).t(), 2.5), torch.full_like(torch.zeros(2, 3).t(), 2.5))
