"""The captioners in the model registry: ``caption-rnn``, ``caption-lstm`` and
``caption-transformer`` (``models.captioning``), trained on ``ShapesCaptions`` (5000 scenes of
32 x 32 pixels, data seed 0, fixed 80/10/10 split).

Training budget: ``epochs`` and ``minutes`` (whichever ends first).  The checkpoint holds
``{"model", "config"}``; ``config`` names the model, its architecture, the vocabulary, the data
set and the training settings, so ``load`` rebuilds it and ``caption`` can regenerate the
test split.

``caption(model, images=None, *, split=None, beam=1, max_length=None)`` -> ``{"hypotheses":
[str], "references": [[str]] or None, "images": float32 host array (N, 3, S, S)}``: captions of
``images`` (a list of (H, W, 3) arrays in [0, 1], resized to the model's S x S) or of a data
split (``train``, ``val``, ``test``) with its reference captions.
"""
from __future__ import annotations

import os

from .registry import (METRICS_NAME, ModelEntry, Option, OptionError, positive_float,
                       positive_int, register)

__all__ = ["CAPTION_MODELS", "caption"]

CAPTION_MODELS = ("caption-rnn", "caption-lstm", "caption-transformer")
DESCRIPTIONS = {
    "caption-rnn": "CNN encoder + vanilla RNN captioner on the shapes-caption scenes",
    "caption-lstm": "CNN encoder + LSTM captioner on the shapes-caption scenes",
    "caption-transformer": "CNN encoder + transformer-decoder captioner on the shapes-caption "
                           "scenes",
}


def _options(name):
    from .captioning.training import TRAINING_DEFAULTS

    d = TRAINING_DEFAULTS[name]
    return (
        Option("epochs", positive_int, d["epochs"],
               "number of epochs (passes over the training scenes); with --minutes, whichever "
               "budget ends first"),
        Option("minutes", positive_float, d["minutes"],
               "training-time budget in minutes (checked after every step)"),
        Option("batch_size", positive_int, d["batch_size"], "training images per step"),
        Option("lr", positive_float, d["lr"], "initial learning rate (Adam, cosine decay)"),
    )


def _train(name):
    def train(options, out_dir, *, seed=None, resume=False, device=None, progress=True,
              log=print, **_):
        from .captioning.training import default_config, train_captioner
        from .training import write_json

        if resume:
            raise OptionError(f"{name} does not resume: start a new run")
        config = default_config(name)
        config["training"].update(options)
        _, metrics = train_captioner(config, out_dir, seed=0 if seed is None else seed,
                                     progress=progress, log=log, device=device)
        write_json(metrics, os.path.join(os.fspath(out_dir), METRICS_NAME))
        if progress:
            log(f"{name}: test BLEU-4 {metrics['test_bleu4']:.4f}, exact match "
                f"{metrics['test_exact_match']:.3f} ({metrics['steps']} steps in "
                f"{metrics['train_seconds']:.0f}s)")
        return metrics
    return train


def _load(state, path):
    from .captioning.training import build_captioner

    config = state.get("config")
    if not isinstance(config, dict) or not isinstance(state.get("model"), dict):
        raise ValueError("its 'model' or 'config' entry is missing or malformed")
    model = build_captioner(config)
    model.load_state_dict(state["model"])
    model.config = config
    return model.eval()


def _resize(image, size):
    """An (H, W, 3) array in [0, 1] as a float32 (3, size, size) array (bilinear)."""
    import tinygrad_cv.nn.functional as F
    from tinygrad_cv import backend
    from tinygrad_cv.tensor import Tensor

    arr = backend.ensure_array(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"caption: expected an RGB image of shape (H, W, 3), got "
                         f"{tuple(arr.shape)}")
    x = Tensor.wrap(arr.astype("float32").transpose(2, 0, 1)[None].copy())
    if tuple(arr.shape[:2]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.array[0]


def caption(model, images=None, *, split=None, beam=1, max_length=None):
    """Captions of ``images`` or of data ``split`` (see the module docstring)."""
    from tinygrad_cv import backend

    from .captioning.training import MAX_LENGTH, load_data

    if (images is None) == (split is None):
        raise ValueError("caption: give either images or a split")
    max_length = MAX_LENGTH if max_length is None else max_length
    references = None
    if split is not None:
        part = load_data(model.config["data"]).split(split)
        batch, references = part.images.array, part.references
    else:
        size = model.encoder.image_size
        resized = [_resize(im, size) for im in images]
        batch = backend.get_array_module(resized[0]).stack(resized)
    hyps = model.caption(batch, max_length=max_length, beam=beam)
    return {"hypotheses": hyps, "references": references,
            "images": backend.to_numpy(batch).astype("float32")}


for _name in CAPTION_MODELS:
    register(ModelEntry(name=_name, kind="captioner", description=DESCRIPTIONS[_name],
                        options=_options(_name), train=_train(_name), load=_load,
                        resumable=False, caption=caption))
