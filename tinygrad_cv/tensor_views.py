"""torch's view and rearranging functions beyond the kernel's, as functions and methods:
``select, movedim/moveaxis, swapdims/swapaxes, unflatten, diagonal, unfold``, ``H``,
``mH``/``adjoint`` (views: they share the storage and version counter of their base, and
in-place changes through them follow torch's graph rules, ``autograd/inplace.py``),
``stride``, ``tril_/triu_``,
``fliplr/flipud, rot90, tile, repeat_interleave``, ``atleast_1d/2d/3d``, ``meshgrid``
(expanded views, as torch), ``cartesian_prod`` and ``hstack/vstack/row_stack/dstack/
column_stack``.

Each function takes the tensor first and is bound as the method of the same name (the
module-level-only ones are ``meshgrid``, ``cartesian_prod``, the stacks and ``atleast_*``).
Everything is differentiable through the kernel's primitives (``ops/shape.py``: ``Diagonal``
and ``Unfold`` are the two new ones).  Arguments are checked as torch checks them, with its
exception types.
"""
from __future__ import annotations

import warnings

from . import backend
from .autograd.inplace import apply_inplace
from .autograd.versions import share_version
from .ops.shape import Diagonal, Unfold
from .tensor import Tensor, _as_tensor, _axes, cat, stack


# ---- views ---------------------------------------------------------------------------------
def select(input, dim, index):
    """input[..., index, ...] with ``index`` on dim ``dim`` (a view with that dim removed)."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _axes(dim, input.ndim)[0]
    n = input.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {dim}")
    return input[(slice(None),) * d + (index,)]


def _dim_list(dims, ndim, what):
    dims = [dims] if isinstance(dims, int) else list(dims)
    axes = [_axes(d, ndim)[0] for d in dims]
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"movedim: repeated dim in `{what}` ({dims})")
    return axes


def movedim(input, source, destination):
    """The dims ``source`` moved to the places ``destination`` (ints or sequences), the
    others keeping their order (a view)."""
    src = _dim_list(source, input.ndim, "source")
    dst = _dim_list(destination, input.ndim, "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({source} "
                           f"dims) should contain the same number of dims as destination "
                           f"({destination} dims)")
    order = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(input.ndim) if d not in src)
    order = [next(rest) if o is None else o for o in order]
    return input.permute(*order)


moveaxis = movedim


def swapdims(input, dim0, dim1):
    """``transpose(dim0, dim1)`` (a view)."""
    return input.transpose(dim0, dim1)


swapaxes = swapdims


def unflatten(input, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (one of them may be -1) (a view where possible)."""
    d = _axes(dim, input.ndim)[0]
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    n = input.shape[d]
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (
            -1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return input.reshape(input.shape[:d] + sizes + input.shape[d + 1:])


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` (above the main one when > 0) of the planes (dim1, dim2), as the
    last dim (a view: writing it writes input)."""
    d1, d2 = _axes(dim1, input.ndim)[0], _axes(dim2, input.ndim)[0]
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    args = (int(offset), d1, d2)
    return share_version(Diagonal.apply(input, offset=args[0], dim1=d1, dim2=d2), input,
                         "diagonal", args)


def unfold(input, dimension, size, step):
    """The windows of ``size`` every ``step`` along ``dimension``: shape (..., n_windows, ...,
    size) with n_windows = (n - size) // step + 1 (a view; writing it needs windows that do not
    overlap, as torch)."""
    if input.ndim == 0:       # (a 0-d tensor: one window of its value, or none)
        _axes(dimension, 1)
        if size > 1:
            raise RuntimeError(f"maximum size for tensor at dimension 0 is 1 but size is {size}")
        if step <= 0:
            raise RuntimeError(f"step is {step} but must be > 0")
        return input.reshape(1)[:size]
    d = _axes(dimension, input.ndim)[0]
    n = input.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    args = (d, int(size), int(step))
    return share_version(Unfold.apply(input, axis=d, size=args[1], step=args[2]), input,
                         "unfold", args)


def _conjugate_transpose(input):
    """``H``: the transpose of a matrix (real tensors: no conjugation)."""
    if input.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{input.ndim}-D tensor.")
    return input.t() if input.ndim else input.reshape(())


def adjoint(input):
    """The last two dims swapped (``mH``; real tensors: no conjugation) (a view)."""
    if input.ndim < 2:
        raise RuntimeError(f"tensor.mH is only supported on matrices or batches of "
                           f"matrices. Got {input.ndim}-D tensor.")
    return input.transpose(-2, -1)


def stride(input, dim=None):
    """Elements to step in storage for one step along each dim (one dim's with ``dim``)."""
    strides = tuple(s // input.array.itemsize for s in input.array.strides)
    return strides if dim is None else strides[_axes(dim, input.ndim)[0]]


# ---- in-place triangles ----------------------------------------------------------------------
def tril_(input, diagonal=0):
    return apply_inplace(input, Tensor.tril, diagonal)


def triu_(input, diagonal=0):
    return apply_inplace(input, Tensor.triu, diagonal)


# ---- flips, rotations, repeats ---------------------------------------------------------------
def fliplr(input):
    """Columns (dim 1) reversed; input needs >= 2 dims."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return input.flip(1)


def flipud(input):
    """Rows (dim 0) reversed; input needs >= 1 dim."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return input.flip(0)


def rot90(input, k=1, dims=(0, 1)):
    """Rotated by 90 degrees ``k`` times in the plane ``dims``, from the first towards the
    second (as torch)."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = _axes(dims[0], input.ndim)[0], _axes(dims[1], input.ndim)[0]
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip((d0, d1))
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def tile(input, dims):
    """``repeat`` with ``dims`` padded with leading ones to input's number of dims."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = (1,) * (input.ndim - len(dims)) + dims
    return input.repeat(*dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (each slice along ``dim``; of the flattened input without ``dim``)
    repeated ``repeats`` times (an int, or one count per element);
    ``repeat_interleave(counts)`` alone gives each index i counts[i] times."""
    if repeats is None:          # torch.repeat_interleave(repeats)
        counts = input
        if counts.ndim > 1 or backend.is_floating(counts.dtype):
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        xp = backend.get_array_module(counts.array)
        idx = xp.repeat(xp.arange(counts.numel()), counts.array.reshape(-1))
        return Tensor.wrap(idx.astype("int64"))
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = _axes(dim, input.ndim)[0]
    n = input.shape[d]
    xp = backend.get_array_module(input.array)
    counts = repeats.array if isinstance(repeats, Tensor) else repeats
    if isinstance(repeats, Tensor) and repeats.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    counts = xp.asarray(counts).reshape(-1)
    if counts.size not in (1, n):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size({d}) = {n}")
    if counts.size and int(counts.min()) < 0:
        raise RuntimeError("repeats can not be negative")
    idx = xp.repeat(xp.arange(n), counts if counts.size == n else int(counts[0]))
    if output_size is not None and idx.size != output_size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the "
                           f"repeated size {idx.size}")
    return input.index_select(d, Tensor.wrap(idx.astype("int64")))


# ---- module-level: grids and stacks ----------------------------------------------------------
def _tensor_list(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return [_as_tensor(t) for t in tensors]


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one as shape (1,)); one tensor -> a tensor."""
    out = [t.reshape(1) if t.ndim == 0 else t for t in _tensor_list(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: () -> (1, 1), (n,) -> (1, n)."""
    out = [t.reshape((1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t
           for t in _tensor_list(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) ->
    (m, n, 1)."""
    def three(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, t.shape[0], 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t
    out = [three(t) for t in _tensor_list(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def _checked(tensors, name):
    tensors = _tensor_list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def hstack(tensors):
    """cat along dim 1 (dim 0 when every tensor is 1-D; 0-d ones count as 1-D)."""
    ts = [atleast_1d(t) for t in _checked(tensors, "hstack")]
    return cat(ts, 0 if all(t.ndim == 1 for t in ts) else 1)


def vstack(tensors):
    """cat along dim 0 of the tensors made at least 2-D."""
    return cat([atleast_2d(t) for t in _checked(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors):
    """cat along dim 2 of the tensors made at least 3-D."""
    return cat([atleast_3d(t) for t in _checked(tensors, "dstack")], 2)


def column_stack(tensors):
    """The 0-d and 1-D tensors as columns (n, 1), then cat along dim 1."""
    ts = [t.reshape(t.numel(), 1) if t.ndim <= 1 else t
          for t in _checked(tensors, "column_stack")]
    return cat(ts, 1)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids of 0-d/1-D tensors: with ``indexing='ij'`` output k varies along dim
    k; with 'xy' the first two dims are swapped (Cartesian).  The outputs are expanded views
    of the inputs (as torch).  Without ``indexing``: 'ij' with torch's warning."""
    ts = _tensor_list(tensors)
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if any(t.ndim > 1 for t in ts):
        raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list")
    if len({str(t.dtype) for t in ts}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    grids = []
    for k, t in enumerate(ts):
        lead = (1,) * k + (shape[k],) + (1,) * (len(ts) - k - 1)
        grids.append(t.reshape(lead).expand(*shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors):
    """Every combination of one element of each 1-D tensor, as rows (N, k) in row-major order
    (one tensor: itself)."""
    ts = _tensor_list(tensors)
    if any(t.ndim != 1 for t in ts):
        raise RuntimeError("Expect a 1D vector, but got shape "
                           f"{[list(t.shape) for t in ts if t.ndim != 1][0]}")
    if len(ts) == 1:
        return ts[0]
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], 1)


# ---- the methods -----------------------------------------------------------------------------
METHODS = ("select", "movedim", "moveaxis", "swapdims", "unflatten", "diagonal", "unfold",
           "adjoint", "stride", "tril_", "triu_", "fliplr", "flipud", "rot90", "tile",
           "repeat_interleave")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
Tensor.H = property(_conjugate_transpose)
Tensor.mH = property(adjoint)
