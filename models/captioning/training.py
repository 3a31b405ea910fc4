"""Training and evaluating the captioners on ``ShapesCaptions`` (used by the registry entries
``caption-rnn``, ``caption-lstm``, ``caption-transformer``).

Training: Adam, teacher forcing on one reference caption per image drawn afresh each epoch,
plus ``attribute_weight`` times the encoder's scene-attribute cross-entropy (what stands in
each third of the image, ``ShapesCaptions.attributes``), gradient-norm clipping, a cosine
learning-rate decay over the epochs; after each epoch the validation BLEU-4 (greedy) is
measured and the best epoch's weights are kept.  The budget is ``epochs`` and ``minutes``
(whichever ends first; minutes count from the start, data generation included, and are
checked after every step, so the last epoch may be cut short; the final validation and test
decoding come on top, a few seconds).  Everything is deterministic for a seed on the CPU
(up to where a time budget cuts the run).

Checkpoint: ``{"model": state_dict, "config": {"model": name, "model_config", "data",
"training", "seed"}}``; ``build_captioner(config)`` rebuilds the model from ``config``.
"""
from __future__ import annotations

import math
import os
import time

import tinygrad_cv as tg
from tinygrad_cv import backend, optim
from tinygrad_cv.nn.utils import clip_grad_norm_
from tinygrad_cv.tensor import Tensor

from ..bleu import bleu, exact_match
from .encoder import CNNEncoder, ImageCaptioner
from .rnn import CaptioningRNN
from .transformer import CaptioningTransformer

__all__ = ["DATA_DEFAULTS", "MODEL_DEFAULTS", "TRAINING_DEFAULTS", "default_config",
           "build_captioner", "load_data", "evaluate_bleu", "train_captioner", "epoch_batches",
           "lr_scale"]

DATA_DEFAULTS = {"dataset": "shapes-captions", "n": 5000, "image_size": 32, "seed": 0}
_ATTRIBUTES = {"attribute_slots": 3, "attribute_classes": 25}   # ShapesCaptions.attributes
MODEL_DEFAULTS = {
    "caption-rnn": {"decoder": "rnn", "channels": [32, 64, 64], "feature_dim": 128,
                    "wordvec_dim": 64, "hidden_dim": 128, **_ATTRIBUTES},
    "caption-lstm": {"decoder": "lstm", "channels": [32, 64, 64], "feature_dim": 128,
                     "wordvec_dim": 64, "hidden_dim": 128, **_ATTRIBUTES},
    "caption-transformer": {"decoder": "transformer", "channels": [32, 64, 64],
                            "feature_dim": 64, "dim": 64, "heads": 4, "layers": 2,
                            "dropout": 0.1, **_ATTRIBUTES},
}
TRAINING_DEFAULTS = {
    "caption-rnn": {"epochs": 80, "minutes": 10.0, "batch_size": 64, "lr": 3e-3,
                    "clip": 5.0, "attribute_weight": 1.0},
    "caption-lstm": {"epochs": 40, "minutes": 10.0, "batch_size": 64, "lr": 3e-3,
                     "clip": 5.0, "attribute_weight": 1.0},
    "caption-transformer": {"epochs": 40, "minutes": 10.0, "batch_size": 64, "lr": 1e-3,
                            "clip": 5.0, "attribute_weight": 1.0},
}
MAX_LENGTH = 24          # decoding budget (the longest caption has 18 words + <END>)


def default_config(name):
    return {"model": name, "model_config": dict(MODEL_DEFAULTS[name]),
            "data": dict(DATA_DEFAULTS), "training": dict(TRAINING_DEFAULTS[name])}


def load_data(data_config, device=None):
    """The ``ShapesCaptions`` scenes a configuration names (all splits)."""
    from tinygrad_cv.data import ShapesCaptions

    if data_config.get("dataset") != "shapes-captions":
        raise ValueError(f"unknown captioning data set {data_config.get('dataset')!r}")
    return ShapesCaptions(int(data_config["n"]), int(data_config["image_size"]),
                          int(data_config["seed"]), device=device)


def build_captioner(config):
    """The ``ImageCaptioner`` of a configuration (``model_config``, ``vocab``, ``data``)."""
    m = config["model_config"]
    kind = m["decoder"]
    tokens = kind == "transformer"
    encoder = CNNEncoder(3, int(config["data"]["image_size"]), tuple(m["channels"]),
                         int(m["feature_dim"]), tokens=tokens,
                         attribute_slots=int(m.get("attribute_slots", 0)),
                         attribute_classes=int(m.get("attribute_classes", 0)))
    vocab = list(config["vocab"])
    if tokens:
        decoder = CaptioningTransformer(vocab, int(m["feature_dim"]), int(m["dim"]),
                                        int(m["heads"]), int(m["layers"]),
                                        dropout=float(m["dropout"]), max_length=MAX_LENGTH + 8)
    elif kind in ("rnn", "lstm"):
        decoder = CaptioningRNN(vocab, int(m["feature_dim"]), int(m["wordvec_dim"]),
                                int(m["hidden_dim"]), cell=kind)
    else:
        raise ValueError(f"unknown caption decoder {kind!r}")
    return ImageCaptioner(encoder, decoder)


def evaluate_bleu(model, split, beam=1, max_length=MAX_LENGTH):
    """``{"bleu4", "exact_match", "hypotheses"}`` of ``model`` on a ``ShapesCaptions`` split."""
    was_training = model.training
    model.eval()
    try:
        hyps = model.caption(split.images, max_length=max_length, beam=beam)
    finally:
        model.train(was_training)
    return {"bleu4": bleu(split.references, hyps), "exact_match":
            exact_match(split.references, hyps), "hypotheses": hyps}


def epoch_batches(rng, n, refs, batch):
    """One epoch's ``(indices, reference choice)`` batches: a permutation of the ``n``
    training images and, per image, one of its ``refs`` captions (host RNG ``rng``)."""
    order = rng.permutation(n)
    choice = rng.integers(0, refs, n)
    for start in range(0, n, batch):
        idx = order[start:start + batch]
        yield idx, choice[idx]


def lr_scale(epoch, epochs):
    """The cosine decay factor of ``epoch`` (of ``epochs``; constant 1 without), at least
    0.05."""
    return max(0.5 * (1 + math.cos(math.pi * epoch / epochs)), 0.05) if epochs else 1.0


def _copy_state(model):
    return {k: Tensor.wrap(v.array.copy()) for k, v in model.state_dict().items()}


def train_captioner(config, out_dir=None, *, seed=0, progress=True, log=print, device=None):
    """Train the captioner of ``config`` (``default_config(name)`` with changes); writes
    ``out_dir/checkpoint.safetensors`` after every epoch when ``out_dir`` is given.
    Returns ``(model in eval mode, metrics dict)``."""
    from models.registry import CHECKPOINT_NAME

    t0 = time.perf_counter()
    train_cfg = config["training"]
    data = load_data(config["data"], device=device)
    config = dict(config, vocab=list(data.vocab.idx_to_word), seed=int(seed))
    train, val = data.split("train"), data.split("val")
    tg.manual_seed(seed)
    model = build_captioner(config)
    if device is not None:
        model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=float(train_cfg["lr"]))
    epochs, minutes = train_cfg.get("epochs"), train_cfg.get("minutes")
    host = backend.module_for_device("cpu")
    rng = host.random.default_rng(seed)
    n, refs = len(train), train.captions.shape[1]
    batch = int(train_cfg["batch_size"])
    deadline = t0 + 60.0 * float(minutes) if minutes else None
    history, best, best_state, steps, out_of_time = [], None, None, 0, False
    step_seconds = 0.0
    epoch = 0
    images, captions = train.images.array, train.captions.array
    attributes = train.attributes.array
    aux_weight = float(train_cfg.get("attribute_weight", 0.0))
    while not out_of_time and (epochs is None or epoch < epochs):
        for group in optimizer.param_groups:     # cosine decay over the planned epochs
            group["lr"] = float(train_cfg["lr"]) * lr_scale(epoch, epochs)
        start, total = time.perf_counter(), 0.0
        model.train()
        for b, (idx, choice) in enumerate(epoch_batches(rng, n, refs, batch)):
            step_start = time.perf_counter()
            dev_idx = backend.to_device(idx, backend.device_of(images))
            x = Tensor.wrap(images[dev_idx])
            c = captions[dev_idx, backend.to_device(choice, backend.device_of(images))]
            loss = model.loss(x, c, attributes[dev_idx] if aux_weight else None, aux_weight)
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), float(train_cfg["clip"]))
            optimizer.step()
            total += float(loss.item())
            steps += 1
            step_seconds += time.perf_counter() - step_start
            if deadline is not None and time.perf_counter() > deadline:
                out_of_time = True
                break
        epoch += 1
        val_scores = evaluate_bleu(model, val)
        record = {"epoch": epoch, "steps": steps, "lr": optimizer.param_groups[0]["lr"],
                  "loss": total / (b + 1), "val_bleu4": val_scores["bleu4"],
                  "val_exact_match": val_scores["exact_match"],
                  "seconds": time.perf_counter() - start}
        history.append(record)
        if best is None or record["val_bleu4"] > best[0]:
            best, best_state = (record["val_bleu4"], epoch), _copy_state(model)
        if progress:
            log(f"epoch {epoch:3d}  loss {record['loss']:.4f}  val BLEU-4 "
                f"{record['val_bleu4']:.4f}  exact {record['val_exact_match']:.3f}  "
                f"({record['seconds']:.1f}s)")
        if out_dir is not None:
            tg.save({"model": model.state_dict(), "config": config},
                    os.path.join(os.fspath(out_dir), CHECKPOINT_NAME))
    model.load_state_dict(best_state)
    model.eval()
    if out_dir is not None:
        tg.save({"model": model.state_dict(), "config": config},
                os.path.join(os.fspath(out_dir), CHECKPOINT_NAME))
    train_seconds = time.perf_counter() - t0
    test = evaluate_bleu(model, data.split("test"))
    metrics = {"model": config["model"], "test_bleu4": test["bleu4"],
               "test_exact_match": test["exact_match"], "best_epoch": best[1],
               "val_bleu4": best[0], "epochs": epoch, "steps": steps,
               "train_seconds": train_seconds, "seconds_per_step": step_seconds / max(steps, 1),
               "stopped_by_minutes": out_of_time,
               "final_loss": history[-1]["loss"], "history": history, "seed": int(seed)}
    return model, metrics
