"""Image checks shared by the classic algorithms: dtype conversion and grayscale.

Images are (H, W) or (H, W, C) arrays; uint8 is converted to float in [0, 1].
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module

# ITU-R 709 luminance weights (the ones scikit-image's rgb2gray uses).
LUMA = (0.2125, 0.7154, 0.0721)


def as_float_image(image, name="image", dtype="float32", allow_color=True):
    """``image`` as a float array in [0, 1] on its own device.

    uint8 is divided by 255, other integer/bool types are cast; shapes other than
    (H, W) or (H, W, C) (C in 1, 3, 4) raise ``ValueError`` naming ``name``.
    """
    xp = get_array_module(image)
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        image = xp.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C) with C in 1, 3, 4; "
                         f"got shape {tuple(image.shape)}")
    if image.ndim == 3 and not allow_color:
        raise ValueError(f"{name} must be a 2-D grayscale image, got shape {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(image.shape)}")
    if image.dtype == xp.uint8:
        return image.astype(dtype) / xp.asarray(255, dtype=dtype)
    if image.dtype.kind == "f":
        return image.astype(dtype, copy=False)
    if image.dtype.kind in "iub":
        return image.astype(dtype)
    raise ValueError(f"{name} has unsupported dtype {image.dtype}")


def to_gray(image, dtype="float32"):
    """Luminance ``0.2125 R + 0.7154 G + 0.0721 B`` of an (H, W, 3|4) image; (H, W) passes."""
    img = as_float_image(image, dtype=dtype)
    if img.ndim == 2:
        return img
    if img.shape[2] == 1:
        return img[:, :, 0]
    xp = get_array_module(img)
    w = xp.asarray(LUMA, dtype=img.dtype)
    return img[:, :, 0] * w[0] + img[:, :, 1] * w[1] + img[:, :, 2] * w[2]
