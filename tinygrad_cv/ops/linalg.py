"""Matrix product with NumPy/torch semantics (1-D promotion, broadcast batch dimensions)."""
from __future__ import annotations

from .. import threads
from .elementwise import _Primitive
from . import dual


def product(a, b, bias=None, out=None):
    """a @ b (+ bias (N,) on every row) of two raw arrays, split over the intra-op threads
    (``threads.matmul``; into ``out`` when given), or of Tensors (recorded for higher-order
    gradients)."""
    if dual.is_tensor(a) or dual.is_tensor(b):
        result = a @ b
        return result if bias is None else result + bias
    return threads.matmul(a, b, out=out, bias=bias)


def products(pairs):
    """[a @ b for (a, b) in pairs]: raw arrays in one hand-off to the intra-op threads
    (``threads.matmuls``), Tensors recorded."""
    if any(dual.is_tensor(x) for pair in pairs for x in pair):
        return [a @ b for a, b in pairs]
    return threads.matmuls(pairs)


class MatMul(_Primitive):
    """C = A @ B;  dL/dA = dL/dC @ B^T,  dL/dB = A^T @ dL/dC (batch dims summed back).

    Shapes: A (..., n, k), B (..., k, m) -> C (..., n, m); a 1-D A is a row (1, k) and a 1-D B
    a column (k, 1), whose added axis is dropped from C (as numpy.matmul and torch.matmul).
    For a batched A and a 2-D B, dL/dB = A'^T G' with the batch flattened into the rows of A'
    and G' (one GEMM sums over the batch).  The products run split over the intra-op threads.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("matmul: both arguments need at least one dimension, got shapes "
                               f"{a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                               f"({ka} != {kb})")
        na, nb = ctx.needs_input_grad     # (each factor saved only for the other's gradient,
        ctx.save_for_backward(a if nb else None, b if na else None)   # as torch)
        ctx.shapes = a.shape, b.shape
        return product(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a_shape, b_shape = ctx.shapes
        a_vec, b_vec = len(a_shape) == 1, len(b_shape) == 1
        if a_vec and b_vec:
            return (g * b if na else None), (g * a if nb else None)
        a2 = a.reshape((1,) + tuple(a_shape)) if a_vec and nb else a
        b2 = b.reshape(tuple(b_shape) + (1,)) if b_vec and na else b
        if a_vec:
            g = g.reshape(tuple(g.shape[:-1]) + (1, g.shape[-1]))
        if b_vec:
            g = g.reshape(tuple(g.shape) + (1,))
        pairs = []
        if na:
            pairs.append((g, dual.swap_last(b2)))
        if nb:
            if (b_vec or len(b_shape) == 2) and a2.ndim > 2:   # the batch summed in one GEMM
                pairs.append((dual.swap_last(a2.reshape((-1, a2.shape[-1]))),
                              g.reshape((-1, g.shape[-1]))))
            else:
                pairs.append((dual.swap_last(a2), g))
        results = products(pairs)             # one hand-off for both
        ga = results.pop(0) if na else None
        gb = results.pop(0) if nb else None
        if na and a_vec:
            ga = dual.sum_to(ga, (1,) + tuple(a_shape)).reshape(a_shape)
        if nb and b_vec:
            gb = dual.sum_to(gb, tuple(b_shape) + (1,)).reshape(b_shape)
        return ga, gb
