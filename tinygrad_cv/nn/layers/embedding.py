"""Embedding: a learnable lookup table."""
from __future__ import annotations

from ...creation import empty
from .. import init
from ..functional.embedding import embedding
from ..module import Module, Parameter


class Embedding(Module):
    """indices (*) -> weight[indices] (*, embedding_dim).

    ``weight`` (num_embeddings, embedding_dim) ~ N(0, 1); the ``padding_idx`` row starts at zero
    and receives no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"[-{self.num_embeddings}, {self.num_embeddings})")
            padding_idx = padding_idx % self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(empty(self.num_embeddings, self.embedding_dim,
                                              dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, indices):
        return embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
