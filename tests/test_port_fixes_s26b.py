"""Regression tests for the defects the language_translation port (tests/ports/) revealed,
each compared with torch on the same inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend


def host(t):
    return backend.to_numpy(t.array)


@pytest.mark.parametrize("ignore_index", [0, 3])
def test_cross_entropy_refuses_ignore_index_with_probability_targets(ignore_index):
    """torch: 'ignore_index is not supported for floating point target' (a class index
    >= 0 given with class-probability targets); it computed the loss, ignoring nothing."""
    rng = np.random.default_rng(0)
    x, p = rng.standard_normal((3, 4), np.float32), rng.random((3, 4), np.float32)
    with pytest.raises(RuntimeError, match="not supported for floating point target"):
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p),
                                          ignore_index=ignore_index)
    with pytest.raises(RuntimeError, match="ignore_index.*floating point"):
        tg.nn.functional.cross_entropy(tg.tensor(x), tg.tensor(p), ignore_index=ignore_index)
    with pytest.raises(RuntimeError, match="ignore_index.*floating point"):
        tg.nn.CrossEntropyLoss(ignore_index=ignore_index)(tg.tensor(x), tg.tensor(p))


@pytest.mark.parametrize("ignore_index", [-100, -5])
def test_cross_entropy_probability_targets_accept_a_negative_ignore_index(ignore_index):
    rng = np.random.default_rng(1)
    x, p = rng.standard_normal((3, 4), np.float32), rng.random((3, 4), np.float32)
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p),
                                            ignore_index=ignore_index)
    ours = tg.nn.functional.cross_entropy(tg.tensor(x), tg.tensor(p), ignore_index=ignore_index)
    np.testing.assert_allclose(host(ours), ref.numpy(), rtol=1e-6)
