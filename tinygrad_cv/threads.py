"""Intra-op threads: one large CPU operation split over the cores (torch's ``set_num_threads``).

NumPy runs elementwise loops on one thread and hands matrix products to OpenBLAS's own pool,
whose workers spin for about 0.1 s after every call: a second Python thread started next to
them only competes for the core they spin on.  So the framework keeps its own pool instead:
``set_num_threads(n)`` (default: ``OMP_NUM_THREADS`` if set, else the cores this process may
use) runs ``n - 1`` worker threads next to the caller, and while they exist BLAS runs one
thread per call (``backend.limit_blas_threads``), so each thread owns a core for the whole
step::

    ranges = split(count, threads)         # contiguous [start, stop) parts, one per thread
    run([part0, part1, ...])               # part0 on the caller, the others on the workers
    for_ranges(fn, count, work)            # fn(start, stop) over the parts (serial when small)
    matmul(a, b, out)                      # a @ b, split over batch, rows, columns or K

A part is a Python callable whose heavy work is NumPy calls (copies, ufuncs, GEMMs release the
GIL).  Parts must write disjoint outputs; buffers they need are allocated by the caller.  Work
runs serially when it is small (``MIN_WORK`` elements or multiply-adds: a hand-off costs
15-40 us), on CuPy arrays (the GPU has its own parallelism), inside another part (no nesting),
or while another Python thread uses the pool.  Results do not depend on the thread count beyond
the rounding of a split sum (``matmul`` splits the inner dimension only of products whose
result is too small to split by rows or columns).

A fork (DataLoader workers, ``multiprocessing``) leaves the child without the workers; they are
started again on its first split.
"""
from __future__ import annotations

import os
import queue
import threading

from . import backend

MIN_WORK = 1 << 18   # elements (or multiply-adds) below which a split costs more than it saves
MACS_PER_ELEMENT = 64   # a GEMM's multiply-adds per element of work: matmul splits from
                        # 64 * MIN_WORK = 16.8M of them (~0.33 ms on one core; split on the
                        # idle machine 256^3 0.85x, 1024x256x64 0.80x, 256x128x256 1.16x,
                        # 128^3 2.6x: a hand-off measured 60-85 us there)
INNER_SPLIT_SIDE = 64   # matmul splits K when M and N are at most this per thread (and K larger)

_state = threading.local()       # .inside: this thread runs a part
_lock = threading.Lock()         # one splitting caller at a time
_config = {"threads": None,      # None: not chosen yet (the default on first use)
           "interop": None, "interop_set": False}
_workers = []                    # [(thread, task queue)]
_done = queue.SimpleQueue()


def _default_threads():
    """``OMP_NUM_THREADS`` when it holds a positive integer (as torch reads it: launchers such
    as ``mpiexec`` scripts set it per process), else the cores this process may run on."""
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        wanted = 0
    if wanted >= 1:
        return wanted
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
    """Use ``n`` threads for one CPU operation, as torch's ``set_num_threads``: BLAS runs one
    thread per call from now on (in the whole process), and ``n > 1`` starts ``n - 1`` workers
    on the first split.  ``n = 1`` stops the workers: everything then runs on the calling
    thread, the matrix products included (OpenBLAS's own pool would take every core, and two
    BLAS libraries' pools -- NumPy's and SciPy's -- spinning against each other made a
    convolution's backward 10x slower)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    with _lock:
        _config["threads"] = n
        _stop_workers()
        if n == 1:
            backend.limit_blas_threads(1)


def get_num_interop_threads() -> int:
    """Threads for running independent operations side by side (torch's inter-op pool; its
    default is the cores the process may use, whatever ``OMP_NUM_THREADS`` says).  The
    framework runs operations one after another and splits each one over the intra-op threads
    instead, so this number is recorded and reported only."""
    if _config.get("interop") is None:
        try:
            _config["interop"] = max(1, len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):
            _config["interop"] = max(1, os.cpu_count() or 1)
    return _config["interop"]


def set_num_interop_threads(n: int) -> None:
    """torch's ``set_num_interop_threads``: a positive int, accepted once per process (torch
    refuses a second call, and so does this); recorded for ``get_num_interop_threads``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    if _config.get("interop_set"):
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has "
                           "started or set_num_interop_threads called")
    _config["interop"], _config["interop_set"] = n, True


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


def add_partials(partials):
    """The sum of a split's per-part partial results (a sum over the split axis: weight
    gradients, statistics), added in place into the first; None entries are skipped, and None
    is returned when every entry is None."""
    total = None
    for p in partials:
        if p is None:
            continue
        if total is None:
            total = p
        else:
            total += p
    return total


def _merged_rows(a, rows):
    """``a`` (..., M, K) as an (rows, K) view without a copy, or None when its leading
    dimensions do not merge (the view's rows then take part in the row split)."""
    try:
        return a.reshape(rows, a.shape[-1], copy=False)
    except (ValueError, TypeError):
        return None


def take_range(x, axis_from_end, start, stop):
    """``x[..., start:stop, ...]`` on the axis ``axis_from_end`` places from the end (a batch
    axis of size 1, or one ``x`` lacks, broadcasts and is taken whole; None stays None): the
    part of an operand that goes with a split of a broadcast result's axis."""
    if x is None:
        return None
    axis = x.ndim - axis_from_end
    if axis < 0 or x.shape[axis] == 1:
        return x
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def matmul(a, b, out=None, bias=None):
    """``a @ b`` (numpy.matmul's semantics for a (..., M, K), b (..., K, N), batch dimensions
    broadcast) with the work split over the threads, each part one BLAS call on views of the
    operands (transposed operands such as ``g.T`` stay strided views, which BLAS reads as they
    are, with no copy):

    * batched products split their largest batch axis (attention's (N, heads) scores);
    * a 2-D b with leading dimensions of a that merge into rows (``x @ W.T`` of a Linear) is
      one (rows, K) @ (K, N) product;
    * a product whose M and N are both small (at most ``INNER_SPLIT_SIDE`` per thread on the
      split side) and whose K is larger than both (weight gradients dW = dY^T X over a large
      batch) splits K: part j forms A[:, K_j] B[K_j, :] into its own partial (part 0 into the
      result), and the caller adds the partials;
    * any other splits the rows of the result, or its columns when N is the larger side.

    ``bias`` (None, or an array that broadcasts against the result without growing it: (N,)
    for every row, (M, 1) for every column) is added to the result, by each part to its own
    slice (no second pass over the result on one thread).  Work below
    ``MACS_PER_ELEMENT * MIN_WORK`` multiply-adds, CuPy arrays, 1-D operands and one thread go
    to ``xp.matmul`` unchanged.  The result equals the serial product up to the rounding of
    the inner-dimension split sum (the only split that changes the order of additions).
    """
    return matmuls([(a, b, out, bias)])[0]


def matmuls(products):
    """Several independent products in one hand-off: ``products`` is a list of
    ``(a, b[, out[, bias]])`` as ``matmul`` takes them; returns their results in order.  Each
    product is split as ``matmul`` splits it, and part j of every product runs on thread j
    (a product too small to split runs whole on the calling thread), so a layer's backward
    (dL/dx and dL/dW) costs one hand-off instead of two."""
    plans = [_plan(*product) for product in products]
    per_thread = {}
    for plan in plans:
        for j, part in enumerate(plan.parts):
            per_thread.setdefault(j, []).append(part)
    run([lambda group=group: [part() for part in group]
         for _, group in sorted(per_thread.items())])
    for plan in plans:
        if plan.finish is not None:
            plan.finish()
    return [plan.results[0] if plan.results else plan.out for plan in plans]


class _Plan:
    """One product cut into parts (callables writing disjoint pieces of ``out``) and a
    ``finish`` run by the caller after them (adding an inner split's partials), or one
    serial part that sets ``out``."""

    def __init__(self, out=None, parts=(), finish=None):
        self.out, self.parts, self.finish = out, list(parts), finish
        self.results = []


def _serial_plan(xp, a, b, out, bias):
    """The plan of one unsplit product; its part appends the result to ``plan.results`` (a
    list the part holds, not the plan: a part referring to its plan would make a reference
    cycle, which only the garbage collector frees)."""
    plan = _Plan()
    results = plan.results
    plan.parts = [lambda: results.append(_serial(xp, a, b, out, bias))]
    return plan


def _plan(a, b, out=None, bias=None):
    """How ``matmul`` splits a @ b (+ bias) over the threads usable for it now."""
    xp = backend.get_array_module(a, b)
    if getattr(a, "ndim", 0) < 2 or getattr(b, "ndim", 0) < 2 or a.shape[-1] != b.shape[-2]:
        return _serial_plan(xp, a, b, out, bias)
    try:
        batch = tuple(backend.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        return _serial_plan(xp, a, b, out, bias)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    count = 1
    for s in batch:
        count *= s
    threads = usable(a, count * m * k * n // MACS_PER_ELEMENT)
    if threads <= 1 or backend.device_of(b) != "cpu":
        return _serial_plan(xp, a, b, out, bias)
    shape = batch + (m, n)
    if out is None:
        out = xp.empty(shape, dtype=xp.result_type(a, b))
    elif tuple(out.shape) != shape:
        return _serial_plan(xp, a, b, out, bias)   # NumPy's error (or broadcast) as it is
    if b.ndim == 2 and batch and (bias is None or bias.ndim < 2):   # x @ W: as rows
        a2, out2 = _merged_rows(a, count * m), _merged_rows(out, count * m)
        if a2 is not None and out2 is not None:
            a, out_view, batch, m, count = a2, out2, (), count * m, 1
        else:
            out_view = out
    else:
        out_view = out
    if count >= threads:
        axis = max(range(len(batch)), key=lambda i: batch[i])
        if batch[axis] >= threads:
            end = len(batch) + 2 - axis       # the axis counted from the end
            return _Plan(out, [lambda s=s, e=e: _serial(xp, take_range(a, end, s, e),
                                                        take_range(b, end, s, e),
                                                        take_range(out_view, end, s, e),
                                                        take_range(bias, end, s, e))
                               for s, e in split(batch[axis], threads)])
    if max(m, n) <= INNER_SPLIT_SIDE * threads and k >= 2 * max(m, n):
        return _inner_split(xp, a, b, out, out_view, k, threads, bias)
    if m >= n:
        return _Plan(out, [lambda s=s, e=e: _serial(xp, a[..., s:e, :], b,
                                                    out_view[..., s:e, :],
                                                    take_range(bias, 2, s, e))
                           for s, e in split(m, threads)])
    return _Plan(out, [lambda s=s, e=e: _serial(xp, a, b[..., s:e], out_view[..., s:e],
                                                take_range(bias, 1, s, e))
                       for s, e in split(n, threads)])


def _serial(xp, a, b, out, bias):
    """a @ b (+ bias) on this thread."""
    out = xp.matmul(a, b, out=out)
    if bias is not None:
        out += bias
    return out


def _inner_split(xp, a, b, out, out_view, k, threads, bias):
    """The plan of out = a @ b (+ bias) with K split: part 0 writes its product into the
    result, part j > 0 into its partial (allocated here, before the split); ``finish`` adds
    the partials (and the bias) to the result."""
    ranges = split(k, threads)
    partials = xp.empty((len(ranges) - 1,) + tuple(out_view.shape), dtype=out_view.dtype)
    targets = [out_view] + list(partials)

    def finish():
        for p in partials:
            xp.add(out_view, p, out=out_view)
        if bias is not None:
            xp.add(out_view, bias, out=out_view)

    return _Plan(out, [lambda s=s, e=e, t=t: xp.matmul(a[..., s:e], b[..., s:e, :], out=t)
                       for (s, e), t in zip(ranges, targets)], finish)
