"""Losses with torch's reductions: ``reduction`` is 'mean' (default), 'sum' or 'none'.

Class-score losses take scores x of shape (C,), (N, C) or (N, C, d1, ...) and integer targets
of shape (), (N,) or (N, d1, ...); 'none' returns one value per target position.
"""
from __future__ import annotations

import warnings

from ... import backend
from ...autograd.mode import modes
from ...autograd.function import Function
from ...ops import dual
from ...ops.loss import BCEFn
from ...ops.softmax import log_softmax_array
from ...tensor import Tensor, cat, where
from .distance import normalize

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def legacy_reduction(size_average, reduce, reduction, name):
    """The checked ``reduction``, or the one torch's deprecated ``size_average``/``reduce``
    give when either is not None (each None counts as True: both True 'mean', ``reduce``
    alone 'sum', ``reduce=False`` 'none'), with torch's deprecation warning."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    _check_reduction(reduction, name)
    return reduction


def _reduce(per_element, reduction):
    if reduction == "sum":
        return per_element.sum()
    if reduction == "mean":
        return per_element.mean()
    return per_element


# ---- layout helpers: the class axis (1, or 0 for unbatched input) moved last -----------------
def _class_axis(ndim):
    return 0 if ndim == 1 else 1


def _rows_array(x):
    """(C,) / (N, C) / (N, C, d...) array -> (M, C) rows (a view where possible)."""
    if x.ndim <= 2:
        return x.reshape(-1, x.shape[-1])
    xp = backend.get_array_module(x)
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows_array(rows, shape):
    """Inverse of ``_rows_array`` for an input of ``shape``."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    xp = backend.get_array_module(rows)
    moved = rows.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return xp.ascontiguousarray(xp.moveaxis(moved, -1, 1))


def _rows_tensor(x):
    """The Tensor form of ``_rows_array`` (differentiable)."""
    if x.ndim <= 2:
        return x.reshape(-1, x.shape[-1])
    axes = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(*axes).reshape(-1, x.shape[1])


def _check_class_input(name, x, target):
    """Validate the (scores, index target) pair; return the target as an int array."""
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (C,), (N, C) or (N, C, d1, ...), "
                         "got a scalar")
    t = dual.raw(target)
    if not backend.is_array(t):
        t = backend.as_array(t, device=x.device)
    if x.ndim == 1:
        expected = ()
    else:
        expected = (x.shape[0],) + tuple(x.shape[2:])
    if tuple(t.shape) != expected:
        raise ValueError(f"{name}: expected target of shape {expected} for input of shape "
                         f"{tuple(x.shape)}, got {tuple(t.shape)}")
    if not backend.is_integer_or_bool(t.dtype) or t.dtype == backend.dtype("bool"):
        raise TypeError(f"{name}: expected integer class indices as target, got dtype {t.dtype}")
    return backend.to_device(t, x.device)


def _checked_indices(name, target_rows, num_classes, ignore_index):
    """(valid mask, indices with ignored positions replaced by 0) after a range check."""
    xp = backend.get_array_module(target_rows)
    valid = target_rows != ignore_index
    safe = xp.where(valid, target_rows, 0)
    if safe.size and (int(safe.min()) < 0 or int(safe.max()) >= num_classes):
        bad = int(safe.min()) if int(safe.min()) < 0 else int(safe.max())
        raise IndexError(f"{name}: target {bad} is out of bounds for {num_classes} classes")
    return valid, safe


def _refuse_weight_grad(weight, name):
    """torch's error for class weights that require grad with index targets (the loss is not
    differentiated with respect to them; they would silently get no gradient)."""
    if isinstance(weight, Tensor) and weight.requires_grad and modes.grad_enabled:
        raise RuntimeError(f"{name}: the loss is not differentiable with respect to argument "
                           f"'weight' with class-index targets; this input cannot have "
                           f"requires_grad=True (detach it)")


def _weight_array(weight, num_classes, name, like):
    if weight is None:
        return None
    w = dual.raw(weight)
    if tuple(w.shape) != (num_classes,):
        raise ValueError(f"{name}: expected weight of shape ({num_classes},), got {tuple(w.shape)}")
    return backend.to_device(w, backend.device_of(like)).astype(like.dtype, copy=False)


# ---- cross entropy (fused) -------------------------------------------------------------------
class CrossEntropyFn(Function):
    """Softmax cross-entropy with class weights, ignore_index and label smoothing, fused.

    With logp = log_softmax(x) per row, eps = label_smoothing, C classes, weights w
    (1 when absent) and r_i = [y_i != ignore_index]:

        loss_i = (1 - eps) * r_i w_{y_i} (-logp_{i,y_i}) + eps/C * r_i * sum_c w_c (-logp_{i,c})

    'mean' divides the sum by sum_i r_i w_{y_i} (torch's weighted mean).  Backward, analytic:

        dloss_i/dx_i = (1 - eps) r_i w_{y_i} (p_i - onehot(y_i)) + eps/C r_i (p_i sum_c w_c - w)

    (p = softmax; without weights and smoothing that is (p - onehot)/N for 'mean').  When the
    'mean' divisor is 0 (every target ignored, or all kept ones of weight 0) the loss is NaN,
    the gradient NaN in the kept rows and 0 in the ignored ones, as torch.
    With probability targets t (same shape as x): q = ((1 - eps) t + eps/C) w,
    loss_i = -sum_c q_c logp_c, 'mean' divides by the number of rows, and
    dloss_i/dx_i = p_i sum_c q_c - q, dloss_i/dt_c = -(1 - eps) w_c logp_c,
    dloss_i/dw_c = -((1 - eps) t_c + eps/C) logp_c (a class weight is differentiable only
    with probability targets, as in torch).
    """

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, x, target, weight, ignore_index=-100, label_smoothing=0.0,
                reduction="mean", prob_target=False):
        xp = backend.get_array_module(x)
        rows = _rows_array(x)
        m, c = rows.shape
        logp = log_softmax_array(rows, 1)
        eps = label_smoothing
        ctx.in_shape = x.shape
        ctx.reduction = reduction
        ctx.eps = eps
        ctx.prob_target = prob_target
        if prob_target:
            base = _rows_array(target).astype(x.dtype, copy=False) * (1.0 - eps) + eps / c
            q = base if weight is None else base * weight
            per = -(q * logp).sum(axis=1)
            denom = m
            ctx.save_for_backward(logp, base, weight)
            out_shape = tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ()
        else:
            y = target.reshape(-1)
            valid, safe = _checked_indices("cross_entropy", y, c, ignore_index)
            coef = valid.astype(x.dtype) if weight is None else weight[safe] * valid
            per = logp[xp.arange(m), safe] * (-(1.0 - eps) * coef)
            if eps > 0:
                smooth = logp.sum(axis=1) if weight is None else logp @ weight
                per -= smooth * valid * (eps / c)
            denom = coef.sum()
            ctx.save_for_backward(logp, safe, valid, coef, weight)
            out_shape = target.shape
        ctx.denom = denom
        if reduction == "none":
            return per.reshape(out_shape)
        total = per.sum()
        if reduction == "mean":
            return total / denom if denom else total * xp.nan
        return total

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        if ctx.reduction == "none":
            scale = g.reshape(-1, 1)
        elif ctx.reduction == "mean":
            scale = g / ctx.denom
        else:
            scale = g
        eps = ctx.eps
        if ctx.prob_target:
            logp, base, weight = ctx.saved_tensors
            q = base if weight is None else base * weight
            grad = xp.exp(logp)
            grad *= q.sum(axis=1, keepdims=True)
            grad -= q
            grad *= scale
            gt = gw = None
            if ctx.needs_input_grad[1]:
                gt = logp * (-(1.0 - eps))
                if weight is not None:
                    gt = gt * weight
                gt = _unrows_array(gt * scale, ctx.in_shape)
            if weight is not None and ctx.needs_input_grad[2]:
                gw = -(base * logp * scale).sum(axis=0)
            return _unrows_array(grad, ctx.in_shape), gt, gw
        logp, safe, valid, coef, weight = ctx.saved_tensors
        m, c = logp.shape
        hard = coef * (1.0 - eps)
        grad = xp.exp(logp)
        if eps > 0:
            soft = valid * (eps / c)
            total_w = c if weight is None else weight.sum()
            grad *= (hard + soft * total_w)[:, None]
            grad -= soft[:, None] * (1.0 if weight is None else weight[None, :])
        else:
            grad *= hard[:, None]
        grad[xp.arange(m), safe] -= hard
        grad *= scale
        if ctx.reduction == "mean" and not ctx.denom:   # torch's NaN and 0 (class docstring)
            grad[valid] = xp.nan
            grad[~valid] = 0
        return _unrows_array(grad, ctx.in_shape), None, None


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of scores ``input`` against class indices or class probabilities.

    Index targets: shape (), (N,) or (N, d1, ...); probability targets: the shape of ``input``.
    ``label_smoothing`` eps mixes the one-hot target with the uniform 1/C distribution.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy: expected input of shape (C,), (N, C) or (N, C, d1, ...), "
                         "got a scalar")
    c = input.shape[_class_axis(input.ndim)]
    w = _weight_array(weight, c, "cross_entropy", input.array)
    t = dual.raw(target)
    prob = backend.is_array(t) and backend.is_floating(t.dtype)
    if prob:
        if int(ignore_index) >= 0:     # torch ignores a negative one (the default -100)
            raise RuntimeError(f"cross_entropy: ignore_index={ignore_index} is not supported "
                               f"for floating point (class probability) targets")
        if tuple(t.shape) != tuple(input.shape):
            raise ValueError(f"cross_entropy: probability target must have the input's shape "
                             f"{tuple(input.shape)}, got {tuple(t.shape)}")
        target = target if isinstance(target, Tensor) else Tensor.wrap(t)
        if isinstance(weight, Tensor) and weight.requires_grad:
            w = weight if weight.dtype == input.dtype else weight.to(input.dtype)
        return CrossEntropyFn.apply(input, target, w, label_smoothing=float(label_smoothing),
                                    reduction=reduction, prob_target=True)
    _refuse_weight_grad(weight, "cross_entropy")
    t = _check_class_input("cross_entropy", input, target)
    return CrossEntropyFn.apply(input, t, w, ignore_index=int(ignore_index),
                                label_smoothing=float(label_smoothing), reduction=reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` at the target classes.

    loss_i = -w_{y_i} input[i, y_i] (0 where y_i == ignore_index); 'mean' divides by
    sum_i w_{y_i} over the kept targets (only they are gathered, so ignored positions get a 0
    gradient even when that sum is 0 and the loss NaN, as torch).  Built from primitive ops
    (differentiable twice).
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "nll_loss")
    _refuse_weight_grad(weight, "nll_loss")
    t = _check_class_input("nll_loss", input, target)
    rows = _rows_tensor(input)
    m, c = rows.shape
    xp = backend.get_array_module(rows.array)
    valid, safe = _checked_indices("nll_loss", t.reshape(-1), c, ignore_index)
    w = _weight_array(weight, c, "nll_loss", input.array)
    coef = valid.astype(input.dtype) if w is None else w[safe] * valid
    if reduction == "none":
        per = rows[xp.arange(m), safe] * Tensor.wrap(-coef)
        return per.reshape(t.shape)
    kept = xp.flatnonzero(valid)
    total = (rows[kept, safe[kept]] * Tensor.wrap(-coef[kept])).sum()
    return total / Tensor.wrap(xp.asarray(coef.sum())) if reduction == "mean" else total


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge (SVM) loss:  loss_i = sum_{c != y_i} max(0, margin - x_{y_i} + x_c)^p / C,
    each term scaled by w_{y_i} when ``weight`` is given.  Input (C,) or (N, C)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got {p}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: expected input of shape (C,) or (N, C), got "
                         f"{tuple(input.shape)}")
    t = _check_class_input("multi_margin_loss", input, target)
    rows = input.reshape(-1, input.shape[-1])
    m, c = rows.shape
    xp = backend.get_array_module(rows.array)
    _, y = _checked_indices("multi_margin_loss", t.reshape(-1), c, None)
    correct = rows[xp.arange(m), y].reshape(m, 1)
    hinge = (rows - correct + margin).relu()
    if p == 2:
        hinge = hinge * hinge
    others = (xp.arange(c)[None, :] != y[:, None]).astype(input.dtype) / input.dtype.type(c)
    w = _weight_array(weight, c, "multi_margin_loss", input.array)
    if w is not None:
        others = others * w[y][:, None]
    per = (hinge * Tensor.wrap(others)).sum(dim=1)
    if reduction == "none":
        return per.reshape(t.shape)
    return _reduce(per, reduction)


# ---- binary losses ---------------------------------------------------------------------------
class BCEWithLogitsFn(Function):
    """Binary cross-entropy on logits x, target z, in the overflow-free form

        l = (1 - z) x + L * softplus(-x),  softplus(-x) = log(1 + exp(-|x|)) + max(-x, 0),
        L = 1 + (pos_weight - 1) z   (L = 1 without pos_weight: l = max(x,0) - x z + log(1+e^-|x|))

    times ``weight``.  Gradients: dl/dx = (1 - z) - L (1 - sigmoid(x)) (= sigmoid(x) - z),
    dl/dz = -x + (pos_weight - 1) softplus(-x), dl/dweight = l / weight,
    dl/dpos_weight = z softplus(-x).
    """

    @staticmethod
    def forward(ctx, x, z, weight, pos_weight, reduction="mean"):
        xp = backend.get_array_module(x)
        softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        lw = None if pos_weight is None else (pos_weight - 1) * z + 1
        loss = (1 - z) * x + (softplus_neg if lw is None else lw * softplus_neg)
        unweighted = loss
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, z, weight, pos_weight, softplus_neg, lw, unweighted)
        ctx.reduction = reduction
        ctx.n = loss.size
        if reduction == "none":
            return loss
        total = loss.sum()
        return total / x.dtype.type(ctx.n) if reduction == "mean" else total

    @staticmethod
    def backward(ctx, g):
        xp = backend.get_array_module(g)
        x, z, weight, pos_weight, softplus_neg, lw, unweighted = ctx.saved_tensors
        scale = g / ctx.n if ctx.reduction == "mean" else g
        if weight is not None:
            scale = scale * weight
        need_x, need_z, need_w, need_pw = ctx.needs_input_grad
        gx = gz = gw = gpw = None
        if need_x:
            sig_neg = xp.tanh(x * -0.5) * 0.5 + 0.5  # sigmoid(-x) = 1 - sigmoid(x)
            gx = ((1 - z) - (sig_neg if lw is None else lw * sig_neg)) * scale
        if need_z:
            gz = (-x if pos_weight is None else (pos_weight - 1) * softplus_neg - x) * scale
        if need_w:
            gw = unweighted * (g / ctx.n if ctx.reduction == "mean" else g)
        if need_pw:
            gpw = z * softplus_neg * scale
        return gx, gz, gw, gpw


def _as_like(value, like):
    """``value`` as a Tensor on ``like``'s device (arrays/lists cast to its dtype); None stays."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value
    arr = backend.as_array(value, device=like.device)
    return Tensor.wrap(arr.astype(like.dtype, copy=False))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable step (finite for logits of +-1e4)."""
    reduction = legacy_reduction(size_average, reduce, reduction,
                                 "binary_cross_entropy_with_logits")
    target = _as_like(target, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target size {tuple(target.shape)} "
                         f"must be the same as input size {tuple(input.shape)}")
    return BCEWithLogitsFn.apply(input, target, _as_like(weight, input),
                                 _as_like(pos_weight, input), reduction=reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-w (z log x + (1 - z) log(1 - x)) on probabilities x in [0, 1]; each log is clamped
    at -100 as torch does, so x = 0 or 1 gives a finite loss."""
    reduction = legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    target = _as_like(target, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"binary_cross_entropy: target size {tuple(target.shape)} must be the "
                         f"same as input size {tuple(input.shape)}")
    x = input.array
    if x.size and (float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                         "(apply sigmoid first, or use binary_cross_entropy_with_logits)")
    loss = BCEFn.apply(input, target)
    if weight is not None:
        loss = loss * _as_like(weight, input)
    return _reduce(loss, reduction)


# ---- regression losses -----------------------------------------------------------------------
def _difference(input, target, name):
    target = _as_like(target, input)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{name}: using a target size {tuple(target.shape)} that is different to "
                      f"the input size {tuple(input.shape)}; this will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)
    return input - target


def _weighted(loss, weight, input, reduction, name, mean_by_weight):
    """``loss`` times the per-element ``weight`` (the input's shape), reduced: 'mean' divides
    by sum(weight) when ``mean_by_weight`` (mse, l1) else by the element count (huber), as
    torch."""
    weight = _as_like(weight, input)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{name}: weights and input must have the same size, got "
                         f"{tuple(weight.shape)} and {tuple(input.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(x - y)^2, reduced; with ``weight`` w (the input's shape): w (x - y)^2, whose 'mean' is
    sum(w (x - y)^2) / sum(w)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    d = _difference(input, target, "mse_loss")
    if weight is not None:
        return _weighted(d * d, weight, input, reduction, "mse_loss", True)
    return _reduce(d * d, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|x - y|, reduced (gradient sign(x - y), 0 at 0); ``weight`` as in ``mse_loss``."""
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    d = _difference(input, target, "l1_loss").abs()
    if weight is not None:
        return _weighted(d, weight, input, reduction, "l1_loss", True)
    return _reduce(d, reduction)


def _smooth_l1(d, beta):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta  (beta = 0: |d|).  The quadratic
    branch squares d clamped to [-beta, beta], so an infinite d has the linear branch's
    gradient sign(d) (not inf * 0)."""
    ad = d.abs()
    if beta == 0:
        return ad
    inner = d.clamp(-beta, beta)
    return where(ad.array < beta, inner * inner * (0.5 / beta), ad - 0.5 * beta)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta  (d = x - y; beta = 0 gives L1)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _reduce(_smooth_l1(_difference(input, target, "smooth_l1_loss"), beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)  (= delta * smooth_l1 with
    beta = delta); ``weight`` (the input's shape) multiplies each term, 'mean' is then the
    plain mean of the weighted terms (torch's)."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    loss = _smooth_l1(_difference(input, target, "huber_loss"), delta) * delta
    if weight is not None:
        return _weighted(loss, weight, input, reduction, "huber_loss", False)
    return _reduce(loss, reduction)


# ---- contrastive -----------------------------------------------------------------------------
def nt_xent_loss(z1, z2=None, temperature=0.5):
    """SimCLR's normalized-temperature cross-entropy over 2N views.

    z = cat(z1, z2) (2N, D) (or z1 itself, already 2N rows); u = z / max(||z||, 1e-12);
    s_ij = u_i . u_j / temperature with s_ii excluded; row i's positive is i + N (mod 2N):

        loss = mean_i [ -s_{i, pos(i)} + log sum_{j != i} exp(s_ij) ]
    """
    if temperature <= 0:
        raise ValueError(f"nt_xent_loss: temperature must be positive, got {temperature}")
    if z2 is not None:
        if z1.ndim != 2 or tuple(z1.shape) != tuple(z2.shape):
            raise ValueError(f"nt_xent_loss: z1 and z2 must both have shape (N, D), got "
                             f"{tuple(z1.shape)} and {tuple(z2.shape)}")
        z = cat([z1, z2], dim=0)
    else:
        z = z1
    if z.ndim != 2 or z.shape[0] % 2 or z.shape[0] == 0:
        raise ValueError(f"nt_xent_loss: expected 2N stacked views of shape (2N, D), got "
                         f"{tuple(z.shape)}")
    two_n = z.shape[0]
    n = two_n // 2
    xp = backend.get_array_module(z.array)
    u = normalize(z, dim=1)
    sim = (u @ u.T) * (1.0 / temperature)
    self_pairs = xp.eye(two_n, dtype=bool)
    sim = where(self_pairs, float(xp.finfo(z.dtype).min), sim)
    positives = xp.concatenate([xp.arange(n, two_n), xp.arange(0, n)])
    return cross_entropy(sim, positives)


__all__ = ["cross_entropy", "nll_loss", "multi_margin_loss", "binary_cross_entropy_with_logits",
           "binary_cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "nt_xent_loss"]
