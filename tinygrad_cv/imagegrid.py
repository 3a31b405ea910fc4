"""Tile a batch of images into one picture (the layout of ``torchvision.utils.make_grid``).

    grid = make_grid(samples, nrow=20, padding=1)   # samples (N, C, H, W) in [0, 1]
    # grid: (rows * (H + padding) + padding, nrow * (W + padding) + padding, C) on the same device

Returns an (H', W', C) array (channels last, ready for an image writer) on the device of the
input; C is 1 or 3 as given.  Cells beyond N are left at ``pad_value``.
"""
from __future__ import annotations

import math

from . import backend
from .tensor import Tensor

__all__ = ["make_grid"]


def make_grid(images, nrow=None, padding=1, pad_value=1.0):
    """``images`` (N, C, H, W) (a Tensor or backend array) -> (H', W', C) grid array.

    ``nrow`` images per row (default ``ceil(sqrt(N))``), ``padding`` pixels of ``pad_value``
    between and around the cells.  Values are copied as they are (no rescaling or clipping).
    """
    data = images.array if isinstance(images, Tensor) else images
    if getattr(data, "ndim", None) != 4:
        raise ValueError(f"make_grid expects images of shape (N, C, H, W), got "
                         f"{getattr(data, 'shape', type(images).__name__)}")
    n, c, h, w = data.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image")
    if nrow is None:
        nrow = max(1, math.ceil(math.sqrt(n)))
    if nrow < 1 or padding < 0:
        raise ValueError(f"make_grid: nrow must be >= 1 and padding >= 0, got {nrow}, {padding}")
    xp = backend.get_array_module(data)
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    cell_h, cell_w = h + padding, w + padding
    grid = xp.full((rows * cell_h + padding, cols * cell_w + padding, c), pad_value,
                   dtype=data.dtype)
    full = xp.full((rows * cols, c, h, w), pad_value, dtype=data.dtype)
    full[:n] = data
    # (rows, cols, C, H, W) -> (rows, H, cols, W, C): one strided copy into the padded cells
    tiles = full.reshape(rows, cols, c, h, w).transpose(0, 3, 1, 4, 2)
    view = grid[padding:, padding:].reshape(rows, cell_h, cols, cell_w, c)
    view[:, :h, :, :w] = tiles
    return grid
