"""Classifier-free guidance in one UNet evaluation that computes what the two conditions share
only once.

``eps = eps_u + w (eps_c - eps_u)`` needs the UNet at the same (z, t) under two contexts: the
condition's and the null condition's.  Run as one doubled batch (conditional rows first),
every layer before the first one that reads the context sees the same input twice.  Here
(``guided_unet_eps``), for z (N, C, H, W):

- the time embedding: with one timestep for the whole batch (as in sampling) it is computed
  for one row and broadcast (each ResBlock adds ``Linear(SiLU(emb))`` as (1, C, 1, 1));
- the layers before the first context reader (stem conv, ResBlocks, down-sampling) run on the
  N rows; at the first ``SpatialTransformer`` the part before its cross-attention (norm,
  proj_in, self-attention) runs on the N rows too (``SpatialTransformer.forward_shared``), and
  from its cross-attention on the batch is doubled (2N rows: condition, then null); an
  ``AttentionBlock`` with a context gets the doubled input;
- an up ResBlock whose skip connection was taken before the split reads cat([h, skip]) with
  h on 2N rows and the skip the same for both halves: its input GroupNorm is per group, so
  (when no group straddles the boundary) the skip's groups are normalised and activated on N
  rows, and its input and skip convs are linear in the input channels,
  ``conv(cat([a_h, a_s])) = conv_h(a_h) + conv_s(a_s)``, so the skip's share of each conv is
  computed on N rows and added to both halves (otherwise the skip is repeated);
- the output conv is affine, ``conv(a) = W * a + b``, so
  ``conv(a_u + w (a_c - a_u)) = eps_u + w (eps_c - eps_u)``: the guidance mixes the 2N
  activations ``a = SiLU(GroupNorm(h))`` and the conv runs on N rows.

The result equals the doubled-batch computation up to floating-point rounding (the same
operations on the same values, but the mixing moved before the last conv and matrix products
of other row counts).
"""
from __future__ import annotations

import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend, cat

from models.diffusion.transformer import SpatialTransformer
from models.diffusion.unet import AttentionBlock, ResBlock, timestep_embedding

__all__ = ["guided_unet_eps"]


def _reads_context(layer):
    return isinstance(layer, (SpatialTransformer, AttentionBlock)) and \
        getattr(layer, "context_dim", None) is not None


def _time_embedding(unet, t):
    """The UNet's embedding (1, D) when every entry of t is the same timestep, else (N, D)."""
    arr = t.array
    xp = backend.get_array_module(arr)
    if arr.shape[0] > 1 and bool(xp.all(arr == arr[0])):
        t = t[:1]
    first = unet.time_embed[0].weight
    return unet.time_embed(timestep_embedding(t, unet.base_channels, first.dtype, first.device))


def _doubled(x):
    return cat([x, x], dim=0)


def _shared_skip_split(block, h, skip):
    """Whether ``block`` (a ResBlock) can take cat([h, skip]) in two parts: its input
    GroupNorm's groups do not straddle the boundary and its skip path is a conv."""
    if not isinstance(block, ResBlock) or not isinstance(block.skip, nn.Conv2d):
        return False
    norm = block.in_norm
    per_group = norm.num_channels // norm.num_groups
    return norm.affine and h.shape[1] % per_group == 0 and \
        h.shape[1] + skip.shape[1] == norm.num_channels


def _conv_of_parts(conv, a_h, a_s, n):
    """conv(cat([a_h, cat([a_s, a_s])], 1)) for a_h (2N, Ch, ...) and a_s (N, Cs, ...): the
    conv is linear in its input channels, so a_s's part is computed on N rows and added to
    both halves."""
    ch = a_h.shape[1]
    w = conv.weight
    args = (conv.stride, conv.padding, conv.dilation)
    part_h = F.conv2d(a_h, w[:, :ch], conv.bias, *args)
    part_s = F.conv2d(a_s, w[:, ch:], None, *args)
    shape = tuple(part_h.shape)
    return (part_h.reshape(2, n, *shape[1:]) + part_s.reshape(1, n, *shape[1:])).reshape(*shape)


def _resblock_shared_skip(block, h, skip, emb, n):
    """``block(cat([h, cat([skip, skip])], 1), emb)`` (ResBlock's formula, see models.diffusion.
    unet) for h (2N, Ch, H, W) and a skip (N, Cs, H, W) shared by both halves: the skip's
    GroupNorm groups, SiLU and its share of the input and skip convs run on N rows."""
    norm, ch = block.in_norm, h.shape[1]
    groups_h = ch // (norm.num_channels // norm.num_groups)
    a_h = block.act(F.group_norm(h, groups_h, norm.weight[:ch], norm.bias[:ch], norm.eps))
    a_s = block.act(F.group_norm(skip, norm.num_groups - groups_h, norm.weight[ch:],
                                 norm.bias[ch:], norm.eps))
    out = _conv_of_parts(block.in_conv, a_h, a_s, n)
    e = block.emb_proj(emb)
    out = out + e.reshape(e.shape[0], e.shape[1], 1, 1)
    out = block.out_conv(block.dropout(block.act(block.out_norm(out))))
    return _conv_of_parts(block.skip, h, skip, n) + out


def guided_unet_eps(unet, z, t, context, guidance_scale):
    """``eps_u + w (eps_c - eps_u)`` of a context UNet (see the module docstring).

    z (N, C, H, W), t (N,) Tensor of timesteps, context (2N, L, context_dim): rows :N the
    condition's tokens, rows N: the null condition's.  -> (N, out_channels, H, W).
    """
    n = z.shape[0]
    w = float(guidance_scale)
    if context.ndim != 3 or context.shape[0] != 2 * n:
        raise ValueError(f"guided_unet_eps: expected a context of shape ({2 * n}, L, "
                         f"{unet.context_dim}) (condition rows, then null rows), got "
                         f"{tuple(context.shape)}")
    unet._check(z, t, None, context[:n])
    emb = _time_embedding(unet, t)
    emb2 = emb if emb.shape[0] == 1 else _doubled(emb)

    def run(block, h):
        for layer in block:
            split = h.shape[0] == 2 * n
            if isinstance(layer, ResBlock):
                h = layer(h, emb2 if split else emb)
            elif _reads_context(layer):
                if split:
                    h = layer(h, context)
                elif isinstance(layer, SpatialTransformer):
                    h = layer.forward_shared(h, context)
                else:
                    h = layer(_doubled(h), context)
            else:
                h = layer(h)
        return h

    h = unet.input_conv(z)
    skips = [h]
    for block in unet.down:
        h = run(block, h)
        skips.append(h)
    h = run(unet.middle, h)
    for block in unet.up:
        skip = skips.pop()
        if skip.shape[0] == h.shape[0]:
            h = run(block, cat([h, skip], dim=1))
        elif _shared_skip_split(block[0], h, skip):
            h = run(block[1:], _resblock_shared_skip(block[0], h, skip, emb2, n))
        else:
            h = run(block, cat([h, _doubled(skip)], dim=1))
    a = unet.out_act(unet.out_norm(h))
    if a.shape[0] == 2 * n:                 # (without a context reader eps_c = eps_u)
        a_c, a_u = a[:n], a[n:]
        a = a_u + w * (a_c - a_u)
    return unet.out_conv(a)
