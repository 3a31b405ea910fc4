"""Bags of embeddings reduced without materialising the bags (torch's F.embedding_bag).

Indices are split into B bags: the rows of a 2-D input (B, L), or the ranges
offsets[b]:offsets[b + 1] of a 1-D input (the last bag runs to the end; with
``include_last_offset`` offsets has B + 1 entries, the last one the input's length).  Bag b of the rows
r_i = W[idx_i] (``padding_idx`` entries left out) gives

    'sum'   sum_i w_i r_i    (w = ``per_sample_weights``, 1 when absent; 'sum' only)
    'mean'  sum_i r_i / count
    'max'   max_i r_i        (per coordinate)

and an empty bag gives zeros.  Built from ``embedding`` (``max_norm`` and
``scale_grad_by_freq`` as there: each row's gradient divided by its count in the input; torch's
embedding_bag divides some rows by another row's count) and index_add / scatter_reduce(amax), so the gradient reaches
W (and per_sample_weights) as torch's.  Output (B, D).
"""
from __future__ import annotations

from ... import backend
from ...tensor import Tensor
from .embedding import _index_array, embedding

_MODES = ("sum", "mean", "max")


def _bool_as_int(values, name, two_d_error=False):
    """Bool indices or offsets read as integers (True = 1), as torch's embedding_bag reads
    them; a 2-D bool input raises NotImplementedError (torch's does too: it builds its bag
    offsets with an arange of the input's dtype)."""
    arr = values.array if isinstance(values, Tensor) else values
    if not backend.is_array(arr) or arr.dtype != backend.dtype("bool"):
        return values
    if two_d_error and arr.ndim == 2:
        raise NotImplementedError(f"{name}: a 2-D input of bool indices is not supported (as "
                                  f"torch); pass integer indices")
    return arr.astype(backend.dtype("int64"))


def _bag_ids(idx, offsets, include_last_offset, name):
    """(flat indices, bag id of each, number of bags)."""
    xp = backend.get_array_module(idx)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{name}: if input is 2D, then offsets has to be None, as input is "
                             f"treated is a mini-batch of fixed length sequences")
        b, length = idx.shape
        return idx.reshape(-1), xp.repeat(xp.arange(b), length), b
    if idx.ndim != 1:
        raise ValueError(f"{name}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if offsets is None:
        raise ValueError(f"{name}: offsets has to be a 1D Tensor but got None")
    off = backend.to_device(_index_array(_bool_as_int(offsets, name), name),
                            backend.device_of(idx))
    off = off.reshape(-1).astype(xp.int64)
    if off.size == 0 or int(off[0]) != 0:
        raise RuntimeError(f"{name}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0")
    if off.size > 1 and bool((off[1:] < off[:-1]).any()) or int(off[-1]) > idx.shape[0]:
        raise RuntimeError(f"{name}: offsets must be non-decreasing and at most the input "
                           f"length {idx.shape[0]}, got {off.tolist()}")
    bags = off.size - 1 if include_last_offset else off.size      # the last bag runs to the end
    ids = xp.searchsorted(off[:bags] if bags else off[:1], xp.arange(idx.shape[0]),
                          side="right") - 1
    return idx, ids, bags


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """Reduce bags of embedding rows (see the module docstring): (B, D)."""
    name = "embedding_bag"
    if mode not in _MODES:
        raise ValueError(f"{name}: mode has to be one of sum, mean or max, got {mode!r}")
    if sparse:
        raise NotImplementedError(f"{name}: sparse=True is not supported (dense gradients)")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{name}: max mode does not support scaling the gradient by the "
                         f"frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"{name}: per_sample_weights was not None. per_sample_weights "
                                  f"is only supported for mode='sum' (got mode='{mode}')")
    idx = _index_array(_bool_as_int(input, name, two_d_error=True), name)
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(idx.shape):
        raise ValueError(f"{name}: per_sample_weights of shape "
                         f"{tuple(per_sample_weights.shape)} must have the input's shape "
                         f"{tuple(idx.shape)}")
    num, dim = weight.shape
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"{name}: padding_idx must be within [-{num}, {num})")
        padding_idx %= num
    flat, ids, bags = _bag_ids(idx, offsets, include_last_offset, name)
    xp = backend.get_array_module(flat)
    keep = xp.ones(flat.shape, dtype=bool) if padding_idx is None else flat != padding_idx
    flat, ids = flat[keep], ids[keep]
    rows = embedding(Tensor.wrap(flat), weight, max_norm=max_norm, norm_type=norm_type,
                     scale_grad_by_freq=scale_grad_by_freq)
    counts = xp.bincount(ids, minlength=bags)[:bags] if ids.size else xp.zeros(bags, xp.int64)
    out = Tensor.wrap(xp.zeros((bags, dim), dtype=weight.dtype))
    index = Tensor.wrap(ids.astype(xp.int64))
    if mode == "max":
        full = index.reshape(-1, 1).expand(ids.shape[0], dim)
        return out.scatter_reduce(0, full, rows, reduce="amax", include_self=False)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1)[Tensor.wrap(xp.flatnonzero(keep))] \
            .unsqueeze(1)
    total = out.index_add(0, index, rows)
    if mode == "sum":
        return total
    return total / Tensor.wrap(xp.maximum(counts, 1).astype(weight.dtype)[:, None])


__all__ = ["embedding_bag"]
