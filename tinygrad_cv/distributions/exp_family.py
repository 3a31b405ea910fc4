"""``ExponentialFamily``: densities p(x) = h(x) exp(<theta, t(x)> - F(theta)), the base class of
Normal, Exponential, Gamma (and Chi2), Beta, Bernoulli, Dirichlet, Poisson,
ContinuousBernoulli and Wishart (as torch).  A family gives ``_natural_params`` (theta),
``_log_normalizer(*theta)`` (F) and ``_mean_carrier_measure`` (E[log h(x)]); then

    entropy = F(theta) - <theta, grad F(theta)> - E[log h(x)]

is available generically (``ExponentialFamily.entropy``; the families keep their closed
forms), computed with the framework's autograd.
"""
from __future__ import annotations

from ..autograd import enable_grad, grad
from .distribution import Distribution


class ExponentialFamily(Distribution):
    @property
    def _natural_params(self):
        raise NotImplementedError(f"{type(self).__name__} does not give its natural "
                                  "parameters")

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError(f"{type(self).__name__} does not give its log normalizer")

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError(f"{type(self).__name__} does not give its mean carrier "
                                  "measure")

    def entropy(self):
        """F(theta) - <theta, grad F(theta)> - E[log h] (the Bregman form)."""
        result = -self._mean_carrier_measure
        with enable_grad():
            params = [p.detach().requires_grad_() for p in self._natural_params]
            log_normalizer = self._log_normalizer(*params)
            gradients = grad(log_normalizer.sum(), params, create_graph=True)
        result = result + log_normalizer
        for p, g in zip(params, gradients):
            result = result - (p * g).reshape(*self._batch_shape, -1).sum(-1)
        return result


__all__ = ["ExponentialFamily"]
