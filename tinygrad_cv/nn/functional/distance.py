"""Vector normalisation and cosine similarity (differentiable compositions of primitives)."""
from __future__ import annotations

from ... import backend
from ...ops.elementwise import ClampMinValue


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim`` (torch's F.normalize; a zero vector maps to zero,
    with the finite gradient g / eps)."""
    return x / x.norm(p, dim=dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """<x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` of x1 and x2 broadcast
    to one shape.

    As torch, the clamp at ``eps`` changes the norms' values only: their gradient flows as if
    unclamped, and the norm's gradient is 0 at a zero vector (finite gradients there).
    """
    shape = backend.get_array_module(x1.array).broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = ClampMinValue.apply(x1.norm(2, dim=dim, keepdim=True), lo=eps)
    n2 = ClampMinValue.apply(x2.norm(2, dim=dim, keepdim=True), lo=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)
