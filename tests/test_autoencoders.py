"""models.latent's autoencoders: the KL term against torch's closed form, the VQ
straight-through gradient, the codebook moved by its loss only, dead-code restarts, and a
short training run with its PSNR, scale factor and checkpoint."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend
from models.latent import AutoencoderKL, DiagonalGaussian, VQAutoencoder, VectorQuantizer
from models.latent.training import load_autoencoder, psnr, train_autoencoder


def test_kl_matches_torch_closed_form_and_clamps_logvar():
    rng = np.random.default_rng(0)
    mean = rng.standard_normal((3, 2, 2, 2))
    logvar = 2.0 * rng.standard_normal((3, 2, 2, 2))
    logvar[0, 0, 0, 0] = 45.0                     # clamped to 20
    om, ol = tg.tensor(mean, requires_grad=True), tg.tensor(logvar, requires_grad=True)
    kl = DiagonalGaussian(om, ol).kl()
    tm, tl = torch.tensor(mean, requires_grad=True), torch.tensor(logvar, requires_grad=True)
    q = torch.distributions.Normal(tm, (tl.clamp(-30.0, 20.0) * 0.5).exp())
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    ref = ref.reshape(3, -1).sum(1)
    np.testing.assert_allclose(kl.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    weights = rng.standard_normal(3)
    (kl * tg.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(om.grad.numpy(), tm.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ol.grad.numpy(), tl.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert ol.grad.numpy()[0, 0, 0, 0] == 0.0       # no gradient through the clamp


def test_kl_autoencoder_loss_is_reconstruction_plus_weighted_kl():
    tg.manual_seed(0)
    ae = AutoencoderKL(base_channels=8, groups=4, kl_weight=0.01, latent_channels=2)
    x = tg.tensor(np.random.default_rng(1).uniform(-1, 1, (4, 1, 8, 8)).astype("float32"))
    tg.manual_seed(5)
    loss, parts = ae.loss(x)
    tg.manual_seed(5)
    recon, posterior = ae(x)
    rec = float(((recon.array - x.array) ** 2).mean())
    assert parts["rec"] == pytest.approx(rec, rel=1e-5)
    assert parts["kl"] == pytest.approx(float(posterior.kl().array.mean()), rel=1e-5)
    assert loss.item() == pytest.approx(rec + 0.01 * parts["kl"], rel=1e-5)
    assert ae.encode_latent(x).shape == (4, 2, 4, 4)


def _quantizer():
    vq = VectorQuantizer(5, 3, beta=0.25)
    values = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    vq.codebook.weight.array[...] = backend.to_device(values, vq.codebook.weight.device)
    return vq


def test_vq_nearest_codes_and_straight_through_gradient():
    vq = _quantizer()
    z = np.random.default_rng(1).standard_normal((2, 3, 2, 2)).astype("float32")
    zt = tg.tensor(z, requires_grad=True)
    z_st, z_q, codes, _ = vq(zt)
    book = vq.codebook.weight.detach().numpy()
    flat = z.transpose(0, 2, 3, 1).reshape(-1, 3)
    expected = np.argmin(((flat[:, None] - book[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(codes.numpy().reshape(-1), expected)
    np.testing.assert_allclose(z_st.detach().numpy(), z_q.detach().numpy(), rtol=1e-6, atol=1e-6)  # forward = z_q
    # the decoder's gradient at z_q reaches the encoder output unchanged
    dec = tg.nn.Conv2d(3, 2, 1)
    w = np.random.default_rng(2).standard_normal((2, 2, 2, 2)).astype("float32")
    (dec(z_st) * tg.tensor(w)).sum().backward()
    leaf = tg.tensor(z_q.array.copy(), requires_grad=True)
    (dec(leaf) * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(zt.grad.numpy(), leaf.grad.numpy(), rtol=1e-6)
    assert vq.codebook.weight.grad is None        # nothing reaches the codebook through it


def test_codebook_moves_by_its_loss_only():
    vq = _quantizer()
    before = vq.codebook.weight.detach().numpy().copy()
    z = np.random.default_rng(3).standard_normal((2, 3, 2, 2)).astype("float32")
    zt = tg.tensor(z, requires_grad=True)
    _, _, codes, loss = vq(zt)
    np.testing.assert_array_equal(vq.codebook.weight.detach().numpy(), before)   # no moving average
    loss.backward()
    flat = z.transpose(0, 2, 3, 1).reshape(-1, 3)
    idx = codes.numpy().reshape(-1)
    # d/dE_k mean((E_k - sg z)^2) = 2 / numel * sum_{positions of k} (E_k - z)
    expected = np.zeros_like(before)
    np.add.at(expected, idx, 2.0 / z.size * (before[idx] - flat))
    np.testing.assert_allclose(vq.codebook.weight.grad.numpy(), expected, rtol=1e-5, atol=1e-7)
    # commitment: beta * 2 / numel * (z - E_k) on the encoder output
    commit = 0.25 * 2.0 / z.size * (flat - before[idx])
    np.testing.assert_allclose(zt.grad.numpy().transpose(0, 2, 3, 1).reshape(-1, 3), commit,
                               rtol=1e-5, atol=1e-7)


def test_dead_codes_restart_on_encoder_outputs():
    vq = _quantizer()
    vq.codebook.weight.array[1:] = 50.0           # every vector picks code 0
    z = tg.tensor(np.random.default_rng(4).standard_normal((2, 3, 2, 2)).astype("float32"))
    vq(z)
    assert vq.uses.array.tolist() == [8, 0, 0, 0, 0]
    moved = vq.restart_dead_codes(z, np.random.default_rng(0))
    assert moved == 4 and vq.uses.array.sum() == 0
    flat = z.numpy().transpose(0, 2, 3, 1).reshape(-1, 3)
    for k in range(1, 5):                         # each moved code sits next to an output
        assert np.min(np.abs(flat - vq.codebook.weight.detach().numpy()[k]).max(1)) < 0.1
    assert vq.restart_dead_codes(z, np.random.default_rng(0)) == 5  # no uses since


def test_vq_autoencoder_usage_and_latent_interface():
    tg.manual_seed(0)
    ae = VQAutoencoder(base_channels=8, groups=4, num_codes=8).eval()
    x = tg.tensor(np.random.default_rng(1).uniform(-1, 1, (3, 1, 8, 8)).astype("float32"))
    z = ae.encode_latent(x)
    codes = ae.quantizer.nearest(z)
    assert ae.usage(codes) == pytest.approx(len(np.unique(codes.numpy())) / 8)
    np.testing.assert_allclose(ae.decode_latent(z).detach().numpy(),
                               ae.decoder(ae.quantizer.lookup(codes)).detach().numpy())


@pytest.mark.parametrize("kind", ["kl", "vq"])
def test_short_training_run_and_checkpoint(kind, tmp_path):
    config = {"base_channels": 8, "groups": 4}
    ae, metrics = train_autoencoder(kind, tmp_path, steps=8, seed=0, config=config,
                                    training={"batch_size": 32, "restart_every": 4})
    history = metrics["history"]
    assert metrics["steps"] == 8 and history[-1]["loss"] < 1.0
    assert metrics["scale_factor"] > 0 and ae.scale_factor == metrics["scale_factor"]
    assert np.isfinite(metrics["test_psnr"]) and metrics["test_psnr"] > 5.0
    if kind == "vq":
        assert 0.0 < metrics["codebook_usage"] <= 1.0
    assert (tmp_path / "reconstruction.png").exists()
    loaded = load_autoencoder(str(tmp_path / "checkpoint.safetensors"))
    assert loaded.config == ae.config and not loaded.training
    x = tg.tensor(np.random.default_rng(0).uniform(-1, 1, (2, 1, 8, 8)).astype("float32"))
    np.testing.assert_array_equal(loaded.reconstruct(x).detach().numpy(),
                                  ae.reconstruct(x).detach().numpy())


def test_psnr():
    a = np.zeros((2, 4)); b = np.full((2, 4), 0.1)
    assert psnr(a, b) == pytest.approx(20.0)
    assert psnr(a, a) == np.inf
