"""Per-op overhead: a chain of tiny elementwise ops, forward + backward, ours vs torch CPU.

The chain repeats (mul by a weight, add a bias, tanh) on 8x8 float32 tensors until it has
``--ops`` ops, then sums and backpropagates.  With tensors this small the time is almost all
framework overhead (dispatch, graph recording, the backward engine), not arithmetic.
Runs alternate between the two frameworks; medians (and the best) of ``--repeat`` runs are
printed with the ratio ours/torch (below 1.0: we are faster).  A report, no assertions.

    python benchmarks/bench_overhead.py [--ops 1000] [--repeat 15] [--threads 1]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinygrad_cv as tg  # noqa: E402


def chain(lib, x, w, b, n_ops):
    """(x * w + b).tanh() repeated; every third op is a tanh."""
    y = x
    for i in range(n_ops // 3):
        y = (y * w + b).tanh()
    return y.sum()


def make(lib, arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def run_once(lib, arrays, n_ops):
    """Seconds for forward (n_ops elementwise ops + sum) and backward on fresh leaves."""
    x, w, b = make(lib, arrays)
    t0 = time.perf_counter()
    loss = chain(lib, x, w, b, n_ops)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gc-freeze", action="store_true",
                        help="move the objects of the imports (torch's are many) out of the "
                             "garbage collector's scans first")
    args = parser.parse_args(argv)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((args.size, args.size)).astype(np.float32) * s
              for s in (1.0, 0.5, 0.1)]
    # same result first (the benchmark compares equal work)
    ours = make(tg, arrays)
    theirs = make(torch, arrays)
    chain(tg, *ours, args.ops).backward()
    chain(torch, *theirs, args.ops).backward()
    np.testing.assert_allclose(ours[1].grad.numpy(), theirs[1].grad.numpy(), rtol=1e-3, atol=1e-4)
    for _ in range(2):    # warm-up
        run_once(tg, arrays, args.ops)
        run_once(torch, arrays, args.ops)
    times = {"tinygrad_cv": [], "torch": []}
    for _ in range(args.repeat):
        times["tinygrad_cv"].append(run_once(tg, arrays, args.ops))
        times["torch"].append(run_once(torch, arrays, args.ops))
    n = (args.ops // 3) * 3 + 1
    print(f"{n} ops on {args.size}x{args.size} float32, forward + backward, median of "
          f"{args.repeat} (torch threads: {args.threads}, gc.freeze: {args.gc_freeze})")
    print(f"{'':12s} {'forward ms':>11s} {'backward ms':>12s} {'total ms':>9s} {'us/op':>7s} "
          f"{'best total':>11s}")
    med = {}
    for name, runs in times.items():
        f = statistics.median(r[0] for r in runs) * 1e3
        b = statistics.median(r[1] for r in runs) * 1e3
        t = statistics.median(r[0] + r[1] for r in runs) * 1e3
        best = min(r[0] + r[1] for r in runs) * 1e3
        med[name] = (f, b, t, best)
        print(f"{name:12s} {f:11.2f} {b:12.2f} {t:9.2f} {t * 1e3 / n:7.2f} {best:11.2f}")
    ratio = [o / t for o, t in zip(med["tinygrad_cv"], med["torch"])]
    print(f"{'ours/torch':12s} {ratio[0]:11.2f} {ratio[1]:12.2f} {ratio[2]:9.2f} {'':7s} "
          f"{ratio[3]:11.2f}")
    print("(medians; 'best' is the fastest run, less sensitive to other load on the machine)")

if __name__ == "__main__":
    main()
