"""Gradient checks: autograd's gradients against central finite differences in float64.

``check_gradients`` is the one implementation; ``gradcheck``/``gradgradcheck`` here have
torch.autograd's signatures and defaults, and ``tinygrad_cv.testing`` keeps the framework's
own (which copies the inputs to float64 first).  Two ways to compare, for each input x_i that
requires grad (y_k the floating outputs):

* full Jacobians (torch's default, ``fast_mode=False``): the numerical J[k, j] =
  (y_k(x + eps e_j) - y_k(x - eps e_j)) / (2 eps) (two evaluations per input element) against
  the analytic rows, one backward pass per output element;
* a random projection (``fast_mode=True``, the framework's default): with a fixed random
  v_k per output and s(x) = sum_k <v_k, y_k(x)>, ``a_j = ds/dx_j`` (one backward pass) against
  ``(s(x + eps e_j) - s(x - eps e_j)) / (2 eps)``; a wrong Jacobian fails it with
  probability one.

Every element must satisfy ``|analytic - numerical| <= atol + rtol * |numerical|``, and zero
grad_outputs must give zero gradients (a backward that adds something of its own fails, as in
torch's check).  Failures
raise ``GradcheckError`` (a RuntimeError, as torch's, and an AssertionError, so test
frameworks report it as a failed check) naming the input, the worst element and both values.
"""
from __future__ import annotations

import warnings

from .. import backend
from ..tensor import Tensor
from .engine import grad as autograd_grad
from .mode import enable_grad, no_grad

_FLOAT64 = backend.dtype("float64")


class GradcheckError(AssertionError, RuntimeError):
    """The analytic gradient of some input differs from the finite-difference estimate."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare_inputs(inputs, to_double=True):
    """The inputs with each Tensor that requires grad replaced by a copy of its own (float64
    when ``to_double``): the finite differences change it in place.  Other inputs pass
    through unchanged."""
    out = []
    for x in _as_tuple(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            data = x.array.astype(_FLOAT64 if to_double else x.array.dtype, copy=True)
            x = Tensor.wrap(data).requires_grad_()
        out.append(x)
    return tuple(out)


def _float_outputs(outputs):
    """The floating-point Tensors among ``fn``'s outputs (integer outputs such as argmax indices
    have no gradient)."""
    outs = _as_tuple(outputs)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got "
                            f"{type(o).__name__}")
    return tuple(o for o in outs if backend.is_floating(o.dtype))


def _projection_vectors(outputs, seed):
    """One fixed random vector per output: the check compares gradients of sum_k <v_k, y_k>.

    A random projection catches a wrong Jacobian with probability one while needing a single
    backward pass and two forward passes per input element.
    """
    vs = []
    rng = backend.get_array_module(*[o.array for o in outputs]).random.default_rng(seed) \
        if outputs else None
    for o in outputs:
        v = rng.standard_normal(o.shape).astype(_FLOAT64)
        vs.append(v if backend.device_of(o.array) == "cpu" else backend.to_device(v, "cuda"))
    return vs


def _projected(outputs, vs):
    """sum_k <v_k, y_k> as a Python float."""
    total = 0.0
    for o, v in zip(outputs, vs):
        total += float((o.array.astype(_FLOAT64) * v).sum())
    return total


def _numerical_gradient(fn, inputs, index, vs, eps):
    """d/dx_j sum_k <v_k, y_k(x)> for every element j of ``inputs[index]`` (central differences)."""
    x = inputs[index]
    flat = x.array.reshape(-1)   # a view: x.array is a contiguous copy made by _prepare_inputs
    xp = backend.get_array_module(flat)
    out = xp.zeros(flat.shape, dtype=_FLOAT64)
    for j in range(flat.size):
        orig = float(flat[j])
        flat[j] = orig + eps
        plus = _projected(_float_outputs(fn(*inputs)), vs)
        flat[j] = orig - eps
        minus = _projected(_float_outputs(fn(*inputs)), vs)
        flat[j] = orig
        out[j] = (plus - minus) / (2 * eps)
    return out.reshape(x.shape)


def _element(shape, flat_index):
    if not shape:
        return "()"
    idx = []
    for s in reversed(shape):
        idx.append(flat_index % s)
        flat_index //= s
    return str(tuple(int(i) for i in reversed(idx)))


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, *, seed=0,
                    raise_exception=True, numerical_no_grad=True, to_double=True,
                    full_jacobian=False, nondet_tol=0.0, check_grad_dtypes=False,
                    name="gradcheck"):
    """Check the gradients of ``fn`` at ``inputs`` (see the module docstring).

    ``fn(*inputs)`` returns a Tensor or a tuple of Tensors (integer outputs are ignored); every
    input Tensor with ``requires_grad=True`` is checked, on a copy (float64 when
    ``to_double``).  ``full_jacobian``: compare whole Jacobians, else one random projection.
    ``nondet_tol``: the analytic gradients of two backward passes may differ by this much.
    ``check_grad_dtypes``: each gradient must have its input's dtype.  ``numerical_no_grad=False``
    evaluates the finite differences with grad mode on (when ``fn`` itself calls
    ``autograd.grad``).  Returns True, or on failure raises ``GradcheckError`` (returns False
    when ``raise_exception=False``)."""
    inputs = _prepare_inputs(inputs, to_double)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{name}: no input Tensor has requires_grad=True")
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    zeros = [backend.get_array_module(o.array).zeros(o.shape, dtype=_FLOAT64) for o in outputs]
    for i, g in zip(checked, _analytic(outputs, inputs, checked, zeros)):
        if g is not None and bool((g.array != 0).any()):     # (torch's check too)
            return _fail(raise_exception, f"{name}: backward not multiplied by grad_output "
                                          f"(input {i} gets a gradient from zero grad_outputs)")
    if full_jacobian:
        projections = _one_hot_projections(outputs)
    else:
        projections = [_projection_vectors(outputs, seed)]
    for vs in projections:
        failure = _check_projection(fn, inputs, checked, outputs, vs, eps, atol, rtol,
                                    numerical_no_grad, nondet_tol, check_grad_dtypes, name,
                                    full_jacobian)
        if failure:
            return _fail(raise_exception, failure)
    return True


def _one_hot_projections(outputs):
    """One projection per output element: the rows of the Jacobians, one at a time."""
    zeros = [backend.get_array_module(o.array).zeros(o.shape, dtype=_FLOAT64) for o in outputs]
    for k, o in enumerate(outputs):
        flat = zeros[k].reshape(-1)
        for r in range(flat.size):
            flat[r] = 1.0
            yield zeros
            flat[r] = 0.0


def _analytic(outputs, inputs, checked, vs):
    """d<v, y>/dx for each checked input (None for an input the outputs do not reach)."""
    diff = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
    if not diff:
        return [None] * len(checked)
    return autograd_grad([o for o, _ in diff], [inputs[i] for i in checked],
                         grad_outputs=[Tensor.wrap(v.astype(o.array.dtype)) for o, v in diff],
                         retain_graph=True, allow_unused=True)


def _check_projection(fn, inputs, checked, outputs, vs, eps, atol, rtol, numerical_no_grad,
                      nondet_tol, check_grad_dtypes, name, full_jacobian):
    """The failure message of one projection ``vs`` of the outputs, or None."""
    grads = _analytic(outputs, inputs, checked, vs)
    if nondet_tol is not None:
        again = _analytic(outputs, inputs, checked, vs)
        for i, g, h in zip(checked, grads, again):
            if (g is None) != (h is None) or g is not None and float(
                    abs(g.array.astype(_FLOAT64) - h.array.astype(_FLOAT64)).max(initial=0)) \
                    > nondet_tol:
                return (f"{name}: Backward is not reentrant, i.e., running backward with the "
                        f"same input and grad_output multiple times gives different values for "
                        f"input {i}, although analytical gradient matches numerical gradient. "
                        f"The tolerance for nondeterminism was {nondet_tol}.")
    row = ""
    if full_jacobian:
        k, r = next((k, int(v.reshape(-1).argmax())) for k, v in enumerate(vs) if v.any())
        row = f" (Jacobian row: output {k} element {_element(tuple(outputs[k].shape), r)})"
    for i, g in zip(checked, grads):
        x = inputs[i]
        xp = backend.get_array_module(x.array)
        if check_grad_dtypes and g is not None and g.dtype != x.dtype:
            return f"{name}: Gradient has dtype mismatch for input {i}: {g.dtype} vs {x.dtype}"
        analytic = xp.zeros(x.shape, dtype=_FLOAT64) if g is None else g.array
        if tuple(analytic.shape) != tuple(x.shape):
            return (f"{name}: the gradient of input {i} has shape {tuple(analytic.shape)}, the "
                    f"input {tuple(x.shape)}")
        if numerical_no_grad:
            with no_grad():
                numerical = _numerical_gradient(fn, inputs, i, vs, eps)
        else:
            numerical = _numerical_gradient(fn, inputs, i, vs, eps)
        analytic = analytic.astype(_FLOAT64)
        excess = abs(analytic - numerical) - (atol + rtol * abs(numerical))
        if excess.size and (float(excess.max()) > 0 or bool(xp.isnan(analytic).any())):
            nan = xp.isnan(analytic).reshape(-1)
            j = int(nan.argmax()) if bool(nan.any()) else int(excess.reshape(-1).argmax())
            a = float(analytic.reshape(-1)[j])
            n = float(numerical.reshape(-1)[j])
            bad = int((excess > 0).sum()) + int(nan.sum())
            return (f"{name}: the gradient of input {i} (shape {tuple(x.shape)}) is wrong at "
                    f"element {_element(tuple(x.shape), j)}{row}: analytic {a:.8g}, numerical "
                    f"{n:.8g} (|difference| {abs(a - n):.3g} > atol + rtol*|numerical| = "
                    f"{atol + rtol * abs(n):.3g}; {bad} of {analytic.size} elements outside "
                    "the tolerance)")
    return None


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False


def check_second_gradients(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, *,
                           seed=0, to_double=True, name="gradgradcheck", **options):
    """``check_gradients`` of the map (inputs, u) -> d<u, fn(inputs)>/d inputs, the first-order
    gradient computed with ``create_graph=True``; ``u`` (``grad_outputs``, else one random
    vector per floating output) is itself an input of the checked map, so both the gradient of
    the gradient and the linearity of backward in its incoming gradient are checked."""
    inputs = _prepare_inputs(inputs, to_double)
    n_in = len(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{name}: no input Tensor has requires_grad=True")
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    if grad_outputs is None:
        us = tuple(Tensor.wrap(v.astype(o.array.dtype)).requires_grad_()
                   for o, v in zip(outputs, _projection_vectors(outputs, seed + 1)))
    else:
        us = tuple(Tensor.wrap(u.array.astype(_FLOAT64 if to_double else u.array.dtype,
                                              copy=True)).requires_grad_()
                   for u in _as_tuple(grad_outputs))

    def first_order(*args):
        xs, u = args[:n_in], args[n_in:]
        with enable_grad():
            ys = [o for o in _float_outputs(fn(*xs))]
            pairs = [(y, w) for y, w in zip(ys, u) if y.requires_grad]
            grads = autograd_grad([y for y, _ in pairs], [xs[i] for i in checked],
                                  grad_outputs=[w for _, w in pairs], create_graph=True,
                                  allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return check_gradients(first_order, inputs + us, eps=eps, atol=atol, rtol=rtol, seed=seed,
                           numerical_no_grad=False, to_double=to_double, name=name, **options)


# ---- torch.autograd's signatures ------------------------------------------------------------
def _refuse(name, **flags):
    for flag, value in flags.items():
        if value:
            raise NotImplementedError(f"{name}({flag}=True): forward-mode and batched (vmap) "
                                      "gradient checks are not supported; the engine is "
                                      "reverse mode")


def _warn_not_double(name, inputs):
    for k, x in enumerate(_as_tuple(inputs)):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != _FLOAT64:
            warnings.warn(f"Input #{k} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex.", UserWarning,
                          stacklevel=3)


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """torch.autograd.gradcheck: the inputs as given (a float32 input warns, as torch's, and
    will likely fail), full Jacobians unless ``fast_mode``.  ``check_undefined_grad`` is
    accepted: a backward here only receives ``None`` for an output under
    ``set_materialize_grads(False)``, which this check does not exercise."""
    _refuse("gradcheck", check_batched_grad=check_batched_grad,
            check_batched_forward_grad=check_batched_forward_grad,
            check_forward_ad=check_forward_ad)
    if not check_backward_ad:
        raise ValueError("gradcheck: Expected at least one of check_forward_ad or "
                         "check_backward_ad to be True")
    if masked:
        raise NotImplementedError("gradcheck(masked=True): sparse masked semantics are not "
                                  "supported")
    _warn_not_double("gradcheck", inputs)
    return check_gradients(func, inputs, eps, atol, rtol, raise_exception=raise_exception,
                           to_double=False, full_jacobian=not fast_mode, nondet_tol=nondet_tol,
                           check_grad_dtypes=check_grad_dtypes)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """torch.autograd.gradgradcheck (``gen_non_contig_grad_outputs`` is accepted: the layout of
    the generated grad_outputs does not change what the engine computes)."""
    _refuse("gradgradcheck", check_batched_grad=check_batched_grad,
            check_fwd_over_rev=check_fwd_over_rev)
    if not check_rev_over_rev:
        raise ValueError("gradgradcheck: Expected at least one of check_fwd_over_rev or "
                         "check_rev_over_rev to be True")
    _warn_not_double("gradgradcheck", inputs)
    return check_second_gradients(func, inputs, grad_outputs, eps, atol, rtol, to_double=False,
                                  raise_exception=raise_exception, full_jacobian=not fast_mode,
                                  nondet_tol=nondet_tol, check_grad_dtypes=check_grad_dtypes)
