"""The tape scales: deep chains need no recursion, training keeps memory flat, and the graph
holds no reference cycles (so it is freed by reference counting alone, without gc)."""
import gc
import sys
import tracemalloc
import weakref

import numpy as np

import tinygrad_cv as tg


def test_10000_op_chain_backpropagates_without_recursion():
    x = tg.tensor([0.5, -0.25], dtype="float64", requires_grad=True)
    y = x
    for i in range(10_000):
        y = y * 1.0001 if i % 2 else y + 0.001
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)          # the default; backward must not depend on it
    try:
        y.sum().backward()
    finally:
        sys.setrecursionlimit(old)
    np.testing.assert_allclose(x.grad.numpy(), 1.0001 ** 5000, rtol=1e-10)


def test_deep_chain_create_graph_and_release():
    x = tg.tensor([0.3], dtype="float64", requires_grad=True)
    y = x
    for _ in range(3000):
        y = y.sin()
    (g,) = tg.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = tg.autograd.grad(g.sum(), x)
    assert np.isfinite(gg.numpy()).all()


def _mlp_params(rng):
    return [tg.tensor(rng.standard_normal((16, 32)) * 0.2, requires_grad=True),
            tg.tensor(np.zeros(32), requires_grad=True),
            tg.tensor(rng.standard_normal((32, 4)) * 0.2, requires_grad=True),
            tg.tensor(np.zeros(4), requires_grad=True)]


def _train_step(params, x, y, lr=0.05):
    W1, b1, W2, b2 = params
    h = (x @ W1 + b1).relu()
    logits = h @ W2 + b2
    loss = -(logits.log_softmax(-1) * y).sum(-1).mean()
    loss.backward()
    for p in params:
        p.array -= lr * p.grad.array
        p.grad = None
    return loss


def test_training_memory_stays_flat_without_gc():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    x = tg.tensor(rng.standard_normal((8, 16)))
    y = tg.tensor(np.eye(4)[rng.integers(0, 4, 8)])
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        losses = []
        for step in range(2000):
            loss = _train_step(params, x, y)
            if step % 100 == 0:
                losses.append(loss.item())
            if step == 500:
                at_500 = tracemalloc.get_traced_memory()[0]
        at_2000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    # 1,500 steps build and drop ~30,000 graph nodes holding ~20 MB of arrays; keeping even
    # one step's graph alive per step would grow by megabytes.  The bound leaves room for
    # CPython's free lists filling up (freed tuples stay traced by tracemalloc).
    assert at_2000 - at_500 < 512 * 1024, (at_500, at_2000)
    assert losses[-1] < losses[0]


def test_graph_is_freed_by_reference_counting():
    """With gc disabled, dropping the loss frees every node and intermediate tensor."""
    rng = np.random.default_rng(1)
    params = _mlp_params(rng)
    x = tg.tensor(rng.standard_normal((4, 16)))
    gc.collect()
    gc.disable()
    try:
        for backward in (False, True):
            h = (x @ params[0] + params[1]).tanh()
            out = (h @ params[2] + params[3]).softmax(-1)
            loss = (out * out).sum()
            refs = [weakref.ref(t) for t in (h, out, loss)]
            refs += [weakref.ref(t.grad_fn) for t in (h, out, loss)]
            if backward:
                loss.backward()
            del h, out, loss
            assert all(r() is None for r in refs), [r() for r in refs]
    finally:
        gc.enable()


def test_retained_graph_is_also_freed():
    x = tg.randn(3, requires_grad=True)
    gc.disable()
    try:
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        (g,) = tg.autograd.grad((x.sin() ** 2).sum(), x, create_graph=True)
        refs = [weakref.ref(y), weakref.ref(y.grad_fn), weakref.ref(g), weakref.ref(g.grad_fn)]
        del y, g
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_no_leaked_graph_objects_after_many_steps():
    """Count live Function nodes with gc's object list after training (gc off during the loop)."""
    from tinygrad_cv.autograd import Function

    def live_nodes():
        return sum(issubclass(type(o), Function) for o in gc.get_objects())

    rng = np.random.default_rng(2)
    params = _mlp_params(rng)
    x = tg.tensor(rng.standard_normal((8, 16)))
    y = tg.tensor(np.eye(4)[rng.integers(0, 4, 8)])
    gc.collect()
    before = live_nodes()
    gc.disable()
    try:
        for _ in range(200):
            _train_step(params, x, y)
        after = live_nodes()
    finally:
        gc.enable()
    assert after - before <= 20, (before, after)
