"""The thread-local autograd modes: grad recording on/off and anomaly detection.

This module imports nothing from the kernel, so ``tensor.py`` can import it first.
"""
from __future__ import annotations

import functools
import threading


class _Modes(threading.local):
    grad_enabled = True
    anomaly = False


modes = _Modes()


def is_grad_enabled() -> bool:
    return modes.grad_enabled


def is_anomaly_enabled() -> bool:
    return modes.anomaly


class _GradMode:
    """Context manager and decorator that sets grad mode to ``self.enabled``."""

    enabled = True

    def __enter__(self):
        self._prev = modes.grad_enabled
        modes.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        modes.grad_enabled = self._prev
        return False

    def __call__(self, func):
        mode = type(self)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording (``with no_grad():`` or ``@no_grad()``)."""

    enabled = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` region."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Set grad mode at construction (``set_grad_enabled(False)``); restored on leaving the
    ``with`` block."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._prev = modes.grad_enabled
        modes.grad_enabled = self.enabled

    def __enter__(self):
        return self

    def __call__(self, func):  # pragma: no cover - torch has it too, rarely used
        raise TypeError("set_grad_enabled is a context manager, not a decorator")


class detect_anomaly:
    """Raise at the op whose forward output or backward gradient first holds NaN/Inf."""

    def __enter__(self):
        self._prev = modes.anomaly
        modes.anomaly = True
        return self

    def __exit__(self, *exc):
        modes.anomaly = self._prev
        return False
