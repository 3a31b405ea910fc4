"""Forward+backward time of the 3-D layers (Conv3d, ConvTranspose3d, the 3-D poolings,
BatchNorm3d, InstanceNorm3d, 5-D Upsample) against torch CPU, same shapes.

Plain script (no assertions): ``bench_layers.bench`` times ours and torch in alternating
blocks (benchmarks/timing.py) and prints the medians and the ratio ours/torch.  The last line
times the 2-D convolution that Conv3d's first case runs (its depth columns as channels), so
the cost of the 3-D layer's own steps can be read off.

    python benchmarks/bench_3d.py [--repeats 15] [--threads 1]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.nn as nn  # noqa: E402
from benchmarks.bench_layers import bench  # noqa: E402


def _pair(name, *args, **kw):
    return lambda: getattr(nn, name)(*args, **kw), lambda: getattr(torch.nn, name)(*args, **kw)


CASES = [
    ("Conv3d 3x3x3 16->32 16x32x32 b2 pad1", *_pair("Conv3d", 16, 32, 3, padding=1),
     (2, 16, 16, 32, 32)),
    ("Conv3d 3x3x3 s2 32->32 8x16x16 b2", *_pair("Conv3d", 32, 32, 3, stride=2, padding=1),
     (2, 32, 8, 16, 16)),
    ("Conv3d 3x7x7 s(1,2,2) 3->16 8x32x32 b4", *_pair("Conv3d", 3, 16, (3, 7, 7), stride=(1, 2, 2),
                                                     padding=(1, 3, 3)), (4, 3, 8, 32, 32)),
    ("ConvTranspose3d 3 s2 32->32 8x16x16 b2",
     *_pair("ConvTranspose3d", 32, 32, 3, stride=2, padding=1, output_padding=1),
     (2, 32, 8, 16, 16)),
    ("ConvTranspose3d 2 s2 32->16 8x16x16 b2", *_pair("ConvTranspose3d", 32, 16, 2, stride=2),
     (2, 32, 8, 16, 16)),
    ("MaxPool3d 2 32ch 16x32x32 b2", *_pair("MaxPool3d", 2), (2, 32, 16, 32, 32)),
    ("MaxPool3d 3 s2 p1 32ch 16x32x32 b2", *_pair("MaxPool3d", 3, 2, 1), (2, 32, 16, 32, 32)),
    ("AvgPool3d 2 32ch 16x32x32 b2", *_pair("AvgPool3d", 2), (2, 32, 16, 32, 32)),
    ("AvgPool3d 3 s2 p1 32ch 16x32x32 b2", *_pair("AvgPool3d", 3, 2, 1), (2, 32, 16, 32, 32)),
    ("AdaptiveAvgPool3d 3 16ch 8x16x16 b2", *_pair("AdaptiveAvgPool3d", 3), (2, 16, 8, 16, 16)),
    ("AdaptiveMaxPool3d 3 16ch 8x16x16 b2", *_pair("AdaptiveMaxPool3d", 3), (2, 16, 8, 16, 16)),
    ("BatchNorm3d 32ch 16x32x32 b2", *_pair("BatchNorm3d", 32), (2, 32, 16, 32, 32)),
    ("InstanceNorm3d affine 16ch 8x16x16 b2", *_pair("InstanceNorm3d", 16, affine=True),
     (2, 16, 8, 16, 16)),
    ("Upsample x2 nearest 16ch 8x16x16 b2", *_pair("Upsample", scale_factor=2),
     (2, 16, 8, 16, 16)),
    ("Upsample x2 trilinear 16ch 8x16x16 b2", *_pair("Upsample", scale_factor=2, mode="trilinear"),
     (2, 16, 8, 16, 16)),
    ("(its 2-D twin) Conv2d 3x3 48->32 32x32 b32", *_pair("Conv2d", 48, 32, 3, padding=1),
     (32, 48, 32, 32)),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="threads of both frameworks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tg.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, numpy {np.__version__}; "
          f"forward+backward, medians of {args.repeats} runs in alternating blocks (ms)")
    print(f"{'case':<38} {'ours':>9} {'torch':>9} {'ratio':>7}")
    for case in CASES:
        bench(*case, args.repeats)


if __name__ == "__main__":
    main()
