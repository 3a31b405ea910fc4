"""Noise schedules of the diffusion forward process (the notes' section 三, DDPM).

With betas ``b_t`` (t = 0..T-1 here for the paper's 1..T), ``a_t = 1 - b_t`` and
``abar_t = prod_{s<=t} a_s``:

    forward:    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)
                x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,            eps ~ N(0, I)
    posterior:  q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I)
                mu~_t = sqrt(abar_{t-1}) b_t / (1 - abar_t) x_0
                        + sqrt(a_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
                beta~_t = (1 - abar_{t-1}) / (1 - abar_t) b_t
    with abar_{-1} = 1 (so beta~_0 = 0 and mu~_0 = x_0).

Kinds of betas (all float64, length T):

- ``linear``: ``linspace(beta_start, beta_end, T)`` (DDPM);
- ``scaled_linear``: ``linspace(sqrt(beta_start), sqrt(beta_end), T) ** 2`` (latent diffusion);
- ``cosine``: ``b_t = min(1 - f((t+1)/T) / f(t/T), 0.999)`` with
  ``f(s) = cos((s + 0.008) / 1.008 * pi / 2) ** 2`` (Nichol & Dhariwal); ignores
  ``beta_start``/``beta_end``.

The arrays live on the host; ``gather`` hands out per-sample coefficients on the device and in
the dtype of the data they multiply.
"""
from __future__ import annotations

import math

from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor

__all__ = ["NoiseSchedule", "SCHEDULE_KINDS", "as_timesteps"]

SCHEDULE_KINDS = ("linear", "cosine", "scaled_linear")
COSINE_MAX_BETA = 0.999
COSINE_OFFSET = 0.008


def _host():
    return backend.module_for_device("cpu")


def make_betas(kind, timesteps, beta_start, beta_end):
    """The float64 host array of betas of schedule ``kind`` (see the module docstring)."""
    np_ = _host()
    if kind == "linear":
        return np_.linspace(beta_start, beta_end, timesteps, dtype="float64")
    if kind == "scaled_linear":
        return np_.linspace(math.sqrt(beta_start), math.sqrt(beta_end), timesteps,
                            dtype="float64") ** 2
    if kind == "cosine":
        s = np_.arange(timesteps + 1, dtype="float64") / timesteps
        f = np_.cos((s + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
        return np_.minimum(1.0 - f[1:] / f[:-1], COSINE_MAX_BETA)
    raise ValueError(f"NoiseSchedule: unknown kind {kind!r}; expected one of "
                     f"{', '.join(SCHEDULE_KINDS)}")


def as_timesteps(t, n, device, timesteps, what="timesteps"):
    """``t`` (int, sequence, array or Tensor) as an int64 array of shape (n,) on ``device``,
    checked to lie in [0, timesteps) (``what`` names the values in errors)."""
    data = t.array if isinstance(t, Tensor) else t
    if backend.is_array(data):
        arr = backend.to_device(data, device)
    else:
        arr = backend.as_array(data, device=device)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, got dtype {arr.dtype}")
    arr = arr.astype("int64", copy=False)
    if arr.ndim == 0:
        arr = backend.get_array_module(arr).full((n,), int(arr), dtype="int64")
    if arr.shape != (n,):
        raise ValueError(f"{what} must be a scalar or have shape ({n},), got "
                         f"{tuple(arr.shape)}")
    if n and (int(arr.min()) < 0 or int(arr.max()) >= timesteps):
        raise ValueError(f"{what} must lie in [0, {timesteps - 1}], got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return arr


class NoiseSchedule:
    """``NoiseSchedule(kind='linear'|'cosine'|'scaled_linear', timesteps=1000,
    beta_start=1e-4, beta_end=0.02)``.

    Attributes (float64 host arrays of length T): ``betas``, ``alphas``, ``alphas_cumprod``,
    ``alphas_cumprod_prev`` (abar_{t-1}, 1 at t=0), ``posterior_variance`` (beta~_t),
    ``posterior_log_variance_clipped`` (log beta~_t with beta~_0 replaced by beta~_1, as DDPM
    does), ``fixed_large_log_variance`` (log b_t with b_0 replaced by beta~_1, DDPM's
    "fixedlarge"), ``posterior_mean_coef1``/``posterior_mean_coef2`` (of x_0 and x_t in mu~_t),
    ``sqrt_alphas_cumprod``, ``sqrt_one_minus_alphas_cumprod``, ``sqrt_recip_alphas_cumprod``
    (1/sqrt(abar_t)) and ``sqrt_recipm1_alphas_cumprod`` (sqrt(1/abar_t - 1)).
    """

    def __init__(self, kind="linear", timesteps=1000, beta_start=1e-4, beta_end=0.02):
        if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
            raise ValueError(f"NoiseSchedule: timesteps must be a positive integer, got "
                             f"{timesteps!r}")
        if kind != "cosine" and not 0.0 < beta_start <= beta_end < 1.0:
            raise ValueError(f"NoiseSchedule: need 0 < beta_start <= beta_end < 1, got "
                             f"beta_start={beta_start!r}, beta_end={beta_end!r}")
        np_ = _host()
        self.kind = kind
        self.timesteps = int(timesteps)
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)
        betas = make_betas(kind, self.timesteps, self.beta_start, self.beta_end)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np_.cumprod(self.alphas)
        self.alphas_cumprod_prev = np_.concatenate([[1.0], self.alphas_cumprod[:-1]])
        ac, acp = self.alphas_cumprod, self.alphas_cumprod_prev
        self.posterior_variance = betas * (1.0 - acp) / (1.0 - ac)
        first = self.posterior_variance[1] if self.timesteps > 1 else betas[0]
        self.posterior_log_variance_clipped = np_.log(
            np_.concatenate([[first], self.posterior_variance[1:]]))
        self.fixed_large_log_variance = np_.log(np_.concatenate([[first], betas[1:]]))
        self.posterior_mean_coef1 = betas * np_.sqrt(acp) / (1.0 - ac)
        self.posterior_mean_coef2 = (1.0 - acp) * np_.sqrt(self.alphas) / (1.0 - ac)
        self.sqrt_alphas_cumprod = np_.sqrt(ac)
        self.sqrt_one_minus_alphas_cumprod = np_.sqrt(1.0 - ac)
        self.sqrt_recip_alphas_cumprod = np_.sqrt(1.0 / ac)
        self.sqrt_recipm1_alphas_cumprod = np_.sqrt(1.0 / ac - 1.0)
        self._device_cache = {}

    @property
    def config(self):
        """The constructor arguments as a JSON-able dict."""
        return {"kind": self.kind, "timesteps": self.timesteps, "beta_start": self.beta_start,
                "beta_end": self.beta_end}

    def __repr__(self):
        return (f"NoiseSchedule(kind={self.kind!r}, timesteps={self.timesteps}, "
                f"beta_start={self.beta_start}, beta_end={self.beta_end})")

    def __len__(self):
        return self.timesteps

    # ---- per-sample coefficients ----------------------------------------------------------
    def _on_device(self, name, device):
        key = (name, device)
        arr = self._device_cache.get(key)
        if arr is None:
            arr = backend.to_device(getattr(self, name), device)
            self._device_cache[key] = arr
        return arr

    def gather(self, name, t, like):
        """Coefficient array ``name`` at timesteps ``t`` as a (N, 1, ..., 1) Tensor in the
        dtype and on the device of ``like`` (a Tensor of shape (N, ...))."""
        like_data = like.array if isinstance(like, Tensor) else like
        device = backend.device_of(like_data)
        n = like_data.shape[0]
        idx = as_timesteps(t, n, device, self.timesteps)
        values = self._on_device(name, device)[idx].astype(like_data.dtype, copy=False)
        return Tensor.wrap(values.reshape((n,) + (1,) * (like_data.ndim - 1)))

    # ---- forward process and posterior ---------------------------------------------------
    def q_sample(self, x0, t, noise=None):
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise  (x0, noise: (N, ...); t: (N,)).

        ``noise`` defaults to a standard normal draw from the seeded generator."""
        x0 = _as_tensor(x0)
        if noise is None:
            import tinygrad_cv as tg

            noise = tg.randn(*x0.shape, dtype=x0.dtype, device=x0.device)
        noise = _as_tensor(noise)
        if tuple(noise.shape) != tuple(x0.shape):
            raise ValueError(f"q_sample: noise has shape {tuple(noise.shape)}, x0 has "
                             f"{tuple(x0.shape)}")
        return (self.gather("sqrt_alphas_cumprod", t, x0) * x0
                + self.gather("sqrt_one_minus_alphas_cumprod", t, x0) * noise)

    def posterior(self, x0, xt, t):
        """(mean, variance) of q(x_{t-1} | x_t, x_0): mean (N, ...), variance (N, 1, ..., 1)."""
        x0, xt = _as_tensor(x0), _as_tensor(xt)
        if tuple(x0.shape) != tuple(xt.shape):
            raise ValueError(f"posterior: x0 has shape {tuple(x0.shape)}, xt has "
                             f"{tuple(xt.shape)}")
        mean = (self.gather("posterior_mean_coef1", t, xt) * x0
                + self.gather("posterior_mean_coef2", t, xt) * xt)
        return mean, self.gather("posterior_variance", t, xt)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)
