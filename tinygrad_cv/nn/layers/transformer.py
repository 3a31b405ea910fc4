"""TransformerEncoder, TransformerDecoder and Transformer (torch.nn's constructors, parameter
names and initialisation), stacks of the layers in attention.py.

    TransformerEncoder:  x_{i+1} = layer_i(x_i, mask, key_padding_mask);  out = norm(x_L)
    TransformerDecoder:  y_{i+1} = layer_i(y_i, memory, masks...);         out = norm(y_L)
    Transformer:         memory = encoder(src);  out = decoder(tgt, memory)

The stacks hold ``num_layers`` independent deep copies of the given layer (``layers.0``,
``layers.1``, ...), as torch, so they start with equal weights; ``Transformer`` then
re-initialises every parameter with more than one dim by xavier_uniform_.
"""
from __future__ import annotations

import copy

from ... import backend
from ...creation import full
from ...autograd.function import ShapeError
from .. import init
from ..functional.attention import mask_array
from ..module import Module, ModuleList
from .attention import TransformerDecoderLayer, TransformerEncoderLayer, _activation
from .normalization import LayerNorm

__all__ = ["TransformerEncoder", "TransformerDecoder", "Transformer"]


def _clones(layer, n):
    if not isinstance(layer, Module):
        raise TypeError(f"expected a layer Module to copy, got {type(layer).__name__}")
    if int(n) < 1:
        raise ValueError(f"num_layers must be >= 1, got {n}")
    return ModuleList([copy.deepcopy(layer) for _ in range(int(n))])


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The (sz, sz) float causal mask: -inf above the diagonal (position i may not attend to
    j > i), 0 elsewhere."""
    mask = full((int(sz), int(sz)), float("-inf"), dtype=dtype, device=device)
    xp = backend.get_array_module(mask.array)
    mask.array[...] = xp.triu(mask.array, k=1)
    return mask


def _detect_is_causal_mask(mask, is_causal, size):
    """``is_causal`` when given; otherwise whether ``mask`` equals the causal mask of ``size``
    (torch's detection, which only serves as a hint to the layers)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    m = mask_array(mask)
    if tuple(m.shape) != (size, size) or m.dtype.kind != "f":
        return False
    causal = generate_square_subsequent_mask(size, dtype=m.dtype).array
    return bool((m == causal).all())


def _seq_len(x, batch_first):
    if x.ndim == 2:
        return x.shape[0]
    return x.shape[1] if batch_first else x.shape[0]


class TransformerEncoder(Module):
    """``TransformerEncoder(encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
    mask_check=True)``; ``forward(src, mask=None, src_key_padding_mask=None,
    is_causal=None)``.  ``enable_nested_tensor`` selects torch's inference fast path, which
    this framework does not have (outputs are the same except at padded positions)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        first = self.layers[0]
        batch_first = getattr(first, "batch_first", False)
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=is_causal)
        return self.norm(out) if self.norm is not None else out


class TransformerDecoder(Module):
    """``TransformerDecoder(decoder_layer, num_layers, norm=None)``; ``forward(tgt, memory,
    tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        batch_first = getattr(self.layers[0], "batch_first", False)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _seq_len(tgt, batch_first))
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return self.norm(out) if self.norm is not None else out


class Transformer(Module):
    """The encoder-decoder transformer of "Attention Is All You Need" (torch's ``nn.Transformer``).

    ``Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation='relu', custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
    device=None, dtype=None)``.  Parameters: ``encoder.layers.i.*``, ``encoder.norm``,
    ``decoder.layers.i.*``, ``decoder.norm``.  ``forward(src, tgt, src_mask=None,
    tgt_mask=None, memory_mask=None, src_key_padding_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``: src (S, N, E), tgt (T, N, E) ((N, *, E) with batch_first, or
    unbatched (*, E)) -> (T, N, E).
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        _activation(activation, "Transformer")          # a bad activation fails here
        kw = dict(device=device, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = int(d_model)
        self.nhead = int(nhead)
        self.batch_first = bool(batch_first)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batched = src.ndim == 3
        if src.ndim != tgt.ndim:
            raise ValueError(f"Transformer: src and tgt must both be batched (3-D) or unbatched "
                             f"(2-D), got shapes {tuple(src.shape)} and {tuple(tgt.shape)}")
        b = 0 if self.batch_first else 1
        if batched and src.shape[b] != tgt.shape[b]:
            raise ShapeError(f"Transformer: the batch number of src and tgt must be equal, got "
                             f"shapes {tuple(src.shape)} and {tuple(tgt.shape)}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(f"Transformer: the feature number of src and tgt must be equal to "
                             f"d_model={self.d_model}, got shapes {tuple(src.shape)} and "
                             f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
