"""Reused activation and gradient buffers of the fused Functions (no fresh pages every step).

A training step allocates the same activation-sized arrays (say 128x32x28x28 float32, 12.8 MB)
step after step. Fresh arrays of that size come from the operating system and are faulted in
page by page (about 3,000 minor faults each); ``empty`` hands out a buffer of the same shape
and dtype that the graph has let go of instead.

How a buffer comes back: the pool keeps a reference to every buffer it handed out, and a buffer
whose only reference is the pool's is free (``sys.getrefcount``). A view, a Tensor, a saved
value of a node, a memoryview or a torch tensor sharing the memory all hold a reference to
the array (or to its base), so a buffer is reused only once nothing can reach its memory: the
graph's release of saved values (``autograd/engine.py``) is what frees it, with no hook.

Only CPU arrays of at least ``MIN_BYTES`` are pooled (CuPy has its own memory pool; smaller
arrays come from glibc's heap, which recycles them).  Arrays from 256 KB up came back as fresh
pages step after step: glibc returns memory to the system when it is freed (blocks above its
mmap threshold, which only rises to the size of the largest mapped block freed, and the top of
its heap once enough of it is free), and a step frees most of its arrays.  The diffusion
UNet's training step (64 8x8 maps, activations of 0.25-1.5 MB) faulted about 6,400 pages a
step with a pool from 8 MB and took 102 ms; with the pool from 256 KB, 0-1 faults and 91 ms
(``bench_diffusion.py``'s train case, blocks alternated in one process).

A request takes the smallest free buffer of its dtype whose size is between its own and
``FIT`` times it (a view of the buffer's first elements): buffers of one size alone are only
reused by arrays of that size, and a pool of many sizes then holds memory that glibc would
have given to the others.  Case (b) of benchmarks/run.py (a CNN at batch 128), peak memory
growth: pool from 8 MB 100 MB; from 256 KB with sizes matched exactly 122 MB, within 1.5x
113 MB, within 2x 110 MB, within 4x 108 MB.  At most ``MAX_PER_KEY`` buffers of one size and
dtype, and ``MAX_BYTES`` in all, are kept (when full, the pool forgets a buffer still in use,
which then dies with its last user).  ``clear()`` drops every free buffer.
"""
from __future__ import annotations

import bisect
import sys
import threading

from .. import backend

MIN_BYTES = 256 << 10
MAX_PER_KEY = 6
MAX_BYTES = 256 << 20
FIT = 2

_lock = threading.Lock()
_pool = {}          # dtype -> _Shelf of its buffers (in use or free)
_held = [0]         # bytes of all arrays in _pool

# References to a pooled array while ``empty`` scans it: the pool's list, the loop variable
# and getrefcount's own argument.
_FREE_REFS = 3


class _Shelf:
    """The pooled buffers of one dtype: ``by_size`` {size: [flat array, ...]} and the sorted
    list of its sizes (``sizes``), which ``empty`` bisects for the smallest fit."""

    __slots__ = ("sizes", "by_size")

    def __init__(self):
        self.sizes, self.by_size = [], {}


def empty(shape, dtype, like):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype`` on ``like``'s device,
    reused from the pool when a buffer of that dtype and of that size up to ``FIT`` times it is
    free (contents arbitrary, as ``xp.empty``).  Buffers are kept flat and handed out as
    reshaped views of their first elements, so arrays of one size but different shapes (a
    (N, C, H, W) activation and its (N, C, H*W) view) share them."""
    xp = backend.get_array_module(like)
    shape = tuple(int(s) for s in shape)
    dtype = xp.dtype(dtype)
    size = 1
    for s in shape:
        size *= s
    if size * dtype.itemsize < MIN_BYTES or backend.device_of(like) != "cpu":
        return xp.empty(shape, dtype=dtype)
    with _lock:
        shelf = _pool.get(dtype)
        if shelf is None:
            shelf = _pool[dtype] = _Shelf()
        sizes, by_size = shelf.sizes, shelf.by_size
        i = bisect.bisect_left(sizes, size)
        limit = size * FIT
        while i < len(sizes) and sizes[i] <= limit:
            for buf in by_size[sizes[i]]:
                if sys.getrefcount(buf) <= _FREE_REFS:
                    return (buf if sizes[i] == size else buf[:size]).reshape(shape)
            i += 1
        buf = xp.empty(size, dtype=dtype)
        bufs = by_size.get(size)
        if bufs is None:
            bufs = by_size[size] = []
            bisect.insort(sizes, size)
        if len(bufs) >= MAX_PER_KEY:        # forget the oldest (it is in use; it dies with its user)
            _held[0] -= bufs.pop(0).nbytes
        if _held[0] + buf.nbytes <= MAX_BYTES:
            bufs.append(buf)
            _held[0] += buf.nbytes
        return buf.reshape(shape)


def reusable(a, refs):
    """True when nothing but ``refs`` known references (the caller's, counted by the caller)
    and the pool can reach ``a``'s memory: ``a`` is a buffer of the pool (a view of one, as
    ``empty`` hands them out) and neither ``a`` nor its buffer is referenced elsewhere (no
    Tensor, saved value, other view, memoryview or torch tensor)."""
    base = getattr(a, "base", None)
    if base is None or not backend.is_array(base) or base.ndim != 1:
        return False
    with _lock:
        shelf = _pool.get(base.dtype)
        bufs = None if shelf is None else shelf.by_size.get(base.size)
        if bufs is None or not any(b is base for b in bufs):
            return False
        # base: the pool's list, a.base, this function's ``base`` and getrefcount's argument;
        # a: the caller's refs, this function's ``a`` and getrefcount's argument
        return sys.getrefcount(base) <= 4 and sys.getrefcount(a) <= refs + 2


def empty_like(a, dtype=None):
    """An uninitialised array of a's shape (and dtype, unless given) in a's memory order (a
    channels-last view gets a channels-last buffer): from the pool when a is C-contiguous or a
    permutation of a C-contiguous array, else ``xp.empty_like``."""
    dtype = a.dtype if dtype is None else dtype
    if a.flags.c_contiguous:
        return empty(a.shape, dtype, a)
    order = sorted(range(a.ndim), key=lambda i: -a.strides[i])      # outermost axis first
    if not a.transpose(order).flags.c_contiguous:
        return backend.get_array_module(a).empty_like(a, dtype=dtype)
    dense = empty([a.shape[i] for i in order], dtype, a)
    inverse = [0] * a.ndim
    for position, axis in enumerate(order):
        inverse[axis] = position
    return dense.transpose(inverse)


def clear():
    """Drop every free buffer of the pool (buffers in use stay with their users)."""
    with _lock:
        for dtype, shelf in list(_pool.items()):
            for size, bufs in list(shelf.by_size.items()):
                kept = [b for b in bufs if sys.getrefcount(b) > _FREE_REFS]
                _held[0] -= sum(b.nbytes for b in bufs) - sum(b.nbytes for b in kept)
                if kept:
                    shelf.by_size[size] = kept
                else:
                    del shelf.by_size[size]
                    shelf.sizes.remove(size)
            if not shelf.by_size:
                del _pool[dtype]


def held_bytes():
    """Bytes of the arrays the pool tracks (in use or free)."""
    return _held[0]
