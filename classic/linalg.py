"""SVD, pseudo-inverse, low-rank approximation and PCA on the backend (notes 9.2, 9.3).

SVD: A = U D V^T with U (m, r), D = diag(s) (s descending), V^T (r, n), r = min(m, n).
Pseudo-inverse: A^+ = V D^+ U^T, D^+ inverting the singular values above rcond * s_max.
Rank-k approximation (best in Frobenius and spectral norm, Eckart-Young):
A_k = U[:, :k] diag(s[:k]) V^T[:k].
PCA: centred data X_c = X - mean = U D V^T; components are the rows of V^T, explained
variance s^2 / (n - 1); transform z = X_c V (divided by max(sqrt(variance), eps) with
``whiten``, as scikit-learn, so constant directions give 0, not NaN).
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module

from ._validate import as_float_array


def svd(a, full_matrices=False):
    """``(U, s, Vt)`` with ``a = U @ diag(s) @ Vt``, s descending (reduced by default)."""
    xp = get_array_module(a)
    a = as_float_array(a, "a", ndim=2)
    return xp.linalg.svd(a, full_matrices=full_matrices)


def pinv(a, rcond=1e-15):
    """Moore-Penrose pseudo-inverse ``V D^+ U^T`` of an (m, n) matrix, shape (n, m);
    singular values <= rcond * max(s) count as zero (numpy.linalg.pinv's rule)."""
    xp = get_array_module(a)
    u, s, vt = svd(a)
    cutoff = rcond * s.max() if s.size else 0.0
    inverse = xp.where(s > cutoff, 1.0 / xp.where(s > cutoff, s, 1.0), 0.0)
    return (vt.T * inverse) @ u.T


def low_rank(a, rank):
    """Best rank-``rank`` approximation ``U_k diag(s_k) V_k^T`` of ``a`` (same shape)."""
    u, s, vt = svd(a)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= s.shape[0]:
        raise ValueError(f"rank must be an int in [1, {s.shape[0]}], got {rank!r}")
    return (u[:, :rank] * s[:rank]) @ vt[:rank]


def _flip_signs(u, vt):
    """Fix the SVD's sign freedom: the largest-magnitude entry of each row of Vt is made
    positive (scikit-learn's convention for PCA components)."""
    xp = get_array_module(vt)
    pivots = xp.abs(vt).argmax(axis=1)
    signs = xp.sign(vt[xp.arange(vt.shape[0]), pivots])
    signs = xp.where(signs == 0, 1.0, signs)
    return u * signs, vt * signs[:, None]


class PCA:
    """Principal component analysis by SVD of the centred data.

    ``n_components``: int (that many), float in (0, 1) (fewest components whose explained
    variance ratio sums to more than it), or None (all, min(n_samples, n_features)).
    After ``fit(X)`` (X (n, d), returns self): ``mean_`` (d,), ``components_`` (c, d),
    ``explained_variance_`` (c,) = s^2/(n-1), ``explained_variance_ratio_`` (c,),
    ``singular_values_`` (c,).  ``transform(X)`` -> (m, c); ``inverse_transform(Z)`` -> (m, d).
    """

    def __init__(self, n_components=None, whiten=False):
        self.n_components = n_components
        self.whiten = whiten

    def fit(self, X):
        xp = get_array_module(X)
        X = as_float_array(X, "X", ndim=2, min_rows=2)
        n, d = X.shape
        self.mean_ = X.mean(axis=0)
        u, s, vt = xp.linalg.svd(X - self.mean_, full_matrices=False)
        u, vt = _flip_signs(u, vt)
        variance = s * s / (n - 1)
        total = variance.sum()
        ratio = variance / total if float(total) > 0 else xp.zeros_like(variance)
        count = self._component_count(ratio, min(n, d))
        self.n_components_ = count
        self.components_ = vt[:count]
        self.explained_variance_ = variance[:count]
        self.explained_variance_ratio_ = ratio[:count]
        self.singular_values_ = s[:count]
        self.n_samples_, self.n_features_in_ = n, d
        return self

    def _component_count(self, ratio, limit):
        xp = get_array_module(ratio)
        c = self.n_components
        if c is None:
            return limit
        if isinstance(c, float) and 0.0 < c < 1.0:
            cumulative = xp.cumsum(ratio)
            return min(int((cumulative < c).sum()) + 1, limit)
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= limit:
            raise ValueError(f"n_components must be None, a float in (0, 1) or an int in "
                             f"[1, {limit}], got {c!r}")
        return c

    def _check_fitted(self, X, width_attribute, name):
        if not hasattr(self, "components_"):
            raise ValueError("PCA is not fitted: call fit(X) first")
        width = getattr(self, width_attribute)
        X = as_float_array(X, name, ndim=2)
        if X.shape[1] != width:
            raise ValueError(f"{name} has {X.shape[1]} columns, expected {width}")
        return X

    def transform(self, X):
        xp = get_array_module(X)
        X = self._check_fitted(X, "n_features_in_", "X")
        z = (X - self.mean_) @ self.components_.T
        if self.whiten:
            z = z / self._whitening_scale()
        return z

    def _whitening_scale(self):
        """sqrt(explained variance), raised to machine epsilon where smaller (a constant
        direction): its scores, all 0, stay 0 instead of 0/0 = NaN (scikit-learn's rule)."""
        xp = get_array_module(self.explained_variance_)
        scale = xp.sqrt(self.explained_variance_)
        return xp.maximum(scale, xp.finfo(scale.dtype).eps)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        xp = get_array_module(Z)
        Z = self._check_fitted(Z, "n_components_", "Z")
        if self.whiten:
            Z = Z * xp.sqrt(self.explained_variance_)
        return Z @ self.components_ + self.mean_
