"""The sliding-block primitives ``UnfoldFn`` (im2col) and ``FoldFn`` (col2im), each the
other's gradient (so both are differentiable any number of times); the public functions and
the block geometry are in ``nn/functional/fold.py``.

For kernel (kh, kw), dilation (dh, dw), padding (ph, pw) and stride (sh, sw), with xpad the
input zero-padded by (ph, pw) and L = Ho * Wo blocks:

    unfold:  cols[n, (c, i, j), (a, b)] = xpad[n, c, a sh + i dh, b sw + j dw]
    fold:    x[n, c, a sh + i dh - ph, b sw + j dw - pw] += cols[n, (c, i, j), (a, b)]
"""
from __future__ import annotations

from .. import backend
from ..autograd.function import Function
from . import dual


def _blocks(size, kernel, dilation, padding, stride):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _im2col(x, kernel, dilation, padding, stride):
    xp = backend.get_array_module(x)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    n, c, h, w = x.shape
    ho, wo = _blocks(h, kh, dh, ph, sh), _blocks(w, kw, dw, pw, sw)
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    s = xpad.strides
    view = backend.as_strided(xpad, (n, c, kh, kw, ho, wo),
                              (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw))
    return xp.ascontiguousarray(view).reshape(n, c * kh * kw, ho * wo)


def _col2im(cols, out_hw, kernel, dilation, padding, stride):
    xp = backend.get_array_module(cols)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    (h, w), n = out_hw, cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    ho, wo = _blocks(h, kh, dh, ph, sh), _blocks(w, kw, dw, pw, sw)
    blocks = cols.reshape(n, c, kh, kw, ho, wo)
    acc = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            acc[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                j * dw:j * dw + sw * (wo - 1) + 1:sw] += blocks[:, :, i, j]
    return xp.ascontiguousarray(acc[:, :, ph:ph + h, pw:pw + w])


class UnfoldFn(Function):
    """(N, C, H, W) -> (N, C kh kw, L); gradient: fold of the gradient."""

    higher_order = True

    @staticmethod
    def forward(ctx, x, geometry=None):
        ctx.geometry = geometry
        ctx.in_hw = x.shape[2:]
        return _im2col(x, *geometry)

    @staticmethod
    def backward(ctx, g):
        if dual.is_tensor(g):
            return FoldFn.apply(g, out_hw=ctx.in_hw, geometry=ctx.geometry)
        return _col2im(g, ctx.in_hw, *ctx.geometry)


class FoldFn(Function):
    """(N, C kh kw, L) -> (N, C, H, W); gradient: unfold of the gradient."""

    higher_order = True

    @staticmethod
    def forward(ctx, cols, out_hw=None, geometry=None):
        ctx.geometry = geometry
        return _col2im(cols, out_hw, *geometry)

    @staticmethod
    def backward(ctx, g):
        if dual.is_tensor(g):
            return UnfoldFn.apply(g, geometry=ctx.geometry)
        return _im2col(g, *ctx.geometry)
