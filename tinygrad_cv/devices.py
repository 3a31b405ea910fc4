"""``tinygrad_cv.device`` (this module: ``devices``): torch.device's twin.

    device("cpu"), device("cuda"), device("cuda", 0), device("cuda:0"); device(0) is cuda:0
    (the accelerator's index 0; an error without a GPU, as torch)
    d.type -> "cuda", d.index -> 0 (None when not given), str(d) -> "cuda:0",
    repr(d) -> "device(type='cuda', index=0)"

A device *is* its canonical string (``device`` subclasses ``str``), so it goes everywhere a
device string goes (``Tensor.to``, ``Module.to``, the factories' ``device=``) and compares,
hashes and pickles as that string: ``device("cpu") == device("cpu", None)``,
``device("cuda") != device("cuda:0")`` (as torch); unlike torch it also equals its plain
string (``device("cpu") == "cpu"``).

``Tensor.device`` is ``device("cpu")`` or ``device("cuda")``: one GPU is used (CuPy's current
device) and a tensor's device carries no index (torch says ``cuda:0``).  Placing data on a
``cuda`` index other than 0, or on a device type other than cpu/cuda, raises.

``with device("cuda"): ...`` makes it the default device for new tensors inside the block.
"""
from __future__ import annotations

from . import backend

# the device types torch knows (device() accepts them as torch does; placing data needs cpu/cuda)
_TORCH_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                "privateuseone")


def _parse(text):
    """'cuda:1' -> ('cuda', 1); 'cpu' -> ('cpu', None); errors as torch words them."""
    kind, sep, idx = text.partition(":")
    if kind not in _TORCH_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_TORCH_TYPES)} device type at start of "
                           f"device string: {text}")
    if not sep:
        return kind, None
    if not idx.isdigit() or (len(idx) > 1 and idx[0] == "0"):
        raise RuntimeError(f"Invalid device string: {text!r}")
    return kind, int(idx)


class device(str):  # noqa: N801 (torch's spelling)
    """A device type and optional index; the object is its canonical string ('cuda:0')."""

    def __new__(cls, type_or_string, index=None):
        if isinstance(type_or_string, device) and index is None:
            return type_or_string
        if isinstance(type_or_string, bool) or not isinstance(type_or_string, (str, int)):
            raise TypeError(f"device(): expected a string, a device or an int index, got "
                            f"{type(type_or_string).__name__}")
        if isinstance(type_or_string, int):   # device(i): index i of the accelerator (torch)
            if index is not None:
                raise TypeError("device(): an int device is an index; do not pass index too")
            if not backend.cuda_available():
                raise RuntimeError("Cannot access accelerator device when none is available.")
            kind, index = "cuda", type_or_string
        else:
            kind, parsed = _parse(str(type_or_string))
            if parsed is not None and index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type_or_string}")
            index = parsed if index is None else index
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"device(): argument 'index' must be int, not "
                                f"{type(index).__name__}")
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        return str.__new__(cls, kind if index is None else f"{kind}:{index}")

    def __getnewargs__(self):
        return (str(self),)

    @property
    def type(self):
        """The device type: 'cpu', 'cuda', ..."""
        return self.partition(":")[0]

    @property
    def index(self):
        """The device index, or None when none was given."""
        idx = self.partition(":")[2]
        return int(idx) if idx else None

    def __str__(self):
        return str.__str__(self)

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    # ``with device("cuda"):`` -- the default device for new tensors inside the block
    def __enter__(self):
        self.__dict__.setdefault("_previous", []).append(backend.get_default_device())
        backend.set_default_device(placement(self))
        return self

    def __exit__(self, *exc):
        backend.set_default_device(self.__dict__["_previous"].pop())
        return False


def placement(dev) -> str:
    """'cpu' or 'cuda' for where data with device ``dev`` goes (None: the default device).

    Raises for device types other than cpu/cuda and for a cuda index other than 0.
    """
    if dev is None:
        return backend.get_default_device()
    d = device(dev) if isinstance(dev, (str, int)) and not isinstance(dev, bool) else None
    if d is None:
        raise TypeError(f"expected a device (a string such as 'cpu' or 'cuda:0', or "
                        f"tinygrad_cv.device), got {type(dev).__name__}")
    if d.type not in backend.DEVICES:
        raise RuntimeError(f"device type {d.type!r} is not supported: tinygrad_cv runs on "
                           f"'cpu' (NumPy) and 'cuda' (CuPy)")
    if d.type == "cuda" and d.index not in (None, 0):
        raise RuntimeError(f"device {str(d)!r}: tinygrad_cv uses one GPU (CuPy's current "
                           f"device), addressed as 'cuda' or 'cuda:0'")
    if d.type == "cpu" and d.index not in (None, 0):
        raise RuntimeError(f"device {str(d)!r}: the cpu device has index 0 only")
    return d.type


def is_device_like(value) -> bool:
    """True for a device or a string naming one of torch's device types ('cuda:0', 'mps')."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.partition(":")[0] in _TORCH_TYPES


CPU = device("cpu")
CUDA = device("cuda")
