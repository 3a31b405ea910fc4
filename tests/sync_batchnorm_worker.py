"""Run under ``mpiexec -n R``: SyncBatchNorm on each rank's part of a global batch against
BatchNorm on the whole batch in one process (outputs, input gradients, the ranks' summed
parameter gradients, running statistics).  Writes ``OUT_DIR/rank{r}.json``:
``{check: [ok, detail]}``.  Also: DistributedDataParallel over a model with SyncBatchNorm
trains like one process on the global batch.

    mpiexec -n 2 python tests/sync_batchnorm_worker.py OUT_DIR
"""
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
import tinygrad_cv.distributed as dist  # noqa: E402
import tinygrad_cv.nn as nn  # noqa: E402

RESULTS = {}


def close(name, got, want, tol=1e-10):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = float(np.abs(got - want).max()) if got.shape == want.shape and got.size else None
    ok = got.shape == want.shape and (got.size == 0 or err <= tol)
    RESULTS[name] = [bool(ok), f"shape {got.shape} vs {want.shape}, max error {err}"]


def net(dims, momentum):
    tg.manual_seed(0)
    conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(2, 3, 3, padding=1).double()
    bn = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(3, momentum=momentum).double()
    with tg.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return nn.Sequential(conv, bn, nn.Tanh())


def compare(rank, world, dims, momentum, steps=2):
    tag = f"{dims}d momentum={momentum}"
    rng = np.random.default_rng(7)
    sizes = [2 + r for r in range(world)]            # ranks hold different batch sizes
    spatial = (6,) if dims == 1 else (4, 5)
    start, stop = sum(sizes[:rank]), sum(sizes[:rank + 1])
    reference = net(dims, momentum)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(net(dims, momentum))
    RESULTS[f"{tag}: converted"] = [type(synced[1]) is nn.SyncBatchNorm, repr(synced)]
    for step in range(steps):
        x = rng.standard_normal((sum(sizes), 2) + spatial) * 2 + 3
        gy = rng.standard_normal((sum(sizes), 3) + spatial)
        xr = tg.tensor(x, requires_grad=True)
        yr = reference(xr)
        (yr * tg.tensor(gy)).sum().backward()
        xs = tg.tensor(x[start:stop], requires_grad=True)
        ys = synced(xs)
        (ys * tg.tensor(gy[start:stop])).sum().backward()
        close(f"{tag} step {step}: output", ys.detach().numpy(), yr.detach().numpy()[start:stop])
        close(f"{tag} step {step}: input gradient", xs.grad.numpy(), xr.grad.numpy()[start:stop])
        for (name, p), q in zip(synced.named_parameters(), reference.parameters()):
            total = p.grad.detach().clone()
            dist.all_reduce(total)                   # the ranks' shares add up to the whole
            close(f"{tag} step {step}: {name} gradient summed over ranks", total.numpy(),
                  q.grad.numpy())
            p.grad = None
            q.grad = None
        for key, value in reference.state_dict().items():
            close(f"{tag} step {step}: {key}", synced.state_dict()[key].numpy(), value.numpy())
    synced.eval()
    reference.eval()
    x = rng.standard_normal((3, 2) + spatial)
    close(f"{tag}: eval output (running statistics, no sync)",
          synced(tg.tensor(x)).detach().numpy(), reference(tg.tensor(x)).detach().numpy())


def ddp_training(rank, world, steps=3):
    """DDP + SyncBatchNorm, equal shares, mean losses: the parameters after each SGD step
    equal one process trained on the global batch (BatchNorm statistics of the whole batch)."""
    rng = np.random.default_rng(11)
    per = 3
    model = dist.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(net(2, 0.1)))
    reference = net(2, 0.1)
    opt = tg.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    ref_opt = tg.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
    for step in range(steps):
        x = rng.standard_normal((per * world, 2, 4, 4)) + 1
        target = rng.standard_normal((per * world, 3, 4, 4))
        for m, o, xs, ts in ((model, opt, x[rank * per:(rank + 1) * per],
                              target[rank * per:(rank + 1) * per]),
                             (reference, ref_opt, x, target)):
            o.zero_grad()
            ((m(tg.tensor(xs)) - tg.tensor(ts)) ** 2).mean().backward()
            o.step()
        for (name, p), q in zip(model.module.named_parameters(), reference.parameters()):
            close(f"ddp step {step}: {name}", p.detach().numpy(), q.detach().numpy(), 1e-9)
        for key, value in reference.state_dict().items():
            close(f"ddp step {step}: {key}", model.module.state_dict()[key].numpy(),
                  value.numpy(), 1e-9)


def main(out):
    dist.init_process_group("mpi", timeout=60)
    rank, world = dist.get_rank(), dist.get_world_size()
    for dims, momentum in ((2, 0.1), (1, None)):
        try:
            compare(rank, world, dims, momentum)
        except Exception:  # noqa: BLE001 (recorded for the test to show)
            RESULTS[f"{dims}d momentum={momentum}"] = [False, traceback.format_exc()]
        dist.barrier()
    try:
        ddp_training(rank, world)
    except Exception:  # noqa: BLE001
        RESULTS["ddp"] = [False, traceback.format_exc()]
    dist.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(RESULTS, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
