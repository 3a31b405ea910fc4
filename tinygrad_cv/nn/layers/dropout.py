"""Dropout layers: Dropout (inverted), AlphaDropout and FeatureAlphaDropout (SELU networks);
each is the identity in eval mode."""
from __future__ import annotations

from ..functional.alpha_dropout import alpha_dropout, feature_alpha_dropout
from ..functional.dropout import dropout
from ..module import Module


class Dropout(Module):
    """Zero elements with probability p in training and scale the rest by 1/(1-p)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return dropout(input, self.p, self.training, inplace=self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class AlphaDropout(Dropout):
    """Alpha dropout of each element in training (``nn.functional.alpha_dropout``)."""

    def forward(self, input):
        return alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(Dropout):
    """Alpha dropout of whole channels in training (``nn.functional.feature_alpha_dropout``)."""

    def forward(self, input):
        return feature_alpha_dropout(input, self.p, self.training, self.inplace)
