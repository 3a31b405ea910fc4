"""The one timing loop of the benchmarks: medians of steps taken in alternating blocks."""
from __future__ import annotations

import statistics
import time

try:
    import resource
except ImportError:     # (not on Windows: no fault counts there)
    resource = None


def minor_faults():
    """Minor page faults of this process so far (fresh pages the kernel mapped in), or None
    where the platform does not count them."""
    return None if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_text(faults):
    """``median_times``'s fault counts as "ours / torch" ("-" where none were counted)."""
    return " / ".join("-" if n is None else f"{n:,.0f}" for n in faults)


def median_times(steps, repeats, rounds=3, sync=None, warmup=0.15, faults=None):
    """Median seconds of each callable in ``steps`` over about ``repeats`` timed runs.

    The runs come in ``rounds`` rounds; in each round every step runs one block, and the order
    of the blocks flips from round to round, so slow drifts of a shared machine hit all steps
    alike.  Each block starts with untimed warm-up runs, at least one and for at least
    ``warmup`` seconds: a library's worker threads keep spinning after it returns (torch's
    OpenMP threads for several milliseconds, OpenBLAS's for about 0.1 s) and slow down whatever
    runs next on their cores, so every timed run follows runs of the same step.  ``sync`` (e.g.
    a GPU stream synchronisation) is called after every run.  ``faults``: a list that gets the
    median minor page faults of each step's timed runs (the two frameworks share one C heap,
    so one's allocations can change how often the other gets fresh pages).
    """
    sync = sync or (lambda: None)
    per_block = max(1, -(-repeats // rounds))
    times = [[] for _ in steps]
    counts = [[] for _ in steps]
    order = list(range(len(steps)))
    for r in range(rounds):
        for i in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            while True:
                steps[i]()
                sync()
                if time.perf_counter() - start >= warmup:
                    break
            for _ in range(per_block):
                f0 = minor_faults()
                t0 = time.perf_counter()
                steps[i]()
                sync()
                times[i].append(time.perf_counter() - t0)
                if f0 is not None:
                    counts[i].append(minor_faults() - f0)
    if faults is not None:
        faults.extend(statistics.median(c) if c else None for c in counts)
    return [statistics.median(t) for t in times]
