"""torch's indexing, copying, splitting and type-promotion helpers, as functions (and methods
where torch has them): ``take``, ``argwhere``, ``ravel``, ``clone``, ``narrow_copy``, ``msort``,
``isin``, ``tensor_split``/``hsplit``/``vsplit``/``dsplit``, ``unravel_index``,
``select_scatter``/``slice_scatter``/``diagonal_scatter``, ``triu_indices``/``tril_indices``,
``combinations``, ``broadcast_tensors``/``broadcast_shapes``, ``is_nonzero``, ``is_same_size``,
and the dtype rules ``result_type``, ``promote_types``, ``can_cast``.

The differentiable ones are compositions (indexing, in-place writes into a clone: torch's
graph rules), so their gradients are those of the operations they are made of.  The dtype
functions apply the arithmetic operators' own promotion (``tensor._operand_tensors``,
``tensor._promoted``): one implementation of torch's rules.
"""
from __future__ import annotations

import itertools
import numbers

from . import backend
from .autograd.inplace import apply_inplace
from .tensor import Tensor, _KIND_RANK, _as_tensor, _axes, _operand_tensors, _promoted
from .memory_formats import contiguous_format

_INT64 = backend.dtype("int64")


# ---- gathering and copying --------------------------------------------------------------------
def take(input, index):
    """The elements of the flattened input at ``index`` (int64), shaped like index."""
    x = _as_tensor(input)
    idx = _as_tensor(index)
    if idx.dtype != _INT64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {idx.dtype}")
    n = x.numel()
    if idx.numel() and (int(idx.array.min()) < -n or int(idx.array.max()) >= n):
        raise IndexError(f"take(): index out of range for tensor of size {tuple(x.shape)} "
                         f"({n} elements)")
    return x.reshape(-1)[idx]


def argwhere(input):
    """The indices of the non-zero elements, (n, ndim) int64 (``nonzero``)."""
    return _as_tensor(input).nonzero()


def ravel(input):
    """The elements as a 1-D tensor (a view when the layout allows)."""
    return _as_tensor(input).reshape(-1)


def clone(input, *, memory_format=None):
    """A copy on the graph (``Tensor.clone``, in ``memory_format``'s layout)."""
    return _as_tensor(input).clone(memory_format=memory_format)


def narrow_copy(input, dim, start, length):
    """A copy of ``narrow(dim, start, length)``."""
    return _as_tensor(input).narrow(dim, start, length).clone()


def msort(input):
    """The values sorted along dim 0."""
    return _as_tensor(input).sort(dim=0)[0]


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of ``elements`` is among ``test_elements`` (either may be a
    number); ``invert`` negates."""
    e = _as_tensor(elements)
    t = _as_tensor(test_elements, like=e)
    xp = backend.get_array_module(e.array)
    return Tensor.wrap(xp.isin(e.array, t.array, assume_unique=assume_unique, invert=invert))


# ---- splits ---------------------------------------------------------------------------------------
def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    """Views of input along ``dim``: ``sections`` parts (the first ``size % sections`` one
    longer), or split before each of the ``indices`` (torch's keyword names too)."""
    x = _as_tensor(input)
    given = [v for v in (indices_or_sections, sections, indices, tensor_indices_or_sections)
             if v is not None]
    if len(given) != 1:
        raise TypeError("tensor_split() expected exactly one of indices_or_sections, sections, "
                        "indices, tensor_indices_or_sections")
    spec = given[0]
    if x.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _axes(dim, x.ndim)[0]
    size = x.shape[d]
    if isinstance(spec, Tensor):
        if spec.dtype.kind not in "iu" or spec.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have "
                               "integer dtype and to be a 0-D or 1-D tensor")
        spec = int(spec.item()) if spec.ndim == 0 else [int(i) for i in spec.tolist()]
    if isinstance(spec, numbers.Integral):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        base, extra = divmod(size, int(spec))
        bounds, start = [], 0
        for i in range(int(spec)):
            start += base + (1 if i < extra else 0)
            bounds.append(start)
        bounds = bounds[:-1]
    else:
        bounds = [int(i) for i in spec]
    edges = [0] + bounds + [None]             # Python's slicing (negative indices wrap)
    key = (slice(None),) * d
    return tuple(x[key + (slice(a, b),)] for a, b in zip(edges[:-1], edges[1:]))


def _split_along(name, input, spec, dim, min_ndim):
    x = _as_tensor(input)
    if x.ndim < min_ndim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension, "
                           f"but got a tensor with {x.ndim} dimensions!")
    if isinstance(spec, numbers.Integral) and (spec == 0 or x.shape[dim] % spec):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size "
                           f"of the dimension {x.shape[dim]} is not divisible by the split_size "
                           f"{spec}!")
    return tensor_split(x, spec, dim)


def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor); sections must divide evenly."""
    x = _as_tensor(input)
    return _split_along("hsplit", x, indices_or_sections, 1 if x.ndim > 1 else 0, 1)


def vsplit(input, indices_or_sections):
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def unravel_index(indices, shape):
    """The coordinates (one int64 tensor per dim of ``shape``) of flat ``indices``."""
    idx = _as_tensor(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {idx.dtype}")
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    total = 1
    for s_ in shape:
        total *= s_
    if idx.numel() and (int(idx.array.min()) < -total or int(idx.array.max()) >= total):
        raise RuntimeError("unravel_index: 'indices' must be in range [-prod(shape), "
                           "prod(shape) - 1]")
    xp = backend.get_array_module(idx.array)
    flat = xp.where(idx.array < 0, idx.array + total, idx.array)
    return tuple(Tensor.wrap(c.astype(_INT64)) for c in xp.unravel_index(flat, shape))


# ---- scatters into a copy -----------------------------------------------------------------------
def select_scatter(input, src, dim, index):
    """A copy of input with ``src`` written at ``index`` along ``dim``."""
    x = _as_tensor(input)
    d = _axes(dim, x.ndim)[0]
    out = x.clone()
    key = (slice(None),) * d + (index,)
    _check_src("select_scatter", out[key], src)
    out[key] = src
    return out


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of input with ``src`` written at ``start:end:step`` along ``dim``."""
    x = _as_tensor(input)
    d = _axes(dim, x.ndim)[0]
    out = x.clone()
    key = (slice(None),) * d + (slice(start, end, step),)
    _check_src("slice_scatter", out[key], src)
    out[key] = src
    return out


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of input with ``src`` written on its diagonal ``offset`` of the (dim1, dim2)
    planes (the layout of ``diagonal``: that diagonal last)."""
    x = _as_tensor(input)
    out = x.clone()
    view = out.diagonal(offset, dim1, dim2)
    _check_src("diagonal_scatter", view, src)
    view.copy_(src)
    return out


def _check_src(name, target, src):
    if tuple(_as_tensor(src).shape) != tuple(target.shape):
        raise RuntimeError(f"{name}(): expected src to have a size equal to the slice of self. "
                           f"src size = {list(_as_tensor(src).shape)}, slice size = "
                           f"{list(target.shape)}")


def put(input, index, source, accumulate=False):
    """A copy of input with ``source`` written (or, with ``accumulate``, added) at the flat
    ``index`` positions (int64, any shape; source of index's size)."""
    return _as_tensor(input).clone(memory_format=contiguous_format).put_(index, source,
                                                                        accumulate)


def put_(input, index, source, accumulate=False):
    """In place: input.flatten()[index] = source (+= with ``accumulate``; repeated indices
    then add up); a non-contiguous input gets the result of ``put`` copied in."""
    x = _as_tensor(input)
    idx = _as_tensor(index)
    if idx.dtype != _INT64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {idx.dtype}")
    src = _as_tensor(source, like=x)
    if src.numel() != idx.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {src.numel()}, index.numel() = "
                           f"{idx.numel()}")
    n = x.numel()
    if idx.numel() and (int(idx.array.min()) < -n or int(idx.array.max()) >= n):
        raise IndexError(f"put_(): index out of range for tensor of {n} elements")
    if not x.is_contiguous():         # (positions in the logical row-major order)
        return x.copy_(put(x, idx, src, accumulate))
    flat = x.view(-1)
    positions = idx.reshape(-1)
    values = src.reshape(-1).to(x.dtype)
    if accumulate:
        flat.index_put_((positions,), values, accumulate=True)
    else:
        flat[positions] = values
    return x


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``source``'s slices along ``dim`` reduced into input's slices ``index`` ('prod',
    'mean', 'amax', 'amin'; ``include_self=False`` leaves input's value out where an index
    lands): ``scatter_reduce`` with the index spread over source's shape."""
    x = _as_tensor(input)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    d = _axes(dim, max(x.ndim, 1))[0]
    src = _as_tensor(source, like=x)
    idx = _as_tensor(index)
    if idx.ndim > 1 or idx.numel() != (src.shape[d] if src.ndim else 1):
        raise IndexError("index_reduce_(): Index should have dimension 1 or 0 and its size "
                         "must match the source's size along dim")
    shape = [1] * src.ndim
    if src.ndim:
        shape[d] = -1
    full = idx.reshape(*shape).expand(*src.shape) if src.ndim else idx.reshape(())
    return x.scatter_reduce(d, full, src, reduce, include_self=include_self)


def index_reduce_(input, dim, index, source, reduce, *, include_self=True):
    return apply_inplace(input, lambda x, s: index_reduce(x, dim, index, s, reduce,
                                                          include_self=include_self), source)


def fill_diagonal_(input, fill_value, wrap=False):
    """In place: ``fill_value`` on the main diagonal (all dims of equal length, or a tall 2-D
    matrix, whose diagonal restarts after N + 1 rows with ``wrap``)."""
    x = _as_tensor(input)
    if x.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = backend.get_array_module(x.array)
    mask = xp.zeros(x.shape, dtype=bool)
    if x.ndim == 2:
        rows, cols = x.shape
        step = cols + 1
        limit = rows * cols if wrap and rows > cols + 1 else min(rows, cols) * cols
        mask.reshape(-1)[0:limit:step] = True
    else:
        k = xp.arange(x.shape[0])
        mask[(k,) * x.ndim] = True
    return x.masked_fill_(Tensor.wrap(mask), fill_value)


def sum_to_size(input, *size):
    """input summed over its broadcast dims down to ``size`` (expandable to input's shape)."""
    x = _as_tensor(input)
    shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], numbers.Integral) \
        else tuple(size)
    lead = x.ndim - len(shape)
    if lead < 0 or any(s not in (1, t) for s, t in zip(shape, x.shape[lead:])):
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(x.shape)}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and x.shape[lead + i] != 1)
    out = x.sum(dim=dims, keepdim=True) if dims else x
    return out.reshape(*shape)


# ---- index constructions ------------------------------------------------------------------------
def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, N) row and column indices of the upper triangle (from diagonal ``offset``) of a
    row x col matrix, in row-major order."""
    return _triangle("triu_indices", row, col, offset, dtype, device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, N) indices of the lower triangle (up to diagonal ``offset``)."""
    return _triangle("tril_indices", row, col, offset, dtype, device)


def _triangle(name, row, col, offset, dtype, device):
    if row < 0 or col < 0:
        raise RuntimeError(f"{name}: row and col must be non-negative, got {row}, {col}")
    xp = backend.module_for_device(device or backend.get_default_device())
    rows, cols = xp.indices((int(row), int(col)))
    keep = (cols - rows >= offset) if name == "triu_indices" else (cols - rows <= offset)
    out = xp.stack([rows[keep], cols[keep]])
    return Tensor.wrap(out.astype(dtype or _INT64))


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of the elements of a 1-D tensor, (C, r) (differentiable)."""
    x = _as_tensor(input)
    if x.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(x.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return x[:0]
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = list(pick(range(x.shape[0]), r))
    if not idx:
        return x[:0].reshape(0, r)
    index = backend.as_array(idx, dtype="int64", device=x.device)
    return x[index]


# ---- shapes -----------------------------------------------------------------------------------
def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (ints count as 1-D shapes)."""
    return tuple(backend.broadcast_shapes(*[(s,) if isinstance(s, numbers.Integral) else
                                              tuple(s) for s in shapes]))


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape (views)."""
    ts = [_as_tensor(t) for t in tensors]
    shape = broadcast_shapes(*[tuple(t.shape) for t in ts])
    return tuple(t if tuple(t.shape) == shape else t.expand(*shape) for t in ts)


def is_nonzero(input):
    """The truth of a one-element tensor (more elements, or none, raise as torch)."""
    x = _as_tensor(input)
    if x.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if x.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(x.item())


def is_same_size(input, other):
    return tuple(_as_tensor(input).shape) == tuple(_as_tensor(other).shape)


# ---- dtype rules --------------------------------------------------------------------------------
def result_type(tensor1, tensor2):
    """The dtype of an arithmetic operation on the two (tensors or numbers), as torch."""
    if not isinstance(tensor1, Tensor) and not isinstance(tensor2, Tensor):
        kinds = [_number_rank(v) for v in (tensor1, tensor2)]
        return backend.dtype(("bool", "int64", "float32")[max(kinds)])
    a, b = _operand_tensors(tensor1, tensor2)
    return a.dtype if a.dtype == b.dtype else promote_types(a.dtype, b.dtype)


def _number_rank(value):
    if isinstance(value, bool):
        return 0
    if isinstance(value, numbers.Integral):
        return 1
    if isinstance(value, numbers.Real):
        return 2
    raise TypeError(f"result_type(): expected Tensors or numbers, got {type(value).__name__}")


def promote_types(type1, type2):
    """The smallest dtype both cast to under torch's promotion (integers with a floating type
    take the floating type, whatever its size)."""
    xp = backend.module_for_device("cpu")
    a = Tensor.wrap(xp.zeros(1, dtype=backend.dtype(type1)))
    b = Tensor.wrap(xp.zeros(1, dtype=backend.dtype(type2)))
    a, b = _promoted(a, b)
    return a.dtype if a.dtype == b.dtype else xp.promote_types(a.dtype, b.dtype)


def can_cast(from_, to):
    """Whether torch's casting rules allow ``from_`` -> ``to``: never to a lower category
    (floating -> integer -> bool), any size within a category."""
    rank = lambda d: _KIND_RANK.get(backend.dtype(d).kind, 3)
    return rank(from_) <= rank(to)


# ---- the methods -------------------------------------------------------------------------------
METHODS = ("take", "argwhere", "ravel", "narrow_copy", "msort", "select_scatter",
           "slice_scatter", "diagonal_scatter", "is_nonzero", "is_same_size", "isin",
           "tensor_split", "hsplit", "vsplit", "dsplit", "put", "put_", "index_reduce",
           "index_reduce_", "fill_diagonal_", "sum_to_size")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
