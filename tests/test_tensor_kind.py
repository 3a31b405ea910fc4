"""torch's tensor-kind queries (``layout``, the backend flags) and the legacy ``Tensor.new``
constructor, against torch."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv.tensor_kind import _NEVER


def test_layout_and_flags_match_torch():
    ours, theirs = tg.ones(2, 3), torch.ones(2, 3)
    assert ours.layout == tg.strided == "strided" and repr(ours.layout) == "strided"
    assert str(theirs.layout) == "torch." + ours.layout
    for name in _NEVER:
        assert getattr(ours, name) is getattr(theirs, name) is False, name
    sparse = tg.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3,))
    assert sparse.layout == tg.sparse_coo and sparse.is_sparse


SIZES = [(), (2, 3), (0,), (4,), (np.int64(3),), (np.int64(2), 1)]
DATA = [([1, 2],), ([[1.5, 2.0]],), ((2, 3),), (np.array([1, 2]),)]


@pytest.mark.parametrize("args", SIZES + DATA)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_new_matches_torch(args, dtype):
    ours = tg.ones(2, dtype=getattr(tg, dtype)).new(*args)
    theirs = torch.ones(2, dtype=getattr(torch, dtype)).new(*args)
    assert ours.shape == theirs.shape and str(ours.dtype) == str(theirs.dtype)[6:]
    assert not ours.requires_grad
    if any(args is d for d in DATA):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_new_with_a_size_a_tensor_and_a_device():
    t = tg.ones(2, 3)
    assert t.new(t.shape).shape == (2, 3) and t.new(2, device="cpu").shape == (2,)
    other = tg.tensor([1.0, 2.0])
    alias = t.new(other)
    assert alias.data_ptr() == other.data_ptr() and not alias.requires_grad


@pytest.mark.parametrize("args", [(2.5,), (True,), (None,), ("ab",), (2, 2.5)])
def test_new_refuses_what_torch_refuses(args):
    with pytest.raises(TypeError, match="new"):
        tg.ones(2).new(*args)
    with pytest.raises(TypeError):
        torch.ones(2).new(*args)


def test_new_of_another_dtype_is_refused_as_torch():
    with pytest.raises(TypeError, match="dtype"):
        tg.ones(2).new(tg.tensor([1, 2]))
    with pytest.raises(TypeError):
        torch.ones(2).new(torch.tensor([1, 2]))
