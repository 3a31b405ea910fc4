"""tinygrad_cv.distributed on MPI: two ranks started by ``mpiexec -n 2`` on this machine.

One launch of ``tests/distributed_worker.py main`` runs every numerical check (collectives of
several dtypes and shapes, DDP on 2 ranks against one process on the global batch, identical
parameters after every step, no_sync, buffers, a mismatched world size); the tests below read
its per-rank results.  Three more launches make rank 1 raise, exit early or crash while rank
0 waits in an all_reduce: the job must end with an error, not hang (a job still running
after the launch limit fails the test and is killed).
"""
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("mpi4py", reason="the distributed tests need the 'distributed' extra: "
                                     "pip install '.[distributed]' (mpi4py, mpich)")

from tinygrad_cv.distributed.launcher import find_mpiexec, mpiexec_command  # noqa: E402

if find_mpiexec() is None:
    pytest.skip("mpi4py is installed but no mpiexec was found (install the mpich wheel: "
                "pip install '.[distributed]')", allow_module_level=True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")
LIMIT = 120          # seconds: a hung job fails the test instead of hanging the suite


def launch(argv, n=2, env=None, limit=LIMIT):
    """Run ``mpiexec -n n python argv`` to completion; (returncode, output, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(mpiexec_command(n, argv), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, **(env or {})})
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the MPI job did not end within {limit} s (hung):\n{out[-3000:]}")
    return proc.returncode, out, time.monotonic() - start


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The per-rank results of the one ``main`` launch (shared by the pytest-xdist workers of
    this session through a locked folder, so it runs once)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        out = tmp_path_factory.getbasetemp().parent / "distributed-main"
        out.mkdir(exist_ok=True)
    else:
        out = tmp_path_factory.mktemp("dist")
    outcome = out / "outcome.json"
    with open(out / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not outcome.exists():
            code, text, _ = launch([WORKER, "main", str(out)])
            outcome.write_text(json.dumps({"code": code, "text": text[-4000:]}))
    launched = json.loads(outcome.read_text())
    assert launched["code"] == 0, launched["text"]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def failures(results, prefix):
    found = {k: v for r in results for k, v in r.items() if k.startswith(prefix)}
    assert found, f"no check named {prefix!r} ran"
    return {k: v[1][-1500:] for k, v in found.items() if not v[0]}


def test_every_check_of_the_launch_ran_and_passed(results):
    for rank, r in enumerate(results):
        bad = {k: v[1][-1500:] for k, v in r.items() if not v[0]}
        assert not bad, f"rank {rank}: {json.dumps(bad, indent=1)}"


@pytest.mark.parametrize("collective", ["all_reduce sum", "all_reduce mean", "all_reduce max",
                                        "all_reduce min", "broadcast", "all_gather"])
def test_collectives_over_dtypes_and_shapes(results, collective):
    assert not failures(results, collective)
    dtypes = {k.split()[-1].split("[")[0] for k in results[0] if k.startswith(collective)}
    assert {"float32", "float64"} <= dtypes
    if collective != "all_reduce mean":
        assert {"int64", "uint8", "bool", "float16"} <= dtypes


def test_two_ranks_end_with_the_parameters_of_one_process(results):
    assert not failures(results, "ddp equals one process on the global batch")
    assert not failures(results, "ddp identical parameters after every step")
    assert not failures(results, "ddp several buckets")


def test_no_sync_buffers_and_unused_parameters(results):
    assert not failures(results, "unused parameter reported")
    assert not failures(results, "no_sync")
    assert not failures(results, "ddp broadcasts buffers at wrap")
    assert not failures(results, "sync_buffers")


def test_mismatched_world_size_is_reported(results):
    assert not failures(results, "mismatched world size reported")
    assert not failures(results, "no group after a mismatch")


def test_cli_distributed_training_and_resume(results):
    """tinygrad-cv train --distributed (softmax, 1 epoch, then --resume to 2) on 2 ranks ends
    with the weights and history of one process; rank 0 alone prints and writes."""
    for name in ("cli global batch not divisible", "cli other ranks print nothing",
                 "cli rank 0 reports", "cli writes one set of outputs",
                 "cli distributed and resumed run equals one process",
                 "cli metrics record the world size"):
        assert not failures(results, name), name


@pytest.mark.slow
def test_console_command_trains_the_cnn_on_two_ranks(tmp_path):
    """The README's command: mpiexec -n 2 tinygrad-cv train --model cnn --distributed, then
    --resume to one more epoch; one set of outputs, printed once, a loadable checkpoint."""
    script = os.path.join(os.path.dirname(sys.executable), "tinygrad-cv")
    if not os.path.exists(script):
        pytest.skip("the tinygrad-cv command is not installed next to this Python")
    out = str(tmp_path / "cnn")
    base = [find_mpiexec(), "-n", "2", script, "train", "--model", "cnn", "--distributed",
            "--out", out, "--no-progress"]
    for extra in (["--epochs", "1"], ["--epochs", "2", "--resume"]):
        proc = subprocess.run(base + extra, cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count("checkpoint:") == 1, proc.stdout
    assert sorted(os.listdir(out)) == ["checkpoint.safetensors", "curves.png", "metrics.json"]
    from models.registry import load_model

    import tinygrad_cv as tg

    model = load_model(os.path.join(out, "checkpoint.safetensors"))
    assert model(tg.zeros(3, 1, 8, 8)).shape == (3, 10)
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["world_size"] == 2 and len(metrics["history"]) == 2
    assert metrics["test_accuracy"] > 0.8


def test_a_rank_that_raises_stops_every_rank(tmp_path):
    # rank 0's own timeout (300 s) is past the launch limit: only the abort can end the job
    code, text, _ = launch([WORKER, "raise", str(tmp_path)], env={"TEST_DIST_TIMEOUT": "300"},
                           limit=60)
    assert code != 0
    said = (tmp_path / "rank1.err").read_text()
    assert "[rank 1/2] uncaught exception" in said and "rank 1 failed on purpose" in said
    assert "rank 0 finished" not in text


def test_a_rank_that_leaves_early_makes_the_others_time_out(tmp_path):
    code, text, _ = launch([WORKER, "exit", str(tmp_path)], env={"TEST_DIST_TIMEOUT": "2"},
                           limit=60)
    assert code != 0
    said = (tmp_path / "rank0.err").read_text()
    assert "did not complete within 2 s" in said and "another rank" in said
    assert "rank 0 finished" not in text


def test_a_rank_that_crashes_stops_the_job(tmp_path):
    code, text, _ = launch([WORKER, "crash", str(tmp_path)], env={"TEST_DIST_TIMEOUT": "300"},
                           limit=60)
    assert code != 0
    assert "rank 0 finished" not in text


def test_a_rank_that_exits_after_abort_at_exit_stops_the_job(tmp_path):
    code, text, _ = launch([WORKER, "abort-at-exit", str(tmp_path)],
                           env={"TEST_DIST_TIMEOUT": "300"}, limit=60)
    assert code == 4, text
    assert "rank 1 gives up" in (tmp_path / "rank1.err").read_text()
    assert "rank 0 finished" not in text


@pytest.mark.slow
def test_a_rank_that_fails_inside_the_cli_stops_the_job(tmp_path):
    code, text, _ = launch([WORKER, "cli-fails", str(tmp_path)], limit=60)
    assert code == 1, text
    said = (tmp_path / "rank1.txt").read_text()
    assert "rank 1's training failed on purpose" in said and "rank 1 cli exit status 1" in said
    assert not (tmp_path / "rank0.txt").exists()     # rank 0 was stopped, not left to finish
