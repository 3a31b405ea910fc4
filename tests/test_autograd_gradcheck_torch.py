"""``tinygrad_cv.autograd.gradcheck`` / ``gradgradcheck`` against torch.autograd's on the same
functions: pass/fail, the error type, ``raise_exception``, the float32 warning, ``fast_mode``,
``nondet_tol``, given ``grad_outputs`` and the refused forward-mode options."""
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg

RNG = np.random.default_rng(3)


def _functions(lib):
    class WrongScale(lib.autograd.Function):        # d/dx x^2 given as 2.1 x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2.1 * x * g

    class OffDiagonal(lib.autograd.Function):       # y = A x with A's transpose in backward
        @staticmethod
        def forward(ctx, x):
            ctx.a = lib.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=x.dtype)
            return ctx.a @ x

        @staticmethod
        def backward(ctx, g):
            return ctx.a @ g                         # should be A^T g

    class Noisy(lib.autograd.Function):             # a correct gradient plus a tiny jitter
        calls = [0]

        @staticmethod
        def forward(x):
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            Noisy.calls[0] += 1
            return g * (ctx.saved_cos + 1e-12 * Noisy.calls[0])

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.saved_cos = inputs[0].cos()

    class AddsBias(lib.autograd.Function):          # backward adds a constant of its own
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3 + 1e-3

    return WrongScale, OffDiagonal, Noisy, AddsBias


def _outcome(call):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
    except Exception as exc:
        return type(exc).__name__, ["RuntimeError" in [c.__name__ for c in type(exc).__mro__]]
    return result, [str(w.message)[:40] for w in caught]


@pytest.mark.parametrize("fast_mode", [False, True])
def test_pass_fail_and_errors_match_torch(fast_mode):
    x = RNG.standard_normal((2, 3))
    v = RNG.standard_normal(2)
    outcomes = []
    for lib in (torch, tg):
        wrong, off_diagonal = _functions(lib)[:2]
        t = lib.tensor(x, requires_grad=True)
        tv = lib.tensor(v, requires_grad=True)
        check = lambda f, inp, **kw: lib.autograd.gradcheck(f, inp, fast_mode=fast_mode, **kw)
        outcomes.append([
            _outcome(lambda: check(lambda a: (a.exp() * a).sum(1).tanh(), (t,))),
            _outcome(lambda: check(lambda a, b: (a.t() @ b, a.max()), (t, tv))),
            _outcome(lambda: check(wrong.apply, (t,))),
            _outcome(lambda: check(wrong.apply, (t,), raise_exception=False)),
            _outcome(lambda: check(off_diagonal.apply, (tv,), raise_exception=False)),
            _outcome(lambda: check(lambda a: a * 2, (lib.tensor(x, dtype=lib.float32,
                                                               requires_grad=True),))),
        ])
    theirs, ours = outcomes
    assert [o[0] for o in ours] == [o[0] for o in theirs]
    assert ours[2][1] == theirs[2][1] == [True]         # a RuntimeError subclass
    assert ours[5][1] and theirs[5][1] and ours[5][1][0] == theirs[5][1][0]  # the warning


def test_nondeterministic_backward_and_gradgradcheck_match_torch():
    x = RNG.standard_normal(4)
    outcomes = []
    for lib in (torch, tg):
        noisy = _functions(lib)[2]
        t = lib.tensor(x, requires_grad=True)
        outcomes.append([
            lib.autograd.gradcheck(noisy.apply, (t,), raise_exception=False),
            lib.autograd.gradcheck(noisy.apply, (t,), nondet_tol=1e-8),
            lib.autograd.gradgradcheck(lambda a: (a.sin() * a).cumsum(0), (t,)),
            lib.autograd.gradgradcheck(lambda a: a.exp().sum(), (t,),
                                       (lib.tensor(2.0, dtype=lib.float64),)),
            lib.autograd.gradgradcheck(lambda a: a.exp().sum(), (t,), fast_mode=True),
            lib.autograd.gradcheck(_functions(lib)[3].apply, (t,), raise_exception=False),
        ])
    assert outcomes[0] == outcomes[1] == [False, True, True, True, True, False]


def test_forward_mode_options_are_refused():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    for option in ("check_forward_ad", "check_batched_grad", "check_batched_forward_grad"):
        with pytest.raises(NotImplementedError, match=option):
            tg.autograd.gradcheck(lambda a: a * 2, (x,), **{option: True})
    with pytest.raises(NotImplementedError, match="check_fwd_over_rev"):
        tg.autograd.gradgradcheck(lambda a: a * a, (x,), check_fwd_over_rev=True)
    from tinygrad_cv.autograd.gradcheck import GradcheckError
    assert issubclass(GradcheckError, RuntimeError) and issubclass(GradcheckError, AssertionError)
