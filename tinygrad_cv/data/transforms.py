"""Batched image augmentations on the backend (NumPy on the CPU, CuPy on the GPU).

Every transform takes a batch ``(N, C, H, W)`` (or one image ``(C, H, W)``) as a Tensor or a raw
array and returns the same kind.  Random transforms draw one set of parameters per image, all
at once (no per-image Python loop), from ``generator`` when given, else from their own
generator seeded with ``seed``, else from the global seeded generator of the batch's device
(``tinygrad_cv.manual_seed``).  Augmentations run outside autograd (their outputs are data).

Geometric transforms share one bilinear sampler: for output pixel ``(i, j)`` the source
position ``(y, x)`` is computed and

    out = sum over the 4 neighbours (y0 + a, x0 + b), a, b in {0, 1}, of
          (1 - |y - y0 - a|) (1 - |x - x0 - b|) * img[y0 + a, x0 + b]

with neighbours outside the image contributing ``fill``.
"""
from __future__ import annotations

import math
import numbers

from .. import backend
from ..arguments import pair
from ..tensor import Tensor

__all__ = ["Compose", "Resize", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomAffine", "RandomRotation", "GaussianNoise",
           "GaussianBlur", "ColorJitter", "Grayscale", "RandomGrayscale", "Normalize", "resize",
           "bilinear_sample", "affine_sample"]


# ---- plumbing ---------------------------------------------------------------------------------
def _unwrap(x, name):
    """Raw 4-D array, whether the input was a Tensor, and whether a batch dim was added."""
    is_tensor = isinstance(x, Tensor)
    arr = x.array if is_tensor else x
    if not backend.is_array(arr):
        raise TypeError(f"{name}: expected a Tensor or array image batch, got {type(x).__name__}")
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name}: expected an image batch (N, C, H, W) or an image (C, H, W), "
                         f"got shape {tuple(arr.shape)}")
    if not backend.is_floating(arr.dtype):
        arr = arr.astype("float32")
    unbatched = arr.ndim == 3
    return (arr[None] if unbatched else arr), is_tensor, unbatched


def _wrap(arr, is_tensor, unbatched):
    arr = arr[0] if unbatched else arr
    return Tensor.wrap(arr) if is_tensor else arr


def _range(v, name, around=None, lower=None):
    """``v`` -> (lo, hi): a number means ``(around - v, around + v)`` (or ``(-v, v)``)."""
    if isinstance(v, numbers.Number):
        if v < 0:
            raise ValueError(f"{name}: must be non-negative, got {v}")
        centre = 0.0 if around is None else around
        lo, hi = centre - v, centre + v
    else:
        lo, hi = (float(a) for a in v)
    if lower is not None:
        lo = max(lo, lower)
    if hi < lo:
        raise ValueError(f"{name}: empty range ({lo}, {hi})")
    return float(lo), float(hi)


class RandomTransform:
    """Base of the random transforms: owns the choice of random generator."""

    def __init__(self, seed=None, generator=None):
        self.seed = seed
        self.generator = generator
        self._own = {}

    def rng(self, arr):
        if self.generator is not None:
            return self.generator
        device = backend.device_of(arr)
        if self.seed is None:
            return backend.get_rng(device)
        if device not in self._own:
            self._own[device] = backend.module_for_device(device).random.default_rng(self.seed)
        return self._own[device]

    def uniform(self, arr, lo, hi, shape):
        """Uniform samples in [lo, hi) of ``shape`` on the device of ``arr`` (float64)."""
        return lo + (hi - lo) * self.rng(arr).random(shape)

    def __repr__(self):
        keys = {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "generator"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in keys.items())})"


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


# ---- sampling ---------------------------------------------------------------------------------
def bilinear_sample(images, ys, xs, fill=0.0):
    """Sample ``images`` (N, C, H, W) at pixel positions ``ys, xs`` (N, Ho, Wo) -> (N, C, Ho, Wo).

    Neighbours outside the image contribute ``fill`` (zero padding by default).
    """
    xp = backend.get_array_module(images)
    n, _, h, w = images.shape
    y0 = xp.floor(ys)
    x0 = xp.floor(xs)
    wy1 = (ys - y0).astype(images.dtype)
    wx1 = (xs - x0).astype(images.dtype)
    y0 = y0.astype("int64")
    x0 = x0.astype("int64")
    batch = xp.arange(n)[:, None, None]
    out = 0.0
    for dy, wy in ((0, 1 - wy1), (1, wy1)):
        for dx, wx in ((0, 1 - wx1), (1, wx1)):
            yy = y0 + dy
            xx = x0 + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = images[batch, :, xp.clip(yy, 0, h - 1), xp.clip(xx, 0, w - 1)]  # (N,Ho,Wo,C)
            if fill:
                vals = xp.where(inside[..., None], vals, images.dtype.type(fill))
            else:
                vals = vals * inside[..., None]
            out = out + vals * (wy * wx)[..., None]
    return xp.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(images.dtype, copy=False)


def affine_sample(images, matrices, fill=0.0):
    """Warp each image by its 2x3 matrix ``matrices[n]`` (N, 2, 3), same output size.

    The matrix maps output to input coordinates about the image centre:
    ``[x_in, y_in] = A @ [x_out - cx, y_out - cy] + [cx, cy] + t`` with ``[A | t] = matrices[n]``.
    """
    xp = backend.get_array_module(images)
    _, _, h, w = images.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    gy, gx = xp.meshgrid(xp.arange(h, dtype="float64") - cy, xp.arange(w, dtype="float64") - cx,
                         indexing="ij")
    m = matrices[:, :, :, None, None]
    xs = m[:, 0, 0] * gx + m[:, 0, 1] * gy + m[:, 0, 2] + cx
    ys = m[:, 1, 0] * gx + m[:, 1, 1] * gy + m[:, 1, 2] + cy
    return bilinear_sample(images, ys, xs, fill)


def _linear_source(out_size, in_size, xp):
    """Source positions of torch's bilinear resize (align_corners=False), clamped at 0."""
    scale = in_size / out_size
    src = (xp.arange(out_size, dtype="float64") + 0.5) * scale - 0.5
    return xp.maximum(src, 0.0)


def resize(images, size):
    """Bilinear resize of (N, C, H, W) or (C, H, W) to ``size`` (int or (h, w)).

    Matches ``torch.nn.functional.interpolate(mode='bilinear', align_corners=False)``
    (no antialiasing): source ``y = max((i + 0.5) * H / h - 0.5, 0)``, edge pixels repeated.
    """
    arr, is_tensor, unbatched = _unwrap(images, "resize")
    xp = backend.get_array_module(arr)
    oh, ow = pair(size, "size", "resize")
    _, _, h, w = arr.shape

    def along(a, axis, out_n, in_n):
        src = _linear_source(out_n, in_n, xp)
        i0 = xp.minimum(xp.floor(src).astype("int64"), in_n - 1)
        i1 = xp.minimum(i0 + 1, in_n - 1)
        lam = (src - i0).astype(a.dtype)
        shape = [1] * a.ndim
        shape[axis] = out_n
        lam = lam.reshape(shape)
        return xp.take(a, i0, axis=axis) * (1 - lam) + xp.take(a, i1, axis=axis) * lam

    out = along(along(arr, 2, oh, h), 3, ow, w)
    return _wrap(out.astype(arr.dtype, copy=False), is_tensor, unbatched)


class Resize:
    """Bilinear resize to ``size`` (see :func:`resize`)."""

    def __init__(self, size):
        self.size = pair(size, "size", "Resize")

    def __call__(self, x):
        return resize(x, self.size)

    def __repr__(self):
        return f"Resize(size={self.size})"


# ---- geometric --------------------------------------------------------------------------------
class RandomCrop(RandomTransform):
    """Pad by ``padding`` (with ``fill``) and cut a random ``size`` window from each image."""

    def __init__(self, size, padding=0, fill=0.0, seed=None, generator=None):
        super().__init__(seed, generator)
        self.size = pair(size, "size", "RandomCrop")
        self.padding = int(padding)
        self.fill = float(fill)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "RandomCrop")
        xp = backend.get_array_module(arr)
        p = self.padding
        if p:
            arr = xp.pad(arr, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        n, _, h, w = arr.shape
        ch, cw = self.size
        if ch > h or cw > w:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the padded image "
                             f"({h}, {w})")
        top = xp.floor(self.uniform(arr, 0, h - ch + 1, (n,))).astype("int64")
        left = xp.floor(self.uniform(arr, 0, w - cw + 1, (n,))).astype("int64")
        rows = top[:, None] + xp.arange(ch)
        cols = left[:, None] + xp.arange(cw)
        out = arr[xp.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        return _wrap(xp.ascontiguousarray(out.transpose(0, 3, 1, 2)), is_tensor, unbatched)


class RandomResizedCrop(RandomTransform):
    """Crop a random box (area fraction in ``scale``, aspect ratio in ``ratio``) and resize it
    bilinearly to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), seed=None, generator=None):
        super().__init__(seed, generator)
        self.size = pair(size, "size", "RandomResizedCrop")
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "RandomResizedCrop")
        xp = backend.get_array_module(arr)
        n, _, h, w = arr.shape
        area = h * w * self.uniform(arr, *self.scale, (n,))
        log_r = self.uniform(arr, math.log(self.ratio[0]), math.log(self.ratio[1]), (n,))
        r = xp.exp(log_r)
        bw = xp.clip(xp.sqrt(area * r), 1.0, w)
        bh = xp.clip(xp.sqrt(area / r), 1.0, h)
        top = self.uniform(arr, 0, 1, (n,)) * (h - bh)
        left = self.uniform(arr, 0, 1, (n,)) * (w - bw)
        oh, ow = self.size
        iy = (xp.arange(oh, dtype="float64") + 0.5) / oh
        ix = (xp.arange(ow, dtype="float64") + 0.5) / ow
        ys = top[:, None, None] + iy[None, :, None] * bh[:, None, None] - 0.5
        xs = left[:, None, None] + ix[None, None, :] * bw[:, None, None] - 0.5
        ys = xp.broadcast_to(xp.clip(ys, 0, h - 1), (n, oh, ow))
        xs = xp.broadcast_to(xp.clip(xs, 0, w - 1), (n, oh, ow))
        return _wrap(bilinear_sample(arr, ys, xs), is_tensor, unbatched)


class _RandomFlip(RandomTransform):
    axis = -1

    def __init__(self, p=0.5, seed=None, generator=None):
        super().__init__(seed, generator)
        self.p = float(p)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, type(self).__name__)
        xp = backend.get_array_module(arr)
        flip = self.uniform(arr, 0, 1, (arr.shape[0],)) < self.p
        out = xp.where(flip[:, None, None, None], xp.flip(arr, axis=self.axis), arr)
        return _wrap(out, is_tensor, unbatched)


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left-right with probability ``p``."""
    axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror each image top-bottom with probability ``p``."""
    axis = -2


class RandomAffine(RandomTransform):
    """Random rotation (degrees), translation (fraction of size), scale and shear (degrees).

    Per image: angle ``a ~ U(degrees)``, shift ``(tx, ty) ~ U(-translate * (W, H), ...)``,
    scale ``s ~ U(scale)``, x-shear ``sh ~ U(shear)``.  The forward map is
    ``p_out = s R(a) Sh(sh) (p_in - c) + c + t``; pixels are pulled with its inverse and
    bilinear sampling (outside -> ``fill``).
    """

    def __init__(self, degrees=0.0, translate=None, scale=None, shear=None, fill=0.0,
                 seed=None, generator=None):
        super().__init__(seed, generator)
        self.degrees = _range(degrees, "RandomAffine degrees")
        self.translate = None if translate is None else tuple(float(t) for t in translate)
        self.scale = None if scale is None else tuple(float(s) for s in scale)
        self.shear = None if shear is None else _range(shear, "RandomAffine shear")
        self.fill = float(fill)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, type(self).__name__)
        xp = backend.get_array_module(arr)
        n, _, h, w = arr.shape
        angle = xp.deg2rad(self.uniform(arr, *self.degrees, (n,)))
        s = self.uniform(arr, *self.scale, (n,)) if self.scale else xp.ones(n)
        sh = xp.deg2rad(self.uniform(arr, *self.shear, (n,))) if self.shear else xp.zeros(n)
        if self.translate:
            tx = self.uniform(arr, -self.translate[0] * w, self.translate[0] * w, (n,))
            ty = self.uniform(arr, -self.translate[1] * h, self.translate[1] * h, (n,))
        else:
            tx = ty = xp.zeros(n)
        # inverse of s R(a) Sh(sh): Sh(-sh) R(-a) / s, with Sh(k) = [[1, tan k], [0, 1]]
        cos, sin, tan = xp.cos(angle), xp.sin(angle), xp.tan(sh)
        r00, r01, r10, r11 = cos, sin, -sin, cos          # R(-a)
        a00 = (r00 - tan * r10) / s
        a01 = (r01 - tan * r11) / s
        a10 = r10 / s
        a11 = r11 / s
        mats = xp.stack([xp.stack([a00, a01, -(a00 * tx + a01 * ty)], axis=1),
                         xp.stack([a10, a11, -(a10 * tx + a11 * ty)], axis=1)], axis=1)
        return _wrap(affine_sample(arr, mats, self.fill), is_tensor, unbatched)


class RandomRotation(RandomAffine):
    """Rotate each image by a random angle in ``degrees`` (a number d means (-d, d))."""

    def __init__(self, degrees, fill=0.0, seed=None, generator=None):
        super().__init__(degrees=degrees, fill=fill, seed=seed, generator=generator)


# ---- photometric ------------------------------------------------------------------------------
class GaussianNoise(RandomTransform):
    """Add ``std * N(0, 1)`` noise to every pixel (optionally clipped to [0, 1])."""

    def __init__(self, std=0.05, clip=False, seed=None, generator=None):
        super().__init__(seed, generator)
        self.std = float(std)
        self.clip = bool(clip)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "GaussianNoise")
        xp = backend.get_array_module(arr)
        out = arr + (self.std * self.rng(arr).standard_normal(arr.shape)).astype(arr.dtype)
        if self.clip:
            out = xp.clip(out, 0.0, 1.0)
        return _wrap(out, is_tensor, unbatched)


class GaussianBlur(RandomTransform):
    """Blur each image with a Gaussian of random ``sigma ~ U(sigma)`` (separable, reflect edges).

    ``kernel[k] = exp(-(k - r)^2 / (2 sigma^2))`` normalised to sum 1, ``r = kernel_size // 2``.
    """

    def __init__(self, kernel_size, sigma=(0.1, 2.0), seed=None, generator=None):
        super().__init__(seed, generator)
        self.kernel_size = int(kernel_size)
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"GaussianBlur: kernel_size must be a positive odd integer, got "
                             f"{kernel_size}")
        self.sigma = (float(sigma), float(sigma)) if isinstance(sigma, numbers.Number) \
            else tuple(float(s) for s in sigma)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "GaussianBlur")
        xp = backend.get_array_module(arr)
        n = arr.shape[0]
        r = self.kernel_size // 2
        sigma = self.uniform(arr, *self.sigma, (n,))
        offs = xp.arange(-r, r + 1, dtype="float64")
        kern = xp.exp(-offs[None] ** 2 / (2 * sigma[:, None] ** 2))
        kern = (kern / kern.sum(axis=1, keepdims=True)).astype(arr.dtype)
        out = arr
        for axis in (2, 3):
            if r:
                pad = [(0, 0)] * 4
                pad[axis] = (r, r)
                mode = "reflect" if out.shape[axis] > r else "edge"
                padded = xp.pad(out, pad, mode=mode)
                windows = backend.sliding_window_view(padded, self.kernel_size, axis=axis)
                out = xp.einsum("nchwk,nk->nchw", windows, kern)
        return _wrap(out.astype(arr.dtype, copy=False), is_tensor, unbatched)


def _luma(arr, xp):
    """ITU-R 601 luma ``0.299 R + 0.587 G + 0.114 B`` of (N, 3, H, W) -> (N, 1, H, W)."""
    w = xp.asarray([0.299, 0.587, 0.114], dtype=arr.dtype)[None, :, None, None]
    return (arr * w).sum(axis=1, keepdims=True)


class ColorJitter(RandomTransform):
    """Random brightness, contrast and saturation (applied in that order, clipped to [0, 1]).

    With factors ``b, c, s`` drawn from ``[max(0, 1 - v), 1 + v]``: ``x <- b x``;
    ``x <- c (x - mean(gray(x))) + mean(gray(x))``; ``x <- s (x - gray(x)) + gray(x)``
    (saturation only for 3-channel images).
    """

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, seed=None, generator=None):
        super().__init__(seed, generator)
        self.brightness = _range(brightness, "ColorJitter brightness", around=1.0, lower=0.0)
        self.contrast = _range(contrast, "ColorJitter contrast", around=1.0, lower=0.0)
        self.saturation = _range(saturation, "ColorJitter saturation", around=1.0, lower=0.0)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "ColorJitter")
        xp = backend.get_array_module(arr)
        n, c = arr.shape[:2]

        def factor(rng_range):
            return self.uniform(arr, *rng_range, (n,)).astype(arr.dtype)[:, None, None, None]

        def gray(a):
            return _luma(a, xp) if c == 3 else a.mean(axis=1, keepdims=True)

        out = arr * factor(self.brightness)
        mean = gray(out).mean(axis=(1, 2, 3), keepdims=True)
        out = (out - mean) * factor(self.contrast) + mean
        if c == 3:
            g = gray(out)
            out = (out - g) * factor(self.saturation) + g
        return _wrap(xp.clip(out, 0.0, 1.0), is_tensor, unbatched)


class Grayscale:
    """RGB -> luma (``0.299 R + 0.587 G + 0.114 B``), repeated to ``num_output_channels``."""

    def __init__(self, num_output_channels=1):
        self.num_output_channels = int(num_output_channels)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "Grayscale")
        xp = backend.get_array_module(arr)
        if arr.shape[1] != 3:
            raise ValueError(f"Grayscale: expected 3 channels (N, 3, H, W), got shape "
                             f"{tuple(arr.shape)}")
        g = _luma(arr, xp)
        return _wrap(xp.repeat(g, self.num_output_channels, axis=1), is_tensor, unbatched)

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class RandomGrayscale(RandomTransform):
    """Turn each RGB image gray (3 equal channels) with probability ``p``."""

    def __init__(self, p=0.1, seed=None, generator=None):
        super().__init__(seed, generator)
        self.p = float(p)

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "RandomGrayscale")
        xp = backend.get_array_module(arr)
        gray = Grayscale(arr.shape[1])(arr)
        pick = self.uniform(arr, 0, 1, (arr.shape[0],)) < self.p
        return _wrap(xp.where(pick[:, None, None, None], gray, arr), is_tensor, unbatched)


class Normalize:
    """Per-channel ``(x - mean[c]) / std[c]``."""

    def __init__(self, mean, std):
        self.mean = tuple(float(m) for m in ((mean,) if isinstance(mean, numbers.Number) else mean))
        self.std = tuple(float(s) for s in ((std,) if isinstance(std, numbers.Number) else std))
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def __call__(self, x):
        arr, is_tensor, unbatched = _unwrap(x, "Normalize")
        xp = backend.get_array_module(arr)
        c = arr.shape[1]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(f"Normalize: {len(self.mean)} means / {len(self.std)} stds for "
                             f"{c} channels")
        mean = xp.asarray(self.mean, dtype=arr.dtype)[None, :, None, None]
        std = xp.asarray(self.std, dtype=arr.dtype)[None, :, None, None]
        return _wrap((arr - mean) / std, is_tensor, unbatched)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"
