"""nn.init: gains and fans equal torch's, the samplers' ranges and moments, in-place filling,
seeding, and the default initialisation of Linear and Embedding."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
from tinygrad_cv.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swishy")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "x")


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=5))
def test_fans_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(tg.empty(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    assert ours == theirs


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(tg.empty(5))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(tg.empty(3, 4), mode="fan_avg")


SHAPE = (256, 128, 3)  # fan_in = 384, fan_out = 768


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming_bounds_and_variance(mode, nonlinearity, a):
    fan = 384 if mode == "fan_in" else 768
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    w = tg.empty(*SHAPE)
    out = init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert out is w
    bound = gain * math.sqrt(3.0 / fan)
    v = w.numpy()
    assert np.abs(v).max() <= bound
    assert np.abs(v).max() > 0.99 * bound
    assert v.std() == pytest.approx(gain / math.sqrt(fan), rel=0.02)
    init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert w.numpy().std() == pytest.approx(gain / math.sqrt(fan), rel=0.02)
    assert abs(w.numpy().mean()) < 0.01 * gain / math.sqrt(fan) * 10


def test_xavier_bounds_and_variance():
    w = tg.empty(*SHAPE)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / (384 + 768))
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    init.xavier_normal_(w, gain=0.5)
    assert w.numpy().std() == pytest.approx(0.5 * math.sqrt(2.0 / (384 + 768)), rel=0.02)


def test_uniform_normal_constant_fill_in_place():
    w = tg.empty(300, 400, dtype="float64")
    array = w.array
    init.uniform_(w, -2.0, 3.0)
    assert w.array is array and w.dtype == np.float64
    assert w.numpy().min() >= -2.0 and w.numpy().max() < 3.0
    assert w.numpy().mean() == pytest.approx(0.5, abs=0.02)
    init.normal_(w, 1.5, 0.25)
    assert w.numpy().mean() == pytest.approx(1.5, abs=0.005)
    assert w.numpy().std() == pytest.approx(0.25, rel=0.01)
    init.trunc_normal_(w, std=1.0, a=-1.0, b=1.0)
    assert np.abs(w.numpy()).max() <= 1.0
    init.constant_(w, 0.3)
    np.testing.assert_array_equal(w.numpy(), 0.3)
    init.zeros_(w)
    np.testing.assert_array_equal(w.numpy(), 0.0)
    init.ones_(w)
    np.testing.assert_array_equal(w.numpy(), 1.0)
    assert w.array is array
    e = tg.empty(3, 4)
    np.testing.assert_array_equal(init.eye_(e).numpy(), np.eye(3, 4))


def test_init_on_a_parameter_keeps_it_attached():
    p = nn.Parameter(tg.zeros(4, 5))
    init.kaiming_uniform_(p)
    assert p.requires_grad and p.is_leaf
    assert np.all(p.detach().numpy() != 0)


def test_seeded_initialisation_is_reproducible(device):
    tg.manual_seed(11)
    a = nn.Linear(6, 4).to(device)
    tg.manual_seed(11)
    b = nn.Linear(6, 4).to(device)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    w = tg.empty(5, 5, device=device)
    tg.manual_seed(1)
    init.normal_(w)
    first = w.numpy().copy()
    tg.manual_seed(1)
    init.normal_(w)
    np.testing.assert_array_equal(w.numpy(), first)


def test_linear_default_init_matches_torch_distribution():
    in_f, out_f = 300, 200
    tg.manual_seed(0)
    layer = nn.Linear(in_f, out_f)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    bound = 1 / math.sqrt(in_f)  # kaiming_uniform(a=sqrt(5)) on (out, in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    theirs = torch.nn.Linear(in_f, out_f).weight.detach().numpy()
    assert theirs.std() == pytest.approx(w.std(), rel=0.03)
    assert layer.weight.dtype == np.float32
    assert nn.Linear(3, 2, dtype="float64").weight.dtype == np.float64
