"""models.diffusion.unet.UNet against a torch twin (same structure, names and weights)."""
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from models.diffusion.unet import UNet, timestep_embedding
from tinygrad_cv import backend
from tinygrad_cv.testing import gradcheck
from torch_unet import TorchUNet


# ---- helpers --------------------------------------------------------------------------------------
TINY = dict(in_channels=2, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
            attention_resolutions=(1, 2), num_classes=3, context_dim=5, out_channels=3,
            groups=4, image_size=4, num_heads=2)


def twins(config, dtype, seed=0):
    """(ours, torch's) with the same random weights (every parameter drawn from N(0, 0.3^2),
    so the zero-initialised layers pass gradients too)."""
    ours = UNet(**config)
    theirs = TorchUNet(**ours.config).to(getattr(torch, dtype))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    ours.to(dtype).load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    return ours, theirs


def inputs(config, n, size, dtype, seed=0, length=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, config["in_channels"], size, size)).astype(dtype)
    t = rng.integers(0, 1000, n)
    y = rng.integers(0, config["num_classes"], n) if config.get("num_classes") else None
    c = (rng.standard_normal((n, length, config["context_dim"])).astype(dtype)
         if config.get("context_dim") else None)
    return x, t, y, c


def run_ours(model, x, t, y, c, weight, device=None):
    ox = tg.tensor(x, requires_grad=True, device=device)
    oc = None if c is None else tg.tensor(c, requires_grad=True, device=device)
    out = model(ox, tg.tensor(t, device=device), None if y is None else tg.tensor(y, device=device),
                oc)
    (out * tg.tensor(weight, device=device)).sum().backward()
    return out, ox, oc


def run_torch(model, x, t, y, c, weight):
    tx = torch.tensor(x, requires_grad=True)
    tc = None if c is None else torch.tensor(c, requires_grad=True)
    out = model(tx, torch.tensor(t), None if y is None else torch.tensor(y), tc)
    (out * torch.tensor(weight)).sum().backward()
    return out, tx, tc


def close(a, b, dtype, what):
    a = backend.to_numpy(a.array if hasattr(a, "_tensor_marker") else a)
    b = b.detach().numpy()
    scale = max(np.abs(b).max(), 1e-12)
    tol = 1e-10 if dtype == "float64" else 2e-5
    err = np.abs(a - b).max() / scale
    assert err <= tol, f"{what}: max error {err:.3g} relative to max |torch| {scale:.3g}"


# ---- the twin tests -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_output_and_every_gradient_match_torch(dtype, mode, device):
    # dropout is random in training, so the training twin has none; in eval it must be inert
    config = dict(TINY, dropout=0.0 if mode == "train" else 0.3)
    ours, theirs = twins(config, dtype)
    ours.to(device)
    getattr(ours, mode)()
    getattr(theirs, mode)()
    x, t, y, c = inputs(config, 3, 4, dtype)
    weight = np.random.default_rng(1).standard_normal((3, 3, 4, 4)).astype(dtype)
    out, ox, oc = run_ours(ours, x, t, y, c, weight, device)
    assert out.device == device
    tout, tx, tc = run_torch(theirs, x, t, y, c, weight)
    close(out, tout, dtype, "output")
    close(ox.grad, tx.grad, dtype, "dL/dx")
    close(oc.grad, tc.grad, dtype, "dL/dcontext")
    theirs_params = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert sorted(names) == sorted(theirs_params)
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient reached {name}"
        close(p.grad, theirs_params[name].grad, dtype, f"dL/d{name}")


def test_larger_config_without_conditioning_matches_torch():
    """Three levels, two res blocks, attention only at the middle and the 2x2 maps, float32."""
    config = dict(in_channels=1, base_channels=16, channel_mult=(1, 2, 2), num_res_blocks=2,
                  attention_resolutions=(4,), groups=8, image_size=8)
    ours, theirs = twins(config, "float32", seed=3)
    x, t, _, _ = inputs(ours.config, 4, 8, "float32", seed=2)
    weight = np.random.default_rng(5).standard_normal((4, 1, 8, 8)).astype("float32")
    out, ox, _ = run_ours(ours, x, t, None, None, weight)
    tout, tx, _ = run_torch(theirs, x, t, None, None, weight)
    close(out, tout, "float32", "output")
    close(ox.grad, tx.grad, "float32", "dL/dx")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, "float32", f"dL/d{name}")


def test_timestep_embedding_matches_diffusers():
    from diffusers.models.embeddings import get_timestep_embedding
    t = np.array([0, 1, 17, 500, 999])
    ours = timestep_embedding(t, 32, "float64").array
    ref = get_timestep_embedding(torch.tensor(t), 32, flip_sin_to_cos=True,
                                 downscale_freq_shift=0).double().numpy()
    # diffusers forms t * f in float32 (|t f| up to 999 rad: ~6e-5 rad of rounding)
    np.testing.assert_allclose(ours, ref, atol=2e-4)
    exact = np.concatenate([np.cos(t[:, None] * 10000.0 ** (-np.arange(16) / 16)),
                            np.sin(t[:, None] * 10000.0 ** (-np.arange(16) / 16))], axis=1)
    np.testing.assert_allclose(ours, exact, rtol=1e-12, atol=1e-12)
    odd = timestep_embedding(t, 33, "float32").array
    assert odd.shape == (5, 33) and odd.dtype == np.float32
    np.testing.assert_array_equal(odd[:, 32], 0.0)


def test_fresh_model_predicts_zero_and_no_grad_forward_matches():
    model = UNet(**dict(TINY, num_classes=None, context_dim=None))
    x, t, _, _ = inputs(model.config, 2, 4, "float32")
    out = model(tg.tensor(x), tg.tensor(t))
    assert out.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(out.detach().numpy(), 0.0)   # the zero-initialised output conv
    ours, _ = twins(dict(TINY, num_classes=None, context_dim=None), "float32")
    ours.eval()
    with_grad = ours(tg.tensor(x), tg.tensor(t))
    with tg.no_grad():
        without = ours(tg.tensor(x), tg.tensor(t))
    assert without.creator is None
    np.testing.assert_allclose(without.numpy(), with_grad.detach().numpy(), rtol=1e-6, atol=1e-6)


# ---- shapes and configuration ---------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(1, 2),
       st.lists(st.sampled_from([1, 2, 4]), max_size=3, unique=True), st.integers(1, 3),
       st.integers(1, 2), st.integers(1, 3))
def test_output_shape_and_config_round_trip(mult, blocks, attn, in_ch, size_mult, n):
    size = 2 ** (len(mult) - 1) * size_mult
    model = UNet(in_channels=in_ch, base_channels=4, channel_mult=tuple(mult),
                 num_res_blocks=blocks, attention_resolutions=tuple(attn), groups=2,
                 image_size=size)
    x = tg.randn(n, in_ch, size, size)
    out = model(x, tg.tensor(np.arange(n) * 7))
    assert out.shape == (n, in_ch, size, size)
    config = json.loads(json.dumps(model.config))
    rebuilt = UNet(**config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}
    attentions = sum(1 for name, _ in model.named_modules() if name.endswith(".attn"))
    levels_with_attention = [2 ** i for i in range(len(mult)) if 2 ** i in attn]
    assert attentions == 1 + len(levels_with_attention) * (2 * blocks + 1)


def test_parameter_count_of_default_config():
    model = UNet()
    assert model.num_parameters() == sum(
        p.numel() for p in TorchUNet(**model.config).parameters())


@pytest.mark.parametrize("kwargs, message", [
    (dict(base_channels=12, groups=8), "divisible by groups"),
    (dict(channel_mult=()), "channel_mult"),
    (dict(image_size=6), "image_size=6"),
    (dict(num_res_blocks=0), "num_res_blocks"),
    (dict(dropout=1.0), "dropout"),
    (dict(num_heads=3), "num_heads"),
])
def test_bad_configuration_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UNet(**kwargs)


def test_bad_inputs_are_named():
    model = UNet(**TINY)
    x, t, y, c = (tg.tensor(a) for a in inputs(TINY, 2, 4, "float32"))
    with pytest.raises(ValueError, match="expected x of shape"):
        model(tg.randn(2, 1, 4, 4), t, y, c)
    with pytest.raises(ValueError, match="divisible by 2"):
        model(tg.randn(2, 2, 3, 3), t, y, c)
    with pytest.raises(ValueError, match="expected t of shape"):
        model(x, tg.tensor(np.arange(3)), y, c)
    with pytest.raises(ValueError, match="class-conditional"):
        model(x, t, None, c)
    with pytest.raises(ValueError, match="context of shape"):
        model(x, t, y, None)
    with pytest.raises(ValueError, match="context of shape"):
        model(x, t, y, tg.randn(2, 3, 4))
    plain = UNet(**dict(TINY, num_classes=None, context_dim=None))
    with pytest.raises(ValueError, match="without num_classes"):
        plain(x, t, y)
    with pytest.raises(ValueError, match="without context_dim"):
        plain(x, t, None, c)


# ---- gradcheck ------------------------------------------------------------------------------------
def test_gradcheck_tiny_unet_float64():
    """Finite differences of a tiny float64 UNet in x, the context and a few parameters (one of
    each kind: attention projections, a convolution, a group norm, the label embedding)."""
    config = dict(in_channels=1, base_channels=4, channel_mult=(1, 2), num_res_blocks=1,
                  attention_resolutions=(2,), num_classes=2, context_dim=3, groups=2,
                  image_size=4, num_heads=2)
    model, _ = twins(config, "float64", seed=7)
    owners = [(model.middle[1].attn, "in_proj_weight"), (model.middle[1].cross_attn, "k_proj_weight"),
              (model.down[0][0].out_conv, "weight"), (model.up[0][0].in_norm, "weight"),
              (model.label_embed, "weight")]
    params = [getattr(m, name) for m, name in owners]
    x, t, y, c = inputs(config, 2, 4, "float64", seed=4, length=2)
    t, y = tg.tensor(t), tg.tensor(y)

    def fn(xx, cc, *ps):
        saved = [m._parameters[name] for m, name in owners]
        for (m, name), p in zip(owners, ps):
            m._parameters[name] = p
        try:
            return model(xx, t, y, cc)
        finally:
            for (m, name), p in zip(owners, saved):
                m._parameters[name] = p

    args = [tg.tensor(x, requires_grad=True), tg.tensor(c, requires_grad=True)]
    args += [tg.tensor(p.array.copy(), requires_grad=True) for p in params]
    assert gradcheck(fn, args, atol=1e-6, rtol=1e-4)
