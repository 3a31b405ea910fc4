"""``DistributedSampler``: each rank's share of a data set's indices (torch's semantics).

With ``n`` samples and ``R`` replicas, every rank gets ``num_samples`` indices:

* ``drop_last=False``: ``num_samples = ceil(n / R)``; the order is padded with its own first
  indices (repeated if needed) up to ``total_size = R * num_samples``;
* ``drop_last=True``: ``num_samples = ceil((n - R) / R)`` (= ``floor(n / R)``) and the order is
  cut to ``total_size``;

and rank ``r`` takes ``order[r : total_size : R]``.  Shards are disjoint up to the padding and
together cover the data set (all of it unless ``drop_last``).  With ``shuffle`` the order of
epoch ``e`` is the permutation drawn from NumPy's generator seeded with ``(seed, e)``, the
order ``DataLoader(dataset, shuffle=True, seed=seed)`` gives epoch ``e``, so step ``k`` of a
run over ``R`` ranks with per-rank batch ``b`` sees, across its ranks, exactly batch ``k`` of
one process with batch ``R * b`` (apart from the padding).
Call ``set_epoch(e)`` before each epoch, as with torch (the ``Trainer`` does).
"""
from __future__ import annotations

import math
import numbers

from .. import backend
from ..data.sampler import Sampler

__all__ = ["DistributedSampler"]


def _int(value, what):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"DistributedSampler: {what} must be an integer, got {value!r}")
    return int(value)


class DistributedSampler(Sampler):
    """Iterate over this rank's indices of ``dataset`` (see the module docstring).

    ``num_replicas`` and ``rank`` default to the default process group's world size and rank.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from . import process_group as pg

            if not pg.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "init_process_group() first")
            num_replicas = pg.get_world_size() if num_replicas is None else num_replicas
            rank = pg.get_rank() if rank is None else rank
        num_replicas = _int(num_replicas, "num_replicas")
        rank = _int(rank, "rank")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = bool(shuffle)
        self.seed = _int(seed, "seed")
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        """Use the permutation of ``epoch`` (same on every rank) from the next iteration."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def index_array(self):
        """This rank's indices for the current epoch (a host int64 array)."""
        n = len(self.dataset)
        host = backend.module_for_device("cpu")
        order = host.random.default_rng([self.seed, self.epoch]).permutation(n) \
            if self.shuffle else host.arange(n)
        if not self.drop_last:
            missing = self.total_size - n
            if missing > 0:     # pad with the order's own first indices, repeated if needed
                xp = backend.get_array_module(order)
                order = xp.concatenate([order, xp.tile(order, math.ceil(missing / n))[:missing]])
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.index_array().tolist())
