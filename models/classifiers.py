"""Image classifiers: linear (SVM / softmax), fully connected and convolutional nets.

Every classifier maps images ``(N, ...)`` to class scores ``(N, num_classes)`` and has
``loss(scores, labels)`` = the data loss + ``reg * sum_k W_k^2`` over its weight matrices and
kernels (biases and normalisation parameters are not regularised), the notes' total loss

    L = 1/N sum_i L_i + reg * sum_k W_k^2

with ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1)`` (multiclass SVM hinge, margin 1) or
``L_i = -log(e^{s_{y_i}} / sum_j e^{s_j})`` (softmax cross-entropy).

``build_classifier(name, **config)`` builds one by its CLI name (``linear-svm``, ``softmax``,
``mlp``, ``cnn``); ``config`` holds only JSON-able values so checkpoints can rebuild models.
"""
from __future__ import annotations

import numbers

import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.nn.module import check_input

__all__ = ["LinearClassifier", "FullyConnectedNet", "ConvNet", "CLASSIFIERS", "build_classifier",
           "svm_loss", "softmax_loss"]


def svm_loss(scores, labels):
    """Multiclass SVM hinge loss, margin 1: ``1/N sum_i sum_{j != y_i} max(0, s_j - s_{y_i} + 1)``.

    ``F.multi_margin_loss`` averages over the C classes as well, so it is scaled back by C.
    Gradient (per sample): ``+x`` for each violating class j, ``-(#violations) x`` for y_i.
    """
    return F.multi_margin_loss(scores, labels, margin=1.0) * scores.shape[-1]


def softmax_loss(scores, labels):
    """Softmax cross-entropy ``1/N sum_i -log softmax(s_i)[y_i]``; d/ds = softmax(s) - onehot(y)."""
    return F.cross_entropy(scores, labels)


_DATA_LOSSES = {"svm": svm_loss, "softmax": softmax_loss}


def _check_positive_int(name, value, owner):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class _Classifier(nn.Module):
    """Shared ``loss``: data loss + L2 penalty on the weights of Linear and Conv2d layers."""

    data_loss = "softmax"

    def regularised_weights(self):
        return [m.weight for m in self.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]

    def loss(self, scores, labels):
        """``data_loss(scores, labels) + reg * sum_k ||W_k||^2``."""
        value = _DATA_LOSSES[self.data_loss](scores, labels)
        if self.reg:
            penalty = sum((w * w).sum() for w in self.regularised_weights())
            value = value + self.reg * penalty
        return value

    def predict(self, x):
        """Predicted class indices (N,)."""
        return self(x).argmax(dim=1)


class LinearClassifier(_Classifier):
    """Scores ``s = x W^T + b`` of flattened images; ``loss='svm'`` (hinge) or ``'softmax'``.

    ``x``: (N, ...) with ``in_features`` values per sample -> (N, num_classes).
    Parameters: ``linear.weight`` (num_classes, in_features), ``linear.bias`` (num_classes,).
    """

    def __init__(self, in_features, num_classes, loss="svm", reg=0.0):
        super().__init__()
        if loss not in _DATA_LOSSES:
            raise ValueError(f"LinearClassifier: unknown loss {loss!r}; expected one of "
                             f"{sorted(_DATA_LOSSES)}")
        self.in_features = _check_positive_int("in_features", in_features, "LinearClassifier")
        self.num_classes = _check_positive_int("num_classes", num_classes, "LinearClassifier")
        self.data_loss = loss
        self.reg = float(reg)
        self.linear = nn.Linear(self.in_features, self.num_classes)

    def forward(self, x):
        return self.linear(x.reshape(x.shape[0], -1))

    def extra_repr(self):
        return f"loss={self.data_loss!r}, reg={self.reg}"


class FullyConnectedNet(_Classifier):
    """``(affine - [norm] - relu - [dropout]) x L - affine`` on flattened images.

    ``hidden_dims``: widths of the L hidden layers; ``normalization``: None, ``'batchnorm'``
    (BatchNorm1d) or ``'layernorm'``; ``dropout``: drop probability after each ReLU (0: none).
    ``x``: (N, ...) with ``in_features`` values per sample -> (N, num_classes).
    Trained with the softmax loss (``loss='softmax'``) or the SVM hinge (``loss='svm'``).
    """

    NORMALIZATIONS = (None, "batchnorm", "layernorm")

    def __init__(self, in_features, hidden_dims, num_classes, normalization=None, dropout=0.0,
                 reg=0.0, loss="softmax"):
        super().__init__()
        if normalization not in self.NORMALIZATIONS:
            raise ValueError(f"FullyConnectedNet: unknown normalization {normalization!r}; "
                             f"expected one of {self.NORMALIZATIONS}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"FullyConnectedNet: dropout must be in [0, 1), got {dropout}")
        if loss not in _DATA_LOSSES:
            raise ValueError(f"FullyConnectedNet: unknown loss {loss!r}; expected one of "
                             f"{sorted(_DATA_LOSSES)}")
        self.in_features = _check_positive_int("in_features", in_features, "FullyConnectedNet")
        self.num_classes = _check_positive_int("num_classes", num_classes, "FullyConnectedNet")
        self.hidden_dims = [_check_positive_int("hidden_dims entry", h, "FullyConnectedNet")
                            for h in hidden_dims]
        self.normalization = normalization
        self.dropout = float(dropout)
        self.reg = float(reg)
        self.data_loss = loss
        layers, width = [], self.in_features
        for h in self.hidden_dims:
            layers.append(nn.Linear(width, h))
            if normalization == "batchnorm":
                layers.append(nn.BatchNorm1d(h))
            elif normalization == "layernorm":
                layers.append(nn.LayerNorm(h))
            layers.append(nn.ReLU())
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = h
        layers.append(nn.Linear(width, self.num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.reshape(x.shape[0], -1))


def _blocks(conv_channels):
    """``[[c, ...], ...]``: one inner list of conv widths per pooled block (ints -> [int])."""
    blocks = []
    for block in conv_channels:
        block = [block] if isinstance(block, numbers.Integral) else list(block)
        if not block:
            raise ValueError("ConvNet: every block in conv_channels needs at least one conv")
        blocks.append([_check_positive_int("conv_channels entry", c, "ConvNet") for c in block])
    if not blocks:
        raise ValueError("ConvNet: conv_channels must hold at least one block")
    return blocks


class ConvNet(_Classifier):
    """``[(conv - [bn] - relu) x N - pool] x M - (fc - relu - [dropout]) x K - fc``.

    ``conv_channels``: one entry per pooled block, each a list of output widths of its
    ``kernel_size`` convs (same padding), e.g. ``((32, 32), (64, 64))`` = 2 blocks of 2 convs;
    ``pool``: ``'max'`` or ``'avg'`` 2x2 (stride 2) after every block; ``fc_dims``: widths of
    the K hidden fully connected layers.  ``x``: (N, in_channels, H, W) with
    ``(H, W) = input_size`` -> (N, num_classes).
    """

    def __init__(self, in_channels, num_classes, conv_channels=((32,), (64,)),
                 input_size=(8, 8), kernel_size=3, batchnorm=True, pool="max", fc_dims=(128,),
                 dropout=0.0, reg=0.0, loss="softmax"):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"ConvNet: unknown pool {pool!r}; expected 'max' or 'avg'")
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvNet: kernel_size must be odd (same padding), got {kernel_size}")
        if loss not in _DATA_LOSSES:
            raise ValueError(f"ConvNet: unknown loss {loss!r}; expected one of "
                             f"{sorted(_DATA_LOSSES)}")
        self.in_channels = _check_positive_int("in_channels", in_channels, "ConvNet")
        self.num_classes = _check_positive_int("num_classes", num_classes, "ConvNet")
        self.input_size = (input_size, input_size) if isinstance(input_size, numbers.Integral) \
            else tuple(int(s) for s in input_size)
        self.reg = float(reg)
        self.data_loss = loss
        blocks = _blocks(conv_channels)
        h, w = self.input_size
        features, c = [], self.in_channels
        for block in blocks:
            for out in block:
                features.append(nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2,
                                          bias=not batchnorm))
                if batchnorm:
                    features.append(nn.BatchNorm2d(out))
                features.append(nn.ReLU())
                c = out
            features.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
            h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"ConvNet: input_size {self.input_size} is too small for "
                                 f"{len(blocks)} 2x2 poolings")
        self.features = nn.Sequential(*features)
        head, width = [nn.Flatten()], c * h * w
        for d in fc_dims:
            d = _check_positive_int("fc_dims entry", d, "ConvNet")
            head += [nn.Linear(width, d), nn.ReLU()]
            if dropout > 0:
                head.append(nn.Dropout(float(dropout)))
            width = d
        head.append(nn.Linear(width, self.num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        check_input(self, x, (4,), f"(N, {self.in_channels}, {self.input_size[0]}, "
                                   f"{self.input_size[1]})")
        if tuple(x.shape[1:]) != (self.in_channels, *self.input_size):
            raise ValueError(f"ConvNet: expected input of shape (N, {self.in_channels}, "
                             f"{self.input_size[0]}, {self.input_size[1]}), got shape "
                             f"{tuple(x.shape)}")
        return self.classifier(self.features(x))


def _linear_svm(in_features, num_classes, reg=0.0, **_):
    return LinearClassifier(in_features, num_classes, loss="svm", reg=reg)


def _softmax(in_features, num_classes, reg=0.0, **_):
    return LinearClassifier(in_features, num_classes, loss="softmax", reg=reg)


def _mlp(in_features, num_classes, hidden_dims=(256, 128), normalization="batchnorm",
         dropout=0.0, reg=0.0, **_):
    return FullyConnectedNet(in_features, list(hidden_dims), num_classes,
                             normalization=normalization, dropout=dropout, reg=reg)


def _cnn(in_features, num_classes, in_channels=1, input_size=(8, 8),
         conv_channels=((32,), (64,)), fc_dims=(128,), batchnorm=True, dropout=0.0,
         reg=0.0, **_):
    return ConvNet(in_channels, num_classes, conv_channels=conv_channels, input_size=input_size,
                   batchnorm=batchnorm, fc_dims=fc_dims, dropout=dropout, reg=reg)


CLASSIFIERS = {"linear-svm": _linear_svm, "softmax": _softmax, "mlp": _mlp, "cnn": _cnn}


def build_classifier(name, **config):
    """A classifier by CLI name with keyword ``config`` (``in_features``, ``num_classes`` and
    each model's own options); unknown names list the valid ones."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; expected one of {sorted(CLASSIFIERS)}")
    return CLASSIFIERS[name](**config)
