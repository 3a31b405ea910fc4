"""classic.linalg against numpy.linalg.pinv and scikit-learn's PCA."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SkPCA

from classic.linalg import PCA, low_rank, pinv, svd
from tinygrad_cv.backend import device_of, to_device, to_numpy


@pytest.fixture(scope="module")
def digits():
    return load_digits().data


@pytest.mark.parametrize("shape,rank", [((30, 20), None), ((12, 40), None), ((25, 25), 7)])
def test_pinv_matches_numpy(device, shape, rank):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape)
    if rank is not None:
        a = rng.standard_normal((shape[0], rank)) @ rng.standard_normal((rank, shape[1]))
    got = pinv(to_device(a, device))
    assert device_of(got) == device
    np.testing.assert_allclose(to_numpy(got), np.linalg.pinv(a), atol=1e-4)


def test_svd_and_low_rank(device):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40, 25))
    u, s, vt = (to_numpy(x) for x in svd(to_device(a, device)))
    np.testing.assert_allclose((u * s) @ vt, a, atol=1e-10)
    assert np.all(np.diff(s) <= 0)
    for k in (1, 5, 25):
        approx = to_numpy(low_rank(to_device(a, device), k))
        assert np.linalg.matrix_rank(approx) == k
        # Eckart-Young: the error is the norm of the dropped singular values
        assert np.linalg.norm(a - approx) == pytest.approx(np.sqrt((s[k:] ** 2).sum()), abs=1e-8)


def _same_up_to_sign(a, b, atol):
    signs = np.sign((a * b).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(a * signs, b, atol=atol)


@pytest.mark.parametrize("n_components", [None, 10, 0.9])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_sklearn_on_digits(device, digits, n_components, whiten):
    """Acceptance 7: PCA agrees with scikit-learn to 1e-4 up to component sign."""
    X = digits
    ours = PCA(n_components, whiten=whiten).fit(to_device(X, device))
    ref = SkPCA(n_components, whiten=whiten, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    keep = ref.explained_variance_ > 1e-8 * ref.explained_variance_[0]   # drop null directions
    _same_up_to_sign(to_numpy(ours.components_)[keep], ref.components_[keep], 1e-4)
    np.testing.assert_allclose(to_numpy(ours.explained_variance_ratio_), ref.explained_variance_ratio_, atol=1e-4)
    np.testing.assert_allclose(to_numpy(ours.explained_variance_), ref.explained_variance_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(to_numpy(ours.mean_), ref.mean_, atol=1e-10)
    z = to_numpy(ours.transform(to_device(X, device)))
    z_ref = ref.transform(X)
    signs = np.sign((z * z_ref).sum(axis=0))
    np.testing.assert_allclose((z * signs)[:, keep], z_ref[:, keep], atol=1e-4)
    back = to_numpy(ours.inverse_transform(to_device(z, device)))
    np.testing.assert_allclose(back, ref.inverse_transform(z_ref), atol=1e-4)


def test_pca_full_rank_round_trip(device):
    X = np.random.default_rng(2).standard_normal((50, 6))
    pca = PCA().fit(to_device(X, device))
    np.testing.assert_allclose(to_numpy(pca.inverse_transform(pca.transform(to_device(X, device)))), X, atol=1e-10)
    assert to_numpy(pca.explained_variance_ratio_).sum() == pytest.approx(1.0)
    white = to_numpy(PCA(whiten=True).fit(to_device(X, device)).transform(to_device(X, device)))
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(6), atol=1e-10)


def test_whitened_constant_data_is_zero_like_sklearn(device, digits):
    for X in (np.full((10, 3), 2.5), digits[:, :8]):     # constant; digits' first column is 0
        ours = PCA(whiten=True).fit(to_device(X, device))
        with warnings.catch_warnings():     # sklearn's variance ratio of constant data is 0/0
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = SkPCA(whiten=True, svd_solver="full").fit(X)
        z = to_numpy(ours.transform(to_device(X, device)))
        assert np.isfinite(z).all()
        z_ref = ref.transform(X)
        keep = ref.explained_variance_ > 0
        np.testing.assert_array_equal(z[:, ~keep], 0)
        np.testing.assert_array_equal(z_ref[:, ~keep], 0)
        signs = np.sign((z * z_ref).sum(axis=0))[keep]
        np.testing.assert_allclose(z[:, keep] * signs, z_ref[:, keep], atol=1e-8)
        back = to_numpy(ours.inverse_transform(to_device(z, device)))
        np.testing.assert_allclose(back, X, atol=1e-8)


def test_bad_input_raises(device):
    with pytest.raises(ValueError, match="n_components"):
        PCA(100).fit(to_device(np.ones((10, 3)), device))
    with pytest.raises(ValueError, match="not fitted"):
        PCA(2).transform(to_device(np.ones((3, 3)), device))
    with pytest.raises(ValueError, match="rank"):
        low_rank(to_device(np.ones((3, 3)), device), 5)
    with pytest.raises(ValueError, match="ndim"):
        pinv(to_device(np.ones(3), device))
    bad = np.ones((4, 4))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PCA(2).fit(to_device(bad, device))
    with pytest.raises(ValueError, match="columns"):
        PCA(2).fit(to_device(np.random.default_rng(0).random((10, 3)), device)).transform(
            to_device(np.ones((2, 4)), device))
