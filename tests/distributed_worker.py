"""The program the distributed tests start under ``mpiexec -n 2``: one scenario per run.

    mpiexec -n 2 python tests/distributed_worker.py main OUT_DIR
    mpiexec -n 2 python tests/distributed_worker.py raise|exit|crash|abort-at-exit|cli-fails OUT

``main`` runs every check of one launch (collectives, DDP against one process, no_sync,
buffers, a mismatched world size) and writes ``OUT_DIR/rank{r}.json``: ``{check: [ok,
detail]}``; the tests read those.  The other scenarios make rank 1 fail while rank 0 waits in
a collective (``cli-fails``: inside ``tinygrad-cv train --distributed``).
"""
import contextlib
import io
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.distributed as dist  # noqa: E402
import tinygrad_cv.nn as nn  # noqa: E402
import tinygrad_cv.nn.functional as F  # noqa: E402
from tinygrad_cv import optim  # noqa: E402
from tinygrad_cv.data import DataLoader, TensorDataset  # noqa: E402

RESULTS = {}


def check(name, ok, detail=""):
    RESULTS[name] = [bool(ok), str(detail)]


def run_check(name, fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 (recorded for the test to show)
        check(name, False, traceback.format_exc())


# ---- collectives ------------------------------------------------------------------------------
DTYPES = ("float32", "float64", "float16", "int32", "int64", "uint8", "bool")
SHAPES = ((), (7,), (3, 4), (2, 3, 5))


def base(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    return rng.integers(0, 5, size=shape).astype(dtype)


def collectives(rank, world):
    for dtype in DTYPES:
        for k, shape in enumerate(SHAPES):
            tag = f"{dtype}{list(shape)}"
            per_rank = [base(shape, dtype, 100 * k + r) for r in range(world)]
            mine = per_rank[rank]
            stacked = np.stack(per_rank)
            ops = {"sum": stacked.any(0) if dtype == "bool" else stacked.sum(0).astype(dtype),
                   "max": stacked.max(0), "min": stacked.min(0)}
            if dtype.startswith("float"):
                ops["mean"] = (stacked.astype("float64").mean(0)).astype(dtype)
            for op, want in ops.items():
                t = tg.Tensor(mine.copy())
                dist.all_reduce(t, op=op)
                check(f"all_reduce {op} {tag}", np.array_equal(t.array, want)
                      and t.array.dtype == mine.dtype, f"{t.array} != {want}")
            for src in range(world):
                t = tg.Tensor(mine.copy())
                dist.broadcast(t, src=src)
                check(f"broadcast src={src} {tag}", np.array_equal(t.array, per_rank[src]))
            outs = [tg.zeros(*shape, dtype=dtype) for _ in range(world)]
            dist.all_gather(outs, tg.Tensor(mine.copy()))
            check(f"all_gather {tag}", all(np.array_equal(o.array, p)
                                           for o, p in zip(outs, per_rank)))
    # a non-contiguous tensor is reduced in place through a contiguous copy
    full = np.arange(12, dtype="float32").reshape(3, 4) * (rank + 1)
    t = tg.Tensor.wrap(full.T)
    dist.all_reduce(t)
    want = (np.arange(12, dtype="float32").reshape(3, 4) * sum(range(1, world + 1))).T
    check("all_reduce non-contiguous", np.array_equal(full.T, want))
    out = tg.zeros(world * 2, 3)
    dist.all_gather_into_tensor(out, tg.full((2, 3), float(rank)))
    check("all_gather_into_tensor", np.array_equal(
        out.array, np.repeat(np.arange(world, dtype="float32"), 6).reshape(world * 2, 3)))
    try:
        dist.all_reduce(tg.tensor([1, 2]), op="mean")
        check("all_reduce mean of ints refused", False, "no error")
    except TypeError as exc:
        check("all_reduce mean of ints refused", "floating" in str(exc), exc)


# ---- DDP against one process ------------------------------------------------------------------
class SmallNet(nn.Module):
    """conv - relu - maxpool - linear: no BatchNorm, no dropout."""

    def __init__(self, batchnorm=False):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4) if batchnorm else None
        self.fc1 = nn.Linear(4 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        h = self.conv(x)
        if self.bn is not None:
            h = self.bn(h)
        h = F.max_pool2d(F.relu(h), 2)
        return self.fc2(F.relu(self.fc1(h.reshape(h.shape[0], -1))))


def data(n=40):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, 1, 8, 8)).astype("float32")
    y = rng.integers(0, 3, size=n).astype("int64")
    return TensorDataset(tg.Tensor(x), tg.Tensor(y))


def flat_params(model):
    return np.concatenate([p.array.ravel() for p in model.parameters()])


class ShardLoader:
    """Batches of a DistributedSampler's shard (what DataLoader(sampler=...) yields)."""

    def __init__(self, dataset, batch_size, sampler):
        self.dataset, self.batch_size, self.sampler = dataset, batch_size, sampler

    def set_epoch(self, epoch):
        self.sampler.set_epoch(epoch)

    def __len__(self):
        return -(-len(self.sampler) // self.batch_size)

    def __iter__(self):
        order = self.sampler.index_array()
        for start in range(0, len(order), self.batch_size):
            yield self.dataset.get_batch(order[start:start + self.batch_size])


def train(model, loader, optimizer, epochs, on_step=None):
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if on_step is not None:
                on_step()


def ddp_matches_one_process(rank, world):
    global_batch, seed, epochs = 8, 3, 2
    ds = data()
    tg.manual_seed(100 + rank)            # different initial weights: the wrap must fix them
    model = dist.DistributedDataParallel(SmallNet(), bucket_mb=0.001)   # several buckets
    check("ddp several buckets", len(model.bucket_sizes) > 1, model.bucket_sizes)
    sampler = dist.DistributedSampler(ds, shuffle=True, seed=seed)
    loader = ShardLoader(ds, global_batch // world, sampler)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    same_every_step = []

    def after_step():
        mine = tg.Tensor(flat_params(model.module))
        parts = [tg.zeros_like(mine) for _ in range(world)]
        dist.all_gather(parts, mine)
        same_every_step.append(all(np.array_equal(p.array, parts[0].array) for p in parts))

    train(model, loader, opt, epochs, after_step)
    check("ddp identical parameters after every step",
          len(same_every_step) == epochs * len(loader) and all(same_every_step),
          same_every_step)
    if rank == 0:
        tg.manual_seed(100)
        ref = SmallNet()
        ref_loader = DataLoader(ds, global_batch, shuffle=True, seed=seed)
        train(ref, ref_loader, optim.Adam(ref.parameters(), lr=1e-2), epochs)
        a, b = flat_params(model.module), flat_params(ref)
        moved = np.abs(b - flat_params(_initial(100))).max()
        check("ddp equals one process on the global batch",
              np.allclose(a, b, rtol=1e-5, atol=1e-6) and moved > 1e-3,
              f"max |diff| {np.abs(a - b).max():.3g}, parameters moved {moved:.3g}")
    keys = list(model.state_dict())
    check("ddp state_dict has the module. prefix", keys and all(k.startswith("module.")
                                                                for k in keys), keys[:3])


def _initial(seed):
    tg.manual_seed(seed)
    return SmallNet()


def no_sync_accumulates(rank, world):
    ds = data(24)
    tg.manual_seed(5)
    model = dist.DistributedDataParallel(SmallNet())
    sampler = dist.DistributedSampler(ds, shuffle=False)
    micro = list(ShardLoader(ds, 4, sampler))       # 3 micro-batches of 4 per rank
    with model.no_sync():
        for x, y in micro[:-1]:
            F.cross_entropy(model(x), y).backward()
    local = [p.grad.array.copy() for p in model.parameters()]
    x, y = micro[-1]
    F.cross_entropy(model(x), y).backward()
    grads = [p.grad.array for p in model.parameters()]
    if rank == 0:
        tg.manual_seed(5)
        ref = SmallNet()
        order = np.arange(24)
        for m in range(3):       # global micro-batch m = the ranks' micro-batch m together
            idx = np.concatenate([order[r::world][4 * m:4 * m + 4] for r in range(world)])
            xb, yb = ds.get_batch(idx)
            F.cross_entropy(ref(xb), yb).backward()
        ok = all(np.allclose(g, p.grad.array, rtol=1e-5, atol=1e-6)
                 for g, p in zip(grads, ref.parameters()))
        local_differs = any(not np.allclose(g, p.grad.array, atol=1e-6)
                            for g, p in zip(local, ref.parameters()))
        check("no_sync accumulates locally, then averages the total", ok and local_differs,
              f"ok={ok} local_differs={local_differs}")


def buffers_follow_rank0(rank, world):
    tg.manual_seed(9 + rank)
    inner = SmallNet(batchnorm=True)
    inner.bn.running_mean.array[...] = rank + 1.0
    model = dist.DistributedDataParallel(inner)

    def gathered():
        mine = tg.Tensor(np.concatenate([b.array.ravel().astype("float64")
                                         for b in model.module.buffers()]))
        parts = [tg.zeros_like(mine) for _ in range(world)]
        dist.all_gather(parts, mine)
        return [p.array for p in parts]

    at_wrap = gathered()
    check("ddp broadcasts buffers at wrap", all(np.array_equal(p, at_wrap[0]) for p in at_wrap)
          and at_wrap[0][0] == 1.0)
    x = tg.randn(6, 1, 8, 8) * (rank + 1.0)                 # different data per rank
    model(x)
    differ = gathered()
    model.sync_buffers()
    synced = gathered()
    check("sync_buffers copies rank 0's running statistics",
          not np.array_equal(differ[0], differ[1]) and np.array_equal(synced[0], synced[1])
          and np.array_equal(synced[0], differ[0]))


def unused_parameter_reported(rank, world):
    tg.manual_seed(3)
    net = SmallNet()
    net.spare = nn.Linear(2, 2)                  # never used in forward
    model = dist.DistributedDataParallel(net)
    x, y = data(4).get_batch(np.arange(4))
    F.cross_entropy(model(x), y).backward()
    try:
        model(x)
        check("unused parameter reported at the next forward", False, "no error")
    except RuntimeError as exc:
        check("unused parameter reported at the next forward",
              "2 trainable parameters got no gradient" in str(exc), exc)


def mismatched_world_size(rank, world):
    try:
        dist.init_process_group("mpi", world_size=world + 1)
        check("mismatched world size reported", False, "no error")
    except ValueError as exc:
        text = str(exc)
        check("mismatched world size reported",
              f"world_size={world + 1}" in text and f"mpiexec -n {world}" in text, text)
    check("no group after a mismatch", not dist.is_initialized())


def cli(argv):
    """``tinygrad-cv ARGV`` in this process: (exit status, stdout + stderr)."""
    from tinygrad_cv.cli import main as cli_main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            code = cli_main(argv)
        except SystemExit as exc:       # argparse / usage errors
            code = exc.code
    return code, buf.getvalue()


def cli_distributed(rank, world, out):
    """``tinygrad-cv train --distributed`` for 1 epoch, resumed to 2, against one process."""
    run = os.path.join(out, "cli")
    common = ["train", "--model", "softmax", "--out", run, "--no-progress"]
    code, text = cli(common + ["--distributed", "--batch-size", "63"])
    check("cli global batch not divisible by the ranks", code == 2 and
          "multiple of 2" in text and not os.path.exists(os.path.join(run, "metrics.json")), text)
    first = cli(common + ["--distributed", "--epochs", "1"])
    resumed = cli(common + ["--distributed", "--epochs", "2", "--resume"])
    ok = first[0] == 0 and resumed[0] == 0
    if rank != 0:
        check("cli other ranks print nothing", ok and not first[1] and not resumed[1],
              first[1] + resumed[1])
        return
    check("cli rank 0 reports", ok and "test accuracy" in first[1] and
          "resuming softmax from epoch 1" in resumed[1], first[1] + resumed[1])
    check("cli writes one set of outputs", sorted(os.listdir(run)) ==
          ["checkpoint.safetensors", "curves.png", "metrics.json"], os.listdir(run))
    ref = os.path.join(out, "cli-one-process")
    one = cli(["train", "--model", "softmax", "--out", ref, "--no-progress", "--epochs", "2"])
    a = tg.load(os.path.join(run, "checkpoint.safetensors"))
    b = tg.load(os.path.join(ref, "checkpoint.safetensors"))
    diffs = {k: float(np.abs(a["model"][k].array - b["model"][k].array).max())
             for k in b["model"]}
    ha, hb = a["trainer"]["history"], b["trainer"]["history"]
    same_history = len(ha) == len(hb) == 2 and all(
        abs(x[k] - y[k]) < 1e-6 for x, y in zip(ha, hb)
        for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"))
    check("cli distributed and resumed run equals one process", one[0] == 0 and
          max(diffs.values()) < 1e-5 and same_history, f"{diffs} {ha} {hb} {one[1]}")
    with open(os.path.join(run, "metrics.json")) as f:
        check("cli metrics record the world size", json.load(f).get("world_size") == world)


def main(out):
    from mpi4py import MPI   # the launcher's numbers, to check ours against

    rank0, world0 = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
    run_check("mismatched world size reported", lambda: mismatched_world_size(rank0, world0))
    dist.init_process_group("mpi", timeout=60)
    rank, world = dist.get_rank(), dist.get_world_size()
    check("rank and world size", (rank, world) == (rank0, world0), (rank, world))
    try:
        dist.init_process_group("mpi")
        check("second init refused", False, "no error")
    except RuntimeError as exc:
        check("second init refused", "already" in str(exc), exc)
    for name, fn in (("collectives", collectives), ("ddp", ddp_matches_one_process),
                     ("no_sync", no_sync_accumulates), ("buffers", buffers_follow_rank0),
                     ("unused", unused_parameter_reported)):
        run_check(name, lambda fn=fn: fn(rank, world))
        dist.barrier()
    dist.destroy_process_group()
    run_check("cli", lambda: cli_distributed(rank, world, out))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)


class Tee:
    """A text stream writing (and flushing) to several."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def cli_fails_on_one_rank(out):
    """tinygrad-cv train --distributed where rank 1's training raises: the CLI reports it on
    rank 1 and the job must end (rank 0 is waiting in a collective with the default 1800 s
    timeout)."""
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() == 1:
        from models import training

        def broken(self, epoch):
            raise RuntimeError("rank 1's training failed on purpose")
        training.Trainer.train_epoch = broken
    rank = MPI.COMM_WORLD.Get_rank()
    code, text = cli(["train", "--model", "softmax", "--distributed", "--epochs", "2",
                      "--out", os.path.join(out, "cli-fails"), "--no-progress"])
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:   # (the abort may cut stdout)
        f.write(f"{text}rank {rank} cli exit status {code}\n")
    sys.exit(code)


def failing(out, how):
    dist.init_process_group("mpi", timeout=float(os.environ.get("TEST_DIST_TIMEOUT", "60")))
    rank = dist.get_rank()
    # what the rank reports goes to a file too: the launcher may cut the output of an abort
    sys.stderr = Tee(sys.stderr, open(os.path.join(out, f"rank{rank}.err"), "w"))
    t = tg.ones(3)
    if rank == 1:
        if how == "raise":
            raise ValueError("rank 1 failed on purpose")
        if how == "exit":
            sys.stdout.flush()
            sys.exit(0)               # leaves early: rank 0 must not wait for ever
        if how == "crash":
            os._exit(3)
        if how == "abort-at-exit":        # what tinygrad-cv train does on a failing rank
            print("rank 1 gives up", file=sys.stderr)
            dist.process_group.abort_at_exit(4)
            sys.exit(4)
    dist.all_reduce(t)               # rank 0 waits here for rank 1, which never comes
    print("rank 0 finished the all_reduce", flush=True)


if __name__ == "__main__":
    scenario, out_dir = sys.argv[1], sys.argv[2]
    if scenario == "main":
        main(out_dir)
    elif scenario == "cli-fails":
        cli_fails_on_one_rank(out_dir)
    else:
        failing(out_dir, scenario)
