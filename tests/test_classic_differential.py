"""Differential probes of classic/ against scikit-image / SciPy on small crops of real images
and on edge cases (dtypes, tiny and constant images, ties); each test pins a fixed defect."""
import numpy as np
import pytest
import scipy.ndimage as ndi
from skimage import data, feature, transform

from classic.corners import corner_peaks, harris_response
from classic.edges import canny
from classic.filters import gaussian_blur, gaussian_kernel1d, sobel
from classic.hough import hough_line, hough_line_peaks
from classic.ransac import AffineTransform, ProjectiveTransform
from classic.sift import match_descriptors
from tinygrad_cv.backend import to_device, to_numpy


def _crop(name, rows, cols):
    return getattr(data, name)()[rows, cols]


CAMERA = _crop("camera", slice(100, 180), slice(200, 280))
CHECKER = _crop("checkerboard", slice(0, 80), slice(0, 80))


@pytest.mark.parametrize("image", [CAMERA / 255.0, CHECKER / 255.0], ids=["camera", "checker"])
def test_sobel_bit_identical_to_ndimage(device, image):
    """The [1, 2, 1] smoothing is summed in ndimage's order: equal, not just close (camera:
    0.5% of the values differed in the last bit, which broke Canny's ties)."""
    g_rows, g_cols = (to_numpy(g) for g in sobel(to_device(image, device)))
    np.testing.assert_array_equal(g_rows, ndi.sobel(image, 0))
    np.testing.assert_array_equal(g_cols, ndi.sobel(image, 1))


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_canny_identical_on_checkerboard(device, sigma):
    """Two-pixel-wide edges of equal magnitude: both survive non-maximum suppression only
    when the magnitudes are bit-equal (was 312 of 80x80 pixels different at sigma 1)."""
    image = CHECKER / 255.0
    got = to_numpy(canny(to_device(image, device), sigma))
    np.testing.assert_array_equal(got, feature.canny(image, sigma))


def test_canny_zero_low_threshold_keeps_flat_regions_out(device):
    """low_threshold=0: a pixel of zero (rounding-noise) gradient is no edge (a constant
    image gave 91 edge pixels)."""
    flat = np.full((16, 16), 0.3)
    assert not to_numpy(canny(to_device(flat, device), 2.0, 0.0, 0.0)).any()
    image = CHECKER / 255.0
    got = to_numpy(canny(to_device(image, device), 1.0, 0.0, 0.0))
    np.testing.assert_array_equal(got, feature.canny(image, 1.0, 0.0, 0.0))


@pytest.mark.parametrize("dtype,scale", [(np.uint16, 257), (np.int16, 128)])
def test_wide_integer_images_are_scaled_like_skimage(device, dtype, scale):
    """uint16/int16 intensities are divided by the dtype's maximum (img_as_float), not used
    as they are (uint16 camera: 1368 edge pixels instead of 936, Harris 1e19 off)."""
    image = CAMERA.astype(dtype) * dtype(scale)
    got = to_numpy(canny(to_device(image, device)))
    np.testing.assert_array_equal(got, feature.canny(image))
    response = to_numpy(harris_response(to_device(image, device)))
    expected = feature.corner_harris(image)
    np.testing.assert_allclose(response, expected, atol=1e-9 * np.abs(expected).max())


def test_canny_thresholds_of_integer_images_are_in_dtype_units(device):
    """As scikit-image: canny(uint8, low=20, high=50) thresholds at 20/255 and 50/255 (they
    were taken as [0, 1] magnitudes: no edge at all)."""
    got = to_numpy(canny(to_device(CAMERA, device), 1.0, 20, 50))
    expected = feature.canny(CAMERA, 1.0, 20, 50)
    assert expected.sum() > 500
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="must not exceed"):
        canny(CAMERA, 1.0, None, 20)          # 0.1 > 20/255, as scikit-image


def test_corner_peaks_keeps_an_integer_response_as_it_is(device):
    """threshold_abs compares with the response's own values: a uint8 response was divided
    by 255 like an image (0 peaks above 100 instead of 16)."""
    response = (feature.corner_harris(CAMERA / 255.0) * 400).clip(0, 255).astype(np.uint8)
    kwargs = dict(threshold_abs=100, threshold_rel=None)
    got = to_numpy(corner_peaks(to_device(response, device), **kwargs))
    expected = feature.corner_peaks(response, **kwargs)
    assert len(expected) > 5
    np.testing.assert_array_equal(got, expected)


def test_uint8_converts_with_img_as_float_rounding(device):
    """uint8 becomes ``x * (1 / 255)`` in float64, bit for bit img_as_float (``x / 255``
    differs in the last bit for 9% of the values: without smoothing, moon's flat ties then
    broke differently, 5 of 186 edge pixels in this crop)."""
    image = _crop("moon", slice(0, 31), slice(464, 512))
    got = to_numpy(canny(to_device(image, device), 0.0))
    np.testing.assert_array_equal(got, feature.canny(image, 0.0))


@pytest.mark.parametrize("sigma", [0.7, 1.6, 3.0])
def test_gaussian_blur_bit_identical_to_ndimage(device, sigma):
    """The kernel is exp(-0.5 / sigma^2 * i^2) as ndimage rounds it (exp(-0.5 (i / sigma)^2)
    differed in the last bit for sigma not a power of 2); the blur then equals, which Canny's
    ties need (checkerboard crop at sigma 3: 10 edge pixels differed)."""
    image = CAMERA / 255.0
    np.testing.assert_array_equal(to_numpy(gaussian_blur(to_device(image, device), sigma)),
                                  ndi.gaussian_filter(image, sigma))
    radius = int(4 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    expected = np.exp(-0.5 / sigma ** 2 * x ** 2)
    np.testing.assert_array_equal(to_numpy(gaussian_kernel1d(sigma)), expected / expected.sum())
    crop = CHECKER[:60, :60] / 255.0
    got = to_numpy(canny(to_device(crop, device), sigma, 0.0, 0.0))
    np.testing.assert_array_equal(got, feature.canny(crop, sigma, 0.0, 0.0))


def test_gaussian_blur_sigma_zero_filters_nothing_like_ndimage(device):
    """sigma=0: gaussian_blur returns (a copy of) the image, as ndimage (it raised)."""
    image = CAMERA / 255.0
    np.testing.assert_array_equal(to_numpy(gaussian_blur(to_device(image, device), 0)),
                                  ndi.gaussian_filter(image, 0))
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(image, -1.0)


@pytest.mark.parametrize("exclude_border", [(2, 5), (0, 4)])
def test_corner_peaks_exclude_border_per_axis(device, exclude_border):
    """exclude_border as a (rows, cols) pair, as scikit-image (a tuple raised TypeError
    from int())."""
    response = feature.corner_harris(CAMERA / 255.0)
    kwargs = dict(threshold_rel=0.01, exclude_border=exclude_border)
    got = to_numpy(corner_peaks(to_device(response, device), **kwargs))
    np.testing.assert_array_equal(got, feature.corner_peaks(response, **kwargs))
    np.testing.assert_array_equal(to_numpy(corner_peaks(response, exclude_border=np.int64(3))),
                                  to_numpy(corner_peaks(response, exclude_border=3)))
    with pytest.raises(ValueError, match="exclude_border"):
        corner_peaks(response, exclude_border=(1, -1))


@pytest.mark.parametrize("model", [AffineTransform, ProjectiveTransform])
def test_transforms_estimate_from_integer_points(device, model):
    """Integer point arrays (pixel coordinates) are fitted in float64: the normalisation
    matrix took the points' int dtype, its scale truncated to 0 (LinAlgError: Singular
    matrix)."""
    src = np.random.default_rng(0).integers(0, 100, (12, 2))
    dst = 2 * src + 3
    fitted = model()
    assert fitted.estimate(to_device(src, device), to_device(dst, device))
    expected = np.array([[2.0, 0.0, 3.0], [0.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(to_numpy(fitted.params), expected, atol=1e-9)


@pytest.mark.parametrize("kwargs", [dict(max_ratio=0.8), dict(max_ratio=0.8, cross_check=False),
                                    dict(max_ratio=1.0)])
def test_match_descriptors_with_duplicates_as_skimage(device, kwargs):
    """Equal descriptors are exactly 0 apart and a 0 second distance counts as eps (as
    scikit-image): a set matched with itself plus copies kept 0 (then 7) of 10 matches
    through the ratio test, the matrix-product distances leaving ~1e-8 between equal rows."""
    rng = np.random.default_rng(1)
    d1 = rng.random((10, 128)).astype(np.float32)
    d2 = np.concatenate([d1, d1, rng.random((5, 128)).astype(np.float32)])
    for a, b in ((d1, d2), (d2, d2)):
        got = to_numpy(match_descriptors(to_device(a, device), to_device(b, device), **kwargs))
        np.testing.assert_array_equal(got, feature.match_descriptors(a, b, **kwargs))


@pytest.mark.parametrize("kwargs", [dict(min_distance=0, min_angle=0),
                                    dict(min_distance=5, min_angle=0),
                                    dict(min_distance=0, min_angle=5)])
def test_hough_peaks_with_a_box_side_of_one(device, kwargs):
    """With min_distance or min_angle 0 a plateau's pixels can differ; it is ranked by its
    largest value (regionprops' intensity_max), not by whichever pixel was written last
    (camera crop: peaks missing and out of order)."""
    edges = feature.canny(_crop("camera", slice(0, 256), slice(0, 256)) / 255.0, 2.0)
    acc, thetas, rhos = transform.hough_line(edges)
    got = hough_line_peaks(to_device(acc, device), to_device(thetas, device),
                           to_device(rhos, device), **kwargs)
    for ours, expected in zip(got, transform.hough_line_peaks(acc, thetas, rhos, **kwargs)):
        np.testing.assert_array_equal(to_numpy(ours), expected)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_hough_line_rejects_non_finite_angles(bad):
    """A NaN/Inf angle is a ValueError naming theta (it was an IndexError from the vote
    index)."""
    with pytest.raises(ValueError, match="theta"):
        hough_line(np.eye(8, dtype=bool), np.array([0.0, bad]))


def test_corner_peaks_names_a_non_array_response():
    """A list is a ValueError naming the response (it was an AttributeError on .ndim)."""
    with pytest.raises(ValueError, match="response must be a numpy or cupy array"):
        corner_peaks([[0.0, 1.0], [1.0, 0.0]])


def test_sift_of_a_16_bit_image_equals_the_8_bit_one():
    """uint16 = uint8 * 257 is the same picture: scaled by 65535 it gives the same keypoints
    (unscaled, the contrast threshold c_dog meant nothing)."""
    from classic.sift import SIFT
    image = _crop("camera", slice(100, 228), slice(100, 228))
    kp8, d8 = SIFT().detect_and_extract(image)
    kp16, d16 = SIFT().detect_and_extract(image.astype(np.uint16) * np.uint16(257))
    assert len(kp8) > 20
    np.testing.assert_array_equal(kp16, kp8)
    np.testing.assert_array_equal(d16, d8)


@pytest.mark.parametrize("min_distance,p_norm", [(2, 1.0), (4, 1.0), (4, 2.0)])
def test_corner_peaks_first_spacing_is_in_the_max_norm(device, min_distance, p_norm):
    """scikit-image's corner_peaks spaces the peaks first in peak_local_max's max-norm (it
    does not pass p_norm on), then in p_norm: a quantised coins response had 19 peaks instead
    of 22 (p_norm=1, min_distance=2)."""
    response = np.rint(feature.corner_harris(_crop("coins", slice(0, 96), slice(0, 96)) / 255.0) * 50)
    kwargs = dict(min_distance=min_distance, threshold_rel=0.01, p_norm=p_norm)
    got = to_numpy(corner_peaks(to_device(response, device), **kwargs))
    np.testing.assert_array_equal(got, feature.corner_peaks(response, **kwargs))


def test_corner_peaks_of_one_pixel_follow_the_threshold(device):
    """A 1x1 response is a peak when above the threshold (as peak_local_max), not 'flat'."""
    one = to_device(np.array([[3.0]]), device)
    assert to_numpy(corner_peaks(one, threshold_abs=1, exclude_border=False)).tolist() == [[0, 0]]
    assert to_numpy(corner_peaks(one, threshold_abs=5, exclude_border=False)).shape == (0, 2)


@pytest.mark.parametrize("bad,match", [(np.nan, "d1 contains NaN"), (np.inf, "d1 contains NaN")])
def test_match_descriptors_rejects_non_finite_descriptors(bad, match):
    """A NaN/Inf descriptor is a ValueError (it silently matched: NaN distances win argmin);
    a list or an object array is named too (AttributeError / garbage before)."""
    d = np.random.default_rng(0).random((5, 8))
    broken = d.copy()
    broken[1, 2] = bad
    with pytest.raises(ValueError, match=match):
        match_descriptors(broken, d)
    with pytest.raises(ValueError, match="d1 must be a numpy or cupy array"):
        match_descriptors(d.tolist(), d)
    with pytest.raises(ValueError, match="d2 has unsupported dtype object"):
        match_descriptors(d, d.astype(object))
    assert match_descriptors(d[:0], d).shape == (0, 2)        # no keypoints: no matches


def _bad_input_cases():
    from classic import knn, ransac, seam_carving, stitching
    image = _crop("chelsea", slice(0, 12), slice(0, 16))
    nan_map = np.full((12, 16), np.nan)
    peaks_args = (np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    points = np.random.default_rng(0).random((10, 2))
    return [
        (lambda: hough_line_peaks([[1, 2], [3, 4]], *peaks_args), "hspace must be a numpy"),
        (lambda: hough_line_peaks(np.array([[1.0, np.nan], [3, 4]]), *peaks_args), "hspace contains NaN"),
        (lambda: seam_carving.cumulative_energy(nan_map), "energy_map contains NaN"),
        (lambda: seam_carving.cumulative_energy([[1.0, 2.0]]), "energy_map must be a numpy"),
        (lambda: seam_carving.find_seam(image, extra_energy=nan_map), "extra_energy contains NaN"),
        (lambda: seam_carving.resize(image, (12, 14), keep_mask=[[1]]), "keep_mask must be a numpy"),
        (lambda: seam_carving.remove_object(image, [[1]]), "mask must be a numpy"),
        (lambda: stitching.warp_bilinear(image / 255.0, np.full((3, 3), np.nan), (4, 4)),
         "inverse contains NaN"),
        (lambda: knn.KNearestNeighbor().train(np.eye(3), [0, 1, 2]), "y must be a numpy"),
        (lambda: ransac.ransac(points, ransac.LineModel, 2, 1.0, rng="seed"), "rng must be"),
        (lambda: seam_carving.remove_seam(image, np.full(12, 2.7)), "integer columns"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_bad_inputs_are_value_errors_naming_them(case):
    """Lists, NaN maps and bad seeds were AttributeErrors, IndexErrors or silent garbage
    (a NaN extra_energy gave a seam, a NaN hspace peaks, a seam at column 2.7 removed
    column 2)."""
    call, match = _bad_input_cases()[case]
    with pytest.raises(ValueError, match=match):
        call()
