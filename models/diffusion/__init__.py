"""Diffusion models on tinygrad_cv: noise schedules, DDPM training and sampling, DDIM
sampling, the UNet noise predictor and the training loop (``models.diffusion.training``)."""
from .schedule import NoiseSchedule, SCHEDULE_KINDS  # noqa: F401
from .ddpm import DDPM, VARIANCES  # noqa: F401
from .ddim import DDIMSampler, SPACINGS  # noqa: F401
from .unet import UNet  # noqa: F401
