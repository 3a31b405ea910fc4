"""The affine map primitive ``LinearFn``: y = x W^T + b.

Shapes: x (*, in_features), W (out_features, in_features), b (out_features,) -> y (*, out).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import buffers
from ..autograd.function import Function
from . import dual
from .linalg import product, products


class LinearFn(Function):
    """y = x W^T + b;  dL/dx = g W,  dL/dW = g^T x,  dL/db = sum of g over the leading dims.

    The leading dims of x are flattened into one (one GEMM for every shape), split over the
    intra-op threads (``linalg.product``), y and dL/dx written into reused buffers
    (``autograd/buffers.py``); the backward's products (dL/dx, dL/dW and, on
    arrays, dL/db = 1^T g) go to the threads in one hand-off (``linalg.products``).  The
    backward uses only matmul/reshape/sum, so it also runs on Tensors (``create_graph=True``).
    """

    higher_order = True

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        # x is saved only for dL/dW (as torch: with a frozen weight, x may change in place)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.x_shape = x.shape
        ctx.has_bias = bias is not None
        rows = math.prod(x.shape[:-1])        # not -1: in_features may be 0
        x2 = x.reshape(rows, x.shape[-1])
        xp = backend.get_array_module(x2)
        out = buffers.empty((x2.shape[0], weight.shape[0]), xp.result_type(x2, weight), x2)
        out = product(x2, weight.T, bias, out=out)
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[:2]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        out_features, in_features = weight.shape
        rows = math.prod(ctx.x_shape[:-1])
        g2 = g.reshape((rows, out_features))
        pairs = []
        if need_x:
            if dual.is_tensor(g2) or dual.is_tensor(weight):
                pairs.append((g2, weight))
            else:       # dL/dx in a reused buffer (an activation-sized array every step)
                xp = backend.get_array_module(g2)
                pairs.append((g2, weight, buffers.empty((g2.shape[0], in_features),
                                                        xp.result_type(g2, weight), g2)))
        if need_w:
            pairs.append((dual.swap_last(g2), x.reshape((rows, in_features))))
        if need_b and not dual.is_tensor(g2):     # the bias gradient as ones^T g: same hand-off
            xp = backend.get_array_module(g2)
            pairs.append((xp.ones((1, g2.shape[0]), dtype=g2.dtype), g2))
        results = products(pairs)
        gx = results.pop(0).reshape(tuple(ctx.x_shape)) if need_x else None
        gw = results.pop(0) if need_w else None
        gb = None
        if need_b:
            gb = results.pop(0).reshape(out_features) if results else g2.sum(axis=0)
        if ctx.has_bias:
            return gx, gw, gb
        return gx, gw
