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
from .nn.utils import stateless
from .tensor import Tensor, stack

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``nn.utils.stateless.functional_call`` with torch.func's argument: one dict, or a
    tuple/list of dicts merged (a name in two of them raises ValueError)."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        merged = dicts
    elif isinstance(dicts, (tuple, list)) and all(isinstance(d, dict) for d in dicts):
        merged = {}
        for d in dicts:
            twice = sorted(set(merged) & set(d))
            if twice:
                raise ValueError(f"{twice} appeared in multiple dictionaries; behavior of "
                                 f"functional call is ambiguous")
            merged.update(d)
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                         f"of dicts, but got {type(dicts).__name__}")
    return stateless.functional_call(module, merged, args, kwargs, tie_weights=tie_weights,
                                     strict=strict)


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


def _fresh_leaves(xs):
    """``_leaf`` of each, with the ids of the leaves made here (inputs that did not require
    grad): a result reaching no other leaf is detached at the end (``_constant_unless_outer``)."""
    leaves = [_leaf(x) for x in xs]
    return leaves, {id(new) for x, new in zip(xs, leaves) if new is not x}


def _constant_unless_outer(tree, fresh):
    """``tree`` (a pytree of results) detached when its graph reaches no leaf that requires
    grad besides the ``fresh`` ones of this transform: as torch.func's, a transform's results
    are tracked only by an enclosing transform or an outer graph (a closure over a tensor that
    requires grad, an input that does)."""
    leaves, rebuild = _flatten_results(tree)
    tensors = [t for t in leaves if isinstance(t, Tensor) and t.requires_grad]
    seen, stack_ = set(), [t.creator for t in tensors]
    for t in tensors:
        if t.creator is None and id(t) not in fresh:
            return tree
    while stack_:
        node = stack_.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for x in node.inputs:
            if isinstance(x, Tensor) and x.requires_grad:
                if x.creator is None:
                    if id(x) not in fresh:
                        return tree
                else:
                    stack_.append(x.creator)
    return rebuild([t.detach() if isinstance(t, Tensor) else t for t in leaves])


def _flatten_results(tree):
    """(leaves, rebuild) of nested tuples/lists/dicts whose leaves are anything."""
    if isinstance(tree, dict):
        parts = [_flatten_results(v) for v in tree.values()]
        keys = list(tree)
    elif isinstance(tree, (list, tuple)):
        parts = [_flatten_results(v) for v in tree]
        keys = None
    else:
        return [tree], lambda leaves: leaves[0]
    counts = [len(p[0]) for p in parts]

    def rebuild(new):
        out, start = [], 0
        for (_, sub), n in zip(parts, counts):
            out.append(sub(new[start:start + n]))
            start += n
        if keys is not None:
            return dict(zip(keys, out))
        return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)
    return [leaf for p in parts for leaf in p[0]], rebuild


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
            trees, fresh = [], set()
            for i in nums:                  # each differentiated argument: a pytree of leaves
                leaves, rebuild = _flatten(args[i])
                leaves, made = _fresh_leaves(leaves)
                fresh |= made
                args[i] = rebuild(leaves)
                trees.append((leaves, rebuild))
            out = func(*args, **kwargs)
            value, aux = _split_aux(out, has_aux, "grad")
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise RuntimeError("grad(f)(*args): Expected f(*args) to return a scalar "
                                   "Tensor")
            flat = [x for leaves, _ in trees for x in leaves]
            if value.requires_grad:
                grads = engine.grad([value], flat, create_graph=True, allow_unused=True,
                                    materialize_grads=True)
            else:                           # (f does not depend on the arguments: zeros)
                grads = [x.detach() * 0 for x in flat]
        results, start = [], 0
        for leaves, rebuild in trees:
            results.append(rebuild(list(grads[start:start + len(leaves)])))
            start += len(leaves)
        g = results[0] if single else tuple(results)
        return _constant_unless_outer((g, (value, aux)) if has_aux else (g, value), fresh)
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
        leaves, fresh = _fresh_leaves(primals)
        out = func(*leaves)
        value, aux = _split_aux(out, has_aux, "vjp")

    def vjp_fn(cotangents):
        outputs = list(value) if isinstance(value, tuple) else [value]
        cots = list(cotangents) if isinstance(cotangents, tuple) else [cotangents]
        with enable_grad():
            found = tuple(engine.grad(outputs, leaves, grad_outputs=cots, create_graph=True,
                                      retain_graph=True, allow_unused=True,
                                      materialize_grads=True))
        return _constant_unless_outer(found, fresh | {id(c) for c in cots})
    shown = _constant_unless_outer((value, aux), fresh)
    return (shown[0], vjp_fn, shown[1]) if has_aux else (shown[0], vjp_fn)


def jvp(func, primals, tangents, *, has_aux=False):
    """(func(*primals), J tangents[, aux]): J t = d/du (u^T J) t with u a dummy cotangent
    (two reverse passes)."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be "
                           "tuples")
    if len(primals) != len(tangents):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                           "the same length")
    for p, t in zip(primals, tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to "
                               f"have the same shapes, got {tuple(p.shape)} and "
                               f"{tuple(t.shape)}")
    with enable_grad():
        leaves, fresh = _fresh_leaves(primals)
        out = func(*leaves)
        value, aux = _split_aux(out, has_aux, "jvp")
        outs = list(value) if isinstance(value, tuple) else [value]
        dummies = [(o.detach() * 0).requires_grad_() for o in outs]
        fresh |= {id(u) for u in dummies}
        live = [(o, u) for o, u in zip(outs, dummies) if o.requires_grad]
        if live:
            vjps = engine.grad([o for o, _ in live], leaves, grad_outputs=[u for _, u in live],
                               create_graph=True, allow_unused=True, materialize_grads=True)
            pairs = [(g, t) for g, t in zip(vjps, tangents) if g.requires_grad]
        else:
            pairs = []
        if pairs:
            jt = engine.grad([g for g, _ in pairs], dummies, grad_outputs=[t for _, t in pairs],
                             create_graph=True, allow_unused=True, materialize_grads=True)
        else:
            jt = [u.detach() for u in dummies]
    jt = tuple(jt) if isinstance(value, tuple) else jt[0]
    result = (value, jt, aux) if has_aux else (value, jt)
    return _constant_unless_outer(result, fresh)


def _jacobian(func, argnums, has_aux):
    from .autograd.functional import jacobian

    def wrapper(*args):
        nums, single = _argnums(argnums, len(args))
        aux = None
        several_outputs = False

        def restricted(*xs):
            nonlocal aux, several_outputs
            full = list(args)
            for i, x in zip(nums, xs):
                full[i] = x
            out = func(*full)
            value, aux = _split_aux(out, has_aux, "jacrev")
            several_outputs = isinstance(value, tuple)
            return value
        leaves, fresh = _fresh_leaves([args[i] for i in nums])
        jac = jacobian(restricted, tuple(leaves), create_graph=True)
        # jacobian's J[output][input]: torch.func's nesting is outputs, then argnums
        if several_outputs:
            result = tuple(j[0] for j in jac) if single else jac
        else:
            result = jac[0] if single else jac
        return _constant_unless_outer((result, aux) if has_aux else result, fresh)
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
            return tuple(results[0][k] if outs[k] is None else      # (None: not mapped)
                         stack([r[k] for r in results], dim=outs[k])
                         for k in range(len(results[0])))
        return results[0] if out_dims is None else stack(results, dim=out_dims)
    return wrapper
