"""torch-style save/load: file objects, whole modules and optimizers, nested containers,
``weights_only`` with the allow-list, hostile files (compared with torch where comparable)."""
import collections
import io
import json
import os
import pickle
import struct
import sys

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import io as tio
from tinygrad_cv import nn, optim, serialization
from tinygrad_cv.io import CheckpointError
from tinygrad_cv.serialization import WeightsOnlyError, add_safe_globals, safe_globals


def _small_net(lib):
    return lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3, padding=1, bias=False),
                             lib.nn.BatchNorm2d(4),
                             lib.nn.ReLU(), lib.nn.MaxPool2d(2), lib.nn.Flatten(),
                             lib.nn.Linear(4 * 4 * 4, 3))


def _twins():
    """The same small conv net in torch and here (weights copied from torch)."""
    torch.manual_seed(0)
    ref = _small_net(torch)
    ours = _small_net(tg)
    ours.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return ref, ours


def _as_numpy(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else x.array


def _same_tree(a, b):
    """``a`` (loaded by torch) and ``b`` (loaded here) have the same nesting, keys and values."""
    if isinstance(a, torch.Tensor) and a.ndim == 0 and isinstance(b, int):
        assert a.item() == b  # torch's Adam keeps 'step' as a tensor, ours as an int
    elif isinstance(a, torch.Tensor):  # the twins trained one step apart by float32 rounding
        assert isinstance(b, tg.Tensor) and str(a.dtype).split(".")[1] == b.dtype.name
        np.testing.assert_allclose(_as_numpy(b), _as_numpy(a), rtol=1e-5, atol=1e-7)
    elif isinstance(a, dict):
        if "params" in a:  # a param group: torch adds foreach, capturable, fused, ...
            a = {k: a[k] for k in b}
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple, set)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(sorted(a, key=repr) if isinstance(a, set) else a,
                        sorted(b, key=repr) if isinstance(b, set) else b):
            _same_tree(x, y)
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        # (torch's Adam defaults weight_decay to the int 0, ours to 0.0)
        assert isinstance(b, (int, float)) and (a == b or (a != a and b != b))
    else:
        assert type(a) is type(b) and a == b


def _checkpoint(lib, model, opt):
    return {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "lr": 0.1, "nan": float("nan"), "name": "run-1", "history": [1.5, 2.0],
            "shape": (2, 3), "tags": {"a", "b"}, "none": None, "flag": True,
            "steps": lib.tensor([1, 2, 3])}


def _trained_twins():
    ref, ours = _twins()
    ropt = torch.optim.Adam(ref.parameters(), lr=1e-2)
    oopt = optim.Adam(ours.parameters(), lr=1e-2)
    x = np.random.default_rng(0).normal(size=(2, 1, 8, 8)).astype(np.float32)
    ref(torch.tensor(x)).sum().backward()
    ropt.step()
    ours(tg.tensor(x)).sum().backward()
    oopt.step()
    return ref, ropt, ours, oopt, x


# ---- round trips ------------------------------------------------------------------------------
def test_nested_checkpoint_round_trips_through_file_objects_as_in_torch(tmp_path):
    ref, ropt, ours, oopt, _ = _trained_twins()
    ref_buf, our_buf = io.BytesIO(), io.BytesIO()
    torch.save(_checkpoint(torch, ref, ropt), ref_buf)
    tg.save(_checkpoint(tg, ours, oopt), our_buf)
    ref_buf.seek(0)
    our_buf.seek(0)
    loaded = tg.load(our_buf)
    _same_tree(torch.load(ref_buf), loaded)
    for k, v in ours.state_dict().items():  # our own round trip is exact
        np.testing.assert_array_equal(loaded["model"][k].array, v.array)
    # and through an open file, from its current position
    with open(tmp_path / "ck.pt", "wb") as f:
        f.write(b"junk")
        tg.save(_checkpoint(tg, ours, oopt), f)
    with open(tmp_path / "ck.pt", "rb") as f:
        f.seek(4)
        loaded = tg.load(f, map_location="cpu")
    _same_tree(torch.load(io.BytesIO(ref_buf.getvalue())), loaded)


def test_whole_module_and_optimizer_round_trip_like_torch(tmp_path):
    ref, ropt, ours, oopt, x = _trained_twins()
    torch.save({"model": ref, "optimizer": ropt}, tmp_path / "ref.pt")
    tg.save({"model": ours, "optimizer": oopt}, tmp_path / "ours.pt")
    r = torch.load(tmp_path / "ref.pt", weights_only=False)
    o = tg.load(tmp_path / "ours.pt")  # weights_only=True: the framework's classes are allowed
    assert type(o["model"]) is nn.Sequential and type(o["optimizer"]) is optim.Adam
    assert [type(m).__name__ for m in o["model"]] == [type(m).__name__ for m in r["model"]]
    # the optimizer holds the loaded model's parameters, as after torch.load
    assert all(p is q for p, q in zip(o["optimizer"].param_groups[0]["params"],
                                      o["model"].parameters()))
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in o["model"].parameters())
    # training continues identically in both frameworks
    for model, opt, lib in ((r["model"], r["optimizer"], torch), (o["model"], o["optimizer"], tg)):
        opt.zero_grad()
        (model(lib.tensor(x)) ** 2).mean().backward()
        opt.step()
    for (k, a), (k2, b) in zip(r["model"].state_dict().items(), o["model"].state_dict().items()):
        assert k == k2
        np.testing.assert_allclose(_as_numpy(b), _as_numpy(a), rtol=1e-5, atol=1e-6)
    r["model"].eval()
    o["model"].eval()
    np.testing.assert_allclose(_as_numpy(o["model"](tg.tensor(x))),
                               _as_numpy(r["model"](torch.tensor(x))), rtol=1e-5, atol=1e-6)


def test_shared_tensors_and_scheduler_keep_their_identity():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    tied = {"a": model.weight, "b": model.weight, "od": collections.OrderedDict(x=1)}
    buf = io.BytesIO()
    tg.save({"sched": sched, "tied": tied, "ids": {model.weight: "w"}}, buf)
    out = tg.load(io.BytesIO(buf.getvalue()))
    assert out["sched"].optimizer.param_groups[0]["params"][0] is not model.weight
    assert out["tied"]["a"] is out["tied"]["b"]
    assert list(out["ids"].values()) == ["w"]
    out["sched"].step()
    out["sched"].step()
    assert out["sched"].optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_sparse_tensors_round_trip_as_in_torch():
    indices, values = [[0, 1, 1, 0], [2, 0, 2, 2]], [3.0, 4.0, 5.0, 1.0]   # (0, 2) twice
    ref = torch.sparse_coo_tensor(torch.tensor(indices), torch.tensor(values), (2, 3))
    ours = tg.sparse_coo_tensor(tg.tensor(indices), tg.tensor(values, requires_grad=True),
                                (2, 3))
    ref_buf, our_buf = io.BytesIO(), io.BytesIO()
    torch.save({"s": ref, "c": ref.coalesce()}, ref_buf)
    tg.save({"s": ours, "again": ours, "c": ours.coalesce()}, our_buf)
    r = torch.load(io.BytesIO(ref_buf.getvalue()))
    o = tg.load(io.BytesIO(our_buf.getvalue()))
    assert o["s"] is o["again"] and o["s"].is_sparse and o["s"].requires_grad
    for k in ("s", "c"):
        assert o[k].is_coalesced() == r[k].is_coalesced()
        np.testing.assert_array_equal(o[k].to_dense().detach().numpy(), r[k].to_dense().numpy())
    np.testing.assert_array_equal(o["c"].indices().numpy(), r["c"].indices().numpy())
    # indices outside the size are refused, as sparse_coo_tensor refuses them
    bad = {"$sparse": [{"$array": "i"}, {"$tensor": "v"}, [2, 2], False]}
    tensors = {"i": np.array([[0, 5]]), "v": np.array([1.0, 2.0], np.float32)}
    with pytest.raises(CheckpointError, match="invalid sparse tensor"):
        tg.load(io.BytesIO(_forge_with(bad, tensors)))


# ---- the allow-list -----------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.scale = 2.0

    def forward(self, x):
        return self.fc(x) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.scale = 2.0

    def forward(self, x):
        return self.fc(x) * self.scale


def _both_loads(ref_bytes, our_bytes, **kw):
    """(torch's outcome, ours): the loaded object or the exception type."""
    out = []
    for fn, data in ((torch.load, ref_bytes), (tg.load, our_bytes)):
        try:
            out.append(fn(io.BytesIO(data), **kw))
        except pickle.UnpicklingError as e:
            out.append(e)
    return out


def test_user_classes_need_the_allow_list_as_in_torch():
    ref_buf, our_buf = io.BytesIO(), io.BytesIO()
    torch.save(TorchNet(), ref_buf)
    tg.save(Net(), our_buf)
    ref_bytes, our_bytes = ref_buf.getvalue(), our_buf.getvalue()
    r, o = _both_loads(ref_bytes, our_bytes)
    assert isinstance(r, pickle.UnpicklingError) and isinstance(o, WeightsOnlyError)
    assert "Net" in str(o) and "add_safe_globals" in str(o) and "weights_only=False" in str(o)
    with torch.serialization.safe_globals([TorchNet, torch.nn.Linear]), safe_globals([Net]):
        r, o = _both_loads(ref_bytes, our_bytes)
        assert isinstance(r, TorchNet) and isinstance(o, Net) and o.scale == 2.0
    r, o = _both_loads(ref_bytes, our_bytes)  # the context restored the lists
    assert isinstance(r, Exception) and isinstance(o, Exception)
    r, o = _both_loads(ref_bytes, our_bytes, weights_only=False)
    assert isinstance(r, TorchNet) and isinstance(o, Net)
    torch_before, ours_before = torch.serialization.get_safe_globals(), \
        serialization.get_safe_globals()
    try:
        torch.serialization.add_safe_globals([TorchNet, torch.nn.Linear])
        add_safe_globals([Net])
        r, o = _both_loads(ref_bytes, our_bytes)
        assert isinstance(r, TorchNet) and isinstance(o, Net)
        x = np.ones((1, 2), np.float32)
        o.fc.load_state_dict({k: tg.tensor(v.detach().numpy())
                              for k, v in r.fc.state_dict().items()})
        np.testing.assert_allclose(o(tg.tensor(x)).array, r(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-6)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(torch_before)
        serialization.clear_safe_globals()
        add_safe_globals(ours_before)
    with pytest.raises(TypeError, match="add_safe_globals"):
        add_safe_globals([3])


def test_a_users_own_models_package_is_not_allow_listed(monkeypatch):
    """The framework's ``models`` package is allowed by default; a user's package that is
    also called ``models`` is not."""
    import types

    from models.classifiers import ConvNet
    buf = io.BytesIO()
    tg.save(ConvNet(1, 10), buf)
    assert type(tg.load(io.BytesIO(buf.getvalue()))) is ConvNet
    user = types.ModuleType("models")
    user.__file__ = "/somewhere/else/models/__init__.py"
    user_net = types.ModuleType("models.user_net")
    monkeypatch.setitem(sys.modules, "models", user)
    monkeypatch.setitem(sys.modules, "models.user_net", user_net)
    UserNet = type("UserNet", (nn.Module,), {"__module__": "models.user_net"})
    user_net.UserNet = UserNet
    buf = io.BytesIO()
    tg.save(UserNet(), buf)
    with pytest.raises(WeightsOnlyError, match="models.user_net.UserNet"):
        tg.load(io.BytesIO(buf.getvalue()))
    with safe_globals([UserNet]):
        assert type(tg.load(io.BytesIO(buf.getvalue()))) is UserNet


# ---- nothing from a file ever runs --------------------------------------------------------------
CALLS = []


class Trap:
    """A plain class; after saving, every hook pickle could call is armed to record."""


def _arm(cls):
    def record(name):
        def hook(self, *a, **k):
            CALLS.append(name)
        return hook
    cls.__init__ = record("__init__")
    cls.__setstate__ = record("__setstate__")
    cls.__setattr__ = record("__setattr__")
    cls.__new__ = staticmethod(lambda c, *a, **k: CALLS.append("__new__") or object.__new__(c))


def _forge(structure, tensors=None):
    """A well-formed checkpoint (valid digest) whose structure is ``structure``."""
    return _forge_with(structure, tensors or {})


def _forge_with(structure, tensors):
    """A checkpoint holding the arrays ``tensors`` (name -> array) and, with a valid
    digest, the structure ``structure`` (as a forger who recomputes the digest writes it)."""
    parts = tio._serialize({k: v for k, v in tensors.items()}, None)
    raw = b"".join(parts)
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    meta["tinygrad_cv.structure"] = json.dumps(structure)
    meta["tinygrad_cv.sha256"] = tio._digest(header, meta, [raw[8 + n:]])
    header["__metadata__"] = meta
    blob = json.dumps(header).encode()
    return struct.pack("<Q", len(blob)) + blob + raw[8 + n:]


def test_malicious_files_run_nothing(tmp_path, monkeypatch):
    buf = io.BytesIO()
    tg.save({"trap": Trap()}, buf)
    _arm(Trap)
    CALLS.clear()
    with safe_globals([Trap]):
        out = tg.load(io.BytesIO(buf.getvalue()))
    assert type(out["trap"]) is Trap and CALLS == []  # no __new__/__init__/__setstate__ ran

    marker = tmp_path / "pwned"
    # a module on the path that would leave the marker if anything imported it
    (tmp_path / "evil_payload_mod.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n"
                                                  "class Payload: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    forged = [{"$object": ["evil_payload_mod.Payload", {"$dict": []}]},
              {"$global": "os.system"},
              {"$object": ["subprocess.Popen", {"$dict": [["args", f"touch {marker}"]]}]},
              {"$object": ["builtins.eval", {"$dict": []}]}]
    for structure in forged:
        with pytest.raises(WeightsOnlyError, match="not an allowed global"):
            tg.load(io.BytesIO(_forge(structure)))
    # weights_only=False still imports nothing and calls nothing
    with pytest.raises(WeightsOnlyError, match="not defined by any imported module"):
        tg.load(io.BytesIO(_forge(forged[0])), weights_only=False)
    assert tg.load(io.BytesIO(_forge(forged[1])), weights_only=False) is os.system
    popen = tg.load(io.BytesIO(_forge(forged[2])), weights_only=False)
    assert type(popen).__name__ == "Popen" and not hasattr(popen, "pid")
    with pytest.raises(CheckpointError, match="not a class"):
        tg.load(io.BytesIO(_forge(forged[3])), weights_only=False)
    assert "evil_payload_mod" not in sys.modules and not marker.exists()


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = None


def test_torch_pickle_files_are_refused_unread(tmp_path):
    global MARKER
    MARKER = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pt"
    torch.save({"w": _Boom()}, evil)
    with pytest.raises(CheckpointError, match="zip archive.*never unpickles"):
        tg.load(evil, weights_only=False)
    with pytest.raises(CheckpointError, match="pickle"):
        tg.load(io.BytesIO(pickle.dumps({"w": _Boom()})))
    assert not os.path.exists(MARKER)


# ---- bad files and arguments -------------------------------------------------------------------
def test_truncated_and_foreign_files_raise_and_change_nothing_like_torch():
    ref, ours = _twins()
    ref_buf, our_buf = io.BytesIO(), io.BytesIO()
    torch.save(ref.state_dict(), ref_buf)
    tg.save(ours.state_dict(), our_buf)
    before = {k: v.array.copy() for k, v in ours.state_dict().items()}
    ref_before = {k: v.clone() for k, v in ref.state_dict().items()}
    for cut in (0.5, 0.9):
        with pytest.raises((RuntimeError, ValueError)):
            ref.load_state_dict(torch.load(io.BytesIO(ref_buf.getvalue()[
                :int(len(ref_buf.getvalue()) * cut)])))
        with pytest.raises(CheckpointError, match="<file object>.*(truncated|bad header)"):
            ours.load_state_dict(tg.load(io.BytesIO(our_buf.getvalue()[
                :int(len(our_buf.getvalue()) * cut)])))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        tg.load(io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(64)))
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    for k, v in ref.state_dict().items():
        assert torch.equal(v, ref_before[k])


def test_load_arguments_follow_torch_or_raise():
    buf = io.BytesIO()
    tg.save({"w": tg.ones(2)}, buf)
    data = buf.getvalue()

    class Device:  # a device object: its str() is the name, as torch.device's
        def __str__(self):
            return "cpu"

    assert tg.load(io.BytesIO(data), map_location=Device())["w"].device == "cpu"
    assert tg.load(io.BytesIO(data), "cpu", weights_only=True)["w"].tolist() == [1.0, 1.0]
    assert serialization.load(io.BytesIO(data), mmap=False)["w"].shape == (2,)
    with pytest.raises(NotImplementedError, match="map_location as a dict"):
        tg.load(io.BytesIO(data), map_location={"cuda:0": "cpu"})
    with pytest.raises(NotImplementedError, match="map_location as a dict or a function"):
        tg.load(io.BytesIO(data), map_location=lambda storage, loc: storage)
    with pytest.raises(NotImplementedError, match="mmap"):
        tg.load(io.BytesIO(data), mmap=True)
    with pytest.raises(TypeError, match="pickle_module"):
        tg.load(io.BytesIO(data), pickle_module=pickle)
    with pytest.raises(TypeError, match="encoding"):
        tg.load(io.BytesIO(data), encoding="latin1")
    with pytest.raises(TypeError, match="weights_only"):
        tg.load(io.BytesIO(data), weights_only="yes")
    with pytest.raises(TypeError, match="binary mode"):
        tg.load(io.StringIO("text"))
    with pytest.raises(TypeError, match="cannot store a function"):
        tg.save({"f": lambda: 0}, io.BytesIO())
    with pytest.raises(TypeError, match="cannot store a Generator"):
        tg.save({"rng": np.random.default_rng()}, io.BytesIO())
    tg.save({"w": tg.ones(1)}, io.BytesIO(), pickle_module=pickle, pickle_protocol=4)


# ---- checkpoints written before whole objects were supported -----------------------------------
OLD_CHECKPOINT = (
    "sAUAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCIsIm1vZGVsIjoiY25uIiwidGlueWdyYWRfY3YuZm9y"
    "bWF0IjoiMiIsInRpbnlncmFkX2N2LnN0cnVjdHVyZSI6IntcIiRkaWN0XCI6W1tcIm1vZGVsXCIse1wiJGRpY3RcIjpb"
    "W1wid2VpZ2h0XCIse1wiJHRlbnNvclwiOlwibW9kZWwud2VpZ2h0XCJ9XSxbXCJiaWFzXCIse1wiJHRlbnNvclwiOlwi"
    "bW9kZWwuYmlhc1wifV1dfV0sW1wib3B0aW1pemVyXCIse1wiJGRpY3RcIjpbW1wic3RhdGVcIix7XCIkZGljdFwiOltb"
    "MCx7XCIkZGljdFwiOltbXCJzdGVwXCIsMV0sW1wiZXhwX2F2Z1wiLHtcIiR0ZW5zb3JcIjpcIm9wdGltaXplci5zdGF0"
    "ZS4wLmV4cF9hdmdcIn1dLFtcImV4cF9hdmdfc3FcIix7XCIkdGVuc29yXCI6XCJvcHRpbWl6ZXIuc3RhdGUuMC5leHBf"
    "YXZnX3NxXCJ9XV19XSxbMSx7XCIkZGljdFwiOltbXCJzdGVwXCIsMV0sW1wiZXhwX2F2Z1wiLHtcIiR0ZW5zb3JcIjpc"
    "Im9wdGltaXplci5zdGF0ZS4xLmV4cF9hdmdcIn1dLFtcImV4cF9hdmdfc3FcIix7XCIkdGVuc29yXCI6XCJvcHRpbWl6"
    "ZXIuc3RhdGUuMS5leHBfYXZnX3NxXCJ9XV19XV19XSxbXCJwYXJhbV9ncm91cHNcIixbe1wiJGRpY3RcIjpbW1wibHJc"
    "IiwwLjAwMV0sW1wiYmV0YXNcIix7XCIkdHVwbGVcIjpbMC45LDAuOTk5XX1dLFtcImVwc1wiLDFlLTA4XSxbXCJ3ZWln"
    "aHRfZGVjYXlcIiwwLjBdLFtcImFtc2dyYWRcIixmYWxzZV0sW1wibWF4aW1pemVcIixmYWxzZV0sW1wicGFyYW1zXCIs"
    "WzAsMV1dXX1dXV19XSxbXCJlcG9jaFwiLDNdLFtcImNvbmZpZ1wiLHtcIiRkaWN0XCI6W1tcImhpZGRlbl9kaW1zXCIs"
    "WzhdXSxbXCJsclwiLDAuMDAxXSxbXCJuYW1lXCIsXCJjbm5cIl1dfV0sW1wiaGlzdG9yeVwiLFt7XCIkZGljdFwiOltb"
    "XCJsb3NzXCIsMC41XV19XV1dfSIsInRpbnlncmFkX2N2LnNoYTI1NiI6IjQ3NzZlZjAwZTYyNDdlZTM0MTUxYTA4NjAz"
    "NWM0N2IyYWU0OWQzNjAyYzgwNDkxNzhiY2ExNGE1YjEwMTQ4MzMifSwibW9kZWwud2VpZ2h0Ijp7ImR0eXBlIjoiRjMy"
    "Iiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOlswLDI0XX0sIm1vZGVsLmJpYXMiOnsiZHR5cGUiOiJGMzIiLCJz"
    "aGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOlsyNCwzMl19LCJvcHRpbWl6ZXIuc3RhdGUuMC5leHBfYXZnIjp7ImR0eXBl"
    "IjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOlszMiw1Nl19LCJvcHRpbWl6ZXIuc3RhdGUuMC5leHBf"
    "YXZnX3NxIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOls1Niw4MF19LCJvcHRpbWl6"
    "ZXIuc3RhdGUuMS5leHBfYXZnIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbODAsODhd"
    "fSwib3B0aW1pemVyLnN0YXRlLjEuZXhwX2F2Z19zcSI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMl0sImRhdGFfb2Zm"
    "c2V0cyI6Wzg4LDk2XX19hMfOPtfrID5yTUI8nJ2IvsU/ZL4e8ge/A6L7vgwsD7/NzMw9zczMPc3MzD3NzMw9zczMPc3M"
    "zD1vEoM6bxKDOm8SgzpvEoM6bxKDOm8SgzrNzMw9zczMPW8SgzpvEoM6"
)


def test_checkpoints_of_the_previous_version_still_load():
    """A CLI-style checkpoint written by the format-2 code before this module existed."""
    import base64
    raw = base64.b64decode("".join(OLD_CHECKPOINT))
    state = tg.load(io.BytesIO(raw))
    assert tio.load_metadata(io.BytesIO(raw)) == {"model": "cnn"}
    assert state["epoch"] == 3 and state["history"] == [{"loss": 0.5}]
    assert state["config"] == {"hidden_dims": [8], "lr": 0.001, "name": "cnn"}
    np.testing.assert_allclose(state["model"]["bias"].array, [-0.49147043, -0.55926585])
    assert state["model"]["weight"].shape == (2, 3)
    model = nn.Linear(3, 2)
    model.load_state_dict(state["model"])
    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt.load_state_dict(state["optimizer"])
    assert opt.state_dict()["state"][0]["step"] == 1
    np.testing.assert_allclose(opt.state_dict()["state"][1]["exp_avg"].array, [0.1, 0.1])
