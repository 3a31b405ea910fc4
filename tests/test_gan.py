"""models.gan: the losses against their closed forms and torch, finiteness at huge logits,
the two training steps leaving the other network untouched, the DCGAN networks against torch
twins with copied weights (outputs, losses, gradients), bad input, and a short resumable run."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import backend
from models import gan
from models.gan import (DCGANDiscriminator, DCGANGenerator, Discriminator, Generator,
                        discriminator_loss, discriminator_step, generator_loss, generator_step,
                        ls_discriminator_loss, ls_generator_loss)

from torch_compare import assert_param_grads_match, compare_layer, copy_weights, host

REAL = np.array([-3.0, -0.5, 0.0, 0.25, 2.0, 7.5])
FAKE = np.array([1.5, -2.0, 0.0, -0.75, 4.0, -9.0])


def _bce(x, z):
    """The notes' closed form: max(x, 0) - x z + log(1 + exp(-|x|))."""
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def _t(a, grad=False):
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_losses_equal_their_closed_forms():
    d = discriminator_loss(_t(REAL), _t(FAKE)).item()
    assert d == pytest.approx(_bce(REAL, 1).mean() + _bce(FAKE, 0).mean(), rel=1e-12)
    # the notes' -E log D(x) - E log(1 - D(G(z))) with D = sigmoid
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    assert d == pytest.approx(-np.log(sig(REAL)).mean() - np.log(1 - sig(FAKE)).mean(),
                              rel=1e-10)
    assert generator_loss(_t(FAKE)).item() == pytest.approx(-np.log(sig(FAKE)).mean(),
                                                            rel=1e-10)
    assert ls_discriminator_loss(_t(REAL), _t(FAKE)).item() == pytest.approx(
        0.5 * ((REAL - 1) ** 2).mean() + 0.5 * (FAKE ** 2).mean(), rel=1e-12)
    assert ls_generator_loss(_t(FAKE)).item() == pytest.approx(0.5 * ((FAKE - 1) ** 2).mean(),
                                                               rel=1e-12)


def test_loss_gradients_match_torch():
    tf = torch.nn.functional
    for ours, theirs in (
            (lambda r, f: discriminator_loss(r, f),
             lambda r, f: tf.binary_cross_entropy_with_logits(r, torch.ones_like(r))
             + tf.binary_cross_entropy_with_logits(f, torch.zeros_like(f))),
            (lambda r, f: generator_loss(f) + 0 * r.sum(),
             lambda r, f: tf.binary_cross_entropy_with_logits(f, torch.ones_like(f)) + 0 * r.sum()),
            (ls_discriminator_loss,
             lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()),
            (lambda r, f: ls_generator_loss(f) + 0 * r.sum(),
             lambda r, f: 0.5 * ((f - 1) ** 2).mean() + 0 * r.sum())):
        r, f = _t(REAL, True), _t(FAKE, True)
        rt = torch.tensor(REAL, requires_grad=True)
        ft = torch.tensor(FAKE, requires_grad=True)
        lo, lt = ours(r, f), theirs(rt, ft)
        lo.backward()
        lt.backward()
        assert lo.item() == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(host(r.grad), rt.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(host(f.grad), ft.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_and_gradients_finite_at_huge_logits(dtype):
    big = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    r, f = tg.Tensor(big, requires_grad=True), tg.Tensor(-big, requires_grad=True)
    loss = discriminator_loss(r, f) + generator_loss(f)
    loss.backward()
    assert np.isfinite(loss.item())
    assert np.all(np.isfinite(host(r.grad))) and np.all(np.isfinite(host(f.grad)))
    # real +1e4 / fake -1e4 is the discriminator's perfect answer: loss 0 there; the wrong
    # answers cost exactly |x| each (bce(-1e4, 1) = 1e4)
    d = discriminator_loss(tg.Tensor(big), tg.Tensor(-big)).item()
    assert d == pytest.approx(2 * 1e4 / 2, rel=1e-6)
    assert generator_loss(tg.Tensor(np.array([1e4, 1e4], dtype=dtype))).item() == 0.0
    for fn in (ls_generator_loss,):
        assert np.isfinite(fn(tg.Tensor(big)).item())


def _pair(kind):
    tg.manual_seed(0)
    cfg = gan.default_config("dcgan" if kind == "dcgan" else "gan")
    cfg["networks"].update({"base_channels": 4} if kind == "dcgan" else {"hidden_dim": 16})
    return gan.build_gan(cfg)


def _params(module):
    return {k: v.array.copy() for k, v in module.named_parameters()}


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_discriminator_step_leaves_the_generator_untouched_and_vice_versa(kind):
    g, d = _pair(kind)
    opt_g = tg.optim.Adam(g.parameters(), lr=1e-2)
    opt_d = tg.optim.Adam(d.parameters(), lr=1e-2)
    real = tg.rand(8, 1, 8, 8) * 2 - 1
    g_before, d_before = _params(g), _params(d)
    discriminator_step(g, d, opt_d, real, gan.sample_noise(8, g.noise_dim), discriminator_loss)
    assert all(p.grad is None for p in g.parameters())
    assert all(np.array_equal(v.array, g_before[k]) for k, v in g.named_parameters())
    assert any(not np.array_equal(v.array, d_before[k]) for k, v in d.named_parameters())

    d_before = _params(d)
    g_before = _params(g)
    d_grads = {k: v.grad.array.copy() for k, v in d.named_parameters()}
    generator_step(g, d, opt_g, gan.sample_noise(8, g.noise_dim), generator_loss)
    assert all(np.array_equal(v.array, d_before[k]) for k, v in d.named_parameters())
    assert all(p.requires_grad for p in d.parameters())   # unfrozen again
    assert any(not np.array_equal(v.array, g_before[k]) for k, v in g.named_parameters())
    # the frozen discriminator got no gradient from the generator's loss
    assert all(np.array_equal(v.grad.array, d_grads[k]) for k, v in d.named_parameters())


# ---- torch twins ------------------------------------------------------------------------------
class TorchDCGANGenerator(torch.nn.Module):
    def __init__(self, nz, b):
        super().__init__()
        tn = torch.nn
        self.nz = nz
        self.net = tn.Sequential(tn.ConvTranspose2d(nz, 4 * b, 2, 1, 0, bias=False),
                                 tn.BatchNorm2d(4 * b), tn.ReLU(),
                                 tn.ConvTranspose2d(4 * b, 2 * b, 4, 2, 1, bias=False),
                                 tn.BatchNorm2d(2 * b), tn.ReLU(),
                                 tn.ConvTranspose2d(2 * b, 1, 4, 2, 1), tn.Tanh())

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], self.nz, 1, 1))


class TorchDCGANDiscriminator(torch.nn.Module):
    def __init__(self, b):
        super().__init__()
        tn = torch.nn
        self.net = tn.Sequential(tn.Conv2d(1, b, 4, 2, 1), tn.LeakyReLU(0.2),
                                 tn.Conv2d(b, 2 * b, 4, 2, 1, bias=False), tn.BatchNorm2d(2 * b),
                                 tn.LeakyReLU(0.2), tn.Conv2d(2 * b, 1, 2, 1, 0))

    def forward(self, x):
        return self.net(x).reshape(x.shape[0])


def _randomise_bn(module):
    """Non-trivial BatchNorm affine parameters (the defaults 1/0 would hide mistakes)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("train", [True, False])
def test_dcgan_networks_match_torch_twins(train):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tg_g, th_g = DCGANGenerator(16, 4), TorchDCGANGenerator(16, 4)
    tg_d, th_d = DCGANDiscriminator(4), TorchDCGANDiscriminator(4)
    for th in (th_g, th_d):
        _randomise_bn(th)
        if not train:   # running statistics other than 0/1
            for m in th.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 2.0)
    compare_layer(tg_g, th_g, rng.uniform(-1, 1, (6, 16)), "float64", train=train, steps=2)
    compare_layer(tg_d, th_d, rng.uniform(-1, 1, (6, 1, 8, 8)), "float64", train=train, steps=2)


@pytest.mark.usefixtures("host_default_device")   # (host inputs / a CPU generator)
def test_dcgan_losses_and_gradients_match_torch():
    """One discriminator loss (real + detached fakes) and one generator loss through the
    twins with copied weights: same values and same parameter gradients."""
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    tg_g, th_g = DCGANGenerator(16, 4).double(), TorchDCGANGenerator(16, 4).double()
    tg_d, th_d = DCGANDiscriminator(4).double(), TorchDCGANDiscriminator(4).double()
    _randomise_bn(th_g)
    _randomise_bn(th_d)
    copy_weights(tg_g, th_g)
    copy_weights(tg_d, th_d)
    z = rng.uniform(-1, 1, (8, 16))
    x = rng.uniform(-1, 1, (8, 1, 8, 8))
    tf = torch.nn.functional
    tol = dict(rtol=1e-9, atol=1e-12)

    fake_o = tg_g(tg.Tensor(z)).detach()
    fake_t = th_g(torch.tensor(z)).detach()
    lo = discriminator_loss(tg_d(tg.Tensor(x)), tg_d(fake_o))
    st_real, st_fake = th_d(torch.tensor(x)), th_d(fake_t)
    lt = (tf.binary_cross_entropy_with_logits(st_real, torch.ones_like(st_real))
          + tf.binary_cross_entropy_with_logits(st_fake, torch.zeros_like(st_fake)))
    lo.backward()
    lt.backward()
    assert lo.item() == pytest.approx(lt.item(), rel=1e-10)
    assert_param_grads_match(tg_d, th_d, tol)
    assert all(p.grad is None for p in tg_g.parameters())

    tg_d.zero_grad()
    th_d.zero_grad()
    lo = generator_loss(tg_d(tg_g(tg.Tensor(z))))
    s = th_d(th_g(torch.tensor(z)))
    lt = tf.binary_cross_entropy_with_logits(s, torch.ones_like(s))
    lo.backward()
    lt.backward()
    assert lo.item() == pytest.approx(lt.item(), rel=1e-10)
    assert_param_grads_match(tg_g, th_g, tol)


# ---- bad input --------------------------------------------------------------------------------
def test_bad_input_gets_clear_errors():
    g, d = Generator(noise_dim=8, hidden_dim=4), Discriminator(hidden_dim=4)
    with pytest.raises(ValueError, match=r"Generator: expected noise of shape \(N, 8\), got "
                                         r"\(3, 5\)"):
        g(tg.zeros(3, 5))
    with pytest.raises(ValueError, match=r"DCGANGenerator: expected noise of shape \(N, 8\)"):
        DCGANGenerator(8, 2)(tg.zeros(3, 4))
    with pytest.raises(ValueError, match=r"Discriminator: expected images of shape "
                                         r"\(N, 1, 8, 8\), got \(2, 1, 4, 4\)"):
        d(tg.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="multiple of 4"):
        DCGANGenerator(8, 2, image_size=6)
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.sample_noise(2, 3, "cauchy")
    with pytest.raises(TypeError, match="Tensor of discriminator scores"):
        discriminator_loss(np.zeros(3), tg.zeros(3))
    with pytest.raises(ValueError, match="unknown GAN variant"):
        gan.default_config("stylegan")
    cfg = gan.default_config("gan")
    cfg["training"]["loss"] = "wasserstein"
    with pytest.raises(ValueError, match="loss must be one of"):
        gan.train_gan(cfg, "unused", epochs=1)
    with pytest.raises(ValueError, match="num must be positive"):
        gan.GANModel(g, d).sample(0)


# ---- training ---------------------------------------------------------------------------------
def _tiny_config(variant="lsgan"):
    cfg = gan.default_config(variant)
    cfg["networks"]["hidden_dim"] = 16
    cfg["training"].update(batch_size=512, preview_samples=16,    # 3 steps per epoch
                           preview_seconds=0.0)                  # a grid after every epoch
    return cfg


def test_train_gan_writes_previews_and_resumes_exactly(tmp_path):
    previews = []
    m = gan.train_gan(_tiny_config(), tmp_path / "once", epochs=2, progress=False,
                      on_samples=lambda step, images: previews.append((step, images)))
    assert m["steps"] == 6 and [r["epoch"] for r in m["history"]] == [1, 2]
    assert np.isfinite(m["final_d_loss"]) and np.isfinite(m["final_g_loss"])
    assert [s for s, _ in previews] == [3, 6]
    images = previews[-1][1]
    assert images.shape == (16, 1, 8, 8) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1

    gan.train_gan(_tiny_config(), tmp_path / "twice", epochs=1, progress=False)
    resumed = gan.train_gan(None, tmp_path / "twice", epochs=2, resume=True, progress=False)
    assert resumed["steps"] == 6
    a = tg.load(str(tmp_path / "once" / "checkpoint.safetensors"))
    b = tg.load(str(tmp_path / "twice" / "checkpoint.safetensors"))
    for net in ("generator", "discriminator"):
        for k in a[net]:
            np.testing.assert_array_equal(host(a[net][k]), host(b[net][k]), err_msg=k)

    model = gan.load_gan(a)
    assert model.training is False
    x1, x2 = model.sample(5, seed=3), model.sample(5, seed=3)
    assert x1.shape == (5, 1, 8, 8) and np.array_equal(backend.to_numpy(x1),
                                                        backend.to_numpy(x2))
