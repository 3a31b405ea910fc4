"""Linear evaluation of a representation: ``linear_probe(encoder, data, labels_per_class)``
and the 2-D PCA of features.

The probe freezes ``encoder`` (eval mode, no gradients), computes ``h = encoder(x)`` for the
training and test images, standardises every feature with the mean and standard deviation
over ALL training images (no labels needed), and fits a multinomial logistic regression

    min_{W, b}  mean_i CE(W h_i + b, y_i) + reg ||W||^2

on ``labels_per_class`` labelled training images per class (chosen at random with ``seed``;
``None``: every training label), full batch, with L-BFGS (strong-Wolfe line search, at most
``steps`` iterations).  The reported accuracy is
on the test images.
"""
from __future__ import annotations

import dataclasses

import tinygrad_cv as tg
from tinygrad_cv import backend, nn, optim
from tinygrad_cv.nn import functional as F
from tinygrad_cv.tensor import Tensor

__all__ = ["encode", "select_labelled", "ProbeResult", "linear_probe", "fit_probe", "pca_2d"]


def _raw(x, what):
    arr = x.array if isinstance(x, Tensor) else x
    if not backend.is_array(arr):
        raise TypeError(f"linear_probe: {what} must be a Tensor or an array, got "
                        f"{type(x).__name__}")
    return arr


def encode(encoder, images, batch_size=512):
    """``encoder(images)`` in eval mode without gradients, as a float32 backend array (N, D)
    (the encoder's train/eval mode is restored)."""
    x = _raw(images, "images")
    was_training = getattr(encoder, "training", False)
    if hasattr(encoder, "eval"):
        encoder.eval()
    try:
        parts = []
        with tg.no_grad():
            for start in range(0, x.shape[0], batch_size):
                out = encoder(Tensor.wrap(x[start:start + batch_size]))
                parts.append(out.array.reshape(out.shape[0], -1))
    finally:
        if was_training:
            encoder.train()
    xp = backend.get_array_module(parts[0])
    return xp.concatenate(parts).astype("float32")


def select_labelled(labels, labels_per_class, seed=0):
    """Indices of ``labels_per_class`` random examples of each class (all when ``None``),
    in random order; raises when a class has fewer."""
    xp = backend.get_array_module(labels)
    if labels_per_class is None:
        return xp.arange(labels.shape[0])
    k = int(labels_per_class)
    if k < 1:
        raise ValueError(f"linear_probe: labels_per_class must be positive, got "
                         f"{labels_per_class!r}")
    np_ = backend.module_for_device("cpu")
    host = backend.to_numpy(labels)
    rng = np_.random.default_rng(seed)
    order = rng.permutation(host.shape[0])
    picked = []
    for c in np_.unique(host):
        members = order[host[order] == c]
        if members.shape[0] < k:
            raise ValueError(f"linear_probe: class {int(c)} has only {members.shape[0]} "
                             f"training examples, fewer than labels_per_class={k}")
        picked.append(members[:k])
    idx = np_.concatenate(picked)
    return backend.to_device(idx[rng.permutation(idx.shape[0])], backend.device_of(labels))


@dataclasses.dataclass
class ProbeResult:
    """A fitted probe: ``accuracy`` on the test images, ``labels_per_class`` (None: all),
    ``num_labelled``, and what ``predict(features)`` needs (standardisation, linear layer)."""
    accuracy: float
    labels_per_class: object
    num_labelled: int
    mean: object
    std: object
    classifier: nn.Linear

    def predict(self, features):
        """Class indices for raw encoder features (N, D) (a backend int array)."""
        z = (features - self.mean) / self.std
        with tg.no_grad():
            return self.classifier(Tensor.wrap(z)).array.argmax(axis=1)


def linear_probe(encoder, data, labels_per_class=None, *, seed=0, steps=100, reg=1e-3):
    """Fit a linear classifier on frozen ``encoder`` features (see the module docstring).

    ``encoder``: any module or callable mapping images (N, C, H, W) to features (N, ...)
    (``nn.Flatten()`` gives the raw-pixel baseline).  ``data``: ``((train_images,
    train_labels), (test_images, test_labels))`` as Tensors or arrays.  Returns a
    ``ProbeResult``.
    """
    try:
        (x_train, y_train), (x_test, y_test) = data
    except (TypeError, ValueError):
        raise ValueError("linear_probe: data must be ((train_images, train_labels), "
                         "(test_images, test_labels))") from None
    y_train = _raw(y_train, "train labels").astype("int64")
    y_test = _raw(y_test, "test labels").astype("int64")
    f_train = encode(encoder, x_train)
    f_test = encode(encoder, x_test)
    return fit_probe(f_train, y_train, f_test, y_test, labels_per_class, seed=seed,
                     steps=steps, reg=reg)


def fit_probe(f_train, y_train, f_test, y_test, labels_per_class=None, *, seed=0, steps=100,
              reg=1e-3):
    """``linear_probe`` on features already computed: raw backend arrays ``f_train`` (N, D),
    ``y_train`` (N,), ``f_test`` (M, D), ``y_test`` (M,)."""
    if f_train.shape[0] != y_train.shape[0] or f_test.shape[0] != y_test.shape[0]:
        raise ValueError(f"linear_probe: {f_train.shape[0]} training images but "
                         f"{y_train.shape[0]} labels, or {f_test.shape[0]} test images but "
                         f"{y_test.shape[0]} labels")
    y_train = y_train.astype("int64")
    y_test = y_test.astype("int64")
    mean = f_train.mean(axis=0)
    std = f_train.std(axis=0) + 1e-6
    idx = select_labelled(y_train, labels_per_class, seed)
    z = Tensor.wrap(((f_train[idx] - mean) / std).astype("float32"))
    y = Tensor.wrap(y_train[idx])
    num_classes = int(max(int(y_train.max()), int(y_test.max()))) + 1
    tg.manual_seed(seed)
    classifier = nn.Linear(f_train.shape[1], num_classes).to(backend.device_of(f_train))
    optimizer = optim.LBFGS(classifier.parameters(), lr=1, max_iter=int(steps),
                            tolerance_grad=1e-6, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(classifier(z), y) + reg * (classifier.weight ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    result = ProbeResult(0.0, labels_per_class, int(idx.shape[0]), mean, std, classifier)
    predicted = result.predict(f_test)
    result.accuracy = float((predicted == y_test).mean())
    return result


def pca_2d(features):
    """The first two principal-component coordinates of ``features`` (N, D) -> (N, 2)
    (centred, projected on the top right-singular vectors, sign fixed so each axis's largest
    loading is positive)."""
    xp = backend.get_array_module(features)
    centred = features.astype("float64") - features.astype("float64").mean(axis=0)
    _, _, vt = xp.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    signs = xp.sign(axes[xp.arange(2), xp.abs(axes).argmax(axis=1)])
    return centred @ (axes * signs[:, None]).T
