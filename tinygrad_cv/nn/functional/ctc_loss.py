"""Connectionist temporal classification loss (Graves et al. 2006), torch's F.ctc_loss.

For one sample with log-probabilities lp (T, C), target l (S) and blank b, the extended
target l' = (b, l1, b, l2, ..., lS, b) has L = 2S + 1 states and the forward variables

    alpha_0(0) = lp[0, b],  alpha_0(1) = lp[0, l1],  alpha_0(s) = -inf otherwise
    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) [l'(s) != b
                 and l'(s) != l'(s-2)]) + lp[t, l'(s)]
    loss = -logsumexp(alpha_{T-1}(L-1), alpha_{T-1}(L-2))   (T = the input length)

computed for the whole batch at once, one step per time step (each sample's alphas stop
changing after its input length).  The recursion is a composition of primitives, so the
gradient is the exact derivative with respect to ``log_probs`` (differentiable twice).
Torch's backward instead returns exp(lp) - gamma (its formula assumes log_softmax inputs):
through a log_softmax both give the same gradient of the logits, the documented use.

Shapes: log_probs (T, N, C) or unbatched (T, C); targets (N, S) padded, or the N targets
concatenated (sum(target_lengths),), or (S,) unbatched; input_lengths, target_lengths (N,).
``reduction``: 'mean' averages loss_n / max(target_length_n, 1), 'sum', 'none' -> (N,).
``zero_infinity``: an infinite loss (no alignment fits the input length) and its gradient
become 0.  Without it such a sample's loss is inf as in torch, and its gradient 0 (torch's is
NaN).
"""
from __future__ import annotations

from ... import backend
from ...tensor import Tensor, cat, stack, where
from .loss import _check_reduction

_NEG_INF = float("-inf")


def _logsumexp(t, dim):
    """logsumexp along ``dim`` that is -inf (with a zero gradient, not NaN) where every entry
    is -inf."""
    dead = (t.array == _NEG_INF).all(axis=dim)
    safe = where(backend.get_array_module(dead).expand_dims(dead, dim), 0.0, t)
    return where(dead, _NEG_INF, safe.logsumexp(dim=dim))


def _lengths(values, n, name, device):
    arr = values.array if isinstance(values, Tensor) else backend.as_array(values, device=device)
    arr = arr.reshape(-1)
    if not backend.is_integer_or_bool(arr.dtype) or arr.dtype == backend.dtype("bool"):
        raise RuntimeError(f"ctc_loss: {name} must be integers, got dtype {arr.dtype}")
    if arr.shape[0] != n:
        raise RuntimeError(f"ctc_loss: expected {name} to have {n} entries, got {arr.shape[0]}")
    return arr.astype(backend.dtype("int64"))


def _padded_targets(targets, target_lengths, n, batched):
    """(N, S) int64 targets from the padded or concatenated form."""
    xp = backend.get_array_module(target_lengths)
    t = targets.array if isinstance(targets, Tensor) else backend.as_array(targets)
    t = backend.to_device(t, backend.device_of(target_lengths)).astype(xp.int64)
    s = int(target_lengths.max()) if n else 0
    if not batched:
        t = t.reshape(1, -1)
    if t.ndim == 2:
        if t.shape[0] != n or t.shape[1] < s:
            raise RuntimeError(f"ctc_loss: expected targets of shape ({n}, >= {s}), got "
                               f"{tuple(t.shape)}")
        return t[:, :max(s, 1)] if t.shape[1] else xp.zeros((n, 1), dtype=xp.int64)
    if t.ndim != 1 or t.shape[0] < int(target_lengths.sum()):
        raise RuntimeError(f"ctc_loss: expected concatenated targets of length "
                           f"{int(target_lengths.sum())}, got shape {tuple(t.shape)}")
    starts = xp.concatenate([xp.zeros(1, dtype=xp.int64), xp.cumsum(target_lengths)[:-1]])
    cols = xp.arange(max(s, 1))
    index = xp.minimum(starts[:, None] + cols[None, :], max(t.shape[0] - 1, 0))
    return t[index] if t.shape[0] else xp.zeros((n, max(s, 1)), dtype=xp.int64)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss of ``log_probs`` (T, N, C) against ``targets`` (see the module docstring)."""
    _check_reduction(reduction, "ctc_loss")
    batched = log_probs.ndim == 3
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), got "
                           f"{tuple(log_probs.shape)}")
    lp = log_probs if batched else log_probs.unsqueeze(1)
    total_t, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError(f"ctc_loss: blank {blank} must be in [0, {c})")
    in_len = _lengths(input_lengths, n, "input_lengths", log_probs.device)
    tgt_len = _lengths(target_lengths, n, "target_lengths", log_probs.device)
    if n and (int(in_len.max()) > total_t or int(in_len.min()) < 0 or int(tgt_len.min()) < 0):
        raise RuntimeError(f"ctc_loss: input_lengths must be in [0, {total_t}] and "
                           f"target_lengths non-negative")
    labels = _padded_targets(targets, tgt_len, n, batched)            # (N, S)
    xp = backend.get_array_module(labels)
    s = labels.shape[1]
    valid_labels = xp.arange(s)[None, :] < tgt_len[:, None]
    if bool((((labels < 0) | (labels >= c)) & valid_labels).any()):
        raise RuntimeError(f"ctc_loss: target classes must be in [0, {c})")
    labels = xp.where(valid_labels, labels, blank)
    states = 2 * s + 1
    ext = xp.full((n, states), blank, dtype=xp.int64)
    ext[:, 1::2] = labels
    skip = xp.zeros((n, states), dtype=bool)                           # s - 2 -> s allowed
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    emissions = lp[:, xp.arange(n)[:, None], ext]                      # (T, N, L)
    first_two = xp.broadcast_to(xp.arange(states)[None, :] < 2, (n, states))   # alpha_0
    alpha = where(first_two, emissions[0], _NEG_INF)
    neg = Tensor.wrap(xp.full((n, 2), _NEG_INF, dtype=lp.dtype))
    for step in range(1, total_t):
        shift1 = cat([neg[:, :1], alpha[:, :-1]], dim=1)
        shift2 = where(skip, cat([neg, alpha[:, :-2]], dim=1), _NEG_INF)
        new = _logsumexp(stack([alpha, shift1, shift2], dim=0), 0) + emissions[step]
        alpha = where((step < in_len)[:, None], new, alpha)
    last = 2 * tgt_len                                                 # the final blank
    rows = xp.arange(n)
    ends = stack([alpha[rows, last], where(last > 0, alpha[rows, xp.maximum(last - 1, 0)],
                                           _NEG_INF)], dim=1)
    loss = -_logsumexp(ends, 1)
    empty_input = in_len == 0                   # only the empty target fits: loss 0 or inf
    if bool(empty_input.any()):
        loss = where(empty_input, Tensor.wrap(xp.where(tgt_len == 0, 0.0, float("inf")).astype(
            lp.dtype)), loss)
    if zero_infinity:
        loss = where(xp.isinf(loss.array), 0.0, loss)
    if reduction == "none":
        return loss if batched else loss.reshape(())
    if reduction == "sum":
        return loss.sum()
    divisor = Tensor.wrap(xp.maximum(tgt_len, 1).astype(lp.dtype))
    return (loss / divisor).mean()


__all__ = ["ctc_loss"]
