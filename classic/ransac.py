"""RANSAC over model classes, with line, affine and projective (homography) models.

The notes' trial count: to draw, with probability ``p``, at least one all-inlier sample of
``n`` points when a fraction ``w`` of the data are inliers, one needs

    k = log(1 - p) / log(1 - w^n)

trials.  ``ransac`` re-evaluates k from the best inlier ratio found so far and stops when
that many trials are done (or at ``max_trials``).

A model class has ``estimate(*data) -> bool`` (fit to the given rows) and
``residuals(*data) -> (N,)`` (one distance per row).  ``data`` is one (N, D) array
(LineModel) or a tuple of arrays with N rows each (``(src, dst)`` for the transforms).
Points are (x, y) = (column, row), as in scikit-image.
"""
from __future__ import annotations

import math

from tinygrad_cv.backend import device_of, get_array_module, to_device

from ._validate import as_float_array, check_positive


def required_trials(probability, inlier_ratio, min_samples):
    """k = ceil(log(1 - p) / log(1 - w^n)): trials needed to draw an all-inlier sample of
    ``min_samples`` points with probability ``probability`` when a fraction
    ``inlier_ratio`` of the points are inliers.

    Edge cases: p <= 0 -> 0; w <= 0 or p >= 1 -> inf; w^n >= 1 -> 1.
    """
    p, w, n = float(probability), float(inlier_ratio), int(min_samples)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must lie in [0, 1], got {p}")
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"inlier_ratio must lie in [0, 1], got {w}")
    if n < 1:
        raise ValueError(f"min_samples must be >= 1, got {n}")
    if p <= 0.0:
        return 0
    if w <= 0.0 or p >= 1.0:
        return math.inf
    all_inlier = w ** n
    if all_inlier >= 1.0:
        return 1
    if all_inlier <= 0.0:  # underflow: practically never
        return math.inf
    return int(math.ceil(math.log(1.0 - p) / math.log1p(-all_inlier)))


class LineModel:
    """Line in D dimensions by total least squares: ``params = (origin, direction)``.

    estimate: origin = mean of the points, direction = first right singular vector of the
    centred points (the direction minimising the sum of squared perpendicular distances).
    residuals: perpendicular distance ``|| (x - o) - ((x - o) . d) d ||``.
    """

    min_samples = 2

    def __init__(self):
        self.params = None

    def estimate(self, data) -> bool:
        xp = get_array_module(data)
        if data.ndim != 2 or data.shape[0] < 2:
            raise ValueError(f"LineModel needs an (N >= 2, D) array, got shape {tuple(data.shape)}")
        origin = data.mean(axis=0)
        _, s, vt = xp.linalg.svd(data - origin, full_matrices=False)
        self.params = (origin, vt[0])
        return bool(s[0] > 0)

    def residuals(self, data):
        xp = get_array_module(data)
        origin, direction = self.params
        d = data - origin
        along = d @ direction
        return xp.sqrt(xp.maximum((d * d).sum(axis=1) - along * along, 0.0))

    def predict_y(self, x):
        """y on the (2-D) line at abscissa ``x``."""
        origin, direction = self.params
        return origin[1] + (x - origin[0]) * direction[1] / direction[0]

    def predict_x(self, y):
        """x on the (2-D) line at ordinate ``y``."""
        origin, direction = self.params
        return origin[0] + (y - origin[1]) * direction[0] / direction[1]


def _hartley_normalisation(points):
    """Similarity T (3x3) moving the centroid to 0 and the mean distance to sqrt(2);
    returns (T, normalised points (N, 2))."""
    xp = get_array_module(points)
    centroid = points.mean(axis=0)
    centred = points - centroid
    mean_dist = xp.sqrt((centred ** 2).sum(axis=1)).mean()
    scale = xp.where(mean_dist > 0, math.sqrt(2) / xp.where(mean_dist > 0, mean_dist, 1), 1.0)
    t = xp.zeros((3, 3), dtype=points.dtype)
    t[0, 0] = t[1, 1] = scale
    t[0, 2] = -scale * centroid[0]
    t[1, 2] = -scale * centroid[1]
    t[2, 2] = 1.0
    return t, centred * scale


class ProjectiveTransform:
    """Homography ``[x', y', w']^T = H [x, y, 1]^T``, point ``(x'/w', y'/w')``; ``params`` is H (3x3).

    estimate(src, dst): normalised DLT.  Both point sets are Hartley-normalised
    (T_s, T_d), each correspondence gives two rows of A h = 0,

        [-x -y -1  0  0  0  x'x  x'y  x']
        [ 0  0  0 -x -y -1  y'x  y'y  y']

    h is the right singular vector of A with the smallest singular value, and
    H = T_d^-1 H_n T_s, scaled so that H[2, 2] = 1.  Needs >= 4 points.
    residuals(src, dst): ``|| H(src) - dst ||`` per point.
    """

    min_samples = 4

    def __init__(self, matrix=None):
        self.params = matrix

    def __call__(self, coords):
        return _apply_homogeneous(self.params, coords)

    def inverse(self, coords):
        xp = get_array_module(coords)
        return _apply_homogeneous(xp.linalg.inv(self.params), coords)

    def estimate(self, src, dst) -> bool:
        xp = get_array_module(src, dst)
        src, dst = _check_pairs(src, dst, self.min_samples, type(self).__name__)
        t_src, s = _hartley_normalisation(src)
        t_dst, d = _hartley_normalisation(dst)
        n = s.shape[0]
        a = xp.zeros((2 * n, 9), dtype=s.dtype)
        x, y = s[:, 0], s[:, 1]
        xd, yd = d[:, 0], d[:, 1]
        a[:n, 0], a[:n, 1], a[:n, 2] = -x, -y, -1
        a[:n, 6], a[:n, 7], a[:n, 8] = xd * x, xd * y, xd
        a[n:, 3], a[n:, 4], a[n:, 5] = -x, -y, -1
        a[n:, 6], a[n:, 7], a[n:, 8] = yd * x, yd * y, yd
        _, sv, vt = xp.linalg.svd(a, full_matrices=True)
        h = vt[-1].reshape(3, 3)
        h = xp.linalg.inv(t_dst) @ h @ t_src
        scale = h[2, 2]
        ok = bool(xp.abs(scale) > 1e-12) and bool(xp.isfinite(h).all())
        if not ok:
            self.params = xp.full((3, 3), xp.nan)
            return False
        self.params = h / scale
        return True

    def residuals(self, src, dst):
        xp = get_array_module(src, dst)
        return xp.sqrt(((self(src) - dst) ** 2).sum(axis=1))


class AffineTransform(ProjectiveTransform):
    """Affine map ``[x', y']^T = A [x, y]^T + t``; ``params`` is [[A, t], [0, 0, 1]] (3x3).

    estimate(src, dst): linear least squares of [x y 1] M^T = [x' y'] on Hartley-normalised
    coordinates, de-normalised as T_d^-1 M T_s.  Needs >= 3 non-collinear points.
    """

    min_samples = 3

    def estimate(self, src, dst) -> bool:
        xp = get_array_module(src, dst)
        src, dst = _check_pairs(src, dst, self.min_samples, type(self).__name__)
        t_src, s = _hartley_normalisation(src)
        t_dst, d = _hartley_normalisation(dst)
        design = xp.concatenate([s, xp.ones((s.shape[0], 1), dtype=s.dtype)], axis=1)
        u, sv, vt = xp.linalg.svd(design, full_matrices=False)
        if not bool(sv[-1] > 1e-10 * sv[0]):
            self.params = xp.full((3, 3), xp.nan)
            return False
        # least squares via the SVD: M^T = V diag(1/s) U^T d
        m_t = vt.T @ ((u.T @ d) / sv[:, None])
        m = xp.eye(3, dtype=s.dtype)
        m[:2, :] = m_t.T
        self.params = xp.linalg.inv(t_dst) @ m @ t_src
        self.params[2] = xp.asarray([0.0, 0.0, 1.0], dtype=s.dtype)
        return True


def _apply_homogeneous(matrix, coords):
    xp = get_array_module(coords)
    coords = xp.asarray(coords, dtype=matrix.dtype)
    mapped = coords @ matrix[:2, :2].T + matrix[:2, 2]
    w = coords @ matrix[2, :2] + matrix[2, 2]
    w = xp.where(w == 0, xp.finfo(matrix.dtype).eps, w)
    return mapped / w[:, None]


def _check_pairs(src, dst, minimum, name):
    """Check the point pairs; returns them as floating point (integer points become float64:
    the normalisation and the solve need fractions)."""
    if src.ndim != 2 or src.shape[1] != 2 or dst.shape != src.shape:
        raise ValueError(f"{name} needs src and dst of equal shape (N, 2), got "
                         f"{tuple(src.shape)} and {tuple(dst.shape)}")
    if src.shape[0] < minimum:
        raise ValueError(f"{name} needs at least {minimum} point pairs, got {src.shape[0]}")
    xp = get_array_module(src, dst)
    return tuple(a if a.dtype.kind == "f" else a.astype(xp.float64) for a in (src, dst))


def _random_generator(rng, xp):
    if rng is None or (isinstance(rng, int) and not isinstance(rng, bool)):
        return xp.random.default_rng(rng)
    if not callable(getattr(rng, "random", None)):
        raise ValueError(f"rng must be None, an int seed or a Generator, got {rng!r}")
    return rng


def ransac(data, model_class, min_samples, residual_threshold, max_trials=100,
           stop_probability=0.99, rng=None):
    """Fit ``model_class`` robustly: returns ``(model, inliers)`` (inliers: bool (N,)).

    Each trial fits a model to ``min_samples`` random rows, counts the rows whose residual
    is < ``residual_threshold``, and keeps the model with most inliers (ties: smaller sum
    of inlier residuals).  Trials stop at ``max_trials`` or once the trial count reaches
    ``required_trials(stop_probability, best_inliers / N, min_samples)``.  The returned
    model is refitted on all inliers of the best trial; the returned inliers are those of
    the refitted model (then refitted once more on them) unless that would lose inliers.  ``rng``: seed or Generator (same
    seed, same result).  When no trial gives a valid model with inliers, returns
    ``(None, None)``.
    """
    arrays = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    if not arrays:
        raise ValueError("data is empty: give an (N, D) array or a tuple of (N, ...) arrays")
    arrays = tuple(as_float_array(a, "data", ndim=(1, 2)) for a in arrays)
    n = int(arrays[0].shape[0])
    if any(int(a.shape[0]) != n for a in arrays):
        raise ValueError(f"data arrays differ in length: {[int(a.shape[0]) for a in arrays]}")
    if not isinstance(min_samples, (int,)) or isinstance(min_samples, bool) or min_samples < 1:
        raise ValueError(f"min_samples must be a positive int, got {min_samples!r}")
    if n < min_samples:
        raise ValueError(f"too few points for RANSAC: {n} given, min_samples={min_samples}")
    residual_threshold = check_positive(residual_threshold, "residual_threshold")
    if not isinstance(max_trials, int) or max_trials < 1:
        raise ValueError(f"max_trials must be a positive int, got {max_trials!r}")
    if not 0.0 <= float(stop_probability) <= 1.0:
        raise ValueError(f"stop_probability must lie in [0, 1], got {stop_probability}")

    xp = get_array_module(*arrays)
    generator = _random_generator(rng, xp)
    best_count, best_residual_sum, best_inliers = 0, math.inf, None
    trials_needed = math.inf
    chunk = 64
    trial = 0
    while trial < max_trials and trial < trials_needed:
        size = min(chunk, max_trials - trial)
        keys = generator.random((size, n))
        if device_of(keys) != device_of(arrays[0]):
            keys = to_device(keys, device_of(arrays[0]))
        samples = xp.argsort(keys, axis=1)[:, :min_samples]
        for row in range(size):
            if trial >= trials_needed:
                break
            trial += 1
            idx = samples[row]
            model = model_class()
            if not model.estimate(*[a[idx] for a in arrays]):
                continue
            residuals = model.residuals(*arrays)
            inliers = residuals < residual_threshold
            count = int(inliers.sum())
            residual_sum = float(xp.where(inliers, residuals, 0).sum())
            if count > best_count or (count == best_count and count > 0
                                      and residual_sum < best_residual_sum):
                best_count, best_residual_sum, best_inliers = count, residual_sum, inliers
                trials_needed = required_trials(stop_probability, count / n, min_samples)
    if best_inliers is None or best_count < min_samples:
        return None, None
    model = model_class()
    if not model.estimate(*[a[best_inliers] for a in arrays]):
        return None, None
    # inliers of the refitted model (a superset in practice: the refit is more accurate)
    inliers = model.residuals(*arrays) < residual_threshold
    if int(inliers.sum()) < best_count or not model.estimate(*[a[inliers] for a in arrays]):
        model = model_class()
        model.estimate(*[a[best_inliers] for a in arrays])
        inliers = best_inliers
    return model, inliers
