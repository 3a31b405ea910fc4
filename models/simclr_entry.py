"""SimCLR on the digits in the model registry (kind ``encoder``: it neither classifies nor
samples; ``models.load_model(checkpoint).encoder`` is the trained encoder).

``train`` runs ``models.simclr.train_simclr`` for the budget, then measures linear probes on
the frozen features (test accuracy with 5 labels per class, mean over 5 random draws of the
labelled images, and with all training labels) beside the same probes on the raw pixels and
on a randomly initialised encoder, writes them to ``OUT/metrics.json`` and draws the 2-D PCA
of the test images' features coloured by class in ``OUT/pca.png``.
"""
from __future__ import annotations

import os

from .registry import (CHECKPOINT_NAME, METRICS_NAME, ModelEntry, Option, check_resume,
                       positive_float, positive_int, register, saved_run_errors)

__all__ = ["PROBE_DRAWS", "FEW_LABELS", "PCA_NAME", "probe_report"]

PROBE_DRAWS = 5       # random draws of the few labelled images (seeds 0 .. 4)
FEW_LABELS = 5        # labels per class of the few-label probe
PCA_NAME = "pca.png"


def _options():
    from .simclr import default_config

    t = default_config()["training"]
    return (
        Option("epochs", positive_int, t["epochs"],
               "number of epochs (passes over the training digits); with --minutes, whichever "
               "budget ends first; totals over --resume",
               default_help="no limit, --minutes decides"),
        Option("minutes", positive_float, t["minutes"],
               "training-time budget in minutes (checked at the end of each epoch; the probes "
               "and the plot come after it); a total over --resume"),
    )


def probe_report(encoder, data, draws=PROBE_DRAWS, few=FEW_LABELS):
    """Test accuracies of linear probes on ``encoder``'s features: ``few_label_accuracy``
    (mean over ``draws`` draws of ``few`` labels per class, with each draw's figure) and
    ``all_label_accuracy``.  ``data``: ``((train_images, train_labels), (test_images,
    test_labels))`` raw arrays."""
    from .simclr import encode, fit_probe

    (x_train, y_train), (x_test, y_test) = data
    f_train, f_test = encode(encoder, x_train), encode(encoder, x_test)
    per_draw = [fit_probe(f_train, y_train, f_test, y_test, few, seed=s).accuracy
                for s in range(draws)]
    return {"few_label_accuracy": sum(per_draw) / len(per_draw),
            "few_label_accuracies": per_draw, "labels_per_class": few,
            "all_label_accuracy": fit_probe(f_train, y_train, f_test, y_test, None,
                                            seed=0).accuracy}


def _train(options, out_dir, *, seed=None, resume=False, device=None, progress=True,
           log=print, **_):
    import tinygrad_cv as tg
    from tinygrad_cv import backend, nn
    from .simclr import build_simclr, default_config, digits_splits, encode, pca_2d, train_simclr
    from .simclr.plot import scatter_image, write_png
    from .training import write_json

    out_dir = os.fspath(out_dir)
    ckpt = os.path.join(out_dir, CHECKPOINT_NAME)
    config = default_config()
    if resume:
        check_resume(ckpt, "simclr", seed, log)
    if progress:
        log(f"training simclr (epochs {options.get('epochs', 'unlimited')}, minutes "
            f"{options.get('minutes', config['training']['minutes'])}) ...")
    with saved_run_errors(ckpt, resume):
        model, metrics = train_simclr(config, out_dir, epochs=options.get("epochs"),
                                      minutes=options.get("minutes"),
                                      seed=0 if seed is None else seed, resume=resume,
                                      progress=progress, device=device)
    if progress:
        log("linear probes (SimCLR encoder, raw pixels, random encoder) ...")
    data = digits_splits(device)
    tg.manual_seed(metrics["seed"])
    random_encoder = build_simclr(metrics["config"]).encoder.to(backend.normalize_device(device))
    metrics["probe"] = {"simclr": probe_report(model.encoder, data),
                        "raw_pixels": probe_report(nn.Flatten(), data),
                        "random_encoder": probe_report(random_encoder, data)}
    (_, _), (x_test, y_test) = data
    points = pca_2d(encode(model.encoder, x_test))
    metrics["pca_png"] = write_png(os.path.join(out_dir, PCA_NAME),
                                   scatter_image(points, y_test))
    write_json(metrics, os.path.join(out_dir, METRICS_NAME))
    p = metrics["probe"]
    for name in ("simclr", "raw_pixels", "random_encoder"):
        log(f"linear probe on {name.replace('_', ' ')}: {p[name]['few_label_accuracy']:.4f} "
            f"with {FEW_LABELS} labels per class (mean of {PROBE_DRAWS}), "
            f"{p[name]['all_label_accuracy']:.4f} with all labels")
    return metrics


def _load(state, path):
    from .simclr import load_simclr

    for key in ("model", "config"):
        if not isinstance(state.get(key), dict):
            raise ValueError(f"its {key!r} entry is missing or malformed")
    return load_simclr(state)


register(ModelEntry(
    name="simclr", kind="encoder",
    description="SimCLR: conv encoder + projection head, NT-Xent on two augmented views",
    options=_options(), train=_train, load=_load))
