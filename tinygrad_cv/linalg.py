"""``tinygrad_cv.linalg``: torch.linalg's functions, batched over leading dims, differentiable.

The decompositions and inverses are the primitives of ``ops/decompositions.py`` (LAPACK
forward, closed-form backward); the rest are compositions of them and of the tensor
operations (norms, products, pseudo-inverse, least squares, condition numbers, cross
products).  The LU family (``lu_factor``, ``lu``, ``lu_solve``) is ``linalg_lu.py``, on the
framework's own elimination (``ops/lu.py``).  Complex results (``eig``, ``eigvals``) are not
provided: the arrays here are real.
"""
from __future__ import annotations

import math
import numbers

from . import backend, return_types
from .ops.decompositions import (QR, SVD, Cholesky, Det, Eigh, Inverse, LinAlgError,
                                 MatrixExp, Slogdet, Solve)
from .autograd.versions import torch_type_name
from .ops.reduction import VectorNorm
from .tensor import Tensor, _as_tensor, _axes, _floating, _reduced_axes, matmul, stack, where
from .tensor_views import diagonal as _diagonal

__all__ = ["det", "slogdet", "inv", "inv_ex", "solve", "solve_ex", "solve_triangular",
           "cholesky", "cholesky_ex", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv",
           "matrix_rank", "lstsq", "norm", "vector_norm", "matrix_norm", "cond", "cross",
           "multi_dot", "matrix_power", "matrix_exp", "vecdot", "diagonal", "matmul", "vander",
           "tensorinv", "tensorsolve", "logdet", "LinAlgError", "lu_factor", "lu_factor_ex",
           "lu", "lu_solve"]


_INT32 = backend.dtype("int32")
_INT64 = backend.dtype("int64")


def _square(name, a):
    """``a`` as a floating Tensor of square matrices (..., n, n)."""
    a = _floating(_as_tensor(a))
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    return a


def _matrices(name, a):
    a = _floating(_as_tensor(a))
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    return a


def _mT(x):
    return x.transpose(-2, -1)


def _info(a):
    xp = backend.get_array_module(a.array)
    return Tensor.wrap(xp.zeros(a.shape[:-2], dtype=_INT32))


# ---- determinants, inverses, solves ------------------------------------------------------------
def det(A):
    """det A (batched)."""
    return Det.apply(_square("det", A))


def slogdet(A):
    """(sign, log|det A|)."""
    sign, logabs = Slogdet.apply(_square("slogdet", A))
    return return_types.linalg_slogdet(sign, logabs)


def logdet(A):
    """log det A: NaN for a negative determinant, -inf for a zero one (torch.logdet)."""
    sign, logabs = slogdet(A)
    xp = backend.get_array_module(sign.array)
    return logabs + Tensor.wrap(xp.where(sign.array < 0, xp.nan, 0.0).astype(logabs.dtype))


def inv(A):
    """A^-1."""
    return Inverse.apply(_square("inv", A))


def inv_ex(A, *, check_errors=False):
    """(A^-1, info) with info 0 (a singular matrix raises, as with check_errors=True)."""
    a = _square("inv_ex", A)
    return return_types.linalg_inv_ex(inv(a), _info(a))


def _vector_rhs(a, b):
    """torch's rule: B is a batch of vectors when it is 1-D or has A's batch shape plus n."""
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); B (..., n, k) or a batch of vectors (..., n)."""
    a = _square("solve", A)
    b = _as_tensor(B).to(a.dtype) if not isinstance(B, Tensor) or B.dtype != a.dtype else B
    if not left:
        return _mT(solve(_mT(a), _mT(b)))
    if _vector_rhs(a, b):
        return Solve.apply(a, b[..., None])[..., 0]
    if b.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = "
                           f"B ({a.shape[-2]}x{a.shape[-1]} and {b.shape[-2]}x{b.shape[-1]})")
    return Solve.apply(a, b)


def solve_ex(A, B, *, left=True, check_errors=False):
    a = _square("solve_ex", A)
    return return_types.linalg_solve_ex(solve(a, B, left=left), _info(a))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B for triangular A (only the ``upper`` or lower triangle is read; with
    ``unitriangular`` the diagonal is taken as ones)."""
    a = _square("solve_triangular", A)
    t = a.triu() if upper else a.tril()
    if unitriangular:
        xp = backend.get_array_module(a.array)
        eye = xp.eye(a.shape[-1], dtype=a.dtype)
        t = t * Tensor.wrap(1 - eye) + Tensor.wrap(eye)
    b = _as_tensor(B)
    if not left:
        return _mT(Solve.apply(_mT(t), _mT(b)))
    return Solve.apply(t, b)


# ---- decompositions --------------------------------------------------------------------------
def cholesky(A, *, upper=False):
    """L lower with A = L L^T (``upper``: U = L^T with A = U^T U)."""
    l = Cholesky.apply(_square("cholesky", A))
    return _mT(l) if upper else l


def cholesky_ex(A, *, upper=False, check_errors=False):
    a = _square("cholesky_ex", A)
    return return_types.linalg_cholesky_ex(cholesky(a, upper=upper), _info(a))


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R; ``mode`` 'reduced', 'complete' or 'r' (Q empty)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    a = _matrices("qr", A)
    q, r = QR.apply(a, mode="reduced" if mode == "r" else mode)
    if mode == "r":
        xp = backend.get_array_module(a.array)
        return return_types.linalg_qr(Tensor.wrap(xp.zeros((0,), dtype=a.dtype)), r.detach())
    return return_types.linalg_qr(q, r)


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric A (the ``UPLO``
    triangle is read)."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    w, v = Eigh.apply(_square("eigh", A), uplo=UPLO)
    return return_types.linalg_eigh(w, v)


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh (torch's default full_matrices=True)."""
    u, s, vh = SVD.apply(_matrices("svd", A), full_matrices=bool(full_matrices))
    return return_types.linalg_svd(u, s, vh)


def svdvals(A, *, driver=None):
    """The singular values, descending."""
    return SVD.apply(_matrices("svdvals", A), full_matrices=False)[1]


def matrix_exp(A):
    """exp(A) = sum_k A^k / k! (Pade approximant with scaling and squaring)."""
    return MatrixExp.apply(_square("matrix_exp", A))


# ---- compositions ------------------------------------------------------------------------------
def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse V diag(1/s) U^T over the singular values above the
    tolerance (``hermitian``: from ``eigh``)."""
    a = _matrices("pinv", A)
    m, n = a.shape[-2], a.shape[-1]
    if hermitian:
        w, v = eigh(a)
        absw = w.abs()
        cut = _tolerance_from_max(absw.amax(dim=-1, keepdim=True), atol, rtol, max(m, n),
                                  a.dtype)
        inv_w = where(absw.array > cut, 1.0 / where(absw.array > cut, w, 1.0), 0.0)
        return (v * inv_w[..., None, :]) @ _mT(v)
    u, s, vh = svd(a, full_matrices=False)
    cut = _tolerance_from_max(s[..., :1] if s.shape[-1] else s.sum(-1, keepdim=True) * 0,
                              atol, rtol, max(m, n), a.dtype)
    keep = s.array > cut
    inv_s = where(keep, 1.0 / where(keep, s, 1.0), 0.0)
    return (_mT(vh) * inv_s[..., None, :]) @ _mT(u)


def _tolerance_from_max(smax, atol, rtol, size, dtype):
    """max(atol, rtol * smax) as a raw array; rtol defaults to eps * size when atol is not
    given (or is 0), else to 0 (torch's rule)."""
    eps = backend.module_for_device("cpu").finfo(dtype).eps
    raw = lambda v: v.array[..., None] if isinstance(v, Tensor) else v
    if rtol is None:
        rtol = eps * size if atol is None or (isinstance(atol, numbers.Number) and atol == 0) \
            else 0.0
    atol = 0.0 if atol is None else atol
    return backend.get_array_module(smax.array).maximum(raw(atol), raw(rtol) * smax.array)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """The number of singular values above the tolerance (int64)."""
    a = _matrices("matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    s = eigvalsh(a).abs() if hermitian else svdvals(a)
    smax = s.amax(dim=-1, keepdim=True) if s.shape[-1] else s.sum(-1, keepdim=True) * 0
    cut = _tolerance_from_max(smax, atol, rtol, max(a.shape[-2:]), a.dtype)
    return Tensor.wrap((s.array > cut).sum(axis=-1).astype(_INT64))


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of A X = B (minimum norm for rank-deficient A) with torch's
    result fields: residuals (squared, per column) when m > n and A has full rank, else empty;
    rank; singular values for the SVD-based drivers ('gelsd', 'gelss'), else empty."""
    a = _matrices("lstsq", A)
    b = _as_tensor(B).to(a.dtype)
    vector = b.ndim == a.ndim - 1
    if vector:
        b = b[..., None]
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"parameter `driver` should be one of (gels, gelsy, gelsd, gelss), "
                           f"got {driver}")
    m, n = a.shape[-2], a.shape[-1]
    rtol = rcond if rcond is not None and rcond > 0 else None
    solution = pinv(a, rtol=rtol) @ b
    rank = matrix_rank(a, rtol=rtol)
    xp = backend.get_array_module(a.array)
    empty = Tensor.wrap(xp.zeros((0,), dtype=a.dtype))
    full_rank = bool((rank.array == min(m, n)).all())
    if m > n and full_rank and driver != "gelsy":
        residuals = ((a @ solution - b) ** 2).sum(dim=-2)
    else:
        residuals = empty
    singular = svdvals(a) if driver in ("gelsd", "gelss") else empty
    if driver in (None, "gels"):
        rank = Tensor.wrap(xp.zeros((0,), dtype=_INT64))
    return return_types.linalg_lstsq(solution[..., 0] if vector else solution, residuals, rank, singular)


def _norm_input(name, x, dtype):
    """``x`` as a Tensor for the norm ``name``, cast to ``dtype``: torch's rules (a floating
    input; a floating ``dtype`` that does not narrow it)."""
    x = _as_tensor(x)
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(x.dtype)}")
    if dtype is None:
        return x
    dtype = backend.dtype(dtype)
    if dtype.kind != "f":
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{torch_type_name(dtype)}")
    if dtype.itemsize < x.array.dtype.itemsize:
        raise RuntimeError(f"{name}: the dtype of the input ({torch_type_name(x.dtype)}) should "
                           f"be convertible without narrowing to the specified dtype "
                           f"({torch_type_name(dtype)})")
    return x.to(dtype)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ord-norm over ``dim`` (all elements when None or ()): (sum |x|^ord)^(1/ord)
    for ord > 0 and ord < 0, max |x| (inf), min |x| (-inf), the count of non-zeros (0; no
    gradient, as torch).  The primitive and its gradient: ``ops.reduction.VectorNorm``."""
    if isinstance(ord, Tensor):
        ord = ord.item()
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise TypeError(f"linalg.vector_norm: ord must be a number, not {type(ord).__name__}")
    x = _norm_input("linalg.vector_norm", x, dtype)
    if dim is not None and not isinstance(dim, int) and len(dim) == 0:
        dim = None
    return VectorNorm.apply(x, axes=_reduced_axes(dim, x.ndim), keepdims=bool(keepdim),
                            p=float(ord))


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm over the two dims ``dim``: 'fro' (sqrt of the sum of squares), 'nuc'
    (the sum of the singular values), 2 / -2 (the largest / smallest singular value), 1 / -1
    (the max / min column sum of |A|), inf / -inf (the max / min row sum).  The singular values
    are ``svdvals`` (whose gradient U diag(g) V^T is finite for repeated ones); ties of the
    max / min share the gradient evenly (torch's)."""
    a = _norm_input("linalg.matrix_norm", A, dtype)
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if not isinstance(dim, (tuple, list)):
        raise TypeError(f"linalg.matrix_norm: dim must be a 2-tuple of ints, not "
                        f"{type(dim).__name__}")
    if isinstance(ord, bool) or ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dim)}")
    d0, d1 = (_axes(d, a.ndim)[0] for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    if ord == "fro":
        return VectorNorm.apply(a, axes=tuple(sorted((d0, d1))), keepdims=bool(keepdim), p=2.0)
    if ord in ("nuc", 2, -2):
        if a.array.dtype.itemsize < 4:
            raise RuntimeError(f"linalg.matrix_norm: Low precision dtypes not supported. Got "
                               f"{torch_type_name(a.dtype)}")
        s = svdvals(a.movedim((d0, d1), (-2, -1)))
        if ord == "nuc" or (ord == 2 and s.shape[-1] == 0):   # (an empty matrix: 0, as torch)
            out = s.sum(-1)
        else:
            out = s.amax(-1) if ord == 2 else s.amin(-1)
        return _keep(out, (d0, d1), keepdim)
    summed_dim, reduced_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
    sums = a.abs().sum(dim=summed_dim, keepdim=True)
    if ord > 0 and a.shape[reduced_dim] == 0:           # (an empty matrix: 0, as torch)
        out = sums.sum(dim=reduced_dim, keepdim=True)
    else:
        out = sums.amax(dim=reduced_dim, keepdim=True) if ord > 0 else \
            sums.amin(dim=reduced_dim, keepdim=True)
    if not keepdim:
        out = out.squeeze(max(d0, d1)).squeeze(min(d0, d1))
    return out


def _keep(out, dims, keepdim):
    if not keepdim:
        return out
    for d in sorted(dims):
        out = out.unsqueeze(d)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: ``matrix_norm`` over two dims (``dim`` a 2-tuple, or None with a
    2-D input and ``ord`` given; a string ``ord`` always), else ``vector_norm`` (ord None:
    the 2-norm, over all elements when ``dim`` is None)."""
    a = _as_tensor(A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dims)}")
    elif ord is not None and a.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {a.ndim}D.")
    two_dims = len(dims) == 2 if dim is not None else a.ndim == 2
    if isinstance(ord, str) or (ord is not None and two_dims):
        return matrix_norm(a, ord, (-2, -1) if dim is None else dims, keepdim, dtype=dtype)
    return vector_norm(a, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def norm_top(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm and ``Tensor.norm``: 'fro' over at most two dims is the vector 2-norm, other
    strings ('nuc') are ``matrix_norm`` over ``dim`` (all dims when None: a 2-D input), a number
    (None: 2) is ``vector_norm`` over ``dim`` (any number of dims)."""
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, dim, keepdim, dtype=dtype)
        a = _as_tensor(input)
        dims = tuple(range(a.ndim)) if dim is None else (dim,) if isinstance(dim, int) else dim
        return matrix_norm(a, p, dims, keepdim, dtype=dtype)
    return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)


def cond(A, p=None):
    """The condition number ||A|| ||A^-1|| in the p-norm (None or 2: s_max / s_min)."""
    a = _matrices("cond", A)
    if p in (None, 2, -2):
        s = svdvals(a)
        return s[..., 0] / s[..., -1] if p in (None, 2) else s[..., -1] / s[..., 0]
    return matrix_norm(a, p) * matrix_norm(inv(a), p)


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (broadcast)."""
    a, b = _as_tensor(input), _as_tensor(other)
    shape = backend.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a, b = a.expand(*shape), b.expand(*shape)
    d = _axes(dim, len(shape))[0]
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[d]} and {b.shape[d]}")
    comp = lambda t, i: t.select(d, i)
    ax, ay, az = (comp(a, i) for i in range(3))
    bx, by, bz = (comp(b, i) for i in range(3))
    return stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], dim=d)


def multi_dot(tensors):
    """The product of the matrices left to right (the first may be 1-D: a row; the last: a
    column)."""
    ts = [_as_tensor(t) for t in tensors]
    if len(ts) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got " + str(len(ts)))
    out = ts[0]
    for t in ts[1:]:
        out = matmul(out, t)
    return out


def matrix_power(A, n):
    """A^n by repeated squaring (n < 0: of A^-1; n = 0: the identity)."""
    a = _as_tensor(A)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError("linalg.matrix_power: A must be batches of square matrices")
    if n == 0:    # the identity, on the graph with a zero gradient (as torch)
        xp = backend.get_array_module(a.array)
        eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)
        return where(xp.ones(a.shape, dtype=bool), Tensor.wrap(eye.copy()), a)
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def vecdot(x, y, *, dim=-1):
    """sum(x * y) over ``dim`` (broadcast)."""
    return (_as_tensor(x) * y).sum(dim=dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _diagonal(_as_tensor(A), offset, dim1, dim2)


def vander(x, *, N=None):
    """Columns 1, x, ..., x^(N-1) (increasing powers, batched over leading dims); integer
    x gives int64, bool raises (torch's rules)."""
    v = _as_tensor(x)
    n = v.shape[-1] if N is None else int(N)
    if n <= 1 and N is not None and n < 1:
        raise RuntimeError("N must be greater than 1.")
    if v.array.dtype.kind == "b":
        raise RuntimeError("linalg.vander supports floating point, complex, and integer "
                           "tensors, but got Bool")
    if v.array.dtype.kind in "iu":
        v = v.long()
    cols = [v * 0 + 1]
    for _ in range(1, n):
        cols.append(cols[-1] * v)
    return stack(cols, dim=-1)


def tensorinv(A, ind=2):
    """The inverse in the tensordot sense: tensordot(tensorinv(A), A, ind) is the identity."""
    a = _as_tensor(A)
    left, right = a.shape[:ind], a.shape[ind:]
    rows = math.prod(left)
    return inv(a.reshape(rows, -1)).reshape(*right, *left)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B."""
    a, b = _as_tensor(A), _as_tensor(B)
    if dims is not None:
        others = [d for d in range(a.ndim) if d not in dims]
        a = a.permute(*others, *dims)
    x_shape = a.shape[b.ndim:]
    return solve(a.reshape(b.numel(), -1), b.reshape(-1)).reshape(*x_shape)



# ---- torch's top-level forms (torch.det, torch.svd, ...) and their methods ---------------------


def inverse(input):
    return inv(input)


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def cholesky_top(input, upper=False):
    """torch.cholesky (deprecated in torch): ``linalg.cholesky``."""
    return cholesky(input, upper=upper)


def cholesky_solve(B, L, upper=False):
    """X with A X = B given A's Cholesky factor L, A = L L^T (``upper``: A = U^T U); the
    gradient of L is that of the whole product, as torch's (not only its triangle)."""
    l = _as_tensor(L)
    a = _mT(l) @ l if upper else l @ _mT(l)
    return Solve.apply(a, _as_tensor(B).to(a.dtype))


def cholesky_inverse(L, upper=False):
    """A^-1 given A's Cholesky factor."""
    l = _as_tensor(L)
    xp = backend.get_array_module(l.array)
    eye = Tensor.wrap(xp.broadcast_to(xp.eye(l.shape[-1], dtype=l.dtype), l.shape).copy())
    return cholesky_solve(eye, l, upper)


def slogdet_top(input):
    """torch.slogdet and ``Tensor.slogdet``: ``linalg.slogdet``'s (sign, logabsdet) as a
    ``return_types.slogdet`` (torch's type for the top-level form)."""
    return return_types.slogdet(*slogdet(input))


def qr_top(input, some=True):
    """torch.qr: reduced (``some``) or complete (Q, R)."""
    return return_types.qr(*qr(input, "reduced" if some else "complete"))


def svd_top(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V (not Vh); without ``compute_uv``, S is ``svdvals`` (still
    differentiable) and U, V are zeros of shapes (..., m, m) and (..., n, n), as torch."""
    a = _matrices("svd", input)
    if not compute_uv:
        xp = backend.get_array_module(a.array)
        *batch, m, n = a.shape
        return return_types.svd(Tensor.wrap(xp.zeros((*batch, m, m), dtype=a.dtype)),
                              svdvals(a), Tensor.wrap(xp.zeros((*batch, n, n), dtype=a.dtype)))
    u, s, vh = svd(a, full_matrices=not some)
    return return_types.svd(u, s, _mT(vh))


def cross_top(input, other, dim=None):
    """torch.cross: along ``dim``, or the first dim of size 3 when None (torch's deprecated
    default)."""
    if dim is None:
        shape = backend.broadcast_shapes(tuple(_as_tensor(input).shape),
                                         tuple(_as_tensor(other).shape))
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return cross(input, other, dim=dim)


_METHODS = {"det": det, "logdet": logdet, "slogdet": slogdet_top, "inverse": inverse,
            "pinverse": pinverse, "cholesky": cholesky_top, "cholesky_solve": cholesky_solve,
            "cholesky_inverse": cholesky_inverse, "qr": qr_top, "svd": svd_top,
            "matrix_power": matrix_power, "matrix_exp": matrix_exp, "cross": cross_top}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
del _name, _fn

# the LU family (its module reads this one's solve_triangular)
from .linalg_lu import lu_factor, lu_factor_ex, lu, lu_solve  # noqa: E402
