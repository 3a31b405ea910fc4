"""MultiplicativeLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, OneCycleLR,
CyclicLR, ReduceLROnPlateau and ChainedScheduler against torch.optim.lr_scheduler (the
oracle): the rate sequences of two parameter groups over a few hundred steps (and the momenta
and betas OneCycleLR and CyclicLR set), the misuse warnings, state-dict round trips that continue bit-equal, ``last_epoch`` resumes, and
bad arguments raising torch's exception types with messages naming the argument."""
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import optim
from tinygrad_cv.optim import lr_scheduler as ours_sched
from torch.optim import lr_scheduler as torch_sched

STEPS = 300
LRS = (0.1, 0.03)


def _optimizer(lib, kind="sgd", lrs=LRS):
    """An optimizer of ``lib`` ("ours" or "torch") with one group per rate."""
    if lib == "ours":
        params = [[tg.Tensor(np.zeros(2), requires_grad=True)] for _ in lrs]
        cls = {"sgd": optim.SGD, "adam": optim.Adam}[kind]
    else:
        params = [[torch.zeros(2, dtype=torch.float64, requires_grad=True)] for _ in lrs]
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind]
    extra = dict(momentum=0.9) if kind == "sgd" else {}
    return cls([{"params": p, "lr": lr} for p, lr in zip(params, lrs)], lr=0.1, **extra)


def _metric(epoch):
    """A noisy loss with plateaus, the same for both libraries."""
    return float(1.0 / (1 + epoch // 25) + 0.01 * np.sin(epoch * 1.7))


def _step(scheduler, epoch):
    if isinstance(scheduler, (ours_sched.ReduceLROnPlateau, torch_sched.ReduceLROnPlateau)):
        scheduler.step(_metric(epoch))
    else:
        scheduler.step()


def _trace(opt, scheduler, steps, start=0):
    """get_last_lr and the groups' momentum/beta1 after each of ``steps`` steps."""
    rows = []
    for e in range(start, start + steps):
        opt.step()
        _step(scheduler, e)
        row = list(scheduler.get_last_lr())
        for g in opt.param_groups:
            row.append(g["betas"][0] if "betas" in g else g.get("momentum", 0.0))
        rows.append(row)
    return np.array(rows, dtype=np.float64)


def _chained(sched, opt):
    return sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.5, total_iters=7),
                                   sched.ExponentialLR(opt, gamma=0.99),
                                   sched.PolynomialLR(opt, total_iters=250, power=0.5)])


class Decay:
    """A callable object as CyclicLR's scale_fn (its attributes are saved in the state)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, x):
        return self.rate ** x


CASES = {
    "CyclicLR_triangular": ("sgd", lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.05],
                                                           step_size_up=17)),
    "CyclicLR_triangular2_adam": ("adam", lambda s, o: s.CyclicLR(
        o, base_lr=[0.001, 0.002], max_lr=0.01, step_size_up=10, step_size_down=30,
        mode="triangular2", base_momentum=[0.85, 0.8], max_momentum=0.95)),
    "CyclicLR_exp_range": ("sgd", lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=23, mode="exp_range", gamma=0.995)),
    "CyclicLR_scale_fn_no_momentum": ("adam", lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=9, scale_fn=Decay(0.9),
        scale_mode="iterations", cycle_momentum=False)),

    "MultiplicativeLR": ("sgd", lambda s, o: s.MultiplicativeLR(
        o, [lambda e: 0.99, lambda e: 1.0 - 0.001 * (e % 5)])),
    "ConstantLR": ("sgd", lambda s, o: s.ConstantLR(o, factor=0.25, total_iters=40)),
    "ConstantLR_default": ("sgd", lambda s, o: s.ConstantLR(o)),
    "PolynomialLR": ("sgd", lambda s, o: s.PolynomialLR(o, total_iters=200, power=2.0)),
    "PolynomialLR_default": ("sgd", lambda s, o: s.PolynomialLR(o)),
    "CosineAnnealingWarmRestarts": ("sgd", lambda s, o: s.CosineAnnealingWarmRestarts(
        o, T_0=10, T_mult=2, eta_min=1e-4)),
    "CosineAnnealingWarmRestarts_mult1": ("sgd", lambda s, o: s.CosineAnnealingWarmRestarts(
        o, T_0=7)),
    "OneCycleLR_cos_momentum": ("sgd", lambda s, o: s.OneCycleLR(o, max_lr=[0.5, 0.2],
                                                                   total_steps=STEPS)),
    "OneCycleLR_linear_three_phase_adam": ("adam", lambda s, o: s.OneCycleLR(
        o, max_lr=0.01, epochs=10, steps_per_epoch=30, pct_start=0.25,
        anneal_strategy="linear", three_phase=True, div_factor=10.0, final_div_factor=100.0,
        base_momentum=[0.8, 0.7], max_momentum=0.9)),
    "OneCycleLR_no_momentum": ("adam", lambda s, o: s.OneCycleLR(
        o, max_lr=0.02, total_steps=STEPS, cycle_momentum=False)),
    "ReduceLROnPlateau_min_rel": ("sgd", lambda s, o: s.ReduceLROnPlateau(
        o, patience=3, factor=0.5, cooldown=2, min_lr=[1e-3, 1e-4])),
    "ReduceLROnPlateau_max_abs": ("sgd", lambda s, o: s.ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", threshold=0.001, patience=2, factor=0.7,
        min_lr=2e-3, eps=1e-3)),
    "ReduceLROnPlateau_default": ("sgd", lambda s, o: s.ReduceLROnPlateau(o)),
    "ChainedScheduler": ("sgd", _chained),
}


def _both(name):
    kind, build = CASES[name]
    out = []
    for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
        opt = _optimizer(lib, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append((opt, build(sched, opt)))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_rates_and_momenta_match_torch(name):
    (o1, s1), (o2, s2) = _both(name)
    assert s1.get_last_lr() == pytest.approx(s2.get_last_lr(), rel=1e-12)
    ours, theirs = _trace(o1, s1, STEPS), _trace(o2, s2, STEPS)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert s1.last_epoch == s2.last_epoch if hasattr(s2, "last_epoch") else True
    if name.startswith("ReduceLROnPlateau"):
        assert len(np.unique(ours[:, 0])) > 2   # the metric did trigger reductions


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_continues_bit_equal(name, tmp_path):
    """Save after 120 steps (through tinygrad_cv.save for the scheduler), rebuild on a
    fresh optimizer loaded from the first, continue: the same rates bit for bit."""
    kind, build = CASES[name]
    ref_opt = _optimizer("ours", kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = build(ours_sched, ref_opt)
        full = _trace(ref_opt, ref, STEPS)

        opt = _optimizer("ours", kind)
        sched = build(ours_sched, opt)
        first = _trace(opt, sched, 120)
        tg.save({"sched": sched.state_dict()}, tmp_path / "s.safetensors")
        saved = tg.load(tmp_path / "s.safetensors")["sched"]

        opt2 = _optimizer("ours", kind)
        sched2 = build(ours_sched, opt2)
        opt2.load_state_dict(opt.state_dict())
        sched2.load_state_dict(saved)
        assert sched2.get_last_lr() == sched.get_last_lr()
        rest = _trace(opt2, sched2, STEPS - 120, start=120)
    np.testing.assert_array_equal(np.concatenate([first, rest]), full)


RESUMABLE = ["CyclicLR_triangular2_adam", "CyclicLR_exp_range", "MultiplicativeLR", "ConstantLR", "PolynomialLR", "CosineAnnealingWarmRestarts",
             "CosineAnnealingWarmRestarts_mult1", "OneCycleLR_cos_momentum",
             "OneCycleLR_linear_three_phase_adam"]


@pytest.mark.parametrize("name", RESUMABLE)
def test_last_epoch_resume_matches_torch(name):
    """Run 50 steps, then build the same schedule again with ``last_epoch=49`` on the same
    optimizer (its groups keep ``initial_lr`` etc.) and continue, as torch does."""
    kind, build = CASES[name]
    traces = []
    for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
        opt = _optimizer(lib, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = build(sched, opt)
            head = _trace(opt, first, 50)
            resumed = _resume(sched, opt, name)
            traces.append((head, resumed.get_last_lr(), _trace(opt, resumed, 100, start=50)))
    (h1, l1, t1), (h2, l2, t2) = traces
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(l1, l2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t1, t2, rtol=1e-12, atol=1e-15)


def _resume(sched, opt, name):
    kind, build = CASES[name]
    kwargs = {"CyclicLR_triangular2_adam": lambda: sched.CyclicLR(
                  opt, base_lr=[0.001, 0.002], max_lr=0.01, step_size_up=10, step_size_down=30,
                  mode="triangular2", base_momentum=[0.85, 0.8], max_momentum=0.95,
                  last_epoch=49),
              "CyclicLR_exp_range": lambda: sched.CyclicLR(
                  opt, base_lr=0.01, max_lr=0.2, step_size_up=23, mode="exp_range",
                  gamma=0.995, last_epoch=49),
              "MultiplicativeLR": lambda: sched.MultiplicativeLR(
                  opt, [lambda e: 0.99, lambda e: 1.0 - 0.001 * (e % 5)], last_epoch=49),
              "ConstantLR": lambda: sched.ConstantLR(opt, factor=0.25, total_iters=40,
                                                     last_epoch=49),
              "PolynomialLR": lambda: sched.PolynomialLR(opt, total_iters=200, power=2.0,
                                                         last_epoch=49),
              "CosineAnnealingWarmRestarts": lambda: sched.CosineAnnealingWarmRestarts(
                  opt, T_0=10, T_mult=2, eta_min=1e-4, last_epoch=49),
              "CosineAnnealingWarmRestarts_mult1": lambda: sched.CosineAnnealingWarmRestarts(
                  opt, T_0=7, last_epoch=49),
              "OneCycleLR_cos_momentum": lambda: sched.OneCycleLR(
                  opt, max_lr=[0.5, 0.2], total_steps=STEPS, last_epoch=49),
              "OneCycleLR_linear_three_phase_adam": lambda: sched.OneCycleLR(
                  opt, max_lr=0.01, epochs=10, steps_per_epoch=30, pct_start=0.25,
                  anneal_strategy="linear", three_phase=True, div_factor=10.0,
                  final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.9,
                  last_epoch=49)}
    return kwargs[name]()


def test_cosine_warm_restarts_fractional_epochs_match_torch():
    """``step(epoch)`` with fractional epochs (per batch), jumps back and forth, then plain
    steps."""
    epochs = [i / 7 for i in range(200)] + [3.5, 0.0, 71.25, 12.0, None, None, 150.9, None]
    for T_mult in (1, 2, 3):
        rows = []
        for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
            opt = _optimizer(lib)
            s = sched.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=T_mult, eta_min=0.001)
            seq = []
            for e in epochs:
                opt.step()
                s.step() if e is None else s.step(e)
                seq.append(s.get_last_lr() + [s.last_epoch, s.T_i, s.T_cur])
            rows.append(np.array(seq))
        np.testing.assert_allclose(rows[0], rows[1], rtol=1e-12, atol=1e-15)


def test_new_schedulers_nest_in_sequential_and_chained_like_torch():
    """SequentialLR restarts warm restarts, one-cycle and cyclic schedules at their
    milestones and undoes a ChainedScheduler's initial steps; a ChainedScheduler holds a
    SequentialLR."""
    rows = []
    for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
        opt = _optimizer(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chained = sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.5, total_iters=4),
                                              sched.PolynomialLR(opt, total_iters=30)])
            seq = sched.SequentialLR(opt, [
                chained, sched.CosineAnnealingWarmRestarts(opt, T_0=6, T_mult=2),
                sched.CyclicLR(opt, 0.01, 0.1, step_size_up=5, cycle_momentum=False),
                sched.MultiplicativeLR(opt, lambda e: 0.97)], milestones=[10, 40, 70])
            outer = sched.ChainedScheduler([seq, sched.ExponentialLR(opt, gamma=0.995)])
            rows.append(_trace(opt, outer, 100))
    np.testing.assert_allclose(rows[0], rows[1], rtol=1e-12, atol=1e-15)


def test_one_cycle_past_total_steps_raises_like_torch():
    for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
        opt = _optimizer(lib)
        s = sched.OneCycleLR(opt, max_lr=0.1, total_steps=10)
        for _ in range(9):
            opt.step()
            s.step()
        with pytest.raises(ValueError, match=r"(?i)total.?steps"):
            opt.step()
            s.step()
            s.step()


def test_plateau_step_with_epoch_warns_and_chained_rejects_plateau():
    for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
        opt = _optimizer(lib)
        plateau = sched.ReduceLROnPlateau(opt)
        with pytest.warns(UserWarning, match="epoch parameter"):
            plateau.step(1.0, epoch=5)
        assert plateau.last_epoch == 5
        with pytest.raises(ValueError, match="ReduceLROnPlateau"):
            sched.ChainedScheduler([sched.ConstantLR(opt), plateau])


def test_plateau_new_group_with_per_group_min_lr_raises_like_torch():
    for lib, sched in (("ours", ours_sched), ("torch", torch_sched)):
        opt = _optimizer(lib)
        plateau = sched.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
        extra = (tg.Tensor(np.zeros(1), requires_grad=True) if lib == "ours"
                 else torch.zeros(1, requires_grad=True))
        opt.add_param_group({"params": [extra]})
        plateau.step(1.0)
        with pytest.raises(RuntimeError, match="min_lrs"):
            plateau.step(2.0)


BAD = [
    ("CyclicLR mode", lambda s, o: s.CyclicLR(o, 0.01, 0.1, mode="sine"), ValueError, "mode"),
    ("CyclicLR base_lr", lambda s, o: s.CyclicLR(o, [0.01] * 3, 0.1), ValueError, "base_lr"),
    ("CyclicLR max_lr", lambda s, o: s.CyclicLR(o, 0.01, [0.1]), ValueError, "max_lr"),
    ("CyclicLR base_momentum", lambda s, o: s.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8]),
     ValueError, "base_momentum"),
    ("ConstantLR factor", lambda s, o: s.ConstantLR(o, factor=1.5), ValueError, "factor"),
    ("MultiplicativeLR not callable", lambda s, o: s.MultiplicativeLR(o, 0.9), TypeError,
     "lr_lambda"),
    ("MultiplicativeLR count", lambda s, o: s.MultiplicativeLR(o, [lambda e: 1.0]),
     ValueError, "lr_lambdas"),
    ("CAWR T_0", lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    ("CAWR T_0 float", lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2.0), ValueError,
     "T_0"),
    ("CAWR T_mult", lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=0),
     ValueError, "T_mult"),
    ("CAWR eta_min", lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, eta_min="0"),
     ValueError, "eta_min"),
    ("CAWR epoch", lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3).step(-1), ValueError,
     "epoch"),
    ("OneCycle total_steps", lambda s, o: s.OneCycleLR(o, 0.1, total_steps=0), ValueError,
     "total_steps"),
    ("OneCycle epochs", lambda s, o: s.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3),
     ValueError, "epochs"),
    ("OneCycle steps_per_epoch", lambda s, o: s.OneCycleLR(o, 0.1, epochs=2,
                                                           steps_per_epoch=1.5),
     ValueError, "steps_per_epoch"),
    ("OneCycle neither", lambda s, o: s.OneCycleLR(o, 0.1), ValueError, "total_steps"),
    ("OneCycle pct_start", lambda s, o: s.OneCycleLR(o, 0.1, total_steps=9, pct_start=1.5),
     ValueError, "pct_start"),
    ("OneCycle anneal", lambda s, o: s.OneCycleLR(o, 0.1, total_steps=9,
                                                  anneal_strategy="exp"),
     ValueError, "anneal_strategy"),
    ("OneCycle max_lr", lambda s, o: s.OneCycleLR(o, [0.1], total_steps=9), ValueError,
     "max_lr"),
    ("OneCycle momenta", lambda s, o: s.OneCycleLR(o, 0.1, total_steps=9,
                                                   max_momentum=[0.9] * 3),
     ValueError, "max_momentum"),
    ("Plateau factor", lambda s, o: s.ReduceLROnPlateau(o, factor=1.0), ValueError,
     "(?i)factor"),
    ("Plateau mode", lambda s, o: s.ReduceLROnPlateau(o, mode="mean"), ValueError, "mode"),
    ("Plateau threshold_mode", lambda s, o: s.ReduceLROnPlateau(o, threshold_mode="x"),
     ValueError, "threshold.mode"),
    ("Plateau min_lr", lambda s, o: s.ReduceLROnPlateau(o, min_lr=[0.0]), ValueError,
     "min_lr"),
    ("Plateau optimizer", lambda s, o: s.ReduceLROnPlateau(object()), TypeError,
     "not an Optimizer"),
    ("Chained empty", lambda s, o: s.ChainedScheduler([]), ValueError, "scheduler"),
    ("Chained other optimizer", lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o), s.ConstantLR(o)], optimizer=_optimizer(
            "ours" if s is ours_sched else "torch")), ValueError, "optimizer"),
]


@pytest.mark.parametrize("what, build, exc, word", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_raise_torch_exception_types(what, build, exc, word):
    with pytest.raises(exc):
        build(torch_sched, _optimizer("torch"))
    with pytest.raises(exc, match=word):
        build(ours_sched, _optimizer("ours"))


@pytest.mark.parametrize("cycle", [lambda s, o: s.OneCycleLR(o, max_lr=0.1, total_steps=5),
                                   lambda s, o: s.CyclicLR(o, 0.01, 0.1)])
def test_cycle_momentum_needs_momentum_or_betas_like_torch(cycle):
    """cycle_momentum needs momentum or betas in the optimizer's defaults (Adadelta has
    neither)."""
    for lib, sched, cls in (("ours", ours_sched, optim.Adadelta),
                            ("torch", torch_sched, torch.optim.Adadelta)):
        p = (tg.Tensor(np.zeros(1), requires_grad=True) if lib == "ours"
             else torch.zeros(1, requires_grad=True))
        with pytest.raises(ValueError, match="momentum"):
            cycle(sched, cls([p]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_misuse_warnings_match_torch(name):
    """The scheduler-before-optimizer warning (only where torch gives it) and get_lr()
    outside a step."""
    seen = []
    for (opt, scheduler), sched in zip(_both(name), (ours_sched, torch_sched)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _step(scheduler, 0)
            opt.step()
            _step(scheduler, 1)
            if not isinstance(scheduler, (sched.ReduceLROnPlateau, sched.ChainedScheduler)):
                scheduler.get_lr()
        seen.append(sorted(("before `optimizer.step()`" in str(w.message),
                            "get_last_lr()" in str(w.message)) for w in caught
                           if issubclass(w.category, UserWarning)))
    assert seen[0] == seen[1]


def test_exported_names():
    for name in ("MultiplicativeLR", "ConstantLR", "PolynomialLR", "CosineAnnealingWarmRestarts",
                 "OneCycleLR", "CyclicLR", "ReduceLROnPlateau", "ChainedScheduler"):
        assert name in ours_sched.__all__
        assert issubclass(getattr(ours_sched, name), ours_sched.LRScheduler)
