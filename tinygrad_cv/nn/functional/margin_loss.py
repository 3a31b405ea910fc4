"""Margin and embedding losses with torch's reductions ('mean', 'sum', 'none'):

    margin_ranking_loss          max(0, -y (x1 - x2) + margin)
    hinge_embedding_loss         x where y != -1, plus max(0, margin - x) where y != 1
    soft_margin_loss             log(1 + exp(-y x))
    cosine_embedding_loss        1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1
    triplet_margin_loss          max(0, margin + d(a, p) - d(a, n)), d = pairwise_distance
    triplet_margin_with_distance_loss   the same with any distance function
    multilabel_soft_margin_loss  mean over classes of -(y logsig(x) + (1 - y) logsig(-x)) [w]
    multilabel_margin_loss       sum_{j target, k not} max(0, 1 - x[y_j] + x[k]) / C

Shapes as torch: elementwise losses keep the broadcast shape for 'none'; cosine embedding
and triplet losses give one value per row ((N,) or ()); the multilabel losses one per sample.
Every loss is a composition of primitives (differentiable twice); each hinge max(0, z) is
torch's clamp_min (gradient 1 at z = 0), except multilabel_margin_loss's (0 there, as torch's).
"""
from __future__ import annotations

from ... import backend
from ...tensor import Tensor, where
from .activation import logsigmoid
from .distance import pairwise_distance
from .loss import _as_like, _check_reduction, _reduce, legacy_reduction


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -y (x1 - x2) + margin) for targets y in {1, -1} (x1 should rank higher for 1)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "margin_ranking_loss")
    target = _as_like(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss: all input tensors should have the same number "
                           f"of dims, got {input1.ndim}, {input2.ndim} and {target.ndim}")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where y != -1 plus max(0, margin - x) where y != 1 (torch's rule, also for targets
    outside {1, -1})."""
    reduction = legacy_reduction(size_average, reduce, reduction, "hinge_embedding_loss")
    y = _as_like(target, input).array
    loss = where(y != 1, (margin - input).clamp(min=0.0), 0.0) + where(y != -1, input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)) (two-class logistic loss for targets y in {1, -1}), computed as
    -log sigmoid(y x) (finite where torch's direct form overflows to inf, y x < -88 in float32)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "soft_margin_loss")
    return _reduce(-logsigmoid(_as_like(target, input) * input), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1, 0 otherwise;
    cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) along the last dim.
    Inputs (N, D) with target (N,), or (D,) with a 0-d target."""
    reduction = legacy_reduction(size_average, reduce, reduction, "cosine_embedding_loss")
    target = _as_like(target, input1)
    if target.ndim not in (0, 1):
        raise RuntimeError("cosine_embedding_loss: 0D or 1D target tensor expected, multi-target "
                           "not supported")
    if input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise RuntimeError(f"cosine_embedding_loss: {target.ndim}D target tensor expects "
                           f"{target.ndim + 1}D input tensors, but found inputs with sizes "
                           f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    dim = input1.ndim - 1
    dot = (input1 * input2).sum(dim=dim)
    mag1 = (input1 * input1).sum(dim=dim) + 1e-12
    mag2 = (input2 * input2).sum(dim=dim) + 1e-12
    cos = dot / (mag1 * mag2).sqrt()
    y = target.array
    loss = where(y == 1, 1.0 - cos, 0.0) + where(y == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(loss, reduction)


def _check_triplet(anchor, positive, negative, name):
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"{name}: the anchor, positive, and negative tensors are expected to "
                           f"have the same number of dimensions, but got: anchor {anchor.ndim}D, "
                           f"positive {positive.ndim}D, and negative {negative.ndim}D inputs")


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) with d = pairwise_distance(., ., p, eps); ``swap``
    uses min(d(a, n), d(p, n)).  Inputs (..., D) of one number of dims."""
    reduction = legacy_reduction(size_average, reduce, reduction, "triplet_margin_loss")
    _check_triplet(anchor, positive, negative, "triplet_margin_loss")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    return _triplet(anchor, positive, negative,
                    lambda a, b: pairwise_distance(a, b, p, eps), margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``triplet_margin_loss`` with ``distance_function(x, y)`` (default: pairwise_distance)."""
    _check_reduction(reduction, "triplet_margin_with_distance_loss")
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, "
                         f"got {margin}")
    _check_triplet(anchor, positive, negative, "triplet_margin_with_distance_loss")
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance,
                    margin, swap, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Mean over the classes (last dim) of -(y log sigmoid(x) + (1 - y) log sigmoid(-x)),
    each term times ``weight`` (broadcast) when given; one value per sample for 'none'."""
    reduction = legacy_reduction(size_average, reduce, reduction, "multilabel_soft_margin_loss")
    target = _as_like(target, input)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * _as_like(weight, input)
    dim = input.ndim - 1
    loss = loss.sum(dim=dim) / input.shape[dim]
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j and non-target classes k of max(0, 1 - x[y_j] + x[k]), over C.
    ``target`` (the input's shape, integer) lists each sample's classes, ended by the first -1.
    Input (C,) or (N, C)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "multilabel_margin_loss")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multilabel_margin_loss: expected input of shape (C,) or (N, C), "
                           f"got {tuple(input.shape)}")
    y = target.array if isinstance(target, Tensor) else backend.as_array(target,
                                                                         device=input.device)
    if tuple(y.shape) != tuple(input.shape):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size {tuple(y.shape)} "
                           f"for input of size {tuple(input.shape)}")
    if not backend.is_integer_or_bool(y.dtype) or y.dtype == backend.dtype("bool"):
        raise TypeError(f"multilabel_margin_loss: expected integer class indices as target, "
                        f"got dtype {y.dtype}")
    xp = backend.get_array_module(y)
    rows = input.reshape(-1, input.shape[-1])
    y = y.reshape(rows.shape)
    n, c = rows.shape
    listed = xp.cumprod(y != -1, axis=1).astype(bool)      # entries before the first -1
    if bool(((y < -1) | (y >= c))[listed].any()):
        raise IndexError(f"multilabel_margin_loss: target class out of range [0, {c})")
    safe = xp.where(listed, y, 0)
    is_target = xp.zeros((n, c), dtype=bool)
    is_target[xp.nonzero(listed)[0], safe[listed]] = True
    picked = rows.gather(1, Tensor.wrap(safe.astype(xp.int64)))          # x[y_j], (n, c)
    hinge = (rows.unsqueeze(1) - picked.unsqueeze(2) + 1.0).relu()      # (n, j, k)
    pairs = (listed[:, :, None] & ~is_target[:, None, :]).astype(input.dtype)
    loss = (hinge * Tensor.wrap(pairs)).sum(dim=(1, 2)) / c
    return _reduce(loss.reshape(input.shape[:-1]), reduction)


__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "multilabel_soft_margin_loss", "multilabel_margin_loss"]
