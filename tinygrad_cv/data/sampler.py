"""Samplers (torch.utils.data's): which dataset indices a loader visits, in which order.

- ``SequentialSampler(data_source)``: 0, 1, ..., n-1.
- ``RandomSampler(data_source, replacement=False, num_samples=None, generator=None)``: a
  permutation (repeated as needed for ``num_samples`` > n) or draws with replacement.  The
  numbers come from ``generator`` or, without one, from a seed drawn from the global
  generator for each pass (so ``tinygrad_cv.manual_seed`` makes the order reproducible).
  ``seed=`` (this framework's) instead fixes each pass's order as a function of
  ``(seed, epoch)`` (``set_epoch``), for resumable training.
- ``SubsetRandomSampler(indices, generator=None)``: the given indices in random order.
- ``WeightedRandomSampler(weights, num_samples, replacement=True, generator=None)``.
- ``BatchSampler(sampler, batch_size, drop_last)``: lists of ``batch_size`` indices.

Every sampler here also has ``index_array()``: the whole pass as one host integer array, so
the loader batches by slicing it (no per-index Python loop).  The random streams are NumPy's,
so random orders differ from torch's for the same seed; sequential orders are the same.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..generator import rng_of

_host = backend.module_for_device("cpu")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class _ArraySampler(Sampler):
    """A sampler whose pass is computed as host arrays: ``index_array()`` (the whole pass) and
    ``index_chunks()`` (the pass in consecutive pieces; one piece unless overridden)."""

    def index_array(self):
        raise NotImplementedError

    def index_chunks(self):
        yield self.index_array()

    def __iter__(self):
        for chunk in self.index_chunks():
            yield from chunk.tolist()


class SequentialSampler(_ArraySampler):
    """Indices 0 .. len(data_source) - 1 in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def index_array(self):
        return _host.arange(len(self.data_source))

    def __len__(self):
        return len(self.data_source)


def _pass_rng(generator, seed, epoch):
    """The generator for one pass: (seed, epoch)'s, ``generator``'s, or a fresh global draw."""
    if seed is not None:
        return _host.random.default_rng([int(seed), int(epoch)])
    if generator is not None:
        return rng_of(generator)
    return _host.random.default_rng(int(backend.get_rng("cpu").integers(0, 2 ** 63 - 1)))


class RandomSampler(_ArraySampler):
    """A random order of the dataset (a permutation, or draws with replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None, *,
                 seed=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        _positive_int(len(data_source) if num_samples is None else num_samples, "num_samples")
        if seed is not None and generator is not None:
            raise ValueError("RandomSampler: pass either seed= or generator=, not both")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self.seed = seed
        self.epoch = 0

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def set_epoch(self, epoch):
        """With ``seed=``: the next pass is the order of ``epoch``."""
        self.epoch = int(epoch)

    CHUNK = 1 << 16     # draws with replacement are made this many at a time, as needed

    def index_array(self):
        return _host.concatenate(list(self.index_chunks()) or [_host.arange(0)])

    def index_chunks(self):
        """The pass in pieces: draws with replacement ``CHUNK`` at a time (so
        ``num_samples=10**10`` costs nothing until iterated, as torch's), permutations whole."""
        n, m = len(self.data_source), self.num_samples
        rng = _pass_rng(self.generator, self.seed, self.epoch)
        self.epoch += 1
        if self.replacement:
            for start in range(0, m, self.CHUNK):
                yield rng.integers(0, n, size=min(self.CHUNK, m - start))
            return
        reps = -(-m // n) if n else 0
        yield _host.concatenate([rng.permutation(n) for _ in range(reps)] or
                                [_host.arange(0)])[:m]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """The given ``indices`` in a random order (a new one each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def index_array(self):
        idx = _host.asarray(list(self.indices) if not hasattr(self.indices, "shape")
                            else backend.to_numpy(getattr(self.indices, "array", self.indices)),
                            dtype="int64").reshape(-1)
        return idx[_pass_rng(self.generator, None, 0).permutation(len(idx))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(_ArraySampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _positive_int(num_samples, "num_samples")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement!r}")
        w = backend.to_numpy(getattr(weights, "array", weights)) if hasattr(weights, "shape") \
            else _host.asarray(list(weights))
        w = _host.asarray(w, dtype="float64")
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if w.size == 0 or (w < 0).any() or not _host.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite, non-negative "
                               "and not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise RuntimeError("WeightedRandomSampler: cannot draw more samples than there are "
                               "non-zero weights without replacement")
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def index_array(self):
        rng = _pass_rng(self.generator, None, 0)
        return rng.choice(self.weights.size, size=self.num_samples, replace=self.replacement,
                          p=self.weights / self.weights.sum())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def index_batches(self):
        """Each batch as a host integer array (slices of the sampler's pass when it has one)."""
        if isinstance(self.sampler, _ArraySampler):
            carry = _host.arange(0)
            for chunk in self.sampler.index_chunks():
                order = _host.concatenate([carry, chunk]) if len(carry) else chunk
                stop = len(order) - len(order) % self.batch_size
                for start in range(0, stop, self.batch_size):
                    yield order[start:start + self.batch_size]
                carry = order[stop:]
            if len(carry) and not self.drop_last:
                yield carry
            return
        for batch in self._lists():
            yield _host.asarray([int(i) for i in batch], dtype="int64")

    def _lists(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self):
        """Lists of indices: ints from an array sampler, else the sampler's own items (any
        key the dataset takes, as torch)."""
        if not isinstance(self.sampler, _ArraySampler):
            yield from self._lists()
            return
        for idx in self.index_batches():
            yield idx.tolist()

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
