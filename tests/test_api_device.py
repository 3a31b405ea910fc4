"""The session's torch functions on every device (the ``device`` fixture: cpu, and cuda when
CuPy sees a GPU): elementwise math, special functions, linalg, statistics, products, indexing
and distributions computed on the device and compared, values and gradients, with torch on the
CPU (the per-module tests cover the edges on the CPU; this file is what a GPU run adds)."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
from tinygrad_cv import distributions as D

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

rng = np.random.default_rng(0)
X = rng.uniform(0.2, 0.8, (3, 4))           # inside every domain used below
Y = rng.uniform(0.5, 1.5, (3, 4))
SQ = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
SPD = SQ @ np.swapaxes(SQ, -1, -2)

CASES = {
    "tan": (lambda t, a: t.tan(a), [X]),
    "asin": (lambda t, a: t.asin(a), [X]),
    "acosh": (lambda t, a: t.acosh(a + 1), [X]),
    "atanh": (lambda t, a: t.atanh(a), [X]),
    "erfinv": (lambda t, a: t.erfinv(a), [X]),
    "erfc": (lambda t, a: t.erfc(a), [X]),
    "lgamma": (lambda t, a: t.lgamma(a), [X]),
    "digamma": (lambda t, a: t.digamma(a), [X]),
    "polygamma2": (lambda t, a: t.polygamma(2, a), [X]),
    "logit": (lambda t, a: t.logit(a), [X]),
    "sinc": (lambda t, a: t.sinc(a), [X]),
    "atan2": (lambda t, a, b: t.atan2(a, b), [X, Y]),
    "hypot": (lambda t, a, b: t.hypot(a, b), [X, Y]),
    "logaddexp": (lambda t, a, b: t.logaddexp(a, b), [X, Y]),
    "xlogy": (lambda t, a, b: t.xlogy(a, b), [X, Y]),
    "ndtri": (lambda t, a: t.special.ndtri(a), [X]),
    "det": (lambda t, a: t.linalg.det(a), [SQ]),
    "slogdet": (lambda t, a: t.linalg.slogdet(a)[1], [SQ]),
    "inv": (lambda t, a: t.linalg.inv(a), [SQ]),
    "solve": (lambda t, a, b: t.linalg.solve(a, b), [SQ, SQ[..., :2]]),
    "cholesky": (lambda t, a: t.linalg.cholesky(a), [SPD]),
    "eigvalsh": (lambda t, a: t.linalg.eigvalsh(a), [SPD]),
    "svdvals": (lambda t, a: t.linalg.svdvals(a), [SQ]),
    "qr_r": (lambda t, a: t.linalg.qr(a)[1].abs(), [SQ]),
    "matrix_exp": (lambda t, a: t.linalg.matrix_exp(a * 0.3), [SQ]),
    "pinv": (lambda t, a: t.linalg.pinv(a), [SQ[..., :2]]),
    "quantile": (lambda t, a: t.quantile(a, 0.3, dim=1), [X]),
    "cov": (lambda t, a: t.cov(a), [X]),
    "kron": (lambda t, a, b: t.kron(a, b), [X, Y[:2, :2]]),
    "tensordot": (lambda t, a, b: t.tensordot(a, b.T, 1), [X, Y]),
    "diag_embed": (lambda t, a: t.diag_embed(a, 1), [X]),
    "take": (lambda t, a: t.take(a, t.tensor([0, 5, 11], device=a.device)), [X]),
    "nanmean": (lambda t, a: t.nanmean(a, 1), [X]),
}


def _on(lib, arrays, device):
    if lib is torch:
        return [torch.tensor(a, requires_grad=True) for a in arrays]
    return [tg.tensor(a, device=device, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("name", sorted(CASES))
def test_functions_on_the_device_match_torch(name, device):
    fn, arrays = CASES[name]
    ours, theirs = _on(tg, arrays, device), _on(torch, arrays, None)
    yo, yt = fn(tg, *ours), fn(torch, *theirs)
    assert yo.device == device
    np.testing.assert_allclose(yo.detach().cpu().numpy(), yt.detach().numpy(), rtol=1e-9,
                               atol=1e-11)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (yo * tg.tensor(g, device=device)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_distributions_on_the_device_match_torch(device):
    loc, scale = rng.standard_normal((2, 3)), rng.uniform(0.5, 2.0, (2, 3))
    value = rng.uniform(0.2, 0.8, (2, 3))
    cases = [(D.Normal, torch.distributions.Normal, [loc, scale]),
             (D.Gamma, torch.distributions.Gamma, [scale, scale[::-1].copy()]),
             (D.Beta, torch.distributions.Beta, [scale, scale[::-1].copy()]),
             (D.Laplace, torch.distributions.Laplace, [loc, scale]),
             (D.Exponential, torch.distributions.Exponential, [scale])]
    for ours_cls, torch_cls, params in cases:
        po, pt = _on(tg, params, device), _on(torch, params, None)
        do, dt = ours_cls(*po), torch_cls(*pt)
        lo = do.log_prob(tg.tensor(value, device=device)).sum() + do.entropy().sum()
        lt = dt.log_prob(torch.tensor(value)).sum() + dt.entropy().sum()
        np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-10)
        lo.backward()
        lt.backward()
        for o, t in zip(po, pt):
            # Gamma's and Beta's entropies go through digamma/trigamma, where torch's own
            # values are up to ~5e-10 off (relative); a drawn case differed by 2e-9
            np.testing.assert_allclose(o.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-8)
        tg.manual_seed(0)
        assert do.sample((5,)).device == device
    cov = SPD[0]
    mo = D.MultivariateNormal(tg.tensor(loc[0], device=device),
                              covariance_matrix=tg.tensor(cov, device=device))
    mt = torch.distributions.MultivariateNormal(torch.tensor(loc[0]),
                                                covariance_matrix=torch.tensor(cov))
    np.testing.assert_allclose(mo.log_prob(tg.tensor(value[:, :3], device=device)).cpu().numpy(),
                               mt.log_prob(torch.tensor(value[:, :3])).numpy(), rtol=1e-10)
    assert mo.rsample((4,)).device == device
