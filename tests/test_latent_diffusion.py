"""models.latent: the SpatialTransformer against a torch twin, condition tokens and prompts,
classifier-free guidance identities, condition dropout and latent DDIM without x0 clipping."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as hst

import tinygrad_cv as tg
from tinygrad_cv import backend
from models.diffusion.schedule import NoiseSchedule
from models.diffusion.transformer import SpatialTransformer
from models.diffusion.unet import UNet
from models.latent import AutoencoderKL, ClassTokens, LatentDiffusion, parse_class, parse_prompt
from models.latent.conditioning import NULL_CLASS, tokenize

from torch_compare import assert_param_grads_match

# host arrays throughout (data built with NumPy, results read through ``.array``), so these
# tests run on the CPU also when the run's default device is the (emulated) GPU
pytestmark = pytest.mark.usefixtures("host_default_device")


# ---- the SpatialTransformer against torch ------------------------------------------------------
class TorchSpatialTransformer(torch.nn.Module):
    """The block of models.diffusion.transformer in torch.nn (same names)."""

    def __init__(self, channels, num_heads, groups, context_dim):
        super().__init__()
        nn = torch.nn
        self.norm = nn.GroupNorm(groups, channels)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.norm1 = nn.LayerNorm(channels)
        self.attn1 = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(channels)
        self.attn2 = nn.MultiheadAttention(channels, num_heads, kdim=context_dim,
                                           vdim=context_dim, batch_first=True)
        self.norm3 = nn.LayerNorm(channels)
        self.ff = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(),
                                nn.Linear(4 * channels, channels))
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context):
        n, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x)).reshape(n, c, hh * ww).transpose(1, 2)
        q = self.norm1(h)
        h = h + self.attn1(q, q, q, need_weights=False)[0]
        h = h + self.attn2(self.norm2(h), context, context, need_weights=False)[0]
        h = h + self.ff(self.norm3(h))
        return x + self.proj_out(h.transpose(1, 2).reshape(n, c, hh, ww))


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 2e-5)])
def test_spatial_transformer_matches_torch_twin(dtype, tol):
    ours = SpatialTransformer(8, 2, 4, context_dim=5)
    theirs = TorchSpatialTransformer(8, 2, 4, 5).to(getattr(torch, dtype))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters():     # proj_out too, so every parameter gets a gradient
            p.copy_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    ours.to(dtype).load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8, 2, 3)).astype(dtype)
    c = rng.standard_normal((3, 4, 5)).astype(dtype)
    w = rng.standard_normal((3, 8, 2, 3)).astype(dtype)
    ox, oc = tg.tensor(x, requires_grad=True), tg.tensor(c, requires_grad=True)
    out = ours(ox, oc)
    (out * tg.tensor(w)).sum().backward()
    tx, tc = torch.tensor(x, requires_grad=True), torch.tensor(c, requires_grad=True)
    ref = theirs(tx, tc)
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(out.array, ref.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ox.grad.array, tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(oc.grad.array, tc.grad.numpy(), rtol=tol, atol=tol)
    assert_param_grads_match(ours, theirs, dict(rtol=tol, atol=tol))


def test_spatial_transformer_starts_as_identity_and_checks_context():
    block = SpatialTransformer(8, 1, 4, context_dim=3)
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 8, 2, 2)).astype("float32"))
    np.testing.assert_array_equal(block(x, tg.zeros(2, 1, 3)).array, x.array)
    with pytest.raises(ValueError, match=r"context of shape \(2, L, 3\)"):
        block(x, tg.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="context_dim is required"):
        SpatialTransformer(8, 1, 4, None)


def test_unet_spatial_transformer_option_keeps_the_pixel_config():
    plain = UNet(in_channels=1, base_channels=8, channel_mult=(1, 2), groups=4, image_size=8)
    assert "use_spatial_transformer" not in plain.config
    with pytest.raises(ValueError, match="needs context_dim"):
        UNet(base_channels=8, groups=4, use_spatial_transformer=True)
    unet = UNet(in_channels=2, base_channels=8, channel_mult=(1, 2), groups=4, image_size=4,
                context_dim=6, use_spatial_transformer=True)
    assert unet.config["use_spatial_transformer"] is True
    blocks = [m for m in unet.modules() if isinstance(m, SpatialTransformer)]
    assert len(blocks) == 4          # at the 2x2 level: 1 down, 2 up (skips), 1 in the middle
    # rebuilt from its config: the same parameter names
    assert sorted(UNet(**unet.config).state_dict()) == sorted(unet.state_dict())


# ---- conditioning -----------------------------------------------------------------------------
def test_prompts_and_digits_condition_the_same_way():
    for text in ("the digit seven", "7", "Seven!", "a handwritten 7", "SEVEN"):
        assert parse_prompt(text) == 7
    assert tokenize("the digit seven") == tokenize("7") == [7]
    tokens = ClassTokens(6)
    ids = [parse_prompt("the digit seven"), parse_prompt("7"), parse_class("seven"),
           parse_class(7), parse_class("7")]
    ctx = tokens(np.array(ids))
    assert ctx.shape == (5, 2, 6)
    for i in range(1, 5):
        np.testing.assert_array_equal(ctx.array[i], ctx.array[0])
    assert not np.allclose(tokens(np.array([3])).array, ctx.array[:1])


@pytest.mark.parametrize("text,match", [("the digit banana", "unknown word 'banana'"),
                                        ("the digit", "names no digit"),
                                        ("seven or 3", "unknown word 'or'"),
                                        ("seven 3", "several digits")])
def test_bad_prompts(text, match):
    with pytest.raises(ValueError, match=match):
        parse_prompt(text)


@pytest.mark.parametrize("value,match", [(12, "outside 0-9"), (-1, "outside 0-9"),
                                         ("ten", "digit class 0-9"), (True, "digit class")])
def test_bad_classes(value, match):
    with pytest.raises(ValueError, match=match):
        parse_class(value)


def test_class_tokens_reject_labels_outside_range():
    with pytest.raises(ValueError, match="0..10"):
        ClassTokens(4)(np.array([11]))


# ---- LatentDiffusion --------------------------------------------------------------------------
def tiny_ldm(cond_drop=0.1, seed=0, **unet_options):
    tg.manual_seed(seed)
    ae = AutoencoderKL(latent_channels=2, base_channels=8, groups=4)
    unet = UNet(in_channels=2, base_channels=8, groups=4, image_size=4, context_dim=6,
                **{"channel_mult": (1, 2), "use_spatial_transformer": True, **unet_options})
    for p in unet.parameters():         # no zero-initialised layers: the condition matters
        values = 0.2 * np.random.default_rng(len(p.array.shape) + p.numel()).standard_normal(
            p.shape).astype(p.array.dtype)
        p.array[...] = backend.to_device(values, backend.device_of(p.array))
    return LatentDiffusion(ae, unet, NoiseSchedule("cosine", 100), cond_drop=cond_drop)


def test_guidance_identities():
    ldm = tiny_ldm().eval()
    rng = np.random.default_rng(0)
    z = tg.tensor(rng.standard_normal((4, 2, 4, 4)).astype("float32"))
    t = np.array([3, 50, 99, 0])
    y = np.array([7, 0, 3, 9])
    null = np.full(4, NULL_CLASS)
    with tg.no_grad():
        eps_u = ldm.eps(z, tg.tensor(t), null).array
        eps_c = ldm.eps(z, tg.tensor(t), y).array
        assert not np.allclose(eps_u, eps_c, atol=1e-4)      # the condition reaches the UNet
        np.testing.assert_array_equal(ldm.guided_eps(z, t, y, 0.0).array, eps_u)
        np.testing.assert_array_equal(ldm.guided_eps(z, t, y, 1.0).array, eps_c)
        np.testing.assert_allclose(ldm.guided_eps(z, t, y, 3.0).array,
                                   eps_u + 3.0 * (eps_c - eps_u), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="guidance_scale must be >= 0"):
        ldm.sample(y, guidance_scale=-1.0, steps=2, progress=False)


def doubled_batch_guided_eps(ldm, z, t, y, w):
    """The plain computation: one UNet pass over (z, z) with (y, null), then the mix."""
    n = z.shape[0]
    both = ldm.eps(tg.cat([z, z]), tg.tensor(np.concatenate([t, t])),
                   np.concatenate([y, np.full(n, NULL_CLASS)])).array
    return both[n:] + w * (both[:n] - both[n:])


@pytest.mark.parametrize("unet_options", [
    {},                                                   # cross-attention at 2x2 and middle
    {"attention_resolutions": (1,), "num_res_blocks": 2},  # the first block already reads it
    {"attention_resolutions": ()},                         # only the middle reads it
    {"use_spatial_transformer": False},                    # AttentionBlock with cross-attention
    {"channel_mult": (1, 1)},      # the default latent layout: shared skips split in the up path
])
def test_shared_prefix_guided_eps_equals_the_doubled_batch(unet_options):
    """float64: the guided eps with the shared prefix, one-row time embedding and the mix
    before the output conv equals the doubled batch to rounding, for one timestep (as in
    sampling) and mixed timesteps, several w."""
    ldm = tiny_ldm(**unet_options).eval()
    ldm.unet.to("float64")
    ldm.conditioner.to("float64")
    rng = np.random.default_rng(1)
    z = tg.tensor(rng.standard_normal((5, 2, 4, 4)))
    y = np.array([7, 0, 3, 9, NULL_CLASS])
    with tg.no_grad():
        for t in (np.full(5, 42), np.array([3, 50, 99, 0, 42])):
            for w in (3.0, 0.5, 7.5):
                ref = doubled_batch_guided_eps(ldm, z, t, y, w)
                got = ldm.guided_eps(z, t, y, w).array
                assert got.dtype == np.float64
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
        assert np.abs(ref).max() > 0.1


_LAYOUTS = {}


def _layout_ldm(mult, dtype):
    """tiny_ldm models built once per (channel_mult, dtype) for the property test."""
    if (mult, dtype) not in _LAYOUTS:
        ldm = tiny_ldm(channel_mult=mult).eval()
        ldm.unet.to(dtype)
        ldm.conditioner.to(dtype)
        _LAYOUTS[mult, dtype] = ldm
    return _LAYOUTS[mult, dtype]


@settings(max_examples=12, deadline=None)
@given(n=hst.integers(1, 4), w=hst.floats(0.01, 12.0), one_timestep=hst.booleans(),
       mult=hst.sampled_from([(1, 1), (1, 2)]), dtype=hst.sampled_from(["float32", "float64"]),
       seed=hst.integers(0, 2 ** 16))
def test_guided_eps_matches_the_doubled_batch_property(n, w, one_timestep, mult, dtype, seed):
    """Batch sizes (1 included), guidance scales, one or mixed timesteps, both layouts of the
    up path (split skips or repeated ones), float32 and float64."""
    ldm = _layout_ldm(mult, dtype)
    rng = np.random.default_rng(seed)
    z = tg.tensor(rng.standard_normal((n, 2, 4, 4)).astype(dtype))
    t = np.full(n, rng.integers(0, 100)) if one_timestep else rng.integers(0, 100, n)
    y = rng.integers(0, NULL_CLASS + 1, n)
    with tg.no_grad():
        ref = doubled_batch_guided_eps(ldm, z, t, y, w)
        got = ldm.guided_eps(z, t, y, w).array
    assert got.dtype == np.dtype(dtype) and got.shape == ref.shape
    tol = 1e-12 if dtype == "float64" else 2e-5 * max(1.0, w)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def test_guided_eps_runs_the_layers_before_the_first_cross_attention_once():
    """The layers that do not see the context get N rows, the ones after it 2N; the time
    embedding of one timestep is computed for one row."""
    ldm = tiny_ldm().eval()
    rows = {}

    def spy(name, module):
        forward = module.forward

        def recorded(*args, **kwargs):
            rows.setdefault(name, []).append(args[0].shape[0])
            return forward(*args, **kwargs)
        module.forward = recorded
    spy("time_embed", ldm.unet.time_embed)
    spy("input_conv", ldm.unet.input_conv)
    spy("first_resblock", ldm.unet.down[0][0])
    spy("first_transformer_self", ldm.unet.down[2][1].attn1)
    spy("first_transformer_cross", ldm.unet.down[2][1].attn2)
    spy("middle", ldm.unet.middle[0])
    spy("out_conv", ldm.unet.out_conv)
    z = tg.tensor(np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype("float32"))
    with tg.no_grad():
        ldm.guided_eps(z, np.full(3, 7), np.array([1, 2, 3]), 3.0)
    assert rows == {"time_embed": [1], "input_conv": [3], "first_resblock": [3],
                    "first_transformer_self": [3], "first_transformer_cross": [6],
                    "middle": [6], "out_conv": [3]}


def test_guided_eps_splits_up_blocks_whose_skip_is_shared():
    """In the default latent layout the up ResBlocks whose skip comes from before the first
    cross-attention take it in two parts (its GroupNorm groups and conv share on N rows), the
    one whose skip comes after it gets the doubled concatenation."""
    ldm = tiny_ldm(channel_mult=(1, 1)).eval()
    calls = []
    for i, block in enumerate(ldm.unet.up):
        forward = block[0].forward

        def recorded(x, emb, i=i, forward=forward):
            calls.append((i, x.shape[0], x.shape[1]))
            return forward(x, emb)
        block[0].forward = recorded
    z = tg.tensor(np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype("float32"))
    with tg.no_grad():
        ldm.guided_eps(z, np.full(3, 7), np.array([1, 2, 3]), 3.0)
    assert calls == [(0, 6, 16)]


def test_spatial_transformer_forward_shared_equals_forward_on_copies():
    st = SpatialTransformer(8, 2, 4, context_dim=5).to("float64")
    for p in st.parameters():
        p.array[...] = 0.3 * np.random.default_rng(p.numel()).standard_normal(p.shape)
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((3, 8, 2, 3)))
    for copies in (1, 2, 3):
        c = tg.tensor(rng.standard_normal((3 * copies, 4, 5)))
        np.testing.assert_allclose(st.forward_shared(x, c).array,
                                   st(tg.cat([x] * copies), c).array, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"k \* 3 rows .* got \(5, 4, 5\)"):
        st.forward_shared(x, tg.tensor(rng.standard_normal((5, 4, 5))))
    with pytest.raises(ValueError, match=r"k \* 3 rows .* got \(2, 4, 5\)"):
        st.forward_shared(x, tg.tensor(rng.standard_normal((2, 4, 5))))
    with pytest.raises(ValueError, match=r"expected context of shape \(6, L, 5\), got \(6, 4, 2\)"):
        st.forward_shared(x, tg.tensor(rng.standard_normal((6, 4, 2))))


class _Seen(Exception):
    pass


def test_condition_dropout_rate_and_frozen_autoencoder():
    ldm = tiny_ldm(cond_drop=0.3)
    forward = ldm.conditioner.forward
    seen = []

    def spy(y):                           # record the labels the UNet would be given, stop
        seen.append(np.asarray(y))
        raise _Seen
    ldm.conditioner.forward = spy
    tg.manual_seed(0)
    with pytest.raises(_Seen):
        ldm.loss_latent(tg.tensor(np.zeros((4000, 2, 4, 4), dtype="float32")), np.full(4000, 4))
    labels = seen[0]
    assert set(np.unique(labels)) == {4, NULL_CLASS}
    assert abs((labels == NULL_CLASS).mean() - 0.3) < 0.03
    ldm.conditioner.forward = forward
    ldm.loss_latent(tg.tensor(np.zeros((3, 2, 4, 4), dtype="float32")), np.arange(3)).backward()
    assert all(p.grad is None for p in ldm.autoencoder.parameters())
    assert all(p.grad is not None for p in ldm.trainable_parameters())


def test_latent_ddim_has_no_x0_clipping():
    """With eps = 0 DDIM (eta 0) scales z_T by sqrt(abar_prev / abar_t) each step, so the
    latents end at z_T / sqrt(abar_first): far outside [-1, 1], never clamped."""
    ldm = tiny_ldm().eval()
    for p in ldm.unet.out_conv.parameters():
        p.array[...] = 0.0
    z = ldm.sample_latents(np.arange(6) % 10, guidance_scale=2.0, steps=4, seed=5,
                           progress=False)
    start = np.random.default_rng(5).standard_normal((6, 2, 4, 4), dtype="float32")
    first = int(np.arange(4)[::-1][0] * (100 // 4))
    expected = start / math.sqrt(float(ldm.schedule.alphas_cumprod[first]))
    np.testing.assert_allclose(backend.to_numpy(z.array), expected, rtol=1e-4)
    assert np.abs(backend.to_numpy(z.array)).max() > 5.0
    images = ldm.sample(np.arange(6) % 10, guidance_scale=2.0, steps=4, seed=5,
                        progress=False)
    assert images.shape == (6, 1, 8, 8) and float(abs(images).max()) <= 1.0


TINY_LDM = {"unet": {"base_channels": 8, "groups": 4, "context_dim": 6},
            "schedule": {"timesteps": 50},
            "training": {"batch_size": 16, "previews": 0, "warmup_steps": 0}}


@pytest.mark.parametrize("kind", [pytest.param("kl", marks=pytest.mark.slow), "vq"])
def test_train_ldm_trains_its_autoencoder_first_within_the_budget(kind, tmp_path):
    from models.latent.training import load_ldm, train_ldm

    metrics = train_ldm(tmp_path, config=dict(TINY_LDM, autoencoder_kind=kind), steps=2,
                        minutes=0.01, seed=0)
    assert metrics["steps"] >= 1 and metrics["autoencoder"]["steps"] >= 1
    assert metrics["autoencoder"]["model"] == {"kl": "vae", "vq": "vqvae"}[kind]
    assert (tmp_path / "autoencoder" / "checkpoint.safetensors").exists()
    ldm = load_ldm(str(tmp_path / "checkpoint.safetensors"))
    assert ldm.autoencoder.kind == kind and ldm.schedule.timesteps == 50
    assert ldm.autoencoder.scale_factor == metrics["autoencoder"]["scale_factor"]
    x = ldm.sample(np.array([1, 2]), guidance_scale=3.0, steps=2, seed=0, progress=False)
    assert x.shape == (2, 1, 8, 8) and np.isfinite(x.array).all()
