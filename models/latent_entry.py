"""Latent diffusion in the model registry: the autoencoders ``vae`` (AutoencoderKL) and
``vqvae`` (VQAutoencoder), and ``ldm`` (class- or prompt-conditioned latent diffusion with
classifier-free guidance); ``models.latent``.

``tinygrad-cv train --model vae|vqvae`` writes the autoencoder's checkpoint, metrics (test
PSNR, codebook usage) and ``reconstruction.png``; ``train --model ldm`` takes
``--autoencoder CHECKPOINT`` or trains its autoencoder first (into ``OUT/autoencoder``) within
the same ``--minutes`` budget.  ``tinygrad-cv sample`` of an ldm checkpoint takes ``--class``
(0-9 or its name) or ``--prompt`` ("the digit seven"), ``--guidance`` (w >= 0), ``--steps``,
``--eta``; without a class the classes cycle 0, 1, ..., 9.  Sampling an autoencoder
checkpoint gives the reconstructions of the test digits (cycling), which the scorer then
judges like samples.
"""
from __future__ import annotations

import os

from .registry import (CHECKPOINT_NAME, ModelEntry, Option, OptionError, nonnegative_float,
                       positive_float, positive_int, register)

__all__ = ["DEFAULT_GUIDANCE", "DEFAULT_STEPS"]

DEFAULT_GUIDANCE = 3.0
DEFAULT_STEPS = 50


def _class_option(value):
    from .latent.conditioning import parse_class

    return parse_class(value)


_class_option.what = "a digit class 0-9"


def _autoencoder_defaults():
    from .latent.training import default_autoencoder_training

    return default_autoencoder_training()


def _ldm_defaults():
    from .latent.training import default_ldm_config

    return default_ldm_config()


_AE = _autoencoder_defaults()
_LDM = _ldm_defaults()

AUTOENCODER_OPTIONS = (
    Option("steps", positive_int, _AE["steps"],
           "optimizer steps; with --minutes, whichever budget ends first"),
    Option("minutes", positive_float, _AE["minutes"],
           "training-time budget in minutes (with --steps, whichever ends first)"),
)

LDM_OPTIONS = (
    Option("steps", positive_int, _LDM["training"]["steps"],
           "optimizer steps of the diffusion model; with --minutes, whichever budget ends "
           "first"),
    Option("minutes", positive_float, _LDM["training"]["minutes"],
           "training-time budget in minutes, the autoencoder's training included"),
    Option("autoencoder", str, None,
           "checkpoint of a trained vae or vqvae to diffuse in; without it the autoencoder "
           "is trained first (into OUT/autoencoder)", default_help="train one"),
    Option("autoencoder_kind", str, _LDM["autoencoder_kind"],
           "the autoencoder to train first when --autoencoder is not given (kl: vae, vq: "
           "vqvae)", choices=("kl", "vq")),
)

LDM_SAMPLE_OPTIONS = (
    Option("class", _class_option, None, "the digit class to draw (0-9 or its name)",
           default_help="classes 0-9 cycling"),
    Option("prompt", str, None,
           "a prompt naming one digit class, e.g. 'the digit seven' or '7' (instead of "
           "--class)", default_help="none"),
    Option("guidance", nonnegative_float, DEFAULT_GUIDANCE,
           "classifier-free guidance scale w: eps_u + w (eps_c - eps_u); 0 unconditional, 1 "
           "conditional without guidance"),
    Option("steps", positive_int, None,
           "DDIM steps in latent space, at most the model's T timesteps",
           default_help=str(DEFAULT_STEPS)),
    Option("eta", nonnegative_float, None,
           "DDIM noise scale: 0 deterministic, 1 the posterior's variance", default_help="0"),
)


def _log(log):
    return log if log is not None else print


def _train_autoencoder(kind):
    def train(options, out_dir, *, seed=None, resume=False, device=None, progress=True,
              on_samples=None, log=print, **_):
        from .latent.training import train_autoencoder

        if resume:
            raise OptionError("--resume: the autoencoders' runs are short and not resumable")
        _, metrics = train_autoencoder(kind, out_dir, steps=options.get("steps"),
                                       minutes=options.get("minutes"),
                                       seed=0 if seed is None else seed, device=device,
                                       log=_log(log) if progress else None,
                                       on_samples=on_samples)
        return metrics
    return train


def _train_ldm(options, out_dir, *, seed=None, resume=False, device=None, progress=True,
               on_samples=None, log=print, **_):
    from .latent.training import train_ldm

    if resume:
        raise OptionError("--resume: ldm runs are not resumable")
    config = {}
    if options.get("autoencoder_kind") is not None:
        if options.get("autoencoder") is not None:
            raise OptionError("--autoencoder-kind chooses the autoencoder to train; it does not "
                              "apply with --autoencoder CHECKPOINT")
        config["autoencoder_kind"] = options["autoencoder_kind"]
    given = options.get("autoencoder")
    written = os.path.join(out_dir, CHECKPOINT_NAME)
    if given is not None and os.path.realpath(given) == os.path.realpath(written):
        raise OptionError(f"--autoencoder {given!r} is the checkpoint this run writes "
                          "(OUT/checkpoint.safetensors); give another --out")
    try:
        return train_ldm(out_dir, autoencoder=options.get("autoencoder"), config=config,
                         steps=options.get("steps"), minutes=options.get("minutes"),
                         seed=0 if seed is None else seed, device=device,
                         log=_log(log) if progress else None, on_samples=on_samples)
    except ValueError as exc:
        if "--autoencoder" in str(exc):
            raise OptionError(str(exc)) from None
        raise


def _load_autoencoder(state, path):
    from .latent.training import load_autoencoder

    return load_autoencoder(state)


def _load_ldm(state, path):
    from .latent.training import load_ldm

    if not isinstance(state.get("model"), dict):
        raise ValueError("its 'model' entry is missing or malformed")
    return load_ldm(state)


def _host_images(x):
    from tinygrad_cv import backend

    images = (x.astype("float32") + 1.0) * 0.5
    xp = backend.get_array_module(images)
    return backend.to_numpy(xp.clip(images, 0.0, 1.0))


def _sample_autoencoder(model, options, *, num, seed=0, batch_size=None, progress=True):
    """Reconstructions of the test digits 0, 1, ... (cycling over the split) in [0, 1]."""
    import tinygrad_cv as tg
    from tinygrad_cv import backend
    from tinygrad_cv.data import load_digits
    from tinygrad_cv.tensor import Tensor

    images, _ = load_digits("test", device=next(iter(model.parameters())).device)
    data = images.array * 2.0 - 1.0
    xp = backend.get_array_module(data)
    data = data[xp.arange(int(num)) % data.shape[0]]
    chunk = batch_size or data.shape[0]
    with tg.no_grad():
        parts = [model.reconstruct(Tensor.wrap(data[i:i + chunk])).array
                 for i in range(0, data.shape[0], chunk)]
    return _host_images(xp.concatenate(parts))


def _sample_ldm(model, options, *, num, seed=0, batch_size=None, progress=True):
    """``num`` guided samples (N, 1, 8, 8) in [0, 1] of one class or of classes 0-9 cycling."""
    from tinygrad_cv import backend
    from .latent.conditioning import parse_prompt
    from .latent.training import cycling_classes

    label, prompt = options.get("class"), options.get("prompt")
    if label is not None and prompt is not None:
        raise OptionError("give --class or --prompt, not both")
    if prompt is not None:
        try:
            label = parse_prompt(prompt)
        except ValueError as exc:
            raise OptionError(f"--prompt: {exc}") from None
    timesteps = int(model.schedule.timesteps)
    steps = options.get("steps") or min(DEFAULT_STEPS, timesteps)
    if steps > timesteps:
        raise OptionError(f"--steps {steps} is more than the model's {timesteps} diffusion "
                          "timesteps")
    guidance = options.get("guidance")
    guidance = DEFAULT_GUIDANCE if guidance is None else guidance
    np_ = backend.module_for_device("cpu")
    y = cycling_classes(num) if label is None else np_.full(int(num), label, dtype="int64")
    x = model.sample(y, guidance_scale=guidance, steps=steps, eta=options.get("eta") or 0.0,
                     seed=seed, progress=progress, batch_size=batch_size)
    return _host_images(x.array)


register(ModelEntry(
    name="vae", kind="generative",
    description="KL autoencoder of the digits to 4x4x4 latents (sample: test reconstructions)",
    options=AUTOENCODER_OPTIONS, train=_train_autoencoder("kl"), load=_load_autoencoder,
    sample=_sample_autoencoder, resumable=False))

register(ModelEntry(
    name="vqvae", kind="generative",
    description="vector-quantised autoencoder of the digits, 64 codes (sample: test "
                "reconstructions)",
    options=AUTOENCODER_OPTIONS, train=_train_autoencoder("vq"), load=_load_autoencoder,
    sample=_sample_autoencoder, resumable=False))

register(ModelEntry(
    name="ldm", kind="generative",
    description="latent diffusion with class/prompt cross-attention and classifier-free "
                "guidance on the digits",
    options=LDM_OPTIONS, train=_train_ldm, load=_load_ldm, sample=_sample_ldm,
    sample_options=LDM_SAMPLE_OPTIONS, resumable=False))
