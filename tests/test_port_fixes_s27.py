"""Regression tests for defects that the fast-neural-style and ImageNet ports exposed, each
compared with torch on the same inputs."""
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
