"""tinygrad_cv.optim.swa_utils against torch.optim.swa_utils: averaged weights (SWA, EMA, with
and without buffers, avg_fn and multi_avg_fn), n_averaged, the averaged model's forward,
update_bn's statistics, SWALR's rates and state_dict, and the argument errors."""
import copy
import math
import warnings

import numpy as np
import pytest
import torch
from torch.optim import swa_utils as ts

import tinygrad_cv as tg
from tinygrad_cv.optim import swa_utils as gs


def _pair(seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                             torch.nn.Linear(5, 2))
    gm = tg.nn.Sequential(tg.nn.Linear(3, 5), tg.nn.BatchNorm1d(5), tg.nn.ReLU(),
                          tg.nn.Linear(5, 2))
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, gm


def _train_step(tm, gm, x, lr=0.1):
    """One SGD step on sum(model(x)) in both frameworks (training mode: BN statistics move)."""
    tm(torch.tensor(x)).square().sum().backward()
    gm(tg.tensor(x)).square().sum().backward()
    with torch.no_grad():
        for p in tm.parameters():
            p -= lr * p.grad
            p.grad = None
    for p in gm.parameters():
        p.data -= lr * p.grad
        p.grad = None


def _assert_state_equal(tsd, gsd, tol=2e-6):
    assert list(tsd) == list(gsd)
    for k in tsd:
        t, g = tsd[k].detach().numpy(), gsd[k].detach().numpy()
        assert t.dtype == g.dtype, k
        np.testing.assert_allclose(t, g, rtol=tol, atol=tol, err_msg=k)


AVERAGING = {
    "swa": (dict(), dict()),
    "swa-buffers": (dict(use_buffers=True), dict(use_buffers=True)),
    "ema-multi": (dict(multi_avg_fn=ts.get_ema_multi_avg_fn(0.9)),
                  dict(multi_avg_fn=gs.get_ema_multi_avg_fn(0.9))),
    "ema-multi-buffers": (dict(multi_avg_fn=ts.get_ema_multi_avg_fn(0.7), use_buffers=True),
                          dict(multi_avg_fn=gs.get_ema_multi_avg_fn(0.7), use_buffers=True)),
    # (with use_buffers, torch's get_swa_multi_avg_fn raises on the integer num_batches_tracked)
    "swa-multi": (dict(multi_avg_fn=ts.get_swa_multi_avg_fn()),
                  dict(multi_avg_fn=gs.get_swa_multi_avg_fn())),
    "ema-avg": (dict(avg_fn=ts.get_ema_avg_fn(0.8)), dict(avg_fn=gs.get_ema_avg_fn(0.8))),
    "swa-avg-buffers": (dict(avg_fn=ts.get_swa_avg_fn(), use_buffers=True),
                        dict(avg_fn=gs.get_swa_avg_fn(), use_buffers=True)),
}


@pytest.mark.parametrize("kind", list(AVERAGING))
def test_averaged_weights_equal_torch(kind):
    tk, gk = AVERAGING[kind]
    tm, gm = _pair()
    ta, ga = ts.AveragedModel(tm, **tk), gs.AveragedModel(gm, **gk)
    assert int(ga.n_averaged.item()) == 0 and ga.n_averaged.dtype == tg.int64
    rng = np.random.default_rng(0)
    for step in range(5):
        _train_step(tm, gm, rng.standard_normal((6, 3)).astype(np.float32))
        ta.update_parameters(tm)
        ga.update_parameters(gm)
        assert int(ga.n_averaged.item()) == int(ta.n_averaged.item()) == step + 1
    _assert_state_equal(ta.state_dict(), ga.state_dict())
    # the averages differ from the current weights (the test can fail)
    assert not np.allclose(ga.module[0].weight.detach().numpy(), gm[0].weight.detach().numpy())
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for mode in ("train", "eval"):
        getattr(ta, mode)()
        getattr(ga, mode)()
        np.testing.assert_allclose(ta(torch.tensor(x)).detach().numpy(),
                                   ga(tg.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_swa_average_is_the_mean_of_the_models():
    _, gm = _pair()
    ga = gs.AveragedModel(gm)
    seen = []
    for k in range(4):
        for p in gm.parameters():
            p.data += float(k + 1)
        seen.append(gm[0].weight.detach().numpy().copy())
        ga.update_parameters(gm)
    np.testing.assert_allclose(ga.module[0].weight.detach().numpy(), np.mean(seen, axis=0),
                               rtol=1e-6)
    # buffers are copied (not averaged) without use_buffers, and the copy is independent
    gm[1].running_mean.data += 5.0
    assert not np.allclose(ga.module[1].running_mean.numpy(), gm[1].running_mean.numpy())
    ga.update_parameters(gm)
    np.testing.assert_array_equal(ga.module[1].running_mean.numpy(),
                                  gm[1].running_mean.numpy())


def test_swa_multi_avg_fn_averages_integer_buffers_as_avg_fn_does():
    _, gm = _pair()
    multi = gs.AveragedModel(gm, multi_avg_fn=gs.get_swa_multi_avg_fn(), use_buffers=True)
    single = gs.AveragedModel(gm, avg_fn=gs.get_swa_avg_fn(), use_buffers=True)
    rng = np.random.default_rng(4)
    for _ in range(4):
        gm(tg.tensor(rng.standard_normal((5, 3)).astype(np.float32)))
        multi.update_parameters(gm)
        single.update_parameters(gm)
    assert int(gm[1].num_batches_tracked.item()) == 4
    assert int(multi.module[1].num_batches_tracked.item()) == 1    # truncated at each update
    _assert_state_equal(single.state_dict(), multi.state_dict())


def test_deep_copy_device_and_state_dict_round_trip():
    tm, gm = _pair()
    ga = gs.AveragedModel(gm, device="cpu")
    assert ga.module is not gm and ga.module[0].weight is not gm[0].weight
    ga.update_parameters(gm)
    ga.update_parameters(gm)
    other = gs.AveragedModel(copy.deepcopy(gm))
    other.load_state_dict(ga.state_dict())
    assert int(other.n_averaged.item()) == 2
    _assert_state_equal(ga.state_dict(), other.state_dict(), tol=0)
    assert list(ga.state_dict()) == list(ts.AveragedModel(tm).state_dict())


def test_averaging_function_errors_as_torch():
    for lib in (ts, gs):
        model = (torch if lib is ts else tg).nn.Linear(2, 2)
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            lib.AveragedModel(model, avg_fn=lib.get_swa_avg_fn(),
                              multi_avg_fn=lib.get_swa_multi_avg_fn())
        for bad in (-0.1, 1.5):
            with pytest.raises(ValueError, match=r"Invalid decay value .* \[0,1\] range"):
                lib.get_ema_avg_fn(bad)
            with pytest.raises(ValueError, match=r"Invalid decay value .* \[0,1\] range"):
                lib.get_ema_multi_avg_fn(bad)


def _bn_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 6), nn.BatchNorm1d(6, momentum=0.3))


@pytest.mark.parametrize("with_labels", [True, False])
def test_update_bn_equals_torch(with_labels):
    torch.manual_seed(1)
    tm, gm = _bn_net(torch), _bn_net(tg)
    gm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(2)
    x = rng.standard_normal((10, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 10)
    if with_labels:
        t_loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
        g_loader = tg.utils.data.DataLoader(
            tg.utils.data.TensorDataset(tg.tensor(x), tg.tensor(y)), batch_size=4)
    else:
        t_loader = [torch.tensor(x[:4]), torch.tensor(x[4:])]
        g_loader = [tg.tensor(x[:4]), tg.tensor(x[4:])]
    for m in (tm, gm):          # statistics from an earlier pass, to be replaced
        m.train()
    tm(torch.tensor(x[:3] * 3 + 1))
    gm(tg.tensor(x[:3] * 3 + 1))
    tm.eval()
    gm.eval()
    ts.update_bn(t_loader, tm)
    gs.update_bn(g_loader, gm, device="cpu")
    _assert_state_equal(tm.state_dict(), gm.state_dict(), tol=1e-5)
    assert not gm.training and gm[5].momentum == 0.3 and gm[1].momentum == 0.1
    # the cumulative average over both batches, not the last batch's statistics
    assert not np.allclose(gm[1].running_mean.numpy(), 0.0)
    assert gs.update_bn(g_loader, tg.nn.Linear(2, 2)) is None     # no BatchNorm: nothing


def test_update_bn_on_an_averaged_model():
    tm, gm = _pair()
    ta, ga = ts.AveragedModel(tm), gs.AveragedModel(gm)
    rng = np.random.default_rng(3)
    for _ in range(3):
        _train_step(tm, gm, rng.standard_normal((6, 3)).astype(np.float32))
        ta.update_parameters(tm)
        ga.update_parameters(gm)
    x = rng.standard_normal((12, 3)).astype(np.float32)
    ts.update_bn([torch.tensor(x[:5]), torch.tensor(x[5:])], ta)
    gs.update_bn([tg.tensor(x[:5]), tg.tensor(x[5:])], ga)
    _assert_state_equal(ta.state_dict(), ga.state_dict())


def _optimizers(lrs=(0.1, 0.3)):
    tp = [torch.nn.Parameter(torch.zeros(2)) for _ in lrs]
    gp = [tg.nn.Parameter(tg.zeros(2)) for _ in lrs]
    to = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(tp, lrs)], lr=lrs[0])
    go = tg.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(gp, lrs)], lr=lrs[0])
    return to, go


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 4, 10])
@pytest.mark.parametrize("swa_lr", [0.05, [0.05, 0.01]])
def test_swalr_rates_equal_torch(strategy, anneal_epochs, swa_lr):
    to, go = _optimizers()
    tsch = ts.SWALR(to, swa_lr=swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    gsch = gs.SWALR(go, swa_lr=swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    seen = []
    for _ in range(14):
        for a, b in zip(tsch.get_last_lr(), gsch.get_last_lr()):
            assert abs(a - b) <= 1e-12
        assert [g["lr"] for g in go.param_groups] == gsch.get_last_lr()
        seen.append(gsch.get_last_lr()[0])
        to.step()
        go.step()
        tsch.step()
        gsch.step()
    assert seen[-1] == pytest.approx(0.05)       # annealed to swa_lr and held
    if anneal_epochs >= 4:
        assert len(set(seen[:anneal_epochs])) == anneal_epochs    # moving while annealing


def test_swalr_after_another_schedule_as_torch():
    to, go = _optimizers((0.2,))
    tcos = torch.optim.lr_scheduler.CosineAnnealingLR(to, T_max=20)
    gcos = tg.optim.lr_scheduler.CosineAnnealingLR(go, T_max=20)
    tswa = ts.SWALR(to, swa_lr=0.02, anneal_epochs=3)
    gswa = gs.SWALR(go, swa_lr=0.02, anneal_epochs=3)
    for epoch in range(12):
        to.step()
        go.step()
        if epoch < 6:
            tcos.step()
            gcos.step()
        else:
            tswa.step()
            gswa.step()
        assert abs(to.param_groups[0]["lr"] - go.param_groups[0]["lr"]) <= 1e-12


def test_swalr_state_dict_round_trip():
    to, go = _optimizers()
    gsch = gs.SWALR(go, swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear")
    for _ in range(2):
        go.step()
        gsch.step()
    state = gsch.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state
    assert state["_anneal_strategy"] == "linear" and state["anneal_epochs"] == 5
    _, go2 = _optimizers()
    resumed = gs.SWALR(go2, swa_lr=0.05, anneal_epochs=10, anneal_strategy="cos")
    resumed.load_state_dict(state)
    assert resumed.anneal_func is gs.SWALR._linear_anneal
    go2.load_state_dict(go.state_dict())
    for _ in range(6):
        go.step()
        go2.step()
        gsch.step()
        resumed.step()
        assert resumed.get_last_lr() == gsch.get_last_lr()
    # torch's own round trip gives the same rates
    to, _ = _optimizers()
    tsch = ts.SWALR(to, swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear")
    for _ in range(8):
        to.step()
        tsch.step()
    for a, b in zip(tsch.get_last_lr(), gsch.get_last_lr()):
        assert abs(a - b) <= 1e-12


def test_swalr_saved_with_tinygrad_cv_save(tmp_path):
    _, go = _optimizers()
    sch = gs.SWALR(go, swa_lr=0.05, anneal_epochs=3)
    go.step()
    sch.step()
    tg.save(sch.state_dict(), tmp_path / "sched.safetensors")
    state = tg.load(tmp_path / "sched.safetensors")
    _, go2 = _optimizers()
    other = gs.SWALR(go2, swa_lr=0.05, anneal_epochs=3)
    other.load_state_dict(state)
    assert other.state_dict() == sch.state_dict()


def test_swalr_argument_errors_as_torch():
    for lib, opt in zip((ts, gs), _optimizers()):
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
            lib.SWALR(opt, swa_lr=0.1, anneal_strategy="step")
        for bad in (-1, 2.5):
            with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
                lib.SWALR(opt, swa_lr=0.1, anneal_epochs=bad)
        with pytest.raises(ValueError, match="swa_lr must have the same length as "
                                             "optimizer.param_groups"):
            lib.SWALR(opt, swa_lr=[0.1, 0.2, 0.3])
    with pytest.raises(TypeError):
        gs.SWALR([tg.zeros(1)], swa_lr=0.1)


def test_swalr_get_lr_outside_step_warns_as_torch():
    for lib, opt in zip((ts, gs), _optimizers()):
        sch = lib.SWALR(opt, swa_lr=0.1)
        with pytest.warns(UserWarning, match="get_last_lr"):
            sch.get_lr()


def test_reachable_from_the_package():
    import tinygrad_cv
    assert tinygrad_cv.optim.swa_utils.SWALR is gs.SWALR
    assert isinstance(gs.SWALR(_optimizers()[1], 0.1), tg.optim.lr_scheduler.LRScheduler)
    assert math.isclose(gs.SWALR._cosine_anneal(0.5), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gs.AveragedModel(tg.nn.Linear(2, 2)).update_parameters(tg.nn.Linear(2, 2))


def test_whole_scheduler_and_averaged_model_save_and_load(tmp_path):
    model = tg.nn.Sequential(tg.nn.Linear(2, 3), tg.nn.BatchNorm1d(3))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    sch = gs.SWALR(opt, swa_lr=0.05, anneal_epochs=4, anneal_strategy="linear")
    averaged = gs.AveragedModel(model)
    for _ in range(2):
        opt.step()
        sch.step()
        averaged.update_parameters(model)
    tg.save({"sched": sch, "avg": averaged}, tmp_path / "all.safetensors")
    loaded = tg.load(tmp_path / "all.safetensors")
    assert isinstance(loaded["sched"], gs.SWALR) and loaded["sched"].anneal_func is \
        gs.SWALR._linear_anneal
    assert loaded["sched"].state_dict() == sch.state_dict()
    assert isinstance(loaded["avg"], gs.AveragedModel)
    _assert_state_equal(averaged.state_dict(), loaded["avg"].state_dict(), tol=0)
