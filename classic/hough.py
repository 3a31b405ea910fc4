"""Straight-line Hough transform in polar form (the notes' r = x cos(theta) + y sin(theta)).

Every edge pixel (x = column, y = row) votes, for each theta, in the bin of
rho = round(x cos(theta) + y sin(theta)) (rounded half away from zero).  The accumulator has
(2 * diag + 1) rho bins from -diag to diag, diag = ceil(sqrt(H^2 + W^2)), and one column per
theta (default 180 angles in [-pi/2, pi/2)).  The votes are scatter-added into the accumulator.
"""
from __future__ import annotations

import math

from tinygrad_cv.backend import (device_of, get_array_module, is_array, module_for_device,
                                 scatter_add, scatter_reduce, to_device, to_numpy)

from ._components import label_components
from ._validate import as_float_array, as_image


# votes computed per chunk on the CPU (keeps the reused temporaries in cache)
_CPU_CHUNK_VOTES = 1024 * 180


def _default_thetas(xp):
    return xp.linspace(-math.pi / 2, math.pi / 2, 180, endpoint=False)


def hough_line(edges, theta=None):
    """Hough accumulator of a 2-D edge image (non-zero pixels vote).

    Returns ``(accumulator, thetas, rhos)``: accumulator (2*diag+1, n_theta) uint64 counts,
    thetas (n_theta,) radians, rhos (2*diag+1,) = -diag..diag.  An image with no edges
    gives an all-zero accumulator.  Same layout and counts as
    ``skimage.transform.hough_line``.
    """
    if not (is_array(edges) and edges.dtype == bool and edges.ndim == 2 and edges.size):
        edges = as_image(edges, "edges", allow_color=False)    # checks; a bool map needs none
    xp = get_array_module(edges)
    # Angles and their sines/cosines come from the host's libm on every device: a GPU's cos/sin
    # can differ in the last bit, which flips votes that sit exactly on a rounding boundary.
    host = module_for_device("cpu")
    host_thetas = (_default_thetas(host) if theta is None
                   else host.asarray(to_numpy(theta), dtype=host.float64))
    device = device_of(edges)
    thetas = to_device(host_thetas, device)
    if thetas.ndim != 1 or thetas.size == 0:
        raise ValueError(f"theta must be a non-empty 1-D array of angles, got shape {tuple(thetas.shape)}")
    if not bool(host.isfinite(host_thetas).all()):
        raise ValueError("theta contains NaN or Inf angles")
    h, w = edges.shape
    diag = int(math.ceil(math.sqrt(h * h + w * w)))
    n_rho, n_theta = 2 * diag + 1, int(thetas.shape[0])
    rhos = xp.linspace(-diag, diag, n_rho)
    pixels = xp.flatnonzero(edges)
    if pixels.size == 0:
        return xp.zeros((n_rho, n_theta), dtype=xp.uint64), thetas, rhos
    # rho = x cos + y sin from small per-column / per-row tables, rounded half away from
    # zero (trunc(rho + copysign(1/2, rho))), then shifted to the flat index
    # theta_index * n_rho + rho + diag of a (theta, rho) array, into which the votes are
    # scatter-added (theta-major: neighbouring pixels hit neighbouring bins).  Pixels go in cache-sized chunks on the CPU, reusing buffers.
    x_term = to_device(host.arange(w, dtype=host.float64)[:, None] * host.cos(host_thetas), device)
    y_term = to_device(host.arange(h, dtype=host.float64)[:, None] * host.sin(host_thetas), device)
    offset = diag + xp.arange(n_theta, dtype=xp.int64) * n_rho
    ys, xs = pixels // w, pixels % w
    n = int(pixels.shape[0])
    chunk = n if device == "cuda" else min(n, max(1, _CPU_CHUNK_VOTES // n_theta))
    rho_buf = xp.empty((chunk, n_theta), dtype=xp.float64)
    half_buf = xp.empty_like(rho_buf)
    index_buf = xp.empty((chunk, n_theta), dtype=xp.int64)
    accumulator = xp.zeros(n_rho * n_theta, dtype=xp.int64)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        rho, half, index = rho_buf[:m], half_buf[:m], index_buf[:m]
        xp.take(x_term, xs[start:start + m], axis=0, out=rho)
        xp.take(y_term, ys[start:start + m], axis=0, out=half)
        rho += half
        xp.copysign(0.5, rho, out=half)
        rho += half
        index[...] = rho                                  # truncation toward zero
        index += offset
        scatter_add(accumulator, index.reshape(-1), 1)
    out = xp.empty((n_rho, n_theta), dtype=xp.uint64)
    out[...] = accumulator.reshape(n_theta, n_rho).T
    return out, thetas, rhos


def _max_filter_zero(image, size_rows, size_cols):
    """Maximum over a (size_rows, size_cols) box centred on each pixel, zero outside."""
    xp = get_array_module(image)
    out = image
    for axis, size in ((0, size_rows), (1, size_cols)):
        r = size // 2
        widths = [(0, 0), (0, 0)]
        widths[axis] = (r, size - 1 - r)
        padded = xp.pad(out, widths, mode="constant", constant_values=0)
        length = out.shape[axis]
        result = None
        for i in range(size):
            sl = [slice(None), slice(None)]
            sl[axis] = slice(i, i + length)
            part = padded[tuple(sl)]
            result = part if result is None else xp.maximum(result, part)
        out = result
    return out


def _greedy_keep(order_ok, suppresses):
    """Walk candidates in order; keep one when it is ``order_ok`` and no kept earlier
    candidate ``suppresses`` it.  ``suppresses``: (K, K) bool, [i, j] = i suppresses j."""
    xp = get_array_module(order_ok)
    k = int(order_ok.shape[0])
    kept = xp.zeros(k, dtype=bool)
    for j in range(k):
        kept[j] = order_ok[j] & ~(suppresses[:j, j] & kept[:j]).any()
    return kept


def hough_line_peaks(hspace, angles, dists, min_distance=9, min_angle=10, threshold=None,
                     num_peaks=math.inf):
    """Strongest, well separated peaks of a Hough accumulator, as
    ``skimage.transform.hough_line_peaks``.

    Candidates are plateaus of local maxima (in a (2*min_distance+1) x (2*min_angle+1)
    box) above ``threshold`` (default 0.5 * max), taken at their rounded centroids in
    decreasing strength; each accepted peak suppresses the candidates in its box (the
    angle axis wraps around, flipping rho).  Returns ``(peak_votes, peak_angles,
    peak_dists)``, at most ``num_peaks`` of them; empty when the accumulator is empty.
    """
    for name, a in (("hspace", hspace), ("angles", angles), ("dists", dists)):
        if not is_array(a):
            raise ValueError(f"{name} must be a numpy or cupy array, got {type(a).__name__}")
        if a.size:
            as_float_array(a, name)                  # real, finite numbers, else ValueError
    xp = get_array_module(hspace)
    if hspace.ndim != 2:
        raise ValueError(f"hspace must be 2-D (rhos, thetas), got shape {tuple(hspace.shape)}")
    if angles.shape[0] != hspace.shape[1] or dists.shape[0] != hspace.shape[0]:
        raise ValueError(f"angles ({angles.shape[0]}) and dists ({dists.shape[0]}) must match "
                         f"hspace shape {tuple(hspace.shape)}")
    rows, cols = hspace.shape
    min_angle = int(min(min_angle, cols))
    min_distance = int(min_distance)
    empty = (xp.zeros(0, dtype=hspace.dtype), xp.zeros(0, dtype=angles.dtype),
             xp.zeros(0, dtype=dists.dtype))
    if hspace.size == 0:
        return empty
    img = hspace.astype(xp.float64)
    thr = 0.5 * float(img.max()) if threshold is None else float(threshold)
    img_max = _max_filter_zero(img, 2 * min_distance + 1, 2 * min_angle + 1)
    candidates = (img == img_max) & (img > thr)
    labels, count = label_components(candidates, connectivity=8)
    if count == 0:
        return empty
    # rounded centroid and strength of each plateau (labels are in raster order)
    flat_labels = labels.ravel()
    inside = flat_labels > 0
    lab = flat_labels[inside] - 1
    index = xp.flatnonzero(inside)
    size = xp.bincount(lab, minlength=count).astype(xp.float64)
    cy = xp.rint(xp.bincount(lab, weights=(index // cols).astype(xp.float64), minlength=count) / size)
    cx = xp.rint(xp.bincount(lab, weights=(index % cols).astype(xp.float64), minlength=count) / size)
    # strength: the largest value of each plateau (its pixels may differ when a box side is 1)
    strength = xp.zeros(count, dtype=xp.float64)
    scatter_reduce("maximum", strength, lab, img_max.ravel()[index])
    # strongest first; equal strengths in reverse label order (reverse of a stable sort)
    order = xp.argsort(strength, kind="stable")[::-1]
    cy, cx = cy[order].astype(xp.int64), cx[order].astype(xp.int64)
    value = img_max[cy, cx]
    # does accepted candidate i suppress candidate j? box around i, theta wrapping around
    dy = cy[None, :] - cy[:, None]
    dx = cx[None, :] - cx[:, None]
    direct = (xp.abs(dy) <= min_distance) & (xp.abs(dx) <= min_angle)
    wrapped = xp.zeros_like(direct)
    for shift in (cols, -cols):          # box column cx[i]+d wrapped to cx[i]+d+shift
        d = cx[None, :] - shift - cx[:, None]
        box_row = rows - cy[None, :]      # the row in the box that maps onto cy[j]
        dyw = box_row - cy[:, None]
        outside = (cx[:, None] + d < 0) if shift > 0 else (cx[:, None] + d >= cols)
        wrapped |= (outside & (xp.abs(d) <= min_angle) & (xp.abs(dyw) <= min_distance)
                    & (box_row >= 0) & (box_row < rows))
    kept = _greedy_keep(value > thr, direct | wrapped)
    votes, pr, pc = value[kept], cy[kept], cx[kept]
    if math.isfinite(num_peaks) and num_peaks < votes.shape[0]:
        top = xp.argsort(votes)[::-1][:int(num_peaks)]   # equal votes: any order
        votes, pr, pc = votes[top], pr[top], pc[top]
    return votes.astype(hspace.dtype), angles[pc], dists[pr]
