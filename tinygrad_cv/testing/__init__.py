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

On a mismatch it raises ``GradcheckError`` (an ``AssertionError`` and a ``RuntimeError``) naming the input, the
worst element and both values.  ``gradgradcheck`` does the same for the gradient of the
gradient (``create_graph=True``).  Hypothesis strategies for shapes, arrays and tensors are in
``tinygrad_cv.testing.strategies`` (it needs the ``hypothesis`` package, a test extra).

torch.testing's ``assert_close`` (``comparison.py``) and ``make_tensor`` (``creation.py``) are
here too, with torch's signatures, tolerances and messages.
"""
from __future__ import annotations

from ..autograd.gradcheck import GradcheckError, check_gradients, check_second_gradients
from .comparison import assert_close  # noqa: F401
from .creation import make_tensor  # noqa: F401

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "assert_close", "make_tensor"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, *, seed=0, raise_exception=True,
              numerical_no_grad=True):
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences
    (``autograd/gradcheck.py`` has the math).

    ``fn(*inputs)`` returns a Tensor or a tuple of Tensors (integer outputs are ignored).
    Every input Tensor with ``requires_grad=True`` is checked; it is copied to float64 first
    (the check is meaningless in float32), other inputs are passed through unchanged.  The
    Jacobians are compared through one fixed random projection of the outputs (one backward
    pass, two evaluations per input element); ``tinygrad_cv.autograd.gradcheck`` has torch's
    signature and compares whole Jacobians by default.

    Returns True on success.  On failure raises ``GradcheckError`` naming the input index, the
    element with the largest violation and both values (or returns False when
    ``raise_exception=False``).  ``numerical_no_grad=False`` evaluates the finite differences
    with grad mode on (needed when ``fn`` itself calls ``autograd.grad``).
    """
    return check_gradients(fn, inputs, eps, atol, rtol, seed=seed,
                           raise_exception=raise_exception, numerical_no_grad=numerical_no_grad)


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, *, seed=0, raise_exception=True):
    """Check second derivatives: ``gradcheck`` of the map (inputs, u) -> d<u, fn(inputs)>/d inputs
    (the first-order gradient computed with ``create_graph=True``; ``u``, one random vector per
    floating output, is itself an input of the checked map, so both the gradient of the
    gradient and the linearity of backward in its incoming gradient are verified)."""
    return check_second_gradients(fn, inputs, None, eps, atol, rtol, seed=seed,
                                  raise_exception=raise_exception)
