"""What the caption decoders share: the vocabulary's special tokens, input checks, the masked
teacher-forcing loss and decoding through ``models.captioning.decoding``.

Teacher forcing on captions ``w`` (N, T) = ``<START> w_1 ... <END> <NULL>...``: the decoder
reads ``w_0..w_{T-2}`` and predicts ``w_1..w_{T-1}``; the loss is the mean softmax
cross-entropy over the positions whose target is not ``<NULL>``::

    L = 1/|M| sum_{(n,t) in M} -log softmax(s_{n,t})[w_{n,t+1}],  M = {(n,t): w_{n,t+1} != <NULL>}

so ``<NULL>`` positions contribute neither loss nor gradient.
"""
from __future__ import annotations

import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend
from tinygrad_cv.nn import Module
from tinygrad_cv.tensor import Tensor

from .decoding import beam_decode, greedy_decode

__all__ = ["CaptionDecoder", "vocab_words"]

SPECIALS = ("<NULL>", "<START>", "<END>")


def vocab_words(vocab):
    """The word list of ``vocab``: a ``Vocabulary`` (``idx_to_word``) or a list of words that
    holds ``<NULL>``, ``<START>`` and ``<END>``."""
    words = list(getattr(vocab, "idx_to_word", vocab))
    if not all(isinstance(w, str) for w in words) or len(set(words)) != len(words):
        raise ValueError("captioning: vocab must be a Vocabulary or a list of distinct words")
    missing = [s for s in SPECIALS if s not in words]
    if missing:
        raise ValueError(f"captioning: the vocabulary lacks {', '.join(missing)}")
    return words


def _raw(x):
    return x.array if isinstance(x, Tensor) else backend.ensure_array(x)


class CaptionDecoder(Module):
    """Base of ``CaptioningRNN`` and ``CaptioningTransformer``: subclasses define
    ``scores(features, tokens) -> (N, L, V)`` (teacher forcing), ``init_state``, ``step`` and
    ``reorder_state`` (see ``decoding``), and set ``feature_dim``."""

    def _set_vocab(self, vocab):
        self.words = vocab_words(vocab)
        self.vocab_size = len(self.words)
        index = {w: i for i, w in enumerate(self.words)}
        self.null, self.start, self.end = (index[s] for s in SPECIALS)

    def check_features(self, features, token_axis_ok=False):
        """``features`` as a float Tensor (N, D) (or (N, K, D) where tokens are allowed)."""
        name = type(self).__name__
        if not isinstance(features, Tensor):
            features = Tensor(features)
        ok = features.ndim == 2 or (token_axis_ok and features.ndim == 3)
        if not ok or features.shape[-1] != self.feature_dim or features.shape[0] == 0:
            shape = f"(N, {self.feature_dim})" + (f" or (N, K, {self.feature_dim})"
                                                  if token_axis_ok else "")
            raise ValueError(f"{name}: expected features of shape {shape}, got "
                             f"{tuple(features.shape)}")
        return features

    def check_captions(self, captions, n):
        """``captions`` as an int64 array (n, T >= 2) of ids in the vocabulary."""
        name = type(self).__name__
        ids = _raw(captions)
        if not backend.is_integer_or_bool(ids.dtype) or ids.dtype == backend.dtype("bool"):
            raise TypeError(f"{name}: captions must be integer token ids, got {ids.dtype}")
        if ids.ndim != 2 or ids.shape[0] != n or ids.shape[1] < 2:
            raise ValueError(f"{name}: expected captions of shape ({n}, T) with T >= 2, got "
                             f"{tuple(ids.shape)}")
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.vocab_size:
            raise ValueError(f"{name}: token ids must lie in [0, {self.vocab_size}) (the "
                             f"vocabulary), got values in [{lo}, {hi}]")
        return ids.astype("int64", copy=False)

    def loss(self, features, captions):
        """Mean cross-entropy of the next word over non-``<NULL>`` targets (module docstring)."""
        features = self.check_features(features, getattr(self, "takes_tokens", False))
        ids = self.check_captions(captions, features.shape[0])
        scores = self.scores(features, Tensor.wrap(ids[:, :-1]))
        target = Tensor.wrap(ids[:, 1:].reshape(-1))
        return F.cross_entropy(scores.reshape(-1, self.vocab_size), target,
                               ignore_index=self.null)

    def sample(self, features, max_length=30, beam=1):
        """Decoded token ids (N, max_length) int64: greedy for ``beam == 1``, else beam
        search (``decoding``)."""
        features = self.check_features(features, getattr(self, "takes_tokens", False))
        if beam == 1:
            return greedy_decode(self, features, max_length)
        return beam_decode(self, features, max_length, beam)

    def decode(self, ids):
        """Token ids (N, T) -> N strings (words up to ``<END>``; ``<NULL>``/``<START>``
        skipped)."""
        out = []
        for row in backend.to_numpy(_raw(ids)).tolist():
            words = []
            for i in row:
                if i == self.end:
                    break
                if i not in (self.null, self.start):
                    words.append(self.words[i])
            out.append(" ".join(words))
        return out
