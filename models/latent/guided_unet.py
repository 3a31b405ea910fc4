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
  ``AttentionBlock`` with a context gets the doubled input.  Skip connections taken before
  the split are repeated for the doubled up path;
- the output conv is affine, ``conv(a) = W * a + b``, so
  ``conv(a_u + w (a_c - a_u)) = eps_u + w (eps_c - eps_u)``: the guidance mixes the 2N
  activations ``a = SiLU(GroupNorm(h))`` and the conv runs on N rows.

The result equals the doubled-batch computation up to floating-point rounding (the same
operations on the same values, but the mixing moved before the last conv and matrix products
of other row counts).
"""
from __future__ import annotations

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
        if skip.shape[0] != h.shape[0]:
            skip = _doubled(skip)
        h = run(block, cat([h, skip], dim=1))
    a = unet.out_act(unet.out_norm(h))
    if a.shape[0] == 2 * n:                 # (without a context reader eps_c = eps_u)
        a_c, a_u = a[:n], a[n:]
        a = a_u + w * (a_c - a_u)
    return unet.out_conv(a)
