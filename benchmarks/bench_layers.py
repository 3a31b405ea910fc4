"""Forward+backward time of Conv2d, MaxPool2d, BatchNorm2d and antialiased interpolate
(bilinear, bicubic, lanczos) against torch CPU, same shapes.

Plain script (no assertions): each case times ours and torch in alternating blocks
(benchmarks/timing.py), takes the medians and prints the times and the ratio ours/torch.

    python benchmarks/bench_layers.py [--repeats 25] [--threads 2] [--only TEXT]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.nn as nn  # noqa: E402
import tinygrad_cv.nn.functional as F  # noqa: E402
from benchmarks.timing import median_times  # noqa: E402


class Resize(nn.Module):
    """``interpolate(x, **options)`` as a layer (torch's Upsample takes no ``antialias``)."""

    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, x):
        return F.interpolate(x, **self.options)


class TorchResize(torch.nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, x):
        return torch.nn.functional.interpolate(x, **self.options)


def _resize_pair(**options):
    return lambda: Resize(**options), lambda: TorchResize(**options)


CASES = [
    ("Conv2d 3x3 32->32 16x16 b64 pad1", lambda: nn.Conv2d(32, 32, 3, padding=1),
     lambda: torch.nn.Conv2d(32, 32, 3, padding=1), (64, 32, 16, 16)),
    ("Conv2d 3x3 1->32 28x28 b128 pad1", lambda: nn.Conv2d(1, 32, 3, padding=1),
     lambda: torch.nn.Conv2d(1, 32, 3, padding=1), (128, 1, 28, 28)),
    ("Conv2d 3x3 32->64 14x14 b128 pad1", lambda: nn.Conv2d(32, 64, 3, padding=1),
     lambda: torch.nn.Conv2d(32, 64, 3, padding=1), (128, 32, 14, 14)),
    ("Conv2d 3x3 s2 64->64 16x16 b32", lambda: nn.Conv2d(64, 64, 3, stride=2, padding=1),
     lambda: torch.nn.Conv2d(64, 64, 3, stride=2, padding=1), (32, 64, 16, 16)),
    ("MaxPool2d 2x2 32ch 28x28 b128", lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2),
     (128, 32, 28, 28)),
    ("MaxPool2d 3x3 s2 p1 64ch 16x16 b64", lambda: nn.MaxPool2d(3, 2, 1),
     lambda: torch.nn.MaxPool2d(3, 2, 1), (64, 64, 16, 16)),
    ("BatchNorm2d 32ch 28x28 b128", lambda: nn.BatchNorm2d(32), lambda: torch.nn.BatchNorm2d(32),
     (128, 32, 28, 28)),
    ("BatchNorm2d 64ch 14x14 b128", lambda: nn.BatchNorm2d(64), lambda: torch.nn.BatchNorm2d(64),
     (128, 64, 14, 14)),
    ("interpolate aa bilinear /4 3ch 256 b16",
     *_resize_pair(scale_factor=0.25, mode="bilinear", antialias=True), (16, 3, 256, 256)),
    ("interpolate aa bicubic /4 3ch 256 b16",
     *_resize_pair(scale_factor=0.25, mode="bicubic", antialias=True), (16, 3, 256, 256)),
    ("interpolate aa lanczos /4 3ch 256 b16",
     *_resize_pair(scale_factor=0.25, mode="lanczos", antialias=True), (16, 3, 256, 256)),
    ("interpolate aa bilinear /2 3ch 2048 b1",
     *_resize_pair(scale_factor=0.5, mode="bilinear", antialias=True), (1, 3, 2048, 2048)),
]


def _step_ours(layer, x, gy):
    y = layer(x)
    y.backward(gy)


def _step_torch(layer, x, gy):
    y = layer(x)
    y.backward(gy)


def bench(name, make_ours, make_torch, shape, repeats):
    rng = np.random.default_rng(0)
    xn = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = make_ours(), make_torch()
    ours.load_state_dict(theirs.state_dict())
    xo, xt = tg.Tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    with torch.no_grad():
        out_shape = tuple(theirs(xt).shape)
    gyn = rng.standard_normal(out_shape).astype(np.float32)
    gyo, gyt = tg.Tensor(gyn), torch.tensor(gyn)
    for _ in range(3):
        _step_ours(ours, xo, gyo)
        _step_torch(theirs, xt, gyt)
    t_ours, t_torch = median_times([lambda: _step_ours(ours, xo, gyo),
                                    lambda: _step_torch(theirs, xt, gyt)], repeats)
    mo, mt = t_ours * 1e3, t_torch * 1e3
    print(f"{name:<38} {mo:9.2f} {mt:9.2f} {mo / mt:7.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, numpy {np.__version__}; "
          f"forward+backward, medians of {args.repeats} runs in alternating blocks (ms)")
    print(f"{'case':<38} {'ours':>9} {'torch':>9} {'ratio':>7}")
    for case in CASES:
        if args.only in case[0]:
            bench(*case, args.repeats)


if __name__ == "__main__":
    main()
