"""Linear filters on the NumPy/CuPy backend: 2-D convolution/correlation, Gaussian blur,
finite differences, Sobel and gradient magnitude/direction.

Conventions (the notes' LSI definitions)::

    convolution   (f ** h)[n, m] = sum_k sum_l f[k, l] h[n - k, m - l]      (kernel flipped)
    correlation   (f ⋆ h)[n, m]  = sum_k sum_l f[n + k, m + l] h[k, l]      (no flip)

Images are (H, W) or (H, W, C); a 2-D kernel filters every channel.  Boundaries are named
once for the whole project:

    'zero'    (alias 'constant', 'fill')   pad with ``cval`` (0)
    'reflect' (alias 'symmetric', 'symm')  d c b a | a b c d | d c b a   (edge repeated)
    'mirror'                               d c b | a b c d | c b a       (edge not repeated)
    'nearest' (alias 'edge')               a a a | a b c d | d d d
    'wrap'                                 b c d | a b c d | a b c
"""
from __future__ import annotations

import math

from tinygrad_cv.backend import get_array_module

from ._validate import as_float_array, as_image, check_positive

_PAD_MODES = {
    "zero": "constant", "constant": "constant", "fill": "constant",
    "reflect": "symmetric", "symmetric": "symmetric", "symm": "symmetric",
    "mirror": "reflect",
    "nearest": "edge", "edge": "edge",
    "wrap": "wrap",
}
_CONV_MODES = ("same", "valid", "full")
# Above this many kernel taps the FFT path beats shift-and-add.
_FFT_MIN_TAPS = 100


def pad_mode(boundary: str) -> str:
    """The ``xp.pad`` mode of a boundary name (see the module docstring), else ValueError."""
    try:
        return _PAD_MODES[boundary]
    except (KeyError, TypeError):
        raise ValueError(f"unknown boundary {boundary!r}; expected one of "
                         f"{sorted(_PAD_MODES)}") from None


def pad_image(image, pad_rows, pad_cols, boundary="zero", cval=0.0):
    """Pad the two spatial axes of an (H, W) or (H, W, C) array.

    ``pad_rows``/``pad_cols`` are ``(before, after)`` pairs; extra axes are not padded.
    """
    xp = get_array_module(image)
    widths = [tuple(pad_rows), tuple(pad_cols)] + [(0, 0)] * (image.ndim - 2)
    mode = pad_mode(boundary)
    if mode == "constant":
        return xp.pad(image, widths, mode="constant", constant_values=cval)
    return xp.pad(image, widths, mode=mode)


def _float_dtype(*arrays):
    xp = get_array_module(*arrays)
    return xp.result_type(xp.float32, *[a.dtype for a in arrays])


def _correlate_valid(padded, kernel):
    """Valid correlation of the spatial axes of ``padded`` with a 2-D ``kernel``.

    out[i, j] = sum_{a, b} kernel[a, b] * padded[i + a, j + b]; small kernels by
    shift-and-add (one vector op per tap), large ones through the FFT.
    """
    xp = get_array_module(padded, kernel)
    kh, kw = kernel.shape
    oh, ow = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    if kh * kw >= _FFT_MIN_TAPS:
        shape = (padded.shape[0], padded.shape[1])
        spectrum = xp.fft.rfft2(padded, s=shape, axes=(0, 1))
        flipped = kernel[::-1, ::-1]
        kspec = xp.fft.rfft2(flipped, s=shape)
        if padded.ndim == 3:
            kspec = kspec[:, :, None]
        full = xp.fft.irfft2(spectrum * kspec, s=shape, axes=(0, 1))
        # circular convolution equals linear convolution on the valid region
        return full[kh - 1:kh - 1 + oh, kw - 1:kw - 1 + ow].astype(padded.dtype, copy=False)
    out = xp.zeros((oh, ow) + padded.shape[2:], dtype=padded.dtype)
    for a in range(kh):
        for b in range(kw):
            w = kernel[a, b]
            out += w * padded[a:a + oh, b:b + ow]
    return out


def _check_conv_args(image, kernel, mode, boundary):
    image = as_image(image)
    kernel = as_float_array(kernel, "kernel", ndim=2)
    if mode not in _CONV_MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {_CONV_MODES}")
    pad_mode(boundary)
    kh, kw = kernel.shape
    h, w = image.shape[:2]
    if mode == "valid" and (kh > h or kw > w):
        raise ValueError(f"kernel of shape {(kh, kw)} is larger than the image {(h, w)} "
                         "in 'valid' mode")
    dtype = _float_dtype(image, kernel)
    return image.astype(dtype, copy=False), kernel.astype(dtype, copy=False)


def _filter2d(image, taps, mode, boundary, cval, same_offset):
    """Correlate with ``taps`` after padding for ``mode``; 'same' keeps the full result's
    window starting at ``same_offset`` = (row, col)."""
    kh, kw = taps.shape
    if mode == "valid":
        return _correlate_valid(image, taps)
    if mode == "full":
        rows, cols = (kh - 1, kh - 1), (kw - 1, kw - 1)
    else:
        rows = (kh - 1 - same_offset[0], same_offset[0])
        cols = (kw - 1 - same_offset[1], same_offset[1])
    return _correlate_valid(pad_image(image, rows, cols, boundary, cval), taps)


def convolve2d(image, kernel, mode="same", boundary="zero", cval=0.0):
    """2-D convolution ``g[n, m] = sum_{k,l} f[k, l] h[n-k, m-l]`` (kernel flipped).

    Shapes as ``scipy.signal.convolve2d``: 'full' (H+kh-1, W+kw-1), 'valid'
    (H-kh+1, W-kw+1), 'same' (H, W) cut from the full result at offset ((kh-1)//2, (kw-1)//2).
    ``boundary`` 'zero' or 'reflect' (scipy's 'fill' and 'symm'; also 'wrap', 'nearest',
    'mirror').  An (H, W, C) image is filtered per channel with the same 2-D kernel.
    """
    image, kernel = _check_conv_args(image, kernel, mode, boundary)
    kh, kw = kernel.shape
    return _filter2d(image, kernel[::-1, ::-1], mode, boundary, cval,
                     ((kh - 1) // 2, (kw - 1) // 2))


def correlate2d(image, kernel, mode="same", boundary="zero", cval=0.0):
    """2-D cross-correlation ``g[n, m] = sum_{k,l} f[n+k, m+l] h[k, l]`` (no flip).

    Shapes as ``scipy.signal.correlate2d``; 'same' is cut from the full result at offset
    (kh//2, kw//2), so that for odd kernels the output is centred on each pixel.
    """
    image, kernel = _check_conv_args(image, kernel, mode, boundary)
    kh, kw = kernel.shape
    return _filter2d(image, kernel, mode, boundary, cval, (kh // 2, kw // 2))


def gaussian_kernel1d(sigma, truncate=4.0, like=None):
    """Normalised 1-D Gaussian ``g[i] = exp(-i^2 / (2 sigma^2)) / sum``, i in [-r, r],
    r = int(truncate * sigma + 0.5) (scipy.ndimage's radius).  Shape (2r+1,).

    ``like``: an array whose module (numpy/cupy) the kernel is made with.
    """
    sigma = check_positive(sigma, "sigma")
    truncate = check_positive(truncate, "truncate")
    xp = get_array_module(like) if like is not None else get_array_module()
    radius = int(truncate * sigma + 0.5)
    i = xp.arange(-radius, radius + 1, dtype=xp.float64)
    g = xp.exp(-0.5 / (sigma * sigma) * i ** 2)     # ndimage's rounding, bit for bit
    return g / g.sum()


def gaussian_kernel(sigma, truncate=4.0, like=None):
    """Normalised 2-D Gaussian ``G[i, j] = g[i] g[j]`` (outer product of the 1-D kernel),
    shape (2r+1, 2r+1) with r = int(truncate * sigma + 0.5)."""
    g = gaussian_kernel1d(sigma, truncate, like)
    return g[:, None] * g[None, :]


def correlate_axis(image, weights, axis, boundary="reflect", cval=0.0, symmetric=False):
    """1-D correlation along spatial ``axis`` (0 rows, 1 columns), output the input's shape.

    ``out[n] = sum_i weights[i] * f[n + i - len(weights)//2]`` with the named boundary.
    ``symmetric=True`` promises ``weights[i] == weights[-1 - i]`` (odd length): mirrored taps
    are then added before one multiply, ``w[i] (f[n - r + i] + f[n + r - i])``, in place.
    """
    xp = get_array_module(image)
    weights = xp.asarray(weights, dtype=image.dtype)
    n = int(weights.shape[0])
    before, after = n // 2, n - 1 - n // 2
    widths = [(0, 0), (0, 0)]
    widths[axis] = (before, after)
    padded = pad_image(image, widths[0], widths[1], boundary, cval)
    length = image.shape[axis]

    def tap(i):
        sl = [slice(None)] * image.ndim
        sl[axis] = slice(i, i + length)
        return padded[tuple(sl)]

    if symmetric and n % 2 == 1:
        out = tap(before) * weights[before]
        pair = xp.empty_like(out)
        for i in range(before):
            xp.add(tap(i), tap(n - 1 - i), out=pair)
            pair *= weights[i]
            out += pair
        return out
    out = None
    for i in range(n):
        term = weights[i] * tap(i)
        out = term if out is None else out + term
    return out


def check_sigma_fits(sigma, shape, name="sigma"):
    """Raise ValueError when a Gaussian of std ``sigma`` is wider than an image of ``shape``
    (H, W[, C]): it would only smooth the image flat, and its kernel (radius 4 sigma) and
    padding grow with sigma until the memory runs out.  Returns sigma as a float."""
    sigma = check_positive(sigma, name)
    side = max(int(shape[0]), int(shape[1]))
    if sigma > side:
        raise ValueError(f"{name}={sigma:g} is larger than the image ({shape[0]}x{shape[1]} "
                         f"pixels): use at most {side}")
    return sigma


def gaussian_blur(image, sigma=1.0, truncate=4.0, boundary="reflect", cval=0.0):
    """Separable Gaussian blur ``I * G_sigma`` over the two spatial axes.

    Same result as ``scipy.ndimage.gaussian_filter(image, sigma, mode=..., truncate=...)``
    per channel ('reflect' = scipy's default).  (H, W) or (H, W, C) in, same shape out;
    float dtypes are kept, uint8 becomes float in [0, 1].  ``sigma=0`` filters nothing (a
    copy of the image, as scipy); a sigma larger than the image's larger side raises
    ValueError (:func:`check_sigma_fits`).
    """
    image = as_image(image)
    image = image.astype(_float_dtype(image), copy=False)
    if check_positive(sigma, "sigma", allow_zero=True) == 0:
        return image.copy()
    check_sigma_fits(sigma, image.shape)
    g = gaussian_kernel1d(sigma, truncate, like=image)
    out = correlate_axis(image, g, 0, boundary, cval, symmetric=True)
    return correlate_axis(out, g, 1, boundary, cval, symmetric=True)


def image_gradients(image, kind="central"):
    """Finite differences along rows and columns: returns ``(d_rows, d_cols)``, each (H, W[, C]).

    forward  f'(x) = f(x+1) - f(x)
    backward f'(x) = f(x) - f(x-1)
    central  f'(x) = (f(x+1) - f(x-1)) / 2
    Differences that would reach outside the image use the nearest pixel (so they are 0 or
    one-sided at the border).
    """
    image = as_image(image)
    image = image.astype(_float_dtype(image), copy=False)
    if kind not in ("forward", "backward", "central"):
        raise ValueError(f"unknown difference kind {kind!r}; expected forward, backward or central")
    p = pad_image(image, (1, 1), (1, 1), "nearest")
    centre = p[1:-1, 1:-1]
    if kind == "forward":
        return p[2:, 1:-1] - centre, p[1:-1, 2:] - centre
    if kind == "backward":
        return centre - p[:-2, 1:-1], centre - p[1:-1, :-2]
    return (p[2:, 1:-1] - p[:-2, 1:-1]) / 2, (p[1:-1, 2:] - p[1:-1, :-2]) / 2


def sobel(image, boundary="reflect", cval=0.0):
    """Sobel derivatives ``(g_rows, g_cols)`` (unnormalised, like ``scipy.ndimage.sobel``).

    g_cols = [1 2 1]^T (rows smoothing) x [-1 0 1] (column difference) as a correlation,
    i.e. the notes' G_x = [[1,0,-1],[2,0,-2],[1,0,-1]] as a convolution; g_rows likewise
    with the axes swapped.  Each output has the input's shape.
    """
    image = as_image(image)
    image = image.astype(_float_dtype(image), copy=False)
    p = pad_image(image, (1, 1), (1, 1), boundary, cval)
    # smoothing summed as 2 d[i] + (d[i-1] + d[i+1]) (ndimage's order for a symmetric
    # kernel), so that the result is bit-identical to scipy.ndimage.sobel: equal magnitudes
    # on symmetric edges stay equal, and Canny's non-maximum suppression keeps both
    d_cols = p[:, 2:] - p[:, :-2]                        # (H+2, W)
    g_cols = 2 * d_cols[1:-1] + (d_cols[:-2] + d_cols[2:])
    d_rows = p[2:] - p[:-2]                              # (H, W+2)
    g_rows = 2 * d_rows[:, 1:-1] + (d_rows[:, :-2] + d_rows[:, 2:])
    return g_rows, g_cols


def gradient_magnitude_direction(image, operator="sobel", boundary="reflect"):
    """Gradient magnitude, exact angle and the notes' 8 discrete directions.

    magnitude = sqrt(g_x^2 + g_y^2); angle = atan2(g_y, g_x) in (-pi, pi] with x along
    columns and y along rows; direction = round(angle / (pi/4)) mod 8 in 0..7
    (0 = +x, 2 = +y, 4 = -x, 6 = -y).  ``operator``: 'sobel' or 'central'.
    Returns ``(magnitude, angle, direction)``, each (H, W[, C]); direction is int8.
    """
    xp = get_array_module(image)
    if operator == "sobel":
        g_rows, g_cols = sobel(image, boundary)
    elif operator == "central":
        g_rows, g_cols = image_gradients(image, "central")
    else:
        raise ValueError(f"unknown gradient operator {operator!r}; expected 'sobel' or 'central'")
    magnitude = xp.hypot(g_rows, g_cols)
    angle = xp.arctan2(g_rows, g_cols)
    direction = (xp.rint(angle / (math.pi / 4)).astype(xp.int64) % 8).astype(xp.int8)
    return magnitude, angle, direction
