"""``tinygrad_cv.autograd.profiler``: torch's ``torch.autograd.profiler`` on the kernel's
recorder (``profiling.py``).

``profile(enabled=True, use_cuda=False, record_shapes=False, profile_memory=False)`` records,
inside its ``with`` block, every Function's forward (named after the Function: ``Mul``,
``Conv2dFn``), every node's backward (named ``grad_fn.name()``: ``MulBackward``) and every
``record_function`` range, each nested in the one open around it in its thread.  Afterwards
``prof.function_events`` (``prof.events()``) is an ``EventList`` of ``FunctionEvent``\\ s and
``prof.key_averages()`` one of ``FunctionEventAvg``\\ s, grouped by name (and input shapes);
``table(sort_by=, row_limit=, header=, top_level_events_only=)`` prints torch's table and
``export_chrome_trace(path)`` writes Chrome's trace format.

Times are microseconds (floats) from ``time.perf_counter_ns``: ``cpu_time_total`` is a
record's wall time, ``self_cpu_time_total`` that minus its children's.  With ``use_cuda``
(``ProfilerActivity.CUDA``) an op on CuPy arrays also has device time (CUDA events around it):
the CUDA columns appear when some op had any, as torch.  Memory (``profile_memory``) is the
bytes of the new arrays the ops returned (``profiling.Session.note_memory``), not an
allocator's count: ``cpu_memory_usage`` with the children's, ``self_cpu_memory_usage``
without.
"""
from __future__ import annotations

import functools
import gzip
import json
import os

from . import profiling

US_IN_SECOND = 1e6
US_IN_MS = 1e3


def _format_time(us):
    if us >= US_IN_SECOND:
        return f"{us / US_IN_SECOND:.3f}s"
    if us >= US_IN_MS:
        return f"{us / US_IN_MS:.3f}ms"
    return f"{us:.3f}us"


def _format_share(us, total_us):
    if total_us == 0:
        return "NaN"
    return f"{us * 100.0 / total_us:.2f}%"


def _format_memory(nbytes):
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


class FunctionEvent:
    """One recorded range: ``name`` (= ``key``), ``thread``, ``time_range`` (start, end in us
    from the recording's start), ``input_shapes``, ``cpu_parent``, ``cpu_children``, the times
    and memory of the module docstring, ``count`` (1)."""

    count = 1
    is_async = False
    is_legacy = False

    def __init__(self, rec, index, origin_ns, use_device):
        self.id = index
        # (torch's: the steps' ranges share one key, the trace keeps their numbers)
        self.trace_name = rec.name
        self.name = "ProfilerStep*" if rec.name.startswith("ProfilerStep#") else rec.name
        self.kind = rec.kind
        self.thread = rec.thread
        self.start_us = (rec.start - origin_ns) / 1e3
        self.end_us = (rec.end - origin_ns) / 1e3
        self.input_shapes = rec.shapes
        self.args = rec.args
        self.use_device = use_device
        self.cpu_parent = None
        self.cpu_children = []
        self._device_us = 0.0 if rec.device_ms is None else rec.device_ms * 1e3
        memory = rec.memory or {}
        self._self_cpu_memory = memory.get("cpu", 0)
        self._self_device_memory = memory.get("cuda", 0)

    key = property(lambda self: self.name)
    time_range = property(lambda self: (self.start_us, self.end_us))
    cpu_time_total = property(lambda self: self.end_us - self.start_us)
    cpu_time = cpu_time_total

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def device_time_total(self):
        return self._device_us if self.kind != "range" else sum(
            c.device_time_total for c in self.cpu_children)

    @property
    def self_device_time_total(self):
        return max(0.0, self.device_time_total - sum(c.device_time_total
                                                    for c in self.cpu_children))

    device_time = device_time_total

    @property
    def cpu_memory_usage(self):
        return self._self_cpu_memory + sum(c.cpu_memory_usage for c in self.cpu_children)

    @property
    def device_memory_usage(self):
        return self._self_device_memory + sum(c.device_memory_usage for c in self.cpu_children)

    self_cpu_memory_usage = property(lambda self: self._self_cpu_memory)
    self_device_memory_usage = property(lambda self: self._self_device_memory)
    # torch's older names
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)
    cuda_memory_usage = property(lambda self: self.device_memory_usage)
    self_cuda_memory_usage = property(lambda self: self.self_device_memory_usage)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time_total={self.cpu_time_total:.3f}us input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The sum of the events of one key (``key_averages``): ``key``, ``count``,
    ``cpu_time_total``, ``self_cpu_time_total``, ``cpu_time`` (the mean), the device times,
    memory, ``input_shapes`` (when grouped by them; else the first event's)."""

    is_async = False
    is_legacy = False

    def __init__(self, key=None, input_shapes=None, use_device=None):
        self.key = key
        self.input_shapes = input_shapes
        self.use_device = use_device
        self.count = 0
        self.cpu_parent = None
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.device_time_total = self.self_device_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.device_memory_usage = self.self_device_memory_usage = 0

    def add(self, other):
        """Add an event (or another average) of the same key."""
        if self.count == 0:
            self.input_shapes = other.input_shapes
            self.use_device = other.use_device
            self.cpu_parent = other.cpu_parent
        if self.key is None:
            self.key = other.key
        elif other.key != self.key:
            raise ValueError(f"cannot add an event of key {other.key!r} to {self.key!r}")
        self.count += other.count
        for name in ("cpu_time_total", "self_cpu_time_total", "device_time_total",
                     "self_device_time_total", "cpu_memory_usage", "self_cpu_memory_usage",
                     "device_memory_usage", "self_device_memory_usage"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    __iadd__ = add

    cpu_time = property(lambda self: self.cpu_time_total / self.count if self.count else 0.0)
    device_time = property(
        lambda self: self.device_time_total / self.count if self.count else 0.0)
    name = property(lambda self: self.key)
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)
    cuda_time = property(lambda self: self.device_time)
    cuda_memory_usage = property(lambda self: self.device_memory_usage)
    self_cuda_memory_usage = property(lambda self: self.self_device_memory_usage)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}"
                f"us cpu_time={self.cpu_time:.3f}us input_shapes={self.input_shapes}>")


_SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "device_time",
              "device_time_total", "self_device_time_total", "cuda_time", "cuda_time_total",
              "self_cuda_time_total", "cpu_memory_usage", "self_cpu_memory_usage",
              "device_memory_usage", "self_device_memory_usage", "cuda_memory_usage",
              "self_cuda_memory_usage", "count")


class EventList(list):
    """A list of ``FunctionEvent``\\ s (or of ``FunctionEventAvg``\\ s) with torch's reports."""

    def __init__(self, events=(), use_device=None, profile_memory=False):
        super().__init__(events)
        self._use_device = use_device
        self._profile_memory = profile_memory

    @property
    def self_cpu_time_total(self):
        """The sum of every event's self CPU time (us): the recorded time, each moment once."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One ``FunctionEventAvg`` per name (per name and input shapes with
        ``group_by_input_shape``), in the order the keys first occur."""
        if group_by_stack_n:
            raise NotImplementedError("key_averages(group_by_stack_n=): stacks are not recorded "
                                      "(with_stack is not supported)")
        groups = {}
        for e in self:
            key = (e.key, str(e.input_shapes)) if group_by_input_shape else e.key
            avg = groups.get(key)
            if avg is None:
                avg = groups[key] = FunctionEventAvg()
            avg.add(e)
        averages = EventList(groups.values(), self._use_device, self._profile_memory)
        if not group_by_input_shape:
            for avg in averages:
                avg.input_shapes = ""       # (as torch: shapes are shown when grouped by them)
        return averages

    def total_average(self):
        """All events summed into one ``FunctionEventAvg`` (key ``"Total"``)."""
        total = FunctionEventAvg(use_device=self._use_device)
        for e in self:
            total.add(e)
            total.key = None
        total.key = "Total"
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """torch's text table of these events (see ``_table``)."""
        return _table(self, sort_by, row_limit, max_name_column_width,
                      max_shapes_column_width, header, top_level_events_only, time_unit,
                      self._use_device, self._profile_memory)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Write the events in Chrome's trace-event format (``chrome://tracing``, Perfetto):
        ``{"traceEvents": [...]}`` of complete events (``"ph": "X"``) with ``ts``/``dur`` in
        microseconds, ``pid`` the process, ``tid`` the thread, ``args`` the input shapes,
        memory and device time; gzip-compressed when ``path`` ends with ``.gz``."""
        pid = os.getpid()
        out = []
        for e in self:
            if not isinstance(e, FunctionEvent):
                raise TypeError("export_chrome_trace: an EventList of FunctionEvents (not of "
                                "key averages) is needed")
            args = {}
            if e.input_shapes is not None:
                args["Input Dims"] = e.input_shapes
            if e.args is not None:
                args["Record function args"] = e.args
            if e.self_cpu_memory_usage or e.self_device_memory_usage:
                args["Bytes returned (cpu)"] = e.self_cpu_memory_usage
                args["Bytes returned (cuda)"] = e.self_device_memory_usage
            if e.kind != "range" and e.device_time_total:
                args["Device time us"] = round(e.device_time_total, 3)
            out.append({"ph": "X", "cat": _CATEGORIES[e.kind], "name": e.trace_name, "pid": pid,
                        "tid": e.thread, "ts": round(e.start_us, 3),
                        "dur": round(e.cpu_time_total, 3), "args": args})
        opener = gzip.open if str(path).endswith(".gz") else open      # (as torch's)
        with opener(path, "wt") as f:
            json.dump({"traceEvents": out, "displayTimeUnit": "ms"}, f)


_CATEGORIES = {"op": "cpu_op", "backward": "cpu_op", "range": "user_annotation"}


def _table(events, sort_by, row_limit, name_width_max, shapes_width_max, header,
           top_level_only, time_unit, use_device, profile_memory):
    """torch's table: the same columns, widths, formats and footer."""
    if len(events) == 0:
        return ""
    if sort_by is not None:
        attr = sort_by.replace("cuda", "device")
        if attr not in _SORT_KEYS and sort_by not in _SORT_KEYS:
            raise ValueError(f"table(sort_by={sort_by!r}): expected one of "
                             f"{', '.join(_SORT_KEYS)}")
        events = sorted(events, key=lambda e: getattr(e, attr), reverse=True)
    columns = _Columns(events, name_width_max, shapes_width_max, use_device, profile_memory)
    fmt = functools.partial(_format_in, time_unit)
    totals = (sum(e.self_cpu_time_total for e in events),
              sum(e.self_device_time_total for e in events))
    line_length = sum(w + 2 for w in columns.widths) - 2
    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    if top_level_only:
        lines += ["=" * line_length, "This report only display top-level ops statistics"]
    lines += [columns.separator, columns.format(columns.headers), columns.separator]
    shown = 0
    for e in events:
        if shown == row_limit:
            break
        if top_level_only and e.cpu_parent is not None:
            continue
        shown += 1
        lines.append(columns.format(columns.row(e, fmt, totals, name_width_max)))
    lines += [columns.separator, f"Self CPU time total: {fmt(totals[0])}"]
    if columns.device_time:
        lines.append(f"Self {columns.device} time total: {fmt(totals[1])}")
    return "\n".join(lines) + "\n"


def _format_in(time_unit, us):
    if time_unit == "s":
        return f"{us / US_IN_SECOND:.3f}s"
    if time_unit == "ms":
        return f"{us / US_IN_MS:.3f}ms"
    if time_unit == "us":
        return f"{us:.3f}us"
    return _format_time(us)


class _Columns:
    """The columns of a table of ``events`` (torch's choice: device time and memory columns
    when there is some, input shapes when some event has them) and one row's values."""

    def __init__(self, events, name_width_max, shapes_width_max, use_device, profile_memory):
        self.device_time = any(e.self_device_time_total > 0 for e in events)
        self.memory = profile_memory
        self.device_memory = bool(use_device) and profile_memory and any(
            e.self_device_memory_usage > 0 for e in events)
        self.shapes = any(e.input_shapes for e in events)
        self.device = (use_device or "cuda").upper()
        name_width = max(len(e.key) for e in events) + 4
        if name_width_max is not None:
            name_width = min(name_width, name_width_max)
        shapes_width = max(len(str(e.input_shapes)) for e in events) + 4
        if shapes_width_max is not None:
            shapes_width = min(shapes_width, shapes_width_max)
        self.shapes_width = shapes_width
        d = self.device
        headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
        if self.device_time:
            headers += [f"Self {d}", f"Self {d} %", f"{d} total", f"{d} time avg"]
        if self.memory:
            headers += ["CPU Mem", "Self CPU Mem"]
        if self.device_memory:
            headers += [f"{d} Mem", f"Self {d} Mem"]
        headers.append("# of Calls")
        widths = [name_width] + [12] * (len(headers) - 1)
        if self.shapes:
            headers.append("Input Shapes")
            widths.append(shapes_width)
        self.headers, self.widths = headers, widths
        self.separator = "".join("-" * w + "  " for w in widths)
        self._format = "".join("{: >" + str(w) + "}  " for w in widths)

    def format(self, values):
        return self._format.format(*values)

    def row(self, e, fmt, totals, name_width_max):
        name = e.key
        if name_width_max is not None and len(name) >= name_width_max - 3:
            name = name[:name_width_max - 3] + "..."
        row = [name, _format_share(e.self_cpu_time_total, totals[0]),
               fmt(e.self_cpu_time_total), _format_share(e.cpu_time_total, totals[0]),
               fmt(e.cpu_time_total), fmt(e.cpu_time)]
        if self.device_time:
            row += [fmt(e.self_device_time_total),
                    _format_share(e.self_device_time_total, totals[1]),
                    fmt(e.device_time_total), fmt(e.device_time)]
        if self.memory:
            row += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        if self.device_memory:
            row += [_format_memory(e.device_memory_usage),
                    _format_memory(e.self_device_memory_usage)]
        row.append(e.count)
        if self.shapes:
            row.append(str(e.input_shapes)[:self.shapes_width])
        return row


def build_events(session, use_device=None):
    """The ``EventList`` of a closed ``profiling.Session``: one ``FunctionEvent`` per record,
    linked to its parent and children."""
    by_record = {}
    events = EventList([], use_device, session.profile_memory)
    for index, rec in enumerate(session.records):
        e = FunctionEvent(rec, index, session.started_ns, use_device)
        by_record[id(rec)] = e
        parent = by_record.get(id(rec.parent)) if rec.parent is not None else None
        if parent is not None:
            e.cpu_parent = parent
            parent.cpu_children.append(e)
        events.append(e)
    return events


class record_function:
    """A named range in the profile (``with record_function("name"):`` or as a decorator);
    nothing happens when no profiler records.  ``args``: a string kept with the event."""

    def __init__(self, name, args=None):
        self.name = str(name)
        self.args = args
        self._handle = None

    def __enter__(self):
        self._handle = profiling.open_range(self.name, self.args)
        return self

    def __exit__(self, *exc):
        handle, self._handle = self._handle, None
        profiling.close_range(handle)
        return False

    def __call__(self, fn):
        name, args = self.name, self.args

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with record_function(name, args):
                return fn(*a, **kw)
        return wrapper


class profile:
    """torch's ``autograd.profiler.profile`` (see the module docstring); ``with_stack``,
    ``with_flops``, ``with_modules`` raise (not recorded)."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, acc_events=False):
        _refuse_unsupported(with_stack=with_stack, with_flops=with_flops,
                            with_modules=with_modules)
        if not use_cpu:
            raise NotImplementedError("profile(use_cpu=False): the CPU side of every op is "
                                      "always recorded")
        if use_device not in (None, "cuda"):
            raise ValueError(f"profile(use_device={use_device!r}): only 'cuda' (CuPy) is known")
        self.enabled = bool(enabled)
        self.use_device = "cuda" if (use_cuda or use_device == "cuda") else None
        self.record_shapes = bool(record_shapes)
        self.profile_memory = bool(profile_memory)
        self.acc_events = bool(acc_events)
        self.function_events = None
        self._session = None
        self._done = []

    def __enter__(self):
        if self.enabled:
            if self._session is not None:
                raise RuntimeError("this profiler is already recording")
            self._session = profiling.Session(self.record_shapes, self.profile_memory,
                                              self.use_device is not None)
            profiling.start(self._session)
        return self

    def __exit__(self, *exc):
        if self.enabled and self._session is not None:
            session, self._session = self._session, None
            profiling.stop(session)
            if not self.acc_events:
                self._done = []
            self._done.append(session)
            self.function_events = _merge(self._done, self.use_device)
        return False

    def _events(self):
        if self.function_events is None:
            raise RuntimeError("the profiler has not finished recording: read its results "
                               "after the with block")
        return self.function_events

    def events(self):
        return self._events()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        return self._events().key_averages(group_by_input_shape, group_by_stack_n,
                                           group_by_overload_name)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False):
        return self._events().table(sort_by, row_limit, max_src_column_width,
                                    max_name_column_width, max_shapes_column_width, header,
                                    top_level_events_only)

    def total_average(self):
        return self._events().total_average()

    @property
    def self_cpu_time_total(self):
        return self._events().self_cpu_time_total

    def export_chrome_trace(self, path):
        self._events().export_chrome_trace(path)

    def __str__(self):
        return self.table() if self.function_events is not None else "<unfinished profile>"


def emit_nvtx(enabled=True, record_shapes=False):
    """Not provided: NVTX ranges around each op would need a GPU tool chain to be checked;
    raises."""
    raise NotImplementedError("emit_nvtx is not supported: ops are not annotated with NVTX "
                              "ranges; use profile(use_cuda=True) for device times")


def _merge(sessions, use_device):
    """The events of ``sessions`` in one list (times from the first one's start)."""
    if len(sessions) == 1:
        return build_events(sessions[0], use_device)
    events = EventList([], use_device, sessions[0].profile_memory)
    origin = sessions[0].started_ns
    for s in sessions:
        shift = (s.started_ns - origin) / 1e3
        for e in build_events(s, use_device):
            e.start_us += shift
            e.end_us += shift
            e.id = len(events)
            events.append(e)
    return events


def _refuse_unsupported(**flags):
    for name, value in flags.items():
        if value:
            raise NotImplementedError(f"profile({name}=True) is not supported: only op names, "
                                      "times, input shapes and returned bytes are recorded")
