"""Differential tests of the nn.Module API against torch.nn: the same calls on the same modules
give the same result, or errors of the same type (messages compared where torch's carry no
torch-specific type names).  Covers registration rules, traversal, state_dict/load_state_dict
(prefixes, assign, hooks, extra state), forward hooks, the containers, ParameterList/Dict,
nn.utils (clipping, parameters <-> vector, BatchNorm fusion) and Parameter aliasing."""
import collections
import copy
import re

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.nn as nn

LIBS = ((torch, torch.nn), (tg, nn))


def outcome(fn, lib, mod):
    """``fn(lib, nn)``'s value, or ``(exception type name, message)``; torch's "torch."
    prefixes dropped so that names compare."""
    try:
        return _plain(repr(fn(lib, mod)))
    except Exception as e:  # noqa: BLE001 - the exception is the observed behaviour
        return (type(e).__name__, _plain(str(e)))


def _plain(text):
    """torch's type names as ours: "torch.float32" -> "float32", "Size([2, 3])" -> "(2, 3)"."""
    return re.sub(r"Size\(\[([^\]]*)\]\)", r"(\1)", text.replace("torch.", ""))


def same_as_torch(fn, compare_message=True):
    theirs, ours = (outcome(fn, lib, mod) for lib, mod in LIBS)
    if not compare_message and isinstance(theirs, tuple) and isinstance(ours, tuple):
        theirs, ours = theirs[0], ours[0]
    assert ours == theirs


def no_grad(lib):
    return torch.no_grad() if lib is torch else tg.no_grad()


def net(lib, nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(2, 3)
            self.bn = nn.BatchNorm1d(3)
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.register_buffer("count", lib.zeros(1))
            self.register_buffer("nothing", None)
            self.register_parameter("absent", None)
            self.seq = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
            self.shared = self.l1

        def forward(self, x):
            return self.seq(self.bn(self.l1(x)))
    return Net()


# ---- traversal ---------------------------------------------------------------------------------
@pytest.mark.parametrize("probe", [
    lambda lib, nn: [n for n, _ in net(lib, nn).named_children()],
    lambda lib, nn: [n for n, _ in net(lib, nn).named_parameters(remove_duplicate=False)],
    lambda lib, nn: [n for n, _ in net(lib, nn).named_buffers(remove_duplicate=False)],
    lambda lib, nn: [n for n, _ in net(lib, nn).named_modules(remove_duplicate=False)],
    lambda lib, nn: [n for n, _ in net(lib, nn).named_parameters(prefix="p", recurse=False)],
    lambda lib, nn: list(net(lib, nn).state_dict(prefix="pre")),
    lambda lib, nn: list(net(lib, nn).state_dict(destination={"x": 1}, prefix="p.")),
], ids=["children", "params-dup", "buffers-dup", "modules-dup", "params-norec", "literal-prefix",
        "destination"])
def test_traversal_names_equal_torch(probe):
    same_as_torch(probe)


def test_apply_visits_a_shared_child_once():
    def probe(lib, nn):
        seen, layer = [], nn.Linear(1, 1)
        nn.Sequential(layer, nn.ReLU(), layer).apply(lambda m: seen.append(type(m).__name__))
        return seen
    same_as_torch(probe)


def test_dir_lists_parameters_buffers_and_modules():
    same_as_torch(lambda lib, nn: [k for k in ("l1", "seq", "count", "absent", "0")
                                   if k in dir(net(lib, nn))])


# ---- registration ------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda lib, nn, m: m.register_parameter("a.b", nn.Parameter(lib.ones(1))),
    lambda lib, nn, m: m.register_parameter("", nn.Parameter(lib.ones(1))),
    lambda lib, nn, m: m.register_parameter("forward", nn.Parameter(lib.ones(1))),
    lambda lib, nn, m: m.register_parameter(3, nn.Parameter(lib.ones(1))),
    lambda lib, nn, m: m.register_parameter("x", nn.Parameter(lib.ones(1)) * 2),
    lambda lib, nn, m: (m.register_buffer("b", lib.ones(1)), m.register_parameter("b", None)),
    lambda lib, nn, m: m.register_buffer("a.b", lib.ones(1)),
    lambda lib, nn, m: m.register_buffer("", lib.ones(1)),
    lambda lib, nn, m: m.register_buffer("weight", lib.ones(1)),
    lambda lib, nn, m: m.register_buffer(1, lib.ones(1)),
    lambda lib, nn, m: m.register_buffer("b", 3),
    lambda lib, nn, m: m.add_module("a.b", nn.ReLU()),
    lambda lib, nn, m: m.add_module("", nn.ReLU()),
    lambda lib, nn, m: m.add_module("weight", nn.ReLU()),
    lambda lib, nn, m: m.add_module(1, nn.ReLU()),
    lambda lib, nn, m: m.add_module("x", 3),
    lambda lib, nn, m: (m.register_module("x", None), list(m._modules), repr(m)),
])
def test_registration_rules_equal_torch(call):
    same_as_torch(lambda lib, nn: call(lib, nn, nn.Linear(2, 2)), compare_message=False)


@pytest.mark.parametrize("assign", [
    lambda lib, nn, m: setattr(m, "weight", lib.ones(2, 2)),
    lambda lib, nn, m: setattr(m, "weight", 3),
    lambda lib, nn, m: setattr(m, "weight", nn.ReLU()),
    lambda lib, nn, m: (setattr(m, "running_mean", nn.Parameter(lib.ones(2))),
                        [n for n, _ in m.named_parameters()], [n for n, _ in m.named_buffers()],
                        list(m.state_dict())),
    lambda lib, nn, m: setattr(m, "running_mean", 3),
    lambda lib, nn, m: (setattr(m, "running_mean", None), list(m.state_dict())),
    lambda lib, nn, m: (setattr(m, "sub", nn.ReLU()), setattr(m, "sub", 3)),
    lambda lib, nn, m: (setattr(m, "sub", nn.ReLU()), setattr(m, "sub", None), list(m._modules)),
    lambda lib, nn, m: (m.register_buffer("tmp", lib.ones(1), persistent=False), delattr(m, "tmp"),
                        m.register_buffer("tmp", lib.ones(1)), list(m.state_dict())),
], ids=["tensor-over-param", "int-over-param", "module-over-param", "param-over-buffer",
        "int-over-buffer", "none-over-buffer", "int-over-module", "none-over-module",
        "deleted-buffer-forgets-persistence"])
def test_attribute_assignment_rules_equal_torch(assign):
    same_as_torch(lambda lib, nn: assign(lib, nn, nn.BatchNorm1d(2)), compare_message=False)


def test_plain_attributes_before_init_are_allowed():
    def probe(lib, nn):
        class Early(nn.Module):
            def __init__(self):
                self.width = 3
                super().__init__()
        return Early().width
    same_as_torch(probe)


# ---- modes, gradients, dtype -------------------------------------------------------------------
def test_train_checks_its_flag_and_calls_the_childrens_train():
    def probe(lib, nn):
        class Frozen(nn.Linear):
            def train(self, mode=True):
                return super().train(False)
        m = nn.Sequential(Frozen(1, 1), nn.Dropout())
        m.train()
        return [c.training for c in m]
    same_as_torch(probe)
    same_as_torch(lambda lib, nn: nn.Linear(1, 1).train("yes"))


def test_zero_grad_keeps_the_gradient_tensor():
    def probe(lib, nn):
        m = nn.Linear(2, 2)
        m(lib.ones(1, 2)).sum().backward()
        g = m.weight.grad
        m.zero_grad(set_to_none=False)
        return m.weight.grad is g, g.abs().sum().item(), m.weight.grad.requires_grad
    same_as_torch(probe)


@pytest.mark.parametrize("convert", [
    lambda lib, m: m.half(), lambda lib, m: m.to(lib.int32), lambda lib, m: m.to(lib.float64),
    lambda lib, m: m.to(lib.ones(1, dtype=lib.float64)), lambda lib, m: m.to(dtype=lib.float16),
], ids=["half", "int", "double", "like-tensor", "kw"])
def test_module_to_dtype_equals_torch(convert):
    def probe(lib, nn):
        m = nn.BatchNorm1d(2)
        m.weight.grad = lib.ones(2)
        w = m.weight
        assert convert(lib, m) is m
        return (str(m.weight.dtype), str(m.running_mean.dtype), str(m.num_batches_tracked.dtype),
                str(m.weight.grad.dtype), m.weight is w)
    same_as_torch(probe, compare_message=False)


# ---- state_dict / load_state_dict --------------------------------------------------------------
def _load(lib, nn, edit, **kw):
    m = net(lib, nn)
    return m.load_state_dict(edit(lib, m.state_dict()), **kw)


@pytest.mark.parametrize("edit,kw", [
    (lambda lib, sd: sd, {}),
    (lambda lib, sd: {k: v for k, v in sd.items() if "bn" not in k}, {}),
    (lambda lib, sd: {k: v for k, v in sd.items() if "bn" not in k}, {"strict": False}),
    (lambda lib, sd: {k: v for k, v in sd.items() if "num_batches" not in k}, {}),
    (lambda lib, sd: {**sd, "foo": lib.ones(1), "scratch": lib.ones(2)}, {}),
    (lambda lib, sd: {**sd, "foo": lib.ones(1)}, {"strict": False}),
    (lambda lib, sd: {**sd, "l1.weight": lib.ones(3, 3)}, {"strict": False}),
    (lambda lib, sd: {**sd, "l1.weight": 3.0}, {}),
    (lambda lib, sd: {**sd, "bn.num_batches_tracked": lib.tensor([7])}, {}),
    (lambda lib, sd: [1, 2], {}),
], ids=["all", "missing", "missing-lenient", "old-batchnorm", "unexpected", "unexpected-lenient",
        "size-mismatch", "not-a-tensor", "one-element-to-scalar", "not-a-mapping"])
def test_load_state_dict_result_and_errors_equal_torch(edit, kw):
    same_as_torch(lambda lib, nn: _load(lib, nn, edit, **kw))


def test_load_state_dict_assign_puts_the_tensors_in_place():
    def probe(lib, nn):
        m = nn.Linear(2, 2)
        m.weight.requires_grad_(False)
        w = lib.ones(2, 2, dtype=lib.float64)
        m.load_state_dict({"weight": w, "bias": lib.zeros(2)}, assign=True)
        w.add_(1)
        return (type(m.weight).__name__, str(m.weight.dtype), m.weight.requires_grad,
                m.bias.requires_grad, m.weight.sum().item())
    same_as_torch(probe)


def test_failed_load_changes_nothing_even_with_assign():
    m = nn.Linear(2, 2)
    w = m.weight
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        m.load_state_dict({"weight": tg.zeros(2, 2), "bias": tg.zeros(3)}, assign=True)
    assert m.weight is w and w.abs().sum().item() > 0


def test_state_dict_hooks_equal_torch():
    def probe(lib, nn):
        log, m = [], nn.Sequential(nn.Linear(1, 1))
        m[0].register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre", prefix, keep)))
        m[0]._register_state_dict_hook(lambda mod, sd, prefix, meta: log.append(("post", list(sd))))
        m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: sd.pop(prefix + "0.bias"))
        return log, list(m.state_dict(prefix="p."))
    same_as_torch(probe)
    same_as_torch(lambda lib, nn: (lambda m: (m.register_state_dict_post_hook(
        lambda *a: {}), list(m.state_dict()))[1])(nn.Linear(1, 1)), compare_message=False)


def test_load_state_dict_hooks_equal_torch():
    def probe(lib, nn):
        log, m = [], nn.Sequential(nn.Linear(1, 1), nn.Linear(1, 1))

        def pre(mod, sd, prefix, meta, strict, missing, unexpected, errors):
            log.append(("pre", prefix, strict))
            sd[prefix + "weight"] = sd[prefix + "weight"] * 0 + 7

        def post(mod, keys):
            log.append(("post", list(keys.missing_keys), float(mod[1].weight.detach().sum())))
            keys.missing_keys.clear()
        m[1].register_load_state_dict_pre_hook(pre)
        m.register_load_state_dict_post_hook(post)
        result = m.load_state_dict({k: v for k, v in m.state_dict().items() if k != "0.bias"})
        return log, str(result)
    same_as_torch(probe)


def test_extra_state_round_trips_as_in_torch():
    def probe(lib, nn):
        class Counter(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc, self.calls = nn.Linear(1, 1), 3

            def get_extra_state(self):
                return {"calls": self.calls}

            def set_extra_state(self, state):
                self.calls = state["calls"]
        m = Counter()
        sd = m.state_dict()
        sd["_extra_state"] = {"calls": 9}
        m.load_state_dict(sd)
        lenient = Counter().load_state_dict({"fc.weight": sd["fc.weight"]}, strict=False)
        return list(sd), m.calls, lenient
    same_as_torch(probe)


# ---- forward hooks -----------------------------------------------------------------------------
def test_forward_hooks_equal_torch():
    def probe(lib, nn):
        log, m = [], nn.Linear(2, 2)
        h1 = m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))))
        h2 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        m.register_forward_pre_hook(lambda mod, args, kw: log.append(("pre-kw", sorted(kw))),
                                    with_kwargs=True, prepend=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("post", tuple(out.shape))))
        h5 = m.register_forward_hook(lambda mod, args, out: out + 1)
        m.register_forward_hook(lambda mod, args, kw, out: log.append("post-kw"), with_kwargs=True,
                                prepend=True)
        x = lib.ones(1, 2)
        y = m(x)
        with no_grad(lib):
            expected = m.weight.sum(1) * 2 + m.bias + 1
        h2.remove(), h5.remove(), h1.remove(), h1.remove()
        with m.register_forward_hook(lambda *a: log.append("scoped")):
            m(x)
        m(x)
        return log, bool((y - expected).abs().max() < 1e-6)
    same_as_torch(probe)


@pytest.mark.parametrize("probe", [
    lambda lib, nn: (lambda m: (m.register_forward_pre_hook(lambda mod, a: lib.ones(1) * 5),
                                m(lib.ones(1)).tolist())[1])(nn.Identity()),
    lambda lib, nn: (lambda m: (m.register_forward_pre_hook(lambda mod, a, k: 3, with_kwargs=True),
                                m(lib.ones(1)))[1])(nn.Identity()),
], ids=["bare-result-becomes-args", "bad-kwargs-result"])
def test_forward_pre_hook_results_equal_torch(probe):
    same_as_torch(probe)


def test_always_call_forward_hook_runs_when_forward_raises():
    def probe(lib, nn):
        log = []

        class Broken(nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        m = Broken()
        m.register_forward_hook(lambda mod, a, out: log.append(("always", out)), always_call=True)
        m.register_forward_hook(lambda mod, a, out: log.append("never"))
        with pytest.raises(ValueError, match="boom"):
            m(lib.ones(1))
        return log
    same_as_torch(probe)


def test_hooked_module_deep_copies_and_saves_without_hooks():
    m = nn.Sequential(nn.Linear(1, 1))
    m.register_forward_hook(lambda *a: None).remove()
    assert len(list(copy.deepcopy(m).parameters())) == 2


# ---- lookup by path ----------------------------------------------------------------------------
def test_get_and_set_submodule_parameter_buffer_equal_torch():
    def probe(lib, nn):
        m = nn.Sequential(collections.OrderedDict(
            a=nn.Sequential(nn.Linear(1, 1), nn.BatchNorm1d(1))))
        out = [type(m.get_submodule("a.0")).__name__, tuple(m.get_parameter("a.0.weight").shape),
               tuple(m.get_buffer("a.1.running_mean").shape), m.get_submodule("") is m]
        for f, target in [(m.get_submodule, "a.5"), (m.get_submodule, "a.0.weight"),
                          (m.get_parameter, "a.1.running_mean"), (m.get_buffer, "a.0.weight"),
                          (m.get_parameter, "a.0.nope"), (m.get_buffer, "zz.x"),
                          (lambda t: m.set_submodule(t, nn.Tanh(), strict=True), "a.9")]:
            out.append(outcome(lambda lib, nn: f(target), lib, nn))
        m.set_submodule("a.0", nn.Tanh())
        m.set_submodule("a.new", nn.ReLU())
        return out, list(m.a._modules), type(m.a[0]).__name__
    same_as_torch(probe)


# ---- repr --------------------------------------------------------------------------------------
def test_repr_of_nested_modules_equals_torch():
    def probe(lib, nn):
        class Inner(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(1, 1)

            def extra_repr(self):
                return "line1\nline2"

        class Leaf(nn.Module):
            def extra_repr(self):
                return "a=1\nb=2"
        block = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
        return repr(nn.Sequential(Inner(), Leaf(), nn.ModuleList([block, block, nn.Linear(1, 2)]),
                                  nn.ModuleList(), nn.ModuleList([nn.ReLU()] * 3 + [nn.Tanh()]),
                                  nn.ModuleDict({"x": nn.Tanh()})))
    same_as_torch(probe)


# ---- containers --------------------------------------------------------------------------------
def seq(nn):
    return nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3), nn.Tanh())


def layout(m):
    return list(m._modules), [type(c).__name__ for c in m]


@pytest.mark.parametrize("op", [
    lambda lib, nn, s: layout(s[1:3]),
    lambda lib, nn, s: layout(s[::2]),
    lambda lib, nn, s: layout(nn.Sequential(collections.OrderedDict(a=nn.ReLU(), b=nn.Tanh()))[1:]),
    lambda lib, nn, s: s[4],
    lambda lib, nn, s: s[-5],
    lambda lib, nn, s: s["0"],
    lambda lib, nn, s: (s.__delitem__(1), layout(s)),
    lambda lib, nn, s: (s.__delitem__(slice(1, 3)), layout(s)),
    lambda lib, nn, s: (s.__setitem__(-1, nn.Sigmoid()), layout(s)),
    lambda lib, nn, s: (s.insert(1, nn.Sigmoid()), s.insert(-1, nn.GELU()), layout(s)),
    lambda lib, nn, s: s.insert(9, nn.GELU()),
    lambda lib, nn, s: (type(s.pop(1)).__name__, layout(s)),
    lambda lib, nn, s: (s.extend([nn.GELU()]) is s, layout(s)),
    lambda lib, nn, s: layout(s + nn.Sequential(nn.GELU())),
    lambda lib, nn, s: s + nn.ReLU(),
    lambda lib, nn, s: (lambda t: (t is s, layout(t)))(s.__iadd__(nn.Sequential(nn.GELU()))),
    lambda lib, nn, s: layout(nn.Sequential(nn.ReLU(), nn.Tanh()) * 2),
    lambda lib, nn, s: nn.Sequential(nn.ReLU()) * 0,
    lambda lib, nn, s: layout(nn.Sequential(nn.ReLU()).__imul__(3)),
    lambda lib, nn, s: nn.Sequential()(lib.ones(1)).tolist(),
])
def test_sequential_equals_torch(op):
    same_as_torch(lambda lib, nn: op(lib, nn, seq(nn)), compare_message=False)


def mlist(nn):
    return nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.GELU()])


@pytest.mark.parametrize("op", [
    lambda nn, ml: type(ml[-1]).__name__,
    lambda nn, ml: ml[3],
    lambda nn, ml: (type(ml[1:]).__name__, layout(ml[1:])),
    lambda nn, ml: (ml.__delitem__(0), layout(ml)),
    lambda nn, ml: (ml.__delitem__(slice(None, None, 2)), layout(ml)),
    lambda nn, ml: (ml.insert(0, nn.Sigmoid()), ml.insert(2, nn.SiLU()), layout(ml)),
    lambda nn, ml: (type(ml.pop(0)).__name__, type(ml.pop(-1)).__name__, layout(ml)),
    lambda nn, ml: layout(ml + mlist(nn)),
    lambda nn, ml: (lambda t: (t is ml, layout(t)))(ml.__iadd__([nn.Identity()])),
    lambda nn, ml: ml.__setitem__(5, nn.ReLU()),
    lambda nn, ml: ml.extend(nn.ReLU()),
    lambda nn, ml: nn.ModuleList([3]),
])
def test_module_list_equals_torch(op):
    same_as_torch(lambda lib, nn: op(nn, mlist(nn)), compare_message=False)


@pytest.mark.parametrize("op", [
    lambda nn, d: list(nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())])),
    lambda nn, d: (d.update({"c": nn.GELU(), "b": nn.Sigmoid()}), d.update([("z", nn.ReLU())]),
                   list(d), [type(m).__name__ for m in d.values()]),
    lambda nn, d: (type(d.pop("b")).__name__, list(d)),
    lambda nn, d: d.pop("zz"),
    lambda nn, d: (d.clear(), len(d)),
    lambda nn, d: d.update(3),
    lambda nn, d: d.update([("a", nn.ReLU(), 1)]),
    lambda nn, d: d.__setitem__("x.y", nn.ReLU()),
    lambda nn, d: d.__setitem__("training", nn.ReLU()),
])
def test_module_dict_equals_torch(op):
    same_as_torch(lambda lib, nn: op(nn, nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})),
                  compare_message=False)


def test_parameter_list_equals_torch():
    def probe(lib, nn):
        pl = nn.ParameterList([nn.Parameter(lib.ones(2)), lib.zeros(3)])
        pl.append(lib.ones(1))
        pl.extend([lib.ones(2, 2)])
        pl += [nn.Parameter(lib.zeros(1))]
        pl[0] = lib.ones(5)
        out = [len(pl), [type(p).__name__ for p in pl], [tuple(p.shape) for p in pl],
               [n for n, _ in pl.named_parameters()], len(pl[1:3]), type(pl[1:3]).__name__,
               repr(pl)]
        return out, outcome(lambda *a: pl[10], lib, nn)[0], outcome(lambda *a: pl(), lib, nn)[0]
    same_as_torch(probe)


def test_parameter_dict_equals_torch():
    def probe(lib, nn):
        pd = nn.ParameterDict({"b": nn.Parameter(lib.ones(2)), "a": lib.zeros(1)})
        out = [list(pd), [type(v).__name__ for v in pd.values()]]
        pd["c"] = lib.ones(3)
        pd.update([("d", lib.ones(1))])
        out += [list(pd.keys()), type(pd.pop("a")).__name__, "b" in pd, len(pd),
                [n for n, _ in pd.named_parameters()], pd.get("zz"), pd.popitem()[0]]
        pd.setdefault("e", lib.ones(1))
        out.append(list(pd))
        pd.clear()
        return out, len(pd), outcome(lambda *a: pd.__setitem__(1, lib.ones(1)), lib, nn)[0]
    same_as_torch(probe)


def test_parameter_aliases_the_tensor_it_is_made_from():
    def probe(lib, nn):
        t = lib.ones(2)
        p = nn.Parameter(t)
        t.add_(1)
        return p.tolist(), p.requires_grad, nn.Parameter(t, requires_grad=False).requires_grad
    same_as_torch(probe)


# ---- nn.utils ----------------------------------------------------------------------------------
def _with_grads(lib, nn, arrays):
    params = []
    for a in arrays:
        p = nn.Parameter(lib.tensor(np.zeros_like(a)))
        p.grad = lib.tensor(a.copy())
        params.append(p)
    return params


GRADS = [np.array([[3.0, -4.0], [0.0, 1.0]], np.float32), np.array([0.5, -2.0, 0.0], np.float32)]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 0.5, 0, float("inf"), -float("inf"), -1.0])
def test_clip_grad_norm_of_every_order_equals_torch(norm_type):
    def probe(lib, nn):
        params = _with_grads(lib, nn, GRADS)
        total = nn.utils.clip_grad_norm_(params, 1.0, norm_type, foreach=True)
        return (round(float(total), 5), str(total.dtype),
                [np.round(p.grad.numpy(), 5).tolist() for p in params])
    same_as_torch(probe)


def test_total_norm_helpers_and_nonfinite_error_equal_torch():
    def probe(lib, nn):
        params = _with_grads(lib, nn, GRADS)
        total = nn.utils.get_total_norm([p.grad for p in params], 2.0)
        nn.utils.clip_grads_with_norm_(params, 1.0, total)
        nn.utils.clip_grad_value_(params, 0.1, foreach=False)
        return round(float(total), 5), [p.grad.tolist() for p in params]
    same_as_torch(probe)
    same_as_torch(lambda lib, nn: nn.utils.clip_grad_norm_(
        _with_grads(lib, nn, [np.array([np.nan, 1], np.float32)]), 1.0, error_if_nonfinite=True))


def test_parameters_to_vector_and_back_equal_torch():
    def probe(lib, nn):
        m = nn.Linear(3, 2)
        with no_grad(lib):
            for i, p in enumerate(m.parameters()):
                p.copy_(lib.arange(p.numel(), dtype=lib.float32).reshape(p.shape) + i)
        v = nn.utils.parameters_to_vector(m.parameters())
        out = [v.tolist(), v.requires_grad, v.grad_fn is not None]
        vec = lib.arange(8, dtype=lib.float32) * 10
        nn.utils.vector_to_parameters(vec, m.parameters())
        vec[0] = -1
        out += [m.weight.tolist(), m.bias.tolist(), type(m.weight).__name__, m.weight.requires_grad]
        return out, outcome(lambda *a: nn.utils.vector_to_parameters([1], m.parameters()), lib, nn)[0]
    same_as_torch(probe)


@pytest.mark.parametrize("bias", [True, False])
def test_fuse_conv_bn_eval_equals_torch(bias):
    def probe(lib, nn):
        conv, bn = nn.Conv2d(2, 3, 3, bias=bias), nn.BatchNorm2d(3)
        with no_grad(lib):
            conv.weight.copy_(lib.arange(54, dtype=lib.float32).reshape(3, 2, 3, 3) / 50)
            if bias:
                conv.bias.copy_(lib.tensor([0.3, 0.2, 0.1]))
            bn.running_mean.copy_(lib.tensor([0.1, -0.2, 0.3]))
            bn.running_var.copy_(lib.tensor([1.5, 0.5, 2.0]))
            bn.weight.copy_(lib.tensor([1.0, 2.0, 3.0]))
            bn.bias.copy_(lib.tensor([0.5, 0.0, -1.0]))
        fused = nn.utils.fuse_conv_bn_eval(conv.eval(), bn.eval())
        x = lib.arange(50, dtype=lib.float32).reshape(1, 2, 5, 5) / 10
        with no_grad(lib):
            ref = bn(conv(x))
            same = bool((fused(x) - ref).abs().max() < 1e-6 * ref.abs().max())
        return (same, np.round(fused.bias.detach().numpy(), 5).tolist(), fused is conv,
                fused.bias.requires_grad, type(fused.weight).__name__)
    same_as_torch(probe)


def test_fuse_linear_bn_eval_equals_torch():
    def probe(lib, nn):
        lin, bn = nn.Linear(2, 3), nn.BatchNorm1d(3)
        with no_grad(lib):
            lin.weight.copy_(lib.arange(6, dtype=lib.float32).reshape(3, 2))
            lin.bias.copy_(lib.tensor([1.0, 2.0, 3.0]))
            bn.running_mean.copy_(lib.tensor([0.1, -0.2, 0.3]))
            bn.running_var.copy_(lib.tensor([1.5, 0.5, 2.0]))
        fused = nn.utils.fuse_linear_bn_eval(lin.eval(), bn.eval())
        return (np.round(fused.weight.detach().numpy(), 5).tolist(),
                np.round(fused.bias.detach().numpy(), 5).tolist())
    same_as_torch(probe)
    with pytest.raises(ValueError, match="eval"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(2, 3), nn.BatchNorm1d(3))


# ---- save / load -------------------------------------------------------------------------------
def _round_trip(lib, obj):
    import io
    f = io.BytesIO()
    lib.save(obj, f)
    f.seek(0)
    return lib.load(f)


def test_saved_views_share_memory_again_after_loading_as_in_torch():
    def probe(lib, nn):
        a = lib.arange(12.0).reshape(3, 4)
        p = nn.Parameter(lib.ones(3))
        out = _round_trip(lib, {"a": a, "t": a.t(), "row": a[1], "cols": a[:, ::2],
                                "flat": a.reshape(-1)[3:9], "p": p, "p_data": p.detach(),
                                "alone": lib.arange(4)[1:3], "ints": lib.arange(6)[::2]})
        out["a"][1, 2] = -5.0
        out["p_data"][0] = 7.0
        return ({k: (v.tolist(), type(v).__name__, v.requires_grad) for k, v in out.items()},
                out["a"].is_contiguous(), out["t"].is_contiguous())
    same_as_torch(probe)


def test_a_view_reaching_outside_its_storage_is_refused():
    from tinygrad_cv.serialization import CheckpointError, Decoder
    storage = {"s": np.arange(4.0)}
    assert Decoder(dict(storage), "f").decode(
        {"$view": ["s", 3, [2], [-2], False, False]}).tolist() == [3.0, 1.0]
    for node in (["s", 2, [3], [1], False, False], ["s", 1, [2], [-2], False, False],
                 ["s", -1, [1], [1], False, False], ["s", 0, [2], [1, 1], False, False],
                 ["s", 0, [-1], [1], False, False], ["s", 0, [2], [2 ** 70], False, False]):
        with pytest.raises(CheckpointError):
            Decoder(dict(storage), "f").decode({"$view": node})


# ---- backward hooks ----------------------------------------------------------------------------
def _r(t):
    return None if t is None else np.round(t.detach().numpy(), 4).tolist()


def test_full_backward_hooks_and_pre_hooks_equal_torch():
    def probe(lib, nn):
        log, m = [], nn.Linear(3, 2)
        with no_grad(lib):
            m.weight.copy_(lib.arange(6.0).reshape(2, 3) / 10)
            m.bias.zero_()
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", [_r(g) for g in go])))
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m.register_full_backward_hook(
            lambda mod, gi, go: log.append(("full", [_r(g) for g in gi], [_r(g) for g in go])))
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 10,))
        x = lib.ones(1, 3, requires_grad=True)
        (m(x) * lib.tensor([[1.0, 2.0]])).sum().backward()
        return log, _r(x.grad), _r(m.weight.grad)
    same_as_torch(probe)


@pytest.mark.parametrize("probe", [
    lambda lib, nn: (lambda log, m: (m.register_full_backward_hook(
        lambda mod, gi, go: log.append((gi, [tuple(g.shape) for g in go]))),
        m(lib.ones(1, 3)).sum().backward(), log)[2])([], nn.Linear(3, 2)),
    lambda lib, nn: (lambda m, x: (m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0])),
                                   m(x).sum().backward()))(nn.Linear(3, 2),
                                                           lib.ones(1, 3, requires_grad=True)),
], ids=["no-input-needs-grad", "wrong-length"])
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_full_backward_hook_edge_cases_equal_torch(probe):
    same_as_torch(probe)


def test_backward_hook_sees_every_positional_input_and_output():
    def probe(lib, nn):
        log = []

        class Three(nn.Module):
            def forward(self, a, k, b):
                return a * k, b + 1, 3
        m = Three()
        m.register_full_backward_hook(lambda mod, gi, go: log.append(
            ([_r(g) for g in gi], [g if isinstance(g, int) else _r(g) for g in go])))
        a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
        m(a, 2.0, b)[0].sum().backward()
        order, seq = [], nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        for i, child in enumerate(seq):
            child.register_full_backward_hook(lambda mod, gi, go, i=i: order.append(i))
        seq(lib.ones(1, 2, requires_grad=True)).sum().backward()
        return log, _r(a.grad), _r(b.grad), order
    same_as_torch(probe)


def test_backward_hooks_work_under_create_graph():
    def probe(lib, nn):
        log, m = [], nn.Tanh()
        m.register_full_backward_hook(lambda mod, gi, go: log.append(len(gi)))
        x = lib.tensor([0.3, -0.2], requires_grad=True)
        grad = torch.autograd.grad if lib is torch else tg.autograd.grad
        g, = grad(m(x).pow(2).sum(), x, create_graph=True)
        g.sum().backward()
        return log, _r(g), _r(x.grad)
    same_as_torch(probe)


# ---- nn.Buffer, _apply, to_empty ---------------------------------------------------------------
def test_buffer_assignment_registers_a_buffer_as_torch():
    def probe(lib, nn):
        class Stats(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Buffer(lib.ones(2))
                self.b = nn.Buffer(lib.zeros(1), persistent=False)
        m, t = Stats(), lib.ones(3)
        m.c = nn.Buffer(t)
        t.add_(1)
        before_init = outcome(lambda *a: type("Early", (nn.Module,), {
            "__init__": lambda s: setattr(s, "b", nn.Buffer(lib.ones(1)))})(), lib, nn)[0]
        return ([n for n, _ in m.named_buffers()], list(m.state_dict()), type(m.a).__name__,
                m.c.tolist(), before_init)
    same_as_torch(probe)


def test_apply_and_to_empty_keep_parameters_and_replace_buffers_as_torch():
    def probe(lib, nn):
        m = nn.BatchNorm1d(2)
        w = m.weight
        m.weight.grad = lib.ones(2)
        assert m._apply(lambda t: t.double() if t.is_floating_point() else t) is m
        out = [m.weight is w, str(m.weight.dtype), str(m.weight.grad.dtype),
               str(m.running_mean.dtype), str(m.num_batches_tracked.dtype)]
        lin = nn.Linear(2, 2)
        w = lin.weight
        lin.to_empty(device="cpu")
        return out, lin.weight is w, tuple(lin.weight.shape), lin.share_memory() is lin
    same_as_torch(probe)


@pytest.mark.filterwarnings("ignore:.*weight_norm.*deprecated")
@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_equals_torch(dim):
    def probe(lib, nn):
        conv = nn.Conv2d(2, 3, 2)
        with no_grad(lib):
            conv.weight.copy_(lib.arange(24.0).reshape(3, 2, 2, 2) / 10 - 1)
            conv.bias.zero_()
        m = nn.utils.weight_norm(conv, dim=dim)
        out = [m is conv, [n for n, _ in m.named_parameters()], list(m.state_dict()),
               _r(m.weight_g), tuple(m.weight_g.shape)]
        with no_grad(lib):
            m.weight_g.mul_(2)
        y = m(lib.ones(1, 2, 3, 3))
        y.sum().backward()
        out += [_r(y), np.round(m.weight_g.grad.numpy(), 3).tolist(),
                np.round(m.weight_v.grad.numpy(), 3).tolist()]
        nn.utils.remove_weight_norm(m)
        return out, [n for n, _ in m.named_parameters()], _r(m.weight), type(m.weight).__name__
    same_as_torch(probe)


@pytest.mark.filterwarnings("ignore:.*weight_norm.*deprecated")
def test_weight_norm_misuse_and_state_dict_equal_torch():
    same_as_torch(lambda lib, nn: nn.utils.weight_norm(nn.utils.weight_norm(nn.Linear(2, 2)), dim=1))
    same_as_torch(lambda lib, nn: nn.utils.remove_weight_norm(nn.Linear(2, 2)),
                  compare_message=False)

    def probe(lib, nn):
        a, b = nn.utils.weight_norm(nn.Linear(3, 2)), nn.utils.weight_norm(nn.Linear(3, 2))
        b.load_state_dict(a.state_dict())
        x = lib.ones(1, 3)
        return list(a.state_dict()), bool((a(x) - b(x)).abs().max() < 1e-6)
    same_as_torch(probe)


def test_spectral_norm_equals_torch_from_the_same_state():
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in
             torch.nn.utils.spectral_norm(torch.nn.Conv2d(2, 3, 2)).state_dict().items()}

    def probe(lib, nn):
        m = nn.utils.spectral_norm(nn.Conv2d(2, 3, 2))
        out = [[n for n, _ in m.named_parameters()], list(m.state_dict()),
               tuple(nn.utils.spectral_norm(nn.ConvTranspose2d(2, 3, 2)).weight_u.shape)]
        m.load_state_dict({k: v if lib is torch else tg.tensor(v.numpy()) for k, v in state.items()})
        x = (lib.arange(18.0) / 10).reshape(1, 2, 3, 3)
        for _ in range(2):
            y = m(x)
            y.sum().backward()
        out += [_r(y), _r(m.weight_u), _r(m.weight_v), np.round(m.weight_orig.grad.numpy(), 3).tolist()]
        m.eval()
        u = _r(m.weight_u)
        out += [_r(m(x)), _r(m.weight_u) == u]
        nn.utils.remove_spectral_norm(m)
        return out, [n for n, _ in m.named_parameters()], list(m.state_dict()), _r(m(x))
    same_as_torch(probe)


@pytest.mark.parametrize("misuse", [
    lambda nn: nn.utils.spectral_norm(nn.utils.spectral_norm(nn.Linear(2, 3))),
    lambda nn: nn.utils.spectral_norm(nn.Linear(2, 3, bias=False), name="bias"),
    lambda nn: nn.utils.spectral_norm(nn.Linear(2, 3), n_power_iterations=0),
    lambda nn: nn.utils.remove_spectral_norm(nn.Linear(2, 3)),
])
def test_spectral_norm_misuse_equals_torch(misuse):
    same_as_torch(lambda lib, nn: misuse(nn), compare_message=False)


# ---- parametrizations --------------------------------------------------------------------------
def _parametrize(lib):
    return torch.nn.utils.parametrize if lib is torch else nn.utils.parametrize


def _parametrizations(lib):
    return torch.nn.utils.parametrizations if lib is torch else nn.utils.parametrizations


def test_register_parametrization_equals_torch():
    def probe(lib, nn):
        class Symmetric(nn.Module):
            def forward(self, x):
                return x.triu() + x.triu(1).transpose(-1, -2)

            def right_inverse(self, a):
                return a.triu()
        P, m = _parametrize(lib), nn.Linear(3, 3)
        with no_grad(lib):
            m.weight.copy_(lib.arange(9.0).reshape(3, 3))
            m.bias.zero_()
        w0 = m.weight
        P.register_parametrization(m, "weight", Symmetric())
        out = [type(m).__name__, P.type_before_parametrizations(m).__name__, P.is_parametrized(m),
               P.is_parametrized(m, "bias"), [n for n, _ in m.named_parameters()],
               list(m.state_dict()), _r(m.weight), m.parametrizations.weight.original is w0, repr(m)]
        m(lib.ones(1, 3)).sum().backward()
        out.append(_r(m.parametrizations.weight.original.grad))
        m.weight = lib.eye(3) * 2
        out.append(_r(m.parametrizations.weight.original))
        with P.cached():
            out.append(m.weight is m.weight)
        out += [m.weight is m.weight, type(copy.deepcopy(m)).__name__]
        P.remove_parametrizations(m, "weight")
        return out, type(m).__name__, [n for n, _ in m.named_parameters()], _r(m.weight), m.weight is w0
    same_as_torch(probe)


def test_parametrization_chains_and_misuse_equal_torch():
    def probe(lib, nn):
        class Half(nn.Module):
            def forward(self, x):
                return x[:1]

        class Double(nn.Module):
            def forward(self, x):
                return x * 2
        P, m = _parametrize(lib), nn.Linear(2, 2)
        out = [outcome(lambda *a: P.register_parametrization(m, "weight", Half()), lib, nn)[0]]
        P.register_parametrization(m, "weight", Double())
        P.register_parametrization(m, "weight", Double())
        out += [bool(((m.weight - 4 * m.parametrizations.weight.original).abs() < 1e-6).all()),
                len(m.parametrizations.weight)]
        for misuse in (lambda: P.register_parametrization(m, "nope", Double()),
                       lambda: P.remove_parametrizations(m, "bias"),
                       lambda: setattr(m, "weight", lib.ones(2, 2))):
            out.append(outcome(lambda *a: misuse(), lib, nn)[0])
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
        return out, type(m).__name__
    same_as_torch(probe)


@pytest.mark.filterwarnings("ignore:.*weight_norm.*deprecated")
def test_parametrizations_weight_norm_equals_torch_and_loads_the_old_keys():
    def probe(lib, nn):
        conv = nn.Conv2d(2, 3, 2)
        with no_grad(lib):
            conv.weight.copy_(lib.arange(24.0).reshape(3, 2, 2, 2) / 10 - 1)
            conv.bias.zero_()
        m = _parametrizations(lib).weight_norm(conv)
        x = lib.ones(1, 2, 3, 3)
        y = m(x)
        y.sum().backward()
        out = [list(m.state_dict()), _r(m.parametrizations.weight.original0), _r(y),
               np.round(m.parametrizations.weight.original0.grad.numpy(), 3).tolist()]
        old = nn.utils.weight_norm(nn.Conv2d(2, 3, 2))
        m.load_state_dict(old.state_dict())
        return out, bool((m(x) - old(x)).abs().max() < 1e-5)
    same_as_torch(probe)


def test_parametrizations_spectral_norm_equals_torch_from_the_same_state():
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in torch.nn.utils.parametrizations.spectral_norm(
        torch.nn.Linear(4, 3)).state_dict().items()}

    def probe(lib, nn):
        m = _parametrizations(lib).spectral_norm(nn.Linear(4, 3))
        out = [list(m.state_dict()), [n for n, _ in m.named_buffers()]]
        m.load_state_dict({k: v if lib is torch else tg.tensor(v.numpy()) for k, v in state.items()})
        x = (lib.arange(8.0) / 10).reshape(2, 4)
        for _ in range(2):
            y = m(x)
            y.sum().backward()
        out += [_r(y), _r(m.parametrizations.weight[0]._u),
                np.round(m.parametrizations.weight.original.grad.numpy(), 3).tolist(), _r(m.eval()(x))]
        w = _parametrizations(lib).spectral_norm(nn.Linear(4, 3), n_power_iterations=50).weight
        return out, round(float(np.linalg.svd(w.detach().numpy(), compute_uv=False)[0]), 3)
    same_as_torch(probe)


# ---- stateless.functional_call -----------------------------------------------------------------
def _stateless(lib):
    return torch.nn.utils.stateless if lib is torch else nn.utils.stateless


@pytest.mark.filterwarnings("ignore:.*functional_call.*deprecated")
def test_functional_call_equals_torch():
    def probe(lib, nn):
        m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        w = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        given = {"0.weight": w, "0.bias": lib.zeros(2), "1.running_mean": lib.zeros(2)}
        y = _stateless(lib).functional_call(m, given, lib.ones(3, 2))
        y.pow(2).sum().backward()
        lin = nn.Linear(2, 2, bias=False)
        tied = nn.Sequential(lin, lin)
        x = lib.ones(1, 2)
        out = [_r(y), _r(w.grad), m[0].weight.grad is None, type(m[0].weight).__name__,
               _r(given["1.running_mean"]), _r(m[1].running_mean),
               _r(_stateless(lib).functional_call(tied, {"0.weight": lib.eye(2) * 2}, (x,))),
               _r(_stateless(lib).functional_call(
                   nn.Linear(2, 2), {"extra": lib.ones(1), "weight": lib.eye(2), "bias": lib.ones(2)}, x))]
        misuse = [lambda: _stateless(lib).functional_call(
                      tied, {"0.weight": lib.eye(2), "1.weight": lib.eye(2) * 2}, x),
                  lambda: _stateless(lib).functional_call(
                      nn.Linear(2, 2), {"weight": lib.eye(2), "junk": lib.ones(1)}, x, strict=True),
                  lambda: _stateless(lib).functional_call(nn.Linear(2, 2), {"weight": 3}, x)]
        return out, [outcome(lambda *a: f(), lib, nn)[0] for f in misuse]
    same_as_torch(probe)


def test_bytes_and_complex_numbers_round_trip_as_in_torch():
    same_as_torch(lambda lib, nn: _round_trip(lib, {"k": [b"abc\x00\xff", 3j, (1 + 2j,)],
                                                    "odd": complex(float("nan"), float("inf"))}))


# ---- norm layers' bias= and repr (torch 2.13) ---------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda nn: nn.BatchNorm1d(3), (2, 3, 4)), (lambda nn: nn.BatchNorm1d(3, bias=False), (2, 3, 4)),
    (lambda nn: nn.BatchNorm2d(3, affine=False, bias=False), (2, 3, 2, 2)),
    (lambda nn: nn.LayerNorm(3, bias=False), (2, 4, 3)), (lambda nn: nn.GroupNorm(1, 3), (2, 3, 4)),
    (lambda nn: nn.GroupNorm(1, 3, bias=False), (2, 3, 4)),
    (lambda nn: nn.GroupNorm(1, 3, affine=False), (2, 3, 4)),
])
def test_norm_layers_take_bias_and_print_it_as_torch(make, shape):
    results = []
    for lib, mod in LIBS:
        m = make(mod)
        x = (lib.arange(24.0) / 7).reshape(*shape).requires_grad_()
        y = m(x)
        (y * lib.arange(24.0).reshape(*shape).cos()).sum().backward()
        results.append((repr(m), list(m.state_dict()), y.detach().numpy(), x.grad.numpy()))
    (r_t, k_t, y_t, g_t), (r_o, k_o, y_o, g_o) = results
    assert (r_o, k_o) == (r_t, k_t)
    np.testing.assert_allclose(y_o, y_t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g_o, g_t, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda nn: nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), lambda nn: nn.MaxPool2d(2),
    lambda nn: nn.MaxUnpool2d((2, 3), 1), lambda nn: nn.MaxUnpool2d(2, padding=1),
])
def test_pooling_reprs_equal_torch(make):
    same_as_torch(lambda lib, nn: repr(make(nn)))


@pytest.mark.parametrize("make", [
    lambda nn: nn.RNNCell(3, 4, nonlinearity="relu"), lambda nn: nn.RNN(3, 4, 2, nonlinearity="relu"),
    lambda nn: nn.RNN(3, 4, bias=False), lambda nn: nn.SiLU(inplace=True), lambda nn: nn.SiLU(),
])
def test_recurrent_and_activation_reprs_equal_torch(make):
    same_as_torch(lambda lib, nn: repr(make(nn)))


def test_overridden_load_from_state_dict_and_private_pre_hooks_run_as_in_torch():
    def probe(lib, nn):
        log = []

        class Renamed(nn.Linear):
            def _load_from_state_dict(self, state_dict, prefix, *args):
                log.append(("override", prefix, args[1]))
                if prefix + "w" in state_dict:
                    state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
                super()._load_from_state_dict(state_dict, prefix, *args)
        m = nn.Sequential(Renamed(2, 2))
        m[0]._register_load_state_dict_pre_hook(
            lambda sd, prefix, *a: log.append(("private", prefix, sorted(sd))))
        m[0]._register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, meta, strict, *a: log.append((type(mod).__name__, strict)),
            with_module=True)
        result = m.load_state_dict({"0.w": lib.eye(2), "0.bias": lib.ones(2)}, strict=False)
        lone, missing, unexpected, errors = nn.Linear(2, 2), [], [], []
        lone._load_from_state_dict({"weight": lib.eye(2)}, "", {}, True, missing, unexpected, errors)
        return (log, str(result), m[0].weight.tolist(), m[0].bias.tolist(),
                (missing, unexpected, errors, lone.weight.tolist()))
    same_as_torch(probe)


def test_global_module_hooks_run_before_the_modules_own_as_in_torch():
    import torch.nn.modules.module as torch_module
    import tinygrad_cv.nn.modules.module as our_module

    def probe(lib, nn):
        hooks = torch_module if lib is torch else our_module
        log, m = [], nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        m[0].register_forward_hook(lambda mod, a, o: log.append(("own", type(mod).__name__)))
        handles = [
            hooks.register_module_forward_pre_hook(lambda mod, a: log.append(("pre", type(mod).__name__))),
            hooks.register_module_forward_hook(lambda mod, a, o: log.append(("post", type(mod).__name__))),
            hooks.register_module_forward_hook(lambda mod, a, k, o: log.append(("kw", sorted(k))),
                                               with_kwargs=True),
            hooks.register_module_full_backward_hook(lambda mod, gi, go: log.append(("bw", type(mod).__name__))),
            hooks.register_module_full_backward_pre_hook(
                lambda mod, go: log.append(("bw-pre", type(mod).__name__)))]
        try:
            m(lib.ones(1, 2, requires_grad=True)).sum().backward()
        finally:
            for h in handles:
                h.remove()
        m(lib.ones(1, 2))
        return log
    same_as_torch(probe)


def test_module_to_memory_format_changes_the_4d_tensors_as_torch():
    def strides(t, lib):
        return tuple(t.stride()) if lib is torch else tuple(s // t.array.itemsize for s in t.array.strides)

    def probe(lib, nn):
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(2, 2))
        w = m[0].weight
        m[0].weight.grad = lib.ones(4, 3, 3, 3)
        assert m.to(memory_format=lib.channels_last) is m
        wide = nn.Conv2d(3, 4, 3).to(lib.float64, memory_format=lib.channels_last)
        return (m[0].weight is w, strides(m[0].weight, lib), strides(m[0].weight.grad, lib),
                strides(m[0].bias, lib), strides(m[1].weight, lib), str(wide.weight.dtype),
                wide.weight.is_contiguous(memory_format=lib.channels_last))
    same_as_torch(probe)
