"""torch's remaining everyday Tensor methods: the method forms of functions that exist
(``allclose``, ``isclose``, ``equal``, ``divide``, ``multiply``, ``subtract``, ``true_divide``,
the comparison names ``greater``/``less``/..., ``hardshrink``, ``prelu``), the in-place forms
(``eq_``/``ne_``/``lt_``/..., ``divide_``, ``fmod_``, ``remainder_``, ``floor_divide_``,
``cumsum_``/``cumprod_``, ``log10_``, ``ldexp_``, ``heaviside_``, ``swapaxes_``/``swapdims_``),
the bit shifts (``<<``, ``>>``), ``split_with_sizes``, ``histogram``, ``nonzero_static``, the
device and complex-free queries (``is_cpu``, ``get_device``, ``is_inference``, ``is_conj``, ``is_neg``,
``conj``, ``resolve_conj``, ``resolve_neg``, ``real``, ``angle``), ``share_memory_`` and
``register_post_accumulate_grad_hook``.

Each is the existing operation under torch's name (one implementation); in-place forms go
through ``apply_inplace`` (torch's graph rules and version counter).
"""
from __future__ import annotations

import math

from . import backend
from .autograd.inplace import apply_inplace
from .tensor import Tensor, _as_tensor, where
from .tensor_indexing import can_cast

_INT64 = backend.dtype("int64")


# ---- method forms of existing functions ----------------------------------------------------------
def _function(name):
    def method(self, *args, **kwargs):
        import tinygrad_cv
        return getattr(tinygrad_cv, name)(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"``tinygrad_cv.{name}(self, ...)``."
    return method


def hardshrink(self, lambd=0.5):
    from .nn import functional as F
    return F.hardshrink(self, lambd)


def prelu(self, weight):
    from .nn import functional as F
    return F.prelu(self, weight)


# ---- in-place forms ------------------------------------------------------------------------------
def _in_place(name):
    def method(self, *args, **kwargs):
        def compute(x, *a):
            out = getattr(x, name)(*a, **kwargs)
            if out.dtype != x.dtype and not can_cast(out.dtype, x.dtype):
                raise RuntimeError(f"result type {out.dtype} can't be cast to the desired "
                                   f"output type {x.dtype}")
            return out
        return apply_inplace(self, compute, *args, casting="unsafe")
    method.__name__ = name + "_"
    method.__doc__ = (f"In place: ``self.{name}(...)`` written into self (its dtype kept; a "
                      f"result torch cannot cast to it, such as float into int, raises).")
    return method


def swapaxes_(self, axis0, axis1):
    """In place: self becomes its transpose of the two dims (torch's ``transpose_``)."""
    return self.transpose_(axis0, axis1)


# ---- bit shifts -----------------------------------------------------------------------------------
def _shift(name, ufunc):
    def method(self, other):
        x = _as_tensor(self)
        if x.array.dtype.kind not in "iu":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{x.dtype}'")
        o = other.array if isinstance(other, Tensor) else other
        xp = backend.get_array_module(x.array)
        return Tensor.wrap(getattr(xp, ufunc)(x.array, o).astype(x.dtype, copy=False))
    method.__name__ = name
    return method


bitwise_left_shift = _shift("bitwise_left_shift", "left_shift")
bitwise_right_shift = _shift("bitwise_right_shift", "right_shift")


def _reflected_shift(shift):
    """``number << tensor`` (``>>``): the number as a tensor of the tensor's dtype."""
    def method(self, other):
        return shift(Tensor(other, dtype=self.dtype, device=self.device), self)
    return method


# ---- splits and indices ---------------------------------------------------------------------------
def split_with_sizes(self, split_sizes, dim=0):
    """Views of the consecutive parts of the given sizes along ``dim`` (they must add up to
    the dim's size)."""
    sizes = [int(s) for s in split_sizes]
    if self.ndim == 0:
        raise RuntimeError("split_with_sizes expects at least a 1-dimensional tensor")
    d = dim % self.ndim
    if sum(sizes) != self.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{self.shape[d]} (input tensor's size at dimension {dim}), but got "
                           f"split_sizes={sizes}")
    return self.split(sizes, dim)


def nonzero_static(self, *, size, fill_value=-1):
    """The (size, ndim) indices of the first ``size`` non-zero elements, padded with
    ``fill_value`` rows."""
    idx = self.nonzero()
    xp = backend.get_array_module(idx.array)
    out = xp.full((int(size), max(self.ndim, 1) if self.ndim else 0), fill_value, dtype=_INT64)
    n = min(int(size), idx.shape[0])
    out[:n] = idx.array[:n]
    return Tensor.wrap(out)


# ---- device and complex-free queries --------------------------------------------------------------
def _is_cpu(self):
    return self.device == "cpu"


def get_device(self):
    """-1 on the CPU, the GPU's index (0) on the GPU (as torch)."""
    return -1 if self.device == "cpu" else 0


def is_inference(self):
    """False: tensors created under ``inference_mode`` are ordinary tensors here."""
    return False


def _false(self):
    return False


def _self(self):
    return self


def angle(self):
    """The argument of a real number: 0 for x >= 0 (and NaN kept), pi for x < 0; its gradient
    is 0 (as torch)."""
    x = self if backend.is_floating(self.dtype) else self.float()
    xp = backend.get_array_module(x.array)
    values = xp.where(x.array < 0, math.pi, 0.0).astype(x.dtype)
    values = xp.where(xp.isnan(x.array), xp.nan, values).astype(x.dtype)
    return where(xp.ones(x.shape, dtype=bool), Tensor.wrap(values), x * 0)


def share_memory_(self):
    """Moves a host tensor's array into shared memory (a no-op if it is there already, and
    for device tensors, as torch): child processes (fork, or spawn/forkserver through
    ``tinygrad_cv.multiprocessing``) then see and make in-place updates to the same values.
    Returns self.  Views taken before the move keep the old memory."""
    if backend.device_of(self.array) == "cpu" and not self.is_shared():
        from .multiprocessing import shared_memory
        self.array = shared_memory.to_shared(self.array)
    return self


def is_shared(self):
    """Whether this tensor's array lies in shared memory (``share_memory_``); True for device
    tensors, as torch."""
    if backend.device_of(self.array) != "cpu":
        return True
    from .multiprocessing import shared_memory
    return shared_memory.segment_of(self.array) is not None


def register_post_accumulate_grad_hook(self, hook):
    """Run ``hook(tensor)`` after a backward pass has accumulated this leaf's ``.grad`` (the
    engine's leaf hooks, after accumulation); returns a handle with ``remove()``."""
    if not self.is_leaf:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                           "tensors")
    from .autograd import engine
    return engine.register_post_accumulate_hook(self, hook)


_FUNCTION_METHODS = ("allclose", "isclose", "equal", "divide", "multiply", "subtract",
                     "true_divide", "greater", "greater_equal", "less", "less_equal",
                     "not_equal", "histogram")
_IN_PLACE = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
             "less_equal", "not_equal", "divide", "multiply", "subtract", "true_divide",
             "fmod", "remainder", "floor_divide", "cumsum", "cumprod", "log10", "ldexp",
             "heaviside", "bitwise_left_shift", "bitwise_right_shift")

# ---- graph and storage queries --------------------------------------------------------------
def _output_nr(self):
    """This tensor's position among its ``grad_fn``'s outputs (0 for a leaf), as torch's."""
    return self.out_index if self.creator is not None else 0


def is_set_to(self, tensor):
    """True when both tensors are the same window on the same memory: same storage, first
    element, shape and strides (torch's ``is_set_to``)."""
    from .tensor_storage import _owner, data_ptr
    a, b = self.array, tensor.array
    return (_owner(a) is _owner(b) and data_ptr(self) == data_ptr(tensor)
            and a.shape == b.shape and a.strides == b.strides)


def new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None,
                      pin_memory=False, requires_grad=False):
    """``empty_strided`` with this tensor's dtype and device unless given."""
    from .toplevel_twins import empty_strided
    return empty_strided(size, stride, dtype=self.dtype if dtype is None else dtype,
                         device=self.device if device is None else device,
                         requires_grad=requires_grad)


def dim_order(self, *, ambiguity_check=False):
    """The axes from the outermost to the innermost in memory (torch's ``dim_order``): row-major
    (0, 1, ...) and channels-last (0, 2, ..., 1) directly, otherwise the axes sorted by stride
    (a stride of 0 compares with nothing; equal strides keep the larger size outside), as
    torch's insertion sort.  ``ambiguity_check=True`` raises when the order is not unique (two
    equal strides side by side or an axis of size 1); a list of memory formats accepts such a
    tensor when it has exactly one of those layouts."""
    from . import memory_formats as fmts
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    if not isinstance(ambiguity_check, (bool, list)) or any(
            not isinstance(f, fmts.memory_format) for f in formats):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    shape, strides = tuple(self.shape), self.stride()
    ndim = len(shape)
    if ambiguity_check is not False:
        ambiguous = 1 in shape or any(a == b for a, b in zip(strides, strides[1:]))
        matches = sum(1 for f in formats if self.is_contiguous(memory_format=f))
        if ambiguous and matches != 1:
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to "
                               "exact one of the given memory formats.")
    if ndim <= 1:
        return tuple(range(ndim))
    rowmajor = self.is_contiguous()
    last = ndim == 4 and self.is_contiguous(memory_format=fmts.channels_last)
    if rowmajor and not last:
        return tuple(range(ndim))
    if last and not rowmajor:
        return (0,) + tuple(range(2, ndim)) + (1,)

    def order(a, b):            # > 0: a belongs inside b (swap); < 0: a is outside b
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if shape[b] >= shape[a] else 1
        return -1 if sb > sa else 1

    perm = list(reversed(range(ndim)))          # innermost first while sorting
    for i in range(1, ndim):
        j = i
        for k in reversed(range(i)):
            c = order(perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    return tuple(reversed(perm))


def ger(self, vec2):
    """torch's deprecated name of ``outer``."""
    return self.outer(vec2)


for _name in _FUNCTION_METHODS:
    setattr(Tensor, _name, _function(_name))
Tensor.output_nr = property(_output_nr)
Tensor.is_set_to, Tensor.new_empty_strided, Tensor.ger = is_set_to, new_empty_strided, ger
Tensor.dim_order = dim_order
for _name in ("hardshrink", "prelu", "bitwise_left_shift", "bitwise_right_shift",
              "split_with_sizes", "nonzero_static", "get_device", "is_inference", "angle", "share_memory_", "is_shared", "register_post_accumulate_grad_hook", "swapaxes_"):
    setattr(Tensor, _name, globals()[_name])
for _name in _IN_PLACE:
    setattr(Tensor, _name + "_", _in_place(_name))
Tensor.swapdims_ = swapaxes_
Tensor.is_cpu = property(_is_cpu)
Tensor.real = property(_self, doc="The real part: the tensor itself (tensors here are real).")
Tensor.is_conj = Tensor.is_neg = _false
Tensor.conj = Tensor.resolve_conj = Tensor.resolve_neg = Tensor.conj_physical = _self
Tensor.__lshift__ = bitwise_left_shift
Tensor.__rshift__ = bitwise_right_shift
Tensor.__rlshift__ = _reflected_shift(bitwise_left_shift)
Tensor.__rrshift__ = _reflected_shift(bitwise_right_shift)
Tensor.__ilshift__ = Tensor.bitwise_left_shift_
Tensor.__irshift__ = Tensor.bitwise_right_shift_
del _name
