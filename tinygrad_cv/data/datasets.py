"""Bundled data: scikit-learn's 8x8 digits and the sample photos of scikit-learn / scikit-image.

Both libraries are optional (the ``data`` extra: ``pip install 'tinygrad_cv[data]'``); they are
imported only when a loader runs, and a missing one is reported with that install command.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor

DATA_EXTRA_HINT = "install the data extra: pip install 'tinygrad_cv[data]'"

DIGITS_SPLITS = ("train", "val", "test")
DIGITS_FRACTIONS = (0.6, 0.2, 0.2)
DIGITS_SEED = 0

SKLEARN_IMAGES = ("china", "flower")
SKIMAGE_IMAGES = ("astronaut", "brick", "camera", "cell", "checkerboard", "chelsea", "clock",
                  "coffee", "coins", "colorwheel", "grass", "gravel", "horse",
                  "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon",
                  "page", "retina", "rocket", "text")
SAMPLE_IMAGES = tuple(sorted(SKLEARN_IMAGES + SKIMAGE_IMAGES))


def _require(module, purpose):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{purpose} needs {module.split('.')[0]}, which is not installed; "
                          f"{DATA_EXTRA_HINT}") from exc


def stratified_split(labels, fractions, seed):
    """Index arrays (one per fraction) of a stratified, shuffled split of ``labels``.

    Each class's indices are permuted with a generator seeded by ``seed`` and cut at the
    cumulative ``fractions`` (rounded), so every part holds each class in proportion; each
    part is then shuffled.  ``labels`` is a host integer array.
    """
    np_ = backend.module_for_device("cpu")
    labels = np_.asarray(labels)
    rng = np_.random.default_rng(seed)
    cuts = np_.cumsum(fractions)
    if abs(cuts[-1] - 1.0) > 1e-9:
        raise ValueError(f"stratified_split: fractions must sum to 1, got {tuple(fractions)}")
    parts = [[] for _ in fractions]
    for cls in np_.unique(labels):
        idx = rng.permutation(np_.flatnonzero(labels == cls))
        bounds = [0] + [int(round(c * len(idx))) for c in cuts]
        for k in range(len(fractions)):
            parts[k].append(idx[bounds[k]:bounds[k + 1]])
    return [rng.permutation(np_.concatenate(p)) for p in parts]


def load_digits(split=None, resize=None, device=None):
    """scikit-learn's handwritten digits (1797 images, 10 classes) as ``(images, labels)``.

    ``images``: float32 Tensor (N, 1, 8, 8) in [0, 1] (pixel counts 0..16 divided by 16), or
    (N, 1, h, w) when ``resize=(h, w)`` (bilinear); ``labels``: int64 Tensor (N,).

    ``split=None`` gives all images in the original order; ``'train'``, ``'val'`` or ``'test'``
    give the fixed stratified, shuffled 60/20/20 split computed with seed 0 (1078/359/360
    images).
    """
    if split is not None and split not in DIGITS_SPLITS:
        raise ValueError(f"load_digits: unknown split {split!r}; expected None or one of "
                         f"{DIGITS_SPLITS}")
    sk_datasets = _require("sklearn.datasets", "load_digits")
    bunch = sk_datasets.load_digits()
    np_ = backend.module_for_device("cpu")
    images = (np_.asarray(bunch.images, dtype="float32") / 16.0)[:, None]
    labels = np_.asarray(bunch.target, dtype="int64")
    if split is not None:
        idx = stratified_split(labels, DIGITS_FRACTIONS, DIGITS_SEED)[DIGITS_SPLITS.index(split)]
        images, labels = images[idx], labels[idx]
    if resize is not None:
        from .transforms import resize as _resize

        images = _resize(images, resize)
    device = backend.normalize_device(device)
    return (Tensor.wrap(backend.to_device(np_.ascontiguousarray(images), device)),
            Tensor.wrap(backend.to_device(labels, device)))


def _to_float_image(arr):
    """uint8/uint16/bool/float image -> float32 in [0, 1]; RGBA drops alpha."""
    np_ = backend.module_for_device("cpu")
    arr = np_.asarray(arr)
    if arr.dtype == np_.bool_:
        out = arr.astype("float32")
    elif np_.issubdtype(arr.dtype, np_.integer):
        out = arr.astype("float32") / float(np_.iinfo(arr.dtype).max)
    else:
        out = np_.clip(arr.astype("float32"), 0.0, 1.0)
    if out.ndim == 3 and out.shape[2] == 4:
        out = out[:, :, :3]
    return np_.ascontiguousarray(out)


def load_sample_image(name, device=None):
    """A bundled photo as a float32 array in [0, 1], (H, W) gray or (H, W, 3) colour.

    Names: ``china`` and ``flower`` (scikit-learn) and scikit-image's bundled images
    (``camera``, ``astronaut``, ``coins``, ``chelsea``, ``coffee``, ``moon``, ...; see
    ``SAMPLE_IMAGES``).  A trailing ``.jpg``/``.png`` is ignored.  Returns an array on
    ``device`` (default: the default device).
    """
    if not isinstance(name, str):
        raise TypeError(f"load_sample_image: name must be a string, got {type(name).__name__}")
    key = name.lower()
    for ext in (".jpg", ".jpeg", ".png"):
        if key.endswith(ext):
            key = key[: -len(ext)]
    if key in SKLEARN_IMAGES:
        sk_datasets = _require("sklearn.datasets", f"load_sample_image({name!r})")
        raw = sk_datasets.load_sample_image(key + ".jpg")
    elif key in SKIMAGE_IMAGES:
        sk_data = _require("skimage.data", f"load_sample_image({name!r})")
        raw = getattr(sk_data, key)()
    else:
        raise ValueError(f"load_sample_image: unknown image {name!r}; valid names: "
                         f"{', '.join(SAMPLE_IMAGES)}")
    return backend.to_device(_to_float_image(raw), backend.normalize_device(device))
