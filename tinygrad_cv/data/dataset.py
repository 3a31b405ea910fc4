"""Datasets and the mini-batch loader.

``Dataset`` is anything with ``__len__`` and ``__getitem__(i) -> sample`` (a tuple of tensors,
arrays or numbers).  ``TensorDataset(*tensors)`` holds equally long tensors and is batched by
fancy indexing (one gather per tensor per batch, no per-sample Python loop).

``DataLoader(dataset, batch_size, shuffle, drop_last, seed)`` yields tuples of Tensors on the
default device (or ``device=``).  With ``shuffle=True`` the order of epoch ``e`` is the
permutation drawn from a generator seeded with ``(seed, e)``, so a loader is deterministic and
can be resumed at any epoch with ``set_epoch`` / ``load_state_dict``.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(index) -> sample``."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _raw(t):
    return t.array if isinstance(t, Tensor) else t


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
        """The batch ``tuple(t[indices])`` as Tensors on ``device`` (one gather per tensor)."""
        out = []
        for t in self.tensors:
            data = t.array
            idx = backend.to_device(indices, backend.device_of(data))
            out.append(Tensor.wrap(backend.to_device(data[idx], device)))
        if self.transform is not None:
            out[0] = self.transform(out[0])
        return tuple(out)


def _stack_field(values, device):
    """Stack one field of a list of samples into a Tensor on ``device``."""
    first = values[0]
    if isinstance(first, numbers.Number) and not isinstance(first, bool):
        dtype = "int64" if isinstance(first, numbers.Integral) else "float32"
        return Tensor(list(values), dtype=dtype, device=device)
    arrays = [backend.to_device(_raw(v), device) for v in values]
    xp = backend.get_array_module(arrays[0])
    return Tensor.wrap(xp.stack([xp.asarray(a) for a in arrays]))


def default_collate(samples, device=None):
    """A list of samples (tuples, or single items) -> a tuple of batched Tensors."""
    device = backend.normalize_device(device)
    if isinstance(samples[0], (tuple, list)):
        return tuple(_stack_field([s[k] for s in samples], device) for k in range(len(samples[0])))
    return (_stack_field(samples, device),)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Args:
        dataset: a ``Dataset`` (``TensorDataset`` is batched by fancy indexing).
        batch_size: samples per batch (the last one is smaller unless ``drop_last``).
        shuffle: draw a new permutation each epoch from ``(seed, epoch)``.
        drop_last: drop the final incomplete batch.
        seed: the shuffle seed; ``None`` draws one from the global generator
            (``tinygrad_cv.manual_seed`` makes it reproducible).
        device: where batches are placed (default: the default device at iteration time).
        collate_fn: ``list of samples -> tuple of Tensors`` for generic datasets.

    Each ``iter(loader)`` is one epoch and advances ``loader.epoch``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 device=None, collate_fn=None):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        if seed is None and shuffle:
            seed = int(backend.get_rng("cpu").integers(0, 2 ** 31 - 1))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.device = device
        self.collate_fn = collate_fn or default_collate
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch):
        """Make the next ``iter()`` produce the order of ``epoch``."""
        self.epoch = int(epoch)

    def state_dict(self):
        return {"epoch": self.epoch, "seed": -1 if self.seed is None else int(self.seed)}

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        seed = int(state.get("seed", -1))
        self.seed = None if seed < 0 else seed

    def indices(self, epoch=None):
        """The sample order (a host integer array) of ``epoch`` (default: the next one)."""
        np_ = backend.module_for_device("cpu")
        n = len(self.dataset)
        if not self.shuffle:
            return np_.arange(n)
        epoch = self.epoch if epoch is None else epoch
        return np_.random.default_rng([int(self.seed), int(epoch)]).permutation(n)

    def __iter__(self):
        order = self.indices()
        self.epoch += 1
        device = backend.normalize_device(self.device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            if hasattr(self.dataset, "get_batch"):
                yield self.dataset.get_batch(idx, device=device)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in idx], device)
