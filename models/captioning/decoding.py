"""Greedy and beam-search decoding over any step-wise caption decoder.

A decoder offers (all under ``no_grad``, on raw backend arrays of token ids)::

    state = decoder.init_state(features)             # features: N rows (Tensor)
    logp, state = decoder.step(tokens, state, t)     # tokens (B,) int -> log-probs (B, V) array
    state = decoder.reorder_state(state, index)      # keep rows ``index`` (B',) of the state

and the attributes ``null``, ``start``, ``end`` (token ids) and ``vocab_size``.

Greedy: ``w_t = argmax_w log p(w | w_<t, image)`` until ``<END>`` or ``max_length`` tokens.
Beam search keeps, per image, the ``K`` prefixes of highest total log-probability
``sum_t log p(w_t | w_<t)``: every step scores the ``K * V`` one-token extensions and keeps the
best ``K`` (ties to the lowest beam/word index, so ``K = 1`` is exactly greedy).  A finished
beam (its last word ``<END>``) only extends with ``<NULL>`` at no cost.  The result is the
highest-scoring beam.  Both return an int64 array (N, max_length): the words after
``<START>``, ``<END>`` included, ``<NULL>`` after it.
"""
from __future__ import annotations

import tinygrad_cv as tg
from tinygrad_cv import backend

__all__ = ["check_max_length", "greedy_decode", "beam_decode"]


def check_max_length(max_length):
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length <= 0:
        raise ValueError(f"sample: max_length must be a positive integer, got {max_length!r}")
    return max_length


def _xp(features):
    return backend.get_array_module(features.array)


def greedy_decode(decoder, features, max_length):
    """Greedy decoding of ``features`` (N rows) -> int64 array (N, max_length)."""
    check_max_length(max_length)
    xp = _xp(features)
    n = features.shape[0]
    out = xp.full((n, max_length), decoder.null, dtype="int64")
    done = xp.zeros((n,), dtype=bool)
    tokens = xp.full((n,), decoder.start, dtype="int64")
    with tg.no_grad():
        state = decoder.init_state(features)
        for t in range(max_length):
            logp, state = decoder.step(tokens, state, t)
            word = xp.where(done, decoder.null, logp.argmax(axis=1))
            out[:, t] = word
            done |= word == decoder.end
            if bool(done.all()):
                break
            tokens = word
    return out


def beam_decode(decoder, features, max_length, beam):
    """Beam search with ``beam`` beams per image -> int64 array (N, max_length)."""
    check_max_length(max_length)
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ValueError(f"sample: beam must be a positive integer, got {beam!r}")
    if beam > decoder.vocab_size:
        raise ValueError(f"sample: beam {beam} is larger than the vocabulary "
                         f"({decoder.vocab_size} words)")
    xp = _xp(features)
    n, k, v = features.shape[0], beam, decoder.vocab_size
    finished_row = xp.full((v,), -xp.inf, dtype="float64")
    finished_row[decoder.null] = 0.0
    scores = xp.full((n, k), -xp.inf, dtype="float64")
    scores[:, 0] = 0.0                       # one live beam per image at the start
    seqs = xp.zeros((n, k, 0), dtype="int64")
    done = xp.zeros((n, k), dtype=bool)
    tokens = xp.full((n * k,), decoder.start, dtype="int64")
    rows = xp.arange(n)[:, None]
    with tg.no_grad():
        state = decoder.init_state(tg.Tensor.wrap(xp.repeat(features.array, k, axis=0)))
        for t in range(max_length):
            logp, state = decoder.step(tokens, state, t)
            logp = xp.where(done[..., None], finished_row,
                            logp.astype("float64").reshape(n, k, v))
            candidates = (scores[..., None] + logp).reshape(n, k * v)
            top = xp.argsort(-candidates, axis=1, kind="stable")[:, :k]
            scores = xp.take_along_axis(candidates, top, axis=1)
            source, word = top // v, top % v
            seqs = xp.concatenate([seqs[rows, source], word[..., None]], axis=2)
            done = done[rows, source] | (word == decoder.end)
            state = decoder.reorder_state(state, (rows * k + source).reshape(-1))
            tokens = word.reshape(-1)
            if bool(done.all()):
                break
    best = seqs[xp.arange(n), scores.argmax(axis=1)]
    out = xp.full((n, max_length), decoder.null, dtype="int64")
    out[:, :best.shape[1]] = best
    return out
