"""torch.cuda.amp's deprecated names: ``GradScaler(init_scale=2.**16, ...)`` and
``autocast(enabled=True, dtype=float16, cache_enabled=True)`` for device 'cuda', each warning
(FutureWarning) with torch's message and otherwise ``tinygrad_cv.amp``'s classes.  Reachable as
``tinygrad_cv.cuda.amp`` (also ``from tinygrad_cv.cuda.amp import GradScaler``)."""
from __future__ import annotations

import functools
import warnings

from .. import backend
from . import autocast_mode, grad_scaler

__all__ = ["GradScaler", "autocast", "custom_fwd", "custom_bwd"]


class GradScaler(grad_scaler.GradScaler):
    """Deprecated: ``tinygrad_cv.amp.GradScaler('cuda', ...)``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)


class autocast(autocast_mode.autocast):
    """Deprecated: ``tinygrad_cv.amp.autocast('cuda', ...)``."""

    def __init__(self, enabled=True, dtype=backend.dtype("float16"), cache_enabled=True):
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """Deprecated: ``tinygrad_cv.amp.custom_fwd(device_type='cuda')``."""
    if fwd is None:
        return functools.partial(custom_fwd, cast_inputs=cast_inputs)
    return autocast_mode.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd):
    """Deprecated: ``tinygrad_cv.amp.custom_bwd(device_type='cuda')``."""
    return autocast_mode.custom_bwd(bwd, device_type="cuda")
