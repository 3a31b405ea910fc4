"""The differentiable-function contract and the thread-local autograd modes.

A ``Function`` subclass defines two static methods on raw arrays::

    forward(ctx, *arrays, **kw) -> array | tuple of arrays
    backward(ctx, *grads)        -> grad | tuple of grads (one per input, None where unused)

``Fn.apply(*tensors, **kw)`` runs ``forward`` on the tensors' arrays and, when grad mode is on
and some input requires grad, records ``ctx`` as the creator of the outputs (the tape).
Non-Tensor arguments (Python scalars, arrays) are constants.

Built-in primitives set ``higher_order = True``: their ``backward`` only uses operations that
work both on raw arrays (the fast first-order path) and on Tensors (when the engine runs with
``create_graph=True`` it hands them Tensors, so the backward pass itself is recorded).
A Function without it raises a clear error under ``create_graph=True``.
"""
from __future__ import annotations

import threading
import weakref

from .. import backend


class _Modes(threading.local):
    grad_enabled = True
    anomaly = False


_modes = _Modes()


def is_grad_enabled() -> bool:
    return _modes.grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode to ``self.enabled``."""

    enabled = True

    def __enter__(self):
        self._prev = _modes.grad_enabled
        _modes.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _modes.grad_enabled = self._prev
        return False

    def __call__(self, func):
        import functools

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
    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._prev = _modes.grad_enabled
        _modes.grad_enabled = self.enabled

    def __enter__(self):
        return self

    def __call__(self, func):  # pragma: no cover - torch has it too, rarely used
        raise TypeError("set_grad_enabled is a context manager, not a decorator")


class detect_anomaly:
    """Raise at the op whose forward output or backward gradient first holds NaN/Inf."""

    def __enter__(self):
        self._prev = _modes.anomaly
        _modes.anomaly = True
        return self

    def __exit__(self, *exc):
        _modes.anomaly = self._prev
        return False


def is_anomaly_enabled() -> bool:
    return _modes.anomaly


def check_finite(array, what: str) -> None:
    """Raise RuntimeError (anomaly mode) when ``array`` holds NaN or Inf."""
    if array is None:
        return
    if isinstance(array, Tensor):   # (a numpy array's own .data is a memoryview)
        array = array.data
    if backend.is_floating(array.dtype):
        xp = backend.get_array_module(array)
        if not bool(xp.isfinite(array).all()):
            raise RuntimeError(f"detect_anomaly: {what} contains NaN or Inf")


_ndarray = type(backend.ensure_array(0))   # the CPU array type, for a fast exact-type check
# out_meta of a one-output node: the engine needs only the count (the (shape, dtype) pairs
# are read to zero-fill the missing gradients of multi-output nodes)
_ONE_OUTPUT = (None,)

Tensor = None  # set by tinygrad_cv.tensor once the class exists (breaks the import cycle)


class Function:
    """Base class of every differentiable operation; an instance is the node on the tape."""

    higher_order = False

    __slots__ = ("inputs", "needs_input_grad", "saved", "outputs", "out_meta", "released",
                 "non_differentiable", "__dict__")

    def save_for_backward(self, *values) -> None:
        """Keep arrays (inputs, outputs or others) for ``backward``; read them as ``saved_tensors``."""
        self.saved = values

    @property
    def saved_tensors(self):
        if self.released:
            raise RuntimeError(
                f"{type(self).__name__}: the saved values of this graph were already freed by a "
                "backward pass; call backward(retain_graph=True) to backpropagate twice")
        return self.saved

    def mark_non_differentiable(self, *arrays) -> None:
        self.non_differentiable = {id(a) for a in arrays}

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run ``forward`` on the arrays of ``inputs`` and record the node when grads are needed."""
        ctx = cls.__new__(cls)
        ctx.saved = ()
        ctx.released = False
        ctx.non_differentiable = None
        arrays = []
        needs = []
        any_needs = False
        first = None
        for x in inputs:
            if isinstance(x, Tensor):
                data = x.data
                if first is None:
                    first = data
                elif type(data) is not type(first) and \
                        backend.device_of(data) != backend.device_of(first):
                    _raise_device_mix(cls, first, data)
                arrays.append(data)
                needs.append(x.requires_grad)
                any_needs = any_needs or x.requires_grad
            else:
                arrays.append(x)
                needs.append(False)
        record = any_needs and _modes.grad_enabled
        ctx.needs_input_grad = tuple(needs) if record else (False,) * len(needs)
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:
            if "broadcast" in str(e):
                _raise_broadcast(cls, arrays, e)
            raise
        modes = _modes
        if type(out) is _ndarray or not isinstance(out, tuple):   # one output: no loops
            if type(out) is not _ndarray:
                out = backend.ensure_array(out)
            if modes.anomaly:
                check_finite(out, f"the output of {cls.__name__} (forward)")
            result = Tensor._wrap(out)
            if record:
                ctx.inputs = inputs
                ctx.outputs = (weakref.ref(result),)
                ctx.out_meta = _ONE_OUTPUT
                nd = ctx.non_differentiable
                if out.dtype.kind == "f" and (nd is None or id(out) not in nd):
                    result.requires_grad = True
                    result.creator = ctx
            else:
                ctx.saved = ()
            return result
        wrap = Tensor._wrap
        results = []
        nd = ctx.non_differentiable
        for o in out:
            o = backend.ensure_array(o)
            if modes.anomaly:
                check_finite(o, f"the output of {cls.__name__} (forward)")
            results.append(wrap(o))
        if record:
            ctx.inputs = inputs
            ctx.outputs = [weakref.ref(t) for t in results]
            ctx.out_meta = [(t.data.shape, t.data.dtype) for t in results]
            for i, t in enumerate(results):
                if t.data.dtype.kind == "f" and (nd is None or id(t.data) not in nd):
                    t.requires_grad = True
                    t.creator = ctx
                    t.out_index = i
        else:
            ctx.saved = ()
        return tuple(results)


class ShapeError(RuntimeError, ValueError):
    """Operands of an op have shapes that do not fit together (names the op and the shapes)."""


def _raise_broadcast(cls, arrays, err):
    shapes = " and ".join(str(tuple(a.shape)) for a in arrays if backend.is_array(a))
    raise ShapeError(f"{cls.__name__}: shapes {shapes} cannot be broadcast together") from err


def _raise_device_mix(cls, a, b):
    raise RuntimeError(
        f"{cls.__name__}: expected all tensors on the same device, found "
        f"{backend.device_of(a)} and {backend.device_of(b)}")
