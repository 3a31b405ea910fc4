"""distributions.transforms, TransformedDistribution and biject_to/transform_to against torch
2.13 on the same inputs (float64): forward, inverse, log|det J| and their gradients (inputs
and transform parameters), domain/codomain, bijective, sign, shapes, caching; the transformed
distribution's log_prob/cdf/icdf with gradients, shapes, expand and the moments of rsample."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import distributions as D
from tinygrad_cv.distributions import transforms as T
from tinygrad_cv.distributions import constraints as C

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")
TT = torch.distributions.transforms
TD = torch.distributions
TOL = dict(rtol=1e-9, atol=1e-11)

rng = np.random.default_rng(1)
X = rng.standard_normal((2, 3, 4))
POS = rng.uniform(0.2, 2.0, (2, 3, 4))
LOC = rng.standard_normal((3, 4))
SCALE = rng.uniform(0.5, 2.0, (3, 4)) * np.sign(rng.standard_normal((3, 4)))


def _pair_tensors(*arrays):
    return ([tg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


# name -> (builder(module, params) -> transform, parameter arrays, input array)
CASES = {
    "Exp": (lambda m, p: m.ExpTransform(), [], X),
    "Sigmoid": (lambda m, p: m.SigmoidTransform(), [], X * 3),
    "Tanh": (lambda m, p: m.TanhTransform(), [], X),
    "Softplus": (lambda m, p: m.SoftplusTransform(), [], X * 3),
    "Power": (lambda m, p: m.PowerTransform(p[0]), [LOC], POS),
    "AffineTensor": (lambda m, p: m.AffineTransform(p[0], p[1]), [LOC, SCALE], X),
    "AffineNumber": (lambda m, p: m.AffineTransform(1.5, -2.0), [], X),
    "AffineEvent2": (lambda m, p: m.AffineTransform(p[0], p[1], event_dim=2), [LOC, SCALE], X),
    "StickBreaking": (lambda m, p: m.StickBreakingTransform(), [], X),
    "Reshape": (lambda m, p: m.ReshapeTransform((3, 4), (2, 6)), [], X),
    "Independent": (lambda m, p: m.IndependentTransform(m.SigmoidTransform(), 2), [], X),
    "Compose": (lambda m, p: m.ComposeTransform([m.AffineTransform(p[0], p[1]),
                                                 m.ExpTransform(),
                                                 m.PowerTransform(0.5)]), [LOC, SCALE], X),
    "ComposeEvent": (lambda m, p: m.ComposeTransform([m.ExpTransform(),
                                                      m.StickBreakingTransform()]), [], X),
    "Cat": (lambda m, p: m.CatTransform([m.ExpTransform(), m.SigmoidTransform(),
                                         m.AffineTransform(1.0, 3.0)], dim=-1,
                                        lengths=[1, 2, 1]), [], X),
    "CatEvent": (lambda m, p: m.CatTransform([m.IndependentTransform(m.ExpTransform(), 1),
                                              m.IndependentTransform(m.SigmoidTransform(), 1)],
                                             dim=1, lengths=[1, 2]), [], X),
    "Stack": (lambda m, p: m.StackTransform([m.ExpTransform(), m.TanhTransform(),
                                             m.SoftplusTransform()], dim=1), [], X),
    "InverseTanh": (lambda m, p: m.TanhTransform().inv, [], np.tanh(X)),
    "Identity": (lambda m, p: m.identity_transform, [], X),
    "CorrCholesky": (lambda m, p: m.CorrCholeskyTransform(), [], X[:, :2, :3] * 0.7),
    "CorrCholesky4": (lambda m, p: m.CorrCholeskyTransform(), [], rng.standard_normal((2, 6))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_transform_matches_torch(name):
    build, params, x_arr = CASES[name]
    po, pt = _pair_tensors(*params)
    to, tt = build(T, po), build(TT, pt)
    xo, xt = tg.tensor(x_arr, requires_grad=True), torch.tensor(x_arr, requires_grad=True)
    yo, yt = to(xo), tt(xt)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), **TOL)
    lo, lt = to.log_abs_det_jacobian(xo, yo), tt.log_abs_det_jacobian(xt, yt)
    assert tuple(lo.shape) == tuple(lt.shape)
    np.testing.assert_allclose(lo.detach().numpy(), lt.detach().numpy(), **TOL)
    y_data = yt.detach().numpy()
    xo_back = to.inv(tg.tensor(y_data))
    np.testing.assert_allclose(xo_back.detach().numpy(),
                               tt.inv(torch.tensor(y_data)).detach().numpy(),
                               rtol=1e-7, atol=1e-9)
    # gradients of a scalar through forward, log|J| and the inverse
    w = rng.standard_normal(tuple(yt.shape))
    wl = rng.standard_normal(tuple(lt.shape))
    yo2, yt2 = tg.tensor(y_data * 1.0, requires_grad=True), torch.tensor(y_data * 1.0,
                                                                         requires_grad=True)
    ((yo * tg.tensor(w)).sum() + (lo * tg.tensor(wl)).sum()
     + (to.inv(yo2) ** 2).sum()).backward()
    ((yt * torch.tensor(w)).sum() + (lt * torch.tensor(wl)).sum()
     + (tt.inv(yt2) ** 2).sum()).backward()
    for a, b in zip([xo, yo2] + po, [xt, yt2] + pt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-7, atol=1e-9)
    for attr in ("domain", "codomain"):
        co, ct = getattr(to, attr), getattr(tt, attr)
        assert co.event_dim == ct.event_dim and type(co).__name__ == type(ct).__name__
    assert to.bijective == tt.bijective
    shape = tuple(xt.shape)
    assert to.forward_shape(shape) == tuple(tt.forward_shape(shape))
    assert to.inverse_shape(tuple(yt.shape)) == tuple(tt.inverse_shape(yt.shape))
    try:
        st = tt.sign
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            to.sign
    else:
        so = to.sign
        if isinstance(st, torch.Tensor):
            np.testing.assert_array_equal(so.detach().numpy(), st.detach().numpy())
        else:
            assert so == st


def test_abs_softmax_and_not_bijective_ones():
    for ours, theirs, x in ((T.AbsTransform(), TT.AbsTransform(), X),
                            (T.SoftmaxTransform(), TT.SoftmaxTransform(), X),
                            (T.LowerCholeskyTransform(), TT.LowerCholeskyTransform(),
                             X[..., :3]),
                            (T.PositiveDefiniteTransform(), TT.PositiveDefiniteTransform(),
                             X[..., :3])):
        xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), **TOL)
        (yo ** 2).sum().backward()
        (yt ** 2).sum().backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), **TOL)
        np.testing.assert_allclose(ours.inv(yo).detach().numpy(),
                                   theirs.inv(yt).detach().numpy(), rtol=1e-8, atol=1e-10)
        assert ours.domain.event_dim == theirs.domain.event_dim
        assert not ours.bijective and ours.codomain.event_dim == theirs.codomain.event_dim
        with pytest.raises(NotImplementedError):
            ours.log_abs_det_jacobian(xo, yo)


def test_cache_inverse_identity_and_equality():
    t = T.ExpTransform(cache_size=1)
    x = tg.tensor(X)
    y = t(x)
    assert t.inv(y) is x and t(x) is y
    t0 = T.ExpTransform()
    assert t0.inv(t0(x)) is not x
    assert t.inv.inv is t and t0.with_cache(1)._cache_size == 1
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.TanhTransform()
    assert T.AffineTransform(1.0, 2.0) == T.AffineTransform(1.0, 2.0)
    assert T.AffineTransform(1.0, 2.0) != T.AffineTransform(1.0, 3.0)
    assert T.ExpTransform().inv == T.ExpTransform().inv
    comp = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(0.0, 2.0)], cache_size=1)
    y = comp(x)
    assert comp.parts[1].inv(y) is comp.parts[0](x)
    assert comp.inv.inv is comp
    with pytest.raises(ValueError, match="cache_size"):
        T.ExpTransform(cache_size=2)
    with pytest.raises(ValueError, match="different numbers of elements"):
        T.ReshapeTransform((3,), (2, 2))
    with pytest.raises(ValueError, match="Shape mismatch"):
        T.ReshapeTransform((3, 4), (12,)).forward_shape((2, 4, 3))
    with pytest.raises(ValueError, match="Too few dimensions"):
        T.IndependentTransform(T.ExpTransform(), 2)(tg.tensor([1.0]))
    assert "ExpTransform" in repr(T.ComposeTransform([T.ExpTransform()]))
    assert T.AffineTransform(0.0, 1.0, event_dim=1).event_dim == 1


def test_cumulative_distribution_transform_matches_torch():
    (lo, so), (lt, st) = _pair_tensors(LOC, np.abs(SCALE))
    to = T.CumulativeDistributionTransform(D.Normal(lo, so))
    tt = TT.CumulativeDistributionTransform(TD.Normal(lt, st))
    x = X[0]
    yo, yt = to(tg.tensor(x)), tt(torch.tensor(x))
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(to.log_abs_det_jacobian(tg.tensor(x), yo).detach().numpy(),
                               tt.log_abs_det_jacobian(torch.tensor(x), yt).detach().numpy(),
                               **TOL)
    np.testing.assert_allclose(to.inv(yo).detach().numpy(), x, rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------------- TransformedDistribution

def _td_cases():
    return {
        "lognormal": (lambda M, p: M.TransformedDistribution(M.Normal(p[0], p[1]),
                                                             [M.ExpTransform()]),
                      [LOC, np.abs(SCALE)], POS[0]),
        "affine_broadcast": (lambda M, p: M.TransformedDistribution(
            M.Normal(0.0 * p[0][0], 1.0 + 0 * p[0][0]),
            [M.AffineTransform(p[0], p[1])]), [LOC, SCALE], X[0]),
        "decreasing": (lambda M, p: M.TransformedDistribution(
            M.Uniform(p[0] - 2, p[0] + 1), [M.AffineTransform(1.0, -2.0), M.ExpTransform()]),
            [LOC], np.exp(1 - 2 * LOC)),
        "logit_normal": (lambda M, p: M.TransformedDistribution(
            M.Normal(p[0], p[1]), [M.SigmoidTransform()]), [LOC, np.abs(SCALE)],
            rng.uniform(0.05, 0.95, (3, 4))),
        "stick_breaking": (lambda M, p: M.TransformedDistribution(
            M.Normal(p[0], p[1]), [M.StickBreakingTransform()]), [LOC[:, :3],
                                                                  np.abs(SCALE[:, :3])],
            rng.dirichlet(np.ones(4), 3)),
        "tanh_mvn": (lambda M, p: M.TransformedDistribution(
            M.MultivariateNormal(p[0], scale_tril=p[1]), [M.TanhTransform()]),
            [LOC[0], np.diag(np.abs(SCALE[0])) + np.tril(rng.standard_normal((4, 4)) * 0.1, -1)],
            np.tanh(X[0, 0])),
    }


@pytest.mark.parametrize("case", sorted(_td_cases()))
def test_transformed_distribution_matches_torch(case):
    build, params, value = _td_cases()[case]
    po, pt = _pair_tensors(*params)
    do, dt = build(D, po), build(TD, pt)
    assert tuple(do.batch_shape) == tuple(dt.batch_shape)
    assert tuple(do.event_shape) == tuple(dt.event_shape)
    assert do.support.event_dim == dt.support.event_dim
    lo, lt = do.log_prob(tg.tensor(value)), dt.log_prob(torch.tensor(value))
    np.testing.assert_allclose(lo.detach().numpy(), lt.detach().numpy(), rtol=1e-8, atol=1e-10)
    outs_o, outs_t = [lo], [lt]
    if case in ("lognormal", "affine_broadcast", "decreasing", "logit_normal"):
        q = rng.uniform(0.05, 0.95, tuple(dt.batch_shape))
        outs_o += [do.cdf(tg.tensor(value)), do.icdf(tg.tensor(q))]
        outs_t += [dt.cdf(torch.tensor(value)), dt.icdf(torch.tensor(q))]
        for a, b in zip(outs_o[1:], outs_t[1:]):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-8,
                                       atol=1e-10)
    sum(o.sum() for o in outs_o).backward()
    sum(o.sum() for o in outs_t).backward()
    for a, b in zip(po, pt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-7, atol=1e-9)
    draws = do.sample((5,))
    assert tuple(draws.shape) == (5,) + tuple(dt.batch_shape) + tuple(dt.event_shape)
    assert bool(do.support.check(draws).all())
    big = do.expand((2,) + tuple(do.batch_shape))
    bt = dt.expand((2,) + tuple(dt.batch_shape))
    assert tuple(big.batch_shape) == tuple(bt.batch_shape)
    np.testing.assert_allclose(big.log_prob(tg.tensor(value)).detach().numpy(),
                               bt.log_prob(torch.tensor(value)).detach().numpy(), rtol=1e-8,
                               atol=1e-10)


def test_transformed_rsample_moments_and_gradients():
    tg.manual_seed(0)
    loc = tg.tensor([0.3, -0.2], requires_grad=True)
    scale = tg.tensor([0.4, 0.6], requires_grad=True)
    d = D.TransformedDistribution(D.Normal(loc, scale), [D.ExpTransform()])
    assert d.has_rsample
    y = d.rsample((40000,))
    mean = np.exp(loc.detach().numpy() + scale.detach().numpy() ** 2 / 2)
    np.testing.assert_allclose(y.mean(0).detach().numpy(), mean, rtol=0.02)
    y.mean(0).sum().backward()                     # d E[y] / d loc = E[y]
    np.testing.assert_allclose(loc.grad.numpy(), mean, rtol=0.02)
    np.testing.assert_allclose(scale.grad.numpy(), mean * scale.detach().numpy(), rtol=0.05)
    assert d.sample((3,)).requires_grad is False


def test_transformed_distribution_errors_and_validation():
    with pytest.raises(ValueError, match="transforms must be"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), "exp")
    with pytest.raises(ValueError, match="at least 1"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [D.StickBreakingTransform()])
    d = D.TransformedDistribution(D.Normal(tg.zeros(3), tg.ones(3)), [D.ExpTransform()])
    with pytest.raises(ValueError, match="support"):
        d.log_prob(-tg.ones(3))
    d2 = D.TransformedDistribution(D.Normal(tg.zeros(3), tg.ones(3)), [D.ExpTransform()],
                                   validate_args=False)
    with pytest.raises(ValueError, match="support Real"):   # the base still checks (torch)
        d2.log_prob(-tg.ones(3))
    d3 = D.TransformedDistribution(D.Normal(tg.zeros(3), tg.ones(3), validate_args=False),
                                   [D.ExpTransform()], validate_args=False)
    assert np.isnan(d3.log_prob(-tg.ones(3)).numpy()).all()


# ---------------------------------------------------------------- biject_to / transform_to

CONSTRAINTS = [("real",), ("positive",), ("nonnegative",), ("unit_interval",),
               ("greater_than", 1.5), ("greater_than_eq", -1.0), ("less_than", 2.0),
               ("interval", -1.0, 3.0), ("half_open_interval", 0.5, 1.0), ("simplex",),
               ("real_vector",), ("lower_cholesky",), ("positive_definite",),
               ("corr_cholesky",)]


@pytest.mark.parametrize("spec", CONSTRAINTS, ids=lambda s: s[0])
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_constraint_registries_match_torch(spec, registry):
    name, args = spec[0], spec[1:]
    co = getattr(C, name)(*args) if args else getattr(C, name)
    ct = getattr(torch.distributions.constraints, name)
    ct = ct(*args) if args else ct
    reg_t = getattr(torch.distributions, registry)
    reg_o = getattr(D, registry)
    try:
        tt = reg_t(ct)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            reg_o(co)
        return
    to = reg_o(co)
    assert repr(to) == repr(tt)
    x = X[0, :3, :3] if co.event_dim == 2 else X[0]
    if name == "corr_cholesky":
        x = X[0, :, :3]
    yo, yt = to(tg.tensor(x)), tt(torch.tensor(x))
    np.testing.assert_allclose(yo.numpy(), yt.numpy(), rtol=1e-9, atol=1e-11)
    assert bool(co.check(yo).all())
    if to.bijective:
        np.testing.assert_allclose(to.inv(yo).numpy(), x, rtol=1e-6, atol=1e-8)


def test_registry_independent_cat_stack_and_register():
    c = C.independent(C.positive, 1)
    assert isinstance(D.biject_to(c), T.IndependentTransform)
    catc = C.cat([C.positive, C.unit_interval], dim=-1, lengths=[2, 2])
    x = tg.tensor(X[0])
    assert bool(catc.check(D.biject_to(catc)(x)).all())
    stc = C.stack([C.positive, C.real, C.interval(-2.0, -1.0)], dim=0)
    assert bool(stc.check(D.transform_to(stc)(x)).all())
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean"):
        D.biject_to(C.boolean)
    with pytest.raises(TypeError, match="Constraint"):
        D.biject_to.register(int, lambda c: None)


def test_lognormal_is_a_transformed_normal_like_torch():
    d = D.LogNormal(tg.tensor([0.0, 1.0]), tg.tensor([1.0, 0.5]))
    assert isinstance(d, D.TransformedDistribution) and isinstance(d.base_dist, D.Normal)
    assert isinstance(d.transforms[0], D.ExpTransform)
    with pytest.raises(ValueError, match="GreaterThan\\(lower_bound=0.0\\)"):
        d.log_prob(tg.tensor([0.0, 1.0]))                   # torch's support: y > 0
    with pytest.raises(ValueError):
        TD.LogNormal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5])).log_prob(
            torch.tensor([0.0, 1.0]))
    e = d.expand((3, 2))
    assert tuple(e.batch_shape) == (3, 2) and tuple(e.loc.shape) == (3, 2)
    p = D.LogNormal(0.0, 1.0)
    q = D.LogNormal(1.0, 2.0)                   # LogNormal/LogNormal, not the generic pair
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(),
                               TD.kl_divergence(TD.LogNormal(0.0, 1.0),
                                                TD.LogNormal(1.0, 2.0)).numpy(), rtol=1e-6)


def test_the_families_torch_builds_by_transforms_are_transformed_distributions():
    names = [n for n in dir(TD) if isinstance(getattr(TD, n), type)
             and issubclass(getattr(TD, n), TD.Distribution) and hasattr(D, n)]
    assert len(names) >= 35
    for n in names:
        assert (issubclass(getattr(D, n), D.TransformedDistribution)
                == issubclass(getattr(TD, n), TD.TransformedDistribution)), n
    # their transforms describe them: the generic transformed log_prob equals the closed form
    # (HalfNormal's AbsTransform has no log|J|, as torch's)
    value = tg.tensor(np.abs(X[0]) + 0.1)
    half = D.HalfNormal(tg.tensor(np.abs(SCALE)))
    assert isinstance(half.transforms[0], D.AbsTransform) and isinstance(half.base_dist,
                                                                         D.Normal)
    for d in (D.Gumbel(tg.tensor(LOC), tg.tensor(np.abs(SCALE))),
              D.LogNormal(tg.tensor(LOC), 1.5),
              D.Weibull(tg.tensor(np.abs(SCALE)), 1.7)):
        np.testing.assert_allclose(D.TransformedDistribution.log_prob(d, value).numpy(),
                                   d.log_prob(value).numpy(), rtol=1e-9, atol=1e-12)
        assert tuple(d.expand((2, 3, 4)).batch_shape) == (2, 3, 4)
