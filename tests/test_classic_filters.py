"""classic.filters against scipy.signal / scipy.ndimage on real and random images."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import data

from classic import filters
from tinygrad_cv.backend import device_of, to_device, to_numpy

SCIPY_BOUNDARY = {"zero": "fill", "reflect": "symm"}
MODES = ["same", "valid", "full"]


@pytest.fixture(scope="module")
def camera():
    return data.camera().astype(np.float64) / 255.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 14), w=st.integers(1, 14), kh=st.integers(1, 13), kw=st.integers(1, 13),
       mode=st.sampled_from(MODES), boundary=st.sampled_from(["zero", "reflect"]),
       seed=st.integers(0, 2 ** 16))
def test_convolve_correlate_match_scipy_all_modes(device, h, w, kh, kw, mode, boundary, seed):
    """Acceptance 1: shift-and-add (small) and FFT (>= 100 taps) paths, every mode/boundary."""
    rng = np.random.default_rng(seed)
    image, kernel = rng.random((h, w)), rng.standard_normal((kh, kw))
    if boundary == "reflect" and mode != "valid" and (kh > h or kw > w):
        kh, kw = min(kh, h), min(kw, w)   # scipy's symm needs the padding inside the image
        kernel = kernel[:kh, :kw]
    x, k = to_device(image, device), to_device(kernel, device)
    if mode == "valid" and (kh > h or kw > w):
        with pytest.raises(ValueError, match="larger than the image"):
            filters.convolve2d(x, k, mode, boundary)
        return
    for ours, ref in ((filters.convolve2d, signal.convolve2d), (filters.correlate2d, signal.correlate2d)):
        got = ours(x, k, mode, boundary)
        assert device_of(got) == device
        expected = ref(image, kernel, mode, SCIPY_BOUNDARY[boundary])
        np.testing.assert_allclose(to_numpy(got), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", ["zero", "reflect"])
@pytest.mark.parametrize("ksize", [(5, 5), (4, 7), (15, 15)])
def test_convolve2d_on_camera_matches_scipy(device, camera, mode, boundary, ksize):
    kernel = np.random.default_rng(1).standard_normal(ksize)
    img = camera[100:260, 200:380]
    x, k = to_device(img, device), to_device(kernel, device)
    for ours, ref in ((filters.convolve2d, signal.convolve2d), (filters.correlate2d, signal.correlate2d)):
        np.testing.assert_allclose(to_numpy(ours(x, k, mode, boundary)),
                                   ref(img, kernel, mode, SCIPY_BOUNDARY[boundary]), atol=1e-5)


def test_convolution_flips_kernel_and_correlation_does_not(device):
    """The notes' LSI definition: an impulse convolved reproduces the kernel, correlated
    gives it flipped."""
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1
    kernel = np.arange(9.0).reshape(3, 3)
    x, k = to_device(impulse, device), to_device(kernel, device)
    np.testing.assert_allclose(to_numpy(filters.convolve2d(x, k))[1:4, 1:4], kernel)
    np.testing.assert_allclose(to_numpy(filters.correlate2d(x, k))[1:4, 1:4], kernel[::-1, ::-1])


def test_color_image_is_filtered_per_channel(device):
    img = data.astronaut()[:64, :80] / 255.0
    kernel = np.random.default_rng(2).random((3, 4))
    got = to_numpy(filters.convolve2d(to_device(img, device), to_device(kernel, device), "same", "reflect"))
    for c in range(3):
        np.testing.assert_allclose(got[..., c], signal.convolve2d(img[..., c], kernel, "same", "symm"), atol=1e-10)


def test_uint8_is_scaled_to_unit_range(device):
    img = data.camera()[:50, :50]
    kernel = np.ones((3, 3)) / 9
    got = to_numpy(filters.convolve2d(to_device(img, device), to_device(kernel, device)))
    np.testing.assert_allclose(got, signal.convolve2d(img / 255.0, kernel, "same"), atol=1e-12)


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.5])
@pytest.mark.parametrize("boundary,ndi_mode", [("reflect", "reflect"), ("zero", "constant"),
                                               ("nearest", "nearest"), ("mirror", "mirror"), ("wrap", "wrap")])
def test_gaussian_blur_matches_ndimage(device, camera, sigma, boundary, ndi_mode):
    got = to_numpy(filters.gaussian_blur(to_device(camera, device), sigma, boundary=boundary))
    np.testing.assert_allclose(got, ndi.gaussian_filter(camera, sigma, mode=ndi_mode), atol=1e-10)


def test_gaussian_blur_color_and_kernel(device):
    img = data.astronaut()[:100, :90] / 255.0
    got = to_numpy(filters.gaussian_blur(to_device(img, device), 1.5))
    np.testing.assert_allclose(got, ndi.gaussian_filter(img, (1.5, 1.5, 0)), atol=1e-10)
    k = to_numpy(filters.gaussian_kernel(1.0, like=to_device(img, device)))
    assert k.shape == (9, 9) and abs(k.sum() - 1) < 1e-12
    np.testing.assert_allclose(k, k.T)
    assert k.argmax() == 40


def test_sobel_matches_ndimage(device, camera):
    for boundary, mode in (("reflect", "reflect"), ("zero", "constant")):
        g_rows, g_cols = filters.sobel(to_device(camera, device), boundary)
        np.testing.assert_allclose(to_numpy(g_rows), ndi.sobel(camera, 0, mode=mode), atol=1e-12)
        np.testing.assert_allclose(to_numpy(g_cols), ndi.sobel(camera, 1, mode=mode), atol=1e-12)


def test_finite_differences(device):
    ramp = np.add.outer(np.arange(6.0) ** 2, 3 * np.arange(7.0))   # f = r^2 + 3c
    x = to_device(ramp, device)
    fr, fc = (to_numpy(a) for a in filters.image_gradients(x, "forward"))
    br, bc = (to_numpy(a) for a in filters.image_gradients(x, "backward"))
    cr, cc = (to_numpy(a) for a in filters.image_gradients(x, "central"))
    r = np.arange(6.0)[:, None]
    np.testing.assert_allclose(fr[:-1], (2 * r + 1)[:-1] + 0 * fr[:-1])
    np.testing.assert_allclose(br[1:], (2 * r - 1)[1:] + 0 * br[1:])
    np.testing.assert_allclose(cr[1:-1], (2 * r)[1:-1] + 0 * cr[1:-1])
    np.testing.assert_allclose(fc[:, :-1], 3)
    np.testing.assert_allclose(bc[:, 1:], 3)
    np.testing.assert_allclose(cc[:, 1:-1], 3)


def test_gradient_magnitude_and_eight_directions(device):
    y, x = np.mgrid[0:9, 0:9].astype(float)
    # (ramp direction in (col, row), expected discrete direction 0..7)
    for (dx, dy), direction in (((1, 0), 0), ((1, 1), 1), ((0, 1), 2), ((-1, 1), 3),
                                ((-1, 0), 4), ((-1, -1), 5), ((0, -1), 6), ((1, -1), 7)):
        ramp = (dx * x + dy * y) / 20
        mag, angle, d8 = (to_numpy(a) for a in filters.gradient_magnitude_direction(
            to_device(ramp, device), operator="central"))
        assert (d8[2:-2, 2:-2] == direction).all()
        np.testing.assert_allclose(angle[2:-2, 2:-2], np.arctan2(dy, dx))
        np.testing.assert_allclose(mag[2:-2, 2:-2], np.hypot(dx, dy) / 20)


@pytest.mark.parametrize("bad,match", [
    (np.zeros(5), "shape"),
    (np.zeros((0, 4)), "empty"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.zeros((2, 2, 2, 2)), "shape"),
    (np.zeros((4, 4), dtype=complex), "dtype"),
])
def test_bad_images_raise(device, bad, match):
    with pytest.raises(ValueError, match=match):
        filters.convolve2d(to_device(bad, device), to_device(np.ones((3, 3)), device))


def test_bad_arguments_raise(device):
    x, k = to_device(np.zeros((4, 4)), device), to_device(np.ones((3, 3)), device)
    with pytest.raises(ValueError, match="larger than the image"):
        filters.correlate2d(x, to_device(np.ones((5, 2)), device), mode="valid")
    with pytest.raises(ValueError, match="mode"):
        filters.convolve2d(x, k, mode="bogus")
    with pytest.raises(ValueError, match="boundary"):
        filters.convolve2d(x, k, boundary="bogus")
    with pytest.raises(ValueError, match="kernel"):
        filters.convolve2d(x, to_device(np.ones(3), device))
    with pytest.raises(ValueError, match="sigma"):
        filters.gaussian_blur(x, sigma=-1)
    side = max(x.shape[:2])
    with pytest.raises(ValueError, match="larger than the image"):   # not a MemoryError
        filters.gaussian_blur(x, sigma=1e9)
    assert filters.gaussian_blur(x, sigma=side).shape == x.shape     # as wide as allowed
