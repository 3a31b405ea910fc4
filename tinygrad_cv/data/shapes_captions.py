"""A synthetic scene-caption data set: images of one to three coloured shapes with captions.

    data = ShapesCaptions(5000, image_size=32, seed=0)
    train, test = data.split("train"), data.split("test")
    train.images          # float32 Tensor (N, 3, S, S) in [0, 1]
    train.captions        # int64 Tensor (N, R, T): R reference captions per image, <NULL>-padded
    train.references[0]   # ["a small red circle left of a large blue square", ...]
    data.vocab.decode(train.captions.array[0, 0])

Scene graph (drawn on the host from ``seed``): 1-3 objects, each a shape (circle, square,
triangle), a colour (red, green, blue, yellow, with a little jitter) and a size (small or
large), placed in distinct thirds of the image from left to right (with jitter inside its
third, any height).  Captions name the objects left to right (or right to left) in varied
templates, e.g. ``a small red circle left of a large blue square``, ``a large blue square
right of a small red circle``, ``there is a ...``; every image has ``R = 3`` references.
Background: a random grey level, Gaussian pixel noise and a few grey clutter specks.

Rendering is vectorised on the backend (one pass of array operations per object slot over
all images; no per-pixel Python loop).  Splits are fixed: the first 80% of the scenes are
``train``, the next 10% ``val`` and the last 10% ``test``.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .dataset import Dataset

__all__ = ["ShapesCaptions", "Vocabulary", "SPECIAL_TOKENS", "SPLITS"]

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (0.9, 0.15, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.3, 0.95),
           "yellow": (0.95, 0.9, 0.1)}
SIZES = ("small", "large")
WORDS = ("a", "there", "is", "single", "left", "right", "of", "and", "from", "to", ",") + \
    SIZES + tuple(COLOURS) + SHAPES
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
MAX_OBJECTS = 3
ATTRIBUTE_CLASSES = 1 + len(SHAPES) * len(COLOURS) * len(SIZES)   # per third: empty or one object
NUM_REFERENCES = 3


class Vocabulary:
    """Words <-> ids; ids 0-3 are ``<NULL> <START> <END> <UNK>``.

    ``encode(text, length=None)`` -> ``[<START>, w..., <END>]`` (unknown words -> ``<UNK>``),
    padded with ``<NULL>`` to ``length``; ``decode(ids)`` -> the words up to the first
    ``<END>``, skipping ``<NULL>`` and ``<START>``.
    """

    def __init__(self, words):
        self.idx_to_word = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        self.word_to_idx = {w: i for i, w in enumerate(self.idx_to_word)}
        self.null, self.start, self.end, self.unk = range(4)

    def __len__(self):
        return len(self.idx_to_word)

    def encode(self, text, length=None):
        ids = [self.start] + [self.word_to_idx.get(w, self.unk) for w in text.split()] + \
            [self.end]
        if length is not None:
            if len(ids) > length:
                raise ValueError(f"Vocabulary.encode: {text!r} needs {len(ids)} tokens, more "
                                 f"than length {length}")
            ids += [self.null] * (length - len(ids))
        return ids

    def decode(self, ids):
        words = []
        for i in (int(v) for v in ids):
            if i == self.end:
                break
            if i in (self.null, self.start):
                continue
            if not 0 <= i < len(self.idx_to_word):
                raise ValueError(f"Vocabulary.decode: token id {i} is outside the vocabulary "
                                 f"of {len(self.idx_to_word)} words")
            words.append(self.idx_to_word[i])
        return " ".join(words)


def _phrase(obj):
    return f"{SIZES[obj[2]]} {list(COLOURS)[obj[1]]} {SHAPES[obj[0]]}"


def scene_captions(objects):
    """The ``NUM_REFERENCES`` captions of a scene: ``objects`` is a list of (shape, colour,
    size) index triples ordered from left to right."""
    p = [_phrase(o) for o in objects]
    if len(p) == 1:
        return [f"a {p[0]}", f"there is a {p[0]}", f"a single {p[0]}"]
    if len(p) == 2:
        return [f"a {p[0]} left of a {p[1]}", f"a {p[1]} right of a {p[0]}",
                f"there is a {p[0]} left of a {p[1]}"]
    return [f"a {p[0]} left of a {p[1]} left of a {p[2]}",
            f"a {p[2]} right of a {p[1]} right of a {p[0]}",
            f"a {p[0]} , a {p[1]} and a {p[2]} from left to right"]


def _scenes(n, size, seed):
    """Host arrays of the scene graphs and drawing parameters of ``n`` scenes."""
    np_ = backend.module_for_device("cpu")
    rng = np_.random.default_rng(seed)
    count = rng.integers(1, MAX_OBJECTS + 1, size=n)
    present = np_.arange(MAX_OBJECTS)[None, :] < count[:, None]
    # the first `count` thirds of a random permutation of the three, sorted left to right
    order = np_.argsort(rng.random((n, 3)), axis=1)
    chosen = np_.sort(np_.where(present, order, MAX_OBJECTS), axis=1)
    shape = rng.integers(0, len(SHAPES), size=(n, MAX_OBJECTS))
    colour = rng.integers(0, len(COLOURS), size=(n, MAX_OBJECTS))
    big = rng.integers(0, len(SIZES), size=(n, MAX_OBJECTS))
    radius = np_.where(big == 1, 0.155, 0.11) * size * rng.uniform(0.9, 1.1, (n, MAX_OBJECTS))
    third = size / 3.0
    cx = (np_.minimum(chosen, 2) + 0.5) * third + rng.uniform(-0.05, 0.05, (n, MAX_OBJECTS)) * size
    cy = rng.uniform(0.0, 1.0, (n, MAX_OBJECTS)) * (size - 2 * radius - 2) + radius + 1
    rgb = np_.asarray(list(COLOURS.values()))[colour] + rng.uniform(-0.08, 0.08,
                                                                    (n, MAX_OBJECTS, 3))
    return {"present": present, "third": chosen, "shape": shape, "colour": colour, "size": big,
            "radius": radius, "cx": cx, "cy": cy, "rgb": np_.clip(rgb, 0, 1),
            "background": rng.uniform(0.05, 0.35, n), "noise": rng.normal(0, 0.04, (n, 3, size, size)),
            "clutter": rng.integers(0, size, (n, 6, 2)), "clutter_on": rng.random((n, 6)) < 0.6,
            "clutter_level": rng.uniform(0.45, 0.75, (n, 6))}


def render(scenes, size, device=None):
    """Draw scenes (``_scenes``' arrays) as float32 images (N, 3, size, size) in [0, 1] on
    ``device``: every mask is one broadcast comparison over all images and pixels."""
    xp = backend.module_for_device(device)
    s = {k: backend.to_device(v, device) for k, v in scenes.items()}
    n = s["present"].shape[0]
    coords = xp.arange(size, dtype="float32") + 0.5
    yy, xx = coords[None, :, None], coords[None, None, :]
    img = xp.broadcast_to(s["background"].astype("float32")[:, None, None, None],
                          (n, 3, size, size)).copy()
    # grey clutter specks (scatter: at most 6 per image)
    rows = xp.repeat(xp.arange(n), 6)
    on = s["clutter_on"].reshape(-1)
    cy, cx = s["clutter"][..., 0].reshape(-1), s["clutter"][..., 1].reshape(-1)
    level = s["clutter_level"].reshape(-1).astype("float32")
    for c in range(3):
        img[rows[on], c, cy[on], cx[on]] = level[on]
    for k in range(MAX_OBJECTS):
        r = s["radius"][:, k].astype("float32")[:, None, None]
        dx = xx - s["cx"][:, k].astype("float32")[:, None, None]
        dy = yy - s["cy"][:, k].astype("float32")[:, None, None]
        circle = dx * dx + dy * dy <= r * r
        square = xp.maximum(xp.abs(dx), xp.abs(dy)) <= r
        triangle = (xp.abs(dy) <= r) & (xp.abs(dx) <= 0.5 * (dy + r))
        kind = s["shape"][:, k][:, None, None]
        mask = xp.where(kind == 0, circle, xp.where(kind == 1, square, triangle))
        mask &= s["present"][:, k][:, None, None]
        colour = s["rgb"][:, k].astype("float32")[:, :, None, None]
        img = xp.where(mask[:, None], colour, img)
    img = img + s["noise"].astype("float32")
    return xp.clip(img, 0.0, 1.0).astype("float32")


class ShapesCaptions(Dataset):
    """``n`` scenes of ``image_size`` x ``image_size`` pixels drawn from ``seed`` (see the module
    docstring).  Attributes: ``images`` (N, 3, S, S) float32 Tensor, ``captions`` (N, R, T)
    int64 Tensor, ``attributes`` (N, 3) int64 Tensor (per third of the image, left to right: 0
    empty, else ``1 + (shape * 4 + colour) * 2 + size``), ``references`` (N lists of R strings), ``objects`` (N lists of (shape,
    colour, size) names, left to right), ``vocab``.  ``data[i] -> (image, captions)``;
    ``split(name)`` -> the fixed ``train``/``val``/``test`` part as a ShapesCaptions."""

    def __init__(self, n=5000, image_size=32, seed=0, device=None):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"ShapesCaptions: n must be a positive integer, got {n!r}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 12:
            raise ValueError(f"ShapesCaptions: image_size must be an integer >= 12, got "
                             f"{image_size!r}")
        self.n, self.image_size, self.seed = n, image_size, int(seed)
        self.vocab = Vocabulary(WORDS)
        scenes = _scenes(n, image_size, self.seed)
        self.images = Tensor.wrap(render(scenes, image_size, device))
        self.objects, self.references = [], []
        for j in range(n):
            objs = [(int(scenes["shape"][j, k]), int(scenes["colour"][j, k]),
                     int(scenes["size"][j, k]))
                    for k in range(MAX_OBJECTS) if scenes["present"][j, k]]
            self.objects.append([(SHAPES[a], list(COLOURS)[b], SIZES[c]) for a, b, c in objs])
            self.references.append(scene_captions(objs))
        # scene attributes per third of the image (left, middle, right): 0 = empty, else
        # 1 + (shape * colours + colour) * sizes + size
        code = 1 + (scenes["shape"] * len(COLOURS) + scenes["colour"]) * len(SIZES) + \
            scenes["size"]
        host = backend.module_for_device("cpu")
        attributes = host.zeros((n, 4), dtype="int64")
        attributes[host.arange(n)[:, None], scenes["third"]] = host.where(scenes["present"],
                                                                          code, 0)
        self.attributes = Tensor.wrap(backend.to_device(attributes[:, :3], device))
        self.max_tokens = max(len(r.split()) for refs in self.references for r in refs) + 2
        ids = host.asarray([[self.vocab.encode(r, self.max_tokens) for r in refs]
                            for refs in self.references], dtype="int64")
        self.captions = Tensor.wrap(backend.to_device(ids, device))
        self.indices = host.arange(n)

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        return Tensor.wrap(self.images.array[index]), Tensor.wrap(self.captions.array[index])

    def split(self, name):
        """The fixed part ``name`` (``train``: first 80%, ``val``: next 10%, ``test``: last
        10%) as a new ShapesCaptions sharing this one's vocabulary."""
        if name not in SPLITS:
            raise ValueError(f"ShapesCaptions.split: unknown split {name!r}; expected one of "
                             f"{', '.join(SPLITS)}")
        a = int(round(SPLIT_FRACTIONS[0] * self.n))
        b = int(round((SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]) * self.n))
        lo, hi = {"train": (0, a), "val": (a, b), "test": (b, self.n)}[name]
        part = object.__new__(ShapesCaptions)
        part.__dict__.update(self.__dict__)
        part.images = Tensor.wrap(self.images.array[lo:hi])
        part.captions = Tensor.wrap(self.captions.array[lo:hi])
        part.attributes = Tensor.wrap(self.attributes.array[lo:hi])
        part.references = self.references[lo:hi]
        part.objects = self.objects[lo:hi]
        part.indices = self.indices[lo:hi]
        return part
