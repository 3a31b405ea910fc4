"""The intra-op thread pool (``tinygrad_cv/threads.py``): splits, hand-offs, errors, BLAS."""
import multiprocessing
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import backend, threads


def _blas_threads():
    from threadpoolctl import threadpool_info
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@given(st.integers(0, 50), st.integers(1, 8))
def test_split_covers_the_range_in_near_equal_parts(count, parts):
    ranges = threads.split(count, parts)
    assert ranges[0][0] == 0 and ranges[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    sizes = [e - s for s, e in ranges]
    assert max(sizes) - min(sizes) <= 1
    assert len(ranges) == max(1, min(parts, count))


def test_run_calls_every_part_on_distinct_threads(two_threads):
    seen, barrier = [], threading.Barrier(2, timeout=10)

    def part(i):
        barrier.wait()      # both parts must be running at the same time
        seen.append((i, threading.get_ident()))

    threads.run([lambda: part(0), lambda: part(1)])
    assert sorted(i for i, _ in seen) == [0, 1]
    assert len({ident for _, ident in seen}) == 2
    assert dict(seen)[0] == threading.get_ident()   # the first part runs on the caller


@pytest.mark.parametrize("failing", [0, 1])
def test_run_reraises_a_part_error_after_all_parts_finish(two_threads, failing):
    finished = []

    def part(i):
        if i == failing:
            raise KeyError(f"part {i}")
        finished.append(i)

    with pytest.raises(KeyError, match=f"part {failing}"):
        threads.run([lambda: part(0), lambda: part(1)])
    assert finished == [1 - failing]
    threads.run([lambda: finished.append("again"), lambda: None])   # the pool still works
    assert finished[-1] == "again"


def test_nested_runs_are_serial_on_the_part_thread(two_threads):
    inner = []

    def outer(i):
        threads.run([lambda: inner.append((i, threading.get_ident())),
                     lambda: inner.append((i, threading.get_ident()))])

    threads.run([lambda: outer(0), lambda: outer(1)])
    by_part = {}
    for i, ident in inner:
        by_part.setdefault(i, set()).add(ident)
    assert sorted(by_part) == [0, 1] and all(len(v) == 1 for v in by_part.values())


def test_small_work_and_one_thread_stay_serial(two_threads):
    calls = []
    threads.for_ranges(lambda s, e: calls.append((s, e)), 100, threads.MIN_WORK - 1)
    assert calls == [(0, 100)]
    tg.set_num_threads(1)
    calls.clear()
    threads.for_ranges(lambda s, e: calls.append((s, e)), 100, 100 * threads.MIN_WORK)
    assert calls == [(0, 100)]


def test_for_ranges_splits_large_work(two_threads):
    calls = []
    threads.for_ranges(lambda s, e: calls.append((s, e)), 101, 100 * threads.MIN_WORK)
    assert sorted(calls) == [(0, 51), (51, 101)]


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 300), st.integers(1, 70), st.integers(1, 300), st.booleans(),
       st.sampled_from([np.float32, np.float64]))
def test_matmul_equals_numpy(m, k, n, batched, dtype):
    before = tg.get_num_threads()
    tg.set_num_threads(2)
    try:
        rng = np.random.default_rng(m * 1000 + n)
        a = rng.standard_normal((3, m, k) if batched else (m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        old = threads.MIN_WORK
        threads.MIN_WORK = 2          # split even the small products drawn here
        try:
            got = threads.matmul(a, b)
            out = np.full(a.shape[:-1] + (n,), np.nan, dtype)
            into = threads.matmul(a, b, out=out)
        finally:
            threads.MIN_WORK = old
        want = a @ b
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))
        assert into is out
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.sqrt(k))
    finally:
        tg.set_num_threads(before)


def test_blas_runs_one_thread_while_workers_exist_and_with_one_thread(two_threads):
    pytest.importorskip("threadpoolctl")
    threads.run([lambda: None, lambda: None])
    assert set(_blas_threads()) == {1}
    tg.set_num_threads(1)                  # torch's meaning: one thread, the products included
    assert set(_blas_threads()) == {1}
    assert threads._workers == []


def test_accumulating_product_uses_scipy_only_while_blas_runs_one_thread(two_threads,
                                                                        monkeypatch):
    """SciPy's BLAS has its own thread pool: with BLAS on its own threads, NumPy's and SciPy's
    pools would spin against each other, so the product falls back to ``out += a @ b``."""
    pytest.importorskip("scipy")
    calls = []
    real = backend._cpu_gemms()
    spy = {dt: (lambda g: (lambda *a, **k: calls.append(1) or g(*a, **k)))(g)
           for dt, g in real.items()}
    monkeypatch.setattr(backend, "_blas_gemm", spy)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    for limited in (True, False):
        calls.clear()
        monkeypatch.setitem(backend._blas_limit, "limiter", object() if limited else None)
        out = np.ones((5, 3))
        backend.matmul_accumulate(a, b, out)
        np.testing.assert_allclose(out, 1 + a @ b, rtol=1e-12)
        assert len(calls) == int(limited)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="set_num_threads"):
        tg.set_num_threads(bad)


def test_scratch_is_reused_per_thread_and_slot():
    like = np.zeros(1, np.float32)
    a = threads.scratch((10, 4), np.float32, like)
    b = threads.scratch((5, 2), np.float32, like)
    c = threads.scratch((10, 4), np.float32, like, slot=1)
    assert a.shape == (10, 4) and a.dtype == np.float32 and b.shape == (5, 2)
    assert np.shares_memory(a, b) and not np.shares_memory(a, c)
    other = []
    t = threading.Thread(target=lambda: other.append(threads.scratch((10, 4), np.float32, like)))
    t.start()
    t.join()
    assert not np.shares_memory(a, other[0])


def _child_split(queue):
    got = []
    threads.run([lambda: got.append(1), lambda: got.append(2)])
    queue.put(sorted(got))


def test_a_forked_child_starts_its_own_workers(two_threads):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    threads.run([lambda: None, lambda: None])         # the parent's workers exist
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_split, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60) == [1, 2]
    finally:
        child.join(timeout=60)
    assert child.exitcode == 0


@pytest.mark.parametrize("value, expected", [("3", 3), ("1", 1), ("2,1", 2), ("0", None),
                                             ("", None), ("many", None)])
def test_default_thread_count_follows_omp_num_threads(monkeypatch, value, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = threads._default_threads()
    assert cores >= 1
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert threads._default_threads() == (expected if expected is not None else cores)


_INTEROP_SCRIPT = r"""
import sys
lib = __import__(sys.argv[1])
out = [lib.get_num_interop_threads()]
for value in (2.0, True, 0, -1, 3, 3, 2):
    try:
        lib.set_num_interop_threads(value)
        out.append(("ok", lib.get_num_interop_threads()))
    except Exception as exc:
        out.append((type(exc).__name__, str(exc)))
print(out)
"""


@pytest.mark.parametrize("cores", ["1", "3"])
def test_interop_threads_follow_torch(cores):
    """get/set_num_interop_threads: the default (the cores the process may use), the accepted
    values, the errors and the once-per-process rule, each library in a fresh process."""
    import os
    import subprocess
    import sys
    pytest.importorskip("torch")
    env = dict(os.environ, OMP_NUM_THREADS=cores)
    run = lambda name: subprocess.run(
        [sys.executable, "-c", _INTEROP_SCRIPT, name], env=env, capture_output=True, text=True,
        timeout=120, check=True).stdout
    ours, theirs = run("tinygrad_cv"), run("torch")
    assert ours == theirs
    assert "('ok', 3)" in ours and "cannot set number of interop threads" in ours
