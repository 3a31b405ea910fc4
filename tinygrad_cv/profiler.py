"""``tinygrad_cv.profiler``: torch's ``torch.profiler`` (the recording and the reports are
``autograd/profiler.py``'s).

    with profiler.profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with profiler.record_function("model_inference"):
            model(inputs)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

records every Function's forward (``Conv2dFn``, ``Mul``, ...), every node's backward
(``grad_fn.name()``: ``MulBackward``), ``record_function`` ranges and each optimizer step (a
range named as torch's, ``Optimizer.step#SGD.step``, from the global step hooks), nested.
``ProfilerActivity.CUDA`` adds device time to ops on CuPy arrays (``autograd/profiler.py``).

``schedule(wait=, warmup=, active=, repeat=, skip_first=)`` with ``prof.step()`` at the end of
each step records only the active steps, as torch: steps ``skip_first`` are skipped, then
cycles of ``wait`` idle steps, ``warmup`` steps (not recorded here: there is no tracer to
warm up) and ``active`` recorded ones; at the end of each cycle (and when the profiler exits
while recording) ``on_trace_ready(prof)`` is called, with ``prof.events()`` holding that
cycle's events (all cycles' with ``acc_events=True``).  With a schedule each step is a range
``ProfilerStep#N``.  ``tensorboard_trace_handler`` raises: TensorBoard's profiler
plugin reads Kineto's trace layout, which this trace does not reproduce.
"""
from __future__ import annotations

import enum
import warnings

from .autograd import profiling
from .autograd.profiler import EventList, _merge, _refuse_unsupported, record_function

__all__ = ["ProfilerActivity", "ProfilerAction", "profile", "record_function", "schedule",
           "supported_activities", "tensorboard_trace_handler"]


class ProfilerActivity(enum.Enum):
    CPU = "CPU"
    CUDA = "CUDA"


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities():
    """CPU, and CUDA when CuPy sees a GPU."""
    from . import backend
    found = {ProfilerActivity.CPU}
    if backend.cuda_available():
        found.add(ProfilerActivity.CUDA)
    return found


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """torch's schedule: a function of the step number giving its ``ProfilerAction``."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError(f"invalid profiler schedule arguments: wait={wait} (need >= 0), "
                         f"warmup={warmup} (need >= 0), active={active} (need > 0), "
                         f"repeat={repeat} (need >= 0), skip_first={skip_first} (need >= 0)")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)
    cycle = wait + warmup + active

    def schedule_fn(step):
        if step < 0:
            raise ValueError(f"step must be non-negative, got {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


def _always_record(step):
    return ProfilerAction.RECORD


_RECORDING = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


class profile:
    """torch's ``torch.profiler.profile`` (see the module docstring)."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None,
                 execution_trace_observer=None, acc_events=False, use_cuda=None):
        _refuse_unsupported(with_stack=with_stack, with_flops=with_flops,
                            with_modules=with_modules)
        if experimental_config is not None or execution_trace_observer is not None:
            raise NotImplementedError("profile(experimental_config=, execution_trace_observer=)"
                                      " are Kineto's; not supported")
        chosen = set(supported_activities() if activities is None else activities)
        if use_cuda is not None:
            warnings.warn("`use_cuda` is deprecated, use `activities` argument instead",
                          FutureWarning, stacklevel=2)
            chosen = chosen | {ProfilerActivity.CUDA} if use_cuda else \
                chosen - {ProfilerActivity.CUDA}
        unknown = [a for a in chosen if not isinstance(a, ProfilerActivity)]
        if unknown or not chosen:
            raise ValueError(f"profile(activities=): expected ProfilerActivity.CPU and/or "
                             f".CUDA, got {activities!r}")
        if ProfilerActivity.CPU not in chosen:
            raise NotImplementedError("profile(activities=) without ProfilerActivity.CPU: the "
                                      "CPU side of every op is always recorded")
        self.activities = chosen
        self.use_device = "cuda" if ProfilerActivity.CUDA in chosen else None
        self.record_shapes = bool(record_shapes)
        self.profile_memory = bool(profile_memory)
        self.acc_events = bool(acc_events)
        self.record_steps = schedule is not None
        self.schedule = schedule if schedule is not None else _always_record
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.current_action = self.schedule(0)
        self._sessions = []         # the closed recordings of this trace
        self._session = None
        self._step_range = None
        self._events = None

    # ---- the recording ----
    def _prepare(self):
        if not self.acc_events:
            self._sessions = []
            self._events = None

    def _start_trace(self):
        self._session = profiling.Session(self.record_shapes, self.profile_memory,
                                          self.use_device is not None)
        profiling.start(self._session)

    def _stop_trace(self):
        session, self._session = self._session, None
        profiling.stop(session)
        self._sessions.append(session)
        self._events = None

    def _trace_ready(self):
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _transit(self, prev, now):
        """torch's transitions between two steps' actions (``None``: the profiler stops)."""
        NONE, WARMUP = ProfilerAction.NONE, ProfilerAction.WARMUP
        if prev in (NONE, None) and now in (WARMUP, *_RECORDING):
            self._prepare()
            if now in _RECORDING:
                self._start_trace()
        elif prev == WARMUP:
            if now in _RECORDING:
                self._start_trace()
            elif now is None or now == NONE:
                if now == NONE:
                    warnings.warn("Incorrect schedule: WARMUP followed by NONE", stacklevel=3)
                self._start_trace()
                self._stop_trace()
        elif prev == ProfilerAction.RECORD:
            if now in (NONE, WARMUP):
                warnings.warn(f"Incorrect schedule: RECORD followed by {now.name}",
                              stacklevel=3)
                self._stop_trace()
            elif now is None:
                self._stop_trace()
                self._trace_ready()
        elif prev == ProfilerAction.RECORD_AND_SAVE:
            self._stop_trace()
            self._trace_ready()
            if now is not None and now != NONE:
                self._prepare()
                if now in _RECORDING:
                    self._start_trace()

    def _enter_step_range(self):
        if self.record_steps:
            self._step_range = record_function(f"ProfilerStep#{self.step_num}").__enter__()

    def _exit_step_range(self):
        step_range, self._step_range = self._step_range, None
        if step_range is not None:
            step_range.__exit__(None, None, None)

    def start(self):
        self._transit(ProfilerAction.NONE, self.current_action)
        self._enter_step_range()

    def stop(self):
        self._exit_step_range()
        self._transit(self.current_action, None)

    def step(self):
        """The next step begins: the schedule's action for it takes effect."""
        self._exit_step_range()
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)
        self._enter_step_range()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- the results ----
    def events(self):
        """The ``EventList`` of the current trace (empty before anything was recorded)."""
        if self._events is None:
            self._events = _merge(self._sessions, self.use_device) if self._sessions else \
                EventList([], self.use_device, self.profile_memory)
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        return self.events().key_averages(group_by_input_shape, group_by_stack_n,
                                          group_by_overload_name)

    def export_chrome_trace(self, path):
        self.events().export_chrome_trace(path)

    @property
    def self_cpu_time_total(self):
        return self.events().self_cpu_time_total

    def total_average(self):
        return self.events().total_average()


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """Not provided: TensorBoard's profiler plugin reads Kineto's trace layout (device
    properties, its event categories and flow events), which ``export_chrome_trace`` does not
    reproduce; raises rather than write files TensorBoard may not read.  Pass
    ``on_trace_ready=lambda p: p.export_chrome_trace(path)`` for Chrome/Perfetto traces."""
    raise NotImplementedError(
        "tensorboard_trace_handler is not supported: the trace is Chrome's format, not "
        "Kineto's; use on_trace_ready=lambda p: p.export_chrome_trace('trace.json')")


# ---- the optimizer's step as a range --------------------------------------------------------
_step_hooks = []
_open_steps = {}    # id(optimizer) -> its step ranges open (a step may call another's)


def _open_step_range(optimizer, args, kwargs):
    name = f"Optimizer.step#{type(optimizer).__name__}.step"
    _open_steps.setdefault(id(optimizer), []).append(profiling.open_range(name))


def _close_step_range(optimizer, args, kwargs):
    ranges = _open_steps.get(id(optimizer))
    if ranges:
        profiling.close_range(ranges.pop())


def _on_start():
    from .optim import optimizer
    _step_hooks.append(optimizer.register_optimizer_step_pre_hook(_open_step_range))
    _step_hooks.append(optimizer.register_optimizer_step_post_hook(_close_step_range))


def _on_stop():
    _open_steps.clear()
    while _step_hooks:
        _step_hooks.pop().remove()


profiling.add_listener(_on_start, _on_stop)
