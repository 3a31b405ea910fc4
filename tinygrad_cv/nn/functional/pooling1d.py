"""1-D pooling: the 2-D poolings on an (N, C, 1, L) view.

``max_pool1d(x, k, s, p, d)`` is ``max_pool2d`` of x[..., None, :] with kernel (1, k),
stride (1, s), padding (0, p), dilation (1, d), the unit row dropped again; the same for
average and adaptive pooling and for max_unpool1d (max_unpool2d of the view).  So they share
the 2-D kernels, their gradients, ceil_mode and count_include_pad rules, CuPy support and ONNX
export; a max-pool index h * W + w is the position along L (h = 0).  Input (N, C, L) or unbatched (C, L), as torch.
"""
from __future__ import annotations

from ... import backend
from ...arguments import single
from ...tensor import Tensor
from .adaptive_max_pool import adaptive_max_pool2d
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d


def _as_rows(op, x):
    """x (N, C, L) or (C, L) as (..., 1, L), after torch's rank check."""
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input of shape (N, C, L) (3-D) or (C, L) (2-D), got "
                         f"shape {tuple(x.shape)}")
    return x.unsqueeze(-2)


def _drop_rows(y):
    return tuple(t.squeeze(-2) for t in y) if isinstance(y, tuple) else y.squeeze(-2)


def _window(op, kernel_size, stride, padding):
    (k,) = single(kernel_size, "kernel_size", op)
    (s,) = (k,) if stride is None or stride == [] else single(stride, "stride", op)
    (p,) = single(padding, "padding", op)
    if k < 1 or s < 1:
        raise ValueError(f"{op}: kernel_size and stride must be positive, got kernel_size={k} "
                         f"and stride={s}")
    if p < 0 or 2 * p > k:
        raise ValueError(f"{op}: padding should be at most half of kernel size, but got "
                         f"padding={p} and kernel_size={k}")
    return k, s, p


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of ``kernel_size`` (elements ``dilation`` apart), torch's signature;
    (N, C, L) -> (N, C, Lo), ``Lo = (L + 2 p - d (k - 1) - 1) // s + 1`` (ceil with
    ``ceil_mode``); ``return_indices=True`` also returns each maximum's position in L."""
    op = "max_pool1d"
    k, s, p = _window(op, kernel_size, stride, padding)
    (d,) = single(dilation, "dilation", op)
    if d < 1:
        raise ValueError(f"{op}: dilation must be greater than zero, but got {d}")
    return _drop_rows(max_pool2d(_as_rows(op, input), (1, k), (1, s), (0, p), (1, d), ceil_mode,
                                 return_indices))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of ``kernel_size``, torch's signature; zero padding counts in the
    divisor unless ``count_include_pad=False``; (N, C, L) -> (N, C, Lo)."""
    op = "avg_pool1d"
    k, s, p = _window(op, kernel_size, stride, padding)
    return _drop_rows(avg_pool2d(_as_rows(op, input), (1, k), (1, s), (0, p), ceil_mode,
                                 count_include_pad))


def _adaptive_size(op, output_size):
    (size,) = single(output_size, "output_size", op)
    if size < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return size


def adaptive_avg_pool1d(input, output_size):
    """Mean over torch's adaptive windows ``[floor(a L / Lo), ceil((a + 1) L / Lo))``;
    (N, C, L) -> (N, C, Lo)."""
    op = "adaptive_avg_pool1d"
    size = _adaptive_size(op, output_size)
    return _drop_rows(adaptive_avg_pool2d(_as_rows(op, input), (1, size)))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows; (N, C, L) -> (N, C, Lo) (and the maxima's positions
    in L with ``return_indices=True``)."""
    op = "adaptive_max_pool1d"
    return _drop_rows(adaptive_max_pool2d(_as_rows(op, input), (1, _adaptive_size(op, output_size)),
                                          return_indices))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse placement of ``max_pool1d(..., return_indices=True)``: ``max_unpool2d`` of
    the (N, C, 1, L) view; (N, C, L) or unbatched (C, L) -> Lo = (L - 1) s - 2 p + k, or the
    last entry of ``output_size``."""
    op = "max_unpool1d"
    (k,) = single(kernel_size, "kernel_size", op)
    (s,) = (k,) if stride is None else single(stride, "stride", op)
    (p,) = single(padding, "padding", op)
    x = _as_rows(op, input)
    idx = indices.unsqueeze(-2) if hasattr(indices, "unsqueeze") else \
        _as_rows(op, Tensor(backend.as_array(indices)))
    size = None if output_size is None else (1, int(tuple(output_size)[-1]))
    return max_unpool2d(x, idx, (1, k), (1, s), (0, p), size).squeeze(-2)
