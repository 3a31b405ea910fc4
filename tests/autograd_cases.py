"""Helpers shared by the op tests: run an op in tinygrad_cv and in torch on the same float64
arrays and compare outputs, gradients (and, on request, gradients of gradients)."""
import numpy as np
import torch

import tinygrad_cv as tg
from tinygrad_cv.autograd import grad as tg_grad
from tinygrad_cv.testing import gradcheck

RTOL, ATOL = 1e-7, 1e-9


def _outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _is_float(t):
    return t.dtype in (torch.float16, torch.float32, torch.float64) if isinstance(
        t, torch.Tensor) else tg.backend.is_floating(t.dtype)


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def make_inputs(arrays, requires_grad):
    """Our tensors and torch tensors over the same arrays (``requires_grad`` per input)."""
    if isinstance(requires_grad, bool):
        requires_grad = [requires_grad and np.issubdtype(np.asarray(a).dtype, np.floating)
                         for a in arrays]
    ours = [tg.tensor(np.array(a), requires_grad=r) for a, r in zip(arrays, requires_grad)]
    theirs = [torch.tensor(np.array(a), requires_grad=r) for a, r in zip(arrays, requires_grad)]
    return ours, theirs


def check_op(our_fn, torch_fn, arrays, requires_grad=True, seed=0, grad_check=True,
             rtol=RTOL, atol=ATOL):
    """Forward, backward (with a random incoming gradient) vs torch, and gradcheck."""
    ours, theirs = make_inputs(arrays, requires_grad)
    y_ours, y_theirs = _outputs(our_fn(*ours)), _outputs(torch_fn(*theirs))
    assert len(y_ours) == len(y_theirs)
    rng = np.random.default_rng(seed)
    gs = []
    for a, b in zip(y_ours, y_theirs):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        if _is_float(b):
            assert a.dtype == np.float64, a.dtype
            np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)
            gs.append(rng.standard_normal(tuple(b.shape)))
        else:
            np.testing.assert_array_equal(_np(a), _np(b))
            gs.append(None)
    pairs = [(a, b, g) for a, b, g in zip(y_ours, y_theirs, gs)
             if g is not None and b.requires_grad]
    if not pairs:
        return
    tg.autograd.backward([a for a, _, _ in pairs], [g for _, _, g in pairs])
    torch.autograd.backward([b for _, b, _ in pairs], [torch.tensor(g) for _, _, g in pairs])
    for x, t in zip(ours, theirs):
        if t.requires_grad:
            assert x.grad is not None
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
            assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
    if grad_check:
        fresh, _ = make_inputs(arrays, requires_grad)
        assert gradcheck(our_fn, tuple(fresh))


def check_gradgrad(our_fn, torch_fn, arrays, seed=0, rtol=1e-6, atol=1e-8):
    """d/dx <w, d<v, f(x)>/dx> against torch (both with create_graph=True)."""
    ours, theirs = make_inputs(arrays, True)
    rng = np.random.default_rng(seed)
    y_ours = [y for y in _outputs(our_fn(*ours)) if _is_float(y)]
    y_theirs = [y for y in _outputs(torch_fn(*theirs)) if _is_float(y)]
    vs = [rng.standard_normal(tuple(y.shape)) for y in y_theirs]
    g_ours = tg_grad(y_ours, ours, [tg.tensor(v) for v in vs], create_graph=True,
                     allow_unused=True)
    g_theirs = torch.autograd.grad(y_theirs, theirs, [torch.tensor(v) for v in vs],
                                   create_graph=True, allow_unused=True)
    total_ours, total_theirs = None, None
    for a, b in zip(g_ours, g_theirs):
        if b is None:
            continue
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)
        w = rng.standard_normal(tuple(b.shape))
        if b.requires_grad:
            s_o, s_t = (a * tg.tensor(w)).sum(), (b * torch.tensor(w)).sum()
            total_ours = s_o if total_ours is None else total_ours + s_o
            total_theirs = s_t if total_theirs is None else total_theirs + s_t
    if total_theirs is None:
        return
    hh_theirs = torch.autograd.grad(total_theirs, theirs, allow_unused=True)
    hh_ours = tg_grad(total_ours, ours, allow_unused=True) if total_ours is not None and \
        total_ours.requires_grad else [None] * len(ours)
    for a, b in zip(hh_ours, hh_theirs):
        if b is None:
            assert a is None or np.allclose(a.numpy(), 0)
            continue
        a = np.zeros(tuple(b.shape)) if a is None else a.numpy()
        np.testing.assert_allclose(a, b.numpy(), rtol=rtol, atol=atol)
