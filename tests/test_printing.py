"""Tensors print as torch's do (``tinygrad_cv/printing.py``): the same text for the same
values, dtypes and print options (torch's ``dtype=torch.X`` reads ``dtype=X`` here)."""
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import printing


@pytest.fixture(autouse=True)
def default_options():
    printing.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")
    yield
    printing.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


def _both(array, requires_grad=False):
    ours = tg.tensor(array, requires_grad=requires_grad)
    theirs = torch.tensor(array, requires_grad=requires_grad)
    return repr(ours), repr(theirs).replace("torch.", "")


def _unwrapped_suffixes(text):
    return re.sub(r",\n +(dtype=|requires_grad=|grad_fn=|device=|size=)", r", \1", text)


def _same(array, requires_grad=False):
    ours, theirs = _both(array, requires_grad)
    if "dtype=" in theirs:     # torch's dtype text is 6 characters longer: it may wrap earlier
        ours, theirs = _unwrapped_suffixes(ours), _unwrapped_suffixes(theirs)
    assert ours == theirs, f"\nours:\n{ours}\ntorch:\n{theirs}"


SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-5, 3e-4, 1234.5, 1e8, 2e8, 1e-30, 123456789.0,
            math.nan, math.inf, -math.inf, 7.0, -12.0, 0.1, 99999.0]


@pytest.mark.parametrize("values", [
    [1.0, 2.0, 3.0], [1.5, -2.25], [1e-5, 1.0], [0.0, 0.0], [math.nan], [math.inf, 1.0],
    [math.nan, 2.0, 3.0], [1e8, 1.0], [1.0, 1001.0], [1.0, 1000.0], [-0.0, 1.5], [1e-4, 1.0],
    [123456789.0], [0.5], [100.0, -3.0, math.inf], [1e-30, 0.0], [2.0 ** 60, 1.0]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_formats_match_torch(values, dtype):
    _same(np.array(values, dtype=dtype))


@pytest.mark.parametrize("array", [
    np.float32(1.5), np.float64(-2.0), np.float32(math.nan), np.int64(7), np.bool_(True),
    np.array([], np.float32), np.zeros((0, 3), np.float32), np.zeros((2, 0), np.int64),
    np.zeros((0,), np.int64), np.array([True, False]), np.array([[1, -20], [300, 4]]),
    np.array([1, 2], np.int32), np.array([1, 2], np.uint8), np.array([1.5], np.float16),
    np.arange(2000), np.arange(1001, dtype=np.float64), np.arange(24.0).reshape(2, 3, 4),
    np.arange(5000.0).reshape(10, 20, 25) / 7, np.arange(60).reshape(3, 4, 5) - 30])
def test_shapes_dtypes_and_cuts_match_torch(array):
    _same(array)


def test_requires_grad_and_parameter_match_torch():
    _same(np.array([1.0, 2.0]), requires_grad=True)
    _same(np.arange(30.0).reshape(3, 10) / 3, requires_grad=True)
    ours = repr(tg.nn.Parameter(tg.ones(2, 3)))
    theirs = repr(torch.nn.Parameter(torch.ones(2, 3)))
    assert ours == theirs


def test_a_result_names_its_function():
    x = tg.ones(2, requires_grad=True)
    assert repr(x * 2) == "tensor([2., 2.], grad_fn=<MulBackward>)"
    with tg.no_grad():
        assert repr(x * 2) == "tensor([2., 2.])"


@pytest.mark.parametrize("count", [8, 9, 10, 11, 12, 16, 17])
def test_long_suffixes_wrap_like_torch(count):
    _same(np.full(count, -0.125, np.float32), requires_grad=True)
    _same(np.arange(count * 3, dtype=np.float32).reshape(3, count) / 7, requires_grad=True)
    wrapped = repr(tg.tensor(np.full(12, -0.125, np.float32), requires_grad=True))
    assert wrapped.endswith("-0.1250, -0.1250, -0.1250, -0.1250], requires_grad=True)")


@pytest.mark.parametrize("options", [
    dict(precision=2), dict(precision=0), dict(precision=8), dict(threshold=5),
    dict(threshold=0), dict(edgeitems=1, threshold=10), dict(edgeitems=0, threshold=10),
    dict(linewidth=20), dict(linewidth=200), dict(sci_mode=True), dict(sci_mode=False),
    dict(profile="short"), dict(profile="full"), dict(profile="short", precision=6)])
def test_print_options_match_torch(options):
    tg.set_printoptions(**options)
    torch.set_printoptions(**options)
    for array in [np.arange(40.0).reshape(5, 8) / 3, np.arange(30), np.array([1e-6, 1.0]),
                  np.array([3.0, 4.0]), np.array(2.5), np.linspace(-1, 1, 25).reshape(5, 5)]:
        _same(array)


def test_options_round_trip_and_context():
    tg.set_printoptions(precision=2, linewidth=40)
    saved = printing.get_printoptions()
    assert saved["precision"] == 2 and saved["linewidth"] == 40
    with printing.printoptions(precision=6):
        assert repr(tg.tensor([1.0 / 3])) == "tensor([0.333333])"
    assert repr(tg.tensor([1.0 / 3])) == "tensor([0.33])"
    tg.set_printoptions(**saved)
    assert printing.get_printoptions() == saved


@pytest.mark.parametrize("bad, message", [
    (dict(profile="long"), "profile"), (dict(precision=-1), "precision"),
    (dict(precision=2.5), "precision"), (dict(linewidth="80"), "linewidth"),
    (dict(threshold=math.nan), "threshold"), (dict(sci_mode="yes"), "sci_mode")])
def test_bad_options_are_refused_and_change_nothing(bad, message):
    before = printing.get_printoptions()
    with pytest.raises(ValueError, match=message):
        tg.set_printoptions(**bad)
    assert printing.get_printoptions() == before


def test_str_and_format_are_the_repr():
    t = tg.tensor([[1.0, 2.5]])
    assert str(t) == repr(t) == f"{t}" == "tensor([[1.0000, 2.5000]])"
    assert f"{tg.tensor(2.5):.1f}" == "2.5"


finite = st.floats(-2.0 ** 40, 2.0 ** 40, allow_nan=False, width=32)
values = st.one_of(finite, st.sampled_from(SPECIALS), st.integers(-1000, 1000).map(float))


@settings(deadline=None, max_examples=60)
@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), st.data(),
       st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.bool_]),
       st.sampled_from([None, dict(threshold=10), dict(threshold=20, edgeitems=1),
                        dict(precision=2, linewidth=30), dict(sci_mode=True)]))
def test_random_tensors_print_as_torch(shape, data, dtype, options):
    count = int(np.prod(shape)) if shape else 1
    if dtype == np.bool_:
        flat = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
    elif dtype in (np.int64, np.int32):
        flat = data.draw(st.lists(st.integers(-10 ** 6, 10 ** 6), min_size=count,
                                  max_size=count))
    else:
        flat = data.draw(st.lists(values, min_size=count, max_size=count))
    array = np.array(flat, dtype=dtype).reshape(shape)
    if options:
        tg.set_printoptions(**options)
        torch.set_printoptions(**options)
    _same(array)


@pytest.mark.parametrize("indices, values, size, dtype", [
    ([[0, 1], [1, 0]], [3.0, 4.0], (2, 2), np.float32),
    ([[0, 1], [1, 0]], [3.0, 4.0], (2, 2), np.float64),
    ([[0, 1]], [[3.0, 4.0], [1.0, 2.0]], (2, 2), np.float32),
    (np.zeros((2, 0), np.int64), np.zeros(0), (2, 2), np.float32)])
def test_sparse_coo_prints_as_torch(indices, values, size, dtype):
    import warnings
    ours = repr(tg.sparse_coo_tensor(indices, np.asarray(values, dtype), size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = repr(torch.sparse_coo_tensor(torch.as_tensor(np.asarray(indices)),
                                              torch.as_tensor(np.asarray(values, dtype)), size))
    theirs = theirs.replace("torch.", "")
    if str(tg.get_default_device()) != "cpu":     # a CPU tensor names its device then
        ours = ours.replace("device='cpu', ", "", 1)
    assert _unwrapped_suffixes(ours) == _unwrapped_suffixes(theirs)


def test_a_tensor_off_the_default_device_names_it(monkeypatch):
    from tinygrad_cv import backend
    monkeypatch.setattr(backend, "get_default_device", lambda: "cuda")
    assert repr(tg.tensor([1.0, 2.0], device="cpu")) == "tensor([1., 2.], device='cpu')"
