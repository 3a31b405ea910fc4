"""``Size`` (a tensor's shape) behaves as ``torch.Size``."""
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinygrad_cv as tg


def _plain(text):
    return text.replace("torch.", "")


@given(st.lists(st.integers(0, 6), max_size=4))
def test_shape_and_size_are_sizes_like_torch(shape):
    ours, theirs = tg.zeros(tuple(shape)), torch.zeros(tuple(shape))
    for a, b in ((ours.shape, theirs.shape), (ours.size(), theirs.size())):
        assert isinstance(a, tg.Size) and isinstance(a, tuple)
        assert a == b == tuple(shape) and hash(a) == hash(b)
        assert a.numel() == b.numel() == ours.numel()
        assert repr(a) == _plain(repr(b)) and str(a) == _plain(str(b))
        assert type(a[1:]) is tg.Size and a[1:] == b[1:]
        assert type(a + (7,)) is tg.Size and type((7,) + a) is tg.Size and a + (7,) == b + (7,)
        assert type(a * 2) is tg.Size and a * 2 == b * 2
    if shape:
        assert ours.size(-1) == theirs.size(-1) and type(ours.shape[0]) is int


def test_constructor_and_errors_match_torch():
    assert tg.Size([2, 3]) == torch.Size([2, 3]) and tg.Size() == torch.Size() == ()
    assert tg.Size([np.int64(4)]) == (4,) and type(tg.Size([np.int64(4)])[0]) is int
    assert tg.Size(tg.Size([1, 2])) == (1, 2)
    for bad in ([2.5], ["3"], [None]):
        with pytest.raises(TypeError, match="Size"):
            tg.Size(bad)
        with pytest.raises(TypeError):
            torch.Size(bad)


def test_sizes_build_tensors_and_pickle():
    s = tg.ones(2, 3).shape
    assert tg.zeros(s).shape == s and tg.ones(2, 3).new_zeros(s).shape == s
    assert np.zeros(s).shape == (2, 3) and tg.ones(2, 3).view(s[::-1]).shape == (3, 2)
    back = pickle.loads(pickle.dumps(s))
    assert type(back) is tg.Size and back == s
