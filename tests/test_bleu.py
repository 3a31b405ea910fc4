"""Corpus BLEU and exact match (models.metrics) against NLTK's corpus_bleu."""
import random

import pytest
from hypothesis import given, settings, strategies as st

from models.metrics import bleu, exact_match

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")

WORDS = ["a", "b", "c", "d", "e", "f"]


def _nltk(refs, hyps, n=4):
    return nltk_bleu.corpus_bleu(refs, hyps, weights=(1.0 / n,) * n)


def _corpus(rng, size, words=WORDS, max_refs=4, max_len=12):
    refs, hyps = [], []
    for _ in range(size):
        refs.append([[rng.choice(words) for _ in range(rng.randint(1, max_len))]
                     for _ in range(rng.randint(1, max_refs))])
        base = rng.choice(refs[-1])
        hyp = [w if rng.random() < 0.7 else rng.choice(words) for w in base]
        hyps.append(hyp[:rng.randint(0, len(hyp))] if rng.random() < 0.2 else hyp)
    return refs, hyps


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n", [1, 2, 4])
def test_bleu_equals_nltk_on_random_corpora(seed, n):
    rng = random.Random(seed)
    refs, hyps = _corpus(rng, rng.randint(1, 25))
    assert bleu(refs, hyps, n=n) == pytest.approx(_nltk(refs, hyps, n), rel=1e-12, abs=1e-300)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.lists(st.lists(st.sampled_from("abc"), max_size=6), min_size=1,
                                   max_size=3),
                          st.lists(st.sampled_from("abcd"), max_size=6)),
                min_size=1, max_size=6))
def test_bleu_equals_nltk_edge_cases(corpus):
    """Short and empty sentences, orders with no match, hypotheses longer than references."""
    refs = [c[0] for c in corpus]
    hyps = [c[1] for c in corpus]
    assert bleu(refs, hyps) == pytest.approx(_nltk(refs, hyps), rel=1e-12, abs=1e-300)


def test_bleu_takes_strings_and_perfect_match_is_one():
    refs = [["a small red circle", "there is a small red circle"], ["a large blue square"]]
    assert bleu(refs, ["there is a small red circle", "a large blue square"]) == 1.0
    assert bleu(refs, ["a small red circle", "a large blue square"]) == 1.0
    assert bleu(refs, ["a small red circle", "a blue square"]) < 1.0   # no 4-gram, shorter
    assert bleu(refs, ["zzz", "yyy"]) == 0.0


def test_exact_match():
    refs = [["a b", "c d"], ["e f"], ["g"]]
    assert exact_match(refs, ["c d", "e", "g"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("refs, hyps, n, message", [
    ([["a"]], ["a", "b"], 4, "2 hypotheses but 1 reference sets"),
    ([[]], ["a"], 4, "reference set 0 must be a non-empty list"),
    (["a"], ["a"], 4, "reference set 0 must be a non-empty list"),
    ([["a"]], ["a"], 0, "n must be a positive integer"),
    ([], [], 4, "the corpus is empty"),
])
def test_bleu_bad_input(refs, hyps, n, message):
    with pytest.raises(ValueError, match=message):
        bleu(refs, hyps, n=n)


def test_bleu_bad_token_type():
    with pytest.raises(TypeError, match="hypothesis must be a string or a list of string"):
        bleu([["a"]], [[1, 2]])
