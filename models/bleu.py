"""Corpus BLEU (Papineni et al. 2002) and the exact-match rate of generated captions.

For hypotheses ``h_j`` with reference sets ``R_j`` (token lists), n-gram orders ``1..N`` and
uniform weights ``1/N``::

    p_n  = sum_j sum_{g in ngrams_n(h_j)} min(count_{h_j}(g), max_{r in R_j} count_r(g))
           / sum_j max(1, |ngrams_n(h_j)|)
    c    = sum_j |h_j|,   r = sum_j |closest reference of h_j|  (ties: the shorter one)
    BP   = 1 if c > r, 0 if c = 0, else exp(1 - r / c)
    BLEU = BP * exp(sum_n (1/N) log p_n)

exactly as NLTK's ``corpus_bleu`` without smoothing: 0 when no unigram matches, and an order
with no match counts as the smallest positive float (so BLEU is about 1e-77, not 0).
"""
from __future__ import annotations

import math
import sys
from collections import Counter

__all__ = ["bleu", "exact_match"]


def _tokens(sentence, what):
    if isinstance(sentence, str):
        return sentence.split()
    if isinstance(sentence, (list, tuple)) and all(isinstance(t, str) for t in sentence):
        return list(sentence)
    raise TypeError(f"bleu: each {what} must be a string or a list of string tokens, got "
                    f"{type(sentence).__name__}")


def _check_corpus(references, hypotheses):
    if not isinstance(references, (list, tuple)) or not isinstance(hypotheses, (list, tuple)):
        raise TypeError("bleu: references and hypotheses must be lists")
    if len(references) != len(hypotheses):
        raise ValueError(f"bleu: {len(hypotheses)} hypotheses but {len(references)} reference "
                         "sets (one set per hypothesis)")
    refs = []
    for j, ref_set in enumerate(references):
        if isinstance(ref_set, str) or not isinstance(ref_set, (list, tuple)) or not ref_set:
            raise ValueError(f"bleu: reference set {j} must be a non-empty list of references")
        refs.append([_tokens(r, "reference") for r in ref_set])
    return refs, [_tokens(h, "hypothesis") for h in hypotheses]


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(references, hypotheses, n=4):
    """Corpus BLEU-``n`` of ``hypotheses`` (a list of sentences) against ``references`` (a list
    of lists of sentences, one list per hypothesis); a sentence is a string (split on
    whitespace) or a list of tokens.  Returns a float in [0, 1] (see the module docstring)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"bleu: n must be a positive integer, got {n!r}")
    refs, hyps = _check_corpus(references, hypotheses)
    if not hyps:
        raise ValueError("bleu: the corpus is empty")
    matches, totals = [0] * n, [0] * n
    hyp_length, ref_length = 0, 0
    for ref_set, hyp in zip(refs, hyps):
        for order in range(1, n + 1):
            counts = _ngrams(hyp, order)
            ref_counts = [_ngrams(r, order) for r in ref_set]
            matches[order - 1] += sum(min(c, max(rc[g] for rc in ref_counts))
                                      for g, c in counts.items())
            totals[order - 1] += max(1, sum(counts.values()))
        hyp_length += len(hyp)
        ref_length += min((len(r) for r in ref_set),
                          key=lambda length: (abs(length - len(hyp)), length))
    if matches[0] == 0:
        return 0.0
    if hyp_length > ref_length:
        penalty = 1.0
    elif hyp_length == 0:
        penalty = 0.0
    else:
        penalty = math.exp(1 - ref_length / hyp_length)
    logs = [math.log(m / t) if m else math.log(sys.float_info.min)
            for m, t in zip(matches, totals)]
    return penalty * math.exp(math.fsum((1 / n) * v for v in logs))


def exact_match(references, hypotheses):
    """The fraction of hypotheses equal (token by token) to one of their references."""
    refs, hyps = _check_corpus(references, hypotheses)
    if not hyps:
        raise ValueError("exact_match: the corpus is empty")
    return sum(any(h == r for r in ref_set) for ref_set, h in zip(refs, hyps)) / len(hyps)
