"""Table lookup (``embedding``) and ``one_hot``.

embedding: indices (*) int, weight (num_embeddings, dim) -> (*, dim), y[..., :] = W[idx, :].
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from ...tensor import Tensor


def _index_array(indices, name):
    arr = indices.array if isinstance(indices, Tensor) else indices
    if not backend.is_array(arr):
        arr = backend.as_array(arr)
    if not backend.is_integer_or_bool(arr.dtype) or arr.dtype == backend.dtype("bool"):
        raise TypeError(f"{name}: expected integer indices, got dtype {arr.dtype}")
    return arr


class EmbeddingFn(Function):
    """y = W[idx];  dL/dW = rows of g added at idx (repeats accumulate); the ``padding_idx``
    row gets no gradient (as torch)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None):
        ctx.save_for_backward(indices)
        ctx.weight_shape = weight.shape
        ctx.padding_idx = padding_idx
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        xp = backend.get_array_module(g)
        num, dim = ctx.weight_shape
        gw = xp.zeros((num, dim), dtype=g.dtype)
        backend.scatter_add(gw, indices.reshape(-1), g.reshape(-1, dim))
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` picked by integer ``indices`` (any shape)."""
    idx = _index_array(indices, "embedding")
    num = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        raise IndexError(f"embedding: indices must lie in [0, {num}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within [-{num}, {num})")
        padding_idx = padding_idx % num
    return EmbeddingFn.apply(weight, backend.to_device(idx, weight.device), padding_idx=padding_idx)


def one_hot(indices, num_classes=-1):
    """int64 tensor of shape (*, num_classes) with a 1 at each index (``num_classes=-1``:
    max index + 1)."""
    idx = _index_array(indices, "one_hot")
    xp = backend.get_array_module(idx)
    if idx.size and int(idx.min()) < 0:
        raise ValueError("one_hot: class values must be non-negative")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    elif idx.size and int(idx.max()) >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, "
                         f"got {int(idx.max())}")
    out = (idx[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return Tensor.wrap(out)
