"""Host arrays in shared memory: what ``Tensor.share_memory_()`` moves a tensor's array into.

A segment is a named POSIX shared-memory block (``multiprocessing.shared_memory``) mapped
``MAP_SHARED``: a child started with fork writes through the same pages, and a child started
with spawn/forkserver attaches the segment by name when it unpickles the tensor
(``reductions``), so in-place updates (an optimizer's ``p.add_(...)``) in any process are seen
by all.  The process that created a segment unlinks its name once its array is garbage;
children only attach (and leave the name to the creator).
"""
from __future__ import annotations

import os
import weakref
from multiprocessing import shared_memory as _shm

from .. import backend

# data address of each segment's array -> (segment, its size in bytes); these segments stay
# mapped while their arrays live
_SEGMENTS: dict[int, tuple] = {}


def _register(segment, array):
    address = backend._address(array)
    _SEGMENTS[address] = (segment, segment.size)
    weakref.finalize(array, _release, address, os.getpid())


def _release(address, creator_pid):
    segment, _ = _SEGMENTS.pop(address, (None, 0))
    if segment is None:
        return
    try:
        segment.close()
    except BufferError:      # a view still exports the buffer: the mapping dies with it
        pass
    if os.getpid() == creator_pid and getattr(segment, "_owner", False):
        try:
            segment.unlink()
        except FileNotFoundError:
            pass


def segment_of(array):
    """``(segment name, byte offset of array's data in it)`` when ``array`` lies in a shared
    segment, else None."""
    if backend.device_of(array) != "cpu":
        return None
    address = backend._address(array)
    for start, (segment, size) in _SEGMENTS.items():
        if start <= address < start + size:
            return segment.name, address - start
    return None


def to_shared(array):
    """A copy of the host ``array`` in a new shared segment, its axes laid out in the order
    of ``array``'s (strides as ``empty_like(order="K")``: a transposed tensor stays
    transposed, as torch's ``share_memory_`` keeps a tensor's strides)."""
    segment = _shm.SharedMemory(create=True, size=max(array.nbytes, 1))
    segment._owner = True
    strides = backend.get_array_module(array).empty_like(array, order="K").strides
    shared = backend.host_array_on_buffer(segment.buf, array.shape, array.dtype,
                                          strides=strides)
    shared[...] = array
    _register(segment, shared)
    return shared


def attach(name, offset, shape, strides, dtype):
    """The array ``(shape, strides, dtype)`` at ``offset`` in the segment ``name`` (created by
    another process, which unlinks it)."""
    segment = _shm.SharedMemory(name=name)   # (its tracker entry is the creator's: child
    segment._owner = False                      # processes share the creator's tracker)
    whole = backend.host_array_on_buffer(segment.buf, (segment.size,), "uint8")
    _register(segment, whole)
    return backend.host_array_on_buffer(whole, shape, dtype, offset, strides)
