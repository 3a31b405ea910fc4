"""torch.nn's base and wrapper classes: RNNBase/RNNCellBase, DataParallel (one device) and
SyncBatchNorm (one process), against torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn


# ---- RNNBase / RNNCellBase ------------------------------------------------------------------
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_sequence_layers_are_rnnbase(cls):
    m = getattr(nn, cls)(3, 4)
    assert isinstance(m, nn.RNNBase) and not isinstance(m, nn.RNNCellBase)
    assert nn.modules.rnn.RNNBase is nn.RNNBase
    assert issubclass(getattr(nn, cls + "Cell"), nn.RNNCellBase)
    assert isinstance(getattr(nn, cls + "Cell")(3, 4), nn.RNNCellBase)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_rnnbase_constructible_as_torch(mode):
    kw = dict(num_layers=2, bias=False, batch_first=True, bidirectional=True)
    tm, gm = torch.nn.RNNBase(mode, 3, 5, **kw), nn.RNNBase(mode, 3, 5, **kw)
    assert repr(gm) == repr(tm) and gm.mode == mode
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    assert gm._flat_weights_names == tm._flat_weights_names
    assert gm.flatten_parameters() is None
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p.detach().numpy()).max() <= bound for p in gm.parameters())
    with pytest.raises(NotImplementedError):
        gm(tg.ones(2, 4, 3))     # no forward of its own, as torch


def test_rnnbase_errors():
    with pytest.raises(ValueError, match="Unrecognized RNN mode"):
        nn.RNNBase("SRU", 3, 4)
    with pytest.raises(ValueError, match="proj_size"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)
    ours, theirs = nn.RNNBase("LSTM", 3, 4, proj_size=2), torch.nn.RNNBase("LSTM", 3, 4,
                                                                           proj_size=2)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for bad in (-1, 4, 5):
        with pytest.raises(ValueError, match="proj_size"):
            torch.nn.RNNBase("LSTM", 3, 4, proj_size=bad)
        with pytest.raises(ValueError, match="proj_size"):
            nn.RNNBase("LSTM", 3, 4, proj_size=bad)


def test_rnncellbase_constructible_as_torch():
    tm, gm = torch.nn.RNNCellBase(3, 4, True, 4), nn.RNNCellBase(3, 4, True, 4)
    assert repr(gm) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    assert "bias_ih" not in nn.RNNCellBase(3, 4, False, 2).state_dict()


@pytest.mark.parametrize("make", [lambda lib: lib.nn.RNNBase("LSTM", 3, 4, 2, batch_first=True),
                                  lambda lib: lib.nn.LSTM(3, 4, 2, batch_first=True),
                                  lambda lib: lib.nn.GRU(3, 4, 2, batch_first=True)])
def test_rnnbase_argument_checks_as_torch(make):
    t, g = make(torch), make(tg)
    x = np.zeros((5, 7, 3), np.float32)
    lstm = isinstance(t, torch.nn.LSTM)

    def outcome(lib, m, inp, hidden):
        try:
            m.check_forward_args(lib.tensor(inp), hidden, None)
            return "ok"
        except (RuntimeError, ValueError) as e:
            return type(e).__name__ + (": " + str(e) if isinstance(e, RuntimeError) else "")

    good, bad = np.zeros((2, 5, 4), np.float32), np.zeros((2, 6, 4), np.float32)
    for inp, h in ((x, good), (x, bad), (np.zeros((5, 7, 2), np.float32), good),
                   (x.astype(np.float64), good), (np.zeros(3, np.float32), good)):
        hidden = [(lib.tensor(good), lib.tensor(h)) if lstm else lib.tensor(h)
                  for lib in (torch, tg)]
        assert outcome(tg, g, inp, hidden[1]) == outcome(torch, t, inp, hidden[0])
    assert g.get_expected_hidden_size(tg.tensor(x), None) == \
        tuple(t.get_expected_hidden_size(torch.tensor(x), None))
    hp = np.arange(40, dtype=np.float32).reshape(2, 5, 4)
    perm = [4, 0, 3, 1, 2]
    out_t = t.permute_hidden((torch.tensor(hp),) * 2 if lstm else torch.tensor(hp),
                             torch.tensor(perm))
    out_g = g.permute_hidden((tg.tensor(hp),) * 2 if lstm else tg.tensor(hp), tg.tensor(perm))
    for a, b in zip(out_t if lstm else [out_t], out_g if lstm else [out_g]):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    assert [tuple(w.shape) for w in g._flat_weights] == [tuple(w.shape) for w in t._flat_weights]


def test_subclassing_rnnbase_still_matches_torch_lstm():
    t = torch.nn.LSTM(3, 4, 2)
    g = nn.LSTM(3, 4, 2)
    g.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    yt, _ = t(torch.tensor(x))
    yg, _ = g(tg.tensor(x))
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), atol=1e-5)


# ---- DataParallel ---------------------------------------------------------------------------
def test_data_parallel_wraps_module_like_torch(device):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    gm = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    tdp, gdp = torch.nn.DataParallel(tm), nn.DataParallel(gm)
    assert repr(gdp) == repr(tdp)
    assert list(gdp.state_dict()) == list(tdp.state_dict())
    assert gdp.module is gm and nn.parallel.DataParallel is nn.DataParallel
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    xg = tg.tensor(x, device=device, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yg, yt = gdp(xg), tdp(xt)
    expected_device = "cuda" if tg.cuda.is_available() else "cpu"
    assert yg.device.type == expected_device
    np.testing.assert_allclose(yg.detach().cpu().numpy(), yt.detach().numpy(), atol=1e-6)
    yg.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xg.grad.cpu().numpy(), xt.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(gm[0].weight.grad.cpu().numpy(), tm[0].weight.grad.numpy(),
                               atol=1e-6)
    # a state_dict saved from the wrapper loads back into a fresh wrapper
    fresh = nn.DataParallel(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    fresh.load_state_dict(gdp.state_dict())
    np.testing.assert_allclose(fresh(tg.tensor(x)).detach().cpu().numpy(),
                               yt.detach().numpy(), atol=1e-6)


def test_data_parallel_passes_kwargs_and_nested_inputs():
    class Two(nn.Module):
        def forward(self, pair, scale=1.0, extra=None):
            return pair[0] * scale + pair[1] + extra["b"]

    dp = nn.DataParallel(Two(), device_ids=[0], output_device=0)
    out = dp((tg.ones(2), tg.ones(2)), scale=3.0, extra={"b": tg.ones(2)})
    np.testing.assert_allclose(out.cpu().numpy(), [5.0, 5.0])


def test_functional_data_parallel():
    gpu = tg.cuda.is_available()
    m = nn.Linear(3, 2).to("cuda" if gpu else "cpu")
    x = np.random.default_rng(4).standard_normal((4, 3)).astype(np.float32)
    want = m(tg.tensor(x, device=m.weight.device)).detach().cpu().numpy()
    got = nn.parallel.data_parallel(m, tg.tensor(x))      # moved to the GPU when there is one
    np.testing.assert_allclose(got.detach().cpu().numpy(), want)
    got = nn.parallel.data_parallel(m, (tg.tensor(x),), device_ids=[0])
    np.testing.assert_allclose(got.detach().cpu().numpy(), want)
    with pytest.raises(NotImplementedError, match="DistributedDataParallel"):
        nn.parallel.data_parallel(m, tg.tensor(x), device_ids=[0, 1])
    if gpu:    # torch's check: the module must already be on the device
        with pytest.raises(RuntimeError, match="parameters and buffers on device"):
            nn.parallel.data_parallel(nn.Linear(3, 2), tg.tensor(x))


def test_data_parallel_several_devices_raise_clearly():
    for ids in ([0, 1], ["cuda:0", "cuda:1"]):
        with pytest.raises(NotImplementedError, match="DistributedDataParallel"):
            nn.DataParallel(nn.Linear(2, 2), device_ids=ids)
    with pytest.raises(TypeError, match="nn.Module"):
        nn.DataParallel(lambda x: x)


# ---- SyncBatchNorm --------------------------------------------------------------------------
def _torch_bn_state(g, t):
    g.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})


@pytest.mark.parametrize("shape,kw", [((4, 3), {}), ((3, 3, 5), {"momentum": None}),
                                      ((2, 3, 4, 4), {"affine": False}),
                                      ((2, 3, 2, 3, 2), {"track_running_stats": False}),
                                      ((2, 3, 4), {"bias": False})])
def test_sync_batchnorm_one_process_is_batchnorm_like_torch(shape, kw):
    torch.manual_seed(0)
    t, g = torch.nn.SyncBatchNorm(3, **kw), nn.SyncBatchNorm(3, **kw)
    assert repr(g) == repr(t) and list(g.state_dict()) == list(t.state_dict())
    if t.weight is not None:
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5)
            if t.bias is not None:
                t.bias.uniform_(-1, 1)
    _torch_bn_state(g, t)
    rng = np.random.default_rng(1)
    for mode in ("train", "train", "eval"):
        t.train(mode == "train")
        g.train(mode == "train")
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
        yt, yg = t(xt), g(xg)
        np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
        w = rng.standard_normal(shape).astype(np.float32)
        (yt * torch.tensor(w)).sum().backward()
        (yg * tg.tensor(w)).sum().backward()
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
        for k, v in t.state_dict().items():
            np.testing.assert_allclose(g.state_dict()[k].numpy(), v.numpy(), rtol=1e-5,
                                       atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 4), st.integers(1, 3), st.lists(st.integers(1, 4), max_size=3),
       st.sampled_from([0.1, None, 0.5]), st.integers(0, 2**16))
def test_sync_batchnorm_shapes_against_torch(n, c, spatial, momentum, seed):
    t, g = torch.nn.SyncBatchNorm(c, momentum=momentum).double(), \
        nn.SyncBatchNorm(c, momentum=momentum).double()
    x = np.random.default_rng(seed).standard_normal((n, c, *spatial)) * 3 - 1
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt, yg = t(xt), g(xg)
    (yt ** 3).sum().backward()
    (yg ** 3).sum().backward()
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), atol=1e-8)
    np.testing.assert_allclose(g.running_var.numpy(), t.running_var.numpy(), atol=1e-12)


def test_convert_sync_batchnorm_like_torch():
    def build(lib):
        m = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3), lib.nn.BatchNorm2d(3),
                              lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.BatchNorm1d(4)))
        m.eval()
        return m

    t, g = build(torch), build(tg)
    bn = g[1]
    tc = torch.nn.SyncBatchNorm.convert_sync_batchnorm(t)
    gc = nn.SyncBatchNorm.convert_sync_batchnorm(g)
    assert repr(gc) == repr(tc)
    assert gc is g and type(gc[1]) is nn.SyncBatchNorm and type(gc[2][1]) is nn.SyncBatchNorm
    assert gc[1].weight is bn.weight and gc[1].running_mean is bn.running_mean
    assert not gc[1].training and list(gc.state_dict()) == list(tc.state_dict())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(5, affine=False))
    assert type(single) is nn.SyncBatchNorm and single.weight is None
    assert nn.modules.batchnorm.SyncBatchNorm is nn.SyncBatchNorm
    three = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm3d(2)))
    assert type(three[0]) is nn.SyncBatchNorm
    with pytest.raises(ValueError, match="not been initialised"):
        nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.LazyBatchNorm2d()))
    lazy = nn.LazyBatchNorm2d()
    lazy(tg.ones(2, 3, 2, 2))
    assert nn.SyncBatchNorm.convert_sync_batchnorm(lazy).num_features == 3


def test_sync_batchnorm_math_over_simulated_ranks():
    """Three threads stand for three ranks (a barrier-based all-reduce): the synced
    statistics and gradients equal torch's batch norm of the concatenated batch."""
    import threading

    from tinygrad_cv.nn.functional.sync_batch_norm import sync_batch_norm

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((n, 4, 3, 2)) * 3 + 5 for n in (2, 3, 1)]
    gys = [rng.standard_normal(x.shape) for x in xs]
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    barrier, slots, out = threading.Barrier(3), [None] * 3, [None] * 3

    def all_reduce_for(rank):
        def reduce(arr):
            slots[rank] = arr.copy()
            barrier.wait()
            total = sum(slots)
            barrier.wait()
            arr[...] = total
        return reduce

    def rank_run(rank):
        x = tg.tensor(xs[rank], requires_grad=True)
        wt, bt = tg.tensor(w, requires_grad=True), tg.tensor(b, requires_grad=True)
        rm, rv = tg.zeros(4, dtype=tg.float64), tg.ones(4, dtype=tg.float64)
        y = sync_batch_norm(x, rm, rv, wt, bt, 0.1, 1e-5, all_reduce_for(rank))
        (y * tg.tensor(gys[rank])).sum().backward()
        out[rank] = (y.detach().numpy(), x.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(),
                     rm.numpy(), rv.numpy())

    threads = [threading.Thread(target=rank_run, args=(r,)) for r in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert all(o is not None for o in out)
    X = torch.tensor(np.concatenate(xs), requires_grad=True)
    W, B = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    Y = torch.nn.functional.batch_norm(X, rm, rv, W, B, True, 0.1, 1e-5)
    (Y * torch.tensor(np.concatenate(gys))).sum().backward()
    np.testing.assert_allclose(np.concatenate([o[0] for o in out]), Y.detach().numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(np.concatenate([o[1] for o in out]), X.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(sum(o[2] for o in out), W.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(sum(o[3] for o in out), B.grad.numpy(), atol=1e-12)
    for o in out:
        np.testing.assert_allclose(o[4], rm.numpy(), atol=1e-14)
        np.testing.assert_allclose(o[5], rv.numpy(), atol=1e-14)


def test_sync_batchnorm_gradcheck_one_rank():
    from tinygrad_cv.nn.functional.sync_batch_norm import sync_batch_norm
    from tinygrad_cv.testing import gradcheck

    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal(2), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda *a: sync_batch_norm(*a[:1], None, None, *a[1:], 0.1, 1e-5,
                                                lambda arr: None), (x, w, b))


def test_sync_batchnorm_errors():
    with pytest.raises(NotImplementedError, match="subgroups"):
        nn.SyncBatchNorm(3, process_group=object())
    with pytest.raises(ValueError, match="num_features=3"):
        nn.SyncBatchNorm(3)(tg.ones(2, 4, 5))
    with pytest.raises(ValueError):
        nn.SyncBatchNorm(3)(tg.ones(3))


def test_sync_batchnorm_over_mpi_ranks_equals_global_batchnorm(tmp_path):
    """Two MPI ranks (mpiexec): outputs, input gradients, the ranks' summed parameter
    gradients and running statistics equal BatchNorm on the whole batch in one process, and
    DistributedDataParallel over SyncBatchNorm trains like one process on the global batch."""
    import json
    import os
    import subprocess

    pytest.importorskip("mpi4py", reason="needs the 'distributed' extra (mpi4py, mpich)")
    from tinygrad_cv.distributed.launcher import find_mpiexec, mpiexec_command

    if find_mpiexec() is None:
        pytest.skip("no mpiexec found (pip install '.[distributed]')")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    worker = os.path.join(root, "tests", "sync_batchnorm_worker.py")
    proc = subprocess.run(mpiexec_command(2, [worker, str(tmp_path)]), cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for rank in range(2):
        results = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert len(results) > 70 and any(k.startswith("ddp step 2") for k in results)
        bad = {k: v for k, v in results.items() if not v[0]}
        assert not bad, f"rank {rank}: {json.dumps(bad, indent=1)[:3000]}"
