"""torch.nn's padding, pixel-shuffle, channel-dropout, instance-norm and Transformer layers,
Conv2d's padding modes and init.orthogonal_, against torch with copied weights."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
import tinygrad_cv.nn as nn
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck, gradgradcheck

from torch_compare import (assert_param_grads_match, assert_same_state_layout, compare_layer,
                           copy_weights, host)

SETTINGS = settings(max_examples=6, deadline=None)


pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


F64 = dict(rtol=1e-10, atol=1e-12)


def _pad_case(draw_shape, mode, rng):
    """Pads valid for ``mode`` on a (N, C, H, W) shape (reflect: < size, circular: <= size)."""
    h, w = draw_shape[-2:]
    limit = {"reflect": (h - 1, w - 1), "circular": (h, w)}.get(mode, (3, 3))
    return (int(rng.integers(0, limit[1] + 1)), int(rng.integers(0, limit[1] + 1)),
            int(rng.integers(0, limit[0] + 1)), int(rng.integers(0, limit[0] + 1)))


# ---- F.pad ---------------------------------------------------------------------------------------
@SETTINGS
@given(st.sampled_from(["constant", "reflect", "replicate", "circular"]),
       st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 5), st.integers(2, 5)),
       st.booleans(), st.integers(0, 2**16))
def test_pad_matches_torch(mode, shape, batched, seed):
    rng = np.random.default_rng(seed)
    shape = shape if batched else shape[1:]
    pads = _pad_case(shape, mode, rng)
    x = rng.standard_normal(shape)
    value = 1.5 if mode == "constant" else None
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = {} if value is None else dict(value=value)
    yo, yt = F.pad(xo, pads, mode, **kw), torch.nn.functional.pad(xt, pads, mode, **kw)
    np.testing.assert_allclose(host(yo), yt.detach().numpy(), **F64)
    g = rng.standard_normal(yt.shape)
    yo.backward(tg.Tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(host(xo.grad), xt.grad.numpy(), **F64)


def test_pad_constant_crops_with_negative_widths_and_1d_3d_reflect():
    x4 = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    for x, pads, mode in ((x4, (-1, 2, 0, -2), "constant"), (x4[0], (2, 1), "reflect"),
                          (x4[None], (1, 1, 1, 2, 1, 0), "replicate")):
        np.testing.assert_array_equal(
            host(F.pad(tg.Tensor(x), pads, mode)),
            torch.nn.functional.pad(torch.tensor(x), pads, mode).numpy())


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
def test_pad_gradcheck_and_second_order(mode):
    x = tg.Tensor(np.random.default_rng(0).standard_normal((1, 2, 3, 4)), requires_grad=True)
    gradcheck(lambda t: F.pad(t, (2, 1, 1, 2), mode), [x])
    gradgradcheck(lambda t: F.pad(t, (2, 1, 0, 2), mode) ** 2, [x])
    # the recorded (create_graph) backward gives the plain backward's gradient
    g = tg.Tensor(np.random.default_rng(1).standard_normal((1, 2, 5, 7)))
    recorded, = tg.autograd.grad(F.pad(x, (2, 1, 0, 2), mode), [x], g, create_graph=True)
    fast, = tg.autograd.grad(F.pad(x, (2, 1, 0, 2), mode), [x], g)
    np.testing.assert_allclose(host(recorded), host(fast), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_border_pad_equals_the_index_gather_reference(mode):
    """F.pad's sliced border padding against tinygrad_cv.pad (one index gather per axis),
    forward and backward, on 1, 2 and 3 padded dims including zero widths."""
    rng = np.random.default_rng(1)
    for shape, pads in (((2, 3, 5), (2, 3)), ((1, 2, 4, 5), (0, 3, 2, 0)),
                        ((1, 1, 3, 4, 5), (1, 2, 0, 0, 2, 1)), ((2, 3, 4), (0, 0))):
        x = rng.standard_normal(shape)
        a, b = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
        ya, yb = F.pad(a, pads, mode), tg.pad(b, pads, mode)
        np.testing.assert_array_equal(host(ya), host(yb))
        g = rng.standard_normal(ya.shape)
        ya.backward(tg.Tensor(g))
        yb.backward(tg.Tensor(g))
        np.testing.assert_allclose(host(a.grad), host(b.grad), rtol=1e-13, atol=1e-13)


def test_pad_rejects_bad_arguments():
    x = tg.randn(1, 1, 3, 3)
    with pytest.raises(ValueError, match="smaller than the size 3"):
        F.pad(x, (3, 0, 0, 0), "reflect")
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), "mirror")
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="doesn't take in value"):
        F.pad(x, (1, 1, 1, 1), "reflect", value=2.0)
    with pytest.raises(NotImplementedError, match="negative widths"):
        F.pad(x, (-1, 1, 0, 0), "replicate")
    with pytest.raises(NotImplementedError, match="4-D"):
        F.pad(tg.randn(1, 1, 2, 3, 3), (1, 1, 1, 1), "reflect")


# ---- padding layers ------------------------------------------------------------------------------
PAD_LAYERS = [f"{kind}Pad{d}d" for kind in ("Reflection", "Replication", "Circular", "Zero",
                                              "Constant") for d in (1, 2, 3)]


@pytest.mark.parametrize("name", PAD_LAYERS)
def test_padding_layers_match_torch(name):
    rng = np.random.default_rng(len(name))
    dims = int(name[-2])
    for int_padding, batched in ((True, True), (False, True), (False, False)):
        shape = (2, 2) + (4, 5, 3)[:dims]
        shape = shape if batched else shape[1:]
        if int_padding:
            padding = int(rng.integers(1, 3))
        else:
            padding = tuple(int(v) for v in rng.integers(0, 3, size=2 * dims))
        args = (padding, -0.5) if name.startswith("Constant") else (padding,)
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(theirs)
        compare_layer(ours, theirs, rng.standard_normal(shape), **F64)


def test_padding_layer_rejects_wrong_rank_and_padding():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.ReflectionPad2d(1)(tg.randn(3, 3))
    with pytest.raises(ValueError, match="tuple of 4 ints"):
        nn.ZeroPad2d((1, 2))


# ---- pixel shuffle -------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2), st.integers(0, 2**16))
def test_pixel_shuffle_and_unshuffle_match_torch(r, c, h, w, lead, seed):
    rng = np.random.default_rng(seed)
    lead_shape = (2, 1)[:lead]
    x = rng.standard_normal(lead_shape + (c * r * r, h, w))
    compare_layer(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), x, **F64)
    y = rng.standard_normal(lead_shape + (c, h * r, w * r))
    compare_layer(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), y, **F64)
    np.testing.assert_array_equal(host(F.pixel_unshuffle(F.pixel_shuffle(tg.Tensor(x), r), r)), x)


def test_pixel_shuffle_gradcheck_and_errors():
    x = tg.Tensor(np.random.default_rng(1).standard_normal((1, 8, 2, 3)), requires_grad=True)
    gradcheck(lambda t: F.pixel_shuffle(t, 2), [x])
    gradcheck(lambda t: F.pixel_unshuffle(F.pixel_shuffle(t, 2) * 2.0, 2), [x])
    with pytest.raises(ValueError, match="divisible by upscale_factor"):
        F.pixel_shuffle(tg.randn(1, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(tg.randn(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="positive int"):
        nn.PixelShuffle(0)(tg.randn(1, 4, 2, 2))


# ---- Conv2d padding modes ------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's note
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (1, 2), "same", "valid", 0])
def test_conv2d_padding_modes_match_torch(mode, padding):
    """Every padding mode with int, pair, "same" (an even kernel puts the extra on the
    right/bottom) and "valid" padding."""
    for seed, (kernel, dilation) in enumerate(((2, 1), (3, 2), (1, 1))):
        torch.manual_seed(seed)
        theirs = torch.nn.Conv2d(2, 3, kernel, padding=padding, dilation=dilation,
                                 padding_mode=mode)
        ours = nn.Conv2d(2, 3, kernel, padding=padding, dilation=dilation, padding_mode=mode)
        x = np.random.default_rng(seed).standard_normal((2, 2, 5, 6))
        compare_layer(ours, theirs, x, rtol=1e-9, atol=1e-11)
        assert ours.padding_mode == mode and repr(ours) == repr(theirs)


def test_conv_padding_mode_errors():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding_mode must be 'zeros'"):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="smaller than the size"):
        nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(tg.randn(1, 1, 3, 3))


# ---- channel dropout -----------------------------------------------------------------------------
@pytest.mark.parametrize("layer,shape", [(nn.Dropout2d, (40, 50, 3, 2)),
                                         (nn.Dropout1d, (40, 50, 3)),
                                         (nn.Dropout1d, (2000, 3)),
                                         (nn.Dropout3d, (40, 50, 1, 2, 2))])
def test_channel_dropout_zeroes_whole_channels_at_rate_p(layer, shape):
    p = 0.3
    tg.manual_seed(0)
    x = tg.Tensor(np.random.default_rng(0).uniform(1, 2, size=shape), requires_grad=True)
    y = layer(p)(x)
    y.sum().backward()
    batched = len(shape) == {nn.Dropout1d: 3, nn.Dropout2d: 4, nn.Dropout3d: 5}[layer]
    ratio = host(y) / host(x)
    per_channel = ratio.reshape(shape[:2] + (-1,) if batched else (shape[0], -1))
    # a channel is all zero or all 1 / (1 - p)
    zero = per_channel == 0
    assert np.all(zero.all(-1) | ~zero.any(-1))
    np.testing.assert_allclose(per_channel[~zero], 1 / (1 - p), rtol=1e-14)
    kept = (per_channel[..., 0] > 0).mean()
    n = per_channel[..., 0].size
    assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)   # 5 sigma of a binomial
    np.testing.assert_allclose(host(x.grad), ratio, rtol=1e-14)  # dy/dx is the mask's scale


def test_channel_dropout_eval_seed_and_errors():
    x = tg.randn(4, 6, 3, 3)
    layer = nn.Dropout2d(0.5).eval()
    assert layer(x) is x
    layer.train()
    tg.manual_seed(3)
    a = host(layer(x))
    tg.manual_seed(3)
    np.testing.assert_array_equal(a, host(layer(x)))
    assert not np.any(host(nn.Dropout2d(1.0)(x)))
    with pytest.warns(UserWarning, match="3D input"):
        nn.Dropout2d(0.5)(tg.randn(2, 3, 4))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="2-D"):
        nn.Dropout1d(0.5)(tg.randn(2, 3, 4, 5))
    assert repr(nn.Dropout2d(0.2)) == repr(torch.nn.Dropout2d(0.2))


# ---- InstanceNorm --------------------------------------------------------------------------------
def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


@SETTINGS
@given(st.sampled_from(["1d", "2d"]), st.booleans(), st.booleans(), st.booleans(),
       st.sampled_from([0.1, None]), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**16))
def test_instance_norm_matches_torch_over_steps(kind, affine, track, batched, momentum, dtype,
                                                seed):
    rng = np.random.default_rng(seed)
    shape = (3, 4, 5) if kind == "1d" else (3, 4, 3, 5)
    shape = shape if batched else shape[1:]
    kw = dict(affine=affine, track_running_stats=track, momentum=momentum, eps=1e-4)
    ours = getattr(nn, f"InstanceNorm{kind}")(4, **kw)
    theirs = _randomise(getattr(torch.nn, f"InstanceNorm{kind}")(4, **kw), seed)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    compare_layer(ours, theirs, x, train=True, steps=3, **tol)
    compare_layer(ours, theirs, x * 0.5 - 1, train=False, **tol)


def test_instance_norm_defaults_gradcheck_and_errors():
    layer, ref = nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3)
    assert (layer.affine, layer.track_running_stats) == (ref.affine, ref.track_running_stats)
    assert list(layer.state_dict()) == list(ref.state_dict()) == []
    assert repr(layer) == repr(ref)
    assert list(nn.InstanceNorm2d(3, affine=True, track_running_stats=True).state_dict()) == \
        list(torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).state_dict())
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((2, 3, 2, 3)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [x, w, b])
    with pytest.raises(ValueError, match="match num_features"):
        nn.InstanceNorm2d(4, affine=True)(tg.randn(2, 3, 4, 4))
    with pytest.warns(UserWarning, match="num_features is unused"):
        nn.InstanceNorm2d(4)(tg.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nn.InstanceNorm2d(3)(tg.randn(2, 3, 1, 1))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.InstanceNorm2d(3)(tg.randn(2, 3))


# ---- Transformer ---------------------------------------------------------------------------------
def _run_pair(ours, theirs, inputs, kwargs_o, kwargs_t, tol):
    """Forward both on float64 copies of ``inputs`` and compare outputs, input and parameter
    gradients."""
    theirs = theirs.double()
    ours.to("float64")
    copy_weights(ours, theirs)
    assert_same_state_layout(ours, theirs)
    xo = [tg.Tensor(x, requires_grad=True) for x in inputs]
    xt = [torch.tensor(x, requires_grad=True) for x in inputs]
    yo, yt = ours(*xo, **kwargs_o), theirs(*xt, **kwargs_t)
    np.testing.assert_allclose(host(yo), yt.detach().numpy(), err_msg="forward", **tol)
    g = np.random.default_rng(0).standard_normal(yt.shape)
    yo.backward(tg.Tensor(g))
    yt.backward(torch.tensor(g))
    for a, b in zip(xo, xt):
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), err_msg="input grad", **tol)
    assert_param_grads_match(ours, theirs, tol)


def _masks(rng, L, S, N, kind):
    if kind == "none":
        return {}, {}
    if kind == "causal":
        m = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
        return dict(tgt_mask=tg.Tensor(m.numpy())), dict(tgt_mask=m)
    kpm = rng.random((N, S)) < 0.3
    kpm[:, 0] = False                                    # every row keeps a key
    tkpm = rng.random((N, L)) < 0.3
    tkpm[:, 0] = False
    return (dict(src_key_padding_mask=tg.Tensor(kpm), memory_key_padding_mask=tg.Tensor(kpm),
                 tgt_key_padding_mask=tg.Tensor(tkpm)),
            dict(src_key_padding_mask=torch.tensor(kpm), memory_key_padding_mask=torch.tensor(kpm),
                 tgt_key_padding_mask=torch.tensor(tkpm)))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")   # torch's fast-path note
@settings(max_examples=3, deadline=None)
@given(st.booleans(), st.booleans(), st.sampled_from(["relu", "gelu"]),
       st.sampled_from(["none", "causal", "padding"]), st.integers(0, 2**16))
def test_transformer_matches_torch(batch_first, norm_first, activation, masks, seed):
    rng = np.random.default_rng(seed)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=12, dropout=0.0, activation=activation, batch_first=batch_first,
              norm_first=norm_first)
    torch.manual_seed(seed)
    theirs = torch.nn.Transformer(**kw)
    ours = nn.Transformer(**kw)
    S, L, N = 5, 4, 3
    src = rng.standard_normal((N, S, 8) if batch_first else (S, N, 8))
    tgt = rng.standard_normal((N, L, 8) if batch_first else (L, N, 8))
    mo, mt = _masks(rng, L, S, N, masks)
    _run_pair(ours, theirs, [src, tgt], mo, mt, dict(rtol=1e-8, atol=1e-10))


def test_transformer_encoder_decoder_stacks_match_torch():
    rng = np.random.default_rng(5)
    torch.manual_seed(5)
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    enc_t = torch.nn.TransformerEncoder(tl, 3, norm=torch.nn.LayerNorm(8),
                                        enable_nested_tensor=False)
    enc_o = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 3,
                                  norm=nn.LayerNorm(8))
    src = rng.standard_normal((6, 2, 8))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)
    _run_pair(enc_o, enc_t, [src], dict(mask=tg.Tensor(mask.numpy())), dict(mask=mask),
              dict(rtol=1e-8, atol=1e-10))
    dl = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    dec_t = torch.nn.TransformerDecoder(dl, 2)
    dec_o = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0,
                                                             batch_first=True), 2)
    tgt, mem = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 6, 8))
    _run_pair(dec_o, dec_t, [tgt, mem], dict(tgt_is_causal=False), dict(tgt_is_causal=False),
              dict(rtol=1e-8, atol=1e-10))
    # the stack holds independent copies that start equal
    a, b = enc_o.layers[0].linear1.weight, enc_o.layers[1].linear1.weight
    assert a is not b and a.array is not b.array


def test_transformer_custom_encoder_unbatched_input_and_replaced_head():
    """A custom encoder, unbatched (S, E) inputs, and a subclass that swaps its decoder for a
    Linear head (as word_language_model does) keep torch's parameters and outputs."""
    rng = np.random.default_rng(9)
    torch.manual_seed(9)
    enc_t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0),
                                        1, enable_nested_tensor=False)
    theirs = torch.nn.Transformer(8, 2, num_decoder_layers=1, dim_feedforward=12, dropout=0.0,
                                  custom_encoder=enc_t)
    enc_o = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0), 1)
    ours = nn.Transformer(8, 2, num_decoder_layers=1, dim_feedforward=12, dropout=0.0,
                          custom_encoder=enc_o)
    _run_pair(ours, theirs, [rng.standard_normal((5, 8)), rng.standard_normal((3, 8))], {}, {},
              dict(rtol=1e-8, atol=1e-10))
    ours.decoder = nn.Linear(8, 4)
    theirs.decoder = torch.nn.Linear(8, 4)
    assert [k for k in ours.state_dict() if k.startswith("decoder")] == ["decoder.weight",
                                                                          "decoder.bias"]


def test_transformer_init_mask_and_errors():
    np.testing.assert_array_equal(
        host(nn.Transformer.generate_square_subsequent_mask(4)),
        torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    t = nn.Transformer(8, 2, 1, 1, 16)
    w = host(t.encoder.layers[0].linear1.weight)
    bound = np.sqrt(6 / (8 + 16))                       # xavier_uniform_, as torch
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(host(t.encoder.layers[0].self_attn.in_proj_bias) == 0)
    with pytest.raises(ValueError, match="batch number of src and tgt"):
        t(tg.randn(3, 2, 8), tg.randn(3, 4, 8))
    with pytest.raises(ValueError, match="d_model=8"):
        t(tg.randn(3, 2, 6), tg.randn(3, 2, 6))
    with pytest.raises(ValueError, match="activation"):
        nn.Transformer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0)


# ---- init.orthogonal_ ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 3, 3), (6, 6)])
def test_orthogonal_init(shape):
    w = tg.empty(*shape)
    tg.manual_seed(0)
    nn.init.orthogonal_(w, gain=2.0)
    m = host(w).reshape(shape[0], -1).astype(np.float64)
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-5)
    tg.manual_seed(0)
    again = nn.init.orthogonal_(tg.empty(*shape), gain=2.0)
    np.testing.assert_array_equal(host(again), host(w))
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(tg.empty(3))
