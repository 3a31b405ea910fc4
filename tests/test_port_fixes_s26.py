"""What the ports of pytorch/examples' gat and mnist_hogwild needed: ``tinygrad_cv.multiprocessing``
and shared-memory tensors (``share_memory_``, ``Module.share_memory``, ``is_shared``) with
torch's semantics: a child process's in-place updates of a shared model are seen by the
parent, whether the child was forked or spawned, and a tensor sent through a Queue is shared,
not copied."""
import pickle

import numpy as np
import pytest

import tinygrad_cv as tc
import tinygrad_cv.multiprocessing as mp
import tinygrad_cv.optim as optim


@pytest.fixture(autouse=True)
def _host_tensors(monkeypatch):
    """These are host-memory semantics (device tensors cross processes by value): the tensors
    here and in the children live on the CPU whatever the default device of the run."""
    monkeypatch.delenv("TINYGRAD_CV_EMULATE_CUDA", raising=False)
    saved = tc.get_default_device()
    tc.set_default_device("cpu")
    yield
    tc.set_default_device(saved)


def _sgd_step(model, x, y):
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    optimizer.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    optimizer.step()


def _add_rank(rank, model):
    with tc.no_grad():
        for p in model.parameters():
            p.add_(rank + 1)


def _run_all(steps):
    for target, args in steps:
        target(*args)


def _add_one_from_queue(queue, done):
    t = queue.get()
    t.add_(1)
    done.put(True)


def test_share_memory_moves_values_into_shared_memory_in_place():
    t = tc.arange(6.0).reshape(2, 3)
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared()
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    assert t[1].is_shared()                      # a view of shared memory is shared
    assert tc.zeros(0).share_memory_().is_shared()   # empty too, as torch
    assert not pickle.loads(pickle.dumps(t)).is_shared()   # plain pickle copies
    model = tc.nn.Sequential(tc.nn.Linear(3, 2), tc.nn.BatchNorm1d(2))
    assert model.share_memory() is model
    assert all(p.is_shared() for p in model.parameters())
    assert all(b.is_shared() for b in model.buffers())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_childs_in_place_updates_reach_the_parents_shared_model(method):
    tc.manual_seed(0)
    model, x, y = tc.nn.Linear(4, 3), tc.randn(8, 4), tc.randn(8, 3)
    expected = tc.nn.Linear(4, 3)
    expected.load_state_dict(model.state_dict())
    for rank in range(2):
        _add_rank(rank, expected)
    _sgd_step(expected, x, y)
    model.share_memory()
    context = mp.get_context(method)
    steps = [(_add_rank, (0, model)), (_add_rank, (1, model)), (_sgd_step, (model, x, y))]
    if method == "spawn":       # one child (spawned children import the framework: ~1 s each)
        steps = [(_run_all, (steps,))]
    for target, args in steps:
        p = context.Process(target=target, args=args)
        p.start()
        p.join()
        assert p.exitcode == 0
    for ours, ref in zip(model.parameters(), expected.parameters(), strict=True):
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)


def test_tensor_sent_through_a_queue_is_shared_not_copied():
    context = mp.get_context("spawn")
    queue, done = context.Queue(), context.Queue()
    t = tc.zeros(3)
    p = context.Process(target=_add_one_from_queue, args=(queue, done))
    p.start()
    queue.put(t)
    assert done.get(timeout=60)
    p.join()
    assert t.is_shared()
    np.testing.assert_array_equal(t.numpy(), np.ones(3, np.float32))


def test_sharing_strategy():
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
    with pytest.raises(ValueError, match="sharing strategy"):
        mp.set_sharing_strategy("no such strategy")


def test_importing_the_framework_is_enough_for_pythons_multiprocessing_to_share():
    """As ``import torch``: the reductions are installed by the package import, so a script
    using Python's ``multiprocessing`` directly still hands workers shared tensors."""
    import subprocess
    import sys
    code = ("import tinygrad_cv, multiprocessing.reduction as r; t = tinygrad_cv.zeros(2); "
            "r.ForkingPickler.dumps(t); print(t.is_shared())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "True", out.stderr[-2000:]


def _report_grad_and_values(queue, out):
    t = queue.get()
    out.put((t.grad is None, t.requires_grad, t.is_leaf, t.detach().numpy().tolist()))


def test_tensors_cross_processes_without_their_autograd_state_as_torch():
    """Only values and requires_grad cross (no .grad, graph or hooks); a non-leaf that requires
    grad is refused with torch's message."""
    from multiprocessing.reduction import ForkingPickler
    w = tc.nn.Parameter(tc.ones(2))
    (w * 2).sum().backward()
    context = mp.get_context("spawn")
    queue, out = context.Queue(), context.Queue()
    p = context.Process(target=_report_grad_and_values, args=(queue, out))
    p.start()
    queue.put(w)
    assert out.get(timeout=60) == (True, True, True, [1.0, 1.0])
    p.join()
    assert w.grad is not None                       # the sender keeps its own
    with pytest.raises(RuntimeError, match="non-leaf tensor which requires_grad"):
        ForkingPickler.dumps(w * 2)
    assert not ForkingPickler.loads(ForkingPickler.dumps((w * 2).detach())).requires_grad


def _write_rank(i, shared):
    shared[i] = i + 1


def _fail_on_one(i):
    if i == 1:
        raise ValueError("worker one failed")


def _exit_three(i):
    import sys
    sys.exit(3)


@pytest.mark.parametrize("framework", ["tinygrad_cv",
                                       pytest.param("torch", marks=pytest.mark.slow)])
def test_spawn_runs_fn_per_rank_and_raises_a_childs_failure(framework):
    """``mp.spawn``/``start_processes`` as torch's (each case checked on both frameworks; torch's
    spawned children take ~3 s each to import it, hence slow)."""
    import importlib
    fw = importlib.import_module(framework)
    fmp = importlib.import_module(framework + ".multiprocessing")
    shared = fw.zeros(3).share_memory_()
    assert fmp.spawn(_write_rank, args=(shared,), nprocs=2) is None
    assert shared.tolist() == [1.0, 2.0, 0.0]
    with pytest.raises(fmp.ProcessRaisedException, match="ValueError: worker one failed"):
        fmp.start_processes(_fail_on_one, nprocs=2, start_method="fork")
    with pytest.raises(fmp.ProcessExitedException, match="exit code 3") as info:
        fmp.start_processes(_exit_three, nprocs=1, start_method="fork")
    assert info.value.exit_code == 3 and info.value.error_index == 0
    context = fmp.start_processes(_write_rank, args=(shared,), nprocs=1, join=False,
                                  start_method="fork")
    assert len(context.pids()) == 1
    while not context.join():
        pass
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        fmp.spawn(_write_rank, args=(shared,), nprocs=0, start_method="fork")


def test_share_memory_keeps_the_layout_of_the_tensor_as_torch():
    import torch
    ours, ref = tc.arange(6.0).reshape(2, 3).t(), torch.arange(6.0).reshape(2, 3).t()
    ours.share_memory_()
    ref.share_memory_()
    assert ours.stride() == ref.stride() and ours.is_contiguous() == ref.is_contiguous()
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
