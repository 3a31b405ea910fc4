"""Einstein summation: ``einsum("bij,bjk->bik", a, b)``."""
from __future__ import annotations

import string

from .. import backend, threads
from .elementwise import _Primitive
from . import dual

_LETTERS = string.ascii_letters
MIN_PRODUCT = 1 << 15   # multiply-adds of one GEMM of the batch below which xp.einsum stays


def parse_equation(equation, shapes):
    """(input subscripts, output subscripts) with '...' spelled out as letters.

    Ellipsis dims are right-aligned across operands (broadcasting); without '->' the output is
    the broadcast ellipsis dims then the letters used exactly once, sorted (NumPy's and torch's
    implicit rule).  A letter may repeat inside one operand (a trace or diagonal: the
    caller takes that diagonal first, ``diagonal_subscripts``).
    """
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum(): the equation {equation!r} has {len(inputs)} operands but "
                         f"{len(shapes)} tensors were given")
    used = set(c for c in equation if c.isalpha())
    spare = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for subs, shape in zip(inputs, shapes):
        if "..." in subs:
            n_ell = max(n_ell, len(shape) - (len(subs) - 3))
    ell = "".join(spare[:n_ell])
    spelled = []
    for subs, shape in zip(inputs, shapes):
        if "..." in subs:
            k = len(shape) - (len(subs) - 3)
            subs = subs.replace("...", ell[n_ell - k:] if k else "")
        if not all(c in _LETTERS for c in subs) or len(subs) != len(shape):
            raise ValueError(f"einsum(): subscripts {subs!r} do not fit an operand of shape "
                             f"{tuple(shape)}")
        spelled.append(subs)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for subs in spelled:
            for c in subs:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    if len(set(out)) != len(out) or any(c not in "".join(spelled) for c in out):
        raise ValueError(f"einsum(): invalid output subscripts {out!r} in {equation!r}")
    return spelled, out


def diagonal_subscripts(subs):
    """The diagonals that remove the letters repeated in one operand's subscripts: [(dim1,
    dim2), ...] to take one after the other with ``diagonal(0, dim1, dim2)`` (each moves the
    diagonal to the last dim), and the subscripts left."""
    steps = []
    subs = list(subs)
    while len(set(subs)) != len(subs):
        c = next(c for c in subs if subs.count(c) > 1)
        i = subs.index(c)
        j = subs.index(c, i + 1)
        steps.append((i, j))
        subs = [x for k, x in enumerate(subs) if k not in (i, j)] + [c]
    return steps, "".join(subs)


def sublist_equation(args):
    """torch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (Ellipsis allowed) as
    (equation, operands)."""
    out = args[-1] if len(args) % 2 else None
    args = args[:-1] if len(args) % 2 else args
    operands, lists = list(args[0::2]), list(args[1::2])

    def letters(sub):
        try:
            return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sub)
        except (IndexError, TypeError):
            raise ValueError(f"einsum(): subscripts must be integers in [0, 52) or Ellipsis, "
                             f"got {sub!r}") from None
    equation = ",".join(letters(sub) for sub in lists)
    if out is not None:
        equation += "->" + letters(out)
    return equation, operands


class Einsum(_Primitive):
    """z = sum over the letters missing from the output of prod_k a_k[subs_k];

    dL/da_i = einsum(out, subs_j (j != i) -> subs_i)(dL/dz, a_j ...): the same contraction with
    the output's gradient in place of a_i.  Letters of a_i found nowhere else (summed inside
    a_i) are restored by broadcasting, and dims a_i broadcast (size 1) are summed back.
    """

    @staticmethod
    def forward(ctx, *arrays, spec=None):
        inputs, out = spec
        ctx.spec = spec
        ctx.shapes = [a.shape for a in arrays]
        ctx.save_for_backward(*arrays)
        return _einsum_arrays(inputs, out, arrays)

    @staticmethod
    def backward(ctx, g):
        inputs, out = ctx.spec
        arrays = ctx.saved_tensors
        grads = []
        for i, (subs, need) in enumerate(zip(inputs, ctx.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [(s, a) for j, (s, a) in enumerate(zip(inputs, arrays)) if j != i]
            known = set(out).union(*[set(s) for s, _ in others])
            target = "".join(c for c in subs if c in known)
            spec = (",".join([out] + [s for s, _ in others]) + "->" + target)
            gi = _einsum_spec(spec, g, *[a for _, a in others])
            # letters summed inside a_i only come back as size-1 dims, broadcast to a_i's
            # sizes; dims where a_i was broadcast (size 1 against n) are summed back
            shape = ctx.shapes[i]
            gi = gi.reshape(tuple(gi.shape[target.index(c)] if c in known else 1 for c in subs))
            gi = dual.sum_to(gi, tuple(shape[k] if c in known else 1 for k, c in enumerate(subs)))
            grads.append(dual.broadcast_to(gi, shape))
        return tuple(grads)


def _einsum_spec(spec, *operands):
    """einsum with an explicit spec (letters only) on arrays or Tensors."""
    lhs, out = spec.split("->")
    if any(dual.is_tensor(o) for o in operands):
        return Einsum.apply(*operands, spec=(lhs.split(","), out))
    return _einsum_arrays(lhs.split(","), out, operands)


def _einsum_arrays(inputs, out, arrays):
    """einsum on raw arrays: a large two-operand contraction as one (batched) GEMM split over
    the intra-op threads (``contract``), anything else through ``xp.einsum``."""
    if len(arrays) == 2:
        z = contract(inputs[0], inputs[1], out, *arrays)
        if z is not None:
            return z
    return backend.ensure_array(backend.get_array_module(*arrays).einsum(
        ",".join(inputs) + "->" + out, *arrays))


def contract(sa, sb, out, a, b):
    """``einsum(sa,sb->out)`` of two floating arrays as a matrix product, or None when it is
    small (below ``threads.matmul``'s split size, or batches of GEMMs under ``MIN_PRODUCT``
    multiply-adds each, whose BLAS calls cost more than einsum's loop) or contracts nothing.

    The letters fall into batch (in a, b and out), contracted (in a and b only), kept (in one
    operand and out) and summed (in one operand only; summed first).  a becomes
    (batch..., M, K) and b (batch..., K, N) (batch dims kept apart, so size-1 dims broadcast
    as in ``numpy.matmul``), with M the product of a's kept letters, N of b's and K of the
    contracted ones; the (batch..., M, N) product is reshaped and transposed to ``out``.
    """
    xp = backend.get_array_module(a, b)
    if not (backend.is_floating(a.dtype) and backend.is_floating(b.dtype)):
        return None
    size = {}
    for subs, x in ((sa, a), (sb, b)):
        for c, n in zip(subs, x.shape):
            size[c] = max(size.get(c, 1), n)
    batch = [c for c in out if c in sa and c in sb]
    con = [c for c in sa if c in sb and c not in out]
    ka = [c for c in sa if c not in sb and c in out]
    kb = [c for c in sb if c not in sa and c in out]
    if any(a.shape[sa.index(c)] != b.shape[sb.index(c)] for c in con):
        return None
    per_product = count = 1
    for c in con + ka + kb:
        per_product *= size[c]
    for c in batch:
        count *= size[c]
    if (per_product < MIN_PRODUCT or not con
            or count * per_product < threads.MACS_PER_ELEMENT * threads.MIN_WORK):
        return None
    a = _summed(a, sa, out + sb)
    b = _summed(b, sb, out + sa)
    sa = "".join(c for c in sa if c in out + sb)
    sb = "".join(c for c in sb if c in out + sa)

    def as_matrices(x, subs, rows, cols):
        x = x.transpose([subs.index(c) for c in batch + rows + cols])
        lead = x.shape[:len(batch)]
        m = k = 1
        for n in x.shape[len(batch):len(batch) + len(rows)]:
            m *= n
        for n in x.shape[len(batch) + len(rows):]:
            k *= n
        return x.reshape(lead + (m, k))

    z = threads.matmul(as_matrices(a, sa, ka, con), as_matrices(b, sb, con, kb))
    z = z.reshape(z.shape[:len(batch)] + tuple(size[c] for c in ka + kb))
    order = batch + ka + kb
    return xp.ascontiguousarray(z.transpose([order.index(c) for c in out]))


def _summed(x, subs, keep):
    """x summed over its letters that are not in ``keep``."""
    axes = tuple(i for i, c in enumerate(subs) if c not in keep)
    return x.sum(axis=axes) if axes else x
