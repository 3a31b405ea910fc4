"""Run a tinygrad_cv module and its torch.nn twin on the same weights and compare everything.

``compare_layer(ours, theirs, x)`` casts both modules to the input's dtype, copies ``theirs``'
state_dict into ``ours`` through ``load_state_dict`` (no missing or unexpected keys), runs both
forward on ``x`` (numpy), backpropagates the same random output gradient and checks, for each of
``steps`` steps: the output shape and values, the input gradient, every parameter gradient by
name (same names in the same order) and every buffer by name.

Its pieces serve tests that drive the modules themselves (several inputs, masks, states):
``copy_weights``, ``assert_same_state_layout``, ``assert_param_grads_match`` and ``host``.
"""
import numpy as np
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend

# default tolerances by dtype; a call may pass looser or tighter rtol/atol
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}


def host(t):
    """A NumPy copy of one of our Tensors (any device, grad or not), a torch tensor or an
    array."""
    if hasattr(t, "_tensor_marker"):
        return backend.to_numpy(t.array)
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def copy_weights(ours, theirs, device="cpu"):
    """Load the torch module's state_dict into ours (through load_state_dict, on ``device``)."""
    sd = {k: backend.to_device(v.detach().numpy(), device) for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(sd)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


def assert_same_state_layout(ours, theirs):
    """Same state_dict keys, in the same order, with the same shapes."""
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def _assert_same_named(ours_items, theirs_items, what):
    ours_d, theirs_d = dict(ours_items), dict(theirs_items)
    assert list(ours_d) == list(theirs_d), (what, list(ours_d), list(theirs_d))
    return ours_d, theirs_d


def assert_param_grads_match(ours, theirs, tol):
    """Every parameter gradient, by name (same names in torch's order); where torch has none,
    ours is None or zero."""
    oparams, tparams = _assert_same_named(ours.named_parameters(), theirs.named_parameters(),
                                          "parameters")
    for name, p in tparams.items():
        q = oparams[name]
        if p.grad is None:
            assert q.grad is None or not np.any(host(q.grad)), f"gradient of {name}"
            continue
        assert q.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(host(q.grad), p.grad.numpy(), err_msg=f"gradient of {name}",
                                   **tol)


def compare_layer(ours, theirs, x, dtype=None, *, train=True, rtol=None, atol=None, seed=0,
                  steps=1, device="cpu", input_grad=True):
    """Compare ``ours`` with ``theirs`` on ``x`` (numpy).

    ``dtype`` ("float32"/"float64") defaults to the dtype of a floating ``x`` and is required for
    an integer ``x`` (index inputs such as Embedding's; no input gradient then). A floating ``x``
    is cast to ``dtype``. ``rtol``/``atol`` default to ``TOL[dtype]``. Returns the last outputs
    ``(ours, theirs)``.
    """
    floating = np.issubdtype(x.dtype, np.floating)
    if dtype is None:
        assert floating, "pass dtype for an integer input"
        dtype = np.dtype(x.dtype).name
    tol = dict(TOL[dtype])
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    xs = x.astype(dtype) if floating else x
    with_input_grad = floating and input_grad

    theirs = theirs.to(TORCH_DTYPE[dtype])
    ours.to(device)
    ours.to(dtype)
    copy_weights(ours, theirs, device)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        xo = tg.Tensor(xs, requires_grad=with_input_grad, device=device)
        xt = torch.tensor(xs, requires_grad=with_input_grad)
        yo, yt = ours(xo), theirs(xt)
        assert tuple(yo.shape) == tuple(yt.shape), (yo.shape, yt.shape)
        np.testing.assert_allclose(host(yo), yt.detach().numpy(), err_msg="forward", **tol)
        gy = rng.standard_normal(yt.shape).astype(dtype)
        ours.zero_grad()
        theirs.zero_grad()
        yo.backward(tg.Tensor(gy, device=device))
        yt.backward(torch.tensor(gy))
        if with_input_grad:
            np.testing.assert_allclose(host(xo.grad), xt.grad.numpy(), err_msg="input gradient",
                                       **tol)
        assert_param_grads_match(ours, theirs, tol)
        obuf, tbuf = _assert_same_named(ours.named_buffers(), theirs.named_buffers(), "buffers")
        for name, b in tbuf.items():
            np.testing.assert_allclose(host(obuf[name]), b.numpy(), err_msg=f"buffer {name}", **tol)
    return yo, yt
