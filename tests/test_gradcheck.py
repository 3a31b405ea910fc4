"""tinygrad_cv.testing.gradcheck catches wrong backward formulas and names where."""
import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_cv as tg
from tinygrad_cv.testing import GradcheckError, gradcheck, gradgradcheck
from tinygrad_cv.testing import strategies as tst


class Cube(tg.autograd.Function):
    """y = x^3;  dy/dx = 3 x^2."""

    higher_order = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x ** 2 * g            # wrong factor


class WrongAtOneElement(tg.autograd.Function):
    """y = a * b with a backward that corrupts element (1, 2) of b's gradient only."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = g * a
        gb[1, 2] += g[1, 2]           # (still proportional to g)
        return g * b, gb


def test_correct_function_passes():
    x = tg.randn(3, 4, dtype="float64", requires_grad=True)
    assert gradcheck(Cube.apply, (x,)) is True
    assert gradcheck(Cube.apply, x) is True                  # a single tensor is fine too
    assert gradgradcheck(Cube.apply, (x,)) is True


def test_wrong_backward_fails_naming_input_and_element():
    x = tg.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 .*element \(\d, \d\).*analytic.*numerical"):
        gradcheck(WrongCube.apply, (x,))
    assert not gradcheck(WrongCube.apply, (x,), raise_exception=False)
    a = tg.randn(2, 3, dtype="float64", requires_grad=True)
    b = tg.randn(2, 3, dtype="float64", requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongAtOneElement.apply, (a, b))
    msg = str(info.value)
    assert "input 1" in msg and "element (1, 2)" in msg and "1 of 6 elements" in msg
    assert isinstance(info.value, AssertionError)


def test_wrong_second_derivative_is_caught():
    class FirstOrderWrongTwice(Cube):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            # right value, but x.detach() hides the dependence on x from the second pass
            xd = x.detach() if isinstance(x, tg.Tensor) else x
            return 3 * xd * xd * g

    x = tg.randn(4, dtype="float64", requires_grad=True)
    assert gradcheck(FirstOrderWrongTwice.apply, (x,))
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(FirstOrderWrongTwice.apply, (x,))


def test_multiple_outputs_and_constant_inputs():
    a = tg.randn(3, dtype="float64", requires_grad=True)
    const = tg.randn(3, dtype="float64")
    assert gradcheck(lambda x, c, k: (x * c * k, x.exp()), (a, const, 2.0))
    assert gradcheck(lambda x: x.max(dim=0), (tg.randn(3, 2, requires_grad=True),))


def test_float32_inputs_are_checked_in_float64():
    x = tg.randn(5, requires_grad=True)                      # float32
    assert gradcheck(lambda t: t.sigmoid() * t, (x,))
    assert x.dtype == np.float32


def test_no_differentiable_input_is_an_error():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda t: t * 2, (tg.randn(3),))


@settings(max_examples=15, deadline=None)
@given(x=tst.tensors(tst.shapes(max_dims=3), requires_grad=True, min_value=-2, max_value=2))
def test_strategies_drive_gradcheck(x):
    assert x.dtype == np.float64 and x.requires_grad
    assert gradcheck(lambda t: (t * t).sin(), (x,))


@settings(max_examples=15, deadline=None)
@given(shapes=tst.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    out = np.broadcast_shapes(*shapes)
    args = [tg.ones(*s, dtype="float64", requires_grad=True) for s in shapes]
    assert tuple((args[0] * args[1] + args[2]).shape) == out


@settings(max_examples=15, deadline=None)
@given(a=tst.arrays(tst.shapes(min_dims=1), min_magnitude=0.5, unique=True),
       b=tst.arrays((2, 3), dtype="int64", min_value=-5, max_value=5),
       c=tst.arrays((3,), min_value=0.1, max_value=2))
def test_arrays_strategy_options(a, b, c):
    assert a.dtype == np.float64 and np.all(np.abs(a) >= 0.5)
    assert len(np.unique(a)) == a.size
    assert b.dtype == np.int64 and b.shape == (2, 3) and b.min() >= -5 and b.max() <= 5
    assert c.min() >= 0.1 and c.max() <= 2
