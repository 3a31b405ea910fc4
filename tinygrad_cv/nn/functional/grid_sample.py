"""Spatial transformers: ``affine_grid`` and ``grid_sample`` (torch's F.affine_grid/F.grid_sample).

affine_grid: theta (N, 2, 3) and size (N, C, H, W) -> grid (N, H, W, 2) (or (N, 3, 4) and
(N, C, D, H, W) -> (N, D, H, W, 3)), grid[n, i, j] = theta[n] @ (x_j, y_i, 1) with the base
coordinates linspace(-1, 1, W) (times (W - 1) / W without ``align_corners``; 0 for size 1).

grid_sample: input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) of normalised (x, y) in [-1, 1]
-> (N, C, Ho, Wo); or volumetric input (N, C, D, H, W) at grid (N, Do, Ho, Wo, 3) of (x, y, z)
-> (N, C, Do, Ho, Wo).  A coordinate g along an axis of size W becomes the position

    ix = (g + 1) / 2 (W - 1)          (align_corners)
    ix = ((g + 1) W - 1) / 2          (otherwise: -1 and 1 are the outer pixel edges)

then, by ``padding_mode``: 'zeros' leaves it (samples outside read 0), 'border' clamps it to
[0, W - 1], 'reflection' reflects it about the borders (the pixel centres 0 and W - 1, or the
edges -0.5 and W - 0.5 without align_corners) and clamps.  'bilinear' mixes the 2^d corner
neighbours (4 in 2-D; 8, trilinear, in 3-D) with weights prod_axes (1 - |ix - x|); 'nearest'
takes the pixel at the rounded position (half to even).  Gradients flow to the input
(scatter-add of the weights) and, for 'bilinear', to the grid, with torch's conventions at the
clamps (0 at and beyond the border) and reflections (the sign flips).  Built from primitives
(differentiable twice).  'bicubic' raises NotImplementedError (on 5-D inputs torch's
RuntimeError: it is 2-D only).
"""
from __future__ import annotations

import itertools
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
        raise RuntimeError(f"affine_grid: theta has {theta.shape[0]} matrices for a batch of "
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


def _gather(pixels, n_index, positions, sizes):
    """pixels (N, *spatial, C) at integer positions (one (N, *out) array per spatial axis,
    slowest first), 0 outside: (N, *out, C) and the raw validity mask."""
    xp = backend.get_array_module(positions[0])
    valid = None
    clipped = []
    for pos, size in zip(positions, sizes):
        inside = (pos >= 0) & (pos < size)
        valid = inside if valid is None else valid & inside
        clipped.append(xp.clip(pos, 0, size - 1))
    values = pixels[(n_index, *clipped)]
    return values, valid


def _check_arguments(input, grid, mode):
    """torch's grid_sampler checks, in torch's order."""
    spatial_dims = input.ndim - 2
    if grid.shape[-1] != spatial_dims:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {spatial_dims} in last "
                           f"dimension, but got grid with sizes {list(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    for axis in range(2, input.ndim):
        if input.shape[axis] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {axis} being empty")
    expected = 4 if input.ndim == 4 else 5
    if input.ndim != expected or grid.ndim != expected:
        raise RuntimeError(f"grid_sampler(): expected {expected}D input and grid with same "
                           f"number of dimensions, but got input with sizes {list(input.shape)} "
                           f"and grid with sizes {list(grid.shape)}")
    if mode == "bicubic":
        if expected == 5:
            raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported (bilinear and "
                                  "nearest are)")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, "
                           f"but input has {input.dtype} and grid has {grid.dtype}")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2): (N, C, Ho, Wo), or
    (N, C, D, H, W) at (N, Do, Ho, Wo, 3): (N, C, Do, Ho, Wo) (see the module docstring)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    _check_arguments(input, grid, mode)
    n = input.shape[0]
    sizes = tuple(input.shape[2:])                             # (H, W) or (D, H, W)
    dims = len(sizes)
    xp = backend.get_array_module(input.array)
    # grid[..., k] is the coordinate along spatial axis dims - 1 - k (x: W, y: H, z: D)
    coords = [_source_coordinate(grid[..., dims - 1 - axis], sizes[axis], padding_mode,
                                 align_corners) for axis in range(dims)]
    pixels = input.permute(0, *range(2, dims + 2), 1)          # (N, *spatial, C)
    n_index = xp.arange(n).reshape((n,) + (1,) * dims)
    channels_first = (0, dims + 1, *range(1, dims + 1))
    if mode == "nearest":
        positions = [xp.rint(c.array).astype(xp.int64) for c in coords]
        values, valid = _gather(pixels, n_index, positions, sizes)
        out = values * Tensor.wrap(valid[..., None].astype(input.dtype))
        return out.permute(*channels_first)
    lows, weights = [], []
    for c in coords:
        low = xp.floor(c.array)
        upper = c - Tensor.wrap(low)                           # weight of the low + 1 neighbour
        lows.append(low.astype(xp.int64))
        weights.append((1.0 - upper, upper))
    out = None
    for corner in itertools.product((0, 1), repeat=dims):     # 4 or 8 corners, slowest first
        positions = [low + step for low, step in zip(lows, corner)]
        values, valid = _gather(pixels, n_index, positions, sizes)
        weight = None
        for axis in reversed(range(dims)):                     # x weight first, as in 2-D
            w = weights[axis][corner[axis]]
            weight = w if weight is None else weight * w
        weight = weight * Tensor.wrap(valid.astype(input.dtype))
        term = values * weight.unsqueeze(-1)
        out = term if out is None else out + term
    return out.permute(*channels_first)


__all__ = ["affine_grid", "grid_sample"]
