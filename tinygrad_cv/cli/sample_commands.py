"""``tinygrad-cv sample``: draw samples from any registered generative model's checkpoint.

    tinygrad-cv sample runs/ddpm/checkpoint.safetensors --sampler ddim --steps 50 --num 400 \\
        --out runs/ddpm/ddim50

writes ``OUT/samples.npy`` (float32, (N, C, H, W), pixel range [0, 1]), ``OUT/grid.png`` and
``OUT/scores.json`` (the digits scorer's figures, ``models.metrics``; ``--no-score`` skips
them and removes an earlier run's scores.json, which would describe other samples).  The sampler options come from the registry entry of the checkpoint's model.  All
three files are made in memory first and written only when everything succeeded, all or
nothing (``common.write_outputs``), so a failed run leaves an earlier run's files in OUT as
they were.
"""
from __future__ import annotations

import io
import json
import os
import sys
import time

from tinygrad_cv.cli import CLIError, UsageError
from tinygrad_cv.cli.common import (DEVICE_NAMES, folder, nonnegative_int, output_folder,
                                    positive_int, use_device, write_outputs)
from tinygrad_cv.cli.model_options import add_model_options, given_options, model_errors

SAMPLES_NAME = "samples.npy"
GRID_NAME = "grid.png"
SCORES_NAME = "scores.json"
MIN_SCORED = 4          # the scorer's k-NN precision/recall needs more than k = 3 samples


def _generative_entries():
    from models import registry

    return [registry.get_entry(n) for n in registry.model_names("generative")]


def _progress_wanted(args):
    isatty = getattr(sys.stderr, "isatty", None)
    return not args.no_progress and bool(isatty and isatty())


def _npy_bytes(images):
    from tinygrad_cv import backend

    buffer = io.BytesIO()
    backend.module_for_device("cpu").save(buffer, images)
    return buffer.getvalue()


def _png_bytes(images):
    import tempfile

    from tinygrad_cv.cli.learn_commands import save_grid

    with tempfile.TemporaryDirectory() as tmp:
        path = save_grid(images, os.path.join(tmp, GRID_NAME))
        with open(path, "rb") as f:
            return f.read()


def _score(images):
    from models.metrics import DigitsScorer

    try:
        scorer = DigitsScorer.load_or_train(verbose=False)
        return scorer.score_samples(images)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        raise CLIError(f"cannot score the samples: {exc}") from None


def _check_finite(images, options):
    """Refuse samples holding NaN or inf (a diverged sampler, e.g. a huge --guidance): they
    are not the [0, 1] images samples.npy promises, so nothing is written."""
    from tinygrad_cv import backend

    xp = backend.get_array_module(images)
    bad = int((~xp.isfinite(images)).reshape(images.shape[0], -1).any(axis=1).sum())
    if bad:
        given = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
        raise CLIError(f"sampling diverged: {bad} of {images.shape[0]} samples hold NaN or "
                       f"inf{f' (with {given})' if given else ''}; nothing was written")


def run_sample(args):
    from models.registry import CONTENT_ERRORS, content_error, model_names, read_checkpoint

    entries = _generative_entries()
    if not args.no_score and args.num < MIN_SCORED:
        raise UsageError(f"--num {args.num} is too few to score (at least {MIN_SCORED}); raise "
                         "it or add --no-score")
    use_device(args.device)
    with model_errors():
        entry, state = read_checkpoint(args.checkpoint)
    if entry.sample is None:
        raise CLIError(f"{args.checkpoint!r} holds a {entry.name} model ({entry.kind}), which "
                       f"cannot sample; sample needs a generative model "
                       f"({', '.join(model_names('generative'))})")
    options = given_options(args, entry, entries, attr="sample_options",
                            what=f"a {entry.name} checkpoint")
    with model_errors():
        try:
            model = entry.load(state, args.checkpoint)
        except CONTENT_ERRORS as exc:
            raise content_error(args.checkpoint, exc) from None
        start = time.perf_counter()
        images = entry.sample(model, options, num=args.num, seed=args.seed,
                              batch_size=args.batch_size, progress=_progress_wanted(args))
    seconds = time.perf_counter() - start
    _check_finite(images, options)
    report = {"checkpoint": os.path.abspath(args.checkpoint), "model": entry.name,
              "options": options, "num": args.num, "seed": args.seed,
              "batch_size": args.batch_size, "sampling_seconds": seconds}
    scores = None if args.no_score else _score(images)
    files = {SAMPLES_NAME: _npy_bytes(images), GRID_NAME: _png_bytes(images)}
    if scores is not None:
        report.update(scores)
        files[SCORES_NAME] = (json.dumps(report, indent=2) + "\n").encode("utf-8")
    with output_folder(args.out) as out:
        write_outputs(out, files, stale=[SCORES_NAME])   # no scores of other samples
    settings = ", ".join(f"{k}={v}" for k, v in options.items()) or "default options"
    print(f"{args.num} samples of {entry.name} ({settings}) in {seconds:.1f}s")
    if scores is not None:
        print(f"cFID {scores['cfid']:.2f}  IS {scores['inception_score']:.2f}  precision "
              f"{scores['precision']:.3f}  recall {scores['recall']:.3f}  rarest class "
              f"{scores['min_class_fraction']:.3f}  mean confidence "
              f"{scores['mean_confidence']:.3f}")
    for name in files:
        print(f"{name + ':':<13}{os.path.join(out, name)}")
    return 0


def register(subparsers):
    entries = _generative_entries()
    sample = subparsers.add_parser(
        "sample", help="draw samples from a generative model's checkpoint and score them",
        description="Sample a checkpoint written by 'tinygrad-cv train' for a generative model "
                    f"({', '.join(e.name for e in entries)}). Writes OUT/samples.npy (float32, "
                    "(N, C, H, W), pixels in [0, 1]), OUT/grid.png and OUT/scores.json (the "
                    "digits scorer: cFID, inception score, class histogram, precision, "
                    "recall). A failed run leaves OUT as it was.")
    sample.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="checkpoint.safetensors of a generative model")
    add_model_options(sample, entries, attr="sample_options")
    sample.add_argument("--num", type=positive_int, default=400,
                        help="number of samples (default: 400)")
    sample.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seed of the starting noise and of every sampling step (default: 0)")
    sample.add_argument("--batch-size", type=positive_int, default=None,
                        help="samples per model call, to bound memory (default: all at once)")
    sample.add_argument("--out", metavar="DIR", type=folder, default="samples",
                        help="output folder (default: samples)")
    sample.add_argument("--no-score", action="store_true",
                        help="skip the digits scorer and scores.json (an earlier run's "
                             "scores.json in OUT is removed) (default: off, score)")
    sample.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                        help="cpu (NumPy) or cuda (CuPy) (default: cpu)")
    sample.add_argument("--no-progress", action="store_true",
                        help="no progress bar (default: a bar over the steps on a terminal)")
    sample.set_defaults(func=run_sample)
