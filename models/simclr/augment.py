"""SimCLR's two random views of every image, on the backend (NumPy or CuPy, no per-image
Python loop): random resized crop, a small affine warp, brightness/contrast jitter, cutout
and Gaussian noise (``tinygrad_cv.data.transforms`` plus ``RandomCutout``).

    views = TwoViewAugment()(images)        # images (N, C, H, W) in [0, 1]
    v1, v2 = views                          # two independent augmentations, each (N, C, H, W)
"""
from __future__ import annotations

from tinygrad_cv import backend
from tinygrad_cv.data.transforms import (ColorJitter, Compose, GaussianNoise, RandomAffine,
                                         RandomResizedCrop, RandomTransform)
from tinygrad_cv.tensor import Tensor

__all__ = ["RandomCutout", "TwoViewAugment", "default_augmentation"]


class RandomCutout(RandomTransform):
    """With probability ``p`` set a random ``size`` x ``size`` square of each image to
    ``fill`` (the square's centre is uniform over the image, so it may be clipped by the
    border).  Takes and returns (N, C, H, W) Tensors or raw arrays."""

    def __init__(self, size, p=0.5, fill=0.0, seed=None, generator=None):
        super().__init__(seed, generator)
        self.size = int(size)
        if self.size < 1:
            raise ValueError(f"RandomCutout: size must be a positive integer, got {size!r}")
        self.p = float(p)
        self.fill = float(fill)

    def __call__(self, x):
        is_tensor = isinstance(x, Tensor)
        arr = x.array if is_tensor else x
        if not backend.is_array(arr) or arr.ndim != 4:
            raise ValueError(f"RandomCutout: expected an image batch (N, C, H, W), got "
                             f"{getattr(arr, 'shape', type(arr).__name__)}")
        xp = backend.get_array_module(arr)
        n, _, h, w = arr.shape
        cy = xp.floor(self.uniform(arr, 0, h, (n,)))
        cx = xp.floor(self.uniform(arr, 0, w, (n,)))
        on = self.uniform(arr, 0, 1, (n,)) < self.p
        top, left = cy - self.size // 2, cx - self.size // 2
        rows = xp.arange(h)[None, :, None]
        cols = xp.arange(w)[None, None, :]
        inside = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + self.size)
                  & (cols >= left[:, None, None]) & (cols < left[:, None, None] + self.size)
                  & on[:, None, None])
        out = xp.where(inside[:, None], xp.asarray(self.fill, dtype=arr.dtype), arr)
        return Tensor.wrap(out) if is_tensor else out


def default_augmentation(image_size=8):
    """The pipeline of one view: crop (area 50-100%, aspect 3/4-4/3) resized back to
    ``image_size``; rotation +-10 deg, shift +-1/8, shear +-10 deg; brightness and contrast
    x[0.6, 1.4]; a 3x3 cutout with probability 0.5; noise of std 0.05, clipped to [0, 1]."""
    return Compose([
        RandomResizedCrop(image_size, scale=(0.5, 1.0)),
        RandomAffine(degrees=10, translate=(0.125, 0.125), shear=10),
        ColorJitter(brightness=0.4, contrast=0.4),
        RandomCutout(max(1, (3 * image_size) // 8), p=0.5),
        GaussianNoise(0.05, clip=True),
    ])


class TwoViewAugment:
    """``(view1, view2)`` of a batch: the same random pipeline applied twice, independently
    (draws from the device's seeded generator unless the transforms were given their own)."""

    def __init__(self, transform=None, image_size=8):
        self.transform = default_augmentation(image_size) if transform is None else transform

    def __call__(self, images):
        return self.transform(images), self.transform(images)

    def __repr__(self):
        return f"TwoViewAugment({self.transform!r})"
