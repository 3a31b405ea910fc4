"""Elementwise and normalisation work split over the intra-op threads (``threads.py``): the
split results against torch and against one thread, forward and backward, float32 and float64,
contiguous and channels-last inputs.  ``threads.MIN_WORK`` is lowered so that the small drawn
shapes split, and every test checks that a split happened."""
import contextlib

import numpy as np
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import threads
from tinygrad_cv.ops import elementwise

EXAMPLES = settings(max_examples=12, deadline=None)
DTYPES = st.sampled_from([np.float32, np.float64])


@contextlib.contextmanager
def _threads(n, split_small=True):
    """``n`` intra-op threads, with tiny work split (MIN_WORK lowered); yields the list of
    part counts of every ``threads.run`` call made meanwhile."""
    saved = (tg.get_num_threads(), threads.MIN_WORK, threads.run,
             elementwise._BINARY_SPLIT_MIN, elementwise.PASSES_PER_WORK)
    calls, real_run = [], threads.run

    def spy(parts):
        parts = list(parts)
        calls.append(len(parts))
        real_run(parts)

    tg.set_num_threads(n)
    threads.MIN_WORK = 2 if split_small else saved[1]
    elementwise._BINARY_SPLIT_MIN = 1
    elementwise.PASSES_PER_WORK = 1
    threads.run = spy
    try:
        yield calls
    finally:
        tg.set_num_threads(saved[0])
        (threads.MIN_WORK, threads.run, elementwise._BINARY_SPLIT_MIN,
         elementwise.PASSES_PER_WORK) = saved[1:]


def _split_and_serial(compute, splits=1):
    """(results on two threads, results on one thread); asserts that the two-thread run split
    at least ``splits`` times (a forward and a backward pass: 2)."""
    with _threads(2) as calls:
        split = compute()
    assert sum(parts == 2 for parts in calls) >= splits, f"split {calls}, expected {splits}"
    with _threads(1) as calls:
        serial = compute()
    assert not calls or max(calls) <= 1
    return split, serial


def _draw_input(data, shape, dtype, label="x"):
    """A random array of ``shape``, channels-last in memory when drawn (4-D)."""
    seed = data.draw(st.integers(0, 2 ** 16), label=f"{label} seed")
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if len(shape) == 4 and data.draw(st.booleans(), label=f"{label} channels-last"):
        a = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return a


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


def _assert_all_close(ours, theirs, dtype):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **_tol(dtype))


def _assert_all_equal(split, serial):
    for a, b in zip(split, serial):
        np.testing.assert_array_equal(a, b)


def _assert_rounding_close(split, serial, magnitude, count):
    """Equal up to the rounding of sums of ``count`` terms taken in another order: each is
    within (count - 1) units of rounding of ``magnitude``, the sum of the terms' absolute
    values, of the exact sum (a sum that cancels keeps the absolute error of its terms, not
    a relative one)."""
    unit = np.finfo(split.dtype).eps
    bound = 2 * max(count - 1, 1) * unit * magnitude
    assert np.all(np.abs(split - serial) <= bound), (split, serial)


def _sum_to(a, shape):
    """a summed over the axes where ``shape`` (same rank) has 1."""
    axes = tuple(i for i, (m, k) in enumerate(zip(a.shape, shape)) if k == 1 and m != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


def _leaf(a):
    return tg.Tensor.wrap(a).requires_grad_()


def _np(t):
    """A copy of the Tensor's values (reused buffers may be overwritten later)."""
    return np.array(t.detach().numpy())


def _torch_leaf(a):
    return torch.from_numpy(a).requires_grad_()


# ---- group norm ---------------------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.integers(2, 5), st.sampled_from([1, 2, 4]), st.integers(1, 3),
       st.integers(2, 4), st.integers(0, 4), DTYPES, st.booleans())
def test_group_norm_split_over_samples(data, n, groups, per_group, h, w, dtype, affine):
    c = groups * per_group
    shape = (n, c, h, w) if w else (n, c, h)          # w = 0: a 3-D input
    x = _draw_input(data, shape, dtype) * 3 + 5
    dy = _draw_input(data, shape, dtype, "dy")
    weight = np.random.default_rng(1).standard_normal(c).astype(dtype) if affine else None
    bias = np.random.default_rng(2).standard_normal(c).astype(dtype) if affine else None

    def compute():
        xt = _leaf(x)
        params = [None if p is None else _leaf(p) for p in (weight, bias)]
        y = F.group_norm(xt, groups, *params)
        y.backward(tg.Tensor.wrap(dy))
        return [_np(y), _np(xt.grad)] + [_np(p.grad) for p in params if p is not None]

    split, serial = _split_and_serial(compute, splits=2)
    _assert_all_equal(split, serial)
    xt = _torch_leaf(x)
    params = [None if p is None else _torch_leaf(p) for p in (weight, bias)]
    y = torch.nn.functional.group_norm(xt, groups, *params)
    y.backward(torch.from_numpy(dy))
    theirs = [y.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in params
                                                      if p is not None]
    if dtype == np.float32 and per_group * h * max(w, 1) <= 4:
        # a group of 2-4 float32 values around 5: both frameworks lose digits of the centred
        # values to cancellation, in different orders.  dx = r * (dy - mean(dy) - xhat *
        # mean(dy xhat)) is a difference of terms of size r |dy| (r = 1 / std) that nearly
        # cancel with so few values, so it is compared to within 64 eps of that size (a drawn
        # case: both frameworks 4e-5 to 9e-5 from the float64 value at r = 21; 2.1e-5 at
        # 2.4e-3 in another)
        var = x.astype(np.float64).reshape(n, groups, -1).var(axis=2).min()
        gamma = 1.0 if weight is None else max(1.0, float(np.abs(weight).max()))
        atol = max(5e-5, 64 * 1.2e-7 * float(np.abs(dy).max()) * gamma / np.sqrt(var + 1e-5))
        for a, b in zip(split, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=atol)
        return
    _assert_all_close(split, theirs, dtype)


# ---- SiLU, ReLU, binary ops ---------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.integers(2, 6), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4),
       DTYPES, st.sampled_from(["silu", "relu"]))
def test_activations_split_over_samples(data, n, c, h, w, dtype, name):
    x = _draw_input(data, (n, c, h, w), dtype) * 4
    if name == "silu":
        x.reshape(-1)[:1] = -200.0          # exp(-x) overflows: y = -0, dy/dx = 0
    dy = _draw_input(data, (n, c, h, w), dtype, "dy")

    def compute():
        xt = _leaf(x)
        y = getattr(F, name)(xt)
        (y * tg.Tensor.wrap(dy)).sum().backward()
        return [_np(y), _np(xt.grad), np.array(y.array.strides)]

    split, serial = _split_and_serial(compute, splits=2)
    _assert_all_equal(split, serial)
    assert tuple(split[2]) == tuple(np.empty_like(x).strides)     # the input's memory order
    xt = _torch_leaf(x)
    y = getattr(torch.nn.functional, name)(xt)
    y.backward(torch.from_numpy(dy))
    _assert_all_close(split[:2], [y.detach().numpy(), xt.grad.numpy()], dtype)


@EXAMPLES
@given(st.data(), st.integers(2, 6), st.integers(1, 5), st.integers(1, 4), DTYPES,
       st.sampled_from(["add", "sub", "mul"]), st.sampled_from(["same", "channel", "row"]))
def test_binary_ops_split_over_samples(data, n, c, hw, dtype, op, other):
    a = _draw_input(data, (n, c, hw, hw), dtype, "a")
    b_shape = {"same": (n, c, hw, hw), "channel": (n, c, 1, 1), "row": (1, c, hw, hw)}[other]
    b = _draw_input(data, b_shape, dtype, "b")
    dy = _draw_input(data, (n, c, hw, hw), dtype, "dy")
    symbol = {"add": "__add__", "sub": "__sub__", "mul": "__mul__"}[op]

    def compute():
        at, bt = _leaf(a), _leaf(b)
        y = getattr(at, symbol)(bt)
        y.backward(tg.Tensor.wrap(dy))
        return [_np(y), _np(at.grad), _np(bt.grad)]

    split, serial = _split_and_serial(compute, splits=3 if op == "mul" else 1)
    # b's gradient is a sum over the broadcast axes of a result whose memory order (a's when
    # split, NumPy's choice otherwise) may differ
    _assert_all_equal(split[:2], serial[:2])
    terms = np.abs(dy) * (np.abs(a) if op == "mul" else 1)
    _assert_rounding_close(split[2], serial[2], _sum_to(terms, b_shape),
                           terms.size // int(np.prod(b_shape)))
    at, bt = _torch_leaf(a), _torch_leaf(b)
    y = getattr(at, symbol)(bt)
    y.backward(torch.from_numpy(dy))
    _assert_all_close(split, [y.detach().numpy(), at.grad.numpy(), bt.grad.numpy()], dtype)


# ---- batch norm ---------------------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.integers(2, 6), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       DTYPES, st.booleans(), st.booleans())
def test_batch_norm_split_over_samples(data, n, c, h, w, dtype, training, affine):
    x = _draw_input(data, (n, c, h, w), dtype) * 2 + 30       # |mean| >> std
    dy = _draw_input(data, (n, c, h, w), dtype, "dy")
    rng = np.random.default_rng(3)
    weight, bias = (rng.standard_normal(c).astype(dtype) for _ in range(2))
    stats = rng.uniform(0.5, 2, c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)

    def compute():
        layer = tg.nn.BatchNorm2d(c, affine=affine, dtype=dtype)
        layer.running_mean.array[...] = stats[0]
        layer.running_var.array[...] = stats[1]
        if affine:
            layer.weight.array[...] = weight
            layer.bias.array[...] = bias
        layer.train(training)
        xt = _leaf(x)
        y = layer(xt)
        y.backward(tg.Tensor.wrap(dy))
        grads = [_np(p.grad) for p in (layer.weight, layer.bias)] if affine else []
        return [_np(y), _np(xt.grad), _np(layer.running_mean), _np(layer.running_var)] + grads

    split, serial = _split_and_serial(compute, splits=5 if training else 2)
    _assert_all_equal(split, serial)
    theirs = torch.nn.BatchNorm2d(c, affine=affine, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        theirs.running_mean.copy_(torch.from_numpy(stats[0]))
        theirs.running_var.copy_(torch.from_numpy(stats[1]))
        if affine:
            theirs.weight.copy_(torch.from_numpy(weight))
            theirs.bias.copy_(torch.from_numpy(bias))
    theirs.train(training)
    # torch's own batch norm backward misorders dx for a channels-last input whose W is 1
    # (strides (4, 1, 2, 1)), so its answer comes from the same values in C order
    xt = _torch_leaf(np.ascontiguousarray(x))
    y = theirs(xt)
    y.backward(torch.from_numpy(dy))
    grads = [p.grad.numpy() for p in (theirs.weight, theirs.bias)] if affine else []
    _assert_all_close(split, [y.detach().numpy(), xt.grad.numpy(), theirs.running_mean.numpy(),
                              theirs.running_var.numpy()] + grads, dtype)


# ---- ReLU -> 2x2 max pool -----------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.integers(2, 5), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       DTYPES, st.booleans(), st.sampled_from([1, 3, 4096]))
def test_relu_max_pool_split_over_window_rows(data, n, c, h2, w2, dtype, relu, chunk_rows):
    x = np.round(_draw_input(data, (n, c, 2 * h2, 2 * w2), dtype) * 2) / 2     # ties and zeros
    dy = _draw_input(data, (n, c, h2, w2), dtype, "dy")
    pooling = tg.nn.functional.pooling
    saved_chunk = pooling.PAIR_CHUNK_ROWS
    pooling.PAIR_CHUNK_ROWS = chunk_rows

    def compute():
        xt = _leaf(x)
        y = F.max_pool2d(F.relu(xt) if relu else xt, 2)
        y.backward(tg.Tensor.wrap(dy))
        return [_np(y), _np(xt.grad)]

    try:
        split, serial = _split_and_serial(compute, splits=2)
    finally:
        pooling.PAIR_CHUNK_ROWS = saved_chunk
    _assert_all_equal(split, serial)
    xt = _torch_leaf(x)
    y = torch.nn.functional.max_pool2d(torch.relu(xt) if relu else xt, 2)
    y.backward(torch.from_numpy(dy))
    _assert_all_equal(split, [y.detach().numpy(), xt.grad.numpy()])


# ---- optimizer steps ----------------------------------------------------------------------------
@EXAMPLES
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 5)), min_size=1, max_size=5),
       st.integers(0, 5), DTYPES,
       st.sampled_from(["adamw", "adam_amsgrad_l2", "sgd_nesterov", "sgd_dampened_max"]))
def test_optimizer_steps_split_over_the_parameters_elements(shapes, strided, dtype, kind):
    rng = np.random.default_rng(len(shapes) * 7 + strided)
    values = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    if strided < len(values):
        values[strided] = values[strided].T        # a strided parameter: updated whole
    values.append(rng.standard_normal(10).astype(dtype))    # the last part always has a piece
    grads = [[rng.standard_normal(v.shape).astype(dtype) for v in values] for _ in range(3)]
    make = {"adamw": lambda o, ps: o.AdamW(ps, lr=0.1, weight_decay=0.1),
            "adam_amsgrad_l2": lambda o, ps: o.Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True),
            "sgd_nesterov": lambda o, ps: o.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                                weight_decay=0.1),
            "sgd_dampened_max": lambda o, ps: o.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3,
                                                    maximize=True)}[kind]

    def compute():
        params = [tg.Tensor.wrap(v.copy(order="K")).requires_grad_() for v in values]
        opt = make(tg.optim, params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = tg.Tensor.wrap(g.copy())
            opt.step()
        return [_np(p) for p in params]

    split, serial = _split_and_serial(compute, splits=len(grads))
    _assert_all_equal(split, serial)
    params = [torch.from_numpy(v.copy(order="K")).requires_grad_() for v in values]
    opt = make(torch.optim, params)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
    _assert_all_close(split, [p.detach().numpy() for p in params], dtype)


# ---- layer norm ---------------------------------------------------------------------------------
@EXAMPLES
@given(st.data(), st.integers(2, 5), st.integers(1, 4), st.integers(3, 9), DTYPES,
       st.sampled_from(["affine", "no bias", "none"]))
def test_layer_norm_split_over_rows(data, n, t, m, dtype, params):
    x = _draw_input(data, (n, t, m), dtype) * 3 - 10
    dy = _draw_input(data, (n, t, m), dtype, "dy")
    rng = np.random.default_rng(4)
    weight = rng.standard_normal(m).astype(dtype) if params != "none" else None
    bias = rng.standard_normal(m).astype(dtype) if params == "affine" else None

    def compute():
        xt = _leaf(x)
        ps = [None if p is None else _leaf(p) for p in (weight, bias)]
        y = F.layer_norm(xt, (m,), *ps)
        y.backward(tg.Tensor.wrap(dy))
        return [_np(y), _np(xt.grad)] + [_np(p.grad) for p in ps if p is not None]

    split, serial = _split_and_serial(compute, splits=2)
    # the row sums are GEMVs, whose rounding depends on the number of rows BLAS gets, and
    # dgamma/dbeta add the parts' partial sums: equal up to that rounding (dx's cancelling terms
    # are of the order of |dy| / std, about 1 here)
    for a, b in zip(split, serial):
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, b, **tol)
    xt = _torch_leaf(x)
    ps = [None if p is None else _torch_leaf(p) for p in (weight, bias)]
    y = torch.nn.functional.layer_norm(xt, (m,), *ps)
    y.backward(torch.from_numpy(dy))
    _assert_all_close(split, [y.detach().numpy(), xt.grad.numpy()]
                      + [p.grad.numpy() for p in ps if p is not None], dtype)
