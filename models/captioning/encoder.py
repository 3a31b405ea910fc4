"""The image side of the captioners: a small CNN (trained jointly with the decoder) and the
``ImageCaptioner`` that joins it to a caption decoder.

``CNNEncoder(in_channels=3, image_size=32, channels=(32, 64, 64), feature_dim=128,
tokens=False)``: blocks conv3x3 -> BatchNorm -> ReLU -> max-pool 2x2, so an S x S image
becomes a C x G x G map with G = S / 2^blocks; then

- ``tokens=False`` (RNN/LSTM): f = ReLU(W flatten(map) + b), one feature vector (N, D) that
  keeps the layout (left/right) in the flattened map;
- ``tokens=True`` (transformer): the G*G cells become tokens f_k = W map[:, k] + b + p_k
  (N, G*G, D), with a learned position embedding p (G*G, D) so attention can tell where a
  cell lies.

With ``attribute_slots`` S and ``attribute_classes`` A, a linear head on the flattened map
scores the scene attributes (N, S, A) (``ShapesCaptions.attributes``: what stands in each
third of the image); its cross-entropy, added to the caption loss during training, gives the
encoder a direct signal from the first step (the caption loss alone reaches the encoder only
through the decoder's initial state, and the decoder first learns the captions' grammar).
"""
from __future__ import annotations

import tinygrad_cv.nn.functional as F
from tinygrad_cv import nn
from tinygrad_cv.creation import empty
from tinygrad_cv.nn import init
from tinygrad_cv.nn.module import Parameter
from tinygrad_cv.tensor import Tensor

from .decoding import check_max_length

__all__ = ["CNNEncoder", "ImageCaptioner"]


class CNNEncoder(nn.Module):
    def __init__(self, in_channels=3, image_size=32, channels=(32, 64, 64), feature_dim=128,
                 tokens=False, attribute_slots=0, attribute_classes=0):
        super().__init__()
        channels = [int(c) for c in channels]
        grid = image_size // 2 ** len(channels)
        if not channels or grid < 1 or image_size % 2 ** len(channels):
            raise ValueError(f"CNNEncoder: image_size {image_size} must be a multiple of "
                             f"2^{len(channels)} (one halving per block)")
        self.in_channels, self.image_size, self.grid = in_channels, image_size, grid
        self.feature_dim, self.tokens = feature_dim, bool(tokens)
        layers, c_in = [], in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        if self.tokens:
            self.proj = nn.Linear(c_in, feature_dim)
            self.position = Parameter(empty(grid * grid, feature_dim))
            init.normal_(self.position, std=0.02)
        else:
            self.proj = nn.Linear(c_in * grid * grid, feature_dim)
        self.attribute_slots, self.attribute_classes = attribute_slots, attribute_classes
        if attribute_slots:
            self.attribute_head = nn.Linear(c_in * grid * grid,
                                            attribute_slots * attribute_classes)

    def extra_repr(self):
        return f"image_size={self.image_size}, feature_dim={self.feature_dim}, " \
               f"tokens={self.tokens}"

    def check_images(self, images):
        if not isinstance(images, Tensor):
            images = Tensor(images)
        expected = (self.in_channels, self.image_size, self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected or images.shape[0] == 0:
            raise ValueError(f"CNNEncoder: expected images of shape (N, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}), got {tuple(images.shape)}")
        return images

    def encode(self, images):
        """``(features, attribute scores (N, slots, classes) or None)`` of ``images``."""
        x = self.features(self.check_images(images))          # (N, C, G, G)
        n, c = x.shape[0], x.shape[1]
        flat = x.reshape(n, c * self.grid * self.grid)
        scores = None
        if self.attribute_slots:
            scores = self.attribute_head(flat).reshape(n, self.attribute_slots,
                                                       self.attribute_classes)
        if self.tokens:
            x = x.reshape(n, c, self.grid * self.grid).permute(0, 2, 1)
            return self.proj(x) + self.position, scores
        return self.proj(flat).relu(), scores

    def forward(self, images):
        return self.encode(images)[0]


class ImageCaptioner(nn.Module):
    """``encoder`` (images -> features) + ``decoder`` (``CaptioningRNN`` or
    ``CaptioningTransformer``): ``loss(images, captions)``, ``sample(images, max_length,
    beam)`` -> ids (N, max_length), ``caption(images, ...)`` -> N strings."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def loss(self, images, captions, attributes=None, attribute_weight=1.0):
        """The decoder's caption loss; with ``attributes`` (N, slots) class ids and an
        encoder with an attribute head, plus ``attribute_weight`` times the mean
        cross-entropy of the scene attributes (an auxiliary signal for the encoder)."""
        features, scores = self.encoder.encode(images)
        loss = self.decoder.loss(features, captions)
        if attributes is not None and scores is not None:
            target = attributes.array if isinstance(attributes, Tensor) else attributes
            aux = F.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                                  Tensor.wrap(target.reshape(-1)))
            loss = loss + aux * float(attribute_weight)
        return loss

    def sample(self, images, max_length=30, beam=1):
        check_max_length(max_length)
        import tinygrad_cv as tg

        with tg.no_grad():
            features = self.encoder(images)
        return self.decoder.sample(features, max_length, beam)

    def caption(self, images, max_length=30, beam=1, batch_size=256):
        """Captions (strings) of ``images`` (N, C, S, S) in [0, 1], in batches."""
        images = self.encoder.check_images(images)
        out = []
        for start in range(0, images.shape[0], batch_size):
            ids = self.sample(Tensor.wrap(images.array[start:start + batch_size]), max_length,
                              beam)
            out += self.decoder.decode(ids)
        return out

