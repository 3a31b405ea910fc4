"""The diffusion UNet against the same UNet in torch (copied weights), as ratios ours / torch.

    python benchmarks/bench_diffusion.py                       # both cases, default config
    python benchmarks/bench_diffusion.py --cases train --repeats 21
    python benchmarks/bench_diffusion.py --config '{"base_channels": 64}'

(a) ``train``: one training step, L_simple on a batch of 128 1x8x8 images: x_t = sqrt(ab_t) x0 +
    sqrt(1 - ab_t) eps with pre-drawn (x0, t, eps), loss = mean((eps_theta(x_t, t) - eps)^2),
    backward, AdamW step.
(b) ``ddim``: DDIM-50 sampling (eta 0, 'leading' timesteps of a 1000-step linear schedule, x0
    clipped to [-1, 1]) of 400 samples in one batch, forward only (no_grad, eval mode).

Both frameworks run the same update formulas; torch uses ``--threads`` intra-op threads (2 by
default).  Timing: ``benchmarks/timing.py``'s medians of alternating blocks.  The load average
is printed with the results (the machine is shared).  No assertions: a report.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.nn.functional as F  # noqa: E402
from benchmarks.timing import faults_text, median_times  # noqa: E402
from benchmarks.twins import copy_torch_weights  # noqa: E402
from models.diffusion.unet import UNet  # noqa: E402
from tinygrad_cv import optim  # noqa: E402
from torch_unet import TorchUNet  # noqa: E402

DEFAULT_CONFIG = dict(in_channels=1, base_channels=32, channel_mult=(1, 2, 2), num_res_blocks=2,
                      attention_resolutions=(2, 4), dropout=0.0, groups=8, image_size=8)


def _alphas_cumprod(timesteps=1000):
    return np.cumprod(1.0 - np.linspace(1e-4, 0.02, timesteps))


def build_twins(config, device="cpu"):
    """(ours, torch's) UNets with the same weights; the zero-initialised layers get small
    random weights first so every layer does real work."""
    ours = UNet(**config)
    theirs = TorchUNet(**ours.config)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if not p.abs().max() > 0:
                p.copy_(0.01 * torch.randn(p.shape, generator=gen))
    copy_torch_weights(ours, theirs, device)
    return ours, theirs.to(device)


def case_train(ours, theirs, batch=128, device="cpu"):
    """One L_simple training step each (forward, MSE, backward, AdamW)."""
    cfg = ours.config
    rng = np.random.default_rng(0)
    size = cfg["image_size"]
    x0 = rng.uniform(-1, 1, (batch, cfg["in_channels"], size, size)).astype(np.float32)
    t = rng.integers(0, 1000, batch)
    eps = rng.standard_normal(x0.shape).astype(np.float32)
    ab = _alphas_cumprod()[t].astype(np.float32)[:, None, None, None]
    xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps
    ours.train()
    theirs.train()
    oopt = optim.AdamW(ours.parameters(), lr=1e-4)
    topt = torch.optim.AdamW(theirs.parameters(), lr=1e-4)
    ox, ot, oe = (tg.tensor(a, device=device) for a in (xt, t, eps))
    tx, tt, te = (torch.tensor(a, device=device) for a in (xt, t, eps))

    def step_ours():
        oopt.zero_grad()
        loss = F.mse_loss(ours(ox, ot), oe)
        loss.backward()
        oopt.step()

    def step_torch():
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(theirs(tx, tt), te)
        loss.backward()
        topt.step()

    return step_ours, step_torch


def ddim_plan(steps=50, timesteps=1000):
    """[(t, ab_t, ab_prev)] of DDIM 'leading' spacing (ab_prev = 1 after the last step)."""
    ac = _alphas_cumprod(timesteps)
    ts = list(range(0, timesteps, timesteps // steps))[::-1]
    return [(t, ac[t], ac[ts[i + 1]] if i + 1 < len(ts) else 1.0) for i, t in enumerate(ts)]


def ddim_update(x, eps, ab, ab_prev):
    """eta = 0: x0 = clip((x - sqrt(1 - ab) eps) / sqrt(ab)), x_prev = sqrt(ab') x0 +
    sqrt(1 - ab') eps (the same expression on both frameworks' tensors)."""
    x0 = ((x - eps * float(np.sqrt(1 - ab))) * float(1 / np.sqrt(ab))).clip(-1.0, 1.0)
    return x0 * float(np.sqrt(ab_prev)) + eps * float(np.sqrt(1 - ab_prev))


def case_ddim(ours, theirs, num=400, steps=50, device="cpu"):
    """DDIM sampling of ``num`` samples in one batch, forward only."""
    cfg = ours.config
    size = cfg["image_size"]
    noise = np.random.default_rng(1).standard_normal(
        (num, cfg["in_channels"], size, size)).astype(np.float32)
    plan = ddim_plan(steps)
    ours.eval()
    theirs.eval()
    t_ours = [tg.tensor(np.full(num, t), device=device) for t, _, _ in plan]
    t_torch = [torch.full((num,), t, device=device) for t, _, _ in plan]

    def sample_ours():
        x = tg.tensor(noise, device=device)
        with tg.no_grad():
            for (_, ab, ab_prev), t in zip(plan, t_ours):
                x = ddim_update(x, ours(x, t), ab, ab_prev)
        return x

    def sample_torch():
        x = torch.tensor(noise, device=device)
        with torch.no_grad():
            for (_, ab, ab_prev), t in zip(plan, t_torch):
                x = ddim_update(x, theirs(x, t), ab, ab_prev)
        return x

    return sample_ours, sample_torch


def check_agreement(ours, theirs, device="cpu"):
    """Max |difference| of the two models' outputs on one batch (a sanity check)."""
    ours.eval()
    theirs.eval()
    cfg = ours.config
    x = np.random.default_rng(2).standard_normal(
        (8, cfg["in_channels"], cfg["image_size"], cfg["image_size"])).astype(np.float32)
    t = np.arange(8) * 120
    with tg.no_grad():
        a = tg.backend.to_numpy(ours(tg.tensor(x, device=device), tg.tensor(t, device=device)).array)
    with torch.no_grad():
        b = theirs(torch.tensor(x, device=device), torch.tensor(t, device=device)).cpu().numpy()
    return float(np.abs(a - b).max())


def _sync(device):
    tg.backend.synchronize(device)
    if device == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="train,ddim", help="comma-separated: train, ddim")
    parser.add_argument("--config", default="{}",
                        help="JSON object of UNet arguments overriding the default config")
    parser.add_argument("--repeats", type=int, default=15, help="timed training steps per side")
    parser.add_argument("--ddim-repeats", type=int, default=3, help="timed DDIM runs per side")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--num", type=int, default=400, help="DDIM samples")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--threads", type=int, default=2,
                        help="intra-op threads of both frameworks")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tg.set_num_threads(args.threads)
    tg.manual_seed(0)
    torch.manual_seed(0)
    config = dict(DEFAULT_CONFIG, **json.loads(args.config))
    ours, theirs = build_twins(config, args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {' '.join(f'{v:.2f}' for v in os.getloadavg())}; numpy {np.__version__}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads); ours "
          f"{tg.get_num_threads()} threads; device {args.device}")
    print(f"UNet {json.dumps(ours.config)}: {ours.num_parameters():,} parameters; "
          f"max |ours - torch| of eps on 8 samples: {check_agreement(ours, theirs, args.device):.2e}")
    print(f"{'case':<48}{'ours ms':>10}{'torch ms':>10}{'ratio':>8}   page faults per run, ours / torch")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for case in cases:
        if case == "train":
            title = f"(a) train step b={args.batch} (fwd+MSE+bwd+AdamW)"
            steps = case_train(ours, theirs, args.batch, args.device)
            repeats = args.repeats
        elif case == "ddim":
            title = f"(b) DDIM-{args.steps} sampling of {args.num} (no_grad)"
            steps = case_ddim(ours, theirs, args.num, args.steps, args.device)
            repeats = args.ddim_repeats
        else:
            parser.error(f"unknown case {case!r} (expected train or ddim)")
        faults = []
        t_ours, t_torch = median_times(list(steps), repeats, sync=lambda: _sync(args.device),
                                       faults=faults)
        print(f"{title:<48}{t_ours * 1e3:>10.1f}{t_torch * 1e3:>10.1f}{t_ours / t_torch:>8.2f}"
              f"   {faults_text(faults)}", flush=True)
    print(f"load after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
