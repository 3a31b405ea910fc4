"""Activations: relu, leaky_relu, sigmoid, tanh, gelu (erf / tanh), silu, softmax, log_softmax.

Shapes: any input shape; the output has the same shape (softmax/log_softmax along ``dim``).
The primitives (formulas, derivatives) are in ``ops.activation`` (LeakyReLUFn, GELUFn, SiLUFn)
and ``ops.elementwise`` (ReLU, Sigmoid, Tanh); every activation here is differentiable twice.
"""
from __future__ import annotations

from ...autograd.inplace import apply_inplace
from ...ops.activation import GELUFn, LeakyReLUFn, SiLUFn


def relu(x, inplace=False):
    """max(x, 0);  gradient [x > 0].  ``inplace=True`` overwrites x (torch's rules)."""
    return x.relu_() if inplace else x.relu()


def leaky_relu(x, negative_slope=0.01, inplace=False):
    def fn(t):
        return LeakyReLUFn.apply(t, negative_slope=float(negative_slope))
    return apply_inplace(x, fn) if inplace else fn(x)


def sigmoid(x):
    """1 / (1 + exp(-x));  gradient s (1 - s)."""
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def gelu(x, approximate="none"):
    """GELU, exact (``approximate='none'``, via erf) or the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFn.apply(x, approximate=approximate)


def silu(x, inplace=False):
    return apply_inplace(x, SiLUFn.apply) if inplace else SiLUFn.apply(x)


def _softmax_dim(x, dim, name):
    if dim is None:
        # torch's legacy implicit choice: dim 0 for 0/1/3-D inputs, 1 otherwise
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for an input of shape {tuple(x.shape)}")
    return dim


def softmax(x, dim=None, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (stable: the maximum is subtracted first)."""
    if dtype is not None:
        x = x.to(dtype)
    return x.softmax(_softmax_dim(x, dim, "softmax"))


def log_softmax(x, dim=None, dtype=None):
    """x_i - logsumexp_j x_j along ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    return x.log_softmax(_softmax_dim(x, dim, "log_softmax"))


__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "softmax", "log_softmax"]
