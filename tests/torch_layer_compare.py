"""Run a tinygrad_cv layer and its torch.nn twin on the same weights and compare everything.

``compare_layer(ours, theirs, x)`` copies ``theirs``' state_dict into ``ours`` through
``load_state_dict``, runs both forward on ``x`` (numpy), backpropagates the same random output
gradient and checks the output, the input gradient, every parameter gradient and every buffer.
"""
import numpy as np
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend


def host(t):
    """A NumPy copy of a Tensor (any device, grad or not)."""
    return backend.to_numpy(t.data)


def compare_layer(ours, theirs, x, *, train=True, rtol=1e-4, atol=1e-5, seed=0, steps=1,
                  device="cpu"):
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    theirs = theirs.to(dtype)
    ours.to(device)
    ours.to("float64" if x.dtype == np.float64 else "float32")
    ours.load_state_dict(theirs.state_dict())
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        xo = tg.Tensor(x, requires_grad=True, device=device)
        xt = torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        assert tuple(yo.shape) == tuple(yt.shape), (yo.shape, yt.shape)
        np.testing.assert_allclose(host(yo), yt.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg="forward")
        gy = rng.standard_normal(yt.shape).astype(x.dtype)
        ours.zero_grad()
        theirs.zero_grad()
        yo.backward(tg.Tensor(gy, device=device))
        yt.backward(torch.tensor(gy))
        np.testing.assert_allclose(host(xo.grad), xt.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg="input gradient")
        tparams = dict(theirs.named_parameters())
        oparams = dict(ours.named_parameters())
        assert set(tparams) == set(oparams)
        for name, p in tparams.items():
            np.testing.assert_allclose(host(oparams[name].grad), p.grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=f"gradient of {name}")
        tbuf = dict(theirs.named_buffers())
        obuf = dict(ours.named_buffers())
        assert set(tbuf) == set(obuf)
        for name, b in tbuf.items():
            np.testing.assert_allclose(host(obuf[name]), b.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"buffer {name}")
    return yo, yt
