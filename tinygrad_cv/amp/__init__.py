"""torch.amp: ``GradScaler`` (dynamic loss scaling, exactly torch's) and ``autocast`` (a
recorded region that changes no computation: see ``autocast_mode``).  The deprecated
``tinygrad_cv.cuda.amp`` names are in ``cuda_amp``."""
from .autocast_mode import (autocast, custom_bwd, custom_fwd, get_autocast_dtype,  # noqa: F401
                            is_autocast_available, is_autocast_enabled, set_autocast_dtype,
                            set_autocast_enabled)
from .grad_scaler import GradScaler, OptState  # noqa: F401
from . import autocast_mode, grad_scaler  # noqa: F401

__all__ = ["GradScaler", "autocast", "custom_fwd", "custom_bwd", "is_autocast_available"]
