"""Intra-op threads: one large CPU operation split over the cores (torch's ``set_num_threads``).

NumPy runs elementwise loops on one thread and hands matrix products to OpenBLAS's own pool,
whose workers spin for about 0.1 s after every call: a second Python thread started next to
them only competes for the core they spin on.  So the framework keeps its own pool instead:
``set_num_threads(n)`` (default: the cores this process may use) runs ``n - 1`` worker threads
next to the caller, and while they exist BLAS runs one thread per call
(``backend.limit_blas_threads``), so each thread owns a core for the whole step::

    ranges = split(count, threads)         # contiguous [start, stop) parts, one per thread
    run([part0, part1, ...])               # part0 on the caller, the others on the workers
    for_ranges(fn, count, work)            # fn(start, stop) over the parts (serial when small)
    matmul(a, b, out)                      # a @ b, the result's rows (or columns) split

A part is a Python callable whose heavy work is NumPy calls (copies, ufuncs, GEMMs release the
GIL).  Parts must write disjoint outputs; buffers they need are allocated by the caller.  Work
runs serially when it is small (``MIN_WORK`` elements or multiply-adds: a hand-off costs
15-40 us), on CuPy arrays (the GPU has its own parallelism), inside another part (no nesting),
or while another Python thread uses the pool.  Results do not depend on the thread count beyond
the rounding of a split sum (``matmul`` never splits the inner dimension of float32 products
it could split by rows or columns instead).

A fork (DataLoader workers, ``multiprocessing``) leaves the child without the workers; they are
started again on its first split.
"""
from __future__ import annotations

import os
import queue
import threading

from . import backend

MIN_WORK = 1 << 18   # elements (or multiply-adds) below which a split costs more than it saves

_state = threading.local()       # .inside: this thread runs a part
_lock = threading.Lock()         # one splitting caller at a time
_config = {"threads": None}      # None: not chosen yet (the default on first use)
_workers = []                    # [(thread, task queue)]
_done = queue.SimpleQueue()


def _default_threads():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads that split one CPU operation (the caller included), like torch's."""
    if _config["threads"] is None:
        _config["threads"] = _default_threads()
    return _config["threads"]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for one CPU operation.  ``n = 1`` stops the workers and gives BLAS its
    own threads back; ``n > 1`` limits BLAS to one thread per call while the workers exist."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    with _lock:
        _config["threads"] = n
        _stop_workers()
        if n == 1:
            backend.limit_blas_threads(None)


def _worker(tasks):
    _state.inside = True
    while True:
        task = tasks.get()
        if task is None:
            return
        try:
            task()
        except BaseException as exc:  # handed to the caller, which re-raises it
            _done.put(exc)
        else:
            _done.put(None)


def _stop_workers():
    for _, tasks in _workers:
        tasks.put(None)
    for thread, _ in _workers:
        thread.join()
    _workers.clear()


def _ensure_workers(count):
    """Start ``count`` workers (and limit BLAS to one thread) unless they run already."""
    if len(_workers) == count:
        return True
    if not backend.limit_blas_threads(1):
        return False   # BLAS's threads cannot be limited: leave the cores to it
    _stop_workers()
    for _ in range(count):
        tasks = queue.SimpleQueue()
        thread = threading.Thread(target=_worker, args=(tasks,), daemon=True,
                                  name="tinygrad_cv-intra-op")
        thread.start()
        _workers.append((thread, tasks))
    return True


def _after_fork_in_child():
    global _lock, _done
    _workers.clear()
    _lock = threading.Lock()
    _done = queue.SimpleQueue()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def usable(array=None, work=MIN_WORK) -> int:
    """Threads a split of ``work`` elements on ``array``'s device would use now: 1 on CuPy,
    inside a part, below MIN_WORK, or with one thread configured."""
    if work < MIN_WORK or getattr(_state, "inside", False):
        return 1
    if array is not None and backend.device_of(array) != "cpu":
        return 1
    return min(get_num_threads(), max(1, int(work // (MIN_WORK // 2))))


def scratch(shape, dtype, like, slot=0):
    """A work array of ``shape`` and ``dtype`` owned by the calling thread (contents arbitrary),
    reused by its later calls with the same ``slot``: a part's column buffer of a few MB would
    otherwise be fresh pages on every call (glibc maps blocks that large anew each time).  Valid
    until the thread asks for the same slot again; CuPy arrays get a plain ``empty``."""
    xp = backend.get_array_module(like)
    dtype = xp.dtype(dtype)
    if backend.device_of(like) != "cpu":
        return xp.empty(shape, dtype=dtype)
    size = 1
    for s in shape:
        size *= int(s)
    buffers = getattr(_state, "scratch", None)
    if buffers is None:
        buffers = _state.scratch = {}
    held = buffers.get(slot)
    nbytes = size * dtype.itemsize
    if held is None or held.nbytes < nbytes:
        held = buffers[slot] = xp.empty(max(nbytes, 1), dtype=xp.uint8)
    return held[:nbytes].view(dtype).reshape(shape)


def split(count, parts):
    """``parts`` contiguous [start, stop) ranges covering range(count) (fewer when count is
    smaller), sizes differing by at most one."""
    parts = max(1, min(int(parts), int(count)))
    base, extra = divmod(int(count), parts)
    ranges, start = [], 0
    for i in range(parts):
        stop = start + base + (1 if i < extra else 0)
        ranges.append((start, stop))
        start = stop
    return ranges


def run(parts):
    """Call every callable of ``parts``, the first on this thread and the others on the workers,
    and return when all have finished (the first exception raised by any is re-raised).  Runs
    them one after the other when the pool is busy or cannot start."""
    parts = list(parts)
    if len(parts) <= 1 or getattr(_state, "inside", False) or not _lock.acquire(blocking=False):
        for part in parts:
            part()
        return
    try:
        if not _ensure_workers(get_num_threads() - 1) or len(parts) - 1 > len(_workers):
            for part in parts:
                part()
            return
        for (_, tasks), part in zip(_workers, parts[1:]):
            tasks.put(part)
        error = None
        _state.inside = True
        try:
            parts[0]()
        except BaseException as exc:
            error = exc
        finally:
            _state.inside = False
            for _ in parts[1:]:
                result = _done.get()
                if error is None and result is not None:
                    error = result
        if error is not None:
            raise error
    finally:
        _lock.release()


def for_ranges(fn, count, work, like=None):
    """``fn(start, stop)`` over a split of range(count) whose total cost is ``work`` elements
    (serially in one call when ``usable`` says 1 thread)."""
    threads = usable(like, work)
    if threads <= 1 or count <= 1:
        fn(0, count)
        return
    run([lambda s=s, e=e: fn(s, e) for s, e in split(count, threads)])


def matmul(a, b, out=None):
    """``a @ b`` for a (..., M, K) with C-contiguous leading dimensions and b (K, N), with the
    result's rows (M, or the flattened leading dimensions times M) split over the threads, or
    its columns when N is the larger side.  Any other operand (batched b, CuPy, small products,
    one thread) goes to ``xp.matmul`` unchanged."""
    xp = backend.get_array_module(a, b)
    if b.ndim != 2 or a.ndim < 2 or a.shape[-1] != b.shape[0]:
        return xp.matmul(a, b, out=out)
    rows = 1
    for s in a.shape[:-1]:
        rows *= s
    k, n = b.shape
    threads = usable(a, rows * k * n)
    if threads <= 1:
        return xp.matmul(a, b, out=out)
    if out is None:
        out = xp.empty(a.shape[:-1] + (n,), dtype=xp.result_type(a, b))
    if a.ndim > 2:
        if not (a.flags.c_contiguous and out.flags.c_contiguous):
            return xp.matmul(a, b, out=out)
        a2, out2 = a.reshape(rows, k), out.reshape(rows, n)
    else:
        a2, out2 = a, out
    if rows >= n:
        parts = [lambda s=s, e=e: xp.matmul(a2[s:e], b, out=out2[s:e])
                 for s, e in split(rows, threads)]
    else:
        parts = [lambda s=s, e=e: xp.matmul(a2, b[:, s:e], out=out2[:, s:e])
                 for s, e in split(n, threads)]
    run(parts)
    return out
