"""Tools for testing differentiable code: numerical gradient checks and hypothesis strategies.

``gradcheck(fn, inputs)`` compares the gradients that autograd computes for ``fn`` with
central finite differences in float64::

    from tinygrad_cv.testing import gradcheck

    class Cube(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = tg.randn(4, 5, dtype="float64", requires_grad=True)
    assert gradcheck(Cube.apply, (x,))

On a mismatch it raises ``GradcheckError`` (an ``AssertionError``) naming the input, the
worst element and both values.  ``gradgradcheck`` does the same for the gradient of the
gradient (``create_graph=True``).  Hypothesis strategies for shapes, arrays and tensors are in
``tinygrad_cv.testing.strategies`` (it needs the ``hypothesis`` package, a test extra).

torch.testing's ``assert_close`` (``comparison.py``) and ``make_tensor`` (``creation.py``) are
here too, with torch's signatures, tolerances and messages.
"""
from __future__ import annotations

from .. import backend
from ..autograd import enable_grad, grad as autograd_grad, no_grad
from ..tensor import Tensor
from .comparison import assert_close  # noqa: F401
from .creation import make_tensor  # noqa: F401

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "assert_close", "make_tensor"]

_FLOAT64 = backend.dtype("float64")


class GradcheckError(AssertionError):
    """The analytic gradient of some input differs from the finite-difference estimate."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare_inputs(inputs):
    """float64 copies of the Tensors that require grad (other inputs pass through unchanged)."""
    out = []
    for x in _as_tuple(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            data = x.array.astype(_FLOAT64, copy=True)
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


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, *, seed=0, raise_exception=True,
              numerical_no_grad=True):
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    ``fn(*inputs)`` returns a Tensor or a tuple of Tensors (integer outputs are ignored).
    Every input Tensor with ``requires_grad=True`` is checked; it is copied to float64 first
    (the check is meaningless in float32), other inputs are passed through unchanged.

    With a fixed random projection v_k of each output y_k and s(x) = sum_k <v_k, y_k(x)>:

        analytic   a_j = d s / d x_j                        (one backward pass)
        numerical  n_j = (s(x + eps e_j) - s(x - eps e_j)) / (2 eps)

    and every element must satisfy ``|a_j - n_j| <= atol + rtol * |n_j|``.

    Returns True on success.  On failure raises ``GradcheckError`` naming the input index, the
    element with the largest violation and both values (or returns False when
    ``raise_exception=False``).  ``numerical_no_grad=False`` evaluates the finite differences
    with grad mode on (needed when ``fn`` itself calls ``autograd.grad``).
    """
    inputs = _prepare_inputs(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input Tensor has requires_grad=True")
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    vs = _projection_vectors(outputs, seed)
    diff_outputs = [o for o in outputs if o.requires_grad]
    if diff_outputs:
        grads = autograd_grad(diff_outputs, [inputs[i] for i in checked],
                              grad_outputs=[Tensor.wrap(v) for o, v in zip(outputs, vs)
                                            if o.requires_grad],
                              allow_unused=True)
    else:
        grads = [None] * len(checked)

    for i, g in zip(checked, grads):
        x = inputs[i]
        xp = backend.get_array_module(x.array)
        analytic = xp.zeros(x.shape, dtype=_FLOAT64) if g is None else g.array
        if tuple(analytic.shape) != tuple(x.shape):
            return _fail(raise_exception, f"gradcheck: the gradient of input {i} has shape "
                                          f"{tuple(analytic.shape)}, the input {tuple(x.shape)}")
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
            return _fail(raise_exception,
                         f"gradcheck: the gradient of input {i} (shape {tuple(x.shape)}) is wrong "
                         f"at element {_element(tuple(x.shape), j)}: analytic {a:.8g}, numerical "
                         f"{n:.8g} (|difference| {abs(a - n):.3g} > atol + rtol*|numerical| = "
                         f"{atol + rtol * abs(n):.3g}; {bad} of {analytic.size} elements "
                         "outside the tolerance)")
    return True


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, *, seed=0, raise_exception=True):
    """Check second derivatives: ``gradcheck`` of the map (inputs, u) -> d<u, fn(inputs)>/d inputs.

    The first-order gradient is computed with ``create_graph=True``; ``u`` (one random vector per
    floating output) is itself an input of the checked map, so both the gradient of the
    gradient and the linearity of backward in its incoming gradient are verified.
    """
    inputs = _prepare_inputs(inputs)
    n_in = len(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradgradcheck: no input Tensor has requires_grad=True")
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    us = tuple(Tensor.wrap(v).requires_grad_() for v in _projection_vectors(outputs, seed + 1))

    def first_order(*args):
        xs, u = args[:n_in], args[n_in:]
        with enable_grad():
            ys = [o for o in _float_outputs(fn(*xs))]
            pairs = [(y, w) for y, w in zip(ys, u) if y.requires_grad]
            grads = autograd_grad([y for y, _ in pairs], [xs[i] for i in checked],
                                  grad_outputs=[w for _, w in pairs], create_graph=True,
                                  allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_order, inputs + us, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception, numerical_no_grad=False)
