"""The thread-local autograd modes: grad recording on/off and anomaly detection.

This module imports nothing from the kernel, so ``tensor.py`` can import it first.
"""
from __future__ import annotations

import functools
import threading


class _Modes(threading.local):
    grad_enabled = True
    anomaly = False
    anomaly_check_nan = True   # anomaly mode's NaN/Inf checks (torch's check_nan)
    inference = False
    saved_hooks = None          # stack (tuple) of (pack, unpack) of saved_tensors_hooks
    saved_hooks_disabled = None   # the error message of disable_saved_tensors_hooks
    backward_pass = None        # the engine's current pass (autograd.graph's multi-grad hook)


modes = _Modes()


def is_grad_enabled() -> bool:
    return modes.grad_enabled


def is_anomaly_enabled() -> bool:
    return modes.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return modes.anomaly_check_nan


class _GradMode:
    """Context manager and decorator that sets grad mode to ``self.enabled``."""

    enabled = True

    def __new__(cls, orig_func=None):
        """``@no_grad`` without parentheses decorates ``orig_func`` directly (as torch)."""
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments (got {orig_func!r})")
        return cls()(orig_func)

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

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._prev = modes.grad_enabled
        modes.grad_enabled = self.enabled

    def __enter__(self):
        return self

    def __call__(self, func):
        """As a decorator: the mode set at construction is undone now and set on each call."""
        modes.grad_enabled = self._prev
        enabled = self.enabled

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(enabled):
                return func(*args, **kwargs)

        return wrapper


class inference_mode(_GradMode):
    """``no_grad`` for inference (``inference_mode(False)`` turns both grad mode on and inference
    mode off, as torch's); also a decorator,
    with or without parentheses.  Tensors made inside are ordinary tensors that do not require
    grad (there are no separate inference tensors)."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = modes.grad_enabled
        self._prev_inference = modes.inference
        modes.grad_enabled = not self.mode
        modes.inference = self.mode
        return self

    def __exit__(self, *exc):
        modes.grad_enabled = self._prev
        modes.inference = self._prev_inference
        return False

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    return modes.inference


class detect_anomaly:
    """Raise at the op whose forward output or backward gradient first holds NaN/Inf
    (``check_nan=False``: anomaly mode without those checks)."""

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self._prev = modes.anomaly, modes.anomaly_check_nan
        modes.anomaly, modes.anomaly_check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        modes.anomaly, modes.anomaly_check_nan = self._prev
        return False


class set_detect_anomaly:
    """torch's switch of anomaly mode: takes effect at once (``set_detect_anomaly(True)``), and
    as a context manager restores the previous mode on exit."""

    def __init__(self, mode, check_nan=True):
        self._prev = modes.anomaly, modes.anomaly_check_nan
        modes.anomaly, modes.anomaly_check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        modes.anomaly, modes.anomaly_check_nan = self._prev
        return False
