"""F.fractional_max_pool3d(_with_indices) and nn.FractionalMaxPool3d against torch: values,
indices and gradients for the same ``_random_samples``, ties and NaNs, unbatched input,
float64 gradcheck, argument errors and the module's repr."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck


def _host(t):
    return tg.backend.to_numpy(t.detach().array)


def _both(x, samples, kernel, output_size, output_ratio, module):
    """(values, indices, input gradient) from tinygrad_cv and from torch for one random
    output gradient."""
    results = []
    up = np.random.default_rng(1).standard_normal(
        TF.fractional_max_pool3d(torch.tensor(x), kernel, output_size, output_ratio,
                                 _random_samples=torch.tensor(samples)).shape).astype(x.dtype)
    for lib, fn, layer in ((tg, F, nn), (torch, TF, torch.nn)):
        t = lib.tensor(x, requires_grad=True)
        s = lib.tensor(samples)
        if module:
            v, i = layer.FractionalMaxPool3d(kernel, output_size, output_ratio, True, s)(t)
        else:
            v, i = fn.fractional_max_pool3d_with_indices(t, kernel, output_size, output_ratio,
                                                         _random_samples=s)
        v.backward(lib.tensor(up))
        if lib is tg:
            results.append((_host(v), _host(i), _host(t.grad)))
        else:
            results.append((v.detach().numpy(), i.numpy(), t.grad.numpy()))
    return results


@st.composite
def _cases(draw):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    out = tuple(draw(st.integers(1, 3)) for _ in range(3))
    sizes = tuple(o + k + draw(st.integers(0, 3)) for o, k in zip(out, kernel))
    batch, channels = draw(st.integers(0, 2)), draw(st.integers(1, 2))   # batch 0: unbatched
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    ties = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    ratio = None
    if draw(st.booleans()):                    # the output_ratio form, as one number or three
        ratio = tuple(draw(st.sampled_from([0.25, 0.4, 0.5, 0.6])) for _ in range(3))
        out = tuple(int(s * r) for s, r in zip(sizes, ratio))
        if draw(st.booleans()):
            ratio, out = ratio[0], tuple(int(s * ratio[0]) for s in sizes)
        kernel = tuple(max(1, min(k, s - o)) for k, s, o in zip(kernel, sizes, out))
        out = tuple(max(o, 1) for o in out)
        sizes = tuple(max(s, o + k) for s, o, k in zip(sizes, out, kernel))
        out = None if all(int(s * r) == o for s, r, o in zip(
            sizes, ratio if isinstance(ratio, tuple) else (ratio,) * 3, out)) else out
        if out is not None:
            ratio = None
    return kernel, out, ratio, sizes, batch, channels, dtype, ties, seed, draw(st.booleans())


@settings(max_examples=40, deadline=None)
@given(_cases())
def test_values_indices_and_gradients_match_torch(case):
    kernel, out, ratio, sizes, batch, channels, dtype, ties, seed, module = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(((batch,) if batch else ()) + (channels,) + sizes).astype(dtype)
    if ties:
        x = np.round(x)                        # many equal maxima: the first one wins
    samples = rng.random((max(batch, 1), channels, 3)).astype(dtype)
    (v, i, g), (tv, ti, tgrad) = _both(x, samples, kernel, out, ratio, module)
    assert v.dtype == dtype and i.dtype == np.int64 and v.shape == tv.shape
    np.testing.assert_array_equal(v, tv)
    np.testing.assert_array_equal(i, ti)
    np.testing.assert_allclose(g, tgrad, rtol=1e-6, atol=1e-6)


def test_windows_vary_with_samples_and_extra_sample_rows_are_ignored():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 11, 10, 12)).astype(np.float32)
    samples = rng.random((3, 2, 3)).astype(np.float32)         # more rows than the batch: torch
    (v, i, _), (tv, ti, _) = _both(x, samples, (2, 3, 2), (4, 3, 5), None, False)
    np.testing.assert_array_equal(v, tv)
    np.testing.assert_array_equal(i, ti)
    tg.manual_seed(0)
    a = F.fractional_max_pool3d(tg.tensor(x), 2, output_size=4)   # alpha = 7 / 3: windows vary
    b = F.fractional_max_pool3d(tg.tensor(x), 2, output_size=4)
    assert tuple(a.shape) == (2, 2, 4, 4, 4) and not np.array_equal(_host(a), _host(b))


def test_empty_batch_and_output_size_0_give_empty_outputs_as_torch():
    for shape, size, ratio in [((0, 2, 6, 6, 6), 2, None), ((0, 2, 6, 6), 2, None),
                               ((2, 3, 6, 6, 6), (2, 0, 3), None), ((2, 3, 6, 6), (0, 3), None),
                               ((1, 1, 6, 6, 6), None, 0.1)]:
        name = f"fractional_max_pool{len(shape) - 2}d_with_indices"
        x = tg.zeros(*shape, requires_grad=True)
        values, indices = getattr(F, name)(x, 2, size, ratio)
        expected = getattr(TF, name)(torch.zeros(shape), 2, size, ratio)[0].shape
        assert tuple(values.shape) == tuple(indices.shape) == tuple(expected)
        values.sum().backward()
        assert tuple(x.grad.shape) == shape and not _host(x.grad).any()


def test_nan_windows_pick_the_last_nan_as_torch():
    for shape in [(1, 1, 4, 4, 4), (1, 1, 4, 4)]:
        x = np.zeros(shape, np.float32)
        x[(0, 0) + (1,) * (len(shape) - 2)] = np.nan
        x[(0, 0) + (1,) + (2,) * (len(shape) - 3)] = np.nan
        samples = np.full((1, 1, len(shape) - 2), 0.3, np.float32)
        name = f"fractional_max_pool{len(shape) - 2}d_with_indices"
        ours = getattr(F, name)(tg.tensor(x), 3, 1, _random_samples=tg.tensor(samples))
        theirs = getattr(TF, name)(torch.tensor(x), 3, 1, _random_samples=torch.tensor(samples))
        np.testing.assert_array_equal(_host(ours[1]), theirs[1].numpy())
        assert np.isnan(_host(ours[0])).all()


def test_gradcheck_float64():
    x = np.random.default_rng(3).permutation(4 * 5 * 4 * 5).reshape(4, 5, 4, 5) / 7.0
    samples = tg.tensor(np.random.default_rng(4).random((1, 4, 3)))
    gradcheck(lambda t: F.fractional_max_pool3d(t, (2, 1, 2), (2, 3, 2),
                                                _random_samples=samples),
              [tg.tensor(x, requires_grad=True)])


_BAD_CALLS = [
    ((1, 1, 4, 4, 4), dict(kernel_size=2, output_size=3), RuntimeError, "pool time 2 too large"),
    ((1, 1, 5, 4, 5), dict(kernel_size=2, output_size=3), RuntimeError, "pool height 2"),
    ((1, 1, 5, 5, 4), dict(kernel_size=2, output_size=3), RuntimeError, "pool width 2"),
    ((1, 1, 6, 6, 6), dict(kernel_size=(2, 3, 4), output_size=3), RuntimeError, "pool width 4"),
    ((1, 1, 6, 6, 6), dict(kernel_size=2), ValueError, "either an output_size or"),
    ((1, 1, 6, 6, 6), dict(kernel_size=(2, 2), output_size=3), RuntimeError, "kernel_size"),
    ((1, 1, 6, 6, 6), dict(kernel_size=2, output_size=(3, 3)), RuntimeError, "output_size"),
    ((6, 6, 6), dict(kernel_size=2, output_size=2, _random_samples=((1, 6, 3), "f4")),
     RuntimeError, "4D or 5D"),
    ((1, 0, 6, 6, 6), dict(kernel_size=2, output_size=2), RuntimeError, "non-zero size"),
    ((2, 1, 6, 6, 6), dict(kernel_size=2, output_size=2, _random_samples=((1, 1, 3), "f4")),
     RuntimeError, "_random_samples of shape"),
    ((1, 2, 6, 6, 6), dict(kernel_size=2, output_size=2, _random_samples=((1, 2, 2), "f4")),
     RuntimeError, "_random_samples of shape"),
    ((1, 2, 6, 6, 6), dict(kernel_size=2, output_size=2, _random_samples=((2, 3), "f4")),
     RuntimeError, "3 dimensions"),
    ((1, 2, 6, 6, 6), dict(kernel_size=2, output_size=2, _random_samples=((1, 2, 3), "f8")),
     RuntimeError, "same dtype"),
]


@pytest.mark.parametrize("shape, kwargs, error, message", _BAD_CALLS)
def test_argument_errors_as_torch(shape, kwargs, error, message):
    x = np.zeros(shape, np.float32)
    ours, theirs = dict(kwargs), dict(kwargs)
    if "_random_samples" in kwargs:
        size, kind = kwargs["_random_samples"]             # (shape, dtype) of the samples
        samples = np.full(size, 0.5, kind)
        ours["_random_samples"] = tg.tensor(samples)
        theirs["_random_samples"] = torch.tensor(samples)
    with pytest.raises(error):
        TF.fractional_max_pool3d(torch.tensor(x), **theirs)
    with pytest.raises(error, match=message):
        F.fractional_max_pool3d(tg.tensor(x), **ours)


def test_module_repr_arguments_and_errors():
    for kwargs in [dict(kernel_size=2, output_ratio=0.5),
                   dict(kernel_size=(2, 3, 1), output_size=(3, 4, 5), return_indices=True)]:
        ours, theirs = nn.FractionalMaxPool3d(**kwargs), torch.nn.FractionalMaxPool3d(**kwargs)
        assert repr(ours) == repr(theirs)
        assert ours.kernel_size == theirs.kernel_size
        assert ours.output_size == theirs.output_size
        assert ours.output_ratio == theirs.output_ratio
    x = tg.tensor(np.random.default_rng(5).standard_normal((2, 3, 8, 9, 10)))
    values, indices = nn.FractionalMaxPool3d(3, output_ratio=0.5, return_indices=True)(x)
    assert tuple(values.shape) == (2, 3, 4, 4, 5)
    flat = _host(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, _host(indices).reshape(2, 3, -1), 2),
                                  _host(values).reshape(2, 3, -1))
    for kwargs, message in [(dict(kernel_size=2), "either an output size"),
                            (dict(kernel_size=2, output_size=3, output_ratio=0.5), "only one"),
                            (dict(kernel_size=2, output_ratio=(0.5, 1.0, 0.5)), "between 0"),
                            (dict(kernel_size=0, output_size=3), "greater than 0")]:
        with pytest.raises(ValueError):
            torch.nn.FractionalMaxPool3d(**kwargs)
        with pytest.raises(ValueError, match=message):
            nn.FractionalMaxPool3d(**kwargs)


@pytest.mark.parametrize("size, kind, error", [((3, 2, 2), "f4", None), ((1, 2, 2), "f4", "shape"),
                                               ((2, 2, 2), "f8", "same dtype"),
                                               ((2, 2), "f4", "3 dimensions"),
                                               ((2, 3, 2), "f4", "shape"),
                                               ((2, 2, 3), "f4", "shape")])
def test_2d_shares_the_sample_checks(size, kind, error):
    x = np.random.default_rng(6).standard_normal((2, 2, 6, 6)).astype(np.float32)
    samples = np.random.default_rng(7).random(size).astype(kind)
    args = (2, 3)
    if error is None:
        ours = F.fractional_max_pool2d(tg.tensor(x), *args, _random_samples=tg.tensor(samples))
        theirs = TF.fractional_max_pool2d(torch.tensor(x), *args,
                                          _random_samples=torch.tensor(samples))
        np.testing.assert_array_equal(_host(ours), theirs.numpy())
        return
    with pytest.raises(RuntimeError):
        TF.fractional_max_pool2d(torch.tensor(x), *args, _random_samples=torch.tensor(samples))
    with pytest.raises(RuntimeError, match=error):
        F.fractional_max_pool2d(tg.tensor(x), *args, _random_samples=tg.tensor(samples))
