"""Fused recurrent steps and whole-sequence recurrences with analytic backward through time.

Gate layouts and formulas follow PyTorch (weights ``w_ih`` (G*H, I), ``w_hh`` (G*H, H),
biases (G*H,); ``x`` (T, N, I) for a sequence or (N, I) for one step; states (N, H)):

* RNN (G=1):  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  act = tanh or relu.
* LSTM (G=4, order i, f, g, o), one GEMM for all four gates::

      [a_i a_f a_g a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
      i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o)
      c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

* GRU (G=3, order r, z, n)::

      r = s(W_ir x + b_ir + W_hr h + b_hr),  z = s(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

For a whole sequence the input projection of every time step is one (batched) GEMM written
into a preallocated gate buffer; each step adds its recurrent GEMM and applies the activations
in place.  Backward through time (BPTT, the notes' ``dL/dh_t = W^T diag(1 - h_{t+1}^2)
dL/dh_{t+1} + ...``) walks the steps in reverse, writing pre-activation gradients into one
preallocated buffer, and then forms ``dW_ih``, ``dW_hh``, the biases and ``dx`` with one GEMM
each over all steps.

Internally states and gates are kept feature-major: h as (H, N) and the gates of a step as
(G*H, N), computed as ``W_hh @ h``.  Each gate is then a contiguous (H, N) block, so every
elementwise step runs over contiguous memory (slicing gates out of an (N, G*H) row-major
buffer gives strided views that NumPy processes several times slower).

Calling a Function with ``x`` of shape (N, I) runs a single step (the cells) and returns only
the new state(s); with (T, N, I) it returns ``(output (T, N, H), h_T[, c_T])``.
``reverse=True`` runs the sequence from the last step to the first (the backward direction of
a bidirectional layer); ``output[t]`` is still the state that belongs to input ``x[t]``.
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell",
           "rnn_sequence", "lstm_sequence", "gru_sequence",
           "RNNSequence", "LSTMSequence", "GRUSequence"]


def _sigmoid_(a):
    """In-place logistic sigmoid, s(a) = (1 + tanh(a / 2)) / 2 (no overflow for large |a|)."""
    xp = backend.get_array_module(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _as_sequence(x):
    """(T, N, I) array (a single step (N, I) becomes T = 1) and whether it was a single step."""
    if x.ndim == 2:
        return x[None], True
    return x, False


def _step_order(x, reverse):
    """The input in the order the recurrence visits it (contiguous)."""
    xp = backend.get_array_module(x)
    return xp.ascontiguousarray(x[::-1]) if reverse else xp.ascontiguousarray(x)


def _check_weights(name, x, h, w_ih, w_hh, gates):
    """Raise ValueError naming ``name`` when the shapes do not fit together."""
    hidden = w_hh.shape[1]
    if w_ih.ndim != 2 or w_ih.shape[0] != gates * hidden or w_hh.shape[0] != gates * hidden:
        raise ValueError(f"{name}: expected w_ih ({gates}*H, I) and w_hh ({gates}*H, H), got "
                         f"{tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    if x.shape[-1] != w_ih.shape[1]:
        raise ValueError(f"{name}: expected input with {w_ih.shape[1]} features (last dim), got "
                         f"shape {tuple(x.shape)}")
    if h.shape != (x.shape[-2], hidden):
        raise ValueError(f"{name}: expected hidden state of shape {(x.shape[-2], hidden)}, got "
                         f"{tuple(h.shape)}")


def _feature_major(a):
    """(N, H) -> contiguous (H, N)."""
    return backend.get_array_module(a).ascontiguousarray(a.T)


def _input_projection(xs, w_ih, bias):
    """W_ih x_t (+ bias) for every step at once: (T, N, I) -> (T, G*H, N)."""
    xp = backend.get_array_module(xs)
    gates = xp.matmul(w_ih, xs.transpose(0, 2, 1))
    if bias is not None:
        gates += bias[:, None]
    return gates


def _sequence_outputs(ctx, hs, extra=()):
    """Outputs in the caller's layout from feature-major states hs (T+1, H, N).

    One step: (h_1 (N, H), *extra); a sequence: (output (T, N, H), h_T, *extra).
    ``extra`` are further final states, feature-major (H, N).
    """
    xp = backend.get_array_module(hs)
    last = (xp.ascontiguousarray(hs[-1].T),) + tuple(xp.ascontiguousarray(e.T) for e in extra)
    if ctx.single:
        return last if extra else last[0]
    out = hs[1:].transpose(0, 2, 1)
    if ctx.reverse:
        out = out[::-1]
    return (xp.ascontiguousarray(out),) + last


def _incoming_grads(ctx, grads, n_states, dtype):
    """(dout feature-major (T, H, N) in step order or None, [d state (H, N) copies])."""
    xp = backend.get_array_module(grads[0])
    if ctx.single:
        dout, states = None, grads[:n_states]
    else:
        g = grads[0][::-1] if ctx.reverse else grads[0]
        dout = xp.ascontiguousarray(g.transpose(0, 2, 1), dtype=dtype)
        states = grads[1:1 + n_states]
    return dout, [xp.array(st.T, dtype=dtype, order="C") for st in states]


def _sum_biases(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    if b_hh is None:
        return b_ih
    return b_ih + b_hh


def _by_feature(d):
    """(T, G, N) -> contiguous (G, T*N) (columns ordered by step, then batch)."""
    xp = backend.get_array_module(d)
    T, G, N = d.shape
    return xp.ascontiguousarray(d.transpose(1, 0, 2)).reshape(G, T * N)


def _weight_grads(ctx, d_ih, d_hh, xs, hs, w_ih):
    """dx, dW_ih, dW_hh, db_ih, db_hh from pre-activation gradients d_* (T, G*H, N).

    One GEMM each over all steps: dW_ih = D_ih X, dW_hh = D_hh H_prev, dx = D_ih^T W_ih.
    """
    xp = backend.get_array_module(hs)
    nx, nwi, nwh, nbi, nbh = (ctx.needs_input_grad[0],) + tuple(ctx.needs_input_grad[-4:])
    T, _, N = d_ih.shape
    Dih = _by_feature(d_ih)
    Dhh = Dih if d_hh is d_ih else _by_feature(d_hh)
    dx = dw_ih = dw_hh = db_ih = db_hh = None
    if nx:
        dx = (Dih.T @ w_ih).reshape(T, N, w_ih.shape[1])
        if ctx.reverse:
            dx = xp.ascontiguousarray(dx[::-1])
        if ctx.single:
            dx = dx[0]
    if nwi:
        dw_ih = Dih @ xs.reshape(T * N, xs.shape[2])
    if nwh:
        h_prev = xp.ascontiguousarray(hs[:-1].transpose(0, 2, 1)).reshape(T * N, -1)
        dw_hh = Dhh @ h_prev
    if nbi:
        db_ih = Dih.sum(axis=1)
    if nbh:
        db_hh = db_ih if (Dhh is Dih and db_ih is not None) else Dhh.sum(axis=1)
    return dx, dw_ih, dw_hh, db_ih, db_hh


def _initial_states(xp, dtype, T, N, H, *states):
    """hs (T+1, H, N) with hs[0] = h0^T, and more such buffers for further states."""
    bufs = []
    for st in states:
        b = xp.empty((T + 1, H, N), dtype=dtype)
        b[0] = st.T
        bufs.append(b)
    return bufs


class RNNSequence(Function):
    """Elman RNN over a sequence (or one step); act = tanh or relu.

    Inputs: x (T, N, I) or (N, I), h0 (N, H), w_ih (H, I), w_hh (H, H), b_ih, b_hh (H,) or None.
    Outputs: (output (T, N, H), h_T) for a sequence, h_1 for one step.
    Backward: d a_t = dh_t * act'(a_t);  dh_{t-1} = W_hh^T d a_t;  dW_hh = sum_t d a_t h_{t-1}^T.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh",
                reverse=False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        _check_weights("RNN", x, h0, w_ih, w_hh, 1)
        xp = backend.get_array_module(x)
        x3, single = _as_sequence(x)
        xs = _step_order(x3, reverse)
        T, N, _ = xs.shape
        H = w_hh.shape[1]
        pre = _input_projection(xs, w_ih, _sum_biases(b_ih, b_hh))
        (hs,) = _initial_states(xp, pre.dtype, T, N, H, h0)
        rec = xp.empty((H, N), dtype=pre.dtype)
        relu = nonlinearity == "relu"
        for s in range(T):
            xp.matmul(w_hh, hs[s], out=rec)
            a = pre[s]
            a += rec
            if relu:
                xp.maximum(a, 0, out=hs[s + 1])
            else:
                xp.tanh(a, out=hs[s + 1])
        ctx.single, ctx.reverse, ctx.relu = single, reverse, relu
        ctx.save_for_backward(xs, hs, w_ih, w_hh)
        return _sequence_outputs(ctx, hs)

    @staticmethod
    def backward(ctx, *grads):
        xs, hs, w_ih, w_hh = ctx.saved_tensors
        xp = backend.get_array_module(hs)
        T = hs.shape[0] - 1
        dout, (dh,) = _incoming_grads(ctx, grads, 1, hs.dtype)
        # act'(a_t) for all steps at once, then times dh_t step by step
        if ctx.relu:
            d_pre = (hs[1:] > 0).astype(hs.dtype)
        else:
            d_pre = hs[1:] * hs[1:]
            xp.subtract(1, d_pre, out=d_pre)
        w_hh_t = w_hh.T
        for s in range(T - 1, -1, -1):
            if dout is not None:
                dh += dout[s]
            d = d_pre[s]
            d *= dh
            xp.matmul(w_hh_t, d, out=dh)
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(ctx, d_pre, d_pre, xs, hs, w_ih)
        dh0 = xp.ascontiguousarray(dh.T) if ctx.needs_input_grad[1] else None
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


class LSTMSequence(Function):
    """LSTM over a sequence (or one step), gate order i, f, g, o, one GEMM for all gates.

    Inputs: x (T, N, I) or (N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,).
    Outputs: (output (T, N, H), h_T, c_T) for a sequence, (h_1, c_1) for one step.

    Forward: the rows of the sigmoid gates (i, f, o) in the weights and bias are pre-scaled by
    1/2 (exact in floating point), so that one ``tanh`` over all 4H pre-activations gives
    tanh(a/2) for i, f, o and tanh(a) for g; s(a) = (1 + tanh(a/2)) / 2 then takes one
    multiply-add per sigmoid block.

    Backward per step (dh, dc include the gradients flowing from step t+1)::

        dc += dh * o * (1 - tanh(c_t)^2)
        d a = [dc * g i(1-i), dc * c_{t-1} f(1-f), dc * i (1-g^2), dh * tanh(c_t) o(1-o)]
        dc_{t-1} = dc * f,   dh_{t-1} = W_hh^T d a

    where the factors that do not depend on the recursion are computed for all steps at once.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
        _check_weights("LSTM", x, h0, w_ih, w_hh, 4)
        if c0.shape != h0.shape:
            raise ValueError(f"LSTM: expected cell state of shape {tuple(h0.shape)}, got "
                             f"{tuple(c0.shape)}")
        xp = backend.get_array_module(x)
        x3, single = _as_sequence(x)
        xs = _step_order(x3, reverse)
        T, N, _ = xs.shape
        H = w_hh.shape[1]
        dt = xp.result_type(x, w_ih)
        row_scale = xp.full((4 * H, 1), 0.5, dtype=dt)   # 1/2 on the rows of i, f, o
        row_scale[2 * H:3 * H] = 1.0
        bias = _sum_biases(b_ih, b_hh)
        gates = _input_projection(xs, w_ih * row_scale,
                                  None if bias is None else bias * row_scale[:, 0])
        w_hh_s = w_hh * row_scale
        hs, cs = _initial_states(xp, dt, T, N, H, h0, c0)
        tanh_c = xp.empty((T, H, N), dtype=dt)
        rec = xp.empty((4 * H, N), dtype=dt)
        tmp = xp.empty((H, N), dtype=dt)
        for s in range(T):
            g4 = gates[s]
            xp.matmul(w_hh_s, hs[s], out=rec)
            g4 += rec
            xp.tanh(g4, out=g4)
            for sig in (g4[:2 * H], g4[3 * H:]):
                sig *= 0.5
                sig += 0.5
            i, f, g, o = g4[:H], g4[H:2 * H], g4[2 * H:3 * H], g4[3 * H:]
            c = cs[s + 1]
            xp.multiply(f, cs[s], out=c)
            xp.multiply(i, g, out=tmp)
            c += tmp
            xp.tanh(c, out=tanh_c[s])
            xp.multiply(o, tanh_c[s], out=hs[s + 1])
        ctx.single, ctx.reverse = single, reverse
        ctx.save_for_backward(xs, hs, cs, tanh_c, gates, w_ih, w_hh)
        return _sequence_outputs(ctx, hs, (cs[-1],))

    @staticmethod
    def backward(ctx, *grads):
        xs, hs, cs, tanh_c, gates, w_ih, w_hh = ctx.saved_tensors
        xp = backend.get_array_module(hs)
        T, H, N = tanh_c.shape
        dt = hs.dtype
        dout, (dh, dc) = _incoming_grads(ctx, grads, 2, dt)
        # step-independent factors for all steps at once; P becomes d a in place
        g4 = gates.reshape(T, 4, H, N)
        i, f, g, o = g4[:, 0], g4[:, 1], g4[:, 2], g4[:, 3]
        P = xp.empty((T, 4, H, N), dtype=dt)
        for slot, gate, other in ((0, i, g), (1, f, cs[:-1]), (3, o, tanh_c)):
            p = P[:, slot]
            xp.subtract(1, gate, out=p)
            p *= gate
            p *= other
        pg = P[:, 2]
        xp.multiply(g, g, out=pg)
        xp.subtract(1, pg, out=pg)
        pg *= i
        K = tanh_c * tanh_c               # K = o (1 - tanh(c)^2)
        xp.subtract(1, K, out=K)
        K *= o
        tmp = xp.empty((H, N), dtype=dt)
        w_hh_t = w_hh.T
        for s in range(T - 1, -1, -1):
            if dout is not None:
                dh += dout[s]
            xp.multiply(dh, K[s], out=tmp)
            dc += tmp
            p = P[s]
            p[:3] *= dc
            p[3] *= dh
            dc *= f[s]
            xp.matmul(w_hh_t, p.reshape(4 * H, N), out=dh)
        d_gates = P.reshape(T, 4 * H, N)
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(ctx, d_gates, d_gates, xs, hs, w_ih)
        nh, nc = ctx.needs_input_grad[1:3]
        return (dx, xp.ascontiguousarray(dh.T) if nh else None,
                xp.ascontiguousarray(dc.T) if nc else None, dw_ih, dw_hh, db_ih, db_hh)


class GRUSequence(Function):
    """GRU over a sequence (or one step), gate order r, z, n (PyTorch's formulation).

    Inputs: x (T, N, I) or (N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,).
    Outputs: (output (T, N, H), h_T) for a sequence, h_1 for one step.
    Backward per step, with hn = W_hn h_{t-1} + b_hn::

        d a_n = dh (1 - z) (1 - n^2);   d a_z = dh (h_{t-1} - n) z (1 - z)
        d a_r = d a_n * hn * r (1 - r)
        d(W_ih x + b_ih) = [d a_r, d a_z, d a_n];  d(W_hh h + b_hh) = [d a_r, d a_z, d a_n * r]
        dh_{t-1} = dh * z + W_hh^T d(W_hh h + b_hh)
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
        _check_weights("GRU", x, h0, w_ih, w_hh, 3)
        xp = backend.get_array_module(x)
        x3, single = _as_sequence(x)
        xs = _step_order(x3, reverse)
        T, N, _ = xs.shape
        H = w_hh.shape[1]
        gx = _input_projection(xs, w_ih, b_ih)
        dt = gx.dtype
        gh = xp.empty((T, 3 * H, N), dtype=dt)
        rz = xp.empty((T, 2 * H, N), dtype=dt)
        ns = xp.empty((T, H, N), dtype=dt)
        (hs,) = _initial_states(xp, dt, T, N, H, h0)
        b_hh_col = None if b_hh is None else b_hh[:, None]
        for s in range(T):
            ghs = gh[s]
            xp.matmul(w_hh, hs[s], out=ghs)
            if b_hh_col is not None:
                ghs += b_hh_col
            xp.add(gx[s, :2 * H], ghs[:2 * H], out=rz[s])
            _sigmoid_(rz[s])
            n = ns[s]
            xp.multiply(rz[s, :H], ghs[2 * H:], out=n)
            n += gx[s, 2 * H:]
            xp.tanh(n, out=n)
            h = hs[s + 1]
            xp.subtract(hs[s], n, out=h)
            h *= rz[s, H:]
            h += n
        ctx.single, ctx.reverse = single, reverse
        ctx.save_for_backward(xs, hs, gh, rz, ns, w_ih, w_hh)
        return _sequence_outputs(ctx, hs)

    @staticmethod
    def backward(ctx, *grads):
        xs, hs, gh, rz, ns, w_ih, w_hh = ctx.saved_tensors
        xp = backend.get_array_module(hs)
        T, H, N = ns.shape
        dt = hs.dtype
        dout, (dh,) = _incoming_grads(ctx, grads, 1, dt)
        d_gx = xp.empty((T, 3 * H, N), dtype=dt)
        d_gh = xp.empty((T, 3 * H, N), dtype=dt)
        tmp = xp.empty((H, N), dtype=dt)
        rec = xp.empty((H, N), dtype=dt)
        w_hh_t = w_hh.T
        for s in range(T - 1, -1, -1):
            if dout is not None:
                dh += dout[s]
            r, z, n = rz[s, :H], rz[s, H:], ns[s]
            hn = gh[s, 2 * H:]
            dx3, dh3 = d_gx[s], d_gh[s]
            da_r, da_z, da_n = dx3[:H], dx3[H:2 * H], dx3[2 * H:]
            # d a_n = dh (1 - z)(1 - n^2)
            xp.multiply(n, n, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            xp.subtract(1, z, out=da_n)
            da_n *= tmp
            da_n *= dh
            # d a_z = dh (h_prev - n) z (1 - z)
            xp.subtract(hs[s], n, out=da_z)
            da_z *= dh
            xp.subtract(1, z, out=tmp)
            tmp *= z
            da_z *= tmp
            # d a_r = d a_n * hn * r (1 - r)
            xp.subtract(1, r, out=tmp)
            tmp *= r
            xp.multiply(da_n, hn, out=da_r)
            da_r *= tmp
            dh3[:2 * H] = dx3[:2 * H]
            xp.multiply(da_n, r, out=dh3[2 * H:])
            xp.matmul(w_hh_t, dh3, out=rec)
            dh *= z
            dh += rec
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(ctx, d_gx, d_gh, xs, hs, w_ih)
        dh0 = xp.ascontiguousarray(dh.T) if ctx.needs_input_grad[1] else None
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


# ---- functional entry points (Tensors in, Tensors out) ---------------------------------------
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh); x (N, I), h (N, H)."""
    return RNNSequence.apply(input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh")


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh); x (N, I), h (N, H)."""
    return RNNSequence.apply(input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity="relu")


def lstm_cell(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (gate order i, f, g, o) -> (h', c'); x (N, I), h and c (N, H)."""
    return LSTMSequence.apply(input, hx, cx, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (gate order r, z, n) -> h'; x (N, I), h (N, H)."""
    return GRUSequence.apply(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_sequence(input, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh",
                 reverse=False):
    """Elman RNN over x (T, N, I) -> (output (T, N, H), h_T)."""
    return RNNSequence.apply(input, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity,
                             reverse=reverse)


def lstm_sequence(input, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """LSTM over x (T, N, I) -> (output (T, N, H), h_T, c_T)."""
    return LSTMSequence.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)


def gru_sequence(input, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """GRU over x (T, N, I) -> (output (T, N, H), h_T)."""
    return GRUSequence.apply(input, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
