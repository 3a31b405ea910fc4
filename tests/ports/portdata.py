"""Data for the ported scripts, in place of the downloads they make (MNIST, CIFAR, text).

A stand-in for the few ``torchvision`` pieces the scripts use (``datasets.MNIST`` with its
``data``/``targets`` tensors, ``datasets.ImageFolder`` and ``FakeData``,
``transforms.Compose/ToTensor/Normalize/Resize/CenterCrop/Lambda`` on arrays and PIL images,
``utils.save_image``, ``models.resnet18`` and ``models.vgg16`` with ``VGG16_Weights``: no
download, so its "pretrained" weights are fixed random ones, the same in every run), for
``gymnasium``'s CartPole-v1 (the
reinforcement-learning scripts), for the GCN
script's Cora download (``requests.get``: a synthetic graph in Cora's format) and for the
super-resolution script's BSDS300 images (``get_training_set``/``get_test_set``), built on the
digits bundled with tinygrad_cv (scikit-learn's 8x8 digits), enlarged to MNIST's 28x28 (or the
size a ``Resize`` asks for).  It is framework-neutral: samples are NumPy arrays and Python ints, which
both DataLoaders' default collate turn into their own tensors, so the same data feeds the
tinygrad_cv run and the PyTorch run of a port; where torchvision hands out tensors or modules
(``MNIST.data``, ``resnet18()``), they are built with the framework the calling script
imported as ``torch``.

``PORTS_SMALL=1`` in the environment (the tests' short form) keeps 64 training and 32 test
images; without it the 1797 digits are split 1500 / 297.
"""
from __future__ import annotations

import enum
import os
import sys
import types

import numpy as np

from tinygrad_cv import backend
from tinygrad_cv.data import load_digits


def _digits():
    images, labels = load_digits()
    return backend.to_numpy(images.array).astype(np.float32), backend.to_numpy(labels.array)


def _resize(image, size):
    """Nearest-neighbour resize of a (C, H, W) image to (C, size, size)."""
    c, h, w = image.shape
    rows = np.arange(size) * h // size
    cols = np.arange(size) * w // size
    return image[:, rows][:, :, cols]


class MNIST:
    """The digits as MNIST: 28x28 grey images in [0, 1] (the 8x8 digits enlarged 3x and
    padded by 2), labels 0-9; ``transform`` gets a (1, 28, 28) float image."""

    def __init__(self, root=None, train=True, download=False, transform=None):
        images, labels = _digits()
        images = images / max(float(images.max()), 1.0)
        images = np.pad(np.kron(images, np.ones((1, 1, 3, 3), np.float32)),
                        ((0, 0), (0, 0), (2, 2), (2, 2)))
        n_train, n_test = (64, 32) if os.environ.get("PORTS_SMALL") else (1500, 297)
        part = slice(0, n_train) if train else slice(1500, 1500 + n_test)
        self.images, self.labels = images[part], labels[part]
        self.transform = transform

    @property
    def data(self):
        """torchvision's ``MNIST.data``: the (N, 28, 28) uint8 images (0-255) as a tensor of
        the framework the calling script imported as ``torch``."""
        pixels = np.rint(self.images[:, 0] * 255).astype(np.uint8)
        return _framework(sys._getframe(1)).from_numpy(pixels)

    @property
    def targets(self):
        """torchvision's ``MNIST.targets``: the (N,) int64 labels as a tensor."""
        return _framework(sys._getframe(1)).from_numpy(self.labels.astype(np.int64))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[i])


def _framework(frame):
    """The module the calling script imported as ``torch`` (tinygrad_cv or torch)."""
    framework = frame.f_globals.get("torch")
    if framework is None:
        raise RuntimeError("portdata: the calling script has no 'torch' import")
    return framework


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """The (C, H, W) float32 image (the collate makes it a tensor of the running framework);
    a PIL image becomes its (C, H, W) pixels / 255, as torchvision's."""

    def __call__(self, image):
        if _is_pil(image):
            pixels = np.asarray(image, dtype=np.float32) / 255.0
            image = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(image, dtype=np.float32)


def _is_pil(image):
    return type(image).__module__.startswith("PIL.")


class Normalize:
    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32)[:, None, None]
        self.std = np.asarray(std, np.float32)[:, None, None]

    def __call__(self, image):
        return ((image - self.mean) / self.std).astype(np.float32)


class Lambda:
    """torchvision's Lambda.  The function is the script's (``lambda x: torch.flatten(x)``), so
    it gets a tensor of the framework the script imported as ``torch``."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        framework = self.fn.__globals__.get("torch")
        if isinstance(x, np.ndarray) and framework is not None:
            x = framework.from_numpy(np.ascontiguousarray(x))
        return self.fn(x)


class Resize:
    """A (C, H, W) array: nearest-neighbour to (C, size, size).  A PIL image: as torchvision's,
    its shorter side to ``size`` and the longer in proportion (bilinear, PIL's antialiasing)."""

    def __init__(self, size):
        self.size = int(size)

    def __call__(self, image):
        if _is_pil(image):
            from PIL import Image
            w, h = image.size
            if w <= h:
                new = (self.size, int(self.size * h / w))
            else:
                new = (int(self.size * w / h), self.size)
            return image if new == (w, h) else image.resize(new, Image.BILINEAR)
        return _resize(image, self.size)


class CenterCrop:
    """torchvision's CenterCrop(size) of a PIL image or a (C, H, W) array: the central
    size x size window (top-left corner at round((H - size) / 2), round((W - size) / 2))."""

    def __init__(self, size):
        self.size = int(size)

    def __call__(self, image):
        w, h = image.size if _is_pil(image) else (image.shape[-1], image.shape[-2])
        if self.size > min(w, h):
            raise ValueError(f"portdata.CenterCrop: {self.size} is larger than the {h}x{w} image")
        top, left = int(round((h - self.size) / 2.0)), int(round((w - self.size) / 2.0))
        if _is_pil(image):
            return image.crop((left, top, left + self.size, top + self.size))
        return image[..., top:top + self.size, left:left + self.size]


def save_image(tensor, fp, nrow=8, normalize=False, **kwargs):
    """Write a (N, C, H, W) batch as one PNG grid (values clipped to [0, 1], or min-max
    scaled with ``normalize``)."""
    from PIL import Image
    arr = np.asarray(tensor.detach().cpu().numpy(), np.float32)
    if normalize:
        arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-12)
    n, c, h, w = arr.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.zeros((c, rows * (h + 2) + 2, cols * (w + 2) + 2), np.float32)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[:, 2 + r * (h + 2):2 + r * (h + 2) + h, 2 + q * (w + 2):2 + q * (w + 2) + w] = arr[k]
    pixels = (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(pixels[0] if c == 1 else pixels.transpose(1, 2, 0)).save(fp)


class _SuperResolutionSet:
    """(low-resolution input, high-resolution target) pairs for the super-resolution script,
    in place of its BSDS300 download: the digits (8x8, luminance in [0, 1]) as input and the
    same digits enlarged ``upscale_factor`` times by bilinear interpolation as target."""

    def __init__(self, upscale_factor, train):
        images, _ = _digits()
        images = images / max(float(images.max()), 1.0)
        n_train, n_test = (64, 32) if os.environ.get("PORTS_SMALL") else (1500, 297)
        self.inputs = images[:n_train] if train else images[1500:1500 + n_test]
        size = 8 * int(upscale_factor)
        grid = (np.arange(size) + 0.5) / upscale_factor - 0.5        # target pixel centres
        lo = np.clip(np.floor(grid).astype(int), 0, 7)
        hi = np.clip(lo + 1, 0, 7)
        w = np.clip(grid - lo, 0.0, 1.0)
        interp = np.zeros((size, 8))
        interp[np.arange(size), lo] += 1 - w
        interp[np.arange(size), hi] += w
        self.targets = np.einsum("ih,nchw,jw->ncij", interp, self.inputs,
                                 interp).astype(np.float32)

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        return self.inputs[i], self.targets[i]


def get_training_set(upscale_factor):
    return _SuperResolutionSet(upscale_factor, train=True)


def get_test_set(upscale_factor):
    return _SuperResolutionSet(upscale_factor, train=False)


def _cora_archive(nodes=1700, features=40, classes=4, edges_per_node=3, seed=0):
    """A synthetic citation graph in Cora's file format (cora/cora.content: id, binary
    features, class name; cora/cora.cites: id pairs) as tar.gz bytes.  Nodes of a class share
    likely features and cite each other more often.  1700 nodes: the GCN script splits its
    random order at 1000 and 1500 (test, validation, training)."""
    import io as _io
    import tarfile
    rng = np.random.default_rng(seed)
    ids = rng.choice(10 ** 6, size=nodes, replace=False)
    labels = rng.integers(0, classes, size=nodes)
    prototypes = rng.random((classes, features)) < 0.3
    words = (rng.random((nodes, features)) < 0.1) | (prototypes[labels] &
                                                   (rng.random((nodes, features)) < 0.6))
    content = "".join(f"{i}\t" + "\t".join(map(str, w.astype(int))) + f"\tclass_{c}\n"
                      for i, w, c in zip(ids, words, labels))
    cites = []
    for a in range(nodes):
        same = np.flatnonzero(labels == labels[a])
        for b in rng.choice(same if rng.random() < 0.8 else np.arange(nodes), edges_per_node):
            if a != b:
                cites.append(f"{ids[b]}\t{ids[a]}\n")
    out = _io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in (("cora/cora.content", content), ("cora/cora.cites", "".join(cites))):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, _io.BytesIO(data))
    return out.getvalue()


class _Download:
    """What ``requests.get(url, stream=True)`` gives the GCN script: ``.raw`` holds the
    archive; a context manager."""

    def __init__(self, url, stream=False, **kwargs):
        if not url.endswith("cora.tgz"):
            raise ValueError(f"portdata.requests: no stand-in for {url}")
        import io as _io
        self.raw = _io.BytesIO(_cora_archive())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def resnet18(weights=None, num_classes=1000):
    """torchvision's ResNet-18 (``models.resnet18(weights=None)``), built from the ``nn`` of
    the framework the calling script imported as ``torch``: the same modules, names and
    parameter order (conv1, bn1, relu, maxpool, layer1-4 of two BasicBlocks, avgpool, fc),
    convolutions initialised Kaiming-normal (fan-out), batch norms to (1, 0)."""
    if weights is not None:
        raise ValueError("portdata.resnet18: no pretrained weights (weights=None only)")
    nn = _framework(sys._getframe(1)).nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride,
                                                          bias=False), nn.BatchNorm2d(planes))

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
            for k, (inplanes, planes, stride) in enumerate(widths, 1):
                setattr(self, f"layer{k}", nn.Sequential(BasicBlock(inplanes, planes, stride),
                                                         BasicBlock(planes, planes, 1)))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet()


class CartPole:
    """gymnasium's CartPole-v1 for the reinforcement-learning scripts: a pole on a cart, the
    action pushes the cart left (0) or right (1) with 10 N; Euler steps of 0.02 s of the
    cart-pole equations of motion (cart 1 kg, pole 0.1 kg, half-length 0.5 m); reward 1 per
    step; the episode ends when the pole leans past 12 degrees or the cart leaves +-2.4 m, and
    is truncated after 500 steps.  ``reset(seed=)`` seeds the start states (uniform in
    +-0.05); observations are float32 (x, x', theta, theta').  Deterministic: the same seed
    and actions give the same episodes in both runs.  ``PORTS_SMALL=1``: truncated after 25
    steps and solved at a running reward of 12 (``spec.reward_threshold``), so the scripts
    stop after a few episodes."""

    gravity, cart_mass, pole_mass, half_length, force, dt = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_limit, x_limit = 12 * 2 * np.pi / 360, 2.4

    def __init__(self, render_mode=None):
        small = bool(os.environ.get("PORTS_SMALL"))
        self.max_episode_steps = 25 if small else 500
        self.spec = types.SimpleNamespace(id="CartPole-v1",
                                          reward_threshold=12.0 if small else 475.0,
                                          max_episode_steps=self.max_episode_steps)
        self.render_mode = render_mode
        self.rng = np.random.default_rng()
        self.state = None

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.state = self.rng.uniform(-0.05, 0.05, size=4)
        self.steps = 0
        return self.state.astype(np.float32), {}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("CartPole: call reset() before step()")
        if action not in (0, 1):
            raise ValueError(f"CartPole: action must be 0 or 1, got {action!r}")
        x, x_dot, theta, theta_dot = self.state
        push = self.force if action == 1 else -self.force
        total = self.cart_mass + self.pole_mass
        pole_moment = self.pole_mass * self.half_length
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (push + pole_moment * theta_dot ** 2 * sin) / total
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.half_length * (4.0 / 3.0 - self.pole_mass * cos ** 2 / total))
        x_acc = temp - pole_moment * theta_acc * cos / total
        self.state = np.array([x + self.dt * x_dot, x_dot + self.dt * x_acc,
                               theta + self.dt * theta_dot, theta_dot + self.dt * theta_acc])
        self.steps += 1
        terminated = bool(abs(self.state[0]) > self.x_limit or
                          abs(self.state[2]) > self.theta_limit)
        truncated = self.steps >= self.max_episode_steps
        return self.state.astype(np.float32), 1.0, terminated, truncated, {}

    def render(self):
        return None


def _make_env(env_id, render_mode=None, **kwargs):
    if env_id != "CartPole-v1":
        raise ValueError(f"portdata.gymnasium: no stand-in for {env_id!r}")
    return CartPole(render_mode=render_mode)


_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _load_rgb(path):
    from PIL import Image
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


class ImageFolder:
    """torchvision's ``datasets.ImageFolder``: ``root/<class>/<image>``, classes in sorted
    order (their index is the label), images in sorted order within a class, each loaded
    as an RGB PIL image and passed through ``transform``."""

    def __init__(self, root, transform=None, target_transform=None, loader=_load_rgb):
        root = os.fspath(root)
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"portdata.ImageFolder: no class folders in {root}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = [(os.path.join(root, c, name), self.class_to_idx[c])
                        for c in self.classes
                        for name in sorted(os.listdir(os.path.join(root, c)))
                        if name.lower().endswith(_IMAGE_EXTENSIONS)]
        if not self.samples:
            raise FileNotFoundError(f"portdata.ImageFolder: no images under {root}")
        self.targets = [label for _, label in self.samples]
        self.transform, self.target_transform, self.loader = transform, target_transform, loader

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        image = self.loader(path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label


class FakeData:
    """torchvision's ``datasets.FakeData``: image ``i`` is random uint8 pixels of
    ``image_size`` (C, H, W) as an RGB (C = 3) or grey (C = 1) PIL image, its label random in
    [0, num_classes), both drawn from a generator seeded with ``i + random_offset`` (so the same
    in every run and framework; torchvision draws them with torch's generator instead).
    ``PORTS_SMALL=1`` keeps at most 8 images of at most 32x32."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        c, h, w = image_size
        if c not in (1, 3):
            raise ValueError(f"portdata.FakeData: 1 or 3 channels, got {c}")
        if os.environ.get("PORTS_SMALL"):
            size, h, w = min(size, 8), min(h, 32), min(w, 32)
        self.size, self.image_size, self.num_classes = int(size), (c, h, w), int(num_classes)
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = int(random_offset)

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        from PIL import Image
        if not 0 <= index < self.size:
            raise IndexError(f"portdata.FakeData: index {index} out of range for {self.size}")
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        pixels = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        image = Image.fromarray(pixels[:, :, 0] if c == 1 else pixels)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


def synthetic_photo(seed, width, height):
    """A smooth colourful RGB PIL image of our own (a few random sinusoidal waves per channel
    and a bright disc), for the scripts that read photographs from disk."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    image = np.zeros((height, width, 3))
    for ch in range(3):
        for _ in range(3):
            fx, fy, phase = rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(0, 2 * np.pi)
            image[:, :, ch] += np.sin(fx * x + fy * y + phase) / 3
    cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
    image += 0.8 * (((x - cx) ** 2 + (y - cy) ** 2) < r * r)[:, :, None]
    pixels = np.clip((image + 1) * 127.5, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


class VGG16_Weights(enum.Enum):
    """torchvision's weight names for VGG-16; the stand-in has no download: see ``vgg16``."""
    IMAGENET1K_V1 = "IMAGENET1K_V1"
    DEFAULT = "IMAGENET1K_V1"


_VGG16_FEATURES = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                   512, 512, 512, "M")
_VGG16_WEIGHTS = {}   # the stand-in's fixed "pretrained" feature weights, made once


def _vgg16_fixed_weights():
    """Fixed convolution weights in place of the ImageNet ones (which cannot be downloaded
    here): drawn once from a generator seeded 16, Kaiming-normal (fan-out) as torchvision
    initialises VGG, biases 0; the same arrays for every run and framework."""
    if not _VGG16_WEIGHTS:
        rng = np.random.default_rng(16)
        in_channels, convs = 3, []
        for v in _VGG16_FEATURES:
            if v == "M":
                continue
            std = np.sqrt(2.0 / (v * 9))
            convs.append(((rng.standard_normal((v, in_channels, 3, 3)) * std).astype(np.float32),
                          np.zeros(v, np.float32)))
            in_channels = v
        _VGG16_WEIGHTS["convs"] = convs
    return _VGG16_WEIGHTS["convs"]


def vgg16(weights=None, progress=True):
    """torchvision's ``models.vgg16``, built from the ``nn`` of the framework the calling
    script imported as ``torch``: ``features`` as torchvision's (13 3x3 convolutions with
    padding 1, each followed by ``ReLU(inplace=True)``, max pools of 2 after blocks of 2, 2,
    3, 3 and 3; the same indices 0-30) and ``avgpool`` (to 7x7); the classifier (three
    Linear layers, 120M parameters) is left out, so calling the model raises (the scripts use
    ``.features``).  ``weights=VGG16_Weights.IMAGENET1K_V1``: the fixed stand-in weights of
    ``_vgg16_fixed_weights`` (random, not ImageNet's); ``weights=None``: the framework's own
    Kaiming-normal initialisation, as torchvision's."""
    fw = _framework(sys._getframe(1))
    nn = fw.nn
    layers, in_channels = [], 3
    for v in _VGG16_FEATURES:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))

        def forward(self, x):
            raise NotImplementedError("portdata.vgg16: the stand-in has no classifier; use "
                                      "its .features")

    model = VGG()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    if weights is None:
        for m in convs:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
    elif VGG16_Weights(weights) is VGG16_Weights.IMAGENET1K_V1:
        with fw.no_grad():
            for m, (w, b) in zip(convs, _vgg16_fixed_weights(), strict=True):
                m.weight.copy_(fw.from_numpy(w))
                m.bias.copy_(fw.from_numpy(b))
    return model


# torchvision's module names, as the scripts import them
datasets = types.SimpleNamespace(MNIST=MNIST, ImageFolder=ImageFolder, FakeData=FakeData)
transforms = types.SimpleNamespace(Compose=Compose, ToTensor=ToTensor, Normalize=Normalize,
                                   Resize=Resize, CenterCrop=CenterCrop, Lambda=Lambda)
utils = types.SimpleNamespace(save_image=save_image)
models = types.SimpleNamespace(resnet18=resnet18, vgg16=vgg16, VGG16_Weights=VGG16_Weights)
requests = types.SimpleNamespace(get=_Download)   # the Cora download of the GCN script
torchvision = types.SimpleNamespace(datasets=datasets, transforms=transforms, utils=utils,
                                    models=models)
gymnasium = types.SimpleNamespace(make=_make_env)   # the reinforcement-learning scripts


# ---- the language-translation script's torchtext pieces (Multi30k, spacy, vocabulary) ----

_PARALLEL_CORPUS = {   # (German, English) pairs of our own, Multi30k-like captions
    "train": [
        ("Ein Mann fährt Fahrrad.", "A man rides a bike."),
        ("Eine Frau liest ein Buch.", "A woman reads a book."),
        ("Zwei Hunde spielen im Park.", "Two dogs play in the park."),
        ("Ein Kind isst einen Apfel.", "A child eats an apple."),
        ("Der Mann trinkt Kaffee.", "The man drinks coffee."),
        ("Die Frau singt ein Lied.", "The woman sings a song."),
        ("Ein Hund läuft über die Wiese.", "A dog runs across the meadow."),
        ("Zwei Kinder spielen Fußball im Park.", "Two children play soccer in the park."),
        ("Eine Frau fährt ein rotes Auto.", "A woman drives a red car."),
        ("Ein Mann liest die Zeitung.", "A man reads the newspaper."),
        ("Das Kind schläft.", "The child sleeps."),
        ("Drei Männer stehen vor einem Haus.", "Three men stand in front of a house."),
        ("Eine Katze sitzt auf dem Dach.", "A cat sits on the roof."),
        ("Der Hund trinkt Wasser.", "The dog drinks water."),
        ("Eine Gruppe von Menschen wartet auf den Bus.",
         "A group of people waits for the bus."),
        ("Ein Junge wirft einen Ball.", "A boy throws a ball."),
        ("Ein Mädchen malt ein Bild.", "A girl paints a picture."),
        ("Zwei Frauen gehen am Strand spazieren.", "Two women walk on the beach."),
        ("Der Junge fährt Fahrrad im Park.", "The boy rides a bike in the park."),
        ("Ein Mann kocht in der Küche.", "A man cooks in the kitchen."),
        ("Die Kinder lachen.", "The children laugh."),
        ("Eine Frau trinkt Tee im Garten.", "A woman drinks tea in the garden."),
        ("Ein alter Mann sitzt auf einer Bank.", "An old man sits on a bench."),
        ("Das Mädchen spielt mit dem Hund.", "The girl plays with the dog."),
    ],
    "valid": [
        ("Ein Mann trinkt Wasser.", "A man drinks water."),
        ("Zwei Kinder lesen ein Buch im Garten.", "Two children read a book in the garden."),
        ("Die Katze schläft auf der Bank.", "The cat sleeps on the bench."),
        ("Ein Mädchen wirft einen roten Ball.", "A girl throws a red ball."),
        ("Eine Frau kocht.", "A woman cooks."),
        ("Der Hund spielt am Strand.", "The dog plays on the beach."),
    ],
}


def Multi30k(split="train", language_pair=("de", "en")):
    """torchtext's ``Multi30k``: the ``split``'s (source, target) sentence pairs, each ending
    in a newline as the dataset's lines do; a list, which both DataLoaders batch as a
    map-style dataset (torchtext hands out an iterable pipe of the same pairs)."""
    if split not in _PARALLEL_CORPUS:
        raise ValueError(f"portdata.Multi30k: split must be 'train' or 'valid', got {split!r}")
    if sorted(language_pair) != ["de", "en"]:
        raise ValueError(f"portdata.Multi30k: languages 'de' and 'en' only, got {language_pair}")
    column = {"de": 0, "en": 1}
    return [(pair[column[language_pair[0]]] + "\n", pair[column[language_pair[1]]] + "\n")
            for pair in _PARALLEL_CORPUS[split]]


multi30k = types.SimpleNamespace(URL={})   # the script points its URLs elsewhere; unused


def get_tokenizer(tokenizer, language=None):
    """torchtext's ``get_tokenizer("spacy", language)``: words and punctuation marks, split
    at white space and at each mark (spacy's rule for these simple sentences)."""
    import re
    pattern = re.compile(r"\w+|[^\w\s]")
    return pattern.findall


class Vocab:
    """torchtext's ``Vocab``: tokens <-> indices, unknown tokens to the default index."""

    def __init__(self, tokens):
        self.itos = list(tokens)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        self.default_index = None

    def __len__(self):
        return len(self.itos)

    def set_default_index(self, index):
        self.default_index = index

    def __getitem__(self, token):
        if token in self.stoi:
            return self.stoi[token]
        if self.default_index is None:
            raise RuntimeError(f"Token {token} not found and default index is not set")
        return self.default_index

    def __call__(self, tokens):
        return [self[token] for token in tokens]

    def lookup_tokens(self, indices):
        return [self.itos[int(i)] for i in indices]


def build_vocab_from_iterator(iterator, min_freq=1, specials=None, special_first=True):
    """torchtext's ``build_vocab_from_iterator``: the tokens seen at least ``min_freq`` times,
    by decreasing count then alphabetically, with ``specials`` first (or last)."""
    from collections import Counter
    counts = Counter()
    for tokens in iterator:
        counts.update(tokens)
    specials = list(specials or [])
    words = [token for token, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
             if n >= min_freq and token not in specials]
    return Vocab(specials + words if special_first else words + specials)
