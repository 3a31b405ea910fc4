"""Differential tests of tinygrad_cv.utils.data against torch.utils.data: collation and
conversion dtypes, sampler argument rules, random_split's fraction rule and loaders over
datasets keyed by something other than ints."""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as T

import tinygrad_cv.utils.data as O


def _plain(x):
    """Tensors -> (dtype name, shape, values); containers recursively; the rest as is."""
    if isinstance(x, torch.Tensor) or type(x).__name__ == "Tensor":
        return ("tensor", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, np.ndarray):
        return ("ndarray", str(x.dtype), x.shape, x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return (type(x).__name__, x)


def _same(fn):
    assert _plain(fn(O)) == _plain(fn(T))


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [1, 2.5], [True, 2], [2, True], [1, 2], [True, False], [1.5, 2],
    [np.str_("a"), np.str_("b")], [np.float32(1.5), np.float32(2)],
    [{"a": (1, 2.5), "s": np.str_("x")}, {"a": (3, 4), "s": np.str_("y")}],
], ids=repr)
def test_default_collate_dtypes_as_torch(batch):
    _same(lambda lib: lib.default_collate(batch))


@pytest.mark.parametrize("data", [
    np.float32(1.5), np.int16(3), np.array(["a", "b"]), np.array([1, None], dtype=object),
    (np.array([1]), 2), Point(np.array(0), np.float64(2.0)),
    {"a": np.array([1.0]), "b": [np.int64(3), "s"]}, np.str_("a"), "abc", 7,
], ids=repr)
def test_default_convert_as_torch(data):
    _same(lambda lib: lib.default_convert(data))


def test_loader_without_batching_converts_numpy_scalars_and_tuples():
    data = [(np.int32(2), np.array([1.0])), (np.int32(5), np.array([2.0]))]
    _same(lambda lib: list(lib.DataLoader(data, batch_size=None)))


def test_weighted_sampler_rejects_2d_weights():
    for lib in (T, O):
        with pytest.raises(ValueError, match="1d sequence"):
            lib.WeightedRandomSampler([[1.0, 2.0]], 3)


def test_random_sampler_rejects_empty_dataset():
    for lib in (T, O):
        with pytest.raises(ValueError, match="num_samples=0"):
            lib.RandomSampler(range(0))


@pytest.mark.parametrize("n,lengths", [(10, [0.5, 0.5, 0]), (5, [1, 0]), (7, [0.5, 0.5]),
                                       (10, [3, 7]), (10, (0.2, 0.8))])
def test_random_split_sizes_as_torch(n, lengths):
    _same(lambda lib: sorted(len(s) for s in lib.random_split(range(n), lengths)))


def test_random_split_bad_sum_message():
    for lib in (T, O):
        with pytest.raises(ValueError, match="Sum of input lengths"):
            lib.random_split(range(10), [0.5, 0.6])


def test_loader_passes_non_integer_sampler_keys():
    data = {"a": 1, "b": 2, "c": 3}
    for batch_size in (2, None):
        _same(lambda lib: list(lib.DataLoader(data, sampler=["c", "a", "b"],
                                              batch_size=batch_size)))
    _same(lambda lib: list(lib.DataLoader(data, batch_sampler=[["b", "a"], ["c"]])))
    _same(lambda lib: list(lib.BatchSampler(["x", "y", "z"], 2, False)))


class _Stream(T.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class _OurStream(O.IterableDataset):
    __init__, __iter__, __len__ = _Stream.__init__, _Stream.__iter__, _Stream.__len__


def test_adding_streams_chains_them():
    def chained(lib):
        make = _Stream if lib is T else _OurStream
        chain = make(2) + make(3)
        assert isinstance(chain, lib.ChainDataset)
        return [list(chain), len(chain), list(lib.DataLoader(chain, batch_size=2))]
    _same(chained)
    for lib in (T, O):
        with pytest.raises((TypeError, AssertionError)):
            list(lib.ChainDataset([[1, 2]]))


def test_collating_tensors_that_require_grad_keeps_the_graph():
    grads = []
    for lib, mod in ((T, torch), (O, __import__("tinygrad_cv"))):
        leaf = mod.tensor([1.0, 2.0], requires_grad=True)
        batch = lib.default_collate([leaf, leaf * 3])
        assert batch.requires_grad
        batch.sum().backward()
        grads.append(leaf.grad.tolist())
    assert grads[0] == grads[1] == [4.0, 4.0]


class _MyList(list):
    pass


def _counts(v):
    return collections.defaultdict(int, {"a": v})


@pytest.mark.parametrize("make", [
    lambda lib: lib.default_collate([_counts(1), _counts(2)]),
    lambda lib: lib.default_collate([_MyList([1]), _MyList([2])]),
    lambda lib: lib.default_collate([collections.deque([1]), collections.deque([2])]),
    lambda lib: lib.default_convert(_counts(np.array([1]))),
    lambda lib: lib.default_convert(_MyList([np.array([1])])),
    lambda lib: lib.default_convert(range(3)),
], ids=["defaultdict", "list subclass", "deque", "convert defaultdict", "convert list subclass",
        "convert range"])
def test_containers_keep_their_type_as_torch(make):
    out_torch, out_ours = make(T), make(O)
    assert type(out_ours) is type(out_torch)
    assert _plain(list(out_ours.values()) if isinstance(out_ours, dict) else list(out_ours)) == \
        _plain(list(out_torch.values()) if isinstance(out_torch, dict) else list(out_torch))
    if isinstance(out_torch, collections.defaultdict):
        assert out_ours.default_factory is out_torch.default_factory


def test_collating_dates_raises_as_torch():
    batch = [np.datetime64("2020-01-01"), np.datetime64("2020-01-02")]
    for lib in (T, O):
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            lib.default_collate(batch)


def _batched_only(lib):
    """A dataset that fetches only in batches (``__getitems__``), as torch's loader allows."""
    class Batched(lib.Dataset):
        def __len__(self):
            return 5

        def __getitems__(self, keys):
            return [{"key": k, "double": 2 * k} for k in keys]
    return Batched()


def test_loader_uses_the_datasets_batched_fetch():
    _same(lambda lib: list(lib.DataLoader(_batched_only(lib), batch_size=2)))
    _same(lambda lib: list(lib.DataLoader(lib.Subset(_batched_only(lib), [4, 0, 2]),
                                          batch_size=2)))
    _same(lambda lib: lib.Subset(list(range(10, 20)), [5, 3]).__getitems__([1, 0]))
