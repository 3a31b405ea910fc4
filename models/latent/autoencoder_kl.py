"""AutoencoderKL: a convolutional VAE to a small latent space (N, c, H/f, W/f).

The encoder gives the mean and log-variance of a diagonal Gaussian posterior q(z|x) (the
log-variance clamped to [-30, 20]); training draws z = mean + exp(logvar / 2) * eps and
minimises

    loss = rec(x, D(z)) + kl_weight * KL,     rec = mean |x - x^| (l1) or (x - x^)^2 (l2)
    KL   = mean over the batch of 0.5 * sum_j (mean_j^2 + var_j - 1 - logvar_j)

(KL(q(z|x) || N(0, I)) in closed form).  Latent diffusion uses the posterior mean times
``scale_factor`` (1 / std of the latents over the training data, set after training and
stored in the checkpoint's config) so that its latents have unit variance.
"""
from __future__ import annotations

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F

from .convnets import Decoder, Encoder, LatentScale

__all__ = ["AutoencoderKL", "DiagonalGaussian", "RECON_LOSSES", "LOGVAR_RANGE"]

RECON_LOSSES = ("l1", "l2")
LOGVAR_RANGE = (-30.0, 20.0)


class DiagonalGaussian:
    """N(mean, diag(exp(logvar))) for mean, logvar (N, c, h, w); logvar clamped to
    ``LOGVAR_RANGE``."""

    def __init__(self, mean, logvar):
        self.mean = mean
        self.logvar = logvar.clamp(*LOGVAR_RANGE)
        self.std = (self.logvar * 0.5).exp()
        self.var = self.logvar.exp()

    def sample(self, noise=None):
        """mean + std * noise (noise ~ N(0, I) from the device's generator when not given)."""
        if noise is None:
            noise = tg.randn(*self.mean.shape, dtype=self.mean.dtype, device=self.mean.device)
        return self.mean + self.std * noise

    def mode(self):
        return self.mean

    def kl(self):
        """KL(q || N(0, I)) per sample, (N,): 0.5 * sum(mean^2 + var - 1 - logvar)."""
        terms = self.mean * self.mean + self.var - 1.0 - self.logvar
        return 0.5 * terms.reshape(terms.shape[0], -1).sum(dim=1)


def _check_config(in_channels, latent_channels, base_channels, channel_mult, num_res_blocks,
                  groups, image_size, what):
    for name, value in (("in_channels", in_channels), ("latent_channels", latent_channels),
                        ("base_channels", base_channels), ("num_res_blocks", num_res_blocks),
                        ("groups", groups), ("image_size", image_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what}: {name} must be a positive integer, got {value!r}")
    mult = list(channel_mult)
    if not mult or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in mult):
        raise ValueError(f"{what}: channel_mult must be a non-empty list of positive integers, "
                         f"got {channel_mult!r}")
    for m in mult:
        if (base_channels * m) % groups:
            raise ValueError(f"{what}: width {base_channels * m} is not divisible by "
                             f"groups={groups}")
    factor = 2 ** (len(mult) - 1)
    if image_size % factor:
        raise ValueError(f"{what}: image_size={image_size} must be divisible by {factor}")
    return mult, factor


class AutoencoderKL(LatentScale, nn.Module):
    """``AutoencoderKL(in_channels=1, latent_channels=4, base_channels=32, channel_mult=(1, 2),
    num_res_blocks=1, groups=8, image_size=8, kl_weight=1e-6, recon_loss='l2',
    scale_factor=1.0)``: images (N, in_channels, S, S) in [-1, 1] <-> latents
    (N, latent_channels, S/f, S/f), f = 2^(len(channel_mult) - 1).  ``config`` holds the
    arguments (JSON-able)."""

    kind = "kl"

    def __init__(self, in_channels=1, latent_channels=4, base_channels=32, channel_mult=(1, 2),
                 num_res_blocks=1, groups=8, image_size=8, kl_weight=1e-6, recon_loss="l2",
                 scale_factor=1.0):
        super().__init__()
        mult, factor = _check_config(in_channels, latent_channels, base_channels, channel_mult,
                                     num_res_blocks, groups, image_size, "AutoencoderKL")
        if recon_loss not in RECON_LOSSES:
            raise ValueError(f"AutoencoderKL: recon_loss must be one of {RECON_LOSSES}, got "
                             f"{recon_loss!r}")
        if not float(kl_weight) >= 0.0:
            raise ValueError(f"AutoencoderKL: kl_weight must be >= 0, got {kl_weight!r}")
        if not float(scale_factor) > 0.0:
            raise ValueError(f"AutoencoderKL: scale_factor must be > 0, got {scale_factor!r}")
        self.config = {"in_channels": in_channels, "latent_channels": latent_channels,
                       "base_channels": base_channels, "channel_mult": mult,
                       "num_res_blocks": num_res_blocks, "groups": groups,
                       "image_size": image_size, "kl_weight": float(kl_weight),
                       "recon_loss": recon_loss, "scale_factor": float(scale_factor)}
        self.kl_weight = float(kl_weight)
        self.recon_loss = recon_loss
        self.latent_shape = (latent_channels, image_size // factor, image_size // factor)
        self.encoder = Encoder(in_channels, 2 * latent_channels, base_channels, mult,
                               num_res_blocks, groups)
        self.decoder = Decoder(latent_channels, in_channels, base_channels, mult,
                               num_res_blocks, groups)

    def encode(self, x):
        """The posterior q(z|x) as a ``DiagonalGaussian``."""
        moments = self.encoder(x)
        c = self.latent_shape[0]
        return DiagonalGaussian(moments[:, :c], moments[:, c:])

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x, sample_posterior=True):
        """(reconstruction, posterior)."""
        posterior = self.encode(x)
        z = posterior.sample() if sample_posterior else posterior.mode()
        return self.decode(z), posterior

    def loss(self, x):
        """(loss, {"rec": float, "kl": float}) for images x in [-1, 1]."""
        recon, posterior = self(x)
        rec = F.l1_loss(recon, x) if self.recon_loss == "l1" else F.mse_loss(recon, x)
        kl = posterior.kl().mean()
        return rec + self.kl_weight * kl, {"rec": float(rec.item()), "kl": float(kl.item())}

    # ---- the latent-diffusion interface --------------------------------------------------
    def encode_latent(self, x):
        """Unscaled latents of images x: the posterior mean (N, *latent_shape)."""
        return self.encode(x).mode()

    def decode_latent(self, z):
        """Images (unclamped) of unscaled latents z."""
        return self.decode(z)

    def reconstruct(self, x):
        """D(mean of q(z|x)) clamped to [-1, 1]."""
        return self.decode(self.encode_latent(x)).clamp(-1.0, 1.0)
