"""The profiler's recorder: timed ranges of the kernel's work while a profiler records.

While a ``Session`` is open (``start``/``stop``; at most one at a time), ``Function.apply``
hands every application to ``timed_apply`` and the engine every node's backward to
``timed_backward`` (each checks one module flag, ``profiler_on``, which ``start`` and
``stop`` set; with no profiler that check is all they cost).  ``record_function`` and the
optimizer's step open named ranges (``open_range``/``close_range``).

A ``Record`` holds its name, kind (``"op"``: a Function's forward, ``"backward"``: a node's
backward, ``"range"``: a named range), thread, start and end (``time.perf_counter_ns``), the
record it ran inside (the innermost record open in its thread: a Function applied inside
another's forward, or inside a ``record_function`` range, is its child), and on request:

* ``shapes``: one list per input (its shape for an array/Tensor, ``[]`` for a constant);
  a backward's inputs are the gradients of its node's outputs;
* ``memory``: ``{device: bytes}`` of the arrays the op returned that are new memory: not
  views of its inputs (nor of the values its node saved), not arrays a child op already
  returned (counted there).  It is what the op's outputs allocated, not the temporaries it
  freed before returning;
* ``device_ms``: on CuPy arrays, with device timing on, the GPU time between two CUDA events
  recorded before and after the op on the current stream.

On CuPy arrays the device is synchronised before and after each op (so a record's wall time
holds its kernels, launched and run); NumPy arrays are never synchronised.
"""
from __future__ import annotations

import threading
import time

from .. import backend

# set by ``function.py`` and ``engine.py`` at import: what the timed paths run
kernel_apply = None         # Function.apply's own function
node_backward = None        # engine._node_backward (its body, with ``timed=True``)

_session = None             # the open Session, or None
_lock = threading.Lock()
_local = threading.local()  # .stack: [session, [open records]] of this thread; .inner: see to_time
_listeners = []             # (on_start, on_stop) called when a session opens/closes


class Record:
    """One timed range (see the module docstring)."""

    __slots__ = ("name", "kind", "thread", "start", "end", "parent", "shapes", "memory",
                 "device_ms", "args", "_events", "_returned")

    def __init__(self, name, kind, thread, parent, shapes=None, args=None):
        self.name = name
        self.kind = kind
        self.thread = thread
        self.parent = parent
        self.shapes = shapes
        self.args = args
        self.memory = None
        self.device_ms = None
        self._events = None
        self._returned = None
        self.start = self.end = None


class Session:
    """What one recording collects: its records in the order they started."""

    def __init__(self, record_shapes=False, profile_memory=False, device_timing=False):
        self.record_shapes = bool(record_shapes)
        self.profile_memory = bool(profile_memory)
        self.device_timing = bool(device_timing)
        self.records = []
        self.started_ns = self.stopped_ns = None

    def _stack(self):
        entry = getattr(_local, "stack", None)
        if entry is None or entry[0] is not self:
            entry = _local.stack = [self, []]
        return entry[1]

    def open(self, name, kind, shapes=None, on_device=False, args=None):
        stack = self._stack()
        rec = Record(name, kind, threading.get_ident(), stack[-1] if stack else None,
                     shapes, args)
        self.records.append(rec)
        stack.append(rec)
        if on_device:
            backend.synchronize("cuda")
            if self.device_timing:
                rec._events = _device_event(), None
        rec.start = time.perf_counter_ns()
        return rec

    def close(self, rec, on_device=False):
        if rec.end is not None:         # (closed by stop(): the session ended meanwhile)
            return
        if on_device:
            if rec._events is not None:
                rec._events = rec._events[0], _device_event()
            backend.synchronize("cuda")
        rec.end = time.perf_counter_ns()
        if rec._events is not None and rec._events[1] is not None:
            rec.device_ms = _elapsed_ms(*rec._events)
        rec._events = None
        stack = self._stack()
        while rec in stack:         # (records left open inside it, by an exception, end too)
            top = stack.pop()
            if top is rec:
                break
            if top.end is None:
                top.end = rec.end

    def note_memory(self, rec, outputs, inputs):
        """``rec.memory``: the bytes of the new arrays among ``outputs`` (module docstring)."""
        roots = {id(_root(a)) for a in inputs if backend.is_array(a)}
        seen = rec._returned or ()
        memory = {}
        returned = set()
        for a in outputs:
            if not backend.is_array(a) or id(a) in seen or id(_root(a)) in roots:
                continue
            device = backend.device_of(a)
            memory[device] = memory.get(device, 0) + int(a.nbytes)
            returned.add(id(a))
        rec.memory = memory
        parent = rec.parent
        if parent is not None:      # (the parent returning this array does not count it)
            if parent._returned is None:
                parent._returned = set()
            parent._returned.update(returned)
            parent._returned.update(seen)


def _root(a):
    """The array owning ``a``'s memory (``a`` itself unless it is a view)."""
    while getattr(a.base, "ndim", None) is not None:
        a = a.base
    return a


def _device_event():
    """A CUDA event recorded now on the current stream."""
    xp = backend.module_for_device("cuda")
    event = xp.cuda.Event()
    event.record()
    return event


def _elapsed_ms(start, end):
    end.synchronize()
    return float(backend.module_for_device("cuda").cuda.get_elapsed_time(start, end))


# ---- sessions --------------------------------------------------------------------------------
def current():
    """The open Session, or None."""
    return _session


def add_listener(on_start, on_stop):
    """Call ``on_start()`` when a session opens and ``on_stop()`` when it closes (the library
    layer's own ranges: the optimizer's step)."""
    _listeners.append((on_start, on_stop))


def start(session):
    """Open ``session``: from now on every op, backward and range is recorded into it."""
    global _session
    from . import engine, function
    with _lock:
        if _session is not None:
            raise RuntimeError("a profiler is already recording; profilers cannot be nested "
                               "or run at the same time")
        _session = session
        session.started_ns = time.perf_counter_ns()
        function.profiler_on = engine.profiler_on = True
    for on_start, _ in _listeners:
        on_start()


def stop(session):
    """Close ``session`` (records still open end now); returns it."""
    global _session
    from . import engine, function
    with _lock:
        if _session is not session:
            raise RuntimeError("this profiler is not recording")
        function.profiler_on = engine.profiler_on = False
        _session = None
    for _, on_stop in _listeners:
        on_stop()
    now = time.perf_counter_ns()
    session.stopped_ns = now
    for rec in session.records:
        if rec.end is None:
            rec.end = now
        rec._events = None
    return session


# ---- the timed paths -------------------------------------------------------------------------
def to_time():
    """Whether the ``Function.apply`` call now starting is to be timed: False once, for the
    call ``timed_apply`` makes itself (``_run_apply``), True for the others."""
    if getattr(_local, "inner", False):
        _local.inner = False
        return False
    return True


def _run_apply(cls, inputs, kwargs):
    _local.inner = True
    try:
        return kernel_apply(cls, *inputs, **kwargs)
    finally:
        _local.inner = False


def _shape(x):
    shape = getattr(x, "shape", None)
    return [] if shape is None or not (backend.is_array(x) or hasattr(x, "_tensor_marker")) \
        else [int(n) for n in shape]


def _array(x):
    return x.array if hasattr(x, "_tensor_marker") else x


def _any_on_device(values):
    for v in values:
        v = _array(v)
        if backend.is_array(v) and backend.device_of(v) == "cuda":
            return True
    return False


def timed_apply(cls, inputs, kwargs):
    """``cls.apply(*inputs, **kwargs)`` recorded as a ``"op"`` named after the Function."""
    session = _session
    if session is None:     # (stopped since the flag was read)
        return _run_apply(cls, inputs, kwargs)
    on_device = _any_on_device(inputs)
    rec = session.open(cls.__name__, "op",
                       [_shape(x) for x in inputs] if session.record_shapes else None,
                       on_device)
    result = None
    try:
        result = _run_apply(cls, inputs, kwargs)
        return result
    finally:
        outputs = result if isinstance(result, tuple) else (result,)
        session.close(rec, on_device or _any_on_device(outputs))
        if session.profile_memory and result is not None:
            session.note_memory(rec, [_array(t) for t in outputs],
                                [_array(x) for x in inputs])


def timed_backward(node, grads, state):
    """The engine's ``_node_backward`` recorded as a ``"backward"`` named ``node.name()``."""
    session = _session
    if session is None:
        return node_backward(node, grads, state, True)
    on_device = _any_on_device(grads)
    rec = session.open(node.name(), "backward",
                       [_shape(g) for g in grads] if session.record_shapes else None,
                       on_device)
    inputs = (*[_array(g) for g in grads], *[_array(x) for x in node.saved],
              *[_array(x) for x in node.inputs]) if session.profile_memory else ()
    result = None
    try:
        result = node_backward(node, grads, state, True)
        return result
    finally:
        session.close(rec, on_device or _any_on_device(result or ()))
        if session.profile_memory and result is not None:
            session.note_memory(rec, [_array(g) for g in result], inputs)


def open_range(name, args=None):
    """Open a named range in the current session (None when none is recording)."""
    session = _session
    if session is None:
        return None
    return session, session.open(name, "range", [] if session.record_shapes else None,
                                 args=args)


def close_range(handle):
    """Close a range ``open_range`` returned (None: nothing to do)."""
    if handle is not None:
        handle[0].close(handle[1])
