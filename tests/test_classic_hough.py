"""classic.hough against skimage.transform.hough_line / hough_line_peaks."""
import numpy as np
import pytest
from skimage import data, draw, feature, transform

from classic.hough import hough_line, hough_line_peaks
from tinygrad_cv.backend import device_of, to_device, to_numpy


def _on(device, *arrays):
    return [to_device(a, device) for a in arrays]


def _peaks_match(ours, ref, angle_step, rho_step=1.0):
    """Same number of peaks, each within one bin of the reference (in order)."""
    votes, angles, dists = (to_numpy(a) for a in ours)
    ref_votes, ref_angles, ref_dists = ref
    assert len(votes) == len(ref_votes) > 0
    assert np.all(np.abs(angles - ref_angles) <= angle_step + 1e-9)
    assert np.all(np.abs(dists - ref_dists) <= rho_step + 1e-9)
    np.testing.assert_array_equal(votes, ref_votes)


def test_accumulator_equals_skimage_on_small_image(device):
    rng = np.random.default_rng(0)
    edges = rng.random((23, 31)) < 0.15
    acc, thetas, rhos = hough_line(to_device(edges, device))
    assert device_of(acc) == device
    ref_acc, ref_thetas, ref_rhos = transform.hough_line(edges)
    assert acc.shape == ref_acc.shape == (2 * int(np.ceil(np.hypot(23, 31))) + 1, 180)
    np.testing.assert_array_equal(to_numpy(acc), ref_acc)
    np.testing.assert_allclose(to_numpy(thetas), ref_thetas)
    np.testing.assert_allclose(to_numpy(rhos), ref_rhos)
    assert to_numpy(thetas).min() == pytest.approx(-np.pi / 2) and to_numpy(thetas).max() < np.pi / 2


def test_accumulator_equals_skimage_on_camera_edges_and_custom_thetas(device):
    edges = feature.canny(data.camera() / 255.0, 2.0)
    np.testing.assert_array_equal(to_numpy(hough_line(to_device(edges, device))[0]),
                                  transform.hough_line(edges)[0])
    thetas = np.linspace(-1.0, 2.0, 77)
    acc = hough_line(*_on(device, edges, thetas))[0]
    np.testing.assert_array_equal(to_numpy(acc), transform.hough_line(edges, thetas)[0])


def test_peaks_on_synthetic_lines_match_skimage_and_truth(device):
    """Acceptance 3: known lines -> same strongest peaks as scikit-image, at the true
    (theta, rho) within one bin."""
    image = np.zeros((200, 220), dtype=bool)
    image[draw.line(0, 40, 199, 40)] = True           # x = 40: theta 0, rho 40
    image[draw.line(120, 0, 120, 219)] = True         # y = 120: theta -pi/2, rho -120
    image[draw.line(0, 0, 199, 199)] = True           # y = x: theta -pi/4, rho 0
    acc, thetas, rhos = hough_line(to_device(image, device))
    ours = hough_line_peaks(acc, thetas, rhos)
    ref_acc, ref_thetas, ref_rhos = transform.hough_line(image)
    ref = transform.hough_line_peaks(ref_acc, ref_thetas, ref_rhos)
    _peaks_match(ours, ref, np.pi / 180)
    found = sorted(zip(np.round(np.degrees(to_numpy(ours[1]))), to_numpy(ours[2])))
    assert found == [(-90.0, -120.0), (-45.0, 0.0), (0.0, 40.0)]


@pytest.mark.parametrize("kwargs", [{}, dict(min_distance=5, min_angle=5, threshold=20)])
def test_peaks_on_checkerboard_match_skimage(device, kwargs):
    edges = feature.canny(data.checkerboard() / 255.0)
    acc, thetas, rhos = hough_line(to_device(edges, device))
    ours = hough_line_peaks(acc, thetas, rhos, **kwargs)
    ref_acc, ref_thetas, ref_rhos = transform.hough_line(edges)
    _peaks_match(ours, transform.hough_line_peaks(ref_acc, ref_thetas, ref_rhos, **kwargs), np.pi / 180)


def test_num_peaks_keeps_the_strongest(device):
    """With num_peaks the strongest peaks are kept (equal votes may come in any order)."""
    edges = feature.canny(data.checkerboard() / 255.0)
    acc, thetas, rhos = hough_line(to_device(edges, device))
    votes, angles, dists = (to_numpy(a) for a in hough_line_peaks(acc, thetas, rhos, num_peaks=5))
    ref = transform.hough_line_peaks(*transform.hough_line(edges), num_peaks=5)
    np.testing.assert_array_equal(votes, ref[0])
    everything = transform.hough_line_peaks(*transform.hough_line(edges))
    all_peaks = set(zip(np.round(everything[1], 6), everything[2]))
    assert set(zip(np.round(angles, 6), dists)) <= all_peaks


def test_peaks_on_camera_match_skimage(device):
    edges = feature.canny(data.camera() / 255.0, 2.0)
    acc, thetas, rhos = hough_line(to_device(edges, device))
    ref_acc, ref_thetas, ref_rhos = transform.hough_line(edges)
    for threshold in (None, 80):
        _peaks_match(hough_line_peaks(acc, thetas, rhos, threshold=threshold),
                     transform.hough_line_peaks(ref_acc, ref_thetas, ref_rhos, threshold=threshold),
                     np.pi / 180)


def test_no_edges_gives_empty_result_not_error(device):
    acc, thetas, rhos = hough_line(to_device(np.zeros((40, 50), dtype=bool), device))
    assert to_numpy(acc).sum() == 0 and acc.shape == (2 * 65 + 1, 180)
    votes, angles, dists = hough_line_peaks(acc, thetas, rhos)
    assert votes.shape == angles.shape == dists.shape == (0,)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((4, 4, 4)), "shape"), (np.zeros((0, 3)), "empty"), (np.full((3, 3), np.nan), "NaN")])
def test_bad_input_raises(device, bad, match):
    with pytest.raises(ValueError, match=match):
        hough_line(to_device(bad, device))


def test_bad_theta_and_peak_arguments_raise(device):
    edges = to_device(np.eye(10, dtype=bool), device)
    with pytest.raises(ValueError, match="theta"):
        hough_line(edges, theta=to_device(np.zeros((2, 2)), device))
    acc, thetas, rhos = hough_line(edges)
    with pytest.raises(ValueError, match="match"):
        hough_line_peaks(acc, thetas[:5], rhos)
