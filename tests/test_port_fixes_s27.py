"""Regression tests for defects that the fast-neural-style and ImageNet ports exposed (an
in-place division of a repeated tensor) or that probing the operations they use found
(``repeat``'s argument errors, ``tensor()`` of sequences holding Tensors or NumPy scalars),
each compared with torch on the same inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


@pytest.mark.parametrize("shape, sizes", [((1, 2, 3), (4, 1, 1, 1)), ((1, 2, 3), (1, 1, 1)),
                                          ((2, 3), (2, 1)), ((3,), (1, 2)), ((2, 1), (1, 3))])
def test_repeat_returns_a_tensor_of_its_own(shape, sizes):
    """torch's ``repeat`` always copies: the result can be written in place (the neural-style
    script divides a repeated style image in place) and never aliases its input, even where
    every size is 1 or the repeated dims have length 1 (there the expand + reshape behind it
    kept a zero-stride view of the input)."""
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    results = []
    for lib in (torch, tg):
        x = lib.tensor(data)
        y = x.repeat(*sizes)
        y.div_(2.0)
        y.view(-1)[0] = 100.0   # an alias of x (or of itself) would show it
        results.append((x.numpy(), y.numpy()))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_array_equal(results[1][1], results[0][1])


def test_repeat_gradient_sums_the_copies():
    data = np.random.default_rng(0).normal(size=(1, 2, 3)).astype(np.float32)
    weights = np.random.default_rng(1).normal(size=(3, 2, 2, 3)).astype(np.float32)
    grads = []
    for lib in (torch, tg):
        x = lib.tensor(data, requires_grad=True)
        y = x.repeat(3, 1, 1, 1)
        y.mul_(2.0)
        (y * lib.tensor(weights)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)


_SEQUENCES_WITH_TENSORS = [
    lambda L: [L.tensor([2.0]), L.tensor([3.0])],              # one-element tensors: scalars
    lambda L: [L.tensor([[2.0]]), 1],
    lambda L: [[L.tensor([1.0]), 2.0]],
    lambda L: (L.tensor([1]),),
    lambda L: [[L.tensor([2])], [L.tensor(3)]],
    lambda L: [L.tensor(2, dtype=L.int32)],                     # the tensors' dtypes count
    lambda L: [L.tensor(2.0, dtype=L.float64)],
    lambda L: [L.tensor(2.0, dtype=L.float64), 1],
    lambda L: [1, L.tensor([2.0], dtype=L.float16)],
    lambda L: [L.tensor([True]), 2],
    lambda L: [L.tensor(2, dtype=L.int32), 2.5],
    lambda L: [L.tensor(2, dtype=L.int32), 5],
    lambda L: [L.tensor(True), False],
    lambda L: [L.tensor(1.5, requires_grad=True) * 2, 0.5],
]


@pytest.mark.parametrize("case", range(len(_SEQUENCES_WITH_TENSORS)))
def test_tensor_of_a_sequence_holding_tensors_takes_each_as_a_scalar(case):
    """torch.tensor([...]) takes each Tensor inside the sequence as one number (of its
    dtype, promoted with the other elements): a one-element tensor of any shape gives one
    element (they gave an extra dimension, or NumPy's ragged-array error)."""
    results = []
    for lib in (torch, tg):
        out = lib.tensor(_SEQUENCES_WITH_TENSORS[case](lib))
        results.append((tuple(out.shape), str(out.dtype).replace("torch.", ""),
                        out.tolist()))
    assert results[1] == results[0]


@pytest.mark.parametrize("data", [lambda L: [L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0])],
                                  lambda L: [1.0, L.zeros(0)]])
def test_tensor_of_a_sequence_holding_longer_tensors_raises(data):
    with pytest.raises(ValueError, match="only one element tensors"):
        torch.tensor(data(torch))
    with pytest.raises(ValueError, match="only one element tensors"):
        tg.tensor(data(tg))


def test_tensor_of_a_sequence_holding_tensors_with_a_dtype():
    for lib in (torch, tg):
        out = lib.tensor([lib.tensor([2.5]), 3], dtype=lib.float64)
        assert tuple(out.shape) == (2,) and out.tolist() == [2.5, 3.0]
        assert str(out.dtype).replace("torch.", "") == "float64"


@pytest.mark.parametrize("shape, sizes, error, message", [
    ((2, 3), (-1, 1), RuntimeError, "negative dimension"),
    ((2, 3), (2, -3), RuntimeError, "negative dimension"),
    ((2, 3, 4), (2,), RuntimeError, "can not be smaller than number of dimensions"),
    ((2, 3), (), TypeError, "repeats"),
    ((), (), TypeError, "repeats"),
])
def test_repeat_refuses_bad_sizes_as_torch(shape, sizes, error, message):
    """A negative size (it was taken as its absolute value's shape), fewer sizes than
    dimensions (a reshape error) and no sizes (a 0-d tensor came back) raise torch's errors."""
    for lib in (torch, tg):
        with pytest.raises(error, match=message):
            lib.zeros(shape).repeat(*sizes)


def test_repeat_of_zero_and_zero_dim_sizes_as_torch():
    for shape, sizes in [((2, 3), (2, 0)), ((0, 3), (2, 2)), ((), (3,)), ((), (2, 1))]:
        outs = [lib.ones(shape).repeat(*sizes) for lib in (torch, tg)]
        assert tuple(outs[1].shape) == tuple(outs[0].shape)


@pytest.mark.parametrize("data", [
    lambda: [np.float64(1.5), 1.0], lambda: [np.float64(2.5)], lambda: [np.int32(4)],
    lambda: [np.uint8(3), np.int8(-1)], lambda: [np.float16(1), np.int64(3)],
    lambda: [[np.float32(1)], [2]], lambda: [1, np.float32(2.5), True],
    lambda: [[np.int16(1), 2], [3, 4]], lambda: (np.float64(0.1), np.float32(0.2)),
])
def test_tensor_of_a_sequence_holding_numpy_scalars_takes_their_dtypes(data):
    """torch.tensor([np.float64(x), ...]) is float64 (a NumPy scalar counts with its dtype,
    promoted with the other elements); it was float32 (int64 for NumPy integers)."""
    results = []
    for lib in (torch, tg):
        out = lib.tensor(data())
        results.append((tuple(out.shape), str(out.dtype).replace("torch.", ""), out.tolist()))
    assert results[1] == results[0]
