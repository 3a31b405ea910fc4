"""torch.nn's base and wrapper classes: RNNBase/RNNCellBase, DataParallel (one device) and
SyncBatchNorm (one process), against torch."""
import numpy as np
import pytest
import torch

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
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.RNNBase("LSTM", 3, 4, proj_size=2)


def test_rnncellbase_constructible_as_torch():
    tm, gm = torch.nn.RNNCellBase(3, 4, True, 4), nn.RNNCellBase(3, 4, True, 4)
    assert repr(gm) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    assert "bias_ih" not in nn.RNNCellBase(3, 4, False, 2).state_dict()


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


def test_data_parallel_several_devices_raise_clearly():
    for ids in ([0, 1], ["cuda:0", "cuda:1"]):
        with pytest.raises(NotImplementedError, match="DistributedDataParallel"):
            nn.DataParallel(nn.Linear(2, 2), device_ids=ids)
    with pytest.raises(TypeError, match="nn.Module"):
        nn.DataParallel(lambda x: x)
