"""Data-parallel training throughput at 1 and 2 MPI ranks, and the share of a step spent in
communication (DistributedDataParallel's gradient all-reduces and buffer broadcasts).

    python benchmarks/bench_distributed.py                    # cnn and unet, 1 and 2 ranks
    python benchmarks/bench_distributed.py --models cnn --ranks 1 2 4 --steps 40
    python benchmarks/bench_distributed.py --threads 2        # BLAS threads per rank
    python benchmarks/bench_distributed.py --models unet --bucket-mb 1   # smaller buckets

For each model and rank count the script starts ``mpiexec -n R`` on itself (``--worker``);
every rank trains on ``global batch / R`` random images of the model's input shape:

* ``cnn``: the CLI's digits ConvNet (32-64 convs, BatchNorm, fc 128) on 1x8x8 images,
  cross-entropy, Adam, global batch 64;
* ``unet``: the diffusion UNet of ``benchmarks/bench_diffusion.py`` (base 32, mult 1-2-2,
  2 res blocks, attention at 4x4 and 2x2) on 1x8x8 images, the L_simple loss at random
  timesteps, AdamW, global batch 128.

Reported per configuration (rank 0; steps are in lockstep through the all-reduces): the
median step time, the global throughput (images per second), the share of the step time
inside DDP's collectives (which includes waiting for the slower rank), the speed-up over
one rank, and (one rank) when the first parameter gradient hook runs, as a fraction of the
backward pass: the earliest moment a hook-driven reduction could start.  BLAS threads per rank default to 1 (on a loaded 2-core machine, one rank with 2
OpenBLAS threads measured 20x slower than with 1: its spinning threads fight the other
processes).  The load average is printed: on a shared machine the numbers are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

GLOBAL_BATCH = {"cnn": 64, "unet": 128}
STEPS = {"cnn": 30, "unet": 6}
UNET_CONFIG = dict(in_channels=1, base_channels=32, channel_mult=(1, 2, 2), num_res_blocks=2,
                   attention_resolutions=(2, 4), dropout=0.0, groups=8, image_size=8)


# ---- one rank ----------------------------------------------------------------------------------
def _cnn_step(per_rank):
    import tinygrad_cv as tg
    import tinygrad_cv.nn.functional as F
    from models.classifier_entries import MODEL_ARCHITECTURE
    from models.classifiers import build_classifier

    net = build_classifier("cnn", in_channels=1, num_classes=10, input_size=[8, 8],
                           in_features=64, **MODEL_ARCHITECTURE["cnn"])
    x = tg.randn(per_rank, 1, 8, 8)
    y = tg.randint(0, 10, (per_rank,))
    return net, lambda model: F.cross_entropy(model(x), y), "adam"


def _unet_step(per_rank):
    import tinygrad_cv as tg
    import tinygrad_cv.nn.functional as F
    from models.diffusion.unet import UNet

    net = UNet(**UNET_CONFIG)
    x0 = tg.randn(per_rank, 1, 8, 8)
    eps = tg.randn(per_rank, 1, 8, 8)
    t = tg.randint(0, 1000, (per_rank,))
    ab = tg.rand(per_rank, 1, 1, 1)
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    return net, lambda model: F.mse_loss(model(xt, t), eps), "adamw"


def worker(args):
    import tinygrad_cv as tg
    import tinygrad_cv.distributed as dist
    from models.training import make_optimizer

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    per_rank = args.global_batch // world
    tg.manual_seed(rank)
    net, loss_of, opt_name = {"cnn": _cnn_step, "unet": _unet_step}[args.model](per_rank)
    model = dist.DistributedDataParallel(net, bucket_mb=args.bucket_mb)
    opt = make_optimizer(opt_name, model.parameters(), 1e-3)
    first_hook = []           # when the first parameter's gradient hook ran in this step
    for p in net.parameters():
        p.register_hook(lambda g: first_hook.append(time.perf_counter()) and None)
    hook_at = []              # (first hook - backward start) / backward time

    def step():
        loss = loss_of(model)
        opt.zero_grad()
        first_hook.clear()
        b0 = time.perf_counter()
        loss.backward()
        b1 = time.perf_counter()
        if first_hook and world == 1:   # (with more ranks backward includes the reductions)
            hook_at.append((min(first_hook) - b0) / (b1 - b0))
        opt.step()

    for _ in range(args.warmup):
        step()
    times, comms = [], []
    for _ in range(args.steps):
        c0, t0 = model.comm_seconds, time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        comms.append(model.comm_seconds - c0)
    if rank == 0:
        with open(args.result, "w") as f:
            json.dump({"median_step": statistics.median(times), "comm_share":
                       sum(comms) / sum(times), "buckets": len(model.bucket_sizes),
                       "first_hook_at": statistics.median(hook_at) if hook_at else None,
                       "parameters": sum(p.array.size for p in net.parameters())}, f)
    dist.destroy_process_group()


# ---- the launcher ------------------------------------------------------------------------------
def run(model, ranks, threads, steps, warmup, bucket_mb):
    from tinygrad_cv.distributed.launcher import mpiexec_command

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.json")
        cmd = mpiexec_command(ranks, [os.path.abspath(__file__), "--worker", "--model", model,
                                      "--global-batch", str(GLOBAL_BATCH[model]),
                                      "--steps", str(steps or STEPS[model]),
                                      "--warmup", str(warmup), "--bucket-mb", str(bucket_mb),
                                      "--result", result])
        subprocess.run(cmd, env=env, check=True, cwd=ROOT)
        with open(result) as f:
            out = json.load(f)
    out.update(model=model, ranks=ranks, threads=threads)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["cnn", "unet"], choices=["cnn", "unet"])
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    p.add_argument("--threads", type=int, default=1, help="BLAS threads per rank (default 1)")
    p.add_argument("--bucket-mb", type=float, default=25.0,
                   help="DistributedDataParallel's bucket size in MiB (default 25)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default per model)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--global-batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"cores {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    rows = []
    for model in args.models:
        base = None
        for ranks in args.ranks:
            r = run(model, ranks, args.threads, args.steps, args.warmup, args.bucket_mb)
            base = base or r["median_step"]
            r["speedup"] = base / r["median_step"]
            rows.append(r)
            print(f"  {model} x{ranks}: {r['median_step'] * 1e3:.1f} ms/step", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}\n")
    print("| model | ranks | BLAS threads/rank | global batch | step (ms) | images/s | "
          "communication | speed-up | first gradient hook |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} ({r['parameters'] / 1e6:.2f} M params, {r['buckets']} buckets) "
              f"| {r['ranks']} | {r['threads']} | {GLOBAL_BATCH[r['model']]} | "
              f"{r['median_step'] * 1e3:.1f} | {GLOBAL_BATCH[r['model']] / r['median_step']:.0f} "
              f"| {100 * r['comm_share']:.1f}% | {r['speedup']:.2f}x "
              + (f"| {100 * r['first_hook_at']:.0f}% of backward |" if r["first_hook_at"]
                 is not None else "| (1 rank only) |"))


if __name__ == "__main__":
    main()
