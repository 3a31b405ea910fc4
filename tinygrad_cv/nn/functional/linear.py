"""Affine map y = x W^T + b (the primitive, with its gradients, is ``ops.linear.LinearFn``),
and ``FeedForwardReLUFn``, the fused first-order Linear -> ReLU -> (dropout) -> Linear block of
the transformer layers.

Shapes: x (*, in_features), W (out_features, in_features), b (out_features,) -> y (*, out).
"""
from __future__ import annotations

from ... import backend
from ...autograd.function import Function
from ...ops.linear import LinearFn


def linear(x, weight, bias=None):
    """x W^T + b with x (*, in_features), W (out_features, in_features)."""
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: expected input (*, {weight.shape[-1]}) for a weight of shape "
                         f"{tuple(weight.shape)}, got shape {tuple(x.shape)}")
    if bias is None:
        return LinearFn.apply(x, weight)
    return LinearFn.apply(x, weight, bias)


class FeedForwardReLUFn(Function):
    """y = (relu(x W1^T + b1) * m) W2^T + b2: the transformer's position-wise block in one node.

    Shapes: x (R, D), W1 (F, D), b1 (F,) or None, W2 (D', F), b2 (D',) or None -> y (R, D');
    ``keep`` None or an (R, F) array of dropout factors m (0 or 1/(1-p)), a constant.  The
    ReLU runs in place on the first GEMM's output and the backward masks its own product
    g W2 in place, so the hidden layer costs two (R, F) arrays (h and dh) instead of the four
    of Linear, ReLU, Linear nodes.  Backward (h = relu(x W1^T + b1), hm = h * m)::

        dW2 = g^T hm,  db2 = sum g,  dh = (g W2) * m * [h != 0]  (ReLU's rule),
        dx = dh W1,    dW1 = dh^T x,  db1 = sum dh

    First-order only (the hidden activation is not an input or output of the node).
    """

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, keep=None):
        xp = backend.get_array_module(x)
        h = x @ w1.T
        if b1 is not None:
            h += b1
        xp.maximum(h, 0, out=h)
        hm = h if keep is None else h * keep
        y = hm @ w2.T
        if b2 is not None:
            y += b2
        ctx.save_for_backward(x, w1, w2, h, keep)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w1, w2, h, keep = ctx.saved_tensors
        xp = backend.get_array_module(g)
        nx, nw1, nb1, nw2, nb2 = ctx.needs_input_grad[:5]
        dw2 = db2 = None
        if nw2:
            dw2 = g.T @ (h if keep is None else h * keep)
        if nb2:
            db2 = g.sum(axis=0)
        dx = dw1 = db1 = None
        if nx or nw1 or nb1:
            dh = g @ w2
            if keep is not None:
                dh *= keep
            xp.multiply(dh, h != 0, out=dh)     # [not a <= 0]: NaN passes, as ReLU
            dx = dh @ w1 if nx else None
            dw1 = dh.T @ x if nw1 else None
            db1 = dh.sum(axis=0) if nb1 else None
        return dx, dw1, db1, dw2, db2
