"""Jacobians, Hessians and their products with vectors, built on ``autograd.grad``.

With ``f: inputs -> outputs`` and ``J = d f / d inputs``:

* ``vjp(f, x, v)`` = (f(x), v^T J)          one backward pass
* ``jvp(f, x, v)`` = (f(x), J v)            two backward passes (the double-backward trick:
  ``J v = d/du (u^T J) v`` with ``u`` a dummy cotangent)
* ``jacobian(f, x)``                        one backward pass per output element, each
  Jacobian shaped ``output.shape + input.shape``
* ``hessian(f, x)``, ``vhp(f, x, v)`` = v^T H, ``hvp(f, x, v)`` = H v for a scalar ``f``.

Inputs and outputs are one Tensor or a tuple of Tensors, and results follow the same nesting
(``jacobian`` of tuples: ``J[i][j]`` = d output_i / d input_j).  Results are detached unless
``create_graph=True``.  A part of the output that does not depend on an input gives zeros, or
raises with ``strict=True``.  ``vectorize`` and the strategy arguments are accepted and change
nothing (every product is computed by reverse passes).
"""
from __future__ import annotations

from ..creation import zeros
from ..tensor import Tensor, stack
from .engine import grad
from .mode import enable_grad


def _as_tuple(value, what):
    """``(was_a_tuple, tuple_of_tensors)``; anything else than Tensors raises."""
    single = isinstance(value, Tensor)
    values = (value,) if single else tuple(value)
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"{what} must be a Tensor or a tuple of Tensors, got {type(v).__name__}")
    return not single, values


def _prepare(inputs, create_graph):
    """The inputs as the function will see them: differentiable copies, still linked to the
    originals when ``create_graph`` (so the results can be differentiated back to them)."""
    if create_graph:
        return tuple(x * 1 if x.requires_grad else x.detach().requires_grad_() for x in inputs)
    return tuple(x.detach().requires_grad_() for x in inputs)


def _zeros_like(x):
    return zeros(*x.shape, dtype=x.dtype, device=x.device)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    """``grad`` that tolerates outputs without graph and unused inputs (zeros), or raises
    (``strict``) naming which input is independent of the outputs."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if pairs:
        found = grad([o for o, _ in pairs], inputs, grad_outputs=[g for _, g in pairs],
                     retain_graph=True, create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(inputs)
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(f"{what}: the output is independent of input {i} "
                                   "(strict=True); with strict=False its part is zeros")
            g = _zeros_like(x)
        result.append(g)
    return tuple(result)


def _finish(values, create_graph):
    return tuple(v if create_graph else v.detach() for v in values)


def _check_v(v, outputs, what):
    if len(v) != len(outputs):
        raise RuntimeError(f"{what}: v has {len(v)} tensors but there are {len(outputs)}")
    for k, (a, b) in enumerate(zip(v, outputs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{what}: v[{k}] has shape {tuple(a.shape)} but the tensor it "
                               f"goes with has shape {tuple(b.shape)}")


def _input_vectors(v, xs, what):
    """The vectors ``v`` that go with the inputs ``xs`` (checked); ones when ``v`` is None and
    the input has one element (torch's rule)."""
    if v is None:
        if len(xs) != 1 or xs[0].numel() != 1:
            raise RuntimeError(f"{what}: v can be omitted only when the input has one element")
        return (Tensor.wrap(xs[0].array * 0 + 1),)
    vs = _as_tuple(v, f"{what}: v")[1]
    _check_v(vs, xs, what)
    return vs


def _call(func, xs, what):
    with enable_grad():
        out = func(*xs)
    out_tuple, outs = _as_tuple(out, f"{what}: the output of func")
    return out_tuple, outs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``; ``v`` may be omitted when the output has one element."""
    in_tuple, xs = _as_tuple(inputs, "vjp(): inputs")
    xs = _prepare(xs, create_graph)
    out_tuple, outs = _call(func, xs, "vjp()")
    if v is None:
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("vjp(): v can be omitted only when func returns one element")
        vs = (None,)
    else:
        vs = _as_tuple(v, "vjp(): v")[1]
        _check_v(vs, outs, "vjp()")
    gs = _grads(outs, xs, vs, create_graph, strict, "vjp()")
    outs, gs = _finish(outs, create_graph), _finish(gs, create_graph)
    return (outs if out_tuple else outs[0]), (gs if in_tuple else gs[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``; ``v`` may be omitted when the input has one element."""
    in_tuple, xs = _as_tuple(inputs, "jvp(): inputs")
    xs = _prepare(xs, create_graph)
    vs = _input_vectors(v, xs, "jvp()")
    out_tuple, outs = _call(func, xs, "jvp()")
    dummies = tuple(_zeros_like(o).requires_grad_() for o in outs)
    with enable_grad():
        # u^T J, kept differentiable in u (it is linear in u)
        ujs = _grads(outs, xs, dummies, True, strict, "jvp()")
    pairs = [(g, w) for g, w in zip(ujs, vs) if g.requires_grad]
    if pairs:
        found = grad([g for g, _ in pairs], dummies, grad_outputs=[w for _, w in pairs],
                     retain_graph=True, create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(dummies)
    jv = tuple(_zeros_like(o) if g is None else g for o, g in zip(outs, found))
    outs, jv = _finish(outs, create_graph), _finish(jv, create_graph)
    return (outs if out_tuple else outs[0]), (jv if out_tuple else jv[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """J[i, j] = d func(x)_i / d x_j, shaped ``output.shape + input.shape``.

    One Tensor in and out: one Jacobian; tuples: ``J[i][j]`` for output i and input j (a tuple
    of Jacobians when only one side is a tuple).
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian(): strategy must be 'reverse-mode' or 'forward-mode', "
                         f"got {strategy!r}")
    if strict and vectorize:
        raise RuntimeError("jacobian(): strict=True and vectorize=True are not supported "
                           "together (as torch); set one of them to False")
    if strategy == "forward-mode" and not vectorize:
        raise ValueError("jacobian(): strategy='forward-mode' requires vectorize=True (as torch)")
    in_tuple, xs = _as_tuple(inputs, "jacobian(): inputs")
    xs = _prepare(xs, create_graph)
    out_tuple, outs = _call(func, xs, "jacobian()")
    table = []
    for out in outs:
        flat = out.reshape(-1)
        rows = [[] for _ in xs]
        for i in range(flat.shape[0]):
            gs = _grads((flat[i],), xs, (None,), create_graph, strict, "jacobian()")
            for k, g in enumerate(gs):
                rows[k].append(g)
        table.append(tuple(
            stack(r).reshape(tuple(out.shape) + tuple(x.shape)) if r else
            zeros(*(tuple(out.shape) + tuple(x.shape)), dtype=x.dtype, device=x.device)
            for r, x in zip(rows, xs)))
    table = [_finish(row, create_graph) for row in table]
    if not out_tuple:
        return table[0] if in_tuple else table[0][0]
    return tuple(row if in_tuple else row[0] for row in table)


def _scalar_function(func, what):
    def checked(*xs):
        y = func(*xs)
        if not isinstance(y, Tensor) or y.numel() != 1:
            shape = getattr(y, "shape", type(y).__name__)
            raise RuntimeError(f"{what}: func must return a single-element Tensor, got {shape}")
        return y.reshape(())
    return checked


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """H[i, j] = d^2 f / dx_i dx_j of a scalar function, shaped ``x.shape + x.shape``
    (tuple inputs: ``H[i][j]`` for inputs i and j)."""
    in_tuple, xs = _as_tuple(inputs, "hessian(): inputs")
    scalar = _scalar_function(func, "hessian()")

    def gradient(*ys):
        with enable_grad():
            y = scalar(*ys)
        return _grads((y,), ys, (None,), True, strict, "hessian()")

    return jacobian(gradient if in_tuple else (lambda y: gradient(y)[0]), xs if in_tuple else xs[0],
                    create_graph=create_graph, strict=strict, vectorize=vectorize,
                    strategy=outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` of a scalar function."""
    in_tuple, xs = _as_tuple(inputs, "vhp(): inputs")
    xs = _prepare(xs, create_graph)
    with enable_grad():
        out = _scalar_function(func, "vhp()")(*xs)
    vs = _input_vectors(v, xs, "vhp()")
    with enable_grad():
        gs = _grads((out,), xs, (None,), True, strict, "vhp()")
    pairs = [(g, w) for g, w in zip(gs, vs) if g.requires_grad]
    found = _grads([g for g, _ in pairs], xs, [w for _, w in pairs], create_graph, strict,
                   "vhp()") if pairs else tuple(_zeros_like(x) for x in xs)
    res = _finish(found, create_graph)
    out = out if create_graph else out.detach()
    return out, (res if in_tuple else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` of a scalar function (H is symmetric: the same as ``vhp``)."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)
