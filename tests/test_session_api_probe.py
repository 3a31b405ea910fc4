"""Regression tests from a differential probe against torch (argument forms, 0-d and empty
tensors, dtypes, errors) of the statistics, linalg, indexing, distributions and
custom-Function modules."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg


def _close(ours, theirs, tol=1e-6):
    ours = (ours.detach().numpy() if isinstance(ours, (tg.Tensor, torch.Tensor))
            else np.asarray(ours))
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


# ---- tensor_statistics -------------------------------------------------------------------
X = np.random.default_rng(0).standard_normal((3, 4))


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("args, kwargs", [((1, True), {}), ((1, False, True), {}),
                                          ((0, False), {"keepdim": True}), ((False,), {}),
                                          ((True,), {}), ((1,), {"correction": 0})])
def test_var_std_mean_torch_positional_forms(name, args, kwargs):
    ours = getattr(tg, name)(tg.tensor(X), *args, **kwargs)
    theirs = getattr(torch, name)(torch.tensor(X), *args, **kwargs)
    for a, b in zip(ours, theirs):
        _close(a, b)


def test_aminmax_empty_tensor_over_a_non_empty_dim():
    for keepdim in (False, True):
        ours = tg.aminmax(tg.zeros(0, 4), dim=1, keepdim=keepdim)
        theirs = torch.aminmax(torch.zeros(0, 4), dim=1, keepdim=keepdim)
        assert ours.min.shape == tuple(theirs.min.shape) and ours.max.shape == tuple(
            theirs.max.shape)
    with pytest.raises(RuntimeError):
        tg.aminmax(tg.zeros(0, 4), dim=0)


@pytest.mark.parametrize("dim", [0, -1, None])
def test_count_nonzero_of_a_0d_tensor_takes_dim_0(dim):
    _close(tg.count_nonzero(tg.tensor(2.0), dim), torch.count_nonzero(torch.tensor(2.0), dim))


def test_quantile_of_a_0d_tensor_checks_dim():
    _close(tg.quantile(tg.tensor(1.5), 0.3, dim=-1), torch.quantile(torch.tensor(1.5), 0.3,
                                                                      dim=-1))
    with pytest.raises(IndexError):
        torch.quantile(torch.tensor(1.5), 0.3, dim=1)
    with pytest.raises(IndexError):
        tg.quantile(tg.tensor(1.5), 0.3, dim=1)


# ---- tensor_products ---------------------------------------------------------------------
def _with_grad(fn, module, *arrays):
    ins = [module.tensor(a, requires_grad=True) for a in arrays]
    out = fn(module, *ins)
    grads = (module.autograd.grad(out.sum(), ins) if out.requires_grad else ())
    return out, grads


@pytest.mark.parametrize("p", [float("inf"), 3.0, 0.5])
def test_renorm_any_p_against_torch(p):
    a = np.random.default_rng(1).standard_normal((3, 4))
    ours, g_ours = _with_grad(lambda m, x: m.renorm(x, p, -1, 0.3), tg, a)
    theirs, g_theirs = _with_grad(lambda m, x: m.renorm(x, p, -1, 0.3), torch, a)
    _close(ours, theirs)
    _close(g_ours[0], g_theirs[0], 1e-5)


@pytest.mark.parametrize("p", [-float("inf"), -1.0, float("inf"), 0.5])
def test_dist_negative_and_infinite_p_against_torch(p):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ours, g_ours = _with_grad(lambda m, x, y: m.dist(x, y, p), tg, a, b)
    theirs, g_theirs = _with_grad(lambda m, x, y: m.dist(x, y, p), torch, a, b)
    _close(ours, theirs)
    for go, gt in zip(g_ours, g_theirs):
        _close(go, gt, 1e-5)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int16", "bool"])
def test_vander_of_integers_is_int64(dtype):
    x = np.array([1, 2, 0, 3]).astype(dtype)
    for N in (None, 0, 3):
        assert tg.vander(tg.tensor(x), N=N).dtype == tg.int64
        _close(tg.vander(tg.tensor(x), N=N, increasing=True),
               torch.vander(torch.tensor(x), N=N, increasing=True))
    if dtype == "bool":
        with pytest.raises(RuntimeError):
            tg.linalg.vander(tg.tensor(x))
        return
    _close(tg.linalg.vander(tg.tensor(x)), torch.linalg.vander(torch.tensor(x)))
    assert tg.linalg.vander(tg.tensor(x)).dtype == tg.int64


def test_tensordot_dims_as_0d_tensor():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    _close(tg.tensordot(tg.tensor(a), tg.tensor(b), dims=tg.tensor(1)),
           torch.tensordot(torch.tensor(a), torch.tensor(b), dims=torch.tensor(1)))


# ---- tensor_indexing ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8", "int16"])
def test_result_type_bool_tensor_with_0d_integer_tensor(dtype):
    ours = tg.result_type(tg.zeros(2, dtype=tg.bool), tg.zeros((), dtype=getattr(tg, dtype)))
    theirs = torch.result_type(torch.zeros(2, dtype=torch.bool),
                               torch.zeros((), dtype=getattr(torch, dtype)))
    assert str(ours) == str(theirs).replace("torch.", "")


@pytest.mark.parametrize("accumulate", [False, True])
def test_put_into_a_non_contiguous_tensor(accumulate):
    a = np.arange(12.0).reshape(3, 4)
    results = []
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        s = m.tensor([100.0, 200.0], dtype=m.float64, requires_grad=True)
        out = m.put(x.t(), m.tensor([1, 1 if accumulate else 2]), s * 2, accumulate)
        y = x * 1
        y.t().put_(m.tensor([1, 2]), s * 3, accumulate=accumulate)
        w = m.arange(12.0, dtype=m.float64).reshape(3, 4)
        ((out * w.t()).sum() + (y * w).sum()).backward()
        results.append((out, y, x.grad, s.grad))
    for ours, theirs in zip(results[1], results[0]):
        _close(ours, theirs)


def test_tensor_split_keyword_forms():
    a = np.arange(12.0).reshape(3, 4)
    for kwargs in ({"sections": 3}, {"indices": [1, 3]},
                   {"tensor_indices_or_sections": [1]}):
        ours = tg.tensor_split(tg.tensor(a), dim=1, **{
            k: (tg.tensor(v) if k.startswith("tensor") else v) for k, v in kwargs.items()})
        theirs = torch.tensor_split(torch.tensor(a), dim=1, **{
            k: (torch.tensor(v) if k.startswith("tensor") else v) for k, v in kwargs.items()})
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _close(o, t)
    with pytest.raises(RuntimeError):
        tg.tensor_split(tg.tensor(1.0), 2)


# ---- distributions -----------------------------------------------------------------------
@pytest.mark.parametrize("family, params", [
    ("Gamma", (2.0, 1.5)), ("Chi2", (3.0,)), ("Poisson", (2.0,)), ("Geometric", (0.3,)),
    ("Binomial", (5, 0.3)), ("Beta", (2.0, 3.0)), ("StudentT", (3.0,))])
@pytest.mark.parametrize("zero_d", [False, True])
def test_sample_with_number_or_0d_parameters(family, params, zero_d):
    if zero_d:
        params = tuple(tg.tensor(float(p)) for p in params)
    dist = getattr(tg.distributions, family)(*params)
    assert dist.sample().shape == ()
    assert dist.sample((2, 3)).shape == (2, 3)


@pytest.mark.parametrize("family, params, method", [
    ("Poisson", (2.0,), "entropy"),      # (Binomial has an entropy, as torch's)
    ("Gamma", (2.0, 1.0), "icdf"), ("Bernoulli", (0.3,), "cdf"), ("Beta", (2.0, 3.0), "cdf")])
def test_missing_methods_raise_not_implemented(family, params, method):
    args = () if method == "entropy" else (tg.tensor(0.5),)
    with pytest.raises(NotImplementedError):
        getattr(getattr(tg.distributions, family)(*params), method)(*args)


def test_gumbel_icdf_against_torch():
    rng = np.random.default_rng(4)
    loc, scale, q = rng.standard_normal(3), rng.uniform(0.5, 2, 3), rng.uniform(0.05, 0.95, 3)
    results = []
    for m in (torch, tg):
        ps = [m.tensor(a, requires_grad=True) for a in (loc, scale)]
        out = m.distributions.Gumbel(*ps).icdf(m.tensor(q))
        results.append((out,) + tuple(m.autograd.grad(out.sum(), ps)))
    for ours, theirs in zip(results[1], results[0]):
        _close(ours, theirs)


@pytest.mark.parametrize("family, p_params, q_params", [
    ("HalfNormal", ([0.5, 2.0],), ([1.5, 0.7],)),
    ("Cauchy", ([0.0, 1.0], [0.5, 2.0]), ([1.0, -1.0], [1.5, 0.7])),
    ("Gumbel", ([0.0, 1.0], [0.5, 2.0]), ([1.0, -1.0], [1.5, 0.7])),
    ("Geometric", ([0.2, 0.7],), ([0.5, 0.1],)),
    ("Binomial", ([5.0, 7.0], [0.2, 0.7]), ([5.0, 4.0], [0.5, 0.1]))])
def test_kl_divergence_of_more_families_against_torch(family, p_params, q_params):
    results = []
    for m in (torch, tg):
        ps = [m.tensor(v, dtype=m.float64, requires_grad=(i > 0 or family != "Binomial"))
              for i, v in enumerate(p_params)]
        qs = [m.tensor(v, dtype=m.float64, requires_grad=(i > 0 or family != "Binomial"))
              for i, v in enumerate(q_params)]
        kl = m.distributions.kl_divergence(getattr(m.distributions, family)(*ps),
                                           getattr(m.distributions, family)(*qs))
        leaves = [t for t in ps + qs if t.requires_grad]
        finite = kl[0]
        results.append((kl,) + tuple(m.autograd.grad(finite, leaves)))
    for ours, theirs in zip(results[1], results[0]):
        _close(ours, theirs, 1e-10)


@pytest.mark.parametrize("build, value", [
    (lambda m: m.distributions.Geometric(0.3).log_prob, 0.5),
    (lambda m: m.distributions.Geometric(0.3).log_prob, -1.0),
    (lambda m: m.distributions.Binomial(3, 0.3).log_prob, 4.0),
    (lambda m: m.distributions.Binomial(3, 0.3).log_prob, 0.5),
    (lambda m: m.distributions.Dirichlet(m.tensor([1.0, 2.0])).log_prob, [0.5, 0.6]),
    (lambda m: m.distributions.Dirichlet(m.tensor([1.0, 2.0])).log_prob, [-0.1, 1.1]),
    (lambda m: m.distributions.Exponential(1.0).cdf, -1.0),
    (lambda m: m.distributions.HalfNormal(1.0).cdf, -1.0),
    (lambda m: m.distributions.LogNormal(0.0, 1.0).cdf, -1.0),
    (lambda m: (lambda: m.distributions.Binomial(2.5, 0.5)), None),
    (lambda m: (lambda: m.distributions.Binomial(-1, 0.5)), None),
    (lambda m: (lambda: m.distributions.MultivariateNormal(
        m.zeros(2), m.tensor([[1.0, 0.5], [0.0, 1.0]]))), None),
    (lambda m: (lambda: m.distributions.MultivariateNormal(
        m.zeros(2), m.tensor([[1.0, 2.0], [2.0, 1.0]]))), None),
    (lambda m: (lambda: m.distributions.MultivariateNormal(
        m.zeros(2), scale_tril=m.tensor([[1.0, 0.0], [0.5, -1.0]]))), None)])
def test_validate_args_checks_support_and_parameters_as_torch(build, value):
    for m in (torch, tg):
        fn = build(m)
        with pytest.raises(ValueError):
            fn() if value is None else fn(m.tensor(value))
    # the values the checks accept give torch's numbers
    _close(tg.distributions.Geometric(0.3).log_prob(tg.tensor(2.0)),
           torch.distributions.Geometric(0.3).log_prob(torch.tensor(2.0)))


def test_halfnormal_log_prob_below_zero_unvalidated_is_minus_inf():
    value = [-1.0, 0.5]
    ours = tg.distributions.HalfNormal(1.0, validate_args=False).log_prob(tg.tensor(value))
    theirs = torch.distributions.HalfNormal(1.0, validate_args=False).log_prob(
        torch.tensor(value))
    _close(ours, theirs)


# ---- autograd.Function -------------------------------------------------------------------
def _functions(m):
    class ScalarOut(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum() * 3

        @staticmethod
        def backward(ctx, g):
            return g.expand(3, 4) * 3          # (g must be a Tensor)

    class WrongShape(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    class Once(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @m.autograd.function.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    class Defaults(m.autograd.Function):
        @staticmethod
        def forward(x, k=3):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k, ctx.count = inputs[1], len(inputs)

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k * ctx.count, None
    return ScalarOut, WrongShape, Once, Defaults


def test_custom_function_backward_gets_a_tensor_for_a_0d_output():
    a = np.random.default_rng(5).standard_normal((3, 4))
    grads = []
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        out = _functions(m)[0].apply(x)
        grads.append(m.autograd.grad((out * m.tensor(2.0, dtype=m.float64)).sum(), x)[0])
    _close(grads[1], grads[0])


def test_custom_function_gradient_of_a_wrong_shape_raises_naming_it():
    for m in (torch, tg):
        x = m.ones(3, 4, requires_grad=True)
        with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
            _functions(m)[1].apply(x).sum().backward()


def test_once_differentiable_passes_create_graph_with_constant_gradients():
    a = np.random.default_rng(6).standard_normal((3, 4))
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        y = _functions(m)[2].apply(x).sum() + (x ** 2).sum()
        g, = m.autograd.grad(y, x, create_graph=True)
        _close(g, torch.tensor(3 * a ** 2 + 2 * a))
        g2, = m.autograd.grad(g.sum(), x)          # only x ** 2's part is recorded
        _close(g2, torch.full((3, 4), 2.0, dtype=torch.float64))


def test_setup_context_sees_forward_defaults_and_keywords():
    results = []
    for m in (torch, tg):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        Defaults = _functions(m)[3]
        y1, y2 = Defaults.apply(x), Defaults.apply(x, k=5)
        g1, = m.autograd.grad(y1.sum(), x)
        g2, = m.autograd.grad(y2.sum(), x)
        results.append((y1, y2, g1, g2))
    for ours, theirs in zip(results[1], results[0]):
        _close(ours, theirs)


# ---- packed sequences --------------------------------------------------------------------
@pytest.mark.parametrize("method", ["float", "double", "half", "long", "int", "short", "char",
                                    "byte", "cpu"])
def test_packed_sequence_conversions_as_torch(method):
    data = np.random.default_rng(7).uniform(0, 5, (4, 2))
    results = []
    for m in (torch, tg):
        seqs = [m.tensor(data[:3]), m.tensor(data[3:])]
        packed = getattr(m.nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False), method)()
        assert type(packed).__name__ == "PackedSequence"
        results.append(packed)
    ours, theirs = results[1], results[0]
    assert str(ours.data.dtype) == str(theirs.data.dtype).replace("torch.", "")
    for a, b in zip(ours, theirs):
        _close(a.double() if a.dtype == tg.float16 else a,
               b.double() if b.dtype == torch.float16 else b, 1e-3)


# ---- linalg ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_svd_full_matrices_differentiates_the_singular_values(shape):
    a = np.random.default_rng(8).standard_normal(shape)
    w = np.arange(1.0, 4.0)
    results = []
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        _, s, _ = m.linalg.svd(x)               # full_matrices=True: U, V unused
        results.append(m.autograd.grad((s * m.tensor(w)).sum(), x)[0])
    _close(results[1], results[0], 1e-10)


@pytest.mark.parametrize("some", [True, False])
def test_torch_svd_without_uv_as_torch(some):
    a = np.random.default_rng(9).standard_normal((2, 4, 3))
    results = []
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        u, s, v = m.svd(x, some=some, compute_uv=False)
        results.append((u, s, v, m.autograd.grad(s.sum(), x)[0]))
    for ours, theirs in zip(results[1], results[0]):
        _close(ours, theirs, 1e-10)


# ---- windows -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
def test_window_length_as_0d_tensor_and_errors_name_the_window(name):
    _close(getattr(tg, name)(tg.tensor(5)), getattr(torch, name)(torch.tensor(5)))
    with pytest.raises(RuntimeError, match=name):
        getattr(tg, name)(-1)


# ---- func --------------------------------------------------------------------------------
def _transforms(m, x, y, name):
    f = m.func
    yy = y.detach().clone().requires_grad_()
    cases = {
        "grad": lambda: f.grad(lambda a: (a.sin() * a).sum())(x),
        "grad_and_value": lambda: f.grad_and_value(lambda a: (a ** 3).sum())(x),
        "vjp": lambda: (lambda out, fn: (out, fn(m.ones_like(out))))(
            *f.vjp(lambda a: a.sin(), x)),
        "jacrev": lambda: f.jacrev(lambda a: a.sin() * a.sum())(x),
        "hessian": lambda: f.hessian(lambda a: (a.sin() * a).sum())(x),
        "jvp": lambda: f.jvp(lambda a: a.sin() * a, (x,), (y,)),
        "jvp_aux": lambda: f.jvp(lambda a: (a.sin(), a.cos()), (x,), (y,), has_aux=True),
        "jacrev_two_outputs": lambda: f.jacrev(lambda a: (a.sin(), a.sum()))(x),
        "grad_unused_argument": lambda: f.grad(lambda a, b: a.sum() * 2, argnums=1)(x, y),
        "vmap_out_none": lambda: f.vmap(lambda r: (r * 2, y), out_dims=(0, None))(
            x.reshape(3, 1)),
        # a closure over a tensor that requires grad keeps the result on its graph
        "closure": lambda: f.grad(lambda a: (a.sin() * yy).sum())(x),
    }
    return cases[name]()


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@pytest.mark.parametrize("name", ["grad", "grad_and_value", "vjp", "jacrev", "hessian", "jvp",
                                  "jvp_aux", "jacrev_two_outputs", "grad_unused_argument",
                                  "vmap_out_none", "closure"])
def test_func_transform_results_as_torch(name):
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    theirs = _leaves(_transforms(torch, torch.tensor(a), torch.tensor(b), name))
    ours = _leaves(_transforms(tg, tg.tensor(a), tg.tensor(b), name))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o.requires_grad == t.requires_grad       # (not tracked unless an outer graph)
        _close(o, t, 1e-10)


# ---- tensor_random -----------------------------------------------------------------------
@pytest.mark.parametrize("mean_dtype, std_dtype", [("float32", "float64"),
                                                   ("float64", "float32")])
def test_normal_with_tensor_parameters_takes_the_mean_dtype(mean_dtype, std_dtype):
    ours = tg.normal(tg.zeros(3, dtype=getattr(tg, mean_dtype)),
                     tg.ones(3, dtype=getattr(tg, std_dtype)))
    theirs = torch.normal(torch.zeros(3, dtype=getattr(torch, mean_dtype)),
                          torch.ones(3, dtype=getattr(torch, std_dtype)))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("call", [lambda m: m.zeros(3, dtype=m.int64).exponential_(),
                                  lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
                                  lambda m: m.zeros(3).uniform_(2, 1),
                                  lambda m: m.zeros(3).normal_(0, -1)])
def test_random_fills_refuse_what_torch_refuses(call):
    for m in (torch, tg):
        with pytest.raises(RuntimeError):
            call(m)


# ---- tensor_compat -----------------------------------------------------------------------
@pytest.mark.parametrize("call", [lambda t: t.divide_(2), lambda t: t.log10_(),
                                  lambda t: t.true_divide_(t)])
def test_in_place_forms_refuse_a_float_result_in_an_integer_tensor(call):
    for m in (torch, tg):
        t = m.tensor([1, 2, 3])
        with pytest.raises(RuntimeError, match="can't be cast"):
            call(t)
        assert t.tolist() == [1, 2, 3]
    ours = tg.tensor([1.0, 2.0])
    ours.eq_(tg.tensor([1.0, 0.0]))                   # a bool result goes into floats
    assert ours.tolist() == [1.0, 0.0]


def test_reflected_and_in_place_shifts():
    results = []
    for m in (torch, tg):
        t = m.tensor([1, 2, 3], dtype=m.int32)
        u = t.clone()
        u <<= 2
        w = t.clone()
        w >>= 1
        results.append((2 << t, 64 >> t, u, w))
        with pytest.raises(NotImplementedError):
            m.tensor([1.0]) << 1
    for ours, theirs in zip(results[1], results[0]):
        assert ours.tolist() == theirs.tolist()
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


# ---- second derivatives through an output whose Tensor was freed ---------------------------
@pytest.mark.parametrize("name", ["svdvals", "qr_r", "matrix_norm_nuc", "cond"])
def test_second_derivative_through_unused_outputs_of_a_decomposition(name):
    a = np.random.default_rng(11).standard_normal((4, 3))
    w = np.cos(np.arange(12.0)).reshape(4, 3)
    fns = {"svdvals": lambda m, x: m.linalg.svdvals(x),
           "qr_r": lambda m, x: m.linalg.qr(x)[1].abs(),       # Q unused
           "matrix_norm_nuc": lambda m, x: m.linalg.matrix_norm(x, "nuc"),
           "cond": lambda m, x: m.linalg.cond(x)}
    results = []
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        g, = m.autograd.grad(fns[name](m, x).sum(), x, create_graph=True)
        results.append(m.autograd.grad((g * m.tensor(w)).sum(), x)[0])
    _close(results[1], results[0], 1e-8)


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "gcd", "lcm"])
def test_integer_only_functions_raise_not_implemented_for_floats(name):
    for m in (torch, tg):
        with pytest.raises(NotImplementedError):
            getattr(m, name)(m.tensor([1.0]), m.tensor([2.0]))
    with pytest.raises(NotImplementedError):
        tg.bitwise_not(tg.tensor([1.0]))


def test_func_functional_call_takes_a_tuple_of_dicts():
    x = np.random.default_rng(12).standard_normal((4, 3))
    outs = []
    for m in (torch, tg):
        lin = m.nn.Linear(3, 2).double()
        w = m.tensor(np.arange(6.0).reshape(2, 3) / 6)
        b = m.tensor([0.1, 0.2], dtype=m.float64)
        outs.append(m.func.functional_call(lin, ({"weight": w}, {"bias": b}), (m.tensor(x),)))
        with pytest.raises(ValueError):
            m.func.functional_call(lin, ({"weight": w}, {"weight": w}), (m.tensor(x),))
    _close(outs[1], outs[0])
