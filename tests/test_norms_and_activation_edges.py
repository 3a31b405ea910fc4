"""Norms (torch.norm, Tensor.norm, linalg.norm / vector_norm / matrix_norm) for every order
torch has, and the edges of the activations (inf / NaN / -0.0 inputs and incoming
gradients), against torch: values, dtypes, gradients (also at zeros and ties), errors."""
import math

import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv.testing import gradcheck


def _host(t):
    return np.asarray(t.detach().numpy())


def _run(m, fn, a, g):
    """(output, input gradient or the exception) of ``fn`` on ``a`` in library ``m``."""
    x = m.tensor(a, requires_grad=True)
    y = fn(m, x)
    try:
        grad = m.autograd.grad(y, x, m.tensor(np.broadcast_to(g, tuple(y.shape)).copy()))[0]
    except RuntimeError as err:
        grad = err
    return y, grad


def _same(fn, a, g=None, rtol=1e-10, atol=1e-12, grad=True):
    """``fn(module, x)`` of tinygrad_cv and torch: same value, dtype, shape and gradient (for
    the incoming gradient ``g``, a seeded random one by default); NaN where torch's is NaN."""
    y_t = fn(torch, torch.tensor(a))
    if g is None:
        g = np.random.default_rng(0).standard_normal(tuple(y_t.shape)).astype(a.dtype)
    (y_o, g_o), (y_t, g_t) = _run(tg, fn, a, g), _run(torch, fn, a, g)
    assert tuple(y_o.shape) == tuple(y_t.shape)
    assert str(y_o.dtype) == str(y_t.dtype).replace("torch.", "")
    np.testing.assert_allclose(_host(y_o), y_t.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    if isinstance(g_t, Exception):
        assert isinstance(g_o, Exception), "torch gives no gradient here"
    else:
        np.testing.assert_allclose(_host(g_o), g_t.numpy(), rtol=rtol, atol=atol)


# ---- vector norms --------------------------------------------------------------------------
_VECTOR_FORMS = {
    "torch.norm": lambda m, x, p, dim, kd: m.norm(x, p, dim, kd),
    "Tensor.norm": lambda m, x, p, dim, kd: x.norm(p, dim, kd),
    "vector_norm": lambda m, x, p, dim, kd: m.linalg.vector_norm(x, p, dim, kd),
    "linalg.norm": lambda m, x, p, dim, kd: m.linalg.norm(x, p, dim if dim is not None else
                                                          (0, 1, 2), kd)
    if dim is None else m.linalg.norm(x, p, dim, kd),
}
# rows without zeros, with zeros, all zeros, with ties of |x| and with NaN / inf
_VECTORS = np.array([[[0.5, -1.5, 2.0, 1.0], [0.0, 1.0, -2.0, 0.0]],
                     [[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 1.0, 0.25]],
                     [[np.nan, 1.0, 2.0, 0.0], [np.inf, 1.0, -3.0, 2.0]]])


@pytest.mark.parametrize("form", sorted(_VECTOR_FORMS))
@pytest.mark.parametrize("p", [0, 0.0, -0.5, -1, -2, -math.inf, 0.5, 1.5, 3, math.inf])
def test_vector_norms_of_every_order_match_torch(form, p):
    fn = _VECTOR_FORMS[form]
    for dim, kd in [(-1, False), (2, True), ((0, 2), True)]:
        if form == "linalg.norm" and isinstance(dim, tuple):
            continue                       # (two dims are a matrix norm there)
        _same(lambda m, x: fn(m, x, p, dim, kd), _VECTORS)
    finite = np.nan_to_num(_VECTORS[:, :, :3], nan=0.75, posinf=-2.5)
    if form != "linalg.norm":
        _same(lambda m, x: fn(m, x, p, None, False), finite)
    _same(lambda m, x: fn(m, x, p, -1, False), finite.astype(np.float32), rtol=2e-6,
          atol=1e-6)


def test_the_zero_norm_counts_non_zeros_and_has_no_gradient_as_torch():
    for m in (tg, torch):
        x = m.tensor([[1.0, 0.0, np.nan], [0.0, -0.0, 0.0]], requires_grad=True)
        y = m.norm(x, 0, dim=1)
        assert y.tolist() == [2.0, 0.0] and y.requires_grad
        y.sum().backward()
        assert x.grad is None
        with pytest.raises(RuntimeError):
            m.autograd.grad(m.linalg.vector_norm(x, 0), x)
        assert m.autograd.grad(m.linalg.vector_norm(x, 0), x, allow_unused=True) == (None,)


def test_norm_defaults_and_a_single_element():
    for a in (np.array(-3.0), np.array([[2.0]]), np.array([-0.0])):
        for p in (0, -2, 0.5, -math.inf, 2):
            _same(lambda m, x: m.norm(x, p), a)
            _same(lambda m, x: m.linalg.vector_norm(x, p, dim=0), a)
    _same(lambda m, x: m.norm(x), _VECTORS[:, :, 1:])
    _same(lambda m, x: m.norm(x, None, dim=1), _VECTORS[:, :, 1:])
    _same(lambda m, x: m.linalg.vector_norm(x, 3, dim=()), _VECTORS[:, :, 1:])


@pytest.mark.parametrize("p", [-0.5, -2, -math.inf, 0.5, 3, math.inf])
def test_vector_norm_gradcheck(p):
    a = np.random.default_rng(1).standard_normal((3, 2, 4))
    x = tg.tensor(a, requires_grad=True)
    assert gradcheck(lambda t: tg.linalg.vector_norm(t, p, dim=(0, 2)), (x,))
    assert gradcheck(lambda t: tg.norm(t, p, dim=1, keepdim=True), (x,))


# ---- matrix norms --------------------------------------------------------------------------
_MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf]
# a plain batch; a zero column and a zero row; repeated singular values (a signed permutation
# times 2: three equal ones, whose shared gradient U V^T / 3 is unique; a rank-1 matrix with
# two zero singular values).  The singular vectors of a zero singular value are LAPACK's
# choice: torch's and NumPy's agree in float64, so float32 is compared on the plain batch only.
_MATRICES = {
    "random": np.random.default_rng(3).standard_normal((2, 3, 4)),
    "zeros": np.array([[[0.0, 1.0, -2.0, 0.0], [3.0, 0.0, 0.0, 0.0], [0.0] * 4]]),
    "repeated": np.stack([[[0.0, 2.0, 0.0], [0.0, 0.0, -2.0], [2.0, 0.0, 0.0]],
                          np.outer([1.0, 0.0, 0.0], [0.0, 2.0, 0.0])]),
}


@pytest.mark.parametrize("name", sorted(_MATRICES))
@pytest.mark.parametrize("ord", _MATRIX_ORDS)
def test_matrix_norms_match_torch_with_gradients_at_zero_and_repeated_singular_values(name, ord):
    a = _MATRICES[name]
    for dim, kd in [((-2, -1), False), ((-1, -2), True), ((2, 0), False)]:
        _same(lambda m, x: m.linalg.matrix_norm(x, ord, dim, kd), a)
        _same(lambda m, x: m.linalg.norm(x, ord, dim, kd), a)
    if name == "random":
        _same(lambda m, x: m.linalg.matrix_norm(x, ord), a.astype(np.float32), rtol=2e-6,
              atol=1e-6)
    if isinstance(ord, str):
        _same(lambda m, x: m.norm(x, ord, dim=(1, 2), keepdim=True), a)
        _same(lambda m, x: x[0].norm(ord), a)


@pytest.mark.parametrize("ord", _MATRIX_ORDS)
def test_matrix_norm_gradcheck(ord):
    x = tg.tensor(np.random.default_rng(4).standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda t: tg.linalg.matrix_norm(t, ord, dim=(2, 0)), (x,))


def test_nuclear_norm_of_torch_norm_over_all_dims_and_over_a_batch():
    a = _MATRICES["random"]
    _same(lambda m, x: m.norm(x[1], "nuc"), a)
    _same(lambda m, x: m.norm(x, "nuc", dim=(0, 2)), a)
    _same(lambda m, x: x.norm(p="nuc", dim=(2, 1), keepdim=True), a)


def test_norm_dtypes_match_torch():
    a = np.random.default_rng(5).standard_normal((3, 4))
    for fn in (lambda m, x: m.norm(x, dtype=m.float64),
               lambda m, x: m.linalg.vector_norm(x, -1, dtype=m.float64),
               lambda m, x: m.linalg.matrix_norm(x, "nuc", dtype=m.float64),
               lambda m, x: x.norm(0, 1, True, dtype=m.float64)):
        _same(fn, a.astype(np.float32), rtol=1e-6)


_BAD = [
    lambda m: m.norm(m.tensor([1, 2])),                                # an integer input
    lambda m: m.linalg.vector_norm(m.tensor([True])),
    lambda m: m.linalg.matrix_norm(m.tensor([[1, 2], [3, 4]])),
    lambda m: m.norm(m.ones(2, dtype=m.float64), dtype=m.float32),     # a narrowing dtype
    lambda m: m.linalg.vector_norm(m.ones(2), dtype=m.int64),
    lambda m: m.linalg.vector_norm(m.ones(0, 3), math.inf),            # no identity
    lambda m: m.linalg.vector_norm(m.ones(0, 3), -1, dim=0),
    lambda m: m.linalg.vector_norm(m.ones(0, 3), -math.inf),
    lambda m: m.norm(m.ones(2, 3, 4), "nuc"),                          # 'nuc' over 3 dims
    lambda m: m.norm(m.ones(2, 3, 4), "nuc", dim=1),
    lambda m: m.norm(m.ones(3), "nuc"),
    lambda m: m.norm(m.ones(2, 3, 4), "fro", dim=(0, 1, 2)),
    lambda m: m.norm(m.ones(2, 3), "foo"),
    lambda m: m.linalg.matrix_norm(m.ones(3, 3), 3),
    lambda m: m.linalg.matrix_norm(m.ones(3, 3), "fro", dim=(0, -2)),
    lambda m: m.linalg.matrix_norm(m.ones(2, 3, 4), "fro", dim=(0, 1, 2)),
    lambda m: m.linalg.norm(m.ones(2, 3, 4), 2, dim=(0, 1, 2)),
    lambda m: m.linalg.norm(m.ones(2, 3, 4), 2),
    lambda m: m.linalg.norm(m.ones(3), "fro"),
    lambda m: m.linalg.matrix_norm(m.tensor([[1.0, math.nan], [0.0, 1.0]]), "nuc"),
]


@pytest.mark.parametrize("case", range(len(_BAD)))
def test_norm_errors_match_torch(case):
    with pytest.raises(RuntimeError):
        _BAD[case](torch)
    with pytest.raises(RuntimeError):
        _BAD[case](tg)


def test_norm_argument_type_errors_match_torch():
    for m in (torch, tg):
        with pytest.raises(TypeError):
            m.linalg.vector_norm(m.ones(3), "fro")
        with pytest.raises(TypeError):
            m.linalg.matrix_norm(m.ones(3, 3), "fro", dim=0)
        with pytest.raises(IndexError):
            m.linalg.matrix_norm(m.ones(3, 3), "fro", dim=(0, 2))


def test_empty_matrices_have_torch_norms():
    for ord in ("fro", "nuc", 2, 1, math.inf):
        _same(lambda m, x: m.linalg.matrix_norm(x, ord), np.zeros((0, 3)), grad=False)


# ---- slogdet's result type -----------------------------------------------------------------
def test_top_level_slogdet_returns_torch_return_type_slogdet():
    a = np.array([[2.0, 1.0], [1.0, -3.0]])
    for ours, theirs in ((tg.slogdet(tg.tensor(a)), torch.slogdet(torch.tensor(a))),
                         (tg.tensor(a).slogdet(), torch.tensor(a).slogdet()),
                         (tg.linalg.slogdet(tg.tensor(a)), torch.linalg.slogdet(torch.tensor(a)))):
        assert type(ours).__name__ == type(theirs).__name__
        assert (float(ours.sign), float(ours.logabsdet)) == pytest.approx(
            (float(theirs.sign), float(theirs.logabsdet)))
    assert repr(tg.slogdet(tg.tensor(a))).startswith("tinygrad_cv.return_types.slogdet(\nsign=")


# ---- activations at the edges --------------------------------------------------------------
_EDGE_X = [-math.inf, -1e30, -50.0, -21.0, -3.5, -3.0, -2.9, -1.5, -1.0, -0.5, -1e-40, -0.0,
           0.0, 1e-40, 0.5, 1.0, 2.9, 3.0, 3.5, 6.0, 20.0, 21.0, 50.0, 1e30, math.inf, math.nan]
_EDGE_G = [1.0, -2.5, math.inf, -math.inf, math.nan, 0.0]


def _edge_grid(dtype):
    """Every edge input with every incoming gradient, 16 * k elements (so torch's vectorised
    CPU kernels, not their scalar tails, handle each element)."""
    x, g = (np.array(v, dtype=dtype).ravel() for v in np.meshgrid(_EDGE_X, _EDGE_G))
    pad = -len(x) % 16
    return np.concatenate([x, np.full(pad, 0.25, dtype)]), \
        np.concatenate([g, np.ones(pad, dtype)])


def _same_at_edges(fn_ours, fn_torch, dtype, rtol):
    x, g = _edge_grid(dtype)
    results = []
    for m, fn in ((tg, fn_ours), (torch, fn_torch)):
        t = m.tensor(x, requires_grad=True)
        y = fn(t)
        results.append((_host(y), _host(m.autograd.grad(y, t, m.tensor(g))[0])))
    (y_o, g_o), (y_t, g_t) = results
    assert y_o.dtype == y_t.dtype and g_o.dtype == g_t.dtype
    np.testing.assert_allclose(y_o, y_t, rtol=rtol, atol=0, equal_nan=True)
    np.testing.assert_allclose(g_o, g_t, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_hard_activations_at_the_edges_match_torch(name, dtype):
    """Forward and backward over inf / NaN / -0.0 inputs and incoming gradients, exactly
    (the boundaries -3 and 3 included): hardswish's gradient inside (-3, 3) is g times the
    slope, inf under an infinite g (NaN at -1.5 only, where the slope is 0).  torch's
    hardsigmoid slope is float32's 1/6 in float64 too (3e-8 from ours)."""
    _same_at_edges(getattr(F, name), getattr(torch.nn.functional, name), dtype,
                   rtol=0 if name == "hardswish" else 1e-7)


_SMOOTH = {
    "elu": lambda F: lambda t: F.elu(t, 1.5),
    "elu_alpha_0": lambda F: lambda t: F.elu(t, 0.0),
    "selu": lambda F: lambda t: F.selu(t),
    "celu": lambda F: lambda t: F.celu(t, 0.7),
    "softplus": lambda F: lambda t: F.softplus(t),
    "softplus_beta": lambda F: lambda t: F.softplus(t, 2.0, 10.0),
    "logsigmoid": lambda F: lambda t: F.logsigmoid(t),
    "mish": lambda F: lambda t: F.mish(t),
    "prelu_input": lambda F: lambda t: F.prelu(t, t.new_tensor([0.25])),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(_SMOOTH))
def test_smooth_activations_at_the_edges_match_torch(name, dtype):
    """elu / selu / celu (one ELU primitive), softplus, logsigmoid, mish and prelu's weight:
    torch's closed-form gradients, so an infinite incoming gradient gives +-inf (not NaN)
    where the slope is non-zero, elu's slope exp(x) keeps its digits for x << 0 (not 0), a
    NaN input gives softplus a NaN gradient, and prelu's weight gets 0 (not NaN) from x = inf.
    (torch converts celu's alpha through float32: 1e-6 relative.)"""
    _same_at_edges(_SMOOTH[name](F), _SMOOTH[name](torch.nn.functional), dtype, rtol=2e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prelu_weight_gradient_at_the_edges_matches_torch(dtype):
    x, g = _edge_grid(dtype)
    grads = []
    for m in (tg, torch):
        w = m.tensor(np.array([0.25], dtype), requires_grad=True)
        y = m.nn.functional.prelu(m.tensor(x), w)
        grads.append(_host(m.autograd.grad(y, w, m.tensor(g))[0]))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, equal_nan=True)
    grads = []
    for m in (tg, torch):     # one weight per channel, +-inf and NaN inputs, unit gradients
        w = m.tensor(np.array([0.25, -2.0], dtype), requires_grad=True)
        y = m.nn.functional.prelu(m.tensor(np.array([[math.inf, -math.inf], [1.0, math.nan]],
                                                    dtype)), w)
        grads.append(_host(m.autograd.grad(y.sum(), w)[0]))
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("name", sorted(set(_SMOOTH) - {"prelu_input"}))
def test_smooth_activations_second_order_and_gradcheck(name):
    x = np.linspace(-4.0, 4.0, 17) + 0.01
    t = tg.tensor(x, requires_grad=True)
    assert gradcheck(_SMOOTH[name](F), (t,))
    outs = []
    for m in (tg, torch):
        t = m.tensor(x, requires_grad=True)
        g, = m.autograd.grad(_SMOOTH[name](m.nn.functional)(t).sum(), t, create_graph=True)
        outs.append(_host(m.autograd.grad((g * g).sum(), t)[0]))
    # (torch converts celu's alpha through float32)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6 if name == "celu" else 1e-9,
                               atol=1e-12)


_FLOAT_ONLY = ["elu", "selu", "celu", "softplus", "logsigmoid", "mish", "hardswish", "gelu",
               "silu", "leaky_relu", "rrelu", "hardsigmoid", "hardshrink", "softshrink", "glu",
               "softmax", "log_softmax", "softmin", "elu_", "leaky_relu_", "rrelu_"]


def _activation(m, name, x):
    F_ = m.nn.functional
    if name in ("softmax", "log_softmax", "softmin"):
        return getattr(F_, name)(x, dim=-1)
    if name == "threshold":
        return F_.threshold(x, 0.5, -1.5)
    return getattr(F_, name)(x)


@pytest.mark.parametrize("name", _FLOAT_ONLY)
def test_activations_refuse_integer_and_bool_inputs_as_torch(name):
    for m in (torch, tg):
        with pytest.raises(NotImplementedError):
            _activation(m, name, m.tensor([1, -2]))
        with pytest.raises((NotImplementedError, RuntimeError)) as raised:
            _activation(m, name, m.tensor([True, False]))
        if m is torch:
            expected = raised.type
        else:
            assert raised.type is expected
    for m in (tg, torch):        # a dtype= cast first is accepted
        if name in ("softmax", "log_softmax", "softmin"):
            assert getattr(m.nn.functional, name)(m.tensor([1, 2]), -1, dtype=m.float32).dtype \
                == m.float32


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "relu_", "hardtanh_", "tanhshrink",
                                  "softsign", "threshold"])
def test_activations_on_bool_inputs_raise_as_torch(name):
    errors = []
    for m in (torch, tg):
        with pytest.raises((NotImplementedError, RuntimeError)) as raised:
            _activation(m, name, m.tensor([True, False]))
        errors.append(raised.type)
    assert errors[0] is errors[1]


def test_threshold_keeps_an_integer_dtype_as_torch():
    outs = [m.nn.functional.threshold(m.tensor([1, -2, 3, 0]), 0.5, -1.5) for m in (tg, torch)]
    assert outs[0].tolist() == outs[1].tolist() == [1, -1, 3, -1]
    assert str(outs[0].dtype) == str(outs[1].dtype).replace("torch.", "") == "int64"


@pytest.mark.parametrize("name", ["relu_", "elu_", "selu_", "celu_", "leaky_relu_", "hardtanh_",
                                  "threshold_", "rrelu_"])
def test_inplace_activations_of_empty_tensors_as_torch(name):
    for shape in ((0, 4), (3, 0)):
        for m in (tg, torch):
            x = m.ones(*shape)
            out = getattr(m.nn.functional, name)(*((x, 0.5, 2.0) if name == "threshold_" else
                                                     (x,)))
            assert out is x and tuple(x.shape) == shape
    x = tg.ones(1, 3).expand(0, 3)     # an empty expand has nothing to overlap
    assert x.add_(1) is x


def test_silu_of_a_0d_tensor_and_glu_of_an_empty_dim_as_torch():
    _same(lambda m, t: m.nn.functional.silu(t), np.array(-1.5))
    _same(lambda m, t: m.nn.functional.silu(t * 1, inplace=True), np.array(2.5))
    _same(lambda m, t: m.nn.functional.glu(t, -1), np.ones((3, 0)), grad=False)
    _same(lambda m, t: m.nn.functional.glu(t, 0), np.random.default_rng(7).standard_normal(
        (4, 3)))


def test_hardswish_module_inplace_second_order_and_integers_as_torch():
    x = np.linspace(-4.0, 4.0, 17) + 0.01
    _same(lambda m, t: m.nn.Hardswish()(t * 1), x)
    _same(lambda m, t: m.nn.functional.hardswish(t * 1, inplace=True), x)
    t = tg.tensor(x, requires_grad=True)
    assert gradcheck(F.hardswish, (t,))
    outs = []
    for m in (tg, torch):
        t = m.tensor(x, requires_grad=True)
        g, = m.autograd.grad(m.nn.functional.hardswish(t).sum(), t, create_graph=True)
        outs.append(_host(m.autograd.grad((g * g).sum(), t)[0]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)


def _onnx_outputs(module, x):
    """``module(x)`` exported by tinygrad_cv.onnx and run by onnxruntime."""
    import io

    import onnxruntime
    from tinygrad_cv.onnx import export
    buf = io.BytesIO()
    export(module, (tg.tensor(x),), buf, input_names=["x"])
    session = onnxruntime.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_activation_primitives_export_to_onnx():
    x = np.linspace(-5.0, 5.0, 41, dtype=np.float32).reshape(1, 41)
    for module in (tg.nn.Hardswish(), tg.nn.ELU(0.5), tg.nn.SELU(), tg.nn.CELU(0.7),
                   tg.nn.Softplus(2.0, 3.0), tg.nn.LogSigmoid(), tg.nn.Mish()):
        np.testing.assert_allclose(_onnx_outputs(module, x), _host(module(tg.tensor(x))),
                                   rtol=1e-6, atol=1e-7)


# ---- embedding_bag with bool indices -------------------------------------------------------
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_reads_1d_bool_indices_and_offsets_as_integers_as_torch(mode):
    w = np.random.default_rng(6).standard_normal((5, 3))
    idx, off = [True, False, True, True], [False, True]
    _same(lambda m, t: m.nn.functional.embedding_bag(m.tensor(idx), t, m.tensor([0, 1]),
                                                     mode=mode), w)
    _same(lambda m, t: m.nn.functional.embedding_bag(m.tensor([1, 2, 0]), t, m.tensor(off),
                                                     mode=mode, include_last_offset=False), w)
    if mode == "sum":
        _same(lambda m, t: m.nn.functional.embedding_bag(
            m.tensor(idx), t, m.tensor([0, 2]), mode=mode,
            per_sample_weights=m.tensor([0.5, 2.0, -1.0, 3.0], dtype=m.float64)), w)


def test_embedding_bag_refuses_2d_bool_indices_as_torch():
    for m in (torch, tg):
        bag = m.nn.EmbeddingBag(5, 3)
        with pytest.raises(NotImplementedError):
            bag(m.tensor([[True, False], [False, False]]))
        with pytest.raises(RuntimeError):       # offsets [1, 0]: the first is not 0
            m.nn.functional.embedding_bag(m.tensor([1, 2]), bag.weight, m.tensor([True, False]))


@pytest.mark.parametrize("name", ["elu", "selu", "celu", "hardswish", "softplus", "mish",
                                  "logsigmoid", "silu", "gelu"])
def test_second_derivatives_at_infinite_inputs_match_torch(name):
    """create_graph through the piecewise primitives: the branch not taken at x = +-inf
    contributes 0, not 0 * inf (the kinks 0 and NaN inputs, where torch's first and second
    derivatives take different sides, are left out)."""
    x = np.array([-math.inf, -50.0, -3.5, -3.0, -1.0, 1.0, 3.0, 3.5, 50.0, math.inf])
    results = []
    for m in (tg, torch):
        t = m.tensor(x, requires_grad=True)
        g0 = m.tensor(np.linspace(-1.0, 2.0, len(x)), requires_grad=True)
        gx, = m.autograd.grad(getattr(m.nn.functional, name)(t), t, g0, create_graph=True)
        v = m.tensor(np.cos(np.arange(len(x))))
        results.append([_host(h) for h in m.autograd.grad(gx, (t, g0), v)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-20, equal_nan=True)


def test_leaky_relu_with_an_infinite_slope_keeps_the_positive_gradient_as_torch():
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    _same(lambda m, t: m.nn.functional.leaky_relu(t, math.inf), x, g=np.ones(4))


@pytest.mark.parametrize("call", [
    lambda m, x: m.nn.functional.gelu(x, approximate="foo"),
    lambda m, x: m.nn.functional.celu(x, 0.0),
    lambda m, x: m.nn.functional.softshrink(x, -1.0),
    lambda m, x: m.nn.functional.softshrink(x, math.inf),
    lambda m, x: m.nn.functional.rrelu(x, 0.5, 0.1),
    lambda m, x: m.nn.functional.rrelu(x, 0.5, 0.1, training=True),
])
def test_activation_argument_errors_are_torchs(call):
    for m in (torch, tg):
        with pytest.raises(RuntimeError):
            call(m, m.ones(3))


def test_float16_norms_accumulate_in_float32_as_torch():
    x = np.array([[300.0, 400.0], [1.0, -2.0]], dtype=np.float16)      # 300^2 > float16's max
    for p in (2, 1, -1, 0.5, math.inf):     # (torch's float16 gradients: 3 ulps off)
        _same(lambda m, t: m.linalg.vector_norm(t, p, dim=1), x, g=np.ones(2, np.float16),
              rtol=3e-3)
    _same(lambda m, t: m.linalg.matrix_norm(t), x, g=np.ones((), np.float16), rtol=1e-3)
    ours = tg.tensor(x, requires_grad=True)
    tg.linalg.vector_norm(ours, 3, dim=1).sum().backward()    # (torch's float16 gives NaN)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(_host(ours.grad).astype(np.float64),
                               x64 ** 2 / np.cbrt((abs(x64) ** 3).sum(1, keepdims=True)) ** 2
                               * np.sign(x64), rtol=2e-3)
    for m in (torch, tg):
        for ord in ("nuc", 2, -2):
            with pytest.raises(RuntimeError):
                m.linalg.matrix_norm(m.tensor(x), ord)


@pytest.mark.parametrize("call", [
    lambda m: m.linalg.inv(m.zeros(2, 2)),
    lambda m: m.inverse(m.zeros(2, 2)),
    lambda m: m.linalg.solve(m.zeros(2, 2), m.ones(2)),
    lambda m: m.linalg.cholesky(-m.eye(2)),
    lambda m: m.linalg.svd(m.full((2, 2), math.nan)),
    lambda m: m.linalg.matrix_norm(m.full((2, 2), math.nan), "nuc"),
])
def test_linalg_failures_raise_linalg_error_as_torch(call):
    """``except torch.linalg.LinAlgError`` in a ported script catches ours (a RuntimeError)."""
    for m in (torch, tg):
        with pytest.raises(m.linalg.LinAlgError):
            call(m)
    assert issubclass(tg.linalg.LinAlgError, RuntimeError)


def test_relu_keeps_the_sign_of_negative_zero_as_torch():
    for dtype in (np.float32, np.float64):
        x = np.array([-0.0, 0.0, math.nan, -1.0, 2.0] * 8, dtype)
        for relu in (lambda m, t: m.nn.functional.relu(t),
                     lambda m, t: m.nn.functional.relu(t.clone(), inplace=True)):
            outs = [_host(relu(m, m.tensor(x))) for m in (tg, torch)]
            np.testing.assert_array_equal(np.signbit(outs[0]), np.signbit(outs[1]))
            np.testing.assert_array_equal(outs[0], outs[1])
