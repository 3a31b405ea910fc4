"""LatentDiffusion: DDPM training and DDIM sampling in an autoencoder's latent space, with
the condition entering the UNet through cross-attention and classifier-free guidance.

Latents: z = scale_factor * E(x) (the autoencoder's ``encode_latent``: the KL posterior mean
or the VQ encoder output before quantisation), images: D(z / scale_factor).

Training (``loss_latent(z0, y)``): each label is replaced by ``NULL_CLASS`` with probability
``cond_drop`` (the unconditional model of the same network), t ~ U{0..T-1}, eps ~ N(0, I),
``L = || eps - eps_theta(q_sample(z0, t, eps), t, context(y)) ||^2``.

Sampling (``sample``): DDIM from z_T ~ N(0, I) without x0 clipping (latents are unbounded),
with the guided prediction ``eps = eps_u + w (eps_c - eps_u)`` (eps_u with the null
condition); w = 0 evaluates eps_u alone, w = 1 eps_c alone, any other w both in one batch
that shares what the two conditions share (``guided_unet.guided_unet_eps``: the layers before
the first cross-attention run once).
"""
from __future__ import annotations

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor

from models.diffusion.ddim import DDIMSampler
from models.diffusion.ddpm import reverse_process
from models.diffusion.schedule import NoiseSchedule

from .conditioning import NULL_CLASS, NUM_CLASSES, ClassTokens
from .guided_unet import guided_unet_eps

__all__ = ["LatentDiffusion", "GuidedDenoiser"]


class GuidedDenoiser(nn.Module):
    """``(z, t, y) -> eps_u + w (eps_c - eps_u)`` of a LatentDiffusion model, guidance w."""

    def __init__(self, ldm, guidance_scale):
        super().__init__()
        self.ldm = ldm
        self.guidance_scale = float(guidance_scale)

    def forward(self, z, t, y):
        return self.ldm.guided_eps(z, t, y, self.guidance_scale)


class LatentDiffusion(nn.Module):
    """``LatentDiffusion(autoencoder, unet, schedule, conditioner=None, cond_drop=0.1)``.

    ``unet`` must have ``context_dim``; ``conditioner`` maps labels (N,) to the context
    (default ``ClassTokens(unet.context_dim)``).  The autoencoder is frozen (its parameters
    do not require gradients); ``trainable_parameters()`` are the UNet's and the
    conditioner's.
    """

    def __init__(self, autoencoder, unet, schedule, conditioner=None, cond_drop=0.1):
        super().__init__()
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"LatentDiffusion: schedule must be a NoiseSchedule, got "
                            f"{type(schedule).__name__}")
        if getattr(unet, "context_dim", None) is None:
            raise ValueError("LatentDiffusion: the UNet must be built with context_dim")
        if tuple(autoencoder.latent_shape[:1]) != (unet.in_channels,):
            raise ValueError(f"LatentDiffusion: the UNet takes {unet.in_channels} channels, the "
                             f"autoencoder's latents have {autoencoder.latent_shape[0]}")
        if not 0.0 <= float(cond_drop) < 1.0:
            raise ValueError(f"LatentDiffusion: cond_drop must be in [0, 1), got {cond_drop!r}")
        self.autoencoder = autoencoder
        for p in autoencoder.parameters():
            p.requires_grad_(False)
        self.unet = unet
        self.conditioner = conditioner if conditioner is not None else \
            ClassTokens(unet.context_dim)
        self.schedule = schedule
        self.cond_drop = float(cond_drop)

    def trainable_parameters(self):
        return list(self.unet.parameters()) + list(self.conditioner.parameters())

    # ---- latents --------------------------------------------------------------------------
    def encode(self, x):
        """Scaled latents of images x in [-1, 1] (no gradient)."""
        with tg.no_grad():
            return self.autoencoder.encode_latent(x) * self.autoencoder.scale_factor

    def decode(self, z):
        """Images in [-1, 1] of scaled latents z (no gradient)."""
        with tg.no_grad():
            return self.autoencoder.decode_latent(
                z * (1.0 / self.autoencoder.scale_factor)).clamp(-1.0, 1.0)

    # ---- the noise prediction -------------------------------------------------------------
    def eps(self, z, t, y):
        """eps_theta(z, t, context(y)); y (N,) in 0..NUM_CLASSES (NULL_CLASS: unconditional)."""
        return self.unet(z, t, context=self.conditioner(y))

    def guided_eps(self, z, t, y, guidance_scale):
        """eps_u + w (eps_c - eps_u) (see the module docstring)."""
        w = float(guidance_scale)
        yarr = y.array if isinstance(y, Tensor) else backend.ensure_array(y)
        xp = backend.get_array_module(yarr)
        null = xp.full(yarr.shape, NULL_CLASS, dtype="int64")
        t = t if isinstance(t, Tensor) else Tensor.wrap(backend.ensure_array(t))
        if w == 0.0:
            return self.eps(z, t, null)
        if w == 1.0:
            return self.eps(z, t, yarr)
        context = self.conditioner(xp.concatenate([yarr.astype("int64"), null]))
        return guided_unet_eps(self.unet, z, t, context, w)

    # ---- training -------------------------------------------------------------------------
    def loss_latent(self, z0, y):
        """L_simple on scaled latents z0 with condition dropout (random draws from the seeded
        generator of z0's device)."""
        n = z0.shape[0]
        yarr = y.array if isinstance(y, Tensor) else backend.to_device(
            backend.ensure_array(y), z0.device)
        xp = backend.get_array_module(yarr)
        if self.cond_drop > 0.0:
            drop = tg.rand(n, device=z0.device).array < self.cond_drop
            yarr = xp.where(drop, NULL_CLASS, yarr.astype("int64"))
        t = tg.randint(0, self.schedule.timesteps, (n,), device=z0.device)
        noise = tg.randn(*z0.shape, dtype=z0.dtype, device=z0.device)
        zt = self.schedule.q_sample(z0, t, noise)
        return F.mse_loss(self.eps(zt, t, yarr), noise)

    def loss(self, x0, y):
        return self.loss_latent(self.encode(x0), y)

    # ---- sampling -------------------------------------------------------------------------
    def sample_latents(self, y, guidance_scale=1.0, steps=50, eta=0.0, spacing="leading",
                       seed=None, progress=True, batch_size=None):
        """DDIM latents (N, *latent_shape) for labels y (N,) (NULL_CLASS allowed)."""
        w = float(guidance_scale)
        if not w >= 0.0:
            raise ValueError(f"guidance_scale must be >= 0, got {guidance_scale!r}")
        yarr = backend.ensure_array(y)
        if yarr.ndim != 1 or yarr.size == 0:
            raise ValueError("sample: labels must be a non-empty (N,) array")
        if int(yarr.min()) < 0 or int(yarr.max()) > NUM_CLASSES:
            raise ValueError("sample: labels must lie in 0..9 (10: no condition)")
        sampler = DDIMSampler(self.schedule, steps=steps, eta=eta, spacing=spacing,
                              clip_denoised=False)
        pairs = list(zip(sampler.timesteps.tolist(), sampler.prev_timesteps.tolist()))
        shape = (int(yarr.shape[0]),) + tuple(self.autoencoder.latent_shape)
        return reverse_process(GuidedDenoiser(self, w), shape, pairs, sampler.step, seed=seed,
                               progress=progress, y=yarr, batch_size=batch_size,
                               desc=f"latent DDIM-{steps} w={w:g}", clip=False)

    def sample(self, y, guidance_scale=1.0, steps=50, eta=0.0, spacing="leading", seed=None,
               progress=True, batch_size=None):
        """Images (N, C, H, W) in [-1, 1] for labels y (N,): DDIM in latent space, decoded."""
        was_training = self.training
        self.eval()
        try:
            z = self.sample_latents(y, guidance_scale, steps, eta, spacing, seed, progress,
                                    batch_size)
            n, chunk = z.shape[0], batch_size or z.shape[0]
            parts = [self.decode(z[i:i + chunk]).array for i in range(0, n, chunk)]
        finally:
            self.train(was_training)
        xp = backend.get_array_module(parts[0])
        return Tensor.wrap(parts[0] if len(parts) == 1 else xp.concatenate(parts))
