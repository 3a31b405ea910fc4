"""The LU family of ``tinygrad_cv.linalg`` (torch.linalg's ``lu_factor``, ``lu_factor_ex``,
``lu``, ``lu_solve``; torch's ``lu_unpack`` and the deprecated ``torch.lu``, ``torch.lu_solve``
and their Tensor methods).

A (..., m, n) = P L U, packed as LAPACK's getrf: LU = tril(L, -1) + U with 1-based int32
pivots (the primitive and its gradient: ``ops/lu.py``).  ``lu_solve`` composes a permutation
with two ``solve_triangular``:

    A X = B:    X = U^-1 L^-1 P^T B          (adjoint) A^T X = B:  X = P L^-T U^-T B
    X A = B:    X^T = the adjoint solve of B^T   (and the plain solve for adjoint X A^T = B)

so it is differentiable in LU (its two triangles) and B, to any order.
"""
from __future__ import annotations

import warnings

from . import backend, return_types
from .autograd.versions import torch_type_name
from .linalg import solve_triangular
from .ops.decompositions import LinAlgError
from .ops.lu import LUFactor, permutation_matrix, pivots_to_permutation
from .tensor import Tensor, _as_tensor

__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_solve", "lu_unpack"]

_INT32 = backend.dtype("int32")


def _mT(x):
    return x.transpose(-2, -1)


def _lu_input(name, A, pivot):
    """``A`` checked as torch checks getrf's input: a float32/float64 tensor of >= 2 dims;
    no pivoting is only on the GPU."""
    a = _as_tensor(A)
    if a.ndim < 2:
        raise RuntimeError(f"{name}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(a.shape)} instead")
    if a.array.dtype.kind != "f" or a.array.dtype.itemsize < 4:
        raise NotImplementedError(f'"lu_cpu" not implemented for '
                                  f"'{torch_type_name(a.dtype)}'")
    if not pivot and a.device.type == "cpu":
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    return a


def _raise_zero_pivot(name, info):
    """torch's error for the first matrix of the batch with a zero pivot (info > 0)."""
    flat = info.array.reshape(-1)
    bad = [int(i) for i in backend.to_numpy(flat)]
    index = next(b for b, v in enumerate(bad) if v > 0)
    where = f"(Batch element {index}): " if info.ndim else ""
    j = bad[index]
    raise LinAlgError(f"{name}: {where}U[{j},{j}] is zero and using it on lu_solve would result "
                      f"in a division by zero. If you still want to perform the factorization, "
                      f"consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info): A = P L U packed (LU = tril(L, -1) + U), 1-based int32 pivots
    (..., min(m, n)), info (...) the 1-based index of the first zero pivot (0: none); a
    singular matrix is factorised (raises only with ``check_errors``)."""
    a = _lu_input("torch.lu_factor_ex", A, pivot)
    lu_, pivots, info = LUFactor.apply(a, pivot=bool(pivot))
    if check_errors and bool((info.array > 0).any()):
        _raise_zero_pivot("torch.linalg.lu_factor_ex", info)
    return return_types.linalg_lu_factor_ex(lu_, pivots, info)


def lu_factor(A, *, pivot=True):
    """(LU, pivots) of ``lu_factor_ex``; a zero pivot (a singular matrix) raises."""
    a = _lu_input("torch.lu_factor", A, pivot)
    lu_, pivots, info = LUFactor.apply(a, pivot=bool(pivot))
    if bool((info.array > 0).any()):
        _raise_zero_pivot("torch.linalg.lu_factor", info)
    return return_types.linalg_lu_factor(lu_, pivots)


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U: P (..., m, m), L (..., m, k) unit lower, U (..., k, n)
    upper, k = min(m, n); without ``pivot`` (GPU only) P is empty.  Singular matrices are
    factorised."""
    a = _lu_input("linalg.lu", A, pivot)
    lu_, pivots, _ = LUFactor.apply(a, pivot=bool(pivot))
    p, l, u = _unpack(lu_, pivots, True, bool(pivot))
    return return_types.linalg_lu(p, l, u)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from ``lu_factor``'s packed result; a part not unpacked is an empty tensor."""
    lu_, pivots = _as_tensor(LU_data), _as_tensor(LU_pivots)
    if lu_.ndim < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(lu_.shape)} instead")
    if unpack_pivots:
        if pivots.array.dtype != _INT32:
            raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous "
                               "tensor of torch.int32 dtype.\nNote: this function is intended "
                               "to be used with the output produced by torch.linalg.lu_factor")
        m = lu_.shape[-2]
        if pivots.ndim == 0 or (pivots.numel() and
                                bool(((pivots.array < 1) | (pivots.array > m)).any())):
            raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                               "inclusive.Did you properly pass the result of lu_factor?")
        if tuple(pivots.shape[:-1]) != tuple(lu_.shape[:-2]):
            raise RuntimeError(f"torch.lu_unpack: the batch shape of LU_pivots "
                               f"{list(pivots.shape[:-1])} differs from LU_data's "
                               f"{list(lu_.shape[:-2])}")
    return return_types.lu_unpack(*_unpack(lu_, pivots, unpack_data, unpack_pivots))


def _unpack(lu_, pivots, unpack_data, unpack_pivots):
    xp = backend.get_array_module(lu_.array)
    empty = Tensor.wrap(xp.zeros((0,), dtype=lu_.dtype))
    m, n = lu_.shape[-2], lu_.shape[-1]
    k = min(m, n)
    if unpack_data:
        l = lu_[..., :, :k].tril(-1) + Tensor.wrap(xp.eye(m, k, dtype=lu_.dtype))
        u = lu_[..., :k, :].triu()
    else:
        l = u = empty
    if unpack_pivots:
        perm = pivots_to_permutation(pivots.array, m)
        p = Tensor.wrap(permutation_matrix(perm, lu_.dtype))
    else:
        p = empty
    return p, l, u


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (``adjoint``: A^T X = B; ``left=False``: X A = B or X A^T = B) given
    ``lu_factor``'s (LU, pivots) of A; LU's and B's batch dims broadcast.  A singular A (a
    zero on U's diagonal) raises ``LinAlgError`` (torch returns infinities)."""
    lu_, piv, b = _as_tensor(LU), _as_tensor(pivots), _as_tensor(B)
    if lu_.ndim < 2:
        raise RuntimeError("torch.linalg.lu_solve: The input tensor A must have at least 2 "
                           "dimensions.")
    if lu_.shape[-1] != lu_.shape[-2]:
        raise RuntimeError(f"torch.linalg.lu_solve: A must be batches of square matrices, but "
                           f"they are {lu_.shape[-2]} by {lu_.shape[-1]} matrices")
    if lu_.array.dtype.kind != "f":
        raise RuntimeError(f"torch.linalg.lu_solve: Expected a floating point or complex tensor "
                           f"as input. Got {torch_type_name(lu_.dtype)}")
    if b.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    if piv.array.dtype != _INT32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type "
                           "torch.int32")
    if b.dtype != lu_.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but "
                           f"found LU of type {torch_type_name(lu_.dtype)} and B of type "
                           f"{torch_type_name(b.dtype)} instead")
    n = lu_.shape[-1]
    rows = b.shape[-2] if left else b.shape[-1]
    if rows != n:
        shape = (b.shape[-2], b.shape[-1])
        raise RuntimeError("linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           + (f"AX = B ({n}x{n} and {shape[0]}x{shape[1]})" if left else
                              f"XA = B ({n}x{n} and {shape[0]}x{shape[1]})"))
    if piv.ndim < 1 or piv.shape[-1] != n:
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as the "
                           "dimension of the matrix")
    if tuple(piv.shape[:-1]) != tuple(lu_.shape[:-2]):
        raise RuntimeError(f"linalg.lu_solve: Expected LU.shape[:-1] and pivots.shape to be the "
                           f"same, but got pivots with shape {list(piv.shape)} instead")
    diagonal = backend.get_array_module(lu_.array).diagonal(lu_.array, 0, -2, -1)
    if bool((diagonal == 0).any()):
        raise LinAlgError("linalg.lu_solve: U has a zero on its diagonal: the factorised "
                          "matrix is singular, so the system has no unique solution")
    if not left:        # X A = B  <=>  A^T X^T = B^T
        return _mT(lu_solve(lu_, piv, _mT(b), left=True, adjoint=not adjoint))
    batch = backend.broadcast_shapes(tuple(lu_.shape[:-2]), tuple(b.shape[:-2]))
    lu_ = lu_.expand(*batch, n, n)
    b = b.expand(*batch, *b.shape[-2:])
    perm = pivots_to_permutation(backend.get_array_module(piv.array).broadcast_to(
        piv.array, (*batch, n)), n)
    p = Tensor.wrap(permutation_matrix(perm, lu_.dtype))
    if not adjoint:         # U^-1 L^-1 P^T B
        y = solve_triangular(lu_, _mT(p) @ b, upper=False, unitriangular=True)
        return solve_triangular(lu_, y, upper=True)
    y = solve_triangular(_mT(lu_), b, upper=False)          # U^-T B
    return p @ solve_triangular(_mT(lu_), y, upper=True, unitriangular=True)


# ---- torch's deprecated forms ------------------------------------------------------------------
def lu_top(A, pivot=True, get_infos=False):
    """torch.lu and ``Tensor.lu`` (deprecated in torch): (LU, pivots), with ``get_infos``
    (LU, pivots, info) as ``return_types._lu_with_info``; never raises on a singular matrix."""
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                  "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.",
                  UserWarning, stacklevel=2)
    lu_, pivots, info = lu_factor_ex(A, pivot=pivot)
    if get_infos:
        return return_types._lu_with_info(lu_, pivots, info)
    return lu_, pivots


def lu_solve_top(b, LU_data, LU_pivots):
    """torch.lu_solve and ``Tensor.lu_solve`` (deprecated in torch): ``linalg.lu_solve`` with
    the arguments reversed."""
    warnings.warn("torch.lu_solve is deprecated in favor of torch.linalg.lu_solve and will be "
                  "removed in a future PyTorch release.", UserWarning, stacklevel=2)
    return lu_solve(LU_data, LU_pivots, b)


Tensor.lu = lu_top
Tensor.lu_solve = lu_solve_top
