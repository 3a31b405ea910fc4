"""SIFT on real images with a known homography, compared with scikit-image's feature.SIFT."""
import numpy as np
import pytest
from skimage import color, data, feature, transform

from classic.sift import SIFT, match_descriptors
from tinygrad_cv.backend import to_device, to_numpy


def _rotated_scaled(img, angle=30, scale=0.7):
    h, w = img.shape
    c = np.array([w / 2, h / 2])
    T = (transform.SimilarityTransform(translation=-c)
         + transform.SimilarityTransform(scale=scale, rotation=np.deg2rad(angle))
         + transform.SimilarityTransform(translation=c))
    return transform.warp(img, T.inverse, order=1), T      # T maps (x, y) in img to img2


def _correct(k1, k2, matches, T):
    p1 = k1[matches[:, 0]][:, [1, 0]]
    p2 = k2[matches[:, 1]][:, [1, 0]]
    return np.linalg.norm(T(p1) - p2, axis=1) < 3


@pytest.mark.parametrize("name", ["camera", pytest.param("astronaut", marks=pytest.mark.slow)])
def test_rotation_scale_matches_beat_skimage(name, device):
    img = getattr(data, name)()
    img = color.rgb2gray(img) if img.ndim == 3 else img / 255.0
    img2, T = _rotated_scaled(img)
    k1, d1 = SIFT().detect_and_extract(to_device(img, device))
    k2, d2 = SIFT().detect_and_extract(to_device(img2, device))
    assert type(k1) is type(to_device(img, device))
    assert k1.shape[1] == 4 and d1.shape == (k1.shape[0], 128)
    m = to_numpy(match_descriptors(d1, d2, max_ratio=0.8, cross_check=True))
    ok = _correct(to_numpy(k1), to_numpy(k2), m, T)
    assert ok.mean() >= 0.8
    ref1, ref2 = feature.SIFT(), feature.SIFT()
    ref1.detect_and_extract(img)
    ref2.detect_and_extract(img2)
    mr = feature.match_descriptors(ref1.descriptors, ref2.descriptors, max_ratio=0.8, cross_check=True)
    ref_ok = np.linalg.norm(T(ref1.keypoints[mr[:, 0]][:, ::-1]) - ref2.keypoints[mr[:, 1]][:, ::-1],
                            axis=1) < 3
    assert ok.sum() >= ref_ok.sum(), (ok.sum(), ref_ok.sum())
    # scales follow the image: sigma in img2 is about 0.7 sigma in img for correct matches
    ratio = to_numpy(k2)[m[ok, 1], 2] / to_numpy(k1)[m[ok, 0], 2]
    assert abs(np.median(ratio) - 0.7) < 0.1


def test_keypoints_and_descriptor_properties():
    img = data.camera()[100:356, 150:406]
    sift = SIFT()
    kp, desc = sift.detect_and_extract(img)            # uint8 accepted
    assert len(kp) > 50
    assert np.all((kp[:, 0] >= 0) & (kp[:, 0] < 256) & (kp[:, 1] >= 0) & (kp[:, 1] < 256))
    assert np.all((kp[:, 3] >= 0) & (kp[:, 3] < 2 * np.pi)) and np.all(kp[:, 2] > 0)
    np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1, atol=1e-5)
    assert desc.min() >= 0
    assert sift.positions.shape == (len(kp), 2) and sift.octaves.shape == (len(kp),)
    # detecting twice gives the same result
    kp2, desc2 = SIFT().detect_and_extract(img)
    np.testing.assert_array_equal(kp, kp2)


def test_pure_rotation_keeps_orientation_difference():
    img = data.camera()[128:384, 128:384] / 255.0
    rot = np.rot90(img).copy()                       # exact 90 degree rotation
    k1, d1 = SIFT().detect_and_extract(img)
    k2, d2 = SIFT().detect_and_extract(rot)
    m = match_descriptors(d1, d2)
    assert len(m) > 30
    dtheta = (k2[m[:, 1], 3] - k1[m[:, 0], 3]) % (2 * np.pi)
    assert np.mean(np.abs(dtheta - np.pi / 2) < 0.1) > 0.8


def test_match_descriptors_ratio_and_cross_check():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 16))
    b = np.concatenate([a[:30] + rng.normal(scale=0.01, size=(30, 16)), rng.normal(size=(20, 16))])
    m = match_descriptors(a, b, max_ratio=1.0, cross_check=False)
    assert len(m) == 50
    m = match_descriptors(a, b, max_ratio=0.8)
    assert {tuple(r) for r in m.tolist()} >= {(i, i) for i in range(30)}
    ref = feature.match_descriptors(a, b, max_ratio=0.8, cross_check=True)
    np.testing.assert_array_equal(np.asarray(m), ref)
    # a duplicate in b makes the ratio 1: the ratio test rejects it
    b2 = np.concatenate([b, b[:1]])
    m2 = match_descriptors(a, b2, max_ratio=0.8)
    assert 0 not in m2[:, 0]


def test_bad_input():
    with pytest.raises(ValueError, match="too small"):
        SIFT().detect_and_extract(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="octaves"):
        SIFT(n_octaves=8).detect_and_extract(np.zeros((64, 64)))
    with pytest.raises(ValueError, match="upsampling"):
        SIFT(upsampling=3)
    with pytest.raises(ValueError, match="descriptors"):
        match_descriptors(np.zeros((3, 128)), np.zeros((3, 64)))
    with pytest.raises(ValueError, match="shape"):
        SIFT().detect_and_extract(np.zeros((4, 4, 4, 4)))
