"""The ``mpi`` backend: collectives on host arrays through mpi4py (any MPI library; the
``mpich`` wheel makes ``pip install 'tinygrad_cv[distributed]'`` enough).

Every collective is started non-blocking (``Iallreduce``, ``Ibcast``, ``Iallgather``,
``Ibarrier``) on a private duplicate of ``COMM_WORLD`` and waited for with a deadline: a rank
that stopped taking part (it exited, or raised and is being torn down) makes the others raise
``DistributedTimeoutError`` after ``timeout`` seconds instead of waiting for ever.  The wait
polls ``Test`` with a sleep that grows from 10 us to 1 ms, so a finished operation is noticed
within about a millisecond.
"""
from __future__ import annotations

import time

__all__ = ["MPIBackend", "DistributedTimeoutError", "mpi4py_missing_message"]


class DistributedTimeoutError(RuntimeError):
    """A collective did not complete within the process group's timeout."""


def mpi4py_missing_message(exc):
    return (f"backend 'mpi' needs mpi4py and an MPI library ({exc}); install them with "
            "pip install 'tinygrad_cv[distributed]' (mpi4py and the mpich wheel)")


class MPIBackend:
    """Collectives over all processes of the MPI job, on contiguous-or-not numpy arrays."""

    name = "mpi"

    def __init__(self, timeout):
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise RuntimeError(mpi4py_missing_message(exc)) from None
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = float(timeout)
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}
        self._bool_ops = {"sum": MPI.LOR, "max": MPI.LOR, "min": MPI.LAND, "prod": MPI.LAND}

    # ---- waiting with a deadline ------------------------------------------------------------
    def _wait(self, request, what):
        if request.Test():
            return
        deadline = time.monotonic() + self.timeout
        delay = 1e-5
        while not request.Test():
            if time.monotonic() > deadline:
                raise DistributedTimeoutError(
                    f"rank {self.rank}: {what} did not complete within {self.timeout:g} s; "
                    "another rank has probably exited or failed (see its output), or the "
                    "ranks called different collectives")
            time.sleep(delay)
            delay = min(delay * 2, 1e-3)

    def _check(self, array):
        if type(array).__module__.partition(".")[0] != "numpy":
            raise TypeError("the 'mpi' backend works on CPU tensors; this one is on the GPU "
                            "(use init_process_group('nccl') for GPU training)")

    def _in_place(self, array, run, what):
        """Run ``run(buffer) -> request`` on a contiguous buffer and copy back if needed."""
        self._check(array)
        contiguous = array.flags.c_contiguous
        buf = array if contiguous else array.copy()
        self._wait(run(buf), what)
        if not contiguous:
            array[...] = buf

    # ---- collectives --------------------------------------------------------------------------
    def all_reduce_(self, array, op):
        table = self._bool_ops if array.dtype.kind == "b" else self._ops
        mpi_op = table[op]
        self._in_place(array, lambda buf: self.comm.Iallreduce(self.MPI.IN_PLACE, buf, mpi_op),
                       f"all_reduce({op}) of {array.size} {array.dtype} values")

    def broadcast_(self, array, src):
        self._in_place(array, lambda buf: self.comm.Ibcast(buf, root=src),
                       f"broadcast from rank {src} of {array.size} {array.dtype} values")

    def all_gather(self, array):
        self._check(array)
        send = array if array.flags.c_contiguous else array.copy()
        out = _empty_like_stacked(array, self.size)
        self._wait(self.comm.Iallgather(send, out),
                   f"all_gather of {array.size} {array.dtype} values")
        return out

    def barrier(self):
        self._wait(self.comm.Ibarrier(), "barrier")

    def abort(self, code=1):
        self.MPI.COMM_WORLD.Abort(code)

    def close(self):
        """Forget the communicator without a collective call (freeing it is collective and
        could wait on a failed rank); MPI releases it at finalisation."""
        self.comm = None


def _empty_like_stacked(array, n):
    """An uninitialised array of shape ``(n, *array.shape)`` and ``array``'s dtype and module."""
    from .. import backend

    xp = backend.get_array_module(array)
    return xp.empty((n,) + array.shape, dtype=array.dtype)
