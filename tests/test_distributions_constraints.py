"""distributions.constraints against torch.distributions.constraints 2.13: check() on the same
values (inside, on the boundary, outside, NaN), is_discrete, event_dim and repr; the families'
arg_constraints and support as torch's; the base class's parameter and sample validation."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import distributions as D
from tinygrad_cv.distributions import constraints as C

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")
TC = torch.distributions.constraints

rng = np.random.default_rng(0)


def _pair(name, *args):
    ours, theirs = getattr(C, name), getattr(TC, name)
    if args:
        return (ours(*[tg.tensor(a) if isinstance(a, np.ndarray) else a for a in args]),
                theirs(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]))
    return ours, theirs


SCALAR_VALUES = np.array([-2.0, -1.0, -0.5, 0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0, np.nan, np.inf])
SCALAR = [("real",), ("positive",), ("nonnegative",), ("unit_interval",), ("boolean",),
          ("nonnegative_integer",), ("positive_integer",), ("greater_than", -0.5),
          ("greater_than_eq", -0.5), ("less_than", 1.0), ("interval", -1.0, 1.5),
          ("half_open_interval", -1.0, 1.5), ("integer_interval", 0, 2),
          ("greater_than", np.array([0.0, 1.0, 2.0])[:, None])]


@pytest.mark.parametrize("spec", SCALAR, ids=lambda s: s[0])
def test_scalar_constraints_match_torch(spec):
    ours, theirs = _pair(*spec)
    got = ours.check(tg.tensor(SCALAR_VALUES))
    want = theirs.check(torch.tensor(SCALAR_VALUES))
    assert got.dtype == tg.bool and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert ours.is_discrete == theirs.is_discrete and ours.event_dim == theirs.event_dim
    if not isinstance(spec[-1], np.ndarray):
        assert repr(ours) == repr(theirs)


def _spd(n, k):
    a = rng.standard_normal((n, k, k))
    return a @ a.transpose(0, 2, 1) + 0.1 * np.eye(k)


def _matrices():
    spd = _spd(3, 3)
    chol = np.linalg.cholesky(spd)
    corr = chol / np.linalg.norm(chol, axis=-1, keepdims=True)
    bad = spd.copy()
    bad[0, 0, 1] += 0.5                     # not symmetric
    indefinite = spd - 5 * np.eye(3)
    neg_diag = chol.copy()
    neg_diag[1, 2, 2] *= -1
    semidef = np.ones((1, 3, 3))
    return np.concatenate([spd, chol, corr, bad, indefinite, neg_diag, semidef,
                           rng.standard_normal((2, 3, 3))])


@pytest.mark.parametrize("name", ["lower_triangular", "lower_cholesky", "corr_cholesky",
                                  "square", "symmetric", "positive_semidefinite",
                                  "positive_definite", "simplex", "one_hot", "real_vector"])
def test_event_constraints_match_torch(name):
    ours, theirs = _pair(name)
    if name in ("simplex", "one_hot", "real_vector"):
        p = rng.dirichlet(np.ones(4), 5)
        values = np.concatenate([p, np.eye(4), [[0.5, 0.5, 0.0, 0.0], [1.0, 1.0, -1.0, 0.0],
                                                [0.2, 0.2, 0.2, 0.2], [np.nan, 0, 0, 1]]])
    else:
        values = _matrices()
    got = ours.check(tg.tensor(values)).numpy()
    want = theirs.check(torch.tensor(values)).numpy()
    np.testing.assert_array_equal(got, want)
    assert got.any() and (name in ("real_vector", "square") or not got.all())
    assert ours.is_discrete == theirs.is_discrete and ours.event_dim == theirs.event_dim
    assert repr(ours) == repr(theirs)
    if name == "square":
        assert not ours.check(tg.zeros(2, 3, 4)).numpy().any()


def test_independent_cat_stack_multinomial_match_torch():
    x = rng.standard_normal((3, 4, 5))
    for n in (0, 1, 2):
        ours, theirs = C.independent(C.positive, n), TC.independent(TC.positive, n)
        np.testing.assert_array_equal(ours.check(tg.tensor(np.abs(x) * (x > -2))).numpy(),
                                      theirs.check(torch.tensor(np.abs(x) * (x > -2))).numpy())
        assert ours.event_dim == theirs.event_dim and repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="Expected value.dim"):
        C.independent(C.real, 2).check(tg.tensor([1.0]))
    cat_o = C.cat([C.positive, C.real, C.unit_interval], dim=1, lengths=[2, 1, 2])
    cat_t = TC.cat([TC.positive, TC.real, TC.unit_interval], dim=1, lengths=[2, 1, 2])
    np.testing.assert_array_equal(cat_o.check(tg.tensor(x[0])).numpy(),
                                  cat_t.check(torch.tensor(x[0])).numpy())
    st_o = C.stack([C.positive, C.real, C.unit_interval], dim=0)
    st_t = TC.stack([TC.positive, TC.real, TC.unit_interval], dim=0)
    np.testing.assert_array_equal(st_o.check(tg.tensor(x[:, 0])).numpy(),
                                  st_t.check(torch.tensor(x[:, 0])).numpy())
    assert st_o.event_dim == st_t.event_dim and cat_o.is_discrete == cat_t.is_discrete
    counts = np.array([[1.0, 2.0, 0.0], [3.0, 2.0, 0.0], [-1.0, 2.0, 0.0]])
    np.testing.assert_array_equal(C.multinomial(4).check(tg.tensor(counts)).numpy(),
                                  TC.multinomial(4).check(torch.tensor(counts)).numpy())
    with pytest.raises(TypeError, match="Constraint"):
        C.independent(3, 1)


def test_dependent_constraints():
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    with pytest.raises(ValueError, match="dependent constraint"):
        C.dependent.check(tg.tensor([1.0]))
    with pytest.raises(NotImplementedError):
        C.dependent.event_dim
    assert C.dependent(is_discrete=True, event_dim=1).event_dim == 1
    assert C.is_dependent(D.Uniform.support) and C.is_dependent(D.Binomial.support)
    assert D.Uniform.support.event_dim == 0 and not D.Uniform.support.is_discrete


def _torch_dist(cls_name, params):
    return getattr(torch.distributions, cls_name)(*[torch.tensor(p) for p in params])


FAMILIES = {"Normal": [[0.0, 1.0], [1.0, 2.0]], "LogNormal": [[0.0], [1.0]],
            "Uniform": [[0.0, -1.0], [1.0, 2.0]], "Exponential": [[1.0]],
            "Laplace": [[0.0], [1.0]], "Gamma": [[2.0], [1.0]], "Beta": [[2.0], [1.5]],
            "Poisson": [[2.0]], "HalfNormal": [[1.0]], "Cauchy": [[0.0], [1.0]],
            "Gumbel": [[0.0], [1.0]], "Geometric": [[0.3]], "Binomial": [[3.0, 5.0], [0.3, 0.6]],
            "Chi2": [[3.0]], "StudentT": [[3.0], [0.0], [1.0]], "Dirichlet": [[[1.0, 2.0, 3.0]]],
            "Categorical": [[[0.2, 0.3, 0.5]]], "OneHotCategorical": [[[0.2, 0.3, 0.5]]],
            "Bernoulli": [[0.3]], "MultivariateNormal": [[0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]]]}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_families_declare_torchs_constraints(name):
    params = FAMILIES[name]
    ours = getattr(D, name)(*[tg.tensor(p) for p in params])
    theirs = _torch_dist(name, params)
    assert sorted(ours.arg_constraints) == sorted(theirs.arg_constraints)
    for key, c in ours.arg_constraints.items():
        assert repr(c).replace("tensor", "") == repr(theirs.arg_constraints[key]).replace(
            "tensor", "") or name == "Uniform"
        assert type(c).__name__ == type(theirs.arg_constraints[key]).__name__
    assert repr(ours.support).replace("tensor", "") == repr(theirs.support).replace(
        "tensor", "") or name in ("Uniform", "Binomial")
    assert ours.support.event_dim == theirs.support.event_dim
    assert ours.support.is_discrete == theirs.support.is_discrete
    draws = ours.sample((50,))
    assert bool(ours.support.check(draws).all())
    for key, c in ours.arg_constraints.items():
        t = ours.__dict__.get(key)
        if t is not None and not C.is_dependent(c):
            assert bool(c.check(t).all())


def test_independent_support_and_validate_sample():
    base = D.Normal(tg.zeros(2, 3), tg.ones(2, 3))
    ind = D.Independent(base, 1)
    assert repr(ind.support) == repr(TC.independent(TC.real, 1))
    assert ind.support.event_dim == 1
    expo = D.Exponential(tg.ones(2, 3))
    expo._validate_sample(tg.ones(4, 2, 3))
    with pytest.raises(ValueError, match="support GreaterThanEq"):
        expo._validate_sample(-tg.ones(2, 3))
    with pytest.raises(ValueError, match="not broadcastable"):
        expo._validate_sample(tg.ones(2, 4))
    with pytest.raises(ValueError, match="must be a Tensor"):
        expo._validate_sample(1.0)
    with pytest.raises(ValueError, match="right-most size"):
        D.Dirichlet(tg.ones(3))._validate_sample(tg.ones(4))


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Cauchy", "Gumbel", "StudentT",
                                  "Exponential", "Gamma", "Poisson", "Geometric", "HalfNormal",
                                  "Chi2", "Beta"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # (inf - inf in accepted values)
def test_families_validate_values_shapes_and_parameters_like_torch(name):
    """torch's checks run for every family: NaN/inf values outside the support, values not
    broadcastable with the batch shape, NaN parameters; an infinite Chi2 df is allowed."""
    params = {"Normal": [[0.0, 1.0], [1.0, 2.0]], "Laplace": [[0.0, 1.0], [1.0, 2.0]],
              "Cauchy": [[0.0, 1.0], [1.0, 2.0]], "Gumbel": [[0.0, 1.0], [1.0, 2.0]],
              "StudentT": [[3.0, 1.0], [0.0, 1.0], [1.0, 2.0]], "Exponential": [[1.0, 2.0]],
              "Gamma": [[2.0, 1.0], [1.0, 3.0]], "Poisson": [[2.0, 1.0]],
              "Geometric": [[0.3, 0.6]], "HalfNormal": [[1.0, 2.0]], "Chi2": [[3.0, 1.0]],
              "Beta": [[2.0, 1.0], [1.5, 2.0]]}[name]
    for value in ([np.nan, 0.5], [np.inf, 1.0], [0.5, 1.5, 2.0], [[0.5, 1.0, 2.0]]):
        try:
            getattr(torch.distributions, name)(*[torch.tensor(p) for p in params]).log_prob(
                torch.tensor(value))
        except ValueError as err:
            key = "support" if "support" in str(err) else "not broadcastable"
            with pytest.raises(ValueError, match=key):
                getattr(D, name)(*[tg.tensor(p) for p in params]).log_prob(tg.tensor(value))
        else:
            getattr(D, name)(*[tg.tensor(p) for p in params]).log_prob(tg.tensor(value))
    for i in range(len(params)):
        for bad in ([np.nan, 1.0], [np.inf, 1.0]):
            args = [list(p) for p in params]
            args[i] = bad
            try:
                getattr(torch.distributions, name)(*[torch.tensor(p) for p in args])
            except ValueError:
                with pytest.raises(ValueError, match="Expected parameter"):
                    getattr(D, name)(*[tg.tensor(p) for p in args])
            else:
                getattr(D, name)(*[tg.tensor(p) for p in args])
