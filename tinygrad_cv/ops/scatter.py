"""``scatter_reduce``: the elements of ``src`` combined into ``self`` along a dim.

``full`` is the raw index that every element i of ``index`` writes through (``scatter_index``:
``self[i_0, ..., index[i], ..., i_n]``), ``part`` the slices of ``src`` it reads.  For a
position p of the output, F(p) = {self[p] if include_self} + {src[i] : full[i] = p}:

    sum   r = sum F         dr/df = 1
    mean  r = sum F / |F|   dr/df = 1 / |F|        (integers: floor division, as torch)
    prod  r = prod F        dr/df = prod(F \\ f)    (zeros handled exactly, as torch)
    amax  r = max F         dr/df = [f = r] / #{g in F : g = r}  (ties share, as torch)
    amin  r = min F         likewise

Positions no index reaches keep self (dr/dself = 1).  Every derivative is a constant weight
per element (``ws`` for self, ``wsrc`` for src), computed in forward: the backward is linear in
dL/dr, so sum, mean, amax and amin differentiate twice; the weights of prod depend on the
inputs, so prod is first-order (``create_graph=True`` through it raises).
"""
from __future__ import annotations

from .. import backend
from . import dual
from .elementwise import _Primitive
from .shape import GetItem, IndexAdd, _index_add

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _identity(reduce, dtype, xp):
    """The value that leaves ``reduce`` unchanged (the start of a position without self)."""
    if reduce == "prod":
        return 1
    if reduce in ("sum", "mean"):
        return 0
    big = xp.inf if dtype.kind == "f" else (True if dtype.kind == "b" else xp.iinfo(dtype).max)
    low = -xp.inf if dtype.kind == "f" else (False if dtype.kind == "b" else xp.iinfo(dtype).min)
    return low if reduce == "amax" else big


@backend.fp_quiet
def _prod_weights(a, s, full, covered, include_self, xp):
    """(d prod F / d self, d prod F / d src): the product of the other factors, exactly also
    when some factors are zero (one zero: the others' product; two or more: 0)."""
    own = covered & include_self
    zeros = xp.zeros(a.shape, dtype=xp.int64)
    zeros[own & (a == 0)] = 1
    backend.scatter_add(zeros, full, (s == 0).astype(xp.int64))
    nonzero = xp.where(own & (a != 0), a, xp.ones_like(a))
    backend.scatter_reduce("multiply", nonzero, full, xp.where(s == 0, 1, s).astype(a.dtype))

    def weight(f, nz, zc):
        return xp.where(f != 0, xp.where(zc == 0, nz / xp.where(f == 0, 1, f), 0),
                        xp.where(zc == 1, nz, 0)).astype(a.dtype)
    ws = xp.where(covered, weight(a, nonzero, zeros) * include_self, 1).astype(a.dtype)
    return ws, weight(s, nonzero[full], zeros[full])


@backend.fp_quiet
def _extremum_weights(a, s, r, full, covered, include_self, xp):
    """Ties at the extremum share its gradient equally (torch's rule)."""
    hit_self = covered & include_self & (a == r)
    hit_src = s == r[full]
    count = hit_self.astype(xp.int64)
    backend.scatter_add(count, full, hit_src.astype(xp.int64))
    count = xp.maximum(count, 1).astype(a.dtype)
    ws = xp.where(covered, hit_self / count, 1).astype(a.dtype)
    return ws, (hit_src / count[full]).astype(a.dtype)


class ScatterReduce(_Primitive):
    """r = self with src's elements reduced in at ``full`` (see the module docstring);
    dL/dself = dL/dr * ws, dL/dsrc = (dL/dr)[full] * wsrc, zero outside ``part``."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, s, full=None, part=None, reduce="sum", include_self=True):
        xp = backend.get_array_module(a)
        s_part = s[part]
        covered = xp.zeros(a.shape, dtype=bool)
        covered[full] = True
        r = a.copy()
        if not include_self:
            r[covered] = _identity(reduce, a.dtype, xp)
        if reduce in ("sum", "mean"):
            backend.scatter_add(r, full, s_part)
        else:
            name = {"prod": "multiply", "amax": "maximum", "amin": "minimum"}[reduce]
            backend.scatter_reduce(name, r, full, s_part)
        count = None
        if reduce == "mean":
            count = xp.zeros(a.shape, dtype=xp.int64)
            backend.scatter_add(count, full, xp.ones(s_part.shape, dtype=xp.int64))
            count = xp.where(covered, count + bool(include_self), 1)
            r = (r / count if a.dtype.kind == "f" else r // count).astype(a.dtype)
        ctx.reduce, ctx.full, ctx.part, ctx.s_shape = reduce, full, part, s.shape
        if a.dtype.kind != "f":
            return r                            # (integers: no gradient)
        if reduce == "sum":
            ctx.ws = xp.where(covered, a.dtype.type(bool(include_self)), a.dtype.type(1))
            ctx.wsrc = None
        elif reduce == "mean":
            ctx.ws = xp.where(covered, bool(include_self) / count, 1).astype(a.dtype)
            ctx.wsrc = (1 / count[full]).astype(a.dtype)
        elif reduce == "prod":
            ctx.ws, ctx.wsrc = _prod_weights(a, s_part, full, covered, bool(include_self), xp)
        else:
            ctx.ws, ctx.wsrc = _extremum_weights(a, s_part, r, full, covered,
                                                 bool(include_self), xp)
        return r

    @staticmethod
    def backward(ctx, g):
        if dual.is_tensor(g) and ctx.reduce == "prod":
            raise RuntimeError("scatter_reduce(reduce='prod') is differentiable once: "
                               "create_graph=True through it is not supported")
        na, ns = ctx.needs_input_grad
        ga = g * ctx.ws if na else None
        gs = None
        if ns:
            gs = GetItem.apply(g, index=ctx.full) if dual.is_tensor(g) else g[ctx.full]
            if ctx.wsrc is not None:
                gs = gs * ctx.wsrc
            if tuple(gs.shape) != tuple(ctx.s_shape):
                gs = IndexAdd.apply(gs, index=ctx.part, shape=ctx.s_shape) if dual.is_tensor(
                    gs) else _index_add(gs, ctx.part, ctx.s_shape)
        return ga, gs
