"""tinygrad_cv.profiler and tinygrad_cv.autograd.profiler: torch's profiling snippets ported by
changing imports.  Counts are checked against Function applications and node backwards
counted independently (wrappers of ``Function.apply`` and the engine's ``_node_backward``),
the schedule against torch's own profiler run with the same schedule, and times only
structurally (a total is at least the sum of its parts, self times add up to the total)."""
import collections
import gzip
import json
import time
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.profiler as profiler
from tinygrad_cv.autograd import engine, function
from tinygrad_cv.autograd import profiler as autograd_profiler
from tinygrad_cv.autograd.function import Function

TORCH_HEADERS = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                 "# of Calls"]


def small_cnn():
    tg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def inputs(batch=2):
    return tg.tensor(np.random.default_rng(0).standard_normal((batch, 3, 8, 8)).astype(np.float32))


def count_independently(monkeypatch, step):
    """Function applications (forward) and node backwards of ``step()``, by name, counted by
    wrappers installed for this call only."""
    forward, backward = collections.Counter(), collections.Counter()
    apply, node_backward = Function.__dict__["apply"].__func__, engine._node_backward

    def counting_apply(cls, *a, **kw):
        forward[cls.__name__] += 1
        return apply(cls, *a, **kw)

    def counting_backward(node, grads, state, *rest):
        backward[node.name()] += 1
        return node_backward(node, grads, state, *rest)

    with monkeypatch.context() as m:
        m.setattr(Function, "apply", classmethod(counting_apply))
        m.setattr(engine, "_node_backward", counting_backward)
        step()
    return forward, backward


def train_step(model, x, opt=None):
    loss = model(x).square().mean()
    loss.backward()
    if opt is not None:
        opt.step()


def by_name(events, kind=None):
    return collections.Counter(e.name for e in events if kind is None or e.kind == kind)


# ---- the snippet ------------------------------------------------------------------------------
def test_snippet_on_a_small_cnn_counts_names_and_nesting(monkeypatch, tmp_path):
    model, x = small_cnn(), inputs()
    forward, backward = count_independently(monkeypatch, lambda: train_step(model, x))
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU], record_shapes=True,
                          profile_memory=False, with_stack=False) as prof:
        with profiler.record_function("model_inference"):
            loss = model(x).square().mean()
        loss.backward()
    events = prof.events()
    assert by_name(events, "op") == forward
    assert by_name(events, "backward") == backward
    assert {"Conv2dFn", "ReLU", "MaxPool2dFn", "LinearFn"} <= set(forward)
    assert {"Conv2dFnBackward", "LinearFnBackward"} <= set(backward)
    # backward names are grad_fn.name()
    assert model(x).grad_fn.name() + "" in {e.name for e in events}
    # nesting: the forward ops of the model are children of model_inference, the backward
    # nodes are top level
    (inference,) = [e for e in events if e.name == "model_inference"]
    children = inference.cpu_children
    assert by_name(children) == forward      # every forward op, directly inside it
    assert inference.cpu_time_total >= sum(c.cpu_time_total for c in children)
    for c in children:
        assert c.cpu_parent is inference
        assert inference.time_range[0] <= c.time_range[0] <= c.time_range[1] <= \
            inference.time_range[1]
    assert all(e.cpu_parent is None for e in events if e.kind == "backward")
    # self times add up to the top-level events' total
    top_total = sum(e.cpu_time_total for e in events if e.cpu_parent is None)
    assert prof.key_averages().self_cpu_time_total == pytest.approx(top_total, rel=1e-9)
    assert events.self_cpu_time_total == pytest.approx(top_total, rel=1e-9)
    assert all(e.self_cpu_time_total >= 0 for e in events)
    # key averages: counts and times per name
    averages = {a.key: a for a in prof.key_averages()}
    for name, n in forward.items():
        assert averages[name].count == n
        per_event = [e for e in events if e.name == name]
        assert averages[name].cpu_time_total == pytest.approx(
            sum(e.cpu_time_total for e in per_event))
        assert averages[name].cpu_time == pytest.approx(averages[name].cpu_time_total / n)
        assert averages[name].self_cpu_time_total <= averages[name].cpu_time_total + 1e-9
    total = prof.key_averages().total_average()
    assert total.key == "Total" and total.count == len(events)
    # the table, as torch's: its header columns, sorted, limited
    text = prof.key_averages().table(sort_by="cpu_time_total", row_limit=10)
    header = text.splitlines()[1]
    positions = [header.index(h) for h in TORCH_HEADERS]
    assert positions == sorted(positions)
    assert "Input Shapes" not in header     # (only when grouped by them, as torch)
    assert text.splitlines()[-1].startswith("Self CPU time total: ")
    rows = _rows(text)
    assert len(rows) == min(10, len(averages))
    assert rows[0].split()[0] == max(averages.values(), key=lambda a: a.cpu_time_total).key
    totals = [averages[r.split()[0]].cpu_time_total for r in rows]
    assert totals == sorted(totals, reverse=True)
    assert len(_rows(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=3))) == 3
    prof.export_chrome_trace(str(tmp_path / "trace.json"))


def _rows(text):
    """The data rows of a table (between the second and the last separator line)."""
    lines = text.splitlines()
    seps = [i for i, line in enumerate(lines) if line.startswith("---")]
    return lines[seps[1] + 1:seps[2]]


def test_group_by_input_shape_separates_shapes():
    layer = nn.Linear(5, 3)
    a, b = tg.randn(2, 5), tg.randn(7, 5)
    with profiler.profile(record_shapes=True) as prof:
        layer(a)
        layer(b)
        layer(a)
    plain = [x for x in prof.key_averages() if x.key == "LinearFn"]
    assert len(plain) == 1 and plain[0].count == 3
    grouped = {str(x.input_shapes): x.count for x in prof.key_averages(group_by_input_shape=True)
               if x.key == "LinearFn"}
    assert grouped == {str([[2, 5], [3, 5], [3]]): 2, str([[7, 5], [3, 5], [3]]): 1}
    text = prof.key_averages(group_by_input_shape=True).table(sort_by="count", row_limit=5)
    assert "Input Shapes" in text.splitlines()[1]
    assert "[[7, 5], [3, 5], [3]]" in text


def test_table_header_top_level_and_bad_sort_key():
    x = tg.randn(3, 3, requires_grad=True)
    with profiler.profile() as prof:
        with profiler.record_function("outer"):
            (x * 2).sum()
    text = prof.key_averages().table(header="my header", top_level_events_only=True)
    assert "my header" in text.splitlines()[1]
    rows = _rows(text)
    assert [r.split()[0] for r in rows] == ["outer"]
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="no_such_column")


def test_table_columns_match_torchs_text():
    """The same snippet in torch and here: the header lines are equal up to the name column's
    width (torch's op names are aten's)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as tp:
        torch.ones(3) * 2
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:
        tg.ones(3) * 2
    theirs = tp.key_averages().table(row_limit=1).splitlines()[1].split("  ")
    ours = prof.key_averages().table(row_limit=1).splitlines()[1].split("  ")
    assert [c.strip() for c in theirs if c.strip()] == [c.strip() for c in ours if c.strip()]


# ---- nesting through user Functions, exceptions, threads ------------------------------------
class Cube(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


def test_a_functions_forward_nests_the_ops_it_applies():
    x = tg.randn(4, requires_grad=True)
    with profiler.profile() as prof:
        y = Cube.apply(x)
        y.sum().backward()
    events = prof.events()
    (cube,) = [e for e in events if e.name == "Cube"]
    assert [c.name for c in cube.cpu_children] == ["Mul", "Mul"]
    assert cube.self_cpu_time_total == pytest.approx(
        cube.cpu_time_total - sum(c.cpu_time_total for c in cube.cpu_children))
    assert y.grad_fn.name() == "CubeBackward"
    (back,) = [e for e in events if e.name == "CubeBackward"]
    assert back.cpu_parent is None


def test_an_op_that_raises_is_closed_and_nests_nothing():
    a, b = tg.ones(2, 3), tg.ones(4, 5)
    with profiler.profile() as prof:
        with pytest.raises(Exception):
            a + b
        c = a * 2
    events = prof.events()
    assert [e.name for e in events] == ["Add", "Mul"]
    assert all(e.cpu_parent is None for e in events)
    assert float(c.sum()) == 12.0


def test_nothing_is_recorded_outside_the_block():
    x = tg.randn(3, requires_grad=True)
    (x * 2).sum().backward()
    with profiler.record_function("not recorded"):
        x + 1
    with profiler.profile() as prof:
        y = x * 3
    assert not function.profiler_on and not engine.profiler_on
    y.sum().backward()       # after the block
    x - 1
    assert [e.name for e in prof.events()] == ["Mul"]
    with profiler.profile() as prof2:
        pass
    assert len(prof2.events()) == 0
    assert prof2.key_averages().table() == ""


def test_profilers_do_not_nest_and_unsupported_options_raise():
    with profiler.profile():
        with pytest.raises(RuntimeError, match="already recording"):
            with profiler.profile():
                pass
    assert not function.profiler_on
    for option in ("with_stack", "with_flops", "with_modules"):
        with pytest.raises(NotImplementedError, match=option):
            profiler.profile(**{option: True})
    with pytest.raises(NotImplementedError, match="CPU"):
        profiler.profile(activities=[profiler.ProfilerActivity.CUDA])
    with pytest.raises(NotImplementedError, match="group_by_stack_n"):
        profiler.profile().key_averages(group_by_stack_n=2)
    with pytest.raises(NotImplementedError, match="Kineto"):
        profiler.tensorboard_trace_handler("logdir")
    with pytest.raises(NotImplementedError, match="NVTX"):
        autograd_profiler.emit_nvtx()


def test_record_function_as_decorator_and_its_args():
    @profiler.record_function("helper")
    def helper(t):
        return t.exp()

    with profiler.profile() as prof:
        helper(tg.ones(2))
        with profiler.record_function("labelled", "some args"):
            pass
    events = prof.events()
    assert [e.name for e in events] == ["helper", "Exp", "labelled"]
    assert events[1].cpu_parent is events[0]
    assert events[2].args == "some args"
    assert helper.__name__ == "helper"


def test_ranges_of_other_threads_nest_in_their_own_thread():
    import threading
    done = []

    def work():
        with profiler.record_function("in thread"):
            done.append(tg.ones(2) + 1)

    with profiler.profile() as prof:
        with profiler.record_function("main"):
            t = threading.Thread(target=work)
            t.start()
            t.join()
    events = {e.name: e for e in prof.events()}
    assert events["in thread"].cpu_parent is None
    assert events["Add"].cpu_parent is events["in thread"]
    assert events["in thread"].thread != events["main"].thread


def test_a_range_closed_by_another_thread_leaves_that_threads_ranges_open():
    import threading
    opened_here = profiler.record_function("opened in main")

    def work():
        with profiler.record_function("thread range"):
            opened_here.__exit__(None, None, None)
            tg.ones(2) + 1

    with profiler.profile() as prof:
        opened_here.__enter__()
        t = threading.Thread(target=work)
        t.start()
        t.join()
    events = {e.name: e for e in prof.events()}
    assert events["Add"].cpu_parent is events["thread range"]
    assert events["thread range"].time_range[1] >= events["Add"].time_range[1]


# ---- optimizer steps --------------------------------------------------------------------------
def test_optimizer_step_is_a_range_named_as_torchs():
    model, x = small_cnn(), inputs()
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    with profiler.profile() as prof:
        train_step(model, x, opt)
    tmodel = torch.nn.Linear(2, 2)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    tmodel(torch.ones(1, 2)).sum().backward()
    with torch.profiler.profile() as tp:
        topt.step()
    theirs = {e.name for e in tp.events() if e.name.startswith("Optimizer.step")}
    ours = {e.name for e in prof.events() if e.name.startswith("Optimizer.step")}
    assert ours == theirs == {"Optimizer.step#SGD.step"}
    (step,) = [e for e in prof.events() if e.name == "Optimizer.step#SGD.step"]
    assert step.cpu_parent is None and step.kind == "range"
    # (the global hooks are gone after the block)
    from tinygrad_cv.optim import optimizer
    assert profiler._open_step_range not in optimizer._global_optimizer_pre_hooks.values()


# ---- schedule ---------------------------------------------------------------------------------
def _scheduled_run(lib, prof_mod, n_steps, acc_events=False, **schedule):
    """[(step_num, recorded ProfilerStep numbers, recorded 'work' ranges)] per
    on_trace_ready call."""
    calls = []

    def ready(p):
        names = [getattr(e, "trace_name", e.name) for e in p.events()]
        calls.append((p.step_num, sorted(int(n.split("#")[1]) for n in names
                                         if n.startswith("ProfilerStep#")),
                      names.count("work")))

    x = lib.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with prof_mod.profile(activities=[prof_mod.ProfilerActivity.CPU],
                              schedule=prof_mod.schedule(**schedule), on_trace_ready=ready,
                              acc_events=acc_events) as p:
            for _ in range(n_steps):
                with prof_mod.record_function("work"):
                    x * 2
                p.step()
    return calls


@pytest.mark.parametrize("n_steps, acc_events, schedule", [
    (10, False, dict(wait=1, warmup=1, active=2)),
    (10, False, dict(wait=1, warmup=1, active=2, repeat=1, skip_first=1)),
    (5, False, dict(wait=0, warmup=0, active=1, repeat=2)),
    (5, False, dict(wait=2, warmup=1, active=3)),
    (7, False, dict(wait=1, warmup=1, active=2)),
    (10, True, dict(wait=1, warmup=1, active=2)),
    (9, False, dict(wait=1, warmup=0, active=3, skip_first=2, skip_first_wait=1)),
])
def test_schedule_records_the_steps_torch_records(n_steps, acc_events, schedule):
    ours = _scheduled_run(tg, profiler, n_steps, acc_events, **schedule)
    theirs = _scheduled_run(torch, torch.profiler, n_steps, acc_events, **schedule)
    assert ours == theirs
    assert ours      # (each case calls on_trace_ready)


def test_schedule_actions_and_step_keys_match_torchs():
    ours = profiler.schedule(wait=2, warmup=1, active=2, repeat=2, skip_first=3)
    theirs = torch.profiler.schedule(wait=2, warmup=1, active=2, repeat=2, skip_first=3)
    assert [ours(i).name for i in range(20)] == [theirs(i).name for i in range(20)]
    with pytest.raises(ValueError):
        profiler.schedule(wait=0, warmup=0, active=0)
    with profiler.profile(schedule=profiler.schedule(wait=0, warmup=1, active=2, repeat=1)) as p:
        for _ in range(3):
            tg.ones(1) + 1
            p.step()
    keys = {a.key: a.count for a in p.key_averages()}
    assert keys["ProfilerStep*"] == 2 and keys["Add"] == 2


def test_without_a_schedule_on_trace_ready_is_called_once_at_exit():
    calls = []
    with profiler.profile(on_trace_ready=lambda p: calls.append(len(p.events()))) as p:
        tg.ones(1) + 1
        p.step()
        tg.ones(1) * 2
    assert calls == [2]
    assert [e.name for e in p.events()] == ["Add", "Mul"]    # (no step ranges)


# ---- chrome trace -----------------------------------------------------------------------------
def test_chrome_trace_loads_and_its_events_nest(tmp_path):
    model, x = small_cnn(), inputs()
    with profiler.profile(record_shapes=True) as prof:
        with profiler.record_function("model_inference"):
            model(x).sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    assert len(events) == len(prof.events())
    for e, ours in zip(events, prof.events()):
        assert e["ph"] == "X" and e["name"] == ours.name
        assert {"ts", "dur", "pid", "tid", "args", "cat"} <= set(e)
        assert isinstance(e["ts"], (int, float)) and e["dur"] >= 0
        assert e["args"]["Input Dims"] == ours.input_shapes
    # each child lies within its parent on the same thread (microseconds, 3 decimals)
    index = {id(ev): k for k, ev in enumerate(prof.events())}
    nested = 0
    for k, ours in enumerate(prof.events()):
        if ours.cpu_parent is not None:
            child, parent = events[k], events[index[id(ours.cpu_parent)]]
            assert child["tid"] == parent["tid"]
            assert parent["ts"] - 1e-3 <= child["ts"]
            assert child["ts"] + child["dur"] <= parent["ts"] + parent["dur"] + 2e-3
            nested += 1
    assert nested >= 5
    # scalars, not numpy types, so the JSON is valid for any reader
    assert json.loads(json.dumps(trace)) == trace
    prof.export_chrome_trace(str(tmp_path / "trace.json.gz"))
    with gzip.open(tmp_path / "trace.json.gz", "rt") as f:
        assert json.load(f) == trace


# ---- memory -----------------------------------------------------------------------------------
def test_profile_memory_counts_the_bytes_ops_return():
    x = tg.ones(4, 5, requires_grad=True)
    with profiler.profile(profile_memory=True) as prof:
        with profiler.record_function("outer"):
            y = x * 2                   # a new (4, 5) float32 array: 80 bytes
            z = y.reshape(20)           # a view: nothing new
            w = Cube.apply(z)           # Mul, Mul: 80 bytes each; Cube returns the second
        w.sum().backward()
    events = {e.name: e for e in prof.events() if e.name != "Mul"}
    muls = [e for e in prof.events() if e.name == "Mul" and e.cpu_parent is not None
            and e.cpu_parent.kind != "backward"]
    assert [m.self_cpu_memory_usage for m in muls] == [80, 80, 80]
    assert events["Reshape"].self_cpu_memory_usage == 0
    assert events["Cube"].self_cpu_memory_usage == 0
    assert events["Cube"].cpu_memory_usage == 160
    assert events["outer"].self_cpu_memory_usage == 0
    assert events["outer"].cpu_memory_usage == 240
    text = prof.key_averages().table()
    assert "CPU Mem" in text.splitlines()[1] and "Self CPU Mem" in text.splitlines()[1]
    with profiler.profile() as prof2:
        x * 2
    assert "CPU Mem" not in prof2.key_averages().table()


# ---- the legacy autograd profiler -------------------------------------------------------------
def test_autograd_profiler_profile():
    x = tg.randn(3, 4, requires_grad=True)
    with autograd_profiler.profile(use_cuda=False, record_shapes=True) as prof:
        with autograd_profiler.record_function("block"):
            (x.exp() * 2).sum().backward()
    names = [e.name for e in prof.function_events]
    assert names[:4] == ["block", "Exp", "Mul", "Sum"]
    assert {"SumBackward", "MulBackward", "ExpBackward"} <= set(names)
    assert prof.function_events[1].input_shapes == [[3, 4]]
    assert prof.key_averages().table().splitlines()[1].split() [:2] == ["Name", "Self"]
    assert prof.self_cpu_time_total == pytest.approx(prof.function_events.self_cpu_time_total)
    with autograd_profiler.profile(enabled=False) as off:
        x * 2
    assert off.function_events is None and not function.profiler_on
    assert tg.autograd.profiler is autograd_profiler
    assert tg.profiler.record_function is autograd_profiler.record_function


# ---- the device columns (CuPy emulated on the CPU) ------------------------------------------
class _FakeEvent:
    def record(self):
        self.at = time.perf_counter()

    def synchronize(self):
        pass


def test_cuda_columns_appear_when_ops_ran_on_the_device(monkeypatch):
    import cupy_emulator
    with cupy_emulator.installed() as cp:
        monkeypatch.setattr(cp.cuda, "Event", _FakeEvent, raising=False)
        monkeypatch.setattr(cp.cuda, "get_elapsed_time",
                            lambda a, b: (b.at - a.at) * 1e3, raising=False)
        syncs = []
        monkeypatch.setattr(cp.cuda.Stream.null, "synchronize", lambda: syncs.append(1))
        x = tg.ones(3, 4, device="cuda", requires_grad=True)
        acts = [profiler.ProfilerActivity.CPU, profiler.ProfilerActivity.CUDA]
        with profiler.profile(activities=acts) as prof:
            with profiler.record_function("on device"):
                (x * 2).sum().backward()
        assert len(syncs) >= 2 * 4          # before and after each op and node
        header = prof.key_averages().table().splitlines()[1]
        for column in ("Self CUDA", "Self CUDA %", "CUDA total", "CUDA time avg"):
            assert column in header
        ops = [e for e in prof.events() if e.kind != "range"]
        assert all(e.device_time_total > 0 for e in ops)
        (rng,) = [e for e in prof.events() if e.name == "on device"]
        assert rng.device_time_total == pytest.approx(sum(c.device_time_total
                                                          for c in rng.cpu_children))
        # CUDA asked for, device unused: no CUDA columns (as torch)
        with profiler.profile(activities=acts) as prof2:
            tg.ones(2) * 2
        assert "CUDA" not in prof2.key_averages().table()
