"""torch's top-level functions added in ``toplevel_twins`` (and i0/igamma/igammac/nextafter,
their methods, ``special.i0/i1/gammainc/gammaincc``) against torch 2.13 on the same inputs:
values, dtypes, shapes, gradients, errors."""
import warnings

import numpy as np
import pytest
import scipy.special as sps
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.testing import gradcheck, gradgradcheck

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


def ours(a, requires_grad=False):
    return tg.tensor(np.array(a), requires_grad=requires_grad)


def theirs(a, requires_grad=False):
    return torch.tensor(np.array(a), requires_grad=requires_grad)


def host(t):
    return backend.to_numpy(t.array) if isinstance(t, tg.Tensor) else t.detach().numpy()


def close(a, b, rtol=1e-5, atol=1e-6):
    assert tuple(a.shape) == tuple(b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(host(a), host(b), rtol=rtol, atol=atol)


# ---- settings ---------------------------------------------------------------------------------
def test_float32_matmul_precision_follows_torch():
    try:
        for mod in (tg, torch):
            assert mod.get_float32_matmul_precision() == "highest"
        for p in ("high", "medium", "highest", "medium"):
            tg.set_float32_matmul_precision(p)
            torch.set_float32_matmul_precision(p)
            assert tg.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
            assert tg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
        for mod in (tg, torch):
            with pytest.warns(UserWarning, match="not one of"):
                mod.set_float32_matmul_precision("HIGH")
            assert mod.get_float32_matmul_precision() == "medium"
            with pytest.raises(RuntimeError, match="expects a str"):
                mod.set_float32_matmul_precision(1)
        tg.backends.cuda.matmul.allow_tf32 = False   # the legacy flag (torch mixes them badly)
        assert tg.get_float32_matmul_precision() == "highest"
        tg.backends.cuda.matmul.allow_tf32 = True
        assert tg.get_float32_matmul_precision() == "high"
    finally:
        tg.set_float32_matmul_precision("highest")
        torch.set_float32_matmul_precision("highest")


def _nan_backward():
    x = tg.tensor([-1.0, 4.0], requires_grad=True)
    x.sqrt().sum().backward()


def test_set_anomaly_enabled_is_detect_anomaly():
    try:
        for args in ((True,), (True, False), (False,), (False, False)):
            tg.set_anomaly_enabled(*args)
            torch.set_anomaly_enabled(*args)
            assert tg.is_anomaly_enabled() == torch.is_anomaly_enabled()
            assert tg.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled()
        tg.set_anomaly_enabled(True)
        with pytest.raises(RuntimeError, match="NaN"):
            _nan_backward()
        tg.set_anomaly_enabled(True, check_nan=False)
        _nan_backward()
        tg.set_anomaly_enabled(False)
        _nan_backward()
        with tg.detect_anomaly():
            assert tg.is_anomaly_enabled() and tg.is_anomaly_check_nan_enabled()
            with pytest.raises(RuntimeError, match="NaN"):
                _nan_backward()
        with tg.detect_anomaly(check_nan=False):
            assert tg.is_anomaly_enabled() and not tg.is_anomaly_check_nan_enabled()
            _nan_backward()
        assert not tg.is_anomaly_enabled() and tg.is_anomaly_check_nan_enabled()
    finally:
        tg.set_anomaly_enabled(False)
        torch.set_anomaly_enabled(False)


def test_set_default_tensor_type():
    for t in (tg.FloatTensor, "torch.FloatTensor"):
        with pytest.warns(UserWarning, match="deprecated"):
            tg.set_default_tensor_type(t)
        assert tg.get_default_dtype() == tg.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for bad in (tg.LongTensor, "torch.LongTensor", tg.float32, 3, "foo", "torch.Nope"):
            with pytest.raises(TypeError):
                tg.set_default_tensor_type(bad)
        for bad in (torch.LongTensor, "torch.LongTensor", torch.float32, 3):
            with pytest.raises(TypeError):
                torch.set_default_tensor_type(bad)
        # float64 as the default dtype is not supported: set_default_dtype's error
        with pytest.raises(NotImplementedError, match="float32"):
            tg.set_default_tensor_type(tg.DoubleTensor)
        with pytest.raises(NotImplementedError, match="CPU"):
            tg.set_default_tensor_type("torch.cuda.FloatTensor")
    assert tg.get_default_dtype() == tg.float32


def test_set_flush_denormal_cannot_flush():
    assert tg.set_flush_denormal(True) is False and tg.set_flush_denormal(False) is False
    tiny = tg.tensor([1e-310], dtype=tg.float64)
    assert host(tiny * 1.0)[0] == 1e-310


def test_queries_match_torch():
    for name in ("float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"):
        a = tg.zeros(2, dtype=getattr(tg, name), device="cpu")
        b = torch.zeros(2, dtype=getattr(torch, name))
        assert tg.typename(a) == torch.typename(b)
        assert tg.is_signed(a) == torch.is_signed(b)
        assert tg.is_inference(a) == torch.is_inference(b) is False
        assert tg.get_device(a) == torch.get_device(b) == -1
        for fn in ("is_conj", "is_neg"):
            assert getattr(tg, fn)(a) is getattr(torch, fn)(b) is False
        for fn in ("conj", "resolve_conj", "resolve_neg", "conj_physical", "conj_physical_"):
            assert getattr(tg, fn)(a) is a and getattr(torch, fn)(b) is b
    for obj in (3, 2.5, "s", None, [1], {}, np.zeros(2), tg.tensor):
        assert tg.typename(obj) == torch.typename(obj)
    assert tg.typename(tg.nn.Linear(1, 1)).endswith(".Linear")
    assert tg.typename(tg.float64) == torch.typename(torch.float64) == "torch.dtype"
    if tg.cuda.is_available():
        assert tg.get_device(tg.zeros(2, device="cuda")) == 0
    assert tg.is_storage(tg.zeros(2)) is torch.is_storage(torch.zeros(2)) is False
    for fn in ("is_signed", "get_device", "is_inference", "conj", "detach"):
        with pytest.raises(TypeError, match="must be Tensor"):
            getattr(tg, fn)(3)


# ---- layer functions with ATen's signatures ---------------------------------------------------
def _pair(shape, seed, requires_grad=True, dtype=np.float64):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return ours(a, requires_grad), theirs(a, requires_grad)


def _check(fn_name, args_t, args_o, kw=None, grads=(), rtol=1e-9, atol=1e-10):
    out_o = getattr(tg, fn_name)(*args_o, **(kw or {}))
    out_t = getattr(torch, fn_name)(*args_t, **(kw or {}))
    outs_o = out_o if isinstance(out_o, tuple) else (out_o,)
    outs_t = out_t if isinstance(out_t, tuple) else (out_t,)
    assert len(outs_o) == len(outs_t)
    for a, b in zip(outs_o, outs_t):
        close(a, b, rtol, atol)
    if grads:
        w = np.random.default_rng(9).standard_normal(outs_t[0].shape)
        (outs_o[0] * ours(w)).sum().backward()
        (outs_t[0] * theirs(w)).sum().backward()
        for go, gt in grads:
            close(go.grad, gt.grad, rtol, atol)


def test_conv_and_pool_functions():
    xo, xt = _pair((2, 3, 9), 0)
    wo, wt = _pair((4, 3, 3), 1)
    bo, bt = _pair((4,), 2)
    _check("conv1d", (xt, wt, bt, 2, 1, 1, 1), (xo, wo, bo, 2, 1, 1, 1),
           grads=[(xo, xt), (wo, wt), (bo, bt)])
    wo2, wt2 = _pair((3, 2, 3), 3)
    _check("conv_transpose1d", (xt, wt2, None, 2, 1, 1), (xo, wo2, None, 2, 1, 1),
           grads=[(wo2, wt2)])
    x2o, x2t = _pair((1, 2, 6, 7), 4)
    w2o, w2t = _pair((3, 2, 3, 3), 5)
    _check("conv2d", (x2t, w2t, None, 1, "same"), (x2o, w2o, None, 1, "same"))
    wto, wtt = _pair((2, 3, 2, 2), 6)
    _check("conv_transpose2d", (x2t, wtt, None, 2), (x2o, wto, None, 2))
    _check("avg_pool1d", (xt, 3), (xo, 3))
    _check("avg_pool1d", (xt, 3, 2, 1, True, False), (xo, 3, 2, 1, True, False))
    _check("max_pool1d", (xt, 2), (xo, 2))
    _check("max_pool1d", (xt, 3, 1, 1, 2, True), (xo, 3, 1, 1, 2, True))
    _check("max_pool2d", (x2t, 2), (x2o, 2))
    _check("max_pool2d", (x2t, (2, 3), (1, 2), 1), (x2o, (2, 3), (1, 2), 1))
    _check("max_pool1d_with_indices", (xt, 3, 2), (xo, 3, 2), grads=[(xo, xt)])
    _check("adaptive_avg_pool1d", (xt, 4), (xo, 4))
    _check("adaptive_max_pool1d", (xt, 4), (xo, 4))


def test_norm_functions_take_aten_order():
    xo, xt = _pair((4, 3, 5), 0)
    wo, wt = _pair((3,), 1)
    bo, bt = _pair((3,), 2)
    _check("layer_norm", (xt, (5,)), (xo, (5,)))
    lwo, lwt = _pair((3, 5), 3)
    _check("layer_norm", (xt, [3, 5], lwt, None, 1e-3, False),
           (xo, [3, 5], lwo, None, 1e-3, False), grads=[(xo, xt), (lwo, lwt)])
    gxo, gxt = _pair((2, 4, 3), 4)
    gwo, gwt = _pair((4,), 5)
    _check("group_norm", (gxt, 2, gwt, None, 1e-4, True), (gxo, 2, gwo, None, 1e-4, True),
           grads=[(gxo, gxt), (gwo, gwt)])
    for training in (True, False):
        rm = np.random.default_rng(7).standard_normal(3)
        rv = np.random.default_rng(8).uniform(0.5, 2, 3)
        rmo, rmt, rvo, rvt = ours(rm), theirs(rm), ours(rv), theirs(rv)
        _check("batch_norm", (xt, wt, bt, rmt, rvt, training, 0.3, 1e-5, True),
               (xo, wo, bo, rmo, rvo, training, 0.3, 1e-5, True))
        close(rmo, rmt, 1e-12, 1e-12)
        close(rvo, rvt, 1e-12, 1e-12)
    _check("instance_norm", (xt, wt, bt, None, None, True, 0.1, 1e-5, False),
           (xo, wo, bo, None, None, True, 0.1, 1e-5, False), grads=[(xo, xt), (wo, wt)])


def test_embedding_weight_first_and_padding():
    for padding_idx in (-1, -3, 1):
        wo, wt = _pair((5, 3), 0)
        idx = np.array([[0, 1, 4], [1, 1, 2]])
        _check("embedding", (wt, theirs(idx), padding_idx), (wo, ours(idx), padding_idx),
               grads=[(wo, wt)])
    wo, wt = _pair((5, 3), 1)
    _check("embedding", (wt, theirs(np.array([0, 1, 1])), -1, True),
           (wo, ours(np.array([0, 1, 1])), -1, True), grads=[(wo, wt)])


def test_losses_take_int_reductions():
    rng = np.random.default_rng(0)
    for reduction in (0, 1, 2):
        xo, xt = _pair((4, 3), 0)
        y = rng.uniform(0, 1, (4, 3))
        pw = rng.uniform(0.5, 2, 3)
        _check("binary_cross_entropy_with_logits",
               (xt, theirs(y), theirs(y + 1), theirs(pw), reduction),
               (xo, ours(y), ours(y + 1), ours(pw), reduction), grads=[(xo, xt)])
        lo, lt = _pair((4, 3), 1)
        _check("kl_div", (lt, theirs(y), reduction), (lo, ours(y), reduction),
               grads=[(lo, lt)])
        _check("kl_div", (lt, theirs(np.log(y)), reduction), (lo, ours(np.log(y)), reduction),
               kw=dict(log_target=True))
        ao, at = _pair((4, 5), 2)
        bo, bt = _pair((4, 5), 3)
        sign = np.array([1.0, -1, -1, 1])
        _check("cosine_embedding_loss", (at, bt, theirs(sign), 0.1, reduction),
               (ao, bo, ours(sign), 0.1, reduction), grads=[(ao, at)])
        _check("margin_ranking_loss", (at[:, 0], bt[:, 0], theirs(sign), 0.2, reduction),
               (ao[:, 0], bo[:, 0], ours(sign), 0.2, reduction))
        co, ct = _pair((4, 5), 4)
        _check("triplet_margin_loss", (at, bt, ct, 0.5, 1, 1e-6, True, reduction),
               (ao, bo, co, 0.5, 1, 1e-6, True, reduction), grads=[(ao, at), (co, ct)])
        counts = rng.poisson(2, (4, 3)).astype(np.float64)
        for log_input, full in ((True, False), (False, True)):
            inp = y + 0.1
            po, pt = ours(inp, True), theirs(inp, True)
            _check("poisson_nll_loss", (pt, theirs(counts), log_input, full, 1e-8, reduction),
                   (po, ours(counts), log_input, full, 1e-8, reduction), grads=[(po, pt)])
    with pytest.raises(ValueError, match="reduction"):
        tg.kl_div(ours([0.0]), ours([1.0]), 3)
    with pytest.raises(ValueError, match="reduction"):
        tg.hinge_embedding_loss(ours([0.0]), ours([1.0]), 1.0, "mean")


def test_hinge_embedding_loss_matches():
    ao, at = _pair((4, 5), 2)
    sign = np.sign(np.random.default_rng(5).standard_normal((4, 5)))
    for reduction in (0, 1, 2):
        _check("hinge_embedding_loss", (at, theirs(sign), 0.5, reduction),
               (ao, ours(sign), 0.5, reduction))


def test_ctc_loss_int_reduction():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 2, 4))
    targets = np.array([[1, 2, 1], [3, 1, 0]])
    for reduction in (0, 1, 2):
        # through log_softmax: torch's backward assumes normalised log-probabilities
        zo, zt = ours(logits, True), theirs(logits, True)
        lo, lt = zo.log_softmax(-1), zt.log_softmax(-1)
        _check("ctc_loss", (lt, theirs(targets), (6, 5), (3, 2), 0, reduction, False),
               (lo, ours(targets), (6, 5), (3, 2), 0, reduction, False), grads=[(zo, zt)])


def test_dropout_forms():
    x = tg.ones(200, 8, 3)
    assert tg.dropout(x, 0.5, False) is x
    y = host(tg.dropout(x, 0.25, True))
    assert set(np.unique(y)) <= {0.0, np.float32(4 / 3)} and 0.15 < (y == 0).mean() < 0.35
    f = host(tg.feature_dropout(x, 0.5, True))
    assert (f.min(-1) == f.max(-1)).all() and set(np.unique(f)) <= {0.0, 2.0}
    for name in ("dropout_", "feature_dropout_", "alpha_dropout_", "feature_alpha_dropout_"):
        z = tg.ones(50, 4, 2)
        assert getattr(tg, name)(z, 0.5, True) is z
        assert (host(z) != 1).any()
        z = tg.ones(3, 2)
        assert getattr(tg, name)(z, 0.5, False) is z and (host(z) == 1).all()
        with pytest.raises(RuntimeError):
            getattr(tg, name)(tg.ones(3, 2, requires_grad=True), 0.5, True)
    with pytest.raises(ValueError, match="probability"):
        tg.dropout(x, 1.5, True)


# ---- in-place forms ---------------------------------------------------------------------------
IN_PLACE_ARGS = {"clamp_": (0.3, 0.6), "clamp_min_": (0.4,), "clamp_max_": (0.4,),
                 "clip_": (0.3, 0.6), "fill_": (2.5,), "xlogy_": ("other",),
                 "ldexp_": ("int",), "addmv_": ("mat", "vec"), "logit_": (1e-3,),
                 "threshold_": (0.5, -1.0), "celu_": (0.7,)}


@pytest.mark.parametrize("name", [n for n in tg.toplevel_twins.__all__ if n.endswith("_") and
                                  n not in ("dropout_", "feature_dropout_", "alpha_dropout_",
                                            "feature_alpha_dropout_", "rrelu_",
                                            "conj_physical_", "gcd_", "lcm_")])
def test_in_place_forms(name):
    data = np.random.default_rng(1).uniform(0.1, 0.9, (3,) if name == "addmv_" else (3, 4))
    extra = {"other": np.random.default_rng(2).uniform(0.5, 2, (3, 4)),
             "int": np.array([1, -2, 0, 3]), "mat": np.ones((3, 5)) / 5, "vec": np.arange(5.0)}
    args = IN_PLACE_ARGS.get(name, ())
    mk_o = [ours(extra[a]) if isinstance(a, str) else a for a in args]
    mk_t = [theirs(extra[a]) if isinstance(a, str) else a for a in args]
    xo, xt = ours(data), theirs(data)
    ro, rt = getattr(tg, name)(xo, *mk_o), getattr(torch, name)(xt, *mk_t)
    assert ro is xo and rt is xt
    close(xo, xt, 1e-12, 1e-12)
    if name not in ("detach_", "zero_", "fill_"):
        with pytest.raises(RuntimeError):
            getattr(torch, name)(theirs(data, True), *mk_t)
        with pytest.raises(RuntimeError):
            getattr(tg, name)(ours(data, True), *mk_o)


def test_in_place_integer_forms():
    a, b = np.array([12, 18, -4]), np.array([8, 27, 6])
    for name in ("gcd_", "lcm_"):
        xo, xt = ours(a), theirs(a)
        assert getattr(tg, name)(xo, ours(b)) is xo
        getattr(torch, name)(xt, theirs(b))
        close(xo, xt)
    xo = ours([1.0, 2.0])
    assert tg.rrelu_(xo) is xo


# ---- misc -------------------------------------------------------------------------------------
def test_detach_fill_split_pad():
    xo, xt = _pair((3, 4), 0)
    d = tg.detach(xo)
    assert not d.requires_grad
    e = ours(np.zeros(3))
    tg.detach(e).add_(1.0)   # the same storage
    assert (host(e) == 1).all()
    vo, vt = ours(2.5, True), theirs(2.5, True)
    fo, ft = tg.fill(xo, vo), torch.fill(xt, vt)
    close(fo, ft)
    (fo * ours(np.arange(12.0).reshape(3, 4))).sum().backward()
    (ft * theirs(np.arange(12.0).reshape(3, 4))).sum().backward()
    close(vo.grad, vt.grad)
    close(tg.fill(ours([1, 2]), 2.7), torch.fill(theirs([1, 2]), 2.7))
    with pytest.raises(RuntimeError, match="0-dimension"):
        tg.fill(xo, tg.ones(2))
    for sizes, dim in (([1, 3], 1), ([2, 1], 0)):
        for a, b in zip(tg.split_with_sizes(xo, sizes, dim), torch.split_with_sizes(xt, sizes,
                                                                                   dim)):
            close(a, b)
    with pytest.raises(RuntimeError, match="sum exactly"):
        tg.split_with_sizes(xo, [1, 1])
    for pad, value in (((1, 2), 0), ((-1, 2, 1, 0), 3.5), ((0, 0, -1, -1), 1)):
        _check("constant_pad_nd", (xt, pad, value), (xo, pad, value), grads=[(xo, xt)])


def test_range_is_inclusive_and_deprecated():
    for args, kw in (((1, 4), {}), ((1, 4, 0.5), {}), ((0, 1, 0.3), {}), ((3, 1, -1), {}),
                     ((1, 4), dict(dtype=tg.int64)), ((0, 1, 0.1), {}),
                     ((-2.5, 1.25, 0.75), dict(dtype=tg.float64))):
        kw_t = {k: getattr(torch, str(v).split(".")[-1]) for k, v in kw.items()}
        with pytest.warns(UserWarning, match="deprecated"):
            a = tg.range(*args, **kw)
        with pytest.warns(UserWarning, match="deprecated"):
            b = torch.range(*args, **kw_t)
        close(a, b, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="step must be nonzero"):
            tg.range(1, 3, 0)
        with pytest.raises(RuntimeError, match="inconsistent"):
            tg.range(3, 1)
        assert tg.range(0, 2, requires_grad=True).requires_grad


def test_empty_strided():
    for size, stride in (((2, 3), (1, 2)), ((2, 3), (3, 1)), ((4,), (3,)), ((2, 0, 3), (5, 5, 1))):
        a = tg.empty_strided(size, stride, dtype=tg.float64)
        b = torch.empty_strided(size, stride, dtype=torch.float64)
        assert tuple(a.shape) == tuple(b.shape) and a.stride() == b.stride()
        assert a.dtype == tg.float64
    assert tg.empty_strided((2,), (1,), requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="dimensionality"):
        tg.empty_strided((2, 3), (1,))


def test_frombuffer_shares_memory():
    buf = bytearray(np.arange(6, dtype=np.float32).tobytes())
    a = tg.frombuffer(buf, dtype=tg.float32, count=3, offset=4)
    b = torch.frombuffer(buf, dtype=torch.float32, count=3, offset=4)
    close(a, b, 0, 0)
    buf[4:8] = np.float32(9).tobytes()
    assert host(a)[0] == 9 == b[0].item()
    a.mul_(2)
    assert b[0].item() == 18
    close(tg.frombuffer(buf, dtype=tg.int16), torch.frombuffer(buf, dtype=torch.int16), 0, 0)
    with pytest.warns(UserWarning, match="not writable"):
        tg.frombuffer(bytes(8), dtype=tg.float32)
    for kw in (dict(count=7), dict(offset=3), dict(offset=24), dict(count=0)):
        with pytest.raises(ValueError):
            torch.frombuffer(buf, dtype=torch.float32, **kw)
        with pytest.raises(ValueError):
            tg.frombuffer(buf, dtype=tg.float32, **kw)
    with pytest.raises(ValueError):
        tg.frombuffer(bytearray(), dtype=tg.float32)
    with pytest.raises(TypeError):
        tg.frombuffer(buf, tg.float32)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 40), bins=st.integers(1, 7), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float32", "float64"]), density=st.booleans(),
       weighted=st.booleans(), ranged=st.booleans())
def test_histogram_matches_torch(n, bins, seed, dtype, density, weighted, ranged):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).astype(dtype)   # (edges within an ulp of torch's: no ties)
    w = rng.uniform(0, 2, n).astype(dtype) if weighted else None
    kw = dict(density=density, range=(-1.0, 1.5) if ranged else None)
    a = tg.histogram(ours(x), bins, weight=None if w is None else ours(w), **kw)
    b = torch.histogram(theirs(x), bins, weight=None if w is None else theirs(w), **kw)
    close(a.hist, b.hist, 1e-5, 1e-6)
    close(a.bin_edges, b.bin_edges, 1e-6, 1e-6)
    x = x.round(1)   # explicit edges: elements on an edge go right (the last bin: left)
    edges = (np.arange(bins + 1) * rng.choice([0.3, 0.5]) - 1.0).round(1).astype(dtype)
    a = ours(x).histogram(ours(edges), weight=None if w is None else ours(w), density=density)
    b = torch.histogram(theirs(x), theirs(edges), weight=None if w is None else theirs(w),
                        density=density)
    close(a[0], b[0], 1e-5, 1e-6)
    close(a[1], b[1], 0, 0)


def test_histogram_edges_and_errors():
    for x in ([], [1.0, 1.0, 1.0], [1.0, 2, 1, 4, 2.5]):
        a, b = tg.histogram(ours(np.array(x, np.float32)), 3), torch.histogram(
            theirs(np.array(x, np.float32)), 3)
        close(a.hist, b.hist)
        close(a.bin_edges, b.bin_edges)
    x = ours(np.array([1.0, 2.0], np.float32))
    for call, exc in ((lambda: tg.histogram(ours([1, 2]), 3), NotImplementedError),
                      (lambda: tg.histogram(x, 0), RuntimeError),
                      (lambda: tg.histogram(x, 3, range=(2.0, 1.0)), RuntimeError),
                      (lambda: tg.histogram(ours(np.array([1.0, np.nan], np.float32)), 3),
                       RuntimeError),
                      (lambda: tg.histogram(x, tg.tensor([0.0, 1.0], dtype=tg.float64)),
                       RuntimeError),
                      (lambda: tg.histogram(x, 2, weight=tg.ones(2, dtype=tg.float64)),
                       RuntimeError)):
        with pytest.raises(exc):
            call()


GRADIENT_CASES = [dict(), dict(spacing=2.0), dict(edge_order=2), dict(dim=1),
                  dict(dim=(0, 1), spacing=(1.0, 2.0)), dict(dim=-1, edge_order=2, spacing=0.5),
                  dict(spacing="coords"), dict(spacing="coords", edge_order=2),
                  dict(dim=0, spacing="coords0")]


@pytest.mark.parametrize("case", range(len(GRADIENT_CASES)))
def test_gradient_matches_torch(case):
    kw = dict(GRADIENT_CASES[case])
    data = np.random.default_rng(case).standard_normal((4, 5))
    xo, xt = ours(data, True), theirs(data, True)
    kw_o, kw_t = dict(kw), dict(kw)
    if kw.get("spacing") in ("coords", "coords0"):
        c0 = np.cumsum(np.random.default_rng(9).uniform(0.2, 2, 4))
        c1 = np.cumsum(np.random.default_rng(8).uniform(0.2, 2, 5))
        cs = [c0] if kw["spacing"] == "coords0" else [c0, c1]
        kw_o["spacing"], kw_t["spacing"] = [ours(c) for c in cs], [theirs(c) for c in cs]
    a, b = tg.gradient(xo, **kw_o), torch.gradient(xt, **kw_t)
    assert isinstance(a, tuple) and len(a) == len(b)
    for u, v in zip(a, b):
        close(u, v, 1e-10, 1e-10)
    w = np.random.default_rng(3).standard_normal((4, 5))
    sum(u * ours(w) for u in a).sum().backward()
    sum(v * theirs(w) for v in b).sum().backward()
    close(xo.grad, xt.grad, 1e-10, 1e-10)


def test_gradient_edges_and_errors():
    for x in ([1, 2, 4], [1.0, 2.0]):
        close(tg.gradient(ours(x))[0], torch.gradient(theirs(x))[0])
    for call in (lambda m: m.gradient(m.tensor([1.0, 2.0]), edge_order=2),
                 lambda m: m.gradient(m.tensor([1.0, 2.0, 4.0]), edge_order=3),
                 lambda m: m.gradient(m.tensor([1.0, 2.0, 4.0]), spacing=[1.0, 2.0]),
                 lambda m: m.gradient(m.ones(2, 3), spacing=[m.tensor(1.0), m.tensor(2.0)])):
        with pytest.raises(RuntimeError) as e_t:
            call(torch)
        with pytest.raises(RuntimeError) as e_o:
            call(tg)
        assert str(e_o.value) == str(e_t.value)


# ---- new elementwise functions ----------------------------------------------------------------
def test_nextafter():
    a = np.array([1.0, 0.0, -1.0, 2.0, np.inf, 1e-310, 5.0])
    b = np.array([2.0, -1.0, -2.0, 2.0, 0.0, 0.0, np.nan])
    for dt in ("float32", "float64"):
        close(tg.nextafter(ours(a.astype(dt)), ours(b.astype(dt))),
              torch.nextafter(theirs(a.astype(dt)), theirs(b.astype(dt))), 0, 0)
    assert tg.nextafter(ours(a.astype("float32")), ours(b)).dtype == tg.float64
    xo, yo = ours([1.0, 0.0], True), ours([2.0, -1.0], True)
    tg.nextafter(xo, yo).sum().backward()
    xt, yt = theirs([1.0, 0.0], True), theirs([2.0, -1.0], True)
    torch.nextafter(xt, yt).sum().backward()
    close(xo.grad, xt.grad)
    close(yo.grad, yt.grad)
    z = ours([1.0, 2.0])
    assert z.nextafter_(ours([2.0, 0.0])) is z and host(z)[0] > 1 and host(z)[1] < 2
    with pytest.raises(NotImplementedError, match="nextafter"):
        tg.nextafter(ours([1, 2]), ours([2, 3]))


I0_POINTS = np.concatenate([np.linspace(-40, 40, 161), [0.0, 1e-300, 29.99999, 30.00001, 100.0,
                                                       -350.5, 700.0, 709.0]])


def test_i0_i1_values():
    for fn, ref, ref_t in ((tg.i0, sps.i0, torch.i0), (tg.special.i0, sps.i0, torch.special.i0),
                           (tg.special.i1, sps.i1, torch.special.i1)):
        got = host(fn(ours(I0_POINTS)))
        np.testing.assert_allclose(got, ref(I0_POINTS), rtol=1e-13, atol=0)
        np.testing.assert_allclose(got, host(ref_t(theirs(I0_POINTS))), rtol=1e-13, atol=0)
        edges = np.array([710.0, -713.0, np.inf, -np.inf, np.nan])
        np.testing.assert_array_equal(host(fn(ours(edges))), host(ref_t(theirs(edges))))
        close(fn(ours(I0_POINTS.astype(np.float32))), ref_t(theirs(I0_POINTS.astype(np.float32))),
              2e-6, 0)
    close(tg.i0(ours([0, 1, 2])), torch.i0(theirs([0, 1, 2])))
    close(ours([0.5, -2.0]).i0(), theirs([0.5, -2.0]).i0())
    z = ours([0.5, -2.0])
    assert z.i0_() is z and tg.i0_(z) is z
    close(z, torch.i0(torch.i0(theirs([0.5, -2.0]))), 1e-12, 0)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ours([1, 2]).i0_()


def test_i0_i1_gradients():
    x = np.array([0.0, 1.5, -3.0, 35.0, -0.25])
    for ours_fn, torch_fn in ((tg.i0, torch.i0), (tg.special.i1, torch.special.i1)):
        xo, xt = ours(x, True), theirs(x, True)
        (go,) = tg.autograd.grad(ours_fn(xo).sum(), xo, create_graph=True)
        (gt,) = torch.autograd.grad(torch_fn(xt).sum(), xt, create_graph=True)
        close(go, gt, 1e-12, 1e-14)
        close(tg.autograd.grad(go.sum(), xo)[0], torch.autograd.grad(gt.sum(), xt)[0],
              1e-12, 1e-14)
        moderate = x[np.abs(x) < 30]   # (a huge output would swamp the finite differences)
        gradcheck(ours_fn, [ours(moderate, True)])
        gradgradcheck(ours_fn, [ours(moderate, True)])


def test_igamma_values_against_scipy_and_torch():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0, 100, 300), 10 ** rng.uniform(-3, 1, 100)])
    x = np.concatenate([rng.uniform(0, 200, 300), 10 ** rng.uniform(-3, 2, 100)])
    for fn, fn_t, ref in ((tg.igamma, torch.igamma, sps.gammainc),
                          (tg.igammac, torch.igammac, sps.gammaincc),
                          (tg.special.gammainc, torch.special.gammainc, sps.gammainc),
                          (tg.special.gammaincc, torch.special.gammaincc, sps.gammaincc)):
        got = host(fn(ours(a), ours(x)))
        np.testing.assert_allclose(got, ref(a, x), rtol=1e-12, atol=1e-13)
        # torch's own error reaches 2e-9 here (its large-a expansion)
        np.testing.assert_allclose(got, host(fn_t(theirs(a), theirs(x))), rtol=1e-8, atol=1e-13)
    # small a: Q is tiny while P is close to 1 (Q is not taken as 1 - P there)
    a, x = 10 ** rng.uniform(-7, -0.5, 200), rng.uniform(0.01, 1.2, 200)
    np.testing.assert_allclose(host(tg.igammac(ours(a), ours(x))), sps.gammaincc(a, x),
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(host(tg.igamma(ours(a), ours(x))), sps.gammainc(a, x),
                               rtol=1e-12, atol=0)
    edge_a = np.array([0.0, 0.0, 1.0, 2.0, -1.0, 1.0, np.inf, np.inf, 0.5, np.nan, 3.0])
    edge_x = np.array([0.0, 1.0, 0.0, np.inf, 1.0, -1.0, 1.0, np.inf, 0.0, 1.0, np.nan])
    for fn, fn_t in ((tg.igamma, torch.igamma), (tg.igammac, torch.igammac)):
        np.testing.assert_array_equal(host(fn(ours(edge_a), ours(edge_x))),
                                      host(fn_t(theirs(edge_a), theirs(edge_x))))
    close(tg.igamma(ours(np.float32([1.0, 2.0])), ours([[1.0], [3.0]])),
          torch.igamma(theirs(np.float32([1.0, 2.0])), theirs([[1.0], [3.0]])))
    close(ours(np.float32([1.5])).igammac(ours(np.float32([0.5]))),
          theirs(np.float32([1.5])).igammac(theirs(np.float32([0.5]))))
    z = ours([1.5, 2.0])
    assert z.igamma_(ours([0.5, 3.0])) is z
    close(z, torch.igamma(theirs([1.5, 2.0]), theirs([0.5, 3.0])), 1e-13, 0)
    with pytest.raises(NotImplementedError, match="igamma"):
        tg.igamma(ours([1, 2]), ours([1, 2]))


def test_igamma_gradients():
    a, x = np.array([0.5, 1.5, 2.0, 7.0]), np.array([0.3, 2.0, 3.5, 5.0])
    for fn, fn_t in ((tg.igamma, torch.igamma), (tg.igammac, torch.igammac)):
        xo, xt = ours(x, True), theirs(x, True)
        (go,) = tg.autograd.grad(fn(ours(a), xo).sum(), xo, create_graph=True)
        (gt,) = torch.autograd.grad(fn_t(theirs(a), xt).sum(), xt, create_graph=True)
        close(go, gt, 1e-12, 1e-14)
        close(tg.autograd.grad(go.sum(), xo)[0], torch.autograd.grad(gt.sum(), xt)[0],
              1e-11, 1e-14)
        gradcheck(lambda t: fn(ours(a), t), [ours(x, True)])
        gradgradcheck(lambda t: fn(ours(a), t), [ours(x, True)])
        ao, at = ours(a, True), theirs(a, True)
        with pytest.raises(NotImplementedError, match="input"):
            torch.autograd.grad(fn_t(at, theirs(x)).sum(), at)
        with pytest.raises(NotImplementedError, match="input"):
            tg.autograd.grad(fn(ao, ours(x)).sum(), ao)


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(3, 5), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       edge_order=st.sampled_from([1, 2]), spacing=st.sampled_from([1, 0.5, 3.0]),
       pick=st.integers(0, 7))
def test_gradient_shapes_hypothesis(shape, seed, edge_order, spacing, pick):
    data = np.random.default_rng(seed).standard_normal(shape)
    dims = [d for d in range(len(shape)) if pick >> d & 1] or None
    kw = dict(spacing=spacing, edge_order=edge_order, dim=dims)
    for u, v in zip(tg.gradient(ours(data), **kw), torch.gradient(theirs(data), **kw)):
        close(u, v, 1e-12, 1e-12)
