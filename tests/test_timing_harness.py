"""The benchmarks' timing loop (benchmarks/timing.py): one median per step, the steps run in
alternating blocks after their warm-up, and the page-fault counts it reports."""
import mmap

import numpy as np

from benchmarks.timing import median_times, minor_faults


def test_median_times_runs_blocks_and_counts_faults():
    calls = []
    fresh = []

    def quiet():
        calls.append("q")

    def allocating():          # a new 64 MB anonymous mapping written page by page: fresh
        calls.append("a")       # pages whatever the C heap does (an allocator that keeps freed
        region = mmap.mmap(-1, 64 << 20)    # blocks mapped counted none once)
        pages = np.frombuffer(region, np.uint8)
        pages[::mmap.PAGESIZE] = 1
        fresh.append(int(pages[::mmap.PAGESIZE].sum()))
        del pages
        region.close()

    faults = []
    times = median_times([quiet, allocating], repeats=6, rounds=2, warmup=0, faults=faults)
    assert len(times) == 2 and all(t >= 0 for t in times)
    # round 1: quiet's block (1 warm-up + 3 timed), then allocating's; round 2 the other way
    assert "".join(calls) == "qqqq" + "aaaa" + "aaaa" + "qqqq"
    if minor_faults() is None:
        assert faults == [None, None]
    else:
        assert len(faults) == 2 and faults[1] > 0 and faults[0] >= 0
