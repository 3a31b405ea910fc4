"""Differential tests of the nn layers' less common arguments and edge values, torch as the
oracle (same inputs and weights; forward values and the gradients of inputs and parameters).

Each test pins a case where the two frameworks once disagreed."""
import warnings

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F

from torch_compare import host

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

EXACT = dict(rtol=1e-12, atol=1e-12)


def _forward_backward(ours_fn, torch_fn, *arrays, seed=0):
    """Run both functions on float64 copies of ``arrays``, backpropagate one random output
    gradient, return ((our output, our input grads), (torch's output, torch's input grads))."""
    xo = [tg.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    yo, yt = ours_fn(*xo), torch_fn(*xt)
    assert tuple(yo.shape) == tuple(yt.shape)
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    yo.backward(tg.tensor(g))
    yt.backward(torch.tensor(g))
    return ((host(yo), [host(a.grad) for a in xo]),
            (yt.detach().numpy(), [a.grad.numpy() for a in xt]))


def _assert_same(ours_fn, torch_fn, *arrays, tol=EXACT):
    (yo, go), (yt, gt) = _forward_backward(ours_fn, torch_fn, *arrays)
    np.testing.assert_allclose(yo, yt, err_msg="forward", equal_nan=True, **tol)
    for i, (a, b) in enumerate(zip(go, gt)):
        np.testing.assert_allclose(a, b, err_msg=f"gradient of input {i}", equal_nan=True, **tol)


# ---- max pooling: windows whose elements are all -inf ----------------------------------------
@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (3, 1, 1), (2, 1, 1), ((3, 2), (1, 2), (1, 1))])
def test_max_pool_all_minus_inf_window_sends_gradient_inside_the_input(k, s, p):
    """The padding's -inf equals such a window's maximum; torch sends the gradient to the
    window's first element inside the input (it was lost in the padding)."""
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 6))
    x[0, 0] = -np.inf                       # every window of this map
    x[1, 1, :2, :2] = -np.inf               # only the corner windows
    _assert_same(lambda a: F.max_pool2d(a, k, s, p),
                 lambda a: torch.nn.functional.max_pool2d(a, k, s, p), x)


# ---- interpolate: torch's exact cases by output size ------------------------------------------
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False),
                                                 ("bilinear", True)])
@pytest.mark.parametrize("scale_factor", [1.1, 2.1, (1.1, 1.5), (0.6, 2.1), 2.0, 1.7])
def test_interpolate_scale_factor_that_keeps_or_doubles_the_size(mode, align_corners,
                                                                 scale_factor):
    """An axis whose output size equals its input size is copied (both modes), one twice its
    input size takes element o // 2 (nearest), whatever the scale factor that gave the size
    (torch); the scale factor was used instead (5 rows at 1.1: rows 0, 0, 1, 2, 3)."""
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 4))
    _assert_same(lambda a: F.interpolate(a, scale_factor=scale_factor, mode=mode,
                                         align_corners=align_corners),
                 lambda a: torch.nn.functional.interpolate(a, scale_factor=scale_factor,
                                                           mode=mode,
                                                           align_corners=align_corners), x)


def test_upsample_layer_nearest_scale_factor_2_1_float32():
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 3)).astype(np.float32)
    ours = tg.nn.Upsample(scale_factor=2.1)(tg.tensor(x))
    theirs = torch.nn.Upsample(scale_factor=2.1)(torch.tensor(x))
    np.testing.assert_array_equal(host(ours), theirs.numpy())


# ---- cross entropy / nll: 'mean' over targets that are all ignored ------------------------------
def _class_loss(lib, name, x, target, **kw):
    fn = getattr(F if lib is tg else torch.nn.functional, name)
    wrap = tg.tensor if lib is tg else torch.tensor
    if kw.get("weight") is not None:
        kw["weight"] = wrap(kw["weight"])
    return fn(x, wrap(target), **kw)


@pytest.mark.parametrize("name, extra", [("cross_entropy", {}),
                                         ("cross_entropy", {"label_smoothing": 0.2}),
                                         ("nll_loss", {})])
@pytest.mark.parametrize("target, weight", [
    (np.full(5, -100), None),                              # every target ignored
    (np.array([[0, -100, 0], [-100, 0, 0]]), None),        # (N, d) targets, all kept ...
    (np.array([0, 0, -100, 0, 0]), np.array([0.0, 1.0, 2.0, 0.5])),  # kept, weight 0
])
def test_mean_class_loss_with_zero_divisor_keeps_ignored_gradients_at_zero(name, extra, target,
                                                                           weight):
    """The loss is NaN (0 / 0) in both; torch's gradient is 0 at the ignored positions (NaN
    only in the rows of kept zero-weight targets); ours was NaN everywhere."""
    rng = np.random.default_rng(4)
    if target.ndim == 2:
        target = np.where(target == 0, -100, target)        # ignore every position here too
        x = rng.standard_normal((2, 4, 3))
    else:
        x = rng.standard_normal((5, 4))
    kw = dict(extra, weight=weight)
    _assert_same(lambda a: _class_loss(tg, name, a, target, **dict(kw)),
                 lambda a: _class_loss(torch, name, a, target, **dict(kw)), x)


# ---- pooling signatures: torch's positional order ---------------------------------------------
def test_max_pool_fourth_positional_argument_is_dilation():
    """torch's MaxPool2d(kernel_size, stride, padding, dilation, ...): a positional dilation=1
    was read as ceil_mode and refused."""
    x = np.random.default_rng(5).standard_normal((1, 2, 7, 7))
    _assert_same(lambda a: tg.nn.MaxPool2d(3, 2, 1, 1)(a),
                 lambda a: torch.nn.MaxPool2d(3, 2, 1, 1)(a), x)
    _assert_same(lambda a: F.max_pool2d(a, 3, 2, 1, 1, False, False),
                 lambda a: torch.nn.functional.max_pool2d(a, 3, 2, 1, 1, False, False), x)
    _assert_same(lambda a: tg.nn.AvgPool2d(3, 2, 1, False, True, None)(a),
                 lambda a: torch.nn.AvgPool2d(3, 2, 1, False, True, None)(a), x)


# ---- max pooling: dilation, return_indices, MaxUnpool2d -----------------------------------------
@pytest.mark.parametrize("k, s, p, d, ceil", [(3, 1, 1, 2, False), ((2, 3), (2, 1), (1, 0),
                                                                    (2, 3), True),
                                              (2, 2, 0, 1, False), (3, 2, 1, 1, True)])
def test_max_pool_dilation_and_indices(k, s, p, d, ceil):
    x = np.round(np.random.default_rng(13).standard_normal((2, 2, 8, 9)))   # ties
    x[1, 0, :3] = -np.inf
    args = (k, s, p, d, ceil)
    _assert_same(lambda a: F.max_pool2d(a, *args),
                 lambda a: torch.nn.functional.max_pool2d(a, *args), x)
    _, ours = F.max_pool2d(tg.tensor(x), *args, return_indices=True)
    _, theirs = torch.nn.functional.max_pool2d(torch.tensor(x), *args, return_indices=True)
    np.testing.assert_array_equal(host(ours), theirs.numpy())
    assert host(ours).dtype == np.int64


def test_max_unpool_places_values_at_the_pooled_indices():
    x = np.random.default_rng(14).standard_normal((2, 3, 8, 8))
    pools = tg.nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    unpools = tg.nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)

    def run(i, a, size):
        y, idx = pools[i](a)
        return unpools[i](y * 2.0, idx, output_size=size)

    _assert_same(lambda a: run(0, a, None), lambda a: run(1, a, None), x)
    _assert_same(lambda a: run(0, a, (9, 8)), lambda a: run(1, a, [9, 8]), x)
    with pytest.raises(ValueError, match="invalid output_size"):
        run(0, tg.tensor(x), (11, 8))
    with pytest.raises(IndexError, match="indices must lie in"):
        F.max_unpool2d(tg.zeros(1, 1, 2, 2), tg.tensor(np.full((1, 1, 2, 2), 16)), 2)


# ---- pooling: ceil_mode, count_include_pad, divisor_override ----------------------------------
@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (2, 2, 0), ((3, 2), (3, 2), (1, 0)), (3, 3, 1),
                                     (4, 3, 2)])
@pytest.mark.parametrize("shape", [(2, 2, 7, 8), (1, 2, 5, 5)])
def test_pooling_ceil_mode_and_divisors(k, s, p, shape):
    """Last windows past the input under ceil_mode (torch's output size and divisors), the
    padding left out of the divisor, a fixed divisor; max pooling with ties and an all -inf
    map."""
    rng = np.random.default_rng(10)
    x = np.round(rng.standard_normal(shape))
    xm = x.copy()
    xm[0, 0] = -np.inf
    _assert_same(lambda a: F.max_pool2d(a, k, s, p, ceil_mode=True),
                 lambda a: torch.nn.functional.max_pool2d(a, k, s, p, ceil_mode=True), xm)
    _assert_same(lambda a: tg.nn.MaxPool2d(k, s, p, ceil_mode=True)(a),
                 lambda a: torch.nn.MaxPool2d(k, s, p, ceil_mode=True)(a), x)
    for ceil in (False, True):
        for include in (True, False):
            for divisor in (None, 5):
                args = (k, s, p, ceil, include, divisor)
                _assert_same(lambda a: F.avg_pool2d(a, *args),
                             lambda a: torch.nn.functional.avg_pool2d(a, *args), x)
    _assert_same(lambda a: tg.nn.AvgPool2d(k, s, p, True, False)(a),
                 lambda a: torch.nn.AvgPool2d(k, s, p, True, False)(a), x)


# ---- ConvTranspose2d.forward(x, output_size) ---------------------------------------------------
@pytest.mark.parametrize("kw, size", [
    (dict(kernel_size=3, stride=2, padding=1), (10, 11)),
    (dict(kernel_size=3, stride=2, padding=1, output_padding=1), (9, 12)),
    (dict(kernel_size=2, stride=(3, 2), dilation=2, groups=2), (2, 6, 17, 13)),
])
def test_conv_transpose_output_size_picks_the_output_padding(kw, size):
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(4, 6, **kw).double()
    ours = tg.nn.ConvTranspose2d(4, 6, **kw).to("float64")
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((2, 4, 5, 6))
    _assert_same(lambda a: ours(a, output_size=size),
                 lambda a: theirs(a, output_size=list(size)), x)
    np.testing.assert_allclose(host(ours.weight.grad), theirs.weight.grad.numpy(), **EXACT)
    with pytest.raises(ValueError, match="valid sizes range from"):
        ours(tg.zeros(2, 4, 5, 6, dtype="float64"), output_size=(30, 30))


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False)])
@pytest.mark.parametrize("scale_factor", [1.7, (0.6, 2.5)])
def test_interpolate_recompute_scale_factor(mode, align_corners, scale_factor):
    """recompute_scale_factor=True resamples by in / out sizes, not by 1 / scale_factor."""
    x = np.random.default_rng(7).standard_normal((2, 3, 5, 7))
    kw = dict(scale_factor=scale_factor, mode=mode, align_corners=align_corners,
              recompute_scale_factor=True)
    _assert_same(lambda a: F.interpolate(a, **kw),
                 lambda a: torch.nn.functional.interpolate(a, **kw), x)
    _assert_same(lambda a: tg.nn.Upsample(**kw)(a), lambda a: torch.nn.Upsample(**kw)(a), x)


# ---- losses: torch's positional order with the deprecated size_average / reduce ------------------
_LEGACY = [(None, False), (False, None), (False, True), (True, False), (True, None)]


@pytest.mark.parametrize("size_average, reduce", _LEGACY)
def test_loss_legacy_size_average_and_reduce_pick_torch_reduction(size_average, reduce):
    """A positional ``CrossEntropyLoss(weight, False)`` set ignore_index=False (class 0 was
    silently ignored); ``size_average``/``reduce`` now choose the reduction as in torch."""
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((6, 4)), np.array([0, 1, 0, 3, 2, 0])
    z = rng.random((6, 4))
    w = np.abs(rng.standard_normal(4)) + 0.5
    legacy = (size_average, reduce)
    cases = [
        (lambda lib, a: lib.nn.CrossEntropyLoss(_wrap(lib, w), *legacy[:1], -100, legacy[1])(
            a, _wrap(lib, t))),
        (lambda lib, a: lib.nn.NLLLoss(None, size_average, 1, reduce)(a, _wrap(lib, t))),
        (lambda lib, a: lib.nn.MSELoss(size_average, reduce)(a, _wrap(lib, z))),
        (lambda lib, a: lib.nn.BCEWithLogitsLoss(None, size_average, reduce)(a, _wrap(lib, z))),
        (lambda lib, a: _functional(lib).cross_entropy(a, _wrap(lib, t), None, size_average, -100,
                                                       reduce)),
        (lambda lib, a: _functional(lib).smooth_l1_loss(a, _wrap(lib, z), size_average, reduce)),
        (lambda lib, a: _functional(lib).multi_margin_loss(a, _wrap(lib, t), 1, 1.0, None,
                                                           size_average, reduce)),
    ]
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _assert_same(lambda a: case(tg, a), lambda a: case(torch, a), x)
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        tg.nn.MSELoss(size_average=False)


def _wrap(lib, a):
    return tg.tensor(a) if lib is tg else torch.tensor(a)


def _functional(lib):
    return F if lib is tg else torch.nn.functional


# ---- Embedding: max_norm, scale_grad_by_freq, from_pretrained -----------------------------------
@pytest.mark.parametrize("kw", [dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0),
                                dict(max_norm=0.7, norm_type=float("inf")),
                                dict(scale_grad_by_freq=True, padding_idx=3),
                                dict(max_norm=1.2, padding_idx=2, scale_grad_by_freq=True)])
def test_embedding_max_norm_and_scale_grad_by_freq(kw):
    """Two steps: the renormalised rows are written back into the weight, as torch does."""
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(7, 4, **kw).double()
    ours = tg.nn.Embedding(7, 4, **kw).to("float64")
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    idx = np.array([[0, 3, 3], [6, 3, 1], [2, 2, 2]])
    for step in range(2):
        yt, yo = theirs(torch.tensor(idx)), ours(tg.tensor(idx))
        np.testing.assert_allclose(host(yo), yt.detach().numpy(), **EXACT)
        np.testing.assert_allclose(host(ours.weight), theirs.weight.detach().numpy(), **EXACT)
        g = np.random.default_rng(step).standard_normal(tuple(yt.shape))
        theirs.zero_grad()
        ours.zero_grad()
        yt.backward(torch.tensor(g))
        yo.backward(tg.tensor(g))
        np.testing.assert_allclose(host(ours.weight.grad), theirs.weight.grad.numpy(), **EXACT)
        with torch.no_grad():
            theirs.weight.mul_(1.5)
        ours.weight.array[...] *= 1.5


def test_embedding_from_pretrained_and_weight_argument():
    w = np.random.default_rng(9).standard_normal((5, 3))
    ours = tg.nn.Embedding.from_pretrained(tg.tensor(w), padding_idx=1)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), padding_idx=1)
    assert not ours.weight.requires_grad and not theirs.weight.requires_grad
    np.testing.assert_array_equal(host(ours(tg.tensor([1, 4]))),
                                  theirs(torch.tensor([1, 4])).numpy())
    assert tg.nn.Embedding.from_pretrained(tg.tensor(w), freeze=False).weight.requires_grad
    np.testing.assert_array_equal(host(tg.nn.Embedding(5, 3, None, _weight=tg.tensor(w)).weight),
                                  w)
    with pytest.raises(NotImplementedError, match="sparse"):
        tg.nn.Embedding(5, 3, sparse=True)


# ---- GroupNorm: a single value to normalise ------------------------------------------------------
def test_group_norm_of_single_values_raises_like_torch():
    """torch refuses (N * C/G * spatial == 1); the output was silently the bias."""
    x = np.zeros((1, 6, 1, 1))
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(6, 6)(torch.tensor(x))
    with pytest.raises(ValueError, match="more than 1 value per group"):
        tg.nn.GroupNorm(6, 6)(tg.tensor(x))
    _assert_same(lambda a: tg.nn.GroupNorm(6, 6).to("float64")(a),       # two samples: allowed
                 lambda a: torch.nn.GroupNorm(6, 6).double()(a), np.ones((2, 6, 1, 1)))


# ---- interpolate: bicubic, nearest-exact, area ------------------------------------------------
@pytest.mark.parametrize("mode, align_corners", [("bicubic", False), ("bicubic", True),
                                                 ("nearest-exact", None), ("area", None)])
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=(0.6, 1.7)),
                                dict(size=(7, 3)), dict(size=(1, 1)),
                                dict(scale_factor=2.1), dict(scale_factor=3.3,
                                                             recompute_scale_factor=True)])
def test_interpolate_bicubic_nearest_exact_and_area(mode, align_corners, kw):
    x = np.random.default_rng(11).standard_normal((2, 2, 5, 4))
    _assert_same(lambda a: F.interpolate(a, mode=mode, align_corners=align_corners, **kw),
                 lambda a: torch.nn.functional.interpolate(a, mode=mode,
                                                           align_corners=align_corners, **kw), x)
    _assert_same(lambda a: tg.nn.Upsample(mode=mode, align_corners=align_corners, **kw)(a),
                 lambda a: torch.nn.Upsample(mode=mode, align_corners=align_corners, **kw)(a), x)


def test_bicubic_at_an_unchanged_size_keeps_its_own_gradient():
    """scale_factor 1.1 on 5 rows: torch resamples by 1 / 1.1 forward (ours too) but its
    backward copies dy as if nothing were resampled (torch's gradcheck fails there); ours is
    the gradient of the forward."""
    from tinygrad_cv.testing import gradcheck
    x = np.random.default_rng(12).standard_normal((1, 1, 5, 4))
    ours = F.interpolate(tg.tensor(x), scale_factor=1.1, mode="bicubic")
    theirs = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1.1, mode="bicubic")
    np.testing.assert_allclose(host(ours), theirs.numpy(), **EXACT)
    assert gradcheck(lambda a: F.interpolate(a, scale_factor=1.1, mode="bicubic"),
                     (tg.tensor(x, requires_grad=True),))


# ---- empty batches ------------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape, train", [
    (lambda lib: lib.nn.BatchNorm2d(3), (0, 3, 4, 4), True),
    (lambda lib: lib.nn.BatchNorm2d(3, momentum=None), (0, 3, 4, 4), True),
    (lambda lib: lib.nn.BatchNorm1d(3), (0, 3), False),
    (lambda lib: lib.nn.GroupNorm(1, 3), (0, 3, 4), True),
    (lambda lib: lib.nn.InstanceNorm2d(3), (0, 3, 4, 4), True),   # affine: torch raises
])
def test_layers_on_an_empty_batch(make, shape, train):
    """torch returns the empty output (batch norm leaves its statistics, counts the batch)
    and zero parameter gradients; batch norm raised (training: 'more than 1 value per
    channel'; eval: a reshape error), group norm's backward divided by zero, instance norm
    counted no spatial elements."""
    from torch_compare import compare_layer
    torch.manual_seed(0)
    compare_layer(make(tg), make(torch), np.zeros(shape), train=train)


def test_lstm_on_an_empty_batch():
    from torch_compare import assert_param_grads_match, copy_weights
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(4, 3, bidirectional=True).double()
    ours = tg.nn.LSTM(4, 3, bidirectional=True).to("float64")
    copy_weights(ours, theirs)
    yt, (ht, _) = theirs(torch.zeros(2, 0, 4, dtype=torch.float64))
    yo, (ho, _) = ours(tg.zeros(2, 0, 4, dtype="float64"))
    assert tuple(yo.shape) == tuple(yt.shape) and tuple(ho.shape) == tuple(ht.shape)
    (yt.sum() + ht.sum()).backward()
    (yo.sum() + ho.sum()).backward()            # raised in the weight gradients' reshape
    assert_param_grads_match(ours, theirs, EXACT)
