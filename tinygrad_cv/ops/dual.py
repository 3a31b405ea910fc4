"""Operations that accept raw arrays or Tensors alike.

Primitive backward formulas are written once with these helpers (and Python operators), so the
same code runs on raw arrays in the fast first-order path and on Tensors -- recording a
differentiable graph -- when the engine runs with ``create_graph=True``.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, where as tensor_where


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def raw(x):
    """The underlying array of a Tensor (other values unchanged)."""
    return x.array if isinstance(x, Tensor) else x


def exp(x):
    """e^x of an array or Tensor."""
    return x.exp() if isinstance(x, Tensor) else backend.get_array_module(x).exp(x)


def log(x):
    """ln x of an array or Tensor."""
    return x.log() if isinstance(x, Tensor) else backend.get_array_module(x).log(x)


def sin(x):
    """sin x of an array or Tensor."""
    return x.sin() if isinstance(x, Tensor) else backend.get_array_module(x).sin(x)


def cos(x):
    """cos x of an array or Tensor."""
    return x.cos() if isinstance(x, Tensor) else backend.get_array_module(x).cos(x)


def zeros(shape, dtype, like=None):
    xp = backend.get_array_module(like) if like is not None else backend.module_for_device("cpu")
    return xp.zeros(shape, dtype=dtype)


def astype(x, dtype):
    return x.to(dtype) if isinstance(x, Tensor) else x.astype(dtype, copy=False)


def broadcast_to(x, shape):
    if tuple(x.shape) == tuple(shape):
        return x
    if isinstance(x, Tensor):
        return x.expand(*shape)
    return backend.get_array_module(x).broadcast_to(x, shape)


def permute(x, axes):
    return x.permute(*axes) if isinstance(x, Tensor) else x.transpose(axes)


def swap_last(x):
    """Swap the last two axes (the matrix transpose of a batch)."""
    return x.transpose(-1, -2) if isinstance(x, Tensor) else x.swapaxes(-1, -2)


def sum_to(x, shape):
    """Sum ``x`` over the axes that broadcasting added or stretched, giving ``shape``.

    If ``y = broadcast_to(a, S)`` then ``dL/da = sum_to(dL/dy, a.shape)``.
    """
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    if axes:
        x = x.sum(axis=axes, keepdims=True)
    return x.reshape(shape)


def where(cond, a, b):
    """``a`` where the boolean array ``cond`` holds, else ``b`` (either may be a scalar); a
    recorded op when ``a`` or ``b`` is a Tensor."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return tensor_where(cond, a, b)
    return backend.get_array_module(cond).where(cond, a, b)


def masked(g, keep):
    """``g`` where the bool array ``keep`` holds, else 0 even where g is inf or NaN (torch's
    masked gradients: ``where``, not a product with the mask); recorded when g is a Tensor."""
    if isinstance(g, Tensor):
        return tensor_where(keep, g, 0.0)
    return backend.zero_unless(g, keep)


def zeros_grad(like, g):
    """A zero gradient shaped like ``like``, a Tensor when ``g`` is one (create_graph)."""
    xl = raw(like)
    z = backend.get_array_module(xl).zeros(xl.shape, dtype=raw(g).dtype)
    return Tensor.wrap(z) if isinstance(g, Tensor) else z


def sign(x):
    """sign of a raw array with sign(NaN) = 0, as torch's sgn in gradients."""
    return (x > 0).astype(x.dtype) - (x < 0)
