"""The Tensor: an array (numpy or cupy) plus its place on the autograd tape.

``Tensor(data, requires_grad=False, dtype=None, device=None)``.  Python floats become
float32 and Python ints int64; arrays keep their dtype.  Every differentiable op is a
``Function`` from ``tinygrad_cv.ops``; broadcasting follows NumPy and gradients are summed
back to each input's shape.

This module is the entry of the kernel.  It defines ``Tensor`` and the module-level functions
first and imports the primitives, the grad modes and the engine at its end (the binding step):
those modules import ``Tensor`` from here, so they load once the class exists.
``tinygrad_cv/__init__.py`` imports this module before any other part of the kernel.
"""
from __future__ import annotations

import builtins
import collections
import math
import numbers

from . import backend

_FLOAT32 = backend.dtype("float32")
_INT64 = backend.dtype("int64")

ReductionResult = collections.namedtuple("ReductionResult", ["values", "indices"])


def _infer_dtype(data):
    """float32 for Python floats, int64 for ints, bool for bools (nested lists included)."""
    probe = data
    while isinstance(probe, (list, tuple)) and probe:
        probe = probe[0]
    if hasattr(probe, "dtype") and not isinstance(data, (list, tuple)):
        return probe.dtype   # a NumPy scalar keeps its dtype (as in torch.tensor)
    if isinstance(probe, bool):
        return backend.dtype("bool")
    if isinstance(probe, numbers.Integral):
        return _INT64
    if isinstance(probe, (numbers.Real, list, tuple)):
        return _FLOAT32
    return None


def _resolve_dtype(dtype):
    return None if dtype is None else backend.dtype(dtype)


def _check_requires_grad(dtype, requires_grad):
    if requires_grad and not backend.is_floating(dtype):
        raise RuntimeError(f"only floating-point tensors can require gradients (got dtype {dtype})")


class Tensor:
    """An n-dimensional array on the CPU (NumPy) or GPU (CuPy) that records its gradient graph."""

    __slots__ = ("array", "requires_grad", "grad", "creator", "out_index", "hooks",
                 "retains_grad", "name", "__weakref__")
    _tensor_marker = True
    __array_ufunc__ = None  # numpy defers to our reflected operators (ndarray * Tensor)

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        dtype = _resolve_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.array
        if backend.is_array(data):
            # like torch.tensor: the new tensor owns a copy (from_numpy/from_dlpack share memory)
            arr = backend.as_array(data, dtype=dtype, device=device or backend.device_of(data),
                                   copy=True)
        else:
            dtype = dtype or _infer_dtype(data)
            arr = backend.as_array(data, dtype=dtype, device=device)
        _check_requires_grad(arr.dtype, requires_grad)
        self.array = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.creator = None
        self.out_index = 0
        self.hooks = ()
        self.retains_grad = False
        self.name = None

    @classmethod
    def wrap(cls, array):
        """A Tensor around the raw array ``array`` of the backend (numpy/cupy), sharing its
        memory, without copies or checks: not part of any graph, ``requires_grad=False``."""
        t = object.__new__(cls)
        t.array = array
        t.requires_grad = False
        t.grad = None
        t.creator = None
        t.out_index = 0
        t.hooks = ()
        t.retains_grad = False
        t.name = None
        return t

    @property
    def data(self):
        """The raw backend array (being moved to torch's meaning: see ``array``)."""
        return self.array

    @data.setter
    def data(self, value):
        self.array = value.array if isinstance(value, Tensor) else value

    # ---- attributes --------------------------------------------------------------------------
    @property
    def shape(self):
        return self.array.shape

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return backend.device_of(self.array)

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self):
        return int(self.array.size)

    def dim(self):
        return self.array.ndim

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if backend.is_floating(self.dtype):
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __repr__(self):
        body = repr(backend.to_numpy(self.array)).replace("array(", "tensor(", 1)
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.creator is not None:
            extras.append(f"grad_fn=<{type(self.creator).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if extras:
            body = body[:-1] + ", " + ", ".join(extras) + ")"
        return body

    # ---- conversions -------------------------------------------------------------------------
    def numpy(self):
        """A host NumPy array (shares memory on the CPU, as torch does)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy() instead")
        return backend.to_numpy(self.array)

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python "
                             f"scalars, this one has shape {self.shape}")
        return backend.to_numpy(self.array).reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def detach(self):
        """A tensor sharing the same data, cut from the graph."""
        return Tensor.wrap(self.array)

    def detach_(self):
        self.creator = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if self.creator is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
        _check_requires_grad(self.dtype, requires_grad)
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` of this non-leaf tensor after backward."""
        if self.creator is not None:
            self.retains_grad = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad) -> Tensor | None`` with this tensor's gradient; returns a handle."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        self.hooks = tuple(self.hooks) + (hook,)
        tensor = self

        class _Handle:
            def remove(self_inner):
                tensor.hooks = tuple(h for h in tensor.hooks if h is not hook)

        return _Handle()

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)`` or ``to(device, dtype)`` (differentiable)."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in backend.DEVICES:
                device = a
            elif isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            else:
                dtype = a
        out = self
        if device is not None and backend.normalize_device(device) != self.device:
            out = ToDevice.apply(out, device=backend.normalize_device(device))
        if dtype is not None:
            dtype = _resolve_dtype(dtype)
            if dtype != out.dtype:
                if out.requires_grad and not backend.is_floating(dtype):
                    out = out.detach()
                out = Cast.apply(out, dtype=dtype)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(_FLOAT32)

    def double(self):
        return self.to(backend.dtype("float64"))

    def long(self):
        return self.to(_INT64)

    def bool(self):
        return self.to(backend.dtype("bool"))

    def type_as(self, other):
        return self.to(other.dtype)

    def clone(self):
        return Copy.apply(self)

    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    # ---- autograd ----------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) * grad into every leaf's ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph "
                               "(did you create it under no_grad, or from inputs without "
                               "requires_grad=True?)")
        if grad is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar "
                                   f"outputs; this tensor has shape {self.shape}, pass grad=")
            grad = backend.get_array_module(self.array).ones(self.shape, dtype=self.dtype)
        else:
            grad = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=self.dtype,
                                                               device=self.device)
            if grad.shape != self.shape:
                raise RuntimeError(f"backward(): grad has shape {grad.shape} but the tensor has "
                                   f"shape {self.shape}")
            grad = grad if create_graph else grad.array
        run_backward([self], [grad], retain_graph=retain_graph or create_graph,
                     create_graph=create_graph)

    def zero_(self):
        self.array[...] = 0
        return self

    # ---- in-place writes (for tensors outside the graph) ---------------------------------------
    def __setitem__(self, index, value):
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("in-place assignment to a tensor that requires grad is not "
                               "supported; build a new tensor (e.g. with where or cat)")
        self.array[_raw_index(index, self.device)] = value.array if isinstance(value, Tensor) else value

    # ---- arithmetic --------------------------------------------------------------------------
    def __add__(self, other):
        return Add.apply(*_binary(self, other))

    def __radd__(self, other):
        return Add.apply(*_binary(self, other, reflected=True))

    def __sub__(self, other):
        return Sub.apply(*_binary(self, other))

    def __rsub__(self, other):
        return Sub.apply(*_binary(self, other, reflected=True))

    def __mul__(self, other):
        return Mul.apply(*_binary(self, other))

    def __rmul__(self, other):
        return Mul.apply(*_binary(self, other, reflected=True))

    def __truediv__(self, other):
        a, b = _binary(self, other)
        if not _is_float(a) and not _is_float(b):   # true division of integers is float32
            a = a.float() if isinstance(a, Tensor) else a
            b = b.float() if isinstance(b, Tensor) else b
        return Div.apply(a, b)

    def __rtruediv__(self, other):
        a, b = _binary(self, other, reflected=True)
        if not _is_float(b):
            b = b.float()
        return Div.apply(a, b)

    def __pow__(self, other):
        return Pow.apply(*_binary(self, other))

    def __rpow__(self, other):
        return Pow.apply(*_binary(self, other, reflected=True))

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_as_tensor(other, like=self), self)

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return Abs.apply(self)

    def neg(self):
        return Neg.apply(self)

    def abs(self):
        return Abs.apply(self)

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def pow(self, other):
        return self ** other

    def square(self):
        return Mul.apply(self, self)

    # comparisons: elementwise, not differentiable, bool result
    def _compare(self, other, op):
        other = other.array if isinstance(other, Tensor) else other
        return Tensor.wrap(backend.ensure_array(op(self.array, other)))

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    def __invert__(self):
        return Tensor.wrap(~self.array)

    def __and__(self, other):
        return self._compare(other, lambda a, b: a & b)

    def __or__(self, other):
        return self._compare(other, lambda a, b: a | b)

    def __xor__(self, other):
        return self._compare(other, lambda a, b: a ^ b)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def logical_not(self):
        return Tensor.wrap(~self.array.astype(bool))

    def isnan(self):
        return Tensor.wrap(backend.get_array_module(self.array).isnan(self.array))

    def isfinite(self):
        return Tensor.wrap(backend.get_array_module(self.array).isfinite(self.array))

    # ---- elementwise functions ---------------------------------------------------------------
    def exp(self):
        return Exp.apply(_floating(self))

    def log(self):
        return Log.apply(_floating(self))

    def sqrt(self):
        return Sqrt.apply(_floating(self))

    def rsqrt(self):
        return 1.0 / self.sqrt()

    def sin(self):
        return Sin.apply(_floating(self))

    def cos(self):
        return Cos.apply(_floating(self))

    def tanh(self):
        return Tanh.apply(_floating(self))

    def sigmoid(self):
        return Sigmoid.apply(_floating(self))

    def relu(self):
        return ReLU.apply(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp(): at least one of min and max must be given")
        return Clamp.apply(self, lo=_scalar(min), hi=_scalar(max))

    clip = clamp

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    def where(self, condition, other):
        return where(condition, self, other)

    def sign(self):
        return Tensor.wrap(backend.get_array_module(self.array).sign(self.array))

    # ---- reductions --------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype)
        if not backend.is_floating(x.dtype) and x.dtype != _INT64:
            x = x.to(_INT64)
        return Sum.apply(x, axes=_axes(dim, self.ndim), keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype)
        if not backend.is_floating(x.dtype):
            raise RuntimeError(f"mean(): expected a floating-point tensor, got {x.dtype} "
                               "(pass dtype= or call .float() first)")
        return Mean.apply(x, axes=_axes(dim, self.ndim), keepdims=keepdim)

    def _extremum(self, pick, dim, keepdim, axis, keepdims):
        if isinstance(dim, Tensor):
            return maximum(self, dim) if pick == "max" else minimum(self, dim)
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        if dim is None or isinstance(dim, (tuple, list)):
            return Extremum.apply(self, axes=_axes(dim, self.ndim), keepdims=keepdim,
                                         pick=pick, nan_hits=dim is None)
        axis = _axes(dim, self.ndim)[0] if self.ndim else 0
        values, indices = ExtremumDim.apply(self, axis=axis, keepdims=keepdim, pick=pick)
        return ReductionResult(values, indices)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``max()`` -> scalar; ``max(dim=d)`` -> (values, indices); ``max(other)`` -> maximum."""
        return self._extremum("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._extremum("min", dim, keepdim, axis, keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        return Extremum.apply(self, axes=_axes(dim, self.ndim), keepdims=keepdim, pick="max")

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        return Extremum.apply(self, axes=_axes(dim, self.ndim), keepdims=keepdim, pick="min")

    def norm(self, p=2, dim=None, keepdim=False):
        """The vector p-norm (sum |x|^p)^(1/p) over ``dim`` (all by default), p > 0 (inf: the
        largest |x|); its gradient is 0 where the norm is 0 (torch's convention)."""
        p = float(p)
        if not p > 0:
            raise ValueError(f"norm(): p must be a positive number or inf, got {p!r}")
        return VectorNorm.apply(_floating(self), axes=_axes(dim, self.ndim),
                                     keepdims=keepdim, p=p)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        return _arg_extremum(self, dim, keepdim, "argmax")

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        return _arg_extremum(self, dim, keepdim, "argmin")

    def _centred(self, dim, unbiased, keepdim, correction, axis, keepdims, ddof):
        """(x - mean over the axes, the axes, keepdim, N - correction) for var and std."""
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        if isinstance(unbiased, int) and not isinstance(unbiased, bool) and dim is None:
            dim, unbiased = unbiased, None  # var(0) means dim 0 (torch's positional form)
        corr = _correction(unbiased, correction, ddof)
        axes = _axes(dim, self.ndim)
        n = 1
        for a in axes:
            n *= self.shape[a]
        return self - self.mean(dim=axes, keepdim=True), axes, keepdim, builtins.max(n - corr, 0)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None, ddof=None):
        """Variance sum((x - mean)^2) / (N - correction); unbiased (correction=1) by default."""
        centred, axes, keepdim, denom = self._centred(dim, unbiased, keepdim, correction, axis,
                                                      keepdims, ddof)
        return (centred * centred).sum(dim=axes, keepdim=keepdim) / denom

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None, ddof=None):
        """||x - mean|| / sqrt(N - correction): as torch, the gradient is 0 where std is 0."""
        centred, axes, keepdim, denom = self._centred(dim, unbiased, keepdim, correction, axis,
                                                      keepdims, ddof)
        return centred.norm(2, dim=axes, keepdim=keepdim) / math.sqrt(denom)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """log sum exp(x) = m + log sum exp(x - m), m = max x (held constant)."""
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        axes = _axes(dim, self.ndim)
        m = self.detach().amax(dim=axes, keepdim=True)
        xp = backend.get_array_module(m.array)
        m.array = xp.where(xp.isfinite(m.array), m.array, 0).astype(m.dtype)
        out = (self - m).exp().sum(dim=axes, keepdim=True).log() + m
        return out if keepdim else out.reshape(tuple(
            s for i, s in enumerate(self.shape) if i not in axes))

    def softmax(self, dim=-1):
        return Softmax.apply(_floating(self), axis=_axes(dim, self.ndim)[0])

    def log_softmax(self, dim=-1):
        return LogSoftmax.apply(_floating(self), axis=_axes(dim, self.ndim)[0])

    # ---- shape -------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        if shape == self.shape:
            return self
        try:
            return Reshape.apply(self, shape=shape)
        except ValueError:
            raise RuntimeError(f"reshape: shape {tuple(shape)} is invalid for a tensor of shape "
                               f"{self.shape} ({self.numel()} elements)") from None

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = start_dim % self.ndim
        e = end_dim % self.ndim
        n = 1
        for d in self.shape[s:e + 1]:
            n *= d
        return self.reshape(self.shape[:s] + (n,) + self.shape[e + 1:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = _axes(dim, self.ndim)
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in dims and s == 1)))

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def permute(self, *dims):
        dims = tuple(_shape_arg(dims))
        if sorted(d % builtins.max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: {dims} is not a permutation of the {self.ndim} dims "
                               f"of a tensor of shape {self.shape}")
        return Permute.apply(self, axes=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0=-2, dim1=-1):
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        d0, d1 = dim0 % self.ndim, dim1 % self.ndim
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return Permute.apply(self, axes=tuple(axes))

    swapaxes = transpose

    @property
    def T(self):
        return self if self.ndim < 2 else Permute.apply(
            self, axes=tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def expand(self, *shape):
        shape = _shape_arg(shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: cannot expand shape {self.shape} to {shape}")
        full = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        if full == self.shape:
            return self
        for i, s in enumerate(self.shape):
            if s != 1 and s != full[i + lead]:
                raise RuntimeError(f"expand: cannot expand shape {self.shape} to {full}")
        return Expand.apply(self, shape=full)

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def __getitem__(self, index):
        return GetItem.apply(self, index=_raw_index(index, self.device))

    def split(self, split_size_or_sections, dim=0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return chunk(self, chunks, dim)

    def pad(self, pad, mode="constant", value=0.0):
        return _pad(self, pad, mode, value)

    def matmul(self, other):
        return matmul(self, other)

    def repeat(self, *sizes):
        """Tile along each dim (torch's ``repeat``), by expand + reshape (differentiable)."""
        sizes = _shape_arg(sizes)
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        interleaved = []
        target = []
        for r, s in zip(sizes, x.shape):
            interleaved += [1, s]
            target += [r, s]
        out = x.reshape(tuple(interleaved)).expand(*target)
        return out.reshape(tuple(r * s for r, s in zip(sizes, x.shape)))


# ---- helpers ---------------------------------------------------------------------------------
def _is_float(x):
    if isinstance(x, Tensor):
        return backend.is_floating(x.dtype)
    if hasattr(x, "dtype"):
        return backend.is_floating(x.dtype)
    return isinstance(x, float)


def _floating(t):
    return t if t.array.dtype.kind == "f" else t.float()


def _scalar(v):
    return v.item() if isinstance(v, Tensor) else v


def _binary(self, other, reflected=False):
    """Operands for a binary op, promoted as torch does.

    Python (and NumPy) scalars stay weak: they keep the tensor's dtype, except that a float
    scalar makes an integer tensor float32.  An integer tensor meeting a floating one takes
    the floating dtype (torch: int64 + float32 -> float32, where NumPy would give float64).
    """
    cls = type(other)
    # exact Python scalars first: the numbers.Number ABC check below costs ~0.5 us per op
    # (measured: 0.12 vs 0.67 us per call); test_tensor_api.test_scalar_operands_are_weak
    if cls is float or cls is int:
        if cls is float and self.array.dtype.kind != "f":
            self = self.float()
    elif isinstance(other, Tensor):
        kind, other_kind = self.array.dtype.kind, other.array.dtype.kind
        if kind != other_kind and (kind == "f" or other_kind == "f"):
            if kind != "f":
                self = self.to(other.array.dtype)
            elif other_kind != "f":
                other = other.to(self.array.dtype)
    elif isinstance(other, numbers.Number) and not isinstance(other, complex):
        if type(other) not in (bool, int, float):
            other = other.item()   # a NumPy scalar: weak like a Python one
        if isinstance(other, float) and self.array.dtype.kind != "f":
            self = self.float()
    else:
        other = _as_tensor(other, like=self)
    return (other, self) if reflected else (self, other)


def _as_tensor(value, like=None):
    if isinstance(value, Tensor):
        return value
    if backend.is_array(value):
        return Tensor.wrap(value if like is None else backend.to_device(value, like.device))
    dtype = _infer_dtype(value)
    if like is not None and backend.is_floating(like.dtype) and dtype is not None and \
            backend.is_floating(dtype):
        dtype = like.dtype
    return Tensor(value, dtype=dtype, device=None if like is None else like.device)


def _raw_index(index, device):
    """An index with Tensors and lists replaced by arrays on ``device``."""
    if isinstance(index, tuple):
        return tuple(_raw_index(i, device) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return backend.as_array(index, device=device)
    return index


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _dim_args(dim, keepdim, axis, keepdims):
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim, bool(keepdim)


def _axes(dim, ndim):
    return normalize_axes(dim, ndim)


def _correction(unbiased, correction, ddof):
    if correction is not None:
        return correction
    if ddof is not None:
        return ddof
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _arg_extremum(t, dim, keepdim, name):
    data = t.array
    if dim is None:
        out = getattr(data.reshape(-1), name)()
        if keepdim:
            out = backend.ensure_array(out).reshape((1,) * t.ndim)
    else:
        axis = _axes(dim, t.ndim)[0]
        out = getattr(data, name)(axis=axis, keepdims=keepdim)
    return Tensor.wrap(backend.ensure_array(out).astype(_INT64, copy=False))


# ---- module-level functions (torch's twins) ---------------------------------------------------
def matmul(a, b):
    a = _as_tensor(a)
    b = _as_tensor(b, like=a)
    return MatMul.apply(a, b)


def maximum(a, b):
    a, b = _binary(_as_tensor(a), b)
    return Maximum.apply(a, _as_tensor(b, like=a))


def minimum(a, b):
    a, b = _binary(_as_tensor(a), b)
    return Minimum.apply(a, _as_tensor(b, like=a))


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` else ``b`` (differentiable in a and b)."""
    cond = condition.array if isinstance(condition, Tensor) else condition
    ref = a if isinstance(a, Tensor) else (b if isinstance(b, Tensor) else None)
    if ref is None:
        ref = Tensor(a)
    a = a if isinstance(a, Tensor) else _as_tensor(a, like=ref)
    b = b if isinstance(b, Tensor) else _as_tensor(b, like=ref)
    return Where.apply(cond.astype(bool, copy=False), a, b)


def cat(tensors, dim=0, *, axis=None):
    """Concatenate along an existing dim."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat(): expected a non-empty sequence of tensors")
    dim = axis if axis is not None else dim
    ndim = tensors[0].ndim
    for t in tensors[1:]:
        if t.ndim != ndim:
            raise RuntimeError(f"cat(): tensors must have the same number of dimensions, got "
                               f"shapes {tensors[0].shape} and {t.shape}")
        for d in range(ndim):
            if d != dim % ndim and t.shape[d] != tensors[0].shape[d]:
                raise RuntimeError(f"cat(): sizes must match except in dim {dim}, got shapes "
                                   f"{tensors[0].shape} and {t.shape}")
    return Cat.apply(*tensors, axis=dim % ndim)


concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """Join along a new dim."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack(): expected a non-empty sequence of tensors")
    dim = axis if axis is not None else dim
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack(): all tensors must have the same shape, got "
                               f"{tensors[0].shape} and {t.shape}")
    dim = dim % (tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or the given sizes."""
    n = tensor.shape[dim]
    dim = dim % tensor.ndim
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split(): split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise ValueError(f"split(): sizes {sizes} do not add up to {n} (dim {dim} of shape "
                             f"{tensor.shape})")
    out = []
    start = 0
    lead = (slice(None),) * dim
    for s in sizes:
        out.append(tensor[lead + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(tensor, chunks, dim=0):
    n = tensor.shape[dim]
    size = -(-n // chunks)
    return split(tensor, size, dim)


def pad(tensor, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: ``pad`` = (left, right, top, bottom, ...) from the last dim.

    Modes: 'constant' (with ``value``), 'reflect', 'replicate', 'circular' (the last three by
    index gathering, so their gradient scatters back).
    """
    return _pad(tensor, pad, mode, value)


def _pad(tensor, pad, mode, value):
    """``pad`` (also behind ``Tensor.pad``, whose argument named ``pad`` hides the function)."""
    if len(pad) % 2 or len(pad) // 2 > tensor.ndim:
        raise ValueError(f"pad(): padding {tuple(pad)} needs pairs for at most {tensor.ndim} dims")
    widths = [(0, 0)] * tensor.ndim
    for i in range(len(pad) // 2):
        widths[tensor.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        return ConstantPad.apply(tensor, widths=tuple(widths), value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad(): unknown mode {mode!r}; expected constant, reflect, replicate "
                         "or circular")
    xp = backend.get_array_module(tensor.array)
    out = tensor
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        n = tensor.shape[axis]
        pos = xp.arange(-before, n + after)
        if mode == "reflect":
            if before >= n or after >= n:
                raise ValueError(f"pad(): reflect padding {before, after} must be smaller than "
                                 f"the size {n} of dim {axis}")
            period = 2 * (n - 1)
            pos = xp.abs(pos) % period if period else pos * 0
            pos = xp.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = xp.clip(pos, 0, n - 1)
        else:
            pos = pos % n
        out = out[(slice(None),) * axis + (pos,)]
    return out




# ---- module-level forms of Tensor methods (torch's twins: tinygrad_cv.exp(x) == x.exp()) --------
# (they shadow the builtins abs, sum, max and min in this module: use builtins.max etc. here)
def exp(x):
    """e^x."""
    return _as_tensor(x).exp()


def log(x):
    """ln x."""
    return _as_tensor(x).log()


def sqrt(x):
    """sqrt(x)."""
    return _as_tensor(x).sqrt()


def sin(x):
    """sin x."""
    return _as_tensor(x).sin()


def cos(x):
    """cos x."""
    return _as_tensor(x).cos()


def tanh(x):
    """tanh x."""
    return _as_tensor(x).tanh()


def sigmoid(x):
    """1 / (1 + e^-x)."""
    return _as_tensor(x).sigmoid()


def relu(x):
    """max(x, 0)."""
    return _as_tensor(x).relu()


def clamp(x, min=None, max=None):
    """x clipped to [min, max] (either bound may be None)."""
    return _as_tensor(x).clamp(min, max)


clip = clamp


def abs(x):
    """|x|."""
    return _as_tensor(x).abs()


def neg(x):
    """-x."""
    return _as_tensor(x).neg()


def square(x):
    """x * x."""
    return _as_tensor(x).square()


def sum(x, *args, **kwargs):
    """``Tensor.sum``: the sum over ``dim`` (all by default)."""
    return _as_tensor(x).sum(*args, **kwargs)


def mean(x, *args, **kwargs):
    """``Tensor.mean``: the mean over ``dim`` (all by default)."""
    return _as_tensor(x).mean(*args, **kwargs)


def max(x, *args, **kwargs):
    """``Tensor.max``: the maximum; (values, indices) along one dim; elementwise with a tensor."""
    return _as_tensor(x).max(*args, **kwargs)


def min(x, *args, **kwargs):
    """``Tensor.min``: the minimum; (values, indices) along one dim; elementwise with a tensor."""
    return _as_tensor(x).min(*args, **kwargs)


def amax(x, *args, **kwargs):
    """``Tensor.amax``: the maximum over ``dim`` (values only)."""
    return _as_tensor(x).amax(*args, **kwargs)


def amin(x, *args, **kwargs):
    """``Tensor.amin``: the minimum over ``dim`` (values only)."""
    return _as_tensor(x).amin(*args, **kwargs)


def var(x, *args, **kwargs):
    """``Tensor.var``: sum((x - mean)^2) / (N - correction)."""
    return _as_tensor(x).var(*args, **kwargs)


def std(x, *args, **kwargs):
    """``Tensor.std``: sqrt(var)."""
    return _as_tensor(x).std(*args, **kwargs)


def logsumexp(x, *args, **kwargs):
    """``Tensor.logsumexp``: log sum exp(x) over ``dim``."""
    return _as_tensor(x).logsumexp(*args, **kwargs)


def argmax(x, *args, **kwargs):
    """``Tensor.argmax``: the index of the maximum (over the flattened tensor by default)."""
    return _as_tensor(x).argmax(*args, **kwargs)


def argmin(x, *args, **kwargs):
    """``Tensor.argmin``: the index of the minimum (over the flattened tensor by default)."""
    return _as_tensor(x).argmin(*args, **kwargs)


def softmax(x, dim=-1):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""
    return _as_tensor(x).softmax(dim)


def log_softmax(x, dim=-1):
    """x_i - log sum_j exp(x_j) along ``dim``."""
    return _as_tensor(x).log_softmax(dim)


def reshape(x, *shape):
    """``Tensor.reshape``."""
    return _as_tensor(x).reshape(*shape)


def flatten(x, start_dim=0, end_dim=-1):
    """``Tensor.flatten``: dims ``start_dim..end_dim`` merged into one."""
    return _as_tensor(x).flatten(start_dim, end_dim)


def squeeze(x, dim=None):
    """``Tensor.squeeze``: size-1 dims removed (all, or those in ``dim``)."""
    return _as_tensor(x).squeeze(dim)


def unsqueeze(x, dim):
    """``Tensor.unsqueeze``: a size-1 dim inserted at ``dim``."""
    return _as_tensor(x).unsqueeze(dim)


def permute(x, *dims):
    """``Tensor.permute``: the dims reordered."""
    return _as_tensor(x).permute(*dims)


def transpose(x, dim0=-2, dim1=-1):
    """``Tensor.transpose``: two dims swapped."""
    return _as_tensor(x).transpose(dim0, dim1)


def expand(x, *shape):
    """``Tensor.expand``: size-1 dims broadcast to ``shape`` (a view)."""
    return _as_tensor(x).expand(*shape)


def broadcast_to(x, shape):
    """``Tensor.broadcast_to``."""
    return _as_tensor(x).broadcast_to(shape)


# ---- the binding step of the kernel ----------------------------------------------------------
# The primitives (ops/), the Function base and the engine import ``Tensor`` from this module,
# and Tensor's methods call them: they are imported here, once everything above exists.
from .autograd.mode import is_grad_enabled  # noqa: E402
from .autograd.engine import run_backward  # noqa: E402
from .ops.elementwise import (Abs, Add, Cast, Clamp, Copy, Cos, Div, Exp, Log,  # noqa: E402
                              Maximum, Minimum, Mul, Neg, Pow, ReLU, Sigmoid, Sin, Sqrt, Sub,
                              Tanh, ToDevice, Where)
from .ops.linalg import MatMul  # noqa: E402
from .ops.reduction import (Extremum, ExtremumDim, Mean, Sum, VectorNorm,  # noqa: E402
                           normalize_axes)
from .ops.shape import Cat, ConstantPad, Expand, GetItem, Permute, Reshape  # noqa: E402
from .ops.softmax import LogSoftmax, Softmax  # noqa: E402
