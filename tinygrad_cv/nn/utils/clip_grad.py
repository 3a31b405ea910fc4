"""Gradient clipping (torch.nn.utils' get_total_norm, clip_grads_with_norm_, clip_grad_norm_,
clip_grad_value_)."""
from __future__ import annotations

import math

from ... import backend
from ...autograd.versions import bump_version
from ...tensor import Tensor


def _tensors(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters):
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


@backend.fp_quiet  # a negative order of a zero entry is inf, silently (torch)
def _vector_norm(xp, a, p):
    """||a||_p of the flattened array ``a``: max|a| (p = inf), min|a| (p = -inf), the number of
    non-zero entries (p = 0), else (sum |a|^p)^(1/p); in ``a``'s floating dtype."""
    a = xp.abs(a.reshape(-1))
    dtype = a.dtype if backend.is_floating(a.dtype) else backend.dtype("float32")
    if math.isinf(p):
        if a.size == 0:
            if p > 0:
                return xp.zeros((), dtype)
            raise RuntimeError("the -inf norm of an empty gradient has no identity value")
        return (a.max() if p > 0 else a.min()).astype(dtype)
    if p == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=dtype)
    return ((a.astype(dtype) ** p).sum() ** (1.0 / p)).astype(dtype)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of order ``norm_type`` of the norms of ``tensors`` (= the norm of all their
    entries together), a 0-d Tensor; 0 for no tensors.  ``foreach`` changes nothing."""
    arrays = [t.array for t in _tensors(tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(0.0)
    xp = backend.get_array_module(arrays[0])
    norms = xp.stack([_vector_norm(xp, a, norm_type) for a in arrays])
    total = _vector_norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    return Tensor.wrap(total)


@backend.fp_quiet
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiply every gradient in place by min(1, max_norm / (total_norm + 1e-6)) (a NaN total
    makes them NaN, as torch; an inf total makes inf elements NaN, silently as torch)."""
    grads = _grads(parameters)
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else total_norm
    xp = backend.get_array_module(grads[0].array)
    total = xp.asarray(total, dtype=getattr(total, "dtype", None) or grads[0].dtype)
    max_norm = float(max_norm.item() if isinstance(max_norm, Tensor) else max_norm)
    # in the norm's dtype, as torch (the rounding of the coefficient matches)
    coef = xp.asarray(max_norm, dtype=total.dtype) / (total + xp.asarray(1e-6, dtype=total.dtype))
    if not bool(coef >= 1.0):
        for g in grads:
            g.array *= coef.astype(g.dtype)
            bump_version(g)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = || (||g_1||_q, ..., ||g_n||_q) ||_q  (q = ``norm_type``: inf, -inf, 0 or any
    other number, as torch's vector norm); every g_p is multiplied in place by
    min(1, max_norm / (total + 1e-6)).  Returns ``total`` (the norm before clipping) as a 0-d
    Tensor.  ``foreach`` changes nothing (one implementation).
    """
    parameters = _tensors(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clip every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = backend.get_array_module(g.array)
        xp.clip(g.array, -clip_value, clip_value, out=g.array)
        bump_version(g)


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated name of ``clip_grad_norm_`` (warns as torch's)."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
