"""Panorama stitching: features, matching, RANSAC homography, inverse warping, feathering.

For each image after the first: detect features (SIFT descriptors, or Harris corners described
by normalised grey patches), match them to the previous image (Lowe's ratio test +
cross-check), fit the homography ``H`` mapping its points ``(x, y) = (col, row)`` to the
previous image by RANSAC (DLT in ``classic.ransac``), and chain ``H_i = H_{i-1} H``, so every
image is expressed in the first image's frame.

The canvas is the bounding box of all warped image corners.  Each canvas pixel ``p`` is mapped
back, ``q = H_i^{-1} p``, and image i is sampled there with bilinear interpolation (inverse
warping: no holes).  Feathered blending weighs each image by its distance to its own border::

    w_i(q) = max(0, min(x + 1, W_i - x, y + 1, H_i - y))          (0 outside the image)
    out(p) = sum_i w_i(q_i) I_i(q_i) / sum_i w_i(q_i)

Everything runs on the images' backend (NumPy or CuPy).
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module

from ._image import as_float_image, to_gray
from ._validate import check_finite
from .ransac import ProjectiveTransform, ransac
from .sift import SIFT, match_descriptors

__all__ = ["stitch", "register_pair", "warp_bilinear", "detect_features"]

# Corner coordinates come out of 3x3 products and an SVD whose last bits depend on the BLAS
# kernel; a corner at x = -1e-14 must not widen the canvas by a whole pixel.  Coordinates
# within this many pixels of an integer are taken to be that integer.
_SNAP = 1e-6


def _harris_features(gray, patch=7, max_corners=2000):
    from .corners import corner_peaks, harris_response
    xp = get_array_module(gray)
    resp = harris_response(gray)
    pts = corner_peaks(resp, min_distance=5, threshold_rel=0.01)[:max_corners]
    h, w = gray.shape
    r = patch // 2
    pts = pts[(pts[:, 0] >= r) & (pts[:, 0] < h - r) & (pts[:, 1] >= r) & (pts[:, 1] < w - r)]
    d = xp.arange(-r, r + 1)
    patches = gray[pts[:, 0][:, None, None] + d[None, :, None], pts[:, 1][:, None, None] + d[None, None, :]]
    patches = patches.reshape(len(pts), -1).astype(xp.float64)
    patches = patches - patches.mean(1, keepdims=True)
    patches /= xp.maximum(xp.linalg.norm(patches, axis=1, keepdims=True), 1e-12)
    return pts.astype(xp.float64), patches


def detect_features(image, method="sift"):
    """Keypoints (N, 2) as (row, col) and descriptors (N, D) of ``image``."""
    gray = to_gray(image, dtype="float32")
    if method == "sift":
        kp, desc = SIFT().detect_and_extract(gray)
        return kp[:, :2], desc
    if method == "harris":
        return _harris_features(gray)
    raise ValueError(f"method must be 'sift' or 'harris', got {method!r}")


def _register(moving, fixed, method, max_ratio, residual_threshold, max_trials, seed,
              min_inliers, min_inlier_ratio):
    """``(H, n_inliers, n_matches)`` of :func:`register_pair`."""
    min_inliers = int(min_inliers)
    if min_inliers < 4:
        raise ValueError(f"min_inliers must be >= 4 (a homography needs 4 points), got {min_inliers}")
    if not 0.0 <= float(min_inlier_ratio) <= 1.0:
        raise ValueError(f"min_inlier_ratio must lie in [0, 1], got {min_inlier_ratio}")
    k1, d1 = detect_features(moving, method)
    k2, d2 = detect_features(fixed, method)
    m = match_descriptors(d1, d2, max_ratio=max_ratio, cross_check=True)
    matches = int(m.shape[0])
    if matches < 4:
        raise ValueError(f"only {matches} feature matches between the images: a "
                         "homography needs at least 4 (do the images overlap?)")
    src = k1[m[:, 0]][:, ::-1].astype("float64")
    dst = k2[m[:, 1]][:, ::-1].astype("float64")
    model, inliers = ransac((src, dst), ProjectiveTransform, 4, residual_threshold,
                            max_trials=max_trials, rng=seed)
    count = 0 if inliers is None else int(inliers.sum())
    if model is None or count < min_inliers or count < float(min_inlier_ratio) * matches:
        raise ValueError(f"the best homography has {count} inliers among {matches} matches; at "
                         f"least {min_inliers} and {float(min_inlier_ratio):.0%} of the matches "
                         "are required (do the images overlap?)")
    return model.params, count, matches


def register_pair(moving, fixed, method="sift", max_ratio=0.8, residual_threshold=2.0,
                  max_trials=2000, seed=0, min_inliers=10, min_inlier_ratio=0.25):
    """Homography (3x3, on (x, y) = (col, row)) taking ``moving``'s pixels to ``fixed``'s,
    and the number of RANSAC inliers.

    Any 4 matches fit some homography exactly, so a fit is accepted only with at least
    ``min_inliers`` inliers making up at least ``min_inlier_ratio`` of the matches; photos that
    do not overlap give 4 or 5 chance inliers.  Otherwise (or with fewer than 4 matches) raises
    ``ValueError``.
    """
    H, count, _ = _register(moving, fixed, method, max_ratio, residual_threshold, max_trials,
                            seed, min_inliers, min_inlier_ratio)
    return H, count


def warp_bilinear(image, inverse, shape, offset=(0.0, 0.0)):
    """Inverse warp: ``out[r, c] = image(H^-1 (c + ox, r + oy))`` sampled bilinearly.

    ``inverse`` is the 3x3 map from output (x, y) to input (x, y); returns ``(out, weight)``
    where weight is the feathering weight (0 where the sample falls outside ``image``; a
    sample within ``_SNAP`` pixels of the border counts as on it).
    """
    xp = get_array_module(image)
    img = image if image.ndim == 3 else image[:, :, None]
    h, w = img.shape[:2]
    H, W = shape
    ys, xs = xp.meshgrid(xp.arange(H, dtype=xp.float64) + offset[1],
                         xp.arange(W, dtype=xp.float64) + offset[0], indexing="ij")
    M = xp.asarray(inverse, dtype=xp.float64)
    if M.shape != (3, 3):
        raise ValueError(f"inverse must be a 3x3 matrix, got shape {tuple(M.shape)}")
    check_finite(M, "inverse")
    den = M[2, 0] * xs + M[2, 1] * ys + M[2, 2]
    den = xp.where(xp.abs(den) < 1e-12, 1e-12, den)
    sx = (M[0, 0] * xs + M[0, 1] * ys + M[0, 2]) / den
    sy = (M[1, 0] * xs + M[1, 1] * ys + M[1, 2]) / den
    # a sample within _SNAP of the image border is on it (rounding must not drop a border row)
    inside = (sx >= -_SNAP) & (sx <= w - 1 + _SNAP) & (sy >= -_SNAP) & (sy <= h - 1 + _SNAP)
    x0 = xp.clip(xp.floor(sx), 0, max(w - 2, 0)).astype(xp.int64)
    y0 = xp.clip(xp.floor(sy), 0, max(h - 2, 0)).astype(xp.int64)
    x1, y1 = xp.minimum(x0 + 1, w - 1), xp.minimum(y0 + 1, h - 1)
    fx = xp.clip(sx - x0, 0, 1)[:, :, None]
    fy = xp.clip(sy - y0, 0, 1)[:, :, None]
    out = ((img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy)
           + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy)
    weight = xp.minimum(xp.minimum(sx + 1, w - sx), xp.minimum(sy + 1, h - sy))
    weight = xp.where(inside, xp.maximum(weight, 0), 0)
    if image.ndim == 2:
        out = out[:, :, 0]
    return out, weight


def _canvas_bounds(corners):
    """Integer bounds ``(x0, y0, x1, y1)`` of the canvas holding points ``corners`` (N, 2):
    ``floor(min)`` and ``ceil(max)`` per axis, after snapping values within ``_SNAP`` of an
    integer to it (a pixel that close to the border of the hull would get feather weight 0
    anyway: the sample falls outside the image)."""
    xp = get_array_module(corners)
    nearest = xp.rint(corners)
    snapped = xp.where(xp.abs(corners - nearest) <= _SNAP, nearest, corners)
    x0, y0 = (float(v) + 0.0 for v in xp.floor(snapped.min(0)))      # + 0.0: no -0.0
    x1, y1 = (float(v) + 0.0 for v in xp.ceil(snapped.max(0)))
    return x0, y0, x1, y1


def stitch(images, method="sift", max_ratio=0.8, residual_threshold=2.0, max_trials=2000,
           seed=0, return_homographies=False, min_inliers=10, min_inlier_ratio=0.25,
           on_pair=None):
    """Stitch overlapping ``images`` (a sequence, each overlapping the previous one) into a
    panorama in the first image's frame: (H, W[, C]) float, 0 where no image covers.

    ``method``: 'sift' or 'harris' features.  Each pair is registered by
    :func:`register_pair` (``min_inliers``, ``min_inlier_ratio``: its acceptance test);
    ``on_pair(i, n_inliers, n_matches)`` is called after image i is registered to image i - 1.
    ``return_homographies=True`` also returns the 3x3 maps (image i -> first image, (x, y)
    coordinates) and the canvas offset (x0, y0).
    """
    images = [as_float_image(im, name=f"images[{i}]") for i, im in enumerate(images)]
    if len(images) < 2:
        raise ValueError(f"stitch needs at least 2 images, got {len(images)}")
    chans = {im.shape[2] if im.ndim == 3 else 0 for im in images}
    if len(chans) != 1:
        raise ValueError("all images must have the same number of channels")
    xp = get_array_module(images[0])
    Hs = [xp.eye(3)]
    for i in range(1, len(images)):
        try:
            H, count, matches = _register(images[i], images[i - 1], method, max_ratio,
                                          residual_threshold, max_trials, seed, min_inliers,
                                          min_inlier_ratio)
        except ValueError as exc:
            raise ValueError(f"images[{i}] -> images[{i - 1}]: {exc}") from None
        if on_pair is not None:
            on_pair(i, count, matches)
        Hs.append(Hs[-1] @ xp.asarray(H))
    corners = []
    for im, H in zip(images, Hs):
        h, w = im.shape[:2]
        c = xp.asarray([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], dtype=xp.float64)
        p = c @ H.T
        corners.append(p[:, :2] / p[:, 2:3])
    x0, y0, x1, y1 = _canvas_bounds(xp.concatenate(corners))
    W, Hh = int(x1 - x0) + 1, int(y1 - y0) + 1
    if W * Hh > 64e6:
        raise ValueError(f"the panorama would be {Hh}x{W} pixels: the homography is degenerate")
    acc = None
    wsum = xp.zeros((Hh, W), dtype=xp.float64)
    for im, H in zip(images, Hs):
        out, wt = warp_bilinear(im, xp.linalg.inv(H), (Hh, W), (x0, y0))
        term = out * (wt[:, :, None] if out.ndim == 3 else wt)
        acc = term if acc is None else acc + term
        wsum += wt
    den = xp.where(wsum > 0, wsum, 1)
    pano = acc / (den[:, :, None] if acc.ndim == 3 else den)
    pano = pano.astype(images[0].dtype)
    if return_homographies:
        return pano, Hs, (x0, y0)
    return pano
