"""The captioners (models.captioning): loss at initialisation, <NULL> masking, gradients,
decoding (greedy, beam, cached keys/values) and bad input."""
import math

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor
from tinygrad_cv.testing import gradcheck
from models.captioning import (CaptioningRNN, CaptioningTransformer, CNNEncoder,
                               ImageCaptioner, beam_decode, greedy_decode)

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(12)]
V = len(WORDS)
D = 6


def _decoder(kind, dim=16):
    tg.manual_seed(0)
    if kind == "transformer":
        return CaptioningTransformer(WORDS, D, dim=dim, heads=2, layers=2, dropout=0.0,
                                     max_length=32)
    return CaptioningRNN(WORDS, D, wordvec_dim=8, hidden_dim=dim, cell=kind)


def _captions(n, length, seed=0):
    """<START> words <END> <NULL>... with random lengths."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, length), dtype=np.int64)
    for i in range(n):
        k = rng.integers(1, length - 1)
        out[i, 0] = 1
        out[i, 1:k + 1] = rng.integers(3, V, k)
        out[i, k + 1] = 2
    return out


def _features(n, seed=0, tokens=0):
    rng = np.random.default_rng(seed)
    shape = (n, tokens, D) if tokens else (n, D)
    return tg.tensor(rng.standard_normal(shape).astype(np.float32))


KINDS = ["rnn", "lstm", "transformer"]


@pytest.mark.parametrize("kind", KINDS)
def test_untrained_loss_is_log_vocabulary_size(kind):
    dec = _decoder(kind, dim=32)
    loss = dec.loss(_features(16), _captions(16, 10)).item()
    assert abs(loss - math.log(V)) < 0.05 * math.log(V)


@pytest.mark.parametrize("kind", KINDS)
def test_loss_is_masked_mean_over_non_null_targets(kind):
    dec = _decoder(kind).eval()
    feats, caps = _features(5), _captions(5, 9)
    with tg.no_grad():
        scores = dec.scores(feats, tg.tensor(caps[:, :-1])).numpy().astype(np.float64)
    logp = scores - np.log(np.exp(scores).sum(-1, keepdims=True))
    target = caps[:, 1:]
    picked = np.take_along_axis(logp, target[..., None], -1)[..., 0]
    valid = target != 0
    assert dec.loss(feats, caps).item() == pytest.approx(-picked[valid].mean(), rel=1e-5)


def _loss_and_grads(dec, feats, caps):
    dec.zero_grad()
    loss = dec.loss(feats, caps)
    loss.backward()
    return loss.item(), {n: p.grad.numpy().astype(np.float64) for n, p in dec.named_parameters()
                         if p.grad is not None}


@pytest.mark.parametrize("kind", KINDS)
def test_null_positions_give_no_loss_and_no_gradient(kind):
    """The padded batch's loss and gradients are the token-weighted means of each caption's
    own, computed without any <NULL>; more <NULL> padding changes nothing."""
    dec = _decoder(kind).eval()
    feats, caps = _features(4), _captions(4, 10, seed=1)
    loss, grads = _loss_and_grads(dec, feats, caps)
    padded = np.concatenate([caps, np.zeros((4, 5), np.int64)], axis=1)
    loss_p, grads_p = _loss_and_grads(dec, feats, padded)
    assert loss_p == pytest.approx(loss, rel=1e-6)
    counts = (caps[:, 1:] != 0).sum(1)
    expected_loss, expected = 0.0, {n: 0.0 for n in grads}
    for i in range(4):
        own = caps[i:i + 1, :counts[i] + 1]                        # <START> ... <END>
        assert (own != 0).all()
        li, gi = _loss_and_grads(dec, Tensor.wrap(feats.array[i:i + 1]), own)
        expected_loss += li * counts[i] / counts.sum()
        for n in expected:
            expected[n] = expected[n] + gi.get(n, 0.0) * counts[i] / counts.sum()
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    for n, g in grads.items():
        np.testing.assert_allclose(grads_p[n], g, atol=1e-6, err_msg=n)
        np.testing.assert_allclose(g, expected[n], atol=2e-6, rtol=1e-4, err_msg=n)
    assert not np.any(grads["embed.weight"][0])                  # <NULL> is never an input


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_tiny_captioner(kind):
    dec = _decoder(kind, dim=8).double().eval()
    caps = _captions(3, 6, seed=2)
    tokens = 2 if kind == "transformer" else 0
    feats = tg.tensor(np.random.default_rng(3).standard_normal(
        (3, tokens, D) if tokens else (3, D)), dtype="float64", requires_grad=True)
    assert gradcheck(lambda f: dec.loss(f, caps), [feats])


@pytest.mark.parametrize("kind", KINDS)
def test_beam_one_equals_greedy(kind):
    dec = _decoder(kind).eval()
    feats = _features(7, seed=4, tokens=3 if kind == "transformer" else 0)
    greedy = backend.to_numpy(greedy_decode(dec, feats, 12))
    np.testing.assert_array_equal(backend.to_numpy(beam_decode(dec, feats, 12, 1)), greedy)
    np.testing.assert_array_equal(backend.to_numpy(dec.sample(feats, 12, beam=1)), greedy)


def _sequence_logp(dec, feats, ids):
    """Total log-probability of each decoded caption (up to and including <END>)."""
    n = ids.shape[0]
    full = np.concatenate([np.ones((n, 1), np.int64), ids], axis=1)
    with tg.no_grad():
        s = dec.scores(feats, tg.tensor(full[:, :-1])).numpy().astype(np.float64)
    logp = s - np.log(np.exp(s).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, ids[..., None], -1)[..., 0]
    keep = np.cumsum(ids == 2, axis=1) - (ids == 2) == 0
    return (picked * keep).sum(1)


@pytest.mark.parametrize("kind", KINDS)
def test_beam_search_scores_at_least_greedy(kind):
    dec = _decoder(kind).eval()
    feats = _features(6, seed=6, tokens=2 if kind == "transformer" else 0)
    greedy = backend.to_numpy(greedy_decode(dec, feats, 8))
    beam = backend.to_numpy(beam_decode(dec, feats, 8, 4))
    finished = (greedy == 2).any(1) & (beam == 2).any(1)
    assert (_sequence_logp(dec, feats, beam)[finished] >=
            _sequence_logp(dec, feats, greedy)[finished] - 1e-5).all()


def test_cached_decoding_equals_full_recomputation():
    dec = _decoder("transformer").eval()
    feats = _features(4, seed=7, tokens=3)
    caps = _captions(4, 9, seed=8)
    with tg.no_grad():
        full = dec.scores(feats, tg.tensor(caps)).numpy()
        full = full - np.log(np.exp(full).sum(-1, keepdims=True))
        state = dec.init_state(feats)
        for t in range(caps.shape[1]):
            logp, state = dec.step(backend.to_device(caps[:, t], feats.device), state, t)
            np.testing.assert_allclose(backend.to_numpy(logp), full[:, t], atol=1e-5)
    assert state[0]["k"].shape[2] == caps.shape[1]     # one cached key per position


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input(kind):
    dec = _decoder(kind)
    feats, caps = _features(2), _captions(2, 6)
    bad = caps.copy()
    bad[0, 1] = V
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 16\)"):
        dec.loss(feats, bad)
    bad[0, 1] = -1
    with pytest.raises(ValueError, match="token ids must lie"):
        dec.loss(feats, bad)
    with pytest.raises(ValueError, match=r"expected features of shape \(N, 6\)"):
        dec.loss(tg.tensor(np.zeros((2, D + 1), np.float32)), caps)
    with pytest.raises(ValueError, match=r"expected captions of shape \(2, T\)"):
        dec.loss(feats, caps[:1])
    with pytest.raises(TypeError, match="captions must be integer token ids"):
        dec.loss(feats, caps.astype(np.float32))
    for length in (0, -3):
        with pytest.raises(ValueError, match="max_length must be a positive integer"):
            dec.sample(feats, length)
    with pytest.raises(ValueError, match="beam 17 is larger than the vocabulary"):
        dec.sample(feats, 5, beam=17)


def test_constructor_errors():
    with pytest.raises(ValueError, match="cell must be 'rnn' or 'lstm'"):
        CaptioningRNN(WORDS, D, cell="gru")
    with pytest.raises(ValueError, match="lacks <END>"):
        CaptioningRNN(["<NULL>", "<START>", "x"], D)
    with pytest.raises(ValueError, match="dim 10 must be divisible by heads 4"):
        CaptioningTransformer(WORDS, D, dim=10, heads=4)


def test_image_captioner_end_to_end_shapes():
    tg.manual_seed(0)
    enc = CNNEncoder(3, 16, channels=(4, 8), feature_dim=D, attribute_slots=3,
                     attribute_classes=5)
    model = ImageCaptioner(enc, _decoder("lstm"))
    images = tg.tensor(np.random.default_rng(0).random((3, 3, 16, 16)).astype(np.float32))
    attrs = np.array([[0, 1, 4], [2, 0, 0], [3, 3, 3]])
    loss = model.loss(images, _captions(3, 7), attrs)
    assert loss.item() > model.loss(images, _captions(3, 7)).item()   # + attribute loss
    loss.backward()
    assert enc.attribute_head.weight.grad is not None
    texts = model.eval().caption(images, max_length=5)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, 16, 16\)"):
        model.caption(images[:, :, :8])
