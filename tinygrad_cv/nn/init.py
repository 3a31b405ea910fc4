"""In-place parameter initialisers with torch.nn.init's names, fan modes and gains.

Each function fills ``tensor.array`` in place (the array object is kept, so views and optimizers
stay attached) from the seeded generator of the tensor's device and returns the tensor.
Fans of a weight of shape (out, in, *k): fan_in = in * prod(k), fan_out = out * prod(k).
"""
from __future__ import annotations

import functools
import math
import threading
import warnings

from .. import backend
from ..autograd.versions import bump_version

_skipping = threading.local()    # .depth > 0: inside ``skipping_initialisation`` (this thread)


def _skippable(initialiser):
    """An initialiser that leaves the tensor as it is (and draws nothing) while this thread
    builds a module under ``skipping_initialisation`` (``nn.utils.skip_init``)."""
    @functools.wraps(initialiser)
    def run(tensor, *args, **kwargs):
        if getattr(_skipping, "depth", 0):
            return tensor
        return initialiser(tensor, *args, **kwargs)
    return run


class skipping_initialisation:
    """Within this context (this thread) every initialiser of this module does nothing."""

    def __enter__(self):
        _skipping.depth = getattr(_skipping, "depth", 0) + 1
        return self

    def __exit__(self, *exc):
        _skipping.depth -= 1
        return False


_FLOAT32 = backend.dtype("float32")
_FLOAT64 = backend.dtype("float64")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity: 1 (linear, conv, sigmoid), 5/3 (tanh),
    sqrt(2) (relu), sqrt(2 / (1 + slope^2)) (leaky_relu, slope ``param`` or 0.01), 3/4 (selu)."""
    linear_like = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                   "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear_like:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight with at least 2 dims."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (shape {shape})")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write ``values`` into ``tensor.array`` in place (cast to its dtype)."""
    data = tensor.array
    if data.ndim == 0:
        tensor.array = values.astype(data.dtype).reshape(())
    else:
        data[...] = values
    bump_version(tensor)
    return tensor


def _sample_dtype(tensor):
    return _FLOAT64 if tensor.dtype == _FLOAT64 else _FLOAT32


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    rng = generator or backend.get_rng(tensor.device)
    u = rng.random(tuple(tensor.shape), dtype=_sample_dtype(tensor))
    return _fill(tensor, u * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    rng = generator or backend.get_rng(tensor.device)
    n = rng.standard_normal(tuple(tensor.shape), dtype=_sample_dtype(tensor))
    return _fill(tensor, n * std + mean)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) restricted to [a, b] (out-of-range draws are redrawn)."""
    rng = generator or backend.get_rng(tensor.device)
    xp = backend.module_for_device(tensor.device)
    shape = tuple(tensor.shape)
    out = rng.standard_normal(shape, dtype=_sample_dtype(tensor)) * std + mean
    bad = (out < a) | (out > b)
    for _ in range(1000):
        if not bool(bad.any()):
            break
        redraw = rng.standard_normal(shape, dtype=_sample_dtype(tensor)) * std + mean
        out = xp.where(bad, redraw, out)
        bad = (out < a) | (out > b)
    return _fill(tensor, xp.clip(out, a, b))


def constant_(tensor, val):
    data = tensor.array
    if data.ndim == 0:
        tensor.array = backend.get_array_module(data).asarray(val, dtype=data.dtype)
    else:
        data[...] = val
    bump_version(tensor)
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
    (He et al.); ``mode`` picks fan_in (forward variance) or fan_out (backward)."""
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2), std = gain / sqrt(fan)."""
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def eye_(tensor):
    """The identity matrix (2-D tensors)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    xp = backend.module_for_device(tensor.device)
    return _fill(tensor, xp.eye(*tensor.shape, dtype=tensor.dtype))


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix (Saxe et al. 2013) on the tensor viewed as (rows, cols) =
    (shape[0], prod(shape[1:])): Q of the QR factorisation of a standard normal matrix (of its
    transpose when rows < cols), its columns' signs fixed by sign(diag R) so that Q is
    uniformly distributed, times ``gain``.  Q^T Q = gain^2 I (rows >= cols) or
    Q Q^T = gain^2 I (rows < cols)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    rng = generator or backend.get_rng(tensor.device)
    xp = backend.module_for_device(tensor.device)
    flat = rng.standard_normal((rows, cols), dtype=_FLOAT64)
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))[None, :]
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tuple(tensor.shape)))


def dirac_(tensor, groups=1):
    """The Dirac delta of a 3-, 4- or 5-D convolution weight (O, C/groups, *k): in each of
    ``groups`` groups, output channel d of the group takes input channel d at the kernel's
    centre (1 there, 0 elsewhere), for d < min(O/groups, C/groups); the convolution then
    passes those channels through unchanged."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if tensor.shape[0] % groups:
        raise ValueError("dim 0 must be divisible by groups")
    xp = backend.module_for_device(tensor.device)
    per_group = tensor.shape[0] // groups
    d = xp.arange(min(per_group, tensor.shape[1]))
    rows = (xp.arange(groups)[:, None] * per_group + d[None, :]).reshape(-1)
    cols = xp.tile(d, groups)
    values = xp.zeros(tuple(tensor.shape), dtype=tensor.array.dtype)
    values[(rows, cols) + tuple(size // 2 for size in tensor.shape[2:])] = 1
    return _fill(tensor, values)


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """A 2-D tensor of N(0, std^2) values with ceil(sparsity * rows) zeros in every column, at
    random rows (Martens 2010)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    zeros = math.ceil(sparsity * rows)
    rng = generator or backend.get_rng(tensor.device)
    xp = backend.module_for_device(tensor.device)
    values = rng.standard_normal((rows, cols), dtype=_sample_dtype(tensor)) * std
    chosen = xp.argsort(rng.random((rows, cols)), axis=0)[:zeros]   # distinct rows per column
    values[chosen, xp.arange(cols)[None, :]] = 0
    return _fill(tensor, values)


def _deprecated(new):
    """torch's old names without the trailing underscore: warn, then call the new one."""
    old = new.__name__[:-1]

    def initialiser(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)
    initialiser.__name__ = old
    initialiser.__doc__ = f"Deprecated: ``{new.__name__}``."
    return initialiser


def default_layer_init_(weight, bias=None):
    """torch's default init of Linear and Conv layers: ``weight`` ~ kaiming_uniform(a=sqrt(5)) =
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), then ``bias`` (if not None) ~ U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), fan_in = weight.shape[1] * prod(weight.shape[2:]) (0: bias set to 0)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)


__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
           "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "eye_", "orthogonal_", "dirac_", "sparse_"]

for _name in ("uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
              "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "eye_",
              "orthogonal_", "dirac_", "sparse_", "default_layer_init_"):
    globals()[_name] = _skippable(globals()[_name])
for _new in (uniform_, normal_, constant_, xavier_uniform_, xavier_normal_, kaiming_uniform_,
             kaiming_normal_, eye_, orthogonal_, dirac_, sparse_):
    globals()[_new.__name__[:-1]] = _deprecated(_new)
del _new, _name
