"""Harris corners (notes 6.1) and peak picking like ``skimage.feature.corner_peaks``.

Structure tensor with a Gaussian window w (sigma):

    H = sum_{x,y} w(x,y) [[I_r^2, I_r I_c], [I_r I_c, I_c^2]]

with Sobel derivatives I_r, I_c (zero boundary), and the Harris response

    R = det(H) - k tr(H)^2 = lambda_1 lambda_2 - k (lambda_1 + lambda_2)^2.
"""
from __future__ import annotations

import math
import numbers

from tinygrad_cv.backend import get_array_module

from ._validate import as_float_array, as_image, check_positive
from .filters import gaussian_blur, pad_image, sobel


def structure_tensor(image, sigma=1.0):
    """Gaussian-weighted structure tensor ``(A_rr, A_rc, A_cc)``, each (H, W):
    A_rr = G * I_r^2, A_rc = G * (I_r I_c), A_cc = G * I_c^2 (zero boundary)."""
    image = as_image(image, allow_color=False)
    sigma = check_positive(sigma, "sigma")
    g_rows, g_cols = sobel(image, boundary="zero")
    return (gaussian_blur(g_rows * g_rows, sigma, boundary="zero"),
            gaussian_blur(g_rows * g_cols, sigma, boundary="zero"),
            gaussian_blur(g_cols * g_cols, sigma, boundary="zero"))


def harris_response(image, k=0.05, sigma=1.0):
    """Harris response ``R = det(H) - k tr(H)^2`` of a 2-D image, (H, W) float.

    Same definition as ``skimage.feature.corner_harris(image, method='k', k, sigma)``.
    """
    a_rr, a_rc, a_cc = structure_tensor(image, sigma)
    det = a_rr * a_cc - a_rc * a_rc
    trace = a_rr + a_cc
    return det - float(k) * trace * trace


def _max_filter_nearest(image, size):
    """Maximum over a size x size box centred on each pixel (edge values repeated)."""
    xp = get_array_module(image)
    r = size // 2
    h, w = image.shape
    p = pad_image(image, (r, r), (0, 0), "nearest")
    rows = p[0:h]
    for i in range(1, size):
        rows = xp.maximum(rows, p[i:i + h])
    p = pad_image(rows, (0, 0), (r, r), "nearest")
    out = p[:, 0:w]
    for i in range(1, size):
        out = xp.maximum(out, p[:, i:i + w])
    return out


def _offsets_within(radius, p_norm, strict):
    """Integer offsets (dr, dc) != 0 with ||(dr, dc)||_p < radius (strict) or <= radius."""
    r = int(math.floor(radius))
    result = []
    for dr in range(-r, r + 1):
        for dc in range(-r, r + 1):
            if dr == 0 and dc == 0:
                continue
            if math.isinf(p_norm):
                dist = max(abs(dr), abs(dc))
            else:
                dist = (abs(dr) ** p_norm + abs(dc) ** p_norm) ** (1.0 / p_norm)
            if dist < radius or (not strict and dist <= radius + 1e-12):
                result.append((dr, dc))
    return result


def suppress_close_peaks(coords, shape, radius, p_norm=math.inf, strict=False):
    """Greedy spacing of ranked peaks: walking ``coords`` (K, 2) in order, a peak is
    dropped when an earlier kept peak lies within ``radius`` (distance < radius when
    ``strict``, else <=) in the ``p_norm`` metric.  Returns the bool mask of kept peaks.

    Done in parallel rounds without a per-peak loop: in each round every undecided peak
    with no undecided or kept better-ranked neighbour is kept, and the undecided
    neighbours of kept peaks are dropped; this equals the sequential greedy result.
    """
    xp = get_array_module(coords)
    k = int(coords.shape[0])
    kept = xp.zeros(k, dtype=bool)
    offsets = _offsets_within(radius, p_norm, strict)
    if k == 0 or not offsets:
        return xp.ones(k, dtype=bool)
    h, w = shape
    pad = int(math.floor(radius))
    rank_map = xp.full((h + 2 * pad, w + 2 * pad), -1, dtype=xp.int64)
    rank = xp.arange(k, dtype=xp.int64)
    rank_map[coords[:, 0] + pad, coords[:, 1] + pad] = rank
    neighbours = xp.stack([rank_map[coords[:, 0] + pad + dr, coords[:, 1] + pad + dc]
                           for dr, dc in offsets], axis=1)          # (K, n_offsets)
    present = neighbours >= 0
    better = present & (neighbours < rank[:, None])
    nb = xp.where(present, neighbours, 0)
    undecided = xp.ones(k, dtype=bool)
    # each round decides at least the best-ranked undecided peak, so k rounds suffice
    for _ in range(k):
        if not bool(undecided.any()):
            break
        blocked = (better & (undecided[nb] | kept[nb])).any(axis=1)
        accept = undecided & ~blocked
        kept |= accept
        undecided &= ~accept
        dropped = undecided & (present & kept[nb]).any(axis=1)
        undecided &= ~dropped
    return kept


def _border_widths(exclude_border, min_distance):
    """(rows, cols) excluded at the border: True -> min_distance, False -> 0, an int >= 0 for
    both axes, or a pair of them (scikit-image's ``exclude_border``)."""
    if isinstance(exclude_border, bool):
        width = min_distance if exclude_border else 0
        return width, width
    widths = tuple(exclude_border) if isinstance(exclude_border, (tuple, list)) else (exclude_border,) * 2
    if len(widths) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
                                   for v in widths):
        raise ValueError("exclude_border must be a bool, an int >= 0 or a pair of them "
                         f"(rows, cols), got {exclude_border!r}")
    return int(widths[0]), int(widths[1])


def corner_peaks(response, min_distance=1, threshold_rel=0.01, threshold_abs=None,
                 exclude_border=True, num_peaks=math.inf, p_norm=math.inf):
    """Corner coordinates (K, 2) int64 as (row, col), strongest first, as
    ``skimage.feature.corner_peaks``.

    A peak is a pixel equal to the maximum of its (2*min_distance+1)^2 box (edge values
    repeated), above ``max(threshold_abs (default: the minimum), threshold_rel * max)``,
    not within ``min_distance`` of the border when ``exclude_border`` (or within that many
    pixels: an int, or a (rows, cols) pair).  Peaks are ranked by
    response (stable); those closer than ``min_distance`` to a stronger kept one in the
    max-norm are dropped, then those within ``min_distance`` (inclusive, ``p_norm``) of a
    kept one.
    """
    # the response's own values (not scaled as image intensities): thresholds compare with them
    response = as_float_array(response, "response", ndim=2)
    xp = get_array_module(response)
    min_distance = int(min_distance)
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1, got {min_distance}")
    h, w = response.shape
    empty = xp.zeros((0, 2), dtype=xp.int64)
    if response.size > 1 and bool((response == response.ravel()[0]).all()):
        return empty                     # no peak in a flat image (one pixel: its threshold decides)
    threshold = float(response.min()) if threshold_abs is None else float(threshold_abs)
    if threshold_rel is not None:
        threshold = max(threshold, float(threshold_rel) * float(response.max()))
    peaks = (response == _max_filter_nearest(response, 2 * min_distance + 1)) & (response > threshold)
    border_rows, border_cols = _border_widths(exclude_border, min_distance)
    if border_rows:
        peaks[:border_rows] = False
        peaks[-border_rows:] = False
    if border_cols:
        peaks[:, :border_cols] = False
        peaks[:, -border_cols:] = False
    pixels = xp.flatnonzero(peaks)
    if pixels.size == 0:
        return empty
    order = xp.argsort(-response.ravel()[pixels], kind="stable")
    pixels = pixels[order]
    coords = xp.stack([pixels // w, pixels % w], axis=1)
    # the first spacing is peak_local_max's, in the max-norm whatever p_norm (scikit-image's
    # corner_peaks does not pass p_norm on to it); the second is corner_peaks' own
    coords = coords[suppress_close_peaks(coords, (h, w), min_distance, math.inf, strict=True)]
    coords = coords[suppress_close_peaks(coords, (h, w), min_distance, p_norm, strict=False)]
    if math.isfinite(num_peaks):
        coords = coords[:int(num_peaks)]
    return coords
