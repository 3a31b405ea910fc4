"""Sliding blocks: ``unfold`` (im2col) and its adjoint ``fold`` (col2im), torch's F.unfold/F.fold.

For kernel (kh, kw), dilation (dh, dw), padding (ph, pw) and stride (sh, sw), with xpad the
input zero-padded by (ph, pw) and L = Ho * Wo blocks, Ho = (H + 2 ph - dh (kh - 1) - 1) // sh + 1:

    unfold:  cols[n, (c, i, j), (a, b)] = xpad[n, c, a sh + i dh, b sw + j dw]
             (N, C, H, W) -> (N, C kh kw, L)
    fold:    the adjoint, summing overlapping blocks: (N, C kh kw, L) -> (N, C, H, W)
             x[n, c, a sh + i dh - ph, b sw + j dw - pw] += cols[n, (c, i, j), (a, b)]

Each one's gradient is the other (so both are differentiable any number of times); unbatched
inputs ((C, H, W) for unfold, (C kh kw, L) for fold) are accepted as in torch.  unfold is one
strided view and one copy; fold is kh * kw strided slab additions (one per kernel offset).
The primitives are ``ops/fold.py``'s (ARCHITECTURE.md: higher-order Functions live in ops/).
"""
from __future__ import annotations

from ...ops.fold import FoldFn, UnfoldFn, _blocks


def _pair(value, name):
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return value


def _geometry(kernel_size, dilation, padding, stride, name):
    geometry = tuple(_pair(v, f"{name}: {label}") for v, label in (
        (kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"),
        (stride, "stride")))
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    if min(kh, kw, dh, dw, sh, sw) <= 0 or min(ph, pw) < 0:
        raise RuntimeError(f"{name}: kernel_size, dilation and stride must be positive and "
                           f"padding non-negative, got kernel_size={(kh, kw)}, "
                           f"dilation={(dh, dw)}, padding={(ph, pw)}, stride={(sh, sw)}")
    return geometry


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) input: (N, C kh kw, L) or
    (C kh kw, L) (the module docstring's ``cols``)."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"unfold: expected a 3D (unbatched) or 4D (batched) input, got "
                           f"{input.ndim}D of shape {tuple(input.shape)}")
    geometry = _geometry(kernel_size, dilation, padding, stride, "unfold")
    x = input if input.ndim == 4 else input.unsqueeze(0)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    ho, wo = _blocks(x.shape[2], kh, dh, ph, sh), _blocks(x.shape[3], kw, dw, pw, sw)
    if ho < 1 or wo < 1:
        raise RuntimeError(f"unfold: the kernel {(kh, kw)} with dilation {(dh, dw)} does not fit "
                           f"the padded input of spatial size "
                           f"{(x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)}")
    out = UnfoldFn.apply(x, geometry=geometry)
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding blocks (N, C kh kw, L) or (C kh kw, L) into (N, C, H, W) or (C, H, W) with
    (H, W) = ``output_size`` (the adjoint of ``unfold``; overlapping blocks add)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold: expected a 2D (unbatched) or 3D (batched) input, got "
                           f"{input.ndim}D of shape {tuple(input.shape)}")
    out_hw = _pair(output_size, "fold: output_size")
    geometry = _geometry(kernel_size, dilation, padding, stride, "fold")
    cols = input if input.ndim == 3 else input.unsqueeze(0)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    if cols.shape[1] % (kh * kw):
        raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={cols.shape[1]} and "
                           f"kernel_size={(kh, kw)}")
    ho, wo = _blocks(out_hw[0], kh, dh, ph, sh), _blocks(out_hw[1], kw, dw, pw, sw)
    if ho < 1 or wo < 1 or cols.shape[2] != ho * wo:
        raise RuntimeError(f"fold: given output_size={out_hw}, kernel_size={(kh, kw)}, "
                           f"dilation={(dh, dw)}, padding={(ph, pw)}, stride={(sh, sw)}, "
                           f"expected size of input's dimension 2 to match the calculated "
                           f"number of sliding blocks {ho} * {wo} = {ho * wo}, but got "
                           f"input.size(2)={cols.shape[2]}")
    out = FoldFn.apply(cols, out_hw=out_hw, geometry=geometry)
    return out if input.ndim == 3 else out.squeeze(0)


__all__ = ["unfold", "fold"]
