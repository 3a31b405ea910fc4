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
