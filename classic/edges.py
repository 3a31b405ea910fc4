"""Canny edge detector (the notes' five steps) on the NumPy/CuPy backend.

1. Gaussian blur.  As ``skimage.feature.canny``: zero boundary, normalised by the blurred
   mask, ``S = (G * (I m)) / (G * m + eps)``, so that pixels near the border or the mask
   edge are not darkened.
2. Gradient by Sobel: ``g_r, g_c``, magnitude ``|g| = sqrt(g_r^2 + g_c^2)``.
3. Non-maximum suppression along the gradient.  Default ('interpolated'): the magnitude at
   the two points one step along ±gradient is interpolated between the axis neighbour and
   the diagonal neighbour, ``w * M_diag + (1 - w) * M_axis`` with w = |minor| / |major|
   gradient component; a pixel survives when its magnitude is >= both.  The notes' variant
   (``nms='8-direction'``) rounds the gradient angle to one of 8 directions (4 axes) and
   compares with the two neighbours on that axis.
4. Double threshold: surviving pixels with |g| >= low are edge candidates, those with
   |g| >= high are strong.
5. Hysteresis: keep every candidate 8-connected to a strong one (connected components of
   the candidates by vectorised label propagation, then components holding a strong pixel).
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module

from ._components import component_roots
from ._validate import as_image
from .filters import (check_sigma_fits, correlate_axis, gaussian_blur, gaussian_kernel1d,
                      pad_image, sobel)


def _mask_normalised_blur(image, mask, sigma):
    """Steps 1: ``(G * (I m)) / (G * m + eps)`` with zero boundary; returns (smoothed,
    eroded mask) where the eroded mask drops pixels whose 3x3 neighbourhood leaves the
    mask or the image."""
    xp = get_array_module(image)
    eps = xp.finfo(image.dtype).eps
    if mask is None:
        # G * 1, as the two passes of the blur compute it (not as the outer product of the
        # blurred column and row, which rounds differently): the column pass gives one value
        # per row, so the row pass runs on those few distinct values only.
        h, w = image.shape
        g = gaussian_kernel1d(sigma, like=image)
        ones_col = correlate_axis(xp.ones((h, 1), dtype=image.dtype), g, 0, "zero", symmetric=True)
        values, row_of = xp.unique(ones_col[:, 0], return_inverse=True)
        rows = correlate_axis(xp.broadcast_to(values[:, None], (values.shape[0], w)), g, 1,
                              "zero", symmetric=True)
        bleed = rows[row_of.reshape(-1)] + eps
        eroded = xp.zeros(image.shape, dtype=bool)
        eroded[1:-1, 1:-1] = True
        return gaussian_blur(image, sigma, boundary="zero") / bleed, eroded
    else:
        weights = mask.astype(image.dtype)
        masked = xp.where(mask, image, 0)
        p = pad_image(mask, (1, 1), (1, 1), "zero", False)
        h, w = mask.shape
        eroded = xp.ones(mask.shape, dtype=bool)
        for dr in range(3):
            for dc in range(3):
                eroded &= p[dr:dr + h, dc:dc + w]
    bleed = gaussian_blur(weights, sigma, boundary="zero") + eps
    smoothed = gaussian_blur(masked, sigma, boundary="zero") / bleed
    return smoothed, eroded


def _suppress_non_maxima(g_rows, g_cols, magnitude, candidates, method):
    """Step 3 on the ``candidates`` (bool (H, W)); returns the raster indices of the
    pixels that are local maxima along their gradient (sorted)."""
    xp = get_array_module(magnitude)
    h, w = magnitude.shape
    pixels = xp.flatnonzero(candidates)
    padded = pad_image(magnitude, (1, 1), (1, 1), "zero").ravel()
    stride = w + 2
    centre = (pixels // w + 1) * stride + (pixels % w + 1)

    def at(dr, dc):
        return padded[centre + dr * stride + dc]

    m = magnitude.ravel()[pixels]
    gr = g_rows.ravel()[pixels]
    gc = g_cols.ravel()[pixels]
    ar, ac = xp.abs(gr), xp.abs(gc)
    rows_major = ar >= ac
    if method == "interpolated":
        same_sign = (gr * gc) >= 0
        major = xp.where(rows_major, ar, ac)
        minor = xp.where(rows_major, ac, ar)
        weight = minor / xp.where(major > 0, major, 1)
        plus_axis = xp.where(rows_major, at(1, 0), at(0, 1))
        minus_axis = xp.where(rows_major, at(-1, 0), at(0, -1))
        plus_diag = xp.where(same_sign, at(1, 1), xp.where(rows_major, at(1, -1), at(-1, 1)))
        minus_diag = xp.where(same_sign, at(-1, -1), xp.where(rows_major, at(-1, 1), at(1, -1)))
        keep = ((plus_diag * weight + plus_axis * (1 - weight) <= m)
                & (minus_diag * weight + minus_axis * (1 - weight) <= m))
    elif method == "8-direction":
        angle = xp.arctan2(gr, gc)                      # y = rows, x = columns
        octant = xp.rint(angle / (xp.pi / 4)).astype(xp.int64) % 4   # 0: x, 1: diag, 2: y, 3: anti
        step_r = xp.asarray([0, 1, 1, 1])[octant]
        step_c = xp.asarray([1, 1, 0, -1])[octant]
        offset = step_r * stride + step_c
        keep = (padded[centre + offset] <= m) & (padded[centre - offset] <= m)
    else:
        raise ValueError(f"unknown nms {method!r}; expected 'interpolated' or '8-direction'")
    return pixels[keep]


def canny(image, sigma=1.0, low_threshold=None, high_threshold=None, mask=None,
          use_quantiles=False, nms="interpolated"):
    """Canny edges of a 2-D image: bool (H, W), True on edges.

    Parameters follow ``skimage.feature.canny``: ``sigma`` of the Gaussian; thresholds on
    the Sobel gradient magnitude (defaults 0.1 and 0.2 of the [0, 1] range; given thresholds
    are in the units of the image's dtype, e.g. 0..255 for uint8, as scikit-image's); with
    ``use_quantiles`` they are quantiles in [0, 1] of the magnitude instead; ``mask`` (bool
    (H, W)) limits the detection.  ``nms``: 'interpolated' (default, as scikit-image) or
    '8-direction' (the notes' discrete directions).
    """
    # explicit thresholds are in the units of the input's dtype (scikit-image's rule): an
    # integer image is scaled to [0, 1] by its dtype's maximum, and so are they
    kind = getattr(getattr(image, "dtype", None), "kind", "f")
    units = float(get_array_module(image).iinfo(image.dtype).max) if kind in "iu" else 1.0
    image = as_image(image, allow_color=False)
    xp = get_array_module(image)
    if image.dtype not in (xp.float32, xp.float64):
        image = image.astype(xp.float64)
    if not sigma >= 0:                      # also NaN
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma > 0:
        check_sigma_fits(sigma, image.shape)
    if mask is not None:
        if tuple(mask.shape) != tuple(image.shape):
            raise ValueError(f"mask shape {tuple(mask.shape)} differs from image shape "
                             f"{tuple(image.shape)}")
        mask = mask.astype(bool)
    if use_quantiles:
        for name, value in (("low_threshold", low_threshold), ("high_threshold", high_threshold)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a quantile in [0, 1] with use_quantiles, got {value}")
    low = 0.1 if low_threshold is None else float(low_threshold)
    high = 0.2 if high_threshold is None else float(high_threshold)
    for name, value in (("low_threshold", low), ("high_threshold", high)):
        if not 0.0 <= value < float("inf"):   # also NaN
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    if not use_quantiles:
        low = low if low_threshold is None else low / units
        high = high if high_threshold is None else high / units
    if low > high:
        raise ValueError(f"low_threshold ({low:g}) must not exceed high_threshold ({high:g})"
                         + (f" (both in [0, 1] units: given ones divided by {units:g})"
                            if units != 1.0 else ""))

    if sigma > 0:
        smoothed, eroded = _mask_normalised_blur(image, mask, sigma)
    else:
        smoothed, eroded = _mask_normalised_blur(image, mask, 1e-12)
    g_rows, g_cols = sobel(smoothed)
    magnitude = xp.sqrt(g_rows * g_rows + g_cols * g_cols)
    if use_quantiles:
        low, high = (float(v) for v in xp.percentile(magnitude, [100.0 * low, 100.0 * high]))

    if low == 0:
        # a zero (or rounding-noise) gradient has no direction and is no edge: the low
        # threshold is at least 1e-14, as scikit-image's
        low = 1e-14
    edges = xp.zeros(image.size, dtype=bool)
    survivors = _suppress_non_maxima(g_rows, g_cols, magnitude, eroded & (magnitude >= low), nms)
    if survivors.size == 0:
        return edges.reshape(image.shape)
    roots = component_roots(survivors, image.shape, connectivity=8)
    strong = magnitude.ravel()[survivors] >= high
    has_strong = xp.zeros(survivors.shape[0], dtype=bool)
    has_strong[roots[strong]] = True
    edges[survivors[has_strong[roots]]] = True
    return edges.reshape(image.shape)
