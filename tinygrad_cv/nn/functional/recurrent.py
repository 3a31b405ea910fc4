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

For a whole sequence the input projection of every time step is ONE GEMM
(``x.reshape(T*N, I) @ W_ih^T``) written into a preallocated gate buffer (T, N, G*H); each step
adds its recurrent GEMM ``h_{t-1} @ W_hh^T`` and applies the activations in place.  Backward
through time (BPTT, the notes' ``dL/dh_t = W^T diag(1 - h_{t+1}^2) dL/dh_{t+1} + ...``) walks
the steps in reverse, writing pre-activation gradients into one preallocated buffer, and then
forms ``dW_ih``, ``dW_hh``, the biases and ``dx`` with one GEMM each over all steps.

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
    return xp.ascontiguousarray(x[::-1]) if reverse else x


def _time_order(y, reverse):
    """Undo ``_step_order`` for an output stacked in step order."""
    xp = backend.get_array_module(y)
    return xp.ascontiguousarray(y[::-1]) if reverse else y


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


def _input_projection(xs, w_ih, bias):
    """One GEMM for every time step: (T, N, I) -> (T, N, G*H) = x W_ih^T (+ bias)."""
    T, N, I = xs.shape
    gates = (xs.reshape(T * N, I) @ w_ih.T).reshape(T, N, w_ih.shape[0])
    if bias is not None:
        gates += bias
    return gates


def _sum_biases(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    if b_hh is None:
        return b_ih
    return b_ih + b_hh


def _weight_grads(ctx, d_pre_ih, d_pre_hh, xs, h_prev, w_ih, needs):
    """dx, dW_ih, dW_hh, db_ih, db_hh from pre-activation gradients over all steps (T, N, G*H).

    ``needs`` = needs_input_grad of (x, w_ih, w_hh, b_ih, b_hh).
    """
    T, N, G = d_pre_ih.shape
    shared = d_pre_ih is d_pre_hh
    dih = d_pre_ih.reshape(T * N, G)
    dhh = d_pre_hh.reshape(T * N, G)
    nx, nwi, nwh, nbi, nbh = needs
    dx = (dih @ w_ih).reshape(T, N, w_ih.shape[1]) if nx else None
    dw_ih = dih.T @ xs.reshape(T * N, xs.shape[2]) if nwi else None
    dw_hh = dhh.T @ h_prev.reshape(T * N, h_prev.shape[2]) if nwh else None
    db_ih = dih.sum(axis=0) if nbi else None
    if nbh:
        db_hh = db_ih if (shared and db_ih is not None) else dhh.sum(axis=0)
    else:
        db_hh = None
    return dx, dw_ih, dw_hh, db_ih, db_hh


def _finish_dx(dx, ctx):
    if dx is None:
        return None
    dx = _time_order(dx, ctx.reverse)
    return dx[0] if ctx.single else dx


class RNNSequence(Function):
    """Elman RNN over a sequence (or one step); act = tanh or relu.

    Inputs: x (T, N, I) or (N, I), h0 (N, H), w_ih (H, I), w_hh (H, H), b_ih, b_hh (H,) or None.
    Outputs: (output (T, N, H), h_T) for a sequence, h_1 for one step.
    Backward: d a_t = dh_t * act'(a_t);  dh_{t-1} = d a_t W_hh;  dW_hh = sum_t d a_t^T h_{t-1}.
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
        hs = xp.empty((T + 1, N, H), dtype=pre.dtype)
        hs[0] = h0
        w_hh_t = w_hh.T
        rec = xp.empty((N, H), dtype=pre.dtype)
        relu = nonlinearity == "relu"
        for s in range(T):
            xp.matmul(hs[s], w_hh_t, out=rec)
            a = pre[s]
            a += rec
            if relu:
                xp.maximum(a, 0, out=hs[s + 1])
            else:
                xp.tanh(a, out=hs[s + 1])
        ctx.single, ctx.reverse, ctx.relu = single, reverse, relu
        ctx.save_for_backward(xs, hs, w_ih, w_hh)
        if single:
            return hs[1]
        return _time_order(hs[1:], reverse), hs[T]

    @staticmethod
    def backward(ctx, *grads):
        xs, hs, w_ih, w_hh = ctx.saved_tensors
        xp = backend.get_array_module(hs)
        T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        if ctx.single:
            dout, dh = None, grads[0]
        else:
            dout, dh = _step_order(grads[0], ctx.reverse), grads[1]
        dh = xp.array(dh, dtype=hs.dtype, copy=True)
        d_pre = xp.empty((T, N, H), dtype=hs.dtype)
        for s in range(T - 1, -1, -1):
            if dout is not None:
                dh += dout[s]
            d = d_pre[s]
            h = hs[s + 1]
            if ctx.relu:
                xp.multiply(dh, h > 0, out=d)
            else:
                xp.multiply(h, h, out=d)
                xp.subtract(1, d, out=d)
                d *= dh
            xp.matmul(d, w_hh, out=dh)
        nx, nh, nwi, nwh, nbi, nbh = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(ctx, d_pre, d_pre, xs, hs[:-1], w_ih,
                                                       (nx, nwi, nwh, nbi, nbh))
        return _finish_dx(dx, ctx), (dh if nh else None), dw_ih, dw_hh, db_ih, db_hh


class LSTMSequence(Function):
    """LSTM over a sequence (or one step), gate order i, f, g, o, one GEMM for all gates.

    Inputs: x (T, N, I) or (N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,).
    Outputs: (output (T, N, H), h_T, c_T) for a sequence, (h_1, c_1) for one step.
    Backward per step (dh, dc include the gradients flowing from step t+1)::

        do = dh * tanh(c_t);   dc += dh * o * (1 - tanh(c_t)^2)
        di = dc * g;  df = dc * c_{t-1};  dg = dc * i;  dc_{t-1} = dc * f
        d a = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)];  dh_{t-1} = d a W_hh
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
        gates = _input_projection(xs, w_ih, _sum_biases(b_ih, b_hh))
        dt = gates.dtype
        hs = xp.empty((T + 1, N, H), dtype=dt)
        cs = xp.empty((T + 1, N, H), dtype=dt)
        tanh_c = xp.empty((T, N, H), dtype=dt)
        hs[0] = h0
        cs[0] = c0
        w_hh_t = w_hh.T
        rec = xp.empty((N, 4 * H), dtype=dt)
        tmp = xp.empty((N, H), dtype=dt)
        for s in range(T):
            g4 = gates[s]
            xp.matmul(hs[s], w_hh_t, out=rec)
            g4 += rec
            _sigmoid_(g4[:, :2 * H])
            xp.tanh(g4[:, 2 * H:3 * H], out=g4[:, 2 * H:3 * H])
            _sigmoid_(g4[:, 3 * H:])
            c = cs[s + 1]
            xp.multiply(g4[:, H:2 * H], cs[s], out=c)
            xp.multiply(g4[:, :H], g4[:, 2 * H:3 * H], out=tmp)
            c += tmp
            xp.tanh(c, out=tanh_c[s])
            xp.multiply(g4[:, 3 * H:], tanh_c[s], out=hs[s + 1])
        ctx.single, ctx.reverse = single, reverse
        ctx.save_for_backward(xs, hs, cs, tanh_c, gates, w_ih, w_hh)
        if single:
            return hs[1], cs[1]
        return _time_order(hs[1:], reverse), hs[T], cs[T]

    @staticmethod
    def backward(ctx, *grads):
        xs, hs, cs, tanh_c, gates, w_ih, w_hh = ctx.saved_tensors
        xp = backend.get_array_module(hs)
        T, N, H = tanh_c.shape
        dt = hs.dtype
        if ctx.single:
            dout, dh, dc = None, grads[0], grads[1]
        else:
            dout, dh, dc = _step_order(grads[0], ctx.reverse), grads[1], grads[2]
        dh = xp.array(dh, dtype=dt, copy=True)
        dc = xp.array(dc, dtype=dt, copy=True)
        d_gates = xp.empty((T, N, 4 * H), dtype=dt)
        tmp = xp.empty((N, H), dtype=dt)
        for s in range(T - 1, -1, -1):
            if dout is not None:
                dh += dout[s]
            g4 = gates[s]
            i, f, g, o = g4[:, :H], g4[:, H:2 * H], g4[:, 2 * H:3 * H], g4[:, 3 * H:]
            tc = tanh_c[s]
            d4 = d_gates[s]
            di, df, dg, do = d4[:, :H], d4[:, H:2 * H], d4[:, 2 * H:3 * H], d4[:, 3 * H:]
            # dc += dh * o * (1 - tanh(c)^2)
            xp.multiply(tc, tc, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            # do = dh * tanh(c) * o (1 - o)
            xp.subtract(1, o, out=tmp)
            tmp *= o
            xp.multiply(dh, tc, out=do)
            do *= tmp
            # di = dc * g * i (1 - i)
            xp.subtract(1, i, out=tmp)
            tmp *= i
            xp.multiply(dc, g, out=di)
            di *= tmp
            # df = dc * c_{t-1} * f (1 - f)
            xp.subtract(1, f, out=tmp)
            tmp *= f
            xp.multiply(dc, cs[s], out=df)
            df *= tmp
            # dg = dc * i * (1 - g^2)
            xp.multiply(g, g, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            tmp *= i
            xp.multiply(dc, tmp, out=dg)
            dc *= f
            xp.matmul(d4, w_hh, out=dh)
        nx, nh, nc, nwi, nwh, nbi, nbh = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(ctx, d_gates, d_gates, xs, hs[:-1], w_ih,
                                                       (nx, nwi, nwh, nbi, nbh))
        return (_finish_dx(dx, ctx), (dh if nh else None), (dc if nc else None),
                dw_ih, dw_hh, db_ih, db_hh)


class GRUSequence(Function):
    """GRU over a sequence (or one step), gate order r, z, n (PyTorch's formulation).

    Inputs: x (T, N, I) or (N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,).
    Outputs: (output (T, N, H), h_T) for a sequence, h_1 for one step.
    Backward per step, with hn = W_hn h_{t-1} + b_hn::

        d a_n = dh (1 - z) (1 - n^2);   d a_z = dh (h_{t-1} - n) z (1 - z)
        d a_r = d a_n * hn * r (1 - r)
        d(W_ih x + b_ih) = [d a_r, d a_z, d a_n];  d(W_hh h + b_hh) = [d a_r, d a_z, d a_n * r]
        dh_{t-1} = dh * z + d(W_hh h + b_hh) W_hh
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
        gh = xp.empty((T, N, 3 * H), dtype=dt)
        rz = xp.empty((T, N, 2 * H), dtype=dt)
        ns = xp.empty((T, N, H), dtype=dt)
        hs = xp.empty((T + 1, N, H), dtype=dt)
        hs[0] = h0
        w_hh_t = w_hh.T
        for s in range(T):
            ghs = gh[s]
            xp.matmul(hs[s], w_hh_t, out=ghs)
            if b_hh is not None:
                ghs += b_hh
            xp.add(gx[s, :, :2 * H], ghs[:, :2 * H], out=rz[s])
            _sigmoid_(rz[s])
            n = ns[s]
            xp.multiply(rz[s, :, :H], ghs[:, 2 * H:], out=n)
            n += gx[s, :, 2 * H:]
            xp.tanh(n, out=n)
            h = hs[s + 1]
            xp.subtract(hs[s], n, out=h)
            h *= rz[s, :, H:]
            h += n
        ctx.single, ctx.reverse = single, reverse
        ctx.save_for_backward(xs, hs, gh, rz, ns, w_ih, w_hh)
        if single:
            return hs[1]
        return _time_order(hs[1:], reverse), hs[T]

    @staticmethod
    def backward(ctx, *grads):
        xs, hs, gh, rz, ns, w_ih, w_hh = ctx.saved_tensors
        xp = backend.get_array_module(hs)
        T, N, H = ns.shape
        dt = hs.dtype
        if ctx.single:
            dout, dh = None, grads[0]
        else:
            dout, dh = _step_order(grads[0], ctx.reverse), grads[1]
        dh = xp.array(dh, dtype=dt, copy=True)
        d_gx = xp.empty((T, N, 3 * H), dtype=dt)
        d_gh = xp.empty((T, N, 3 * H), dtype=dt)
        tmp = xp.empty((N, H), dtype=dt)
        rec = xp.empty((N, H), dtype=dt)
        for s in range(T - 1, -1, -1):
            if dout is not None:
                dh += dout[s]
            r, z, n = rz[s, :, :H], rz[s, :, H:], ns[s]
            hn = gh[s, :, 2 * H:]
            dx3, dh3 = d_gx[s], d_gh[s]
            da_r, da_z, da_n = dx3[:, :H], dx3[:, H:2 * H], dx3[:, 2 * H:]
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
            dh3[:, :2 * H] = dx3[:, :2 * H]
            xp.multiply(da_n, r, out=dh3[:, 2 * H:])
            xp.matmul(dh3, w_hh, out=rec)
            dh *= z
            dh += rec
        nx, nh, nwi, nwh, nbi, nbh = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(ctx, d_gx, d_gh, xs, hs[:-1], w_ih,
                                                       (nx, nwi, nwh, nbi, nbh))
        return _finish_dx(dx, ctx), (dh if nh else None), dw_ih, dw_hh, db_ih, db_hh


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
