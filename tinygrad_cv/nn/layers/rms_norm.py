"""RMSNorm: ``nn.functional.rms_norm`` over the last dims, with a learned ``weight``."""
from __future__ import annotations

import numbers

from ...creation import ones
from ..functional.rms_norm import rms_norm
from ..module import Module, Parameter


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over ``normalized_shape`` (``weight`` of that
    shape, initialised to 1, when ``elementwise_affine``)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.array[...] = 1

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
