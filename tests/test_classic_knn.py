"""classic.knn against scikit-learn's brute-force KNeighborsClassifier on the digits."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from classic.knn import KNearestNeighbor, cross_validate_k, fold_indices, pairwise_distances
from tinygrad_cv.backend import device_of, to_device, to_numpy


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_cross_validated_accuracy_on_digits(device, digits):
    """Acceptance 6: 5 shuffled folds (seed 0), accuracy >= 0.98."""
    X, y = digits
    best_k, accuracies = cross_validate_k(to_device(X, device), to_device(y, device),
                                          ks=[1, 3, 5, 8], folds=5, seed=0)
    accuracies = to_numpy(accuracies)
    assert accuracies.shape == (4, 5)
    assert accuracies[0].mean() >= 0.98
    assert accuracies.mean(axis=1).max() >= 0.98
    assert best_k == [1, 3, 5, 8][int(accuracies.mean(axis=1).argmax())]


def test_folds_partition_the_data(device):
    parts = [to_numpy(p) for p in fold_indices(23, 5, like=to_device(np.zeros(1), device))]
    assert [len(p) for p in parts] == [5, 5, 5, 4, 4]
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))


@pytest.mark.parametrize("metric,sk_metric,exact", [("l2", "euclidean", lambda a, b: ((a[:, None] - b[None]) ** 2).sum(-1)),
                                                     ("l1", "manhattan", lambda a, b: np.abs(a[:, None] - b[None]).sum(-1))])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_predictions_equal_sklearn_apart_from_exact_ties(device, digits, metric, sk_metric, exact, k):
    X, y = digits
    X_train, y_train, X_test = X[:1300], y[:1300], X[1300:]
    clf = KNearestNeighbor(metric).train(to_device(X_train, device), to_device(y_train, device))
    predicted = clf.predict(to_device(X_test, device), k=k)
    assert device_of(predicted) == device
    predicted = to_numpy(predicted)
    reference = KNeighborsClassifier(k, algorithm="brute", metric=sk_metric).fit(X_train, y_train).predict(X_test)
    # exact integer distances: a tie between the k-th and (k+1)-th neighbour makes the
    # neighbour set ambiguous
    d = np.sort(exact(X_test.astype(np.int64), X_train.astype(np.int64)), axis=1)
    tie = d[:, k - 1] == d[:, k]
    assert tie.mean() < 0.2
    np.testing.assert_array_equal(predicted[~tie], reference[~tie])
    assert (predicted == y[1300:]).mean() > 0.95


def test_l2_distance_matrix_without_loops_matches_cdist(device, digits):
    X = digits[0][:200]
    for metric, name in (("l2", "euclidean"), ("l1", "cityblock")):
        got = to_numpy(pairwise_distances(to_device(X[:50], device), to_device(X, device), metric))
        np.testing.assert_allclose(got, cdist(X[:50], X, name), atol=1e-6)


def test_fit_alias_and_images_are_flattened(device):
    rng = np.random.default_rng(0)
    images = rng.random((30, 4, 4))
    labels = np.arange(30) % 3
    clf = KNearestNeighbor().fit(to_device(images, device), to_device(labels, device))
    np.testing.assert_array_equal(to_numpy(clf.predict(to_device(images, device))), labels)


def test_bad_input_raises(device):
    clf = KNearestNeighbor()
    X = to_device(np.random.default_rng(0).random((10, 3)), device)
    with pytest.raises(ValueError, match="not trained"):
        clf.predict(X)
    with pytest.raises(ValueError, match="metric"):
        KNearestNeighbor("cosine")
    with pytest.raises(ValueError, match="y must have shape"):
        clf.train(X, to_device(np.zeros(4), device))
    clf.train(X, to_device(np.arange(10), device))
    with pytest.raises(ValueError, match="k must"):
        clf.predict(X, k=0)
    with pytest.raises(ValueError, match="exceeds"):
        clf.predict(X, k=11)
    with pytest.raises(ValueError, match="features"):
        clf.predict(to_device(np.zeros((2, 4)), device))
    bad = np.zeros((10, 3))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(to_device(bad, device))
