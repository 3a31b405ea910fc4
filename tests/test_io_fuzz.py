"""Corrupted checkpoints written by tinygrad_cv.save: the load is exact or raises CheckpointError.

Bytes are flipped anywhere (length prefix, header, data); whatever happens, ``tg.load``
either returns exactly what was saved (structure, key types, dtypes, shapes, bytes, floats
bit-for-bit) or raises ``CheckpointError``, never another exception and never other content.
"""
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_cv as tg
from tinygrad_cv import backend, nn, optim
from tinygrad_cv import io as tio
from tinygrad_cv.io import CheckpointError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(7)
        self.w = nn.Parameter(tg.Tensor(rng.normal(size=(3, 4)).astype(np.float32)))
        self.b = nn.Parameter(tg.Tensor(rng.normal(size=4)))  # float64
        self.register_buffer("count", tg.Tensor(np.array(5, np.int64)))
        self.register_buffer("mask", tg.Tensor(rng.random(6) > 0.5))
        self.register_buffer("halves", tg.Tensor(rng.normal(size=(2, 2)).astype(np.float16)))
        self.register_buffer("codes", tg.Tensor(rng.integers(0, 255, 5).astype(np.uint8)))
        self.register_buffer("small", tg.Tensor(np.array([-3, 7], np.int32)))


def _checkpoint():
    model = Net()
    opt = optim.Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        ((model.w * 2).sum() + model.b.sum()).backward()
        opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "config": {"layers": [3, 4], "act": "relu", "dropout": 0.25,
                       "nested": {"a": (1, 2.5, None), "b": [True, "x"], 7: -0.0}},
            "extra": np.arange(3, dtype=np.int16), "epoch": 3, "lr": 0.1,
            "history": [1.5, float("inf"), float("nan")]}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(saved object, file bytes, header length, path of a copy edited in place)."""
    folder = tmp_path_factory.mktemp("fuzz")
    obj = _checkpoint()
    for extra in range(8):  # a metadata length that leaves padding spaces after the header
        tg.save(obj, folder / "ckpt.safetensors", metadata={"run": "17" + "x" * extra})
        raw = (folder / "ckpt.safetensors").read_bytes()
        header_len = struct.unpack("<Q", raw[:8])[0]
        if raw[8 + header_len - 1:8 + header_len] == b" ":
            break
    path = folder / "flipped.safetensors"
    path.write_bytes(raw)
    return obj, raw, header_len, path


def _same(a, b):
    """True when ``b`` equals ``a`` exactly: types, keys (and their order), dtypes, bytes."""
    if isinstance(a, tg.Tensor):
        return isinstance(b, tg.Tensor) and _same_array(a.array, b.array)
    if backend.is_array(a):
        return backend.is_array(b) and _same_array(a, b)
    if isinstance(a, dict):  # an OrderedDict state dict comes back as a plain dict
        return (type(b) is dict and list(a) == list(b)
                and [type(k) for k in a] == [type(k) for k in b]
                and all(_same(a[k], b[k]) for k in a))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


def _same_array(a, b):
    a, b = backend.to_numpy(a), backend.to_numpy(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _outcome(obj, raw, flips, path):
    """'same' or 'raised' for ``raw`` with the ``(position, xor)`` flips applied; else fails.

    The file at ``path`` holds ``raw``; the flipped bytes are written in place and restored
    afterwards (rewriting the whole file each time would dominate the run time).
    """
    data = bytearray(raw)
    for position, value in flips:
        data[position] ^= value
    touched = sorted({position for position, _ in flips})
    fd = os.open(path, os.O_RDWR)
    try:
        for position in touched:
            os.pwrite(fd, data[position:position + 1], position)
        try:
            loaded = tg.load(path)
        except CheckpointError:
            return "raised"
        finally:
            for position in touched:
                os.pwrite(fd, raw[position:position + 1], position)
    finally:
        os.close(fd)
    assert _same(obj, loaded), f"flips {flips} loaded different content"
    return "same"


def test_the_checkpoint_round_trips_exactly(saved):
    obj, raw, _, path = saved
    assert _outcome(obj, raw, [], path) == "same" and path.read_bytes() == raw
    assert _same(obj, tg.load(path)) and not _same(obj, dict(tg.load(path), epoch=4))


@st.composite
def flip_lists(draw, raw, header_len):
    """1-6 (position, xor) flips; each lands in the length prefix, the header, the data,
    anywhere, or inside the stored reserved names (where the format is claimed)."""
    names = [raw.index(b'"%s"' % name.encode()) + 1 for name in tio._RESERVED]
    regions = [st.integers(0, 7), st.integers(8, 8 + header_len - 1),
               st.integers(8 + header_len, len(raw) - 1), st.integers(0, len(raw) - 1),
               st.sampled_from(names).flatmap(lambda at: st.integers(at, at + 17))]
    flip = st.tuples(st.one_of(regions), st.integers(1, 255))
    return draw(st.lists(flip, min_size=1, max_size=6))


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_flips_load_exactly_or_raise(saved, data):
    obj, raw, header_len, path = saved
    flips = data.draw(flip_lists(raw, header_len))
    _outcome(obj, raw, flips, path)  # raises on any other exception or on different content


def _exhaustive(saved, values):
    """Flip every byte of the length prefix and header by each of ``values``, one at a time.

    Returns (outcome counts, positions where a flip loaded identical content).
    """
    obj, raw, header_len, path = saved
    counts, same_at = {"same": 0, "raised": 0}, set()
    for position in range(8 + header_len):
        for value in values:
            outcome = _outcome(obj, raw, [(position, value)], path)
            counts[outcome] += 1
            if outcome == "same":
                same_at.add(position)
    return counts, same_at


def _padding(saved):
    """Positions of the spaces that pad the header to a multiple of 8 bytes."""
    _, raw, header_len, _ = saved
    header = raw[8:8 + header_len]
    return set(range(8 + len(header.rstrip(b" ")), 8 + header_len))


def test_every_single_bit_flip_of_length_and_header_is_caught(saved):
    values = [1 << bit for bit in range(8)] + [0xFF]
    counts, same_at = _exhaustive(saved, values)
    _, _, header_len, _ = saved
    assert counts["same"] + counts["raised"] == (8 + header_len) * len(values)
    # only a padding space turned into other JSON whitespace may load (identically)
    assert _padding(saved) and same_at <= _padding(saved)


@pytest.mark.slow
def test_every_byte_value_at_every_header_position_is_caught(saved):
    counts, same_at = _exhaustive(saved, range(1, 256))
    assert same_at <= _padding(saved)
    assert counts["same"] <= 3 * len(_padding(saved))  # tab, newline, carriage return


def test_every_data_byte_flip_is_caught(saved):
    obj, raw, header_len, path = saved
    for position in range(8 + header_len, len(raw)):
        assert _outcome(obj, raw, [(position, 0x01)], path) == "raised"
