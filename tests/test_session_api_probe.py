"""Regression tests from a differential probe against torch (argument forms, 0-d and empty
tensors, dtypes, errors) of the statistics, linalg, indexing, distributions and
custom-Function modules."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


def _close(ours, theirs, tol=1e-6):
    ours = ours.detach().numpy() if isinstance(ours, tg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


# ---- tensor_statistics -------------------------------------------------------------------
X = np.random.default_rng(0).standard_normal((3, 4))


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("args, kwargs", [((1, True), {}), ((1, False, True), {}),
                                          ((0, False), {"keepdim": True}), ((False,), {}),
                                          ((True,), {}), ((1,), {"correction": 0})])
def test_var_std_mean_torch_positional_forms(name, args, kwargs):
    ours = getattr(tg, name)(tg.tensor(X), *args, **kwargs)
    theirs = getattr(torch, name)(torch.tensor(X), *args, **kwargs)
    for a, b in zip(ours, theirs):
        _close(a, b)


def test_aminmax_empty_tensor_over_a_non_empty_dim():
    for keepdim in (False, True):
        ours = tg.aminmax(tg.zeros(0, 4), dim=1, keepdim=keepdim)
        theirs = torch.aminmax(torch.zeros(0, 4), dim=1, keepdim=keepdim)
        assert ours.min.shape == tuple(theirs.min.shape) and ours.max.shape == tuple(
            theirs.max.shape)
    with pytest.raises(RuntimeError):
        tg.aminmax(tg.zeros(0, 4), dim=0)


@pytest.mark.parametrize("dim", [0, -1, None])
def test_count_nonzero_of_a_0d_tensor_takes_dim_0(dim):
    _close(tg.count_nonzero(tg.tensor(2.0), dim), torch.count_nonzero(torch.tensor(2.0), dim))


def test_quantile_of_a_0d_tensor_checks_dim():
    _close(tg.quantile(tg.tensor(1.5), 0.3, dim=-1), torch.quantile(torch.tensor(1.5), 0.3,
                                                                      dim=-1))
    with pytest.raises(IndexError):
        torch.quantile(torch.tensor(1.5), 0.3, dim=1)
    with pytest.raises(IndexError):
        tg.quantile(tg.tensor(1.5), 0.3, dim=1)
