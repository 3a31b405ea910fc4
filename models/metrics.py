"""The digits scorer: how every generative model of the project is judged.

A ConvNet digits classifier (``models.classifiers``, the CLI's ``cnn`` recipe, seed 0) is
trained once (about 3 s on two CPU cores) and cached.  For a batch of samples ``(N, 1, 8, 8)``
in [0, 1] it reports, with ``f(x)`` its penultimate features (the 128 ReLU outputs before the
last linear layer) and ``p(y|x)`` its softmax:

- ``cfid``: the Frechet distance between Gaussian fits of ``f`` on the samples and on the
  whole digits test split (359 images)

      d^2 = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr((S_1^1/2 S_2 S_1^1/2)^1/2)

  (``S`` the unbiased covariances; the matrix square roots by symmetric eigen-decompositions
  in float64, so the trace term is real and no complex ``sqrtm`` is needed).
- ``inception_score``: ``exp(1/N sum_i KL(p(y|x_i) || p(y)))`` with ``p(y) = 1/N sum_i
  p(y|x_i)`` (one split over all samples): 1 for one class or unsure predictions, at most
  10 for confident, balanced ones.
- ``class_histogram`` (argmax counts per class), ``min_class_fraction`` (the rarest class's
  share), ``mean_confidence`` (mean of ``max_y p(y|x)``).
- ``precision``/``recall``: k-nearest-neighbour manifolds in feature space (Kynkaanniemi et
  al. 2019, k = 3).  Each point gets the radius of the ball reaching its k-th nearest other
  point of its own set; precision = share of samples inside some test-split ball, recall =
  share of test images inside some sample ball.  Precision alone does not flag garbage: the
  balls of a few outlying test images are wide, and uniform noise still reads about 0.7;
  read it with recall, cFID and the confidence (``benchmarks/scorer_calibration.py``).
- ``num_samples``.

    scorer = DigitsScorer.load_or_train()       # cached in $TINYGRAD_CV_CACHE or ~/.cache
    scores = scorer.score_samples(images)       # a JSON-able dict

Train (or check) the cached classifier from the command line with
``python -m models.metrics --train-scorer``; score a ``.npy`` file of samples with
``python -m models.metrics --score samples.npy``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys

from tinygrad_cv import backend

from .bleu import bleu, exact_match  # noqa: F401  (caption metrics: corpus BLEU, NLTK's)

__all__ = ["SCORER_VERSION", "SCORER_RECIPE", "recipe_hash", "default_cache_dir", "scorer_path",
           "gaussian_fit", "frechet_distance", "inception_score", "kth_neighbour_radii",
           "knn_precision_recall", "train_scorer_classifier", "DigitsScorer", "main"]

SCORER_VERSION = 1
# Everything that decides the classifier's weights; its hash names the cache file, so any
# change here retrains instead of reusing a stale cache.
SCORER_RECIPE = {
    "version": SCORER_VERSION,
    "data": {"dataset": "digits", "train": "train", "select": "val", "range": [0.0, 1.0]},
    "model": {"name": "ConvNet", "in_channels": 1, "num_classes": 10, "input_size": [8, 8],
              "conv_channels": [[32], [64]], "fc_dims": [128], "batchnorm": True,
              "pool": "max", "kernel_size": 3, "dropout": 0.0},
    "training": {"optimizer": "adam", "lr": 1e-3, "scheduler": "cosine", "epochs": 20,
                 "batch_size": 64, "restore_best": True, "device": "cpu"},
}
IMAGE_SHAPE = (1, 8, 8)
NUM_CLASSES = 10
RANGE_TOLERANCE = 1e-4      # samples may leave [0, 1] by rounding only; they are clipped back
_BLOCK_BYTES = 64 * 2 ** 20  # size of one block of the pairwise-distance matrix


# ---- cache ----------------------------------------------------------------------------------
def recipe_hash(recipe=None, seed=0):
    """First 12 hex digits of the SHA-256 of the recipe (canonical JSON) and the seed."""
    recipe = SCORER_RECIPE if recipe is None else recipe
    text = json.dumps({"recipe": recipe, "seed": int(seed)}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def default_cache_dir():
    """``$TINYGRAD_CV_CACHE`` if set, else ``~/.cache/tinygrad_cv``."""
    return os.environ.get("TINYGRAD_CV_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "tinygrad_cv")


def scorer_path(cache_dir=None, seed=0):
    """``CACHE/scorer-digits-v{version}-{recipe hash}.safetensors``."""
    return os.path.join(cache_dir or default_cache_dir(),
                        f"scorer-digits-v{SCORER_VERSION}-{recipe_hash(seed=seed)}.safetensors")


# ---- statistics -----------------------------------------------------------------------------
def gaussian_fit(features):
    """Mean (D,) and unbiased covariance (D, D) of ``features`` (N, D), N >= 2, in float64."""
    xp = backend.get_array_module(features)
    f = xp.asarray(features, dtype="float64")
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"gaussian_fit: need features of shape (N >= 2, D), got {tuple(f.shape)}")
    mu = f.mean(axis=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def _psd_sqrt(sigma):
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues
    below 0, from rounding, are clipped to 0)."""
    xp = backend.get_array_module(sigma)
    w, v = xp.linalg.eigh((sigma + sigma.T) / 2)
    return (v * xp.sqrt(xp.maximum(w, 0.0))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet (2-Wasserstein squared) distance between N(mu1, S1) and N(mu2, S2):

        ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)

    ``tr((S1 S2)^1/2)`` equals the trace of the symmetric PSD ``(S1^1/2 S2 S1^1/2)^1/2`` (same
    eigenvalues), whose eigenvalues come from ``eigh`` in float64 and are clipped at 0; this
    stays real and stable for singular covariances (e.g. N < D, or repeated samples).  The
    result is clipped at 0 (it can dip below by rounding when both fits are equal).
    """
    xp = backend.get_array_module(mu1, sigma1, mu2, sigma2)
    mu1, mu2 = xp.asarray(mu1, dtype="float64"), xp.asarray(mu2, dtype="float64")
    s1, s2 = xp.asarray(sigma1, dtype="float64"), xp.asarray(sigma2, dtype="float64")
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance: shapes do not match: mu1 {tuple(mu1.shape)}, "
                         f"sigma1 {tuple(s1.shape)}, mu2 {tuple(mu2.shape)}, "
                         f"sigma2 {tuple(s2.shape)}")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = xp.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = xp.sqrt(xp.maximum(eig, 0.0)).sum()
    diff = mu1 - mu2
    value = float(diff @ diff + xp.trace(s1) + xp.trace(s2) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def inception_score(probs):
    """``exp(mean_i KL(p_i || p_bar))`` of class probabilities ``probs`` (N, C), rows summing
    to 1, ``p_bar`` their mean; ``0 log 0 = 0``."""
    xp = backend.get_array_module(probs)
    p = xp.asarray(probs, dtype="float64")
    p_bar = p.mean(axis=0, keepdims=True)
    positive = p > 0
    safe = xp.where(positive, p, 1.0)
    kl = xp.where(positive, p * (xp.log(safe) - xp.log(xp.where(positive, p_bar, 1.0))), 0.0)
    return float(math.exp(float(kl.sum(axis=1).mean())))


def _sq_norms(a):
    return (a * a).sum(axis=1)


def _distance_blocks(a, b):
    """Yield ``(start, D)`` with ``D`` the L2 distances (rows, n_b) of a row block of ``a``
    (starting at ``start``) to every row of ``b``, blocks of about 64 MB."""
    from classic.knn import pairwise_distances

    rows = max(1, _BLOCK_BYTES // (8 * max(1, b.shape[0])))
    for start in range(0, a.shape[0], rows):
        yield start, pairwise_distances(a[start:start + rows], b)


def kth_neighbour_radii(features, k=3):
    """Distance of each row of ``features`` (N, D) to its k-th nearest other row (N,).

    The self distance (0) is the smallest of each row, so this is the value at sorted
    position ``k`` of the row's distances, as in Kynkaanniemi et al.'s reference code.
    """
    xp = backend.get_array_module(features)
    n = features.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"kth_neighbour_radii: k must be in [1, N - 1] = [1, {n - 1}], got {k}")
    out = xp.empty((n,), dtype="float64")
    for start, dist in _distance_blocks(features, features):
        out[start:start + dist.shape[0]] = xp.partition(dist, k, axis=1)[:, k]
    return out


def knn_precision_recall(real, fake, k=3):
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` (M, D) against
    ``real`` (N, D):

        precision = 1/M sum_j [exists i: ||fake_j - real_i|| <= r_k(real_i)]
        recall    = 1/N sum_i [exists j: ||real_i - fake_j|| <= r_k(fake_j)]

    ``r_k(x)`` the distance from ``x`` to its k-th nearest neighbour within its own set.
    """
    xp = backend.get_array_module(real, fake)
    real = xp.asarray(real, dtype="float64")
    fake = xp.asarray(fake, dtype="float64")
    real_radii = kth_neighbour_radii(real, k)
    fake_radii = kth_neighbour_radii(fake, k)
    fake_inside = xp.zeros((fake.shape[0],), dtype=bool)
    real_covered = xp.zeros((real.shape[0],), dtype=bool)
    for start, dist in _distance_blocks(fake, real):
        stop = start + dist.shape[0]
        fake_inside[start:stop] = (dist <= real_radii[None, :]).any(axis=1)
        real_covered |= (dist <= fake_radii[start:stop, None]).any(axis=0)
    return float(fake_inside.mean()), float(real_covered.mean())


# ---- the classifier -------------------------------------------------------------------------
def _build_classifier(recipe=None):
    from models.classifiers import ConvNet

    m = dict((recipe or SCORER_RECIPE)["model"])
    m.pop("name")
    return ConvNet(m.pop("in_channels"), m.pop("num_classes"), **m)


def train_scorer_classifier(seed=0, progress=False):
    """Train the recipe's ConvNet on the digits train split on the CPU (deterministic; best
    validation epoch kept).  Returns ``(model in eval mode, info dict with accuracies)``."""
    import tinygrad_cv as tg
    from tinygrad_cv.data import DataLoader, TensorDataset, load_digits
    from models.training import Trainer, evaluate, make_optimizer, make_scheduler

    settings = SCORER_RECIPE["training"]
    previous = backend.get_default_device()
    backend.set_default_device("cpu")
    try:
        x, y = load_digits("train", device="cpu")
        xv, yv = load_digits("val", device="cpu")
        xt, yt = load_digits("test", device="cpu")
        tg.manual_seed(seed)
        model = _build_classifier()
        optimizer = make_optimizer(settings["optimizer"], model.parameters(), settings["lr"])
        scheduler = make_scheduler(settings["scheduler"], optimizer, settings["epochs"])
        trainer = Trainer(model, optimizer,
                          DataLoader(TensorDataset(x, y), settings["batch_size"], shuffle=True,
                                     seed=seed),
                          DataLoader(TensorDataset(xv, yv), 512), scheduler=scheduler,
                          epochs=settings["epochs"], seed=seed,
                          restore_best=settings["restore_best"], progress=progress)
        trainer.fit()
        test = evaluate(model, DataLoader(TensorDataset(xt, yt), 512))
    finally:
        backend.set_default_device(previous)
    model.eval()
    info = {"seed": int(seed), "best_epoch": trainer.best_epoch,
            "val_accuracy": float(trainer.best[0]), "test_accuracy": float(test["accuracy"]),
            "recipe_hash": recipe_hash(seed=seed)}
    return model, info


def _to_array(samples):
    return samples.array if hasattr(samples, "_tensor_marker") else samples


def check_samples(samples, min_count=2):
    """``samples`` as a float32 backend array (N, 1, 8, 8) in [0, 1]; a clear ValueError for a
    wrong type, shape, dtype, too few samples, NaN/inf or values outside [0, 1] (beyond a
    rounding tolerance of 1e-4, which is clipped)."""
    arr = _to_array(samples)
    if not backend.is_array(arr):
        raise ValueError(f"score_samples: samples must be a numpy/cupy array or a Tensor of "
                         f"shape (N, 1, 8, 8), got {type(samples).__name__}")
    if arr.ndim != 4 or tuple(arr.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"score_samples: samples must have shape (N, 1, 8, 8), got "
                         f"{tuple(arr.shape)}")
    if not backend.is_floating(arr.dtype):
        raise ValueError(f"score_samples: samples must be floats in [0, 1], got dtype "
                         f"{arr.dtype} (divide integer images by their maximum first)")
    if arr.shape[0] < min_count:
        raise ValueError(f"score_samples: need at least {min_count} samples, got {arr.shape[0]}")
    xp = backend.get_array_module(arr)
    arr = arr.astype("float32", copy=False)
    if not bool(xp.isfinite(arr).all()):
        bad = int((~xp.isfinite(arr)).reshape(arr.shape[0], -1).any(axis=1).sum())
        raise ValueError(f"score_samples: {bad} of {arr.shape[0]} samples hold NaN or inf")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
        raise ValueError(f"score_samples: samples must lie in [0, 1], got values in "
                         f"[{lo:.4g}, {hi:.4g}] (images in [-1, 1] need (x + 1) / 2)")
    return xp.clip(arr, 0.0, 1.0)


class DigitsScorer:
    """Scores batches of generated digits with a cached ConvNet classifier (see the module
    docstring for the figures).  ``DigitsScorer.load_or_train()`` is the usual way in."""

    def __init__(self, model, info=None, k=3, batch_size=512):
        self.model = model.eval()
        self.info = dict(info or {})
        self.k = int(k)
        self.batch_size = int(batch_size)
        self.path = None
        self._reference = {}     # device -> (features, mu, sigma)

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load_or_train(cls, cache_dir=None, seed=0, retrain=False, verbose=True, k=3):
        """The scorer of ``scorer_path(cache_dir, seed)``; trained and saved there (atomically)
        when the file is missing, unreadable, from another recipe, or ``retrain`` is set.  An
        unwritable cache folder only costs a warning (the trained scorer is still returned)."""
        import tinygrad_cv as tg

        path = scorer_path(cache_dir, seed)
        if not retrain and os.path.exists(path):
            scorer, problem = cls._load(path, seed, k)
            if scorer is not None:
                return scorer
            if verbose:
                print(f"digits scorer: retraining: the cache {path} {problem}", file=sys.stderr)
        elif verbose:
            print(f"digits scorer: training the classifier once (a few seconds); cache {path}",
                  file=sys.stderr)
        model, info = train_scorer_classifier(seed)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tg.save({"model": model.state_dict(), "recipe": SCORER_RECIPE, "info": info}, path,
                    metadata={"recipe_hash": info["recipe_hash"]})
        except OSError as exc:
            print(f"digits scorer: warning: cannot write the cache {path}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            path = None
        scorer = cls(model.to(backend.get_default_device()), info, k=k)
        scorer.path = path
        return scorer

    @classmethod
    def _load(cls, path, seed, k):
        """``(scorer saved at path, None)``, or ``(None, what is wrong)`` when the file is
        damaged or from another recipe."""
        import tinygrad_cv as tg
        from tinygrad_cv.io import CheckpointError

        try:
            state = tg.load(path)
            if not isinstance(state, dict) or state.get("recipe") != SCORER_RECIPE or \
                    state["info"].get("recipe_hash") != recipe_hash(seed=seed):
                return None, "holds another recipe"
            model = _build_classifier()
            model.load_state_dict(state["model"])
        except (CheckpointError, OSError, KeyError, TypeError, ValueError, RuntimeError,
                AttributeError) as exc:
            return None, f"is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        scorer = cls(model, state["info"], k=k)
        scorer.path = path
        return scorer, None

    # ---- features ------------------------------------------------------------------------
    def _on_device_of(self, arr):
        device = backend.device_of(arr)
        if backend.device_of(next(iter(self.model.parameters())).array) != device:
            self.model.to(device)
        return device

    def features_and_probs(self, images):
        """Penultimate features (N, 128) and softmax probabilities (N, 10), float64 arrays on
        the images' device; ``images`` (N, 1, 8, 8) float32 in [0, 1]."""
        import tinygrad_cv as tg
        from tinygrad_cv.tensor import Tensor

        arr = _to_array(images)
        xp = backend.get_array_module(arr)
        self._on_device_of(arr)
        layers = list(self.model.classifier)
        head, last = layers[:-1], layers[-1]
        feats, probs = [], []
        self.model.eval()
        with tg.no_grad():
            for start in range(0, arr.shape[0], self.batch_size):
                h = self.model.features(Tensor.wrap(arr[start:start + self.batch_size]))
                for layer in head:
                    h = layer(h)
                logits = last(h).array.astype("float64")
                logits = logits - logits.max(axis=1, keepdims=True)
                e = xp.exp(logits)
                feats.append(h.array.astype("float64"))
                probs.append(e / e.sum(axis=1, keepdims=True))
        return xp.concatenate(feats), xp.concatenate(probs)

    def predict(self, images):
        """Predicted classes (N,) of images (N, 1, 8, 8) in [0, 1]."""
        return self.features_and_probs(check_samples(images, 1))[1].argmax(axis=1)

    def reference(self, device="cpu"):
        """``(features, mu, sigma)`` of the digits test split on ``device`` (computed once)."""
        from tinygrad_cv.data import load_digits

        device = backend.normalize_device(device)
        if device not in self._reference:
            x, _ = load_digits("test", device=device)
            feats, _ = self.features_and_probs(x.array)
            self._reference[device] = (feats, *gaussian_fit(feats))
        return self._reference[device]

    # ---- scores --------------------------------------------------------------------------
    def score_samples(self, samples):
        """The scorer's figures for ``samples`` (N, 1, 8, 8) in [0, 1] (numpy/cupy array or
        Tensor, N > k): a JSON-able dict with ``cfid``, ``inception_score``,
        ``class_histogram`` (10 ints), ``min_class_fraction``, ``mean_confidence``,
        ``precision``, ``recall`` and ``num_samples``."""
        arr = check_samples(samples, min_count=max(2, self.k + 1))
        xp = backend.get_array_module(arr)
        feats, probs = self.features_and_probs(arr)
        ref_feats, ref_mu, ref_sigma = self.reference(backend.device_of(arr))
        mu, sigma = gaussian_fit(feats)
        n = int(arr.shape[0])
        histogram = [int(c) for c in backend.to_numpy(
            xp.bincount(probs.argmax(axis=1), minlength=NUM_CLASSES)).tolist()]
        precision, recall = knn_precision_recall(ref_feats, feats, self.k)
        return {
            "cfid": frechet_distance(mu, sigma, ref_mu, ref_sigma),
            "inception_score": inception_score(probs),
            "class_histogram": histogram,
            "min_class_fraction": min(histogram) / n,
            "mean_confidence": float(probs.max(axis=1).mean()),
            "precision": precision,
            "recall": recall,
            "num_samples": n,
        }

    def accuracy(self, split="test"):
        """Accuracy of the classifier on a digits split (``'train'``, ``'val'``, ``'test'``)."""
        from tinygrad_cv.data import load_digits

        x, y = load_digits(split)
        return float((self.predict(x.array) == y.array).mean())


# ---- command line ---------------------------------------------------------------------------
def main(argv=None):
    """``python -m models.metrics --train-scorer [--cache-dir DIR] [--retrain]``: train (or
    check) the cached scorer and print its path and test accuracy;
    ``python -m models.metrics --score SAMPLES.npy``: print the scores of saved samples."""
    parser = argparse.ArgumentParser(prog="python -m models.metrics",
                                     description="The digits scorer of generative models.")
    parser.add_argument("--train-scorer", action="store_true",
                        help="train the scorer's classifier unless a valid cache exists")
    parser.add_argument("--retrain", action="store_true", help="train even if cached")
    parser.add_argument("--cache-dir", default=None,
                        help="cache folder (default $TINYGRAD_CV_CACHE or ~/.cache/tinygrad_cv)")
    parser.add_argument("--score", metavar="SAMPLES.npy", default=None,
                        help="score a .npy file of samples (N, 1, 8, 8) in [0, 1]")
    args = parser.parse_args(argv)
    if not (args.train_scorer or args.retrain or args.score):
        parser.error("give --train-scorer, --retrain or --score SAMPLES.npy")
    samples = None
    if args.score:
        try:
            samples = backend.module_for_device("cpu").load(args.score, allow_pickle=False)
        except (OSError, ValueError) as exc:
            print(f"cannot read samples {args.score!r}: {exc}", file=sys.stderr)
            return 1
    scorer = DigitsScorer.load_or_train(args.cache_dir, retrain=args.retrain)
    if args.train_scorer or args.retrain:
        print(f"scorer: {scorer.path or '(not cached)'}")
        print(f"test accuracy: {scorer.accuracy('test'):.4f}")
    if samples is not None:
        try:
            scores = scorer.score_samples(backend.to_device(samples,
                                                            backend.get_default_device()))
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
