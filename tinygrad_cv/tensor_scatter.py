"""torch's scatter/index family, blends and fused multiply-adds, as functions and methods.

Each function takes the tensor first (``tinygrad_cv.scatter(x, 0, i, s)``) and is bound as the
method of the same name (``x.scatter(0, i, s)``).  One implementation each:

* in place (``scatter_``, ``scatter_add_``, ``index_add_``, ``index_copy_``, ``index_fill_``,
  ``index_put_``, ``masked_scatter_``) writes through ``x[index] = v`` or ``add_at`` (torch's
  graph rules and version counter, ``autograd/inplace.py``); the out-of-place form is
  ``clone()`` and the in-place one;
* ``scatter_reduce`` is the primitive ``ops/scatter.py``; ``scatter_reduce_`` writes it back
  (``apply_inplace``), as do ``lerp_``, ``addcmul_``, ``addcdiv_``, ``addmm_``, ``addbmm_``
  and ``baddbmm_`` with their out-of-place forms.

Arguments are checked as torch does, with torch's exception types (an int64 index where torch
wants one, indices in range, shapes that fit).
"""
from __future__ import annotations

from . import backend
from .autograd.inplace import (add_at, apply_inplace, check_index_range, index_array,
                                scatter_index)
from .autograd.versions import torch_type_name
from .ops.scatter import REDUCTIONS, ScatterReduce
from .tensor import Tensor, _as_tensor, _axes, _raw_index, _torch_order, matmul, where

_LONG = backend.dtype("int64")


def _same_dtype(op, self, other, what):
    if isinstance(other, Tensor) and other.dtype != self.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to {what}.dtype (got "
                           f"{torch_type_name(self.dtype)} and {torch_type_name(other.dtype)})")


# ---- scatter ------------------------------------------------------------------------------------
def scatter_(input, dim, index, src=None, *, value=None, reduce=None):
    """input[..., index[i], ..., ] = src[i] (or ``value``) along ``dim``; ``reduce`` 'add' or
    'multiply' combines instead (torch's older form of ``scatter_reduce_``).  Which of repeated
    indices wins is unspecified (as torch)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter_(): expected a src tensor or a value")
    full, part = scatter_index(input, dim, index, src, "scatter")
    _same_dtype("scatter", input, src, "src")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
        if not isinstance(src, Tensor):
            shape = tuple(_as_tensor(index).shape)
            src = Tensor.wrap(backend.get_array_module(input.array).full(
                shape, src, dtype=input.dtype))
        return scatter_reduce_(input, dim, index, src, "sum" if reduce == "add" else "prod")
    input[full] = src[part] if isinstance(src, Tensor) else src
    return input


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of ``input`` with ``scatter_`` applied."""
    return scatter_(input.clone(), dim, index, src, value=value, reduce=reduce)


def scatter_add_(input, dim, index, src):
    """input[..., index[i], ...] += src[i] along ``dim`` (repeats accumulate)."""
    src = _as_tensor(src, like=input)
    full, part = scatter_index(input, dim, index, src, "scatter_add")
    _same_dtype("scatter_add", input, src, "src")
    return add_at(input, full, src[part])


def scatter_add(input, dim, index, src):
    return scatter_add_(input.clone(), dim, index, src)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``src`` reduced into ``input`` along ``dim`` (``reduce``: sum, prod, mean, amax, amin;
    ``include_self=False`` leaves input's value out where an index lands).  Gradients to input
    and src as torch (extremum ties share; prod exact at zeros); see ``ops/scatter.py``."""
    if reduce not in REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): src must be a Tensor, got {type(src).__name__}")
    full, part = scatter_index(input, dim, index, src, "scatter_reduce")
    _same_dtype("scatter_reduce", input, src, "src")
    return ScatterReduce.apply(input, src, full=full, part=part, reduce=reduce,
                               include_self=bool(include_self))


def scatter_reduce_(input, dim, index, src, reduce, *, include_self=True):
    return apply_inplace(input, lambda x, s: scatter_reduce(x, dim, index, s, reduce,
                                                            include_self=include_self), src)


# ---- index_* along one dim ---------------------------------------------------------------------
def _index_vector(op, input, dim, index, *, dtypes=("int64",), dtype_error=RuntimeError,
                  range_error=RuntimeError, wrap=False):
    """(dim, the raw 1-D int64 index) of ``op(dim, index, ...)`` after torch's checks."""
    d = _axes(dim, input.ndim)[0] if input.ndim else 0
    idx = index_array(index, input.device)
    if idx.dtype.name not in dtypes:
        raise dtype_error(f"{op}(): Expected dtype {'/'.join(dtypes)} for index, got "
                          f"{torch_type_name(idx.dtype)}")
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got dim: {idx.ndim}")
    idx = idx.reshape(-1).astype(_LONG)
    n = input.shape[d] if input.ndim else 1
    check_index_range(op, idx, d, n, low=-n if wrap else 0, error=range_error)
    return d, idx


def _check_source(op, input, d, idx, source, error):
    want = list(input.shape)
    if want:
        want[d] = idx.size
    if list(source.shape) != want and not (source.ndim == 0 and idx.size == 1):
        raise error(f"{op}(): source of shape {list(source.shape)} does not fit: expected "
                    f"{want} (self {list(input.shape)} with the number of indices ({idx.size}) "
                    f"at dim {d})")
    _same_dtype(op, input, source, "source")


def _along(input, d, idx):
    return (slice(None),) * d + (idx,)


def index_add_(input, dim, index, source, *, alpha=1):
    """The slices of ``source`` times ``alpha`` added to the slices ``index`` along ``dim``
    (repeats accumulate)."""
    d, idx = _index_vector("index_add_", input, dim, index, dtypes=("int32", "int64"))
    source = _as_tensor(source, like=input)
    _check_source("index_add_", input, d, idx, source, RuntimeError)
    if source.ndim == 0 and input.ndim:
        source = source.reshape(*[1] * input.ndim)
    return add_at(input, _along(input, d, idx), source, alpha)


def index_add(input, dim, index, source, *, alpha=1):
    return index_add_(input.clone(), dim, index, source, alpha=alpha)


def index_copy_(input, dim, index, source):
    """The slices ``index`` along ``dim`` replaced by those of ``source`` (which of repeated
    indices wins is unspecified, as torch)."""
    d, idx = _index_vector("index_copy_", input, dim, index, range_error=IndexError)
    source = _as_tensor(source, like=input)
    _check_source("index_copy_", input, d, idx, source, IndexError)
    input[_along(input, d, idx)] = source
    return input


def index_copy(input, dim, index, source):
    return index_copy_(input.clone(), dim, index, source)


def index_fill_(input, dim, index, value):
    """The slices ``index`` (negative entries count from the end) along ``dim`` set to
    ``value`` (a number or a 0-d tensor, differentiable)."""
    d, idx = _index_vector("index_fill_", input, dim, index, dtype_error=IndexError,
                           range_error=IndexError, wrap=True)
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    idx = backend.get_array_module(idx).unique(idx % max(input.shape[d] if input.ndim else 1,
                                                         1))   # (a repeat fills once)
    input[_along(input, d, idx)] = value
    return input


def index_fill(input, dim, index, value):
    return index_fill_(input.clone(), dim, index, value)


def index_put_(input, indices, values, accumulate=False):
    """input[indices] = values (``accumulate``: +=, repeats accumulate); ``indices`` a tuple of
    integer or boolean tensors, as ``input[tuple(indices)]``."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError("index_put_(): indices must be a tuple of tensors")
    for i in indices:
        if i is not None and (not isinstance(i, Tensor) or i.dtype.kind not in "iub"):
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    values = _as_tensor(values, like=input)
    raw = _torch_order(_raw_index(tuple(indices), input.device), input.array)
    part = input.array[raw].shape             # (out of range: IndexError, as torch)
    try:
        fits = backend.broadcast_shapes(values.shape, part) == part
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot "
                           f"be broadcast to indexing result of shape {list(part)}")
    if accumulate:
        return add_at(input, raw, values.expand(*part) if values.shape != part else values)
    input[tuple(indices)] = values
    return input


def index_put(input, indices, values, accumulate=False):
    return index_put_(input.clone(), indices, values, accumulate)


def masked_scatter_(input, mask, source):
    """The elements of ``source`` (in order) written where the boolean ``mask`` (broadcast to
    input's shape) holds."""
    mask = _as_tensor(mask, like=input)
    if mask.dtype != backend.dtype("bool"):
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {torch_type_name(mask.dtype)}")
    if not isinstance(source, Tensor):
        raise TypeError("masked_scatter_(): source must be a Tensor")
    if source.dtype != input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {torch_type_name(input.dtype)} and "
                           f"{torch_type_name(source.dtype)}")
    try:
        m = backend.get_array_module(mask.array).broadcast_to(mask.array, input.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter_: the mask of shape {list(mask.shape)} does not "
                           f"broadcast to self's shape {list(input.shape)}") from None
    k = int(m.sum())
    if source.numel() < k:
        raise RuntimeError(f"Number of elements of source ({source.numel()}) < number of ones "
                           f"in mask ({k})")
    input[Tensor.wrap(m)] = source.reshape(-1)[:k]
    return input


def masked_scatter(input, mask, source):
    """A copy of ``input`` (broadcast with ``mask``) with ``masked_scatter_`` applied."""
    shape = backend.broadcast_shapes(tuple(input.shape), tuple(_as_tensor(mask).shape))
    base = input.expand(*shape) if tuple(input.shape) != shape else input
    return masked_scatter_(base.clone(), mask, source)


def take_along_dim(input, indices, dim=None):
    """input's elements at ``indices`` along ``dim`` (input and indices broadcast apart from
    ``dim``; negative indices count from the end, as torch); ``dim=None``: of the flattened
    input (indices in [0, numel), as torch)."""
    if not isinstance(indices, Tensor) or indices.dtype != _LONG:
        got = torch_type_name(indices.dtype) if isinstance(indices, Tensor) else \
            type(indices).__name__
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{got}")
    if dim is None:
        input, indices, dim = input.reshape(-1), indices.reshape(-1), 0
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, "
                           f"and {indices.ndim} dimensions for indices")
    d = _axes(dim, input.ndim)[0] if input.ndim else 0
    if input.ndim:
        a = list(input.shape)
        b = list(indices.shape)
        a[d] = b[d] = 1
        try:
            shape = list(backend.broadcast_shapes(tuple(a), tuple(b)))
        except ValueError:
            raise RuntimeError(f"torch.take_along_dim(): input of shape {list(input.shape)} "
                               f"and indices of shape {list(indices.shape)} do not broadcast "
                               f"apart from dim {d}") from None
        if shape != list(input.shape[:d] + (1,) + input.shape[d + 1:]):
            input = input.expand(*(shape[:d] + [input.shape[d]] + shape[d + 1:]))
        if shape != list(indices.shape[:d] + (1,) + indices.shape[d + 1:]):
            indices = indices.expand(*(shape[:d] + [indices.shape[d]] + shape[d + 1:]))
        idx = indices.array
        n = input.shape[d]
        if idx.size and int(idx.min()) < 0:
            idx = backend.get_array_module(idx).where(idx < 0, idx + n, idx)
        return input._take_along(Tensor.wrap(idx), d)
    return input._take_along(indices, d)


# ---- blends and fused multiply-adds -----------------------------------------------------------
def _float_operands(op, input, *others):
    """The others as tensors of input's floating dtype (torch's checks)."""
    if not backend.is_floating(input.dtype):
        raise NotImplementedError(f'"{op}" not implemented for '
                                  f"'{torch_type_name(input.dtype)}'")
    out = []
    for name, o in others:
        if isinstance(o, Tensor) and o.dtype != input.dtype:
            raise RuntimeError(f"{op}(): expected dtype {torch_type_name(input.dtype)} for "
                               f"`{name}` but got dtype {torch_type_name(o.dtype)}")
        out.append(o)
    return out


def lerp(input, end, weight):
    """input + weight * (end - input), rounded as torch (end - (end - input) * (1 - weight)
    where |weight| >= 1/2);  d/dinput = 1 - weight, d/dend = weight, d/dweight = end - input."""
    input = _as_tensor(input)
    end, weight = _float_operands("lerp", input, ("end", end), ("weight", weight))
    end = _as_tensor(end, like=input)
    diff = end - input
    if not isinstance(weight, Tensor):
        return input + weight * diff if abs(weight) < 0.5 else end - diff * (1 - weight)
    return where(weight.abs() < 0.5, input + weight * diff, end - diff * (1 - weight))


def lerp_(input, end, weight):
    return apply_inplace(input, lerp, end, weight)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    product = _as_tensor(tensor1) * tensor2
    return _as_tensor(input) + (product if value == 1 else value * product)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (integer tensor1 and tensor2 raise, as torch)."""
    t1, t2 = _as_tensor(tensor1), _as_tensor(tensor2)
    if not backend.is_floating(t1.dtype) and not backend.is_floating(t2.dtype):
        raise RuntimeError("Integer division with addcdiv is no longer supported; use "
                           "tensor1.float() / tensor2 or torch.div(..., rounding_mode=...)")
    return _as_tensor(input) + (t1 / t2 if value == 1 else value * t1 / t2)


def addcmul_(input, tensor1, tensor2, *, value=1):
    return apply_inplace(input, lambda x, a, b: addcmul(x, a, b, value=value), tensor1, tensor2)


def addcdiv_(input, tensor1, tensor2, *, value=1):
    return apply_inplace(input, lambda x, a, b: addcdiv(x, a, b, value=value), tensor1, tensor2)


def _fused(input, product, beta, alpha):
    """beta * input + alpha * product (``beta = 0``: input is not read, NaN included)."""
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:          # (input gets a zero gradient, as torch)
        shape = backend.broadcast_shapes(tuple(input.shape), tuple(product.shape))
        scaled = scaled if tuple(scaled.shape) == shape else scaled.expand(*shape)
        if not input.requires_grad:
            return scaled
        keep = Tensor.wrap(backend.get_array_module(input.array).ones(shape, dtype=bool))
        return where(keep, scaled, input)
    return (input if beta == 1 else input * beta) + scaled


def _matrices(op, a, b, ndim):
    if a.ndim != ndim or b.ndim != ndim:
        raise RuntimeError(f"{op}(): expected {ndim}-D tensors, got shapes {list(a.shape)} and "
                           f"{list(b.shape)}")
    if a.shape[-1] != b.shape[-2] or (ndim == 3 and a.shape[0] != b.shape[0]):
        raise RuntimeError(f"{op}(): shapes cannot be multiplied ({list(a.shape)} and "
                           f"{list(b.shape)})")


def _check_input(op, input, shape):
    try:
        fits = backend.broadcast_shapes(tuple(input.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"{op}(): input of shape {list(input.shape)} does not broadcast to "
                           f"the product's shape {list(shape)}")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to (n, p) (a sparse mat1: the
    sparse product)."""
    from .sparse import SparseCooTensor, addmm as sparse_addmm
    if isinstance(mat1, SparseCooTensor):
        return sparse_addmm(input, mat1, mat2, beta=beta, alpha=alpha)
    input, mat1, mat2 = _as_tensor(input), _as_tensor(mat1), _as_tensor(mat2)
    _matrices("addmm", mat1, mat2, 2)
    _check_input("addmm", input, (mat1.shape[0], mat2.shape[1]))
    return _fused(input, matmul(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) per batch: (b, n, m) @ (b, m, p) -> (b, n, p)."""
    input, batch1, batch2 = _as_tensor(input), _as_tensor(batch1), _as_tensor(batch2)
    _matrices("baddbmm", batch1, batch2, 3)
    _check_input("baddbmm", input, (batch1.shape[0], batch1.shape[1], batch2.shape[2]))
    return _fused(input, matmul(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * sum_b batch1[b] @ batch2[b] (one (n, b*m) @ (b*m, p) product)."""
    input, batch1, batch2 = _as_tensor(input), _as_tensor(batch1), _as_tensor(batch2)
    _matrices("addbmm", batch1, batch2, 3)
    b, n, m = batch1.shape
    _check_input("addbmm", input, (n, batch2.shape[2]))
    product = matmul(batch1.permute(1, 0, 2).reshape(n, b * m), batch2.reshape(b * m, -1))
    return _fused(input, product, beta, alpha)


def addmm_(input, mat1, mat2, *, beta=1, alpha=1):
    return apply_inplace(input, lambda x, a, b: addmm(x, a, b, beta=beta, alpha=alpha),
                         mat1, mat2)


def baddbmm_(input, batch1, batch2, *, beta=1, alpha=1):
    return apply_inplace(input, lambda x, a, b: baddbmm(x, a, b, beta=beta, alpha=alpha),
                         batch1, batch2)


def addbmm_(input, batch1, batch2, *, beta=1, alpha=1):
    return apply_inplace(input, lambda x, a, b: addbmm(x, a, b, beta=beta, alpha=alpha),
                         batch1, batch2)


# ---- the methods ------------------------------------------------------------------------------
METHODS = ("scatter", "scatter_", "scatter_add", "scatter_add_", "scatter_reduce",
           "scatter_reduce_", "index_add", "index_add_", "index_copy", "index_copy_",
           "index_fill", "index_fill_", "index_put", "index_put_", "masked_scatter",
           "masked_scatter_", "take_along_dim", "lerp", "lerp_", "addcmul", "addcmul_",
           "addcdiv", "addcdiv_", "addmm", "addmm_", "baddbmm", "baddbmm_", "addbmm", "addbmm_")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
