"""Whole sampling loops on every device (cpu; cuda when CuPy sees a GPU): a small UNet with DDIM
and DDPM, against the same UNet in torch driven by diffusers' schedulers, with the same noise
at every step.  The per-step update rules are compared with diffusers in
test_diffusion_schedule.py; here the UNet, the samplers and the device path run together."""
import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

import tinygrad_cv as tg
from models.diffusion import DDIMSampler, DDPM, NoiseSchedule, UNet
from tinygrad_cv import backend
from torch_unet import TorchUNet

CONFIG = dict(in_channels=1, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
              attention_resolutions=(2,), groups=4, image_size=8)
N = 3


def twins(device):
    """(ours on ``device``, torch's) in eval mode with the same random weights (N(0, 0.1^2),
    so the zero-initialised output layers predict something)."""
    theirs = TorchUNet(**UNet(**CONFIG).config)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    ours = UNet(**CONFIG)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours.to(device).eval(), theirs.eval()


def start_noise():
    return np.random.default_rng(0).standard_normal((N, 1, 8, 8)).astype(np.float32)


def test_ddim_loop_matches_torch_and_diffusers(device):
    """DDIM-10, eta 0.5, leading spacing, x0 clipped: ten UNet calls and steps."""
    ours, theirs = twins(device)
    ref = DDIMScheduler(clip_sample=True, set_alpha_to_one=True)
    ref.set_timesteps(10)
    sampler = DDIMSampler(NoiseSchedule("linear", 1000), steps=10, eta=0.5, clip_denoised=True)
    np.testing.assert_array_equal(sampler.timesteps, ref.timesteps.numpy())
    rng = np.random.default_rng(1)
    noises = [rng.standard_normal((N, 1, 8, 8)).astype(np.float32) for _ in range(10)]
    x = tg.tensor(start_noise(), device=device)
    tx = torch.from_numpy(start_noise())
    for i, (t, t_prev) in enumerate(zip(sampler.timesteps, sampler.prev_timesteps)):
        with tg.no_grad():
            eps = ours(x, tg.tensor(np.full(N, t), device=device))
            x = sampler.step(eps, t, t_prev, x, tg.tensor(noises[i], device=device))
        with torch.no_grad():
            teps = theirs(tx, torch.full((N,), int(t)))
            tx = ref.step(teps, int(t), tx, eta=0.5,
                          variance_noise=torch.from_numpy(noises[i])).prev_sample
        assert x.device == device and x.dtype == tg.float32
    np.testing.assert_allclose(backend.to_numpy(x.array), tx.numpy(), rtol=0, atol=1e-4)
    assert np.abs(tx.numpy()).max() > 0.1   # the loop moved the samples


@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
def test_ddpm_loop_matches_torch_and_diffusers(device, variance):
    """All 50 steps of a 50-step linear schedule, x0 clipped; diffusers draws each step's noise
    from a seeded torch generator, which is handed to ours as the step's noise."""
    ours, theirs = twins(device)
    ref = DDPMScheduler(num_train_timesteps=50, variance_type=variance, clip_sample=True)
    ref.set_timesteps(50)
    ddpm = DDPM(ours, NoiseSchedule("linear", 50), variance=variance, clip_denoised=True)
    x = tg.tensor(start_noise(), device=device)
    tx = torch.from_numpy(start_noise())
    for t in range(49, -1, -1):
        seed = 100 + t
        noise = torch.randn((N, 1, 8, 8), generator=torch.Generator().manual_seed(seed))
        with tg.no_grad():
            eps = ours(x, tg.tensor(np.full(N, t), device=device))
            x = ddpm.p_sample(x, t, eps, tg.tensor(noise.numpy(), device=device))
        with torch.no_grad():
            teps = theirs(tx, torch.full((N,), t))
            tx = ref.step(teps, t, tx, generator=torch.Generator().manual_seed(seed)).prev_sample
        assert x.device == device
    np.testing.assert_allclose(backend.to_numpy(x.array), tx.numpy(), rtol=0, atol=1e-4)
