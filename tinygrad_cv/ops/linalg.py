"""Matrix product with NumPy/torch semantics (1-D promotion, broadcast batch dimensions)."""
from __future__ import annotations

from .elementwise import _Primitive
from . import dual


class MatMul(_Primitive):
    """C = A @ B;  dL/dA = dL/dC @ B^T,  dL/dB = A^T @ dL/dC (batch dims summed back).

    Shapes: A (..., n, k), B (..., k, m) -> C (..., n, m); a 1-D A is a row (1, k) and a 1-D B
    a column (k, 1), whose added axis is dropped from C (as numpy.matmul and torch.matmul).
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
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        if a_vec and b_vec:
            return (g * b if na else None), (g * a if nb else None)
        a2 = a.reshape((1,) + tuple(a.shape)) if a_vec else a
        b2 = b.reshape(tuple(b.shape) + (1,)) if b_vec else b
        if a_vec:
            g = g.reshape(tuple(g.shape[:-1]) + (1, g.shape[-1]))
        if b_vec:
            g = g.reshape(tuple(g.shape) + (1,))
        ga = gb = None
        if na:
            ga = g @ dual.swap_last(b2)
            if a_vec:
                ga = dual.sum_to(ga, (1,) + tuple(a.shape)).reshape(a.shape)
        if nb:
            gb = dual.swap_last(a2) @ g
            if b_vec:
                gb = dual.sum_to(gb, tuple(b.shape) + (1,)).reshape(b.shape)
        return ga, gb
