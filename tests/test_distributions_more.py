"""The further distributions (Exponential, Laplace, LogNormal, Gamma, Beta, Poisson,
MultivariateNormal, Independent, OneHotCategorical), ``expand`` and their KL divergences
against torch.distributions 2.13: log_prob, entropy, moments, cdf/icdf and their gradients on
the same parameters (float64); sample shapes, dtypes and statistics; torch's errors."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import distributions as D

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

TD = torch.distributions
RTOL = dict(rtol=1e-9, atol=1e-12)


def _np(t):
    return t.detach().numpy()


def _params(arrays):
    return ([tg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


rng = np.random.default_rng(0)
POS = rng.uniform(0.5, 3.0, (2, 3))
POS2 = rng.uniform(0.5, 3.0, (2, 3))
REAL = rng.standard_normal((2, 3))

# name -> (our class, torch class, parameter arrays, values for log_prob)
FAMILIES = {
    "Exponential": (D.Exponential, TD.Exponential, [POS], rng.uniform(0.1, 3.0, (4, 2, 3))),
    "Laplace": (D.Laplace, TD.Laplace, [REAL, POS], rng.standard_normal((4, 2, 3))),
    "LogNormal": (D.LogNormal, TD.LogNormal, [REAL, POS], rng.uniform(0.1, 3.0, (4, 2, 3))),
    "Gamma": (D.Gamma, TD.Gamma, [POS, POS2], rng.uniform(0.1, 3.0, (4, 2, 3))),
    "Beta": (D.Beta, TD.Beta, [POS, POS2], rng.uniform(0.05, 0.95, (4, 2, 3))),
    "Poisson": (D.Poisson, TD.Poisson, [POS], rng.integers(0, 6, (4, 2, 3)).astype(float)),
    "HalfNormal": (D.HalfNormal, TD.HalfNormal, [POS], rng.uniform(0.1, 3.0, (4, 2, 3))),
    "Cauchy": (D.Cauchy, TD.Cauchy, [REAL, POS], rng.standard_normal((4, 2, 3))),
    "Gumbel": (D.Gumbel, TD.Gumbel, [REAL, POS], rng.standard_normal((4, 2, 3))),
    "Geometric": (D.Geometric, TD.Geometric, [POS / 4], rng.integers(0, 6, (4, 2, 3)).astype(
        float)),
    "Binomial": (D.Binomial, TD.Binomial, [np.round(POS * 3), POS / 4],
                 rng.integers(0, 3, (4, 2, 3)).astype(float)),
    "Chi2": (D.Chi2, TD.Chi2, [POS], rng.uniform(0.1, 3.0, (4, 2, 3))),
    "StudentT": (D.StudentT, TD.StudentT, [POS + 2, REAL, POS2], rng.standard_normal((4, 2, 3))),
}
PROPERTIES = {"Exponential": ("mean", "mode", "variance", "stddev"),
              "Laplace": ("mean", "mode", "variance", "stddev"),
              "LogNormal": ("mean", "mode", "variance"),
              "Gamma": ("mean", "mode", "variance"),
              "Beta": ("mean", "mode", "variance"),
              "Poisson": ("mean", "mode", "variance"),
              "HalfNormal": ("mean", "mode", "variance"),
              "Cauchy": ("mode",),
              "Gumbel": ("mean", "mode", "variance"),
              "Geometric": ("mean", "mode", "variance"),
              "Binomial": ("mean", "mode", "variance"),
              "Chi2": ("mean", "mode", "variance"),
              "StudentT": ("mean", "mode", "variance")}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_matches_torch(name):
    ours_cls, torch_cls, arrays, values = FAMILIES[name]
    po, pt = _params(arrays)
    do, dt = ours_cls(*po), torch_cls(*pt)
    assert tuple(do.batch_shape) == tuple(dt.batch_shape) and tuple(do.event_shape) == ()
    no_entropy = name in ("Poisson", "Binomial")        # (torch's Binomial enumerates it)
    outputs_o = [do.log_prob(tg.tensor(values)), None if no_entropy else do.entropy()]
    outputs_t = [dt.log_prob(torch.tensor(values)), None if no_entropy else dt.entropy()]
    for prop in PROPERTIES[name]:
        outputs_o.append(getattr(do, prop))
        outputs_t.append(getattr(dt, prop))
    if name in ("Exponential", "Laplace", "LogNormal", "HalfNormal", "Cauchy"):
        probs = rng.uniform(0.05, 0.95, (2, 3))
        outputs_o += [do.cdf(tg.tensor(values[0])), do.icdf(tg.tensor(probs))]
        outputs_t += [dt.cdf(torch.tensor(values[0])), dt.icdf(torch.tensor(probs))]
    loss_o = loss_t = 0
    for i, (o, t) in enumerate(zip(outputs_o, outputs_t)):
        if o is None:
            continue
        np.testing.assert_allclose(_np(o), t.detach().numpy(), **RTOL, err_msg=f"output {i}")
        if t.requires_grad:
            w = rng.standard_normal(tuple(t.shape))
            loss_o = loss_o + (o * tg.tensor(w)).sum()
            loss_t = loss_t + (t * torch.tensor(w)).sum()
    loss_o.backward()
    loss_t.backward()
    for o, t in zip(po, pt):
        np.testing.assert_allclose(_np(o.grad), t.grad.numpy(), **RTOL)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_samples_shapes_and_statistics(name):
    ours_cls, torch_cls, arrays, _ = FAMILIES[name]
    tg.manual_seed(1)
    d = ours_cls(*[tg.tensor(a) for a in arrays])
    s = d.sample((20000,))
    assert tuple(s.shape) == (20000, 2, 3) and s.dtype == tg.float64 and not s.requires_grad
    t = torch_cls(*[torch.tensor(a) for a in arrays])
    if name == "Cauchy":          # no mean: the median is loc, the quartiles loc -+ scale
        np.testing.assert_allclose(np.median(_np(s), 0), arrays[0], atol=0.05 * arrays[1].max())
    else:
        mean, std = t.mean.numpy(), t.stddev.numpy()
        np.testing.assert_allclose(_np(s).mean(0), mean, atol=6 * std.max() / np.sqrt(20000))
    if d.has_rsample:
        po = [tg.tensor(a, requires_grad=True) for a in arrays]
        r = ours_cls(*po).rsample((5,))
        r.sum().backward()
        assert all(p.grad is not None for p in po)
    else:
        with pytest.raises(NotImplementedError):
            d.rsample()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_expand_and_validation(name):
    ours_cls, torch_cls, arrays, values = FAMILIES[name]
    do = ours_cls(*[tg.tensor(a[0]) for a in arrays]).expand((5, 3))
    dt = torch_cls(*[torch.tensor(a[0]) for a in arrays]).expand((5, 3))
    assert tuple(do.batch_shape) == (5, 3)
    np.testing.assert_allclose(_np(do.log_prob(tg.tensor(values[0, :1]))),
                               dt.log_prob(torch.tensor(values[0, :1])).numpy(), **RTOL)
    bad = [np.full(a.shape, -1.0) for a in arrays]
    if name in ("Laplace", "LogNormal"):
        bad[0] = arrays[0]
    with pytest.raises(ValueError):
        ours_cls(*[tg.tensor(a) for a in bad])


def _spd(rng_, k):
    m = rng_.standard_normal((k, k))
    return m @ m.T + k * np.eye(k)


@pytest.mark.parametrize("form", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_matches_torch(form):
    r = np.random.default_rng(3)
    loc = r.standard_normal((2, 3))
    cov = np.stack([_spd(r, 3), _spd(r, 3)])
    matrix = {"covariance_matrix": cov, "precision_matrix": np.linalg.inv(cov),
              "scale_tril": np.linalg.cholesky(cov)}[form]
    (lo, mo), (lt, mt) = _params([loc, matrix])
    do, dt = D.MultivariateNormal(lo, **{form: mo}), TD.MultivariateNormal(lt, **{form: mt})
    x = r.standard_normal((4, 2, 3))
    outs_o = [do.log_prob(tg.tensor(x)), do.entropy(), do.mean, do.variance, do.covariance_matrix,
              do.scale_tril, do.precision_matrix]
    outs_t = [dt.log_prob(torch.tensor(x)), dt.entropy(), dt.mean, dt.variance,
              dt.covariance_matrix, dt.scale_tril, dt.precision_matrix]
    loss_o = loss_t = 0
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(_np(o), t.detach().numpy(), rtol=1e-8, atol=1e-10)
        w = r.standard_normal(tuple(t.shape))
        loss_o = loss_o + (o * tg.tensor(w)).sum()
        loss_t = loss_t + (t * torch.tensor(w)).sum()
    loss_o.backward()
    loss_t.backward()
    np.testing.assert_allclose(_np(lo.grad), lt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_np(mo.grad), mt.grad.numpy(), rtol=1e-7, atol=1e-9)
    tg.manual_seed(4)
    s = _np(D.MultivariateNormal(tg.tensor(loc[0]), covariance_matrix=tg.tensor(cov[0]))
            .sample((40000,)))
    np.testing.assert_allclose(np.cov(s.T), cov[0], atol=0.25)
    assert tuple(do.expand((5, 2)).batch_shape) == (5, 2)
    with pytest.raises(ValueError):
        D.MultivariateNormal(tg.tensor(loc), covariance_matrix=tg.tensor(cov),
                             scale_tril=tg.tensor(cov))


def test_independent_and_one_hot_categorical_match_torch():
    r = np.random.default_rng(5)
    loc, scale = r.standard_normal((2, 3)), r.uniform(0.5, 2, (2, 3))
    (lo, so), (lt, st) = _params([loc, scale])
    io, it = D.Independent(D.Normal(lo, so), 1), TD.Independent(TD.Normal(lt, st), 1)
    assert tuple(io.batch_shape) == (2,) and tuple(io.event_shape) == (3,)
    x = r.standard_normal((4, 2, 3))
    yo, yt = io.log_prob(tg.tensor(x)).sum() + io.entropy().sum(), \
        it.log_prob(torch.tensor(x)).sum() + it.entropy().sum()
    np.testing.assert_allclose(yo.item(), yt.item(), rtol=1e-12)
    yo.backward()
    yt.backward()
    np.testing.assert_allclose(_np(so.grad), st.grad.numpy(), rtol=1e-10)
    assert tuple(io.sample((7,)).shape) == (7, 2, 3)
    probs = r.uniform(0.1, 1, (2, 4))
    (po,), (pt,) = _params([probs])
    oo, ot = D.OneHotCategorical(probs=po), TD.OneHotCategorical(probs=pt)
    v = np.eye(4)[[1, 3]]
    yo = oo.log_prob(tg.tensor(v)).sum() + oo.entropy().sum()
    yt = ot.log_prob(torch.tensor(v)).sum() + ot.entropy().sum()
    np.testing.assert_allclose(yo.item(), yt.item(), rtol=1e-12)
    yo.backward()
    yt.backward()
    np.testing.assert_allclose(_np(po.grad), pt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(_np(oo.mode), ot.mode.numpy())
    tg.manual_seed(6)
    s = _np(oo.sample((3000,)))
    assert s.shape == (3000, 2, 4) and np.all(s.sum(-1) == 1)
    np.testing.assert_allclose(s.mean(0), probs / probs.sum(-1, keepdims=True), atol=0.04)
    assert tuple(oo.enumerate_support().shape) == tuple(ot.enumerate_support().shape)


KL_PAIRS = {
    "Exponential": (lambda M, c: M.Exponential(c(POS)), lambda M, c: M.Exponential(c(POS2))),
    "Laplace": (lambda M, c: M.Laplace(c(REAL), c(POS)), lambda M, c: M.Laplace(c(-REAL), c(POS2))),
    "Gamma": (lambda M, c: M.Gamma(c(POS), c(POS2)), lambda M, c: M.Gamma(c(POS2), c(POS))),
    "Beta": (lambda M, c: M.Beta(c(POS), c(POS2)), lambda M, c: M.Beta(c(POS2), c(POS))),
    "Poisson": (lambda M, c: M.Poisson(c(POS)), lambda M, c: M.Poisson(c(POS2))),
    "LogNormal": (lambda M, c: M.LogNormal(c(REAL), c(POS)),
                  lambda M, c: M.LogNormal(c(-REAL), c(POS2))),
    "MultivariateNormal": (
        lambda M, c: M.MultivariateNormal(c(REAL), covariance_matrix=c(np.stack(
            [_spd(np.random.default_rng(7), 3)] * 2))),
        lambda M, c: M.MultivariateNormal(c(-REAL), scale_tril=c(np.linalg.cholesky(np.stack(
            [_spd(np.random.default_rng(8), 3)] * 2))))),
    "Independent": (lambda M, c: M.Independent(M.Normal(c(REAL), c(POS)), 1),
                    lambda M, c: M.Independent(M.Normal(c(-REAL), c(POS2)), 1)),
    "OneHotCategorical": (lambda M, c: M.OneHotCategorical(probs=c(POS)),
                          lambda M, c: M.OneHotCategorical(probs=c(POS2))),
}


@pytest.mark.parametrize("name", sorted(KL_PAIRS))
def test_kl_divergences_match_torch(name):
    make_p, make_q = KL_PAIRS[name]
    leaves_o, leaves_t = [], []

    def ours(a):
        t = tg.tensor(a, requires_grad=True)
        leaves_o.append(t)
        return t

    def theirs(a):
        t = torch.tensor(a, requires_grad=True)
        leaves_t.append(t)
        return t

    ko = D.kl_divergence(make_p(D, ours), make_q(D, ours))
    kt = TD.kl_divergence(make_p(TD, theirs), make_q(TD, theirs))
    np.testing.assert_allclose(_np(ko), kt.detach().numpy(), rtol=1e-9, atol=1e-12)
    ko.sum().backward()
    kt.sum().backward()
    for o, t in zip(leaves_o, leaves_t):
        np.testing.assert_allclose(_np(o.grad), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_dirichlet_matches_torch():
    r = np.random.default_rng(9)
    conc, conc2 = r.uniform(0.5, 3.0, (2, 4)), r.uniform(0.5, 3.0, (2, 4))
    value = r.dirichlet(np.ones(4), size=(3, 2))
    (co, c2o), (ct, c2t) = _params([conc, conc2])
    do, dt = D.Dirichlet(co), TD.Dirichlet(ct)
    assert tuple(do.batch_shape) == (2,) and tuple(do.event_shape) == (4,)
    lo = (do.log_prob(tg.tensor(value)).sum() + do.entropy().sum() + do.mean.sum() * 0.3
          + do.variance.sum() + D.kl_divergence(do, D.Dirichlet(c2o)).sum())
    lt = (dt.log_prob(torch.tensor(value)).sum() + dt.entropy().sum() + dt.mean.sum() * 0.3
          + dt.variance.sum() + TD.kl_divergence(dt, TD.Dirichlet(c2t)).sum())
    np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-11)
    lo.backward()
    lt.backward()
    np.testing.assert_allclose(_np(co.grad), ct.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(_np(c2o.grad), c2t.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(_np(do.mode), dt.mode.detach().numpy(), rtol=1e-12)
    tg.manual_seed(10)
    s = _np(D.Dirichlet(tg.tensor(conc)).sample((20000,)))
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(s.mean(0), conc / conc.sum(-1, keepdims=True), atol=0.01)
