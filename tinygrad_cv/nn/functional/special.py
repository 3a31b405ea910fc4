"""The error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt of a Tensor.

The primitive (its series, accuracy and derivative) is ``ops.special.Erf``.
"""
from __future__ import annotations

from ...ops.special import Erf


def erf(x):
    """Elementwise error function of a Tensor (differentiable)."""
    return Erf.apply(x)
