"""Sequence models, ours vs torch CPU, forward + backward (plain script, no assertions).

Cases (issue 4 (d), (e) and the attention layer alone):
  LSTM       seq 32, batch 64, in 128, hidden 256
  encoder    TransformerEncoderLayer d=128, 4 heads, ff 512, seq 64, batch 32, dropout 0
  mha        MultiheadAttention d=128, 4 heads, seq 64, batch 32 (self-attention)

Both frameworks get the same weights (load_state_dict) and inputs; runs alternate between
them, and the median of ``--repeat`` runs is printed with the ratio ours/torch.

    python benchmarks/bench_sequence.py [--repeat 15] [--threads 2] [--device cpu|cuda]

Our GEMMs run in NumPy's BLAS, torch's in MKL/oneDNN (its CPU LSTM is oneDNN's fused RNN).
The header prints the kernel NumPy's OpenBLAS picked: on a virtual AVX-512 machine it may
report "Haswell" (AVX2, about half the AVX-512 throughput); ``OPENBLAS_CORETYPE=SkylakeX``
in the environment selects the AVX-512 kernels.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.nn as nn  # noqa: E402
from tinygrad_cv import backend  # noqa: E402
from benchmarks.timing import median_times  # noqa: E402
from benchmarks.twins import copy_torch_weights  # noqa: E402


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()
        backend.module_for_device("cuda").cuda.Device().synchronize()


def case_lstm(device):
    T, N, I, H = 32, 64, 128, 256
    theirs = torch.nn.LSTM(I, H).to(device)
    ours = copy_torch_weights(nn.LSTM(I, H), theirs, device)
    x = np.random.default_rng(0).standard_normal((T, N, I)).astype("float32")
    xt = torch.tensor(x, device=device)
    xo = tg.Tensor(backend.to_device(x, device))

    def run_ours():
        xi = xo.detach().requires_grad_()
        out, (h, c) = ours(xi)
        out.sum().backward()

    def run_torch():
        xi = xt.detach().requires_grad_()
        out, (h, c) = theirs(xi)
        out.sum().backward()

    return "LSTM T32 N64 I128 H256", run_ours, run_torch


def case_encoder(device):
    L, N, E, heads = 64, 32, 128, 4
    theirs = torch.nn.TransformerEncoderLayer(E, heads, dim_feedforward=512, dropout=0.0).to(device)
    ours = copy_torch_weights(
        nn.TransformerEncoderLayer(E, heads, dim_feedforward=512, dropout=0.0), theirs, device)
    x = np.random.default_rng(0).standard_normal((L, N, E)).astype("float32")
    xt = torch.tensor(x, device=device)
    xo = tg.Tensor(backend.to_device(x, device))

    def run_ours():
        xi = xo.detach().requires_grad_()
        ours(xi).sum().backward()

    def run_torch():
        xi = xt.detach().requires_grad_()
        theirs(xi).sum().backward()

    return "TransformerEncoderLayer d128 h4 L64 N32", run_ours, run_torch


def case_mha(device):
    L, N, E, heads = 64, 32, 128, 4
    theirs = torch.nn.MultiheadAttention(E, heads).to(device)
    ours = copy_torch_weights(nn.MultiheadAttention(E, heads), theirs, device)
    x = np.random.default_rng(0).standard_normal((L, N, E)).astype("float32")
    xt = torch.tensor(x, device=device)
    xo = tg.Tensor(backend.to_device(x, device))

    def run_ours():
        xi = xo.detach().requires_grad_()
        ours(xi, xi, xi, need_weights=False)[0].sum().backward()

    def run_torch():
        xi = xt.detach().requires_grad_()
        theirs(xi, xi, xi, need_weights=False)[0].sum().backward()

    return "MultiheadAttention d128 h4 L64 N32", run_ours, run_torch


def blas_info():
    """'openblas Haswell, 2 threads' or similar (needs threadpoolctl; else 'unknown')."""
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (install threadpoolctl to see it)"
    for pool in threadpoolctl.threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return (f"{pool.get('internal_api')} {pool.get('architecture', '')}, "
                    f"{pool.get('num_threads')} threads")
    return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cases", default="lstm,encoder,mha")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    tg.manual_seed(0)
    torch.manual_seed(0)
    cases = {"lstm": case_lstm, "encoder": case_encoder, "mha": case_mha}
    print(f"device {device}, torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"median of {args.repeat}")
    print(f"numpy BLAS: {blas_info()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print(f"{'case':42s} {'ours ms':>10s} {'torch ms':>10s} {'ours/torch':>11s}")
    for name in args.cases.split(","):
        label, run_ours, run_torch = cases[name.strip()](device)
        ours, theirs = (1e3 * t for t in median_times([run_ours, run_torch], args.repeat,
                                                       sync=lambda: _sync(device)))
        print(f"{label:42s} {ours:10.2f} {theirs:10.2f} {ours / theirs:11.2f}", flush=True)


if __name__ == "__main__":
    main()
