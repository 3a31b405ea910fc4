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

from ... import backend, threads
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


def _check_weights(name, x, h, w_ih, w_hh, gates, w_hr=None):
    """Raise ValueError naming ``name`` when the shapes do not fit together (with a projection
    ``w_hr`` (P, H) the recurrent weight is (gates*H, P) and the state h is (N, P))."""
    out_size = w_hh.shape[1]
    hidden = out_size if w_hr is None else w_hr.shape[-1]
    if w_ih.ndim != 2 or w_ih.shape[0] != gates * hidden or w_hh.shape[0] != gates * hidden:
        size = "H" if w_hr is None else "P"
        raise ValueError(f"{name}: expected w_ih ({gates}*H, I) and w_hh ({gates}*H, {size}), "
                         f"got {tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    if w_hr is not None and (w_hr.ndim != 2 or w_hr.shape[0] != out_size):
        raise ValueError(f"{name}: expected w_hr (P, H) with P = {out_size} (w_hh's columns), "
                         f"got {tuple(w_hr.shape)}")
    if x.shape[-1] != w_ih.shape[1]:
        raise ValueError(f"{name}: expected input with {w_ih.shape[1]} features (last dim), got "
                         f"shape {tuple(x.shape)}")
    if h.shape != (x.shape[-2], out_size):
        raise ValueError(f"{name}: expected hidden state of shape {(x.shape[-2], out_size)}, "
                         f"got {tuple(h.shape)}")


def _feature_major(a):
    """(N, H) -> contiguous (H, N)."""
    return backend.get_array_module(a).ascontiguousarray(a.T)


def _input_projection(xs, w_ih, bias):
    """W_ih x_t (+ bias) for every step at once: (T, N, I) -> (T, G*H, N), the steps split
    over the intra-op threads (each adds the bias to its own steps)."""
    return threads.matmul(w_ih, xs.transpose(0, 2, 1),
                          bias=None if bias is None else bias[:, None])


def _batch_ranges(N, work, like):
    """Column ranges [a, b) of the batch, one per intra-op thread when the recurrence is large
    enough (``work`` elements), else [(0, N)]: the samples of a batch are independent, so each
    thread runs the whole recurrence on its samples, with one hand-off for all the steps
    instead of one per step's small GEMM (measured slower than serial on a loaded machine)."""
    count = threads.usable(like, work)
    return threads.split(N, count) if count > 1 and N > 1 else [(0, N)]


def _per_part(fn, ranges):
    """[fn(a, b) for each range [a, b)], every part on its own intra-op thread."""
    results = [None] * len(ranges)

    def call(j):
        results[j] = fn(*ranges[j])

    threads.run([lambda j=j: call(j) for j in range(len(ranges))])
    return results


def _recurrence_work(T, N, rows, inputs, hidden):
    """Elements of work of a recurrence over T steps of N samples with ``rows`` = G*H gate
    rows: its GEMMs' multiply-adds (scaled as ``threads.matmul`` does) and the gate passes."""
    return T * N * rows * (inputs + hidden) // threads.MACS_PER_ELEMENT + 8 * T * N * rows


def _output_buffers(ctx, xp, T, N, sizes, dtype):
    """The sequence output (T, N, sizes[0]) (None for one step) and the final states
    (N, size) of each size in ``sizes`` that the batch parts write their columns into."""
    out = None if ctx.single else xp.empty((T, N, sizes[0]), dtype=dtype)
    return out, [xp.empty((N, size), dtype=dtype) for size in sizes]


def _write_outputs(ctx, out, finals, a, b, hs, extra=()):
    """Columns [a, b) of the outputs from a part's feature-major states hs (T+1, H, b-a) and
    further final states ``extra`` (H, b-a); the output is in the caller's step order."""
    if out is not None:
        steps = out[::-1] if ctx.reverse else out
        steps[:, a:b] = hs[1:].transpose(0, 2, 1)
    for final, state in zip(finals, (hs[-1],) + tuple(extra)):
        final[a:b] = state.T


def _results(ctx, out, finals):
    """One step: h_1 (or (h_1, c_1)); a sequence: (output, h_T[, c_T])."""
    if ctx.single:
        return tuple(finals) if len(finals) > 1 else finals[0]
    return (out,) + tuple(finals)


def _incoming_grads(ctx, grads, n_states, dtype, a, b):
    """(dout feature-major (T, H, b-a) in step order or None, [d state (H, b-a) copies]) of
    the batch columns [a, b)."""
    xp = backend.get_array_module(grads[0])
    if ctx.single:
        dout, states = None, grads[:n_states]
    else:
        g = grads[0][::-1] if ctx.reverse else grads[0]
        dout = xp.ascontiguousarray(g[:, a:b].transpose(0, 2, 1), dtype=dtype)
        states = grads[1:1 + n_states]
    return dout, [xp.array(st[a:b].T, dtype=dtype, order="C") for st in states]


def _sum_biases(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    if b_hh is None:
        return b_ih
    return b_ih + b_hh


def _weight_grads(needs, d_ih, d_hh, xs, hs, w_ih, dx_out):
    """dW_ih, dW_hh, db_ih, db_hh from pre-activation gradients d_* (T, G*H, N), and dx
    (T, N, I), in step order, written into ``dx_out`` (when needed).

    One GEMM each over all steps: with D (G*H, T*N) the gradients regrouped by feature
    (columns ordered by step, then batch), dW_ih = D_ih X, dW_hh = D_hh H_prev and the biases
    are row sums of D; dx_t = D_ih,t^T W_ih is one batched product over the steps.  Called
    on one thread's batch part, all of it runs there; called on the whole batch, the rows of D
    (the features) are split over the intra-op threads, each thread regrouping its block of
    rows into a reused scratch buffer and forming its rows of the weight and bias gradients,
    and dx splits its steps.
    """
    xp = backend.get_array_module(hs)
    nx, nwi, nwh, nbi, nbh = needs
    T, G, N = d_ih.shape
    dt = d_ih.dtype
    dw_ih = dw_hh = db_ih = db_hh = None
    if nx:
        threads.matmul(d_ih.transpose(0, 2, 1), w_ih, out=dx_out)
    shared = d_hh is d_ih
    if not (nwi or nwh or nbi or nbh):
        return dw_ih, dw_hh, db_ih, db_hh
    x2 = xs.reshape(T * N, xs.shape[2])
    h_prev = None
    if nwh:
        h_prev = xp.ascontiguousarray(hs[:-1].transpose(0, 2, 1)).reshape(T * N, hs.shape[1])
        dw_hh = xp.empty((G, h_prev.shape[1]), dtype=xp.result_type(dt, h_prev))
    if nwi:
        dw_ih = xp.empty((G, x2.shape[1]), dtype=xp.result_type(dt, x2))
    if nbi:
        db_ih = xp.empty(G, dtype=dt)
    if nbh and not (shared and nbi):
        db_hh = xp.empty(G, dtype=dt)
    sum_hh = db_hh is not None

    def by_feature(d, g0, g1, slot):
        block = threads.scratch((g1 - g0, T, N), dt, d, slot)
        block[...] = d[:, g0:g1].transpose(1, 0, 2)
        return block.reshape(g1 - g0, T * N)

    def part(g0, g1):
        d = by_feature(d_ih, g0, g1, "recurrent_ih")
        if nwi:
            xp.matmul(d, x2, out=dw_ih[g0:g1])
        if nbi:
            d.sum(axis=1, out=db_ih[g0:g1])
        if nwh or sum_hh:
            if not shared:
                d = by_feature(d_hh, g0, g1, "recurrent_hh")
            if nwh:
                xp.matmul(d, h_prev, out=dw_hh[g0:g1])
            if sum_hh:
                d.sum(axis=1, out=db_hh[g0:g1])

    width = (x2.shape[1] if nwi else 0) + (h_prev.shape[1] if nwh else 0)
    threads.for_ranges(part, G, T * N * G * max(width, 1) // threads.MACS_PER_ELEMENT, like=hs)
    if nbh and db_hh is None:
        db_hh = db_ih
    return dw_ih, dw_hh, db_ih, db_hh


def _backward_parts(ctx, grads, n_states, part_fn):
    """The gradients of a recurrence from ``part_fn(j, dout, d_states)`` over its batch parts.

    ``part_fn`` runs BPTT on part j's saved buffers and returns (d_ih, d_hh, d_states (size,
    Nj) after the first step[, a further weight gradient of the part or None]); this adds dx
    (written into its columns of one (T, N, I) array), the initial-state gradients and the
    weight and bias gradients (per part, over its samples; the caller adds the parts).
    Returns (dx, [d initial states], dW_ih, dW_hh, db_ih, db_hh, the further gradient or None).
    The inputs of the Function are (x, the n_states states, w_ih, w_hh, b_ih, b_hh, ...).
    """
    xs, w_ih, ranges = ctx.saved_tensors[:3]
    xp = backend.get_array_module(xs)
    T, N, _ = xs.shape
    nx = ctx.needs_input_grad[0]
    needs = (nx,) + (tuple(ctx.needs_input_grad) + (False,) * 4)[1 + n_states:5 + n_states]
    dt = ctx.dtype
    dx = xp.empty((T, N, w_ih.shape[1]), dtype=xp.result_type(dt, w_ih)) if nx else None
    incoming = grads[:n_states] if ctx.single else grads[1:1 + n_states]
    d_states = [xp.empty((N, g.shape[-1]), dtype=dt) for g in incoming]

    def part(a, b):
        j = ranges.index((a, b))
        dout, states = _incoming_grads(ctx, grads, n_states, dt, a, b)
        result = part_fn(j, dout, states)
        d_ih, d_hh, states = result[:3]
        for full, st in zip(d_states, states):
            full[a:b] = st.T
        return _weight_grads(needs, d_ih, d_hh, xs[:, a:b], ctx.saved_tensors[3][j][0],
                             w_ih, None if dx is None else dx[:, a:b]) + (
                                 result[3] if len(result) > 3 else None,)

    sums = _per_part(part, ranges)
    totals = []
    for k in range(5):
        parts = [s[k] for s in sums]
        if k == 3 and parts[0] is not None and parts[0] is sums[0][2]:
            totals.append(totals[2])        # db_hh is db_ih (one gradient for both biases)
            continue
        totals.append(threads.add_partials(parts))
    if dx is not None:
        if ctx.reverse:
            dx = xp.ascontiguousarray(dx[::-1])
        if ctx.single:
            dx = dx[0]
    return (dx, [d if need else None for d, need in
                 zip(d_states, ctx.needs_input_grad[1:1 + n_states])]) + tuple(totals)


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
    The batch is split over the intra-op threads (``_batch_ranges``), forward and backward.
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
        T, N, I = xs.shape
        H = w_hh.shape[1]
        bias = _sum_biases(b_ih, b_hh)
        dt = xp.result_type(xs, w_ih)
        relu = nonlinearity == "relu"
        ctx.single, ctx.reverse, ctx.relu, ctx.dtype, ctx.gates = single, reverse, relu, dt, 1
        out, finals = _output_buffers(ctx, xp, T, N, (H,), dt)

        def part(a, b):
            pre = _input_projection(xs[:, a:b], w_ih, bias)
            (hs,) = _initial_states(xp, dt, T, b - a, H, h0[a:b])
            rec = xp.empty((H, b - a), dtype=dt)
            for s in range(T):
                xp.matmul(w_hh, hs[s], out=rec)
                a_s = pre[s]
                a_s += rec
                if relu:
                    xp.maximum(a_s, 0, out=hs[s + 1])
                else:
                    xp.tanh(a_s, out=hs[s + 1])
            _write_outputs(ctx, out, finals, a, b, hs)
            return (hs,)

        ranges = _batch_ranges(N, _recurrence_work(T, N, H, I, H), xs)
        ctx.save_for_backward(xs, w_ih, ranges, _per_part(part, ranges), w_hh)
        return _results(ctx, out, finals)

    @staticmethod
    def backward(ctx, *grads):
        saved, w_hh = ctx.saved_tensors[3:]
        xp = backend.get_array_module(w_hh)
        w_hh_t = w_hh.T

        def part(j, dout, states):
            (hs,) = saved[j]
            (dh,) = states
            T = hs.shape[0] - 1
            # act'(a_t) for all steps at once, then times dh_t step by step
            if ctx.relu:
                d_pre = (hs[1:] > 0).astype(hs.dtype)
            else:
                d_pre = hs[1:] * hs[1:]
                xp.subtract(1, d_pre, out=d_pre)
            for s in range(T - 1, -1, -1):
                if dout is not None:
                    dh += dout[s]
                d = d_pre[s]
                d *= dh
                xp.matmul(w_hh_t, d, out=dh)
            return d_pre, d_pre, (dh,)

        dx, (dh0,), dw_ih, dw_hh, db_ih, db_hh, _ = _backward_parts(ctx, grads, 1, part)
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


class LSTMSequence(Function):
    """LSTM over a sequence (or one step), gate order i, f, g, o, one GEMM for all gates.

    Inputs: x (T, N, I) or (N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,).
    Outputs: (output (T, N, H), h_T, c_T) for a sequence, (h_1, c_1) for one step.

    With a projection ``w_hr`` (P, H) (torch's ``proj_size``): h_t = W_hr (o * tanh(c_t)), so
    h0, h_T and the output have P features and w_hh is (4H, P); c stays (N, H).

    Forward: the rows of the sigmoid gates (i, f, o) in the weights and bias are pre-scaled by
    1/2 (exact in floating point), so that one ``tanh`` over all 4H pre-activations gives
    tanh(a/2) for i, f, o and tanh(a) for g; s(a) = (1 + tanh(a/2)) / 2 then takes one
    multiply-add per sigmoid block.

    Backward per step (dh, dc include the gradients flowing from step t+1)::

        dc += dh * o * (1 - tanh(c_t)^2)
        d a = [dc * g i(1-i), dc * c_{t-1} f(1-f), dc * i (1-g^2), dh * tanh(c_t) o(1-o)]
        dc_{t-1} = dc * f,   dh_{t-1} = W_hh^T d a

    with a projection, m_t = o * tanh(c_t) is kept per step and dh is first taken back through
    it (dm = W_hr^T dh, used above in place of dh); dW_hr = sum_t dh_t m_t^T is one GEMM over
    all steps.  The factors that do not depend on the recursion are computed for all steps at once.
    The batch is split over the intra-op threads (``_batch_ranges``), forward and backward.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, reverse=False):
        _check_weights("LSTM", x, h0, w_ih, w_hh, 4, w_hr)
        xp = backend.get_array_module(x)
        x3, single = _as_sequence(x)
        xs = _step_order(x3, reverse)
        T, N, I = xs.shape
        H, P = w_ih.shape[0] // 4, w_hh.shape[1]
        if c0.shape != (N, H):
            raise ValueError(f"LSTM: expected cell state of shape {(N, H)}, got "
                             f"{tuple(c0.shape)}")
        dt = xp.result_type(x, w_ih)
        row_scale = xp.full((4 * H, 1), 0.5, dtype=dt)   # 1/2 on the rows of i, f, o
        row_scale[2 * H:3 * H] = 1.0
        bias = _sum_biases(b_ih, b_hh)
        w_ih_s = w_ih * row_scale
        bias_s = None if bias is None else bias * row_scale[:, 0]
        w_hh_s = w_hh * row_scale
        ctx.single, ctx.reverse, ctx.dtype, ctx.gates = single, reverse, dt, 4
        ctx.projected = w_hr is not None
        out, finals = _output_buffers(ctx, xp, T, N, (P, H), dt)

        def part(a, b):
            n = b - a
            gates = _input_projection(xs[:, a:b], w_ih_s, bias_s)
            (hs,) = _initial_states(xp, dt, T, n, P, h0[a:b])
            (cs,) = _initial_states(xp, dt, T, n, H, c0[a:b])
            ms = None if w_hr is None else xp.empty((T, H, n), dtype=dt)   # o * tanh(c)
            tanh_c = xp.empty((T, H, n), dtype=dt)
            rec = xp.empty((4 * H, n), dtype=dt)
            tmp = xp.empty((H, n), dtype=dt)
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
                if ms is None:
                    xp.multiply(o, tanh_c[s], out=hs[s + 1])
                else:
                    xp.multiply(o, tanh_c[s], out=ms[s])
                    xp.matmul(w_hr, ms[s], out=hs[s + 1])
            _write_outputs(ctx, out, finals, a, b, hs, (cs[-1],))
            return hs, cs, tanh_c, gates, ms

        work = _recurrence_work(T, N, 4 * H, I, P) + (0 if w_hr is None else _recurrence_work(
            T, N, P, H, 0))
        ranges = _batch_ranges(N, work, xs)
        ctx.save_for_backward(xs, w_ih, ranges, _per_part(part, ranges), w_hh, w_hr)
        return _results(ctx, out, finals)

    @staticmethod
    def backward(ctx, *grads):
        saved, w_hh, w_hr = ctx.saved_tensors[3:]
        xp = backend.get_array_module(w_hh)
        dt = ctx.dtype
        w_hh_t = w_hh.T
        need_hr = w_hr is not None and ctx.needs_input_grad[7]

        def part(j, dout, states):
            hs, cs, tanh_c, gates, ms = saved[j]
            dh, dc = states
            T, H, N = tanh_c.shape
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
            dm = dh if ms is None else xp.empty((H, N), dtype=dt)     # dL/d(o * tanh(c))
            dhs = xp.empty((T,) + dh.shape, dtype=dt) if need_hr else None
            for s in range(T - 1, -1, -1):
                if dout is not None:
                    dh += dout[s]
                if ms is not None:
                    if dhs is not None:
                        dhs[s] = dh
                    xp.matmul(w_hr.T, dh, out=dm)
                xp.multiply(dm, K[s], out=tmp)
                dc += tmp
                p = P[s]
                p[:3] *= dc
                p[3] *= dm
                dc *= f[s]
                xp.matmul(w_hh_t, p.reshape(4 * H, N), out=dh)
            d_gates = P.reshape(T, 4 * H, N)
            # dW_hr = sum_t dh_t m_t^T over the steps and samples of this part: one GEMM
            dw_hr = None if dhs is None else xp.tensordot(dhs, ms, axes=([0, 2], [0, 2]))
            return d_gates, d_gates, (dh, dc), dw_hr

        dx, (dh0, dc0), dw_ih, dw_hh, db_ih, db_hh, dw_hr = _backward_parts(ctx, grads, 2,
                                                                             part)
        if ctx.projected:
            return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr
        return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh


class GRUSequence(Function):
    """GRU over a sequence (or one step), gate order r, z, n (PyTorch's formulation).

    Inputs: x (T, N, I) or (N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,).
    Outputs: (output (T, N, H), h_T) for a sequence, h_1 for one step.
    Backward per step, with hn = W_hn h_{t-1} + b_hn::

        d a_n = dh (1 - z) (1 - n^2);   d a_z = dh (h_{t-1} - n) z (1 - z)
        d a_r = d a_n * hn * r (1 - r)
        d(W_ih x + b_ih) = [d a_r, d a_z, d a_n];  d(W_hh h + b_hh) = [d a_r, d a_z, d a_n * r]
        dh_{t-1} = dh * z + W_hh^T d(W_hh h + b_hh)

    The batch is split over the intra-op threads (``_batch_ranges``), forward and backward.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
        _check_weights("GRU", x, h0, w_ih, w_hh, 3)
        xp = backend.get_array_module(x)
        x3, single = _as_sequence(x)
        xs = _step_order(x3, reverse)
        T, N, I = xs.shape
        H = w_hh.shape[1]
        dt = xp.result_type(xs, w_ih)
        b_hh_col = None if b_hh is None else b_hh[:, None]
        ctx.single, ctx.reverse, ctx.dtype, ctx.gates = single, reverse, dt, 3
        out, finals = _output_buffers(ctx, xp, T, N, (H,), dt)

        def part(a, b):
            n_ = b - a
            gx = _input_projection(xs[:, a:b], w_ih, b_ih)
            gh = xp.empty((T, 3 * H, n_), dtype=dt)
            rz = xp.empty((T, 2 * H, n_), dtype=dt)
            ns = xp.empty((T, H, n_), dtype=dt)
            (hs,) = _initial_states(xp, dt, T, n_, H, h0[a:b])
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
            _write_outputs(ctx, out, finals, a, b, hs)
            return hs, gh, rz, ns

        ranges = _batch_ranges(N, _recurrence_work(T, N, 3 * H, I, H), xs)
        ctx.save_for_backward(xs, w_ih, ranges, _per_part(part, ranges), w_hh)
        return _results(ctx, out, finals)

    @staticmethod
    def backward(ctx, *grads):
        saved, w_hh = ctx.saved_tensors[3:]
        xp = backend.get_array_module(w_hh)
        dt = ctx.dtype
        w_hh_t = w_hh.T

        def part(j, dout, states):
            hs, gh, rz, ns = saved[j]
            (dh,) = states
            T, H, N = ns.shape
            d_gx = xp.empty((T, 3 * H, N), dtype=dt)
            d_gh = xp.empty((T, 3 * H, N), dtype=dt)
            tmp = xp.empty((H, N), dtype=dt)
            rec = xp.empty((H, N), dtype=dt)
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
            return d_gx, d_gh, (dh,)

        dx, (dh0,), dw_ih, dw_hh, db_ih, db_hh, _ = _backward_parts(ctx, grads, 1, part)
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


def lstm_sequence(input, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False, w_hr=None):
    """LSTM over x (T, N, I) -> (output (T, N, H), h_T, c_T); with the projection ``w_hr``
    (P, H), h0, h_T and the output have P features (see ``LSTMSequence``)."""
    if w_hr is None:
        return LSTMSequence.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    return LSTMSequence.apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=reverse)


def gru_sequence(input, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """GRU over x (T, N, I) -> (output (T, N, H), h_T)."""
    return GRUSequence.apply(input, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
