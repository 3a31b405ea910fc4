"""``ctx.mark_dirty`` in user-defined autograd Functions (inputs changed in place and returned),
against torch: the same Tensor object comes back on the graph, version counters, gradients
through plain tensors and views, the errors (a leaf, a dirty input not returned, a saved value
changed), no-grad use, several outputs and a saved dirty output."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


def _functions(lib):
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class SquareInPlace(lib.autograd.Function):      # saves its dirty output
        @staticmethod
        def forward(ctx, x):
            x.mul_(x)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return 2 * y.sqrt() * g

    class ScaleAndSum(lib.autograd.Function):        # two outputs, the first dirty
        @staticmethod
        def forward(ctx, x, s):
            x.mul_(s)
            ctx.mark_dirty(x)
            ctx.s = s
            return x, x.sum()

        @staticmethod
        def backward(ctx, g, gsum):
            return (g + gsum) * ctx.s, None

    class NotReturned(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g

    return AddOne, SquareInPlace, ScaleAndSum, NotReturned


def _both(run):
    """run(lib, functions) for torch and for ours; returns both results."""
    return [run(lib, _functions(lib)) for lib in (torch, tg)]


def _plain(value):
    if isinstance(value, (torch.Tensor, tg.Tensor)):
        return np.asarray(value.detach().numpy()).tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_the_same_tensor_comes_back_on_the_graph_with_torchs_versions_and_gradients():
    def run(lib, fns):
        add_one, square, scale_sum, _ = fns
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = a * 2
        c = add_one.apply(b)
        e, total = scale_sum.apply(b, 0.5)
        (e * lib.tensor([1.0, -1.0, 2.0])).sum().backward(retain_graph=True)
        total.backward()
        out = [c is b, e is b, b._version, _plain(b), _plain(a.grad)]
        p = a * 1
        q = square.apply(add_one.apply(p))      # saves its own dirty output
        (q * q).sum().backward()
        try:                                    # changed again after it was saved
            r = a * 1
            s = square.apply(r)
            add_one.apply(r)
            s.sum().backward()
            out.append("no error")
        except RuntimeError as exc:
            out.append(str(exc).split(":")[0])
        return out + [q is p, p._version, _plain(p), _plain(a.grad)]
    theirs, ours = _both(run)
    assert ours == theirs


def test_a_view_changed_in_place_rebases_its_base_as_torch():
    def run(lib, fns):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = a * 2
        v = b[1:]
        r = fns[0].apply(v)
        (b * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return [r is v, _plain(b), _plain(a.grad), b._version]
    theirs, ours = _both(run)
    assert ours == theirs


def test_without_the_graph_only_the_values_and_versions_change():
    def run(lib, fns):
        out = []
        with lib.no_grad():
            d = lib.ones(2, requires_grad=True)
            out += [fns[0].apply(d) is d, _plain(d), d._version]
        e = lib.ones(2)
        out += [fns[0].apply(e) is e, _plain(e), e._version, fns[0].apply(e).requires_grad]
        return out
    theirs, ours = _both(run)
    assert ours == theirs


@pytest.mark.parametrize("case", ["leaf", "leaf view", "not returned", "saved by another node"])
def test_errors_as_torch(case):
    def run(lib, fns):
        add_one, _, _, not_returned = fns
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        try:
            if case == "leaf":
                add_one.apply(a)
            elif case == "leaf view":
                add_one.apply(a[1:])
            elif case == "not returned":
                not_returned.apply(a * 1)
            else:
                b = a * 2
                w = b.sin()
                add_one.apply(b)
                w.sum().backward()
        except RuntimeError as exc:
            return str(exc).split(":")[0].split(".")[0]
        return "no error"
    theirs, ours = _both(run)
    assert ours == theirs != "no error"
