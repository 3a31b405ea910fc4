"""``CaptioningRNN``: image features -> initial hidden state -> a vanilla RNN or LSTM over word
embeddings -> vocabulary scores.

    h_0 = W_p f + b_p          (f: image features (N, D); tanh(LayerNorm(W_p f + b_p)) for
                                the vanilla RNN, whose states live in (-1, 1): a large h_0
                                saturates its first step and the image is lost)
    c_0 = W_c f + b_c          (LSTM only: the image sets the whole initial state (h_0, c_0))
    x_t = E[w_t]               (word embedding, wordvec_dim)
    h_t = RNN(x_t, h_{t-1})    (tanh RNN or LSTM, torch.nn's RNN/LSTM: one fused sequence op)
    s_t = W_o h_t + b_o        (scores over the V words)

Parameters (torch.nn names): ``feature_proj`` (Linear D -> H), ``cell_proj`` (Linear D -> H,
LSTM only), ``state_norm`` (LayerNorm H, vanilla RNN only), ``embed`` (Embedding V x W),
``core`` (``nn.RNN``/``nn.LSTM``, batch_first, one layer), ``output`` (Linear H -> V).

Initialisation (torch's defaults except): word vectors ~ N(0, 0.1^2), so the image state is
not drowned by the inputs at the first steps, and for the vanilla RNN an orthogonal W_hh,
which keeps the image information in the hidden state over the caption's ~20 steps.  Both
make the decoder use the image much sooner (an initial state of torch's default size is
first ignored for hundreds of steps while the captions' grammar is learnt).  The output
layer's small default weights give an untrained loss of about log V.
"""
from __future__ import annotations

import tinygrad_cv.nn.functional as F
from tinygrad_cv import nn
from tinygrad_cv.nn import init
from tinygrad_cv.tensor import Tensor

from .base import CaptionDecoder

__all__ = ["CaptioningRNN", "CELLS"]

CELLS = ("rnn", "lstm")


class CaptioningRNN(CaptionDecoder):
    """``CaptioningRNN(vocab, feature_dim, wordvec_dim=64, hidden_dim=128, cell='rnn')``:
    ``loss(features, captions)``, ``sample(features, max_length, beam=1)`` (see ``base``)."""

    def __init__(self, vocab, feature_dim, wordvec_dim=64, hidden_dim=128, cell="rnn"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CaptioningRNN: cell must be 'rnn' or 'lstm', got {cell!r}")
        for what, value in (("feature_dim", feature_dim), ("wordvec_dim", wordvec_dim),
                            ("hidden_dim", hidden_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"CaptioningRNN: {what} must be a positive integer, got "
                                 f"{value!r}")
        self._set_vocab(vocab)
        self.cell, self.feature_dim = cell, feature_dim
        self.wordvec_dim, self.hidden_dim = wordvec_dim, hidden_dim
        self.feature_proj = nn.Linear(feature_dim, hidden_dim)
        if cell == "lstm":
            self.cell_proj = nn.Linear(feature_dim, hidden_dim)
        else:
            self.state_norm = nn.LayerNorm(hidden_dim)
        self.embed = nn.Embedding(self.vocab_size, wordvec_dim)
        init.normal_(self.embed.weight, std=0.1)
        core = nn.LSTM if cell == "lstm" else nn.RNN
        self.core = core(wordvec_dim, hidden_dim, batch_first=True)
        if cell == "rnn":
            init.orthogonal_(self.core.weight_hh_l0)
        self.output = nn.Linear(hidden_dim, self.vocab_size)

    def extra_repr(self):
        return f"cell={self.cell!r}, vocab_size={self.vocab_size}"

    def _initial_state(self, features):
        h0 = self.feature_proj(features).unsqueeze(0)               # (1, N, H)
        if self.cell == "lstm":
            return (h0, self.cell_proj(features).unsqueeze(0))
        return self.state_norm(h0).tanh()

    def scores(self, features, tokens):
        """Teacher-forced scores (N, L, V) of the words after ``tokens`` (N, L)."""
        out, _ = self.core(self.embed(tokens), self._initial_state(features))
        n, length, _ = out.shape
        return self.output(out.reshape(n * length, self.hidden_dim)).reshape(
            n, length, self.vocab_size)

    # ---- step-wise decoding (``decoding``) ---------------------------------------------------
    def init_state(self, features):
        return self._initial_state(features)

    def step(self, tokens, state, t):
        out, state = self.core(self.embed(Tensor.wrap(tokens[:, None])), state)
        logp = F.log_softmax(self.output(out[:, 0]), dim=-1)
        return logp.array, state

    def reorder_state(self, state, index):
        if isinstance(state, tuple):
            return tuple(Tensor.wrap(s.array[:, index]) for s in state)
        return Tensor.wrap(state.array[:, index])
