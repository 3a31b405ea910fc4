"""Custom ``autograd.Function`` subclasses written for torch run unchanged: the same class body
(torch-style tensor code in forward and backward: clamp, clone, where, masks, several outputs,
constants, ``setup_context``, ``mark_non_differentiable``, ``set_materialize_grads``,
``once_differentiable``) defined on torch and on tinygrad_cv gives the same outputs and
gradients; a ``higher_order`` one differentiates twice."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


def _define(lib):
    """The classes a torch script would write, for ``lib`` (torch or tinygrad_cv)."""

    class ClampedRelu(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, upper=6.0):
            ctx.save_for_backward(x)
            ctx.upper = upper
            return x.clamp(min=0, max=upper)

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            grad = g.clone()
            grad[x < 0] = 0
            grad[x > ctx.upper] = 0
            return grad, None

    class SignedSplit(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            mask = x > 0
            ctx.save_for_backward(x, w, mask)
            ctx.mark_non_differentiable(mask)
            return lib.where(mask, x * w, x * 0), x * w * 2, mask

        @staticmethod
        def backward(ctx, g_pos, g_double, g_mask):
            x, w, mask = ctx.saved_tensors
            gx = lib.where(mask, g_pos * w, g_pos * 0) + g_double * w * 2
            gw = (lib.where(mask, g_pos * x, g_pos * 0) + g_double * x * 2).sum(0)
            return gx, gw

    class SplitContext(lib.autograd.Function):
        @staticmethod
        def forward(x, scale):
            return x.exp() * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.save_for_backward(output)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out, None

    class NoMaterialize(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            total = x_zero = None
            for g, k in ((g1, 2), (g2, 3)):
                if g is not None:
                    total = g * k if total is None else total + g * k
            assert x_zero is None
            return total

    return ClampedRelu, SignedSplit, SplitContext, NoMaterialize


OURS, THEIRS = _define(tg), _define(torch)


def _pair(values):
    return tg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def test_torch_style_functions_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)) * 4
    w = rng.standard_normal(3)
    (xo, xt), (wo, wt) = _pair(x), _pair(w)
    for i in range(4):
        cls_o, cls_t = OURS[i], THEIRS[i]
        if i == 0:
            yo, yt = cls_o.apply(xo, 5.0), cls_t.apply(xt, 5.0)
            outs = [(yo, yt)]
        elif i == 1:
            po, do, mo = cls_o.apply(xo, wo)
            pt, dt, mt = cls_t.apply(xt, wt)
            assert not mo.requires_grad and not mt.requires_grad and mo.dtype == tg.bool_
            outs = [(po, pt), (do, dt)]
        elif i == 2:
            outs = [(cls_o.apply(xo, 0.5), cls_t.apply(xt, 0.5))]
        else:
            first_o, _ = cls_o.apply(xo)          # the second output gets no gradient
            first_t, _ = cls_t.apply(xt)
            outs = [(first_o, first_t)]
        lo = lt = 0
        for k, (o, t) in enumerate(outs):
            np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12)
            g = rng.standard_normal(tuple(t.shape))
            lo = lo + (o * tg.tensor(g)).sum()
            lt = lt + (t * torch.tensor(g)).sum()
        xo.grad = wo.grad = None
        xt.grad = wt.grad = None
        lo.backward()
        lt.backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
        if wt.grad is not None:
            np.testing.assert_allclose(wo.grad.numpy(), wt.grad.numpy(), rtol=1e-12)
        assert type(outs[0][0].grad_fn).__name__ == cls_o.__name__


def test_forward_runs_without_grad_and_needs_input_grad():
    seen = []

    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen.append((tg.is_grad_enabled(), type(a).__name__))
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return g, g

    a, b = tg.randn(2, requires_grad=True), tg.randn(2)
    Probe.apply(a, b).sum().backward()
    assert seen == [(False, "Tensor"), (True, False)]
    assert b.grad is None and a.grad is not None


def test_higher_order_custom_function_differentiates_twice():
    class Cube(tg.autograd.Function):
        higher_order = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = tg.tensor([1.0, -2.0], requires_grad=True)
    (g,) = tg.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, -2.0]))
    with pytest.raises(RuntimeError, match="first-order"):     # (no higher_order)
        tg.autograd.grad(OURS[2].apply(x, 2.0).sum(), [x], create_graph=True)


def test_numpy_results_are_accepted():
    class OnArrays(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return np.tanh(x.array)

        @staticmethod
        def backward(ctx, g):
            return g.array * 2

    x = tg.randn(3, requires_grad=True)
    OnArrays.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)
