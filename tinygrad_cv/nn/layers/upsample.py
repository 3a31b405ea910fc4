"""Upsample layer (the modes of ``functional.interpolate``, torch's coordinate rules) and its
older spellings UpsamplingNearest2d and UpsamplingBilinear2d."""
from __future__ import annotations

from ..functional.interpolation import MODES, interpolate
from ..module import Module


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by ``scale_factor``;
    see ``functional.upsample``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Upsample: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(scale_factor, (tuple, list)):       # stored as floats, as torch
            scale_factor = tuple(float(f) for f in scale_factor)
        elif scale_factor:
            scale_factor = float(scale_factor)
        else:
            scale_factor = None
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        if input.ndim not in (3, 4, 5):
            raise ValueError(f"Upsample: expected input of shape (N, C, L) (3-D), (N, C, H, W) "
                             f"(4-D) or (N, C, D, H, W) (5-D), got shape {tuple(input.shape)}")
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           getattr(self, "recompute_scale_factor", None))

    def extra_repr(self):
        what = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode='nearest')`` (torch's older spelling)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode='bilinear', align_corners=True)`` (torch's older spelling)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
