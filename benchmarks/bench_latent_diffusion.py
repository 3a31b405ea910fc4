"""Latent diffusion figures: class accuracy per guidance scale, cFID, latent vs pixel sampling
speed, and the README's grids.

    python benchmarks/bench_latent_diffusion.py runs/ldm/checkpoint.safetensors \\
        --per-class 400 --guidance 0 1 3 5 --steps 50 --speed --grids docs/images

For each guidance w: ``per-class`` samples of every class 0-9 (requested through the class
tokens), each classified by the digits scorer (``models.metrics.DigitsScorer``): the share
classified as the requested class, per class and its minimum; and the scorer's cFID of 400
samples with the classes cycling 0-9 (what ``tinygrad-cv sample CKPT --guidance w`` draws).
``--speed``: DDIM-``steps`` sampling of 400 images, the latent model (w = 1: one UNet pass per
step; w = 3: both conditions, their common layers computed once) against the pixel-space DDPM UNet of ``train --model ddpm``'s default
configuration (same step count, weights from ``--ddpm CKPT`` or fresh: the cost does not
depend on them), wall-clock and process CPU seconds, with the load averages before and after
and the BLAS thread setting (on a shared machine the wall-clock ratio follows the load; the
CPU-time ratio less so); ``--speed-rounds K`` repeats the three timings K times in turn and
reports the median speed-ups and their range.  Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
from tinygrad_cv import backend  # noqa: E402


def _images(x):
    return np.clip((backend.to_numpy(x.array).astype("float32") + 1.0) * 0.5, 0.0, 1.0)


def class_accuracy(ldm, scorer, per_class, guidance, steps, seed, batch_size):
    labels = np.arange(10 * per_class, dtype="int64") % 10
    x = _images(ldm.sample(labels, guidance_scale=guidance, steps=steps, seed=seed,
                           progress=False, batch_size=batch_size))
    predicted = backend.to_numpy(scorer.predict(x)).astype("int64")
    per = [float((predicted[labels == c] == c).mean()) for c in range(10)]
    return {"per_class": per, "min": min(per), "mean": float(np.mean(per))}


def cfid(ldm, scorer, guidance, steps, seed, batch_size, num=400):
    from models.latent.training import cycling_classes

    x = _images(ldm.sample(cycling_classes(num), guidance_scale=guidance, steps=steps,
                           seed=seed, progress=False, batch_size=batch_size))
    scores = scorer.score_samples(x)
    return {k: scores[k] for k in ("cfid", "inception_score", "precision", "recall",
                                   "min_class_fraction", "mean_confidence")}, x


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def _speed_round(ldm, ddpm, sampler, steps, num):
    from models.latent.training import cycling_classes

    out = {"pixel": _timed(lambda: sampler.sample(ddpm.model, (num, 1, 8, 8), seed=0,
                                                  progress=False))}
    for w in (1.0, 3.0):
        out[f"latent_w{w:g}"] = _timed(lambda: ldm.sample(cycling_classes(num),
                                                          guidance_scale=w, steps=steps,
                                                          seed=0, progress=False))
        out[f"speedup_w{w:g}"] = {k: out["pixel"][k] / out[f"latent_w{w:g}"][k]
                                  for k in ("wall_s", "cpu_s")}
    return out


def speed(ldm, steps, ddpm_ckpt=None, num=400, rounds=1):
    """Pixel then latent (w = 1, w = 3) sampling, ``rounds`` times in turn; with several
    rounds each round's figures are under "rounds" and the speed-ups are their medians."""
    from models.diffusion import DDIMSampler
    from models.diffusion.training import build_ddpm, default_config, load_ddpm

    ddpm = load_ddpm(ddpm_ckpt) if ddpm_ckpt else build_ddpm(default_config()).eval()
    sampler = DDIMSampler(ddpm.schedule, steps=steps)
    out = {"load_average_before": os.getloadavg(),
           "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
    runs = [_speed_round(ldm, ddpm, sampler, steps, num) for _ in range(max(1, int(rounds)))]
    if len(runs) == 1:
        out.update(runs[0])
    else:
        out["rounds"] = runs
        for w in ("w1", "w3"):
            out[f"speedup_{w}"] = {k: float(np.median([r[f"speedup_{w}"][k] for r in runs]))
                                   for k in ("wall_s", "cpu_s")}
            out[f"speedup_{w}_range"] = {k: [min(r[f"speedup_{w}"][k] for r in runs),
                                             max(r[f"speedup_{w}"][k] for r in runs)]
                                         for k in ("wall_s", "cpu_s")}
    out["load_average_after"] = os.getloadavg()
    return out


def save_grids(ldm, out_dir, steps, guidance=3.0):
    from tinygrad_cv.cli.learn_commands import save_grid
    from models.latent.training import (_save_reconstruction_grid, evaluate_autoencoder,
                                        reconstruction_grid)

    os.makedirs(out_dir, exist_ok=True)
    _, (images, recon) = evaluate_autoencoder(ldm.autoencoder, "test")
    _save_reconstruction_grid(reconstruction_grid(images, recon, 20),
                              os.path.join(out_dir, "ldm_reconstruction.png"))
    labels = np.repeat(np.arange(10, dtype="int64"), 10)          # row c: ten samples of c
    x = _images(ldm.sample(labels, guidance_scale=guidance, steps=steps, seed=0,
                           progress=False))
    save_grid(x, os.path.join(out_dir, f"ldm_samples_w{guidance:g}.png"), scale=3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--guidance", type=float, nargs="+", default=[0.0, 1.0, 3.0, 5.0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--ddpm", default=None, help="pixel DDPM checkpoint for --speed")
    parser.add_argument("--speed-rounds", type=int, default=1,
                        help="--speed: time pixel and latent sampling this many times in turn")
    parser.add_argument("--grids", default=None, help="folder for the README's PNG grids")
    args = parser.parse_args(argv)
    from models.latent.training import load_ldm
    from models.metrics import DigitsScorer

    ldm = load_ldm(args.checkpoint)
    scorer = DigitsScorer.load_or_train(verbose=False)
    report = {"checkpoint": os.path.abspath(args.checkpoint), "steps": args.steps,
              "per_class": args.per_class, "guidance": {}}
    for w in args.guidance:
        entry = {}
        if args.per_class:
            entry["accuracy"] = class_accuracy(ldm, scorer, args.per_class, w, args.steps,
                                               args.seed, args.batch_size)
        entry["scores_400"], _ = cfid(ldm, scorer, w, args.steps, args.seed, args.batch_size)
        report["guidance"][f"{w:g}"] = entry
        print(f"w={w:g}: " + json.dumps(entry), file=sys.stderr, flush=True)
    if args.speed:
        report["speed"] = speed(ldm, args.steps, args.ddpm, rounds=args.speed_rounds)
    if args.grids:
        save_grids(ldm, args.grids, args.steps)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    tg.manual_seed(0)
    main()
