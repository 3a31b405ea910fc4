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


# ---- MultiheadAttention(add_bias_kv=True, add_zero_attn=True) ------------------------------------
def _mha_pair(E, heads, **kw):
    theirs = torch.nn.MultiheadAttention(E, heads, **kw).double()
    ours = nn.MultiheadAttention(E, heads, **kw, dtype="float64")
    assert_same_state_layout(ours, theirs)
    copy_weights(ours, theirs)
    return ours, theirs


@settings(max_examples=15, deadline=None)
@given(d=st.integers(1, 3), heads=st.integers(1, 3), N=st.integers(1, 3), L=st.integers(1, 4),
       S=st.integers(1, 4), extra=st.sampled_from([(True, True), (True, False), (False, True)]),
       kind=st.sampled_from(["self", "cross", "kdim"]), bf=st.booleans(),
       attn_mask=st.sampled_from([None, "bool", "float2d", "float3d"]), kpm=st.booleans(),
       need_weights=st.booleans(), average=st.booleans(), unbatched=st.booleans(),
       bias=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_mha_bias_kv_zero_attn_matches_torch(d, heads, N, L, S, extra, kind, bf, attn_mask, kpm,
                                             need_weights, average, unbatched, bias, seed):
    """Output, weights and every parameter/input gradient; the masks get the extra columns
    that torch pads (visible keys), so even fully masked rows attend to bias/zero keys."""
    add_bias_kv, add_zero_attn = extra
    E = d * heads
    kdim = E + 1 if kind == "kdim" else None
    ours, theirs = _mha_pair(E, heads, bias=bias, add_bias_kv=add_bias_kv,
                             add_zero_attn=add_zero_attn, kdim=kdim, vdim=kdim, batch_first=bf)
    rng = np.random.default_rng(seed)
    if kind == "self":
        S = L
    kd = kdim or E

    def shape(length, width):
        if unbatched:
            return (length, width)
        return (N, length, width) if bf else (length, N, width)

    qt, qo = _pair(rng.standard_normal(shape(L, E)), "float64")
    if kind == "self":
        kt = vt = qt
        ko = vo = qo
    else:
        kt, ko = _pair(rng.standard_normal(shape(S, kd)), "float64")
        vt, vo = _pair(rng.standard_normal(shape(S, kd)), "float64")
    masks_t, masks_o = {}, {}
    if attn_mask is not None:
        am_shape = (N * heads if not unbatched else heads, L, S) if attn_mask == "float3d" \
            else (L, S)
        am = rng.random(am_shape) < 0.4 if attn_mask == "bool" else rng.standard_normal(am_shape)
        masks_t["attn_mask"], masks_o["attn_mask"] = torch.tensor(am), tg.tensor(am)
    if kpm:
        pad = rng.random((S,) if unbatched else (N, S)) < 0.5      # rows may be fully masked
        masks_t["key_padding_mask"], masks_o["key_padding_mask"] = torch.tensor(pad), \
            tg.tensor(pad)
    out_t, w_t = theirs(qt, kt, vt, need_weights=need_weights, average_attn_weights=average,
                        **masks_t)
    out_o, w_o = ours(qo, ko, vo, need_weights=need_weights, average_attn_weights=average,
                      **masks_o)
    tol = TOL["float64"]
    _close(out_o, out_t, tol, "output")
    if need_weights:
        _close(w_o, w_t, tol, "weights")
    else:
        assert w_o is None and w_t is None
    g = rng.standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(g)).sum().backward()
    (out_o * tg.tensor(g)).sum().backward()
    assert_param_grads_match(ours, theirs, tol)
    for a, b, what in ((qo, qt, "d query"), (ko, kt, "d key"), (vo, vt, "d value")):
        _close(a.grad, b.grad, tol, what)


def _functional_args(E=6, heads=2, seed=0):
    """torch's MHA parameters (ours as leaves) for F.multi_head_attention_forward."""
    torch.manual_seed(seed)
    m = torch.nn.MultiheadAttention(E, heads, add_bias_kv=True).double()
    ps_t = {k: v.detach().clone().requires_grad_(True) for k, v in m.named_parameters()}
    ps_o = {k: tg.tensor(host(v), requires_grad=True) for k, v in ps_t.items()}
    return ps_t, ps_o


def _call_f(F_, q, k, v, p, heads, **kw):
    return F_.multi_head_attention_forward(
        q, k, v, q.shape[-1], heads, p["in_proj_weight"], p["in_proj_bias"],
        kw.pop("bias_k", None), kw.pop("bias_v", None), kw.pop("add_zero_attn", False), 0.0,
        p["out_proj.weight"], p["out_proj.bias"], **kw)


@pytest.mark.parametrize("case", ["bias_kv", "static", "static_zero_attn", "learned_mask"])
def test_functional_extra_keys_match_torch(case):
    """bias_k/bias_v, static_k/static_v (with add_zero_attn) and a learned float mask padded
    for the extra keys, through F.multi_head_attention_forward: values and gradients of the
    inputs, the weights, the biases, the static keys/values and the mask."""
    E, heads, L, S, N = 6, 2, 3, 4, 2
    d = E // heads
    rng = np.random.default_rng(5)
    ps_t, ps_o = _functional_args(E, heads)
    leaves = {n: _pair(rng.standard_normal(s), "float64") for n, s in
              (("q", (L, N, E)), ("k", (S, N, E)), ("v", (S, N, E)))}
    kw_t, kw_o = {}, {}
    if case in ("bias_kv", "learned_mask"):
        for name in ("bias_k", "bias_v"):
            kw_t[name], kw_o[name] = ps_t[name], ps_o[name]
        kw_t["add_zero_attn"] = kw_o["add_zero_attn"] = True
    else:
        for name, length in (("static_k", S + 1), ("static_v", S + 1)):
            leaves[name] = _pair(rng.standard_normal((N * heads, length, d)), "float64")
            kw_t[name], kw_o[name] = leaves[name][0], leaves[name][1]
        kw_t["add_zero_attn"] = kw_o["add_zero_attn"] = case == "static_zero_attn"
    if case == "learned_mask":
        leaves["mask"] = _pair(rng.standard_normal((L, S)), "float64")
        kw_t["attn_mask"], kw_o["attn_mask"] = leaves["mask"][0], leaves["mask"][1]
        pad = np.zeros((N, S), dtype=bool)
        pad[0, 1:] = True
        kw_t["key_padding_mask"], kw_o["key_padding_mask"] = torch.tensor(pad), tg.tensor(pad)
    q, k, v = (leaves[n] for n in ("q", "k", "v"))
    out_t, w_t = _call_f(torch.nn.functional, q[0], k[0], v[0], ps_t, heads,
                         average_attn_weights=False, **kw_t)
    out_o, w_o = _call_f(F, q[1], k[1], v[1], ps_o, heads, average_attn_weights=False, **kw_o)
    tol = TOL["float64"]
    _close(out_o, out_t, tol, "output")
    _close(w_o, w_t, tol, "weights")
    g = rng.standard_normal(tuple(out_t.shape))
    gw = rng.standard_normal(tuple(w_t.shape))
    ((out_t * torch.tensor(g)).sum() + (w_t * torch.tensor(gw)).sum()).backward()
    ((out_o * tg.tensor(g)).sum() + (w_o * tg.tensor(gw)).sum()).backward()
    for name, (t, o) in leaves.items():
        if t.grad is None:          # key/value unused next to static_k/static_v
            assert o.grad is None, name
        else:
            _close(o.grad, t.grad, tol, f"d {name}")
    for name, t in ps_t.items():
        if t.grad is None:
            assert ps_o[name].grad is None, name
        else:
            _close(ps_o[name].grad, t.grad, tol, f"d {name}")


def test_mha_bias_kv_gradcheck():
    rng = np.random.default_rng(6)
    E, heads, L, S, N = 4, 2, 2, 3, 2

    def leaf(*shape):
        return tg.tensor(rng.standard_normal(shape) * 0.5, requires_grad=True)

    q, k, v = leaf(L, N, E), leaf(S, N, E), leaf(S, N, E)
    w_in, b_in, w_out, b_out = leaf(3 * E, E), leaf(3 * E), leaf(E, E), leaf(E)
    bias_k, bias_v = leaf(1, 1, E), leaf(1, 1, E)
    pad = tg.tensor(np.array([[False, True, True], [False, False, True]]))

    def fn(q, k, v, w_in, b_in, w_out, b_out, bias_k, bias_v):
        return F.multi_head_attention_forward(q, k, v, E, heads, w_in, b_in, bias_k, bias_v,
                                              True, 0.0, w_out, b_out, key_padding_mask=pad,
                                              average_attn_weights=False)

    assert gradcheck(fn, (q, k, v, w_in, b_in, w_out, b_out, bias_k, bias_v))


def test_mha_bias_kv_layout_and_initialisation_as_torch():
    for kw in ({}, {"kdim": 5, "vdim": 3}, {"bias": False}):
        theirs = torch.nn.MultiheadAttention(256, 4, add_bias_kv=True, add_zero_attn=True, **kw)
        ours = nn.MultiheadAttention(256, 4, add_bias_kv=True, add_zero_attn=True, **kw)
        assert_same_state_layout(ours, theirs)
        assert [n for n, _ in ours.named_parameters()] == \
            [n for n, _ in theirs.named_parameters()]
        assert ours.add_zero_attn is theirs.add_zero_attn is True
        for name in ("bias_k", "bias_v"):     # xavier_normal_ of (1, 1, E): std 1/sqrt(E)
            v = host(getattr(ours, name))
            assert v.shape == (1, 1, 256)
            assert 0.75 / 16 < v.std() < 1.3 / 16 and abs(v.mean()) < 0.5 / 16, name
    plain = nn.MultiheadAttention(8, 2, add_zero_attn=True)
    assert plain.bias_k is None and plain.bias_v is None and "bias_k" not in plain.state_dict()


def test_mha_bias_kv_state_dict_round_trips_with_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2, 8))
    ours = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, dtype="float64")
    theirs = torch.nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True).double()
    result = theirs.load_state_dict({k: torch.tensor(host(v)) for k, v in
                                     ours.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    back = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, dtype="float64")
    copy_weights(back, theirs)
    out_o, w_o = ours(tg.tensor(x), tg.tensor(x), tg.tensor(x))
    out_t, w_t = theirs(*(torch.tensor(x),) * 3)
    _close(out_o, out_t, TOL["float64"])
    _close(w_o, w_t, TOL["float64"])
    assert tuple(w_o.shape) == (2, 4, 6)           # S + bias key + zero key
    np.testing.assert_array_equal(host(back(tg.tensor(x), tg.tensor(x), tg.tensor(x))[0]),
                                  host(out_o))
    with pytest.raises(RuntimeError):        # bias_k/bias_v are unexpected without add_bias_kv
        nn.MultiheadAttention(8, 2).load_state_dict(ours.state_dict())


def test_functional_extra_key_errors_as_torch():
    E, heads = 6, 2
    ps_t, ps_o = _functional_args(E, heads)
    x = np.random.default_rng(8).standard_normal((3, 2, E))
    xt, xo = torch.tensor(x), tg.tensor(x)
    bad = [  # (kwargs for torch, kwargs for ours, message both share)
        (dict(bias_k=ps_t["bias_k"]), dict(bias_k=ps_o["bias_k"]), "bias_v is None"),
        (dict(bias_v=ps_t["bias_v"]), dict(bias_v=ps_o["bias_v"]), "bias_k is None"),
        (dict(bias_k=ps_t["bias_k"], bias_v=ps_t["bias_v"], static_k=torch.zeros(4, 3, 3)),
         dict(bias_k=ps_o["bias_k"], bias_v=ps_o["bias_v"], static_k=tg.zeros(4, 3, 3)),
         "static key"),
        (dict(static_k=torch.zeros(3, 3, 3)), dict(static_k=tg.zeros(3, 3, 3)),
         "static_k.size\\(0\\)"),
        (dict(static_v=torch.zeros(4, 3, 2)), dict(static_v=tg.zeros(4, 3, 2)),
         "static_v.size\\(2\\)"),
    ]
    for kw_t, kw_o, msg in bad:
        with pytest.raises(AssertionError, match=msg):
            _call_f(torch.nn.functional, xt, xt, xt, ps_t, heads, **kw_t)
        with pytest.raises(ValueError, match=msg):
            _call_f(F, xo, xo, xo, ps_o, heads, **kw_o)


def test_lstm_proj_batch_split_over_threads_matches_torch():
    """A recurrence large enough to split its batch over two intra-op threads: each part runs
    the projection, and the parts' dW_hr are added."""
    from tinygrad_cv.nn.functional.recurrent import _batch_ranges, _recurrence_work
    T, N, I, H, Pp = 8, 16, 8, 64, 16
    before = tg.get_num_threads()
    tg.set_num_threads(2)
    try:
        assert len(_batch_ranges(N, _recurrence_work(T, N, 4 * H, I, Pp), np.zeros(1))) == 2
        ours, theirs = _lstm_pair("float64", I, H, bidirectional=True, proj_size=Pp)
        rng = np.random.default_rng(9)
        xt, xo = _pair(rng.standard_normal((T, N, I)), "float64")
        out_t, (h_t, c_t) = theirs(xt)
        out_o, (h_o, c_o) = ours(xo)
        g = rng.standard_normal(tuple(out_t.shape))
        ((out_t * torch.tensor(g)).sum() + h_t.sum() + c_t.sum()).backward()
        ((out_o * tg.tensor(g)).sum() + h_o.sum() + c_o.sum()).backward()
    finally:
        tg.set_num_threads(before)
    tol = dict(rtol=1e-8, atol=1e-10)
    for a, b in ((out_o, out_t), (h_o, h_t), (c_o, c_t), (xo.grad, xt.grad)):
        _close(a, b, tol)
    assert_param_grads_match(ours, theirs, tol)


def test_functional_unbatched_static_keys_match_torch():
    """Unbatched query/key/value with static_k/static_v (heads, S', d) and a zero key."""
    E, heads, L, S = 6, 3, 2, 4
    rng = np.random.default_rng(10)
    ps_t, ps_o = _functional_args(E, heads)
    q = _pair(rng.standard_normal((L, E)), "float64")
    k = _pair(rng.standard_normal((S, E)), "float64")
    sk = _pair(rng.standard_normal((heads, S + 2, E // heads)), "float64")
    sv = _pair(rng.standard_normal((heads, S + 2, E // heads)), "float64")
    pad = rng.random(S + 2) < 0.5
    out_t, w_t = _call_f(torch.nn.functional, q[0], k[0], k[0], ps_t, heads, static_k=sk[0],
                         static_v=sv[0], add_zero_attn=True,
                         key_padding_mask=torch.tensor(pad))
    out_o, w_o = _call_f(F, q[1], k[1], k[1], ps_o, heads, static_k=sk[1], static_v=sv[1],
                         add_zero_attn=True, key_padding_mask=tg.tensor(pad))
    tol = TOL["float64"]
    _close(out_o, out_t, tol)
    _close(w_o, w_t, tol)
    out_t.sum().backward()
    out_o.sum().backward()
    for t, o in (q, sk, sv):
        _close(o.grad, t.grad, tol)
