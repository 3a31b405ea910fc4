"""Vector normalisation, cosine similarity and distances (differentiable compositions of
primitives)."""
from __future__ import annotations

from ... import backend
from ...ops.elementwise import ClampMinValue
from ...tensor import Tensor, where


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


def _norm(d, p, dim, keepdim):
    """||d||_p along ``dim``; p = 0 counts the non-zero entries (gradient 0), as torch."""
    if p == 0:
        count = (d.array != 0).sum(axis=dim, keepdims=keepdim).astype(d.dtype)
        xp = backend.get_array_module(count)
        # the graph of d.sum carries the zero gradient to d (and requires_grad to the result)
        return where(xp.ones(count.shape, dtype=bool), Tensor.wrap(count),
                     d.sum(dim=dim, keepdim=keepdim))
    return d.norm(p, dim=dim, keepdim=keepdim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim of the broadcast inputs (torch's: eps is added to
    the difference, so identical vectors are eps * D^(1/p) apart with a finite gradient)."""
    dim = max(x1.ndim, x2.ndim) - 1
    if dim < 0:
        raise RuntimeError("pairwise_distance: expected inputs of at least 1 dim, got scalars")
    return _norm(x1 - x2 + eps, p, dim, keepdim)


def pdist(input, p=2.0):
    """The p-norm distances between the rows of ``input`` (N, M), for each pair i < j in
    row-major order: shape (N (N - 1) / 2,) (torch's condensed form)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    xp = backend.get_array_module(input.array)
    i, j = xp.triu_indices(input.shape[0], 1)
    return _norm(input[i] - input[j], p, 1, False)
