"""Vectorised connected-component labelling of binary images (numpy or cupy).

Label propagation with hooking and pointer jumping on the foreground pixels only: every
foreground pixel starts with its own (compact, raster-ordered) index as label, then
repeatedly

    m[p] <- min(label[q] for q in N(p) ∪ {p})            (min over the 4/8 neighbours)
    label[label[p]] <- m[p] where smaller                (hook the parent tree)
    label[p] <- min(label[p], m[p])
    label[p] <- label[label[p]]                          (pointer jumping, until stable)

until nothing changes.  Each label is the raster index of a pixel of the same component,
so at convergence it is the component's smallest raster index (its first pixel in scan
order).  No per-pixel Python loop: each round is a few array gathers.
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module

_OFFSETS = {
    4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
    8: ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)),
}


def neighbour_table(pixels, shape, connectivity=8):
    """For foreground ``pixels`` (sorted raster indices, (N,)) of an image of ``shape``,
    the compact index of each neighbour, (n_offsets, N); a missing neighbour gives the
    pixel's own index."""
    if connectivity not in _OFFSETS:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    xp = get_array_module(pixels)
    h, w = shape
    n = int(pixels.shape[0])
    # compact index of each pixel in a zero-bordered image of shape (h+2, w+2); -1 = absent
    index_map = xp.full((h + 2) * (w + 2), -1, dtype=xp.int64)
    rows, cols = pixels // w, pixels % w
    padded_pixels = (rows + 1) * (w + 2) + (cols + 1)
    own = xp.arange(n, dtype=xp.int64)
    index_map[padded_pixels] = own
    table = xp.empty((len(_OFFSETS[connectivity]), n), dtype=xp.int64)
    for k, (dr, dc) in enumerate(_OFFSETS[connectivity]):
        nb = index_map[padded_pixels + dr * (w + 2) + dc]
        table[k] = xp.where(nb >= 0, nb, own)
    return table


def component_roots(pixels, shape, connectivity=8):
    """Component of each foreground pixel, as the compact index of its first (smallest
    raster index) pixel.  ``pixels``: sorted raster indices (N,).  Returns (N,) int64."""
    xp = get_array_module(pixels)
    n = int(pixels.shape[0])
    label = xp.arange(n, dtype=xp.int64)
    if n == 0:
        return label
    table = neighbour_table(pixels, shape, connectivity)
    # Every label points to a pixel of index <= its own (a forest), so pointer jumping is
    # stable after n.bit_length() + 1 passes; every round that changes anything lowers some
    # label, and a component's labels settle within its diameter (< n) rounds.
    jumps = n.bit_length() + 1
    for _ in range(n + 1):
        smallest = xp.minimum(label[table].min(axis=0), label)
        # hooking: a pixel that sees a smaller label re-points its parent there, which
        # merges whole trees per round (with repeated parents any writer wins: each
        # written value is a smaller label of the same component, so the result is the same)
        lower = smallest < label[label]
        new = label.copy()
        new[label[lower]] = smallest[lower]
        new = xp.minimum(new, smallest)
        for _ in range(jumps):  # pointer jumping: follow labels to their current root
            jumped = new[new]
            if bool((jumped == new).all()):
                break
            new = jumped
        else:
            raise RuntimeError("component labels contain a cycle")   # a bug, never the data
        if bool((new == label).all()):
            return label
        label = new
    raise RuntimeError("component labelling did not converge")       # a bug, never the data


def label_components(mask, connectivity=8):
    """Label the connected components of a 2-D boolean ``mask``.

    Returns ``(labels, count)``: labels (H, W) int64, 0 for background and 1..count
    numbered in raster order of each component's first pixel (as ``scipy.ndimage.label``).
    """
    xp = get_array_module(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {tuple(mask.shape)}")
    pixels = xp.flatnonzero(mask)
    labels = xp.zeros(mask.size, dtype=xp.int64)
    if pixels.size == 0:
        return labels.reshape(mask.shape), 0
    roots = component_roots(pixels, mask.shape, connectivity)
    is_root = roots == xp.arange(roots.shape[0])
    number = xp.cumsum(is_root)          # 1..count at the roots
    labels[pixels] = number[roots]
    return labels.reshape(mask.shape), int(number[-1])
