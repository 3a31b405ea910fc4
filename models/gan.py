"""Generative adversarial networks on the digits (the notes' section 二.7).

A generator ``G`` maps noise ``z`` (``noise_dim`` numbers, uniform in [-1, 1) as in the notes'
recipe, or standard normal) to an image in [-1, 1] (tanh); a discriminator ``D`` maps an image
to one real-valued score (a logit).  Training alternates

- the discriminator step on real images ``x`` and DETACHED fakes ``G(z).detach()`` (so the
  discriminator's loss never reaches the generator's parameters), with its own optimizer;
- the generator step on fresh fakes ``G(z)``, through ``D`` (whose parameters are frozen for
  the step), with the generator's optimizer.

Losses (``s`` are discriminator scores, means over the batch):

    vanilla (the notes' stable BCE with logits, bce(x, z) = max(x, 0) - x z + log(1 + e^-|x|)):
        discriminator_loss = mean bce(s_real, 1) + mean bce(s_fake, 0)
                           = -E log D(x) - E log(1 - D(G(z)))         (D = sigmoid(s))
        generator_loss     = mean bce(s_fake, 1) = -E log D(G(z))     (non-saturating)
    least squares (LSGAN):
        ls_discriminator_loss = 1/2 mean (s_real - 1)^2 + 1/2 mean s_fake^2
        ls_generator_loss     = 1/2 mean (s_fake - 1)^2

Networks (images (N, C, H, W)):

- ``Generator`` / ``Discriminator``: the notes' MLPs (Linear + ReLU ... tanh; Linear +
  LeakyReLU(0.01) ...).
- ``DCGANGenerator``: z (N, noise_dim) -> (N, noise_dim, 1, 1) -> ConvTranspose(k = H/4) to
  H/4 x W/4 -> [BN, ReLU, ConvTranspose(4, stride 2, pad 1)] twice (channels 4b, 2b, C) -> tanh.
- ``DCGANDiscriminator``: Conv(4, stride 2, pad 1) + LeakyReLU(0.2) (no BatchNorm on the input
  layer), Conv(4, 2, 1) + BN + LeakyReLU(0.2), Conv(k = H/4) to one logit.

``train_gan(config, out_dir, ...)`` trains one of the registered recipes (``default_config``:
``gan``, ``lsgan``, ``dcgan``) with an epoch and/or minute budget, a grid of samples after every
epoch (``on_samples``; at most one per ``preview_seconds`` of training, and the last), an
EMA of the generator's weights (what sampling uses, where enabled),
and exactly resumable checkpoints.
"""
from __future__ import annotations

import copy
import math
import os
import sys
import time

import tinygrad_cv as tg
from tinygrad_cv import backend, nn, optim
from tinygrad_cv.nn import functional as F
from tinygrad_cv.tensor import Tensor

from .step_budget import (StepBudget, epoch_batch, report_interrupt, resolve_budget,
                          resume_state, step_seed)

__all__ = ["NOISE_KINDS", "LOSS_KINDS", "VARIANTS", "sample_noise", "discriminator_loss",
           "generator_loss", "ls_discriminator_loss", "ls_generator_loss", "Generator",
           "Discriminator", "DCGANGenerator", "DCGANDiscriminator", "build_gan",
           "discriminator_step", "generator_step", "default_config", "GANModel", "load_gan",
           "train_gan", "CHECKPOINT_NAME", "METRICS_NAME"]

NOISE_KINDS = ("uniform", "normal")
LOSS_KINDS = ("vanilla", "ls")
VARIANTS = ("gan", "lsgan", "dcgan")
CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"


# ---- noise and losses -------------------------------------------------------------------------
def sample_noise(batch_size, noise_dim, kind="uniform", device=None):
    """(batch_size, noise_dim) float32 noise from the seeded generator: U[-1, 1) or N(0, 1)."""
    if kind == "uniform":
        return tg.rand(batch_size, noise_dim, device=device) * 2.0 - 1.0
    if kind == "normal":
        return tg.randn(batch_size, noise_dim, device=device)
    raise ValueError(f"sample_noise: kind must be one of {NOISE_KINDS}, got {kind!r}")


def _scores(s, name):
    if not isinstance(s, Tensor):
        raise TypeError(f"{name}: expected a Tensor of discriminator scores, got "
                        f"{type(s).__name__}")
    return s


def discriminator_loss(logits_real, logits_fake):
    """``mean bce(s_real, 1) + mean bce(s_fake, 0)`` with the stable BCE on logits."""
    real = _scores(logits_real, "discriminator_loss")
    fake = _scores(logits_fake, "discriminator_loss")
    return (F.binary_cross_entropy_with_logits(real, tg.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, tg.zeros_like(fake)))


def generator_loss(logits_fake):
    """Non-saturating ``mean bce(s_fake, 1) = -E log sigmoid(s_fake)``."""
    fake = _scores(logits_fake, "generator_loss")
    return F.binary_cross_entropy_with_logits(fake, tg.ones_like(fake))


def ls_discriminator_loss(scores_real, scores_fake):
    """``1/2 mean (s_real - 1)^2 + 1/2 mean s_fake^2``."""
    real = _scores(scores_real, "ls_discriminator_loss")
    fake = _scores(scores_fake, "ls_discriminator_loss")
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake ** 2).mean()


def ls_generator_loss(scores_fake):
    """``1/2 mean (s_fake - 1)^2``."""
    fake = _scores(scores_fake, "ls_generator_loss")
    return 0.5 * ((fake - 1.0) ** 2).mean()


LOSSES = {"vanilla": (discriminator_loss, generator_loss),
          "ls": (ls_discriminator_loss, ls_generator_loss)}


# ---- networks ---------------------------------------------------------------------------------
def _check_noise(z, noise_dim, who):
    if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[1] != noise_dim:
        shape = tuple(z.shape) if hasattr(z, "shape") else type(z).__name__
        raise ValueError(f"{who}: expected noise of shape (N, {noise_dim}), got {shape}")


def _check_images(x, shape, who):
    if not isinstance(x, Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != tuple(shape):
        got = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"{who}: expected images of shape (N, {', '.join(map(str, shape))}), "
                         f"got {got}")


class Generator(nn.Module):
    """The notes' MLP generator: z -> Linear -> ReLU -> Linear -> ReLU -> Linear -> tanh,
    reshaped to (N, C, H, W)."""

    def __init__(self, noise_dim=64, hidden_dim=256, image_shape=(1, 8, 8)):
        super().__init__()
        self.noise_dim = int(noise_dim)
        self.image_shape = tuple(int(s) for s in image_shape)
        out = math.prod(self.image_shape)
        self.net = nn.Sequential(nn.Linear(self.noise_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, out), nn.Tanh())

    def forward(self, z):
        _check_noise(z, self.noise_dim, type(self).__name__)
        return self.net(z).reshape(z.shape[0], *self.image_shape)


class Discriminator(nn.Module):
    """The notes' MLP discriminator: flatten -> Linear -> LeakyReLU(0.01) -> Linear ->
    LeakyReLU(0.01) -> Linear -> one logit per image, shape (N,)."""

    def __init__(self, hidden_dim=256, image_shape=(1, 8, 8), negative_slope=0.01):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(self.image_shape), hidden_dim),
                                 nn.LeakyReLU(negative_slope), nn.Linear(hidden_dim, hidden_dim),
                                 nn.LeakyReLU(negative_slope), nn.Linear(hidden_dim, 1))

    def forward(self, x):
        _check_images(x, self.image_shape, type(self).__name__)
        return self.net(x).reshape(x.shape[0])


def _dcgan_size(image_size):
    image_size = int(image_size)
    if image_size < 4 or image_size % 4:
        raise ValueError(f"DCGAN: image_size must be a multiple of 4 (at least 4), got "
                         f"{image_size}")
    return image_size


class DCGANGenerator(nn.Module):
    """Transposed-conv generator with BatchNorm: z -> (4b, S/4, S/4) -> (2b, S/2, S/2) ->
    (C, S, S), tanh (b = ``base_channels``, S = ``image_size``)."""

    def __init__(self, noise_dim=64, base_channels=32, image_size=8, channels=1):
        super().__init__()
        self.noise_dim = int(noise_dim)
        size = _dcgan_size(image_size)
        b = int(base_channels)
        self.image_shape = (int(channels), size, size)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(self.noise_dim, 4 * b, size // 4, 1, 0, bias=False),
            nn.BatchNorm2d(4 * b), nn.ReLU(),
            nn.ConvTranspose2d(4 * b, 2 * b, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * b), nn.ReLU(),
            nn.ConvTranspose2d(2 * b, int(channels), 4, 2, 1), nn.Tanh())

    def forward(self, z):
        _check_noise(z, self.noise_dim, type(self).__name__)
        return self.net(z.reshape(z.shape[0], self.noise_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Conv discriminator: (C, S, S) -> Conv s2 + LeakyReLU(0.2) (no BatchNorm on the input
    layer) -> Conv s2 + BN + LeakyReLU(0.2) -> Conv(k = S/4) -> one logit per image, (N,)."""

    def __init__(self, base_channels=32, image_size=8, channels=1, negative_slope=0.2):
        super().__init__()
        size = _dcgan_size(image_size)
        b = int(base_channels)
        self.image_shape = (int(channels), size, size)
        self.net = nn.Sequential(
            nn.Conv2d(int(channels), b, 4, 2, 1), nn.LeakyReLU(negative_slope),
            nn.Conv2d(b, 2 * b, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * b),
            nn.LeakyReLU(negative_slope),
            nn.Conv2d(2 * b, 1, size // 4, 1, 0))

    def forward(self, x):
        _check_images(x, self.image_shape, type(self).__name__)
        return self.net(x).reshape(x.shape[0])


def _dcgan_init(module):
    """DCGAN's initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0
    (from the seeded generator)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_gan(config):
    """(generator, discriminator) with fresh weights for ``config["networks"]``."""
    net = config["networks"]
    shape = tuple(net["image_shape"])
    if net["kind"] == "mlp":
        g = Generator(net["noise_dim"], net["hidden_dim"], shape)
        d = Discriminator(net["hidden_dim"], shape)
    elif net["kind"] == "dcgan":
        if shape[1] != shape[2]:
            raise ValueError(f"DCGAN: square images only, got {shape}")
        g = DCGANGenerator(net["noise_dim"], net["base_channels"], shape[1], shape[0])
        d = DCGANDiscriminator(net["base_channels"], shape[1], shape[0])
        _dcgan_init(g)
        _dcgan_init(d)
    else:
        raise ValueError(f"unknown GAN network kind {net['kind']!r}; expected mlp or dcgan")
    return g, d


# ---- the two steps ----------------------------------------------------------------------------
def discriminator_step(generator, discriminator, d_optimizer, real, z, d_loss_fn):
    """One discriminator update on ``real`` images and the detached fakes ``G(z)``; the
    generator's parameters and gradients are not touched.  Returns the loss (float)."""
    fake = generator(z).detach()
    d_optimizer.zero_grad()
    loss = d_loss_fn(discriminator(real), discriminator(fake))
    loss.backward()
    d_optimizer.step()
    return float(loss.item())


def generator_step(generator, discriminator, g_optimizer, z, g_loss_fn):
    """One generator update through the frozen discriminator (its parameters get no
    gradient and do not change).  Returns the loss (float)."""
    frozen = [p for p in discriminator.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        g_optimizer.zero_grad()
        loss = g_loss_fn(discriminator(generator(z)))
        loss.backward()
        g_optimizer.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return float(loss.item())


# ---- recipes ----------------------------------------------------------------------------------
def default_config(variant):
    """The recipe of ``tinygrad-cv train --model gan|lsgan|dcgan``.

    ``gan``: the notes' MLPs (256 hidden units), uniform noise, vanilla losses, Adam 1e-3
    (beta1 0.5); ``lsgan``: the same with the least-squares losses; ``dcgan``: the conv nets
    (base 32 channels), Adam 2e-4 (beta1 0.5).  Budget: ``minutes`` of training (checked after
    every epoch) and an optional ``epochs`` limit, whichever ends first.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown GAN variant {variant!r}; expected one of {VARIANTS}")
    if variant == "dcgan":
        networks = {"kind": "dcgan", "noise_dim": 64, "base_channels": 32,
                    "image_shape": [1, 8, 8]}
        training = {"loss": "vanilla", "noise": "uniform", "lr_g": 2e-4, "lr_d": 2e-4,
                    "beta1": 0.5, "beta2": 0.999, "batch_size": 64, "ema_decay": 0.999}
    else:
        networks = {"kind": "mlp", "noise_dim": 64, "hidden_dim": 256, "image_shape": [1, 8, 8]}
        training = {"loss": "ls" if variant == "lsgan" else "vanilla", "noise": "uniform",
                    "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.999,
                    "batch_size": 128, "ema_decay": 0.0}
    training.update({"epochs": None, "minutes": 2.5, "checkpoint_minutes": 1.0,
                     "preview_samples": 64, "preview_seconds": 10.0})
    return {"model": variant, "networks": networks, "training": training}


def _checked_config(config):
    """The config with its values checked (ValueError naming the bad entry)."""
    if not isinstance(config, dict) or config.get("model") not in VARIANTS:
        raise ValueError(f"GAN config must be a dict naming model one of {VARIANTS}")
    out = default_config(config["model"])
    for section in ("networks", "training"):
        given = config.get(section) or {}
        if not isinstance(given, dict):
            raise ValueError(f"GAN config: section {section!r} must be a dict")
        unknown = sorted(set(given) - set(out[section]))
        if unknown:
            raise ValueError(f"GAN config: unknown {section} settings {unknown}")
        out[section].update(copy.deepcopy(given))
    t = out["training"]
    if t["loss"] not in LOSS_KINDS:
        raise ValueError(f"GAN config: loss must be one of {LOSS_KINDS}, got {t['loss']!r}")
    if t["noise"] not in NOISE_KINDS:
        raise ValueError(f"GAN config: noise must be one of {NOISE_KINDS}, got {t['noise']!r}")
    if not 0.0 <= float(t["ema_decay"]) < 1.0:
        raise ValueError(f"GAN config: ema_decay must be in [0, 1), got {t['ema_decay']!r}")
    return out


class GANModel(nn.Module):
    """A trained GAN for sampling: ``generator`` (EMA weights where kept), ``discriminator``,
    ``noise_dim``, ``noise``; ``sample(num, seed)`` -> images (N, C, H, W) in [0, 1]."""

    def __init__(self, generator, discriminator, noise="uniform", config=None):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.noise = noise
        self.config = config

    @property
    def noise_dim(self):
        return self.generator.noise_dim

    def sample(self, num, seed=0, batch_size=None):
        """``num`` generator samples from the noise of ``seed``: float32 backend array
        (num, C, H, W) in [0, 1] (``(G(z) + 1) / 2``)."""
        num = int(num)
        if num < 1:
            raise ValueError(f"GANModel.sample: num must be positive, got {num}")
        device = next(iter(self.generator.parameters())).device
        tg.manual_seed(int(seed))
        z = sample_noise(num, self.noise_dim, self.noise, device=device)
        step = num if batch_size is None else int(batch_size)
        parts = []
        with tg.no_grad():
            for start in range(0, num, step):
                parts.append(self.generator(z[start:start + step]).array)
        xp = backend.get_array_module(parts[0])
        images = xp.concatenate(parts) if len(parts) > 1 else parts[0]
        return xp.clip((images.astype("float32") + 1.0) * 0.5, 0.0, 1.0)


def load_gan(state):
    """The ``GANModel`` of a checkpoint state written by ``train_gan`` (EMA generator weights
    where the run kept them), in eval mode."""
    config = _checked_config(state["config"])
    g, d = build_gan(config)
    g.load_state_dict(state.get("ema_generator") or state["generator"])
    d.load_state_dict(state["discriminator"])
    return GANModel(g, d, config["training"]["noise"], config).eval()


# ---- training ---------------------------------------------------------------------------------
class _Run:
    """One training run: networks, optimizers, generator EMA, counters; its steps."""

    def __init__(self, config, seed, device, data):
        self.config = config
        self.seed = int(seed)
        t = config["training"]
        tg.manual_seed(self.seed)
        self.generator, self.discriminator = build_gan(config)
        self.generator.to(device)
        self.discriminator.to(device)
        betas = (float(t["beta1"]), float(t["beta2"]))
        self.g_optimizer = optim.Adam(self.generator.parameters(), lr=float(t["lr_g"]),
                                      betas=betas)
        self.d_optimizer = optim.Adam(self.discriminator.parameters(), lr=float(t["lr_d"]),
                                      betas=betas)
        self.ema_decay = float(t["ema_decay"])
        self.ema = optim.EMA(self.generator, self.ema_decay) if self.ema_decay else None
        self.d_loss, self.g_loss = LOSSES[t["loss"]]
        self.images = data
        self.device = device
        self.batch_size = int(t["batch_size"])
        self.steps_per_epoch = -(-data.shape[0] // self.batch_size)
        self.step = 0
        self.train_seconds = 0.0
        self.history = []

    def state_dict(self):
        state = {"generator": self.generator.state_dict(),
                 "discriminator": self.discriminator.state_dict(),
                 "g_optimizer": self.g_optimizer.state_dict(),
                 "d_optimizer": self.d_optimizer.state_dict(),
                 "trainer": {"step": self.step, "epoch": self.step // self.steps_per_epoch,
                             "seed": self.seed, "train_seconds": self.train_seconds,
                             "history": self.history},
                 "config": self.config}
        if self.ema is not None:
            with self.ema.average_parameters():
                state["ema_generator"] = {k: Tensor.wrap(v.array.copy()) for k, v in
                                          self.generator.state_dict().items()}
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state):
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        t = state["trainer"]
        self.step = int(t["step"])
        self.seed = int(t["seed"])
        self.train_seconds = float(t["train_seconds"])
        self.history = list(t["history"])

    def batch(self, step):
        return epoch_batch(self.images, self.seed, step, self.batch_size, self.steps_per_epoch)

    def train_step(self):
        """One discriminator and one generator update; returns (d_loss, g_loss)."""
        tg.manual_seed(step_seed(self.seed, self.step))
        real = self.batch(self.step)
        n, dim, kind = real.shape[0], self.generator.noise_dim, self.config["training"]["noise"]
        d = discriminator_step(self.generator, self.discriminator, self.d_optimizer, real,
                               sample_noise(n, dim, kind, self.device), self.d_loss)
        g = generator_step(self.generator, self.discriminator, self.g_optimizer,
                           sample_noise(n, dim, kind, self.device), self.g_loss)
        if self.ema is not None:
            k = self.ema.num_updates
            self.ema.decay = min(self.ema_decay, (1.0 + k) / (10.0 + k))
            self.ema.update()
        self.step += 1
        return d, g

    def preview(self):
        """``preview_samples`` samples from fixed noise (seed 0), float32 host (n, C, H, W)."""
        g = self.generator
        model = GANModel(g, self.discriminator, self.config["training"]["noise"])
        g.eval()
        try:
            if self.ema is not None:
                with self.ema.average_parameters():
                    images = model.sample(int(self.config["training"]["preview_samples"]), 0)
            else:
                images = model.sample(int(self.config["training"]["preview_samples"]), 0)
        finally:
            g.train()
        return backend.to_numpy(images)


def _digits(device):
    from tinygrad_cv.data import load_digits

    images, _ = load_digits("train", device=device)
    return images.array * 2.0 - 1.0


def train_gan(config, out_dir, *, epochs=None, minutes=None, seed=0, resume=False,
              progress=True, device=None, on_samples=None, log=print):
    """Train the GAN of ``config`` (``default_config(variant)`` or a state's config) on the
    digits training split (mapped to [-1, 1]); returns the metrics (also in
    ``OUT/metrics.json``).

    Each step: one discriminator update on a real batch and detached fakes, then one generator
    update on fresh noise (separate Adam optimizers).  Before step ``k`` every random source is
    re-seeded from ``(seed, k)`` and batches follow the permutation of ``(seed, epoch)``, so a
    run resumed from any checkpoint replays the same steps.  Stops after ``epochs`` epochs or
    ``minutes`` of training in all (over resumes), whichever first.  After every epoch that
    ends at least ``preview_seconds`` of training after the previous preview (0: every
    epoch), and after the last, ``on_samples(step, images)`` gets ``preview_samples`` samples
    of fixed noise (float32 host (n, C, H, W) in [0, 1]).  The checkpoint
    (``OUT/checkpoint.safetensors``) is
    written every ``checkpoint_minutes`` and at the end.
    """
    from .training import write_json

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = os.path.join(out_dir, CHECKPOINT_NAME)
    metrics_path = os.path.join(out_dir, METRICS_NAME)
    device = backend.normalize_device(device)
    state = resume_state(ckpt_path, resume, device, "train_gan")
    if state is not None:
        config = state["config"]
        seed = state["trainer"]["seed"]
    config = _checked_config(config)
    t = config["training"]
    epochs, minutes = resolve_budget(t, epochs, minutes, "train_gan")
    t["epochs"], t["minutes"] = epochs, minutes
    run = _Run(config, seed, device, _digits(device))
    if state is not None:
        run.load_state_dict(state)
    budget = StepBudget.of_epochs(epochs, minutes, run.steps_per_epoch)
    save_every = 60.0 * float(t["checkpoint_minutes"])
    name = config["model"]

    def finished():
        return budget.finished(run.step, run.train_seconds)

    def metrics():
        last = run.history[-1] if run.history else {}
        return {"model": name, "steps": run.step, "epochs": run.step // run.steps_per_epoch,
                "train_seconds": run.train_seconds,
                "steps_per_second": run.step / run.train_seconds if run.train_seconds else None,
                "final_d_loss": last.get("d_loss"), "final_g_loss": last.get("g_loss"),
                "generator_parameters": sum(p.numel() for p in run.generator.parameters()),
                "discriminator_parameters": sum(p.numel()
                                                for p in run.discriminator.parameters()),
                "seed": run.seed, "device": device, "config": config, "history": run.history}

    def save():
        tg.save(run.state_dict(), ckpt_path, metadata={"model": name})
        write_json(metrics(), metrics_path)

    last_save = time.perf_counter()
    last_print = last_preview = -math.inf
    try:
        while not finished():
            start = time.perf_counter()
            d_losses, g_losses = [], []
            for _ in range(run.steps_per_epoch - run.step % run.steps_per_epoch):
                d, g = run.train_step()
                d_losses.append(d)
                g_losses.append(g)
                if budget.steps_reached(run.step):
                    break
            run.train_seconds += time.perf_counter() - start
            record = {"epoch": math.ceil(run.step / run.steps_per_epoch), "step": run.step,
                      "d_loss": sum(d_losses) / len(d_losses),
                      "g_loss": sum(g_losses) / len(g_losses),
                      "seconds": run.train_seconds}
            run.history.append(record)
            if progress and (finished() or run.train_seconds - last_print >= 15.0):
                last_print = run.train_seconds
                print(f"{name} epoch {record['epoch']} step {run.step}: d_loss "
                      f"{record['d_loss']:.4f} g_loss {record['g_loss']:.4f} "
                      f"({run.train_seconds:.0f}s)", file=sys.stderr)
            tick = time.perf_counter()
            if on_samples is not None and (finished() or run.train_seconds - last_preview
                                           >= float(t["preview_seconds"])):
                last_preview = run.train_seconds
                on_samples(run.step, run.preview())
            run.train_seconds += time.perf_counter() - tick   # previews count in the budget
            if finished() or time.perf_counter() - last_save >= save_every:
                save()
                last_save = time.perf_counter()
    except KeyboardInterrupt:
        report_interrupt(run.step, ckpt_path)
        raise
    if not os.path.exists(ckpt_path):
        save()
    return metrics()
