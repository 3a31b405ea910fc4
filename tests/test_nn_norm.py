"""BatchNorm1d/2d, LayerNorm, GroupNorm: torch (train/eval, running stats), gradcheck, reference."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

from torch_compare import compare_layer, host

SETTINGS = settings(max_examples=20, deadline=None)


def _randomise(module, seed):
    """Non-trivial affine parameters (torch's defaults are ones/zeros)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


@SETTINGS
@given(st.sampled_from(["1d2", "1d3", "2d"]), st.integers(2, 5), st.integers(1, 4),
       st.sampled_from([0.1, 0.5, None]), st.booleans(), st.booleans(),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_batchnorm_matches_torch_over_steps(kind, n, c, momentum, affine, track, dtype, seed):
    shape = {"1d2": (n, c), "1d3": (n, c, 5), "2d": (n, c, 4, 3)}[kind]
    ours_cls, torch_cls = ((nn.BatchNorm2d, torch.nn.BatchNorm2d) if kind == "2d"
                           else (nn.BatchNorm1d, torch.nn.BatchNorm1d))
    kw = dict(momentum=momentum, affine=affine, track_running_stats=track, eps=1e-4)
    theirs = _randomise(torch_cls(c, **kw), seed)
    ours = ours_cls(c, **kw)
    x = (np.random.default_rng(seed).standard_normal(shape) * 2 + 1).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    compare_layer(ours, theirs, x, train=True, steps=4, **tol)   # running stats after 4 steps
    compare_layer(ours, theirs, x + 0.5, train=False, **tol)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_layernorm_matches_torch(lead, k, affine, bias, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 5, size=lead)) + tuple(rng.integers(2, 5, size=k))
    ns = shape[-k:]
    theirs = _randomise(torch.nn.LayerNorm(ns, elementwise_affine=affine, bias=bias), seed)
    x = rng.standard_normal(shape) * 3
    for train in (True, False):
        compare_layer(nn.LayerNorm(ns, elementwise_affine=affine, bias=bias), theirs, x,
                      train=train, rtol=1e-10, atol=1e-11)


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 9), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from([(True, True, True), (True, False, False), (False, True, True)]),
       st.sampled_from(["float32", "float64"]), st.integers(0, 2**16))
def test_layer_norm_row_path_matches_torch(rows, m, affine, bias, transposed, needs, dtype,
                                           seed):
    """The GEMV row path of layer_norm (also on a transposed, non-contiguous input, with
    partial requires_grad) against torch's layer_norm: output and every gradient."""
    affine = affine or not needs[0]          # something requires grad
    rng = np.random.default_rng(seed)
    shape = (m, rows) if transposed else (rows, m)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = rng.standard_normal(m).astype(dtype) if affine else None
    b = rng.standard_normal(m).astype(dtype) if bias else None
    g = rng.standard_normal((rows, m)).astype(dtype)

    def run(lib, make):
        ts = [None if a is None else make(a, r) for a, r in zip((x, w, b), needs)]
        xin = ts[0].T if transposed else ts[0]
        if lib is torch:
            y = torch.nn.functional.layer_norm(xin, (m,), ts[1], ts[2], eps=1e-4)
        else:
            y = F.layer_norm(xin, (m,), ts[1], ts[2], eps=1e-4)
        (y * make(g, False)).sum().backward()
        return [host(y)] + [None if t is None or not r else host(t.grad)
                            for t, r in zip(ts, needs)]

    ours = run(tg, lambda a, r: tg.Tensor(a, requires_grad=r))
    theirs = run(torch, lambda a, r: torch.tensor(a, requires_grad=r))
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-9, atol=1e-10)
    for a, t in zip(ours, theirs):
        assert (a is None) == (t is None)
        if a is not None:
            np.testing.assert_allclose(a, t, **tol)


@SETTINGS
@given(st.sampled_from([1, 2, 3, 6]), st.integers(1, 3), st.integers(0, 2), st.booleans(),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_groupnorm_matches_torch(groups, n, extra_dims, affine, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = (n, 6) + tuple(rng.integers(1, 5, size=extra_dims))
    assume(int(np.prod(shape[1:])) // groups >= 2)
    theirs = _randomise(torch.nn.GroupNorm(groups, 6, affine=affine), seed)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    if dtype == np.float32:
        # the input gradient scales with 1/std of each group: a nearly constant group of two
        # elements makes float32 results of any implementation differ in the 4th digit
        min_std = x.astype(np.float64).reshape(n, groups, -1).std(axis=2).min()
        assume(min_std > 0.1)
        # dx is a difference of terms of size |gamma dy| / std (up to ~60 here): its float32
        # rounding, torch's included, is ~1e-6 of that (seen: 3.6e-5 at std 0.1, two elements)
        tol = dict(rtol=1e-4, atol=1e-5 / min_std)
    else:
        tol = dict(rtol=1e-10, atol=1e-11)
    for train in (True, False):
        compare_layer(nn.GroupNorm(groups, 6, affine=affine), theirs, x, train=train, **tol)


# ---- primitive-composition references -------------------------------------------------------
def reference_normalize(x, axes, eps):
    mean = x.mean(dim=axes, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
    return (x - mean) / (var + eps).sqrt()


def _check_against_reference(fused, reference, inputs):
    y, ref = fused(*inputs), reference(*inputs)
    np.testing.assert_allclose(host(y), host(ref), rtol=1e-10, atol=1e-11)
    gy = tg.Tensor(np.random.default_rng(5).standard_normal(y.shape))
    for a, b in zip(tg.autograd.grad(y, inputs, gy), tg.autograd.grad(ref, inputs, gy)):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-9, atol=1e-10)


@SETTINGS
@given(st.integers(2, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))
def test_fused_norms_match_primitive_reference(n, c, hw, seed):
    rng = np.random.default_rng(seed)
    t = lambda *s: tg.Tensor(rng.standard_normal(s), requires_grad=True)  # noqa: E731
    x, w, b = t(n, 2 * c, hw, 3), t(2 * c), t(2 * c)
    bshape = (1, 2 * c, 1, 1)
    _check_against_reference(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
        lambda x, w, b: reference_normalize(x, (0, 2, 3), 1e-3) * w.reshape(bshape) + b.reshape(bshape),
        (x, w, b))
    _check_against_reference(
        lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-3),
        lambda x, w, b: (reference_normalize(x.reshape(n, 2, c, hw, 3), (2, 3, 4), 1e-3)
                         .reshape(n, 2 * c, hw, 3) * w.reshape(bshape) + b.reshape(bshape)),
        (x, w, b))
    lw, lb = t(hw, 3), t(hw, 3)
    _check_against_reference(
        lambda x, w, b: F.layer_norm(x, (hw, 3), w, b, eps=1e-3),
        lambda x, w, b: reference_normalize(x, (2, 3), 1e-3) * w + b, (x, lw, lb))


def test_norm_gradchecks():
    rng = np.random.default_rng(0)
    t = lambda *s: tg.Tensor(rng.standard_normal(s), requires_grad=True)  # noqa: E731
    x, w, b = t(3, 4, 2, 3), t(4), t(4)
    rm, rv = np.zeros(4), np.ones(4) * 2
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 3), w, b), (x, t(2, 3), t(2, 3)))
    assert gradcheck(lambda x: F.layer_norm(x, (3,)), (x,))


def test_batchnorm_buffers_and_state_dict_names():
    m, t = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    assert list(m.state_dict()) == list(t.state_dict())
    assert m.num_batches_tracked.dtype == np.int64 and m.num_batches_tracked.shape == ()
    assert list(nn.LayerNorm((2, 3)).state_dict()) == list(torch.nn.LayerNorm((2, 3)).state_dict())
    assert list(nn.GroupNorm(2, 4).state_dict()) == list(torch.nn.GroupNorm(2, 4).state_dict())
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_norm_shape_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d.*\(N, 3, H, W\).*\(2, 3, 4\)"):
        nn.BatchNorm2d(3)(tg.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d.*num_features=3.*\(2, 4\)"):
        nn.BatchNorm1d(3)(tg.randn(2, 4))
    with pytest.raises(ValueError, match=r"LayerNorm.*\(\*, 4\).*\(2, 3\)"):
        nn.LayerNorm(4)(tg.randn(2, 3))
    with pytest.raises(ValueError, match="GroupNorm.*num_channels=4"):
        nn.GroupNorm(2, 4)(tg.randn(2, 6, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tg.randn(1, 3))


def test_norms_on_device(device):
    x = np.random.default_rng(0).standard_normal((4, 6, 5, 5)).astype(np.float32)
    compare_layer(nn.BatchNorm2d(6), _randomise(torch.nn.BatchNorm2d(6), 0), x, steps=2, device=device)
    compare_layer(nn.GroupNorm(3, 6), _randomise(torch.nn.GroupNorm(3, 6), 0), x, device=device)
    compare_layer(nn.LayerNorm((5, 5)), _randomise(torch.nn.LayerNorm((5, 5)), 0), x, device=device)
