"""Seam carving (Avidan & Shamir 2007; forward energy from Rubinstein, Shamir & Avidan 2008).

A vertical seam is one pixel per row, 8-connected from top to bottom: ``seam[i]`` is its column
in row ``i`` and ``|seam[i] - seam[i-1]| <= 1``.  Removing the seam of least energy narrows the
image while keeping its edges; rows are handled by transposing.

Energy (backward, the notes' formula) of the grayscale image ``I``::

    E = |dI/dx| + |dI/dy|          (Sobel derivatives, mirrored borders, float32)

Cumulative minimum energy, a dynamic programme vectorised over each row::

    M[0, j] = E[0, j]
    M[i, j] = E[i, j] + min(M[i-1, j-1], M[i-1, j], M[i-1, j+1])      (outside the image: inf)

Forward energy charges the new edges a removal creates instead (``C_L, C_U, C_R`` below, with
edge-replicated borders)::

    C_U(i, j) = |I(i, j+1) - I(i, j-1)|
    C_L(i, j) = C_U(i, j) + |I(i-1, j) - I(i, j-1)|
    C_R(i, j) = C_U(i, j) + |I(i-1, j) - I(i, j+1)|
    M[i, j]   = min(M[i-1, j-1] + C_L, M[i-1, j] + C_U, M[i-1, j+1] + C_R)

The seam is backtracked from the smallest entry of the last row; ties go to the left (the first
minimum), the convention of the PyPI ``seam-carving`` package, so the seams agree with it.
Several seams are found by removing them one after another from a working copy and mapping their
pixels back to the original columns; enlarging inserts all ``k`` such seams at once (each seam
pixel gets a new neighbour on its left, the mean of the pixel and its left neighbour).

Arrays stay on their device (NumPy or CuPy); the only Python loops run over rows and seams.
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module

from ._image import as_float_image, to_gray
from ._validate import as_float_array

__all__ = ["energy", "cumulative_energy", "find_seam", "find_seams", "remove_seam",
           "insert_seams", "resize", "remove_object", "KEEP_ENERGY", "DROP_ENERGY"]

KEEP_ENERGY = 1e3     # added under a protection mask: seams go around it
DROP_ENERGY = 1e5     # subtracted under an object mask: seams go through it

_MODES = ("backward", "forward")


def _check_mode(mode):
    if mode not in _MODES:
        raise ValueError(f"energy must be 'backward' or 'forward', got {mode!r}")


def _gray32(image):
    return to_gray(image, dtype="float32")


def energy(image):
    """Backward energy ``|Sobel_x I| + |Sobel_y I|`` of the grayscale of ``image``, (H, W) float32.

    Sobel = derivative ``[-1, 0, 1]`` along one axis, smoothing ``[1, 2, 1]`` along the other,
    borders mirrored (``d c b a | a b c d``).  Each pass is evaluated exactly and rounded to float32
    once, so equal inputs give bit-identical energies (and seams) on either backend.
    """
    g = _gray32(image)
    xp = get_array_module(g)
    p = xp.pad(g, 1, mode="symmetric").astype(xp.float64)
    f32 = xp.float32
    # derivative along x, then smoothing along y
    dx = (p[:, 2:] - p[:, :-2]).astype(f32).astype(xp.float64)
    gx = (2.0 * dx[1:-1] + (dx[:-2] + dx[2:])).astype(f32)
    dy = (p[2:, :] - p[:-2, :]).astype(f32).astype(xp.float64)
    gy = (2.0 * dy[:, 1:-1] + (dy[:, :-2] + dy[:, 2:])).astype(f32)
    return xp.abs(gx) + xp.abs(gy)


def _energy_band(gray, energy_map, seam):
    """Refresh ``energy_map`` in place after ``seam`` was removed from both (and from ``gray``).

    Only the pixels whose 3x3 Sobel window held a removed pixel change: in row i the columns
    ``min(seam[i-1..i+1]) - 1 .. max(seam[i-1..i+1])`` of the narrowed image (at most 4, seams
    being 8-connected).  They are recomputed with the very operations of :func:`energy`
    (mirrored borders = clamped indices for a 1-pixel pad), so the map stays bit-identical to a
    full recomputation.
    """
    xp = get_array_module(gray)
    h, w = gray.shape
    padded = xp.concatenate([seam[:1], seam, seam[-1:]])
    lo = xp.minimum(xp.minimum(padded[:-2], padded[1:-1]), padded[2:]) - 1
    cols = xp.clip(lo[:, None] + xp.arange(4)[None, :], 0, w - 1)            # (H, 4)
    rows = xp.arange(h)[:, None]

    def at(dr, dc):
        return gray[xp.clip(rows + dr, 0, h - 1), xp.clip(cols + dc, 0, w - 1)].astype(xp.float64)

    f32 = xp.float32
    dx = [(at(dr, 1) - at(dr, -1)).astype(f32).astype(xp.float64) for dr in (-1, 0, 1)]
    dy = [(at(1, dc) - at(-1, dc)).astype(f32).astype(xp.float64) for dc in (-1, 0, 1)]
    gx = (2.0 * dx[1] + (dx[0] + dx[2])).astype(f32)
    gy = (2.0 * dy[1] + (dy[0] + dy[2])).astype(f32)
    energy_map[xp.broadcast_to(rows, cols.shape), cols] = xp.abs(gx) + xp.abs(gy)


def _forward_costs(gray, extra):
    """(C_L, C_U, C_R), each (H, W) float32, of the forward-energy transitions."""
    xp = get_array_module(gray)
    g = gray.astype(xp.float32, copy=False)
    gp = xp.concatenate([g[:, :1], g, g[:, -1:]], axis=1)
    left, right = gp[:, :-2], gp[:, 2:]
    cu = xp.abs(right - left)
    if extra is not None:
        cu = cu + extra
    up = xp.empty_like(g)
    up[1:] = g[:-1]
    up[0] = g[0]
    cl = cu + xp.abs(up - left)
    cr = cu + xp.abs(up - right)
    return cl, cu, cr


def _table(energy_map, mode="backward", gray=None):
    """Cumulative table with an inf column on each side, (H, W + 2), plus the forward costs."""
    xp = get_array_module(energy_map)
    e = energy_map.astype(xp.float32, copy=False)
    h, w = e.shape
    m = xp.empty((h, w + 2), dtype=xp.float32)
    m[:, 0] = xp.inf
    m[:, -1] = xp.inf
    tmp = xp.empty(w, dtype=xp.float32)
    if mode == "backward":
        m[0, 1:-1] = e[0]
        for r in range(1, h):
            prev = m[r - 1]
            xp.minimum(prev[:-2], prev[1:-1], out=tmp)
            xp.minimum(tmp, prev[2:], out=tmp)
            xp.add(tmp, e[r], out=m[r, 1:-1])
        return m, None
    cl, cu, cr = _forward_costs(gray, e)
    m[0, 1:-1] = cu[0]
    tmp2 = xp.empty(w, dtype=xp.float32)
    for r in range(1, h):
        prev = m[r - 1]
        xp.add(prev[:-2], cl[r], out=tmp)
        xp.add(prev[1:-1], cu[r], out=tmp2)
        xp.minimum(tmp, tmp2, out=tmp)
        xp.add(prev[2:], cr[r], out=tmp2)
        xp.minimum(tmp, tmp2, out=m[r, 1:-1])
    return m, (cl, cu, cr)


def cumulative_energy(energy_map, mode="backward", gray=None):
    """Cumulative minimum energy ``M`` (H, W) float32 of an (H, W) energy map.

    ``mode='backward'``: ``M[i, j] = E[i, j] + min(M[i-1, j-1 .. j+1])``.
    ``mode='forward'``: the forward-energy recursion on the grayscale ``gray`` (required), with
    ``energy_map`` added to every transition (zeros for pure forward energy; masks add to it).
    """
    _check_mode(mode)
    energy_map = as_float_array(energy_map, "energy_map", ndim=2)     # an array, finite
    xp = get_array_module(energy_map)
    if mode == "forward":
        if gray is None:
            raise ValueError("forward energy needs the grayscale image: pass gray=")
        gray = as_float_array(gray, "gray", ndim=2)
        if tuple(gray.shape) != tuple(energy_map.shape):
            raise ValueError(f"gray shape {tuple(gray.shape)} does not match energy_map shape "
                             f"{tuple(energy_map.shape)}")
    m, _ = _table(xp.asarray(energy_map), mode, gray)
    return m[:, 1:-1]


def _backtrack(m, costs):
    """Seam (H,) int64 from a padded cumulative table; ties go to the left."""
    xp = get_array_module(m)
    h, w2 = m.shape
    w = w2 - 2
    if h > 1:
        prev = m[:-1]
        left, mid, right = prev[:, :-2], prev[:, 1:-1], prev[:, 2:]
        if costs is not None:
            cl, cu, cr = costs
            left, mid, right = left + cl[1:], mid + cu[1:], right + cr[1:]
        # the first minimum of (left, mid, right): ties go left
        go_left = (left <= mid) & (left <= right)
        go_right = ~go_left & (right < mid)
        parent = (go_right.astype(xp.int64) - go_left) + xp.arange(w)[None, :]
    seam = xp.empty(h, dtype=xp.int64)
    c = xp.argmin(m[-1, 1:-1])
    seam[h - 1] = c
    for r in range(h - 2, -1, -1):
        c = parent[r, c]
        seam[r] = c
    return seam


def _seam_of(gray, mode, extra):
    if mode == "backward":
        e = energy(gray)
        if extra is not None:
            e = e + extra
        m, costs = _table(e, "backward")
    else:
        xp = get_array_module(gray)
        e = extra if extra is not None else xp.zeros(gray.shape, dtype=xp.float32)
        m, costs = _table(e, "forward", gray)
    return _backtrack(m, costs)


def _check_extra(extra, shape, name="extra_energy"):
    if extra is None:
        return None
    extra = as_float_array(extra, name, ndim=2)          # an array, finite
    if tuple(extra.shape) != tuple(shape):
        raise ValueError(f"{name} shape {tuple(extra.shape)} does not match image shape {tuple(shape)}")
    xp = get_array_module(extra)
    return extra.astype(xp.float32)


def find_seam(image, energy="backward", extra_energy=None):
    """The vertical seam of least cumulative energy: (H,) int64 column per row."""
    _check_mode(energy)
    gray = _gray32(image)
    return _seam_of(gray, energy, _check_extra(extra_energy, gray.shape))


def _drop_columns(arr, seam, keep=None):
    """``arr`` (H, W, ...) without one pixel per row (``seam[i]`` in row i): a boolean compress.

    ``keep`` may pass the (H, W) mask of kept pixels when several arrays lose the same seam.
    """
    h, w = arr.shape[:2]
    if keep is None:
        keep = _keep_mask(seam, (h, w))
    return arr[keep].reshape((h, w - 1) + arr.shape[2:])


def _keep_mask(seam, shape):
    xp = get_array_module(seam)
    keep = xp.ones(shape, dtype=bool)
    keep[xp.arange(shape[0]), seam] = False
    return keep


def find_seams(image, k, energy="backward", extra_energy=None, progress=None):
    """The ``k`` seams removed one after another, in original columns: (k, H) int64.

    Each seam is found on the image with the previous ones removed (the backward energy is
    refreshed only in the band next to the removed seam, see ``_energy_band``), then
    mapped back to the column it had in ``image``; the seams are therefore pixel-disjoint.
    ``progress`` is an optional callable run after each seam (e.g. a progress bar's update).
    """
    _check_mode(energy)
    gray = _gray32(image)
    xp = get_array_module(gray)
    h, w = gray.shape
    k = int(k)
    if k < 0 or k >= w:
        raise ValueError(f"cannot find {k} seams in an image {w} pixels wide (need 0 <= k < width)")
    extra = _check_extra(extra_energy, gray.shape)
    index = xp.broadcast_to(xp.arange(w, dtype=xp.int64), (h, w))
    rows = xp.arange(h)
    seams = xp.empty((k, h), dtype=xp.int64)
    e = energy_of(gray) if energy == "backward" else None
    for s in range(k):
        if e is None:
            seam = _seam_of(gray, energy, extra)
        else:
            m, _ = _table(e if extra is None else e + extra, "backward")
            seam = _backtrack(m, None)
        seams[s] = index[rows, seam]
        keep = _keep_mask(seam, gray.shape)
        gray = _drop_columns(gray, seam, keep)
        index = _drop_columns(index, seam, keep)
        if extra is not None:
            extra = _drop_columns(extra, seam, keep)
        if e is not None and s + 1 < k:
            e = _drop_columns(e, seam, keep)
            _energy_band(gray, e, seam)
        if progress is not None:
            progress()
    return seams


def remove_seam(image, seam, blend=False):
    """``image`` (H, W[, C]) without the pixels ``seam`` (H,) ints: (H, W - 1[, C]).

    ``blend=True`` is the notes' smoothing: the two pixels that become neighbours across the seam
    are each replaced by their mean with the removed seam pixel.
    """
    img = as_float_image(image)
    xp = get_array_module(img)
    h, w = img.shape[:2]
    given = xp.asarray(seam)
    if given.dtype.kind not in "iu" and not (given.dtype.kind == "f"
                                             and bool((given == xp.floor(given)).all())):
        raise ValueError(f"seam must hold integer columns, got dtype {given.dtype}")
    seam = given.astype(xp.int64)
    if seam.shape != (h,):
        raise ValueError(f"seam must have shape ({h},), got {tuple(seam.shape)}")
    if bool(xp.any((seam < 0) | (seam >= w))):
        raise ValueError(f"seam columns must lie in [0, {w})")
    if w < 2:
        raise ValueError("cannot remove a seam from an image 1 pixel wide")
    if blend:
        img = img.copy()
        rows = xp.arange(h)
        centre = img[rows, seam]
        left, right = xp.maximum(seam - 1, 0), xp.minimum(seam + 1, w - 1)
        img[rows, left] = 0.5 * (img[rows, left] + centre)
        img[rows, right] = 0.5 * (img[rows, right] + centre)
    return _drop_columns(img, seam)


def _seam_mask(seams, shape):
    xp = get_array_module(seams)
    mask = xp.zeros(shape, dtype=bool)
    if seams.size:
        rows = xp.broadcast_to(xp.arange(shape[0])[None, :], seams.shape)
        mask[rows, seams] = True
    return mask


def _remove_mask(arr, mask, k):
    """Remove ``k`` True pixels per row of ``mask`` from ``arr`` (columns kept in order)."""
    h, w = mask.shape
    return arr[~mask].reshape((h, w - k) + arr.shape[2:])


def _insert_mask(arr, mask):
    """Before each True pixel of ``mask`` insert the mean of it and its left neighbour."""
    xp = get_array_module(arr)
    h, w = mask.shape
    k = int(mask[0].sum()) if h else 0
    before = xp.cumsum(mask, axis=1)                     # inserted pixels at or before column j
    rows = xp.broadcast_to(xp.arange(h)[:, None], (h, w))
    cols = xp.arange(w)[None, :]
    out = xp.empty((h, w + k) + arr.shape[2:], dtype=arr.dtype)
    out[rows, cols + before] = arr
    left = arr[:, xp.maximum(xp.arange(w) - 1, 0)]
    mean = (left + arr) / 2 if arr.dtype.kind == "f" else xp.maximum(left, arr)
    out[rows[mask], (cols + before - 1)[mask]] = mean[mask]
    return out


def insert_seams(image, k, energy="backward", extra_energy=None, progress=None):
    """Widen ``image`` by ``k`` columns: the ``k`` lowest seams (``find_seams``) each duplicated.

    All ``k`` seams are found first on the original image and inserted in one go, so no seam is
    duplicated twice; ``k`` may be at most the width (at most 2x in one pass).
    """
    img = as_float_image(image)
    w = img.shape[1]
    k = int(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if k > w - 1:
        raise ValueError(f"cannot enlarge an image {w} pixels wide by {k} columns in one pass "
                         f"(at most 2x, i.e. {w - 1} seams)")
    if k == 0:
        return img
    seams = find_seams(img, k, energy, extra_energy, progress)
    return _insert_mask(img, _seam_mask(seams, img.shape[:2]))


def _resize_width(img, width, energy, aux, progress):
    w = img.shape[1]
    if width == w:
        return img, aux
    if width < w:
        k = w - width
        seams = find_seams(img, k, energy, aux, progress)
        mask = _seam_mask(seams, img.shape[:2])
        return _remove_mask(img, mask, k), (None if aux is None else _remove_mask(aux, mask, k))
    k = width - w
    if k > w - 1:
        raise ValueError(f"cannot enlarge width {w} to {width} in one pass (at most 2x: {2 * w - 1})")
    seams = find_seams(img, k, energy, aux, progress)
    mask = _seam_mask(seams, img.shape[:2])
    return _insert_mask(img, mask), (None if aux is None else _insert_mask(aux, mask))


def _transpose(a):
    return None if a is None else (a.transpose(1, 0, 2) if a.ndim == 3 else a.T)


def _mask_energy(mask, shape, name, value):
    if mask is None:
        return None
    mask = as_float_array(mask, name, ndim=2)            # an array, finite
    xp = get_array_module(mask)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} shape {tuple(mask.shape)} does not match image shape {tuple(shape)}")
    return mask.astype(bool).astype(xp.float32) * xp.float32(value)


def resize(image, size, energy="backward", keep_mask=None, order="width-first", progress=None):
    """Content-aware resize of ``image`` to ``size = (h, w)`` by removing or inserting seams.

    Width changes with vertical seams, height with horizontal ones (on the transpose);
    ``order`` says which goes first.  ``keep_mask`` (H, W) protects its pixels (energy +1e3).
    Growing a side beyond 2x in one pass, or shrinking to <= 0, raises ``ValueError``.
    """
    _check_mode(energy)
    img = as_float_image(image)
    h0, w0 = img.shape[:2]
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be a pair (h, w) of ints, got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"target size must be positive, got (h, w) = ({h}, {w})")
    for new, old, side in ((h, h0, "height"), (w, w0, "width")):
        if new > 2 * old - 1:
            raise ValueError(f"cannot enlarge {side} {old} to {new} in one pass (at most 2x)")
    if order not in ("width-first", "height-first"):
        raise ValueError(f"order must be 'width-first' or 'height-first', got {order!r}")
    aux = _mask_energy(keep_mask, (h0, w0), "keep_mask", KEEP_ENERGY)
    steps = ("w", "h") if order == "width-first" else ("h", "w")
    for step in steps:
        if step == "w":
            img, aux = _resize_width(img, w, energy, aux, progress)
        else:
            t, ta = _resize_width(_transpose(img), h, energy, _transpose(aux), progress)
            img, aux = _transpose(t), _transpose(ta)
    return img


def remove_object(image, mask, keep_mask=None, energy="backward", restore_size=False,
                  progress=None):
    """Remove every pixel of ``mask`` (H, W) bool from ``image`` with vertical seams.

    Masked pixels get energy -1e5 (``keep_mask`` pixels +1e3); each round removes as many seams
    as the most masked pixels in a row, until no masked pixel is left.  The result is narrower;
    ``restore_size=True`` widens it back by seam insertion.
    """
    _check_mode(energy)
    img = as_float_image(image)
    xp = get_array_module(img)
    h0, w0 = img.shape[:2]
    drop = _mask_energy(mask, (h0, w0), "mask", 1.0)
    if drop is None:
        raise ValueError("mask is required")
    drop = drop > 0
    keep = None if keep_mask is None else _mask_energy(keep_mask, (h0, w0), "keep_mask", 1.0) > 0
    if keep is not None and bool(xp.any(drop & keep)):
        raise ValueError("mask and keep_mask overlap")
    # each round removes k >= 1 columns and a round needing the whole width fails: at most
    # w0 rounds
    for _ in range(w0):
        k = int(drop.sum(axis=1).max())
        if k == 0:
            break
        if k >= img.shape[1]:
            raise ValueError("the mask covers a whole row: cannot remove it with vertical seams")
        aux = drop.astype(xp.float32) * xp.float32(-DROP_ENERGY)
        if keep is not None:
            aux = aux + keep.astype(xp.float32) * xp.float32(KEEP_ENERGY)
        seams = find_seams(img, k, energy, aux, progress)
        sm = _seam_mask(seams, img.shape[:2])
        img = _remove_mask(img, sm, k)
        drop = _remove_mask(drop, sm, k)
        if keep is not None:
            keep = _remove_mask(keep, sm, k)
    if restore_size and img.shape[1] < w0:
        aux = None if keep is None else keep.astype(xp.float32) * xp.float32(KEEP_ENERGY)
        img, _ = _resize_width(img, w0, energy, aux, progress)
    return img


energy_of = energy          # the energy function under a name parameters called ``energy`` leave free
