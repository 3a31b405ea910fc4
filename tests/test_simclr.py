"""models.simclr: NT-Xent against a direct implementation of the notes' formula (values and
gradients), the two-view augmentation on the backend, the encoder against a torch twin with
copied weights, the linear probe and PCA against scikit-learn, the PNG scatter plot, bad
input, and a short resumable run whose encoder ``load_model`` gives back."""
import math

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend, nn
from tinygrad_cv.nn import functional as F
from models import simclr
from models.simclr import (ConvEncoder, RandomCutout, SimCLR, TwoViewAugment, linear_probe,
                           pca_2d, select_labelled)
from models.simclr.plot import CLASS_COLOURS, encode_png, scatter_image

from torch_compare import assert_param_grads_match, compare_layer, copy_weights, host


def nt_xent_direct(z, temperature):
    """The notes' l(i, j) = -log exp(sim(z_i, z_j)/t) / sum_{k != i} exp(sim(z_i, z_k)/t),
    averaged over the 2N views, with z_i's positive the other view of its image (torch)."""
    two_n = z.shape[0]
    n = two_n // 2
    total = 0.0
    for i in range(two_n):
        j = (i + n) % two_n
        sim = lambda a, b: (z[a] @ z[b]) / (z[a].norm() * z[b].norm())  # noqa: E731
        denominator = sum(torch.exp(sim(i, k) / temperature) for k in range(two_n) if k != i)
        total = total - torch.log(torch.exp(sim(i, j) / temperature) / denominator)
    return total / two_n


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_equals_the_notes_formula(temperature):
    rng = np.random.default_rng(int(temperature * 10))
    z1, z2 = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    ours1, ours2 = tg.Tensor(z1, requires_grad=True), tg.Tensor(z2, requires_grad=True)
    loss = F.nt_xent_loss(ours1, ours2, temperature=temperature)
    zt = torch.tensor(np.concatenate([z1, z2]), requires_grad=True)
    expected = nt_xent_direct(zt, temperature)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-10)
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(np.concatenate([host(ours1.grad), host(ours2.grad)]),
                               zt.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 8])
def test_identical_views_give_log_2n_minus_1_at_temperature_1(n):
    z = np.tile(np.array([[0.3, -1.2, 2.0]]), (n, 1))
    loss = F.nt_xent_loss(tg.Tensor(z), tg.Tensor(z), temperature=1.0).item()
    assert loss == pytest.approx(math.log(2 * n - 1), rel=1e-12, abs=1e-12)


def test_two_views_are_random_in_range_and_reproducible():
    x, _ = tg.data.load_digits("test")
    images = x.array[:64]
    tg.manual_seed(5)
    v1, v2 = TwoViewAugment()(images)
    assert v1.shape == v2.shape == images.shape and v1.dtype == images.dtype
    assert 0.0 <= v1.min() and v1.max() <= 1.0
    assert not np.allclose(v1, v2) and not np.allclose(v1, images)
    tg.manual_seed(5)
    w1, w2 = TwoViewAugment()(images)
    np.testing.assert_array_equal(v1, w1)
    np.testing.assert_array_equal(v2, w2)
    # the views still look like their digits: close to the image in correlation on average
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(images, v1)]
    assert np.mean(corr) > 0.4
    t1, _ = TwoViewAugment()(tg.Tensor(images))
    assert isinstance(t1, tg.Tensor)


def test_cutout_blanks_one_square_with_probability_p():
    ones = np.ones((200, 1, 8, 8), dtype=np.float32)
    out = RandomCutout(3, p=1.0, seed=0)(ones)
    blanked = (out == 0).sum(axis=(1, 2, 3))
    assert blanked.max() == 9 and blanked.min() >= 2   # a 3x3 square, clipped at the border
    for img in out[:20, 0]:
        rows, cols = np.nonzero(img == 0)
        assert rows.max() - rows.min() <= 2 and cols.max() - cols.min() <= 2
        assert (img == 0).sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert (RandomCutout(3, p=0.0, seed=0)(ones) == 1).all()
    half = (RandomCutout(3, p=0.5, seed=0)(ones) == 0).any(axis=(1, 2, 3)).mean()
    assert 0.35 < half < 0.65
    with pytest.raises(ValueError, match="size must be a positive integer"):
        RandomCutout(0)
    with pytest.raises(ValueError, match=r"expected an image batch \(N, C, H, W\)"):
        RandomCutout(2)(np.ones((8, 8)))


class TorchEncoder(torch.nn.Module):
    def __init__(self, c1, c2, c3):
        super().__init__()
        tn = torch.nn
        self.net = tn.Sequential(
            tn.Conv2d(1, c1, 3, padding=1, bias=False), tn.BatchNorm2d(c1), tn.ReLU(),
            tn.Conv2d(c1, c2, 3, padding=1, bias=False), tn.BatchNorm2d(c2), tn.ReLU(),
            tn.MaxPool2d(2),
            tn.Conv2d(c2, c3, 3, padding=1, bias=False), tn.BatchNorm2d(c3), tn.ReLU(),
            tn.AdaptiveAvgPool2d(1), tn.Flatten())

    def forward(self, x):
        return self.net(x)


class TorchSimCLR(torch.nn.Module):
    def __init__(self, encoder, hidden, projection):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Module()
        self.head.net = torch.nn.Sequential(torch.nn.Linear(encoder.net[7].out_channels, hidden),
                                            torch.nn.ReLU(), torch.nn.Linear(hidden, projection))

    def forward(self, x):
        return self.head.net(self.encoder(x))


def test_encoder_matches_torch_twin():
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(0, 1, (6, 1, 8, 8))
    compare_layer(ConvEncoder(1, (4, 6, 8)), TorchEncoder(4, 6, 8), x, "float64", steps=2)


def test_simclr_loss_and_gradients_match_torch_twin():
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    ours = SimCLR(ConvEncoder(1, (4, 6, 8)), projection_dim=5, hidden_dim=7).double()
    theirs = TorchSimCLR(TorchEncoder(4, 6, 8), 7, 5).double()
    copy_weights(ours, theirs)
    v1, v2 = rng.uniform(0, 1, (2, 4, 1, 8, 8))
    lo = F.nt_xent_loss(ours(tg.Tensor(np.concatenate([v1, v2]))), temperature=0.5)
    lt = nt_xent_direct(theirs(torch.tensor(np.concatenate([v1, v2]))), 0.5)
    lo.backward()
    lt.backward()
    assert lo.item() == pytest.approx(lt.item(), rel=1e-9)
    assert_param_grads_match(ours, theirs, dict(rtol=1e-7, atol=1e-10))


def test_linear_probe_matches_logistic_regression_and_selects_labels():
    sklearn_lm = pytest.importorskip("sklearn.linear_model")
    (xtr, ytr), (xte, yte) = simclr.digits_splits()
    probe = linear_probe(nn.Flatten(), ((xtr, ytr), (xte, yte)), None)
    f = lambda x: x.reshape(x.shape[0], -1)  # noqa: E731
    mean, std = f(xtr).mean(0), f(xtr).std(0) + 1e-6
    ref = sklearn_lm.LogisticRegression(C=1 / (2 * 1e-3 * len(ytr)), max_iter=3000)
    ref.fit((f(xtr) - mean) / std, ytr)
    ref_acc = ref.score((f(xte) - mean) / std, yte)
    assert probe.num_labelled == len(ytr) and abs(probe.accuracy - ref_acc) <= 0.015
    few = linear_probe(nn.Flatten(), ((xtr, ytr), (xte, yte)), 5, seed=1)
    assert few.num_labelled == 50 and 0.6 < few.accuracy < probe.accuracy
    idx = select_labelled(ytr, 3, seed=2)
    assert np.array_equal(np.bincount(ytr[idx]), np.full(10, 3))
    assert np.array_equal(idx, select_labelled(ytr, 3, seed=2))
    with pytest.raises(ValueError, match="labels_per_class must be positive"):
        select_labelled(ytr, 0)
    with pytest.raises(ValueError, match="has only .* fewer than labels_per_class=500"):
        select_labelled(ytr, 500)
    with pytest.raises(ValueError, match=r"data must be \(\(train_images, train_labels\)"):
        linear_probe(nn.Flatten(), (xtr, ytr), 5)
    with pytest.raises(ValueError, match="1078 training images but 10 labels"):
        linear_probe(nn.Flatten(), ((xtr, ytr[:10]), (xte, yte)), None)


def test_pca_2d_matches_scikit_learn_up_to_sign():
    decomposition = pytest.importorskip("sklearn.decomposition")
    x = np.random.default_rng(3).standard_normal((40, 6)) @ np.diag([5, 3, 1, 1, 0.5, 0.1])
    ours = pca_2d(x)
    ref = decomposition.PCA(2).fit_transform(x)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-10)
    for k in range(2):
        assert np.allclose(ours[:, k], ref[:, k]) or np.allclose(ours[:, k], -ref[:, k])


def test_scatter_plot_png_decodes_to_the_drawn_image(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    points = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.2]])
    image = scatter_image(points, np.array([0, 3, 9]), size=(100, 160))
    assert image.shape == (100, 160, 3) and image.dtype == np.uint8
    for c in (0, 3, 9):   # each class's colour is drawn (points and legend)
        assert (image == CLASS_COLOURS[c]).all(axis=2).sum() >= 13
    path = tmp_path / "p.png"
    path.write_bytes(encode_png(image))
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), image)
    gray = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
    path.write_bytes(encode_png(gray))
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im), gray)
    with pytest.raises(ValueError, match=r"expected points \(N, 2\) and labels \(N,\)"):
        scatter_image(points, np.array([0, 1]))
    with pytest.raises(ValueError, match="labels must be in"):
        scatter_image(points, np.array([0, 1, 10]))
    with pytest.raises(ValueError, match="encode_png: expected uint8"):
        encode_png(image.astype(np.float32))


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match=r"ConvEncoder: expected images \(N, 1, H, W\), got "
                                         r"\(2, 3, 8, 8\)"):
        ConvEncoder()(tg.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="out_features"):
        SimCLR(nn.Flatten())
    with pytest.raises(ValueError, match="temperature must be positive"):
        simclr.build_simclr({"training": {"temperature": 0}})
    with pytest.raises(ValueError, match="unknown encoder settings"):
        simclr.build_simclr({"encoder": {"depth": 3}})


def test_short_run_resumes_exactly_and_loads_its_encoder(tmp_path):
    from models import load_model

    cfg = simclr.default_config()
    cfg["encoder"]["channels"] = [4, 4, 8]
    cfg["head"].update(hidden_dim=8, projection_dim=4)
    cfg["training"]["batch_size"] = 512           # 2 steps per epoch
    model, m = simclr.train_simclr(cfg, tmp_path / "once", epochs=2, progress=False)
    assert m["steps"] == 4 and all(np.isfinite(r["loss"]) for r in m["history"])
    simclr.train_simclr(cfg, tmp_path / "twice", epochs=1, progress=False)
    _, m2 = simclr.train_simclr(None, tmp_path / "twice", epochs=2, resume=True, progress=False)
    assert m2["steps"] == 4
    a = tg.load(str(tmp_path / "once" / "checkpoint.safetensors"))
    b = tg.load(str(tmp_path / "twice" / "checkpoint.safetensors"))
    for k in a["model"]:
        np.testing.assert_array_equal(host(a["model"][k]), host(b["model"][k]), err_msg=k)
    loaded = load_model(tmp_path / "once" / "checkpoint.safetensors")
    assert isinstance(loaded.encoder, ConvEncoder) and loaded.training is False
    x = tg.rand(3, 1, 8, 8)
    model.eval()
    np.testing.assert_allclose(host(loaded.encoder(x)), host(model.encoder(x)), rtol=1e-6)
