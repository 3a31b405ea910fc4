"""Side-by-side speed and memory of tinygrad_cv and PyTorch on the same work, in one process.

    python benchmarks/run.py                 # CPU: numpy vs torch CPU
    python benchmarks/run.py --device cuda   # GPU: cupy vs torch CUDA (when present)
    python benchmarks/run.py --cases a,c,g --repeats 15

Each case builds the same model in both frameworks (same shapes, same hyper-parameters), then
times them in alternating blocks (``benchmarks/timing.py``); the table gives medians and the
ratio ours/torch (below 1.0 means we are faster), then the median minor page faults of one
timed run of each (the frameworks share the process's C heap, so how often one gets fresh
pages can depend on what the other allocated and freed).  Case (f) runs each framework's CNN step in a fresh
subprocess and compares the growth of peak resident memory.  No assertions: a report.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
from benchmarks.timing import faults_text, median_times  # noqa: E402
from benchmarks.twins import copy_torch_weights, twin_inputs  # noqa: E402
from tinygrad_cv import nn, optim  # noqa: E402
import tinygrad_cv.nn.functional as F  # noqa: E402


# ---- the cases: each returns (ours_step, torch_step, flops_or_None) -----------------------------
def _sync(device):
    tg.backend.synchronize(device)
    if device == "cuda":
        torch.cuda.synchronize()


def case_mlp(device):
    """(a) MLP 64-512-512-10 train step, batch 256, Adam."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 64)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    tm = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                             torch.nn.ReLU(), torch.nn.Linear(512, 10)).to(device)
    om = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                       nn.Linear(512, 10)).to(device)
    copy_torch_weights(om, tm, device)
    return _train_pair(om, tm, x, y, device)


def _cnn_models():
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.BatchNorm2d(64), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    om = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    return om, tm


def case_cnn(device):
    """(b) CNN train step, batch 128, 1x28x28, conv32-BN-ReLU-pool-conv64-BN-ReLU-pool-FC128-FC10, Adam."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    om, tm = _cnn_models()
    copy_torch_weights(om, tm.to(device), device)
    return _train_pair(om, tm, x, y, device)


def _train_pair(om, tm, x, y, device):
    ox, oy = tg.tensor(x, device=device), tg.tensor(y, device=device)
    tx, ty = torch.tensor(x, device=device), torch.tensor(y, device=device)
    oopt = optim.Adam(om.parameters(), lr=1e-3)
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3)

    def ours():
        oopt.zero_grad()
        loss = F.cross_entropy(om(ox), oy)
        loss.backward()
        oopt.step()

    def theirs():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        topt.step()

    return ours, theirs, None


def case_conv(device):
    """(c) Conv2d 3x3 32->32, 16x16, batch 64, forward+backward."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 16, 16)).astype(np.float32)
    tm = torch.nn.Conv2d(32, 32, 3, padding=1).to(device)
    om = nn.Conv2d(32, 32, 3, padding=1).to(device)
    copy_torch_weights(om, tm, device)
    ox, tx = twin_inputs(x, device)

    def ours():
        om(ox).sum().backward()

    def theirs():
        tm(tx).sum().backward()

    flops = 3 * 2 * 64 * 16 * 16 * 32 * 32 * 9  # forward + input grad + weight grad GEMMs
    return ours, theirs, flops


def case_lstm(device):
    """(d) LSTM seq 32, batch 64, input 128, hidden 256, forward+backward."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 128)).astype(np.float32)
    tm = torch.nn.LSTM(128, 256).to(device)
    om = nn.LSTM(128, 256).to(device)
    copy_torch_weights(om, tm, device)
    ox, tx = twin_inputs(x, device)

    def ours():
        out, _ = om(ox)
        out.sum().backward()

    def theirs():
        out, _ = tm(tx)
        out.sum().backward()

    return ours, theirs, None


def case_transformer(device):
    """(e) TransformerEncoderLayer d=128, 4 heads, seq 64, batch 32, forward+backward."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 128)).astype(np.float32)
    tm = torch.nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0,
                                          batch_first=True).to(device)
    om = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0,
                                    batch_first=True).to(device)
    copy_torch_weights(om, tm, device)
    tm.train()
    om.train()
    ox, tx = twin_inputs(x, device)

    def ours():
        om(ox).sum().backward()

    def theirs():
        tm(tx).sum().backward()

    return ours, theirs, None


def case_tiny_ops(device):
    """(g) 1,000 tiny ops (8x8 mul/add/tanh chain) forward + backward: per-op overhead."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 8)).astype(np.float32)
    ox, tx = twin_inputs(x, device)

    def chain(v):
        for _ in range(333):
            v = (v * 0.5 + 0.1).tanh()
        return v.sum()

    def ours():
        chain(ox).backward()

    def theirs():
        chain(tx).backward()

    return ours, theirs, None


CASES = {
    "a": ("MLP 64-512-512-10 train step (b=256, Adam)", case_mlp),
    "b": ("CNN train step (b=128, 1x28x28, Adam)", case_cnn),
    "c": ("Conv2d 3x3 32->32 16x16 b=64 fwd+bwd", case_conv),
    "d": ("LSTM T=32 b=64 in=128 h=256 fwd+bwd", case_lstm),
    "e": ("TransformerEncoderLayer d=128 h=4 T=64 b=32 fwd+bwd", case_transformer),
    "g": ("1,000 tiny ops fwd+bwd (per-op overhead)", case_tiny_ops),
}


def gemm_gflops(device, repeats=20):
    """Achieved GFLOP/s of a float32 256x512x512 GEMM on this machine (the yardstick)."""
    xp = tg.backend.module_for_device(device)
    a = xp.ones((256, 512), dtype="float32")
    b = xp.ones((512, 512), dtype="float32")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        tg.backend.synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * 256 * 512 * 512 / statistics.median(times) / 1e9


# ---- (f) peak memory, one framework per fresh subprocess ----------------------------------------
_MEM_SCRIPT = r"""
import resource, sys, os
sys.path.insert(0, {root!r})
import numpy as np
import benchmarks.run as R
which = {which!r}
om, tm = R._cnn_models()
rng = np.random.default_rng(0)
x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
y = rng.integers(0, 10, 128)
R.copy_torch_weights(om, tm)
ours, theirs, _ = R._train_pair(om, tm, x, y, "cpu")
step = ours if which == "ours" else theirs


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


try:   # Linux: reset the resident high-water mark to the current size, then read it back
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base, peak = status_kb("VmRSS"), lambda: status_kb("VmHWM")
except OSError:   # elsewhere: ru_maxrss (on Linux it would carry the parent's peak over exec)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(3):
    step()
print(peak() - base)
"""


def peak_memory_mb(which):
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    out = subprocess.run([sys.executable, "-c", _MEM_SCRIPT.format(root=root, which=which)],
                         capture_output=True, text=True, check=True, cwd=root)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cases", default="a,b,c,d,e,f,g",
                        help="comma-separated case letters (a-g)")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads of both frameworks (default: each one's own "
                             "choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        tg.set_num_threads(args.threads)
    if args.device == "cuda" and not (tg.cuda_available() and torch.cuda.is_available()):
        parser.error("--device cuda needs CuPy and a CUDA build of torch with a GPU")
    tg.manual_seed(0)
    torch.manual_seed(0)
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); ours {tg.get_num_threads()} threads; "
          f"device {args.device}")
    yard = gemm_gflops(args.device)
    print(f"float32 GEMM 256x512x512 via the array library: {yard:.0f} GFLOP/s")
    print()
    print(f"{'':<4}{'case':<52}{'ours ms':>10}{'torch ms':>10}{'ratio':>8}")
    for key in wanted:
        if key == "f":
            if args.device != "cpu":
                continue
            ours_mb, torch_mb = peak_memory_mb("ours"), peak_memory_mb("torch")
            print(f"{'f':<4}{'peak memory growth of (b), MB':<52}{ours_mb:>10.1f}{torch_mb:>10.1f}"
                  f"{ours_mb / max(torch_mb, 1e-9):>8.2f}")
            continue
        title, build = CASES[key]
        ours, theirs, flops = build(args.device)
        faults = []
        t_ours, t_theirs = median_times([ours, theirs], args.repeats,
                                        sync=lambda: _sync(args.device), faults=faults)
        line = (f"{key:<4}{title:<52}{t_ours * 1e3:>10.2f}{t_theirs * 1e3:>10.2f}"
                f"{t_ours / t_theirs:>8.2f}")
        if flops:
            line += f"   ({flops / t_ours / 1e9:.0f} GFLOP/s ours, {flops / t_theirs / 1e9:.0f} torch)"
        if None not in faults:
            line += f"   page faults per run {faults_text(faults)}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
