"""``Tensor.data`` with torch's meaning: a Tensor on the same storage, off the graph, with a
version counter of its own; ``p.data = t`` gives ``p`` another storage (as torch)."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


def test_data_is_an_untracked_tensor_on_the_same_storage():
    p = tg.tensor(np.arange(4.0), requires_grad=True)
    d = p.data
    assert isinstance(d, tg.Tensor) and d.array is p.array
    assert not d.requires_grad and d.creator is None and d.is_leaf and d.grad is None
    d[1] = 10.0
    d.mul_(2)            # no leaf error: d does not require grad
    np.testing.assert_array_equal(p.detach().numpy(), [0.0, 20.0, 4.0, 6.0])
    assert p.requires_grad and p.is_leaf


def test_data_of_a_non_leaf_and_its_counter_as_torch():
    """Changes through .data bump neither the tensor's version nor trip the saved-value check
    (torch's documented hazard: the gradient uses the changed value)."""
    results = []
    for lib in (tg, torch):
        x = lib.tensor(np.array([0.5, 1.5]), requires_grad=True)
        y = x.exp()
        d = y.data
        assert not d.requires_grad and d.grad_fn is None
        d.add_(1)
        assert y._version == 0 and d._version == 1
        y.sum().backward()
        results.append(x.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_setting_data_replaces_the_storage_as_torch():
    for lib in (tg, torch):
        p = lib.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
        p.grad = lib.tensor(np.full(2, 3.0, dtype=np.float32))
        new = lib.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        p.data = new
        assert tuple(p.shape) == (2, 3) and p.requires_grad and p.is_leaf and p._version == 0
        np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.0])
        with lib.no_grad():
            p.add_(1)
        np.testing.assert_array_equal(new.numpy(), np.arange(1.0, 7.0).reshape(2, 3))
        p.grad = None
        (p * p).sum().backward()
        np.testing.assert_array_equal(p.grad.numpy(), 2 * np.arange(1.0, 7.0).reshape(2, 3))


def test_setting_data_checks_its_argument_as_torch():
    for lib in (tg, torch):
        p = lib.tensor(np.ones(2), requires_grad=True)
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
            p.data = [1.0, 2.0]
        with pytest.raises(RuntimeError, match="must be floating point"):
            p.data = lib.tensor([1, 2])
        q = lib.tensor([1.0, 2.0])
        q.data = lib.tensor([3, 4, 5])        # no grad: any dtype
        assert q.tolist() == [3, 4, 5]


def test_grad_data_updates_like_public_scripts():
    """``p.data.add_(-lr, p.grad.data)``-style updates (the pre-optimizer idiom) match torch."""
    w0 = np.random.default_rng(0).standard_normal((3, 2))
    x = np.random.default_rng(1).standard_normal((5, 3))
    finals = []
    for lib in (tg, torch):
        w = lib.tensor(w0, requires_grad=True)
        for _ in range(3):
            loss = ((lib.tensor(x) @ w).sigmoid() ** 2).sum()
            loss.backward()
            w.data.add_(w.grad.data, alpha=-0.1)
            w.grad.data.zero_()
        finals.append(w.detach().numpy().copy())
        assert w._version == 0
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-12)


def test_raw_array_is_array():
    a = np.arange(3.0)
    t = tg.Tensor.wrap(a)
    assert t.array is a and t.data.array is a and t.data is not t.data
