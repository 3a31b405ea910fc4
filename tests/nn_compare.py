"""Shared helpers for the nn tests: copy torch weights into our modules and compare forward,
input gradient and every parameter gradient."""
import numpy as np
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend

TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def copy_weights(ours, theirs, device="cpu"):
    """Load the torch module's state_dict into ours (through load_state_dict)."""
    sd = {k: backend.to_device(v.detach().numpy(), device) for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(sd)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


def to_np(t):
    return backend.to_numpy(t.data) if hasattr(t, "_tensor_marker") else t.detach().numpy()


def compare_modules(ours, theirs, x, dtype="float32", device="cpu", train=True, seed=0,
                    input_grad=True, tol=None):
    """Run both modules on ``x`` (a numpy array), backprop a random upstream gradient and
    compare the output, the input gradient and every parameter gradient by name."""
    tol = tol or TOL[dtype]
    ours.train(train)
    theirs.train(train)
    floating = np.issubdtype(x.dtype, np.floating)
    xs = x.astype(dtype) if floating else x
    xt = torch.tensor(xs, requires_grad=floating and input_grad)
    xo = tg.Tensor(backend.to_device(xs, device), requires_grad=floating and input_grad)
    yt = theirs(xt)
    yo = ours(xo)
    np.testing.assert_allclose(to_np(yo), yt.detach().numpy(), **tol)
    g = np.random.default_rng(seed).standard_normal(yt.shape).astype(dtype)
    yt.backward(torch.tensor(g))
    yo.backward(tg.Tensor(backend.to_device(g, device)))
    if floating and input_grad:
        np.testing.assert_allclose(to_np(xo.grad), xt.grad.numpy(), **tol)
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in theirs_params.items():
        q = ours_params[name]
        if p.grad is None:
            assert q.grad is None or not np.any(to_np(q.grad)), name
            continue
        assert q.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(to_np(q.grad), p.grad.numpy(), err_msg=name, **tol)
    return yo, yt
