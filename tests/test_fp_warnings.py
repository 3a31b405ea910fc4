"""torch is silent on floating-point exceptions (log(0) = -inf, x / 0 = inf, sqrt(-1) = nan,
exp overflow = inf); so are tinygrad_cv's log, log1p, sqrt, exp, expm1, pow, division and
binary cross-entropy, forward and backward, while NumPy keeps warning in the user's own
code."""
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg

FUNCS = {
    "log": lambda lib, x: lib.log(x),
    "sqrt": lambda lib, x: lib.sqrt(x),
    "exp": lambda lib, x: lib.exp(x * 1000.0),
    "reciprocal": lambda lib, x: 1.0 / x,
    "div_zero": lambda lib, x: x / lib.zeros_like(x),
    "pow": lambda lib, x: x ** -1.5,
    "log1p": lambda lib, x: lib.log1p(-x - 1.0),
    "expm1": lambda lib, x: lib.expm1(x * 1000.0),
    "binary_cross_entropy": lambda lib, x: lib.nn.functional.binary_cross_entropy(
        x.clamp(0.0, 1.0), lib.tensor([1.0, 0.0, 1.0], dtype=lib.float64), reduction="none"),
}


@pytest.mark.parametrize("name", FUNCS)
def test_no_numpy_warning_and_torch_values(name):
    values = np.array([0.0, -1.0, 2.0])
    results = []
    for lib in (tg, torch):
        x = lib.tensor(values, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = FUNCS[name](lib, x)
            y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)


def test_numpy_outside_still_warns():
    tg.log(tg.tensor([0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            np.log(np.zeros(1))
