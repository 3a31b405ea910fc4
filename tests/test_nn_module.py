"""The Module API against torch.nn.Module on equivalent models: parameter/buffer/module
traversal and names, state_dict keys and shapes, strict and non-strict loading (a failed load
changes nothing), train/eval, repr, containers, num_parameters, to(dtype/device), zero_grad."""
import collections

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.nn as nn

from torch_compare import compare_layer, copy_weights


def build(lib):
    """The same model in tinygrad_cv.nn (lib=nn) and torch.nn (lib=torch.nn)."""
    T = tg if lib is nn else torch

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.Sequential(lib.Linear(4, 8), lib.ReLU(), lib.Linear(8, 8))
            self.blocks = lib.ModuleList([lib.Linear(8, 8), lib.Tanh()])
            self.heads = lib.ModuleDict({"cls": lib.Linear(8, 3), "aux": lib.Linear(8, 2, bias=False)})
            self.emb = lib.Embedding(5, 8, padding_idx=0)
            self.scale = lib.Parameter(T.ones(3))
            self.register_buffer("running", T.zeros(3))
            self.register_buffer("steps", T.zeros(1, dtype=T.int64))
            self.register_buffer("scratch", T.zeros(2), persistent=False)

        def forward(self, x):
            h = self.features(x)
            for block in self.blocks:
                h = block(h)
            return self.heads["cls"](h) * self.scale + self.running

    return Net()


def pair(seed=0):
    torch.manual_seed(seed)
    theirs = build(torch.nn)
    ours = build(nn)
    with torch.no_grad():
        theirs.running.copy_(torch.randn(3))
    copy_weights(ours, theirs)
    return ours, theirs


def test_names_and_shapes_equal_torch():
    ours, theirs = pair()
    sd_o, sd_t = ours.state_dict(), theirs.state_dict()
    assert list(sd_o) == list(sd_t)
    assert all(tuple(sd_o[k].shape) == tuple(sd_t[k].shape) for k in sd_t)
    assert "scratch" not in sd_o
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert len(list(ours.parameters(recurse=False))) == 1
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    ours.emb.requires_grad_(False)
    assert ours.num_parameters(trainable_only=True) == ours.num_parameters() - 40


def test_copied_weights_give_torch_outputs_and_gradients():
    ours, theirs = pair(1)
    x = np.random.default_rng(0).standard_normal((5, 4))
    for train in (True, False):
        compare_layer(ours, theirs, x, "float32", train=train)
    np.testing.assert_allclose(ours.running.numpy(), theirs.running.numpy())
    assert ours.steps.dtype == np.int64


def test_load_state_dict_accepts_torch_tensors_and_our_tensors():
    ours, theirs = pair(2)
    other = build(nn)
    result = other.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    other.load_state_dict(ours.state_dict())
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k].numpy(), v.numpy())


def _snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def _assert_unchanged(module, before):
    after = _snapshot(module)
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


def test_strict_load_reports_missing_and_unexpected_and_changes_nothing():
    ours, theirs = pair(3)
    target = build(nn)
    before = _snapshot(target)
    sd = {k: v.detach().numpy() + 1 for k, v in theirs.state_dict().items()}
    del sd["features.0.bias"]
    sd["extra.weight"] = np.zeros(2)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "features\.0\.bias"') as info:
        target.load_state_dict(sd)
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in str(info.value) and "Net" in str(info.value)
    _assert_unchanged(target, before)
    result = target.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["features.0.bias"] and result.unexpected_keys == ["extra.weight"]
    np.testing.assert_allclose(target.features[0].weight.detach().numpy(), sd["features.0.weight"], rtol=1e-6)
    np.testing.assert_array_equal(target.features[0].bias.detach().numpy(), before["features.0.bias"])


def test_shape_mismatch_raises_and_leaves_the_module_unchanged():
    _, theirs = pair(4)
    target = build(nn)
    before = _snapshot(target)
    sd = {k: v.detach().numpy() + 1 for k, v in theirs.state_dict().items()}
    sd["heads.cls.weight"] = np.zeros((4, 8), dtype=np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for heads\.cls\.weight.*\(4, 8\).*\(3, 8\)"):
            target.load_state_dict(sd, strict=strict)
        _assert_unchanged(target, before)


def test_load_keeps_parameter_objects_and_arrays():
    ours, theirs = pair(5)
    w = ours.features[0].weight
    array = w.array
    ours.load_state_dict(theirs.state_dict())
    assert ours.features[0].weight is w and w.array is array


def test_train_eval_propagate():
    ours, _ = pair()
    assert all(m.training for m in ours.modules())
    assert ours.eval() is ours
    assert not any(m.training for m in ours.modules())
    ours.blocks.train()
    assert ours.blocks[0].training and not ours.features.training
    ours.train()
    assert all(m.training for m in ours.modules())


def test_repr_equals_torch():
    ours, theirs = pair()
    assert repr(ours) == repr(theirs)
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())
    assert repr(nn.LeakyReLU(0.2)) == repr(torch.nn.LeakyReLU(0.2))
    assert repr(nn.Softmax(1)) == repr(torch.nn.Softmax(1))
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    layers.append(nn.Tanh()).extend([nn.Sigmoid(), nn.Identity()])
    assert len(layers) == 5
    assert isinstance(layers[-1], nn.Identity) and isinstance(layers[2], nn.Tanh)
    assert [type(m).__name__ for m in layers[1:3]] == ["ReLU", "Tanh"]
    layers[1] = nn.GELU()
    assert isinstance(layers[1], nn.GELU)
    assert [type(m).__name__ for m in layers] == ["Linear", "GELU", "Tanh", "Sigmoid", "Identity"]
    assert list(layers.state_dict()) == ["0.weight", "0.bias"]
    heads = nn.ModuleDict({"a": nn.Linear(2, 3)})
    heads["b"] = nn.Linear(3, 1)
    assert "b" in heads and len(heads) == 2 and list(heads.keys()) == ["a", "b"]
    assert list(heads.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    del heads["a"]
    assert list(heads) == ["b"] and list(dict(heads.items())) == ["b"]


def test_sequential_variants():
    seq = nn.Sequential(collections.OrderedDict([("fc", nn.Linear(3, 4)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.ReLU)
    sub = seq[:1]
    assert isinstance(sub, nn.Sequential) and len(sub) == 1
    seq.append(nn.Linear(4, 2))
    assert list(seq.state_dict())[-2:] == ["2.weight", "2.bias"]
    assert seq(tg.randn(5, 3)).shape == (5, 2)


def test_shared_submodule_counts_once_like_torch():
    def make(lib):
        shared = lib.Linear(3, 3)
        return lib.Sequential(shared, lib.ReLU(), shared)
    ours, theirs = make(nn), make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours.num_parameters() == 12


def test_to_dtype_and_device(device):
    ours, _ = pair()
    ours(tg.randn(2, 4)).sum().backward()
    ours.to("float64")
    for name, t in ours.state_dict().items():
        expected = np.int64 if name == "steps" else np.float64
        assert t.dtype == expected, name
    assert ours.features[0].weight.grad.dtype == np.float64
    assert ours.scratch.dtype == np.float64
    y = ours(tg.randn(2, 4, dtype="float64"))
    assert y.dtype == np.float64
    ours.float()
    assert ours.heads["cls"].weight.dtype == np.float32
    ours.to(device)
    assert all(p.device == device for p in ours.parameters())
    assert all(b.device == device for b in ours.buffers())
    assert ours(tg.randn(2, 4, device=device)).device == device


def test_zero_grad_and_requires_grad():
    ours, _ = pair()
    ours(tg.randn(2, 4)).sum().backward()
    ours.zero_grad(set_to_none=False)
    g = ours.features[0].weight.grad
    assert g is not None and not np.any(g.numpy())
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    ours.requires_grad_(False)
    assert not any(p.requires_grad for p in ours.parameters())


def test_attribute_registration_rules():
    m = nn.Linear(2, 2)
    m.bias = None
    assert list(m.state_dict()) == ["weight"] and m.bias is None
    m.register_buffer("stat", tg.zeros(2))
    m.stat = tg.ones(2)
    np.testing.assert_array_equal(m.state_dict()["stat"].numpy(), 1.0)
    del m.stat
    assert "stat" not in m.state_dict()
    with pytest.raises(TypeError, match="Tensor"):
        m.register_buffer("bad", np.zeros(2))
    with pytest.raises(TypeError, match="Parameter"):
        m.register_parameter("bad", tg.zeros(2))
    with pytest.raises(AttributeError, match="nothing"):
        m.nothing

    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="__init__"):
        Broken()


def test_apply_visits_children_first():
    seen = []
    model = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_parameter_repr_and_defaults():
    p = nn.Parameter(tg.zeros(2))
    assert p.requires_grad and repr(p).startswith("Parameter containing:")
    assert not nn.Parameter(tg.zeros(2), requires_grad=False).requires_grad
