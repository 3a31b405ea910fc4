"""A tiny DDPM checkpoint (8-channel UNet, T = 20, one epoch) for the registry and CLI tests."""
from models.diffusion.training import train_diffusion

TIMESTEPS = 20
TINY_CONFIG = {
    "unet": {"in_channels": 1, "base_channels": 8, "channel_mult": [1], "num_res_blocks": 1,
             "attention_resolutions": [], "dropout": 0.0, "groups": 4, "image_size": 8},
    "schedule": {"kind": "linear", "timesteps": TIMESTEPS, "beta_start": 1e-3, "beta_end": 0.2},
    "training": {"batch_size": 256, "warmup_steps": 0, "previews": 1, "preview_samples": 4,
                 "preview_steps": 2},
}


def train_tiny_ddpm(out_dir, on_samples=None):
    """Train the tiny DDPM for one epoch into ``out_dir``; returns the checkpoint path."""
    train_diffusion(TINY_CONFIG, out_dir, epochs=1, seed=0, progress=False,
                    on_samples=on_samples)
    return out_dir / "checkpoint.safetensors"
