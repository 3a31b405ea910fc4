"""More elementwise primitives: log1p, expm1, and the step functions (floor, ceil, round,
trunc, sign), whose gradient is zero everywhere (torch's convention: their outputs stay on the
graph, so a loss built from them backpropagates zeros)."""
from __future__ import annotations

from .. import backend
from .elementwise import _Primitive
from . import dual


class Log1p(_Primitive):
    """ln(1 + a), accurate for small a;  d/da = 1 / (1 + a)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).log1p(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / (a + 1)


class Expm1(_Primitive):
    """e^a - 1, accurate for small a;  d/da = e^a = z + 1 (z the output)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        out = backend.get_array_module(a).expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out + 1)


_STEPS = ("floor", "ceil", "trunc", "sign")


class Step(_Primitive):
    """A piecewise-constant function of a: floor, ceil, trunc, sign (0 at NaN, as torch) or
    round half to even to ``decimals`` places;  d/da = 0 (torch's value, also at the jumps)."""

    @staticmethod
    def forward(ctx, a, kind="floor", decimals=0):
        xp = backend.get_array_module(a)
        if kind == "round":
            return backend.ensure_array(xp.round(a, decimals))
        if kind not in _STEPS:
            raise ValueError(f"Step: unknown kind {kind!r}")
        out = getattr(xp, kind)(a)
        if kind == "sign":
            out = xp.where(xp.isnan(a), 0, out).astype(a.dtype, copy=False)
        return out

    @staticmethod
    def backward(ctx, g):
        return dual.zeros_grad(g, g)
