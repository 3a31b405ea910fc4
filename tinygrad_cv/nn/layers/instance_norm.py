"""InstanceNorm1d, InstanceNorm2d and InstanceNorm3d (torch.nn's defaults: affine=False,
track_running_stats=False).

With ``affine``: ``weight`` = 1 and ``bias`` = 0 (unless ``bias=False``), shape (C,).  With
``track_running_stats``: buffers ``running_mean`` = 0, ``running_var`` = 1 and
``num_batches_tracked`` = 0 (kept for torch's state_dict layout; instance norm does not count
batches, as torch).  Training (or not tracking) normalises each (n, c) slice by its own
statistics and updates the running ones; evaluation with tracked statistics normalises with
them.
"""
from __future__ import annotations

import warnings

from ...creation import ones, zeros
from ..functional.instance_norm import instance_norm
from ..module import Module, Parameter


class _InstanceNorm(Module):
    _spatial = 2
    _optional_state = ("num_batches_tracked",)  # torch: absent from its older checkpoints
    _layout = "(N, C, H, W) or (C, H, W)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(ones(c, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(c, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", zeros(c, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(c, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", zeros((), dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1

    def forward(self, input):
        name = type(self).__name__
        batched = self._spatial + 2
        if input.ndim not in (batched - 1, batched):
            raise ValueError(f"{name}: expected input of shape {self._layout}, got shape "
                             f"{tuple(input.shape)}")
        c = input.shape[input.ndim - self._spatial - 1]
        if c != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(f"{name}: expected input's size at dim "
                                 f"{input.ndim - self._spatial - 1} to match num_features "
                                 f"({self.num_features}), but got: {c}.")
            warnings.warn(f"{name}: input has {c} channels but num_features is "
                          f"{self.num_features}; num_features is unused since affine=False",
                          stacklevel=2)
        unbatched = input.ndim == batched - 1
        if unbatched:
            input = input.unsqueeze(0)
        momentum = self.momentum if self.momentum is not None else 0.0
        y = instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats, momentum, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) inputs."""
    _spatial = 1
    _layout = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) inputs."""
    _spatial = 2
    _layout = "(N, C, H, W) or (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _spatial = 3
    _layout = "(N, C, D, H, W) or (C, D, H, W)"
