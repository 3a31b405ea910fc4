"""Lazy modules (LazyLinear, LazyConv*, LazyBatchNorm*, LazyInstanceNorm*) and the
uninitialised parameter/buffer against torch: repr, the class change, shapes, outputs and
gradients with the same weights, optimizers and state dicts around the first call, errors."""
import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
from tinygrad_cv.nn.parameter import is_lazy

CASES = [  # (class, constructor args, input shape)
    ("LazyLinear", (3,), (2, 5)),
    ("LazyLinear", (4, False), (2, 3, 6)),
    ("LazyConv1d", (4, 3), (2, 3, 8)),
    ("LazyConv1d", (4, 3, 2, 1, 1, 2, True, "reflect"), (2, 6, 9)),
    ("LazyConv2d", (4, 3), (2, 3, 6, 6)),
    ("LazyConv2d", (6, (3, 1), 1, "same", 1, 3, False), (6, 7, 5)),
    ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3, 2, 1, 1, 2), (2, 4, 5, 5)),
    ("LazyBatchNorm1d", (), (4, 3)),
    ("LazyBatchNorm1d", (1e-3, None, False), (4, 3, 5)),
    ("LazyBatchNorm2d", (), (2, 3, 4, 4)),
    ("LazyInstanceNorm1d", (), (2, 3, 5)),
    ("LazyInstanceNorm2d", (1e-5, 0.1, True, False), (2, 3, 4, 4)),
]


def _pair(cls, args):
    return getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)


def _load_torch(g, t):
    g.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})


@pytest.mark.parametrize("cls,args,shape", CASES)
def test_lazy_module_matches_torch(cls, args, shape):
    g, t = _pair(cls, args)
    assert repr(g) == repr(t)
    assert list(g.state_dict()) == list(t.state_dict())
    assert g.has_uninitialized_params() and t.has_uninitialized_params()
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        t(torch.tensor(x0))              # the first call: shapes inferred, class changed
    g(tg.tensor(x0))
    assert type(g) is getattr(nn, type(t).__name__)
    assert not hasattr(g, "has_uninitialized_params")     # a plain layer now, as torch's
    assert not any(is_lazy(v) for v in g.state_dict(keep_vars=True).values())
    assert repr(g) == repr(t)
    assert [(k, tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in g.state_dict().items()] \
        == [(k, tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in t.state_dict().items()]
    assert all(type(p) is nn.Parameter for p in g.parameters())
    _load_torch(g, t)
    x = rng.standard_normal(shape).astype(np.float32)
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt, yg = t(xt), g(xg)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    w = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(w)).sum().backward()
    (yg * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (name, pg), (_, pt) in zip(g.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(pg.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=name)
    for k, v in t.state_dict().items():    # running statistics updated the same way
        np.testing.assert_allclose(g.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,args,shape,fan_in", [
    ("LazyLinear", (50,), (3, 40), 40), ("LazyConv2d", (30, 3), (1, 8, 5, 5), 72),
    ("LazyConvTranspose1d", (6, 4, 1, 0, 0, 2), (2, 10, 3), 12)])
def test_initialisation_follows_the_ordinary_layer(cls, args, shape, fan_in):
    tg.manual_seed(0)
    g = getattr(nn, cls)(*args)
    g(tg.zeros(*shape))
    bound = 1 / np.sqrt(fan_in)
    for p in (g.weight, g.bias):
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.7 * bound   # U(-b, b)
        assert abs(v.mean()) < 0.5 * bound


def test_norm_initialisation():
    g = nn.LazyBatchNorm2d()
    g.eval()
    x = tg.tensor(np.random.default_rng(1).standard_normal((2, 3, 2, 2)).astype(np.float32))
    y = g(x)
    assert np.all(g.weight.detach().numpy() == 1) and np.all(g.bias.detach().numpy() == 0)
    assert np.all(g.running_mean.numpy() == 0) and np.all(g.running_var.numpy() == 1)
    assert int(g.num_batches_tracked.item()) == 0
    np.testing.assert_allclose(y.detach().numpy(), x.numpy() / np.sqrt(1 + 1e-5), rtol=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6), st.lists(st.integers(1, 3), min_size=0, max_size=2),
       st.integers(1, 5), st.booleans())
def test_lazy_linear_any_input_shape(in_features, batch, out_features, bias):
    g = nn.LazyLinear(out_features, bias)
    y = g(tg.ones(*batch, in_features))
    assert tuple(y.shape) == tuple(batch) + (out_features,)
    assert g.in_features == in_features and tuple(g.weight.shape) == (out_features, in_features)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(3, 6), st.booleans())
def test_lazy_conv2d_channels_from_batched_or_unbatched(groups, per_group, size, unbatched):
    g = nn.LazyConv2d(2 * groups, 3, groups=groups)
    shape = (groups * per_group, size, size)
    y = g(tg.ones(*(shape if unbatched else (2,) + shape)))
    assert g.in_channels == groups * per_group
    assert tuple(g.weight.shape) == (2 * groups, per_group, 3, 3)
    assert y.ndim == (3 if unbatched else 4)


def test_optimizer_built_before_first_call_trains_like_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.LazyLinear(4), torch.nn.Tanh(), torch.nn.LazyLinear(2))
    gm = nn.Sequential(nn.LazyLinear(4), nn.Tanh(), nn.LazyLinear(2))
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9, foreach=False)
    gopt = tg.optim.SGD(gm.parameters(), lr=0.1, momentum=0.9)
    held = list(gopt.param_groups[0]["params"])
    rng = np.random.default_rng(2)
    x, target = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2))
    with torch.no_grad():
        tm(torch.tensor(x))
    gm(tg.tensor(x))
    assert all(a is b for a, b in zip(held, gm.parameters()))   # the same objects, now real
    _load_torch(gm, tm)
    for _ in range(3):
        for m, opt, lib in ((tm, topt, torch), (gm, gopt, tg)):
            opt.zero_grad()
            loss = ((m(lib.tensor(x)) - lib.tensor(target.astype(np.float32))) ** 2).mean()
            loss.backward()
            opt.step()
    for (k, v) in tm.state_dict().items():
        np.testing.assert_allclose(gm.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def _lazy_net():
    return nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.Flatten(), nn.LazyLinear(2))


def test_state_dict_round_trips():
    lazy = _lazy_net()
    sd = lazy.state_dict()
    torch_sd = torch.nn.Sequential(torch.nn.LazyConv2d(4, 3), torch.nn.LazyBatchNorm2d(),
                                   torch.nn.Flatten(), torch.nn.LazyLinear(2)).state_dict()
    assert list(sd) == list(torch_sd)
    assert [repr(v) for v in sd.values()] == [repr(v) for v in torch_sd.values()]
    assert sd["0.weight"] is lazy[0].weight          # saved as itself, as torch
    # a lazy state dict loads into a lazy module (nothing to copy) ...
    other = _lazy_net()
    result = other.load_state_dict(sd)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert other[0].has_uninitialized_params()
    # ... and into an initialised one raises (torch's error)
    full = _lazy_net()
    x = tg.tensor(np.random.default_rng(3).standard_normal((2, 3, 5, 5)).astype(np.float32))
    y_full = full(x)
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        full.load_state_dict(sd)
    # an initialised state dict loads into a lazy module: shapes and values, no re-init
    lazy.load_state_dict(full.state_dict())
    assert not lazy[0].has_uninitialized_params() and type(lazy[0]) is nn.LazyConv2d
    np.testing.assert_allclose(lazy[3].weight.detach().numpy(), full[3].weight.detach().numpy())
    y = lazy(x)
    assert type(lazy[0]) is nn.Conv2d and type(lazy[3]) is nn.Linear
    assert lazy[0].in_channels == 3 and lazy[1].num_features == 4 and lazy[3].in_features == 36
    np.testing.assert_allclose(y.detach().numpy(), y_full.detach().numpy(), rtol=1e-6)
    # torch's initialised checkpoint loads too
    t = torch.nn.Sequential(torch.nn.LazyConv2d(4, 3), torch.nn.LazyBatchNorm2d(),
                            torch.nn.Flatten(), torch.nn.LazyLinear(2))
    t(torch.zeros(1, 3, 5, 5))
    fresh = _lazy_net()
    fresh.load_state_dict(t.state_dict())
    np.testing.assert_allclose(fresh[0].weight.detach().numpy(), t[0].weight.detach().numpy())


def test_uninitialized_parameter_and_buffer():
    p = nn.UninitializedParameter()
    assert repr(p) == "<UninitializedParameter>" and p.requires_grad and is_lazy(p)
    assert isinstance(p, nn.Parameter) and p.dtype == tg.float32 and tuple(p.size()) == (0,)
    with pytest.raises(RuntimeError, match="Can't access the shape"):
        p.shape
    assert p.device == tg.device(tg.backend.get_default_device())
    for use in (lambda: p * 2, lambda: p.exp(), lambda: p.sum(), lambda: p.numel(),
                lambda: tg.ones(2, device="cpu") + p,      # (a GPU tensor: the device error)
                lambda: p.view(-1), lambda: p[0], lambda: p.clone(), lambda: p.tolist(),
                lambda: nn.utils.parameters_to_vector([p]), lambda: nn.init.zeros_(p),
                lambda: nn.init.constant_(p, 2.0)):
        with pytest.raises(ValueError, match="uninitialized parameter"):
            use()
    with pytest.raises(RuntimeError, match="Can't access the shape"):
        nn.functional.linear(tg.ones(2, 3), p)
    q = copy.deepcopy(p)
    assert q is not p and is_lazy(q)
    p.materialize((2, 3), dtype="float64")
    assert type(p) is nn.Parameter and tuple(p.shape) == (2, 3) and p.dtype == tg.float64
    assert not is_lazy(p) and p.requires_grad
    b = nn.UninitializedBuffer(persistent=False)
    assert repr(b) == "<UninitializedBuffer>" and not b.requires_grad and not b.persistent
    b.materialize(4)
    assert type(b) is tg.Tensor and tuple(b.shape) == (4,)


def test_dtype_set_before_first_call_is_kept():
    g = nn.LazyLinear(3).double()
    assert g.weight.dtype == tg.float64 and is_lazy(g.weight)
    g(tg.ones(2, 4, dtype=tg.float64))
    assert g.weight.dtype == tg.float64 and tuple(g.weight.shape) == (3, 4)
    assert nn.LazyBatchNorm1d(dtype=tg.float64).running_mean.dtype == tg.float64


def test_errors():
    with pytest.raises(ValueError, match=r"Expected 4D \(unbatched\) or 4D|Expected 3D"):
        nn.LazyConv2d(4, 3)(tg.ones(2, 2, 3, 5, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(tg.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(3, 3, groups=2)
    with pytest.raises(ValueError, match="out_features"):
        nn.LazyLinear(0)
    with pytest.raises(ValueError, match="in_features=0"):
        nn.LazyLinear(3).forward(tg.ones(2, 4))     # forward without the first call's inference

    class Half(nn.modules.lazy.LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.UninitializedParameter()
            self.b = nn.UninitializedParameter()

        def initialize_parameters(self, x):
            self.a.materialize(x.shape)

        def forward(self, x):
            return x * self.a

    with pytest.raises(RuntimeError, match="not been fully initialized"):
        Half()(tg.ones(2))

    class NoInit(nn.modules.lazy.LazyModuleMixin, nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="initialize_parameters"):
        NoInit()(tg.ones(2))


def test_custom_lazy_module_without_class_change():
    class Scale(nn.modules.lazy.LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.UninitializedParameter()
            self.stat = nn.UninitializedBuffer()
            self.calls = 0

        def initialize_parameters(self, x):
            self.calls += 1
            self.w.materialize(x.shape[-1:])
            self.stat.materialize(x.shape[-1:])
            nn.init.ones_(self.w)

        def forward(self, x):
            return x * self.w

    m = Scale()
    assert list(m.state_dict()) == ["w", "stat"] and m.has_uninitialized_params()
    m(tg.ones(2, 3))
    m(tg.ones(2, 3))
    assert type(m) is Scale and m.calls == 1 and tuple(m.w.shape) == (3,)


def test_torch_paths():
    assert nn.modules.linear.LazyLinear is nn.LazyLinear
    assert nn.modules.conv.LazyConvTranspose2d is nn.LazyConvTranspose2d
    assert nn.modules.batchnorm.LazyBatchNorm2d is nn.LazyBatchNorm2d
    assert nn.modules.instancenorm.LazyInstanceNorm1d is nn.LazyInstanceNorm1d
    assert nn.parameter.UninitializedBuffer is nn.UninitializedBuffer
    assert issubclass(nn.LazyLinear, nn.modules.lazy.LazyModuleMixin)


def test_save_and_load_lazy_modules():
    import io

    m = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    opt = tg.optim.SGD(m.parameters(), lr=0.1)
    f = io.BytesIO()
    tg.save({"model": m, "opt": opt, "sd": m.state_dict()}, f)
    f.seek(0)
    loaded = tg.load(f)
    model, sd = loaded["model"], loaded["sd"]
    assert repr(model) == repr(m) and type(model[0]) is nn.LazyLinear
    assert repr(sd["0.weight"]) == "<UninitializedParameter>"
    assert repr(model[1].running_mean) == "<UninitializedBuffer>"
    assert loaded["opt"].param_groups[0]["params"][0] is model[0].weight
    model(tg.ones(2, 4))
    assert type(model[0]) is nn.Linear and tuple(model[0].weight.shape) == (3, 4)
    assert type(loaded["opt"].param_groups[0]["params"][0]) is nn.Parameter


def test_pickle_and_deepcopy_lazy_modules():
    import pickle

    m = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d()).double()
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert repr(clone[0].weight) == "<UninitializedParameter>"
        assert clone[0].weight.dtype == tg.float64 and clone[1].running_mean.persistent
        clone(tg.ones(2, 4, dtype=tg.float64))
        assert type(clone[0]) is nn.Linear and tuple(clone[0].weight.shape) == (3, 4)
        assert clone[0].weight.dtype == tg.float64
    assert is_lazy(m[0].weight)          # the original is untouched
