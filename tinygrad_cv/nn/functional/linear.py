"""Affine map y = x W^T + b (the primitive, with its gradients, is ``ops.linear.LinearFn``),
and ``FeedForwardReLUFn``, the fused first-order Linear -> ReLU -> (dropout) -> Linear block of
the transformer layers.

Shapes: x (*, in_features), W (out_features, in_features), b (out_features,) -> y (*, out).
``bilinear``: x1 (*, in1), x2 (*, in2), W (out, in1, in2) -> y (*, out) (one einsum).
"""
from __future__ import annotations

from ... import backend, threads
from ...autograd.function import Function
from ...ops.linear import LinearFn
from ...tensor_functions import einsum


def linear(x, weight, bias=None):
    """x W^T + b with x (*, in_features), W (out_features, in_features)."""
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: expected input (*, {weight.shape[-1]}) for a weight of shape "
                         f"{tuple(weight.shape)}, got shape {tuple(x.shape)}")
    if bias is None:
        return LinearFn.apply(x, weight)
    return LinearFn.apply(x, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]; x1 (*, in1), x2 (*, in2),
    W (out, in1, in2) -> (*, out)."""
    if weight.ndim != 3 or tuple(input1.shape[-1:]) != tuple(weight.shape[1:2]) or \
            tuple(input2.shape[-1:]) != tuple(weight.shape[2:3]) or \
            tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(f"bilinear: expected inputs (*, in1) and (*, in2) with the same "
                           f"leading dims for a weight (out, in1, in2) of shape "
                           f"{tuple(weight.shape)}, got {tuple(input1.shape)} and "
                           f"{tuple(input2.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"bilinear: expected bias of shape ({weight.shape[0]},), got "
                           f"{tuple(bias.shape)}")
    y = einsum("...i,oij,...j->...o", input1, weight, input2)
    return y if bias is None else y + bias


def _row_parts(fn, rows, macs, like):
    """fn(start, stop) over a split of the rows, one part per intra-op thread when the
    products are large enough (``threads.for_ranges`` with GEMM work in multiply-adds)."""
    threads.for_ranges(fn, rows, macs // threads.MACS_PER_ELEMENT, like=like)


class FeedForwardReLUFn(Function):
    """y = (relu(x W1^T + b1) * m) W2^T + b2: the transformer's position-wise block in one node.

    Shapes: x (R, D), W1 (F, D), b1 (F,) or None, W2 (D', F), b2 (D',) or None -> y (R, D');
    ``keep`` None or an (R, F) array of dropout factors m (0 or 1/(1-p)), a constant.  The
    ReLU runs in place on the first GEMM's output and the backward masks its own product
    g W2 in place, so the hidden layer costs two (R, F) arrays (h and dh) instead of the four
    of Linear, ReLU, Linear nodes.  Backward (h = relu(x W1^T + b1), hm = h * m)::

        dW2 = g^T hm,  db2 = sum g,  dh = (g W2) * m * [h != 0]  (ReLU's rule),
        dx = dh W1,    dW1 = dh^T x,  db1 = sum dh

    Both passes split the R rows over the intra-op threads, each thread running the whole chain
    on its rows (one hand-off per pass); the weight and bias gradients are sums over the rows,
    formed per part (over its rows) and added by the caller.
    First-order only (the hidden activation is not an input or output of the node).
    """

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, keep=None):
        xp = backend.get_array_module(x)
        rows, features = x.shape[0], w1.shape[0]
        dt = xp.result_type(x, w1)
        h = xp.empty((rows, features), dtype=dt)
        hm = h if keep is None else xp.empty((rows, features), dtype=dt)
        y = xp.empty((rows, w2.shape[0]), dtype=xp.result_type(h, w2))
        w1t, w2t = w1.T, w2.T

        def part(s, e):
            hs = h[s:e]
            xp.matmul(x[s:e], w1t, out=hs)
            if b1 is not None:
                hs += b1
            xp.maximum(hs, 0, out=hs)
            if keep is not None:
                xp.multiply(hs, keep[s:e], out=hm[s:e])
            xp.matmul(hm[s:e], w2t, out=y[s:e])
            if b2 is not None:
                y[s:e] += b2

        _row_parts(part, rows, rows * features * (x.shape[1] + w2.shape[0]), x)
        ctx.save_for_backward(x, w1, w2, h, keep)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w1, w2, h, keep = ctx.saved_tensors
        xp = backend.get_array_module(g)
        nx, nw1, nb1, nw2, nb2 = ctx.needs_input_grad[:5]
        rows, features = h.shape
        need_dh = nx or nw1 or nb1
        dh = xp.empty(h.shape, dtype=xp.result_type(g, w2)) if need_dh else None
        dx = xp.empty(x.shape, dtype=xp.result_type(dh, w1)) if nx else None
        sums = []       # per part: (dw1, db1, dw2, db2) over its rows

        def part(s, e):
            gs, hs = g[s:e], h[s:e]
            hms = hs if keep is None else hs * keep[s:e]
            dw2 = gs.T @ hms if nw2 else None
            db2 = gs.sum(axis=0) if nb2 else None
            dw1 = db1 = None
            if need_dh:
                d = dh[s:e]
                xp.matmul(gs, w2, out=d)
                if keep is not None:
                    d *= keep[s:e]
                xp.multiply(d, hs != 0, out=d)     # [not a <= 0]: NaN passes, as ReLU
                if nx:
                    xp.matmul(d, w1, out=dx[s:e])
                dw1 = d.T @ x[s:e] if nw1 else None
                db1 = d.sum(axis=0) if nb1 else None
            sums.append((s, (dw1, db1, dw2, db2)))

        _row_parts(part, rows, rows * features * (2 * g.shape[1] + 2 * x.shape[1]), g)
        sums = [v for _, v in sorted(sums, key=lambda item: item[0])]
        dw1, db1, dw2, db2 = (threads.add_partials([v[j] for v in sums]) for j in range(4))
        return dx, dw1, db1, dw2, db2
