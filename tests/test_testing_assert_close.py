"""tinygrad_cv.testing.assert_close and make_tensor against torch.testing on the same cases:
passes, failures (exception type and message, up to torch's type names), nested inputs,
tolerance defaults per dtype; make_tensor's ranges, layouts and argument errors."""
import re

import numpy as np
import pytest
import torch
from torch.testing import assert_close as torch_close, make_tensor as torch_make

import tinygrad_cv as tg
from tinygrad_cv.testing import assert_close, make_tensor


def _outcome(f):
    try:
        f()
    except Exception as e:     # noqa: BLE001 (compared with torch's)
        text = str(e).replace("torch.", "")
        text = re.sub(r"Size\(\[([^\]]*)\]\)", lambda m: f"({m.group(1)},)"
                      if "," not in m.group(1) else f"({m.group(1)})", text)
        # type names without their module paths (torch.nn.parameter.Parameter, ...)
        return type(e).__name__, re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", r"<class '\1'>", text)
    return None


def _f32(*v):
    return np.array(v, dtype=np.float32)


TENSOR_CASES = [
    (_f32(1, 2, 3), _f32(1, 2.1, 3), {}),
    (np.array([[1., 2.], [3., 4.]], np.float32), np.array([[1., 2.], [3.5, 4.]], np.float32), {}),
    (np.array([1, 2]), np.array([1, 3]), {}),
    (np.array([5, -3], np.int32), np.array([5, 0], np.int32), {}),
    (_f32(1), np.array([1.0]), {}),                                      # dtype
    (_f32(1), _f32(1, 2), {}),                                           # shape
    (_f32(np.nan), _f32(np.nan), {}),
    (_f32(np.nan), _f32(np.nan), {"equal_nan": True}),
    (np.array([True, False]), np.array([True, True]), {}),
    (np.array([1.], np.float16), np.array([1.0009], np.float16), {}),   # float16 tolerance
    (np.array([1.], np.float16), np.array([1.003], np.float16), {}),
    (_f32(1, np.inf), _f32(1, np.inf), {}),
    (_f32(1, np.inf), _f32(1, -np.inf), {}),
    (_f32(1, 2), np.array([1, 3]), {"check_dtype": False}),             # promoted, tolerances
    (_f32(0, 0, 0), _f32(0, 1e-6, 1e-4), {}),
    (np.array(1.5, np.float32), np.array(1.6, np.float32), {}),          # 0-d: scalar message
    (np.array(3), np.array(4), {}),
    (np.array([1., 2.]), np.array([1., 2.5]), {"rtol": 0.1, "atol": 0.0}),
    (np.array([1., 2.]), np.array([1., 2.5]), {"rtol": 0.3, "atol": 0.0}),
    (np.array([1., 2.]), np.array([1., 2.5]), {"rtol": 1e-3}),          # atol missing
    (np.array([1., 2.]), np.array([1., 2.5]), {"msg": "custom"}),
    (np.array([1., 2.]), np.array([1., 2.5]), {"msg": lambda m: "X" + m}),
    (np.arange(12.).reshape(3, 4), np.arange(12.).reshape(3, 4) + np.eye(3, 4) * 1e-3, {}),
    (np.array([1e-9, 2e-9]), np.array([1.01e-9, 2e-9]), {}),
    (np.zeros((0, 3)), np.zeros((0, 3)), {}),
    (_f32(1, 2, 3), _f32(1, 2, 3) * (1 + 1e-6), {}),
    (np.array([13, 26], np.uint8), np.array([14, 26], np.uint8), {"rtol": 0.1, "atol": 0.0}),
]


@pytest.mark.parametrize("actual,expected,kw", TENSOR_CASES)
def test_tensors_as_torch(actual, expected, kw):
    theirs = _outcome(lambda: torch_close(torch.tensor(actual), torch.tensor(expected), **kw))
    ours = _outcome(lambda: assert_close(tg.tensor(actual), tg.tensor(expected), **kw))
    assert ours == theirs


@pytest.mark.parametrize("actual,expected,kw", TENSOR_CASES[:4])
def test_numpy_arrays_as_torch(actual, expected, kw):
    assert _outcome(lambda: assert_close(actual, expected, **kw)) == \
        _outcome(lambda: torch_close(actual, expected, **kw))


PY_CASES = [(1.0, 1.1), (1, 2), (1, 1), (1.0, 1), (1.0 + 0j, 1.0), (True, False), (True, True),
            ("a", "a"), (None, None), (None, 1), ([1., 2.], [1., 2., 3.]), ((1.0, 2.0), [1.0, 2.0]),
            ({"a": 1.0}, {"b": 1.0}), ({"a": 1.0, "c": [1, 2]}, {"a": 1.0, "c": [1, 3]}),
            (float("nan"), float("nan")), (float("inf"), float("inf")), (np.float32(1.0), 1.0),
            (np.float64(1.0), 1.0), (np.bool_(True), True), (np.int64(3), 3)]


@pytest.mark.parametrize("actual,expected", PY_CASES)
def test_numbers_and_containers_as_torch(actual, expected):
    assert _outcome(lambda: assert_close(actual, expected)) == \
        _outcome(lambda: torch_close(actual, expected))


def test_nested_tensors_name_the_item():
    def both(fw):
        a = [fw.tensor([1., 2.]), {"x": fw.tensor([3., 4.]), "y": fw.tensor(1)}]
        e = [fw.tensor([1., 2.]), {"x": fw.tensor([3., 4.5]), "y": fw.tensor(1)}]
        return _outcome(lambda: (torch_close if fw is torch else assert_close)(a, e))
    ours, theirs = both(tg), both(torch)
    assert ours == theirs and "item [1]['x']" in ours[1]
    # the message names the element: index (1, 0), 1 of 4 mismatching
    ours = _outcome(lambda: assert_close(tg.tensor([[1., 2.], [3., 4.]]),
                                         tg.tensor([[1., 2.], [3.5, 4.]])))
    assert "Mismatched elements: 1 / 4 (25.0%)" in ours[1] and "at index (1, 0)" in ours[1]


def test_kinds_strides_subclasses():
    cases = [
        (lambda fw: (fw.tensor(1.0), 1.0), {}),
        (lambda fw: (fw.ones(2, 3), fw.ones(3, 2).t()), {}),
        (lambda fw: (fw.ones(2, 3), fw.ones(3, 2).t()), {"check_stride": True}),
        (lambda fw: (fw.nn.Parameter(fw.ones(2)), fw.ones(2)), {}),
        (lambda fw: (fw.nn.Parameter(fw.ones(2)), fw.ones(2)), {"allow_subclasses": False}),
        (lambda fw: (np.array([1., 2.]), fw.tensor([1., 2.])), {}),
        (lambda fw: (fw.ones(2, requires_grad=True) * 2, fw.full((2,), 2.0)), {}),
    ]
    for make, kw in cases:
        ours = _outcome(lambda: assert_close(*make(tg), **kw))
        theirs = _outcome(lambda: torch_close(*make(torch), **kw))
        assert ours == theirs, (kw, ours, theirs)


def test_sparse_layout():
    i, v = [[0, 1], [1, 0]], [1.0, 2.0]
    for fw in (tg, torch):
        close = assert_close if fw is tg else torch_close
        sparse = fw.sparse_coo_tensor(i, v, (2, 2))
        dense = sparse.to_dense()
        with pytest.raises(AssertionError, match="attribute 'layout' do not match"):
            close(sparse, dense)
        close(sparse, dense, check_layout=False)
        with pytest.raises(AssertionError, match="Mismatched elements: 2 / 4"):
            close(sparse, dense + fw.eye(2), check_layout=False)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "int32", "int8",
                                   "uint8", "bool"])
def test_make_tensor_ranges_and_dtypes(dtype):
    tg.manual_seed(0)
    x = make_tensor(4000, dtype=getattr(tg, dtype), device="cpu")
    ref = torch_make(4000, dtype=getattr(torch, dtype), device="cpu")
    assert x.dtype == getattr(tg, dtype) and x.shape == (4000,)
    a, b = x.numpy(), ref.numpy()
    assert a.min() == b.min() and a.max() == b.max() if a.dtype.kind in "biu" else \
        (-9 <= a.min() < -8.9 and 8.9 < a.max() < 9)
    small = make_tensor((2, 3), dtype=getattr(tg, dtype), device="cpu", low=0, high=2,
                        exclude_zero=True)
    assert small.shape == (2, 3) and (small.numpy() != 0).all()


def test_make_tensor_options():
    tg.manual_seed(3)
    first = make_tensor(2, 3, dtype=tg.float32, device="cpu", low=-1, high=1)
    tg.manual_seed(3)
    assert (make_tensor([2, 3], dtype=tg.float32, device="cpu", low=-1, high=1).numpy()
            == first.numpy()).all()
    assert ((-1 <= first.numpy()) & (first.numpy() < 1)).all()
    for fw, make in ((tg, make_tensor), (torch, torch_make)):
        x = make(3, 4, dtype=fw.float32, device="cpu", noncontiguous=True, requires_grad=True)
        assert tuple(x.shape) == (3, 4) and not x.is_contiguous()
        assert x.requires_grad and x.is_leaf
        one = make(1, 1, dtype=fw.float32, device="cpu", noncontiguous=True)
        assert one.is_contiguous()                    # fewer than two elements: ignored
        huge = make(100, dtype=fw.float32, device="cpu", low=-1e39, high=1e39)
        assert np.isfinite(huge.numpy()).all()        # clamped to float32's range
    u8 = make_tensor(50, dtype=tg.uint8, device="cpu", low=-5, high=3.5)
    assert u8.numpy().min() >= 0 and u8.numpy().max() <= 3


def test_make_tensor_errors_as_torch():
    calls = [dict(low=2, high=1), dict(low=float("nan")), dict(requires_grad=True, int=True),
             dict(noncontiguous=True, memory_format=True), dict(low=1e40, high=1e41, i8=True)]
    for kw in calls:
        kw = dict(kw)
        integer, i8 = kw.pop("int", False), kw.pop("i8", False)
        if kw.get("memory_format"):
            kw["memory_format"] = None
            ours = _outcome(lambda: make_tensor(2, dtype=tg.float32, device="cpu",
                                                memory_format=tg.channels_last,
                                                noncontiguous=True))
            theirs = _outcome(lambda: torch_make(2, dtype=torch.float32, device="cpu",
                                                 memory_format=torch.channels_last,
                                                 noncontiguous=True))
            assert ours[0] == theirs[0] == "ValueError"
            continue
        dt = "int8" if i8 else "int64" if integer else "float32"
        ours = _outcome(lambda: make_tensor(2, dtype=getattr(tg, dt), device="cpu", **kw))
        theirs = _outcome(lambda: torch_make(2, dtype=getattr(torch, dt), device="cpu", **kw))
        assert ours == theirs, (kw, ours, theirs)
    with pytest.warns(FutureWarning, match="low==high"):
        assert (make_tensor(3, dtype=tg.float32, device="cpu", low=2, high=2).numpy() == 2).all()
