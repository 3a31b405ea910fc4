"""Lazy layers: the input size is read off the first input (torch's ``LazyModuleMixin``).

    fc = nn.LazyLinear(10)          # weight, bias: UninitializedParameter
    opt = optim.SGD(fc.parameters(), lr=0.1)   # may be built now (it holds the same objects)
    y = fc(x)                       # x (*, 7): weight (10, 7), bias (10,); fc is now a Linear

Until the first call a lazy module holds ``UninitializedParameter``/``UninitializedBuffer``
objects (``nn.uninitialized``).  The first call (``module(x)``, not ``module.forward(x)``) runs
``initialize_parameters(x)`` before the forward: it sets ``in_features`` / ``in_channels`` /
``num_features`` from ``x``, materialises each uninitialised tensor in place with its shape and
initialises it as the ordinary layer does (``reset_parameters``: kaiming-uniform weights and
uniform biases for Linear and the convolutions; weight 1, bias 0, running mean 0 and variance 1
for the norms), then changes the module's class to ``cls_to_become`` (``LazyLinear`` ->
``Linear``, ...), so it behaves and prints as that layer from then on.

State dicts, as torch: an uninitialised tensor is saved as itself; loading a checkpoint with
real tensors into a lazy module materialises the tensors with the checkpoint's shapes and
copies the values (the first call then keeps them and only changes the class); loading an
uninitialised entry into a lazy tensor leaves it as it is, and into a real tensor raises.

``LazyModuleMixin`` is public for lazy modules of one's own: a subclass defines
``initialize_parameters(*args, **kwargs)`` (materialise every uninitialised tensor) and may
set ``cls_to_become``.
"""
from __future__ import annotations

import numbers

from .. import init
from ..uninitialized import UninitializedBuffer, UninitializedParameter, is_lazy
from ...creation import zeros
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .instance_norm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d"]

_INFERRED = "_lazy_parameters_inferred"   # set when a lazy module without cls_to_become is done


class LazyModuleMixin:
    """Shape inference on the first call (see the module docstring).  Put it first among the
    bases: ``class LazyThing(LazyModuleMixin, Module)``."""

    cls_to_become = None

    def __call__(self, *args, **kwargs):
        call = super().__call__          # bound now: the class may change below
        if not self.__dict__.get(_INFERRED, False):
            self._infer_parameters(self, args, kwargs)
        return call(*args, **kwargs)

    def __setattr__(self, name, value):
        if isinstance(value, UninitializedBuffer) and name not in self.__dict__.get("_buffers", {}):
            self.register_buffer(name, value, value.persistent)
            return
        super().__setattr__(name, value)

    def has_uninitialized_params(self):
        """True while a parameter or buffer of this module (not its children) is uninitialised."""
        return any(is_lazy(t) for t in list(self._parameters.values())
                   + list(self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        """Materialise and initialise the uninitialised tensors from the first input."""
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _infer_parameters(self, module, args, kwargs=None):
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
        if module.cls_to_become is not None:
            module.__dict__.pop(_INFERRED, None)
            module.__class__ = module.cls_to_become
        else:
            module.__dict__[_INFERRED] = True

    # ---- state dicts ---------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            if is_lazy(t) and prefix + name in destination:
                destination[prefix + name] = t      # saved as itself (torch)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            key = prefix + name
            if is_lazy(t) and key in state_dict and not is_lazy(state_dict[key]):
                t.materialize(tuple(state_dict[key].shape))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _stage_load(self, state_dict, prefix, assign, missing, errors, staged):
        # an uninitialised entry into a still uninitialised tensor: nothing to copy
        both_lazy = {prefix + n for n, t in list(self._parameters.items())
                     + list(self._buffers.items())
                     if is_lazy(t) and is_lazy(state_dict.get(prefix + n))}
        if both_lazy:
            state_dict = {k: v for k, v in state_dict.items() if k not in both_lazy}
        start = len(missing)
        super()._stage_load(state_dict, prefix, assign, missing, errors, staged)
        missing[start:] = [k for k in missing[start:] if k not in both_lazy]


def _check_out(name, value, what):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
    return int(value)


# ---- Linear -----------------------------------------------------------------------------------
class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` with ``in_features`` taken from the first input's last dim:
    ``LazyLinear(out_features, bias=True, device=None, dtype=None)``."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device=device, dtype=dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = _check_out("LazyLinear", out_features, "out_features")
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if input.ndim == 0:
            raise ValueError("LazyLinear: expected an input of shape (*, in_features), got a "
                             "0-d tensor")
        if self.has_uninitialized_params():
            self.in_features = int(input.shape[-1])
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
        elif self.in_features == 0:      # loaded from a state_dict before the first call
            self.in_features = int(self.weight.shape[1])


# ---- convolutions -----------------------------------------------------------------------------
class _LazyConvMixin(LazyModuleMixin):
    """``in_channels`` from the first input's channel dim (dim 1, or 0 when unbatched)."""

    def _lazy_setup(self, out_channels, bias, device, dtype):
        name = type(self).__name__
        self.out_channels = _check_out(name, out_channels, "out_channels")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels={self.out_channels} must be divisible by "
                             f"groups={self.groups}")
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _in_channels(self, input):
        name, dims = type(self).__name__, self._dims
        if input.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input "
                             f"to {name}, but got input of size: {list(input.shape)}")
        return int(input.shape[1] if input.ndim == dims + 2 else input.shape[0])

    def initialize_parameters(self, input, *args, **kwargs):
        transposed = isinstance(self, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d))
        if self.has_uninitialized_params():
            self.in_channels = self._in_channels(input)
            if self.in_channels % self.groups:
                raise ValueError(f"{type(self).__name__}: in_channels={self.in_channels} (from "
                                 f"the input) must be divisible by groups={self.groups}")
            per_group = (self.out_channels if transposed else self.in_channels) // self.groups
            lead = self.in_channels if transposed else self.out_channels
            self.weight.materialize((lead, per_group) + tuple(self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()
        elif self.in_channels == 0:      # loaded from a state_dict before the first call
            w = self.weight.shape
            self.in_channels = int(w[0] if transposed else w[1] * self.groups)


class _LazyConv(_LazyConvMixin):
    """The constructor of ``LazyConv1d/2d/3d`` (torch's arguments, no ``in_channels``)."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_setup(out_channels, bias, device, dtype)


class _LazyConvTranspose(_LazyConvMixin):
    """The constructor of ``LazyConvTranspose1d/2d/3d`` (torch's arguments, no
    ``in_channels``)."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._lazy_setup(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """``Conv1d`` with ``in_channels`` from the first input: ``LazyConv1d(out_channels,
    kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros',
    device=None, dtype=None)``."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """``Conv2d`` with ``in_channels`` from the first input (arguments as ``LazyConv1d``)."""

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """``Conv3d`` with ``in_channels`` from the first input (arguments as ``LazyConv1d``)."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """``ConvTranspose1d`` with ``in_channels`` from the first input:
    ``LazyConvTranspose1d(out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1, padding_mode='zeros', device=None, dtype=None)``."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """``ConvTranspose2d`` with ``in_channels`` from the first input (arguments as
    ``LazyConvTranspose1d``)."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """``ConvTranspose3d`` with ``in_channels`` from the first input (arguments as
    ``LazyConvTranspose1d``)."""

    cls_to_become = ConvTranspose3d


# ---- norms ------------------------------------------------------------------------------------
class _LazyNormMixin(LazyModuleMixin):
    """``num_features`` from the first input's dim 1 (dim 0 for an unbatched instance norm).
    torch's defaults for every lazy norm: ``affine=True``, ``track_running_stats=True``."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, False, False, device=device, dtype=dtype,
                         bias=False)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = zeros((), dtype="int64", device=device)

    def reset_parameters(self):
        """torch's ``_NormBase.reset_parameters``: running mean 0, variance 1, count 0,
        weight 1, bias 0."""
        if self.has_uninitialized_params() or self.num_features == 0:
            return
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array = self.num_batches_tracked.array * 0
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _features(self, input):
        if input.ndim == 0:
            raise ValueError(f"{type(self).__name__}: expected an input with a channel dim, "
                             f"got a 0-d tensor")
        return int(input.shape[1])

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.num_features = self._features(input)
            c = (self.num_features,)
            for t in (self.weight, self.bias, self.running_mean, self.running_var):
                if t is not None:
                    t.materialize(c)
            self.reset_parameters()
        elif self.num_features == 0:     # loaded from a state_dict before the first call
            held = [t for t in (self.weight, self.bias, self.running_mean) if t is not None]
            self.num_features = int(held[0].shape[0]) if held else self._features(input)


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    """``BatchNorm1d`` with ``num_features`` from the first input: ``LazyBatchNorm1d(eps=1e-5,
    momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *,
    bias=True)``."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """``BatchNorm2d`` with ``num_features`` from the first input (arguments as
    ``LazyBatchNorm1d``)."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormMixin, BatchNorm3d):
    """``BatchNorm3d`` with ``num_features`` from the first input (arguments as
    ``LazyBatchNorm1d``)."""

    cls_to_become = BatchNorm3d


class _LazyInstanceNormMixin(_LazyNormMixin):
    def _features(self, input):
        spatial = self._spatial
        if input.ndim not in (spatial + 1, spatial + 2):
            raise ValueError(f"{type(self).__name__}: expected {spatial + 1}D or {spatial + 2}D "
                             f"input (got {input.ndim}D input)")
        return int(input.shape[input.ndim - spatial - 1])


class LazyInstanceNorm1d(_LazyInstanceNormMixin, InstanceNorm1d):
    """``InstanceNorm1d`` with ``num_features`` from the first input (dim 1, or 0 unbatched);
    torch's lazy defaults ``affine=True``, ``track_running_stats=True``."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNormMixin, InstanceNorm2d):
    """``InstanceNorm2d`` with ``num_features`` from the first input (dim 1, or 0 unbatched);
    torch's lazy defaults ``affine=True``, ``track_running_stats=True``."""

    cls_to_become = InstanceNorm2d



class LazyInstanceNorm3d(_LazyInstanceNormMixin, InstanceNorm3d):
    """``InstanceNorm3d`` with ``num_features`` from the first input (dim 1, or 0 unbatched);
    torch's lazy defaults ``affine=True``, ``track_running_stats=True``."""

    cls_to_become = InstanceNorm3d
