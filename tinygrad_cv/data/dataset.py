"""Datasets, collation and the mini-batch loader (torch.utils.data's names and semantics).

``Dataset`` is anything with ``__len__`` and ``__getitem__(i) -> sample``; ``IterableDataset``
yields samples.  ``TensorDataset(*tensors)`` holds equally long tensors and is batched by fancy
indexing (one gather per tensor per batch, no per-sample Python loop); ``Subset`` (what
``random_split`` returns) keeps that fast path.  ``ConcatDataset`` chains datasets
(``a + b``); ``ChainDataset`` chains streams (``a + b`` of two ``IterableDataset``s).

``DataLoader`` takes torch's arguments.  ``default_collate`` turns a list of samples into a
batch as torch does: tensors, arrays and array scalars are stacked, Python ints become int64
(bools alone bool; a float among them the default float dtype, as ``torch.tensor(batch)``),
floats float64, strings stay as they are, and tuples (as a list), lists, namedtuples and dicts
are collated field by field.  ``default_convert`` (the loader's conversion without
batching) turns numeric arrays and array scalars into Tensors and tuples into lists.

Loading always happens in the calling thread, in order: ``num_workers``, ``pin_memory``,
``persistent_workers``, ``prefetch_factor``, ``timeout``, ``worker_init_fn`` and
``multiprocessing_context`` are validated as torch does and have no other effect (no worker is
started, so ``worker_init_fn`` is never called and ``get_worker_info()`` is None); the batches
are therefore the same whatever they say.
"""
from __future__ import annotations

import bisect
import collections.abc
import copy
import math
import numbers

from .. import backend
from ..devices import placement
from ..generator import rng_of
from ..ops.dual import raw
from ..tensor import Tensor, stack
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

_host = backend.module_for_device("cpu")


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(index) -> sample``."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (no indexing, no sampler)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self):
        raise TypeError(f"{type(self).__name__} has no len() (an IterableDataset)")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Streams one after the other (``a + b`` of two ``IterableDataset``s); its ``len`` is the
    sum of theirs."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            total += len(d)
        return total


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: ``dataset[i] = (t[i] for t in tensors)``.

    ``transform`` (optional) is applied to the first tensor of every batch the loader fetches
    (batched augmentations from :mod:`tinygrad_cv.data.transforms`).
    """

    def __init__(self, *tensors, transform=None):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        n = tensors[0].shape[0] if tensors[0].ndim else None
        for i, t in enumerate(tensors):
            if t.ndim == 0 or t.shape[0] != n:
                raise ValueError(f"TensorDataset: every tensor needs the same first dimension; "
                                 f"tensor 0 has shape {tuple(tensors[0].shape)} but tensor {i} "
                                 f"has shape {tuple(t.shape)}")
        self.tensors = tensors
        self.transform = transform

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(Tensor.wrap(t.array[index]) for t in self.tensors)

    def get_batch(self, indices, device=None):
        """The batch ``[t[indices] for t in tensors]`` on ``device`` (one gather per tensor)."""
        out = []
        for t in self.tensors:
            data = t.array
            idx = backend.to_device(indices, backend.device_of(data))
            out.append(Tensor.wrap(backend.to_device(data[idx], device)))
        if self.transform is not None:
            out[0] = self.transform(out[0])
        return out


class Subset(Dataset):
    """``dataset`` restricted to ``indices``: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        """The samples at ``indices`` (a list), through the dataset's own batched fetch when it
        has one (torch's ``__getitems__``)."""
        keys = [self.indices[i] for i in indices]
        getitems = getattr(self.dataset, "__getitems__", None)
        return getitems(keys) if getitems else [self.dataset[k] for k in keys]

    def __getattr__(self, name):
        # the batched fast path exists only when the wrapped dataset has one
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return self._get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_batch(self, indices, device=None):
        if not isinstance(self.__dict__.get("_index_array"), tuple) or \
                self._index_array[0] is not self.indices:
            raw = self.indices
            raw = backend.to_numpy(raw.array) if isinstance(raw, Tensor) else raw
            self._index_array = (self.indices, _host.asarray(raw, dtype="int64").reshape(-1))
        return self.dataset.get_batch(self._index_array[1][indices], device=device)


class ConcatDataset(Dataset):
    """The datasets one after the other; ``cumulative_sizes[k]`` = total length of 0..k."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


class StackDataset(Dataset):
    """Datasets of one length side by side: ``StackDataset(a, b)[i] == (a[i], b[i])``,
    ``StackDataset(image=a, text=b)[i] == {"image": a[i], "text": b[i]}`` (torch's)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        """A batch of samples, each part fetched by its own ``__getitems__`` when it has one."""
        named = isinstance(self.datasets, dict)
        columns = {}
        for key, d in (self.datasets.items() if named else enumerate(self.datasets)):
            if callable(getattr(d, "__getitems__", None)):
                items = d.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError("Nested dataset's output size mismatch. Expected "
                                     f"{len(indices)}, got {len(items)}")
            else:
                items = [d[i] for i in indices]
            columns[key] = items
        if named:
            return [{k: columns[k][n] for k in columns} for n in range(len(indices))]
        return [tuple(columns[k][n] for k in columns) for n in range(len(indices))]

    def __len__(self):
        return self._length


def random_split(dataset, lengths, generator=None):
    """Non-overlapping ``Subset``s of the given lengths (or fractions summing to 1).

    Fractions become ``floor(n * f)`` samples each, the remainder going one by one to the first
    subsets (torch's rule).  The shuffle comes from ``generator`` (default: the global one).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:   # torch: fractions
        for i, f in enumerate(lengths):
            if not 0 <= f <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0
           for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing "
                         f"to 1, got {lengths!r}")
    order = rng_of(generator, "cpu").permutation(n).tolist()
    out, start = [], 0
    for size in lengths:
        out.append(Subset(dataset, order[start:start + size]))
        start += size
    return out


# ---- collation --------------------------------------------------------------------------------
def _is_str(x):
    return isinstance(x, (str, bytes))


def _stack_tensors(values, device):
    arrays = [backend.to_device(raw(v), device) for v in values]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(a.shape)} at entry {i}")
    if any(isinstance(v, Tensor) and v.requires_grad for v in values):
        # on the graph, as torch.stack: the batch's gradient reaches the samples
        return stack([v.to(backend.device_of(a)) if isinstance(v, Tensor) else Tensor.wrap(a)
                      for v, a in zip(values, arrays)])
    xp = backend.get_array_module(arrays[0])
    return Tensor.wrap(xp.stack([xp.asarray(a) for a in arrays]))


def default_collate(batch, device=None):
    """A list of samples -> one batch, field by field as torch's ``default_collate``.

    ``device``: where the tensors go (default: the default device).
    """
    device = backend.normalize_device(device)
    elem = batch[0]
    if isinstance(elem, Tensor) or backend.is_array(elem):
        if getattr(elem, "dtype", None) is not None and elem.dtype.kind in _NOT_NUMERIC:
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, "
                            f"numbers, dicts or lists; found {elem.dtype}")
        return _stack_tensors(batch, device)
    if _is_str(elem):   # also NumPy's str_ / bytes_ scalars
        return batch
    if _is_array_scalar(elem) and elem.dtype.kind not in _NOT_NUMERIC:
        return _stack_tensors([_host.asarray(v) for v in batch], device)
    if isinstance(elem, numbers.Integral):
        # the dtype comes from the whole batch, as torch.tensor(batch): all bools -> bool,
        # ints (and bools) -> int64, a float among them -> the default float dtype
        return Tensor(list(batch), device=device)
    if isinstance(elem, numbers.Real):
        return Tensor(list(batch), dtype="float64", device=device)
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping(elem, {key: default_collate([d[key] for d in batch], device)
                                    for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # a namedtuple
        return type(elem)(*(default_collate(s, device) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        values = [default_collate(s, device) for s in zip(*batch)]
        return values if isinstance(elem, tuple) else _same_sequence(elem, values)
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(elem)}")


_NOT_NUMERIC = "OSUVmM"   # dtype kinds that are not numbers: objects, strings, void, dates


def _same_mapping(like, values):
    """``values`` (a dict) in the mapping type of ``like``, as torch: a mutable mapping is
    copied and updated (keeping a ``defaultdict``'s factory), another one rebuilt from the
    dict; a plain dict when the type cannot be built either way."""
    try:
        if isinstance(like, collections.abc.MutableMapping):
            out = copy.copy(like)
            out.update(values)
            return out
        return type(like)(values)
    except TypeError:
        return values


def _same_sequence(like, values):
    """``values`` (a list) in the sequence type of ``like``, as torch (a plain list when the
    type cannot be copied and assigned to, or built from a list, e.g. ``range``)."""
    try:
        if isinstance(like, collections.abc.MutableSequence):
            out = copy.copy(like)
            for i, v in enumerate(values):
                out[i] = v
            return out
        return type(like)(values)
    except TypeError:
        return values


def _is_array_scalar(x):
    """A NumPy/CuPy scalar (``float32(1.5)``, ``int16(3)``, ...): it has a dtype and shape ()."""
    return hasattr(x, "dtype") and hasattr(x, "shape") and x.shape == () \
        and not isinstance(x, Tensor)


def default_convert(data):
    """Numeric arrays and array scalars inside ``data`` (at any depth) become Tensors; arrays
    of strings or objects, and everything else, are kept.  As torch, a plain tuple becomes a
    list; namedtuples, mappings and other sequences keep their type."""
    if isinstance(data, Tensor) or _is_str(data):
        return data
    if backend.is_array(data) or _is_array_scalar(data):
        if data.dtype.kind in "OSUV":
            return data
        return Tensor.wrap(data if backend.is_array(data) else _host.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {k: default_convert(data[k]) for k in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return [default_convert(v) for v in data]
    if isinstance(data, collections.abc.Sequence):
        return _same_sequence(data, [default_convert(v) for v in data])
    return data


def get_worker_info():
    """None: batches are loaded in the calling thread (there are no worker processes)."""
    return None


# ---- the loader -------------------------------------------------------------------------------
def _check_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"DataLoader: {name} must be True or False, got {value!r}")


class DataLoader:
    """Iterate over ``dataset`` in mini-batches (torch's ``DataLoader``).

    Args (torch's; see the module docstring for the worker options, which change nothing):
        dataset: a map-style ``Dataset`` (``TensorDataset`` and its ``Subset``s are batched by
            fancy indexing) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` yields single samples (arrays converted).
        shuffle: a random order each epoch (a ``RandomSampler``).
        sampler / batch_sampler: the indices, or lists of indices, to visit.
        collate_fn: ``list of samples -> batch``; ``default_collate`` by default.
        drop_last: drop the final incomplete batch.
        generator: the ``tinygrad_cv.Generator`` the shuffle draws from.
        seed (this framework's): with ``shuffle``, epoch ``e``'s order is a function of
            ``(seed, e)``, so a run can resume at any epoch (``set_epoch``,
            ``state_dict``); ``None`` (and no generator) draws one from the global generator.
        device (this framework's): where the default collation places batches (default: the
            default device at iteration time).

    Each ``iter(loader)`` is one epoch and advances ``loader.epoch``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None, device=None):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. Let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process "
                             "loading (num_workers > 0), but got num_workers=0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError("DataLoader: worker_init_fn must be callable")
        _check_bool(drop_last, "drop_last")
        if shuffle not in (None, True, False):
            raise ValueError(f"DataLoader: shuffle must be True, False or None, got {shuffle!r}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass either seed= or generator=, not both")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 "option, but got shuffle=True")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 "sampler/batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is "
                                 "mutually exclusive with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        if shuffle and seed is None and generator is None:
            seed = int(backend.get_rng("cpu").integers(0, 2 ** 31 - 1))
        if not iterable and sampler is None:
            sampler = (RandomSampler(dataset, generator=generator, seed=seed) if shuffle
                       else SequentialSampler(dataset))
        if not iterable and batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), drop_last)
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.seed = seed
        self.device = device
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.epoch = 0

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):   # defined when the stream has a len()
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def set_epoch(self, epoch):
        """Make the next ``iter()`` produce the order of ``epoch``."""
        self.epoch = int(epoch)

    def state_dict(self):
        return {"epoch": self.epoch, "seed": -1 if self.seed is None else int(self.seed)}

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        seed = int(state.get("seed", -1))
        self.seed = None if seed < 0 else seed
        if isinstance(self.sampler, RandomSampler) and self.sampler.generator is None:
            self.sampler.seed = self.seed

    def indices(self, epoch=None):
        """The sample order (a host integer array) of ``epoch`` (default: the next one), for a
        loader that shuffles with a seed or does not shuffle."""
        if isinstance(self.sampler, RandomSampler) and self.sampler.seed is not None:
            saved = self.sampler.epoch
            self.sampler.set_epoch(self.epoch if epoch is None else epoch)
            try:
                return self.sampler.index_array()
            finally:
                self.sampler.epoch = saved
        if isinstance(self.sampler, SequentialSampler):
            return self.sampler.index_array()
        raise RuntimeError("DataLoader.indices(): the order is known in advance only for "
                           "sequential loaders and shuffled ones with seed=")

    def _collate(self, samples, device):
        if self.collate_fn is None:
            return default_collate(samples, device)
        return self.collate_fn(samples)

    def __iter__(self):
        if isinstance(self.sampler, RandomSampler):
            self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        device = placement(self.device)
        if isinstance(self.dataset, IterableDataset):
            yield from self._iter_stream(device)
            return
        if self.batch_sampler is None:   # batch_size=None: one sample at a time
            for i in self.sampler:
                sample = self.dataset[i]
                yield default_convert(sample) if self.collate_fn is None \
                    else self.collate_fn(sample)
            return
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            for idx in self._index_batches():
                yield self.dataset.get_batch(idx, device=device)
            return
        getitems = getattr(self.dataset, "__getitems__", None)   # a batched fetch, as torch
        for idx in self.batch_sampler:   # the sampler's keys as they are (not only ints)
            samples = getitems(list(idx)) if getitems else [self.dataset[i] for i in idx]
            yield self._collate(samples, device)

    def _index_batches(self):
        if isinstance(self.batch_sampler, BatchSampler):
            yield from self.batch_sampler.index_batches()
        else:
            for batch in self.batch_sampler:
                yield _host.asarray(list(batch), dtype="int64")

    def _iter_stream(self, device):
        if self.batch_size is None:
            for sample in self.dataset:
                yield default_convert(sample) if self.collate_fn is None \
                    else self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._collate(batch, device)
                batch = []
        if batch and not self.drop_last:
            yield self._collate(batch, device)


__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "StackDataset", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "TensorDataset", "default_collate", "default_convert", "get_worker_info",
           "random_split"]
