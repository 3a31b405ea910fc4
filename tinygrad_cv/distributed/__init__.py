"""Data-parallel training on existing engines: MPI (mpi4py) on CPUs, NCCL (cupyx.distributed)
on GPUs, with torch.distributed's names.

    # train.py, started with:  mpiexec -n 2 python train.py
    import tinygrad_cv.distributed as dist
    dist.init_process_group("mpi")                       # "nccl" for GPU tensors
    model = dist.DistributedDataParallel(Net())          # = tinygrad_cv.nn.parallel.Distri...
    sampler = dist.DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=global_batch // dist.get_world_size(),
                        sampler=sampler)
    ...                                                  # the usual loop
    dist.destroy_process_group()

Modules: ``process_group`` (the group and the collectives), ``mpi_backend``,
``nccl_backend``, ``ddp`` (``DistributedDataParallel``), ``sampler``
(``DistributedSampler``), ``launcher`` (finding ``mpiexec``).  Importing this package does
not import mpi4py or CuPy: ``init_process_group`` does.
"""
from .process_group import (BACKENDS, DEFAULT_TIMEOUT, ReduceOp, all_gather,  # noqa: F401
                            all_gather_into_tensor, all_reduce, barrier, broadcast,
                            destroy_process_group, get_backend, get_rank, get_world_size,
                            init_process_group, is_available, is_initialized, is_mpi_available,
                            is_nccl_available)
from .mpi_backend import DistributedTimeoutError  # noqa: F401

_LAZY = {"DistributedDataParallel": ("ddp", "DistributedDataParallel"),
         "DistributedSampler": ("sampler", "DistributedSampler")}


def __getattr__(name):
    """``DistributedDataParallel`` and ``DistributedSampler`` load with ``nn`` and ``data``
    on first use, so ``import tinygrad_cv`` stays light."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
