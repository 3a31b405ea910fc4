"""Recurrent layers and their fused Functions: gradcheck, primitive-composition references and
torch.nn (same weights through load_state_dict) forward/backward comparisons."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.functional.recurrent import GRUSequence, LSTMSequence, RNNSequence
from tinygrad_cv.testing import gradcheck

from torch_compare import (assert_param_grads_match, assert_same_state_layout, copy_weights,
                           host)

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


# ---- primitive-composition references (Tensor ops only) -----------------------------------
def ref_rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    a = x @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        a = a + b_ih + b_hh
    return a.tanh() if nonlinearity == "tanh" else a.relu()


def ref_lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    a = x @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        a = a + b_ih + b_hh
    H = h.shape[-1]
    i, f = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid()
    g, o = a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def ref_gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    gx = x @ w_ih.T
    gh = h @ w_hh.T
    if b_ih is not None:
        gx = gx + b_ih
        gh = gh + b_hh
    H = h.shape[-1]
    r = (gx[:, :H] + gh[:, :H]).sigmoid()
    z = (gx[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()
    n = (gx[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
    return (1 - z) * n + z * h


def ref_sequence(kind, x, h0, c0, weights, reverse=False, nonlinearity="tanh"):
    """Step-by-step loop over x (T, N, I) built from the reference steps."""
    T = x.shape[0]
    order = range(T - 1, -1, -1) if reverse else range(T)
    h, c = h0, c0
    outs = [None] * T
    for t in order:
        if kind == "LSTM":
            h, c = ref_lstm_step(x[t], h, c, *weights)
        elif kind == "GRU":
            h = ref_gru_step(x[t], h, *weights)
        else:
            h = ref_rnn_step(x[t], h, *weights, nonlinearity=nonlinearity)
        outs[t] = h
    out = tg.stack(outs, dim=0)
    return (out, h, c) if kind == "LSTM" else (out, h)


def fused_sequence(kind, x, h0, c0, weights, reverse=False, nonlinearity="tanh"):
    if kind == "LSTM":
        return F.lstm_sequence(x, h0, c0, *weights, reverse=reverse)
    if kind == "GRU":
        return F.gru_sequence(x, h0, *weights, reverse=reverse)
    return F.rnn_sequence(x, h0, *weights, nonlinearity=nonlinearity, reverse=reverse)


def make_inputs(kind, T, N, I, H, bias, rng, dtype="float64", scale=0.6):
    G = GATES[kind]
    arrs = [rng.standard_normal((T, N, I)), rng.standard_normal((N, H)),
            rng.standard_normal((N, H))]
    ws = [rng.standard_normal((G * H, I)) * scale, rng.standard_normal((G * H, H)) * scale]
    if bias:
        ws += [rng.standard_normal(G * H) * scale, rng.standard_normal(G * H) * scale]
    x, h0, c0 = [tg.Tensor(a.astype(dtype), requires_grad=True) for a in arrs]
    weights = [tg.Tensor(w.astype(dtype), requires_grad=True) for w in ws]
    if not bias:
        weights += [None, None]
    return x, h0, c0, weights


def grads_of(outputs, leaves, seed=1):
    """Backprop a fixed random projection of every output; return the leaves' grads."""
    rng = np.random.default_rng(seed)
    loss = None
    for o in outputs:
        w = tg.Tensor(rng.standard_normal(o.shape).astype(o.dtype))
        term = (o * w).sum()
        loss = term if loss is None else loss + term
    for t in leaves:
        t.grad = None
    loss.backward()
    return [host(t.grad) for t in leaves]


# ---- fused Functions: gradcheck and reference composition ---------------------------------
KINDS = [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", None), ("GRU", None)]


@pytest.mark.parametrize("kind,nl", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_sequence_function_gradcheck(kind, nl, reverse, bias):
    rng = np.random.default_rng(3)
    x, h0, c0, ws = make_inputs(kind, 3, 2, 3, 4, bias, rng)
    live = [w for w in ws if w is not None]

    def fn(x, h0, c0, *wl):
        full = list(wl) + [None] * (4 - len(wl))
        return fused_sequence(kind, x, h0, c0, full, reverse, nl or "tanh")

    assert gradcheck(fn, (x, h0, c0, *live))


@pytest.mark.parametrize("kind,nl", KINDS)
def test_cell_function_gradcheck(kind, nl):
    rng = np.random.default_rng(4)
    x, h0, c0, ws = make_inputs(kind, 1, 3, 2, 5, True, rng)
    x1 = tg.Tensor(x.array[0], requires_grad=True)
    if kind == "LSTM":
        fn = lambda x, h, c, *w: F.lstm_cell(x, h, c, *w)  # noqa: E731
        args = (x1, h0, c0, *ws)
    elif kind == "GRU":
        fn = lambda x, h, *w: F.gru_cell(x, h, *w)  # noqa: E731
        args = (x1, h0, *ws)
    else:
        cell = F.rnn_tanh_cell if nl == "tanh" else F.rnn_relu_cell
        fn = lambda x, h, *w: cell(x, h, *w)  # noqa: E731
        args = (x1, h0, *ws)
    assert gradcheck(fn, args)


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(KINDS), T=st.integers(1, 6), N=st.integers(1, 4),
       I=st.integers(1, 5), H=st.integers(1, 6), bias=st.booleans(), reverse=st.booleans(),
       seed=st.integers(0, 2**16))
def test_sequence_function_matches_primitive_composition(kind, T, N, I, H, bias, reverse, seed):
    kind, nl = kind
    rng = np.random.default_rng(seed)
    x, h0, c0, ws = make_inputs(kind, T, N, I, H, bias, rng)
    leaves = [x, h0] + ([c0] if kind == "LSTM" else []) + [w for w in ws if w is not None]
    fused = fused_sequence(kind, x, h0, c0, ws, reverse, nl or "tanh")
    g_fused = grads_of(fused, leaves)
    ref = ref_sequence(kind, x, h0, c0, ws, reverse, nl or "tanh")
    g_ref = grads_of(ref, leaves)
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(host(a), host(b), **TOL["float64"])
    for a, b in zip(g_fused, g_ref):
        np.testing.assert_allclose(a, b, **TOL["float64"])


@pytest.mark.parametrize("kind,nl", KINDS)
def test_cell_function_matches_primitive_composition(kind, nl):
    rng = np.random.default_rng(5)
    x, h0, c0, ws = make_inputs(kind, 1, 4, 3, 5, True, rng)
    x1 = tg.Tensor(x.array[0], requires_grad=True)
    leaves = [x1, h0, c0, *ws] if kind == "LSTM" else [x1, h0, *ws]
    if kind == "LSTM":
        fused, ref = F.lstm_cell(x1, h0, c0, *ws), ref_lstm_step(x1, h0, c0, *ws)
    elif kind == "GRU":
        fused, ref = (F.gru_cell(x1, h0, *ws),), (ref_gru_step(x1, h0, *ws),)
    else:
        cell = F.rnn_tanh_cell if nl == "tanh" else F.rnn_relu_cell
        fused, ref = (cell(x1, h0, *ws),), (ref_rnn_step(x1, h0, *ws, nonlinearity=nl),)
    g_fused, g_ref = grads_of(fused, leaves), grads_of(ref, leaves)
    for a, b in zip(list(fused) + g_fused, list(ref) + g_ref):
        np.testing.assert_allclose(host(a), host(b), **TOL["float64"])


def test_fused_functions_are_first_order_only():
    rng = np.random.default_rng(0)
    x, h0, c0, ws = make_inputs("LSTM", 2, 2, 2, 2, True, rng)
    out, h, c = F.lstm_sequence(x, h0, c0, *ws)
    with pytest.raises(RuntimeError, match="first-order"):
        tg.autograd.grad([out.sum()], [x], create_graph=True)


@pytest.mark.parametrize("kind,nl", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_backward_leaves_the_output_gradient_untouched(kind, nl, reverse):
    """The backward accumulates W_hh^T d a_t into its copy of dL/doutput; with N = 1 the
    feature-major view of the caller's gradient is already contiguous, and must still be
    copied (the same gradient array also reaches the other consumers of the output)."""
    rng = np.random.default_rng(0)
    x, h0, c0, ws = make_inputs(kind, 4, 1, 3, 5, True, rng)
    outs = _run_kind(kind, nl, x, h0, c0, ws, reverse)
    g = tg.Tensor(rng.standard_normal(tuple(outs[0].shape)))
    kept = host(g).copy()
    outs[0].backward(g)
    np.testing.assert_array_equal(host(g), kept)
    ref_x = tg.Tensor(host(x), requires_grad=True)
    ref = _run_kind(kind, nl, ref_x, h0, c0, ws, reverse)
    ref[0].backward(tg.Tensor(kept))
    np.testing.assert_allclose(host(x.grad), host(ref_x.grad), **TOL["float64"])


def _run_kind(kind, nl, x, h0, c0, ws, reverse):
    if kind == "LSTM":
        return F.lstm_sequence(x, h0, c0, *ws, reverse=reverse)
    if kind == "GRU":
        return F.gru_sequence(x, h0, *ws, reverse=reverse)
    return F.rnn_sequence(x, h0, *ws, nonlinearity=nl, reverse=reverse)


# ---- layers against torch.nn --------------------------------------------------------------
def compare_outputs_and_grads(ours, theirs, outs_o, outs_t, leaves, rng, dtype):
    """Compare our outputs with torch's, backpropagate loss = sum_i sum(w_i * out_i) with the
    same random weights w_i through both, and compare the gradients of the (ours, torch) input
    pairs in ``leaves`` and of every parameter."""
    tol = TOL[dtype]
    loss_o = loss_t = 0
    for a, b in zip(outs_o, outs_t):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(host(a), host(b), **tol)
        w = rng.standard_normal(b.shape).astype(dtype)
        loss_t = loss_t + (b * torch.tensor(w)).sum()
        loss_o = loss_o + (a * tg.Tensor(w)).sum()
    loss_t.backward()
    loss_o.backward()
    for a, b in leaves:
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), **tol)
    assert_param_grads_match(ours, theirs, tol)


def torch_layer(kind, *args, **kw):
    return getattr(torch.nn, kind)(*args, **kw)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["RNN", "LSTM", "GRU"]), T=st.integers(1, 5), N=st.integers(1, 3),
       I=st.integers(1, 4), H=st.integers(1, 5), layers=st.integers(1, 3),
       batch_first=st.booleans(), bidirectional=st.booleans(), bias=st.booleans(),
       give_h0=st.booleans(), relu=st.booleans(), train=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_sequence_layers_match_torch(kind, T, N, I, H, layers, batch_first, bidirectional,
                                     bias, give_h0, relu, train, dtype, seed):
    torch.manual_seed(seed)
    kw = dict(num_layers=layers, bias=bias, batch_first=batch_first,
              bidirectional=bidirectional)
    if kind == "RNN" and relu:
        kw["nonlinearity"] = "relu"
    theirs = torch_layer(kind, I, H, **kw).to(getattr(torch, dtype))
    ours = getattr(nn, kind)(I, H, dtype=dtype, **kw)
    assert_same_state_layout(ours, theirs)
    copy_weights(ours, theirs)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(dtype)
    D = 2 if bidirectional else 1
    xt, xo = torch.tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    states_t = states_o = None
    state_leaves = []
    if give_h0:
        hs = [rng.standard_normal((layers * D, N, H)).astype(dtype)
              for _ in range(2 if kind == "LSTM" else 1)]
        st_t = [torch.tensor(h, requires_grad=True) for h in hs]
        st_o = [tg.Tensor(h, requires_grad=True) for h in hs]
        state_leaves = list(zip(st_o, st_t))
        states_t = tuple(st_t) if kind == "LSTM" else st_t[0]
        states_o = tuple(st_o) if kind == "LSTM" else st_o[0]
    out_t, hn_t = theirs(xt, states_t)
    out_o, hn_o = ours(xo, states_o)
    outs_t = [out_t] + (list(hn_t) if kind == "LSTM" else [hn_t])
    outs_o = [out_o] + (list(hn_o) if kind == "LSTM" else [hn_o])
    compare_outputs_and_grads(ours, theirs, outs_o, outs_t, [(xo, xt)] + state_leaves, rng,
                              dtype)


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(["RNNCell", "LSTMCell", "GRUCell"]), N=st.integers(1, 4),
       I=st.integers(1, 5), H=st.integers(1, 5), bias=st.booleans(), give_h=st.booleans(),
       unbatched=st.booleans(), relu=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 2**16))
def test_cells_match_torch(kind, N, I, H, bias, give_h, unbatched, relu, dtype, seed):
    torch.manual_seed(seed)
    kw = dict(bias=bias)
    if kind == "RNNCell" and relu:
        kw["nonlinearity"] = "relu"
    theirs = getattr(torch.nn, kind)(I, H, **kw).to(getattr(torch, dtype))
    ours = getattr(nn, kind)(I, H, dtype=dtype, **kw)
    copy_weights(ours, theirs)
    rng = np.random.default_rng(seed)
    lead = () if unbatched else (N,)
    x = rng.standard_normal(lead + (I,)).astype(dtype)
    xt, xo = torch.tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    hx_t = hx_o = None
    leaves = []
    if give_h:
        hs = [rng.standard_normal(lead + (H,)).astype(dtype)
              for _ in range(2 if kind == "LSTMCell" else 1)]
        ht = [torch.tensor(h, requires_grad=True) for h in hs]
        ho = [tg.Tensor(h, requires_grad=True) for h in hs]
        leaves = list(zip(ho, ht))
        hx_t = tuple(ht) if kind == "LSTMCell" else ht[0]
        hx_o = tuple(ho) if kind == "LSTMCell" else ho[0]
    yt, yo = theirs(xt, hx_t), ours(xo, hx_o)
    yt = list(yt) if isinstance(yt, tuple) else [yt]
    yo = list(yo) if isinstance(yo, tuple) else [yo]
    compare_outputs_and_grads(ours, theirs, yo, yt, [(xo, xt)] + leaves, rng, dtype)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_sequence_input_matches_torch(kind):
    torch.manual_seed(0)
    theirs = torch_layer(kind, 3, 4, num_layers=2, bidirectional=True).double()
    ours = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype="float64")
    copy_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((5, 3))
    out_t, hn_t = theirs(torch.tensor(x))
    out_o, hn_o = ours(tg.Tensor(x))
    assert out_o.shape == (5, 8)
    np.testing.assert_allclose(host(out_o), host(out_t), **TOL["float64"])
    hn_t = hn_t if kind != "LSTM" else hn_t[0]
    hn_o = hn_o if kind != "LSTM" else hn_o[0]
    assert hn_o.shape == (4, 4)
    np.testing.assert_allclose(host(hn_o), host(hn_t), **TOL["float64"])


def test_parameter_names_shapes_and_init_range():
    m = nn.LSTM(7, 10, num_layers=2, bidirectional=True)
    t = torch.nn.LSTM(7, 10, num_layers=2, bidirectional=True)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    k = 1 / math.sqrt(10)
    for name, p in m.named_parameters():
        a = host(p)
        assert a.dtype == np.float32
        assert a.min() >= -k and a.max() <= k, name
        assert a.std() > k / 4, name  # really spread over U(-k, k)
    g = nn.GRUCell(3, 6, bias=False)
    assert [n for n, _ in g.named_parameters()] == ["weight_ih", "weight_hh"]
    assert tuple(g.weight_ih.shape) == (18, 3)


def test_dropout_between_layers():
    tg.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=1.0)
    x = tg.randn(5, 2, 3)
    out_train, _ = m(x)
    # with p = 1 the second layer sees zeros: same as running it on a zero input
    second = nn.LSTM(4, 4)
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in m.state_dict().items()
                            if "_l1" in k})
    ref, _ = second(tg.zeros(5, 2, 4))
    np.testing.assert_allclose(host(out_train), host(ref), rtol=1e-6, atol=1e-7)
    m.eval()
    out_eval, _ = m(x)
    assert not np.allclose(host(out_eval), host(out_train))
    m2 = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    m2.eval()
    a, _ = m2(x)
    b, _ = m2(x)
    np.testing.assert_array_equal(host(a), host(b))
    m2.train()
    c, _ = m2(x)
    assert not np.allclose(host(a), host(c))


@pytest.mark.parametrize("build,x,match", [
    (lambda: nn.LSTM(4, 5), (3, 2, 6), r"LSTM.*\(3, 2, 4\).*\(3, 2, 6\)"),
    (lambda: nn.GRU(4, 5), (3, 2, 1, 4), r"GRU.*\(L, N, I\).*\(3, 2, 1, 4\)"),
    (lambda: nn.RNN(4, 5, batch_first=True), (2, 3, 5), r"RNN.*\(2, 3, 4\).*\(2, 3, 5\)"),
    (lambda: nn.LSTMCell(4, 5), (2, 3), r"LSTMCell.*\(2, 4\).*\(2, 3\)"),
    (lambda: nn.GRUCell(4, 5), (2, 2, 4), r"GRUCell.*\(N, 4\).*\(2, 2, 4\)"),
])
def test_wrong_input_shape_raises(build, x, match):
    with pytest.raises(ValueError, match=match):
        build()(tg.zeros(*x))


def test_wrong_state_shape_raises():
    with pytest.raises(ValueError, match=r"LSTM.*h_0.*\(2, 3, 5\).*\(1, 3, 5\)"):
        nn.LSTM(4, 5, num_layers=2)(tg.zeros(2, 3, 4), (tg.zeros(1, 3, 5), tg.zeros(2, 3, 5)))
    with pytest.raises(ValueError, match=r"RNNCell.*hidden state.*\(3, 5\).*\(3, 4\)"):
        nn.RNNCell(4, 5)(tg.zeros(3, 4), tg.zeros(3, 4))


def test_runs_on_device(device):
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True).to(device)
    x = tg.randn(5, 2, 3, device=device, requires_grad=True)
    out, (h, c) = m(x)
    (out.sum() + h.sum() + c.sum()).backward()
    assert x.grad.device == device and out.shape == (5, 2, 8)
    assert all(p.grad is not None for p in m.parameters())
