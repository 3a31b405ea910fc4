"""Clustering against scikit-learn's KMeans, AgglomerativeClustering and MeanShift."""
import contextlib
import signal

import numpy as np
import pytest
from skimage import data
from sklearn.cluster import AgglomerativeClustering, KMeans, MeanShift, estimate_bandwidth
from sklearn.datasets import load_sample_image, make_blobs
from sklearn.metrics import adjusted_rand_score

from classic import clustering as cl
from tinygrad_cv.backend import to_device, to_numpy


@pytest.fixture(scope="module")
def pixels():
    """Colours of a real photo (scikit-learn's china.jpg), subsampled."""
    return load_sample_image("china.jpg")[::6, ::6].reshape(-1, 3) / 255.0


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(2000, centers=6, cluster_std=1.4, random_state=3)
    return X @ np.array([[1.0, 0.3], [-0.2, 0.8]])          # anisotropic


@pytest.mark.parametrize("k", [4, 8])
def test_kmeans_inertia_matches_sklearn(pixels, device, k):
    centers, labels, inertia = cl.kmeans(to_device(pixels, device), k, n_init=10, seed=0)
    ref = KMeans(k, n_init=10, random_state=0).fit(pixels)
    assert abs(float(inertia) / ref.inertia_ - 1) < 0.01
    c, lab = to_numpy(centers), to_numpy(labels)
    assert c.shape == (k, 3) and lab.shape == (len(pixels),)
    # the reported inertia is that of the returned labels and centres
    np.testing.assert_allclose(((pixels - c[lab]) ** 2).sum(), float(inertia), rtol=1e-9)
    assert adjusted_rand_score(ref.labels_, lab) > 0.8


@pytest.mark.parametrize("linkage", ["single", "complete", "average"])
def test_agglomerative_identical_to_sklearn(blobs, device, linkage):
    labels = to_numpy(cl.agglomerative(to_device(blobs, device), 6, linkage))
    ref = AgglomerativeClustering(6, linkage=linkage).fit_predict(blobs)
    assert adjusted_rand_score(ref, labels) == 1.0
    assert set(labels.tolist()) == set(range(6))


def test_agglomerative_on_real_colours(pixels, device):
    rng = np.random.default_rng(0)
    X = pixels[rng.permutation(len(pixels))[:800]] + rng.normal(0, 1e-4, (800, 3))  # break ties
    for linkage in ("complete", "average", "single"):
        labels = to_numpy(cl.agglomerative(to_device(X, device), 5, linkage))
        ref = AgglomerativeClustering(5, linkage=linkage).fit_predict(X)
        assert adjusted_rand_score(ref, labels) == 1.0


def test_mean_shift_centres_match_sklearn(blobs, device):
    blobs = blobs[:1000]
    bw = estimate_bandwidth(blobs, quantile=0.2, random_state=0)
    ref = MeanShift(bandwidth=bw).fit(blobs)
    centres, labels = cl.mean_shift(to_device(blobs, device), bw)
    c = to_numpy(centres)
    assert c.shape == ref.cluster_centers_.shape
    d = np.linalg.norm(c[:, None] - ref.cluster_centers_[None], axis=-1)
    assert d.min(axis=1).max() < bw / 10 and d.min(axis=0).max() < bw / 10
    assert adjusted_rand_score(ref.labels_, to_numpy(labels)) > 0.99


def test_mean_shift_gaussian_kernel_finds_modes(device):
    centres_true = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    X, _ = make_blobs(900, centers=centres_true, cluster_std=0.7, random_state=1)
    c, labels = cl.mean_shift(to_device(X, device), 1.0, kernel="gaussian")
    c = to_numpy(c)
    assert len(c) == 3
    assert np.linalg.norm(c[:, None] - centres_true[None], axis=-1).min(axis=1).max() < 0.3


@pytest.mark.parametrize("method", ["kmeans", "meanshift", "agglomerative"])
def test_segment_image_returns_label_image(device, method):
    img = data.coffee()[::8, ::8]
    kw = {"bandwidth": 0.15, "max_samples": 600} if method == "meanshift" else {"k": 4}
    seg = to_numpy(cl.segment_image(to_device(img, device), method=method, **kw))
    assert seg.shape == img.shape[:2] and seg.dtype.kind == "i"
    assert 2 <= len(np.unique(seg)) <= (4 if method != "meanshift" else 50)
    seg2 = to_numpy(cl.segment_image(to_device(img, device), method=method,
                                     features="color+position", **kw))
    assert seg2.shape == img.shape[:2]


def test_segment_kmeans_agrees_with_sklearn_on_colours():
    img = data.astronaut()[::8, ::8]
    seg = cl.segment_image(img, k=5, method="kmeans")
    ref = KMeans(5, n_init=3, random_state=0).fit_predict(img.reshape(-1, 3) / 255.0)
    assert adjusted_rand_score(ref, seg.reshape(-1)) > 0.9


def test_bad_input():
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="number of points"):
        cl.kmeans(X, 11)
    with pytest.raises(ValueError, match="number of points"):
        cl.agglomerative(X, 11)
    with pytest.raises(ValueError, match="bandwidth"):
        cl.mean_shift(X, 0)
    with pytest.raises(ValueError, match="bandwidth"):
        cl.mean_shift(X, -1.0)
    with pytest.raises(ValueError, match="linkage"):
        cl.agglomerative(X, 2, "ward")
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        cl.kmeans(np.zeros(5), 2)
    with pytest.raises(ValueError, match="features"):
        cl.segment_image(np.zeros((4, 4, 3)), features="texture")


@contextlib.contextmanager
def _hang_guard(seconds=60):
    """Turn a hang into a failure (the guarded calls take milliseconds)."""
    def fail(*_):
        raise TimeoutError(f"did not return within {seconds} s")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_mean_shift_bandwidth_below_rounding_terminates_like_sklearn(pixels, device):
    """With h = 1e-9 the expansion |a|^2 - 2ab + |b|^2 put a centre farther than h from
    itself and the merge loop never ended; exact distances keep every distinct colour."""
    X = pixels[:200]
    with _hang_guard():
        centres, labels = cl.mean_shift(to_device(X, device), 1e-9)
    ref = MeanShift(bandwidth=1e-9).fit(X)
    c = to_numpy(centres)
    assert len(c) == len(ref.cluster_centers_) == len(np.unique(X, axis=0))
    # the same centres (means of identical colours: equal up to the rounding of a mean)
    d = np.abs(c[:, None] - ref.cluster_centers_[None]).max(-1)
    assert d.min(0).max() < 1e-15 and d.min(1).max() < 1e-15
    np.testing.assert_allclose(c[to_numpy(labels)], X, rtol=0, atol=1e-15)   # own mode
    rand = np.random.default_rng(0).random((50, 3))
    with _hang_guard():
        assert len(cl.mean_shift(rand, 1e-9)[0]) == 50


def test_mean_shift_stops_after_max_iter(pixels):
    # a Gaussian kernel with a huge bandwidth creeps towards the mean for many steps
    c1, _ = cl.mean_shift(pixels[:300], 50.0, kernel="gaussian", max_iter=1)
    c2, _ = cl.mean_shift(pixels[:300], 50.0, kernel="gaussian", max_iter=2)
    assert len(c1) >= 1 and not np.array_equal(c1, c2)


def test_pointer_jumping_is_bounded():
    with _hang_guard():
        np.testing.assert_array_equal(cl._roots(np.array([0, 0, 1, 2, 3]), np), [0, 0, 0, 0, 0])
        with pytest.raises(RuntimeError, match="cycle"):
            cl._roots(np.array([1, 2, 0]), np)          # a cycle (a bug) cannot hang


@pytest.mark.parametrize("quantile", [0.3, 0.1, 0.001])
def test_estimate_bandwidth_equals_sklearn(pixels, device, quantile):
    X = pixels[:1500]
    ours = cl.estimate_bandwidth(to_device(X, device), quantile=quantile)
    assert isinstance(ours, float)
    assert ours == pytest.approx(estimate_bandwidth(X, quantile=quantile), rel=1e-12)


def test_estimate_bandwidth_on_a_subset(pixels):
    X = pixels[:2000]
    est = cl.estimate_bandwidth(X, n_samples=400, seed=3)
    assert est == cl.estimate_bandwidth(X, n_samples=400, seed=3)     # seeded
    assert est != cl.estimate_bandwidth(X, n_samples=400, seed=4)
    # the estimate on 400 random points is close to the estimate on all of them
    assert est == pytest.approx(estimate_bandwidth(X, quantile=0.3), rel=0.2)
    assert cl.estimate_bandwidth(X, n_samples=5000) == cl.estimate_bandwidth(X)   # all points
    with pytest.raises(ValueError, match="quantile"):
        cl.estimate_bandwidth(pixels, quantile=0)
    with pytest.raises(ValueError, match="n_samples"):
        cl.estimate_bandwidth(pixels, n_samples=0)


def test_segment_meanshift_estimates_its_bandwidth(device):
    img = data.coffee()[::8, ::8]
    seg = to_numpy(cl.segment_image(to_device(img, device), method="meanshift", max_samples=600))
    f = img.reshape(-1, 3) / 255.0
    rng = np.random.default_rng(0)
    sub = f[np.argsort(rng.random(len(f)))[:600]]
    bw = estimate_bandwidth(sub, quantile=0.3)
    same = to_numpy(cl.segment_image(to_device(img, device), method="meanshift", max_samples=600,
                                     bandwidth=bw))
    assert adjusted_rand_score(same.reshape(-1), seg.reshape(-1)) == 1.0
    assert len(np.unique(seg)) >= 2
    with pytest.raises(ValueError, match="bandwidth"):
        cl.segment_image(np.full((20, 20, 3), 0.5), method="meanshift")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_points_are_rejected(pixels, bad):
    X = pixels[:50].copy()
    X[7, 1] = bad
    for call in (lambda: cl.kmeans(X, 3), lambda: cl.agglomerative(X, 3),
                 lambda: cl.agglomerative(X, 3, "average"), lambda: cl.mean_shift(X, 0.1),
                 lambda: cl.estimate_bandwidth(X), lambda: cl.pairwise_distances(X)):
        with pytest.raises(ValueError, match="NaN or Inf"):
            call()
    with pytest.raises(ValueError, match="NaN or Inf"):
        cl.segment_image(X.reshape(5, 10, 3), method="kmeans")
    with pytest.raises(ValueError, match="overflow"):
        cl.kmeans(pixels[:50] * 1e200, 3)
    for h in (np.nan, np.inf):
        with pytest.raises(ValueError, match="bandwidth"):
            cl.mean_shift(pixels[:50], h)
