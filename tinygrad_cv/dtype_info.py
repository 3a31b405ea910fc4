"""torch's ``finfo``/``iinfo`` (the numerical limits of a dtype) and the dtype predicates
``is_complex``/``is_signed``, from the array library's own limits."""
from __future__ import annotations

from . import backend
from .creation import get_default_dtype
from .tensor import Tensor


class finfo:  # noqa: N801  (torch's name)
    """The limits of a floating dtype (default: the default dtype): ``bits``, ``eps``, ``max``,
    ``min``, ``tiny`` (= ``smallest_normal``), ``resolution`` and ``dtype`` (its name)."""

    def __init__(self, type=None):  # noqa: A002  (torch's argument name)
        dtype = get_default_dtype() if type is None else backend.dtype(type)
        if dtype.kind != "f":
            raise TypeError(f"torch.finfo() requires a floating point input type. Use "
                            f"torch.iinfo to handle '{dtype}'")
        info = backend.module_for_device("cpu").finfo(dtype)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = str(dtype)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801  (torch's name)
    """The limits of an integer (or bool) dtype: ``bits``, ``max``, ``min`` and ``dtype``."""

    def __init__(self, type):  # noqa: A002
        dtype = backend.dtype(type)
        if dtype.kind not in "iub":
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo "
                            f"to handle '{dtype}'")
        if dtype.kind == "b":
            self.bits, self.min, self.max = 8, 0, 1
        else:
            info = backend.module_for_device("cpu").iinfo(dtype)
            self.bits, self.min, self.max = int(info.bits), int(info.min), int(info.max)
        self.dtype = str(dtype)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def is_complex(input):
    """False: the tensors here are real."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_complex(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    return False


def is_signed(self):
    """Whether the dtype represents negative numbers (floats and signed integers)."""
    return self.dtype.kind in "if"


Tensor.is_complex = is_complex
Tensor.is_signed = is_signed
