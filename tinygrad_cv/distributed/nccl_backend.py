"""The ``nccl`` backend: collectives on GPU arrays through ``cupyx.distributed`` (NCCL).

Launched like the ``mpi`` backend (``mpiexec -n N``, one process per GPU): MPI tells each
process its rank and the world size and carries NCCL's start-up handshake
(``cupyx.distributed.init_process_group(n, rank, use_mpi=True)``); the gradients then travel
by NCCL.  Each process uses GPU ``local_rank % device_count`` of its machine, where the local
rank counts the processes on the same machine (MPI's shared-memory split).

Operations are issued on the current stream and the stream is synchronised before returning,
so results are ready when a call returns, as with the ``mpi`` backend.  NCCL has no deadline:
``timeout`` applies to the MPI start-up only; a dead rank is reported by the launcher.
"""
from __future__ import annotations

from .. import backend

__all__ = ["NCCLBackend"]


class NCCLBackend:
    """Collectives over the GPUs of all processes of the MPI job, on cupy arrays."""

    name = "nccl"

    def __init__(self, timeout):
        distributed = backend.cupyx_distributed()    # RuntimeError without CuPy / GPU
        try:
            from mpi4py import MPI
        except ImportError as exc:
            from .mpi_backend import mpi4py_missing_message

            raise RuntimeError(mpi4py_missing_message(exc) + " (the nccl backend uses MPI "
                               "to start)") from None
        self.MPI = MPI
        world = MPI.COMM_WORLD
        self.rank = world.Get_rank()
        self.size = world.Get_size()
        self.timeout = float(timeout)
        cp = backend.module_for_device("cuda")
        local = world.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank = local.Get_rank()
        local.Free()
        self.device_id = self.local_rank % cp.cuda.runtime.getDeviceCount()
        cp.cuda.Device(self.device_id).use()
        self.cp = cp
        self.comm = distributed.init_process_group(self.size, self.rank, use_mpi=True)

    def _check(self, array):
        if backend.device_of(array) != "cuda":
            raise TypeError("the 'nccl' backend works on GPU tensors; this one is on the CPU "
                            "(move the model and data with .to('cuda'), or use "
                            "init_process_group('mpi'))")

    def _sync(self):
        self.cp.cuda.get_current_stream().synchronize()

    def _in_place(self, array, run):
        self._check(array)
        contiguous = array.flags.c_contiguous
        buf = array if contiguous else self.cp.ascontiguousarray(array)
        run(buf)
        if not contiguous:
            array[...] = buf
        self._sync()

    def all_reduce_(self, array, op):
        if array.dtype.kind == "b":     # NCCL has no bool: or/and as max/min of uint8
            as_bytes = array.view(self.cp.uint8)
            nccl_op = "max" if op in ("sum", "max") else "min"
            self._in_place(as_bytes, lambda buf: self.comm.all_reduce(buf, buf, nccl_op))
            return
        self._in_place(array, lambda buf: self.comm.all_reduce(buf, buf, op))

    def broadcast_(self, array, src):
        self._in_place(array, lambda buf: self.comm.broadcast(buf, src))

    def all_gather(self, array):
        self._check(array)
        send = self.cp.ascontiguousarray(array)
        out = self.cp.empty((self.size,) + array.shape, dtype=array.dtype)
        self.comm.all_gather(send, out, send.size)
        self._sync()
        return out

    def barrier(self):
        self._sync()
        self.comm.barrier()

    def abort(self, code=1):
        self.MPI.COMM_WORLD.Abort(code)

    def close(self):
        self._sync()
