"""Input checks shared by the classic algorithms: each failure is a ValueError naming the problem."""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module, is_array


def as_image(image, name: str = "image", allow_color: bool = True, dtype=None,
             channels=None):
    """Check ``image`` and return it as a float array in [0, 1].

    Accepts (H, W) or, when ``allow_color``, (H, W, C) arrays (``channels``: the allowed C, any
    when None).  Integers are intensities scaled as scikit-image's ``img_as_float``: divided by
    their dtype's maximum (uint8 by 255, uint16 by 65535; signed types then clipped at -1),
    bool becomes 0/1.  ``dtype=None`` gives float64 for integer input and keeps
    float32/float64; a dtype (e.g. ``"float32"``) casts every input to it (integers:
    ``x.astype(dtype) / max`` in that dtype; in float64 ``x * (1 / max)``, bit-identical to
    ``img_as_float``).  Raises ValueError for a non-array, a wrong ndim
    or channel count, an empty image, a complex or object dtype, or NaN/Inf values.
    """
    if not is_array(image):
        raise ValueError(f"{name} must be a numpy or cupy array, got {type(image).__name__}")
    ndims = (2, 3) if allow_color else (2,)
    if image.ndim not in ndims:
        shapes = "(H, W) or (H, W, C)" if allow_color else "(H, W)"
        raise ValueError(f"{name} must have shape {shapes}, got ndim={image.ndim} "
                         f"shape={tuple(image.shape)}")
    if channels is not None and image.ndim == 3 and image.shape[2] not in channels:
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C) with C in "
                         f"{', '.join(map(str, channels))}; got shape {tuple(image.shape)}")
    if image.size == 0:
        raise ValueError(f"{name} is empty: shape {tuple(image.shape)}")
    xp = get_array_module(image)
    kind = image.dtype.kind
    target = xp.float64 if dtype is None else dtype
    if kind == "b":
        return image.astype(target)
    if kind in "iu":
        top = xp.iinfo(image.dtype).max
        if xp.dtype(target) == xp.float64:   # times the reciprocal: img_as_float's rounding
            scaled = image.astype(target) * (1.0 / top)
        else:                                # float32: the plain quotient
            scaled = image.astype(target) / xp.asarray(top, dtype=target)
        return scaled if kind == "u" else xp.maximum(scaled, xp.asarray(-1, dtype=target))
    if kind != "f":
        raise ValueError(f"{name} has unsupported dtype {image.dtype}; expected float, integer or bool")
    check_finite(image, name)
    return image if dtype is None else image.astype(dtype, copy=False)


def as_float_array(array, name: str, ndim=None, min_rows: int = 0):
    """Check a numeric array (points, features, kernels) and return it as floating point.

    ``ndim`` may be an int or a tuple of allowed ndims; ``min_rows`` is the least allowed
    length of the first axis.  Raises ValueError on a wrong ndim, too few rows, a non-numeric
    dtype or NaN/Inf values.
    """
    if not is_array(array):
        raise ValueError(f"{name} must be a numpy or cupy array, got {type(array).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            raise ValueError(f"{name} must have ndim in {allowed}, got shape {tuple(array.shape)}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: shape {tuple(array.shape)}")
    if array.ndim and array.shape[0] < min_rows:
        raise ValueError(f"{name} has {array.shape[0]} rows, at least {min_rows} are needed")
    xp = get_array_module(array)
    kind = array.dtype.kind
    if kind in "biu":
        return array.astype(xp.float64)
    if kind != "f":
        raise ValueError(f"{name} has unsupported dtype {array.dtype}; expected a real number type")
    check_finite(array, name)
    return array


def check_finite(array, name: str) -> None:
    """Raise ValueError when ``array`` holds NaN or Inf."""
    xp = get_array_module(array)
    if not bool(xp.isfinite(array).all()):
        raise ValueError(f"{name} contains NaN or Inf values")


def check_positive(value, name: str, allow_zero: bool = False) -> float:
    """A positive (or non-negative) finite scalar, else ValueError."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value != value or value == float("inf"):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {relation}, got {value}")
    return value


# Squared Euclidean distances of coordinates up to this size stay finite in float64 (for any
# practical number of features); beyond it they overflow to inf and every comparison breaks.
MAX_COORDINATE = 1e150


def check_distance_safe(array, name: str) -> None:
    """Raise ValueError when ``array`` holds NaN/Inf or values beyond ``MAX_COORDINATE`` in
    magnitude (squared distances between such points overflow)."""
    xp = get_array_module(array)
    check_finite(array, name)
    if array.size and float(xp.abs(array).max()) > MAX_COORDINATE:
        raise ValueError(f"{name} has values beyond {MAX_COORDINATE:g} in magnitude: squared "
                         "distances would overflow; rescale the data")
