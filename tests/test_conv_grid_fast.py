"""The fast paths of the stride-1 grid convolution (conv/grid.py) against torch: the
shared-padding grid layout with its phase-major GEMM results, for asymmetric paddings,
dilations, groups and both dy-grid layouts; and backend.matmul_accumulate (SciPy's BLAS with
beta = 1 and the NumPy fallback, used by the column path's weight gradient).  float32 and
float64 on hypothesis-drawn shapes."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend
from tinygrad_cv.nn.functional.conv import dispatch, grid

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


# ---- backend.matmul_accumulate ------------------------------------------------------------------
def _matrix(rng, shape, dtype, layout):
    """A (rows, cols) matrix that is C-contiguous, Fortran-contiguous or a strided slice."""
    if layout == "C":
        return rng.standard_normal(shape).astype(dtype)
    if layout == "F":
        return np.asfortranarray(rng.standard_normal(shape).astype(dtype))
    return rng.standard_normal((shape[0] + 2, 2 * shape[1] + 1)).astype(dtype)[1:shape[0] + 1, :2 * shape[1]:2]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 7), st.integers(0, 7), st.integers(0, 7), st.sampled_from(DTYPES),
       st.sampled_from("CFS"), st.sampled_from("CFS"), st.sampled_from("CS"), st.booleans(),
       st.integers(0, 2**16))
def test_matmul_accumulate_adds_the_product_in_place(m, k, n, dtype, la, lb, lo, scipy_on, seed):
    """out += a @ b for any operand layout (C, Fortran, strided), empty dimensions, float32 and
    float64, with SciPy's BLAS and with the NumPy fallback: the same array is returned and
    holds the sum of the previous content and the float64 product."""
    rng = np.random.default_rng(seed)
    a, b = _matrix(rng, (m, k), dtype, la), _matrix(rng, (k, n), dtype, lb)
    out = _matrix(rng, (m, n), dtype, lo)
    expected = out.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64)
    saved = backend._blas_gemm
    backend._blas_gemm = None if scipy_on else {}
    try:
        got = backend.matmul_accumulate(a, b, out)
    finally:
        backend._blas_gemm = saved
    assert got is out
    np.testing.assert_allclose(out, expected, **TOL[dtype])


def test_matmul_accumulate_uses_blas_in_place_without_copies(monkeypatch):
    """The SciPy path writes into out's own memory (no f2py copy of a C-contiguous out) and
    takes the BLAS route for transposed (Fortran-ordered) operands too (SciPy's BLAS is used
    while BLAS runs one thread per call: the intra-op threads exist)."""
    pytest.importorskip("scipy")
    backend._cpu_gemms()                       # SciPy's BLAS loaded (and limited) first
    monkeypatch.setitem(backend._blas_limit, "limiter", object())
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32).T   # Fortran-ordered (5, 4)
    out = np.ones((6, 4), np.float32)
    before = out.__array_interface__["data"][0]
    calls = []
    saved = backend._blas_gemm
    real = backend._cpu_gemms()[np.dtype(np.float32)]
    backend._blas_gemm = {np.dtype(np.float32): lambda *args, **kw: calls.append(1) or real(*args, **kw)}
    try:
        backend.matmul_accumulate(a, b, out)
    finally:
        backend._blas_gemm = saved
    assert calls and out.__array_interface__["data"][0] == before
    np.testing.assert_allclose(out, 1 + a @ b, rtol=1e-5, atol=1e-5)


# ---- the grid path against torch ----------------------------------------------------------------
grid_geometries = st.fixed_dictionaries({
    "n": st.integers(1, 3), "groups": st.integers(1, 2), "cin_g": st.integers(1, 3),
    "cout_g": st.integers(1, 3), "kh": st.integers(1, 3), "kw": st.integers(1, 4),
    "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
    "pads": st.tuples(*[st.integers(0, 3)] * 4), "h": st.integers(1, 7), "w": st.integers(1, 7),
    "seed": st.integers(0, 2**16)})


def _torch_conv(x, weight, dy, pads, dilation, groups):
    """y, dL/dw, dL/dx by torch (the input zero-padded by (top, bottom, left, right) first)."""
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    top, bottom, left, right = pads
    ty = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, (left, right, top, bottom)), tw,
                                    dilation=dilation, groups=groups)
    ty.backward(torch.tensor(dy))
    return ty.detach().numpy(), tw.grad.numpy(), tx.grad.numpy()


def _grid_problem(case, dtype):
    """x, weight and dy of a drawn grid geometry (skipped when the output would be empty),
    their padded size and torch's (y, dw, dx)."""
    g, dil, pads = case["groups"], case["dilation"], case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    ho, wo = hp - dil[0] * (kh - 1), wp - dil[1] * (kw - 1)
    assume(ho > 0 and wo > 0)
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], g * case["cin_g"], h, w)).astype(dtype)
    weight = rng.standard_normal((g * case["cout_g"], case["cin_g"], kh, kw)).astype(dtype)
    dy = rng.standard_normal((case["n"], g * case["cout_g"], ho, wo)).astype(dtype)
    return x, weight, dy, (hp, wp), _torch_conv(x, weight, dy, pads, dil, g)


@settings(max_examples=20, deadline=None)
@given(grid_geometries, st.sampled_from(DTYPES), st.booleans(), st.sampled_from([1, 3, 7, 2048]))
def test_grid_functions_match_torch_on_both_layouts(case, dtype, compact, block_rows):
    """grid_conv_forward, grid_weight_grad and grid_input_grad against torch for asymmetric
    paddings (wider than the kernel's reach too), dilations, groups and kernels, with the dy grid
    in the shared-padding layout (the forward's pads known) or in per-image blocks (only the
    padded size known, as dispatch.input_grad calls it); the GEMMs in row blocks of any size."""
    g, dil, pads = case["groups"], case["dilation"], case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    x, weight, dy, (hp, wp), ref = _grid_problem(case, dtype)
    ho, wo = dy.shape[2:]
    dyg = grid.grid_output(dy, g, (hp, wp), (kh, kw), dil, pads if compact else None)
    if compact:
        run = kw if dil[1] == 1 else 1
        assert dyg.pitch == -(-max(w + max(pads[2], pads[3]), wo) // run) * run
        assert dyg.image_rows == max(h + max(pads[0], pads[1]), ho)
    saved = grid.BLOCK_ROWS
    grid.BLOCK_ROWS = block_rows
    try:
        ours = (grid.grid_conv_forward(x, weight, pads, dil, g),
                grid.grid_weight_grad(x, dyg, weight.shape, pads, dil),
                grid.grid_input_grad(dyg, weight, g, pads, (h, w), case["n"], dil))
    finally:
        grid.BLOCK_ROWS = saved
    for o, r in zip(ours, ref):
        assert o.shape == r.shape and o.dtype == dtype and o.flags.c_contiguous
        np.testing.assert_allclose(o, r, **TOL[dtype])


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.sampled_from([0, 1, 2, "same"]), st.integers(1, 2),
       st.integers(1, 4), st.integers(2, 12), st.sampled_from(DTYPES), st.integers(0, 2**16))
def test_conv2d_layer_on_the_grid_matches_torch(k, dilation, padding, groups, cpg, size, dtype, seed):
    """F.conv2d forced onto the grid path (any channel count): output and the input, weight
    and bias gradients against torch, float32 and float64."""
    rng = np.random.default_rng(seed)
    c, o = groups * cpg, groups * (cpg + 1)
    assume(padding == "same" or size + 2 * padding > dilation * (k - 1))
    x = rng.standard_normal((2, c, size, size + 1)).astype(dtype)
    weight = rng.standard_normal((o, cpg, k, k)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    ty = torch.nn.functional.conv2d(*ts, padding=padding, dilation=dilation, groups=groups)
    dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(dy))
    saved = dispatch.GRID_MIN_TAP_WIDTH
    dispatch.GRID_MIN_TAP_WIDTH = 1
    try:
        ours = [tg.Tensor(a, requires_grad=True) for a in (x, weight, bias)]
        oy = F.conv2d(*ours, padding=padding, dilation=dilation, groups=groups)
        if ty.shape[2] * ty.shape[3] > dispatch.SMALL_MAP_MAX_POSITIONS or groups > 1:
            assert oy.creator.cfg[-1] == "grid"
        oy.backward(tg.Tensor(dy))
    finally:
        dispatch.GRID_MIN_TAP_WIDTH = saved
    np.testing.assert_allclose(oy.array, ty.detach().numpy(), **TOL[dtype])
    for mine, theirs in zip(ours, ts):
        assert mine.grad.array.dtype == dtype
        np.testing.assert_allclose(mine.grad.array, theirs.grad.numpy(), **TOL[dtype])


def test_benchmark_shapes_match_torch_in_float32():
    """The two benchmark convolutions (3x3 32->32 on 16x16, 32->64 on 14x14), forward and
    backward through the layer, against torch in float32."""
    rng = np.random.default_rng(0)
    for n, c, o, size in [(2, 32, 32, 16), (2, 32, 64, 14)]:
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        weight = (rng.standard_normal((o, c, 3, 3)) / 17).astype(np.float32)
        ts = [torch.tensor(a, requires_grad=True) for a in (x, weight)]
        ty = torch.nn.functional.conv2d(*ts, padding=1)
        dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        ty.backward(torch.tensor(dy))
        ours = [tg.Tensor(a, requires_grad=True) for a in (x, weight)]
        oy = F.conv2d(*ours, padding=1)
        assert oy.creator.cfg[-1] == "grid"
        oy.backward(tg.Tensor(dy))
        np.testing.assert_allclose(oy.array, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        for mine, theirs in zip(ours, ts):
            np.testing.assert_allclose(mine.grad.array, theirs.grad.numpy(), rtol=1e-4, atol=2e-3)


@settings(max_examples=15, deadline=None)
@given(grid_geometries, st.sampled_from(DTYPES))
def test_grid_path_reads_nothing_it_did_not_write(case, dtype):
    """Every work buffer and output of the grid path comes from the buffer pool uninitialised:
    with each one handed out full of NaN (a reused buffer's stale contents), the forward and
    both gradients still equal torch's, so the zero gaps of the grids are written and no
    position outside the computed rows is read."""
    g, dil, pads = case["groups"], case["dilation"], case["pads"]
    h, w, kh, kw = case["h"], case["w"], case["kh"], case["kw"]
    x, weight, dy, (hp, wp), ref = _grid_problem(case, dtype)
    real_empty = grid.buffers.empty
    grid.buffers.empty = lambda shape, dt, like: np.full(shape, np.nan, dtype=dt)
    try:
        dyg = grid.grid_output(dy, g, (hp, wp), (kh, kw), dil, pads)
        ours = (grid.grid_conv_forward(x, weight, pads, dil, g),
                grid.grid_weight_grad(x, dyg, weight.shape, pads, dil),
                grid.grid_input_grad(dyg, weight, g, pads, (h, w), case["n"], dil))
    finally:
        grid.buffers.empty = real_empty
    for o, r in zip(ours, ref):
        np.testing.assert_allclose(o, r, **TOL[dtype])
