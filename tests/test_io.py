"""tinygrad_cv.save / load: safetensors files, nesting, atomic writes, hostile files, resume."""
import hashlib
import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy
from safetensors import safe_open

import tinygrad_cv as tg
from tinygrad_cv import backend, nn, optim
from tinygrad_cv import io as tio
from tinygrad_cv.io import CheckpointError
from tinygrad_cv.optim import lr_scheduler

DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
          "uint16", "uint32", "uint64"]


class TwoLayer(nn.Module):
    def __init__(self, seed=0, dtype=np.float32):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w1 = nn.Parameter(tg.Tensor(rng.normal(size=(4, 8)).astype(dtype)))
        self.b1 = nn.Parameter(tg.Tensor(np.zeros(8, dtype)))
        self.w2 = nn.Parameter(tg.Tensor(rng.normal(size=(8, 3)).astype(dtype) * 0.5))
        self.register_buffer("steps_seen", tg.Tensor(np.zeros((), np.int64)))

    def forward(self, x):
        return (x @ self.w1 + self.b1).tanh() @ self.w2


def _host(t):
    """A tensor's values as a host NumPy array (the default device may be a GPU)."""
    return backend.to_numpy(t.array)


def _arrays(model):
    return {k: _host(v).copy() for k, v in model.state_dict().items()}


def _make_array(dtype, shape, rng):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("float"):
        return rng.normal(size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


# ---- round trips -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype_and_shape(tmp_path, dtype):
    rng = np.random.default_rng(0)
    shapes = [(), (0,), (3,), (2, 0, 4), (2, 3, 4), (1, 1, 1, 5)]
    state = {f"t{i}": tg.Tensor(_make_array(dtype, s, rng)) for i, s in enumerate(shapes)}
    state["transposed"] = tg.Tensor(_make_array(dtype, (3, 5), rng).T)  # non-contiguous
    path = tmp_path / "x.safetensors"
    tg.save(state, path)
    loaded = tg.load(path)
    assert list(loaded) == list(state)
    for k, v in state.items():
        assert isinstance(loaded[k], tg.Tensor)
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(_host(loaded[k]), _host(v))
    # readable by the reference implementation, with the same values
    theirs = safetensors.numpy.load_file(str(path))
    for k, v in state.items():
        assert theirs[k].dtype == v.dtype
        np.testing.assert_array_equal(theirs[k], _host(v))


def test_files_written_by_safetensors_load(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {d: _make_array(d, (2, 3), rng) for d in DTYPES}
    arrays["empty"] = np.zeros((0, 7), np.float32)
    arrays["scalar"] = np.array(3.5, np.float64)
    path = tmp_path / "ref.safetensors"
    safetensors.numpy.save_file(arrays, str(path), metadata={"author": "x"})
    loaded = tg.load(path)
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(_host(loaded[k]), v)
        loaded[k].array[...] = 0  # fresh, writable arrays
    assert tio.load_metadata(path) == {"author": "x"}


def test_arrays_and_tensors_keep_their_kind(tmp_path):
    obj = {"tensor": tg.ones(2), "array": np.arange(3), "scalar": np.float32(1.5),
           "int": np.int64(7)}
    tg.save(obj, tmp_path / "k.safetensors")
    out = tg.load(tmp_path / "k.safetensors")
    assert isinstance(out["tensor"], tg.Tensor) and backend.is_array(out["array"])
    assert out["scalar"] == 1.5 and isinstance(out["scalar"], float)
    assert out["int"] == 7 and isinstance(out["int"], int)


def _adam_state():
    model = TwoLayer()
    opt = optim.Adam([{"params": [model.w1]}, {"params": [model.b1, model.w2], "lr": 0.01}],
                     lr=0.05, amsgrad=True, betas=(0.8, 0.95))
    x = tg.Tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    return model, opt


def _assert_same_tree(a, b):
    if isinstance(a, tg.Tensor):
        assert isinstance(b, tg.Tensor) and a.dtype == b.dtype
        np.testing.assert_array_equal(_host(a), _host(b))
    elif isinstance(a, dict):
        assert type(b) is dict and list(a) == list(b)
        assert [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            _assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_tree(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert type(a) is type(b) and a == b


def test_optimizer_state_round_trip_is_exact(tmp_path):
    _, opt = _adam_state()
    sd = opt.state_dict()
    tg.save(sd, tmp_path / "opt.safetensors")
    loaded = tg.load(tmp_path / "opt.safetensors")
    _assert_same_tree(sd, loaded)
    assert set(loaded["state"]) == {0, 1, 2} and loaded["param_groups"][0]["betas"] == (0.8, 0.95)
    flat = safetensors.numpy.load_file(str(tmp_path / "opt.safetensors"))
    assert "state.0.exp_avg" in flat and "state.2.max_exp_avg_sq" in flat


def test_checkpoint_of_several_state_dicts(tmp_path):
    model, opt = _adam_state()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "note": "best",
            "history": [1.5, float("inf"), float("nan"), None, True], "shape": (2, 3),
            "ema": optim.EMA(model).state_dict()}
    tg.save(ckpt, tmp_path / "c.safetensors", metadata={"run": "17", "framework": "tinygrad_cv"})
    loaded = tg.load(tmp_path / "c.safetensors")
    _assert_same_tree(ckpt, loaded)
    assert tio.load_metadata(tmp_path / "c.safetensors") == {"run": "17",
                                                            "framework": "tinygrad_cv"}
    with safe_open(str(tmp_path / "c.safetensors"), framework="np") as f:
        assert "model.w1" in f.keys() and f.metadata()["run"] == "17"


def test_key_collisions_are_kept_apart(tmp_path):
    obj = {"a.b": tg.ones(1), "a": {"b": tg.zeros(1)}}
    tg.save(obj, tmp_path / "c.safetensors")
    out = tg.load(tmp_path / "c.safetensors")
    assert out["a.b"].item() == 1 and out["a"]["b"].item() == 0


def test_unsupported_values_raise_before_writing(tmp_path):
    path = tmp_path / "x.safetensors"
    tg.save({"w": tg.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot store a function at model\.fn"):
        tg.save({"model": {"fn": lambda: 0}}, path)
    with pytest.raises(TypeError, match="dtype complex128"):
        tg.save({"c": np.zeros(2, np.complex128)}, path)
    with pytest.raises(TypeError, match="metadata"):
        tg.save({"w": tg.ones(2)}, path, metadata={"k": 1})
    with pytest.raises(ValueError, match="reserved"):
        tg.save({"w": tg.ones(2)}, path, metadata={"tinygrad_cv.structure": "x"})
    assert path.read_bytes() == before


def test_load_onto_device(tmp_path, device):
    tg.save({"w": tg.Tensor(np.arange(6.0).reshape(2, 3))}, tmp_path / "d.safetensors")
    out = tg.load(tmp_path / "d.safetensors", device=device)
    assert out["w"].device == device
    np.testing.assert_array_equal(backend.to_numpy(out["w"].array), np.arange(6.0).reshape(2, 3))


def test_save_from_device(tmp_path, device, to_device):
    t = tg.Tensor(to_device(np.arange(4, dtype=np.float32)))
    tg.save({"t": t}, tmp_path / "d.safetensors")
    np.testing.assert_array_equal(safetensors.numpy.load_file(str(tmp_path / "d.safetensors"))["t"],
                                  np.arange(4, dtype=np.float32))


# ---- atomic writes -------------------------------------------------------------------------
def _leftovers(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_failing_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    tg.save({"w": tg.ones(3)}, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(tio.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"w": tg.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    np.testing.assert_array_equal(_host(tg.load(path)["w"]), np.ones(3))


def test_interrupted_serialisation_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    tg.save({"w": tg.ones(3)}, path)
    before = path.read_bytes()
    calls = []
    real = tio._host_bytes

    def fail_on_second(array):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(array)

    monkeypatch.setattr(tio, "_host_bytes", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"a": tg.zeros(5), "b": tg.zeros(5)}, path)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []


def test_write_goes_through_a_temporary_file_and_rename(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(dst), os.path.exists(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(tio.os, "replace", spy)
    tg.save({"w": tg.ones(3)}, path)
    assert seen == [(str(tmp_path), "ckpt.safetensors", False)]


# ---- hostile files ---------------------------------------------------------------------------
def _write_raw(path, header, data=b"", header_len=None):
    blob = json.dumps(header).encode()
    n = len(blob) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + blob + data)
    return path


@pytest.fixture
def good_file(tmp_path):
    model = TwoLayer()
    path = tmp_path / "good.safetensors"
    tg.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize("cut", [0, 3, 8, 20, -1, -13])
def test_truncated_file_raises_clear_error(good_file, cut):
    data = good_file.read_bytes()
    good_file.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="good.safetensors") as info:
        tg.load(good_file)
    assert any(word in str(info.value) for word in ("truncated", "header length", "data section"))


def test_foreign_files_raise_clear_error(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(CheckpointError, match=r"image\.png.*header length"):
        tg.load(png)
    text = tmp_path / "notes.txt"
    text.write_bytes(b"{}" * 3 + b"x" * 100)
    with pytest.raises(CheckpointError, match="notes.txt"):
        tg.load(text)


class _Boom:
    def __reduce__(self):
        return (os.mkdir, (MARKER,))


MARKER = None


def test_pickle_file_is_never_unpickled(tmp_path):
    global MARKER
    MARKER = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"w": _Boom()}))
    with pytest.raises(CheckpointError, match="evil.pt"):
        tg.load(evil)
    assert not os.path.exists(MARKER)


def test_huge_header_length_allocates_nothing(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}" + b" " * 100)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="bad header length"):
            tg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    _write_raw(path, {}, header_len=50_000_000)  # plausible size, but beyond the file
    with pytest.raises(CheckpointError, match="bad header length 50000000"):
        tg.load(path)


F32_2x2 = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}


@pytest.mark.parametrize("header,data,message", [
    ({"a": dict(F32_2x2, dtype="Q8")}, bytes(16), "unknown dtype 'Q8'"),
    ({"a": dict(F32_2x2, shape=[2, 3])}, bytes(16), "size mismatch"),
    ({"a": dict(F32_2x2, data_offsets=[0, 32])}, bytes(16), "run past the end"),
    ({"a": dict(F32_2x2, data_offsets=[8, 4])}, bytes(16), "invalid data_offsets"),
    ({"a": F32_2x2, "b": dict(F32_2x2, data_offsets=[8, 24])}, bytes(24), "overlaps"),
    ({"a": dict(F32_2x2, data_offsets=[8, 24])}, bytes(24), "gap"),
    ({"a": F32_2x2}, bytes(20), "trailing"),
    ({"a": dict(F32_2x2, shape=[-2, -2])}, bytes(16), "invalid shape"),
    ({"a": {"dtype": "F32", "shape": [4]}}, bytes(16), "exactly dtype, shape"),
    ({"a": F32_2x2, "__metadata__": {"k": 1}}, bytes(16), "__metadata__"),
    ([1, 2], b"", "not a JSON object"),
    ({"a": dict(F32_2x2, shape=[2 ** 62, 2 ** 62, 0], data_offsets=[0, 0])}, b"",
     "larger than any array"),
    ({"a": dict(F32_2x2, shape=[1] * 40, data_offsets=[0, 4])}, bytes(4), "40 dimensions"),
    ({"a": dict(F32_2x2, shape=[2 ** 61, 4])}, bytes(16), "larger than any array"),
    ({"a": dict(F32_2x2, data_offsets=[0, 2 ** 70])}, bytes(16), "run past the end"),
    ({"a": dict(F32_2x2, dtype=["F32"])}, bytes(16), "unknown dtype"),
    ({"a": dict(F32_2x2, shape=[2.0, 2])}, bytes(16), "invalid shape"),
    ({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02", "BOOL"),
    ({"a": F32_2x2, "__metadata__": ["k"]}, bytes(16), "__metadata__"),
    ({"a": F32_2x2, "__metadata__": None}, bytes(16), "__metadata__"),
    ({"a": F32_2x2, "__metadata__": {"k": float("nan")}}, bytes(16), "NaN"),
    ({"a": dict(F32_2x2, shape=[2, float("inf")])}, bytes(16), "Infinity"),
    ("just a string", b"", "not a JSON object"),
])
def test_tampered_headers_raise_clear_errors(tmp_path, header, data, message):
    path = _write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(CheckpointError, match="bad.safetensors") as info:
        tg.load(path)
    assert message in str(info.value)


def test_header_not_json(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b"{not json}")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        tg.load(path)
    path.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe\xfd\xfc")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        tg.load(path)


@pytest.mark.parametrize("text,message", [
    (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
     b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', "key 'a' twice"),
    (b'{"__metadata__":{"k":"1","k":"2"}}', "key 'k' twice"),
    (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    (b'{"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}}', "out-of-range number"),
    (b'{"a":{"dtype":"F32","shape":[-Infinity],"data_offsets":[0,4]}}', "-Infinity"),
    (b'{"a":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,4]}}', "JSON"),
    (b"\xef\xbb\xbf{}", "not valid JSON"),
])
def test_malformed_header_json_raises_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(8))
    with pytest.raises(CheckpointError, match="bad.safetensors") as info:
        tg.load(path)
    assert message in str(info.value)


def test_flipped_data_byte_is_detected(good_file):
    data = bytearray(good_file.read_bytes())
    data[-5] ^= 0xFF
    good_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        tg.load(good_file)


def _rewrite_metadata(path, edit, reseal=False):
    """Apply ``edit`` to the parsed header; ``reseal`` recomputes the digest as a forger would."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    edit(header)
    if reseal:
        meta = header.pop("__metadata__")
        meta["tinygrad_cv.sha256"] = tio._digest(header, meta, [raw[8 + n:]])
        header["__metadata__"] = meta
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + n:])


def _set_structure(header, structure):
    header["__metadata__"]["tinygrad_cv.structure"] = json.dumps(structure)


def test_tampered_structure_is_detected(good_file):
    def drop_reference(header):
        s = json.loads(header["__metadata__"]["tinygrad_cv.structure"])
        s["$dict"] = s["$dict"][1:]
        _set_structure(header, s)

    _rewrite_metadata(good_file, drop_reference)
    with pytest.raises(CheckpointError, match="header and data do not match their SHA-256"):
        tg.load(good_file)
    # even with a recomputed digest, the structure must describe exactly the listed tensors
    _rewrite_metadata(good_file, drop_reference, reseal=True)
    with pytest.raises(CheckpointError, match="not part of the saved structure"):
        tg.load(good_file)
    names = list(safetensors.numpy.load_file(str(good_file)))
    cases = [({"$dict": [["w", {"$tensor": "nope"}]]}, "'nope'"),
             ({"$eval": "os.system('x')"}, "not recognised"),
             ({"$dict": [["a", {"$tensor": names[0]}], ["b", {"$tensor": names[0]}]]},
              "twice"),
             ({"$dict": [["a", 1], ["a", 2]]}, "dict key 'a' twice"),
             ({"$tensor": ["unhashable"]}, "does not list"),
             (json.loads("[" * 150 + "]" * 150), "nested deeper than 100"),
             ({"$float": "1e5"}, "not recognised")]
    for structure, message in cases:
        _rewrite_metadata(good_file, lambda h: _set_structure(h, structure), reseal=True)
        with pytest.raises(CheckpointError, match=message):
            tg.load(good_file)
    # a structure nested 100,000 deep (its JSON parser would overflow the stack)
    _rewrite_metadata(good_file, lambda h: h["__metadata__"].update(
        {"tinygrad_cv.structure": "[" * 100_000 + "]" * 100_000}), reseal=True)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        tg.load(good_file)


# ---- integrity: header and data, and the check cannot be removed ----------------------------
def _epoch_lr_file(tmp_path):
    path = tmp_path / "run.safetensors"
    tg.save({"model": TwoLayer().state_dict(), "epoch": 3, "lr": 0.1,
             "config": {"width": 8}}, path, metadata={"note": "abc"})
    return path


@pytest.mark.parametrize("old,new", [
    (b'epoch\\",3', b'epoch\\",4'),           # a same-length edit of epoch
    (b'\\"lr\\",0.1', b'\\"lr\\",0.5'),    # ... of lr
    (b'\\"width\\",8', b'\\"width\\",9'),  # ... of a config value
    (b'"note":"abc"', b'"note":"abd"'),            # ... of user metadata
    (b'"shape":[4,8]', b'"shape":[8,4]'),          # ... of a shape
    (b'"dtype":"F32"', b'"dtype":"I32"'),          # ... of a dtype
])
def test_same_length_header_edits_are_detected(tmp_path, old, new):
    path = _epoch_lr_file(tmp_path)
    raw = path.read_bytes()
    assert raw.count(old) >= 1
    path.write_bytes(raw.replace(old, new, 1))
    with pytest.raises(CheckpointError, match="SHA-256"):
        tg.load(path)


def _meta_edit(fn):
    def edit(header):
        fn(header["__metadata__"])
    return edit


def _rename(meta, old, new):
    meta[new] = meta.pop(old)


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.pop("tinygrad_cv.sha256"), "missing or malformed"),
    (lambda m: _rename(m, "tinygrad_cv.sha256", "tinygrad_cv.sha257"), "unknown tinygrad_cv"),
    (lambda m: _rename(m, "tinygrad_cv.sha256", "checksum"), "missing or malformed"),
    (lambda m: _rename(m, "tinygrad_cv.sha256", "tinygrbd_cv.sha256"), "unknown tinygrad_cv"),
    (lambda m: m.update({"tinygrad_cv.sha256": m["tinygrad_cv.sha256"].upper()}), "malformed"),
    (lambda m: m.update({"tinygrad_cv.sha256": "0" * 64}), "SHA-256"),
    (lambda m: m.pop("tinygrad_cv.format"), "no 'tinygrad_cv.format' marker"),
    (lambda m: _rename(m, "tinygrad_cv.format", "xxxxxxxxxxxxxxxxxx"), "no 'tinygrad_cv.format'"),
    (lambda m: m.update({"tinygrad_cv.format": "1"}), "unknown tinygrad_cv format '1'"),
    (lambda m: m.update({"tinygrad_cv.format": "3"}), "unknown tinygrad_cv format '3'"),
    (lambda m: m.pop("tinygrad_cv.structure"), "'tinygrad_cv.structure' entry is missing"),
    (lambda m: m.update({"TinyGrad.extra": "x"}), "unknown tinygrad_cv"),
    (lambda m: [m.pop("tinygrad_cv.format"), m.pop("tinygrad_cv.sha256")], "marker"),
])
def test_removing_or_renaming_the_check_is_rejected(tmp_path, edit, message):
    path = _epoch_lr_file(tmp_path)
    _rewrite_metadata(path, _meta_edit(edit))
    with pytest.raises(CheckpointError, match=message):
        tg.load(path)
    with pytest.raises(CheckpointError):
        tio.load_metadata(path)


@pytest.mark.parametrize("changes", [{1: b"\\"}, {1: b"X", 5: b"X", 9: b"X"}],
                         ids=["escape", "three-bytes"])
def test_few_changed_bytes_in_every_reserved_name_are_still_rejected(tmp_path, changes):
    # "t\nygrad_cv.format": one byte per name makes an escape that shortens the parsed key,
    # but the stored bytes stay within NEAR_MISS of the reserved name; so do 3 changed bytes
    path = _epoch_lr_file(tmp_path)
    raw = path.read_bytes()
    for name in tio._RESERVED:
        damaged = bytearray(name.encode())
        for position, byte in changes.items():
            damaged[position:position + 1] = byte
        assert raw.count(b'"%s"' % name.encode()) == 1
        raw = raw.replace(b'"%s"' % name.encode(), b'"%s"' % bytes(damaged))
    path.write_bytes(raw)
    with pytest.raises(CheckpointError, match="no 'tinygrad_cv.format' marker"):
        tg.load(path)


def test_stripping_every_claim_leaves_only_a_flat_tensor_file(tmp_path):
    # documented limit: with all three reserved entries gone the file is a plain safetensors
    # file; it loads as foreign files do, without the nesting and without epoch/lr/config
    path = _epoch_lr_file(tmp_path)
    _rewrite_metadata(path, _meta_edit(lambda m: [m.pop(k) for k in tio._RESERVED]))
    out = tg.load(path)
    assert sorted(out) == sorted(f"model.{k}" for k in TwoLayer().state_dict())
    assert all(isinstance(v, tg.Tensor) for v in out.values())


def test_format_1_files_are_refused(tmp_path):
    # format 1 (no marker, digest of the data only) could not detect header edits
    path = tmp_path / "v1.safetensors"
    data = np.arange(4, dtype=np.float32).tobytes()
    structure = {"$dict": [["w", {"$tensor": "w"}]]}
    meta = {"format": "pt", "tinygrad_cv.structure": json.dumps(structure),
            "tinygrad_cv.sha256": hashlib.sha256(data).hexdigest()}
    _write_raw(path, {"__metadata__": meta, "w": {"dtype": "F32", "shape": [4],
                                                  "data_offsets": [0, 16]}}, data)
    with pytest.raises(CheckpointError, match="before format 2"):
        tg.load(path)


def test_reserved_metadata_keys_are_refused_on_save(tmp_path):
    for key in ["tinygrad_cv.format", "tinygrad_cv.sha257", "TinyGrad-run",
                "tinygrad_cv.strucXXre"]:
        with pytest.raises(ValueError, match="reserved"):
            tg.save({"w": tg.ones(2)}, tmp_path / "r.safetensors", metadata={key: "x"})
    assert not (tmp_path / "r.safetensors").exists()


def test_too_deep_or_cyclic_objects_are_refused_on_save(tmp_path):
    path = tmp_path / "x.safetensors"
    tg.save({"w": tg.ones(2)}, path)
    before = path.read_bytes()
    deep = []
    for _ in range(200):
        deep = [deep]
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    for obj in (deep, cyclic):
        with pytest.raises(ValueError, match="nested deeper than 100"):
            tg.save(obj, path)
    assert path.read_bytes() == before
    ok = []
    for _ in range(100):
        ok = [ok]
    tg.save(ok, path)
    assert tg.load(path) == ok


def test_files_written_by_torch_safetensors_load(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    gen = torch.Generator().manual_seed(0)
    tensors = {"f32": torch.randn(3, 4, generator=gen),
               "f64": torch.randn(2, dtype=torch.float64, generator=gen),
               "f16": torch.randn(5, generator=gen).half(), "i64": torch.arange(-3, 3),
               "i32": torch.tensor([1, -2], dtype=torch.int32),
               "i16": torch.tensor([7], dtype=torch.int16),
               "i8": torch.tensor([-8, 9], dtype=torch.int8),
               "u8": torch.tensor([0, 255], dtype=torch.uint8),
               "b": torch.tensor([True, False, True]), "empty": torch.zeros(0, 3),
               "scalar": torch.tensor(2.5)}
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(tensors, str(path), metadata={"format": "pt", "epoch": "9"})
    loaded = tg.load(path)
    assert set(loaded) == set(tensors)
    for k, v in tensors.items():
        ref = v.numpy()
        assert loaded[k].dtype == ref.dtype and loaded[k].shape == ref.shape
        assert loaded[k].array.tobytes() == ref.tobytes()
    assert tio.load_metadata(path) == {"epoch": "9"}


def test_bad_file_leaves_model_unchanged(tmp_path, good_file):
    model = TwoLayer(seed=5)
    before = _arrays(model)
    data = good_file.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[:-7])
    with pytest.raises(CheckpointError):
        model.load_state_dict(tg.load(tmp_path / "trunc.safetensors"))
    # a valid file from a different architecture: load_state_dict refuses before writing
    other = {"w1": tg.zeros(4, 8), "b1": tg.zeros(8), "w2": tg.zeros(8, 5),
             "steps_seen": tg.Tensor(np.zeros((), np.int64))}
    tg.save(other, tmp_path / "other.safetensors")
    with pytest.raises(RuntimeError, match="size mismatch for w2"):
        model.load_state_dict(tg.load(tmp_path / "other.safetensors"))
    for k, v in _arrays(model).items():
        np.testing.assert_array_equal(v, before[k])
    model.load_state_dict(tg.load(good_file))
    for k, v in _arrays(model).items():
        np.testing.assert_array_equal(v, _arrays(TwoLayer())[k])


def test_load_returns_fresh_objects(good_file):
    a, b = tg.load(good_file), tg.load(good_file)
    a["w1"].array[...] = 0
    assert not np.all(b["w1"].array == 0)


# ---- ACCEPTANCE 3: interrupt after step k, resume from the checkpoint -----------------------
OPTIMIZERS = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (optim.Adam, dict(lr=0.05, amsgrad=True)),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
]


def _batch(step):
    rng = np.random.default_rng(1000 + step)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    return tg.Tensor(x), tg.Tensor(np.sin(x[:, :3] * 2))


def _setup(opt_cls, kwargs, seed):
    model = TwoLayer(seed=seed)
    opt = opt_cls([{"params": [model.w1, model.b1]}, {"params": [model.w2], "lr": 0.02}], **kwargs)
    warm = lr_scheduler.LinearWarmup(opt, warmup_epochs=3, start_factor=0.2)
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3)
    sched = lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[3])
    ema = optim.EMA(model, decay=0.9)
    return model, opt, sched, ema


def _train(model, opt, sched, ema, start, stop):
    for step in range(start, stop):
        x, y = _batch(step)
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        sched.step()
        ema.update()
        model.steps_seen.array[...] += 1


@pytest.mark.parametrize("opt_cls,kwargs", OPTIMIZERS, ids=[c.__name__ for c, _ in OPTIMIZERS])
def test_interrupted_and_resumed_training_equals_uninterrupted(tmp_path, opt_cls, kwargs):
    total, k = 16, 6
    ref = _setup(opt_cls, kwargs, seed=0)
    _train(*ref, 0, total)

    run = _setup(opt_cls, kwargs, seed=0)
    _train(*run, 0, k)
    model, opt, sched, ema = run
    path = tmp_path / "ckpt.safetensors"
    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "ema": ema.state_dict(), "step": k}, path)
    del run, model, opt, sched, ema

    # a new process would start from a fresh (differently initialised) setup
    model, opt, sched, ema = _setup(opt_cls, dict(kwargs, lr=0.5), seed=123)
    ckpt = tg.load(path)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    ema.load_state_dict(ckpt["ema"])
    assert ckpt["step"] == k
    _train(model, opt, sched, ema, ckpt["step"], total)

    ref_model, ref_opt, ref_sched, ref_ema = ref
    for key, value in ref_model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].array, value.array, err_msg=key)
    assert sched.get_last_lr() == ref_sched.get_last_lr()
    for name, value in ref_ema.shadow.items():
        np.testing.assert_array_equal(ema.shadow[name], value)
    _assert_same_tree(ref_opt.state_dict(), opt.state_dict())
