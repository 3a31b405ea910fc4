"""Calibration of the digits scorer (``models.metrics``): what its figures read on sets of
known quality, as a markdown table for the README.

    python benchmarks/scorer_calibration.py [--cache-dir DIR] [--seed 0]

The reference of every figure is the digits test split (359 images), so "real" samples are
held-out images the classifier never selected on nor trained on: the validation split (360
images).  Rows:

- real: the validation split (and its first 100 images: cFID grows as N shrinks, a bias of
  the covariance estimate); real (train): 400 images of the training split, the images the
  classifier was fitted on (what a model that memorised its training set would score);
- real + N(0, sigma^2) noise on every pixel (clipped to [0, 1]), sigma 0.05, 0.1, 0.2;
- one class only: every training + validation image of class 3;
- one image repeated: the first validation image, 400 times;
- uniform noise: 400 images of U(0, 1) pixels.

No assertions (tests/test_metrics.py checks the ordering): a report.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from models.metrics import DigitsScorer  # noqa: E402
from tinygrad_cv.data import load_digits  # noqa: E402

COLUMNS = ("cfid", "inception_score", "precision", "recall", "min_class_fraction",
           "mean_confidence")
HEADERS = ("set", "N", "cFID", "IS", "precision", "recall", "min class fraction",
           "mean confidence")


def calibration_sets(seed=0):
    """``[(name, images (N, 1, 8, 8) float32 in [0, 1])]`` of the rows above."""
    rng = np.random.default_rng(seed)
    val = load_digits("val")[0].array
    train, train_labels = (t.array for t in load_digits("train"))
    val_labels = load_digits("val")[1].array
    sets = [("real (val split)", val), ("real (val split, 100)", val[:100]),
            ("real (train split, 400)", train[rng.permutation(train.shape[0])[:400]])]
    for sigma in (0.05, 0.1, 0.2):
        noisy = np.clip(val + rng.normal(0.0, sigma, val.shape), 0.0, 1.0).astype(np.float32)
        sets.append((f"real + noise sigma {sigma}", noisy))
    one_class = np.concatenate([train[train_labels == 3], val[val_labels == 3]])
    sets.append(("one class only (3)", one_class))
    sets.append(("one image repeated", np.repeat(val[:1], 400, axis=0)))
    sets.append(("uniform noise", rng.uniform(0.0, 1.0, (400, 1, 8, 8)).astype(np.float32)))
    return sets


def markdown_table(rows):
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for name, scores in rows:
        cells = [name, str(scores["num_samples"])]
        cells += [f"{scores[c]:.2f}" if c in ("cfid", "inception_score") else f"{scores[c]:.3f}"
                  for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help="the scorer's cache folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and subsets")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    scorer = DigitsScorer.load_or_train(args.cache_dir)
    print(f"scorer: {scorer.path}; test accuracy {scorer.accuracy('test'):.4f} "
          f"(loaded/trained in {time.perf_counter() - start:.1f} s)\n")
    rows = []
    for name, images in calibration_sets(args.seed):
        rows.append((name, scorer.score_samples(images)))
    print(markdown_table(rows))
    print(f"\nreference: the digits test split (359 images); k = {scorer.k} for precision/recall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
