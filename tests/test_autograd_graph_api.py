"""torch's autograd graph API (``grad_fn.next_functions``, node hooks, ``AccumulateGrad``,
``autograd.graph``): the same graphs built with torch and tinygrad_cv on the same inputs,
walked and hooked the same way."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
import torch.autograd.graph as torch_graph

import tinygrad_cv as tg
from tinygrad_cv.autograd import graph, grad
from tinygrad_cv.autograd.function import Function as KernelFunction
from tinygrad_cv.testing import strategies as tst

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal((4, 2)).astype(np.float32)
C = RNG.standard_normal((3, 4)).astype(np.float32)


def leaves_of(lib):
    return (lib.tensor(A, requires_grad=True), lib.tensor(B, requires_grad=True),
            lib.tensor(C))


def shape_of(node, leaves, names=False):
    """The graph below ``node`` as text: each node with its next_functions in order, a leaf as
    L<index of the leaf it accumulates into>, None for an input without gradient; node names
    without torch's Backward<n> suffix, or '*' when ``names`` is False."""
    if node is None:
        return "None"
    if node.name().endswith("AccumulateGrad"):
        assert node.next_functions == ()
        return next((f"L{i}" for i, leaf in enumerate(leaves) if node.variable is leaf), "L?")
    label = re.sub(r"Backward\d*$", "", node.name()) if names else "*"
    return label + "(" + ",".join(shape_of(n, leaves, names) for n, _ in node.next_functions) + ")"


SAME_STRUCTURE = {       # (name, function, whether the node names are torch's too)
    "elementwise": (lambda L, a, b, c: ((a * 2 + c).exp() * a).tanh(), True),
    "div_sub": (lambda L, a, b, c: (a - c) / (a + 1), True),
    "reductions": (lambda L, a, b, c: a.sum(1).mean() + (a * c).sum(), True),
    "cat": (lambda L, a, b, c: L.cat([a, c]), True),
    "matmul": (lambda L, a, b, c: (a @ b).sigmoid(), False),
    "matmul_constant": (lambda L, a, b, c: c @ b, False),
    "transpose": (lambda L, a, b, c: a.t() @ c, False),
    "indexing": (lambda L, a, b, c: a[L.tensor([0, 2])] * b.sum(), False),
    "reshape_max": (lambda L, a, b, c: a.reshape(12).max() + L.relu(b).sum(), False),
}


@pytest.mark.parametrize("case", sorted(SAME_STRUCTURE))
def test_next_functions_walk_as_torch(case):
    fn, same_names = SAME_STRUCTURE[case]
    theirs, ours = leaves_of(torch), leaves_of(tg)
    t_root, o_root = fn(torch, *theirs).grad_fn, fn(tg, *ours).grad_fn
    assert shape_of(o_root, ours) == shape_of(t_root, theirs)
    if same_names:
        assert shape_of(o_root, ours, names=True) == shape_of(t_root, theirs, names=True)
    assert isinstance(o_root, graph.Node) and isinstance(o_root, KernelFunction)
    assert o_root.name() == type(o_root).__name__ + "Backward"


PROGRAM_OPS = {      # ops whose nodes have torch's names and edges
    "mul": lambda L, x, y, c: x * y, "add": lambda L, x, y, c: x + c,
    "sub": lambda L, x, y, c: y - x, "div": lambda L, x, y, c: x / (y.abs() + 1),
    "mul_number": lambda L, x, y, c: x * 1.5, "exp": lambda L, x, y, c: (x * 0.1).exp(),
    "tanh": lambda L, x, y, c: x.tanh(), "sigmoid": lambda L, x, y, c: y.sigmoid(),
    "sum": lambda L, x, y, c: x.sum(-1, keepdim=True), "mean": lambda L, x, y, c: y.mean(),
    "neg": lambda L, x, y, c: -x,
}


@settings(max_examples=25, deadline=None)
@given(tst.broadcastable_shapes(3), st.lists(st.tuples(st.sampled_from(sorted(PROGRAM_OPS)),
                                                       st.booleans()), min_size=1, max_size=6),
       st.integers(0, 2 ** 31 - 1))
def test_random_programs_walk_as_torch(shapes, program, seed):
    """Random chains of elementwise ops and reductions on broadcastable leaves and a
    constant: the same walk (names and edges) in both."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    walks = []
    for lib in (torch, tg):
        a, b = (lib.tensor(v, requires_grad=True) for v in arrays[:2])
        c = lib.tensor(arrays[2])
        x, y = a, b
        for name, swap in program:
            x, y = PROGRAM_OPS[name](lib, *((y, x) if swap else (x, y)), c), x
        out = x if x.grad_fn is not None else y
        walks.append(shape_of(out.grad_fn, [a, b], names=True)
                     if out.grad_fn is not None else None)
    assert walks[1] == walks[0]


def test_next_functions_differences_documented():
    """Where our node inputs differ from torch's edges (README): where's condition and a
    Python-number exponent are (None, 0) entries; a multi-axis slice is one node."""
    theirs, ours = leaves_of(torch), leaves_of(tg)
    assert shape_of(torch.where(theirs[2] > 0, theirs[0], theirs[2]).grad_fn, theirs) == \
        "*(L0,None)"
    assert shape_of(tg.where(ours[2] > 0, ours[0], ours[2]).grad_fn, ours) == "*(None,L0,None)"
    assert shape_of(theirs[0].pow(2).grad_fn, theirs) == "*(L0)"
    assert shape_of(ours[0].pow(2).grad_fn, ours) == "*(L0,None)"
    assert shape_of(ours[0][1:, ::2].grad_fn, ours) == "*(L0)"


def test_output_index_of_a_multi_output_node():
    x = tg.tensor(A, requires_grad=True)
    q, r = tg.linalg.qr(x)
    tx = torch.tensor(A, requires_grad=True)
    tq, tr = torch.linalg.qr(tx)
    for (o_node, o_index), (t_node, t_index) in zip((q @ r).grad_fn.next_functions,
                                                    (tq @ tr).grad_fn.next_functions):
        assert o_index == t_index
        assert o_node is q.grad_fn
        assert t_node is tq.grad_fn
    assert [i for _, i in (q @ r).grad_fn.next_functions] == [0, 1]


def test_accumulate_grad_node_as_torch():
    for lib in (torch, tg):
        x = lib.tensor(A, requires_grad=True)
        acc = (x * 2).grad_fn.next_functions[0][0]
        assert acc is (x * 3).grad_fn.next_functions[0][0]
        assert acc.variable is x
        assert acc.next_functions == ()
        assert acc.name() == "torch::autograd::AccumulateGrad"
        assert type(acc).__name__ == "AccumulateGrad"
        acc.metadata["tag"] = 1
        assert acc.metadata == {"tag": 1}
        y = x * 2
        y.grad_fn.metadata["k"] = "v"
        assert y.grad_fn.metadata == {"k": "v"}
        assert (x * 2).grad_fn.metadata == {}
    assert isinstance(acc, graph.Node)
    assert not isinstance(tg.tensor(A), graph.Node)


def test_node_repr_in_torch_form():
    for lib in (torch, tg):
        x = lib.tensor(A, requires_grad=True)
        node = (x * 2).grad_fn
        assert re.fullmatch(r"<MulBackward\d* object at 0x[0-9a-f]+>", repr(node))
        assert re.fullmatch(r"<AccumulateGrad object at 0x[0-9a-f]+>",
                            repr(node.next_functions[0][0]))


def test_module_graph_reaches_the_same_parameters():
    torch.manual_seed(0)
    t_model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                  torch.nn.Linear(12, 2))
    o_model = tg.nn.Sequential(tg.nn.Conv2d(2, 3, 3), tg.nn.ReLU(), tg.nn.Flatten(),
                               tg.nn.Linear(12, 2))
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)

    def reached(root, params):
        """(index of each parameter reached, how often its AccumulateGrad object was met)."""
        found, seen, stack = {}, set(), [root]
        while stack:
            node = stack.pop()
            for child, _ in node.next_functions:
                if child is None:
                    continue
                if child.name().endswith("AccumulateGrad"):
                    k = next(i for i, p in enumerate(params) if p is child.variable)
                    assert found.setdefault(k, child) is child
                elif id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
        return sorted(found)

    t_params, o_params = list(t_model.parameters()), list(o_model.parameters())
    t_root = t_model(torch.tensor(x)).sum().grad_fn
    o_root = o_model(tg.tensor(x)).sum().grad_fn
    assert reached(o_root, o_params) == reached(t_root, t_params) == [0, 1, 2, 3]
    # the convolution's input needs no gradient: its entry is (None, 0) in both
    node = o_root
    while node.name() != "Conv2dFnBackward":
        node = next(n for n, _ in node.next_functions if n is not None
                    and not n.name().endswith("AccumulateGrad"))
    assert node.next_functions[0] == (None, 0)
    t_node = t_root
    while not t_node.name().startswith("Convolution"):
        t_node = next(n for n, _ in t_node.next_functions if n is not None
                      and not n.name().endswith("AccumulateGrad"))
    assert t_node.next_functions[0] == (None, 0)


def test_user_function_node_name_and_edges_as_torch():
    class Cube(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            return x ** 3 * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g, None

    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            return x ** 3 * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g, None

    ox, tx = tg.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    o, t = Cube.apply(ox, 2.0).grad_fn, TorchCube.apply(tx, 2.0).grad_fn
    assert o.name() == "CubeBackward" and t.name() == "TorchCubeBackward"
    assert shape_of(o, [ox]) == shape_of(t, [tx]) == "*(L0)"
    assert isinstance(o, graph.Node)


def test_inplace_rebased_input_keeps_its_recorded_edge():
    for lib in (torch, tg):
        x = lib.tensor(A, requires_grad=True)
        y = x * 2
        z = y * 3
        y_node = y.grad_fn
        y.add_(1)
        assert z.grad_fn.next_functions[0][0] is y_node
        assert y.grad_fn is not y_node


def test_freed_node_links():
    """After backward without retain_graph the node's links are freed with its saved values
    (torch keeps them): next_functions raises a clear error; retain_graph keeps them."""
    x = tg.tensor(A, requires_grad=True)
    y = (x * 2).sum()
    y.backward(retain_graph=True)
    assert y.grad_fn.next_functions[0][0].name() == "MulBackward"
    y.backward()
    with pytest.raises(RuntimeError, match="freed by a backward pass"):
        y.grad_fn.next_functions


# ---- node hooks --------------------------------------------------------------------------
def _hook_log(lib):
    log = []

    def values(ts):
        return [None if t is None else np.round(t.detach().numpy(), 4).tolist() for t in ts]

    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y.exp()
    y.register_hook(lambda g: log.append(("tensor hook", values([g]))))
    y.retain_grad()
    y.grad_fn.register_prehook(lambda go: log.append(("pre", values(go))))
    y.grad_fn.register_hook(lambda gi, go: log.append(("post", values(gi), values(go))))
    acc = y.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda go: log.append(("acc pre", values(go))))
    acc.register_hook(lambda gi, go: log.append(("acc post", values(gi), values(go))))
    x.register_hook(lambda g: log.append(("leaf hook", values([g]))))
    z.sum().backward()
    log.append(("grads", values([x.grad, y.grad])))
    return log


def test_hook_order_and_arguments_as_torch():
    assert _hook_log(tg) == _hook_log(torch)


def _replacement_results(lib):
    out = []
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = lib.tensor([1.0, -1.0, 2.0])
    y = x * c
    seen = []
    pre = y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
    y.grad_fn.register_prehook(lambda go: seen.append(go[0].tolist()))
    y.grad_fn.register_hook(lambda gi, go: seen.append(
        ([None if g is None else g.tolist() for g in gi], go[0].tolist())))
    y.sum().backward(retain_graph=True)
    out += [x.grad.tolist(), seen]
    x.grad = None
    pre.remove()
    post = y.grad_fn.register_hook(lambda gi, go: (gi[0] * 3, None))
    y.sum().backward(retain_graph=True)
    out.append(x.grad.tolist())
    post.remove()
    x.grad = None
    acc = y.grad_fn.next_functions[0][0]
    with acc.register_prehook(lambda go: (go[0] + 100,)):
        y.sum().backward(retain_graph=True)
    out.append(x.grad.tolist())
    x.grad = None
    y.sum().backward()
    out.append(x.grad.tolist())
    return out


def test_hook_replacement_and_removal_as_torch():
    assert _replacement_results(tg) == _replacement_results(torch)


def test_hook_result_errors_as_torch():
    bad = [lambda gi, go: (gi[0],), lambda gi, go: (gi[0][:2], None)]
    for lib in (torch, tg):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.grad_fn.register_prehook(lambda go: (go[0], go[0]))
        with pytest.raises(RuntimeError, match="incorrect number of values"):
            y.sum().backward()
        for hook, message in zip(bad, ("incorrect number of values", "size of value")):
            y = x * lib.ones(3)
            y.grad_fn.register_hook(hook)
            with pytest.raises(RuntimeError, match=message):
                y.sum().backward()


def test_prehook_sees_none_for_an_unused_output_as_torch():
    logs = []
    for lib in (torch, tg):
        log = []
        x = lib.tensor(A.astype(np.float64), requires_grad=True)
        q, r = lib.linalg.qr(x)
        q.grad_fn.register_prehook(lambda go: log.append([g is None for g in go]))
        q.grad_fn.register_hook(lambda gi, go: log.append(
            ([tuple(g.shape) for g in gi], [g is None for g in go])))
        r.sum().backward()
        logs.append((log, x.grad.numpy()))
    assert logs[0][0] == logs[1][0]
    np.testing.assert_allclose(logs[1][1], logs[0][1], rtol=1e-10)


def _create_graph_results(lib):
    x = lib.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    y = x.sin() * x
    y.grad_fn.register_prehook(lambda go: (go[0] * 3,))
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * gi[0], gi[1]))
    (g,) = (grad if lib is tg else torch.autograd.grad)(y.sum(), x, create_graph=True)
    assert g.grad_fn is not None
    seen = []
    g.grad_fn.register_prehook(lambda go: seen.append(go[0].detach().numpy().copy()))
    g.grad_fn.register_hook(lambda gi, go: tuple(None if v is None else v * 2 for v in gi))
    (g * g).sum().backward()
    return g.detach().numpy(), x.grad.numpy(), seen


def test_hooks_under_create_graph_as_torch():
    ours, theirs = _create_graph_results(tg), _create_graph_results(torch)
    for o, t in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12)
    assert len(ours[2]) == len(theirs[2]) == 1
    np.testing.assert_allclose(ours[2][0], theirs[2][0], rtol=1e-10)


def _chosen_tensor_passes(lib, grad_fn):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    z = y.exp() + w
    acc = y.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda go: log.append("acc pre"))
    acc.register_hook(lambda gi, go: log.append("acc post"))
    y.grad_fn.register_hook(lambda gi, go: log.append(("mul post", [g is None for g in gi])))
    z.grad_fn.register_prehook(lambda go: log.append("add pre"))
    grad_fn(z.sum(), x, retain_graph=True)
    log.append("--")
    grad_fn(z.sum(), w, retain_graph=True)
    log.append("--")
    z.sum().backward(inputs=[x], retain_graph=True)
    log.append("--")
    z.sum().backward(inputs=[w])
    return log


def test_hooks_in_passes_for_chosen_tensors_as_torch():
    """grad() runs no AccumulateGrad; a node's grad_inputs are None off the way to the chosen
    tensors; backward(inputs=[leaf]) runs the leaf's AccumulateGrad hooks."""
    assert _chosen_tensor_passes(tg, grad) == _chosen_tensor_passes(torch, torch.autograd.grad)


def test_user_function_hooks_as_torch():
    logs = []
    for lib in (torch, tg):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g * ctx.k, None

        log = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = Scale.apply(x, 3.0)
        y.grad_fn.register_hook(lambda gi, go: log.append(([g.tolist() for g in gi],
                                                           [g.tolist() for g in go])))
        y.grad_fn.register_hook(lambda gi, go: (gi[0] + 1,))
        y.sum().backward()
        logs.append((log, x.grad.tolist()))
    assert logs[0] == logs[1]


# ---- autograd.graph -----------------------------------------------------------------------
def _multi_hook_log(lib, graph_module):
    log = []
    a = lib.ones(2, 3, requires_grad=True)
    b = lib.ones(2, 3, requires_grad=True)
    c, d = a * b, a * b
    graph_module.register_multi_grad_hook(
        (a, b, c, d), lambda gs: log.append(("all", [None if g is None else g.sum().item()
                                                     for g in gs])))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    handle = graph_module.register_multi_grad_hook(
        (c, b), lambda g: log.append(("any", g.sum().item())), mode="any")
    (c * 3).sum().backward(retain_graph=True)
    handle.remove()
    (c * 4).sum().backward()
    return log


def test_multi_grad_hook_as_torch():
    assert _multi_hook_log(tg, graph) == _multi_hook_log(torch, torch_graph)


def test_multi_grad_hook_bad_mode():
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="mode"):
        graph.register_multi_grad_hook([x], print, mode="some")


def test_increment_version_fails_backward_as_torch():
    for lib, module in ((torch, torch_graph), (tg, graph)):
        x = lib.tensor(A, requires_grad=True)
        y = x.exp()            # saves its output
        z = x * 2
        module.increment_version([y])
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        module.increment_version(z)
        assert z._version == 1
        z.sum().backward()     # (mul by a constant saves nothing of z)


def test_saved_tensors_hooks_see_the_saved_tensors_as_torch():
    for lib, module in ((torch, torch_graph), (tg, graph)):
        a = lib.tensor(A, requires_grad=True)
        b = lib.tensor(C, requires_grad=True)
        packed, unpacked = [], []

        def pack(t):
            packed.append(t)
            return ("packed", t.detach().clone())

        def unpack(p):
            unpacked.append(p)
            return p[1]

        with module.saved_tensors_hooks(pack, unpack):
            y = a * b
            z = y.exp()
        assert {id(t) for t in packed} == {id(a), id(b), id(z)}
        assert all(isinstance(t, lib.Tensor) for t in packed)
        z.sum().backward()
        assert len(unpacked) == 3 and all(p[0] == "packed" for p in unpacked)
        np.testing.assert_allclose(a.grad.numpy(), np.exp(A * C) * C, rtol=1e-5)


MODEL_INPUT = RNG.standard_normal((2, 2, 4, 4)).astype(np.float32)


def _model_grads(lib, module, hooks):
    """Parameter gradients of a small Conv2d/Tanh/Linear model (torch's weights in both),
    the forward recorded under float16-packing saved-tensor hooks when ``hooks``."""
    torch.manual_seed(1)
    t_model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Tanh(), torch.nn.Flatten(),
                                  torch.nn.Linear(12, 2))
    model = t_model
    if lib is tg:
        model = tg.nn.Sequential(tg.nn.Conv2d(2, 3, 3), tg.nn.Tanh(), tg.nn.Flatten(),
                                 tg.nn.Linear(12, 2))
        model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    x = lib.tensor(MODEL_INPUT)
    if hooks:
        with module.saved_tensors_hooks(lambda t: t.detach().half(), lambda p: p.float()):
            loss = (model(x) ** 2).sum()
    else:
        loss = (model(x) ** 2).sum()
    loss.backward()
    return [p.grad.numpy() for p in model.parameters()]


def test_saved_tensors_hooks_change_what_is_stored_gradients_as_torch():
    """float16 packing: the gradients are computed from the rounded saved values, as torch's
    with the same hooks (and so differ from the exact ones)."""
    theirs = _model_grads(torch, torch_graph, True)
    ours = _model_grads(tg, graph, True)
    exact = _model_grads(tg, graph, False)
    for o, t, e in zip(ours, theirs, exact):
        np.testing.assert_allclose(o, t, rtol=2e-5, atol=2e-6)
        assert np.abs(o - e).max() > 1e-5        # the packed values were really used


def _double_backward_with_hooks(lib, module):
    x = lib.tensor(np.linspace(-2, 2, 7), requires_grad=True)
    with module.saved_tensors_hooks(lambda t: t.detach().float(), lambda p: p.double()):
        y = (x.sin() * x).sum()
    (g,) = (grad if lib is tg else torch.autograd.grad)(y, x, create_graph=True)
    (h,) = (grad if lib is tg else torch.autograd.grad)(g.sum(), x)
    return g.detach().numpy(), h.numpy()


def test_saved_tensors_hooks_under_create_graph_as_torch():
    for o, t in zip(_double_backward_with_hooks(tg, graph),
                    _double_backward_with_hooks(torch, torch_graph)):
        np.testing.assert_allclose(o, t, rtol=1e-6, atol=1e-7)


def test_saved_tensors_hooks_innermost_applies_and_unpack_checked():
    calls = []
    x = tg.tensor(A, requires_grad=True)
    with graph.saved_tensors_hooks(lambda t: calls.append("outer") or t, lambda p: p):
        with graph.saved_tensors_hooks(lambda t: calls.append("inner") or t, lambda p: p):
            y = x.exp()
        z = y.exp()
    assert calls == ["inner", "outer"]
    w = x * 1
    (w * w).sum().backward()       # hooks left with their context
    for lib, module in ((torch, torch_graph), (tg, graph)):
        x = lib.tensor(A, requires_grad=True)
        with module.saved_tensors_hooks(lambda t: 1, lambda p: p):
            y = x * x
        with pytest.raises(TypeError, match="expected to be a Tensor"):
            y.sum().backward()
    z.sum().backward()


def test_disable_saved_tensors_hooks_as_torch():
    for module in (torch_graph, graph):
        with pytest.raises(RuntimeError, match="^no hooks here$"):
            with module.disable_saved_tensors_hooks("no hooks here"):
                with module.saved_tensors_hooks(lambda t: t, lambda p: p):
                    pass
        with pytest.raises(RuntimeError, match="^not now$"):
            with module.saved_tensors_hooks(lambda t: t, lambda p: p):
                with module.disable_saved_tensors_hooks("not now"):
                    pass
        with module.disable_saved_tensors_hooks("unused"):
            pass
        with module.saved_tensors_hooks(lambda t: t, lambda p: p):    # enabled again
            pass


def _changed_after_packing(lib, module, pack):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    with module.saved_tensors_hooks(pack, lambda p: p):
        z = h * h
    h.add_(1)           # the backward computes with what was packed, no version error
    z.sum().backward()
    return x.grad.tolist()


def test_saved_tensors_hooks_value_changed_after_packing_as_torch():
    for pack in (lambda t: t.detach().clone(), lambda t: t):
        assert _changed_after_packing(tg, graph, pack) == \
            _changed_after_packing(torch, torch_graph, pack)


def test_saved_tensors_hooks_on_a_user_function_as_torch():
    results = []
    for lib, module in ((torch, torch_graph), (tg, graph)):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        packed, unpacked = [], []
        with module.saved_tensors_hooks(lambda t: packed.append(t is x) or t.detach() * 10,
                                        lambda p: unpacked.append(1) or p):
            y = Square.apply(x)
        y.sum().backward()
        results.append((packed, len(unpacked), x.grad.tolist()))
    assert results[0] == results[1] == ([True], 1, [20.0, 40.0, 60.0])


def _accumulator_hook_pattern(lib):
    """The data-parallel idiom: a hook on each parameter's AccumulateGrad, reached through
    p.expand_as(p), runs after that parameter's .grad is accumulated."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    if lib is tg:
        ours = tg.nn.Linear(3, 2)
        ours.load_state_dict({k: v.detach().numpy() for k, v in model.state_dict().items()})
        model = ours
    log, accumulators = [], []
    for name, p in model.named_parameters():
        acc = p.expand_as(p).grad_fn.next_functions[0][0]
        assert acc.variable is p
        acc.register_hook(lambda *unused, name=name, p=p: log.append(
            (name, np.round(p.grad.numpy(), 5).tolist())))
        accumulators.append(acc)
    model(lib.tensor(A[:, :3].copy())).sum().backward()
    return sorted(log)


def test_accumulate_grad_hooks_of_parameters_as_torch():
    assert _accumulator_hook_pattern(tg) == _accumulator_hook_pattern(torch)


def test_accumulate_grad_node_does_not_keep_its_leaf():
    import gc
    import weakref
    from tinygrad_cv.autograd import nodes
    x = tg.tensor(A, requires_grad=True)
    acc = (x * 2).grad_fn.next_functions[0][0]
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None and acc.variable is None
    assert all(a is not acc for a in nodes.accumulators.values())


def _accumulator_hook_under_create_graph(lib):
    x = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = (x.sin() * x).sum()
    acc = (x * 1).grad_fn.next_functions[0][0]
    seen = []
    acc.register_prehook(lambda go: seen.append(go[0].requires_grad) or (go[0] * go[0],))
    y.backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()       # through the squared gradient the pre-hook put in .grad
    return seen, g.detach().numpy(), x.grad.numpy()


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_accumulate_grad_hook_under_create_graph_as_torch():
    ours, theirs = (_accumulator_hook_under_create_graph(lib) for lib in (tg, torch))
    assert ours[0] == theirs[0] == [True, False]
    for o, t in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(o, t, rtol=1e-12)
