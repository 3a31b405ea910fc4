"""Grayscale conversion for the classic algorithms, on top of the input checks of ``_validate``.

Images are (H, W) or (H, W, C) arrays; uint8 is converted to float in [0, 1].
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module, is_array

from ._validate import as_image

# ITU-R 709 luminance weights (the ones scikit-image's rgb2gray uses).
LUMA = (0.2125, 0.7154, 0.0721)


def as_float_image(image, name="image", dtype="float32", allow_color=True):
    """``image`` as a ``dtype`` array in [0, 1] on its own device: :func:`._validate.as_image`
    with a fixed dtype and C in 1, 3, 4; array-likes (lists) are converted first."""
    if not is_array(image):
        image = get_array_module().asarray(image)
    return as_image(image, name, allow_color, dtype=dtype, channels=(1, 3, 4))


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
