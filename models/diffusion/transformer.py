"""The SpatialTransformer block of the latent-diffusion UNet: conditions enter through
cross-attention to a sequence of condition tokens.

For x (N, C, H, W) and a context (N, L, context_dim), with the H*W positions as a sequence::

    h = proj_in(GroupNorm(x))                          Conv1x1 C -> C, then (N, H*W, C)
    h = h + SelfAttn(LayerNorm1(h))                    MHA over the H*W positions
    h = h + CrossAttn(LayerNorm2(h), context)          queries from h, keys/values from context
    h = h + FF(LayerNorm3(h))                          Linear(C, 4C) - GELU - Linear(4C, C)
    out = x + proj_out(h as (N, C, H, W))              Conv1x1, zero-initialised

so a freshly built block is the identity and learns how much the condition matters.
Parameter names (``norm``, ``proj_in``, ``norm1``, ``attn1``, ``norm2``, ``attn2``, ``norm3``,
``ff.0``, ``ff.2``, ``proj_out``) let a torch module of the same structure (torch.nn's
GroupNorm, Conv2d, LayerNorm, MultiheadAttention with kdim=vdim=context_dim, Linear, GELU)
load the same state dict.
"""
from __future__ import annotations

import tinygrad_cv.nn as nn
from tinygrad_cv import cat
from tinygrad_cv.nn import init

__all__ = ["SpatialTransformer"]


class SpatialTransformer(nn.Module):
    """``SpatialTransformer(channels, num_heads, groups, context_dim)``:
    (N, C, H, W), (N, L, context_dim) -> (N, C, H, W); see the module docstring."""

    def __init__(self, channels, num_heads, groups, context_dim):
        super().__init__()
        if context_dim is None:
            raise ValueError("SpatialTransformer: context_dim is required (the width of the "
                             "condition tokens)")
        self.context_dim = int(context_dim)
        self.norm = nn.GroupNorm(groups, channels)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.norm1 = nn.LayerNorm(channels)
        self.attn1 = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        self.attn2 = nn.MultiheadAttention(channels, num_heads, kdim=self.context_dim,
                                           vdim=self.context_dim, batch_first=True)
        self.norm3 = nn.LayerNorm(channels)
        self.ff = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(),
                                nn.Linear(4 * channels, channels))
        self.proj_out = nn.Conv2d(channels, channels, 1)
        init.zeros_(self.proj_out.weight)
        init.zeros_(self.proj_out.bias)

    def _check_context(self, x, context, copies=1):
        n = copies * x.shape[0]
        if context is None or context.ndim != 3 or context.shape[0] != n or \
                context.shape[2] != self.context_dim:
            got = None if context is None else tuple(context.shape)
            raise ValueError(f"SpatialTransformer: expected context of shape ({n}, L, "
                             f"{self.context_dim}), got {got}")

    def _self_attend(self, x):
        """The part that does not see the context: tokens (N, H*W, C) after proj_in and the
        self-attention residual."""
        n, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x)).reshape(n, c, hh * ww).transpose(1, 2)   # (N, HW, C)
        q = self.norm1(h)
        return h + self.attn1(q, q, q, need_weights=False)[0]

    def _attend_context(self, x, h, context):
        """The rest: cross-attention, feed-forward, proj_out and the outer residual."""
        n, c, hh, ww = x.shape
        h = h + self.attn2(self.norm2(h), context, context, need_weights=False)[0]
        h = h + self.ff(self.norm3(h))
        return x + self.proj_out(h.transpose(1, 2).reshape(n, c, hh, ww))

    def forward(self, x, context):
        self._check_context(x, context)
        return self._attend_context(x, self._self_attend(x), context)

    def forward_shared(self, x, context):
        """The block for k contexts of the same x: x (N, C, H, W), context (k N, L,
        context_dim) -> (k N, C, H, W), equal to ``forward(cat([x] * k), context)`` (row
        i N + j: x[j] under context[i N + j]).  The part before the cross-attention runs once
        on the N rows; from the cross-attention on, k N rows."""
        n = x.shape[0]
        rows = context.shape[0] if context is not None and context.ndim == 3 else 0
        if not n or not rows or rows % n:
            got = None if context is None else tuple(context.shape)
            raise ValueError(f"SpatialTransformer.forward_shared: expected a context of k * "
                             f"{n} rows (k contexts of the {n} inputs), got {got}")
        copies = rows // n
        self._check_context(x, context, copies)
        h = self._self_attend(x)
        return self._attend_context(cat([x] * copies), cat([h] * copies), context)
