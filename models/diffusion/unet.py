"""The noise-prediction UNet of the diffusion models: eps_theta(x_t, t [, y, context]).

Layout (``C = base_channels``, ``D = 4 C`` the embedding width, levels ``l`` with
``C_l = channel_mult[l] * C``, ``ds`` the downsampling factor of a level: 1, 2, 4, ...)::

    emb  = Linear(D, D)(SiLU(Linear(C, D)(sinusoid(t, C)))) [+ Embedding(num_classes, D)(y)]
    h    = Conv3x3(in_channels -> C)(x)                                   skips = [h]
    down: per level, num_res_blocks x [ResBlock(-> C_l) (+ Attention if ds in
          attention_resolutions)], each output pushed to skips; then (not at the last level)
          a stride-2 Conv3x3, also pushed
    mid:  ResBlock, Attention, ResBlock
    up:   per level from the last, (num_res_blocks + 1) x [ResBlock(cat(h, skips.pop()) -> C_l)
          (+ Attention)], the last one followed (not at level 0) by nearest x2 + Conv3x3
    out  = Conv3x3(C -> out_channels)(SiLU(GroupNorm(h)))                  (zero-initialised)

with ``sinusoid(t, C) = [cos(t f_k), sin(t f_k)]``, ``f_k = 10000^(-k / (C/2))``, k < C/2.

ResBlock(cin -> cout)::

    h = Conv3x3(SiLU(GroupNorm(x)))  +  Linear(D, cout)(SiLU(emb))[:, :, None, None]
    h = Conv3x3(Dropout(SiLU(GroupNorm(h))))                 (second conv zero-initialised)
    out = skip(x) + h,   skip = Conv1x1 when cin != cout, else the identity

Attention(ch) over the H*W positions of (N, ch, H, W) as a sequence (N, H*W, ch)::

    x = x + MHA(GroupNorm(x))                                 (self-attention, out_proj zero)
    x = x + MHA_cross(GroupNorm'(x), context, context)        (when context_dim is set;
                                                               context (N, L, context_dim))

With ``use_spatial_transformer`` (latent diffusion; needs ``context_dim``) every attention
block is a ``SpatialTransformer`` (``models.diffusion.transformer``: proj_in, self- and
cross-attention, feed-forward, zero-initialised proj_out) instead.

Parameter names follow the attribute names below (``time_embed.0.weight``,
``down.1.0.in_conv.weight``, ...) so a torch module with the same structure loads the same
state dict.  Shapes: x (N, in_channels, H, W) with H, W divisible by 2^(levels - 1), t (N,)
integer timesteps, y (N,) integer class labels -> eps (N, out_channels, H, W).
"""
from __future__ import annotations

import math
import numbers

from tinygrad_cv import backend, cat
from tinygrad_cv.tensor import Tensor
import tinygrad_cv.nn as nn
from tinygrad_cv.nn import init

from .transformer import SpatialTransformer

__all__ = ["UNet", "ResBlock", "AttentionBlock", "Downsample", "Upsample", "timestep_embedding"]


def timestep_embedding(t, dim, dtype, device="cpu"):
    """Sinusoidal embedding (N, dim) of integer timesteps t (N,) on ``device``:
    ``[cos(t f), sin(t f)]`` with ``f_k = exp(-ln(10000) k / (dim/2))``, k < dim/2 (a zero
    column is appended for odd dim), computed in float64 then cast to ``dtype``.  A constant:
    no gradient flows to t."""
    arr = t.array if isinstance(t, Tensor) else backend.ensure_array(t)
    arr = backend.to_device(arr, device)
    xp = backend.get_array_module(arr)
    half = dim // 2
    freqs = xp.exp(xp.arange(half, dtype="float64") * (-math.log(10000.0) / half))
    args = arr.reshape(-1, 1).astype("float64") * freqs[None, :]
    parts = [xp.cos(args), xp.sin(args)]
    if dim % 2:
        parts.append(xp.zeros((args.shape[0], 1)))
    return Tensor.wrap(xp.concatenate(parts, axis=1).astype(dtype))


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv, + projected time embedding, GroupNorm-SiLU-Dropout-Conv, + skip."""

    def __init__(self, in_channels, out_channels, emb_dim, dropout, groups):
        super().__init__()
        self.in_norm = nn.GroupNorm(groups, in_channels)
        self.in_conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.out_norm = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.out_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        init.zeros_(self.out_conv.weight)
        init.zeros_(self.out_conv.bias)
        self.skip = (nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels
                     else nn.Identity())
        self.act = nn.SiLU()

    def forward(self, x, emb):
        h = self.in_conv(self.act(self.in_norm(x)))
        e = self.emb_proj(emb)
        h = h + e.reshape(e.shape[0], e.shape[1], 1, 1)
        h = self.out_conv(self.dropout(self.act(self.out_norm(h))))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Residual self-attention over the H*W positions (+ cross-attention to a context)."""

    def __init__(self, channels, num_heads, groups, context_dim=None):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        init.zeros_(self.attn.out_proj.weight)
        self.context_dim = context_dim
        if context_dim is not None:
            self.cross_norm = nn.GroupNorm(groups, channels)
            self.cross_attn = nn.MultiheadAttention(channels, num_heads, kdim=context_dim,
                                                    vdim=context_dim, batch_first=True)
            init.zeros_(self.cross_attn.out_proj.weight)

    @staticmethod
    def _tokens(x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h * w).transpose(1, 2)          # (N, H*W, C)

    @staticmethod
    def _image(seq, shape):
        n, c, h, w = shape
        return seq.transpose(1, 2).reshape(n, c, h, w)

    def forward(self, x, context=None):
        q = self._tokens(self.norm(x))
        out, _ = self.attn(q, q, q, need_weights=False)
        x = x + self._image(out, x.shape)
        if self.context_dim is not None:
            q = self._tokens(self.cross_norm(x))
            out, _ = self.cross_attn(q, context, context, need_weights=False)
            x = x + self._image(out, x.shape)
        return x


class Downsample(nn.Module):
    """Stride-2 3x3 convolution: (N, C, H, W) -> (N, C, H/2, W/2)."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest x2 upsampling then a 3x3 convolution: (N, C, H, W) -> (N, C, 2H, 2W)."""

    def __init__(self, channels):
        super().__init__()
        self.resize = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(self.resize(x))


def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"UNet: {name} must be a positive integer, got {value!r}")
    return int(value)


def _int_tuple(name, values, allow_empty):
    try:
        out = tuple(_positive_int(name, v) for v in values)
    except TypeError:
        raise ValueError(f"UNet: {name} must be a sequence of positive integers, got {values!r}") from None
    if not out and not allow_empty:
        raise ValueError(f"UNet: {name} must not be empty")
    return out


class UNet(nn.Module):
    """eps_theta(x, t, y=None, context=None) -> (N, out_channels, H, W); see the module doc.

    ``attention_resolutions`` names downsampling factors (2: the maps of half the input size);
    ``num_heads`` splits each attention's channels into heads; ``image_size`` is the size the
    model is built for (H and W must be divisible by 2^(len(channel_mult) - 1)).
    ``self.config`` holds the constructor arguments (JSON-able).
    """

    def __init__(self, in_channels=1, base_channels=32, channel_mult=(1, 2, 2), num_res_blocks=1,
                 attention_resolutions=(2,), dropout=0.0, num_classes=None, context_dim=None,
                 out_channels=None, groups=8, image_size=8, num_heads=1,
                 use_spatial_transformer=False):
        super().__init__()
        in_channels = _positive_int("in_channels", in_channels)
        base_channels = _positive_int("base_channels", base_channels)
        channel_mult = _int_tuple("channel_mult", channel_mult, False)
        num_res_blocks = _positive_int("num_res_blocks", num_res_blocks)
        attention_resolutions = _int_tuple("attention_resolutions", attention_resolutions, True)
        out_channels = in_channels if out_channels is None else _positive_int("out_channels",
                                                                              out_channels)
        groups = _positive_int("groups", groups)
        image_size = _positive_int("image_size", image_size)
        num_heads = _positive_int("num_heads", num_heads)
        if num_classes is not None:
            num_classes = _positive_int("num_classes", num_classes)
        if context_dim is not None:
            context_dim = _positive_int("context_dim", context_dim)
        use_spatial_transformer = bool(use_spatial_transformer)
        if use_spatial_transformer and context_dim is None:
            raise ValueError("UNet: use_spatial_transformer needs context_dim (the width of the "
                             "condition tokens)")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"UNet: dropout must be in [0, 1), got {dropout!r}")
        widths = sorted({base_channels * m for m in channel_mult} | {base_channels})
        for width in widths:
            if width % groups:
                raise ValueError(f"UNet: every channel count ({widths}) must be divisible by "
                                 f"groups={groups}; {width} is not")
        factor = 2 ** (len(channel_mult) - 1)
        if image_size % factor:
            raise ValueError(f"UNet: image_size={image_size} must be divisible by {factor} "
                             f"(2^(len(channel_mult) - 1)) for {len(channel_mult)} levels")
        attended = [base_channels * channel_mult[i] for i in range(len(channel_mult))
                    if 2 ** i in attention_resolutions] + [base_channels * channel_mult[-1]]
        for width in attended:
            if width % num_heads:
                raise ValueError(f"UNet: attention width {width} is not divisible by "
                                 f"num_heads={num_heads}")
        self.config = {"in_channels": in_channels, "base_channels": base_channels,
                       "channel_mult": list(channel_mult), "num_res_blocks": num_res_blocks,
                       "attention_resolutions": list(attention_resolutions),
                       "dropout": float(dropout), "num_classes": num_classes,
                       "context_dim": context_dim, "out_channels": out_channels,
                       "groups": groups, "image_size": image_size, "num_heads": num_heads}
        if use_spatial_transformer:     # only then, so the pixel models' configs stay as they were
            self.config["use_spatial_transformer"] = True
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_classes, self.context_dim = num_classes, context_dim
        self.downsample_factor = factor
        emb_dim = 4 * base_channels
        self.base_channels = base_channels
        self.time_embed = nn.Sequential(nn.Linear(base_channels, emb_dim), nn.SiLU(),
                                        nn.Linear(emb_dim, emb_dim))
        if num_classes is not None:
            self.label_embed = nn.Embedding(num_classes, emb_dim)
        self.input_conv = nn.Conv2d(in_channels, base_channels, 3, padding=1)

        def attention(ch):
            if use_spatial_transformer:
                return SpatialTransformer(ch, num_heads, groups, context_dim)
            return AttentionBlock(ch, num_heads, groups, context_dim)

        ch, ds, skips = base_channels, 1, [base_channels]
        self.down = nn.ModuleList()
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                block = nn.ModuleList([ResBlock(ch, mult * base_channels, emb_dim, dropout, groups)])
                ch = mult * base_channels
                if ds in attention_resolutions:
                    block.append(attention(ch))
                self.down.append(block)
                skips.append(ch)
            if level != len(channel_mult) - 1:
                self.down.append(nn.ModuleList([Downsample(ch)]))
                skips.append(ch)
                ds *= 2
        self.middle = nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout, groups), attention(ch),
                                     ResBlock(ch, ch, emb_dim, dropout, groups)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                block = nn.ModuleList([ResBlock(ch + skips.pop(), mult * base_channels, emb_dim,
                                                dropout, groups)])
                ch = mult * base_channels
                if ds in attention_resolutions:
                    block.append(attention(ch))
                if level and i == num_res_blocks:
                    block.append(Upsample(ch))
                    ds //= 2
                self.up.append(block)
        self.out_norm = nn.GroupNorm(groups, ch)
        self.out_act = nn.SiLU()
        self.out_conv = nn.Conv2d(ch, out_channels, 3, padding=1)
        init.zeros_(self.out_conv.weight)
        init.zeros_(self.out_conv.bias)

    @staticmethod
    def _run(block, h, emb, context):
        for layer in block:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
            elif isinstance(layer, (AttentionBlock, SpatialTransformer)):
                h = layer(h, context)
            else:
                h = layer(h)
        return h

    def _check(self, x, t, y, context):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet: expected x of shape (N, {self.in_channels}, H, W), got "
                             f"{tuple(x.shape)}")
        n, f = x.shape[0], self.downsample_factor
        if x.shape[2] % f or x.shape[3] % f:
            raise ValueError(f"UNet: H and W must be divisible by {f}, got x of shape "
                             f"{tuple(x.shape)}")
        if tuple(t.shape) != (n,):
            raise ValueError(f"UNet: expected t of shape ({n},), got {tuple(t.shape)}")
        if self.num_classes is None and y is not None:
            raise ValueError("UNet: class labels y given to a model built without num_classes")
        if self.num_classes is not None:
            if y is None:
                raise ValueError(f"UNet: this model is class-conditional (num_classes="
                                 f"{self.num_classes}): give labels y of shape ({n},)")
            if tuple(y.shape) != (n,):
                raise ValueError(f"UNet: expected y of shape ({n},), got {tuple(y.shape)}")
        if self.context_dim is None and context is not None:
            raise ValueError("UNet: context given to a model built without context_dim")
        if self.context_dim is not None:
            if context is None or context.ndim != 3 or context.shape[0] != n or \
                    context.shape[2] != self.context_dim:
                got = None if context is None else tuple(context.shape)
                raise ValueError(f"UNet: expected context of shape ({n}, L, {self.context_dim}), "
                                 f"got {got}")

    def forward(self, x, t, y=None, context=None):
        t = t if isinstance(t, Tensor) else Tensor.wrap(backend.ensure_array(t))
        self._check(x, t, y, context)
        first = self.time_embed[0].weight
        emb = self.time_embed(timestep_embedding(t, self.base_channels, first.dtype,
                                                 first.device))
        if self.num_classes is not None:
            emb = emb + self.label_embed(y)
        h = self.input_conv(x)
        skips = [h]
        for block in self.down:
            h = self._run(block, h, emb, context)
            skips.append(h)
        h = self._run(self.middle, h, emb, context)
        for block in self.up:
            h = self._run(block, cat([h, skips.pop()], dim=1), emb, context)
        return self.out_conv(self.out_act(self.out_norm(h)))
