"""BatchNorm1d/2d/3d, LayerNorm and GroupNorm layers (torch.nn's names, buffers and defaults)."""
from __future__ import annotations

from ... import backend
from ...creation import ones, zeros
from ..functional.batch_norm import batch_norm
from ..functional.group_norm import group_norm
from ..functional.normalization import layer_norm
from ..module import Module, Parameter


class _BatchNorm(Module):
    """Per-channel normalisation; ``weight`` = 1, ``bias`` = 0, buffers ``running_mean`` = 0,
    ``running_var`` = 1, ``num_batches_tracked`` = 0 (int64).

    Training (or ``track_running_stats=False``) normalises with the batch statistics and updates
    ``running = (1 - m) * running + m * batch`` (unbiased variance) with ``m = momentum``, or
    ``m = 1 / num_batches_tracked`` (a cumulative average) when ``momentum is None``.
    Evaluation normalises with the running statistics.
    """

    _ndims = (4,)
    _optional_state = ("num_batches_tracked",)  # torch: absent from its older checkpoints
    _layout = "(N, C, H, W)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
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
            self.num_batches_tracked.array = self.num_batches_tracked.array * 0

    def _check(self, x):
        name = type(self).__name__
        expected = self._layout.replace("C", str(self.num_features))
        if x.ndim not in self._ndims:
            raise ValueError(f"{name}: expected input of shape {expected}, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input of shape {expected} "
                             f"(num_features={self.num_features}), got shape {tuple(x.shape)}")

    def forward(self, input):
        self._check(input)
        factor = 0.0 if self.momentum is None else float(self.momentum)
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.array = backend.ensure_array(nbt.array + 1)
            if self.momentum is None:
                factor = 1.0 / float(nbt.array)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs."""

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, statistics over (N, H, W)."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) inputs, statistics over (N, D, H, W) (the
    fused ``BatchNormFn`` on the (N, C, D*H*W) view)."""

    _ndims = (5,)
    _layout = "(N, C, D, H, W)"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes; ``weight`` = 1, ``bias`` = 0 of
    that shape when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input of shape (*, "
                             f"{', '.join(map(str, self.normalized_shape))}), got shape "
                             f"{tuple(input.shape)}")
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise (N, C, *) over groups of C // num_groups channels, viewed as
    (N, G, C//G, *); per-channel ``weight`` = 1, ``bias`` = 0 when ``affine``."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None,
                 *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by "
                             f"num_groups={num_groups}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        if self.affine:
            self.weight = Parameter(ones(self.num_channels, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(self.num_channels, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input of shape (N, {self.num_channels}, *) "
                             f"(num_channels={self.num_channels}), got shape {tuple(input.shape)}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


