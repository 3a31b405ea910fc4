"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Softmax, LogSoftmax, Softmin,
Hardtanh, ReLU6, ELU, CELU, SELU, Softplus, Threshold, Hardsigmoid, Hardswish, Mish,
Hardshrink, Softshrink, GLU, LogSigmoid, Softsign, Tanhshrink, RReLU, PReLU.

Each keeps the input shape (GLU halves ``dim``); see ``nn.functional.activation`` for the
formulas.
"""
from __future__ import annotations

from ...creation import full
from ..functional import activation as A
from ..module import Module, Parameter


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return A.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return A.leaky_relu(input, self.negative_slope, inplace=self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input):
        return A.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return A.tanh(input)


class GELU(Module):
    """x Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate='{self.approximate}'"


class SiLU(Module):
    """x sigmoid(x) (swish)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return A.silu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Softmax(Module):
    """softmax along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return A.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return A.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return A.softmin(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class _Pointwise(Module):
    """An activation with keyword options: ``forward`` is ``_fn(x, **options)``; the options
    are attributes named as torch's (``extra_repr`` lists them)."""

    _fn = None
    _options = ()

    def __init__(self, **options):
        super().__init__()
        for name in self._options:
            setattr(self, name, options[name])

    def forward(self, input):
        return type(self)._fn(input, **{name: getattr(self, name) for name in self._options})

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._options
                         if not (name == "inplace" and not getattr(self, name)))


class Hardtanh(_Pointwise):
    _fn, _options = A.hardtanh, ("min_val", "max_val", "inplace")

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} cannot be greater than max_val "
                             f"{max_val}")
        super().__init__(min_val=min_val, max_val=max_val, inplace=inplace)


class ReLU6(_Pointwise):
    _fn, _options = A.relu6, ("inplace",)

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)


class ELU(_Pointwise):
    _fn, _options = A.elu, ("alpha", "inplace")

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha=alpha, inplace=inplace)


class CELU(_Pointwise):
    _fn, _options = A.celu, ("alpha", "inplace")

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha=alpha, inplace=inplace)


class SELU(_Pointwise):
    _fn, _options = A.selu, ("inplace",)

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)


class Softplus(_Pointwise):
    _fn, _options = A.softplus, ("beta", "threshold")

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__(beta=beta, threshold=threshold)


class Threshold(_Pointwise):
    _fn, _options = A.threshold, ("threshold", "value", "inplace")

    def __init__(self, threshold, value, inplace=False):
        super().__init__(threshold=threshold, value=value, inplace=inplace)


class Hardsigmoid(_Pointwise):
    _fn, _options = A.hardsigmoid, ("inplace",)

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)

    def extra_repr(self):        # torch prints no options for this one
        return ""


class Hardswish(_Pointwise):
    _fn, _options = A.hardswish, ("inplace",)

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)

    def extra_repr(self):        # torch prints no options for this one
        return ""


class Mish(_Pointwise):
    _fn, _options = A.mish, ("inplace",)

    def __init__(self, inplace=False):
        super().__init__(inplace=inplace)


class Hardshrink(_Pointwise):
    _fn, _options = A.hardshrink, ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__(lambd=lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(_Pointwise):
    _fn, _options = A.softshrink, ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__(lambd=lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class GLU(_Pointwise):
    _fn, _options = A.glu, ("dim",)

    def __init__(self, dim=-1):
        super().__init__(dim=dim)


class LogSigmoid(_Pointwise):
    _fn = A.logsigmoid


class Softsign(_Pointwise):
    _fn = A.softsign


class Tanhshrink(_Pointwise):
    _fn = A.tanhshrink


class RReLU(Module):
    """Leaky ReLU with slope ~ U(lower, upper) per element in training, (lower + upper)/2 in
    evaluation."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return A.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                             else "")


class PReLU(Module):
    """x for x > 0, a x otherwise, with a learned ``weight`` a of ``num_parameters`` elements
    (1, or one per channel), initialised to ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, input):
        return A.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax2d(Module):
    """softmax over the channels of a (N, C, H, W) or (C, H, W) input (dim -3)."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input with 3 or 4 dims, got shape "
                             f"{tuple(input.shape)}")
        return A.softmax(input, -3)
