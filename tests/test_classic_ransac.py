"""classic.ransac: trial count, homography/line/affine recovery with outliers, determinism."""
import math

import numpy as np
import pytest
from skimage import measure, transform

from classic.ransac import (AffineTransform, LineModel, ProjectiveTransform, ransac,
                            required_trials)
from tinygrad_cv.backend import device_of, to_device, to_numpy

TRUE_H = np.array([[1.05, 0.08, 25.0], [-0.04, 0.97, -12.0], [2e-4, -1e-4, 1.0]])
CORNERS = np.array([[0.0, 0.0], [511.0, 0.0], [0.0, 511.0], [511.0, 511.0]])


def _matches_with_outliers(fraction, n=300, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.uniform(0, 512, (n, 2))
    dst = ProjectiveTransform(TRUE_H)(src) + rng.normal(0, noise, (n, 2))
    outlier = rng.permutation(n) < int(fraction * n)
    dst[outlier] = rng.uniform(0, 512, (outlier.sum(), 2))
    return src, dst, outlier


def test_required_trials_formula():
    """The notes' k = log(1-p)/log(1-w^n), rounded up, and its edge cases."""
    for p, w, n in [(0.99, 0.6, 4), (0.99, 0.5, 2), (0.999, 0.3, 3), (0.95, 0.9, 8)]:
        assert required_trials(p, w, n) == math.ceil(math.log(1 - p) / math.log(1 - w ** n))
    assert required_trials(0.99, 0.5, 4) == 72
    assert required_trials(0.99, 0.6, 4) == 34
    assert required_trials(0.99, 1.0, 4) == 1
    assert required_trials(0.99, 0.0, 4) == math.inf
    assert required_trials(1.0, 0.5, 4) == math.inf
    assert required_trials(0.0, 0.5, 4) == 0
    with pytest.raises(ValueError):
        required_trials(1.5, 0.5, 4)
    with pytest.raises(ValueError):
        required_trials(0.9, 0.5, 0)


def test_homography_recovered_with_40_percent_outliers(device):
    """Acceptance 4: corner error < 0.5 px."""
    src, dst, outlier = _matches_with_outliers(0.4)
    model, inliers = ransac((to_device(src, device), to_device(dst, device)), ProjectiveTransform,
                            4, residual_threshold=2.0, max_trials=2000, rng=0)
    assert device_of(inliers) == device
    inliers = to_numpy(inliers)
    assert (inliers == ~outlier).mean() > 0.97
    mapped = to_numpy(model(to_device(CORNERS, device)))
    error = np.linalg.norm(mapped - ProjectiveTransform(TRUE_H)(CORNERS), axis=1)
    assert error.max() < 0.5


def test_line_recovered_with_50_percent_outliers(device):
    rng = np.random.default_rng(3)
    t = rng.uniform(-100, 100, 200)
    direction = np.array([np.cos(0.6), np.sin(0.6)])
    points = np.array([20.0, -5.0]) + t[:, None] * direction + rng.normal(0, 0.2, (200, 2))
    outlier = np.arange(200) % 2 == 0
    points[outlier] = rng.uniform(-100, 100, (100, 2))
    model, inliers = ransac(to_device(points, device), LineModel, 2, 1.0, max_trials=500, rng=1)
    inliers = to_numpy(inliers)
    assert (inliers[~outlier]).mean() > 0.97 and inliers[outlier].mean() < 0.05
    origin, found = (to_numpy(a) for a in model.params)
    assert abs(abs(found @ direction) - 1) < 1e-4
    # origin on the true line: its perpendicular distance is ~0
    offset = origin - np.array([20.0, -5.0])
    assert abs(offset[0] * direction[1] - offset[1] * direction[0]) < 0.1


def test_affine_recovered_and_inliers_match_skimage(device):
    rng = np.random.default_rng(5)
    matrix = np.array([[0.9, -0.2, 10.0], [0.3, 1.1, -4.0], [0, 0, 1]])
    src = rng.uniform(0, 300, (150, 2))
    dst = src @ matrix[:2, :2].T + matrix[:2, 2] + rng.normal(0, 0.2, (150, 2))
    dst[:45] = rng.uniform(0, 300, (45, 2))
    model, inliers = ransac((to_device(src, device), to_device(dst, device)), AffineTransform, 3,
                            1.5, max_trials=500, rng=2)
    params = to_numpy(model.params)
    np.testing.assert_allclose(params[:2, :2], matrix[:2, :2], atol=0.01)
    np.testing.assert_allclose(params[:2, 2], matrix[:2, 2], atol=0.2)
    ref_model, ref_inliers = measure.ransac((src, dst), transform.AffineTransform, 3, 1.5,
                                            max_trials=500, rng=2)
    assert (to_numpy(inliers) == ref_inliers).mean() > 0.98


def test_dlt_matches_skimage_projective_estimate(device):
    src, dst, outlier = _matches_with_outliers(0.0, n=40)
    ours = ProjectiveTransform()
    assert ours.estimate(to_device(src, device), to_device(dst, device))
    ref = transform.ProjectiveTransform.from_estimate(src, dst)
    np.testing.assert_allclose(to_numpy(ours.params), ref.params, rtol=1e-6, atol=1e-9)
    back = to_numpy(ours.inverse(ours(to_device(src, device))))
    np.testing.assert_allclose(back, src, atol=1e-6)


def test_deterministic_with_seed_and_stops_early(device):
    src, dst, _ = _matches_with_outliers(0.3, seed=7)
    data = (to_device(src, device), to_device(dst, device))
    a = ransac(data, ProjectiveTransform, 4, 2.0, rng=11)
    b = ransac(data, ProjectiveTransform, 4, 2.0, rng=11)
    assert (to_numpy(a[1]) == to_numpy(b[1])).all()
    np.testing.assert_array_equal(to_numpy(a[0].params), to_numpy(b[0].params))

    calls = []

    class CountingLine(LineModel):
        def estimate(self, data):
            calls.append(1)
            return super().estimate(data)

    line = np.stack([np.arange(50.0), 2 * np.arange(50.0)], axis=1)   # no outliers
    ransac(to_device(line, device), CountingLine, 2, 0.5, max_trials=100, rng=0)
    assert len(calls) == 3          # one trial (w = 1 -> k = 1), then the two final refits


def test_bad_input_raises(device):
    pts = to_device(np.random.default_rng(0).random((3, 2)), device)
    with pytest.raises(ValueError, match="too few points"):
        ransac((pts, pts), ProjectiveTransform, 4, 1.0)
    bad = np.random.default_rng(0).random((10, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ransac(to_device(bad, device), LineModel, 2, 1.0)
    with pytest.raises(ValueError, match="residual_threshold"):
        ransac(to_device(np.ones((10, 2)), device), LineModel, 2, -1.0)
    with pytest.raises(ValueError, match="differ in length"):
        ransac((pts, to_device(np.ones((5, 2)), device)), AffineTransform, 3, 1.0)
    with pytest.raises(ValueError, match="min_samples"):
        ransac(pts, LineModel, 0, 1.0)
