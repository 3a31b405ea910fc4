"""Matrix functions and decompositions (batched over leading dims), forward by the array
library's LAPACK routines, backward by the closed forms below, written with the helpers of this
module so they run on raw arrays and, under ``create_graph``, on Tensors (higher orders).

Shapes: A (..., m, n); ``mT`` swaps the last two dims.

    Inverse     Y = A^-1                 dA = -Y^T G Y^T
    Solve       X = A^-1 B               dB = A^-T G,  dA = -dB X^T
    Det         d = det A                dA = g cof(A),  cof(A) = adj(A)^T
                (first order: from the SVD, so singular A gets the cofactors too:
                 cof = det(U) det(V) U diag(prod_{j != i} s_j) V^T; under create_graph d A^-T)
    Slogdet     (sign, log|det A|)       dA = g A^-T
    Cholesky    A = L L^T                P = tril(L^T G), M = (P + tril(P, -1)^T) / 2,
                                         dA = L^-T M L^-1
    QR          A = Q R (m >= n)         M = R gR^T - gQ^T Q,
                                         dA = (gQ + Q copyltu(M)) R^-T,  copyltu(M) =
                                         tril(M) + tril(M, -1)^T;  m < n: A = [X | Y] with
                                         X = Q U, Y = Q V: dY = Q gV, dX from (gQ + Y gV^T, gU)
    Eigh        A = V diag(w) V^T        dA = V (diag(gw) + F o skew(V^T gV)) V^T,
                                         skew(X) = (X - X^T) / 2 (the symmetric gradient),
                                         F_ij = 1 / (w_j - w_i) (i != j), 0 on the diagonal
    SVD         A = U diag(s) V^T        dA = U [(F o (U^T gU - gU^T U)) S + diag(gs)
                (reduced)                         + S (F o (V^T gV - gV^T V))] V^T
                                              + (I - U U^T) gU S^-1 V^T
                                              + U S^-1 gV^T (I - V V^T),
                                         F_ij = 1 / (s_j^2 - s_i^2) (i != j)
    MatrixExp   E = exp(A)               dA = the top-right block of exp([[A^T, G], [0, A^T]])

(Townsend, "Differentiating the singular value decomposition", 2016; Walter and Lehmann 2018
and Liao et al. 2019 for QR; Giles 2008 for the others.)  LAPACK's errors become torch's:
singular matrices in ``inv``/``solve`` and matrices that are not positive-definite in
``cholesky`` and SVDs that do not converge raise ``LinAlgError`` (a RuntimeError) naming the
problem.
"""
from __future__ import annotations

import math

from .. import backend
from ..tensor import cat
from . import dual
from .elementwise import _Primitive


# ---- array-or-Tensor helpers ---------------------------------------------------------------------
def _xp(x):
    return backend.get_array_module(dual.raw(x))


def _mT(x):
    return dual.swap_last(x)


def _tril(x, k=0):
    return x.tril(k) if dual.is_tensor(x) else _xp(x).tril(x, k)


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal."""
    eye = _xp(v).eye(v.shape[-1], dtype=dual.raw(v).dtype)
    return v[..., None] * eye


def _diagonal(x):
    """(..., n, n) -> (..., n)."""
    if dual.is_tensor(x):
        return x.diagonal(0, -2, -1)
    return _xp(x).diagonal(x, 0, -2, -1)


def _solve(a, b):
    """a^-1 b for raw arrays (LAPACK) or Tensors (recorded: ``Solve``)."""
    if dual.is_tensor(a) or dual.is_tensor(b):
        return Solve.apply(a, b)
    return _lapack("solve", _xp(a).linalg.solve, a, b)


def _inv(a):
    return Inverse.apply(a) if dual.is_tensor(a) else _lapack("inv", _xp(a).linalg.inv, a)


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a matrix that is singular, not positive-definite, or whose
    decomposition did not converge (a RuntimeError, as torch's)."""

    __module__ = "tinygrad_cv.linalg"


def _lapack(name, fn, *args):
    """``fn(*args)`` with LAPACK's singular-matrix error as torch's RuntimeError."""
    try:
        return fn(*args)
    except Exception as err:                      # numpy.linalg.LinAlgError (or CuPy's)
        if type(err).__name__ != "LinAlgError":
            raise
        raise LinAlgError(f"linalg.{name}: The input matrix is singular, so the operation "
                          f"could not be completed ({err})") from None


def _zero_like(x, g):
    return dual.zeros_grad(x, g)


# ---- inverse, solve, determinants --------------------------------------------------------------
class Inverse(_Primitive):
    """Y = A^-1;  dA = -Y^T G Y^T."""

    @staticmethod
    def forward(ctx, a):
        out = _lapack("inv", backend.get_array_module(a).linalg.inv, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        yt = _mT(y)
        return -(yt @ g @ yt)


class Solve(_Primitive):
    """X = A^-1 B (B (..., n, k));  dB = A^-T G,  dA = -dB X^T."""

    @staticmethod
    def forward(ctx, a, b):
        out = _lapack("solve", backend.get_array_module(a).linalg.solve, a, b)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        gb = _solve(_mT(a), g)
        return (-(gb @ _mT(x)) if na else None), (gb if nb else None)


def _cofactors(a):
    """adj(A)^T of raw arrays A (..., n, n) from the SVD (defined for singular A too)."""
    xp = backend.get_array_module(a)
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], ones], axis=-1), -1),
                               axis=-1), -1)
    others = before * after                                     # prod_{j != i} s_j
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * others[..., None, :]) @ vh)


class Det(_Primitive):
    """d = det A;  dA = g adj(A)^T (the cofactor matrix)."""

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).linalg.det(a)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        if dual.is_tensor(a):
            return (g * d)[..., None, None] * _mT(_inv(a))
        return g[..., None, None] * _cofactors(a)


class Slogdet(_Primitive):
    """(sign, log|det A|);  dA = g A^-T (the sign has no gradient)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        sign, logabs = backend.get_array_module(a).linalg.slogdet(a)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return sign, logabs

    @staticmethod
    def backward(ctx, g_sign, g_logabs):
        (a,) = ctx.saved_tensors
        if g_logabs is None:
            return None
        return g_logabs[..., None, None] * _mT(_inv(a))


# ---- Cholesky, QR ------------------------------------------------------------------------------
class Cholesky(_Primitive):
    """A = L L^T (L lower);  P = tril(L^T G), M = (P + tril(P, -1)^T) / 2,  dA = L^-T M L^-1."""

    @staticmethod
    def forward(ctx, a):
        try:
            out = backend.get_array_module(a).linalg.cholesky(a)
        except Exception as err:
            if type(err).__name__ != "LinAlgError":
                raise
            raise LinAlgError("linalg.cholesky: The factorization could not be completed "
                              "because the input is not positive-definite") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (l,) = ctx.saved_tensors
        p = _tril(_mT(l) @ g)
        m = (p + _mT(_tril(p, -1))) * 0.5
        left = _solve(_mT(l), m)                                 # L^-T M
        return _mT(_solve(_mT(l), _mT(left)))                    # (L^-T M) L^-1


def _copyltu(m):
    return _tril(m) + _mT(_tril(m, -1))


def _qr_backward_tall(q, r, gq, gr):
    """dA of A = Q R with m >= n (R square)."""
    m = r @ _mT(gr) - _mT(gq) @ q
    b = gq + q @ _copyltu(m)
    return _mT(_solve(r, _mT(b)))                                # b R^-T


class QR(_Primitive):
    """A = Q R (mode 'reduced' or 'complete'; the gradient needs Q, and for m > n the reduced
    factors: as torch, 'complete' with m > n and 'r' have none)."""

    @staticmethod
    def forward(ctx, a, mode="reduced"):
        q, r = backend.get_array_module(a).linalg.qr(a, mode=mode)
        ctx.mode, ctx.shape = mode, a.shape
        ctx.save_for_backward(a, q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        a, q, r = ctx.saved_tensors
        m, n = ctx.shape[-2], ctx.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise NotImplementedError("The QR decomposition is not differentiable when "
                                      "mode='complete' and nrows > ncols.")
        gq = _zero_like(q, gr if gr is not None else gq) if gq is None else gq
        gr = _zero_like(r, gq) if gr is None else gr
        if m >= n:
            return _qr_backward_tall(q, r, gq, gr)
        y = a[..., m:]
        u, gu, gv = r[..., :m], gr[..., :m], gr[..., m:]
        gx = _qr_backward_tall(q, u, gq + y @ _mT(gv), gu)
        gy = q @ gv
        return _concat_last(gx, gy)


def _concat_last(a, b):
    if dual.is_tensor(a) or dual.is_tensor(b):
        return cat([a, b], dim=-1)
    return _xp(a).concatenate([a, b], axis=-1)


# ---- symmetric eigenvalues, SVD -----------------------------------------------------------------
def _gap_inverse(values, squared=False):
    """F_ij = 1 / (v_j - v_i) (1 / (v_j^2 - v_i^2)), 0 on the diagonal, of a raw array or a
    Tensor (recorded: F depends on the values for second derivatives); inf where two values
    are equal, as torch's gradients."""
    v = values * values if squared else values
    diff = v[..., None, :] - v[..., :, None]
    eye = _xp(values).eye(values.shape[-1], dtype=bool)
    return dual.where(eye, 0.0, 1.0 / dual.where(eye, 1.0, diff))


class Eigh(_Primitive):
    """A = V diag(w) V^T (symmetric A, the ``UPLO`` triangle read);
    dA = V (diag(gw) + F o (V^T gV - gV^T V) / 2) V^T, F_ij = 1 / (w_j - w_i)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, uplo="L"):
        w, v = backend.get_array_module(a).linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        inner = 0
        if gv is not None:
            vtgv = _mT(v) @ gv
            inner = (vtgv - _mT(vtgv)) * (0.5 * _gap_inverse(w))
        if gw is not None:
            inner = inner + _diag_embed(gw)
        return v @ inner @ _mT(v)


class SVD(_Primitive):
    """A = U diag(s) Vh (reduced: U (..., m, k), s (..., k), Vh (..., k, n), k = min(m, n));
    the backward in the module docstring (full_matrices with m != n: not differentiable, as
    torch)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, full_matrices=False):
        try:
            u, s, vh = backend.get_array_module(a).linalg.svd(a, full_matrices=full_matrices)
        except Exception as err:                  # numpy.linalg.LinAlgError (or CuPy's)
            if type(err).__name__ != "LinAlgError":
                raise
            raise LinAlgError("linalg.svd: The algorithm failed to converge (the input matrix "
                              "may contain non-finite values)") from None
        ctx.full = full_matrices and a.shape[-1] != a.shape[-2]
        ctx.set_materialize_grads(False)     # an unused output's gradient arrives as None
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, gu, gs, gvh):
        """The formula of the module docstring; with the singular vectors unused (svdvals,
        the nuclear and spectral norms) dA = U diag(gs) V^T alone, finite for repeated or zero
        singular values (torch's)."""
        u, s, vh = ctx.saved_tensors
        if ctx.full:
            # only S is differentiated (unused singular vectors arrive as None)
            if any(g is not None and bool((g != 0).any()) for g in (gu, gvh)):
                raise NotImplementedError("svd_backward: the singular vectors of "
                                          "full_matrices=True with m != n are not "
                                          "differentiable (as torch)")
            k = s.shape[-1]
            u, vh, gu, gvh = u[..., :, :k], vh[..., :k, :], None, None
        v = _mT(vh)
        core = 0
        if gs is not None:
            core = _diag_embed(gs)
        if gu is None and gvh is None:
            return u @ core @ vh
        f = _gap_inverse(s, squared=True)
        sm = _diag_embed(s)
        inv_s = 1.0 / s
        result = 0
        if gu is not None:
            utgu = _mT(u) @ gu
            core = core + ((utgu - _mT(utgu)) * f) @ sm
            m = u.shape[-2]
            if m > s.shape[-1]:
                result = (gu - u @ utgu) * inv_s[..., None, :] @ vh
        if gvh is not None:
            gv = _mT(gvh)
            vtgv = _mT(v) @ gv
            core = core + sm @ ((vtgv - _mT(vtgv)) * f)
            n = v.shape[-2]
            if n > s.shape[-1]:
                result = result + u @ (_mT(gv - v @ vtgv) * inv_s[..., :, None])
        return u @ core @ vh + result


# ---- the matrix exponential -------------------------------------------------------------------
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def expm_array(a):
    """exp(A) of raw arrays (..., n, n): the [13/13] Pade approximant with scaling and squaring
    (Higham 2005): A / 2^s with ||A / 2^s||_1 <= theta_13, the approximant, then s squarings
    (s the largest over the batch)."""
    xp = backend.get_array_module(a)
    n = a.shape[-1]
    norm = float(xp.abs(a).sum(axis=-2).max()) if a.size else 0.0
    squarings = max(0, int(math.ceil(math.log2(norm / _THETA13)))) if norm > _THETA13 else 0
    x = a / (2.0 ** squarings)
    eye = xp.broadcast_to(xp.eye(n, dtype=a.dtype), a.shape)
    b = _PADE13
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + \
        b[0] * eye
    out = xp.linalg.solve(v - u, v + u)
    for _ in range(squarings):
        out = out @ out
    return out


class MatrixExp(_Primitive):
    """E = exp(A);  dA = the top-right block of exp([[A^T, G], [0, A^T]]) (the adjoint of the
    Frechet derivative)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return expm_array(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        n = a.shape[-1]
        at = _mT(a)
        zero = _zero_like(a, g)
        top = _concat_last(at, g)
        bottom = _concat_last(zero, at)
        if dual.is_tensor(top):
            block = MatrixExp.apply(cat([top, bottom], dim=-2))
        else:
            block = expm_array(_xp(top).concatenate([top, bottom], axis=-2))
        return block[..., :n, n:]
