"""VQAutoencoder: a convolutional autoencoder whose latents are snapped to a learned codebook.

For encoder outputs z_e (N, D, h, w) and the codebook E (K, D), each position takes its
nearest code k = argmin_j ||z_e - E_j||^2, z_q = E_k, and

    decoder input   z_e + sg(z_q - z_e)        (straight-through: the decoder's gradient
                                                reaches the encoder unchanged)
    loss = rec(x, x^) + ||sg(z_e) - z_q||^2 + beta ||z_e - sg(z_q)||^2     (means, beta 0.25)

so the codebook moves only through the codebook term (no moving-average update).  Dead codes:
``restart_dead_codes(z_e)`` moves each code unused since the last call onto a random encoder
output of the batch (``train`` calls it every ``restart_every`` steps), the remedy against
codebook collapse.  ``usage(codes)`` is the fraction of the K codes that occur.
"""
from __future__ import annotations

import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor

from .autoencoder_kl import RECON_LOSSES, _check_config
from .convnets import Decoder, Encoder, LatentScale

__all__ = ["VQAutoencoder", "VectorQuantizer"]


class VectorQuantizer(nn.Module):
    """``VectorQuantizer(num_codes, code_dim, beta=0.25)``: (N, D, h, w) -> (z_st, z_q, codes
    (N, h, w) int64, codebook loss + beta * commitment loss)."""

    def __init__(self, num_codes, code_dim, beta=0.25):
        super().__init__()
        self.num_codes, self.code_dim, self.beta = int(num_codes), int(code_dim), float(beta)
        self.codebook = nn.Embedding(self.num_codes, self.code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / self.num_codes, 1.0 / self.num_codes)
        self.register_buffer("uses", Tensor.wrap(backend.module_for_device("cpu").zeros(
            self.num_codes, dtype="int64")))

    def nearest(self, z):
        """Indices (N, h, w) of the nearest codes of z (N, D, h, w) (no gradient)."""
        arr = z.array
        xp = backend.get_array_module(arr)
        n, d, h, w = arr.shape
        flat = arr.transpose(0, 2, 3, 1).reshape(-1, d)
        book = self.codebook.weight.array
        dist = (flat * flat).sum(1, keepdims=True) - 2.0 * flat @ book.T + (book * book).sum(1)
        return Tensor.wrap(xp.argmin(dist, axis=1).reshape(n, h, w).astype("int64"))

    def lookup(self, codes):
        """The codes' vectors as (N, D, h, w) (differentiable in the codebook)."""
        return self.codebook(codes).permute(0, 3, 1, 2)

    def forward(self, z):
        codes = self.nearest(z)
        z_q = self.lookup(codes)
        loss = F.mse_loss(z_q, z.detach()) + self.beta * F.mse_loss(z, z_q.detach())
        if self.training:
            xp = backend.get_array_module(self.uses.array)
            counts = xp.bincount(backend.to_device(codes.array.reshape(-1),
                                                   self.uses.device), minlength=self.num_codes)
            self.uses.array[...] += counts
        return z + (z_q - z).detach(), z_q, codes, loss

    def restart_dead_codes(self, z, rng):
        """Move every code unused since the last call to a random row of z's vectors (plus a
        little noise); returns how many moved.  Resets the use counts."""
        uses = backend.to_numpy(self.uses.array)
        dead = [int(i) for i in (uses == 0).nonzero()[0]]
        self.uses.array[...] = 0
        if not dead:
            return 0
        arr = z.array
        xp = backend.get_array_module(arr)
        flat = arr.transpose(0, 2, 3, 1).reshape(-1, arr.shape[1])
        pick = backend.to_device(rng.integers(0, flat.shape[0], len(dead)), z.device)
        noise = backend.to_device(rng.standard_normal((len(dead), flat.shape[1])), z.device)
        book = self.codebook.weight.array
        book[backend.to_device(backend.module_for_device("cpu").asarray(dead), z.device)] = \
            (flat[pick] + 0.01 * noise * xp.std(flat)).astype(book.dtype)
        return len(dead)


class VQAutoencoder(LatentScale, nn.Module):
    """``VQAutoencoder(in_channels=1, code_dim=4, num_codes=64, base_channels=32,
    channel_mult=(1, 2), num_res_blocks=1, groups=8, image_size=8, beta=0.25,
    recon_loss='l2', scale_factor=1.0)``: images (N, in_channels, S, S) in [-1, 1] ->
    codes (N, S/f, S/f) -> images."""

    kind = "vq"

    def __init__(self, in_channels=1, code_dim=4, num_codes=64, base_channels=32,
                 channel_mult=(1, 2), num_res_blocks=1, groups=8, image_size=8, beta=0.25,
                 recon_loss="l2", scale_factor=1.0):
        super().__init__()
        mult, factor = _check_config(in_channels, code_dim, base_channels, channel_mult,
                                     num_res_blocks, groups, image_size, "VQAutoencoder")
        if isinstance(num_codes, bool) or not isinstance(num_codes, int) or num_codes < 2:
            raise ValueError(f"VQAutoencoder: num_codes must be an integer >= 2, got "
                             f"{num_codes!r}")
        if recon_loss not in RECON_LOSSES:
            raise ValueError(f"VQAutoencoder: recon_loss must be one of {RECON_LOSSES}, got "
                             f"{recon_loss!r}")
        if not float(beta) >= 0.0 or not float(scale_factor) > 0.0:
            raise ValueError("VQAutoencoder: beta must be >= 0 and scale_factor > 0")
        self.config = {"in_channels": in_channels, "code_dim": code_dim,
                       "num_codes": num_codes, "base_channels": base_channels,
                       "channel_mult": mult, "num_res_blocks": num_res_blocks,
                       "groups": groups, "image_size": image_size, "beta": float(beta),
                       "recon_loss": recon_loss, "scale_factor": float(scale_factor)}
        self.recon_loss = recon_loss
        self.latent_shape = (code_dim, image_size // factor, image_size // factor)
        self.encoder = Encoder(in_channels, code_dim, base_channels, mult, num_res_blocks,
                               groups)
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta)
        self.decoder = Decoder(code_dim, in_channels, base_channels, mult, num_res_blocks,
                               groups)

    def forward(self, x):
        """(reconstruction, codes, vq loss, z_e)."""
        z_e = self.encoder(x)
        z_st, _, codes, vq_loss = self.quantizer(z_e)
        return self.decoder(z_st), codes, vq_loss, z_e

    def loss(self, x):
        """(loss, {"rec", "vq"} floats, z_e) for images x in [-1, 1]."""
        recon, _, vq_loss, z_e = self(x)
        rec = F.l1_loss(recon, x) if self.recon_loss == "l1" else F.mse_loss(recon, x)
        return rec + vq_loss, {"rec": float(rec.item()), "vq": float(vq_loss.item())}, z_e

    def usage(self, codes):
        """Fraction of the codebook's codes that occur in ``codes`` (any shape)."""
        xp = backend.get_array_module(codes.array)
        return float(xp.unique(codes.array).size) / self.quantizer.num_codes

    # ---- the latent-diffusion interface --------------------------------------------------
    def encode_latent(self, x):
        """Unscaled latents of images x: the encoder outputs before quantisation."""
        return self.encoder(x)

    def decode_latent(self, z):
        """Images (unclamped) of unscaled latents z (quantised first)."""
        return self.decoder(self.quantizer.lookup(self.quantizer.nearest(z)))

    def reconstruct(self, x):
        return self.decode_latent(self.encode_latent(x)).clamp(-1.0, 1.0)
