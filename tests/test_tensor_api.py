"""Tensor construction, dtype rules, factories, conversions, DLPack and the error messages."""
import threading

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend


# ---- dtype rules -------------------------------------------------------------------------------
def test_construction_dtypes():
    assert tg.tensor(1.5).dtype == np.float32
    assert tg.tensor([1.0, 2.0]).dtype == np.float32
    assert tg.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert tg.tensor(3).dtype == np.int64
    assert tg.tensor([True, False]).dtype == np.bool_
    assert tg.tensor(np.zeros(3)).dtype == np.float64            # arrays keep their dtype
    assert tg.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert tg.tensor(np.float64(2.0)).dtype == np.float64
    assert tg.tensor([1, 2], dtype="float64").dtype == np.float64
    assert tg.tensor(np.zeros(2), dtype=tg.float32).dtype == np.float32
    assert tg.Tensor([1.0]).array.dtype == np.float32
    assert tg.tensor(tg.tensor([1.0, 2.0])).shape == (2,)


@pytest.mark.parametrize("make", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: a ** b, lambda a, b: tg.maximum(a, b) if isinstance(a, tg.Tensor) else
    torch.maximum(a, b)])
@pytest.mark.parametrize("da, db", [("float32", "float32"), ("float64", "float64"),
                                    ("float32", "float64"), ("int64", "float32"),
                                    ("int64", "int64"), ("float64", "int64")])
def test_binary_dtype_promotion_follows_torch(make, da, db):
    a = np.array([1, 2, 3]).astype(da)
    b = np.array([2, 1, 2]).astype(db)
    ours = make(tg.tensor(a), tg.tensor(b))
    theirs = make(torch.tensor(a), torch.tensor(b))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2.5), np.int64(2), np.float32(0.5)])
@pytest.mark.parametrize("dt", ["float32", "float64", "int64"])
def test_scalar_operands_are_weak(scalar, dt):
    x = np.array([1, 2, 3]).astype(dt)
    for op in (lambda a: a * scalar, lambda a: scalar + a, lambda a: a - scalar):
        ours, theirs = op(tg.tensor(x)), op(torch.tensor(x))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (scalar, dt)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_float32_stays_float32_and_float64_kept():
    x32 = tg.randn(3, 4, requires_grad=True)
    x64 = tg.randn(3, 4, dtype="float64", requires_grad=True)
    for x in (x32, x64):
        y = ((x * 2 + 1).exp().log().tanh() @ x.T).softmax(-1).sum()
        assert y.dtype == x.dtype
        y.backward()
        assert x.grad.dtype == x.dtype
    ints = tg.tensor([1, 2, 3])
    assert ints.float().dtype == np.float32 and ints.double().dtype == np.float64
    assert (ints / 2).dtype == np.float32 and ints.exp().dtype == np.float32
    assert tg.tensor([1.5]).long().dtype == np.int64 and tg.tensor([1]).bool().dtype == np.bool_
    assert x32.type_as(x64).dtype == np.float64


def test_mixed_precision_gradients_keep_each_input_dtype():
    a = tg.randn(3, requires_grad=True)
    b = tg.randn(3, dtype="float64", requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# ---- factories ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_shape_factories(name, device):
    f = getattr(tg, name)
    t = f(2, 3)
    assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert f((2, 3)).shape == (2, 3)
    t = f(2, 3, dtype="float64", device=device, requires_grad=True)
    assert t.dtype == np.float64 and t.device == device and t.requires_grad and t.is_leaf


def test_value_factories(device):
    np.testing.assert_array_equal(tg.full((2, 2), 7.0).numpy(), np.full((2, 2), 7.0))
    assert tg.full((2,), 7).dtype == np.int64 and tg.full((2,), 7.0).dtype == np.float32
    assert tg.full((2,), 1.0, dtype="float64", device=device, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tg.arange(5).numpy(), np.arange(5))
    assert tg.arange(5).dtype == np.int64 and tg.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_allclose(tg.arange(1, 2, 0.25, dtype="float64").numpy(),
                               [1, 1.25, 1.5, 1.75])
    np.testing.assert_allclose(tg.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    assert tg.linspace(0, 1, 5, device=device, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tg.eye(3).numpy(), np.eye(3))
    assert tg.eye(2, 3, dtype="float64").shape == (2, 3)
    r = tg.randint(0, 5, (100,), device=device)
    assert r.dtype == np.int64 and 0 <= r.numpy().min() and r.numpy().max() < 5
    assert tg.randint(3, size=(2, 2)).numpy().max() < 3
    with pytest.raises(RuntimeError, match="floating"):
        tg.randint(0, 5, (3,), requires_grad=True)


def test_like_factories():
    base = tg.randn(2, 3, dtype="float64")
    for f in (tg.zeros_like, tg.ones_like, tg.randn_like, tg.rand_like):
        t = f(base)
        assert t.shape == (2, 3) and t.dtype == np.float64
        assert f(base, dtype="float32", requires_grad=True).requires_grad
    assert tg.full_like(base, 2.0).numpy().max() == 2.0
    np.testing.assert_array_equal(tg.zeros_like(base).numpy(), 0)
    np.testing.assert_array_equal(tg.ones_like(base).numpy(), 1)


def test_manual_seed_reproducible():
    tg.manual_seed(123)
    a = (tg.randn(4, 5).numpy(), tg.rand(3).numpy(), tg.randint(0, 100, (5,)).numpy())
    tg.manual_seed(123)
    b = (tg.randn(4, 5).numpy(), tg.rand(3).numpy(), tg.randint(0, 100, (5,)).numpy())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    tg.manual_seed(124)
    assert not np.array_equal(tg.randn(4, 5).numpy(), a[0])
    r = tg.rand(1000).numpy()
    assert 0 <= r.min() and r.max() < 1 and abs(r.mean() - 0.5) < 0.05


# ---- attributes and conversions ----------------------------------------------------------------
def test_attributes():
    x = tg.randn(2, 3, requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size() == (2, 3) and x.size(1) == 3
    assert x.numel() == 6 and x.dim() == 2 and len(x) == 2 and x.device == "cpu"
    assert x.is_leaf and x.grad is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert "grad_fn" in repr(y) and "requires_grad=True" in repr(x)
    assert tg.tensor([[1.5]]).item() == 1.5 and tg.tensor([[1, 2]]).tolist() == [[1, 2]]
    assert float(tg.tensor(2.5)) == 2.5 and int(tg.tensor(3)) == 3
    with pytest.raises(ValueError, match="one-element"):
        tg.zeros(2).item()


def test_detach_and_numpy():
    x = tg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        (x * 2).numpy()
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    arr = d.numpy()
    arr[0] = 42.0                       # shares memory, as in torch
    assert x.detach().numpy()[0] == 42.0
    y = (x * 2).detach()
    assert y.grad_fn is None and not y.requires_grad
    z = x.detach().requires_grad_()
    (z * 3).sum().backward()
    assert x.grad is None and np.allclose(z.grad.numpy(), 3)


def test_to_cpu_device_and_dtype():
    x = tg.randn(2, requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x
    y = x.to("float64")
    assert y.dtype == np.float64 and y.requires_grad
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float32 and np.allclose(x.grad.numpy(), 2)
    z = x.to(device="cpu", dtype=tg.float64)
    assert z.dtype == np.float64


def test_dlpack_round_trip_with_torch_and_numpy():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    ours = tg.from_dlpack(t)
    assert ours.shape == (2, 3) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours.numpy(), t.numpy())
    t[0, 0] = 100.0                                   # zero-copy
    assert ours.numpy()[0, 0] == 100.0
    back = torch.from_dlpack(ours)
    back[1, 2] = -1.0
    assert ours.numpy()[1, 2] == -1.0 and t[1, 2].item() == -1.0
    a = np.arange(4.0)
    ours = tg.from_dlpack(a)
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(np.from_dlpack(ours), a)
    assert ours.__dlpack_device__()[0] == 1           # kDLCPU
    assert tg.from_numpy(a).dtype == np.float64


# ---- grad modes --------------------------------------------------------------------------------
def test_no_grad_and_enable_grad():
    x = tg.randn(3, requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @tg.no_grad()
    def f(a):
        return a * 2

    assert not f(x).requires_grad and tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}
    ready, release = threading.Event(), threading.Event()

    def worker():
        x = tg.randn(2, requires_grad=True)
        seen["enabled"] = tg.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad
        with tg.no_grad():
            ready.set()
            release.wait(5)
            seen["inner"] = tg.is_grad_enabled()

    with tg.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        ready.wait(5)
        assert not tg.is_grad_enabled()
    # the worker's no_grad does not leak into this thread
    assert tg.is_grad_enabled() and (tg.randn(2, requires_grad=True) * 2).requires_grad
    release.set()
    th.join()
    assert seen == {"enabled": True, "records": True, "inner": False}


# ---- hooks, retain_grad, anomaly ---------------------------------------------------------------
def test_register_hook_and_retain_grad():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(g.numpy().copy()))
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)            # replaces the gradient flowing back
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 10 * 2 * y.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * 10 * 2 * 2 * x.detach().numpy())
    np.testing.assert_allclose(calls[0], x.grad.numpy())
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert len(calls) == 1
    mid = x * 3
    (mid * 2).sum().backward()
    assert mid.grad is None                       # intermediates keep no .grad by default
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.zeros(2).register_hook(lambda g: g)


def test_hooks_compare_with_torch():
    a = np.array([0.5, -1.0, 2.0])
    ours = tg.tensor(a, requires_grad=True)
    theirs = torch.tensor(a, requires_grad=True)
    for t, lib in ((ours, tg), (theirs, torch)):
        h = t.exp()
        h.register_hook(lambda g: g * 3)
        h.retain_grad()
        (h.sin() * t).sum().backward()
        if lib is tg:
            ours_h = h.grad.numpy()
        else:
            theirs_h = h.grad.numpy()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    np.testing.assert_allclose(ours_h, theirs_h)


def test_grads_accumulate_across_backward_calls():
    x = tg.randn(3, dtype="float64", requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 5)


def test_detect_anomaly_names_the_op():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with tg.autograd.detect_anomaly(), np.errstate(all="ignore"):
        with pytest.raises(RuntimeError, match="Log"):
            x.log()
        y = x.sqrt()                               # forward is finite, backward is not (1/0)
        with pytest.raises(RuntimeError, match="Sqrt.backward"):
            y.sum().backward()
    with np.errstate(all="ignore"):
        assert not np.isfinite(x.log().detach().numpy()).all()   # no check outside the mode


# ---- custom Function ---------------------------------------------------------------------------
class ScaledSquare(tg.autograd.Function):
    """y = s * x^2 with a constant s;  dy/dx = 2 s x."""

    @staticmethod
    def forward(ctx, x, scale=1.0):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * ctx.scale * x * g


class SplitSign(tg.autograd.Function):
    """Two outputs (positive and negative parts) and a non-differentiable mask."""

    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        ctx.save_for_backward(mask)
        ctx.mark_non_differentiable(mask)
        return x * mask, x * ~mask, mask

    @staticmethod
    def backward(ctx, g_pos, g_neg, g_mask):
        (mask,) = ctx.saved_tensors
        return g_pos * mask + g_neg * ~mask


def test_custom_function():
    x = tg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = ScaledSquare.apply(x, scale=3.0)
    assert type(y.grad_fn).__name__ == "ScaledSquare"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())
    assert tg.testing.gradcheck(lambda t: ScaledSquare.apply(t, scale=0.5), (x,))
    pos, neg, mask = SplitSign.apply(x)
    assert pos.requires_grad and neg.requires_grad and not mask.requires_grad
    assert mask.dtype == np.bool_
    x.grad = None
    (pos * 2 + neg * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 5, 2])
    assert tg.testing.gradcheck(lambda t: SplitSign.apply(t)[:2], (x,))
    with tg.no_grad():
        assert not ScaledSquare.apply(x).requires_grad


def test_custom_function_needs_input_grad():
    seen = []

    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return g, g

    a, b = tg.randn(2, requires_grad=True), tg.randn(2)
    Probe.apply(a, b).sum().backward()
    assert seen == [(True, False)] and b.grad is None and a.grad is not None


def test_first_order_function_refuses_create_graph():
    class FirstOrder(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = tg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="FirstOrder.*first-order"):
        tg.autograd.grad(FirstOrder.apply(x).sum(), x, create_graph=True)


# ---- bad input ---------------------------------------------------------------------------------
def test_shape_mismatch_names_op_and_shapes():
    a, b = tg.randn(3, 4), tg.randn(5, 4)
    for op, name in ((lambda: a + b, "Add"), (lambda: a * b, "Mul"), (lambda: a - b, "Sub"),
                     (lambda: a / b, "Div"), (lambda: tg.maximum(a, b), "Maximum"),
                     (lambda: tg.where(a > 0, a, b), "Where")):
        with pytest.raises(RuntimeError, match=rf"{name}.*\(3, 4\).*\(5, 4\)"):
            op()
    with pytest.raises(RuntimeError, match=r"matmul.*\(3, 4\).*\(5, 4\)"):
        a @ b
    with pytest.raises(RuntimeError, match=r"reshape.*\(5,\).*\(3, 4\)"):
        a.reshape(5)
    with pytest.raises(RuntimeError, match=r"expand.*\(3, 4\)"):
        a.expand(2, 4)
    with pytest.raises(RuntimeError, match=r"cat.*\(3, 4\).*\(5, 3\)"):
        tg.cat([a, tg.randn(5, 3)])
    with pytest.raises(RuntimeError, match=r"stack.*\(3, 4\).*\(5, 4\)"):
        tg.stack([a, b])


def test_backward_errors():
    x = tg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs.*\\(3,\\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.randn(3).sum().backward()
    with tg.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(tg.ones(4))
    (x * 2).backward(tg.ones(3))                 # a matching grad is fine
    np.testing.assert_allclose(x.grad.numpy(), 2)


def test_second_backward_through_released_graph():
    x = tg.randn(3, requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        loss.backward()
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()                               # allowed once retained
    x.grad = None
    shared = x.exp()
    (shared * 2).sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (shared * 3).sum().backward()


def test_integer_tensors_cannot_require_grad():
    for make in (lambda: tg.tensor([1, 2], requires_grad=True),
                 lambda: tg.zeros(2, dtype="int64", requires_grad=True),
                 lambda: tg.tensor([1, 2]).requires_grad_(),
                 lambda: tg.arange(3, requires_grad=True),
                 lambda: tg.tensor([True], requires_grad=True)):
        with pytest.raises(RuntimeError, match="floating"):
            make()
    x = tg.randn(3, requires_grad=True)
    assert not x.argmax().requires_grad and not (x > 0).requires_grad
    assert not x.long().requires_grad


def test_grad_of_unused_input():
    x, y = tg.randn(2, requires_grad=True), tg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = tg.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and np.allclose(gx.numpy(), 2)


@pytest.mark.skipif(not backend.cuda_available(), reason="needs CuPy and a GPU")
def test_device_mixing_names_both_devices():
    a = tg.randn(3, device="cpu")
    b = tg.randn(3, device="cuda")
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        a + b
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        tg.matmul(b, a)


@pytest.mark.skipif(backend.cuda_available(), reason="only without a GPU")
def test_cuda_without_cupy_says_how_to_install():
    with pytest.raises(RuntimeError, match="pip install"):
        tg.zeros(2, device="cuda")
