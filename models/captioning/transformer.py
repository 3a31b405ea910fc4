"""``CaptioningTransformer``: a transformer decoder over word embeddings that attends to image
tokens.

    m = W_v f + b_v                         (image tokens f (N, K, D) -> memory (N, K, dim);
                                             features (N, D) are one token)
    x_0 = E[w] + P[:L]                      (embedding + the notes' sinusoidal table P)
    x_l = DecoderLayer_l(x_{l-1}, m)        (causal self-attention, cross-attention to m,
                                             feed-forward; pre-norm: x + SA(LN x), ...)
    s = W_o LN(x_layers) + b_o              (scores over the V words)

Decoding is incremental with cached keys and values: at step t only the new token is
embedded and projected; its self-attention keys/values are appended to each layer's cache
and it attends over the cache (all earlier positions), and the cross-attention keys/values
of the memory are projected once.  This gives the same scores as running the whole prefix
through the layers (the causal mask makes position t independent of later ones), without
recomputing the prefix at each step.
"""
from __future__ import annotations

import tinygrad_cv.nn.functional as F
from tinygrad_cv import nn
from tinygrad_cv.nn import init
from tinygrad_cv.tensor import Tensor, cat

from .base import CaptionDecoder

__all__ = ["CaptioningTransformer"]


def _heads(x, heads):
    """(B, L, E) -> (B, heads, L, E / heads)."""
    b, length, e = x.shape
    return x.reshape(b, length, heads, e // heads).permute(0, 2, 1, 3)


def _merge(x):
    """(B, heads, L, d) -> (B, L, heads * d)."""
    b, h, length, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, length, h * d)


class CaptioningTransformer(CaptionDecoder):
    """``CaptioningTransformer(vocab, feature_dim, dim=64, heads=4, layers=2,
    dim_feedforward=None (4 dim), dropout=0.1, max_length=64)``: ``loss(features, captions)``,
    ``sample(features, max_length, beam=1)`` with features (N, D) or image tokens (N, K, D)."""

    takes_tokens = True

    def __init__(self, vocab, feature_dim, dim=64, heads=4, layers=2, dim_feedforward=None,
                 dropout=0.1, max_length=64):
        super().__init__()
        for what, value in (("feature_dim", feature_dim), ("dim", dim), ("heads", heads),
                            ("layers", layers), ("max_length", max_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"CaptioningTransformer: {what} must be a positive integer, "
                                 f"got {value!r}")
        if dim % heads:
            raise ValueError(f"CaptioningTransformer: dim {dim} must be divisible by heads "
                             f"{heads}")
        self._set_vocab(vocab)
        self.feature_dim, self.dim, self.heads = feature_dim, dim, heads
        self.max_length = max_length
        self.visual_proj = nn.Linear(feature_dim, dim)
        self.embed = nn.Embedding(self.vocab_size, dim)
        self.position = nn.PositionalEncoding(dim, max_len=max_length, dropout=dropout,
                                              batch_first=True)
        self.layers = nn.ModuleList([
            nn.TransformerDecoderLayer(dim, heads, dim_feedforward or 4 * dim, dropout,
                                       batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, self.vocab_size)
        init.normal_(self.output.weight, std=0.01)
        init.zeros_(self.output.bias)

    def extra_repr(self):
        return f"vocab_size={self.vocab_size}, max_length={self.max_length}"

    def memory(self, features):
        """Image tokens (N, K, dim) of features (N, D) or (N, K, D)."""
        if features.ndim == 2:
            features = features.unsqueeze(1)
        return self.visual_proj(features)

    def _check_length(self, length):
        if length > self.max_length:
            raise ValueError(f"CaptioningTransformer: {length} positions exceed the model's "
                             f"max_length {self.max_length}")

    def scores(self, features, tokens):
        """Teacher-forced scores (N, L, V) of the words after ``tokens`` (N, L)."""
        self._check_length(tokens.shape[1])
        mem = self.memory(features)
        x = self.position(self.embed(tokens))
        for layer in self.layers:
            x = layer(x, mem, tgt_is_causal=True)
        return self.output(self.norm(x))

    # ---- incremental decoding with cached keys/values ----------------------------------------
    def init_state(self, features):
        """Per layer: the cross-attention keys/values of the memory (projected once) and empty
        self-attention caches."""
        mem = self.memory(features)
        state = []
        for layer in self.layers:
            attn = layer.multihead_attn
            e = self.dim
            w, b = attn.in_proj_weight, attn.in_proj_bias
            k = _heads(F.linear(mem, w[e:2 * e], b[e:2 * e]), self.heads)
            v = _heads(F.linear(mem, w[2 * e:], b[2 * e:]), self.heads)
            state.append({"mem_k": k, "mem_v": v, "k": None, "v": None})
        return state

    def _self_attention(self, layer, x, cache):
        attn = layer.self_attn
        q, k, v = (_heads(t, self.heads) for t in
                   F.linear(x, attn.in_proj_weight, attn.in_proj_bias).split(self.dim, dim=-1))
        cache["k"] = k if cache["k"] is None else cat([cache["k"], k], dim=2)
        cache["v"] = v if cache["v"] is None else cat([cache["v"], v], dim=2)
        out = F.scaled_dot_product_attention(q, cache["k"], cache["v"])
        return attn.out_proj(_merge(out))

    def _cross_attention(self, layer, x, cache):
        attn = layer.multihead_attn
        e = self.dim
        q = _heads(F.linear(x, attn.in_proj_weight[:e], attn.in_proj_bias[:e]), self.heads)
        out = F.scaled_dot_product_attention(q, cache["mem_k"], cache["mem_v"])
        return attn.out_proj(_merge(out))

    def step(self, tokens, state, t):
        """Scores of the word after ``tokens`` (B,) at position ``t``, from the caches."""
        self._check_length(t + 1)
        x = self.embed(Tensor.wrap(tokens[:, None]))
        x = x + Tensor.wrap(self.position.pe.array[t:t + 1].astype(x.dtype))
        for layer, cache in zip(self.layers, state):
            if layer.norm_first:
                x = x + self._self_attention(layer, layer.norm1(x), cache)
                x = x + self._cross_attention(layer, layer.norm2(x), cache)
                x = x + layer._ff_block(layer.norm3(x))
            else:
                x = layer.norm1(x + self._self_attention(layer, x, cache))
                x = layer.norm2(x + self._cross_attention(layer, x, cache))
                x = layer.norm3(x + layer._ff_block(x))
        logp = F.log_softmax(self.output(self.norm(x[:, 0])), dim=-1)
        return logp.array, state

    def reorder_state(self, state, index):
        return [{key: None if value is None else Tensor.wrap(value.array[index])
                 for key, value in cache.items()} for cache in state]

