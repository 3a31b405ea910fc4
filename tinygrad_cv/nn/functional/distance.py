"""Vector normalisation, cosine similarity and distances (differentiable compositions of
primitives)."""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from ...ops.elementwise import ClampMinValue
from ...tensor import Tensor, where


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps) along ``dim`` (torch's F.normalize; a zero vector maps to zero,
    with the finite gradient g / eps)."""
    return input / input.norm(p, dim=dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """<x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` of x1 and x2 broadcast
    to one shape.

    As torch, the clamp at ``eps`` changes the norms' values only: their gradient flows as if
    unclamped, and the norm's gradient is 0 at a zero vector (finite gradients there).
    """
    shape = backend.broadcast_shapes(x1.shape, x2.shape)
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


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """torch.cdist: the p-norm distances between the rows of x1 (B..., P, M) and x2
    (B..., R, M) -> (B..., P, R), batch dims broadcast.  For p = 2 with more than 25 rows on
    either side (or ``compute_mode='use_mm_for_euclid_dist'``), as torch, through one matrix
    product: sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0)) (0 with a 0 gradient where that is 0);
    otherwise from the differences (P R M values)."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    rows = max(x1.shape[-2], x2.shape[-2])
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
            compute_mode == _CDIST_MODES[0] and rows > 25)):
        shape = backend.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
        x1 = x1.expand(*shape, *x1.shape[-2:])
        x2 = x2.expand(*shape, *x2.shape[-2:])
        return EuclideanCdistFn.apply(x1, x2)
    return _norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1, False)


class EuclideanCdistFn(Function):
    """Euclidean distances by one matrix product, d = sqrt(max(|a|^2 + |b|^2 - 2 a.b, 0)),
    x1 (B..., P, M), x2 (B..., R, M) -> (B..., P, R), with torch's gradient from the exact
    differences (a duplicated row gets 0, however d rounds; torch differentiates the product
    formula there, whose rounding noise over a d of ~1e-8 makes its gradient ~1e-8 off):

        dL/dx1_i = sum_j w_ij (x1_i - x2_j),  dL/dx2_j = -sum_i w_ij (x1_i - x2_j),
        w = g / d  (0 where d = 0),

    in blocks of rows of x1 (``_BLOCK_VALUES`` differences at a time); first order only."""

    _BLOCK_VALUES = 1 << 21

    @staticmethod
    def forward(ctx, x1, x2):
        xp = backend.get_array_module(x1)
        squares = ((x1 * x1).sum(axis=-1)[..., :, None] + (x2 * x2).sum(axis=-1)[..., None, :]
                   - 2.0 * (x1 @ xp.swapaxes(x2, -1, -2)))
        d = xp.sqrt(xp.maximum(squares, 0))
        ctx.save_for_backward(x1, x2, d)
        return d

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        x1, x2, d = ctx.saved_tensors
        w = xp.where(d > 0, g / xp.where(d > 0, d, 1), 0)
        batch = x1.shape[:-2]
        (p, m), r = x1.shape[-2:], x2.shape[-2]
        nb = 1
        for size in batch:
            nb *= size
        a = x1.reshape(nb, p, m)
        b = x2.reshape(nb, r, m)
        w = w.reshape(nb, p, r)
        g1 = xp.empty_like(a)
        g2 = xp.zeros_like(b)
        step = max(1, EuclideanCdistFn._BLOCK_VALUES // max(1, a.shape[0] * r * m))
        for start in range(0, p, step):
            rows = slice(start, start + step)
            diff = a[:, rows, None, :] - b[:, None, :, :]          # (B, rows, R, M)
            weighted = w[:, rows, :, None] * diff
            g1[:, rows] = weighted.sum(axis=2)
            g2 -= weighted.sum(axis=1)
        return g1.reshape(*batch, p, m), g2.reshape(*batch, r, m)
