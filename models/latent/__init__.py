"""Latent diffusion on tinygrad_cv: autoencoders to a small latent space (``AutoencoderKL``,
``VQAutoencoder``), condition tokens for classes and short prompts, and ``LatentDiffusion``
(a cross-attention UNet trained on the latents, DDIM sampling with classifier-free guidance).
Training and checkpoints: ``models.latent.training``."""
from .autoencoder_kl import AutoencoderKL, DiagonalGaussian  # noqa: F401
from .vq import VQAutoencoder, VectorQuantizer  # noqa: F401
from .conditioning import ClassTokens, parse_prompt, parse_class, NUM_CLASSES  # noqa: F401
from .ldm import LatentDiffusion  # noqa: F401
