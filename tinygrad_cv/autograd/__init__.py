"""Reverse-mode automatic differentiation: the Function contract, grad modes and the engine.

``grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None)`` returns
d(outputs)/d(inputs) without touching ``.grad``; with ``create_graph=True`` the result is itself
differentiable (higher-order gradients, gradient penalties, Hessians).
"""
from __future__ import annotations

from .function import (Function, detect_anomaly, enable_grad, is_anomaly_enabled,  # noqa: F401
                       is_grad_enabled, no_grad, set_grad_enabled)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None,
         allow_unused=False):
    """Gradients of ``sum(outputs * grad_outputs)`` with respect to each of ``inputs``."""
    from .. import backend
    from ..tensor import Tensor
    from .engine import run_backward

    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = _as_list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): one of the inputs does not require grad")
    roots, root_grads = [], []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("grad(): one of the outputs does not require grad (no graph)")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad(): grad_outputs must be given for the non-scalar output "
                                   f"of shape {out.shape}")
            g = backend.get_array_module(out.data).ones(out.shape, dtype=out.dtype)
        elif isinstance(g, Tensor):
            g = g if create_graph else g.data
        roots.append(out)
        root_grads.append(g)
    if retain_graph is None:
        retain_graph = create_graph
    return run_backward(roots, root_grads, retain_graph=retain_graph, create_graph=create_graph,
                        inputs=inputs, allow_unused=allow_unused)


def backward(tensors, grad_tensors=None, retain_graph=False, create_graph=False):
    """Accumulate gradients of several outputs into the leaves at once."""
    from .. import backend
    from .engine import run_backward

    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    gs = []
    for t, g in zip(tensors, grads):
        if g is None:
            g = backend.get_array_module(t.data).ones(t.shape, dtype=t.dtype)
        gs.append(g)
    run_backward(tensors, gs, retain_graph=retain_graph or create_graph, create_graph=create_graph)


from . import functional  # noqa: E402,F401
