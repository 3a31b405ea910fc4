"""Instance normalisation: each (sample, channel) slice normalised over its own positions.

For x (N, C, *) with S positions per slice::

    mu[n, c] = mean_s x[n, c, s],  var[n, c] = mean_s (x[n, c, s] - mu[n, c])^2
    y = (x - mu) / sqrt(var + eps) * weight[c] + bias[c]

which is group normalisation with one group per channel (the fused ``GroupNormFn``).
With running statistics, each call updates them from the batch average of the slices'
statistics (torch's rule): ``running_mean <- (1 - m) running_mean + m mean_n(mu)`` and
``running_var <- (1 - m) running_var + m mean_n(var * S / (S - 1))``.  Without input
statistics (``use_input_stats=False``, an InstanceNorm in eval mode that tracks them) the
running statistics normalise, as in batch_norm's evaluation.
"""
from __future__ import annotations

from ...ops.dual import raw
from .batch_norm import batch_norm
from .group_norm import group_norm


def _update_running(x, running_mean, running_var, momentum):
    """The in-place running-statistics update (no graph: statistics are not differentiated)."""
    a = x.array
    n, c = a.shape[0], a.shape[1]
    a3 = a.reshape(n, c, -1)
    s = a3.shape[2]
    mean = a3.mean(axis=2)
    var = a3.var(axis=2) * (s / max(s - 1, 1))
    if running_mean is not None:
        rm = raw(running_mean)
        rm *= 1.0 - momentum
        rm += momentum * mean.mean(axis=0).astype(rm.dtype)
    if running_var is not None:
        rv = raw(running_var)
        rv *= 1.0 - momentum
        rv += momentum * var.mean(axis=0).astype(rv.dtype)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """torch.nn.functional.instance_norm for (N, C, *) inputs (see the module docstring)."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, *) with at least one "
                         f"spatial dim, got shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"instance_norm: expected {name} of shape ({c},) for input of shape "
                             f"{tuple(input.shape)}, got {tuple(t.shape)}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: running_mean and running_var are required when "
                             "use_input_stats=False")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = 1
    for size in input.shape[2:]:
        spatial *= size
    if spatial == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, "
                         f"got input of shape {tuple(input.shape)}")
    if running_mean is not None or running_var is not None:
        _update_running(input, running_mean, running_var, float(momentum))
    return group_norm(input, c, weight, bias, eps)
