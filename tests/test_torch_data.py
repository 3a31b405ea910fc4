"""tinygrad_cv.utils.data against torch.utils.data: the same datasets, samplers and loader
arguments give the same batches wherever the order is deterministic; random orders are checked
for their properties (permutations, coverage, reproducibility with a seed)."""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.utils.data as tgd
from tinygrad_cv import backend

SETTINGS = settings(max_examples=8, deadline=None)
Pair = collections.namedtuple("Pair", "x label")


def host(x):
    if isinstance(x, torch.Tensor):
        return x.numpy()
    return backend.to_numpy(x.array)


def assert_same_batch(ours, theirs):
    """Same structure (list/tuple/dict/namedtuple), same tensors (values, dtype, shape)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tg.Tensor)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(host(ours), host(theirs))
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            assert_same_batch(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) or (hasattr(theirs, "_fields") and
                                               type(ours).__name__ == type(theirs).__name__)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same_batch(a, b)
    else:
        assert ours == theirs


def assert_same_loader(ours, theirs):
    a, b = list(ours), list(theirs)
    assert len(a) == len(b) == len(ours) == len(theirs)
    for x, y in zip(a, b):
        assert_same_batch(x, y)


def test_utils_data_is_the_data_package():
    assert tg.utils.data is tg.data and tgd is tg.data
    assert tgd.DataLoader is tg.data.DataLoader and tgd.TensorDataset is tg.data.TensorDataset
    from tinygrad_cv.utils.data import DataLoader, random_split  # noqa: F401
    assert DataLoader is tg.data.DataLoader


class Mixed:
    """Samples mixing every kind default_collate handles."""

    def __init__(self, n, tensor):
        self.n, self.tensor = n, tensor

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = self.tensor(np.full((2, 3), i, dtype=np.float32))
        return (img, i, i / 4, i % 2 == 0, f"s{i}",
                {"a": np.arange(3) + i, "b": [i, float(i)]}, Pair(i, np.float32(i)))


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 4), st.booleans())
def test_default_collate_and_sequential_batches_match_torch(n, batch_size, drop_last):
    ours = tgd.DataLoader(Mixed(n, lambda a: tg.tensor(a)), batch_size=batch_size,
                          drop_last=drop_last)
    theirs = tud.DataLoader(Mixed(n, torch.tensor), batch_size=batch_size, drop_last=drop_last)
    assert_same_loader(ours, theirs)


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 5), st.booleans(), st.integers(0, 3))
def test_tensor_dataset_and_subset_batches_match_torch(n, batch_size, drop_last, workers):
    x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
    y = np.arange(n)
    keep = list(range(0, n, 2))[::-1]
    ours_ds, theirs_ds = tgd.TensorDataset(tg.tensor(x), tg.tensor(y)), \
        tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    kw = dict(batch_size=batch_size, drop_last=drop_last)
    # ours with (accepted, ineffective) worker options; torch's without (no processes started)
    ours_kw = dict(kw, num_workers=workers, pin_memory=True, persistent_workers=workers > 0)
    assert_same_loader(tgd.DataLoader(ours_ds, **ours_kw), tud.DataLoader(theirs_ds, **kw))
    assert_same_loader(tgd.DataLoader(tgd.Subset(ours_ds, keep), **ours_kw),
                       tud.DataLoader(tud.Subset(theirs_ds, keep), **kw))
    assert_same_batch(tgd.Subset(ours_ds, keep)[0], tud.Subset(theirs_ds, keep)[0])


def test_workers_do_not_change_the_batches():
    tg.manual_seed(5)
    ds = tgd.TensorDataset(tg.randn(40, 2), tg.arange(40))
    calls = []
    base = [host(b[1]) for b in tgd.DataLoader(ds, 8, shuffle=True, seed=1)]
    for workers in (1, 4):
        loader = tgd.DataLoader(ds, 8, shuffle=True, seed=1, num_workers=workers,
                                worker_init_fn=calls.append, prefetch_factor=2,
                                persistent_workers=True, pin_memory=True)
        np.testing.assert_array_equal(np.stack([host(b[1]) for b in loader]), np.stack(base))
    assert calls == [] and tgd.get_worker_info() is None


def test_samplers_and_batch_sampler_match_torch():
    n = 11
    ours_ds, theirs_ds = Mixed(n, tg.tensor), Mixed(n, torch.tensor)
    order = [3, 1, 4, 1, 5, 9, 2, 6]
    assert_same_loader(tgd.DataLoader(ours_ds, 3, sampler=order),
                       tud.DataLoader(theirs_ds, 3, sampler=order))
    assert_same_loader(tgd.DataLoader(ours_ds, 4, sampler=tgd.SequentialSampler(ours_ds)),
                       tud.DataLoader(theirs_ds, 4, sampler=tud.SequentialSampler(theirs_ds)))
    for drop in (False, True):
        ob = tgd.BatchSampler(tgd.SequentialSampler(range(n)), 4, drop)
        tb = tud.BatchSampler(tud.SequentialSampler(range(n)), 4, drop)
        assert list(ob) == list(tb) and len(ob) == len(tb)
        assert list(tgd.BatchSampler(order, 3, drop)) == list(tud.BatchSampler(order, 3, drop))
        assert_same_loader(tgd.DataLoader(ours_ds, batch_sampler=ob),
                           tud.DataLoader(theirs_ds, batch_sampler=tb))
    assert_same_loader(tgd.DataLoader(ours_ds, batch_sampler=[[0, 2], [5], [1, 1, 3]]),
                       tud.DataLoader(theirs_ds, batch_sampler=[[0, 2], [5], [1, 1, 3]]))


def test_batch_size_none_and_collate_fn_match_torch():
    data = [np.arange(3) * i for i in range(4)]
    assert_same_loader(tgd.DataLoader(data, batch_size=None),
                       tud.DataLoader(data, batch_size=None))

    def collate(batch):   # a torch-style collate_fn takes the list of samples only
        return len(batch), sum(int(b.sum()) for b in batch)

    assert list(tgd.DataLoader(data, 3, collate_fn=collate)) == \
        list(tud.DataLoader(data, 3, collate_fn=collate))


def test_iterable_dataset_matches_torch():
    class Stream(tgd.IterableDataset):
        def __iter__(self):
            return iter([(i, float(i)) for i in range(7)])

    class TorchStream(tud.IterableDataset):
        def __iter__(self):
            return iter([(i, float(i)) for i in range(7)])

    for drop in (False, True):
        assert_same_loader_iter(tgd.DataLoader(Stream(), 3, drop_last=drop),
                                tud.DataLoader(TorchStream(), 3, drop_last=drop))
    with pytest.raises(TypeError):
        len(tgd.DataLoader(Stream(), 3))

    class Sized(Stream):
        def __len__(self):
            return 7

    class TorchSized(TorchStream):
        def __len__(self):
            return 7

    for drop in (False, True):
        assert len(tgd.DataLoader(Sized(), 3, drop_last=drop)) == \
            len(tud.DataLoader(TorchSized(), 3, drop_last=drop))
    with pytest.raises(ValueError, match="shuffle"):
        tgd.DataLoader(Stream(), 2, shuffle=True)


def assert_same_loader_iter(ours, theirs):
    a, b = list(ours), list(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert_same_batch(x, y)


@pytest.mark.parametrize("kwargs", [
    dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], drop_last=True), dict(batch_sampler=[[0]], shuffle=True),
    dict(num_workers=-1), dict(persistent_workers=True), dict(prefetch_factor=2),
    dict(timeout=-1), dict(batch_size=None, drop_last=True),
])
def test_invalid_loader_arguments_raise_as_torch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError) as ours:
        tgd.DataLoader(list(range(4)), **kwargs)
    assert str(ours.value).split()[:3] == str(theirs.value).split()[:3]


def test_random_sampler_properties_and_reproducibility():
    ds = list(range(10))
    g = tg.Generator().manual_seed(0)
    perm = list(tgd.RandomSampler(ds, generator=g))
    assert sorted(perm) == ds
    assert list(tgd.RandomSampler(ds, generator=tg.Generator().manual_seed(0))) == perm
    longer = list(tgd.RandomSampler(ds, num_samples=25, generator=g))
    assert len(longer) == 25 and sorted(longer[:10]) == ds and sorted(longer[10:20]) == ds
    rep = list(tgd.RandomSampler(ds, replacement=True, num_samples=50, generator=g))
    assert len(rep) == 50 and set(rep) <= set(ds)
    tg.manual_seed(3)
    a = [list(tgd.RandomSampler(ds)) for _ in range(2)]
    tg.manual_seed(3)
    b = [list(tgd.RandomSampler(ds)) for _ in range(2)]
    assert a == b and a[0] != a[1]   # a new order each pass, reproducible from the seed
    assert sorted(tgd.SubsetRandomSampler([7, 2, 5], generator=g)) == [2, 5, 7]
    with pytest.raises(ValueError, match="num_samples"):
        tgd.RandomSampler(ds, num_samples=0)
    with pytest.raises(ValueError, match="batch_size"):
        tgd.BatchSampler(ds, 0, False)


def test_loader_shuffle_with_generator_and_seed():
    ds = tgd.TensorDataset(tg.arange(20))
    orders = [np.concatenate([host(b[0]) for b in tgd.DataLoader(
        ds, 6, shuffle=True, generator=tg.Generator().manual_seed(9))]) for _ in range(2)]
    np.testing.assert_array_equal(orders[0], orders[1])
    assert sorted(orders[0].tolist()) == list(range(20))
    with pytest.raises(ValueError, match="seed= or generator="):
        tgd.DataLoader(ds, shuffle=True, seed=1, generator=tg.Generator())


def test_weighted_random_sampler_frequencies():
    w = [0.1, 0.0, 0.6, 0.3]
    draws = list(tgd.WeightedRandomSampler(w, 20000, generator=tg.Generator().manual_seed(1)))
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 20000, w, atol=0.015)
    no_rep = list(tgd.WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(no_rep) == [0, 2, 3]


@pytest.mark.filterwarnings("ignore:Length of split")
@SETTINGS
@given(st.integers(0, 30), st.lists(st.integers(1, 10), min_size=1, max_size=4))
def test_random_split_lengths_match_torch(n, parts):
    fractions = [p / sum(parts) for p in parts]
    fractions[-1] = 1.0 - sum(fractions[:-1])
    ours = tgd.random_split(range(n), fractions, generator=tg.Generator().manual_seed(0))
    theirs = tud.random_split(range(n), fractions, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == list(range(n))
    counts = [len(s) for s in ours]
    again = tgd.random_split(range(n), counts, generator=tg.Generator().manual_seed(0))
    assert [list(s) for s in again] == [list(s) for s in ours]


def test_random_split_errors_as_torch():
    for lengths in ([3, 3], [0.5, 0.6]):
        with pytest.raises(ValueError, match="Sum of input lengths"):
            tud.random_split(range(10), lengths)
        with pytest.raises(ValueError, match="Sum of input lengths"):
            tgd.random_split(range(10), lengths)


def test_concat_dataset_matches_torch():
    ours = tgd.ConcatDataset([range(3), range(10, 12)])
    theirs = tud.ConcatDataset([range(3), range(10, 12)])
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-5, 5)] == [theirs[i] for i in range(-5, 5)]

    class Ds(tgd.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

    both = Ds() + Ds()
    assert isinstance(both, tgd.ConcatDataset) and [both[i] for i in range(4)] == [0, 1, 0, 1]


def test_loader_device_takes_device_objects():
    ds = tgd.TensorDataset(tg.arange(4.0))
    (xb,) = next(iter(tgd.DataLoader(ds, 2, device=tg.device("cpu"))))
    assert xb.device == tg.device("cpu")
    with pytest.raises(RuntimeError, match="one GPU"):
        next(iter(tgd.DataLoader(ds, 2, device="cuda:1")))


def test_random_sampler_with_replacement_draws_lazily_as_torch():
    """minGPT's trainer: RandomSampler(replacement=True, num_samples=int(1e10)) must not
    allocate 1e10 indices; batches come as they are iterated, in range, with torch's length."""
    import itertools

    data = tg.utils.data.TensorDataset(tg.arange(10))
    sampler = tg.utils.data.RandomSampler(data, replacement=True, num_samples=int(1e10))
    assert len(sampler) == len(torch.utils.data.RandomSampler(
        range(10), replacement=True, num_samples=int(1e10)))
    loader = tg.utils.data.DataLoader(data, sampler=sampler, batch_size=7)
    batches = list(itertools.islice(iter(loader), 20000))     # crosses several draw chunks
    flat = np.concatenate([b[0].numpy() for b in batches])
    assert len(flat) == 7 * 20000 and flat.min() >= 0 and flat.max() <= 9
    assert len(set(flat.tolist())) == 10
    first = list(itertools.islice(iter(sampler), 5))
    assert all(0 <= i < 10 for i in first)


@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_across_draw_chunks_equal_the_whole_pass(drop_last, monkeypatch):
    """Batches cut from chunked draws equal the batches of the whole pass (same seed)."""
    monkeypatch.setattr(tg.utils.data.RandomSampler, "CHUNK", 5)
    data = tg.utils.data.TensorDataset(tg.arange(50))
    sampler = tg.utils.data.RandomSampler(data, replacement=True, num_samples=23, seed=3)
    whole = sampler.index_array()
    sampler.set_epoch(0)
    batches = list(tg.utils.data.BatchSampler(sampler, 4, drop_last))
    stop = 20 if drop_last else 23
    assert [i for b in batches for i in b] == whole[:stop].tolist()
    assert all(len(b) == 4 for b in batches[:5])
