"""Convolution algorithms, forward + backward, one case per dispatch branch (ours only).

    python benchmarks/bench_conv_paths.py [--repeats 30] [--threads 1]

Cases: a 3x3 32->32 conv on 16x16 maps (batch 64: the implicit GEMM on the grid), a 3x3
64->64 conv on 4x4 maps (batch 128, a UNet's low-resolution block: the small-map columns),
a 3x3 1->32 conv on 28x28 maps (batch 128: im2col) and a 4x4 stride-2 transposed conv
64->32 on 8x8 maps (batch 64).  Prints the median milliseconds (``timing.median_times``).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.nn.functional as F  # noqa: E402
from benchmarks.timing import median_times  # noqa: E402

CASES = [  # name, (N, C, H, W), (O, C, kh, kw), kwargs, transposed
    ("grid 3x3 32->32 16x16 b=64", (64, 32, 16, 16), (32, 32, 3, 3), dict(padding=1), False),
    ("columns 3x3 64->64 4x4 b=128", (128, 64, 4, 4), (64, 64, 3, 3), dict(padding=1), False),
    ("im2col 3x3 1->32 28x28 b=128", (128, 1, 28, 28), (32, 1, 3, 3), dict(padding=1), False),
    ("transposed 4x4 s2 64->32 8x8 b=64", (64, 64, 8, 8), (64, 32, 4, 4),
     dict(stride=2, padding=1), True),
]


def step(x, w, b, kwargs, transposed):
    def run():
        for t in (x, w, b):
            t.grad = None
        fn = F.conv_transpose2d if transposed else F.conv2d
        fn(x, w, b, **kwargs).sum().backward()
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (threadpoolctl)")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    rng = np.random.default_rng(0)
    steps = []
    for name, xs, ws, kwargs, transposed in CASES:
        x = tg.tensor(rng.standard_normal(xs).astype(np.float32), requires_grad=True)
        w = tg.tensor(rng.standard_normal(ws).astype(np.float32) * 0.1, requires_grad=True)
        b = tg.tensor(np.zeros(ws[1] if transposed else ws[0], np.float32), requires_grad=True)
        steps.append(step(x, w, b, kwargs, transposed))
    times = median_times(steps, args.repeats)
    for (name, *_), t in zip(CASES, times):
        print(f"{name:38s} {t * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
