"""Jacobians and Hessians built on ``autograd.grad`` (one backward pass per output element)."""
from __future__ import annotations

from ..creation import zeros
from ..tensor import Tensor, stack
from .engine import grad
from .mode import enable_grad


def jacobian(func, inputs, create_graph=False):
    """J[i, j] = d func(x)_i / d x_j, shaped ``output.shape + input.shape``.

    ``inputs`` may be one Tensor or a tuple (then a tuple of Jacobians is returned).
    """
    single = isinstance(inputs, Tensor)
    xs = (inputs,) if single else tuple(inputs)
    xs = tuple(x.detach().requires_grad_() for x in xs)
    with enable_grad():
        y = func(*xs)
    flat = y.reshape(-1)
    rows = [[] for _ in xs]
    for i in range(flat.shape[0]):
        gs = grad(flat[i], xs, retain_graph=True, create_graph=create_graph, allow_unused=True)
        for k, (x, g) in enumerate(zip(xs, gs)):
            rows[k].append(g if g is not None else zeros(*x.shape, dtype=x.dtype, device=x.device))
    jac = tuple(stack(r).reshape(tuple(y.shape) + tuple(x.shape)) if r else
                zeros(*(tuple(y.shape) + tuple(x.shape)), dtype=x.dtype, device=x.device)
                for r, x in zip(rows, xs))
    if not create_graph:
        jac = tuple(j.detach() for j in jac)
    return jac[0] if single else jac


def hessian(func, inputs):
    """H[i, j] = d^2 f / dx_i dx_j of a scalar function, shaped ``x.shape + x.shape``."""
    if not isinstance(inputs, Tensor):
        raise TypeError("hessian(): inputs must be a single Tensor")

    def gradient(x):
        y = func(x)
        if y.numel() != 1:
            raise RuntimeError(f"hessian(): func must return a scalar, got shape {y.shape}")
        (g,) = grad(y, x, create_graph=True)
        return g

    return jacobian(gradient, inputs)
