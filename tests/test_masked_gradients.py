"""Masked gradients are 0 where the mask is off even when the incoming gradient is inf or NaN
there (torch selects with ``where``; a product with the mask gives NaN): ReLU, clamp, where,
maximum/minimum and what is built on them, against torch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend, threads

OPS = {
    "relu": lambda m, f, x: f.relu(x),
    "relu_inplace": lambda m, f, x: f.relu(x * 1, inplace=True),
    "relu6": lambda m, f, x: f.relu6(x),
    "hardtanh": lambda m, f, x: f.hardtanh(x),
    "threshold": lambda m, f, x: f.threshold(x, 0.5, 0.0),
    "hardsigmoid": lambda m, f, x: f.hardsigmoid(x),
    "elu": lambda m, f, x: f.elu(x),
    "selu": lambda m, f, x: f.selu(x),
    "hardshrink": lambda m, f, x: f.hardshrink(x, 0.5),
    "softshrink": lambda m, f, x: f.softshrink(x, 0.5),
    "clamp": lambda m, f, x: x.clamp(-1.0, 1.0),
    "clamp_min": lambda m, f, x: x.clamp(min=0.0),
    "clamp_max": lambda m, f, x: x.clamp(max=0.0),
    "clamp_tensors": lambda m, f, x: x.clamp(m.zeros(x.shape), m.ones(x.shape)),
    "maximum": lambda m, f, x: m.maximum(x, m.zeros(x.shape)),
    "minimum": lambda m, f, x: m.minimum(x, m.zeros(x.shape)),
    "maximum_ties": lambda m, f, x: m.maximum(x, x.detach()),
    "where": lambda m, f, x: m.where(x > 0, x, m.zeros(x.shape)),
    "masked_fill": lambda m, f, x: x.masked_fill(x <= 0, 0.0),
}
VALUES = [-2.0, -0.5, 0.0, 0.5, 1.0, 7.0]
UPSTREAM = [np.inf, np.nan, -np.inf, 1.0, np.inf, np.nan]


def _grads(op, dtype, upstream):
    x = tg.tensor(np.array(VALUES, dtype), requires_grad=True)
    y = torch.tensor(np.array(VALUES, dtype), requires_grad=True)
    OPS[op](tg, F, x).backward(tg.tensor(np.array(upstream, dtype)))
    OPS[op](torch, TF, y).backward(torch.tensor(np.array(upstream, dtype)))
    return x.grad.numpy(), y.grad.numpy()


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inf_and_nan_gradients_are_masked_as_torch(op, dtype):
    for upstream in (UPSTREAM, UPSTREAM[::-1], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]):
        ours, theirs = _grads(op, dtype, upstream)
        np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs))
        np.testing.assert_array_equal(ours[~np.isfinite(ours)], theirs[~np.isfinite(theirs)])
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)      # torch's float32 constants


def test_relu_then_sqrt_has_torch_gradient():
    x = tg.tensor([-1.0, 0.0, 4.0], requires_grad=True)
    x.relu().sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.25])


def test_the_split_relu_backward_masks_too():
    """A large ReLU splits its backward over the intra-op threads."""
    before = tg.get_num_threads()
    tg.set_num_threads(2)
    try:
        n = 4 * threads.MIN_WORK
        rng = np.random.default_rng(0)
        values = rng.standard_normal(n).astype(np.float32)
        upstream = np.where(rng.random(n) < 0.1, np.inf, 1.0).astype(np.float32)
        x = tg.tensor(values, requires_grad=True)
        x.relu().backward(tg.tensor(upstream))
        np.testing.assert_array_equal(x.grad.numpy(), np.where(values > 0, upstream, 0))
    finally:
        tg.set_num_threads(before)


def test_second_derivatives_through_masked_gradients():
    """With create_graph the mask is a recorded ``where``: d/dg of the gradient is the mask."""
    x = tg.tensor([-1.0, 2.0, 0.5], dtype=tg.float64, requires_grad=True)
    y = torch.tensor([-1.0, 2.0, 0.5], dtype=torch.float64, requires_grad=True)
    for lib, v in ((tg, x), (torch, y)):
        out = (lib.where(v > 0, v ** 3, lib.zeros(3, dtype=v.dtype)) +
               v.clamp(0.0, 1.0) ** 2).sum()
        (g,) = lib.autograd.grad(out, v, create_graph=True)
        g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.booleans(), st.booleans(),
       st.sampled_from([np.float16, np.float32, np.float64, np.int64]), st.integers(0, 2 ** 32 - 1))
def test_zero_unless_is_where(shape, broadcast_keep, into_g, dtype, seed):
    rng = np.random.default_rng(seed)
    specials = np.array([np.inf, -np.inf, np.nan, -0.0, 1.5, -3.0])
    if np.dtype(dtype).kind == "f":
        g = rng.choice(specials, size=shape).astype(dtype)
    else:
        g = rng.integers(-5, 5, size=shape).astype(dtype)
    keep_shape = (1,) * (len(shape) - 1) + (shape[-1],) if broadcast_keep else shape
    keep = rng.random(keep_shape) < 0.5
    want = np.where(keep, g, np.zeros((), dtype))
    if into_g:
        got = backend.zero_unless(g, keep, out=g)
        assert got is g
    else:
        got = backend.zero_unless(g, keep)
    assert got.dtype == g.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))
