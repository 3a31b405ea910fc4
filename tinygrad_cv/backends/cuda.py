"""torch.backends.cuda's flags: accepted, no effect on CuPy's kernels."""
from __future__ import annotations

from .. import backend as _backend


class _MatmulFlags:
    """``backends.cuda.matmul``: TF32 / reduced-precision switches (accepted, no effect)."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self.fp32_precision = "ieee"


matmul = _MatmulFlags()


def is_built() -> bool:
    """True when CuPy with a GPU is usable (the GPU backend is present)."""
    return _backend.cuda_available()


def flash_sdp_enabled() -> bool:
    return False


def enable_flash_sdp(enabled: bool) -> None:
    """Accepted, no effect (attention has one implementation)."""


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Accepted, no effect (attention has one implementation)."""


def enable_math_sdp(enabled: bool) -> None:
    """Accepted, no effect (attention has one implementation)."""
