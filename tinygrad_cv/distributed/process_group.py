"""The default process group and the collectives on Tensors (torch.distributed's names).

    import tinygrad_cv.distributed as dist
    dist.init_process_group("mpi")            # under: mpiexec -n 2 python train.py
    t = tg.ones(3) * dist.get_rank()
    dist.all_reduce(t)                        # in place: t = sum over ranks   -> [1, 1, 1]
    dist.all_reduce(t, op="mean")             # in place: mean over ranks
    dist.broadcast(t, src=0)                  # in place: rank 0's values everywhere
    parts = [tg.zeros(3) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)                 # parts[r] = rank r's t

Collectives write into the tensor's raw array (``tensor.array``) in place, outside autograd,
like torch's.  ``op`` is ``'sum'``, ``'mean'`` (``'avg'``), ``'max'``, ``'min'`` or
``'prod'`` (also ``ReduceOp.SUM`` ...); on bool tensors sum/max are a logical or and
min/prod a logical and; ``'mean'`` needs a floating tensor.

A failure in one rank does not leave the others waiting: an uncaught exception in a rank
prints its traceback and aborts the whole MPI job (``MPI_Abort``: the launcher stops every
rank), and a collective that does not complete within ``timeout`` seconds (default 1800, as
torch) raises ``DistributedTimeoutError`` in the ranks still waiting (``mpi`` backend).
"""
from __future__ import annotations

import atexit
import datetime
import sys
import traceback

from .. import backend
from ..tensor import Tensor
from . import launcher

__all__ = ["ReduceOp", "init_process_group", "destroy_process_group", "is_initialized",
           "is_available", "is_mpi_available", "is_nccl_available", "get_backend", "get_rank",
           "get_world_size", "barrier", "all_reduce", "broadcast", "all_gather",
           "all_gather_into_tensor", "BACKENDS", "DEFAULT_TIMEOUT"]

BACKENDS = ("mpi", "nccl")
DEFAULT_TIMEOUT = 1800.0      # seconds (torch's default_pg_timeout, 30 minutes)


class ReduceOp:
    """Reduction names (torch's ``ReduceOp`` members; plain strings are accepted too)."""
    SUM = "sum"
    AVG = "mean"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    PRODUCT = "prod"


_OPS = {"sum": "sum", "mean": "mean", "avg": "mean", "max": "max", "min": "min",
        "prod": "prod", "product": "prod"}

_group = None            # the backend object of the default group, once initialised
_previous_excepthook = None
_abort_code = None       # abort_at_exit()'s code, until the next init_process_group
_at_exit_registered = False


def is_available() -> bool:
    """True: the package is always there (whether a backend can start is another matter)."""
    return True


def is_mpi_available() -> bool:
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_nccl_available() -> bool:
    """True when CuPy with a GPU and mpi4py (its start-up) are there."""
    return backend.cuda_available() and is_mpi_available()


def is_initialized() -> bool:
    return _group is not None


def _seconds(timeout):
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    timeout = float(timeout)
    if not timeout > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return timeout


def init_process_group(backend="mpi", *, world_size=None, rank=None, timeout=None,
                       init_method=None):
    """Join the job's processes into the default group.

    Args:
        backend: ``'mpi'`` (CPU tensors, mpi4py) or ``'nccl'`` (GPU tensors, cupyx.distributed).
        world_size, rank: optional checks against what the launcher started (MPI decides
            both); a mismatch is an error naming both numbers.
        timeout: seconds (or a ``datetime.timedelta``) a collective may wait for the other
            ranks before raising ``DistributedTimeoutError`` (default 1800).
        init_method: must be None or ``'env://'`` (the launcher provides the rendezvous).

    Raises RuntimeError when the group exists already, when no MPI launcher started this
    process, or when the backend's libraries are not installed.
    """
    global _group, _previous_excepthook, _abort_code, _at_exit_registered
    name = str(backend).lower()
    if name not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; expected one of "
                         f"{', '.join(map(repr, BACKENDS))} ('gloo' is not supported: use "
                         "'mpi' on CPUs)")
    if _group is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialised (call destroy_process_group() first)")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method {init_method!r} is not supported; "
                         "the MPI launcher (mpiexec) provides the rendezvous")
    seconds = _seconds(timeout)
    if not launcher.under_launcher():
        raise RuntimeError(
            f"init_process_group({name!r}): this process was not started by an MPI launcher; "
            "run it with: mpiexec -n N python your_script.py (several machines: "
            "mpiexec -f hostfile -n N ...)")
    if name == "mpi":
        from .mpi_backend import MPIBackend

        group = MPIBackend(seconds)
    else:
        from .nccl_backend import NCCLBackend

        group = NCCLBackend(seconds)
    for what, wanted, actual in (("world_size", world_size, group.size),
                                 ("rank", rank, group.rank)):
        if wanted is not None and int(wanted) != actual:
            group.close()
            raise ValueError(
                f"init_process_group({what}={wanted}) but the launcher started this process "
                f"as rank {group.rank} of a world of {group.size} (mpiexec -n {group.size}); "
                f"launch with mpiexec -n {wanted if what == 'world_size' else 'N'} or drop "
                f"{what}=")
    _group = group
    _abort_code = None
    _previous_excepthook = sys.excepthook
    sys.excepthook = _abort_on_uncaught
    if not _at_exit_registered:      # runs before mpi4py's own exit handler (MPI_Finalize)
        atexit.register(_abort_if_asked, group.MPI)
        _at_exit_registered = True
    return None


def abort_at_exit(code=1):
    """Make this process stop the whole MPI job (``MPI_Abort(code)``) when it exits, instead
    of finalising MPI.  For a rank that stops on an error it has reported itself while the
    other ranks may be inside collectives: finalising would wait for them, and they for it,
    until the timeout; the abort makes the launcher end every rank at once.  The next
    ``init_process_group`` cancels it."""
    global _abort_code
    _abort_code = int(code)


def _abort_if_asked(mpi):
    if _abort_code is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        mpi.COMM_WORLD.Abort(_abort_code)


def _abort_on_uncaught(kind, value, tb):
    """An uncaught exception in a rank: print it with the rank, then stop the whole job."""
    group = _group
    if group is None or group.size == 1:
        (_previous_excepthook or sys.__excepthook__)(kind, value, tb)
        return
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(f"[rank {group.rank}/{group.size}] uncaught exception, aborting all "
                     f"ranks:\n{text}")
    sys.stderr.flush()
    sys.stdout.flush()
    group.abort(1)


def destroy_process_group():
    """Leave the default group (a later ``init_process_group`` may start a new one)."""
    global _group, _previous_excepthook
    group = _require("destroy_process_group")
    group.close()
    _group = None
    if sys.excepthook is _abort_on_uncaught:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
    _previous_excepthook = None


def _require(what):
    if _group is None:
        raise RuntimeError(f"{what}: the default process group has not been initialised; "
                           "call tinygrad_cv.distributed.init_process_group() first")
    return _group


def get_backend():
    return _require("get_backend").name


def get_rank() -> int:
    """This process's rank, 0 ... world size - 1."""
    return _require("get_rank").rank


def get_world_size() -> int:
    return _require("get_world_size").size


def barrier():
    """Wait until every rank has called ``barrier``."""
    _require("barrier").barrier()


def _raw(tensor, what):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} expects a Tensor, got {type(tensor).__name__}")
    return tensor.array


def _op_name(op):
    key = str(op).lower()
    if key not in _OPS:
        raise ValueError(f"all_reduce: unknown op {op!r}; expected one of 'sum', 'mean', "
                         "'max', 'min', 'prod'")
    return _OPS[key]


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks and leave the result in it on every rank (in place)."""
    g = _require("all_reduce")
    _no_subgroups(group, async_op)
    array = _raw(tensor, "all_reduce")
    name = _op_name(op)
    if name == "mean" and not backend.is_floating(array.dtype):
        raise TypeError(f"all_reduce(op='mean') needs a floating tensor, got {array.dtype} "
                        "(reduce with 'sum' and divide)")
    if g.size == 1:
        return None
    g.all_reduce_(array, "sum" if name == "mean" else name)
    if name == "mean":
        array *= array.dtype.type(1.0 / g.size)
    return None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank (in place)."""
    g = _require("broadcast")
    _no_subgroups(group, async_op)
    array = _raw(tensor, "broadcast")
    if not 0 <= int(src) < g.size:
        raise ValueError(f"broadcast: src {src} is not a rank of this world of {g.size}")
    if g.size > 1:
        g.broadcast_(array, int(src))
    return None


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r] = rank r's tensor`` on every rank (each entry filled in place; every
    rank's tensor must have the same shape and dtype)."""
    g = _require("all_gather")
    _no_subgroups(group, async_op)
    array = _raw(tensor, "all_gather")
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.size:
        got = (f"{len(tensor_list)}" if isinstance(tensor_list, (list, tuple))
               else type(tensor_list).__name__)
        raise ValueError(f"all_gather: tensor_list must be a list of world size "
                         f"({g.size}) tensors, got {got}")
    for i, t in enumerate(tensor_list):
        out = _raw(t, "all_gather")
        if out.shape != array.shape or out.dtype != array.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] has shape {tuple(out.shape)} and "
                             f"dtype {out.dtype}; the input has {tuple(array.shape)}, "
                             f"{array.dtype}")
    gathered = g.all_gather(array) if g.size > 1 else array[None]
    for t, part in zip(tensor_list, gathered):
        t.array[...] = part
    return None


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world size * n, ...) = the ranks' ``input_tensor`` (n, ...) stacked
    along the first axis, in place."""
    g = _require("all_gather_into_tensor")
    _no_subgroups(group, async_op)
    array = _raw(input_tensor, "all_gather_into_tensor")
    out = _raw(output_tensor, "all_gather_into_tensor")
    want = (g.size * (array.shape[0] if array.ndim else 1),) + tuple(array.shape[1:])
    if tuple(out.shape) != want or out.dtype != array.dtype:
        raise ValueError(f"all_gather_into_tensor: output must have shape {want} and dtype "
                         f"{array.dtype}, got {tuple(out.shape)}, {out.dtype}")
    gathered = g.all_gather(array) if g.size > 1 else array[None]
    out[...] = gathered.reshape(want)
    return None


def _no_subgroups(group, async_op):
    if group is not None:
        raise NotImplementedError("process subgroups are not supported: pass group=None "
                                  "(the default group of all ranks)")
    if async_op:
        raise NotImplementedError("async_op=True is not supported: collectives complete "
                                  "before they return")


def default_group():
    """The backend object of the default group (for DistributedDataParallel), or an error."""
    return _require("DistributedDataParallel")
