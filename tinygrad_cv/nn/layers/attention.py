"""Attention layers: MultiheadAttention, Transformer encoder/decoder layers, PositionalEncoding.

Parameter names, shapes, defaults and initialisation follow torch.nn, so a state_dict copied
from the torch module reproduces its outputs and gradients.
"""
from __future__ import annotations

from ... import backend
from .. import init
from ..functional.activation import gelu, relu
from ..functional.attention import multi_head_attention_forward
from ..functional.dropout import dropout_factors
from ..functional.linear import FeedForwardReLUFn
from ..module import Module, Parameter
from ...creation import empty
from ...tensor import Tensor
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
           "PositionalEncoding"]


class MultiheadAttention(Module):
    """Multi-head attention: concat_h(softmax(Q_h K_h^T / sqrt(d) + M) V_h) W_o^T + b_o.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.  Parameters (torch's):
    ``in_proj_weight`` (3E, E) packing W_q, W_k, W_v (xavier-uniform), or ``q_proj_weight``
    (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim/vdim differ
    from E; ``in_proj_bias`` (3E,) = 0; with ``add_bias_kv``, ``bias_k`` and ``bias_v``
    (1, 1, E) (xavier-normal), a learnt key and value appended to every key/value sequence
    after the projection; ``out_proj`` a Linear(E, E) whose bias starts at 0.
    ``add_zero_attn`` appends a zero key and value to every head after that.  Each extra key
    adds one column to the attention weights that no mask hides (S -> S + 1 or S + 2).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)``: query (L, N, E) ((N, L, E) with
    batch_first, or unbatched (L, E)), key (S, N, kdim), value (S, N, vdim).  Masks: bool
    True = not allowed, float = added; ``attn_mask`` (L, S) or (N*heads, L, S),
    ``key_padding_mask`` (N, S).  Returns ``(output like query, weights (N, L, S) or
    (N, heads, L, S) or None)``; the weights are those after dropout, as torch.  Rows whose
    keys are all masked give zeros (torch's scaled-dot-product path) rather than NaN.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be > 0, got "
                             f"{embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.add_zero_attn = bool(add_zero_attn)
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * E, E, dtype=dtype, device=device))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(empty(E, E, dtype=dtype, device=device))
            self.k_proj_weight = Parameter(empty(E, self.kdim, dtype=dtype, device=device))
            self.v_proj_weight = Parameter(empty(E, self.vdim, dtype=dtype, device=device))
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        if add_bias_kv:     # registered after in_proj_bias, as torch (state_dict order)
            self.bias_k = Parameter(empty(1, 1, E, dtype=dtype, device=device))
            self.bias_v = Parameter(empty(1, 1, E, dtype=dtype, device=device))
        else:
            self.bias_k = self.bias_v = None        # torch's plain attributes
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

    def _check(self, query, key, value):
        name = type(self).__name__
        batched = query.ndim == 3
        if query.ndim not in (2, 3):
            raise ValueError(f"{name}: expected query of shape (L, N, {self.embed_dim}) or "
                             f"(L, {self.embed_dim}), got {tuple(query.shape)}")
        for t, what, size in ((query, "query", self.embed_dim), (key, "key", self.kdim),
                              (value, "value", self.vdim)):
            if t.ndim != query.ndim or t.shape[-1] != size:
                expected = ("(N, *, " if batched and self.batch_first else
                            "(*, N, " if batched else "(*, ") + f"{size})"
                raise ValueError(f"{name}: expected {what} of shape {expected}, got "
                                 f"{tuple(t.shape)}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{name}: key and value must have the same sequence length and "
                             f"batch size, got {tuple(key.shape)} and {tuple(value.shape)}")
        if batched:
            b = 0 if self.batch_first else 1
            if key.shape[b] != query.shape[b]:
                raise ValueError(f"{name}: query and key batch sizes differ: "
                                 f"{tuple(query.shape)} and {tuple(key.shape)}")
        return batched

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        self._check(query, key, value)
        return multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal, batch_first=self.batch_first)


def _activation(activation, layer):
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"{layer}: activation should be 'relu' or 'gelu' or a callable, got "
                     f"{activation!r}")


def _layer_norm(d_model, eps, bias, device, dtype):
    return LayerNorm(d_model, eps=eps, bias=bias, device=device, dtype=dtype)


class _TransformerLayerBase(Module):
    """The position-wise feed-forward block shared by the encoder and decoder layers."""

    def _ff_block(self, x):
        """dropout2(linear2(dropout(act(linear1(x))))), position-wise: the leading dims are
        flattened so that each Linear is one 2-D GEMM.  With ReLU and the layer's own Linear
        and Dropout modules the first three steps are one node (``FeedForwardReLUFn``: the
        activation in place, the dropout factors drawn as ``dropout`` draws them)."""
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        l1, l2, drop = self.linear1, self.linear2, self.dropout
        if (self.activation is relu and type(l1) is Linear and type(l2) is Linear
                and type(drop) is Dropout and not drop.inplace and drop.p < 1.0):
            p = float(drop.p) if drop.training else 0.0
            keep = None
            if p > 0.0:
                keep = dropout_factors((x.shape[0], l1.out_features), x.dtype, p, x.device)
            x = FeedForwardReLUFn.apply(x, l1.weight, l1.bias, l2.weight, l2.bias, keep=keep)
        else:
            x = l2(drop(self.activation(l1(x))))
        return self.dropout_ff_out(x.reshape(*shape))

    def _check_input(self, x, what):
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            layout = "(N, L, " if self.batch_first else "(L, N, "
            raise ValueError(f"{name}: expected {what} of shape {layout}{self.d_model}) or "
                             f"(L, {self.d_model}), got {tuple(x.shape)}")


class TransformerEncoderLayer(_TransformerLayerBase):
    """Self-attention + feed-forward block with residuals and LayerNorm (torch's layer).

    Post-norm (default): x = norm1(x + SA(x)); x = norm2(x + FF(x)).
    Pre-norm (``norm_first=True``): x = x + SA(norm1(x)); x = x + FF(norm2(x)).
    SA(x) = dropout1(self_attn(x, x, x)), FF(x) = dropout2(linear2(dropout(act(linear1(x))))).
    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.d_model = int(d_model)
        self.batch_first = bool(batch_first)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = _layer_norm(d_model, layer_norm_eps, bias, device, dtype)
        self.norm2 = _layer_norm(d_model, layer_norm_eps, bias, device, dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")

    @property
    def dropout_ff_out(self):
        return self.dropout2

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        self._check_input(src, "src")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayerBase):
    """Self-attention, cross-attention over ``memory`` and feed-forward (torch's layer).

    Post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, mem)); x = norm3(x + FF(x)).
    Pre-norm (``norm_first=True``): x = x + SA(norm1(x)); x = x + MHA(norm2(x), mem);
    x = x + FF(norm3(x)).  ``forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
    memory_is_causal=False)``.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.d_model = int(d_model)
        self.batch_first = bool(batch_first)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = _layer_norm(d_model, layer_norm_eps, bias, device, dtype)
        self.norm2 = _layer_norm(d_model, layer_norm_eps, bias, device, dtype)
        self.norm3 = _layer_norm(d_model, layer_norm_eps, bias, device, dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    @property
    def dropout_ff_out(self):
        return self.dropout3

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        self._check_input(tgt, "tgt")
        self._check_input(memory, "memory")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


def sinusoidal_table(max_len, dim, xp, dtype):
    """The notes' table P (max_len, dim): P[i, j] = sin(i * 10000^(-j/d)) for even j,
    cos(i * 10000^(-(j-1)/d)) for odd j (i.e. PE(pos, 2k) = sin(pos / 10000^(2k/d)),
    PE(pos, 2k+1) = cos(pos / 10000^(2k/d)))."""
    pos = xp.arange(max_len, dtype="float64")[:, None]
    j = xp.arange(dim)
    even = j - (j % 2)
    angle = pos * xp.power(10000.0, -even / dim)[None, :]
    table = xp.where(j % 2 == 0, xp.sin(angle), xp.cos(angle))
    return table.astype(dtype)


class PositionalEncoding(Module):
    """x + P[:L] (the sinusoidal table of ``sinusoidal_table``), then dropout.

    ``PositionalEncoding(dim, max_len=5000, dropout=0.1, batch_first=False)``; input
    (L, N, dim), (N, L, dim) with batch_first, or (L, dim).  The table is the non-persistent
    buffer ``pe`` (max_len, dim): it is rebuilt from the formula, so it is not in state_dict.
    """

    def __init__(self, dim, max_len=5000, dropout=0.1, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        self.dim = int(dim)
        self.max_len = int(max_len)
        self.batch_first = bool(batch_first)
        xp = backend.module_for_device(device)
        table = sinusoidal_table(self.max_len, self.dim, xp, dtype or "float32")
        self.register_buffer("pe", Tensor.wrap(table), persistent=False)
        self.dropout = Dropout(dropout)

    def extra_repr(self):
        return f"dim={self.dim}, max_len={self.max_len}, batch_first={self.batch_first}"

    def forward(self, x):
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.dim:
            layout = "(N, L, " if self.batch_first else "(L, N, "
            raise ValueError(f"{name}: expected input of shape {layout}{self.dim}) or "
                             f"(L, {self.dim}), got {tuple(x.shape)}")
        seq_axis = 1 if (x.ndim == 3 and self.batch_first) else 0
        L = x.shape[seq_axis]
        if L > self.max_len:
            raise ValueError(f"{name}: sequence length {L} exceeds max_len {self.max_len}")
        pe = self.pe.array[:L]
        if pe.dtype != x.dtype:
            pe = pe.astype(x.dtype)
        if x.ndim == 3:
            pe = pe[None] if self.batch_first else pe[:, None]
        return self.dropout(x + Tensor.wrap(pe))
