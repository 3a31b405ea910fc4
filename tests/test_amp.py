"""tinygrad_cv.amp (GradScaler, autocast) against torch.amp on the CPU: the same training loop
from the same weights gives the same parameters, scales, growth trackers and skipped steps
(injected inf/NaN gradients, natural overflow of the scaled loss); state_dict round trips;
the errors of calls out of order; autocast's state and argument checks."""
import pickle
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import nn as tnn


def _models(seed=0):
    torch.manual_seed(seed)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    ours = tnn.Sequential(tnn.Linear(5, 8), tnn.Tanh(), tnn.Linear(8, 3))
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})
    return ref, ours


def _optimizers(ref, ours, kind):
    if kind == "sgd":
        return (torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9),
                tg.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9))
    return (torch.optim.Adam(ref.parameters(), lr=0.01),
            tg.optim.Adam(ours.parameters(), lr=0.01))


def _run(fw, model, opt, scaler, xs, ys, inject, clip):
    """The usual AMP loop; ``inject[i]`` puts inf/nan into one gradient element at step i."""
    history = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        opt.zero_grad()
        with fw.autocast("cpu", dtype=fw.float16, enabled=False):
            loss = fw.nn.functional.cross_entropy(model(fw.tensor(x)), fw.tensor(y))
        scaler.scale(loss).backward()
        if i in inject:
            w = next(iter(model.parameters()))
            w.grad[0, 1] = inject[i]
        if clip:
            scaler.unscale_(opt)
            fw.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        before = [p.detach().numpy().copy() for p in model.parameters()]
        scaler.step(opt)
        skipped = all(np.array_equal(b, p.detach().numpy())
                      for b, p in zip(before, model.parameters()))
        scaler.update()
        history.append((scaler.get_scale(), scaler._get_growth_tracker(), skipped))
    return history


@pytest.mark.parametrize("kind,clip,init_scale", [("sgd", False, 2.0 ** 16),
                                                  ("adam", True, 2.0 ** 16),
                                                  ("sgd", True, 2.0 ** 127)])
def test_training_loop_matches_torch(kind, clip, init_scale):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(12)]
    ys = [rng.integers(0, 3, 4) for _ in range(12)]
    inject = {2: float("inf"), 3: float("nan"), 7: float("-inf")}
    ref, ours = _models()
    t_opt, o_opt = _optimizers(ref, ours, kind)
    kw = dict(init_scale=init_scale, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    t_hist = _run(torch, ref, t_opt, torch.amp.GradScaler("cpu", **kw), xs, ys, inject, clip)
    o_hist = _run(tg, ours, o_opt, tg.amp.GradScaler("cpu", **kw), xs, ys, inject, clip)
    assert o_hist == t_hist
    assert any(s for _, _, s in t_hist) and not all(s for _, _, s in t_hist)
    assert len({s for s, _, _ in t_hist}) > 2                 # grew and backed off
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_growth_keeps_finite_scale_and_new_scale():
    for fw in (torch, tg):
        p = fw.nn.Parameter(fw.ones(2, device="cpu"))
        opt = fw.optim.SGD([p], lr=0.1)
        s = fw.amp.GradScaler("cpu", init_scale=3e38, growth_interval=1)
        (s.scale(p.sum())).backward()
        s.step(opt)
        s.update()
        assert s.get_scale() == pytest.approx(3e38, rel=1e-6)  # growth to inf refused
        s.update(4.0)
        assert s.get_scale() == 4.0
        s.update(fw.tensor(8.0, device="cpu"))
        assert s.get_scale() == 8.0


def test_scale_of_sequences_and_dtypes():
    for fw in (torch, tg):
        s = fw.amp.GradScaler("cpu", init_scale=4.0)
        a, b = fw.tensor([1.0, 2.0]), fw.tensor([3.0], dtype=fw.float64)
        out = s.scale([a, (b, a)])
        assert isinstance(out, list) and isinstance(out[1], tuple)
        np.testing.assert_array_equal(out[1][0].numpy(), [12.0])
        assert out[1][0].dtype == fw.float64 and out[0].dtype == fw.float32
        assert list(s.scale(iter([a])))[0].tolist() == [4.0, 8.0]
        with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable"):
            s.scale(3.0)


def _errors(fw):
    """The messages of the misuse cases, in order."""
    out = []

    def expect(f):
        try:
            f()
            out.append(None)
        except Exception as e:        # noqa: BLE001 (compared with torch's)
            out.append((type(e).__name__, str(e)))

    p = fw.nn.Parameter(fw.ones(3))
    opt = fw.optim.SGD([p], lr=0.1)
    s = fw.amp.GradScaler("cpu")
    expect(lambda: s.step(opt))                               # before any scale()
    expect(lambda: s.unscale_(opt))
    expect(lambda: s.update())
    s.scale(p.sum()).backward()
    expect(lambda: s.update())                                # no inf checks yet
    expect(lambda: s.step(opt, closure=lambda: 0.0))
    s.unscale_(opt)
    expect(lambda: s.unscale_(opt))                           # twice
    s.step(opt)
    expect(lambda: s.step(opt))                               # twice
    expect(lambda: s.unscale_(opt))                           # after step
    s.update()
    expect(lambda: s.update(fw.tensor([1.0, 2.0])))
    expect(lambda: s.update(fw.tensor(2.0, requires_grad=True)))
    expect(lambda: fw.amp.GradScaler("cpu", growth_factor=1.0))
    expect(lambda: fw.amp.GradScaler("cpu", backoff_factor=1.0))
    expect(lambda: s.load_state_dict({}))
    h = fw.nn.Parameter(fw.ones(2, dtype=fw.float16))
    o16 = fw.optim.SGD([h], lr=0.1)
    s.scale(h.sum()).backward()
    expect(lambda: s.step(o16))                               # float16 gradients
    return out


def test_errors_match_torch():
    ours, theirs = _errors(tg), _errors(torch)
    assert [o and o[0] for o in ours] == [t and t[0] for t in theirs]
    for o, t in zip(ours, theirs):
        if o is not None:
            assert o[1].replace("torch.", "") == t[1].replace("torch.", "")


def test_state_dict_round_trip_and_pickle():
    p = tg.nn.Parameter(tg.ones(2))
    opt = tg.optim.SGD([p], lr=0.1)
    s = tg.amp.GradScaler("cpu", init_scale=256.0, growth_interval=5)
    for _ in range(3):
        s.scale(p.sum()).backward()
        s.step(opt)
        s.update()
    sd = s.state_dict()
    ref = torch.amp.GradScaler("cpu", init_scale=256.0, growth_interval=5)
    ref._lazy_init_scale_growth_tracker(torch.device("cpu"))
    ref._growth_tracker.fill_(3)
    assert sd == ref.state_dict()
    fresh = tg.amp.GradScaler("cpu")
    fresh.load_state_dict(sd)
    assert fresh.state_dict() == sd and fresh.get_scale() == 256.0
    started = tg.amp.GradScaler("cpu", init_scale=2.0)
    started.scale(p.sum())
    started.load_state_dict(sd)          # an initialised scale is overwritten too
    assert started.state_dict() == sd
    clone = pickle.loads(pickle.dumps(s))
    assert clone.state_dict() == sd
    s.scale(p.sum()).backward()
    s.unscale_(opt)
    with pytest.raises(AssertionError, match="may only be pickled"):
        pickle.dumps(s)


def test_disabled_and_cuda_without_gpu():
    p = tg.nn.Parameter(tg.ones(2))
    opt = tg.optim.SGD([p], lr=0.1)
    off = tg.amp.GradScaler("cpu", enabled=False)
    loss = p.sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    loss.backward()
    off.step(opt)
    off.update()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, 0.9], rtol=1e-7)
    if not tg.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            assert not tg.amp.GradScaler().is_enabled()
        with pytest.warns(FutureWarning, match="torch.amp.GradScaler"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                assert not tg.cuda.amp.GradScaler().is_enabled()


def test_autocast_state_as_torch():
    for fw in (torch, tg):
        assert not fw.is_autocast_enabled("cpu") and not fw.is_autocast_enabled()
        with fw.autocast("cpu", dtype=fw.float16):
            assert fw.is_autocast_enabled("cpu") and not fw.is_autocast_enabled("cuda")
            assert fw.get_autocast_dtype("cpu") == fw.float16
            with fw.autocast("cpu", enabled=False):
                assert not fw.is_autocast_enabled("cpu")
            assert fw.is_autocast_enabled("cpu")
        assert not fw.is_autocast_enabled("cpu")

        @fw.autocast("cpu", dtype=fw.float16)
        def inside():
            return fw.is_autocast_enabled("cpu")

        assert inside() and not fw.is_autocast_enabled("cpu")
        assert fw.get_autocast_dtype("cuda") == fw.float16
        with pytest.warns(UserWarning, match="target dtype is not supported"):
            with fw.autocast("cpu", dtype=fw.float64):
                assert not fw.is_autocast_enabled("cpu")
        with pytest.raises(ValueError, match="of type `str`"):
            fw.autocast(0)
        with pytest.raises(RuntimeError, match="device string: foo"):
            fw.autocast("foo")
        try:
            with fw.autocast("cpu", dtype=fw.float16):
                raise KeyError("x")
        except KeyError:
            pass
        assert not fw.is_autocast_enabled("cpu")           # restored after an exception


def test_autocast_computes_in_the_inputs_dtypes():
    """No per-op policy: a float32 model stays float32 in the region (torch: float16 or
    bfloat16 outputs); the values equal the float32 computation."""
    lin = tnn.Linear(4, 3)
    x = tg.randn(2, 4)
    expected = lin(x).detach().numpy()
    with tg.autocast("cpu", dtype=tg.float16):
        out = lin(x)
    assert out.dtype == tg.float32
    with tg.autocast(tg.device("cpu"), dtype=tg.float16):   # a device is a str here
        assert tg.is_autocast_enabled("cpu")
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    if not tg.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            with tg.autocast("cuda"):
                assert not tg.is_autocast_enabled("cuda")


def test_custom_fwd_casts_inputs_in_region():
    seen = []

    @tg.amp.custom_fwd(device_type="cpu", cast_inputs=tg.float64)
    def fwd(x, scale=None):
        seen.append((x.dtype, tg.is_autocast_enabled("cpu")))
        return x

    x = tg.ones(2)
    fwd(x)
    with tg.autocast("cpu", dtype=tg.float16):
        fwd(x)
    assert seen == [(tg.float32, False), (tg.float64, False)]


def test_clipping_an_inf_gradient_is_silent_as_torch():
    """unscale_ then clip_grad_norm_ on an iteration with an inf gradient: the norm is inf,
    the gradients become [0, nan, 0] (as torch) and no floating-point warning is printed."""
    grads = {}
    for fw in (torch, tg):
        p = fw.nn.Parameter(fw.ones(3))
        opt = fw.optim.SGD([p], lr=0.1)
        s = fw.amp.GradScaler("cpu")
        s.scale(p.sum()).backward()
        with fw.no_grad():
            p.grad[1] = float("inf")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            s.unscale_(opt)
            total = fw.nn.utils.clip_grad_norm_(p, 1.0)
        assert total.item() == float("inf")
        assert s.step(opt) is None and (p.detach().numpy() == 1).all()    # skipped
        grads[fw] = p.grad.numpy()
    np.testing.assert_array_equal(grads[tg], grads[torch])
