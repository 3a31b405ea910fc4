"""``tinygrad_cv.cuda``: torch.cuda's everyday functions, on CuPy.

``is_available()`` is True when CuPy imports and sees a GPU.  ``device_count()`` is 1 then
(tinygrad_cv uses one GPU: CuPy's current device) and 0 otherwise.  ``manual_seed`` and
``manual_seed_all`` seed the GPU generator only (CPU draws keep their stream), and like torch
they are accepted without a GPU.  ``synchronize()`` waits for queued GPU work and raises
without a GPU (as torch does).
"""
from __future__ import annotations

from . import backend
from .devices import placement


def is_available() -> bool:
    """True when the GPU backend (CuPy with a device) is usable."""
    return backend.cuda_available()


def device_count() -> int:
    """1 with a usable GPU (one device is used), else 0."""
    return 1 if backend.cuda_available() else 0


def current_device() -> int:
    """The index of the GPU in use (always 0); raises without a GPU."""
    _require("current_device")
    return 0


def manual_seed(seed: int) -> None:
    """Seed the GPU generator (a no-op without a GPU, as in torch)."""
    backend.seed_device("cuda", int(seed))


manual_seed_all = manual_seed


def synchronize(device=None) -> None:
    """Wait for all queued work on the GPU."""
    _require("synchronize")
    if device is not None and placement(device) != "cuda":
        raise ValueError(f"synchronize(): expected a cuda device, got {device!r}")
    backend.synchronize("cuda")


def get_device_name(device=None) -> str:
    """The GPU's name (raises without a GPU)."""
    _require("get_device_name")
    props = backend.module_for_device("cuda").cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def empty_cache() -> None:
    """Return the GPU memory pool's unused blocks to the driver (a no-op without a GPU)."""
    if backend.cuda_available():
        backend.module_for_device("cuda").get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by tensors now (0 without a GPU)."""
    if not backend.cuda_available():
        return 0
    return int(backend.module_for_device("cuda").get_default_memory_pool().used_bytes())


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: there is no bfloat16 dtype."""
    return False


def _require(what):
    if not backend.cuda_available():
        raise RuntimeError(f"cuda.{what}(): no GPU is available (CuPy with a CUDA device is "
                           "needed; tinygrad_cv.cuda.is_available() is False)")


# torch.cuda's typed constructors: cuda.FloatTensor(2, 3), x.type(cuda.LongTensor)
from .creation import _tensor_types  # noqa: E402

_CUDA_TYPES = _tensor_types("cuda")
FloatTensor = _CUDA_TYPES["FloatTensor"]
DoubleTensor = _CUDA_TYPES["DoubleTensor"]
HalfTensor = _CUDA_TYPES["HalfTensor"]
LongTensor = _CUDA_TYPES["LongTensor"]
IntTensor = _CUDA_TYPES["IntTensor"]
ShortTensor = _CUDA_TYPES["ShortTensor"]
CharTensor = _CUDA_TYPES["CharTensor"]
ByteTensor = _CUDA_TYPES["ByteTensor"]
BoolTensor = _CUDA_TYPES["BoolTensor"]


# torch.cuda.amp (deprecated names); also importable as ``tinygrad_cv.cuda.amp``
import sys as _sys  # noqa: E402

from .amp import cuda_amp as amp  # noqa: E402

_sys.modules[__name__ + ".amp"] = amp
