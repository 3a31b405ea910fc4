"""LSTM with projections (``proj_size``) and MultiheadAttention with ``add_bias_kv`` /
``add_zero_attn`` (and F.multi_head_attention_forward's ``bias_k``/``bias_v``/``static_k``/
``static_v``) against torch 2.13 on the same weights (copied through state_dict both ways):
outputs, final states, every parameter and input gradient, float64 gradchecks of the fused
LSTM Function with its projection, torch's errors and parameter layouts."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.nn.utils import rnn as trnn

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.functional.recurrent import LSTMSequence
from tinygrad_cv.nn.utils import rnn as P
from tinygrad_cv.testing import gradcheck

from torch_compare import (assert_param_grads_match, assert_same_state_layout, copy_weights,
                           host)

TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}


def _close(ours, theirs, tol, what=""):
    assert tuple(ours.shape) == tuple(theirs.shape), (what, ours.shape, theirs.shape)
    np.testing.assert_allclose(host(ours), host(theirs), err_msg=what, **tol)


def _pair(x, dtype):
    """The same values as a torch leaf and one of ours, both requiring grad."""
    t = torch.tensor(x, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    return t, tg.tensor(x.astype(dtype), requires_grad=True)


def _lstm_pair(dtype, *args, **kw):
    theirs = torch.nn.LSTM(*args, **kw).to(TORCH_DTYPE[dtype])
    ours = nn.LSTM(*args, **kw, dtype=dtype)
    assert_same_state_layout(ours, theirs)
    copy_weights(ours, theirs)
    return ours, theirs


# ---- LSTM(proj_size > 0) -----------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(I=st.integers(1, 4), H=st.integers(2, 5), P_frac=st.floats(0, 0.99),
       L=st.integers(1, 3), bi=st.booleans(), bf=st.booleans(), bias=st.booleans(),
       N=st.integers(1, 3), T=st.integers(1, 4), states=st.booleans(), unbatched=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_lstm_proj_matches_torch(I, H, P_frac, L, bi, bf, bias, N, T, states, unbatched, seed):
    """Outputs, (h_n, c_n) and the gradients of the input, h_0, c_0 and every parameter."""
    Psize = 1 + int(P_frac * (H - 1))
    dtype, tol = "float64", TOL["float64"]
    ours, theirs = _lstm_pair(dtype, I, H, L, bias=bias, batch_first=bf, bidirectional=bi,
                              proj_size=Psize)
    rng = np.random.default_rng(seed)
    D = 2 if bi else 1
    lead = () if unbatched else (N,)
    xshape = (T, I) if unbatched else ((N, T, I) if bf else (T, N, I))
    xt, xo = _pair(rng.standard_normal(xshape), dtype)
    args_t, args_o = [xt], [xo]
    if states:
        h0t, h0o = _pair(rng.standard_normal((L * D,) + lead + (Psize,)), dtype)
        c0t, c0o = _pair(rng.standard_normal((L * D,) + lead + (H,)), dtype)
        args_t.append((h0t, c0t))
        args_o.append((h0o, c0o))
    out_t, (h_t, c_t) = theirs(*args_t)
    out_o, (h_o, c_o) = ours(*args_o)
    for a, b, what in ((out_o, out_t, "output"), (h_o, h_t, "h_n"), (c_o, c_t, "c_n")):
        _close(a, b, tol, what)
    gs = [rng.standard_normal(tuple(t.shape)) for t in (out_t, h_t, c_t)]
    sum((t * torch.tensor(g)).sum() for t, g in zip((out_t, h_t, c_t), gs)).backward()
    sum((o * tg.tensor(g)).sum() for o, g in zip((out_o, h_o, c_o), gs)).backward()
    assert_param_grads_match(ours, theirs, tol)
    _close(xo.grad, xt.grad, tol, "d input")
    if states:
        _close(h0o.grad, h0t.grad, tol, "d h_0")
        _close(c0o.grad, c0t.grad, tol, "d c_0")


def test_lstm_proj_float32_matches_torch():
    dtype, tol = "float32", TOL["float32"]
    ours, theirs = _lstm_pair(dtype, 6, 16, 2, bidirectional=True, proj_size=5)
    rng = np.random.default_rng(0)
    xt, xo = _pair(rng.standard_normal((7, 4, 6)), dtype)
    out_t, (h_t, c_t) = theirs(xt)
    out_o, (h_o, c_o) = ours(xo)
    assert out_o.dtype == tg.float32
    for a, b in ((out_o, out_t), (h_o, h_t), (c_o, c_t)):
        _close(a, b, tol)
    (out_t.sum() + h_t.sum() + c_t.sum()).backward()
    (out_o.sum() + h_o.sum() + c_o.sum()).backward()
    assert_param_grads_match(ours, theirs, tol)
    _close(xo.grad, xt.grad, tol)


@pytest.mark.parametrize("bi", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_lstm_proj_packed_matches_torch(bi, enforce_sorted):
    dtype, tol = "float64", TOL["float64"]
    ours, theirs = _lstm_pair(dtype, 3, 5, 2, bidirectional=bi, proj_size=2)
    rng = np.random.default_rng(1)
    lengths = [4, 4, 2, 1] if enforce_sorted else [2, 4, 1, 3]
    xt, xo = _pair(rng.standard_normal((4, 4, 3)), dtype)
    D = 2 if bi else 1
    h0t, h0o = _pair(rng.standard_normal((2 * D, 4, 2)), dtype)
    c0t, c0o = _pair(rng.standard_normal((2 * D, 4, 5)), dtype)
    pt = trnn.pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    po = P.pack_padded_sequence(xo, lengths, enforce_sorted=enforce_sorted)
    out_t, (h_t, c_t) = theirs(pt, (h0t, c0t))
    out_o, (h_o, c_o) = ours(po, (h0o, c0o))
    pad_t, _ = trnn.pad_packed_sequence(out_t)
    pad_o, _ = P.pad_packed_sequence(out_o)
    for a, b in ((pad_o, pad_t), (h_o, h_t), (c_o, c_t)):
        _close(a, b, tol)
    g = rng.standard_normal(tuple(pad_t.shape))
    ((pad_t * torch.tensor(g)).sum() + h_t.sum() + 2 * c_t.sum()).backward()
    ((pad_o * tg.tensor(g)).sum() + h_o.sum() + 2 * c_o.sum()).backward()
    assert_param_grads_match(ours, theirs, tol)
    for a, b in ((xo, xt), (h0o, h0t), (c0o, c0t)):
        _close(a.grad, b.grad, tol)
    # without states: zeros of (L*D, N, P) and (L*D, N, H)
    _, (h_t, c_t) = theirs(pt)
    _, (h_o, c_o) = ours(po)
    _close(h_o, h_t, tol)
    _close(c_o, c_t, tol)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_lstm_sequence_with_projection_gradcheck(reverse, bias):
    rng = np.random.default_rng(2)
    T, N, I, H, Pp = 3, 2, 2, 3, 2

    def leaf(*shape):
        return tg.tensor(rng.standard_normal(shape) * 0.7, requires_grad=True)

    x, h0, c0 = leaf(T, N, I), leaf(N, Pp), leaf(N, H)
    w_ih, w_hh, w_hr = leaf(4 * H, I), leaf(4 * H, Pp), leaf(Pp, H)
    b_ih, b_hh = (leaf(4 * H), leaf(4 * H)) if bias else (None, None)

    def fn(x, h0, c0, w_ih, w_hh, w_hr, *b):
        b_ih, b_hh = b if b else (None, None)
        return F.lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse, w_hr=w_hr)

    live = (b_ih, b_hh) if bias else ()
    assert gradcheck(fn, (x, h0, c0, w_ih, w_hh, w_hr, *live))
    # one step (the cell form): (h_1, c_1)
    assert gradcheck(lambda x, h0, c0, w_ih, w_hh, w_hr: LSTMSequence.apply(
        x, h0, c0, w_ih, w_hh, None, None, w_hr), (leaf(N, I), h0, c0, w_ih, w_hh, w_hr))


def test_lstm_sequence_projection_matches_a_primitive_loop():
    """The fused Function against the same recurrence written with Tensor ops."""
    rng = np.random.default_rng(3)
    T, N, I, H, Pp = 4, 3, 2, 4, 3
    x, h, c = (tg.tensor(rng.standard_normal(s)) for s in ((T, N, I), (N, Pp), (N, H)))
    w_ih, w_hh, w_hr, b = (tg.tensor(rng.standard_normal(s)) for s in
                           ((4 * H, I), (4 * H, Pp), (Pp, H), (4 * H,)))
    out, h_n, c_n = F.lstm_sequence(x, h, c, w_ih, w_hh, b, None, w_hr=w_hr)
    outs = []
    for t in range(T):
        a = x[t] @ w_ih.T + h @ w_hh.T + b
        i, f = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid()
        g, o = a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
        c = f * c + i * g
        h = (o * c.tanh()) @ w_hr.T
        outs.append(h)
    _close(out, tg.stack(outs), TOL["float64"])
    _close(h_n, h, TOL["float64"])
    _close(c_n, c, TOL["float64"])


def test_lstm_proj_layout_and_initialisation_as_torch():
    theirs = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=4)
    ours = nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=4)
    assert repr(ours) == repr(theirs)
    assert ours.proj_size == theirs.proj_size == 4
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert ours._all_weights == theirs._all_weights
    assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]
    assert [tuple(w.shape) for w in ours._flat_weights] == \
        [tuple(w.shape) for w in theirs._flat_weights]
    assert tuple(ours.weight_hr_l1_reverse.shape) == (4, 6)
    assert tuple(ours.weight_ih_l1.shape) == (24, 8) and tuple(ours.weight_hh_l0.shape) == (24, 4)
    bound = 1 / np.sqrt(6)
    for name, p in ours.named_parameters():
        v = host(p)
        assert np.abs(v).max() <= bound and v.std() > bound / 4, name   # U(-1/sqrt(H), ..)
    no_bias = nn.LSTM(3, 6, bias=False, proj_size=2)
    assert list(no_bias.state_dict()) == list(torch.nn.LSTM(3, 6, bias=False, proj_size=2)
                                              .state_dict())


def test_lstm_proj_state_dict_round_trips_with_torch():
    dtype = "float64"
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 2, 3))
    # ours -> torch (strict), then torch -> a fresh one of ours
    ours = nn.LSTM(3, 5, 2, bidirectional=True, proj_size=3, dtype=dtype)
    theirs = torch.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=3).double()
    result = theirs.load_state_dict({k: torch.tensor(host(v)) for k, v in
                                     ours.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    back = nn.LSTM(3, 5, 2, bidirectional=True, proj_size=3, dtype=dtype)
    copy_weights(back, theirs)
    out_o, (h_o, c_o) = ours(tg.tensor(x))
    out_t, (h_t, c_t) = theirs(torch.tensor(x))
    out_b, _ = back(tg.tensor(x))
    _close(out_o, out_t, TOL[dtype])
    _close(h_o, h_t, TOL[dtype])
    _close(c_o, c_t, TOL[dtype])
    np.testing.assert_array_equal(host(out_b), host(out_o))
    # a projected state_dict does not load into an unprojected LSTM, as torch
    with pytest.raises(RuntimeError):
        torch.nn.LSTM(3, 5, 2, bidirectional=True).load_state_dict(theirs.state_dict())
    with pytest.raises(RuntimeError):
        nn.LSTM(3, 5, 2, bidirectional=True).load_state_dict(ours.state_dict())


@pytest.mark.parametrize("bad", [-1, 5, 7])
def test_lstm_bad_proj_size_raises_as_torch(bad):
    with pytest.raises(ValueError, match="proj_size") as theirs:
        torch.nn.LSTM(3, 5, proj_size=bad)
    with pytest.raises(ValueError, match="proj_size") as ours:
        nn.LSTM(3, 5, proj_size=bad)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="proj_size"):
        nn.LSTM(3, 5, proj_size=1.5)
    for kind in ("GRU", "RNN_TANH"):
        with pytest.raises(ValueError, match="only supported for LSTM"):
            nn.RNNBase(kind, 3, 5, proj_size=2)


def test_lstm_proj_state_shapes_checked_as_torch():
    ours, theirs = _lstm_pair("float32", 3, 5, 2, proj_size=2)
    x = np.zeros((4, 2, 3), dtype=np.float32)
    good = [(2, 2, 2), (2, 2, 5)]         # (num_layers, N, P) and (num_layers, N, H)
    for h_shape, c_shape in (((2, 2, 5), (2, 2, 5)), ((2, 2, 2), (2, 2, 2)),
                             ((4, 2, 2), (4, 2, 5))):
        with pytest.raises(RuntimeError):
            theirs(torch.tensor(x), (torch.zeros(h_shape), torch.zeros(c_shape)))
        with pytest.raises(ValueError, match="h_0|c_0"):
            ours(tg.tensor(x), (tg.zeros(*h_shape), tg.zeros(*c_shape)))
    out, (h, c) = ours(tg.tensor(x), tuple(tg.zeros(*s) for s in good))
    assert tuple(out.shape) == (4, 2, 2) and tuple(h.shape) == good[0] and \
        tuple(c.shape) == good[1]
    # torch's helper methods for subclasses
    xt = torch.tensor(x)
    assert ours.get_expected_hidden_size(tg.tensor(x), None) == \
        theirs.get_expected_hidden_size(xt, None)
    assert ours.get_expected_cell_size(tg.tensor(x), None) == \
        theirs.get_expected_cell_size(xt, None)
    ours.check_forward_args(tg.tensor(x), tuple(tg.zeros(*s) for s in good), None)
    with pytest.raises(RuntimeError, match="hidden\\[1\\]"):
        ours.check_forward_args(tg.tensor(x), (tg.zeros(*good[0]), tg.zeros(*good[0])), None)


def test_lstm_proj_onnx_export_refuses_clearly():
    import io
    from tinygrad_cv.onnx import UnsupportedOperatorError
    with pytest.raises(UnsupportedOperatorError, match="proj_size"):
        tg.onnx.export(nn.LSTM(3, 5, proj_size=2), (tg.randn(4, 2, 3),), io.BytesIO())
