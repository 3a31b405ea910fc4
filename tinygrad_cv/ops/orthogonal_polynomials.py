"""The classical orthogonal polynomials of torch.special on raw xp arrays, for a degree array
``n`` broadcast against ``x`` (torch's conventions: n is truncated to an integer; n < 0, NaN,
+-inf or beyond int64 give 0; float64 or float32 as the operands):

    Chebyshev   T_(k+1) = 2x T_k - T_(k-1)          T_0 = 1, T_1 = x
                U, V, W: the same recurrence       U_1 = 2x, V_1 = 2x - 1, W_1 = 2x + 1
    shifted Chebyshev: the same at 2x - 1
    Hermite     H_(k+1) = 2x H_k - 2k H_(k-1)       H_1 = 2x
                He_(k+1) = x He_k - k He_(k-1)      He_1 = x
    Laguerre    (k+1) L_(k+1) = (2k + 1 - x) L_k - k L_(k-1)      L_1 = 1 - x
    Legendre    (k+1) P_(k+1) = (2k + 1) x P_k - k P_(k-1)        P_1 = x

Computed in float64 (float32 results rounded from it: +-inf where they overflow float32, as
torch's).  The recurrences run vectorised over the elements with one loop over the degree, up to the
largest n present.  For the Chebyshev kinds with |x| < 1 and n > 6 (torch's switch), the
closed forms with x = cos t take over (no loop, and no error growing with n):
T_n = cos(n t), U_n = sin((n+1) t) / sin t, V_n = cos((n+1/2) t) / cos(t/2),
W_n = sin((n+1/2) t) / sin(t/2).
"""
from __future__ import annotations

from .. import backend

_TRIG_ABOVE = 6          # torch's degree above which the Chebyshev kinds use the closed forms


def _degrees(n, xp):
    """n as int64 with torch's casting: NaN, +-inf and values beyond int64 give -1 (-> 0)."""
    if n.dtype.kind in "iub":
        return n.astype("int64")
    ok = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 62)
    return xp.where(ok, xp.trunc(xp.where(ok, n, 0.0)), -1).astype("int64")


def _first(kind, x):
    return {"t": x, "u": 2 * x, "v": 2 * x - 1, "w": 2 * x + 1, "h": 2 * x, "he": x,
            "l": 1 - x, "p": x}[kind]


def _step(kind, x, k, current, previous):
    """The degree-(k+1) value from degrees k and k - 1."""
    if kind in "tuvw":
        return 2 * x * current - previous
    if kind == "h":
        return 2 * x * current - (2 * k) * previous
    if kind == "he":
        return x * current - k * previous
    if kind == "l":
        return ((2 * k + 1 - x) * current - k * previous) / (k + 1)
    return ((2 * k + 1) * x * current - k * previous) / (k + 1)        # Legendre


def _chebyshev_closed_form(kind, x, n, xp):
    t = xp.arccos(x)
    nf = n.astype(x.dtype)
    if kind == "t":
        return xp.cos(nf * t)
    if kind == "u":
        return xp.sin((nf + 1) * t) / xp.sin(t)
    if kind == "v":
        return xp.cos((nf + 0.5) * t) / xp.cos(t / 2)
    return xp.sin((nf + 0.5) * t) / xp.sin(t / 2)


@backend.fp_quiet
def orthogonal_polynomial_array(kind, x, n, shifted=False):
    """The degree-n polynomial ``kind`` (one of t, u, v, w, h, he, l, p) at x: x a floating
    array, n an array of any dtype; the result has their broadcast shape and x's dtype."""
    xp = backend.get_array_module(x)
    dtype = x.dtype
    x, n = xp.broadcast_arrays(x.astype("float64"), _degrees(n, xp))
    if shifted:
        x = 2 * x - 1
    trig = xp.zeros(x.shape, dtype=bool)
    if kind in "tuvw":
        trig = (xp.abs(x) < 1) & (n > _TRIG_ABOVE)
    top = int(xp.max(xp.where(trig, 0, n))) if n.size else 0
    previous = xp.ones_like(x)
    out = xp.where(n == 0, previous, 0.0)
    if top >= 1:
        current = _first(kind, x)
        out = xp.where(n == 1, current, out)
        for k in range(1, top):
            previous, current = current, _step(kind, x, k, current, previous)
            out = xp.where(n == k + 1, current, out)
    if trig.any():
        closed = _chebyshev_closed_form(kind, xp.where(trig, x, 0.5), n, xp)
        out = xp.where(trig, closed, out)
    return out.astype(dtype, copy=False)
