"""The diffusion UNet written with torch.nn: the same structure and parameter names as
``models.diffusion.unet.UNet`` (built from its ``config``), so one state dict serves both.
Used by tests/test_diffusion_unet.py and benchmarks/bench_diffusion.py."""
import math

import torch

tnn = torch.nn


def torch_timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float64) * (-math.log(10000.0) / half))
    args = t.reshape(-1, 1).to(torch.float64) * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros(emb.shape[0], 1, dtype=emb.dtype)], dim=1)
    return emb


class TResBlock(tnn.Module):
    def __init__(self, cin, cout, emb_dim, dropout, groups):
        super().__init__()
        self.in_norm = tnn.GroupNorm(groups, cin)
        self.in_conv = tnn.Conv2d(cin, cout, 3, padding=1)
        self.emb_proj = tnn.Sequential(tnn.SiLU(), tnn.Linear(emb_dim, cout))
        self.out_norm = tnn.GroupNorm(groups, cout)
        self.dropout = tnn.Dropout(dropout)
        self.out_conv = tnn.Conv2d(cout, cout, 3, padding=1)
        self.skip = tnn.Conv2d(cin, cout, 1) if cin != cout else tnn.Identity()

    def forward(self, x, emb):
        h = self.in_conv(torch.nn.functional.silu(self.in_norm(x)))
        h = h + self.emb_proj(emb)[:, :, None, None]
        h = self.out_conv(self.dropout(torch.nn.functional.silu(self.out_norm(h))))
        return self.skip(x) + h


class TAttention(tnn.Module):
    def __init__(self, ch, heads, groups, context_dim):
        super().__init__()
        self.norm = tnn.GroupNorm(groups, ch)
        self.attn = tnn.MultiheadAttention(ch, heads, batch_first=True)
        self.context_dim = context_dim
        if context_dim is not None:
            self.cross_norm = tnn.GroupNorm(groups, ch)
            self.cross_attn = tnn.MultiheadAttention(ch, heads, kdim=context_dim,
                                                     vdim=context_dim, batch_first=True)

    def forward(self, x, context):
        n, c, h, w = x.shape
        q = self.norm(x).reshape(n, c, h * w).transpose(1, 2)
        x = x + self.attn(q, q, q, need_weights=False)[0].transpose(1, 2).reshape(n, c, h, w)
        if self.context_dim is not None:
            q = self.cross_norm(x).reshape(n, c, h * w).transpose(1, 2)
            out = self.cross_attn(q, context, context, need_weights=False)[0]
            x = x + out.transpose(1, 2).reshape(n, c, h, w)
        return x


class TDown(tnn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = tnn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class TUp(tnn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = tnn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))


class TorchUNet(tnn.Module):
    """The same network written with torch.nn (built from a UNet's config)."""

    def __init__(self, in_channels, base_channels, channel_mult, num_res_blocks,
                 attention_resolutions, dropout, num_classes, context_dim, out_channels, groups,
                 image_size, num_heads):
        super().__init__()
        c0, d = base_channels, 4 * base_channels
        self.base = c0
        self.time_embed = tnn.Sequential(tnn.Linear(c0, d), tnn.SiLU(), tnn.Linear(d, d))
        if num_classes is not None:
            self.label_embed = tnn.Embedding(num_classes, d)
        self.num_classes = num_classes
        self.input_conv = tnn.Conv2d(in_channels, c0, 3, padding=1)

        def res(cin, cout):
            return TResBlock(cin, cout, d, dropout, groups)

        def att(ch):
            return TAttention(ch, num_heads, groups, context_dim)

        ch, ds, skips = c0, 1, [c0]
        self.down = tnn.ModuleList()
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                block = tnn.ModuleList([res(ch, mult * c0)])
                ch = mult * c0
                if ds in attention_resolutions:
                    block.append(att(ch))
                self.down.append(block)
                skips.append(ch)
            if level != len(channel_mult) - 1:
                self.down.append(tnn.ModuleList([TDown(ch)]))
                skips.append(ch)
                ds *= 2
        self.middle = tnn.ModuleList([res(ch, ch), att(ch), res(ch, ch)])
        self.up = tnn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                block = tnn.ModuleList([res(ch + skips.pop(), mult * c0)])
                ch = mult * c0
                if ds in attention_resolutions:
                    block.append(att(ch))
                if level and i == num_res_blocks:
                    block.append(TUp(ch))
                    ds //= 2
                self.up.append(block)
        self.out_norm = tnn.GroupNorm(groups, ch)
        self.out_conv = tnn.Conv2d(ch, out_channels, 3, padding=1)

    @staticmethod
    def _run(block, h, emb, context):
        for layer in block:
            if isinstance(layer, TResBlock):
                h = layer(h, emb)
            elif isinstance(layer, TAttention):
                h = layer(h, context)
            else:
                h = layer(h)
        return h

    def forward(self, x, t, y=None, context=None):
        w = self.time_embed[0].weight
        emb = self.time_embed(torch_timestep_embedding(t, self.base).to(w.dtype))
        if self.num_classes is not None:
            emb = emb + self.label_embed(y)
        h = self.input_conv(x)
        skips = [h]
        for block in self.down:
            h = self._run(block, h, emb, context)
            skips.append(h)
        h = self._run(self.middle, h, emb, context)
        for block in self.up:
            h = self._run(block, torch.cat([h, skips.pop()], dim=1), emb, context)
        return self.out_conv(torch.nn.functional.silu(self.out_norm(h)))
