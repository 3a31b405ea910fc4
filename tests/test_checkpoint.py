"""tinygrad_cv.utils.checkpoint against torch.utils.checkpoint: the same models and inputs
(weights copied) with and without checkpointing give the same outputs and gradients; random
draws are replayed; the checkpointed forward keeps no intermediate tensors."""
import gc
import warnings
import weakref

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcp
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.utils.checkpoint import checkpoint, checkpoint_sequential

REENTRANT = [True, False]


def _mlp_pair(seed=0, width=8, depth=3):
    torch.manual_seed(seed)
    t_layers, g_layers = [], []
    d_in = 4
    for k in range(depth):
        d_out = 3 if k == depth - 1 else width
        t_layers += [torch.nn.Linear(d_in, d_out), torch.nn.Tanh()]
        g_layers += [tg.nn.Linear(d_in, d_out), tg.nn.Tanh()]
        d_in = d_out
    tm, gm = torch.nn.Sequential(*t_layers), tg.nn.Sequential(*g_layers)
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, gm


def _x(shape=(5, 4), seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _close(a, b, tol=1e-6):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _assert_grads(tm, gm):
    for (name, p), q in zip(tm.named_parameters(), gm.parameters()):
        assert q.grad is not None, name
        _close(p.grad, q.grad)


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_outputs_and_gradients_equal_torch_and_the_plain_run(reentrant):
    x = _x()
    tm, gm = _mlp_pair()
    tx, gx = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ty = tcp.checkpoint(tm, tx, use_reentrant=reentrant)
    gy = checkpoint(gm, gx, use_reentrant=reentrant)
    _close(ty, gy)
    (ty ** 2).sum().backward()
    (gy ** 2).sum().backward()
    _close(tx.grad, gx.grad)
    _assert_grads(tm, gm)
    # the same model without checkpointing: the same gradients
    _, plain = _mlp_pair()
    px = tg.tensor(x, requires_grad=True)
    (plain(px) ** 2).sum().backward()
    _close(px.grad, gx.grad)
    for p, q in zip(plain.parameters(), gm.parameters()):
        _close(p.grad, q.grad)


@pytest.mark.parametrize("reentrant", REENTRANT)
@settings(max_examples=8, deadline=None)
@given(segments=st.integers(1, 4), batch=st.integers(1, 4), depth=st.integers(1, 4))
def test_checkpoint_sequential_equals_torch(reentrant, segments, batch, depth):
    segments = min(segments, 2 * depth)     # (torch and we raise for more segments than layers)
    x = _x((batch, 4))
    tm, gm = _mlp_pair(depth=depth)
    tx, gx = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ty = tcp.checkpoint_sequential(tm, segments, tx, use_reentrant=reentrant)
    gy = checkpoint_sequential(gm, segments, gx, use_reentrant=reentrant)
    _close(ty, gy)
    ty.sum().backward()
    gy.sum().backward()
    _close(tx.grad, gx.grad)
    _assert_grads(tm, gm)


def test_checkpoint_sequential_takes_a_list_of_functions_and_rejects_other_keywords():
    gx = tg.tensor(_x(), requires_grad=True)
    y = checkpoint_sequential([tg.tanh, lambda v: v * 2, tg.sin], 2, gx, use_reentrant=False)
    _close(y, np.sin(np.tanh(_x()) * 2))
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint_sequential([tg.tanh], 1, gx, use_reentrant=False, foo=1)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        tcp.checkpoint_sequential([torch.tanh], 1, torch.zeros(1), use_reentrant=False, foo=1)
    with pytest.raises(ValueError):
        tcp.checkpoint_sequential([torch.tanh, torch.sin], 3, torch.zeros(1), use_reentrant=False)
    with pytest.raises(ValueError, match="3 segments of 2 functions"):
        checkpoint_sequential([tg.tanh, tg.sin], 3, gx, use_reentrant=False)


class _DropNet:
    """Linear -> dropout -> Linear -> dropout in both frameworks, same weights."""

    def __init__(self, lib):
        nn = lib.nn
        self.lib = lib
        self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Linear(16, 6), nn.Dropout(0.3))


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_dropout_gradients_equal_the_plain_run_and_the_stream_continues(reentrant):
    x = _x((8, 6))
    results = {}
    for mode in ("plain", "checkpoint", "no-rng"):
        tg.manual_seed(3)
        model = _DropNet(tg).body
        gx = tg.tensor(x, requires_grad=True)
        tg.manual_seed(7)
        if mode == "plain":
            y = model(gx)
        else:
            y = checkpoint(model, gx, use_reentrant=reentrant,
                           preserve_rng_state=(mode == "checkpoint"))
        (y * tg.tensor(x)).sum().backward()
        after = tg.rand(4).numpy()      # the stream after backward: as if nothing recomputed
        results[mode] = (y.detach().numpy(), gx.grad.numpy(),
                         [p.grad.numpy() for p in model.parameters()], after)
    plain, ck, no_rng = results["plain"], results["checkpoint"], results["no-rng"]
    np.testing.assert_array_equal(plain[0], ck[0])
    np.testing.assert_allclose(plain[1], ck[1], rtol=1e-6, atol=1e-7)
    for a, b in zip(plain[2], ck[2]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(plain[3], ck[3])
    # without preserve_rng_state the recomputation draws other masks: other gradients
    assert not np.allclose(plain[1], no_rng[1])


def test_reentrant_without_grad_inputs_warns_and_gives_no_gradients_as_torch():
    x = _x()
    tm, gm = _mlp_pair()
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        ty = tcp.checkpoint(tm, torch.tensor(x), use_reentrant=True)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        gy = checkpoint(gm, tg.tensor(x), use_reentrant=True)
    assert ty.requires_grad is gy.requires_grad is False
    _close(ty, gy)


def test_non_reentrant_without_grad_inputs_still_trains_the_parameters():
    x = _x()
    tm, gm = _mlp_pair()
    ty = tcp.checkpoint(tm, torch.tensor(x), use_reentrant=False)
    gy = checkpoint(gm, tg.tensor(x), use_reentrant=False)
    assert ty.requires_grad and gy.requires_grad
    ty.sum().backward()
    gy.sum().backward()
    _assert_grads(tm, gm)


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_non_tensor_arguments_and_outputs_and_tuples(reentrant):
    x, w = _x(), _x((4, 4), seed=2)

    def fn(lib):
        def f(a, scale, b, tag):
            h = lib.tanh(a @ b) * scale
            return h.sum(1), tag, (h * h).mean(0), None
        return f

    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    gx, gw = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
    tout = tcp.checkpoint(fn(torch), tx, 2.5, tw, "tag", use_reentrant=reentrant)
    gout = checkpoint(fn(tg), gx, 2.5, gw, "tag", use_reentrant=reentrant)
    assert isinstance(gout, tuple) and len(gout) == 4
    assert gout[1] == tout[1] == "tag" and gout[3] is None and tout[3] is None
    _close(tout[0], gout[0])
    _close(tout[2], gout[2])
    (tout[0].sum() + 3 * tout[2].sum()).backward()
    (gout[0].sum() + 3 * gout[2].sum()).backward()
    _close(tx.grad, gx.grad)
    _close(tw.grad, gw.grad)


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_one_output_of_several_used(reentrant):
    x = _x()
    tx, gx = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ta, _ = tcp.checkpoint(lambda v: (v.sin(), v.cos()), tx, use_reentrant=reentrant)
    ga, _ = checkpoint(lambda v: (v.sin(), v.cos()), gx, use_reentrant=reentrant)
    ta.sum().backward()
    ga.sum().backward()
    _close(tx.grad, gx.grad)


def test_non_reentrant_keyword_arguments_and_autograd_grad():
    x, w = _x(), _x((4, 3), seed=2)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    gx, gw = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
    ty = tcp.checkpoint(lambda a, b=None: (a @ b).exp(), tx, b=tw, use_reentrant=False)
    gy = checkpoint(lambda a, b=None: (a @ b).exp(), gx, b=gw, use_reentrant=False)
    tgrads = torch.autograd.grad(ty.sum(), [tx, tw])
    ggrads = tg.autograd.grad(gy.sum(), [gx, gw])
    for a, b in zip(tgrads, ggrads):
        _close(a, b, tol=1e-5)
    assert gx.grad is None and gw.grad is None


def test_non_reentrant_output_that_needs_no_grad_stays_so():
    gx = tg.tensor(_x(), requires_grad=True)
    a, b = checkpoint(lambda v: (v * 2, tg.tensor(_x()) + 1), gx, use_reentrant=False)
    tx = torch.tensor(_x(), requires_grad=True)
    ta, tb = tcp.checkpoint(lambda v: (v * 2, torch.tensor(_x()) + 1), tx, use_reentrant=False)
    assert (a.requires_grad, b.requires_grad) == (ta.requires_grad, tb.requires_grad) == (True, False)


def test_argument_errors_and_warning_as_torch():
    x = tg.tensor(_x(), requires_grad=True)
    tx = torch.tensor(_x(), requires_grad=True)
    for lib_ck, v in ((tcp.checkpoint, tx), (checkpoint, x)):
        with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
            lib_ck(lambda a: a * 2, v)
        with pytest.raises(ValueError, match="Unexpected keyword arguments: k"):
            lib_ck(lambda a, k=1: a * k, v, use_reentrant=True, k=2)
        with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
            lib_ck(lambda a: a, v, use_reentrant=True, debug=True)
        with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
            lib_ck(lambda a: a, v, use_reentrant=True,
                   context_fn=lambda: (warnings.catch_warnings(), warnings.catch_warnings()))
        with pytest.raises(ValueError, match="determinism_check should be one of"):
            lib_ck(lambda a: a, v, use_reentrant=False, determinism_check="exact")
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
        checkpoint_sequential([tg.tanh], 1, x)


def test_context_fn_wraps_forward_and_recomputation():
    calls = []

    class Ctx:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            calls.append(self.name)

        def __exit__(self, *exc):
            return False

    x = tg.tensor(_x(), requires_grad=True)
    y = checkpoint(tg.sin, x, use_reentrant=False,
                   context_fn=lambda: (Ctx("forward"), Ctx("recompute")))
    assert calls == ["forward"]
    y.sum().backward()
    assert calls == ["forward", "recompute"]
    _close(x.grad, np.cos(_x()))


def test_recomputation_with_other_shapes_is_an_error():
    calls = []

    def changing(v):
        calls.append(1)
        return v[: 5 - len(calls)] * 2

    y = checkpoint(changing, tg.tensor(_x(), requires_grad=True), use_reentrant=False)
    with pytest.raises(RuntimeError, match="different metadata"):
        y.sum().backward()


def _reachable_nodes(t):
    nodes, stack = set(), [t.creator]
    while stack:
        node = stack.pop()
        if node is None or node in nodes:
            continue
        nodes.add(node)
        stack.extend(x.creator for x in node.inputs if isinstance(x, tg.Tensor))
    return nodes


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_the_checkpointed_forward_keeps_no_intermediate_tensors(reentrant):
    kept = []

    def body(v):
        h = v
        for _ in range(6):
            h = tg.tanh(h * 1.5)
            kept.append(weakref.ref(h))
        return h

    x = tg.tensor(_x(), requires_grad=True)
    plain = body(x)
    gc.collect()
    assert all(r() is not None for r in kept)      # without checkpoint: all alive
    assert len(_reachable_nodes(plain)) == 12
    kept.clear()
    y = checkpoint(body, x, use_reentrant=reentrant)
    gc.collect()
    assert all(r() is None for r in kept[:-1])      # the last one's array is y's
    nodes = _reachable_nodes(y)
    assert len(nodes) == 1
    (node,) = nodes
    assert all(s is x.array or s is y.array for s in node.saved if s is not None)
    y.sum().backward()
    _close(x.grad, _grad_of_body(_x()))


def _grad_of_body(x):
    tx = torch.tensor(x, requires_grad=True)
    h = tx
    for _ in range(6):
        h = torch.tanh(h * 1.5)
    h.sum().backward()
    return tx.grad.numpy()


@pytest.mark.parametrize("loss_order", ["outer-first", "checkpoint-first"])
def test_non_reentrant_closure_over_a_tensor_of_the_callers_graph(loss_order):
    """A tensor computed outside (on the graph) and used through a closure gets its gradient
    through the checkpoint and the caller's graph, whichever runs first in backward."""
    x, w = _x(), _x((4,), seed=2)
    results = []
    for lib, ck in ((torch, tcp.checkpoint), (tg, checkpoint)):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        h = tw * 2
        z = h.exp()
        y = ck(lambda a: (a * h).tanh(), tx, use_reentrant=False)
        loss = z.sum() + y.sum() if loss_order == "outer-first" else y.sum() + 3 * h.sum()
        loss.backward()
        results.append((tx.grad, tw.grad))
    for a, b in zip(*results):
        _close(a, b, tol=1e-5)


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_nested_checkpoints(reentrant):
    x, w = _x(), _x((4,), seed=2)
    results = []
    for lib, ck in ((torch, tcp.checkpoint), (tg, checkpoint)):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = ck(lambda a: ck(lambda b: (b * tw).sin(), a, use_reentrant=reentrant).exp(), tx,
               use_reentrant=reentrant)
        y.sum().backward()
        results.append((y, tx.grad, tw.grad))
    for a, b in zip(*results):
        _close(a, b, tol=1e-5)


def test_non_reentrant_gradient_penalty_through_create_graph():
    """d/dtheta of ||d D(x)/dx||: the checkpoint's backward is itself differentiated."""
    x = _x()
    tm, gm = _mlp_pair()
    results = []
    for lib, model in ((torch, tm), (tg, gm)):
        tx = lib.tensor(x, requires_grad=True)
        xi = tx * 3
        d = (tcp.checkpoint if lib is torch else checkpoint)(model, xi, use_reentrant=False)
        g, = lib.autograd.grad(d.sum(), [xi], create_graph=True)
        ((g.norm(2, dim=1) - 1) ** 2).mean().backward()
        results.append(tx.grad)
    _close(*results, tol=1e-5)
    _assert_grads(tm, gm)
    with pytest.raises(RuntimeError, match="first-order backward only"):
        y = checkpoint(gm, tg.tensor(x, requires_grad=True), use_reentrant=True)
        tg.autograd.grad(y.sum(), list(gm.parameters())[:1], create_graph=True)


def test_a_cnn_node_holds_only_the_input_and_the_parameters():
    torch.manual_seed(0)
    nn = tg.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.2), nn.Linear(8 * 3 * 3, 5))
    x = tg.randn(4, 3, 8, 8, requires_grad=True)
    y = checkpoint(model, x, use_reentrant=False)
    node = y.creator
    assert node.inputs[0] is x
    assert [id(t) for t in node.inputs[1:]] == [id(p) for p in model.parameters()]
    assert len(_reachable_nodes(y)) == 1
