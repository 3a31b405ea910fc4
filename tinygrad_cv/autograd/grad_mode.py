"""torch.autograd.grad_mode's names (the grad modes live in ``mode.py``)."""
from .mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401

__all__ = ["enable_grad", "inference_mode", "no_grad", "set_grad_enabled"]
