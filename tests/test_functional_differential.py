"""Differential tests of nn.functional's losses, activations and misc ops against torch (CPU):
values, gradients of every differentiable input, output dtypes and shapes, and errors where
torch raises.  Each new function is also gradchecked in float64."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _host(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else tg.backend.to_numpy(t.array)


def compare(ours_fn, torch_fn, arrays, grad=(0,), tol=None, seed=0):
    """Run both functions on the same arrays (those at ``grad`` positions require grad),
    backpropagate one random output gradient and compare output, dtype and gradients."""
    dtype = next(a.dtype.type for a in arrays if a.dtype.kind == "f")
    tol = tol or TOL[dtype]
    ours = [tg.Tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
    np.testing.assert_allclose(_host(y), _host(ty), **tol)
    if grad:
        up = np.random.default_rng(seed).standard_normal(tuple(ty.shape)).astype(dtype)
        y.backward(tg.Tensor(up))
        ty.backward(torch.tensor(up))
        for i in grad:
            np.testing.assert_allclose(_host(ours[i].grad), _host(theirs[i].grad),
                                       err_msg=f"gradient of input {i}", **tol)
    return y


# ---- F.pad -----------------------------------------------------------------------------------
@pytest.mark.parametrize("pad", [(-2, -2), (-3, -3), (-4, 0), (1, -5)])
def test_pad_crop_below_zero_raises_as_torch(pad):
    x = np.ones((2, 3), np.float32)
    with pytest.raises(RuntimeError):
        TF.pad(torch.tensor(x), pad)
    with pytest.raises(RuntimeError, match="negative output size"):
        F.pad(tg.Tensor(x), pad)


def test_pad_crop_to_zero_and_negative_constant_match_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    for pad in [(-2, -3), (-1, 2), (2, -1), (-1, 1, 1, -2)]:
        compare(lambda t: F.pad(t, pad, value=1.5), lambda t: TF.pad(t, pad, value=1.5), [x])
