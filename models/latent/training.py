"""Training the autoencoders and latent diffusion on the digits, and their checkpoints.

    ae, metrics = train_autoencoder("kl", "runs/vae")             # AutoencoderKL, ~400 steps
    metrics = train_ldm("runs/ldm", autoencoder="runs/vae/checkpoint.safetensors")
    ldm = load_ldm("runs/ldm/checkpoint.safetensors")
    images = ldm.sample(np.arange(400) % 10, guidance_scale=3.0, steps=50)

Data: ``tinygrad_cv.data.load_digits`` (train 1078, test 360 images, (N, 1, 8, 8)) mapped to
[-1, 1].  Before optimizer step k every random source is re-seeded with
``models.step_budget.step_seed(seed, k)``; batches are drawn with replacement from a
generator seeded with ``seed``.

Autoencoder (``train_autoencoder``): Adam, ``steps`` steps and/or ``minutes``; the VQ model
restarts its dead codes every ``restart_every`` steps (not in the last 20% of the run, so the
restarted codes settle).  After training the scale factor ``1 / std`` of the latents of the
training images is stored in the autoencoder's config; the test split's reconstruction PSNR
(images in [0, 1]: ``10 log10(1 / MSE)``) and, for VQ, the codebook usage on the test split
are reported.  Checkpoint: ``{"model": state dict, "config": {"model": "vae"|"vqvae",
"autoencoder": {...}, "training": {...}}, "trainer": {...}}``.

Latent diffusion (``train_ldm``): the autoencoder from a checkpoint or trained first (its
time counts in the budget); the latents of the training images are computed once (the KL
model's posterior is sampled at each step: ``mean + std * eps``); AdamW with linear warm-up,
gradient clipping, an EMA of the UNet and condition tokens (what is saved and sampled).
Checkpoint: ``{"model": LatentDiffusion state dict (EMA weights, autoencoder included),
"config": {"model": "ldm", "autoencoder": {"kind", "config"}, "unet", "schedule",
"conditioning", "training"}, "trainer": {...}}``.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time

import tinygrad_cv as tg
from tinygrad_cv import backend, optim
from tinygrad_cv.nn.utils import clip_grad_norm_
from tinygrad_cv.tensor import Tensor

from models.diffusion.schedule import NoiseSchedule
from models.step_budget import StepBudget, resolve_budget, step_seed
from models.diffusion.unet import UNet

from .autoencoder_kl import AutoencoderKL
from .conditioning import NUM_CLASSES, ClassTokens
from .ldm import LatentDiffusion
from .vq import VQAutoencoder

__all__ = ["AUTOENCODER_KINDS", "CHECKPOINT_NAME", "METRICS_NAME", "RECONSTRUCTION_NAME",
           "default_autoencoder_config", "default_autoencoder_training", "default_ldm_config",
           "build_autoencoder", "train_autoencoder", "load_autoencoder", "psnr",
           "evaluate_autoencoder", "build_ldm", "train_ldm", "load_ldm", "cycling_classes"]

AUTOENCODER_KINDS = {"kl": ("vae", AutoencoderKL), "vq": ("vqvae", VQAutoencoder)}
MODEL_KINDS = {name: kind for kind, (name, _) in AUTOENCODER_KINDS.items()}
CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"
RECONSTRUCTION_NAME = "reconstruction.png"


def default_autoencoder_config(kind):
    """The autoencoder of the digits: 8x8 -> 4x4 latents with 4 channels (16 base channels,
    one ResBlock per level: 60k parameters)."""
    common = {"in_channels": 1, "base_channels": 16, "channel_mult": [1, 2],
              "num_res_blocks": 1, "groups": 8, "image_size": 8, "recon_loss": "l2"}
    if kind == "kl":
        return {**common, "latent_channels": 4, "kl_weight": 1e-6}
    if kind == "vq":
        return {**common, "code_dim": 4, "num_codes": 64, "beta": 0.25}
    raise ValueError(f"unknown autoencoder kind {kind!r}; expected one of "
                     f"{', '.join(AUTOENCODER_KINDS)}")


def default_autoencoder_training():
    """400 Adam steps of 64 images (about 28 dB test PSNR for the KL model), 6 minutes at
    most."""
    return {"lr": 3e-3, "batch_size": 64, "steps": 400, "minutes": 6.0, "restart_every": 50}


def default_ldm_config():
    """Latent UNet: 24 channels at 4x4 and 2x2 (164k parameters), one spatial transformer,
    in the middle (at 2x2), condition tokens of width 32; cosine schedule of 1000 steps; 10%
    condition dropout; AdamW 1e-3 with 100 warm-up steps, batches of 128, EMA 0.999; 2000
    steps or 13 minutes in all (autoencoder included), whichever ends first.  With the
    condition entering only in the middle, guided sampling shares the whole down path of the
    two conditions (``guided_unet``): a guided DDIM step is about 4-5x cheaper than the pixel
    DDPM's step; with transformers also at the 2x2 down and up blocks (198k parameters) the
    samples were no better (w = 3: worst class 98.0% against 97.75%, cFID 4.57 against
    4.06) and the guided step about 15% dearer."""
    return {
        "autoencoder_kind": "kl",
        "unet": {"base_channels": 24, "channel_mult": [1, 1], "num_res_blocks": 1,
                 "attention_resolutions": [], "dropout": 0.0, "groups": 8, "num_heads": 1,
                 "context_dim": 32, "use_spatial_transformer": True},
        "schedule": {"kind": "cosine", "timesteps": 1000},
        "conditioning": {"prefix_tokens": 1, "cond_drop": 0.1},
        "training": {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 128, "warmup_steps": 100,
                     "ema_decay": 0.999, "grad_clip": 1.0, "steps": 2000, "minutes": 13.0,
                     "log_every": 50, "previews": 3, "preview_steps": 20},
    }


# ---- helpers ----------------------------------------------------------------------------------
def _digits(split, device):
    from tinygrad_cv.data import load_digits

    images, labels = load_digits(split, device=device)
    return images.array * 2.0 - 1.0, labels.array


def _write_json(obj, path):
    from tinygrad_cv.io import atomic_write

    atomic_write(path, [(json.dumps(obj, indent=2) + "\n").encode("utf-8")])


def _batches(n, batch_size, seed):
    rng = backend.module_for_device("cpu").random.default_rng([int(seed), 7])
    while True:
        yield rng.integers(0, n, batch_size)


def cycling_classes(num):
    """Labels 0, 1, ..., 9, 0, 1, ... (num of them) as an int64 host array."""
    return backend.module_for_device("cpu").arange(int(num), dtype="int64") % NUM_CLASSES


def psnr(images, reference):
    """10 log10(1 / MSE) of two image arrays in [0, 1] (the MSE over all pixels)."""
    xp = backend.get_array_module(images)
    mse = float(xp.mean((images.astype("float64") - reference.astype("float64")) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def _in_chunks(fn, data, chunk=512):
    xp = backend.get_array_module(data)
    with tg.no_grad():
        parts = [fn(Tensor.wrap(data[i:i + chunk])).array for i in range(0, data.shape[0], chunk)]
    return xp.concatenate(parts)


def evaluate_autoencoder(ae, split="test", device=None):
    """``{"psnr": dB, "codebook_usage": fraction (VQ only)}`` on a digits split, plus the
    (images, reconstructions) in [0, 1]."""
    images, _ = _digits(split, backend.normalize_device(device) if device else
                        _model_device(ae))
    was = ae.training
    ae.eval()
    try:
        recon = _in_chunks(ae.reconstruct, images)
        out = {"psnr": psnr((recon + 1.0) * 0.5, (images + 1.0) * 0.5)}
        if isinstance(ae, VQAutoencoder):
            codes = _in_chunks(lambda x: ae.quantizer.nearest(ae.encode_latent(x)), images)
            out["codebook_usage"] = ae.usage(Tensor.wrap(codes))
    finally:
        ae.train(was)
    return out, ((images + 1.0) * 0.5, (recon + 1.0) * 0.5)


def _model_device(model):
    for p in model.parameters():
        return p.device
    return "cpu"


def reconstruction_grid(images, recon, count=40):
    """Float32 host images: rows of 10 originals, each followed by its row of
    reconstructions ((2 * count) images, count a multiple of 10)."""
    xp = backend.get_array_module(images)
    rows = []
    for start in range(0, count, 10):
        rows += [images[start:start + 10], recon[start:start + 10]]
    return backend.to_numpy(xp.concatenate(rows)).astype("float32")


# ---- autoencoders ---------------------------------------------------------------------------
def build_autoencoder(kind, config=None):
    """A fresh autoencoder of ``kind`` ('kl' or 'vq') from ``config`` over the defaults."""
    merged = default_autoencoder_config(kind)
    merged.update(copy.deepcopy(config or {}))
    return AUTOENCODER_KINDS[kind][1](**merged)


def load_autoencoder(path_or_state, device=None):
    """The autoencoder (kind from the checkpoint) of a vae/vqvae checkpoint, in eval mode."""
    state = path_or_state if isinstance(path_or_state, dict) else \
        tg.load(os.fspath(path_or_state), device=backend.normalize_device(device))
    config = state.get("config") if isinstance(state, dict) else None
    name = config.get("model") if isinstance(config, dict) else None
    if name not in MODEL_KINDS:
        raise ValueError(f"not an autoencoder checkpoint (its model is {name!r}, expected one "
                         f"of {', '.join(MODEL_KINDS)})")
    if not isinstance(config.get("autoencoder"), dict) or not isinstance(state.get("model"),
                                                                         dict):
        raise ValueError("its 'autoencoder' config or 'model' weights are missing")
    ae = build_autoencoder(MODEL_KINDS[name], config["autoencoder"])
    if device is not None:
        ae.to(device)
    ae.load_state_dict(state["model"])
    return ae.eval()


def _scale_factor(ae, data):
    latents = _in_chunks(ae.encode_latent, data)
    xp = backend.get_array_module(latents)
    return 1.0 / float(xp.std(latents.astype("float64")))


def train_autoencoder(kind, out_dir=None, *, steps=None, minutes=None, seed=0, device=None,
                      config=None, training=None, log=None, on_samples=None):
    """Train an autoencoder of ``kind`` ('kl' or 'vq') on the digits; returns (autoencoder in
    eval mode, metrics).  With ``out_dir``: writes the checkpoint, ``metrics.json`` and
    ``reconstruction.png`` (rows of test digits and their reconstructions) there."""
    device = backend.normalize_device(device)
    t = default_autoencoder_training()
    t.update(training or {})
    steps, minutes = resolve_budget(t, steps, minutes, "train_autoencoder", unit="steps")
    t["steps"], t["minutes"] = steps, minutes
    tg.manual_seed(int(seed))
    ae = build_autoencoder(kind, config)
    ae.to(device)
    data, _ = _digits("train", device)
    opt = optim.Adam(ae.parameters(), lr=float(t["lr"]))
    restart_rng = backend.module_for_device("cpu").random.default_rng([int(seed), 11])
    batches = _batches(data.shape[0], int(t["batch_size"]), seed)
    budget = StepBudget(steps, None if minutes is None else 60.0 * minutes)
    history, step, seconds, restarts = [], 0, 0.0, 0
    parts_sum, count, loss_sum = {}, 0, 0.0
    start = time.perf_counter()
    while step == 0 or not budget.finished(step, seconds):      # at least one step
        tg.manual_seed(step_seed(seed, step))
        x = Tensor.wrap(data[backend.to_device(next(batches), device)])
        if kind == "vq":
            loss, parts, z_e = ae.loss(x)
        else:
            loss, parts = ae.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if kind == "vq" and step % int(t["restart_every"]) == 0 and \
                (steps is None or step <= 0.8 * steps):
            restarts += ae.quantizer.restart_dead_codes(z_e.detach(), restart_rng)
        for k, v in parts.items():
            parts_sum[k] = parts_sum.get(k, 0.0) + v
        loss_sum += float(loss.item())
        count += 1
        seconds = time.perf_counter() - start
        if step % 50 == 0 or (steps is not None and step == steps):
            record = {"epoch": step, "step": step, "loss": loss_sum / count,
                      **{k: v / count for k, v in parts_sum.items()}, "seconds": seconds}
            history.append(record)
            parts_sum, count, loss_sum = {}, 0, 0.0
            if log:
                log(f"{AUTOENCODER_KINDS[kind][0]} step {step}: " + ", ".join(
                    f"{k} {v:.4g}" for k, v in record.items() if k not in ("epoch", "step")))
    ae.eval()
    ae.scale_factor = _scale_factor(ae, data)
    scores, (images, recon) = evaluate_autoencoder(ae, "test", device)
    name = AUTOENCODER_KINDS[kind][0]
    metrics = {"model": name, "steps": step, "train_seconds": seconds,
               "final_loss": history[-1]["loss"] if history else None,
               "num_parameters": sum(p.numel() for p in ae.parameters()),
               "scale_factor": ae.scale_factor, "test_psnr": scores["psnr"],
               "seed": int(seed), "device": device, "history": history,
               "config": {"autoencoder": ae.config, "training": t}}
    if kind == "vq":
        metrics["codebook_usage"] = scores["codebook_usage"]
        metrics["code_restarts"] = restarts
    if log:
        log(f"{name}: test PSNR {scores['psnr']:.2f} dB"
            + (f", codebook usage {scores['codebook_usage']:.0%} of {ae.quantizer.num_codes}"
               if kind == "vq" else "") + f", latent scale factor {ae.scale_factor:.4f}")
    if out_dir is not None:
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        state = {"model": ae.state_dict(),
                 "config": {"model": name, "autoencoder": ae.config, "training": t},
                 "trainer": {"step": step, "seed": int(seed), "train_seconds": seconds}}
        tg.save(state, os.path.join(out_dir, CHECKPOINT_NAME), metadata={"model": name})
        _write_json(metrics, os.path.join(out_dir, METRICS_NAME))
        _save_reconstruction_grid(reconstruction_grid(images, recon),
                                  os.path.join(out_dir, RECONSTRUCTION_NAME))
    if on_samples is not None:
        on_samples(step, reconstruction_grid(images, recon, 20))
    return ae, metrics


def _save_reconstruction_grid(grid_images, path):
    from tinygrad_cv.cli.common import save_image, to_pil
    from tinygrad_cv.imagegrid import make_grid

    grid = make_grid(grid_images, nrow=10, padding=1)
    img = to_pil(grid[:, :, 0] if grid.shape[2] == 1 else grid, rgb=grid.shape[2] == 3)
    img = img.resize((img.size[0] * 4, img.size[1] * 4), resample=0)
    return save_image(img, path)


# ---- latent diffusion -------------------------------------------------------------------------
def _merged_ldm(config):
    out = default_ldm_config()
    for key, value in (config or {}).items():
        if key not in out:
            raise ValueError(f"ldm config: unknown section {key!r}; expected {sorted(out)}")
        if isinstance(out[key], dict):
            out[key].update(copy.deepcopy(value))
        else:
            out[key] = value
    return out


def build_ldm(autoencoder, config=None):
    """A LatentDiffusion with fresh UNet and condition tokens on ``autoencoder``."""
    config = _merged_ldm(config)
    c, h, _ = autoencoder.latent_shape
    unet = UNet(in_channels=c, image_size=h, **config["unet"])
    schedule = NoiseSchedule(**config["schedule"])
    cond = config["conditioning"]
    tokens = ClassTokens(config["unet"]["context_dim"], cond["prefix_tokens"])
    return LatentDiffusion(autoencoder, unet, schedule, tokens, cond_drop=cond["cond_drop"])


def load_ldm(path_or_state, device=None):
    """The LatentDiffusion of a checkpoint written by ``train_ldm`` (EMA weights), eval mode."""
    state = path_or_state if isinstance(path_or_state, dict) else \
        tg.load(os.fspath(path_or_state), device=backend.normalize_device(device))
    config = state.get("config") if isinstance(state, dict) else None
    if not isinstance(config, dict) or config.get("model") != "ldm":
        raise ValueError("not an ldm checkpoint (its config does not name model 'ldm')")
    ae_info = config.get("autoencoder")
    if not isinstance(ae_info, dict) or ae_info.get("kind") not in AUTOENCODER_KINDS:
        raise ValueError("its autoencoder description is missing or names an unknown kind")
    ae = build_autoencoder(ae_info["kind"], ae_info.get("config"))
    ldm = build_ldm(ae, {k: v for k, v in config.items() if k not in ("model", "autoencoder")})
    if device is not None:
        ldm.to(device)
    ldm.load_state_dict(state["model"])
    return ldm.eval()


def _ldm_autoencoder(autoencoder, kind, minutes, seed, device, log, out_dir):
    """(autoencoder, its metrics, seconds spent) from a checkpoint path or trained here."""
    if autoencoder is not None:
        from models.registry import read_checkpoint

        entry, state = read_checkpoint(autoencoder, device=device)
        if entry.name not in MODEL_KINDS:
            raise ValueError(f"--autoencoder {autoencoder!r} holds a {entry.name} model, not an "
                             f"autoencoder ({', '.join(MODEL_KINDS)})")
        ae = load_autoencoder(state)
        ae.to(device)
        return ae, {"checkpoint": os.path.abspath(os.fspath(autoencoder))}, 0.0
    start = time.perf_counter()
    ae_minutes = None if minutes is None else 0.4 * minutes
    if log:
        log(f"training the {AUTOENCODER_KINDS[kind][0]} autoencoder first "
            f"({default_autoencoder_training()['steps']} steps"
            + (f", {ae_minutes:.1f} minutes at most)" if ae_minutes else ")"))
    ae, metrics = train_autoencoder(kind, os.path.join(out_dir, "autoencoder"),
                                    minutes=ae_minutes, seed=seed, device=device, log=log)
    metrics.pop("history", None)
    return ae, metrics, time.perf_counter() - start


def train_ldm(out_dir, *, autoencoder=None, config=None, steps=None, minutes=None, seed=0,
              device=None, log=None, on_samples=None):
    """Train latent diffusion on the digits; returns the metrics (also in
    ``OUT/metrics.json``).  ``autoencoder``: a vae/vqvae checkpoint path, or None to train
    one (``config["autoencoder_kind"]``) first into ``OUT/autoencoder``, within the budget.
    ``steps``/``minutes`` (defaults: the config's) bound the whole run, whichever ends first.
    ``on_samples(step, images)`` receives guided previews (classes 0-9 cycling)."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    device = backend.normalize_device(device)
    config = _merged_ldm(config)
    t = config["training"]
    steps, minutes = resolve_budget(t, steps, minutes, "train_ldm", unit="steps")
    t["steps"], t["minutes"] = steps, minutes
    kind = config["autoencoder_kind"]
    if kind not in AUTOENCODER_KINDS:
        raise ValueError(f"ldm config: autoencoder_kind must be one of "
                         f"{', '.join(AUTOENCODER_KINDS)}, got {kind!r}")
    ae, ae_metrics, ae_seconds = _ldm_autoencoder(autoencoder, kind, minutes, seed, device,
                                                  log, out_dir)
    kind = ae.kind
    config["autoencoder_kind"] = kind
    tg.manual_seed(int(seed))
    ldm = build_ldm(ae, config)
    ldm.to(device)
    data, labels = _digits("train", device)
    ae.eval()
    with tg.no_grad():
        if kind == "kl":
            mean = _in_chunks(lambda x: ae.encode(x).mean, data)
            std = _in_chunks(lambda x: ae.encode(x).std, data)
        else:
            mean, std = _in_chunks(ae.encode_latent, data), None
    scale = ae.scale_factor
    params = ldm.trainable_parameters()
    opt = optim.AdamW(params, lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    warmup = int(t["warmup_steps"])
    sched = (optim.lr_scheduler.LinearWarmup(opt, warmup, start_factor=1.0 / warmup)
             if warmup > 0 else None)
    emas = [optim.EMA(ldm.unet, decay=float(t["ema_decay"])),
            optim.EMA(ldm.conditioner, decay=float(t["ema_decay"]))]
    batches = _batches(data.shape[0], int(t["batch_size"]), seed)
    budget = StepBudget(steps, None if minutes is None else 60.0 * minutes - ae_seconds)
    previews, preview_at = int(t["previews"]), []
    history, step, seconds, losses = [], 0, 0.0, []

    def preview():
        for ema in emas:
            ema.store()
            ema.apply_to()
        try:
            x = ldm.sample(cycling_classes(20), guidance_scale=3.0,
                           steps=int(t["preview_steps"]), seed=0, progress=False)
        finally:
            for ema in emas:
                ema.restore()
        return backend.to_numpy((x.array + 1.0) * 0.5).astype("float32")

    start = time.perf_counter()
    ldm.train()
    ae.eval()
    while step == 0 or not budget.finished(step, seconds):      # at least one step
        tg.manual_seed(step_seed(seed, step))
        idx = backend.to_device(next(batches), device)
        z0 = mean[idx]
        if std is not None:
            z0 = z0 + std[idx] * tg.randn(*z0.shape, dtype=z0.dtype, device=device).array
        loss = ldm.loss_latent(Tensor.wrap((z0 * scale).astype("float32")), labels[idx])
        opt.zero_grad()
        loss.backward()
        clip = t["grad_clip"]
        clip_grad_norm_(params, float(clip) if clip else math.inf)
        opt.step()
        if sched is not None:
            sched.step()
        for ema in emas:
            n = ema.num_updates
            ema.decay = min(float(t["ema_decay"]), (1.0 + n) / (10.0 + n))
            ema.update()
        step += 1
        losses.append(float(loss.item()))
        seconds = time.perf_counter() - start
        done = budget.finished(step, seconds)
        if step % int(t["log_every"]) == 0 or done:
            history.append({"epoch": step, "step": step, "loss": sum(losses) / len(losses),
                            "lr": float(opt.param_groups[0]["lr"]), "seconds": seconds})
            losses = []
            if log:
                log(f"ldm step {step}: loss {history[-1]['loss']:.4f} ({seconds:.0f}s)")
        if on_samples is not None and previews and (done or len(preview_at) < math.floor(
                budget.fraction(step, seconds) * previews)):
            tick = time.perf_counter()
            on_samples(step, preview())
            preview_at.append(step)
            start += time.perf_counter() - tick if not done else 0.0
    for ema in emas:
        ema.apply_to()
    ldm.eval()
    name = "ldm"
    state = {"model": ldm.state_dict(),
             "config": {"model": name, "autoencoder": {"kind": kind, "config": ae.config},
                        **{k: v for k, v in config.items() if k != "autoencoder_kind"}},
             "trainer": {"step": step, "seed": int(seed), "train_seconds": seconds}}
    tg.save(state, os.path.join(out_dir, CHECKPOINT_NAME), metadata={"model": name})
    metrics = {"model": name, "steps": step, "train_seconds": seconds,
               "autoencoder_seconds": ae_seconds, "total_seconds": seconds + ae_seconds,
               "final_loss": history[-1]["loss"] if history else None,
               "num_parameters": sum(p.numel() for p in params), "seed": int(seed),
               "device": device, "autoencoder": ae_metrics, "history": history,
               "config": state["config"]}
    _write_json(metrics, os.path.join(out_dir, METRICS_NAME))
    return metrics
