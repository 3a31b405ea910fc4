"""SimCLR's networks: a conv encoder ``f`` (image -> representation ``h``) and a projection
head ``g`` (``h`` -> ``z``, where the contrastive loss is applied).

    ConvEncoder: (N, C, S, S) -> [Conv3x3(c1) BN ReLU, Conv3x3(c2) BN ReLU, MaxPool 2,
                 Conv3x3(c3) BN ReLU] -> average pool to (p, p) -> flatten -> h (N, c3 p^2)
                 (``pooled_size`` p = 1: global average pooling; p = 2 keeps where the
                 strokes are, which a digit's class depends on)
    ProjectionHead: h -> Linear(hidden) -> ReLU -> Linear(projection_dim) -> z
    SimCLR(encoder, projection_dim): forward(x) = g(f(x)); ``model.encoder`` is f.
"""
from __future__ import annotations

from tinygrad_cv import nn
from tinygrad_cv.tensor import Tensor

__all__ = ["ConvEncoder", "ProjectionHead", "SimCLR"]


class ConvEncoder(nn.Module):
    """Conv encoder of ``channels = (c1, c2, c3)``; ``out_features = c3 * pooled_size^2``."""

    def __init__(self, in_channels=1, channels=(32, 64, 128), image_size=8, pooled_size=1):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.in_channels = int(in_channels)
        self.image_size = int(image_size)
        if self.image_size < 2:
            raise ValueError(f"ConvEncoder: image_size must be at least 2, got {image_size}")
        self.pooled_size = int(pooled_size)
        if not 1 <= self.pooled_size <= self.image_size // 2:
            raise ValueError(f"ConvEncoder: pooled_size must be in [1, image_size // 2], got "
                             f"{pooled_size}")
        self.out_features = c3 * self.pooled_size ** 2
        self.net = nn.Sequential(
            nn.Conv2d(self.in_channels, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(),
            nn.AdaptiveAvgPool2d(self.pooled_size), nn.Flatten())

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise ValueError(f"ConvEncoder: expected images (N, {self.in_channels}, H, W), "
                             f"got {got}")
        return self.net(x)


class ProjectionHead(nn.Module):
    """``z = W2 relu(W1 h + b1) + b2``."""

    def __init__(self, in_features, hidden_dim=128, projection_dim=64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, projection_dim))

    def forward(self, h):
        return self.net(h)


class SimCLR(nn.Module):
    """``SimCLR(encoder, projection_dim)``: ``forward(x) = head(encoder(x))``.

    ``encoder`` must have ``out_features``; the head has ``hidden_dim`` (default: the
    encoder's width) hidden units."""

    def __init__(self, encoder, projection_dim=64, hidden_dim=None):
        super().__init__()
        features = getattr(encoder, "out_features", None)
        if not isinstance(features, int) or features < 1:
            raise ValueError("SimCLR: the encoder must say its representation size in "
                             "'out_features'")
        if int(projection_dim) < 1:
            raise ValueError(f"SimCLR: projection_dim must be positive, got {projection_dim}")
        self.encoder = encoder
        self.head = ProjectionHead(features, hidden_dim or features, int(projection_dim))

    def forward(self, x):
        return self.head(self.encoder(x))
