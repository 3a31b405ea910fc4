"""``tinygrad_cv.func``: torch.func's function transforms, on the framework's reverse-mode
autograd.

    grad(f, argnums=0, has_aux=False)(*args)            d f / d args[argnums] (f scalar)
    grad_and_value(f, ...)(*args)                        (gradient, value)
    vjp(f, *primals, has_aux=False) -> (output, vjp_fn)  vjp_fn(cotangents) -> gradients
    jvp(f, primals, tangents) -> (output, J t)
    jacrev(f, argnums=0), jacfwd(f, argnums=0)           the Jacobian (both by reverse mode)
    hessian(f, argnums=0)
    vmap(f, in_dims=0, out_dims=0, randomness='error', chunk_size=None)
    functional_call(module, params_and_buffers, args, kwargs)

Transforms compose (``grad(grad(f))``, ``jacrev(jacrev(f))``, ``vmap(grad(f))``): each runs
its function with its inputs as fresh graph leaves and ``create_graph=True``, so the result
stays differentiable.

Differences from torch: ``vmap`` maps by calling the function once per element of the mapped
dim and stacking the results (the same values as torch's batched rules, one call per element:
slower, and ``randomness`` draws differ per element as with 'different'); ``jacfwd`` is
computed in reverse mode (same values); there is no forward-mode AD.
"""
from __future__ import annotations

import numbers

from .autograd import engine
from .autograd.mode import enable_grad
from .nn.utils.stateless import functional_call  # noqa: F401  (torch.func's name)
from .tensor import Tensor, stack

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call"]


def _argnums(argnums, n):
    nums = (argnums,) if isinstance(argnums, numbers.Integral) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"Got argnums={argnums} but only {n} positional inputs")
    return tuple(a % n for a in nums), isinstance(argnums, numbers.Integral)


def _leaf(x):
    """``x`` as a new graph leaf that requires grad (the same values, connected to ``x``'s
    graph when x is on one, so that nested transforms differentiate through)."""
    if not isinstance(x, Tensor):
        raise RuntimeError(f"expected the differentiated inputs to be Tensors, got "
                           f"{type(x).__name__}")
    return x if x.requires_grad else x.detach().requires_grad_()


def _flatten(tree):
    """(leaves, rebuild) of a pytree of Tensors (dicts, lists, tuples nested; a Tensor is a
    leaf): ``rebuild(new_leaves)`` gives the same structure with the new leaves."""
    if isinstance(tree, Tensor):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
    elif isinstance(tree, (list, tuple)):
        keys = None
        parts = [_flatten(v) for v in tree]
    else:
        raise RuntimeError(f"expected the differentiated inputs to be Tensors (or dicts, "
                           f"lists, tuples of them), got {type(tree).__name__}")
    counts = [len(p[0]) for p in parts]
    leaves = [leaf for p in parts for leaf in p[0]]

    def rebuild(new):
        out, start = [], 0
        for (_, sub), n in zip(parts, counts):
            out.append(sub(new[start:start + n]))
            start += n
        if keys is not None:
            return dict(zip(keys, out))
        return type(tree)(out)
    return leaves, rebuild


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not isinstance(out, tuple) or len(out) != 2:
        raise RuntimeError(f"{name}(f, has_aux=True): f must return a (output, aux) tuple")
    return out


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (d func / d args[argnums], func(*args)) for a scalar func."""
    def wrapper(*args, **kwargs):
        nums, single = _argnums(argnums, len(args))
        with enable_grad():
            args = list(args)
            trees = []
            for i in nums:                  # each differentiated argument: a pytree of leaves
                leaves, rebuild = _flatten(args[i])
                leaves = [_leaf(x) for x in leaves]
                args[i] = rebuild(leaves)
                trees.append((leaves, rebuild))
            out = func(*args, **kwargs)
            value, aux = _split_aux(out, has_aux, "grad")
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise RuntimeError("grad(f)(*args): Expected f(*args) to return a scalar "
                                   "Tensor")
            flat = [x for leaves, _ in trees for x in leaves]
            grads = engine.grad([value], flat, create_graph=True, allow_unused=True,
                                materialize_grads=True)
        results, start = [], 0
        for leaves, rebuild in trees:
            results.append(rebuild(list(grads[start:start + len(leaves)])))
            start += len(leaves)
        g = results[0] if single else tuple(results)
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning d func / d args[argnums] (with aux: (gradient, aux))."""
    inner = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangents) gives the gradients of every primal."""
    with enable_grad():
        leaves = [_leaf(p) for p in primals]
        out = func(*leaves)
        value, aux = _split_aux(out, has_aux, "vjp")

    def vjp_fn(cotangents):
        outputs = list(value) if isinstance(value, tuple) else [value]
        cots = list(cotangents) if isinstance(cotangents, tuple) else [cotangents]
        with enable_grad():
            return tuple(engine.grad(outputs, leaves, grad_outputs=cots, create_graph=True,
                                     retain_graph=True, allow_unused=True,
                                     materialize_grads=True))
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(func, primals, tangents, *, has_aux=False):
    """(func(*primals), J tangents), the product of the Jacobian with the tangents."""
    from .autograd.functional import jvp as _jvp
    primals, tangents = tuple(primals), tuple(tangents)
    out, jt = _jvp(lambda *xs: func(*xs), primals, tangents, create_graph=True)
    return out, jt


def _jacobian(func, argnums, has_aux):
    from .autograd.functional import jacobian

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        aux = None

        def restricted(*xs):
            nonlocal aux
            full = list(args)
            for i, x in zip(nums, xs):
                full[i] = x
            out = func(*full)
            value, aux = _split_aux(out, has_aux, "jacrev")
            return value
        jac = jacobian(restricted, tuple(args[i] for i in nums), create_graph=True)
        result = jac[0] if single else jac
        return (result, aux) if has_aux else result
    return wrapper


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The Jacobian of func with respect to args[argnums] (output dims, then input dims)."""
    return _jacobian(func, argnums, has_aux)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian (computed in reverse mode here: the same values as torch's forward mode)."""
    return _jacobian(func, argnums, has_aux)


def hessian(func, argnums=0):
    """The Hessian of a scalar func: jacfwd(jacrev(func))."""
    return jacfwd(jacrev(func, argnums), argnums)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over dim ``in_dims`` of its inputs (None: not mapped), the results stacked
    along ``out_dims`` (one call per element; see the module docstring)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")

    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} "
                             f"positional inputs")
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None}
        if not sizes:
            raise ValueError("vmap: at least one input must be mapped (in_dims not all None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: the mapped dims have different sizes {sorted(sizes)}")
        n = sizes.pop()
        results = []
        for i in range(n):
            picked = [a if d is None else a.select(d, i) for a, d in zip(args, dims)]
            results.append(func(*picked, **kwargs))
        if isinstance(results[0], tuple):
            outs = out_dims if isinstance(out_dims, (tuple, list)) else \
                (out_dims,) * len(results[0])
            return tuple(stack([r[k] for r in results], dim=outs[k])
                         for k in range(len(results[0])))
        return stack(results, dim=out_dims)
    return wrapper
