"""torch's remaining random functions and in-place fills: ``normal`` (tensor or number
parameters), ``bernoulli``, ``poisson``, and ``random_``, ``exponential_``, ``geometric_``,
``log_normal_``, ``cauchy_``; ``seed``/``initial_seed``.

Draws come from ``generator`` when given, else from the seeded generator of the tensor's device
(``manual_seed``), as the other factories; the numbers differ from torch's for the same seed
(NumPy's streams), the distributions, shapes and dtypes are torch's.  Parameter checks raise
torch's errors.  None of these is differentiable; ``normal`` with tensor parameters is on the
graph with zero gradients for them, as torch's.
"""
from __future__ import annotations

import math
import numbers
import os

from . import backend
from .autograd.inplace import apply_inplace
from .creation import get_default_dtype, rng_of
from .tensor import Tensor, _as_tensor, _rng, where

_INT64 = backend.dtype("int64")
_FLOAT64 = backend.dtype("float64")


def _fill(self, values):
    """self <- values (a raw array of self's shape), through the in-place rules."""
    return apply_inplace(self, lambda x, v: v.to(x.dtype) if v.dtype != x.dtype else v,
                         Tensor.wrap(values), casting="unsafe")


def _draw_dtype(t):
    return t.dtype if t.dtype == _FLOAT64 else backend.dtype("float32")


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Draws from N(mean, std^2): tensors of means and/or standard deviations (broadcast), or
    numbers with ``size``.  Tensor parameters get zero gradients (the draw is on the graph, as
    torch's)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        params = [t for t in (mean, std) if isinstance(t, Tensor)]
        like = params[0]
        if isinstance(std, Tensor) and bool((std.array < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        m = mean.array if isinstance(mean, Tensor) else mean
        s = std.array if isinstance(std, Tensor) else std
        shape = backend.broadcast_shapes(*[tuple(t.shape) for t in params])
        eps = _rng(like, generator).standard_normal(shape, dtype=_draw_dtype(like))
        out = Tensor.wrap((m + s * eps).astype(like.dtype, copy=False))
        everywhere = backend.get_array_module(eps).ones(shape, dtype=bool)
        for t in params:          # on the graph, with zero gradients (in the mean's dtype)
            out = where(everywhere, out, t.to(out.dtype) if t.dtype != out.dtype else t)
        return out
    if size is None:
        raise TypeError("normal(): with number mean and std, size is required")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    dt = backend.dtype(dtype) if dtype is not None else get_default_dtype()
    shape = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    draws = rng_of(generator, device).standard_normal(shape, dtype=dt) * std + mean
    out = Tensor.wrap(draws.astype(dt, copy=False))
    return out.requires_grad_() if requires_grad else out


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or ``p``) elementwise, else 0, in input's dtype."""
    x = _as_tensor(input)
    probs = x.array if p is None else (p.array if isinstance(p, Tensor) else p)
    xp = backend.get_array_module(x.array)
    if bool(((xp.asarray(probs) < 0) | (xp.asarray(probs) > 1)).any()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    u = _rng(x, generator).random(x.shape, dtype=_draw_dtype(x))
    return Tensor.wrap((u < probs).astype(x.dtype))


def poisson(input, generator=None):
    """Draws from Poisson(rate) for every rate of ``input`` (same dtype)."""
    x = _as_tensor(input)
    if bool((x.array < 0).any()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    draws = _rng(x, generator).poisson(x.array.astype("float64"))
    return Tensor.wrap(draws.astype(x.dtype))


# ---- in-place fills -------------------------------------------------------------------------------
def random_(self, from_=0, to=None, *, generator=None):
    """Integers uniform in [from_, to) (``to`` None: up to the dtype's largest integer that
    it represents exactly, 2^mantissa for floats), stored in self's dtype."""
    if to is None:
        to, from_ = (from_, 0) if from_ else (_random_upper(self.dtype), 0)
    if to <= from_:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    draws = _rng(self, generator).integers(from_, to, self.shape, dtype=_INT64)
    return _fill(self, draws)


def _random_upper(dtype):
    xp = backend.module_for_device("cpu")
    if dtype.kind == "f":
        return 2 ** (xp.finfo(dtype).nmant + 1) + 1
    if dtype.kind == "b":
        return 2
    return int(xp.iinfo(dtype).max) + 1


def exponential_(self, lambd=1.0, *, generator=None):
    """Draws from Exp(lambd) (density lambd e^(-lambd x))."""
    _continuous(self, "Exponential")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    draws = _rng(self, generator).exponential(1.0 / lambd, self.shape)
    return _fill(self, draws)


def _continuous(self, name):
    """torch's error for a continuous distribution drawn into an integer or bool tensor."""
    if self.dtype.kind != "f":
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified {self.dtype}")


def geometric_(self, p, *, generator=None):
    """Draws from the geometric distribution on {1, 2, ...}: P(k) = (1 - p)^(k-1) p."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(self, _rng(self, generator).geometric(p, self.shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Draws of exp(N(mean, std^2))."""
    _continuous(self, "LogNormal")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    draws = _rng(self, generator).standard_normal(self.shape)     # (CuPy's Generator has
    return _fill(self, backend.get_array_module(draws).exp(draws * std + mean))   # no lognormal)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Draws from the Cauchy distribution: median + sigma tan(pi (u - 1/2))."""
    _continuous(self, "Cauchy")
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    u = _rng(self, generator).random(self.shape)
    xp = backend.get_array_module(u)
    return _fill(self, median + sigma * xp.tan(math.pi * (u - 0.5)))


def _bernoulli_method(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


# ---- seeds ----------------------------------------------------------------------------------------
def seed():
    """Seed every generator from the operating system's entropy; returns the seed."""
    value = int.from_bytes(os.urandom(8), "little") >> 1
    backend.manual_seed(value)
    return value


def initial_seed():
    """The seed of the last ``manual_seed``/``seed`` (the default generator's)."""
    return backend.current_seed()


METHODS = ("random_", "exponential_", "geometric_", "log_normal_", "cauchy_")
for _name in METHODS:
    setattr(Tensor, _name, globals()[_name])
del _name
Tensor.bernoulli = _bernoulli_method
