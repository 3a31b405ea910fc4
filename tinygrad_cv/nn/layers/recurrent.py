"""Recurrent layers with torch.nn's names, shapes, parameter names and initialisation.

Cells (one time step): ``RNNCell``, ``LSTMCell``, ``GRUCell`` with parameters ``weight_ih``
(G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,), G = 1, 4 (i, f, g, o), 3
(r, z, n).  Sequence layers ``RNN``, ``LSTM``, ``GRU`` stack ``num_layers`` recurrences
(``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` and the
``_reverse`` twins when bidirectional); each layer/direction is one fused sequence Function
(see ``nn.functional.recurrent``).  Every weight starts as U(-1/sqrt(H), 1/sqrt(H)).
``LSTM(..., proj_size=P)`` (0 < P < H) adds ``weight_hr_l{k}`` (P, H) per layer and direction:
h_t = W_hr (o_t * tanh(c_t)), so h (and the output, and the next layer's input) has P
features per direction and ``weight_hh_l{k}`` is (4H, P); c keeps H.

Shapes (D = 2 if bidirectional else 1, R = proj_size if > 0 else H)::

    input  (L, N, I), or (N, L, I) with batch_first, or unbatched (L, I)
    h_0    (D * num_layers, N, R) (unbatched: (D * num_layers, R)); zeros when not given
    c_0    (D * num_layers, N, H) (LSTM)
    output (L, N, D * R) (batch_first: (N, L, D * R)),  h_n like h_0 (and c_n like c_0)
"""
from __future__ import annotations

import math
import numbers
import warnings

from ... import backend
from .. import init
from ..functional import dropout as _dropout
from ..functional.recurrent import GRUSequence, LSTMSequence, RNNSequence
from ..module import Module, Parameter
from ...tensor import Tensor, cat, stack
from ..utils.packed_sequence import PackedSequence, pack_like, pad_packed_sequence

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _new_parameter(shape, device, dtype):
    xp = backend.module_for_device(device)
    return Parameter(xp.empty(shape, dtype=backend.dtype(dtype or "float32")))


def _zeros_like_state(x, shape):
    xp = backend.get_array_module(x.array)
    return Tensor.wrap(xp.zeros(shape, dtype=x.dtype))


def _shape_error(layer, what, expected, actual):
    return ValueError(f"{type(layer).__name__}: expected {what} of shape {tuple(expected)}, "
                      f"got {tuple(actual)}")


def _check_features(layer, x, size, what="input"):
    if x.shape[-1] != size:
        expected = tuple(x.shape[:-1]) + (size,)
        raise _shape_error(layer, what, expected, x.shape)


def _run_sequence(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, w_hr=None):
    """One layer and direction over x (T, N, I): (output, h_T) or (output, h_T, c_T)."""
    if mode == "LSTM":
        if w_hr is not None:
            return LSTMSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=reverse)
        return LSTMSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    if mode == "GRU":
        return GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    return RNNSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse,
                             nonlinearity="relu" if mode == "RNN_RELU" else "tanh")


# ---- cells ----------------------------------------------------------------------------------
def _uniform_reset(module):
    """Every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)) (torch's default for recurrent layers)."""
    k = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -k, k)


class RNNCellBase(Module):
    """Base class of the cells (torch's ``nn.RNNCellBase``): ``weight_ih`` (num_chunks * H, I),
    ``weight_hh`` (num_chunks * H, H) and, with ``bias``, ``bias_ih``/``bias_hh``
    (num_chunks * H,), all U(-1/sqrt(H), 1/sqrt(H)); no forward of its own."""

    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        g = int(num_chunks) * self.hidden_size
        self.weight_ih = _new_parameter((g, self.input_size), device, dtype)
        self.weight_hh = _new_parameter((g, self.hidden_size), device, dtype)
        if self.bias:
            self.bias_ih = _new_parameter((g,), device, dtype)
            self.bias_hh = _new_parameter((g,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_reset(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity=relu"   # (torch's RNNCell repr, unquoted)
        return s

    def _prepare(self, x, hx):
        """(batched input (N, I), batched states, was the input unbatched)."""
        if x.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, "
                             f"{self.input_size}) or ({self.input_size},), got {tuple(x.shape)}")
        _check_features(self, x, self.input_size)
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        n = x.shape[0]
        states = hx if isinstance(hx, tuple) else (hx,)
        out = []
        for st in states:
            if st is None:
                st = _zeros_like_state(x, (n, self.hidden_size))
            else:
                expected = (self.hidden_size,) if unbatched else (n, self.hidden_size)
                if tuple(st.shape) != expected:
                    raise _shape_error(self, "hidden state", expected, st.shape)
                if unbatched:
                    st = st.unsqueeze(0)
            out.append(st)
        return x, out, unbatched


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu (``nonlinearity``).

    input (N, I) or (I,), hx (N, H) or (H,) (zeros when None) -> h' of hx's shape.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (use 'tanh' or "
                             "'relu')")
        object.__setattr__(self, "mode", "RNN_RELU" if nonlinearity == "relu" else "RNN_TANH")
        object.__setattr__(self, "nonlinearity", nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx)
        h = RNNSequence.apply(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                              nonlinearity=self.nonlinearity)
        return h[0] if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o): (h', c') from x and (h, c).

    input (N, I) or (I,), hx = (h, c) each (N, H) or (H,) (zeros when None).
    """

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError("LSTMCell: hx must be a tuple (h, c)")
        x, (h, c), unbatched = self._prepare(input, tuple(hx))
        h, c = LSTMSequence.apply(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                  self.bias_hh)
        return (h[0], c[0]) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).

    input (N, I) or (I,), hx (N, H) or (H,) (zeros when None) -> h'.
    """

    mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx)
        h = GRUSequence.apply(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h[0] if unbatched else h


# ---- multi-layer sequence layers ------------------------------------------------------------
def _check_sizes(name, **sizes):
    """torch's checks of the sizes: integers (TypeError), greater than zero (ValueError)."""
    for what, value in sizes.items():
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: {what} should be of type int, got {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name}: {what} must be greater than zero, got {value}")


class RNNBase(Module):
    """Base class of the sequence layers (torch's ``nn.RNNBase``): ``RNNBase(mode, input_size,
    hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0)`` with ``mode`` one of 'LSTM', 'GRU', 'RNN_TANH',
    'RNN_RELU' makes that recurrence's parameters (names, shapes, initialisation as the
    subclass; ``proj_size`` > 0, LSTM only, adds ``weight_hr_l{k}`` (proj_size, H)); it has
    no forward of its own (``RNN``, ``LSTM`` and ``GRU`` add it)."""

    proj_size = 0

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode} (use one of {', '.join(_GATES)})")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        _check_sizes(name, input_size=input_size, hidden_size=hidden_size,
                     num_layers=num_layers)
        if not isinstance(proj_size, numbers.Integral):
            raise TypeError(f"{name}: proj_size should be of type int, got "
                            f"{type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.proj_size = int(proj_size)
        if float(dropout) > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        num_dir = 2 if self.bidirectional else 1
        g = _GATES[self.mode] * self.hidden_size
        real = self._state_size
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else real * num_dir
            for d in range(num_dir):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                setattr(self, "weight_ih" + sfx, _new_parameter((g, layer_in), device, dtype))
                setattr(self, "weight_hh" + sfx, _new_parameter((g, real), device, dtype))
                if self.bias:
                    setattr(self, "bias_ih" + sfx, _new_parameter((g,), device, dtype))
                    setattr(self, "bias_hh" + sfx, _new_parameter((g,), device, dtype))
                if self.proj_size:
                    setattr(self, "weight_hr" + sfx,
                            _new_parameter((self.proj_size, self.hidden_size), device, dtype))
        self.reset_parameters()

    @property
    def _state_size(self):
        """The size of h (and of each direction's output): proj_size if > 0, else H."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def reset_parameters(self):
        _uniform_reset(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:      # (torch's RNN repr does not show nonlinearity)
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def flatten_parameters(self):
        """No-op, for code written for torch's cuDNN weight packing."""
        return None

    # torch's argument checks, for subclasses written against torch's RNNBase
    def check_input(self, input, batch_sizes):
        """``input`` (L, N, I), (L, I), or a packed (T, I) when ``batch_sizes`` is given, with
        the weights' dtype (ValueError) and I = input_size (RuntimeError), as torch."""
        weights = self._flat_weights
        if weights and input.dtype != weights[0].dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weights[0].dtype}). Convert input: input.to({weights[0].dtype}"
                             f"), or convert model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() not in (expected, expected - 1):
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes):
        """``(num_layers * num_directions, N, proj_size or hidden_size)`` for this input."""
        if batch_sizes is not None:
            batch = int(batch_sizes[0])
        else:
            batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * (2 if self.bidirectional else 1), batch, self._state_size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(tuple(expected_hidden_size), list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        """``hx`` with its batch dim (1) reordered by ``permutation``."""
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    @property
    def _flat_weights(self):
        """The parameters in ``_flat_weights_names`` order (torch's list)."""
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def _all_weights(self):
        """The parameter names of each layer and direction (torch's order), as lists."""
        kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ()) + (
            ("weight_hr",) if self.proj_size else ())
        return [[k + f"_l{layer}" + ("_reverse" if d == 1 else "") for k in kinds]
                for layer in range(self.num_layers)
                for d in range(2 if self.bidirectional else 1)]

    @property
    def _flat_weights_names(self):
        return [n for names in self._all_weights for n in names]

    @property
    def all_weights(self):
        """The parameters of each layer and direction: [[w_ih, w_hh(, b_ih, b_hh)(, w_hr)],
        ...]."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _weights(self, layer, d):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction (None where absent)."""
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        return (getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                getattr(self, "bias_ih" + sfx) if self.bias else None,
                getattr(self, "bias_hh" + sfx) if self.bias else None,
                getattr(self, "weight_hr" + sfx) if self.proj_size else None)

    def _state_shapes(self, n):
        """The full shapes of h_0 (and c_0) for a batch of n."""
        lead = self.num_layers * (2 if self.bidirectional else 1)
        return [(lead, n, self._state_size), (lead, n, self.hidden_size)]

    def _check_state(self, st, expected, name):
        if tuple(st.shape) != tuple(expected):
            raise _shape_error(self, name, expected, st.shape)

    def _run(self, input, states):
        """Shared forward: ``states`` is a list of h0 (and c0) or Nones."""
        if isinstance(input, PackedSequence):
            return self._run_packed(input, states)
        name = type(self).__name__
        if input.ndim not in (2, 3):
            layout = "(N, L, I)" if self.batch_first else "(L, N, I)"
            raise ValueError(f"{name}: expected input of shape {layout} or (L, I) with "
                             f"I = {self.input_size}, got {tuple(input.shape)}")
        _check_features(self, input, self.input_size)
        unbatched = input.ndim == 2
        if input.shape[1 if self.batch_first and not unbatched else 0] == 0:
            raise ValueError(f"{name}: expected a sequence length larger than 0, got input of "
                             f"shape {tuple(input.shape)}")
        x = input.unsqueeze(1) if unbatched else (
            input.transpose(0, 1) if self.batch_first else input)
        n = x.shape[1]
        num_dir = 2 if self.bidirectional else 1
        given = []
        for st, sname, full in zip(states, ("h_0", "c_0"), self._state_shapes(n)):
            if st is None:
                given.append(None)
                continue
            if unbatched:
                self._check_state(st, (full[0], full[2]), sname)
                st = st.unsqueeze(1)
            else:
                self._check_state(st, full, sname)
            given.append(st)
        finals = [[] for _ in states]
        zeros = {}
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_dir):
                idx = layer * num_dir + d
                init_states = []
                for st, full in zip(given, self._state_shapes(n)):
                    if st is None:
                        if full[2] not in zeros:
                            zeros[full[2]] = _zeros_like_state(x, (n, full[2]))
                        init_states.append(zeros[full[2]])
                    else:
                        init_states.append(st[idx])
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
                if self.mode == "LSTM":
                    out, h, c = _run_sequence(self.mode, x, init_states[0], init_states[1],
                                              w_ih, w_hh, b_ih, b_hh, d == 1, w_hr)
                    finals[0].append(h)
                    finals[1].append(c)
                else:
                    out, h = _run_sequence(self.mode, x, init_states[0], None, w_ih, w_hh,
                                           b_ih, b_hh, d == 1)
                    finals[0].append(h)
                outs.append(out)
            x = outs[0] if num_dir == 1 else cat(outs, dim=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, training=True)
        out = x
        stacked = [stack(f, dim=0) for f in finals]
        if unbatched:
            out = out.squeeze(1)
            stacked = [s.squeeze(1) for s in stacked]
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, stacked


    def _run_packed(self, packed, states):
        """The forward of a PackedSequence: the sequences grouped by length, each group run
        through every layer and direction by the fused sequence Function over its own length
        (so the final states and the reverse direction start at each sequence's last step),
        the outputs packed like the input; h_0/h_n in the batch's original order (as torch)."""
        padded, lengths = pad_packed_sequence(packed)                 # (T, B, I)
        _check_features(self, padded, self.input_size)
        lens = [int(v) for v in lengths.tolist()]
        t_max, n = padded.shape[0], padded.shape[1]
        groups = {}
        for i, length in enumerate(lens):
            groups.setdefault(length, []).append(i)
        order = [i for length in sorted(groups, reverse=True) for i in groups[length]]
        inverse = [0] * n
        for k, i in enumerate(order):
            inverse[i] = k
        xp = backend.get_array_module(padded.array)
        index = {length: xp.asarray(idx) for length, idx in groups.items()}
        num_dir = 2 if self.bidirectional else 1
        given = []
        for st, sname, full in zip(states, ("h_0", "c_0"), self._state_shapes(n)):
            if st is not None:
                self._check_state(st, full, sname)
            given.append(st)
        finals = [[] for _ in states]
        x, zeros = padded, {}
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_dir):
                idx_state = layer * num_dir + d
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
                out_parts, final_parts = [], [[] for _ in states]
                for length in sorted(groups, reverse=True):
                    members = index[length]
                    xg = x[:length, members]
                    init_states = []
                    for st, full in zip(given, self._state_shapes(n)):
                        if st is None:
                            if full[2] not in zeros:
                                zeros[full[2]] = _zeros_like_state(x, (n, full[2]))
                            init_states.append(zeros[full[2]][members])
                        else:
                            init_states.append(st[idx_state][members])
                    result = _run_sequence(self.mode, xg, init_states[0],
                                           init_states[1] if self.mode == "LSTM" else None,
                                           w_ih, w_hh, b_ih, b_hh, d == 1, w_hr)
                    out_g = result[0]
                    if length < t_max:
                        pad = _zeros_like_state(out_g, (t_max - length, len(members),
                                                        self._state_size))
                        out_g = cat([out_g, pad], dim=0)
                    out_parts.append(out_g)
                    for k, f in enumerate(result[1:]):
                        final_parts[k].append(f)
                back = xp.asarray(inverse)
                outs.append(cat(out_parts, dim=1)[:, back])
                for k, parts in enumerate(final_parts):
                    finals[k].append(cat(parts, dim=0)[back])
            x = outs[0] if num_dir == 1 else cat(outs, dim=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, training=True)
        return pack_like(x, packed), [stack(f, dim=0) for f in finals]


class RNN(RNNBase):
    """Multi-layer Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``forward(input, hx=None)`` ->
    ``(output, h_n)`` (shapes in the module docstring).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (use 'tanh' or 'relu')")
        object.__setattr__(self, "nonlinearity", nonlinearity)
        super().__init__("RNN_RELU" if nonlinearity == "relu" else "RNN_TANH", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        out, (h,) = self._run(input, [hx])
        return out, h


class LSTM(RNNBase):
    """Multi-layer LSTM (gate order i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t)).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0)``; ``forward(input, (h_0, c_0)=None)`` ->
    ``(output, (h_n, c_n))``.  With ``proj_size`` = P > 0, h_t = W_hr (o tanh(c_t)) has P
    features (h_0/h_n (D * num_layers, N, P), output (L, N, D * P)); c keeps H.
    """

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)

    def get_expected_cell_size(self, input, batch_sizes):
        """``(num_layers * num_directions, N, hidden_size)`` (c_0 keeps H with a projection)."""
        shape = self.get_expected_hidden_size(input, batch_sizes)
        return shape[:2] + (self.hidden_size,)

    def check_forward_args(self, input, hidden, batch_sizes):
        """torch's checks of the input and of the pair (h_0, c_0)."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        """Both states of ``hx`` with their batch dim reordered by ``permutation``."""
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
        out, (h, c) = self._run(input, list(hx))
        return out, (h, c)


class GRU(RNNBase):
    """Multi-layer GRU (gate order r, z, n; PyTorch's formulation, see ``GRUCell``).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, hx=None)`` -> ``(output, h_n)``.
    """

    mode = "GRU"     # (also the class's: modules saved before mode was set per instance)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        out, (h,) = self._run(input, [hx])
        return out, h
