"""tinygrad_cv.distributed without MPI: DistributedSampler against torch's, the shards'
coverage, and the clear errors (library and CLI) when there is no launcher, no backend library
or no group."""
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.distributed as dist
from tinygrad_cv.distributed import launcher
from tinygrad_cv.distributed.sampler import DistributedSampler
from tinygrad_cv.data import DataLoader, TensorDataset


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 70), replicas=st.integers(1, 8), drop_last=st.booleans())
def test_unshuffled_shards_equal_torchs(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(Sized(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                     drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 90), replicas=st.integers(1, 8), drop_last=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1), epoch=st.integers(0, 5))
def test_shards_are_disjoint_and_cover_the_data(n, replicas, drop_last, seed, epoch):
    shards = []
    for rank in range(replicas):
        s = DistributedSampler(Sized(n), replicas, rank, shuffle=True, seed=seed,
                               drop_last=drop_last)
        s.set_epoch(epoch)
        shards.append(s.index_array())
    lengths = {len(s) for s in shards}
    assert len(lengths) == 1                      # every rank runs the same number of steps
    every = np.concatenate(shards)
    if drop_last:
        assert len(every) == n - n % replicas
        assert len(set(every.tolist())) == len(every)             # disjoint
    else:
        assert len(every) == -(-n // replicas) * replicas
        assert set(every.tolist()) == set(range(n))               # covered
        assert len(every) - len(set(every.tolist())) == len(every) - n   # only the padding repeats
    # interleaving the shards gives back the single-process shuffled order of that epoch
    order = DataLoader(TensorDataset(tg.zeros(n)), 1, shuffle=True, seed=seed).indices(epoch)
    interleaved = np.stack(shards, axis=1).reshape(-1)
    assert np.array_equal(interleaved[:min(n, len(interleaved))], order[:len(interleaved)])


def test_sampler_epochs_differ_and_repeat():
    a = DistributedSampler(Sized(50), 2, 1, seed=3)
    first = a.index_array()
    a.set_epoch(1)
    assert not np.array_equal(first, a.index_array())
    a.set_epoch(0)
    assert np.array_equal(first, a.index_array())


def test_sampler_bad_arguments():
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(Sized(5), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(Sized(5), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(Sized(5))


@pytest.fixture
def no_launcher(monkeypatch):
    for name in launcher.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_launcher(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "1")
    monkeypatch.setenv("PMI_RANK", "0")


def test_without_a_launcher_the_error_says_how_to_launch(no_launcher):
    for backend in ("mpi", "nccl"):
        with pytest.raises(RuntimeError, match="mpiexec -n N"):
            dist.init_process_group(backend)
    assert not dist.is_initialized()


def test_unknown_backend_and_bad_timeout():
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="timeout must be positive"):
        dist.init_process_group("mpi", timeout=0)


def test_mpi_backend_without_mpi4py(fake_launcher, monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)      # import mpi4py -> ImportError
    with pytest.raises(RuntimeError, match=r"pip install 'tinygrad_cv\[distributed\]'"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()
    assert not dist.is_mpi_available()


@pytest.mark.skipif(tg.cuda_available(), reason="CuPy with a GPU is installed here")
def test_nccl_backend_without_cupy(fake_launcher):
    with pytest.raises(RuntimeError, match="CuPy"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()
    assert not dist.is_nccl_available()


def test_calls_before_init_name_the_missing_step():
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(tg.ones(2)), lambda: dist.broadcast(tg.ones(2)),
                 dist.destroy_process_group,
                 lambda: dist.DistributedDataParallel(tg.nn.Linear(2, 2))):
        with pytest.raises(RuntimeError, match="init_process_group"):
            call()


def test_reachable_names():
    assert tg.distributed is dist
    assert tg.nn.parallel.DistributedDataParallel is dist.DistributedDataParallel
    assert dist.DistributedSampler is DistributedSampler
    assert dist.ReduceOp.SUM == "sum" and dist.ReduceOp.AVG == "mean"


def test_cli_distributed_without_a_launcher_is_one_clear_line(no_launcher, tmp_path, capsys):
    from tinygrad_cv.cli import main

    out = tmp_path / "run"
    assert main(["train", "--model", "softmax", "--distributed", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--distributed" in err[0] and "mpiexec -n N" in err[0]
    assert not out.exists()


def test_cli_distributed_refuses_a_model_without_it(capsys):
    from tinygrad_cv.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "knn", "--distributed"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "knn has no distributed training" in err and "cnn" in err
