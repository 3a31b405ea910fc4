"""tinygrad_cv.distributions against torch.distributions: log_prob, entropy, moments and their
gradients on the same parameters; sample shapes and statistics (seeded, with tolerances from
the sample size); the reparameterised gradient of Normal.rsample; argument validation."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.distributions import Bernoulli, Categorical, Normal, Uniform

SETTINGS = settings(max_examples=8, deadline=None)


pytestmark = pytest.mark.usefixtures("torch_on_one_thread")


TOL = dict(rtol=1e-10, atol=1e-12)


def _np(t):
    return t.detach().numpy()


def _grads_match(ours, theirs, o_params, t_params, seed):
    """Backpropagate the same random weights through both outputs; compare the gradients."""
    g = np.random.default_rng(seed).standard_normal(theirs.shape)
    (ours * tg.Tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    for po, pt in zip(o_params, t_params):
        np.testing.assert_allclose(_np(po.grad), pt.grad.numpy(), **TOL)


# ---- Categorical ---------------------------------------------------------------------------------
@SETTINGS
@given(st.sampled_from(["probs", "logits"]), st.lists(st.integers(1, 3), max_size=2),
       st.integers(1, 5), st.integers(0, 2), st.integers(0, 2**16))
def test_categorical_matches_torch(kind, batch, k, extra, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(batch) + (k,)
    raw = rng.uniform(0.05, 1, shape) if kind == "probs" else rng.normal(size=shape) * 2
    po, pt = tg.Tensor(raw, requires_grad=True), torch.tensor(raw, requires_grad=True)
    do, dt = Categorical(**{kind: po}), torch.distributions.Categorical(**{kind: pt})
    assert do.batch_shape == tuple(dt.batch_shape) and do.event_shape == ()
    np.testing.assert_allclose(_np(do.probs), _np(dt.probs), **TOL)
    np.testing.assert_allclose(_np(do.logits), _np(dt.logits), **TOL)
    value = rng.integers(0, k, size=(extra,) * min(extra, 1) + tuple(batch))
    lo, lt = do.log_prob(tg.Tensor(value)), dt.log_prob(torch.tensor(value))
    np.testing.assert_allclose(_np(lo), _np(lt), **TOL)
    eo, et = do.entropy(), dt.entropy()
    np.testing.assert_allclose(_np(eo), _np(et), **TOL)
    _grads_match(lo.sum() + (eo * 1.5).sum(), lt.sum() + (et * 1.5).sum(), [po], [pt], seed)
    np.testing.assert_array_equal(_np(do.mode), _np(dt.mode))
    assert np.isnan(_np(do.mean)).all() and do.mean.shape == tuple(dt.mean.shape)
    np.testing.assert_array_equal(_np(do.enumerate_support()), _np(dt.enumerate_support()))


def test_categorical_entropy_with_zero_probabilities_is_finite_like_torch():
    p = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    theirs = torch.distributions.Categorical(probs=torch.tensor(p)).entropy()
    np.testing.assert_allclose(_np(Categorical(probs=tg.Tensor(p)).entropy()), _np(theirs), **TOL)
    logits = np.array([[-np.inf, 0.0, 1.0]])
    np.testing.assert_allclose(
        _np(Categorical(logits=tg.Tensor(logits)).entropy()),
        _np(torch.distributions.Categorical(logits=torch.tensor(logits)).entropy()), **TOL)


def test_categorical_sample_frequencies_and_seed():
    p = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    d = Categorical(probs=tg.Tensor(p))
    n = 20000
    tg.manual_seed(0)
    s = d.sample((n,))
    assert s.shape == (n, 2) and s.dtype == tg.int64
    counts = np.stack([np.bincount(_np(s)[:, b], minlength=4) for b in range(2)])
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(counts / n - p) <= 5 * sigma + 1e-12)   # 5 sigma per category
    assert counts[0, 1] == 0                                     # zero probability: never
    tg.manual_seed(0)
    np.testing.assert_array_equal(_np(d.sample((n,))), _np(s))
    assert d.sample().shape == (2,)
    assert d.sample_n(3).shape == (3, 2)
    assert Categorical(logits=tg.zeros(5)).sample((2, 3)).shape == (2, 3)


def test_categorical_validation():
    with pytest.raises(ValueError, match="not both"):
        Categorical(probs=tg.ones(3), logits=tg.ones(3))
    with pytest.raises(ValueError, match="not both"):
        Categorical()
    with pytest.raises(ValueError, match="Simplex"):
        Categorical(probs=tg.tensor([0.5, -0.1, 0.6]))
    with pytest.raises(ValueError, match="at least one-dimensional"):
        Categorical(probs=tg.tensor(1.0))
    d = Categorical(probs=tg.tensor([0.2, 0.8]))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(tg.tensor([2]))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(tg.tensor([-1]))
    unchecked = Categorical(probs=tg.tensor([0.2, 0.8]), validate_args=False)
    assert unchecked.log_prob(tg.tensor([1])).shape == (1,)
    tg.distributions.Distribution.set_default_validate_args(False)
    try:
        Normal(0.0, -1.0)                        # not checked now
    finally:
        tg.distributions.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="GreaterThan"):
        Normal(0.0, -1.0)


# ---- Normal --------------------------------------------------------------------------------------
@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=2), st.lists(st.integers(1, 3), max_size=2),
       st.integers(0, 2**16))
def test_normal_matches_torch(loc_shape, scale_shape, seed):
    rng = np.random.default_rng(seed)
    try:
        np.broadcast_shapes(tuple(loc_shape), tuple(scale_shape))
    except ValueError:
        loc_shape = scale_shape
    loc, scale = rng.normal(size=loc_shape), rng.uniform(0.3, 2.0, size=scale_shape)
    lo, so = tg.Tensor(loc, requires_grad=True), tg.Tensor(scale, requires_grad=True)
    lt, st_ = torch.tensor(loc, requires_grad=True), torch.tensor(scale, requires_grad=True)
    do, dt = Normal(lo, so), torch.distributions.Normal(lt, st_)
    assert do.batch_shape == tuple(dt.batch_shape)
    x = rng.normal(size=(2,) + tuple(dt.batch_shape)) * 2
    outs_o = [do.log_prob(tg.Tensor(x)), do.entropy().expand(*dt.batch_shape),
              do.cdf(tg.Tensor(x)), do.mean, do.stddev, do.variance]
    outs_t = [dt.log_prob(torch.tensor(x)), dt.entropy(), dt.cdf(torch.tensor(x)), dt.mean,
              dt.stddev, dt.variance]
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(_np(o), _np(t), rtol=1e-9, atol=1e-12)
    _grads_match(sum((o * (i + 1)).sum() for i, o in enumerate(outs_o)),
                 sum((t * (i + 1)).sum() for i, t in enumerate(outs_t)), [lo, so], [lt, st_], seed)


def test_normal_rsample_is_differentiable_and_sample_is_not():
    loc = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    scale = tg.Tensor(np.array([2.0, 0.5]), requires_grad=True)
    d = Normal(loc, scale)
    tg.manual_seed(1)
    x = d.rsample((3,))
    assert x.shape == (3, 2) and x.requires_grad
    (x * x).sum().backward()
    eps = (_np(x) - _np(loc)) / _np(scale)
    # d/dloc sum x^2 = sum 2x,  d/dscale = sum 2x eps (x = loc + scale eps)
    np.testing.assert_allclose(_np(loc.grad), (2 * _np(x)).sum(0), rtol=1e-12)
    np.testing.assert_allclose(_np(scale.grad), (2 * _np(x) * eps).sum(0), rtol=1e-12)
    tg.manual_seed(1)
    s = d.sample((3,))
    assert not s.requires_grad
    np.testing.assert_array_equal(_np(s), _np(x))               # same seed, same draws


def test_normal_sample_statistics():
    n = 40000
    d = Normal(tg.tensor([1.0, -2.0]), tg.tensor([0.5, 3.0]))
    tg.manual_seed(7)
    s = _np(d.sample((n,))).astype(np.float64)
    assert s.shape == (n, 2) and d.sample().dtype == tg.float32
    mu, sd = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    assert np.all(np.abs(s.mean(0) - mu) <= 5 * sd / np.sqrt(n))
    # the sample variance has standard deviation sigma^2 sqrt(2 / (n - 1))
    assert np.all(np.abs(s.var(0, ddof=1) - sd ** 2) <= 5 * sd ** 2 * np.sqrt(2 / (n - 1)))


def test_normal_numbers_validation_and_dtype():
    d = Normal(0.0, 1.0)
    assert d.batch_shape == () and d.loc.dtype == tg.float32
    np.testing.assert_allclose(_np(d.log_prob(0.0)), -0.5 * np.log(2 * np.pi), rtol=1e-6)
    assert Normal(tg.zeros(3, dtype="float64"), 2.0).scale.dtype == tg.float64
    with pytest.raises(ValueError, match="GreaterThan"):
        Normal(0.0, tg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="GreaterThan"):
        Normal(0.0, -1.0)
    assert repr(Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"


# ---- Bernoulli -----------------------------------------------------------------------------------
@SETTINGS
@given(st.sampled_from(["probs", "logits"]), st.lists(st.integers(1, 4), max_size=2),
       st.integers(0, 2**16))
def test_bernoulli_matches_torch(kind, shape, seed):
    rng = np.random.default_rng(seed)
    raw = np.asarray(rng.uniform(0.02, 0.98, shape) if kind == "probs"
                     else rng.normal(size=shape) * 3)     # (an array also for shape ())
    po, pt = tg.Tensor(raw, requires_grad=True), torch.tensor(raw, requires_grad=True)
    do, dt = Bernoulli(**{kind: po}), torch.distributions.Bernoulli(**{kind: pt})
    x = (rng.random((2,) + tuple(shape)) < 0.5).astype(np.float64)
    outs_o = [do.log_prob(tg.Tensor(x)), do.entropy(), do.mean, do.variance, do.probs, do.logits]
    outs_t = [dt.log_prob(torch.tensor(x)), dt.entropy(), dt.mean, dt.variance, dt.probs,
              dt.logits]
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(_np(o), _np(t), rtol=1e-9, atol=1e-12)
    _grads_match(sum((o * (i + 1)).sum() for i, o in enumerate(outs_o)),
                 sum((t * (i + 1)).sum() for i, t in enumerate(outs_t)), [po], [pt], seed)


def test_bernoulli_samples_and_validation():
    p = np.array([0.1, 0.5, 0.9])
    d = Bernoulli(probs=tg.Tensor(p.astype(np.float32)))
    n = 20000
    tg.manual_seed(3)
    s = _np(d.sample((n,)))
    assert s.shape == (n, 3) and s.dtype == np.float32 and set(np.unique(s)) <= {0.0, 1.0}
    assert np.all(np.abs(s.mean(0) - p) <= 5 * np.sqrt(p * (1 - p) / n))
    np.testing.assert_array_equal(_np(Bernoulli(probs=tg.tensor([0.0, 1.0])).sample((50,))),
                                  np.tile([0.0, 1.0], (50, 1)))
    with pytest.raises(ValueError, match="Interval"):
        Bernoulli(probs=tg.tensor([1.5]))
    with pytest.raises(ValueError, match="Boolean"):
        d.log_prob(tg.tensor([0.5, 1.0, 0.0]))
    with pytest.raises(ValueError, match="not both"):
        Bernoulli()
    np.testing.assert_array_equal(_np(Bernoulli(probs=tg.tensor([0.2, 0.5, 0.7])).mode),
                                  _np(torch.distributions.Bernoulli(
                                      probs=torch.tensor([0.2, 0.5, 0.7])).mode))


def test_reachable_from_the_package():
    import tinygrad_cv
    assert tinygrad_cv.distributions.Normal is Normal


# ---- kl_divergence -------------------------------------------------------------------------------
@SETTINGS
@given(st.sampled_from(["normal", "categorical", "bernoulli", "uniform"]), st.booleans(),
       st.integers(0, 2**16))
def test_kl_divergence_matches_torch(family, with_zeros, seed):
    rng = np.random.default_rng(seed)
    if family == "uniform":
        lp, lq = rng.normal(size=3), rng.normal(size=3) - (0.0 if with_zeros else 5.0)
        raw = [lp, lp + rng.uniform(0.5, 2, 3), lq, lq + rng.uniform(0.5, 2, 3) + 10]
        make_o = lambda a: (Uniform(a[0], a[1]), Uniform(a[2], a[3]))
        make_t = lambda a: (torch.distributions.Uniform(a[0], a[1]),
                            torch.distributions.Uniform(a[2], a[3]))
    elif family == "normal":
        raw = [rng.normal(size=3), rng.uniform(0.3, 2, 3), rng.normal(size=3),
               rng.uniform(0.3, 2, 3)]
        make_o = lambda a: (Normal(a[0], a[1]), Normal(a[2], a[3]))
        make_t = lambda a: (torch.distributions.Normal(a[0], a[1]),
                            torch.distributions.Normal(a[2], a[3]))
    elif family == "categorical":
        p, q = rng.uniform(0.1, 1, (2, 4)), rng.uniform(0.1, 1, (2, 4))
        if with_zeros:
            p[0, 1] = q[1, 2] = q[0, 1] = 0.0       # 0 log 0, and +inf where q = 0 < p
        raw = [p, q]
        make_o = lambda a: (Categorical(probs=a[0]), Categorical(probs=a[1]))
        make_t = lambda a: (torch.distributions.Categorical(probs=a[0]),
                            torch.distributions.Categorical(probs=a[1]))
    else:
        p, q = rng.uniform(0.05, 0.95, 4), rng.uniform(0.05, 0.95, 4)
        if with_zeros:
            p[0], q[1], q[2], p[3] = 0.0, 0.0, 1.0, 1.0
        raw = [p, q]
        make_o = lambda a: (Bernoulli(probs=a[0]), Bernoulli(probs=a[1]))
        make_t = lambda a: (torch.distributions.Bernoulli(probs=a[0]),
                            torch.distributions.Bernoulli(probs=a[1]))
    ao = [tg.Tensor(a, requires_grad=True) for a in raw]
    at = [torch.tensor(a, requires_grad=True) for a in raw]
    ko = tg.distributions.kl_divergence(*make_o(ao))
    kt = torch.distributions.kl_divergence(*make_t(at))
    np.testing.assert_allclose(_np(ko), _np(kt), rtol=1e-9, atol=1e-12)
    finite = np.isfinite(_np(kt))
    if finite.all():
        _grads_match(ko, kt, ao, at, seed)
    with pytest.raises(NotImplementedError, match="no closed form"):
        tg.distributions.kl_divergence(Normal(0.0, 1.0), Bernoulli(probs=0.5))


# ---- Uniform -------------------------------------------------------------------------------------
@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=2), st.integers(0, 2**16))
def test_uniform_matches_torch(shape, seed):
    rng = np.random.default_rng(seed)
    low = rng.normal(size=shape)
    high = low + rng.uniform(0.5, 3, size=shape)
    lo_o, hi_o = tg.Tensor(low, requires_grad=True), tg.Tensor(high, requires_grad=True)
    lo_t, hi_t = torch.tensor(low, requires_grad=True), torch.tensor(high, requires_grad=True)
    do, dt = Uniform(lo_o, hi_o), torch.distributions.Uniform(lo_t, hi_t)
    x = low + (high - low) * rng.random((2,) + tuple(shape))
    outs_o = [do.log_prob(tg.Tensor(x)), do.entropy(), do.cdf(tg.Tensor(x)), do.mean,
              do.stddev, do.variance]
    outs_t = [dt.log_prob(torch.tensor(x)), dt.entropy(), dt.cdf(torch.tensor(x)), dt.mean,
              dt.stddev, dt.variance]
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(_np(o), _np(t), rtol=1e-9, atol=1e-12)
    _grads_match(sum((o * (i + 1)).sum() for i, o in enumerate(outs_o)),
                 sum((t * (i + 1)).sum() for i, t in enumerate(outs_t)), [lo_o, hi_o],
                 [lo_t, hi_t], seed)


def test_uniform_samples_rsample_gradient_and_validation():
    n = 20000
    d = Uniform(tg.tensor([0.0, -2.0]), tg.tensor([1.0, 4.0]))
    tg.manual_seed(5)
    s = _np(d.sample((n,))).astype(np.float64)
    low, high = np.array([0.0, -2.0]), np.array([1.0, 4.0])
    assert s.shape == (n, 2) and np.all((s >= low) & (s < high))
    sd = (high - low) / np.sqrt(12)
    assert np.all(np.abs(s.mean(0) - (low + high) / 2) <= 5 * sd / np.sqrt(n))
    lo, hi = tg.tensor(1.0, requires_grad=True), tg.tensor(3.0, requires_grad=True)
    tg.manual_seed(6)
    x = Uniform(lo, hi).rsample((4,))
    x.sum().backward()
    u = (_np(x) - 1.0) / 2.0                            # x = low + (high - low) u
    np.testing.assert_allclose(_np(lo.grad), (1 - u).sum(), rtol=1e-6)
    np.testing.assert_allclose(_np(hi.grad), u.sum(), rtol=1e-6)
    with pytest.raises(ValueError, match="LessThan"):
        Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="support"):
        Uniform(0.0, 1.0).log_prob(tg.tensor(1.5))
    outside = Uniform(0.0, 1.0, validate_args=False).log_prob(tg.tensor([1.5, 0.5]))
    np.testing.assert_array_equal(_np(outside), [-np.inf, 0.0])


def test_uniform_validation_accepts_the_upper_bound_like_torch():
    """torch validates against the closed interval [low, high] (its support constraint) while
    log_prob is -inf at high: the two must not be confused."""
    for validate in (True, False):
        ours, theirs = Uniform(0.0, 2.0, validate_args=validate), \
            torch.distributions.Uniform(0.0, 2.0, validate_args=validate)
        value = [0.0, 1.0, 2.0]
        np.testing.assert_array_equal(_np(ours.log_prob(tg.tensor(value))),
                                      theirs.log_prob(torch.tensor(value)).numpy())
        np.testing.assert_array_equal(_np(ours.cdf(tg.tensor(value))),
                                      theirs.cdf(torch.tensor(value)).numpy())
    with pytest.raises(ValueError, match="support"):
        Uniform(0.0, 2.0).cdf(tg.tensor(2.5))


def test_icdf_matches_torch_with_gradients():
    """Normal.icdf (through erfinv) and Uniform.icdf: values and the gradients of the
    parameters and of p, against torch, with broadcasting of p over the batch."""
    p = np.array([[0.001, 0.2, 0.5], [0.7, 0.999, 1e-12]])
    cases = [(Normal, torch.distributions.Normal, ([0.5, -1.0, 2.0], [1.5, 0.3, 2.0])),
             (Uniform, torch.distributions.Uniform, ([0.5, -1.0, 2.0], [1.5, 0.3, 2.5]))]
    for ours_cls, torch_cls, params in cases:
        po = [tg.tensor(np.array(v), requires_grad=True) for v in params]
        pt = [torch.tensor(np.array(v), requires_grad=True) for v in params]
        qo, qt = tg.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
        yo, yt = ours_cls(*po).icdf(qo), torch_cls(*pt).icdf(qt)
        np.testing.assert_allclose(_np(yo), _np(yt), rtol=1e-13)
        _grads_match(yo, yt, po + [qo], pt + [qt], seed=3)
