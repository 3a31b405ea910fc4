"""Spatial transformers: ``affine_grid`` and ``grid_sample`` (torch's F.affine_grid/F.grid_sample).

affine_grid: theta (N, 2, 3) and size (N, C, H, W) -> grid (N, H, W, 2) (or (N, 3, 4) and
(N, C, D, H, W) -> (N, D, H, W, 3)), grid[n, i, j] = theta[n] @ (x_j, y_i, 1) with the base
coordinates linspace(-1, 1, W) (times (W - 1) / W without ``align_corners``; 0 for size 1).

grid_sample: input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) of normalised (x, y) in [-1, 1]
-> (N, C, Ho, Wo).  A coordinate g becomes the pixel position

    ix = (g + 1) / 2 (W - 1)          (align_corners)
    ix = ((g + 1) W - 1) / 2          (otherwise: -1 and 1 are the outer pixel edges)

then, by ``padding_mode``: 'zeros' leaves it (samples outside read 0), 'border' clamps it to
[0, W - 1], 'reflection' reflects it about the borders (the pixel centres 0 and W - 1, or the
edges -0.5 and W - 0.5 without align_corners) and clamps.  'bilinear' mixes the four
neighbours with weights (1 - |ix - x|)(1 - |iy - y|); 'nearest' takes the pixel at the
rounded position (half to even).  Gradients flow to the input (scatter-add of the weights)
and, for 'bilinear', to the grid, with torch's conventions at the clamps (0 at and beyond the
border) and reflections (the sign flips).  Built from primitives (differentiable twice).
'bicubic' and 5-D (volumetric) inputs raise NotImplementedError.
"""
from __future__ import annotations

import warnings

from ... import backend
from ...tensor import Tensor, where

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                  "old behavior is desired. See the documentation of grid_sample for details.")


def _base_coordinates(xp, steps, align_corners, dtype):
    if steps <= 1:
        return xp.zeros(max(steps, 0), dtype=dtype)
    line = xp.linspace(-1.0, 1.0, steps)
    if not align_corners:
        line = line * ((steps - 1) / steps)
    return line.astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """Sampling grid of the affine maps ``theta`` for an output of ``size`` (see the module
    docstring); differentiable in theta."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if theta.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    dims = len(size) - 2
    if dims not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (dims, dims + 1):
        raise ValueError(f"Expected a batch of {dims}D affine matrices of shape "
                         f"Nx{dims}x{dims + 1} for size {size}. Got {tuple(theta.shape)}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid: theta has {theta.shape[0]} matrices for a batch of "
                         f"{size[0]}")
    xp = backend.get_array_module(theta.array)
    lines = [_base_coordinates(xp, s, align_corners, theta.dtype) for s in reversed(spatial)]
    mesh = xp.meshgrid(*lines[::-1], indexing="ij")          # (D,) H, W grids
    base = xp.stack(list(mesh[::-1]) + [xp.ones_like(mesh[0])], axis=-1)
    base = Tensor.wrap(xp.ascontiguousarray(base.reshape(1, -1, dims + 1)))
    grid = base @ theta.transpose(1, 2)                       # (N, prod(spatial), dims)
    return grid.reshape(size[0], *spatial, dims)


def _unnormalize(g, size, align_corners):
    if align_corners:
        return (g + 1.0) * ((size - 1) / 2.0)
    return ((g + 1.0) * size - 1.0) / 2.0


def _clip(coord, size):
    """clamp(coord, 0, size - 1) with gradient 1 strictly inside, 0 at and beyond the ends."""
    inside = (coord.array > 0) & (coord.array < size - 1)
    return where(inside, coord, coord.detach().clamp(0, size - 1))


def _reflect(coord, twice_low, twice_high):
    """coord reflected into [twice_low / 2, twice_high / 2] (torch's reflect_coordinates)."""
    if twice_low == twice_high:
        return coord * 0.0
    low, span = twice_low / 2.0, (twice_high - twice_low) / 2.0
    shifted = coord - low
    a = where(shifted.array < 0, -shifted, shifted)           # |x|, slope +1 at 0 (torch's)
    xp = backend.get_array_module(a.array)
    flips = xp.floor(a.array / span)
    extra = a - Tensor.wrap((flips * span).astype(a.dtype, copy=False))
    even = (flips % 2) == 0
    return where(even, extra + low, (span + low) - extra)


def _source_coordinate(g, size, padding_mode, align_corners):
    coord = _unnormalize(g, size, align_corners)
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        return _clip(coord, size)
    return coord


def _gather(pixels, n_index, ys, xs, h, w):
    """pixels (N, H, W, C) at integer positions (ys, xs) (N, Ho, Wo), 0 outside: (N, Ho, Wo, C)
    and the raw validity mask."""
    xp = backend.get_array_module(ys)
    valid = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    values = pixels[n_index, xp.clip(ys, 0, h - 1), xp.clip(xs, 0, w - 1)]
    return values, valid


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2): (N, C, Ho, Wo) (see the module
    docstring)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported (bilinear and "
                                  "nearest are)")
    if input.ndim == 5:
        raise NotImplementedError("grid_sample: 5-D (volumetric) inputs are not supported")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sample(): expected a 4D input and a grid of shape "
                           f"(N, H_out, W_out, 2), got input {tuple(input.shape)} and grid "
                           f"{tuple(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {tuple(input.shape)} and grid with sizes "
                           f"{tuple(grid.shape)}")
    if min(input.shape[2:]) <= 0:
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                           f"dimensions, but input has sizes {tuple(input.shape)}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, "
                           f"but input has {input.dtype} and grid has {grid.dtype}")
    n, c, h, w = input.shape
    xp = backend.get_array_module(input.array)
    ix = _source_coordinate(grid[..., 0], w, padding_mode, align_corners)
    iy = _source_coordinate(grid[..., 1], h, padding_mode, align_corners)
    pixels = input.permute(0, 2, 3, 1)                         # (N, H, W, C)
    n_index = xp.arange(n).reshape(n, 1, 1)
    if mode == "nearest":
        xs = xp.rint(ix.array).astype(xp.int64)
        ys = xp.rint(iy.array).astype(xp.int64)
        values, valid = _gather(pixels, n_index, ys, xs, h, w)
        out = values * Tensor.wrap(valid[..., None].astype(input.dtype))
        return out.permute(0, 3, 1, 2)
    x0 = xp.floor(ix.array)
    y0 = xp.floor(iy.array)
    wx1 = ix - Tensor.wrap(x0)                                   # weight of the x0 + 1 column
    wy1 = iy - Tensor.wrap(y0)
    wx0, wy0 = 1.0 - wx1, 1.0 - wy1
    x0, y0 = x0.astype(xp.int64), y0.astype(xp.int64)
    out = None
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            values, valid = _gather(pixels, n_index, y0 + dy, x0 + dx, h, w)
            weight = wx * wy * Tensor.wrap(valid.astype(input.dtype))
            term = values * weight.unsqueeze(-1)
            out = term if out is None else out + term
    return out.permute(0, 3, 1, 2)


__all__ = ["affine_grid", "grid_sample"]
