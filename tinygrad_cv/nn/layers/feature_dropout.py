"""Dropout1d, Dropout2d, Dropout3d: zero whole channels with probability p, scale by 1/(1-p)."""
from __future__ import annotations

from ..functional.feature_dropout import dropout1d, dropout2d, dropout3d
from ..module import Module


class _FeatureDropout(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training, inplace=self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_FeatureDropout):
    """Channel dropout of (N, C, L) or (C, L) inputs."""
    _fn = staticmethod(dropout1d)


class Dropout2d(_FeatureDropout):
    """Channel dropout of (N, C, H, W) inputs (a 3-D input is taken as (N, C, L), as torch)."""
    _fn = staticmethod(dropout2d)


class Dropout3d(_FeatureDropout):
    """Channel dropout of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _fn = staticmethod(dropout3d)
