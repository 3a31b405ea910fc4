"""``tinygrad_cv.accelerator``: torch.accelerator's queries (the only accelerator is CUDA).

``current_accelerator()`` is ``device("cuda")`` when a GPU is usable and ``None`` otherwise,
as torch returns on a CPU-only machine.
"""
from __future__ import annotations

from . import backend
from .devices import device


def is_available() -> bool:
    """True when a GPU is usable."""
    return backend.cuda_available()


def current_accelerator(check_available: bool = False):
    """``device("cuda")`` with a usable GPU, else None."""
    return device("cuda") if backend.cuda_available() else None


def device_count() -> int:
    """1 with a usable GPU, else 0."""
    return 1 if backend.cuda_available() else 0


def current_device_index() -> int:
    """0 with a usable GPU; raises otherwise."""
    if not backend.cuda_available():
        raise RuntimeError("accelerator.current_device_index(): no accelerator is available")
    return 0


def synchronize(device=None) -> None:
    """Wait for queued GPU work; raises without a GPU."""
    if not backend.cuda_available():
        raise RuntimeError("accelerator.synchronize(): no accelerator is available")
    backend.synchronize("cuda")
