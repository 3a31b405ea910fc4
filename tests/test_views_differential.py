"""Views, in-place semantics, creation and ordering functions against torch (same inputs):
data sharing between a view and its base, gradients through in-place changes, leaf gradients
that own their memory, and the torch functions added for these (``select``, ``movedim``,
``diagonal``, ``unfold``, ``cumprod``, ``searchsorted``, ...)."""
import numpy as np
import pytest
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
        opt = T.optim.SGD([x], lr=0.1)
        y = T.zeros(2, 3, requires_grad=True)
        y.sum().backward()
        opt.add_param_group({"params": [y]})
        opt.zero_grad(set_to_none=False)
        return x.grad, y.grad
    assert_same(*both(run))


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


@pytest.mark.parametrize("script", [_two_views_both_changed, _stale_view_changed_in_place,
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
