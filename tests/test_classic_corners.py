"""classic.corners against skimage.feature.corner_harris / corner_peaks."""
import numpy as np
import pytest
from skimage import color, data, feature

from classic.corners import corner_peaks, harris_response
from tinygrad_cv.backend import device_of, to_device, to_numpy

IMAGES = {
    "camera": lambda: data.camera() / 255.0,
    "checkerboard": lambda: data.checkerboard() / 255.0,
    "astronaut": lambda: color.rgb2gray(data.astronaut()),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
@pytest.mark.parametrize("k,sigma", [(0.05, 1.0), (0.04, 2.0), (0.1, 0.7)])
def test_harris_response_correlates_with_skimage(device, name, k, sigma):
    """Acceptance 5: correlation >= 0.99 (the responses are in fact equal)."""
    image = IMAGES[name]()
    got = harris_response(to_device(image, device), k=k, sigma=sigma)
    assert device_of(got) == device
    got = to_numpy(got)
    expected = feature.corner_harris(image, k=k, sigma=sigma)
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] >= 0.99
    np.testing.assert_allclose(got, expected, atol=1e-9 * np.abs(expected).max())


def _within_one_pixel(a, b):
    if len(a) == 0 or len(b) == 0:
        return len(a) == len(b)
    d = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2)
    return d.min(axis=1).max() <= 1 and d.min(axis=0).max() <= 1


@pytest.mark.parametrize("min_distance", [1, 5])
def test_checkerboard_corners_match_skimage_within_one_pixel(device, min_distance):
    image = IMAGES["checkerboard"]()
    response = harris_response(to_device(image, device))
    ours = to_numpy(corner_peaks(response, min_distance=min_distance))
    ref = feature.corner_peaks(feature.corner_harris(image), min_distance=min_distance,
                               threshold_rel=0.01)
    assert len(ours) == len(ref) > 40
    assert _within_one_pixel(ours, ref)


@pytest.mark.parametrize("name", ["camera", "astronaut"])
@pytest.mark.parametrize("kwargs", [dict(min_distance=1), dict(min_distance=3, threshold_rel=0.1),
                                    dict(min_distance=10, threshold_rel=None),
                                    dict(min_distance=2, threshold_abs=1e-3, exclude_border=False)])
def test_corner_peaks_equal_skimage_on_real_images(device, name, kwargs):
    response = feature.corner_harris(IMAGES[name]())
    args = {"threshold_rel": 0.01, **kwargs}
    ours = to_numpy(corner_peaks(to_device(response, device), **args))
    np.testing.assert_array_equal(ours, feature.corner_peaks(response, **args))


def test_num_peaks_and_flat_image(device):
    response = feature.corner_harris(IMAGES["camera"]())
    ours = to_numpy(corner_peaks(to_device(response, device), min_distance=5, num_peaks=7))
    np.testing.assert_array_equal(ours, feature.corner_peaks(response, min_distance=5,
                                                             threshold_rel=0.01, num_peaks=7))
    assert corner_peaks(to_device(np.zeros((20, 20)), device)).shape == (0, 2)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((8, 8, 3)), "shape"), (np.zeros((0, 8)), "empty"), (np.full((6, 6), np.nan), "NaN")])
def test_bad_input_raises(device, bad, match):
    with pytest.raises(ValueError, match=match):
        harris_response(to_device(bad, device))
    with pytest.raises(ValueError, match=match):
        corner_peaks(to_device(bad, device))


def test_bad_parameters_raise(device):
    x = to_device(np.random.default_rng(0).random((10, 10)), device)
    with pytest.raises(ValueError, match="sigma"):
        harris_response(x, sigma=0)
    with pytest.raises(ValueError, match="min_distance"):
        corner_peaks(x, min_distance=0)
