"""Sparse COO tensors and sparse @ dense products (torch.sparse's names and semantics).

A COO tensor of shape ``size`` = sparse dims + dense dims stores ``indices`` (sparse_dim, nnz)
int64 and ``values`` (nnz, *dense dims): element ``indices[:, e]`` holds ``values[e]``, all
others are zero; repeated coordinates add up (``coalesce()`` sums them and sorts the
coordinates in row-major order).

Products are a fused row gather and row scatter-add (``RowGather``/``RowScatter``, each the
other's transpose; first-order, like the other fused layers: they raise under
``create_graph=True``); gradients reach the dense operand and the values (at the stored
coordinates, as ``torch.sparse.mm``).  ``to_dense`` and ``coalesce`` are the index-add
primitive, differentiable to any order::

    mm(S, D)[i] = sum_{e: row_e = i} values_e * D[col_e]          S (M, K) sparse, D (K, N)
    dL/dD[k]    = sum_{e: col_e = k} values_e * dL/dout[row_e]
    dL/dvalues_e = dL/dout[row_e] . D[col_e]

``SparseCooTensor`` is a ``Tensor`` (``isinstance`` holds, so ``tinygrad_cv.mm(S, D)``
dispatches here); dense-only operations on it raise an error saying to call ``to_dense()``.
"""
from __future__ import annotations

import numbers

from . import backend
from .autograd.function import Function
from .ops.shape import IndexAdd
from .tensor import Tensor, cat

__all__ = ["SparseCooTensor", "sparse_coo_tensor", "mm", "spmm", "addmm", "to_sparse",
           "FloatTensor", "DoubleTensor", "LongTensor"]

_INT64 = backend.dtype("int64")


def scatter_rows(g, index, rows):
    """out[index[e]] += g[e] for g (nnz, *rest) -> out (rows, *rest), repeats accumulated:
    one weighted bincount over (row, column) keys (a single pass, unlike an unbuffered
    scatter-add); accumulated in float64, returned in g's dtype."""
    xp = backend.get_array_module(g)
    width = 1
    for s in g.shape[1:]:
        width *= s
    if g.size == 0:
        return xp.zeros((rows,) + g.shape[1:], dtype=g.dtype)
    flat = g.reshape(g.shape[0], width)
    keys = (index[:, None] * width + xp.arange(width)).reshape(-1)
    out = xp.bincount(keys, weights=flat.reshape(-1), minlength=rows * width)
    return out.astype(g.dtype, copy=False).reshape((rows,) + g.shape[1:])


class RowGather(Function):
    """y = x[index] (rows of x (n, *rest));  dL/dx = scatter_rows(dL/dy, index, n)."""

    @staticmethod
    def forward(ctx, x, index=None):
        ctx.index, ctx.rows = index, x.shape[0]
        return x[index]

    @staticmethod
    def backward(ctx, g):
        return scatter_rows(g, ctx.index, ctx.rows)


class RowScatter(Function):
    """y = scatter_rows(g, index, rows);  dL/dg = dL/dy[index]."""

    @staticmethod
    def forward(ctx, g, index=None, rows=0):
        ctx.index = index
        return scatter_rows(g, index, rows)

    @staticmethod
    def backward(ctx, dy):
        return dy[ctx.index]


def _dense_only(what):
    return RuntimeError(f"{what} is not supported on a sparse COO tensor: call .to_dense() "
                        "first (sparse tensors support to_dense, coalesce, indices/values, "
                        "mm/matmul with a dense matrix, t, mul by a number)")


class SparseCooTensor(Tensor):
    """A sparse COO tensor (build it with ``sparse_coo_tensor`` or ``Tensor.to_sparse``)."""

    __slots__ = ("_idx", "_vals", "_size", "_coalesced")
    is_sparse = True

    def __init__(self, indices, values, size, coalesced=False):
        self._idx = indices                    # raw int64 array (sparse_dim, nnz)
        self._vals = values                    # Tensor (nnz, *dense dims)
        self._size = tuple(int(s) for s in size)
        self._coalesced = bool(coalesced) or self._idx.shape[1] <= 1   # as torch: 0 or 1 entry
        self.creator = None
        self.out_index = 0
        self.hooks = None
        self.retains_grad = False
        self.name = None

    # ---- what a Tensor's raw array would be: refused with a clear message --------------------
    @property
    def array(self):
        raise _dense_only("this operation (it needs the dense array)")

    @property
    def requires_grad(self):
        return self._vals.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self._vals.requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        """dL/dS at the stored coordinates (a coalesced sparse tensor), or None.  Repeated
        coordinates are one matrix entry: each copy's value gradient is dL/dS there, so it is
        taken once."""
        g = self._vals.grad
        if g is None:
            return None
        if self._coalesced or self._nnz() == 0:
            return SparseCooTensor(self._idx, g, self._size, True)
        xp = backend.get_array_module(self._idx)
        sparse_shape = self._size[:self.sparse_dim()]
        linear = xp.ravel_multi_index(tuple(self._idx), sparse_shape)
        _, first = xp.unique(linear, return_index=True)
        return SparseCooTensor(self._idx[:, first], g[Tensor.wrap(first)], self._size, True)

    @grad.setter
    def grad(self, value):
        if value is not None and not isinstance(value, SparseCooTensor):
            raise TypeError("the gradient of a sparse tensor must be a sparse tensor or None")
        self._vals.grad = None if value is None else value._vals

    @property
    def is_leaf(self):
        return self._vals.is_leaf

    @property
    def shape(self):
        return self._size

    @property
    def ndim(self):
        return len(self._size)

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return self._vals.device

    @property
    def layout(self):
        from .tensor_kind import sparse_coo
        return sparse_coo

    def size(self, dim=None):
        return self._size if dim is None else self._size[dim]

    def dim(self):
        return len(self._size)

    def numel(self):
        n = 1
        for s in self._size:
            n *= s
        return n

    def __len__(self):
        return self._size[0]

    def __repr__(self):
        from .printing import sparse_coo_repr
        creator = self._vals.creator
        return sparse_coo_repr(self._idx, self._vals.array, self._size, self._vals.device,
                               self.requires_grad,
                               None if creator is None else f"{type(creator).__name__}Backward")

    def __bool__(self):
        raise _dense_only("bool()")

    # ---- structure -------------------------------------------------------------------------
    def sparse_dim(self):
        return int(self._idx.shape[0])

    def dense_dim(self):
        return len(self._size) - self.sparse_dim()

    def _nnz(self):
        return int(self._idx.shape[1])

    def _indices(self):
        """The stored coordinates (sparse_dim, nnz) int64, as they are (even uncoalesced)."""
        return Tensor.wrap(self._idx)

    def _values(self):
        """The stored values (nnz, *dense dims), in the graph of the tensor they came from."""
        return self._vals

    def indices(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._indices()

    def values(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._vals

    def is_coalesced(self):
        return self._coalesced

    def coalesce(self):
        """Sorted unique coordinates, duplicates' values summed (differentiable)."""
        if self._coalesced:
            return self
        xp = backend.get_array_module(self._idx)
        sparse_shape = self._size[:self.sparse_dim()]
        if self._nnz() == 0:
            return SparseCooTensor(self._idx, self._vals, self._size, True)
        linear = xp.ravel_multi_index(tuple(self._idx), sparse_shape)
        unique, inverse = xp.unique(linear, return_inverse=True)
        indices = xp.stack(xp.unravel_index(unique, sparse_shape)).astype(_INT64)
        values = IndexAdd.apply(self._vals, index=(inverse.reshape(-1),),
                                shape=(len(unique),) + tuple(self._vals.shape[1:]))
        return SparseCooTensor(indices, values, self._size, True)

    def to_dense(self):
        """The dense tensor (duplicates added); its gradient flows back to the values."""
        return IndexAdd.apply(self._vals, index=tuple(self._idx), shape=self._size)

    def to_sparse(self, sparse_dim=None):
        if sparse_dim is not None and sparse_dim != self.sparse_dim():
            raise NotImplementedError("to_sparse: changing the sparse_dim of a sparse tensor is "
                                      "not supported")
        return self

    def detach(self):
        return SparseCooTensor(self._idx, self._vals.detach(), self._size, self._coalesced)

    def to(self, *args, **kwargs):
        values = self._vals.to(*args, **kwargs)
        indices = backend.to_device(self._idx, values.device)
        return SparseCooTensor(indices, values, self._size, self._coalesced)

    def float(self):
        return self.to(backend.dtype("float32"))

    def double(self):
        return self.to(backend.dtype("float64"))

    # ---- arithmetic with numbers, transposition, products ------------------------------------
    def __mul__(self, other):
        if isinstance(other, numbers.Number) and not isinstance(other, bool):
            return SparseCooTensor(self._idx, self._vals * other, self._size, self._coalesced)
        raise _dense_only("multiplying by a tensor")

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __add__(self, other):
        """sparse + sparse (same size) -> sparse (as torch: coalesced if both are, else the
        entries concatenated);
        sparse + dense raises as torch's (write dense + sparse)."""
        if not isinstance(other, SparseCooTensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                               "instead.")
        self._check_same_size(other)
        xp = backend.get_array_module(self._idx)
        indices = xp.concatenate([self._idx, backend.to_device(other._idx, self.device)], 1)
        total = SparseCooTensor(indices, cat([self._vals, other._vals.to(self._vals.dtype)]),
                                self._size)
        # torch merges two coalesced operands (a coalesced sum), else concatenates
        return total.coalesce() if self._coalesced and other._coalesced else total

    def __radd__(self, other):
        """dense + sparse (same size) -> dense; gradients reach the dense term and the values."""
        self._check_same_size(other)
        return other + self.to_dense()

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def _check_same_size(self, other):
        shape = tuple(getattr(other, "shape", ()))
        if shape != self._size:
            raise RuntimeError(f"adding a sparse tensor of size {self._size} and a tensor of "
                               f"size {shape}: sizes must match (no broadcasting)")

    def t(self):
        """The transpose of a 2-D sparse matrix (its coordinates swapped)."""
        if self.ndim != 2 or self.sparse_dim() != 2:
            raise RuntimeError(f"t(): expected a 2-D sparse matrix with 2 sparse dims, got "
                               f"shape {self._size} with {self.sparse_dim()} sparse dims")
        return SparseCooTensor(self._idx[::-1].copy(), self._vals, self._size[::-1])

    def transpose(self, dim0=0, dim1=1):
        if {dim0 % max(self.ndim, 1), dim1 % max(self.ndim, 1)} != {0, 1} or self.ndim != 2:
            raise NotImplementedError("transpose: only dims 0 and 1 of a 2-D sparse matrix")
        return self.t()

    def mm(self, mat2):
        return mm(self, mat2)

    def matmul(self, other):
        return mm(self, other)

    def __matmul__(self, other):
        return mm(self, other)

    def __rmatmul__(self, other):
        """dense @ sparse = (sparse^T @ dense^T)^T."""
        return mm(self.t(), _dense(other, "matmul").t()).t()


def _dense(value, name):
    if isinstance(value, SparseCooTensor):
        raise NotImplementedError(f"{name}: sparse @ sparse products are not supported; "
                                  "convert one operand with .to_dense()")
    return value if isinstance(value, Tensor) else Tensor(value)


def _check_indices(idx, size, values_shape):
    xp = backend.get_array_module(idx)
    sparse_dim = idx.shape[0]
    if len(size) != sparse_dim + len(values_shape) - 1:
        raise ValueError(f"sparse_coo_tensor: size {tuple(size)} must have sparse_dim "
                         f"({sparse_dim}) + dense_dim ({len(values_shape) - 1}) dims")
    if tuple(size[sparse_dim:]) != tuple(values_shape[1:]):
        raise ValueError(f"sparse_coo_tensor: the dense dims {tuple(size[sparse_dim:])} of size "
                         f"{tuple(size)} differ from the values' trailing shape "
                         f"{tuple(values_shape[1:])}")
    if idx.shape[1]:
        low = idx.min(axis=1)
        high = idx.max(axis=1)
        for d in range(sparse_dim):
            if int(low[d]) < 0 or int(high[d]) >= size[d]:
                raise ValueError(f"sparse_coo_tensor: indices of dim {d} range over "
                                 f"[{int(low[d])}, {int(high[d])}], outside the size "
                                 f"{size[d]} of that dim")
    return xp


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      pin_memory=False, requires_grad=False, check_invariants=None,
                      is_coalesced=None):
    """A sparse COO tensor from ``indices`` (sparse_dim, nnz) and ``values`` (nnz, *dense).

    ``size`` defaults to the largest index + 1 per sparse dim, then the values' dense dims.
    Indices are always checked against ``size`` (a clear error rather than a bad read), and
    ``is_coalesced=True`` against the indices (sorted, no repeats).  ``pin_memory`` has no
    effect (transfers are synchronous).
    With ``requires_grad=True`` the values become a leaf whose gradient is the tensor's
    ``.grad`` (at the stored coordinates); values that already require grad keep their graph.
    """
    idx = indices.array if isinstance(indices, Tensor) else backend.as_array(indices)
    if idx.ndim == 1 and idx.shape[0] == 0:
        idx = idx.reshape(1, 0)
    if idx.ndim != 2:
        raise ValueError(f"sparse_coo_tensor: indices must be 2-D (sparse_dim, nnz), got shape "
                         f"{tuple(idx.shape)}")
    if idx.dtype.kind not in "iu" and idx.size:
        raise ValueError(f"sparse_coo_tensor: indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(_INT64)
    if isinstance(values, Tensor):
        vals = values if dtype is None else values.to(dtype)
    else:
        vals = Tensor(values, dtype=dtype)
    if device is not None:
        vals = vals.to(device)
    idx = backend.to_device(idx, vals.device)
    if vals.ndim < 1 or vals.shape[0] != idx.shape[1]:
        raise ValueError(f"sparse_coo_tensor: values of shape {tuple(vals.shape)} must have "
                         f"nnz = {idx.shape[1]} rows (one per index column)")
    if size is None:
        high = idx.max(axis=1) + 1 if idx.shape[1] else [0] * idx.shape[0]
        size = tuple(int(h) for h in high) + tuple(vals.shape[1:])
    elif isinstance(size, numbers.Integral):
        size = (int(size),)
    size = tuple(int(s) for s in size)
    _check_indices(idx, size, tuple(vals.shape))
    if is_coalesced and idx.shape[1] > 1:
        xp = backend.get_array_module(idx)
        linear = xp.ravel_multi_index(tuple(idx), size[:idx.shape[0]])
        if not bool((linear[1:] > linear[:-1]).all()):
            raise ValueError("sparse_coo_tensor: is_coalesced=True but the indices are not "
                             "sorted without repeats; call .coalesce() instead")
    if requires_grad:
        if not backend.is_floating(vals.dtype):
            raise RuntimeError("Only Tensors of floating point dtype can require gradients")
        vals = vals.detach().clone().requires_grad_(True)      # a new leaf, as torch
    return SparseCooTensor(idx, vals, size, bool(is_coalesced))


def to_sparse(tensor, sparse_dim=None):
    """The coalesced COO form of a dense ``tensor``: its nonzero entries (of the first
    ``sparse_dim`` dims: the slices with any nonzero), values differentiable."""
    sparse_dim = tensor.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 < sparse_dim <= tensor.ndim:
        raise ValueError(f"to_sparse: sparse_dim must be in [1, {tensor.ndim}], got "
                         f"{sparse_dim}")
    a = tensor.array
    xp = backend.get_array_module(a)
    mask = a != 0
    if sparse_dim < tensor.ndim:
        mask = mask.any(axis=tuple(range(sparse_dim, tensor.ndim)))
    idx = xp.stack(xp.nonzero(mask)).astype(_INT64).reshape(sparse_dim, -1)
    values = tensor[tuple(Tensor.wrap(i) for i in idx)]
    return SparseCooTensor(idx, values, tuple(tensor.shape), True)


def mm(mat1, mat2):
    """``mat1 @ mat2`` for a 2-D sparse ``mat1`` (M, K) and a dense ``mat2`` (K, N) -> dense
    (M, N), differentiable in ``mat2`` and in ``mat1``'s values."""
    if not isinstance(mat1, SparseCooTensor):
        if isinstance(mat2, SparseCooTensor):
            return mat2.__rmatmul__(mat1)
        raise TypeError(f"sparse.mm: expected a sparse first operand, got "
                        f"{type(mat1).__name__}")
    dense = _dense(mat2, "sparse.mm")
    if mat1.ndim != 2 or mat1.sparse_dim() != 2:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix with 2 sparse dims, got "
                           f"shape {tuple(mat1.shape)} with {mat1.sparse_dim()} sparse dims")
    if dense.ndim != 2 or dense.shape[0] != mat1.shape[1]:
        raise RuntimeError(f"sparse.mm: shapes {tuple(mat1.shape)} and {tuple(dense.shape)} "
                           "cannot be multiplied")
    rows, cols = mat1._idx
    gathered = RowGather.apply(dense, index=cols) * mat1._vals.unsqueeze(1)   # (nnz, N)
    return RowScatter.apply(gathered, index=rows, rows=mat1.shape[0])


spmm = mm


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """beta * mat + alpha * (mat1 @ mat2) with a sparse ``mat1``."""
    product = mm(mat1, mat2)
    out = product if alpha == 1 else product * alpha
    return out + (mat if beta == 1 else mat * beta)


def _legacy_constructor(dtype, name):
    """torch.sparse.FloatTensor & co.: ``(indices, values[, size])`` or ``(*sizes)`` (empty)."""
    def make(*args, device=None):
        if args and all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                        for a in args):
            xp = backend.module_for_device(device)
            return sparse_coo_tensor(xp.zeros((len(args), 0), dtype=_INT64),
                                     xp.zeros((0,), dtype=backend.dtype(dtype)), args,
                                     device=device, is_coalesced=True)
        if len(args) not in (2, 3):
            raise TypeError(f"sparse.{name} takes (indices, values[, size]) or (*sizes), got "
                            f"{len(args)} arguments")
        return sparse_coo_tensor(*args, dtype=backend.dtype(dtype), device=device)
    make.__name__ = make.__qualname__ = name
    make.__doc__ = f"The legacy ``torch.sparse.{name}`` constructor ({dtype} values)."
    return make


FloatTensor = _legacy_constructor("float32", "FloatTensor")
DoubleTensor = _legacy_constructor("float64", "DoubleTensor")
LongTensor = _legacy_constructor("int64", "LongTensor")
