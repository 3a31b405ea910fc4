"""Volumetric (5-D) ``F.grid_sample`` and ``F.affine_grid`` against torch: values, output dtypes,
gradients of the input, the grid and theta, for every mode / padding_mode / align_corners, with
sample points on voxel centres, on the borders and outside the volume; float64 gradchecks;
torch's errors for mismatched shapes and unsupported modes."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
MODES = ["bilinear", "nearest"]
PADDINGS = ["zeros", "border", "reflection"]


def _host(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else tg.backend.to_numpy(t.array)


def _compare(ours_fn, torch_fn, arrays, grad, seed=0):
    """Same arrays through both (those at ``grad`` positions require grad); compare the output,
    its dtype and the gradients of one random output gradient."""
    dtype = arrays[0].dtype.type
    ours = [tg.Tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a.copy(), requires_grad=i in grad) for i, a in enumerate(arrays)]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
    np.testing.assert_allclose(_host(y), _host(ty), **TOL[dtype])
    up = np.random.default_rng(seed).standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(tg.Tensor(up))
    ty.backward(torch.tensor(up))
    for i in grad:
        np.testing.assert_allclose(_host(ours[i].grad), _host(theirs[i].grad),
                                   err_msg=f"gradient of input {i}", **TOL[dtype])


def _compare_sample(x, g, mode, padding_mode, align_corners, seed=0):
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    grad = (0, 1) if mode == "bilinear" else (0,)         # nearest: torch's grid gradient is 0
    _compare(lambda a, b: F.grid_sample(a, b, **kw), lambda a, b: TF.grid_sample(a, b, **kw),
             [x, g], grad, seed)


def _voxel_centres_borders_and_outside(d, h, w, align_corners):
    """(1, *, *, *, 3) grid through the voxel centres, the borders -1/1 and points beyond them
    (the kinks of every padding mode) along each axis."""
    def axis(size):
        centres = np.linspace(-1, 1, size) if align_corners else (np.arange(size) * 2 + 1) / size - 1
        return np.concatenate([centres, [-1.0, 1.0, -1.6, 2.3]])
    gz, gy, gx = np.meshgrid(axis(d), axis(h), axis(w), indexing="ij")
    return np.stack([gx, gy, gz], -1)[None]


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(MODES), padding_mode=st.sampled_from(PADDINGS),
       align_corners=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4),
                       st.integers(1, 4)),
       out=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       scale=st.sampled_from([0.9, 1.5, 3.5]), seed=st.integers(0, 2**16))
def test_grid_sample_3d_matches_torch(mode, padding_mode, align_corners, dtype, shape, out, scale,
                                      seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    g = ((rng.random((shape[0], *out, 3)) * 2 - 1) * scale).astype(dtype)   # partly outside
    _compare_sample(x, g, mode, padding_mode, align_corners, seed)


@pytest.mark.parametrize("mode,padding_mode", list(itertools.product(MODES, PADDINGS)))
def test_grid_sample_3d_on_voxel_centres_borders_and_outside_matches_torch(mode, padding_mode):
    for dtype, align_corners in itertools.product([np.float32, np.float64], [False, True]):
        x = np.random.default_rng(31).standard_normal((1, 2, 2, 3, 4)).astype(dtype)
        g = _voxel_centres_borders_and_outside(2, 3, 4, align_corners).astype(dtype)
        _compare_sample(x, g, mode, padding_mode, align_corners)


def test_grid_sample_3d_default_mode_and_empty_outputs_match_torch():
    x = np.random.default_rng(32).standard_normal((2, 3, 3, 2, 4))
    g = np.random.default_rng(33).uniform(-1.2, 1.2, (2, 2, 3, 1, 3))
    with pytest.warns(UserWarning, match="align_corners"):
        y = F.grid_sample(tg.Tensor(x), tg.Tensor(g))
    np.testing.assert_allclose(_host(y), TF.grid_sample(torch.tensor(x), torch.tensor(g),
                                                        align_corners=False).numpy(), rtol=1e-12)
    for xs, gs in [((1, 1, 2, 2, 2), (1, 0, 1, 1, 3)), ((0, 1, 2, 2, 2), (0, 1, 1, 1, 3)),
                   ((1, 0, 2, 2, 2), (1, 1, 2, 1, 3))]:
        y = F.grid_sample(tg.zeros(*xs), tg.zeros(*gs), align_corners=False)
        assert tuple(y.shape) == tuple(TF.grid_sample(torch.zeros(xs), torch.zeros(gs),
                                                      align_corners=False).shape)


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")   # unit-size grid, both warn
@settings(max_examples=20, deadline=None)
@given(size=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 4),
                      st.integers(1, 4)),
       align_corners=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_affine_grid_3d_matches_torch(size, align_corners, dtype, seed):
    theta = np.random.default_rng(seed).standard_normal((size[0], 3, 4)).astype(dtype)
    _compare(lambda t: F.affine_grid(t, size, align_corners=align_corners),
             lambda t: TF.affine_grid(t, size, align_corners=align_corners), [theta], (0,), seed)


def test_grid_sample_3d_and_affine_grid_gradcheck_and_spatial_transformer_chain():
    rng = np.random.default_rng(34)
    x = rng.standard_normal((1, 2, 2, 3, 3))
    g = (rng.random((1, 2, 2, 1, 3)) * 2 - 1) * 1.4
    for padding_mode, align_corners in itertools.product(PADDINGS, [False, True]):
        gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode=padding_mode,
                                             align_corners=align_corners),
                  [tg.Tensor(x, requires_grad=True), tg.Tensor(g, requires_grad=True)])
    gradcheck(lambda a: F.grid_sample(a, tg.Tensor(g), mode="nearest", align_corners=False),
              [tg.Tensor(x, requires_grad=True)])
    theta = np.eye(3, 4)[None] + rng.standard_normal((1, 3, 4)) * 0.3
    gradcheck(lambda t: F.affine_grid(t, (1, 2, 2, 3, 2), align_corners=False),
              [tg.Tensor(theta, requires_grad=True)])
    gradcheck(lambda t, a: F.grid_sample(a, F.affine_grid(t, (1, 2, 2, 2, 3), align_corners=True),
                                         align_corners=True),
              [tg.Tensor(theta, requires_grad=True), tg.Tensor(x, requires_grad=True)])
    _compare(lambda t, a: F.grid_sample(a, F.affine_grid(t, (1, 2, 3, 4, 3), align_corners=False),
                                        padding_mode="reflection", align_corners=False),
             lambda t, a: TF.grid_sample(a, TF.affine_grid(t, (1, 2, 3, 4, 3), align_corners=False),
                                         padding_mode="reflection", align_corners=False),
             [theta, x], (0, 1))



@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_grid_sample_3d_double_backward_matches_torch(padding_mode):
    rng = np.random.default_rng(35)
    x, g = rng.standard_normal((1, 2, 3, 2, 3)), rng.uniform(-1.3, 1.3, (1, 2, 2, 2, 3))
    a, b = tg.Tensor(x, requires_grad=True), tg.Tensor(g, requires_grad=True)
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(g, requires_grad=True)
    y = F.grid_sample(a, b, padding_mode=padding_mode, align_corners=False)
    ty = TF.grid_sample(ta, tb, padding_mode=padding_mode, align_corners=False)
    ga, gb = tg.autograd.grad((y * y).sum(), [a, b], create_graph=True)
    tga, tgb = torch.autograd.grad((ty * ty).sum(), [ta, tb], create_graph=True)
    for ours, theirs in zip(tg.autograd.grad(ga.sum() + gb.sum(), [a, b]),
                            torch.autograd.grad(tga.sum() + tgb.sum(), [ta, tb])):
        np.testing.assert_allclose(_host(ours), _host(theirs), **TOL[np.float64])

_SHAPE_ERRORS = [
    ((1, 1, 2, 2, 2), (1, 1, 1, 2)),           # 5-D input, 4-D grid of pairs
    ((1, 1, 2, 2, 2), (1, 1, 1, 1, 2)),        # 5-D grid of pairs
    ((1, 1, 2, 2), (1, 1, 1, 1, 3)),           # 4-D input, 5-D grid of triples
    ((1, 1, 2, 2), (1, 1, 1, 1, 2)),           # 4-D input, 5-D grid of pairs
    ((1, 1, 2, 2, 2), (1, 1, 1, 3)),           # 5-D input, 4-D grid of triples
    ((2, 1, 2, 2, 2), (1, 1, 1, 1, 3)),        # batch sizes differ
    ((1, 1, 2, 0, 2), (1, 1, 1, 1, 3)),        # empty spatial dimension
    ((1, 1, 2, 2, 2, 2), (1, 1, 1, 1, 1, 4)),  # 6-D
    ((1, 2, 2), (1, 1, 1)),                    # 3-D
]


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("input_shape,grid_shape", _SHAPE_ERRORS)
def test_grid_sample_shape_and_mode_errors_match_torch(input_shape, grid_shape, mode):
    with pytest.raises(RuntimeError) as theirs:
        TF.grid_sample(torch.zeros(input_shape), torch.zeros(grid_shape), mode=mode,
                       align_corners=False)
    with pytest.raises(RuntimeError) as ours:
        F.grid_sample(tg.zeros(*input_shape), tg.zeros(*grid_shape), mode=mode,
                      align_corners=False)
    assert str(ours.value) == str(theirs.value)


def test_grid_sample_3d_bicubic_dtype_and_affine_grid_errors():
    x, g = tg.zeros(1, 1, 2, 2, 2), tg.zeros(1, 1, 1, 1, 3)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        TF.grid_sample(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 1, 1, 1, 3), mode="bicubic",
                       align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        F.grid_sample(x, g, mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, g, padding_mode="circular", align_corners=False)
    with pytest.raises(RuntimeError):
        TF.grid_sample(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 1, 1, 1, 3, dtype=torch.float64),
                       align_corners=False)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.grid_sample(x, tg.zeros(1, 1, 1, 1, 3, dtype=tg.float64), align_corners=False)
    for theta_shape, size, error in [((1, 2, 3), (1, 1, 2, 2, 2), ValueError),
                                     ((1, 3, 4), (1, 1, 0, 2, 2), ValueError),
                                     ((2, 3, 4), (1, 1, 2, 2, 2), RuntimeError)]:
        with pytest.raises(error):
            TF.affine_grid(torch.zeros(theta_shape), size, align_corners=False)
        with pytest.raises(error):
            F.affine_grid(tg.zeros(*theta_shape), size, align_corners=False)
