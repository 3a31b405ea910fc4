"""The affine map primitive ``LinearFn``: y = x W^T + b.

Shapes: x (*, in_features), W (out_features, in_features), b (out_features,) -> y (*, out).
"""
from __future__ import annotations

from ..autograd.function import Function
from . import dual
from .linalg import product


class LinearFn(Function):
    """y = x W^T + b;  dL/dx = g W,  dL/dW = g^T x,  dL/db = sum of g over the leading dims.

    The leading dims of x are flattened into one (one GEMM for every shape), split over the
    intra-op threads (``linalg.product``).  The backward uses only matmul/reshape/sum, so it
    also runs on Tensors (``create_graph=True``).
    """

    higher_order = True

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = product(x.reshape(-1, x.shape[-1]), weight.T, bias)
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[:2]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        out_features, in_features = weight.shape
        g2 = g.reshape((-1, out_features))
        gx = product(g2, weight).reshape(tuple(x.shape)) if need_x else None
        gw = gb = None
        if need_w or need_b:
            if need_w:
                gw = product(dual.swap_last(g2), x.reshape((-1, in_features)))
            if need_b:
                gb = g2.sum(axis=0)
        if ctx.has_bias:
            return gx, gw, gb
        return gx, gw
