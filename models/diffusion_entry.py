"""The DDPM on the digits in the model registry: training options, loading and sampling
(``models.diffusion``: ``train_diffusion``, ``load_ddpm``, ``DDPM.sample``, ``DDIMSampler``).

Training budget: ``epochs`` and/or ``minutes`` (whichever ends first; both are totals over
resumes, so ``--resume --epochs N`` or ``--minutes M`` with larger values continues a finished
run).  Sampling: ``ddpm`` (ancestral, all T steps) or ``ddim`` (``steps`` of the T, ``eta``,
``spacing``); samples are mapped from [-1, 1] to [0, 1].
"""
from __future__ import annotations

import os
import sys

from .registry import (CHECKPOINT_NAME, ModelEntry, Option, OptionError, check_resume,
                       nonnegative_float, positive_float, positive_int, register,
                       saved_run_errors)

__all__ = ["SAMPLERS", "DDIM_SPACINGS", "DEFAULT_DDIM_STEPS"]

SAMPLERS = ("ddim", "ddpm")
DDIM_SPACINGS = ("leading", "trailing", "linspace", "quad")
DEFAULT_DDIM_STEPS = 50


def _default_training():
    from .diffusion.training import default_config

    return default_config()["training"]


_TRAINING = _default_training()

TRAIN_OPTIONS = (
    Option("epochs", positive_int, _TRAINING["epochs"],
           "number of epochs (passes over the training digits); with --minutes, whichever "
           "budget ends first; totals over --resume", default_help="no limit, --minutes decides"),
    Option("minutes", positive_float, _TRAINING["minutes"],
           "training-time budget in minutes (checked at the end of each epoch); a total over "
           "--resume"),
)

SAMPLE_OPTIONS = (
    Option("sampler", str, "ddim", "reverse process: ddpm (ancestral, all T steps) or ddim",
           choices=SAMPLERS),
    Option("steps", positive_int, None,
           "denoising steps, at most the model's T timesteps (ddpm always runs all T)",
           default_help=f"ddim {DEFAULT_DDIM_STEPS}, ddpm T"),
    Option("eta", nonnegative_float, None,
           "DDIM noise scale: 0 deterministic, 1 the posterior's variance (ddim only)",
           default_help="0"),
    Option("spacing", str, None, "how DDIM picks its timesteps (ddim only)",
           choices=DDIM_SPACINGS, default_help="leading"),
)


def _train(options, out_dir, *, seed=None, resume=False, device=None, progress=True,
           on_samples=None, log=print, **_):
    from .diffusion.training import default_config, train_diffusion

    ckpt = os.path.join(os.fspath(out_dir), CHECKPOINT_NAME)
    config = default_config()
    if resume:
        check_resume(ckpt, "ddpm", seed, log)
        config = {}
    isatty = getattr(sys.stderr, "isatty", None)
    bars = progress and bool(isatty and isatty())  # no carriage-return bar in logs and pipes
    if progress and not bars:
        log(f"training ddpm (epochs {options.get('epochs', 'unlimited')}, minutes "
            f"{options.get('minutes', 'default')}) ...")
    with saved_run_errors(ckpt, resume):
        return train_diffusion(config, out_dir, epochs=options.get("epochs"),
                               minutes=options.get("minutes"), seed=0 if seed is None else seed,
                               resume=resume, progress=bars, device=device,
                               on_samples=on_samples)


def _load(state, path):
    from .diffusion.training import load_ddpm

    for key in ("model", "config"):
        if not isinstance(state.get(key), dict):
            raise ValueError(f"its {key!r} entry is missing or malformed")
    return load_ddpm(state, use_ema=True).eval()


def _sample(model, options, *, num, seed=0, batch_size=None, progress=True):
    """``num`` samples of the DDPM ``model`` as a float32 host array (N, C, H, W) in [0, 1]."""
    from tinygrad_cv import backend
    from .diffusion import DDIMSampler

    timesteps = int(model.schedule.timesteps)
    sampler = options.get("sampler") or "ddim"
    steps = options.get("steps")
    if steps is not None and steps > timesteps:
        raise OptionError(f"--steps {steps} is more than the model's {timesteps} diffusion "
                          "timesteps")
    config = model.model.config
    shape = (int(num), int(config["in_channels"]), int(config["image_size"]),
             int(config["image_size"]))
    if sampler == "ddpm":
        extra = [o for o in ("eta", "spacing") if options.get(o) is not None]
        if extra:
            raise OptionError(f"--{extra[0]} applies to --sampler ddim only")
        if steps is not None and steps != timesteps:
            raise OptionError(f"--sampler ddpm runs all {timesteps} steps of the model; drop "
                              f"--steps or use --sampler ddim for {steps}")
        x = model.sample(shape, seed=seed, progress=progress, batch_size=batch_size)
    else:
        ddim = DDIMSampler(model.schedule, steps=steps or min(DEFAULT_DDIM_STEPS, timesteps),
                           eta=options.get("eta") or 0.0,
                           spacing=options.get("spacing") or "leading")
        x = ddim.sample(model.model, shape, seed=seed, progress=progress,
                        batch_size=batch_size)
    images = (x.array.astype("float32") + 1.0) * 0.5
    xp = backend.get_array_module(images)
    return backend.to_numpy(xp.clip(images, 0.0, 1.0))


register(ModelEntry(
    name="ddpm", kind="generative",
    description="denoising diffusion (UNet noise predictor) on the digits",
    options=TRAIN_OPTIONS, train=_train, load=_load, sample=_sample,
    sample_options=SAMPLE_OPTIONS))
