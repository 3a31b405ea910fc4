"""``tensor_compat.py``: torch's remaining everyday Tensor methods against torch 2.13 (method
forms, in-place forms with their dtypes and graph rules, bit shifts, split_with_sizes,
nonzero_static, the device and complex-free queries, post-accumulate-grad hooks)."""
import math

import numpy as np
import pytest
import torch

import tinygrad_cv as tg

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

A = np.array([[1.0, -2.5, 3.0], [0.0, 4.5, -1.0]])
B = np.array([[1.0, 2.0, 3.0], [-1.0, 4.5, 2.0]])


@pytest.mark.parametrize("name", ["allclose", "isclose", "equal", "divide", "multiply",
                                  "subtract", "true_divide", "greater", "greater_equal", "less",
                                  "less_equal", "not_equal"])
def test_method_forms_match_torch(name):
    o = getattr(tg.tensor(A), name)(tg.tensor(B))
    t = getattr(torch.tensor(A), name)(torch.tensor(B))
    if isinstance(t, bool):
        assert o == t
    else:
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal",
                                  "not_equal", "divide", "multiply", "subtract", "true_divide",
                                  "fmod", "remainder", "floor_divide"])
def test_in_place_binary_forms_match_torch(name):
    o, t = tg.tensor(A), torch.tensor(A)
    assert getattr(o, name + "_")(tg.tensor(B)) is o
    getattr(t, name + "_")(torch.tensor(B))
    np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert o.dtype == tg.float64


def test_in_place_unary_forms_and_graph_rules():
    for name, args in (("cumsum", (1,)), ("cumprod", (0,)), ("log10", ()),
                       ("ldexp", (tg.tensor([[1, 2, 3], [0, -1, 2]]),))):
        o, t = tg.tensor(np.abs(A) + 0.5), torch.tensor(np.abs(A) + 0.5)
        targs = tuple(torch.tensor(a.numpy()) if isinstance(a, tg.Tensor) else a for a in args)
        getattr(o, name + "_")(*args)
        getattr(t, name + "_")(*targs)
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-12)
    xo, xt = tg.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    yo, yt = xo * 1.0, xt * 1.0
    yo.multiply_(3.0).cumsum_(1)
    yt.multiply_(3.0).cumsum_(1)
    yo.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(xo.grad.numpy(), xt.grad.numpy())
    with pytest.raises(RuntimeError, match="leaf"):
        tg.tensor(A, requires_grad=True).divide_(2.0)
    z = tg.tensor(A[:, :2].copy())
    assert z.swapaxes_(0, 1) is z and tuple(z.shape) == (2, 2)
    np.testing.assert_array_equal(z.numpy(), A[:, :2].T)


def test_bit_shifts_and_misc_match_torch():
    a, s = np.array([1, 2, 7, -8]), np.array([1, 2, 0, 1])
    for name, op in (("bitwise_left_shift", lambda x, y: x << y),
                     ("bitwise_right_shift", lambda x, y: x >> y)):
        o = getattr(tg.tensor(a), name)(tg.tensor(s))
        t = getattr(torch.tensor(a), name)(torch.tensor(s))
        np.testing.assert_array_equal(o.numpy(), t.numpy())
        np.testing.assert_array_equal(op(tg.tensor(a), 2).numpy(), op(torch.tensor(a), 2).numpy())
        with pytest.raises(RuntimeError):
            getattr(tg.tensor([1.0]), name)(1)
    x = np.arange(10.0).reshape(5, 2)
    parts_o = tg.tensor(x).split_with_sizes([2, 3])
    parts_t = torch.tensor(x).split_with_sizes([2, 3])
    for p, q in zip(parts_o, parts_t):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(RuntimeError):
        tg.tensor(x).split_with_sizes([2, 2])
    v = np.array([[0.0, 1.0], [2.0, 0.0]])
    for size in (1, 2, 4):
        np.testing.assert_array_equal(tg.tensor(v).nonzero_static(size=size).numpy(),
                                      torch.tensor(v).nonzero_static(size=size).numpy())
    w = np.array([-2.0, 0.0, 3.0, np.nan])
    np.testing.assert_array_equal(tg.tensor(w).angle().numpy(), torch.tensor(w).angle().numpy())
    xo = tg.tensor(w[:3], requires_grad=True)
    xo.angle().sum().backward()
    assert not xo.grad.numpy().any()
    np.testing.assert_array_equal(tg.tensor(A).hardshrink(1.5).numpy(),
                                  torch.tensor(A).hardshrink(1.5).numpy())
    np.testing.assert_allclose(tg.tensor(A).prelu(tg.tensor([0.25])).numpy(),
                               torch.tensor(A).prelu(torch.tensor([0.25], dtype=torch.float64))
                               .numpy())
    t = tg.tensor(A)
    assert t.is_cpu and t.get_device() == torch.tensor(A).get_device() == -1
    assert not t.is_conj() and not t.is_neg() and not t.is_inference()
    assert t.conj() is t and t.resolve_conj() is t and t.real is not None and t.share_memory_() is t
    assert math.isclose(t.real.sum().item(), A.sum())


def test_post_accumulate_grad_hooks_match_torch():
    seen_o, seen_t = [], []
    wo = tg.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    ho = wo.register_post_accumulate_grad_hook(lambda p: seen_o.append(p.grad.numpy().copy()))
    wt.register_post_accumulate_grad_hook(lambda p: seen_t.append(p.grad.numpy().copy()))
    for _ in range(2):
        (wo * 3).sum().backward()
        (wt * 3).sum().backward()
    np.testing.assert_array_equal(np.array(seen_o), np.array(seen_t))     # accumulated .grad
    ho.remove()
    (wo * 3).sum().backward()
    assert len(seen_o) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (wo * 2).register_post_accumulate_grad_hook(lambda p: None)
