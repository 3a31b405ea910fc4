"""The digits scorer (models.metrics): its statistics against direct references (scipy's
sqrtm-based Frechet distance, closed forms, brute-force k-NN manifolds), the cached classifier,
input checks, and the calibration ordering on sets of known quality."""
import json
import os

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings, strategies as st

import models.metrics as metrics
from models.metrics import (DigitsScorer, frechet_distance, gaussian_fit, inception_score,
                            kth_neighbour_radii, knn_precision_recall, recipe_hash, scorer_path)
from tinygrad_cv import backend
from tinygrad_cv.data import load_digits
from tinygrad_cv.tensor import Tensor


# ---- the scorer, trained once per test session --------------------------------------------
@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("scorer-cache"))


@pytest.fixture(scope="session")
def scorer(cache_dir):
    return DigitsScorer.load_or_train(cache_dir, verbose=False)


@pytest.fixture(scope="session")
def digits():
    x, y = load_digits("train")
    xv, yv = load_digits("val")
    return {"train": x.array, "train_labels": y.array, "val": xv.array, "val_labels": yv.array}


# ---- Frechet distance ------------------------------------------------------------------------
def scipy_frechet(mu1, s1, mu2, s2):
    """The usual FID formula with scipy's general (complex) matrix square root."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


@pytest.mark.parametrize("dim, n", [(2, 50), (8, 100), (32, 300), (64, 300)])
def test_frechet_matches_scipy_sqrtm(dim, n):
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))
    b = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) * 0.5 + 1.0
    mu1, s1 = gaussian_fit(a)
    mu2, s2 = gaussian_fit(b)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-7)


def test_gaussian_fit_is_mean_and_unbiased_covariance():
    x = np.random.default_rng(0).normal(size=(40, 6))
    mu, sigma = gaussian_fit(x)
    np.testing.assert_allclose(mu, x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), atol=1e-12)
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_fit(x[:1])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12).flatmap(lambda d: st.tuples(
    *[st.lists(st.floats(lo, hi), min_size=d, max_size=d)
      for lo, hi in ((-5, 5), (0, 20), (-5, 5), (0, 20))])))
def test_frechet_closed_form_for_diagonal_covariances(params):
    """N(m1, diag(a)) vs N(m2, diag(b)): ||m1 - m2||^2 + sum (sqrt(a) - sqrt(b))^2, zeros
    (singular covariances) included."""
    m1, a, m2, b = (np.asarray(p, dtype=np.float64) for p in params)
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(m1, np.diag(a), m2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_frechet_of_rotated_singular_covariances_and_of_itself():
    """Rank-deficient covariances in a rotated basis (N < D), where a general sqrtm is fragile:
    the distance is rotation invariant, so it equals the diagonal closed form."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    a = np.r_[rng.uniform(0, 3, 6), np.zeros(10)]
    b = np.r_[np.zeros(4), rng.uniform(0, 3, 12)]
    m1, m2 = rng.normal(size=16), rng.normal(size=16)
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(q @ m1, q @ np.diag(a) @ q.T, q @ m2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-8)
    mu, sigma = gaussian_fit(rng.normal(size=(5, 16)))    # 5 samples in 16 dimensions
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-6)


def test_frechet_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ---- Inception Score --------------------------------------------------------------------------
def direct_inception_score(p):
    p_bar = p.mean(axis=0)
    kls = [sum(pi[c] * np.log(pi[c] / p_bar[c]) for c in range(len(pi)) if pi[c] > 0) for pi in p]
    return float(np.exp(np.mean(kls)))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(2, 10), st.integers(0, 2 ** 31 - 1), st.booleans())
def test_inception_score_matches_direct_formula(n, classes, seed, sparse):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, classes))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if sparse:          # exact zeros: 0 log 0 = 0
        p[:, 0] = 0.0
        p /= p.sum(axis=1, keepdims=True)
    assert inception_score(p) == pytest.approx(direct_inception_score(p), rel=1e-10)


def test_inception_score_extremes():
    assert inception_score(np.eye(10)) == pytest.approx(10.0)
    assert inception_score(np.full((7, 10), 0.1)) == pytest.approx(1.0)
    assert inception_score(np.tile(np.eye(10)[3], (5, 1))) == pytest.approx(1.0)


# ---- k-NN precision and recall --------------------------------------------------------------
def brute_force_precision_recall(real, fake, k):
    def radius(points, i):
        d = sorted(float(np.linalg.norm(points[i] - points[j]))
                   for j in range(len(points)) if j != i)
        return d[k - 1]

    real_r = [radius(real, i) for i in range(len(real))]
    fake_r = [radius(fake, j) for j in range(len(fake))]
    precision = np.mean([any(np.linalg.norm(f - r) <= real_r[i] for i, r in enumerate(real))
                         for f in fake])
    recall = np.mean([any(np.linalg.norm(r - f) <= fake_r[j] for j, f in enumerate(fake))
                      for r in real])
    return precision, recall, real_r


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("shift", [0.0, 0.7, 3.0])
def test_precision_recall_match_brute_force(k, shift, monkeypatch):
    rng = np.random.default_rng(k * 10 + int(shift * 10))
    real = rng.normal(size=(37, 4))
    fake = rng.normal(size=(29, 4)) * 1.3 + shift
    precision, recall, real_r = brute_force_precision_recall(real, fake, k)
    np.testing.assert_allclose(kth_neighbour_radii(real, k), real_r, rtol=1e-9)
    assert knn_precision_recall(real, fake, k) == pytest.approx((precision, recall))
    monkeypatch.setattr(metrics, "_BLOCK_BYTES", 8 * 37 * 4)  # blocks of a few rows
    assert knn_precision_recall(real, fake, k) == pytest.approx((precision, recall))


def test_precision_recall_extremes():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(50, 3))
    assert knn_precision_recall(real, real.copy(), 3) == (1.0, 1.0)
    far = real + 100.0
    assert knn_precision_recall(real, far, 3) == (0.0, 0.0)
    with pytest.raises(ValueError, match="k must be in"):
        kth_neighbour_radii(real[:3], 3)


# ---- the cached classifier ----------------------------------------------------------------------
def test_scorer_classifies_the_test_split(scorer):
    assert scorer.accuracy("test") >= 0.98
    assert scorer.info["test_accuracy"] >= 0.98


def test_cache_file_names_version_and_recipe(cache_dir, scorer, monkeypatch):
    name = os.path.basename(scorer.path)
    assert scorer.path == scorer_path(cache_dir) and os.path.exists(scorer.path)
    assert name == f"scorer-digits-v{metrics.SCORER_VERSION}-{recipe_hash()}.safetensors"
    assert recipe_hash(seed=1) != recipe_hash()
    changed = json.loads(json.dumps(metrics.SCORER_RECIPE))
    changed["training"]["epochs"] += 1
    assert recipe_hash(changed) != recipe_hash()
    monkeypatch.setenv("TINYGRAD_CV_CACHE", "/some/cache")
    assert os.path.dirname(scorer_path()) == "/some/cache"
    monkeypatch.delenv("TINYGRAD_CV_CACHE")
    assert scorer_path().startswith(os.path.expanduser("~"))


def _no_training(*args, **kwargs):
    raise AssertionError("the cached scorer was retrained")


def test_cached_scorer_is_loaded_not_retrained(cache_dir, scorer, digits, monkeypatch):
    monkeypatch.setattr(metrics, "train_scorer_classifier", _no_training)
    again = DigitsScorer.load_or_train(cache_dir, verbose=False)
    for (name, a), (_, b) in zip(scorer.model.state_dict().items(),
                                 again.model.state_dict().items()):
        np.testing.assert_array_equal(backend.to_numpy(a.array), backend.to_numpy(b.array), name)
    assert again.score_samples(digits["val"]) == scorer.score_samples(digits["val"])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other recipe"])
def test_damaged_or_stale_cache_is_retrained(scorer, digits, tmp_path, monkeypatch, damage,
                                             capsys):
    import tinygrad_cv as tg

    path = scorer_path(str(tmp_path))
    tg.save({"model": scorer.model.state_dict(), "recipe": metrics.SCORER_RECIPE,
             "info": scorer.info}, path)
    data = open(path, "rb").read()
    if damage == "truncate":
        open(path, "wb").write(data[: len(data) // 2])
    elif damage == "garbage":
        open(path, "wb").write(b"\x00\x01 not a checkpoint" * 10)
    elif damage == "empty":
        open(path, "wb").close()
    else:
        tg.save({"model": scorer.model.state_dict(), "recipe": {"version": 0},
                 "info": scorer.info}, path)
    calls = []

    def fake_training(seed=0, progress=False):      # stands in for the real (tested) training
        calls.append(seed)
        return scorer.model, dict(scorer.info)

    monkeypatch.setattr(metrics, "train_scorer_classifier", fake_training)
    fresh = DigitsScorer.load_or_train(str(tmp_path))
    assert calls == [0] and "retraining" in capsys.readouterr().err
    monkeypatch.setattr(metrics, "train_scorer_classifier", _no_training)
    reloaded = DigitsScorer.load_or_train(str(tmp_path), verbose=False)   # now valid
    assert reloaded.path == fresh.path == path
    assert reloaded.score_samples(digits["val"]) == scorer.score_samples(digits["val"])


def test_unwritable_cache_still_gives_a_scorer(scorer, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(metrics, "train_scorer_classifier",
                        lambda seed=0, progress=False: (scorer.model, dict(scorer.info)))
    got = DigitsScorer.load_or_train(str(blocker / "cache"), verbose=False)
    assert got.path is None and "cannot write the cache" in capsys.readouterr().err


@pytest.mark.slow
def test_training_is_deterministic(scorer):
    model, info = metrics.train_scorer_classifier(seed=0)
    assert info == scorer.info
    for (name, a), (_, b) in zip(scorer.model.state_dict().items(),
                                 model.state_dict().items()):
        np.testing.assert_array_equal(backend.to_numpy(a.array), backend.to_numpy(b.array), name)


# ---- score_samples ----------------------------------------------------------------------------
def test_scores_are_json_able_and_consistent(scorer, digits):
    scores = scorer.score_samples(digits["val"])
    assert set(scores) == {"cfid", "inception_score", "class_histogram", "min_class_fraction",
                           "mean_confidence", "precision", "recall", "num_samples"}
    assert json.loads(json.dumps(scores)) == scores
    assert all(type(scores[k]) is float for k in scores if k not in
               ("class_histogram", "num_samples"))
    assert type(scores["num_samples"]) is int and scores["num_samples"] == 360
    hist = scores["class_histogram"]
    assert len(hist) == 10 and all(type(c) is int for c in hist) and sum(hist) == 360
    assert scores["min_class_fraction"] == min(hist) / 360
    # the classifier is right on the val split, so the histogram is close to the labels'
    true = np.bincount(digits["val_labels"], minlength=10)
    assert np.abs(np.asarray(hist) - true).sum() <= 10
    feats, probs = scorer.features_and_probs(digits["val"])
    ref_feats, _, _ = scorer.reference()
    test_feats, _ = scorer.features_and_probs(load_digits("test")[0].array)
    np.testing.assert_array_equal(ref_feats, test_feats)
    assert scores["cfid"] == pytest.approx(frechet_distance(*gaussian_fit(feats),
                                                            *gaussian_fit(test_feats)))
    assert scores["inception_score"] == pytest.approx(inception_score(probs))
    assert scores["mean_confidence"] == pytest.approx(probs.max(axis=1).mean())
    assert (scores["precision"], scores["recall"]) == pytest.approx(
        knn_precision_recall(test_feats, feats, 3))


def test_scores_ignore_sample_order_and_accept_tensors(scorer, digits):
    x = digits["val"][:200]
    perm = np.random.default_rng(0).permutation(200)
    a = scorer.score_samples(x)
    b = scorer.score_samples(Tensor.wrap(x[perm]))
    c = scorer.score_samples(x.astype(np.float64))
    for other in (b, c):
        assert other["class_histogram"] == a["class_histogram"]
        for key in ("cfid", "inception_score", "mean_confidence", "precision", "recall"):
            assert other[key] == pytest.approx(a[key], rel=1e-5, abs=1e-9)


def test_scoring_the_test_split_against_itself_is_perfect(scorer):
    scores = scorer.score_samples(load_digits("test")[0].array)
    assert scores["cfid"] == pytest.approx(0.0, abs=1e-6)
    assert scores["precision"] == scores["recall"] == 1.0


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 8, 8), np.float32), r"shape \(N, 1, 8, 8\), got \(10, 8, 8\)"),
    (np.zeros((10, 1, 8, 9), np.float32), r"shape \(N, 1, 8, 8\), got \(10, 1, 8, 9\)"),
    (np.zeros((10, 3, 8, 8), np.float32), r"got \(10, 3, 8, 8\)"),
    (np.zeros((10, 1, 8, 8), np.uint8), "must be floats in \\[0, 1\\], got dtype uint8"),
    (np.full((10, 1, 8, 8), 0.5, np.float32) * np.r_[1, np.nan, 1, 1, 1, 1, 1, 1, 1, np.inf]
     .reshape(10, 1, 1, 1).astype(np.float32), "2 of 10 samples hold NaN or inf"),
    (np.full((10, 1, 8, 8), -0.5, np.float32), r"must lie in \[0, 1\].*\(x \+ 1\) / 2"),
    (np.full((10, 1, 8, 8), 1.01, np.float32), r"must lie in \[0, 1\]"),
    (np.zeros((3, 1, 8, 8), np.float32), "at least 4 samples, got 3"),
    ([[[[0.0] * 8] * 8]] * 10, "numpy/cupy array or a Tensor"),
])
def test_bad_samples_are_rejected_clearly(scorer, bad, message):
    with pytest.raises(ValueError, match=message):
        scorer.score_samples(bad)


def test_rounding_outside_the_range_is_clipped(scorer, digits):
    x = digits["val"][:50]
    nudged = x * (1 + 2e-5) - 1e-5                 # [-1e-5, 1 + 1e-5]
    assert scorer.score_samples(nudged)["cfid"] == pytest.approx(
        scorer.score_samples(x)["cfid"], rel=1e-3)


def test_scores_on_the_device_match_the_cpu(scorer, digits, device, to_device):
    x = digits["val"][:100]
    on_device = scorer.score_samples(to_device(x))
    scorer.model.to("cpu")
    on_cpu = scorer.score_samples(x)
    assert on_device["class_histogram"] == on_cpu["class_histogram"]
    for key in ("cfid", "inception_score", "mean_confidence", "precision", "recall"):
        assert on_device[key] == pytest.approx(on_cpu[key], rel=1e-4, abs=1e-6)


# ---- calibration: sets of known quality -------------------------------------------------------
@pytest.fixture(scope="session")
def calibration(scorer, digits):
    rng = np.random.default_rng(0)
    val = digits["val"]
    noisy = {s: np.clip(val + rng.normal(0, s, val.shape), 0, 1).astype(np.float32)
             for s in (0.05, 0.1, 0.2)}
    one_class = digits["train"][digits["train_labels"] == 3]
    sets = {"real": val, "one class": one_class, "repeated": np.repeat(val[:1], 400, axis=0),
            "uniform": rng.uniform(0, 1, (400, 1, 8, 8)).astype(np.float32),
            **{f"noise {s}": x for s, x in noisy.items()}}
    return {name: scorer.score_samples(x) for name, x in sets.items()}


def test_calibration_real_images_score_well(calibration):
    real = calibration["real"]
    assert real["cfid"] < 5.0
    assert real["inception_score"] > 8.0
    assert real["precision"] > 0.85 and real["recall"] > 0.85
    assert real["min_class_fraction"] > 0.07 and real["mean_confidence"] > 0.9


def test_calibration_noise_raises_cfid_monotonically(calibration):
    cfids = [calibration[k]["cfid"] for k in ("real", "noise 0.05", "noise 0.1", "noise 0.2")]
    assert cfids == sorted(cfids) and cfids[-1] > 2 * cfids[0]
    confidences = [calibration[k]["mean_confidence"]
                   for k in ("real", "noise 0.05", "noise 0.1", "noise 0.2")]
    assert confidences == sorted(confidences, reverse=True)


def test_calibration_one_class_is_caught(calibration):
    one = calibration["one class"]
    assert one["min_class_fraction"] == 0.0
    assert one["class_histogram"][3] >= 0.95 * one["num_samples"]
    assert one["inception_score"] < 1.2
    assert one["cfid"] > 20 * calibration["noise 0.2"]["cfid"]
    assert one["recall"] < 0.2


def test_calibration_one_image_repeated_has_no_recall(calibration):
    rep = calibration["repeated"]
    assert rep["recall"] < 0.01
    assert rep["inception_score"] == pytest.approx(1.0, abs=1e-6)
    assert rep["cfid"] > 20 * calibration["noise 0.2"]["cfid"]


def test_calibration_uniform_noise_is_worst_on_confidence_and_far_from_real(calibration):
    uniform = calibration["uniform"]
    others = [v for k, v in calibration.items() if k != "uniform"]
    assert uniform["mean_confidence"] < min(v["mean_confidence"] for v in others)
    assert uniform["cfid"] > 10 * max(calibration[k]["cfid"] for k in
                                      ("real", "noise 0.05", "noise 0.1", "noise 0.2"))
    assert uniform["recall"] < 0.05
    assert uniform["inception_score"] < 2.0


# ---- command line -------------------------------------------------------------------------------
def test_main_trains_or_checks_the_cache_and_scores_files(cache_dir, scorer, digits, tmp_path,
                                                          capsys, monkeypatch):
    monkeypatch.setattr(metrics, "train_scorer_classifier", _no_training)
    assert metrics.main(["--train-scorer", "--cache-dir", cache_dir]) == 0
    out = capsys.readouterr().out
    assert scorer.path in out
    assert float(out.split("test accuracy:")[1].split()[0]) == pytest.approx(
        scorer.accuracy("test"), abs=1e-4)
    path = tmp_path / "samples.npy"
    np.save(path, digits["val"])
    assert metrics.main(["--score", str(path), "--cache-dir", cache_dir]) == 0
    assert json.loads(capsys.readouterr().out) == scorer.score_samples(digits["val"])
    np.save(path, digits["val"] * 2 - 1)
    assert metrics.main(["--score", str(path), "--cache-dir", cache_dir]) == 1
    assert "must lie in [0, 1]" in capsys.readouterr().err
    assert metrics.main(["--score", str(tmp_path / "missing.npy"), "--cache-dir", cache_dir]) == 1
    assert "cannot read samples" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        metrics.main([])
    assert exc.value.code == 2
