"""torch's products and matrix constructions, as functions and methods: ``trace``, ``kron``,
``inner``, ``vdot``, ``tensordot``, ``mv``, ``addmv``, ``addr``, ``chain_matmul``, ``dist``,
``renorm``, ``block_diag``, ``diag_embed``, ``diagflat`` and ``vander``.

Each is a composition of the framework's differentiable operations (matmul, einsum, reshape,
padding, norms), so the gradients are theirs; shapes, dtypes and errors follow torch.
"""
from __future__ import annotations

import functools

from . import backend
from .autograd.inplace import apply_inplace
from .tensor import Tensor, _as_tensor, _axes, cat, matmul, where
from .linalg import vander as linalg_vander, vector_norm
from .tensor_functions import einsum

# ---- reductions of products -------------------------------------------------------------------


def trace(input):
    """The sum of the main diagonal of a 2-D tensor."""
    x = _as_tensor(input)
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    return x.diag().sum()


def inner(input, other):
    """The sum of products over the last dims (a scalar times a tensor for 0-d operands)."""
    a, b = _as_tensor(input), _as_tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(a.shape)} and {list(b.shape)}")
    return tensordot(a, b, dims=([-1], [-1]))


def vdot(input, other):
    """The dot product of two 1-D tensors (real tensors: ``dot``)."""
    a, b = _as_tensor(input), _as_tensor(other)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    return a.dot(b)


def tensordot(a, b, dims=2):
    """The sum of products over ``dims``: an int n (the last n dims of a with the first n of
    b) or a pair of dim lists."""
    a, b = _as_tensor(a), _as_tensor(b)
    if isinstance(dims, Tensor) and dims.ndim == 0:
        dims = int(dims.item())
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da.tolist() if isinstance(da, Tensor) else da)
        db = [db] if isinstance(db, int) else list(db.tolist() if isinstance(db, Tensor) else db)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
    da = [_axes(d, a.ndim)[0] for d in da]
    db = [_axes(d, b.ndim)[0] for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [j for j in range(b.ndim) if j not in db]
    k = 1
    for i in da:
        k *= a.shape[i]
    left = a.permute(*free_a, *da).reshape(-1, k)
    right = b.permute(*db, *free_b).reshape(k, -1)
    return matmul(left, right).reshape(*[a.shape[i] for i in free_a],
                                       *[b.shape[j] for j in free_b])


def kron(input, other):
    """The Kronecker product: out[i * m + k, ...] = input[i, ...] * other[k, ...] over every
    dim (the operand with fewer dims gets leading ones)."""
    a, b = _as_tensor(input), _as_tensor(other)
    ndim = max(a.ndim, b.ndim)
    a = a.reshape(*((1,) * (ndim - a.ndim) + tuple(a.shape)))
    b = b.reshape(*((1,) * (ndim - b.ndim) + tuple(b.shape)))
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0 b0, a1 b1, ...)
    ea = a.reshape(*[s for d in a.shape for s in (d, 1)])
    eb = b.reshape(*[s for d in b.shape for s in (1, d)])
    return (ea * eb).reshape(*[x * y for x, y in zip(a.shape, b.shape)])


def dist(input, other, p=2):
    """``linalg.vector_norm(input - other, p)`` (broadcast): p = 0 counts the non-zero
    differences (its gradient is 0), -inf is the smallest |difference|."""
    return vector_norm(_as_tensor(input) - other, p)


# ---- matrix-vector products -------------------------------------------------------------------
def mv(input, vec):
    """matrix (n, m) @ vector (m,) -> (n,)."""
    a, v = _as_tensor(input), _as_tensor(vec)
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a.ndim}, {a.ndim}, "
                           f"{v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x"
                           f"{a.shape[1]}), vec ({v.shape[0]})")
    return matmul(a, v)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec) (beta = 0 ignores input, NaN included)."""
    return _scaled_sum(_as_tensor(input), mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    v1, v2 = _as_tensor(vec1), _as_tensor(vec2)
    if v1.ndim != 1 or v2.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {v1.ndim}-D"
                           if v1.ndim != 1 else
                           f"addr: Expected 1-D argument vec2, but got {v2.ndim}-D")
    return _scaled_sum(_as_tensor(input), v1[:, None] * v2[None, :], beta, alpha)


def _scaled_sum(x, product, beta, alpha):
    """beta * x + alpha * product; beta = 0 ignores x's values (NaN too) and gives it a zero
    gradient (as torch)."""
    term = product if alpha == 1 else product * alpha
    if beta == 0:
        shape = backend.broadcast_shapes(tuple(x.shape), tuple(term.shape))
        xp = backend.get_array_module(term.array)
        return where(xp.ones(shape, dtype=bool), term, x)
    return (x if beta == 1 else x * beta) + term


def addmv_(input, mat, vec, *, beta=1, alpha=1):
    return apply_inplace(input, lambda x, m, v: addmv(x, m, v, beta=beta, alpha=alpha), mat, vec)


def addr_(input, vec1, vec2, *, beta=1, alpha=1):
    return apply_inplace(input, lambda x, a, b: addr(x, a, b, beta=beta, alpha=alpha), vec1,
                         vec2)


def chain_matmul(*matrices):
    """The product of 2-D matrices, left to right (torch's deprecated form of
    ``linalg.multi_dot``)."""
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    out = _as_tensor(matrices[0])
    for m in matrices:
        if _as_tensor(m).ndim != 2:
            raise RuntimeError(f"Tensor dimension is {_as_tensor(m).ndim}, expected 2 instead.")
    for m in matrices[1:]:
        out = matmul(out, _as_tensor(m))
    return out


def renorm(input, p, dim, maxnorm):
    """Each sub-tensor along ``dim`` (a slice input.select(dim, i)) whose p-norm exceeds
    ``maxnorm`` scaled down to norm ``maxnorm`` (scale maxnorm / (norm + 1e-7), as torch)."""
    x = _as_tensor(input)
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = _axes(dim, x.ndim)[0]
    others = tuple(i for i in range(x.ndim) if i != d)
    norms = vector_norm(x, p, dim=others, keepdim=True) if others else x.abs()
    # the scale depends on x through the norm (its gradient too, as torch's)
    return x * where(norms.array > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def renorm_(input, p, dim, maxnorm):
    return apply_inplace(input, lambda x: renorm(x, p, dim, maxnorm))


# ---- matrix constructions ---------------------------------------------------------------------
def block_diag(*tensors):
    """The block-diagonal matrix of the given 0-D, 1-D (a row) or 2-D blocks."""
    blocks = []
    for t in tensors:
        t = _as_tensor(t)
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {len(blocks)} has {t.ndim} dimensions")
        blocks.append(t.reshape(1, 1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1
                      else t)
    if not blocks:                                   # (torch's shape for no blocks)
        return Tensor.wrap(backend.module_for_device("cpu").zeros((1, 0), dtype="float32"))
    # torch's promotion: among the floating blocks' dtypes if there are any (int64 with
    # float32 gives float32), else among the integer ones
    floats = [b.dtype for b in blocks if backend.is_floating(b.dtype)]
    dtype = functools.reduce(backend.get_array_module(blocks[0].array).promote_types,
                             floats or [b.dtype for b in blocks])
    blocks = [b.to(dtype) for b in blocks]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(_pad_columns(b, left, right))
        left += b.shape[1]
    return cat(rows, dim=0)


def _pad_columns(b, left, right):
    """b (r, c) with ``left`` zero columns before and ``right`` after."""
    xp = backend.get_array_module(b.array)
    parts = []
    if left:
        parts.append(Tensor.wrap(xp.zeros((b.shape[0], left), dtype=b.dtype)))
    parts.append(b)
    if right:
        parts.append(Tensor.wrap(xp.zeros((b.shape[0], right), dtype=b.dtype)))
    return cat(parts, dim=1) if len(parts) > 1 else b


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) planes have the last dim of ``input`` on their diagonal
    ``offset`` (zeros elsewhere); the result has one dim more than input."""
    x = _as_tensor(input)
    ndim = x.ndim + 1
    d1, d2 = _axes(dim1, ndim)[0], _axes(dim2, ndim)[0]
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = x.shape[-1] + abs(offset)
    xp = backend.get_array_module(x.array)
    # one-hot placement: out[..., i, j] = x[..., k] where (i, j) is the k-th diagonal element
    k = x.shape[-1]
    rows = xp.arange(k) + max(-offset, 0)
    cols = xp.arange(k) + max(offset, 0)
    place = xp.zeros((k, n, n), dtype=x.dtype)
    place[xp.arange(k), rows, cols] = 1
    out = einsum("...k,kij->...ij", x, Tensor.wrap(place))           # (..., n, n)
    # move the two new dims to dim1 and dim2
    order = list(range(x.ndim - 1))
    perm = [None] * ndim
    perm[d1], perm[d2] = x.ndim - 1, x.ndim
    rest = iter(order)
    perm = [p if p is not None else next(rest) for p in perm]
    return out.permute(*perm)


def diagflat(input, offset=0):
    """The 2-D matrix with the flattened input on its diagonal ``offset``."""
    return diag_embed(_as_tensor(input).reshape(-1), offset)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D x: columns x^(N-1), ..., x, 1 (``increasing``:
    1, x, ..., x^(N-1)); integer and bool x give int64 (``linalg.vander``, flipped)."""
    v = _as_tensor(x)
    if v.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = v.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if v.array.dtype.kind == "b":
        v = v.long()
    if n == 0:
        return linalg_vander(v, N=1)[:, :0]
    out = linalg_vander(v, N=n)
    return out if increasing else out.flip(-1)


# ---- the methods -------------------------------------------------------------------------------
METHODS = ("trace", "kron", "inner", "vdot", "mv", "addmv", "addmv_", "addr", "addr_", "dist",
           "renorm", "renorm_", "diag_embed", "diagflat")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
