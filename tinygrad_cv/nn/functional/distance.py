"""Vector normalisation and cosine similarity (differentiable compositions of primitives)."""
from __future__ import annotations


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim`` (torch's F.normalize)."""
    if p == 2:
        norm = (x * x).sum(dim=dim, keepdim=True).sqrt()
    elif p == 1:
        norm = x.abs().sum(dim=dim, keepdim=True)
    else:
        norm = (x.abs() ** p).sum(dim=dim, keepdim=True) ** (1.0 / p)
    return x / norm.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """<x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (broadcasting)."""
    n1 = (x1 * x1).sum(dim=dim, keepdim=True).sqrt().clamp(min=eps)
    n2 = (x2 * x2).sum(dim=dim, keepdim=True).sqrt().clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)
