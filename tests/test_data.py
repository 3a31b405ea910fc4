"""tinygrad_cv.data: loaders, bundled data sets and batched augmentations (vs torch / scipy)."""
import builtins

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.data import (DataLoader, Dataset, TensorDataset, load_digits, load_sample_image,
                              stratified_split, transforms as T, SAMPLE_IMAGES)

SETTINGS = settings(max_examples=20, deadline=None)


def host(x):
    return backend.to_numpy(x.array if isinstance(x, tg.Tensor) else x)


# ---- DataLoader -------------------------------------------------------------------------------
def _tensor_dataset(n=23):
    x = tg.Tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2))
    y = tg.Tensor(np.arange(n))
    return TensorDataset(x, y)


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_batches_cover_dataset(drop_last):
    ds = _tensor_dataset(23)
    loader = DataLoader(ds, batch_size=5, shuffle=True, drop_last=drop_last, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == (4 if drop_last else 5)
    sizes = [b[1].shape[0] for b in batches]
    assert sizes == ([5] * 4 if drop_last else [5, 5, 5, 5, 3])
    labels = np.concatenate([host(b[1]) for b in batches])
    assert len(set(labels.tolist())) == len(labels)
    if not drop_last:
        assert sorted(labels.tolist()) == list(range(23))
    for xb, yb in batches:  # rows stay paired
        np.testing.assert_array_equal(host(xb)[:, 0], 2 * host(yb))


def test_loader_no_shuffle_keeps_order():
    labels = np.concatenate([host(y) for _, y in DataLoader(_tensor_dataset(10), batch_size=4)])
    np.testing.assert_array_equal(labels, np.arange(10))


def test_loader_seeded_orders_are_reproducible_and_change_per_epoch():
    ds = _tensor_dataset(50)

    def orders(loader, epochs):
        return [np.concatenate([host(y) for _, y in loader]) for _ in range(epochs)]

    a = orders(DataLoader(ds, batch_size=7, shuffle=True, seed=1), 3)
    b = orders(DataLoader(ds, batch_size=7, shuffle=True, seed=1), 3)
    c = orders(DataLoader(ds, batch_size=7, shuffle=True, seed=2), 1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])
    # resuming at epoch 2 (set_epoch / state_dict) replays that epoch's order
    resumed = DataLoader(ds, batch_size=7, shuffle=True, seed=99)
    state = DataLoader(ds, batch_size=7, shuffle=True, seed=1).state_dict()
    resumed.load_state_dict(state)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(orders(resumed, 1)[0], a[2])


def test_loader_seed_none_follows_manual_seed():
    ds = _tensor_dataset(30)
    tg.manual_seed(5)
    a = np.concatenate([host(y) for _, y in DataLoader(ds, 8, shuffle=True)])
    tg.manual_seed(5)
    b = np.concatenate([host(y) for _, y in DataLoader(ds, 8, shuffle=True)])
    np.testing.assert_array_equal(a, b)


def test_loader_generic_dataset_collates():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.full((2, 2), i, dtype=np.float32), i, float(i) / 2

    batches = list(DataLoader(Squares(), batch_size=3))
    assert [b[0].shape for b in batches] == [(3, 2, 2), (3, 2, 2), (1, 2, 2)]
    # torch's default_collate: Python ints -> int64, Python floats -> float64
    assert batches[0][1].dtype == np.int64 and batches[0][2].dtype == np.float64
    np.testing.assert_array_equal(host(batches[1][1]), [3, 4, 5])
    np.testing.assert_allclose(host(batches[1][2]), [1.5, 2.0, 2.5])


def test_loader_batches_on_device(device):
    ds = _tensor_dataset(9)
    saved = tg.get_default_device()
    tg.set_default_device(device)
    try:
        xb, yb = next(iter(DataLoader(ds, batch_size=4, shuffle=True, seed=0)))
    finally:
        tg.set_default_device(saved)       # (the run's default: cuda under the emulator)
    assert xb.device == device and yb.device == device


def test_dataset_errors():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(tg.zeros(3, 2), tg.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_tensor_dataset(3), batch_size=0)
    with pytest.raises(NotImplementedError):
        len(Dataset())


def test_tensor_dataset_transform_applies_to_batches():
    ds = TensorDataset(tg.ones(6, 1, 2, 2), tg.zeros(6), transform=T.Normalize(0.5, 0.25))
    xb, _ = next(iter(DataLoader(ds, batch_size=6)))
    np.testing.assert_allclose(host(xb), 2.0)
    assert ds[0][0].shape == (1, 2, 2)


# ---- bundled data -----------------------------------------------------------------------------
def test_load_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits as sk_digits

    x, y = load_digits()
    ref = sk_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(host(x)[:, 0], ref.images / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(host(y), ref.target)
    assert host(x).min() == 0.0 and host(x).max() == 1.0


def test_digits_split_is_fixed_stratified_and_disjoint():
    from sklearn.datasets import load_digits as sk_digits

    labels = sk_digits().target
    parts = stratified_split(labels, (0.6, 0.2, 0.2), 0)
    again = stratified_split(labels, (0.6, 0.2, 0.2), 0)
    for p, q in zip(parts, again):
        np.testing.assert_array_equal(p, q)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(len(labels)))
    counts = np.bincount(labels)
    for part, frac in zip(parts, (0.6, 0.2, 0.2)):
        per_class = np.bincount(labels[part], minlength=10)
        assert np.all(np.abs(per_class - frac * counts) <= 1)
        assert not np.all(np.diff(labels[part]) >= 0)  # shuffled, not sorted by class
    sizes = []
    full_x, _ = load_digits()
    for split, idx in zip(("train", "val", "test"), parts):
        x, y = load_digits(split)
        sizes.append(x.shape[0])
        np.testing.assert_array_equal(host(y), labels[idx])
        np.testing.assert_array_equal(host(x), host(full_x)[idx])
    assert sizes == [1078, 360, 359]


def test_load_digits_resize_and_bad_split():
    x, _ = load_digits("val", resize=16)
    assert x.shape == (360, 1, 16, 16)
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        load_digits("training")


def test_missing_data_extra_is_named(monkeypatch):
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    import importlib

    real_module_import = importlib.import_module

    def no_sklearn_module(name, *args):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_module_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_sklearn_module)
    with pytest.raises(ImportError, match=r"tinygrad_cv\[data\]"):
        load_digits()
    with pytest.raises(ImportError, match=r"tinygrad_cv\[data\]"):
        load_sample_image("china")


def test_load_sample_images():
    china = load_sample_image("china.jpg")
    assert china.shape == (427, 640, 3) and china.dtype == np.float32
    assert 0.0 <= china.min() and china.max() <= 1.0
    camera = load_sample_image("camera")
    assert camera.shape == (512, 512) and camera.max() == 1.0
    assert "coins" in SAMPLE_IMAGES and "flower" in SAMPLE_IMAGES
    with pytest.raises(ValueError, match="valid names: .*camera.*china"):
        load_sample_image("lena")


# ---- transforms: deterministic ----------------------------------------------------------------
@SETTINGS
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(2, 12), w=st.integers(2, 12),
       oh=st.integers(1, 20), ow=st.integers(1, 20), seed=st.integers(0, 1000))
def test_resize_matches_torch_bilinear(n, c, h, w, oh, ow, seed):
    x = np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)
    ours = T.resize(x, (oh, ow))
    ref = TF.interpolate(torch.from_numpy(x), size=(oh, ow), mode="bilinear",
                         align_corners=False).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@SETTINGS
@given(size=st.integers(3, 10), angle=st.floats(-40, 40), tx=st.floats(-2, 2),
       ty=st.floats(-2, 2), scale=st.floats(0.7, 1.3), seed=st.integers(0, 1000))
def test_affine_sample_matches_torch_grid_sample(size, angle, tx, ty, scale, seed):
    x = np.random.default_rng(seed).random((1, 2, size, size)).astype(np.float64)
    a = np.deg2rad(angle)
    lin = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * scale
    mat = np.concatenate([lin, [[tx], [ty]]], axis=1)[None]
    ours = T.affine_sample(x, mat)
    theta = mat.copy()
    theta[:, :, 2] *= 2.0 / size  # pixels -> normalised [-1, 1] units
    grid = TF.affine_grid(torch.from_numpy(theta), (1, 2, size, size), align_corners=False)
    ref = TF.grid_sample(torch.from_numpy(x), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_normalize_grayscale_compose():
    rng = np.random.default_rng(0)
    x = rng.random((4, 3, 5, 6)).astype(np.float32)
    out = T.Normalize((0.5, 0.4, 0.3), (0.2, 0.1, 0.3))(x)
    np.testing.assert_allclose(out[:, 1], (x[:, 1] - 0.4) / 0.1, rtol=1e-6)
    g = T.Grayscale(3)(x)
    np.testing.assert_allclose(g[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2],
                               rtol=1e-6)
    np.testing.assert_array_equal(g[:, 0], g[:, 2])
    both = T.Compose([T.Grayscale(1), T.Normalize(0.5, 0.5)])(x)
    np.testing.assert_allclose(both, (T.Grayscale(1)(x) - 0.5) / 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="Grayscale: expected 3 channels"):
        T.Grayscale()(x[:, :1])
    with pytest.raises(ValueError, match="Normalize: 3 means"):
        T.Normalize((0.5, 0.4, 0.3), (0.2, 0.1, 0.3))(x[:, :2])


def test_transforms_keep_kind_and_accept_single_images():
    x = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    out = T.RandomAffine(10, translate=(0.1, 0.1), seed=0)(x)
    assert isinstance(out, np.ndarray) and out.shape == (3, 8, 8)
    t = T.RandomCrop(8, padding=2, seed=0)(tg.Tensor(x))
    assert isinstance(t, tg.Tensor) and t.shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"RandomCrop: expected an image batch"):
        T.RandomCrop(2)(np.zeros((4, 4)))


# ---- transforms: random -----------------------------------------------------------------------
def test_random_crop_windows_of_padded_image():
    rng = np.random.default_rng(2)
    x = rng.random((16, 1, 5, 5)).astype(np.float32)
    out = T.RandomCrop(5, padding=2, seed=3)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for i in range(16):
        found = [(t, l) for t in range(5) for l in range(5)
                 if np.array_equal(padded[i, :, t:t + 5, l:l + 5], out[i])]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 3  # per-image offsets
    np.testing.assert_array_equal(T.RandomCrop(5)(x), x)


def test_flips():
    x = np.random.default_rng(0).random((6, 2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x), x[..., ::-1, :])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    mixed = T.RandomHorizontalFlip(p=0.5, seed=0)(np.random.default_rng(1).random((64, 1, 2, 3)))
    assert mixed.shape == (64, 1, 2, 3)


def test_affine_identity_and_rotation_by_90_degrees():
    x = np.random.default_rng(0).random((3, 1, 7, 7))
    np.testing.assert_allclose(T.RandomAffine(0)(x), x, atol=1e-12)
    rot = T.RandomRotation((90, 90))(x)
    # positive angle: counter-clockwise in (x right, y down) pixel axes -> np.rot90 with k=-1
    np.testing.assert_allclose(rot, np.rot90(x, k=-1, axes=(2, 3)), atol=1e-9)


def test_gaussian_noise_statistics_and_seeding():
    x = np.zeros((64, 1, 16, 16), dtype=np.float32)
    noisy = T.GaussianNoise(0.3, seed=0)(x)
    assert noisy.dtype == np.float32
    assert abs(noisy.mean()) < 0.01 and abs(noisy.std() - 0.3) < 0.01
    np.testing.assert_array_equal(noisy, T.GaussianNoise(0.3, seed=0)(x))
    clipped = T.GaussianNoise(0.3, clip=True, seed=0)(x)
    assert clipped.min() == 0.0


@pytest.mark.parametrize("sigma", [0.6, 1.3])
def test_gaussian_blur_matches_scipy(sigma):
    x = np.random.default_rng(0).random((2, 3, 11, 9))
    out = T.GaussianBlur(5, sigma=(sigma, sigma))(x)
    ref = scipy.ndimage.gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode="mirror", radius=2)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    with pytest.raises(ValueError, match="odd"):
        T.GaussianBlur(4)


def test_color_jitter():
    x = np.random.default_rng(0).random((8, 3, 4, 4)).astype(np.float32) * 0.5
    np.testing.assert_allclose(T.ColorJitter()(x), x, atol=1e-6)
    bright = T.ColorJitter(brightness=(2.0, 2.0))(x)
    np.testing.assert_allclose(bright, np.clip(2 * x, 0, 1), atol=1e-6)
    gray = T.ColorJitter(saturation=(0.0, 0.0))(x)
    np.testing.assert_allclose(gray[:, 0], gray[:, 1], rtol=1e-5, atol=1e-6)
    out = T.ColorJitter(0.4, 0.4, 0.4, seed=1)(x)
    assert out.min() >= 0 and out.max() <= 1 and not np.allclose(out, x)
    g = T.RandomGrayscale(p=1.0)(x)
    np.testing.assert_array_equal(g[:, 0], g[:, 2])


def test_random_resized_crop_full_box_is_resize():
    x = np.random.default_rng(0).random((2, 1, 6, 6))
    out = T.RandomResizedCrop(6, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    np.testing.assert_allclose(out, x, atol=1e-12)
    out = T.RandomResizedCrop((4, 5), seed=0)(x)
    assert out.shape == (2, 1, 4, 5)
    assert out.min() >= x.min() - 1e-12 and out.max() <= x.max() + 1e-12


def test_random_transforms_follow_manual_seed_and_generator():
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    aug = T.Compose([T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5),
                     T.RandomCrop(8, padding=1), T.GaussianNoise(0.1)])
    tg.manual_seed(7)
    a = aug(x)
    tg.manual_seed(7)
    b = aug(x)
    np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(3)
    c = T.GaussianNoise(0.1, generator=gen)(x)
    d = T.GaussianNoise(0.1, generator=np.random.default_rng(3))(x)
    np.testing.assert_array_equal(c, d)


def test_transforms_on_device(device, to_device):
    x = to_device(np.random.default_rng(0).random((4, 3, 8, 8)).astype(np.float32))
    aug = T.Compose([T.RandomResizedCrop(6, seed=0), T.RandomHorizontalFlip(seed=0),
                     T.RandomAffine(10, translate=(0.1, 0.1), seed=0), T.GaussianBlur(3, seed=0),
                     T.ColorJitter(0.2, 0.2, 0.2, seed=0), T.GaussianNoise(0.01, seed=0),
                     T.Normalize(0.5, 0.5)])
    out = aug(tg.Tensor(x))
    assert out.device == device and out.shape == (4, 3, 6, 6)
    assert backend.device_of(T.resize(x, 5)) == device
