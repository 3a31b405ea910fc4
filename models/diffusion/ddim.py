"""DDIM (Song et al.): sampling on a sub-sequence of the training timesteps.

For consecutive entries t > t' of the timestep list (t' = -1 after the last one, where
abar_{-1} = 1, the "set_alpha_to_one" convention) and a noise prediction eps:

    x0^     = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)        (clipped to [-1, 1] if asked)
    sigma_t = eta * sqrt((1 - abar_t') / (1 - abar_t)) * sqrt(1 - abar_t / abar_t')
    x_t'    = sqrt(abar_t') x0^ + sqrt(1 - abar_t' - sigma_t^2) eps + sigma_t z,  z ~ N(0, I)

eta = 0 is deterministic; eta = 1 on consecutive timesteps has sigma_t^2 = beta~_t (DDPM's
posterior variance).  The direction term uses the model's eps as predicted (not re-derived
from a clipped x0^).

Spacings of S steps over T training steps (descending lists):

- ``leading``:  (T // S) * i, i = 0..S-1;
- ``trailing``: round(T - i T / S) - 1, i = 0..S-1;
- ``linspace``: round(linspace(0, T - 1, S));
- ``quad``:     floor(linspace(0, sqrt(0.8 T), S) ** 2) (the DDIM paper's quadratic
  sub-sequence), with repeats pushed up to the next free integer so the list is strictly
  increasing (small i with c i^2 < 1 would otherwise collide at 0).

The previous timestep always comes from the list itself (never t - T // S).
"""
from __future__ import annotations

import math

from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor

from .ddpm import reverse_process
from .schedule import NoiseSchedule

__all__ = ["DDIMSampler", "SPACINGS", "make_timesteps"]

SPACINGS = ("leading", "trailing", "linspace", "quad")
QUAD_FRACTION = 0.8


def make_timesteps(spacing, steps, timesteps):
    """The descending int64 host array of ``steps`` timesteps out of ``timesteps``."""
    np_ = backend.module_for_device("cpu")
    T, S = int(timesteps), int(steps)
    if spacing == "leading":
        ts = np_.arange(S, dtype="int64") * (T // S)
    elif spacing == "trailing":
        ts = np_.round(T - np_.arange(S, dtype="float64") * (T / S)).astype("int64")[::-1] - 1
    elif spacing == "linspace":
        ts = np_.round(np_.linspace(0, T - 1, S)).astype("int64")
    elif spacing == "quad":
        ts = np_.floor(np_.linspace(0, math.sqrt(QUAD_FRACTION * T), S) ** 2).astype("int64")
        # strictly increasing: t_i = max(t_i, t_{i-1} + 1), i.e. max over j <= i of t_j + i - j
        i = np_.arange(S, dtype="int64")
        ts = np_.maximum.accumulate(ts - i) + i
    else:
        raise ValueError(f"DDIMSampler: unknown spacing {spacing!r}; expected one of "
                         f"{', '.join(SPACINGS)}")
    return np_.ascontiguousarray(ts[::-1])


class DDIMSampler:
    """``DDIMSampler(schedule, steps=50, eta=0.0, spacing='leading', clip_denoised=True)``.

    ``timesteps``: descending int64 host array; ``prev_timesteps``: the next entry of that
    list for each (-1 after the last).
    """

    def __init__(self, schedule, steps=50, eta=0.0, spacing="leading", clip_denoised=True):
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"DDIMSampler: schedule must be a NoiseSchedule, got "
                            f"{type(schedule).__name__}")
        T = schedule.timesteps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= T:
            raise ValueError(f"DDIMSampler: steps must be an integer in [1, {T}], got {steps!r}")
        eta = float(eta)
        if not (eta >= 0.0 and math.isfinite(eta)):
            raise ValueError(f"DDIMSampler: eta must be a finite number >= 0, got {eta!r}")
        self.schedule = schedule
        self.steps = steps
        self.eta = eta
        self.spacing = spacing
        self.clip_denoised = bool(clip_denoised)
        self.timesteps = make_timesteps(spacing, steps, T)
        np_ = backend.module_for_device("cpu")
        self.prev_timesteps = np_.concatenate([self.timesteps[1:], [-1]]).astype("int64")

    def __repr__(self):
        return (f"DDIMSampler(steps={self.steps}, eta={self.eta}, spacing={self.spacing!r}, "
                f"clip_denoised={self.clip_denoised})")

    def alpha_cumprod(self, t):
        """abar_t as a Python float, with abar_{-1} = 1."""
        t = int(t)
        if not -1 <= t < self.schedule.timesteps:
            raise ValueError(f"DDIMSampler: timestep {t} outside [-1, "
                             f"{self.schedule.timesteps - 1}]")
        return 1.0 if t < 0 else float(self.schedule.alphas_cumprod[t])

    def variance(self, t, t_prev):
        """sigma_t^2 for the step t -> t_prev (eta included)."""
        a_t, a_prev = self.alpha_cumprod(t), self.alpha_cumprod(t_prev)
        return self.eta ** 2 * (1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev)

    def step(self, eps, t, t_prev, xt, noise=None):
        """One DDIM update x_t -> x_{t_prev} from the noise prediction ``eps`` (see the module
        docstring); ``t``, ``t_prev`` ints (t_prev = -1 for the final step); ``noise`` (like
        x_t) is needed when sigma_t > 0.  Keeps the dtype of x_t."""
        t, t_prev = int(t), int(t_prev)
        if t_prev >= t:
            raise ValueError(f"DDIMSampler.step: t_prev ({t_prev}) must be below t ({t})")
        xt = xt if isinstance(xt, Tensor) else Tensor(xt)
        eps = eps if isinstance(eps, Tensor) else Tensor(eps)
        a_t, a_prev = self.alpha_cumprod(t), self.alpha_cumprod(t_prev)
        x0 = (xt - math.sqrt(1.0 - a_t) * eps) * (1.0 / math.sqrt(a_t))
        if self.clip_denoised:
            x0 = x0.clamp(-1.0, 1.0)
        var = self.variance(t, t_prev)
        out = math.sqrt(a_prev) * x0 + math.sqrt(max(1.0 - a_prev - var, 0.0)) * eps
        if var > 0.0:
            if noise is None:
                raise ValueError("DDIMSampler.step: noise is required when eta > 0")
            noise = noise if isinstance(noise, Tensor) else Tensor(noise)
            out = out + math.sqrt(var) * noise
        return out

    def sample(self, model, shape, seed=None, progress=True, y=None, batch_size=None):
        """Run the ``steps`` DDIM updates from x_T ~ N(0, I) with ``model(x, t[, y]) -> eps``;
        a float32 Tensor of ``shape`` in [-1, 1] on the model's device."""
        pairs = list(zip(self.timesteps.tolist(), self.prev_timesteps.tolist()))
        return reverse_process(model, shape, pairs, self.step, seed=seed, progress=progress,
                               y=y, batch_size=batch_size, desc=f"DDIM-{self.steps}")
