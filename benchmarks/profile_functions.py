"""Where a step's time goes: milliseconds per step of every Function's forward and backward,
for a benchmark case run by this framework (torch has its own ``torch.profiler``).

    python benchmarks/profile_functions.py                       # the UNet training step, b=64
    python benchmarks/profile_functions.py --case unet-forward --batch 400   # a DDIM step's UNet call
    python benchmarks/profile_functions.py --case c --device cuda   # a benchmarks/run.py case

Cases: ``unet-train`` (``bench_diffusion.py``'s training step: forward, MSE, backward, AdamW),
``unet-forward`` (one ``no_grad`` UNet forward in eval mode, as each DDIM step makes), and the
cases a-g of ``benchmarks/run.py``.  The UNet takes ``--config`` over the configuration that
``tinygrad-cv train --model ddpm`` trains.

Every Function application (forward) and every node's backward is timed by the library's
profiler (``tinygrad_cv.profiler``): wall-clock timers, the device synchronised before and
after each op on CuPy arrays (on a GPU a row holds its kernels, launched and run; the
synchronisations themselves add a little).  A Function applied inside another's forward (or
backward) counts in the outer one.  ``outside`` is the rest of the step: module calls, the
engine's bookkeeping, the optimizer, Python.  The profiler costs a few microseconds per op.
A report, no assertions.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import numpy as np  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
from tinygrad_cv import backend, profiler  # noqa: E402

DDPM_CONFIG = {"base_channels": 32, "channel_mult": [1, 2], "num_res_blocks": 1,
               "attention_resolutions": [2]}


class FunctionTimes:
    """Per Function class: applications, forward and backward seconds of the outermost ops
    (those not inside another op) a profile recorded."""

    def __init__(self, events):
        self.calls = collections.Counter()
        self.forward = collections.defaultdict(float)
        self.backward = collections.defaultdict(float)
        for e in events:
            if e.kind == "range" or _inside_an_op(e):
                continue
            seconds = e.cpu_time_total * 1e-6
            if e.kind == "op":
                self.forward[e.name] += seconds
                self.calls[e.name] += 1
            else:       # (a node's name() is its Function's, "Backward" appended)
                self.backward[e.name[:-len("Backward")] if e.name.endswith("Backward")
                              else e.name] += seconds


def _inside_an_op(event):
    parent = event.cpu_parent
    while parent is not None:
        if parent.kind != "range":
            return True
        parent = parent.cpu_parent
    return False


def _unet(config, device):
    from models.diffusion.unet import UNet
    return UNet(**dict(DDPM_CONFIG, **config)).to(device)


def unet_train(args):
    """The UNet training step of bench_diffusion.py (its torch twin is built but not timed)."""
    from benchmarks.bench_diffusion import DEFAULT_CONFIG, build_twins, case_train
    ours, theirs = build_twins(dict(DEFAULT_CONFIG, **DDPM_CONFIG, **args.config), args.device)
    return case_train(ours, theirs, args.batch or 64, args.device)[0]


def unet_forward(args):
    model = _unet(args.config, args.device).eval()
    rng = np.random.default_rng(0)
    size, channels = model.config["image_size"], model.config["in_channels"]
    n = args.batch or 400
    x = tg.tensor(rng.standard_normal((n, channels, size, size)).astype(np.float32),
                  device=args.device)
    t = tg.tensor(np.full(n, 500), device=args.device)

    def step():
        with tg.no_grad():
            model(x, t)
    return step


def run_case(args):
    """Case ``a`` ... ``g`` of benchmarks/run.py (the framework's side of it)."""
    from benchmarks import run
    _, fn = run.CASES[args.case]
    return fn(args.device)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="unet-train",
                        help="unet-train, unet-forward, or a benchmarks/run.py case a-g")
    parser.add_argument("--batch", type=int, default=None,
                        help="UNet batch (unet-train: 64, unet-forward: 400)")
    parser.add_argument("--config", type=json.loads, default={},
                        help="JSON object of UNet arguments over the ddpm configuration")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after 3 untimed)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    tg.set_num_threads(args.threads)
    tg.manual_seed(0)
    builders = {"unet-train": unet_train, "unet-forward": unet_forward}
    if args.case not in builders:
        from benchmarks import run
        if args.case not in run.CASES:
            parser.error(f"unknown case {args.case!r} (expected unet-train, unet-forward or one "
                         f"of {', '.join(sorted(run.CASES))})")
        builders[args.case] = run_case
    step = builders[args.case](args)
    for _ in range(3):
        step()
    backend.synchronize(args.device)
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:  # (no CUDA events)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        backend.synchronize(args.device)
        total = (time.perf_counter() - start) / args.steps
    times = FunctionTimes(prof.events())
    per = 1e3 / args.steps
    inside = (sum(times.forward.values()) + sum(times.backward.values())) * per
    print(f"case {args.case} on {args.device}, {tg.get_num_threads()} threads: "
          f"{total * 1e3:.1f} ms a step (timers included), mean of {args.steps}")
    print(f"{'Function':<28}{'calls':>7}{'forward ms':>12}{'backward ms':>13}{'share':>8}")
    names = sorted(set(times.forward) | set(times.backward),
                   key=lambda k: -(times.forward[k] + times.backward[k]))
    for name in names:
        fwd, bwd = times.forward[name] * per, times.backward[name] * per
        print(f"{name:<28}{times.calls[name] // args.steps:>7}{fwd:>12.2f}{bwd:>13.2f}"
              f"{(fwd + bwd) / (total * 1e3):>8.1%}")
    outside = total * 1e3 - inside
    print(f"{'outside the Functions':<28}{'':>7}{outside:>12.2f}{'':>13}{outside / (total * 1e3):>8.1%}")


if __name__ == "__main__":
    main()
