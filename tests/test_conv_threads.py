"""The convolution paths on the intra-op threads (conv/columns.py, grid.py, im2col.py): with
``set_num_threads(2)`` and ``threads.MIN_WORK`` (and ``MACS_PER_ELEMENT``) lowered so the small
drawn shapes really split, forward and every gradient equal torch's and the one-thread results,
in float32 and float64, and the split happened (forward and backward each handed parts to the
pool from the conv modules).  The algorithm is forced through the dispatcher's thresholds as
test_conv_algorithms.py does."""
import contextlib
import sys

import numpy as np
import torch
from hypothesis import assume, given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import threads
from tinygrad_cv.nn.functional.conv import dispatch, grid, layout

SETTINGS = settings(max_examples=25, deadline=None)
CONV_FILES = ("functional/conv/",)


@contextlib.contextmanager
def split_setup(num_threads, algorithm, chunk_bytes=None, block_rows=None):
    """``num_threads`` threads, every split taken (MIN_WORK 2), the dispatcher forced onto
    ``algorithm`` and small column chunks / grid blocks (several per thread); yields the list
    of the pool hand-offs (``threads.run`` calls of more than one part) made from the conv
    modules."""
    saved = (tg.get_num_threads(), threads.MIN_WORK, threads.MACS_PER_ELEMENT, threads.run,
             dispatch.SMALL_MAP_MAX_POSITIONS, dispatch.GRID_MIN_TAP_WIDTH,
             layout.THREAD_CHUNK_BYTES, grid.BLOCK_ROWS, layout.IM2COL_MAX_BYTES)
    real_run, splits = threads.run, []

    def counting_run(parts):
        parts = list(parts)
        if len(parts) > 1:
            frame = sys._getframe(1)
            while frame is not None and not any(f in frame.f_code.co_filename.replace("\\", "/")
                                                 for f in CONV_FILES):
                frame = frame.f_back
            if frame is not None:
                splits.append(len(parts))
        return real_run(parts)

    tg.set_num_threads(num_threads)
    threads.MIN_WORK = 2
    threads.MACS_PER_ELEMENT = 1
    threads.run = counting_run
    dispatch.SMALL_MAP_MAX_POSITIONS = 10 ** 9 if algorithm == "columns" else 0
    dispatch.GRID_MIN_TAP_WIDTH = 0 if algorithm == "grid" else 10 ** 9
    if chunk_bytes is not None:
        layout.THREAD_CHUNK_BYTES = chunk_bytes
        if algorithm == "im2col":       # (the grid path needs its grid within this bound)
            layout.IM2COL_MAX_BYTES = chunk_bytes
    if block_rows is not None:
        grid.BLOCK_ROWS = block_rows
    try:
        yield splits
    finally:
        (n, threads.MIN_WORK, threads.MACS_PER_ELEMENT, threads.run,
         dispatch.SMALL_MAP_MAX_POSITIONS, dispatch.GRID_MIN_TAP_WIDTH,
         layout.THREAD_CHUNK_BYTES, grid.BLOCK_ROWS, layout.IM2COL_MAX_BYTES) = saved
        tg.set_num_threads(n)


@st.composite
def conv_cases(draw, algorithm):
    k = draw(st.integers(1, 3))
    stride = 1 if algorithm == "grid" else draw(st.integers(1, 2))
    dilation, pad = draw(st.integers(1, 2)), draw(st.integers(0, 3))
    reach = dilation * (k - 1)
    h = draw(st.integers(max(1, reach + 1 - 2 * pad), 8))
    w = draw(st.integers(max(1, reach + 1 - 2 * pad), 8))
    groups = 1 if algorithm == "columns" else draw(st.integers(1, 2))
    return dict(n=draw(st.integers(2, 5)), c=groups * draw(st.integers(1, 4)),
                o=groups * draw(st.integers(1, 4)), groups=groups, h=h, w=w, k=k, stride=stride,
                dilation=dilation, pad=pad, bias=draw(st.booleans()),
                **dict(zip(("x_grad", "w_grad"),
                           draw(st.sampled_from([(True, True), (True, False), (False, True)])))),
                dtype=draw(st.sampled_from(["float32", "float64"])),
                chunk=draw(st.sampled_from([None, 1, 600])),
                block_rows=draw(st.sampled_from([None, 3, 7])),
                seed=draw(st.integers(0, 2**16)))


def _ours(case, x, weight, bias, dy, algorithm, num_threads):
    """(y, dx, dw, db) of our conv2d and the conv modules' pool hand-offs in forward, backward."""
    kw = dict(stride=case["stride"], padding=case["pad"], dilation=case["dilation"],
              groups=case["groups"])
    with split_setup(num_threads, algorithm, case["chunk"], case["block_rows"]) as splits:
        ox = tg.tensor(x, requires_grad=case["x_grad"])
        ow = tg.tensor(weight, requires_grad=case["w_grad"])
        ob = None if bias is None else tg.tensor(bias, requires_grad=True)
        y = F.conv2d(ox, ow, ob, **kw)
        assert y.creator.cfg[-1] == algorithm          # the path under test was taken
        forward_splits = len(splits)
        y.backward(tg.tensor(dy))
        backward_splits = len(splits) - forward_splits
    grads = tuple(None if t is None or t.grad is None else t.grad.array for t in (ox, ow, ob))
    return (y.array,) + grads, (forward_splits, backward_splits)


def _torch(case, x, weight, bias, dy):
    kw = dict(stride=case["stride"], padding=case["pad"], dilation=case["dilation"],
              groups=case["groups"])
    tx = torch.tensor(x, requires_grad=case["x_grad"])
    tw = torch.tensor(weight, requires_grad=case["w_grad"])
    tb = None if bias is None else torch.tensor(bias, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(dy))
    return tuple(None if t is None or t.grad is None else t.grad.numpy() for t in (tx, tw, tb))


def _check_algorithm(algorithm, case):
    rng = np.random.default_rng(case["seed"])
    n, c, o, k, g = case["n"], case["c"], case["o"], case["k"], case["groups"]
    dtype = case["dtype"]
    ho = (case["h"] + 2 * case["pad"] - case["dilation"] * (k - 1) - 1) // case["stride"] + 1
    wo = (case["w"] + 2 * case["pad"] - case["dilation"] * (k - 1) - 1) // case["stride"] + 1
    x = rng.standard_normal((n, c, case["h"], case["w"])).astype(dtype)
    weight = rng.standard_normal((o, c // g, k, k)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype) if case["bias"] else None
    dy = rng.standard_normal((n, o, ho, wo)).astype(dtype)
    two, (fwd, bwd) = _ours(case, x, weight, bias, dy, algorithm, 2)
    one, _ = _ours(case, x, weight, bias, dy, algorithm, 1)
    assert fwd > 0, "the forward did not split"
    assert bwd > 0, "the backward did not split"
    tx_grad, tw_grad, tb_grad = _torch(case, x, weight, bias, dy)
    ty = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight),
                                    None if bias is None else torch.tensor(bias),
                                    stride=case["stride"], padding=case["pad"],
                                    dilation=case["dilation"], groups=g).numpy()
    want = (ty, tx_grad, tw_grad, tb_grad)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    same = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for name, got, single, ref in zip(("y", "dx", "dw", "db"), two, one, want):
        assert (got is None) == (ref is None), name
        if ref is None:
            continue
        assert got.dtype == np.dtype(dtype), name
        np.testing.assert_allclose(got, ref, err_msg=name, **tol)
        np.testing.assert_allclose(got, single, err_msg=name, **same)


@SETTINGS
@given(conv_cases("columns"))
def test_column_path_on_two_threads_matches_torch_and_one_thread(case):
    _check_algorithm("columns", case)


@SETTINGS
@given(conv_cases("grid"))
def test_grid_path_on_two_threads_matches_torch_and_one_thread(case):
    _check_algorithm("grid", case)


@SETTINGS
@given(conv_cases("im2col"))
def test_im2col_path_on_two_threads_matches_torch_and_one_thread(case):
    """Forward, weight gradient (kept or rebuilt columns) and both input-gradient methods
    (col2im when O > C, else the correlation of the dilated dy)."""
    _check_algorithm("im2col", case)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3),
       st.integers(1, 2), st.integers(0, 1), st.integers(1, 6), st.sampled_from(["grid", "im2col"]),
       st.sampled_from(["float32", "float64"]), st.integers(0, 2**16))
def test_transposed_conv_on_two_threads_matches_torch(n, c, o, k, stride, pad, hw, algorithm,
                                                      dtype, seed):
    """conv_transpose2d (its forward a convolution's input gradient, its backward a forward and
    a weight gradient) split over two threads, against torch."""
    assume(pad <= k - 1 and (hw - 1) * stride - 2 * pad + k > 0)
    assume(algorithm == "im2col" or stride == 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    weight = rng.standard_normal((c, o, k, k)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    with split_setup(2, algorithm) as splits:
        ox, ow, ob = (tg.tensor(a, requires_grad=True) for a in (x, weight, bias))
        y = F.conv_transpose2d(ox, ow, ob, stride=stride, padding=pad)
        dy = rng.standard_normal(y.shape).astype(dtype)
        y.backward(tg.tensor(dy))
    assert splits
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=stride, padding=pad)
    ty.backward(torch.tensor(dy))
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    for ours, theirs in ((y.array, ty.detach()), (ox.grad.array, tx.grad), (ow.grad.array, tw.grad),
                         (ob.grad.array, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), **tol)
