"""The GANs on the digits in the model registry: ``gan`` (the notes' MLPs, vanilla losses),
``lsgan`` (the same MLPs, least-squares losses) and ``dcgan`` (conv nets), from
``models.gan`` (``default_config``, ``train_gan``, ``load_gan``).

Training budget: ``minutes`` (default 2.5) and/or ``epochs``, whichever ends first; both are
totals over ``--resume``.  A grid of samples of fixed noise is written after every epoch
(at most one per 10 s of training, and after the last).
Sampling maps the generator's tanh output from [-1, 1] to [0, 1].
"""
from __future__ import annotations

from .registry import (CHECKPOINT_NAME, ModelEntry, Option, check_resume, positive_float,
                       positive_int, register, saved_run_errors)

__all__ = ["GAN_DESCRIPTIONS"]

GAN_DESCRIPTIONS = {
    "gan": "GAN, the notes' MLP generator/discriminator, BCE-with-logits losses",
    "lsgan": "least-squares GAN (the same MLPs, squared-error losses)",
    "dcgan": "DCGAN (transposed-conv generator with BatchNorm, conv discriminator)",
}


def _options(variant):
    from .gan import default_config

    t = default_config(variant)["training"]
    return (
        Option("epochs", positive_int, t["epochs"],
               "number of epochs (passes over the training digits); with --minutes, whichever "
               "budget ends first; totals over --resume",
               default_help="no limit, --minutes decides"),
        Option("minutes", positive_float, t["minutes"],
               "training-time budget in minutes (checked at the end of each epoch); a total "
               "over --resume"),
    )


def _train_entry(variant):
    def train(options, out_dir, *, seed=None, resume=False, device=None, progress=True,
              on_samples=None, log=print, **_):
        import os

        from .gan import default_config, train_gan

        ckpt = os.path.join(os.fspath(out_dir), CHECKPOINT_NAME)
        config = default_config(variant)
        if resume:
            check_resume(ckpt, variant, seed, log)
        if progress:
            log(f"training {variant} (epochs {options.get('epochs', 'unlimited')}, minutes "
                f"{options.get('minutes', config['training']['minutes'])}) ...")
        with saved_run_errors(ckpt, resume):
            return train_gan(config, out_dir, epochs=options.get("epochs"),
                             minutes=options.get("minutes"), seed=0 if seed is None else seed,
                             resume=resume, progress=progress, device=device,
                             on_samples=on_samples)
    return train


def _load(state, path):
    from .gan import load_gan

    for key, kind in (("generator", dict), ("discriminator", dict), ("config", dict)):
        if not isinstance(state.get(key), kind):
            raise ValueError(f"its {key!r} entry is missing or malformed")
    return load_gan(state)


def _sample(model, options, *, num, seed=0, batch_size=None, progress=True):
    """``num`` samples of the GAN ``model``: float32 host array (N, C, H, W) in [0, 1]."""
    from tinygrad_cv import backend

    return backend.to_numpy(model.sample(num, seed=seed, batch_size=batch_size))


for _variant, _description in GAN_DESCRIPTIONS.items():
    register(ModelEntry(
        name=_variant, kind="generative", description=_description,
        options=_options(_variant), train=_train_entry(_variant), load=_load, sample=_sample))
