"""Elementwise primitives (broadcasting; the engine sums gradients back to input shapes).

Each backward is written with operators and ``dual`` helpers so it runs on arrays or Tensors.

Large elementwise passes split the first axis (the samples) of their result over the intra-op
threads (``split_rows``): each part computes its rows into an output allocated before the
split, in the memory order of the input (channels-last stays channels-last).  ``Add``, ``Sub``
and ``Mul`` of two same-dtype floating arrays (``_binary``) and ``ReLU`` take that path;
``ops/activation.py`` (SiLU) and the normalisation and pooling layers use ``split_rows`` too.
Those outputs come from the reused buffers (``autograd/buffers.py``) whether or not they split.
"""
from __future__ import annotations

import operator
import weakref

from .. import backend, threads
from ..autograd import buffers
from ..autograd.function import Function
from ..memory_formats import laid_out
from . import dual


# Add-like passes over one element per unit of ``threads`` work: an elementwise split pays only
# from about 0.15-0.2 ms of work (4 * MIN_WORK add-passes).  A hand-off measured 17 us on the
# loaded machine and 60-85 us on the idle one (the worker's wake-up), and splits of 0.1-0.3 ms
# ops (group norm and SiLU at 64x32x8x8, an add of 400x32x8x8) measured 1.2-1.5x slower while
# those of 0.5 ms and more (the same at 400 samples, batch norm, max pool, the optimizers) gained.
PASSES_PER_WORK = 4


def elementwise_work(size, passes):
    """The ``threads`` work (what ``threads.usable`` compares with ``MIN_WORK``) of ``passes``
    add-like passes over ``size`` elements."""
    return size * passes // PASSES_PER_WORK


def _rows_of(a, start, stop, ndim, count):
    """Rows [start, stop) of ``a``'s part in a result of ``ndim`` axes and ``count`` rows: a
    itself when it broadcasts along the first axis (fewer axes, or a first axis of 1)."""
    if getattr(a, "ndim", 0) < ndim or a.shape[0] != count:
        return a
    return a[start:stop]


def split_rows(fn, arrays, cost):
    """``fn(*parts)`` over a split of the first axis of ``arrays[0]`` (the result, allocated by
    the caller): each part gets rows [start, stop) of every array with that first axis and
    every other array (a broadcast operand, a scalar) whole.  ``cost``: passes over the
    result, in units of one ``add`` per element (``elementwise_work``).  Serial, in one call over everything, when the result has no axis or
    ``threads.usable`` says one thread."""
    lead = arrays[0]
    work = elementwise_work(lead.size, cost)
    if lead.ndim == 0 or lead.shape[0] <= 1 or threads.usable(lead, work) <= 1:
        fn(*arrays)
        return
    ndim, count = lead.ndim, lead.shape[0]
    threads.for_ranges(lambda s, e: fn(*(_rows_of(a, s, e, ndim, count) for a in arrays)),
                       count, work, like=lead)


def _result_like(a, b):
    """An uninitialised result of ``a (op) b`` for two arrays of one floating dtype, in the
    memory order of the first operand of the result's shape (``buffers.empty_like``)."""
    shape = backend.broadcast_shapes(a.shape, b.shape)
    for operand in (a, b):
        if operand.shape == shape:
            return buffers.empty_like(operand)
    return buffers.empty(shape, a.dtype, a)


# Elements below which the binary ops take the plain expression (no split, no reused buffer:
# the checks themselves cost).
_BINARY_SPLIT_MIN = 1 << 16
_OPERATORS = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul}


def _binary(ufunc, a, b):
    """``ufunc(a, b)``: into a reused result buffer (``_result_like``), split over the rows of
    the result when the threads take it, when both are arrays of one floating dtype and the
    result is large; otherwise the plain operator (scalars, Tensors under ``create_graph``)."""
    if (not backend.is_array(a) or not backend.is_array(b) or a.dtype != b.dtype
            or a.dtype.kind != "f" or max(a.size, b.size) < _BINARY_SPLIT_MIN):
        return _OPERATORS[ufunc](a, b)
    out = _result_like(a, b)
    op = getattr(backend.get_array_module(a), ufunc)
    split_rows(lambda o, x, y: op(x, y, out=o), (out, a, b), 1)
    return out


class _Primitive(Function):
    """A primitive: its backward is written with operators and ``dual`` helpers only, so it
    can itself be differentiated (``create_graph=True``).  Elementwise: a 0-d CPU tensor
    that needs no gradient may join GPU tensors (torch's CPU scalars)."""

    higher_order = True
    takes_cpu_scalars = True


class Add(_Primitive):
    """z = a + b;  dz/da = 1, dz/db = 1."""

    @staticmethod
    def forward(ctx, a, b):
        return _binary("add", a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(_Primitive):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    @staticmethod
    def forward(ctx, a, b):
        return _binary("subtract", a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(_Primitive):
    """z = a * b;  dz/da = b, dz/db = a.  Each factor is saved only when the other's gradient
    needs it (as torch: ``y * 2`` may be followed by an in-place change of y)."""

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a if nb else None, b if na else None)
        return _binary("multiply", a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return ((_binary("multiply", g, b) if na else None),
                (_binary("multiply", g, a) if nb else None))


class Div(_Primitive):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b^2 = -(a/b)/b.  The inputs are saved, a only when
    b's gradient needs it, never the output (as torch: ``y = x / 2`` may be changed in
    place)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b):
        ctx.save_for_backward(b, a if ctx.needs_input_grad[1] else None)
        return a / b

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        b, a = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = g / b if na else None
        gb = -(g * (a / b)) / b if nb else None
        return ga, gb


class DivRounded(_Primitive):
    """z = a / b rounded (torch's ``rounding_mode``): ``"floor"``, exact floor division
    (Python's a // b, NumPy's floor_divide: 1 // 0.1 = 9, -5 // inf = -1, inf // 2 = NaN), or
    ``"trunc"``, trunc(a / b);  dz/da = dz/db = 0 (torch's value, also where a / b is
    infinite)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b, mode="floor"):
        xp = backend.get_array_module(a, b)
        return xp.floor_divide(a, b) if mode == "floor" else xp.trunc(a / b)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        zero = dual.zeros_grad(g, g)
        return (zero if na else None), (zero if nb else None)


class Remainder(_Primitive):
    """z = a - b q, the remainder of the division rounded by ``mode``: ``"floor"`` (torch's
    ``remainder`` and ``%``, Python's: the sign of b; q = floor(a / b) exactly) or
    ``"trunc"`` (``fmod``, C's: the sign of a; q = trunc(a / b));  dz/da = 1, dz/db = -q
    (q is piecewise constant, so this also holds for higher orders)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b, mode="floor"):
        ctx.save_for_backward(a, b)
        ctx.mode = mode
        xp = backend.get_array_module(a, b)
        return xp.remainder(a, b) if mode == "floor" else xp.fmod(a, b)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        gb = None
        if nb:
            xa, xb = dual.raw(a), dual.raw(b)
            xp = backend.get_array_module(xa, xb)
            q = xp.floor_divide(xa, xb) if ctx.mode == "floor" else xp.trunc(xa / xb)
            gb = -(g * q)
        return (g if na else None), gb


class Pow(_Primitive):
    """z = a ** b;  dz/da = b a^(b-1), dz/db = z log a.

    At the boundaries torch's values: dz/da = 0 where b = 0 (also at a = 0, where the formula
    gives 0 * inf), dz/db = 0 where a = 0 and b >= 0 (where the formula gives 0 * -inf).
    """

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, b):
        out = a ** b      # (the output is saved only for dz/db, as torch)
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            xb = dual.raw(b)
            if not backend.is_array(xb):            # a Python scalar exponent
                ga = dual.zeros_grad(a, g) if xb == 0 else g * b * a ** (b - 1)
            else:
                ga = dual.where(xb == 0, 0.0, g * b * a ** (b - 1))
        if nb:
            xa, xb = dual.raw(a), dual.raw(b)
            zero_base = (xa == 0) & (xb >= 0)
            if backend.is_array(zero_base):
                gb = dual.where(zero_base, 0.0, g * out * dual.log(a))
            elif zero_base:                          # a scalar base 0 and scalar exponent
                gb = dual.zeros_grad(b, g)
            else:
                gb = g * out * dual.log(a)
        return ga, gb


class Neg(_Primitive):
    """z = -a;  dz/da = -1."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(_Primitive):
    """|a|;  d/da = sign(a) (0 at 0 and at NaN, as torch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * dual.sign(dual.raw(a))


class Exp(_Primitive):
    """e^a;  d/da = e^a (the output)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        out = backend.get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(_Primitive):
    """ln a;  d/da = 1/a."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).log(a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(_Primitive):
    """sqrt(a);  d/da = 1 / (2 sqrt(a))."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        out = backend.get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (out * 2)


class Sin(_Primitive):
    """sin a;  d/da = cos a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * dual.cos(a)


class Cos(_Primitive):
    """cos a;  d/da = -sin a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -(g * dual.sin(a))


class Tanh(_Primitive):
    """tanh a;  d/da = 1 - tanh^2 a."""

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Sigmoid(_Primitive):
    """s = 1 / (1 + e^-a);  ds/da = s (1 - s).

    Where e^-a overflows (a < -88 in float32, -709 in float64) s is 0, its correctly rounded
    value or an underflowed one.  (The overflow-free (1 + tanh(a/2)) / 2 loses the digits of
    small s: 1.7e-4 relative error at a = -30 in float64.)  Four passes, in one buffer."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a):
        xp = backend.get_array_module(a)
        if a.ndim == 0:
            out = 1.0 / (1.0 + xp.exp(-a))
        else:
            out = xp.negative(a)
            xp.exp(out, out=out)
            out += 1
            xp.divide(1, out, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out * (1 - out))


class ReLU(_Primitive):
    """max(a, 0);  d/da = [not a <= 0] (NaN passes its gradient, as torch; a mask multiply, no
    boolean-indexed writes).

    On floating arrays the output, the mask and the input gradient are written into reused
    buffers (in the input's memory order) (``autograd/buffers.py``: no fresh pages each step); the gradient goes
    into the output's own buffer when nothing else can see it any more (the output Tensor is
    gone, so every consumer has been released and this node will be too)."""

    @staticmethod
    def forward(ctx, a):
        xp = backend.get_array_module(a)
        if a.dtype.kind == "f":
            out = buffers.empty_like(a)
            # (0 first: max(0, -0.0) is -0.0, torch's relu(-0.0); NaN stays NaN)
            split_rows(lambda o, x: xp.maximum(0, x, out=o), (out, a), 1)
        else:
            out = xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    def note_masked_gradient(self, g):
        """Record that ``g``, the gradient this node is about to receive, is already 0
        wherever the output is 0 (its only consumer sent nothing there): the backward then
        returns it as it is.  Only a weak reference is kept."""
        self.masked_gradient = weakref.ref(g)

    @staticmethod
    def backward(ctx, g):
        masked = ctx.__dict__.pop("masked_gradient", None)
        if masked is not None and masked() is g:
            return g
        (out,) = ctx.saved_tensors
        # out = max(a, 0) is >= 0 or NaN, so [out != 0] = [not a <= 0]: NaN passes, as torch
        if (backend.is_array(g) and backend.is_array(out) and g.shape == out.shape
                and g.dtype == out.dtype):
            xp = backend.get_array_module(g)
            mask = buffers.empty_like(out, bool)
            # out's references: the node's saved tuple and the local name above
            own = ctx.outputs[0]() is None and buffers.reusable(out, 2)
            gx = out if own else buffers.empty_like(out)

            def masked(gx, g, out, mask):
                xp.not_equal(out, 0, out=mask)
                backend.zero_unless(g, mask, out=gx)    # 0 there even for an inf or NaN g

            split_rows(masked, (gx, g, out, mask), 3)
            return gx
        return dual.masked(g, dual.raw(out) != 0)


class Clamp(_Primitive):
    """clip(a, lo, hi);  d/da = [lo <= a <= hi] (torch's convention at the bounds)."""

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.save_for_backward(a)
        ctx.bounds = (lo, hi)
        xp = backend.get_array_module(a)
        if lo is None:
            return xp.minimum(a, hi)
        if hi is None:
            return xp.maximum(a, lo)
        return xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        xa = dual.raw(a)
        mask = True
        if lo is not None:
            mask = xa >= lo
        if hi is not None:
            mask = (xa <= hi) & mask
        return dual.masked(g, mask)


class ClampTensor(_Primitive):
    """min(max(a, lo), hi) with tensor bounds (either may be None; they broadcast).

    torch's subgradients: d/da = [lo <= a <= hi] (the bounds included, as ``Clamp``);
    d/dlo = [a < lo] (and [lo < hi] with both bounds: when lo > hi the result is hi);
    d/dhi = [a > hi] (or [hi < lo] with both bounds).
    """

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a, lo, hi)
        xp = backend.get_array_module(a)
        out = a if lo is None else xp.maximum(a, lo)
        return out if hi is None else xp.minimum(out, hi)

    @staticmethod
    def backward(ctx, g):
        a, lo, hi = ctx.saved_tensors
        xa, xlo, xhi = dual.raw(a), dual.raw(lo), dual.raw(hi)
        na, nlo, nhi = ctx.needs_input_grad
        ga = glo = ghi = None
        if na:
            keep = True if lo is None else xa >= xlo
            if hi is not None:
                keep = (xa <= xhi) & keep
            ga = dual.masked(g, keep)
        if nlo:
            below = xa < xlo
            glo = dual.masked(g, below if hi is None else below & (xlo < xhi))
        if nhi:
            above = xa > xhi
            ghi = dual.masked(g, above if lo is None else above | (xhi < xlo))
        return ga, glo, ghi


class NanToZero(_Primitive):
    """a with NaN replaced by 0 (``nansum``'s summand);  d/da = [a is not NaN], as a product
    with the incoming gradient (torch's nansum gradient: an inf there gives NaN, as torch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = backend.get_array_module(a)
        return xp.where(xp.isnan(a), a.dtype.type(0), a)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xa = dual.raw(a)
        return g * ~backend.get_array_module(xa).isnan(xa)


class ClampMinValue(_Primitive):
    """max(a, lo) in value, the identity in gradient: torch's cosine_similarity clamps its
    norms in place outside the graph, so their gradient flows as if they were not clamped."""

    @staticmethod
    def forward(ctx, a, lo=0.0):
        return backend.get_array_module(a).maximum(a, a.dtype.type(lo))

    @staticmethod
    def backward(ctx, g):
        return g


class _Extremum2(_Primitive):
    """Elementwise max/min of two tensors; ties split the gradient in half and a NaN (which
    wins) passes the whole gradient to both inputs, as torch: for maximum
    da = [not a < b] - [a == b] / 2, db = [not b < a] - [a == b] / 2."""

    pick = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(backend.get_array_module(a, b), cls.pick)(a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        xa, xb = dual.raw(a), dual.raw(b)
        tie = (xa == xb) * 0.5
        na, nb = ctx.needs_input_grad
        a_wins = (xa > xb) if cls.pick == "maximum" else (xa < xb)
        b_wins = (xb > xa) if cls.pick == "maximum" else (xb < xa)
        ga = gb = None
        if na:                  # 0 where a loses, even for an inf or NaN g (torch's)
            share = ~b_wins - tie
            ga = dual.masked(g, share != 0) * share
        if nb:
            share = ~a_wins - tie
            gb = dual.masked(g, share != 0) * share
        return ga, gb


class Maximum(_Extremum2):
    """max(a, b) elementwise (ties and NaN as in ``_Extremum2``)."""

    pick = "maximum"


class Minimum(_Extremum2):
    """min(a, b) elementwise;  da = [not a > b] - [a == b] / 2, db = [not b > a] - [a == b] / 2."""

    pick = "minimum"


class Where(_Primitive):
    """where(c, a, b);  d/da = g where c else 0, d/db = g where not c else 0 (c is not
    differentiable)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return backend.get_array_module(cond, a, b).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        c = dual.raw(cond)
        _, na, nb = ctx.needs_input_grad
        # 0 on the side not taken, even for an inf or NaN g (torch's; a product gives NaN)
        return None, (dual.masked(g, c) if na else None), (dual.masked(g, ~c) if nb else None)


class Cast(_Primitive):
    """y = a in another dtype;  dL/da = dL/dy cast back to a's dtype (values beyond a
    narrower float type's range become +-inf silently, as torch)."""

    @staticmethod
    @backend.fp_quiet
    def forward(ctx, a, dtype=None):
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    @backend.fp_quiet
    def backward(ctx, g):
        return dual.astype(g, ctx.src)


class ToDevice(_Primitive):
    """y = a on another device;  dL/da = dL/dy moved back to a's device."""

    @staticmethod
    def forward(ctx, a, device=None):
        ctx.src = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        if dual.is_tensor(g):
            return g.to(ctx.src)
        return backend.to_device(g, ctx.src)


class Copy(_Primitive):
    """y = a in a new array (``clone``), row-major or in the layout of ``memory_format``
    (``memory_formats.py``);  dy/da = 1."""

    @staticmethod
    def forward(ctx, a, memory_format=None):
        return a.copy() if memory_format is None else laid_out(a, memory_format, "clone")

    @staticmethod
    def backward(ctx, g):
        return g
