"""Table lookup (``embedding``) and ``one_hot``.

embedding: indices (*) int, weight (num_embeddings, dim) -> (*, dim), y[..., :] = W[idx, :].

``max_norm``: before the lookup, each row of W that ``idx`` picks and whose ``norm_type``-norm
exceeds ``max_norm`` is scaled in place, without gradient, to ``max_norm / (norm + 1e-7)``
times itself (torch's ``embedding_renorm_``).  ``scale_grad_by_freq``: each row's gradient is
divided by the number of times the row occurs in ``idx``.
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from ...tensor import Tensor


class IndexDtypeError(RuntimeError, TypeError):
    """Indices of a non-integer dtype: torch raises RuntimeError; it is also a TypeError."""


def _index_array(indices, name):
    arr = indices.array if isinstance(indices, Tensor) else indices
    if not backend.is_array(arr):
        arr = backend.as_array(arr)
    if not backend.is_integer_or_bool(arr.dtype) or arr.dtype == backend.dtype("bool"):
        raise IndexDtypeError(f"{name}: expected integer (Long or Int) indices, got dtype "
                              f"{arr.dtype}")
    return arr


class EmbeddingFn(Function):
    """y = W[idx];  dL/dW = rows of g added at idx (repeats accumulate; divided by each row's
    count in idx with ``scale_grad_by_freq``); the ``padding_idx`` row gets no gradient (as
    torch)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        ctx.save_for_backward(indices)
        ctx.weight_shape = weight.shape
        ctx.padding_idx = padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        xp = backend.get_array_module(g)
        num, dim = ctx.weight_shape
        gw = xp.zeros((num, dim), dtype=g.dtype)
        flat = indices.reshape(-1)
        backend.scatter_add(gw, flat, g.reshape(-1, dim))
        if ctx.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=num)
            gw /= xp.maximum(counts, 1).astype(gw.dtype)[:, None]
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None


def _renorm_rows(weight, idx, max_norm, norm_type):
    """torch's ``embedding_renorm_``: the rows of ``weight`` (raw array, changed in place) at
    ``idx`` whose ``norm_type``-norm exceeds ``max_norm`` scaled to about that norm."""
    xp = backend.get_array_module(weight)
    rows = xp.unique(idx.reshape(-1))
    picked = weight[rows]
    a = xp.abs(picked)
    if norm_type == float("inf"):
        norms = a.max(axis=1)
    elif norm_type == 0:
        norms = (a != 0).sum(axis=1).astype(weight.dtype)
    else:
        norms = (a ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if bool(over.any()):
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
        weight[rows[over]] = picked[over] * scale[:, None]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by the integer indices ``input`` (any shape); ``max_norm`` and
    ``scale_grad_by_freq`` as in the module docstring; ``sparse=True`` raises
    NotImplementedError (the gradient is dense)."""
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported (dense gradients)")
    idx = _index_array(input, "embedding")
    num = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        raise IndexError(f"embedding: indices must lie in [0, {num}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within [-{num}, {num})")
        padding_idx = padding_idx % num
    idx = backend.to_device(idx, weight.device)
    if max_norm is not None and idx.size:
        _renorm_rows(weight.array, idx, float(max_norm), float(norm_type))
    return EmbeddingFn.apply(weight, idx, padding_idx=padding_idx,
                             scale_grad_by_freq=bool(scale_grad_by_freq))


def one_hot(input, num_classes=-1):
    """int64 tensor of shape (*, num_classes) with a 1 at each index of ``input``
    (``num_classes=-1``: max index + 1)."""
    idx = _index_array(input, "one_hot")
    xp = backend.get_array_module(idx)
    if idx.size and int(idx.min()) < 0:
        raise ValueError("one_hot: class values must be non-negative")
    if num_classes < 0:
        if not idx.size:
            raise RuntimeError("one_hot: can not infer the number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = int(idx.max()) + 1
    elif idx.size and int(idx.max()) >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, "
                         f"got {int(idx.max())}")
    out = (idx[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return Tensor.wrap(out)
