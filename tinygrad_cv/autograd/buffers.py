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

Only CPU arrays of at least ``MIN_BYTES`` are pooled (CuPy has its own memory pool): glibc
hands the largest blocks out by mmap every time (its mmap threshold only rises to the size of
the largest block freed) and recycles smaller ones from its heap, so pooling those would only
hold memory (case (b) of benchmarks/run.py: from 8 MB, 0-1 faults per step and peak memory
102 MB; from 4 MB, 117 MB; from 2 MB, 129 MB; none, 106 MB and 4,300-7,500 faults per step).
At most ``MAX_PER_KEY`` buffers of one size and dtype, and ``MAX_BYTES`` in all, are kept
(when full, the pool forgets a buffer still in use, which then dies with its last user).
``clear()`` drops every free buffer.
"""
from __future__ import annotations

import sys
import threading

from .. import backend

MIN_BYTES = 8 << 20
MAX_PER_KEY = 6
MAX_BYTES = 256 << 20

_lock = threading.Lock()
_pool = {}          # (size, dtype) -> [flat array, ...] (in use or free)
_held = [0]         # bytes of all arrays in _pool

# References to a pooled array while ``empty`` scans it: the pool's list, the loop variable
# and getrefcount's own argument.
_FREE_REFS = 3


def empty(shape, dtype, like):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype`` on ``like``'s device,
    reused from the pool when a buffer of that size and dtype is free (contents arbitrary, as
    ``xp.empty``).  Buffers are kept flat and handed out reshaped, so arrays of one size but
    different shapes (a (N, C, H, W) activation and its (N, C, H*W) view) share them."""
    xp = backend.get_array_module(like)
    shape = tuple(int(s) for s in shape)
    dtype = xp.dtype(dtype)
    size = 1
    for s in shape:
        size *= s
    if size * dtype.itemsize < MIN_BYTES or backend.device_of(like) != "cpu":
        return xp.empty(shape, dtype=dtype)
    key = (size, dtype)
    with _lock:
        bufs = _pool.get(key)
        if bufs is None:
            bufs = _pool[key] = []
        for buf in bufs:
            if sys.getrefcount(buf) <= _FREE_REFS:
                return buf.reshape(shape)
        buf = xp.empty(size, dtype=dtype)
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
        bufs = _pool.get((base.size, base.dtype))
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
        for key in list(_pool):
            kept = [b for b in _pool[key] if sys.getrefcount(b) > _FREE_REFS]
            _held[0] -= sum(b.nbytes for b in _pool[key]) - sum(b.nbytes for b in kept)
            if kept:
                _pool[key] = kept
            else:
                del _pool[key]


def held_bytes():
    """Bytes of the arrays the pool tracks (in use or free)."""
    return _held[0]
