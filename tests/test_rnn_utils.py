"""nn.utils.rnn.pad_sequence / unpad_sequence against torch: values, dtypes, shapes, both
padding sides and layouts, gradients, errors; hypothesis over lengths and trailing shapes."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.nn.utils.rnn import pad_sequence, unpad_sequence
from tinygrad_cv.testing import gradcheck


def _pair(arrays, requires_grad=False):
    ours = [tg.tensor(a, requires_grad=requires_grad) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=requires_grad) for a in arrays]
    return ours, theirs


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(0, 5), min_size=1, max_size=4),
       trailing=st.lists(st.integers(1, 3), max_size=2),
       batch_first=st.booleans(), side=st.sampled_from(["left", "right"]),
       value=st.sampled_from([0.0, -1.5, 7.0]))
def test_pad_sequence_matches_torch(lengths, trailing, batch_first, side, value):
    rng = np.random.default_rng(len(lengths) * 10 + sum(lengths))
    arrays = [rng.standard_normal((n, *trailing)) for n in lengths]
    ours, theirs = _pair(arrays, requires_grad=True)
    out = pad_sequence(ours, batch_first=batch_first, padding_value=value, padding_side=side)
    ref = torch.nn.utils.rnn.pad_sequence(theirs, batch_first=batch_first,
                                          padding_value=value, padding_side=side)
    assert out.shape == tuple(ref.shape) and out.dtype == tg.float64
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    w = rng.standard_normal(tuple(ref.shape))
    (out * tg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
    if side == "right":
        back = unpad_sequence(out, tg.tensor(lengths), batch_first=batch_first)
        ref_back = torch.nn.utils.rnn.unpad_sequence(ref, torch.tensor(lengths),
                                                     batch_first=batch_first)
        for b, r, a in zip(back, ref_back, arrays):
            assert b.shape == tuple(r.shape)
            np.testing.assert_array_equal(b.detach().numpy(), a)


def test_dtypes_tensor_input_and_integer_padding():
    ints = [np.array([1, 2, 3]), np.array([4, 5])]
    ours, theirs = _pair(ints)
    out = pad_sequence(ours, padding_value=-1.7)
    ref = torch.nn.utils.rnn.pad_sequence(theirs, padding_value=-1.7)
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())           # -1.7 -> -1
    mixed_o = [tg.ones(3, 2), tg.ones(1, 2, dtype=tg.float64)]
    mixed_t = [torch.ones(3, 2), torch.ones(1, 2, dtype=torch.float64)]
    assert pad_sequence(mixed_o).dtype == tg.float32
    assert torch.nn.utils.rnn.pad_sequence(mixed_t).dtype == torch.float32
    block = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(pad_sequence(tg.tensor(block), batch_first=True).numpy(),
                                  torch.nn.utils.rnn.pad_sequence(torch.tensor(block),
                                                                  batch_first=True).numpy())


def test_unpad_gradient_and_gradcheck():
    padded = tg.randn(4, 3, 2, dtype=tg.float64, requires_grad=True)   # (T, B, *)
    assert gradcheck(lambda p: tuple(unpad_sequence(p, [4, 1, 2])), (padded,))
    seqs = [tg.randn(n, 2, dtype=tg.float64, requires_grad=True) for n in (3, 1, 2)]
    assert gradcheck(lambda a, b, c: pad_sequence([a, b, c], padding_side="left",
                                                  padding_value=2.0), seqs)


def test_errors():
    with pytest.raises(RuntimeError, match="padding_side to be one of left or right"):
        pad_sequence([tg.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match="empty list of sequences"):
        pad_sequence([])
    with pytest.raises(RuntimeError, match="sequence 1 has shape \\(2, 3\\)"):
        pad_sequence([tg.ones(3, 2), tg.ones(2, 3)])
    with pytest.raises(RuntimeError, match="0-d"):
        pad_sequence([tg.tensor(1.0), tg.tensor(2.0)])
    with pytest.raises(ValueError, match="2 lengths for a batch of 3"):
        unpad_sequence(tg.ones(4, 3), [1, 2])


def test_reachable_as_torch():
    assert tg.nn.utils.rnn.pad_sequence is pad_sequence
    assert tg.nn.utils.rnn.unpad_sequence is unpad_sequence
