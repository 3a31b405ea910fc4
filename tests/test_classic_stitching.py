"""Stitching two overlapping crops of a real photo back together."""
import numpy as np
import pytest
from skimage import data

from classic import stitching
from tinygrad_cv.backend import to_device, to_numpy


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()[::2, ::2].astype(np.float32) / 255    # 256 x 256 x 3


def test_two_crops_reproduce_the_original(photo, device):
    left = photo[0:200, 0:160]
    right = photo[20:220, 90:256]                   # overlap: rows 20..200, cols 90..160
    pano, Hs, (x0, y0) = stitching.stitch([to_device(left, device), to_device(right, device)],
                                          return_homographies=True)
    pano = to_numpy(pano)
    H = to_numpy(Hs[1])
    # right's (x, y) maps to left's frame by a translation of (90, 20)
    np.testing.assert_allclose(H @ [10, 10, 1] / (H[2] @ [10, 10, 1]), [100, 30, 1], atol=0.5)
    assert (x0, y0) == (0.0, 0.0)
    assert abs(pano.shape[0] - 220) <= 1 and abs(pano.shape[1] - 256) <= 1
    overlap_pano = pano[25:195, 95:155]
    overlap_true = photo[25:195, 95:155]
    assert np.abs(overlap_pano - overlap_true).mean() < 0.01
    # and the whole panorama where covered
    h, w = min(pano.shape[0], 220), min(pano.shape[1], 256)
    covered = np.zeros((h, w), bool)
    covered[0:200, 0:160] = True
    covered[20:220, 90:256] = True
    covered[:, -2:] = covered[-2:, :] = False
    assert np.abs(pano[:h, :w][covered] - photo[:h, :w][covered]).mean() < 0.01


def test_warp_bilinear_identity_and_shift(device):
    img = to_device(np.arange(20, dtype=np.float64).reshape(4, 5), device)
    out, wt = stitching.warp_bilinear(img, np.eye(3), (4, 5))
    np.testing.assert_allclose(to_numpy(out), to_numpy(img))
    shift = np.array([[1, 0, 0.5], [0, 1, 0], [0, 0, 1.0]])       # sample half a pixel right
    out, wt = stitching.warp_bilinear(img, shift, (4, 5))
    np.testing.assert_allclose(to_numpy(out)[:, :4], to_numpy(img)[:, :4] + 0.5)
    assert to_numpy(wt)[0, 4] == 0


def test_harris_features_stitch(photo):
    left, right = photo[0:200, 0:170], photo[0:200, 80:256]
    pano, Hs, offset = stitching.stitch([left, right], method="harris", return_homographies=True)
    # the fitted map is the translation (80, 0) up to rounding (its last bits depend on the
    # BLAS kernel), and the canvas must not depend on those bits: exactly the photo's frame
    np.testing.assert_allclose(Hs[1], [[1, 0, 80], [0, 1, 0], [0, 0, 1]], atol=1e-9)
    assert offset == (0.0, 0.0) and pano.shape == (200, 256, 3)
    # every pixel, border rows and columns included, is the photo's (bilinear weights of
    # 1 +- 1e-13 on exact pixel positions: float32 rounding only)
    np.testing.assert_allclose(pano, photo[:200], atol=1e-6)


def test_canvas_and_warp_ignore_rounding_at_the_border(device):
    img = to_device(np.arange(1.0, 21.0).reshape(4, 5), device)
    shift = np.array([[1, 0, -1e-13], [0, 1, 1e-13], [0, 0, 1.0]])   # identity, rounded
    out, wt = stitching.warp_bilinear(img, shift, (4, 5))
    assert (to_numpy(wt) > 0).all()                   # the last column and row are kept
    np.testing.assert_allclose(to_numpy(out), to_numpy(img), atol=1e-9)
    corners = to_device(np.array([[-1e-14, 3e-15], [4 + 1e-13, 3 - 1e-12], [2.5, 1.5]]), device)
    assert stitching._canvas_bounds(corners) == (0.0, 0.0, 4.0, 3.0)
    corners = to_device(np.array([[-0.01, 0.2], [4.3, 2.9]]), device)
    assert stitching._canvas_bounds(corners) == (-1.0, 0.0, 5.0, 3.0)


def test_too_few_matches_raises():
    rng = np.random.default_rng(0)
    a = data.camera()[:128, :128]
    b = np.zeros((128, 128))
    b[40:60, 40:60] = 1.0
    with pytest.raises(ValueError, match="at least 4"):
        stitching.stitch([a, b])
    with pytest.raises(ValueError, match="at least 2"):
        stitching.stitch([a])
    with pytest.raises(ValueError, match="method"):
        stitching.stitch([a, a], method="orb")
    del rng


@pytest.mark.parametrize("pair", [("camera", "coffee"), ("coffee", "chelsea")])
@pytest.mark.parametrize("method", ["sift", "harris"])
def test_unrelated_photos_are_refused(pair, method):
    """Any 4 matches fit a homography: unrelated photos used to give a smeared warp from 4
    chance inliers.  Now the fit needs min_inliers (10) and min_inlier_ratio (25%)."""
    a, b = (getattr(data, name)() for name in pair)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    with pytest.raises(ValueError, match=r"inliers among .*do the images overlap"):
        stitching.stitch([a, b], method=method)
    with pytest.raises(ValueError, match="inliers among"):
        stitching.register_pair(a, b, method=method)
    # the same pair passes with the old acceptance (4 inliers), which is what was wrong
    H, count = stitching.register_pair(a, b, method=method, min_inliers=4, min_inlier_ratio=0)
    assert 4 <= count < 10


def test_overlapping_pair_reports_its_inliers(photo):
    left, right = photo[0:200, 0:160], photo[20:220, 90:256]
    seen = []
    stitching.stitch([left, right], on_pair=lambda *a: seen.append(a))
    (i, inliers, matches), = seen
    assert i == 1 and inliers >= 0.9 * matches and inliers > 50
    H, count = stitching.register_pair(right, left)
    assert count == inliers
    with pytest.raises(ValueError, match="inliers among"):       # an impossible demand
        stitching.register_pair(right, left, min_inliers=10 * matches)
    with pytest.raises(ValueError, match="min_inliers"):
        stitching.register_pair(right, left, min_inliers=3)
    with pytest.raises(ValueError, match="min_inlier_ratio"):
        stitching.register_pair(right, left, min_inlier_ratio=1.5)
