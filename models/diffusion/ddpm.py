"""DDPM (Ho et al.): the L_simple training objective and ancestral sampling.

Training (Algorithm 1): x_0 from the data, t ~ Uniform{0..T-1}, eps ~ N(0, I),
    L_simple = || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2  (mean).

One reverse step (``p_sample``) from a noise prediction eps:
    x0^ = sqrt(1 / abar_t) x_t - sqrt(1 / abar_t - 1) eps     (clipped to [-1, 1] if asked)
    mean = mu~_t(x_t, x0^)                                     (the posterior mean)
    x_{t-1} = mean + exp(log_var_t / 2) z,  z ~ N(0, I), no noise at t = 0,
with log_var_t = log beta~_t ("fixed_small", beta~_0 replaced by beta~_1) or log b_t
("fixed_large", b_0 replaced by beta~_1), the two fixed variances of the DDPM paper.

``reverse_process`` is the sampling loop shared with DDIM: no gradients, float32 on the
model's device, the model evaluated in chunks of ``batch_size`` in lock-step so that the
result of a seed does not depend on the chunk size.
"""
from __future__ import annotations

import sys

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend
from tinygrad_cv.nn import Module
from tinygrad_cv.tensor import Tensor

from .schedule import NoiseSchedule, as_timesteps

__all__ = ["DDPM", "VARIANCES", "reverse_process", "model_device", "call_model"]

VARIANCES = {"fixed_small": "posterior_log_variance_clipped",
             "fixed_large": "fixed_large_log_variance"}


def model_device(model):
    """The device of ``model``'s first parameter (the default device if it has none)."""
    params = getattr(model, "parameters", None)
    if params is not None:
        for p in params():
            return p.device
    return tg.get_default_device()


def call_model(model, x, t, y=None):
    """eps = model(x, t) or model(x, t, y) (class-conditional)."""
    return model(x, t) if y is None else model(x, t, y)


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, dynamic_ncols=True,
                leave=False)


def _check_shape(shape):
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or any(s < 1 for s in shape):
        raise ValueError(f"sample: shape must be (N, C, ...) with positive sizes, got {shape}")
    return shape


def _check_batch_size(batch_size, n):
    if batch_size is None:
        return n
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"sample: batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def reverse_process(model, shape, steps, update, *, seed=None, progress=True, y=None,
                    batch_size=None, desc="sampling", clip=True):
    """Run x_T ~ N(0, I) through ``steps`` (pairs ``(t, t_prev)``, descending) with
    ``x <- update(eps, t, t_prev, x, noise)``; returns the final x clamped to [-1, 1]
    (as it is with ``clip=False``: latent spaces are not bounded).

    Each step draws a full (N, ...) standard normal ``noise`` from one generator (seeded with
    ``seed``, else the global one of the model's device), so chunking does not change the
    result.  The model runs in eval mode without gradients; its mode is restored after.
    """
    shape = _check_shape(shape)
    n = shape[0]
    batch_size = _check_batch_size(batch_size, n)
    device = model_device(model)
    xp = backend.module_for_device(device)
    rng = xp.random.default_rng(seed) if seed is not None else backend.get_rng(device)
    labels = None
    if y is not None:
        labels = as_timesteps(y, n, device, 2 ** 62, what="class labels")
    steps = list(steps)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with tg.no_grad():
            x = Tensor.wrap(rng.standard_normal(shape, dtype="float32"))
            for t, t_prev in _progress(steps, len(steps), desc, progress):
                parts = []
                for start in range(0, n, batch_size):
                    stop = min(n, start + batch_size)
                    tt = Tensor.wrap(xp.full((stop - start,), int(t), dtype="int64"))
                    yy = None if labels is None else Tensor.wrap(labels[start:stop])
                    parts.append(call_model(model, x[start:stop], tt, yy).array)
                eps = Tensor.wrap(parts[0] if len(parts) == 1 else xp.concatenate(parts))
                noise = Tensor.wrap(rng.standard_normal(shape, dtype="float32"))
                x = update(eps, int(t), int(t_prev), x, noise)
                x = Tensor.wrap(x.array.astype("float32", copy=False))
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    return x.clamp(-1.0, 1.0) if clip else x


class DDPM(Module):
    """``DDPM(model, schedule, variance='fixed_small'|'fixed_large', clip_denoised=True)``.

    ``model(x_t, t[, y]) -> eps`` predicts the noise; ``schedule`` is a ``NoiseSchedule``.
    The DDPM is a Module holding ``model`` (state_dict keys ``model.*``); calling it runs
    the noise predictor.
    """

    def __init__(self, model, schedule, variance="fixed_small", clip_denoised=True):
        super().__init__()
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"DDPM: schedule must be a NoiseSchedule, got "
                            f"{type(schedule).__name__}")
        if variance not in VARIANCES:
            raise ValueError(f"DDPM: unknown variance {variance!r}; expected one of "
                             f"{', '.join(VARIANCES)}")
        self.model = model
        self.schedule = schedule
        self.variance = variance
        self.clip_denoised = bool(clip_denoised)

    def forward(self, xt, t, y=None):
        return call_model(self.model, xt, t, y)

    # ---- training -------------------------------------------------------------------------
    def loss(self, x0, y=None):
        """L_simple: mean squared error between the drawn noise and its prediction, with t
        uniform on 0..T-1 and the noise drawn from the seeded generator of x0's device."""
        n = x0.shape[0]
        t = tg.randint(0, self.schedule.timesteps, (n,), device=x0.device)
        noise = tg.randn(*x0.shape, dtype=x0.dtype, device=x0.device)
        xt = self.schedule.q_sample(x0, t, noise)
        return F.mse_loss(call_model(self.model, xt, t, y), noise)

    # ---- sampling -------------------------------------------------------------------------
    def predict_x0(self, xt, t, eps):
        """x0^ = sqrt(1 / abar_t) x_t - sqrt(1 / abar_t - 1) eps (clipped if ``clip_denoised``)."""
        s = self.schedule
        x0 = (s.gather("sqrt_recip_alphas_cumprod", t, xt) * xt
              - s.gather("sqrt_recipm1_alphas_cumprod", t, xt) * eps)
        return x0.clamp(-1.0, 1.0) if self.clip_denoised else x0

    def p_sample(self, xt, t, eps, noise=None):
        """One reverse step x_t -> x_{t-1} from the noise prediction ``eps`` (see the module
        docstring); ``t`` an int or (N,) ints; ``noise`` (like x_t) is needed where t > 0."""
        xt = xt if isinstance(xt, Tensor) else Tensor(xt)
        eps = eps if isinstance(eps, Tensor) else Tensor(eps)
        s = self.schedule
        x0 = self.predict_x0(xt, t, eps)
        mean, _ = s.posterior(x0, xt, t)
        steps = as_timesteps(t, xt.shape[0], xt.device, s.timesteps)
        if not bool((steps > 0).any()):
            return mean
        if noise is None:
            raise ValueError("p_sample: noise is required for steps with t > 0")
        noise = noise if isinstance(noise, Tensor) else Tensor(noise)
        std = (s.gather(VARIANCES[self.variance], t, xt) * 0.5).exp()
        mask = Tensor.wrap((steps > 0).astype(xt.dtype).reshape((-1,) + (1,) * (xt.ndim - 1)))
        return mean + (mask * std) * noise

    def sample(self, shape, seed=None, progress=True, y=None, batch_size=None):
        """Ancestral sampling over all T steps from x_T ~ N(0, I); a float32 Tensor of
        ``shape`` in [-1, 1] on the model's device."""
        steps = [(t, t - 1) for t in range(self.schedule.timesteps - 1, -1, -1)]

        def update(eps, t, t_prev, x, noise):
            return self.p_sample(x, t, eps, noise if t > 0 else None)

        return reverse_process(self.model, shape, steps, update, seed=seed, progress=progress,
                               y=y, batch_size=batch_size,
                               desc=f"DDPM-{self.schedule.timesteps}")
