"""Defects that the ported scripts (tests/ports/) exposed, each checked against torch on the
same inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


@pytest.mark.parametrize("kwargs", [{}, {"dtype": None, "copy": None}, {"dtype": np.float64},
                                    {"copy": True}])
def test_numpy_array_protocol_gives_the_values(kwargs):
    """siamese_network's ``np.array(dataset.targets.clone(), dtype=None, copy=None)``: a tensor
    converts to an array of its values (it gave an object array of 0-d tensors)."""
    values = np.array([[3, 1, 4], [1, 5, 9]], np.int64)
    ref = np.array(torch.from_numpy(values.copy()), **kwargs)
    ours = np.array(tg.from_numpy(values.copy()), **kwargs)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(np.asarray(tg.tensor([0.5, 2.0])),
                                  np.asarray(torch.tensor([0.5, 2.0])))


def test_numpy_array_protocol_copy_and_sharing():
    t = tg.tensor([1.0, 2.0])
    shared, copied = np.asarray(t), np.array(t, copy=True)
    t.add_(1.0)
    np.testing.assert_array_equal(shared, [2.0, 3.0])     # CPU: the same memory, as torch
    np.testing.assert_array_equal(copied, [1.0, 2.0])


def test_numpy_array_protocol_refuses_tensors_that_require_grad():
    with pytest.raises(RuntimeError, match="requires grad"):
        np.array(torch.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="requires grad"):
        np.array(tg.ones(2, requires_grad=True))
