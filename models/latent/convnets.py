"""The convolutional encoder and decoder shared by the autoencoders (``AutoencoderKL``,
``VQAutoencoder``): one downsampling by 2 per entry of ``channel_mult`` after the first.

Encoder (N, in_channels, H, W) -> (N, out_channels, H/f, W/f), ``f = 2^(levels - 1)``::

    h = Conv3x3(in -> C_0)(x)
    per level l: num_res_blocks x ResBlock(-> C_l), then (not at the last level) a stride-2
                 Conv3x3
    out = Conv3x3(C_last -> out_channels)(SiLU(GroupNorm(h)))

Decoder (N, in_channels, h, w) -> (N, out_channels, f h, f w): the mirror image, with nearest
x2 + Conv3x3 upsampling (``models.diffusion.unet.Upsample``).

ResBlock(cin -> cout): ``skip(x) + Conv3x3(SiLU(GroupNorm(Conv3x3(SiLU(GroupNorm(x))))))``,
``skip`` a Conv1x1 when cin != cout (the UNet's ResBlock without the time embedding).
"""
from __future__ import annotations

import tinygrad_cv.nn as nn

from models.diffusion.unet import Downsample, Upsample

__all__ = ["ConvResBlock", "Encoder", "Decoder", "LatentScale"]


class LatentScale:
    """``scale_factor`` of an autoencoder (1 / std of its latents, kept in ``self.config`` so
    it travels in the checkpoint); it must be > 0."""

    @property
    def scale_factor(self):
        return self.config["scale_factor"]

    @scale_factor.setter
    def scale_factor(self, value):
        if not float(value) > 0.0:
            raise ValueError(f"{type(self).__name__}: scale_factor must be > 0, got {value!r}")
        self.config["scale_factor"] = float(value)


class ConvResBlock(nn.Module):
    """GroupNorm-SiLU-Conv3x3 twice, plus the (1x1-projected) input."""

    def __init__(self, in_channels, out_channels, groups):
        super().__init__()
        self.in_norm = nn.GroupNorm(groups, in_channels)
        self.in_conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.out_norm = nn.GroupNorm(groups, out_channels)
        self.out_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.act = nn.SiLU()
        self.skip = (nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels
                     else nn.Identity())

    def forward(self, x):
        h = self.in_conv(self.act(self.in_norm(x)))
        h = self.out_conv(self.act(self.out_norm(h)))
        return self.skip(x) + h


class _ConvStack(nn.Module):
    """conv_in -> per level ``num_res_blocks`` ConvResBlocks to the level's width, then
    (between levels) ``resample(channels)`` -> GroupNorm, SiLU, conv_out."""

    def __init__(self, in_channels, out_channels, widths, num_res_blocks, groups, resample):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        layers, ch = [], widths[0]
        for level, width in enumerate(widths):
            for _ in range(num_res_blocks):
                layers.append(ConvResBlock(ch, width, groups))
                ch = width
            if level != len(widths) - 1:
                layers.append(resample(ch))
        self.blocks = nn.Sequential(*layers)
        self.norm_out = nn.GroupNorm(groups, ch)
        self.act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch, out_channels, 3, padding=1)

    def forward(self, x):
        return self.conv_out(self.act(self.norm_out(self.blocks(self.conv_in(x)))))


def _widths(base_channels, channel_mult):
    return [int(base_channels) * int(m) for m in channel_mult]


class Encoder(_ConvStack):
    """(N, in_channels, H, W) -> (N, out_channels, H/f, W/f); see the module docstring."""

    def __init__(self, in_channels, out_channels, base_channels, channel_mult, num_res_blocks,
                 groups):
        super().__init__(in_channels, out_channels, _widths(base_channels, channel_mult),
                         num_res_blocks, groups, Downsample)


class Decoder(_ConvStack):
    """(N, in_channels, h, w) -> (N, out_channels, f h, f w); see the module docstring."""

    def __init__(self, in_channels, out_channels, base_channels, channel_mult, num_res_blocks,
                 groups):
        super().__init__(in_channels, out_channels, _widths(base_channels, channel_mult)[::-1],
                         num_res_blocks, groups, Upsample)
