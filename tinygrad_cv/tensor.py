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
import functools
import math
import numbers

from . import backend, memory_formats, return_types
from .devices import CPU as _CPU, CUDA as _CUDA, is_device_like, placement
from .generator import rng_of
from .size import Size

_FLOAT32 = backend.dtype("float32")
_INT64 = backend.dtype("int64")
_UINT8 = backend.dtype("uint8")



def _infer_dtype(data):
    """float32 for Python floats, int64 for ints, bool for bools; a nested list takes the
    highest kind among all its numbers, as torch ([1, 2.5] is float32, [True, 2] int64)."""
    if isinstance(data, (list, tuple)):
        return _sequence_dtype(data)
    if hasattr(data, "dtype"):
        return data.dtype   # a NumPy scalar keeps its dtype (as in torch.tensor)
    return _number_dtype(data)


def _number_dtype(probe):
    if isinstance(probe, bool):
        return backend.dtype("bool")
    if isinstance(probe, numbers.Integral):
        return _INT64
    if isinstance(probe, (numbers.Real, list, tuple)):
        return _FLOAT32
    return None


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}   # torch's categories: bool < integer < float


def _first_element(data):
    """The first non-sequence element of nested lists/tuples (``data`` itself if none)."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def _sequence_dtype(data):
    """The dtype of nested lists/tuples of numbers: bool, int64 or float32 by the highest
    kind among all the elements (float32 for no elements); what ``_number_dtype`` says of the
    first element when some element is not a number (a Tensor, an array)."""
    rank = -1
    pending = [data]
    while pending:
        for v in pending.pop():
            if isinstance(v, (list, tuple)):
                pending.append(v)
                continue
            if isinstance(v, bool):
                r = 0
            elif isinstance(v, numbers.Integral):
                r = 1
            elif isinstance(v, numbers.Real):
                return _FLOAT32
            elif getattr(v, "ndim", None) == 0 and v.dtype.kind in _KIND_RANK:
                r = _KIND_RANK[v.dtype.kind]      # (a NumPy bool scalar)
                if r == 2:
                    return _FLOAT32
            else:
                return _number_dtype(_first_element(data))
            if r > rank:
                rank = r
    return (_FLOAT32, backend.dtype("bool"), _INT64)[rank + 1]


def _sequence_array(data, device):
    """Nested lists/tuples as an array of ``_sequence_dtype``'s dtype, converted once: the
    array library's own inference (float64 for Python floats, int64 for ints) mapped to
    torch's dtypes (float32, int64), so that no element is scanned in Python."""
    arr = backend.as_array(data, device=device)
    if backend.is_array(_first_element(data)):
        return arr      # a list of arrays keeps their dtype (as torch)
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype != _FLOAT32:
        return arr.astype(_FLOAT32)
    if kind in "iu" and arr.dtype != _INT64:
        return arr.astype(_INT64)
    if kind == "O":     # (elements that are not numbers: Tensors, ...)
        return backend.as_array(data, dtype=_sequence_dtype(data), device=device)
    return arr


def _holds_typed_scalars(data):
    """Whether nested lists/tuples hold a Tensor or a NumPy scalar (a number with a dtype of
    its own) anywhere: one ``type`` pass per list, one probe per kind of element."""
    pending = [data]
    while pending:
        level = pending.pop()
        kinds = set(map(type, level))
        for kind in kinds:
            if issubclass(kind, Tensor):
                return True
            if kind not in (list, tuple, bool, int, float) and hasattr(kind, "dtype"):
                probe = next(v for v in level if type(v) is kind)
                if getattr(probe, "ndim", None) == 0 and not backend.is_array(probe):
                    return True
        if any(issubclass(k, (list, tuple)) for k in kinds):
            pending.extend(v for v in level if isinstance(v, (list, tuple)))
    return False


def _scalar_sequence(data):
    """Nested lists/tuples holding Tensors or NumPy scalars as torch reads them: each Tensor
    is one number (one element of any shape, else torch's ValueError), and the dtype is
    torch's promotion of the elements' dtypes (a Tensor's own, a NumPy scalar's own, bool,
    int64 for ints, float32 for floats).  Returns (nested lists of numbers, dtype)."""
    from .tensor_indexing import promote_types
    found = []

    def convert(v):
        if isinstance(v, (list, tuple)):
            return [convert(x) for x in v]
        if isinstance(v, Tensor):
            if v.numel() != 1:
                raise ValueError("only one element tensors can be converted to Python scalars")
            found.append(v.dtype)
            return v.item()
        probe = _number_dtype(v)
        found.append(v.dtype if getattr(v, "ndim", None) == 0 else probe)
        return v

    numbers_only = convert(data)
    dtypes = [d for d in found if d is not None]
    dtype = dtypes[0] if dtypes else None
    for other in dtypes[1:]:
        if other != dtype:
            dtype = promote_types(dtype, other)
    return numbers_only, dtype


def _resolve_dtype(dtype):
    return None if dtype is None else backend.dtype(dtype)


def _check_requires_grad(dtype, requires_grad):
    if requires_grad and not backend.is_floating(dtype):
        raise RuntimeError(f"only floating-point tensors can require gradients (got dtype {dtype})")


class Tensor:
    """An n-dimensional array on the CPU (NumPy) or GPU (CuPy) that records its gradient graph."""

    # _vbox: the version counter, _view_base: (root base, steps, version) of a view (see
    # autograd/inplace.py); _history is set only on tensors rebased by an in-place op (read it
    # with getattr and a default)
    __slots__ = ("array", "requires_grad", "_grad", "creator", "out_index", "hooks",
                 "retains_grad", "name", "_vbox", "_history", "_view_base", "__weakref__")
    _tensor_marker = True
    __array_ufunc__ = None  # numpy defers to our reflected operators (ndarray * Tensor)

    def __init__(self, data=(), *sizes, requires_grad=False, dtype=None, device=None):
        dtype = _resolve_dtype(dtype)
        if device is not None:
            device = placement(device)
        if sizes:
            data, requires_grad = _sizes_or_flag(data, sizes, requires_grad)
            if isinstance(data, _Uninitialised):   # torch.Tensor(3, 4): uninitialised float32
                arr = backend.module_for_device(device).empty(data.shape, dtype=dtype or _FLOAT32)
                data = arr
        if isinstance(data, Tensor):
            data = data.array
        if backend.is_array(data):
            # like torch.tensor: the new tensor owns a copy (from_numpy/from_dlpack share memory)
            arr = backend.as_array(data, dtype=dtype, device=device or backend.device_of(data),
                                   copy=True)
        elif isinstance(data, (list, tuple)) and _holds_typed_scalars(data):
            data, inferred = _scalar_sequence(data)
            arr = backend.as_array(data, dtype=dtype or inferred, device=device)
        elif dtype is None and isinstance(data, (list, tuple)):
            arr = _sequence_array(data, device)
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
        self._vbox = None
        self._view_base = None

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
        t._vbox = None
        t._view_base = None
        return t

    @property
    def data(self):
        """torch's ``.data``: a Tensor on the same storage, off the graph (``requires_grad``
        False, no creator), with a version counter of its own, so in-place changes made through
        it are not seen by autograd (as in torch; ``detach()`` shares the counter).  The raw
        backend array is ``.array``."""
        return Tensor.wrap(self.array)

    @data.setter
    def data(self, value):
        """``p.data = t``: ``p`` takes ``t``'s storage (shape and dtype may change), keeping its
        place on the graph, its ``.grad`` and its version counter (as torch)."""
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        if self.requires_grad and not backend.is_floating(value.dtype):
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        self.array = value.array

    @property
    def _version(self):
        """How many in-place changes the storage has had (shared by the views of it)."""
        box = self._vbox
        return 0 if box is None else box[0]

    # ---- attributes --------------------------------------------------------------------------
    @property
    def shape(self):
        """The shape, a ``Size`` (a tuple of ints with ``numel()``, torch's ``torch.Size``)."""
        return tuple.__new__(Size, self.array.shape)

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        """``device("cpu")`` or ``device("cuda")`` (a ``tinygrad_cv.device``, equal to its
        string; one GPU is used, so a GPU tensor's device has no index)."""
        return _CUDA if backend.device_of(self.array) == "cuda" else _CPU

    @property
    def is_cuda(self):
        return backend.device_of(self.array) == "cuda"

    is_sparse = False     # sparse COO tensors (tinygrad_cv.sparse) say True
    is_xpu = False        # no Intel GPU backend (torch scripts test `x.is_cuda or x.is_xpu`)

    def to_sparse(self, sparse_dim=None):
        """The coalesced sparse COO form (``tinygrad_cv.sparse``); values differentiable."""
        return to_sparse(self, sparse_dim)

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        """Assigned gradients are checked as torch checks them: a Tensor of this shape, or None."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got "
                                f"{type(value).__name__}")
            if tuple(value.shape) != tuple(self.array.shape):
                raise RuntimeError(f"cannot assign a gradient of shape {tuple(value.shape)} to a "
                                   f"tensor of shape {tuple(self.array.shape)}")
        self._grad = value

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    def size(self, dim=None):
        """The shape (a ``Size``), or the length of axis ``dim``."""
        return tuple.__new__(Size, self.array.shape) if dim is None else self.array.shape[dim]

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
        """torch's format (``printing.py``; ``set_printoptions`` changes it)."""
        from .printing import tensor_repr
        creator = self.creator
        return tensor_repr(self, None if creator is None else f"{type(creator).__name__}Backward")

    # ---- conversions -------------------------------------------------------------------------
    def numpy(self):
        """A host NumPy array (shares memory on the CPU, as torch does)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy() instead")
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """NumPy's conversion protocol (``np.array(t)``, ``np.asarray(t)``): ``numpy()``, so
        a tensor that requires grad raises as in torch; ``dtype`` converts, ``copy=True``
        copies, ``copy=False`` raises where a copy cannot be avoided."""
        array = self.numpy()
        converted = dtype is not None and array.dtype != dtype
        if copy is False and converted:
            raise ValueError(f"np.array(tensor, copy=False): converting {array.dtype} to "
                             f"{dtype} needs a copy")
        if converted:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python "
                             f"scalars, this one has shape {tuple(self.shape)}")
        return backend.to_numpy(self.array).reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def detach(self):
        """A tensor sharing the same data and version counter, cut from the graph."""
        t = Tensor.wrap(self.array)
        t._vbox = version_box(self)
        return t

    def detach_(self):
        """Cut this tensor from the graph in place (a view raises, as torch)."""
        if self._view_base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
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
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not require grad")
        if self.creator is not None:
            self.retains_grad = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad) -> Tensor | None`` with this tensor's gradient; returns a handle."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        entry = functools.partial(hook)     # (one entry per registration: a hook registered
        self.hooks = tuple(self.hooks) + (entry,)   # twice is removed once per handle)
        tensor = self

        class _Handle:
            def remove(self_inner):
                tensor.hooks = tuple(h for h in tensor.hooks if h is not entry)

        return _Handle()

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other)`` (differentiable);
        ``device`` a string or ``tinygrad_cv.device``; ``non_blocking`` is accepted (transfers
        are synchronous), ``copy=True`` always returns a new tensor; ``memory_format``
        (``channels_last``, ...) lays the result out so (``self`` when nothing changes)."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        memory_format = kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        flags = [a for a in args if isinstance(a, bool)]   # positional non_blocking, copy
        if len(flags) > 2:
            raise TypeError(f"to(): too many positional flags {flags}")
        copy = copy or (len(flags) == 2 and flags[1])
        for a in args:
            if is_device_like(a) or isinstance(a, int) and not isinstance(a, bool):
                device = a
            elif isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif not isinstance(a, bool):
                dtype = a
        out = self
        if device is not None and placement(device) != self.device:
            out = ToDevice.apply(out, device=placement(device))
        if dtype is not None:
            dtype = _resolve_dtype(dtype)
            if dtype != out.dtype:
                if out.requires_grad and not backend.is_floating(dtype):
                    out = out.detach()
                out = Cast.apply(out, dtype=dtype)
        if memory_format is not None and \
                memory_formats.check(memory_format, "to") is not memory_formats.preserve_format:
            out = out.contiguous(memory_format=memory_format)
        if copy and out is self:
            out = self.clone(memory_format=memory_format)
        return out

    def cpu(self, memory_format=None):
        return self.to("cpu", memory_format=memory_format)

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """The tensor on the GPU (``device``: None, 0, 'cuda', 'cuda:0'; transfers are
        synchronous, ``non_blocking`` is accepted)."""
        if device is not None and placement(device) != "cuda":
            raise ValueError(f"cuda(): expected a cuda device, got {device!r}")
        return self.to("cuda", memory_format=memory_format)

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

    def clone(self, *, memory_format=None):
        """A differentiable copy with storage of its own, in the layout of ``memory_format``
        (default ``preserve_format``: the order of self's strides, as torch;
        ``contiguous_format``; ``channels_last``)."""
        fmt = memory_formats.check(memory_format or memory_formats.preserve_format, "clone")
        return Copy.apply(self, memory_format=fmt)

    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    # ---- autograd ----------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None,
                 grad=None):
        """Accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad`` (only into the
        ``.grad`` of ``inputs`` when given; ``grad=`` is an older name of ``gradient``)."""
        grad = gradient if gradient is not None else grad
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph "
                               "(did you create it under no_grad, or from inputs without "
                               "requires_grad=True?)")
        if grad is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar "
                                   f"outputs; this tensor has shape {tuple(self.shape)}, "
                                   f"pass grad=")
            grad = backend.get_array_module(self.array).ones(self.shape, dtype=self.dtype)
        else:
            grad = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=self.dtype,
                                                               device=self.device)
            if grad.shape != self.shape:
                raise RuntimeError(f"backward(): grad has shape {tuple(grad.shape)} but the "
                                   f"tensor has shape {tuple(self.shape)}")
            grad = grad if create_graph else grad.array
        if inputs is not None:
            _backward_into([self], [grad], retain_graph=retain_graph, create_graph=create_graph,
                           inputs=inputs)
            return
        run_backward([self], [grad], retain_graph=bool(retain_graph) or create_graph,
                     create_graph=create_graph)

    # ---- in-place operations (torch's rules and version counter: autograd/inplace.py) --------
    def __setitem__(self, index, value):
        """``x[index] = value`` (in place; on the graph, a tensor ``value`` must not require
        grad)."""
        index = _torch_order(_raw_index(index, self.device), self.array)
        if is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False)):
            assign_inplace(self, index, value)
            return
        if type(value) is int and self.array.dtype.kind in "ui":
            value = _wrapped_int(value, self.array)          # (uint8 and -1: 255, as torch)
        if not getattr(self.array.flags, "writeable", True):  # (an expanded tensor)
            raise RuntimeError(OVERLAP_ERROR)
        self.array[index] = value.array if isinstance(value, Tensor) else value
        bump_version(self)

    def add_(self, other, *args, alpha=1):
        """self += alpha * other (also torch's deprecated ``add_(alpha, other)``)."""
        other, alpha = _alpha_form(other, args, alpha)
        return arithmetic_inplace(self, "add", _add_scaled, other, alpha)

    def sub_(self, other, *args, alpha=1):
        """self -= alpha * other (also torch's deprecated ``sub_(alpha, other)``)."""
        other, alpha = _alpha_form(other, args, alpha)
        return arithmetic_inplace(self, "add", _add_scaled, other, -alpha)

    def mul_(self, other):
        return arithmetic_inplace(self, "multiply", _times, other)

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is None:
            return arithmetic_inplace(self, "true_divide", _divided, other)
        return apply_inplace(self, lambda x, o: x.div(o, rounding_mode=rounding_mode), other)

    def pow_(self, exponent):
        return apply_inplace(self, Tensor.__pow__, exponent)

    def neg_(self):
        return apply_inplace(self, Tensor.__neg__)

    def abs_(self):
        return apply_inplace(self, Tensor.abs)

    def exp_(self):
        return apply_inplace(self, Tensor.exp)

    def log_(self):
        return apply_inplace(self, Tensor.log)

    def sqrt_(self):
        return apply_inplace(self, Tensor.sqrt)

    def sigmoid_(self):
        return apply_inplace(self, Tensor.sigmoid)

    def tanh_(self):
        return apply_inplace(self, Tensor.tanh)

    def relu_(self):
        return apply_inplace(self, Tensor.relu)

    def sin_(self):
        return apply_inplace(self, Tensor.sin)

    def cos_(self):
        return apply_inplace(self, Tensor.cos)

    def square_(self):
        return apply_inplace(self, Tensor.square)

    def reciprocal_(self):
        return apply_inplace(self, Tensor.reciprocal)

    def rsqrt_(self):
        return apply_inplace(self, Tensor.rsqrt)

    def log1p_(self):
        return apply_inplace(self, Tensor.log1p)

    def expm1_(self):
        return apply_inplace(self, Tensor.expm1)

    def log2_(self):
        return apply_inplace(self, Tensor.log2)

    def floor_(self):
        return apply_inplace(self, Tensor.floor)

    def ceil_(self):
        return apply_inplace(self, Tensor.ceil)

    def trunc_(self):
        return apply_inplace(self, Tensor.trunc)

    def round_(self, decimals=0):
        return apply_inplace(self, Tensor.round, decimals)

    def frac_(self):
        return apply_inplace(self, Tensor.frac)

    def sign_(self):
        return apply_inplace(self, Tensor.sign)

    def clamp_(self, min=None, max=None):
        return apply_inplace(self, Tensor.clamp, min, max)

    clip_ = clamp_

    def clamp_min_(self, min):
        return apply_inplace(self, Tensor.clamp, min, None)

    def clamp_max_(self, max):
        return apply_inplace(self, Tensor.clamp, None, max)

    def fill_(self, value):
        """Every element set to ``value`` (a number or a one-element tensor)."""
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        return apply_inplace(self, _replaced, value, casting="unsafe")

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src, non_blocking=False):
        """``src`` (broadcast to self's shape, any dtype and device) copied into self."""
        src = _as_tensor(src, like=self)
        src = src.to(self.device) if src.device != self.device else src
        return apply_inplace(self, _replaced, src, casting="unsafe")

    def masked_fill_(self, mask, value):
        """``value`` where the boolean ``mask`` (broadcast to self's shape) is True."""
        mask = _as_tensor(mask, like=self)
        if mask.dtype != backend.dtype("bool"):
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {mask.dtype}")
        return apply_inplace(self, lambda x, v: where(mask, v, x), value, casting="unsafe")

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with draws from U(a, b)."""
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={a} > to={b}")
        u = _rng(self, generator).random(self.shape, dtype=_draw_dtype(self))
        return apply_inplace(self, _replaced, Tensor.wrap(u * (b - a) + a), casting="unsafe")

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with draws from N(mean, std^2)."""
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        n = _rng(self, generator).standard_normal(self.shape, dtype=_draw_dtype(self))
        return apply_inplace(self, _replaced, Tensor.wrap(n * std + mean), casting="unsafe")

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 1 with probability ``p`` (a number or a tensor broadcast to self), else 0."""
        p = p.array if isinstance(p, Tensor) else p
        u = _rng(self, generator).random(self.shape, dtype=_draw_dtype(self))
        return apply_inplace(self, _replaced, Tensor.wrap(u < p), casting="unsafe")

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def __ifloordiv__(self, other):
        return apply_inplace(self, Tensor.floor_divide, other)

    def __imod__(self, other):
        return apply_inplace(self, Tensor.remainder, other)

    def t_(self):
        if self.ndim < 2:
            return self
        return reshape_inplace(self, Tensor.transpose, "permute", (1, 0))

    def transpose_(self, dim0, dim1):
        axes = list(range(self.ndim))
        d0, d1 = _axes(dim0, self.ndim)[0], _axes(dim1, self.ndim)[0]
        if self.ndim:
            axes[d0], axes[d1] = axes[d1], axes[d0]
        return reshape_inplace(self, lambda x: x.permute(*axes), "permute", tuple(axes))

    def squeeze_(self, dim=None):
        return reshape_inplace(self, lambda x: x.squeeze(dim), "reshape")

    def unsqueeze_(self, dim):
        return reshape_inplace(self, lambda x: x.unsqueeze(dim), "reshape")

    def __iand__(self, other):
        return apply_inplace(self, Tensor.__and__, other)

    def __ior__(self, other):
        return apply_inplace(self, Tensor.__or__, other)

    def __ixor__(self, other):
        return apply_inplace(self, Tensor.__xor__, other)

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
        if type(other) is int and self.array.dtype.kind != "f":
            self = self.float()     # (an int divides as a float: never wrapped, _wrapped_int)
        a, b = _binary(self, other)
        if not _is_float(a) and not _is_float(b):   # true division of integers is float32
            a = a.float() if isinstance(a, Tensor) else a
            b = b.float() if isinstance(b, Tensor) else b
        return Div.apply(a, b)

    def __rtruediv__(self, other):
        if type(other) is int and self.array.dtype.kind != "f":
            self = self.float()
        a, b = _binary(self, other, reflected=True)
        if not _is_float(b):
            b = b.float()
        return Div.apply(a, b)

    def __pow__(self, other):
        if type(other) is int and self.array.dtype.kind in "biu":
            if other < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            if self.array.dtype.kind == "b":
                return self.to(_INT64) ** other  # (NumPy's bool ** int is int8; torch's int64)
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

    def add(self, other, *, alpha=1):
        """self + alpha * other."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        """self - alpha * other."""
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        return self * other

    def div(self, other, *, rounding_mode=None):
        """self / other; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient (integer
        operands then give an integer result, as torch)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div(): rounding_mode must be None, 'trunc' or 'floor', got "
                             f"{rounding_mode!r}")
        a, b = _binary(self, other)
        if _integer_divisor(a, b) and rounding_mode == "trunc":
            # floor_divide rounds down: step back towards zero
            xa, xb = a.array, b.array if isinstance(b, Tensor) else b
            q = backend.get_array_module(xa).floor_divide(xa, xb)
            return Tensor.wrap(backend.ensure_array(q + ((q < 0) & (q * xb != xa))))
        return DivRounded.apply(a, b, mode=rounding_mode)

    def floor_divide(self, other):
        """self // other: the quotient rounded down (``div(other, rounding_mode='floor')``)."""
        return self.div(other, rounding_mode="floor")

    __floordiv__ = floor_divide

    def __rfloordiv__(self, other):
        return _as_tensor(other, like=self).div(self, rounding_mode="floor")

    def remainder(self, other):
        """self % other = self - other * floor(self / other): the sign of ``other`` (Python's
        and torch's ``%``); d/dself = 1, d/dother = -floor(self / other)."""
        a, b = _binary(self, other)
        _integer_divisor(a, b)
        return Remainder.apply(a, b, mode="floor")

    __mod__ = remainder

    def __rmod__(self, other):
        return _as_tensor(other, like=self).remainder(self)

    def fmod(self, other):
        """C's fmod: self - other * trunc(self / other), the sign of ``self``;
        d/dself = 1, d/dother = -trunc(self / other)."""
        a, b = _binary(self, other)
        _integer_divisor(a, b)
        return Remainder.apply(a, b, mode="trunc")

    def pow(self, other):
        return self ** other

    def square(self):
        x = self.to(_INT64) if self.array.dtype.kind == "b" else self    # (torch: bool -> int64)
        return Mul.apply(x, x)

    # comparisons: elementwise, not differentiable, bool result
    def _compare(self, other, op):
        """``op`` on the arrays, the operands promoted as torch does (``_promoted``: a float
        tensor meeting a float64 0-d one compares in its own dtype, an integer tensor meeting
        a float one or a Python float in the float's)."""
        a = self
        if isinstance(other, Tensor):
            if a.array.dtype != other.array.dtype:
                a, other = _promoted(a, other)
            other = other.array
        elif type(other) is float and a.array.dtype.kind in "biu":
            a = a.float()
        elif type(other) is int and a.array.dtype.kind in "ui":
            other = _wrapped_int(other, a.array)
        try:
            return Tensor.wrap(backend.ensure_array(op(a.array, other)))
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            raise ShapeError(f"comparison or bitwise op: shapes {tuple(a.shape)} and "
                             f"{tuple(getattr(other, 'shape', ()))} cannot be broadcast "
                             "together") from e

    def eq(self, other):
        return self._compare(other, lambda a, b: a == b)

    def ne(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __eq__(self, other):
        """Elementwise ==; ``x == None`` (or a string) is False, as torch (Python's identity
        comparison), not a tensor of False."""
        if other is None or isinstance(other, str):
            return NotImplemented
        return self.eq(other)

    def __ne__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        return self.ne(other)

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

    # the bitwise operators commute (values and dtypes): ``2 & t`` is ``t & 2``
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    lt, le, gt, ge = __lt__, __le__, __gt__, __ge__

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
        """min <= x <= max elementwise; bounds may be numbers or tensors (broadcast, also 0-d,
        and differentiable); with min > max the result is max (as torch).  Dtypes promote as
        torch's: float bounds make an integer tensor float32."""
        if min is None and max is None:
            raise ValueError("clamp(): at least one of min and max must be given")
        x = self
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            lo = None if min is None else _as_tensor(min, like=x)
            hi = None if max is None else _as_tensor(max, like=x)
            if lo is not None and lo.dtype != x.dtype:
                x, lo = _promoted(x, lo)
            if hi is not None and hi.dtype != x.dtype:
                x, hi = _promoted(x, hi)
            return ClampTensor.apply(x, lo, hi)
        # NumPy scalars are weak like Python numbers (NumPy itself would promote with them)
        min, max = (v.item() if isinstance(v, numbers.Number) and hasattr(v, "item")
                    else v for v in (min, max))
        if x.array.dtype.kind != "f" and (type(min) is float or type(max) is float):
            x = x.float()
        return Clamp.apply(x, lo=min, hi=max)

    clip = clamp

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    def where(self, condition, other):
        return where(condition, self, other)

    def sign(self):
        """-1, 0 or 1 (0 at NaN, and a bool tensor unchanged, as torch); its gradient is
        zero."""
        return self._step("sign")

    # ---- reductions --------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype)
        if not backend.is_floating(x.dtype) and x.dtype != _INT64:
            x = x.to(_INT64)
        return Sum.apply(x, axes=_reduced_axes(dim, self.ndim), keepdims=keepdim)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """The product over ``dim`` (one dim, or all); integer and bool tensors give int64, as
        in ``sum``; the gradient at zeros is the product of the other elements (torch's)."""
        if isinstance(dim, (tuple, list)):
            raise TypeError("prod(): argument 'dim' must be int, not tuple")
        x = self if dtype is None else self.to(dtype)
        if not backend.is_floating(x.dtype) and x.dtype != _INT64:
            x = x.to(_INT64)
        axes = _reduced_axes(dim, self.ndim)
        return Prod.apply(x, axes=axes, keepdims=keepdim and dim is not None)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype)
        if not backend.is_floating(x.dtype):
            raise RuntimeError(f"mean(): expected a floating-point tensor, got {x.dtype} "
                               "(pass dtype= or call .float() first)")
        return Mean.apply(x, axes=_reduced_axes(dim, self.ndim), keepdims=keepdim)

    def _extremum(self, pick, dim, keepdim, axis, keepdims):
        if isinstance(dim, Tensor):
            return maximum(self, dim) if pick == "max" else minimum(self, dim)
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        if dim is None or isinstance(dim, (tuple, list)):
            return Extremum.apply(self, axes=_reduced_axes(dim, self.ndim), keepdims=keepdim,
                                         pick=pick, nan_hits=dim is None)
        axis = _axes(dim, self.ndim)[0]
        if self.ndim == 0:          # (torch: the value itself, index 0)
            return getattr(return_types, pick)(self.clone(), Tensor.wrap(
                backend.get_array_module(self.array).zeros((), dtype=_INT64)))
        values, indices = ExtremumDim.apply(self, axis=axis, keepdims=keepdim, pick=pick)
        return getattr(return_types, pick)(values, indices)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``max()`` -> scalar; ``max(dim=d)`` -> (values, indices); ``max(other)`` -> maximum."""
        return self._extremum("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._extremum("min", dim, keepdim, axis, keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        return Extremum.apply(self, axes=_reduced_axes(dim, self.ndim), keepdims=keepdim,
                              pick="max")

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        return Extremum.apply(self, axes=_reduced_axes(dim, self.ndim), keepdims=keepdim,
                              pick="min")

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """torch.norm: vector p-norms for every real p (0: the count of non-zeros, +-inf:
        max / min |x|) and 'fro' over ``dim``, the nuclear norm 'nuc' over two dims; the
        gradient is 0 where the norm is 0 (torch's).  Defined in ``linalg.norm_top``."""
        from .linalg import norm_top
        return norm_top(self, p, dim, keepdim, dtype)

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
        axes = _reduced_axes(dim, self.ndim)
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
        """||x - mean|| / sqrt(N - correction): as torch, the gradient is 0 where std is 0,
        and NaN (as the value) when N - correction <= 0."""
        centred, axes, keepdim, denom = self._centred(dim, unbiased, keepdim, correction, axis,
                                                      keepdims, ddof)
        if denom == 0:      # (0/0: torch's NaN gradient, which the norm's 0 at 0 would hide)
            return ((centred * centred).sum(dim=axes, keepdim=keepdim) / 0.0).sqrt()
        return centred.norm(2, dim=axes, keepdim=keepdim) / math.sqrt(denom)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """log sum exp(x) = m + log sum exp(x - m), m = max x (held constant); integer and
        bool tensors as float32, -inf over an empty dim (as torch)."""
        dim, keepdim = _dim_args(dim, keepdim, axis, keepdims)
        x = _floating(self)
        axes = _reduced_axes(dim, x.ndim)
        xp = backend.get_array_module(x.array)
        if x.array.size:
            m = x.detach().amax(dim=axes, keepdim=True)
            m.array = xp.where(xp.isfinite(m.array), m.array, 0).astype(m.dtype)
        else:
            m = Tensor.wrap(xp.zeros(tuple(1 if i in axes else s for i, s in enumerate(x.shape)),
                                     dtype=x.dtype))
        out = (x - m).exp().sum(dim=axes, keepdim=True).log() + m
        return out if keepdim else out.reshape(tuple(
            s for i, s in enumerate(x.shape) if i not in axes))

    def softmax(self, dim=-1):
        if self.ndim == 0:
            return self.reshape(1).softmax(_axes(dim, 0)[0]).reshape(())
        return Softmax.apply(_floating(self), axis=_axes(dim, self.ndim)[0])

    def log_softmax(self, dim=-1):
        if self.ndim == 0:
            return self.reshape(1).log_softmax(_axes(dim, 0)[0]).reshape(())
        return LogSoftmax.apply(_floating(self), axis=_axes(dim, self.ndim)[0])

    # ---- shape -------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        try:    # (the same shape too gives a new view, as torch: x.view(x.shape) is not x)
            return share_version(Reshape.apply(self, shape=shape), self, "reshape")
        except ValueError:
            raise RuntimeError(f"reshape: shape {tuple(shape)} is invalid for a tensor of shape "
                               f"{tuple(self.shape)} ({self.numel()} elements)") from None

    def view(self, *shape):
        """``reshape`` (a view where the strides allow), or ``view(dtype)``: the same bytes
        read as ``dtype`` (the last dim scaled by the ratio of the element sizes; not on the
        graph), sharing storage and version counter (as torch)."""
        if len(shape) == 1 and not isinstance(shape[0], (numbers.Integral, tuple, list)):
            return _dtype_view(self, _resolve_dtype(shape[0]))
        return self.reshape(*shape)

    def view_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        s, e = _axes(start_dim, self.ndim)[0], _axes(end_dim, self.ndim)[0]
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if self.ndim == 0:
            return self.reshape(1)
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
        dim = _axes(dim, self.ndim + 1)[0]
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def permute(self, *dims):
        dims = tuple(_shape_arg(dims))
        for d in dims:
            _axes(d, self.ndim)     # (out of range: IndexError, as torch)
        if sorted(d % builtins.max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: {dims} is not a permutation of the {self.ndim} dims "
                               f"of a tensor of shape {tuple(self.shape)}")
        axes = tuple(d % self.ndim for d in dims)
        return share_version(Permute.apply(self, axes=axes), self, "permute", axes)

    def transpose(self, dim0=-2, dim1=-1):
        d0, d1 = _axes(dim0, self.ndim)[0], _axes(dim1, self.ndim)[0]
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return share_version(Permute.apply(self, axes=tuple(axes)), self, "permute", tuple(axes))

    swapaxes = transpose

    @property
    def T(self):
        if self.ndim < 2:
            return self
        axes = tuple(reversed(range(self.ndim)))
        return share_version(Permute.apply(self, axes=axes), self, "permute", axes)

    @property
    def mT(self):
        """The last two dims swapped (a view; >= 2 dims, as torch)."""
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of "
                               f"matrices. Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def expand(self, *shape):
        shape = _shape_arg(shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: cannot expand shape {tuple(self.shape)} to {shape}")
        if -1 in shape[:lead]:
            raise RuntimeError(f"expand: the size -1 is not allowed in a new leading dim "
                               f"(expanding shape {tuple(self.shape)} to {shape})")
        full = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        if full == self.shape:      # a new (writeable) view, as torch
            return self.reshape(full)
        for i, s in enumerate(self.shape):
            if s != 1 and s != full[i + lead]:
                raise RuntimeError(f"expand: cannot expand shape {tuple(self.shape)} to {full}")
        return share_version(Expand.apply(self, shape=full), self, "expand")

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def __getitem__(self, index):
        index = _torch_order(_raw_index(index, self.device), self.array)
        return share_version(GetItem.apply(self, index=index), self, "index", index)

    def split(self, split_size_or_sections, dim=0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return chunk(self, chunks, dim)

    def pad(self, pad, mode="constant", value=0.0):
        return _pad(self, pad, mode, value)

    def matmul(self, other):
        return matmul(self, other)

    def repeat(self, *sizes):
        """Tile along each dim (torch's ``repeat``), by expand + reshape (differentiable).
        The result has memory of its own, as torch's: where the reshape could keep a view
        (every size 1, or only length-1 dims repeated: zero strides) it is copied.  No
        sizes, fewer sizes than dims or a negative size raise torch's errors."""
        if not sizes:
            raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                               "number of dimensions of tensor")
        if any(r < 0 for r in sizes):
            target = [r * s for r, s in zip(sizes, (1,) * (len(sizes) - self.ndim) + self.shape)]
            raise RuntimeError(f"Trying to create tensor with negative dimension "
                               f"{min(target)}: {target}")
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        interleaved = []
        target = []
        for r, s in zip(sizes, x.shape):
            interleaved += [1, s]
            target += [r, s]
        out = x.reshape(tuple(interleaved)).expand(*target)
        out = out.reshape(tuple(r * s for r, s in zip(sizes, x.shape)))
        return out.clone(memory_format=memory_formats.contiguous_format) \
            if out._view_base is not None else out

    # ---- torch-compatible methods: creation, casts, matrices, ordering, scans -----------------
    # (their function forms live in tensor_functions.py)
    def contiguous(self, memory_format=None):
        """``self`` when its array is laid out as ``memory_format`` (default: row-major), else
        a copy in that layout (as torch; the copy is differentiable and has storage of its
        own)."""
        fmt = memory_formats.check(memory_format or memory_formats.contiguous_format,
                                   "contiguous")
        if fmt is memory_formats.preserve_format:
            if self.array.flags.c_contiguous:
                return self
            raise RuntimeError("preserve memory format is unsupported by the contiguous "
                               "operator")
        if memory_formats.has_layout(self.array, fmt, "contiguous"):
            return self
        return Copy.apply(self, memory_format=fmt)

    def is_contiguous(self, memory_format=None):
        fmt = memory_formats.check(memory_format or memory_formats.contiguous_format,
                                   "is_contiguous")
        return memory_formats.has_layout(self.array, fmt, "is_contiguous")

    def nelement(self):
        return self.numel()

    def element_size(self):
        return int(self.array.dtype.itemsize)

    def _new(self, fill, size, fill_value, dtype, device, requires_grad):
        dtype = self.dtype if dtype is None else _resolve_dtype(dtype)
        _check_requires_grad(dtype, requires_grad)
        xp = backend.module_for_device(self.device if device is None else placement(device))
        shape = _shape_arg(size)
        arr = xp.full(shape, fill_value, dtype=dtype) if fill == "full" else \
            getattr(xp, fill)(shape, dtype=dtype)
        out = Tensor.wrap(arr)
        out.requires_grad = bool(requires_grad)
        return out

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of ``size`` with this tensor's dtype and device (unless given)."""
        return self._new("zeros", size, None, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("ones", size, None, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("empty", size, None, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return self._new("full", (size,) if isinstance(size, int) else tuple(size),
                         _scalar(fill_value), dtype, device, requires_grad)

    def new(self, *args, device=None):
        """torch's legacy constructor, with this tensor's dtype (and device unless given):
        ``new()`` an empty vector, ``new(2, 3)`` / ``new(Size)`` an uninitialised tensor of
        that shape, ``new(sequence)`` the data, ``new(tensor)`` that tensor's memory (same
        dtype only)."""
        device = self.device if device is None else device
        if len(args) == 1 and isinstance(args[0], Tensor):
            other = args[0]
            if other.dtype != self.dtype:
                raise TypeError(f"new(): expected a tensor of dtype {self.dtype}, got "
                                f"{other.dtype}")
            return Tensor.wrap(other.array) if other.device == device else other.detach().to(device)
        def is_int(v):
            return (not isinstance(v, bool) and hasattr(v, "__index__")
                    and getattr(v, "ndim", 0) == 0)

        if len(args) == 1 and not isinstance(args[0], Size) and not is_int(args[0]):
            data = args[0]
            if isinstance(data, str) or not (hasattr(data, "__len__") or hasattr(data, "shape")):
                raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
            return self.new_tensor(data, device=device)
        size = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
        for s in size:
            if not is_int(s):
                raise TypeError(f"new(): expected ints for the size, got {type(s).__name__}")
        return self.new_empty(tuple(int(s) for s in size) if size else (0,), device=device)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A copy of ``data`` with this tensor's dtype and device (unless given)."""
        return Tensor(data, dtype=self.dtype if dtype is None else dtype,
                      device=self.device if device is None else device,
                      requires_grad=requires_grad)

    def half(self):
        return self.to(backend.dtype("float16"))

    def int(self):
        return self.to(backend.dtype("int32"))

    def short(self):
        return self.to(backend.dtype("int16"))

    def char(self):
        return self.to(backend.dtype("int8"))

    def byte(self):
        return self.to(backend.dtype("uint8"))

    def type(self, dtype=None, non_blocking=False):
        """``type()``: torch's name of this tensor type ('torch.FloatTensor',
        'torch.cuda.LongTensor'); ``type(t)``: cast to ``t`` (a dtype, a name such as
        'torch.DoubleTensor', or a tensor type such as ``FloatTensor``)."""
        if dtype is None:
            name = _TYPE_NAMES.get(self.dtype.name)
            if name is None:
                raise TypeError(f"type(): no torch tensor type for dtype {self.dtype}")
            return ("torch.cuda." if self.is_cuda else "torch.") + name
        if isinstance(dtype, str) and dtype.startswith("torch."):
            kind, dev = dtype[len("torch."):], "cpu"
            if kind.startswith("cuda."):
                kind, dev = kind[len("cuda."):], "cuda"
            by_name = {v: k for k, v in _TYPE_NAMES.items()}
            if kind not in by_name:
                raise TypeError(f"type(): unknown tensor type {dtype!r}")
            return self.to(dev).to(by_name[kind])
        if hasattr(dtype, "tensor_type_of"):   # FloatTensor, cuda.LongTensor, ...
            return self.to(dtype.device).to(dtype.dtype)
        return self.to(dtype)

    def __format__(self, format_spec):
        """A 0-d tensor formats as its number (``f"{loss:.4f}"``); others as ``str``."""
        if self.array.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def t(self):
        """The transpose of a matrix (vectors and scalars unchanged)."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def mm(self, mat2):
        """Matrix product of two 2-D tensors."""
        mat2 = _as_tensor(mat2, like=self)
        if self.ndim != 2 or mat2.ndim != 2:
            raise RuntimeError(f"mm(): expected two matrices, got shapes {tuple(self.shape)} and "
                               f"{tuple(mat2.shape)}")
        return matmul(self, mat2)

    def bmm(self, mat2):
        """Batched matrix product: (b, n, m) @ (b, m, p) -> (b, n, p)."""
        mat2 = _as_tensor(mat2, like=self)
        if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0]:
            raise RuntimeError(f"bmm(): expected two 3-D tensors with the same batch size, got "
                               f"shapes {tuple(self.shape)} and {tuple(mat2.shape)}")
        return matmul(self, mat2)

    def narrow(self, dim, start, length):
        """The slice ``start : start + length`` of dim ``dim`` (a view)."""
        d = _axes(dim, self.ndim)[0]
        n = self.shape[d]
        start = _scalar(start)
        if not -n <= start <= n:
            raise IndexError(f"narrow(): start {start} is out of range for dim {dim} of size {n}")
        start %= n if n else 1
        if length < 0 or start + length > n:
            raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension "
                               f"size ({n})")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def masked_fill(self, mask, value):
        """``value`` where the boolean ``mask`` (broadcast to this shape) holds, else self."""
        mask_arr = mask.array if isinstance(mask, Tensor) else backend.as_array(
            mask, device=self.device)
        if mask_arr.dtype.kind != "b":
            raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with "
                               f"dtype {mask_arr.dtype}")
        xp = backend.get_array_module(self.array)
        try:
            fits = backend.broadcast_shapes(mask_arr.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"masked_fill: the mask of shape {tuple(mask_arr.shape)} does not "
                               f"broadcast to the tensor's shape {tuple(self.shape)}")
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, "
                                   f"but got tensor with {value.ndim} dimension(s)")
            value = value.to(self.dtype)
        else:
            if type(value) is int and self.array.dtype.kind in "ui":
                value = _wrapped_int(value, self.array)      # (uint8 and -1: 255, as torch)
            value = Tensor.wrap(xp.asarray(value, dtype=self.dtype))
        return Where.apply(mask_arr, value, self)

    def _triangle(self, diagonal, lower):
        if self.ndim < 2:
            raise RuntimeError(f"{'tril' if lower else 'triu'}: input tensor must have at least "
                               f"2 dimensions, got shape {tuple(self.shape)}")
        xp = backend.get_array_module(self.array)
        n, m = self.shape[-2:]
        keep = xp.tri(n, m, k=diagonal, dtype=bool) if lower else \
            ~xp.tri(n, m, k=diagonal - 1, dtype=bool)
        return Where.apply(keep, self, Tensor.wrap(xp.zeros((), dtype=self.dtype)))

    def tril(self, diagonal=0):
        """The lower triangle (j - i <= diagonal) of the last two dims; zeros above."""
        return self._triangle(diagonal, True)

    def triu(self, diagonal=0):
        """The upper triangle (j - i >= diagonal) of the last two dims; zeros below."""
        return self._triangle(diagonal, False)

    def diag(self, diagonal=0):
        """1-D: the square matrix with this vector on diagonal ``diagonal``; 2-D: that diagonal."""
        xp = backend.get_array_module(self.array)
        if self.ndim == 1:
            n, k = self.shape[0], diagonal
            size = n + builtins.abs(k)
            rows = xp.arange(size).reshape(-1, 1)
            cols = xp.arange(size).reshape(1, -1)
            v = self.pad((0, builtins.abs(k)))            # v_ext, zeros past the end
            src = v.reshape(-1, 1) if k >= 0 else v.reshape(1, -1)
            zero = Tensor.wrap(xp.zeros((), dtype=self.dtype))
            return Where.apply((cols - rows) == k, src.expand(size, size), zero)
        if self.ndim == 2:
            n, m = self.shape
            start_r, start_c = (0, diagonal) if diagonal >= 0 else (-diagonal, 0)
            length = builtins.max(0, builtins.min(n - start_r, m - start_c))
            idx = xp.arange(length)
            return GetItem.apply(self, index=(idx + start_r, idx + start_c))
        raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got shape {tuple(self.shape)}")

    def flip(self, *dims):
        """The order of the elements reversed along ``dims``."""
        axes = _axes(_shape_arg(dims) if dims else (), self.ndim)
        return self[tuple(slice(None, None, -1) if i in axes else slice(None)
                          for i in range(self.ndim))]

    def roll(self, shifts, dims=None):
        """Elements shifted by ``shifts`` along ``dims`` (wrapping around); without ``dims``,
        along the flattened tensor."""
        if dims is None:
            if not isinstance(shifts, int):
                raise RuntimeError("roll(): without dims, shifts must be one int")
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shifts) != len(dims):
            raise RuntimeError(f"roll(): shifts {shifts} and dims {dims} must have the same "
                               "length")
        xp = backend.get_array_module(self.array)
        out = self
        for shift, dim in zip(shifts, dims):
            d = _axes(dim, self.ndim)[0]
            n = self.shape[d]
            if n and shift % n:
                out = out[(slice(None),) * d + ((xp.arange(n) - shift) % n,)]
        return out

    def cumsum(self, dim, dtype=None):
        """Cumulative sum along ``dim`` (integers and bools accumulate in int64)."""
        x = self if dtype is None else self.to(dtype)
        if not backend.is_floating(x.dtype):
            x = x.to(_INT64)
        if x.ndim == 0:
            _axes(dim, 0)
            return x.clone()
        return Cumsum.apply(x, axis=_axes(dim, self.ndim)[0])

    def _take_along(self, index, dim):
        """``self[..., index, ...]`` along ``dim`` with ``index`` shaped like the output
        (torch's gather; differentiable, repeats accumulate)."""
        xp = backend.get_array_module(self.array)
        index = index.array if isinstance(index, Tensor) else xp.asarray(index)
        if index.ndim != self.ndim:
            raise RuntimeError(f"gather(): index has {index.ndim} dims but the tensor has "
                               f"{self.ndim}")
        if index.dtype.kind not in "iu":
            raise RuntimeError(f"gather(): expected an integer index, got dtype {index.dtype}")
        if self.ndim == 0:
            return self.clone()
        d = _axes(dim, self.ndim)[0]
        n = self.shape[d]
        if index.size and (int(index.min()) < 0 or int(index.max()) >= n):
            raise IndexError(f"gather(): index out of range for dim {dim} of size {n}")
        for i, (s, t) in enumerate(zip(index.shape, self.shape)):
            if i != d and s > t:
                raise RuntimeError(f"gather(): index shape {tuple(index.shape)} is larger than the "
                                   f"tensor's {tuple(self.shape)} in dim {i}")
        mesh = tuple(index if i == d else
                     xp.arange(s).reshape(tuple(-1 if j == i else 1 for j in range(self.ndim)))
                     for i, s in enumerate(index.shape))
        return GetItem.apply(self, index=mesh)

    def gather(self, dim, index):
        """out[i][j] = self[i][index[i][j]] (dim 1), and so on: torch's gather."""
        return self._take_along(index, dim)

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along ``dim`` (equal elements keep their order; NaN sorts
        as the largest value, as torch); values are differentiable."""
        idx = _argsort(self, dim, descending)
        return return_types.sort(self._take_along(idx, dim), Tensor.wrap(idx))

    def argsort(self, dim=-1, descending=False, stable=False):
        return Tensor.wrap(_argsort(self, dim, descending))

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """(values, indices) of the ``k`` largest (smallest) elements along ``dim``."""
        d = _axes(dim, self.ndim)[0] if self.ndim else 0
        n = self.shape[d] if self.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(f"topk(): k ({k}) is out of range for dim {dim} of size {n}")
        idx = _argsort(self, dim, largest)
        if self.ndim:
            idx = idx[(slice(None),) * d + (slice(0, k),)]
        return return_types.topk(self._take_along(idx, dim), Tensor.wrap(idx))

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (sorted), optionally the inverse indices (shaped like the input)
        and the counts; not differentiable (as torch)."""
        xp = backend.get_array_module(self.array)
        res = xp.unique(self.array, return_inverse=True, return_counts=True, axis=dim,
                        equal_nan=False)    # (each NaN is a value of its own, as torch)
        values, inverse, counts = res
        inverse = inverse.reshape(self.shape if dim is None else (self.shape[dim],))
        out = [Tensor.wrap(values)]
        if return_inverse:
            out.append(Tensor.wrap(inverse.astype(_INT64)))
        if return_counts:
            out.append(Tensor.wrap(counts.astype(_INT64)))
        return out[0] if len(out) == 1 else tuple(out)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """Category indices drawn with probabilities proportional to the rows of this 1-D or
        2-D tensor of non-negative weights (int64; not differentiable)."""
        return _multinomial(self, num_samples, replacement, generator)

    def log1p(self):
        """ln(1 + x)."""
        return Log1p.apply(_floating(self))

    def expm1(self):
        """e^x - 1."""
        return Expm1.apply(_floating(self))

    def _step(self, kind, decimals=0):
        if not backend.is_floating(self.dtype):
            if kind != "sign" or self.array.dtype.kind == "b":
                return self.clone()
            return Tensor.wrap(backend.get_array_module(self.array).sign(self.array))
        return Step.apply(self, kind=kind, decimals=decimals)

    def floor(self):
        return self._step("floor")

    def ceil(self):
        return self._step("ceil")

    def trunc(self):
        return self._step("trunc")

    def round(self, decimals=0):
        """Round half to even (to ``decimals`` places)."""
        return self._step("round", decimals)

    def frac(self):
        """x - trunc(x)."""
        return self - self.trunc()

    def reciprocal(self):
        return 1.0 / _floating(self)

    def log2(self):
        """log_2 x = ln x / ln 2."""
        return self.log() * (1.0 / math.log(2.0))

    def log10(self):
        """log_10 x = ln x / ln 10."""
        return self.log() * (1.0 / math.log(10.0))

    def clamp_min(self, min):
        return self.clamp(min=min)

    def clamp_max(self, max):
        return self.clamp(max=max)

    def is_floating_point(self):
        return backend.is_floating(self.dtype)

    def ndimension(self):
        return self.ndim

    def masked_select(self, mask):
        """The elements where the boolean ``mask`` (broadcast with self) holds, as a 1-D tensor
        in row-major order (differentiable)."""
        mask_arr = mask.array if isinstance(mask, Tensor) else backend.as_array(
            mask, device=self.device)
        if mask_arr.dtype.kind != "b":
            raise RuntimeError(f"masked_select: expected a boolean mask, got dtype "
                               f"{mask_arr.dtype}")
        shape = backend.broadcast_shapes(mask_arr.shape, self.shape)
        xp = backend.get_array_module(self.array)
        return self.expand(*shape)[xp.broadcast_to(mask_arr, shape)]

    def nonzero(self, *, as_tuple=False):
        """The indices of the non-zero elements: an (n, ndim) int64 tensor, or with
        ``as_tuple`` one 1-D tensor per dim."""
        xp = backend.get_array_module(self.array)
        idx = xp.nonzero(self.array.reshape(1) if self.ndim == 0 else self.array)
        idx = tuple(Tensor.wrap(i.astype(_INT64, copy=False)) for i in idx)
        if as_tuple:
            return idx
        return Tensor.wrap(xp.stack([i.array for i in idx], axis=1) if self.ndim else
                           xp.zeros((int(idx[0].shape[0]), 0), dtype=_INT64))

    def all(self, dim=None, keepdim=False):
        """True where every element (along ``dim``) is non-zero."""
        return self._logical_reduce("all", dim, keepdim)

    def any(self, dim=None, keepdim=False):
        """True where some element (along ``dim``) is non-zero."""
        return self._logical_reduce("any", dim, keepdim)

    def _logical_reduce(self, how, dim, keepdim):
        dim = tuple(dim) if isinstance(dim, list) else dim
        axes = _axes(dim, self.ndim)
        xp = backend.get_array_module(self.array)
        out = getattr(xp, how)(self.array, axis=axes if self.ndim else None, keepdims=keepdim)
        out = backend.ensure_array(out)
        if self.array.dtype == _UINT8:      # (torch keeps uint8, every other dtype gives bool)
            out = out.astype(_UINT8)
        return Tensor.wrap(out)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def unbind(self, dim=0):
        d = _axes(dim, self.ndim)[0]
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def index_select(self, dim, index):
        """The entries ``index`` (1-D integer) of dim ``dim``."""
        idx = index.array if isinstance(index, Tensor) else backend.as_array(
            index, device=self.device)
        if idx.ndim > 1:
            raise IndexError("index_select(): index must be 0-D or 1-D")
        d = _axes(dim, self.ndim)[0]
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def outer(self, vec2):
        """The outer product of two vectors."""
        vec2 = _as_tensor(vec2, like=self)
        if self.ndim != 1 or vec2.ndim != 1:
            raise RuntimeError(f"outer(): expected two 1-D tensors, got {tuple(self.shape)}, "
                               f"{tuple(vec2.shape)}")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    def dot(self, other):
        """The inner product of two 1-D tensors."""
        other = _as_tensor(other, like=self)
        if self.ndim != 1 or other.ndim != 1 or self.shape != other.shape:
            raise RuntimeError(f"dot(): expected two 1-D tensors of the same size, got "
                               f"{tuple(self.shape)}, {tuple(other.shape)}")
        return matmul(self, other)


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


def _add_scaled(x, other, alpha):
    """x + alpha * other (``add_``, ``sub_``)."""
    return x + other if alpha == 1 else x + other * alpha


def _alpha_form(other, args, alpha):
    """(other, alpha) of ``add_(other, alpha=a)`` or of the deprecated ``add_(a, other)``."""
    if not args:
        return other, alpha
    if len(args) > 1 or not isinstance(other, numbers.Number):
        raise TypeError("add_()/sub_() take (other, *, alpha=1) or (alpha, other)")
    return args[0], other


def _times(x, other, alpha):
    return x * other        # (``mul_``; alpha is always 1)


def _divided(x, other, alpha):
    return x / other        # (``div_``; alpha is always 1)


def _replaced(x, value):
    """``value`` broadcast to ``x``'s shape, through ``where`` so that the gradient flows to a
    ``value`` that requires grad and not to ``x`` (``fill_``, ``copy_``, random fills)."""
    keep = backend.get_array_module(x.array).zeros(x.shape, dtype=bool)
    return where(keep, x, value)


def _rng(t, generator):
    """The draws' source: a ``Generator`` (or a NumPy/CuPy generator), else the device's."""
    if generator is None:
        return backend.get_rng(backend.device_of(t.array))
    return getattr(generator, "rng", generator)


def _draw_dtype(t):
    return t.dtype if t.dtype == backend.dtype("float64") else _FLOAT32


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
        kind = self.array.dtype.kind
        if kind != "f":
            if cls is float:
                self = self.float()
            elif kind in "ui":
                other = _wrapped_int(other, self.array)
    elif isinstance(other, Tensor):
        if self.array.dtype != other.array.dtype:
            self, other = _promoted(self, other)
    elif isinstance(other, numbers.Number) and not isinstance(other, complex):
        if type(other) not in (bool, int, float):
            other = other.item()   # a NumPy scalar: weak like a Python one
        if isinstance(other, float) and self.array.dtype.kind != "f":
            self = self.float()
    else:
        other = _as_tensor(other, like=self)     # (a list or an array: not weak)
        if other.array.dtype != self.array.dtype:
            self, other = _promoted(self, other)
    return (other, self) if reflected else (self, other)


def _wrapped_int(value, array):
    """A Python int operand of an integer ``array`` of fewer than 64 bits: as it is when the
    dtype holds it, else wrapped into the dtype (torch: uint8 - 1 is uint8 + 255; NumPy
    raises OverflowError)."""
    dtype = array.dtype
    bits = 8 * dtype.itemsize
    if bits >= 64:
        return value
    low = 0 if dtype.kind == "u" else -(1 << (bits - 1))
    if low <= value < low + (1 << bits):
        return value
    return backend.as_array(value % (1 << bits), device=backend.device_of(array)).astype(dtype)


def _promoted(a, b):
    """Tensors ``a`` and ``b`` of different dtypes, cast as torch promotes them.

    An integer (or bool) tensor meeting a floating one takes the floating dtype (torch:
    int64 + float32 -> float32, where NumPy would give float64).  A 0-d tensor meeting a
    tensor with dimensions in the same category (or a lower one) takes that tensor's dtype
    (float32 + 0-d float64 -> float32, int32 + 0-d int64 -> int32, uint8 + 0-d int64 ->
    uint8); other pairs are left to NumPy, whose promotion is torch's there.
    """
    da, db = a.array.dtype, b.array.dtype
    ka, kb = _KIND_RANK.get(da.kind, 3), _KIND_RANK.get(db.kind, 3)
    zero_a, zero_b = a.array.ndim == 0, b.array.ndim == 0
    if zero_a != zero_b:
        if zero_a and ka <= kb:
            return a.to(db), b
        if zero_b and kb <= ka:
            return a, b.to(da)
    if ka == 2 and kb != 2:
        return a, b.to(da)
    if kb == 2 and ka != 2:
        return a.to(db), b
    return a, b


def _integer_divisor(a, b):
    """True when the operands ``a`` (a Tensor) and ``b`` of an integer division are both
    integers; then a zero in ``b`` raises torch's error."""
    if _is_float(a) or _is_float(b):
        return False
    xb = b.array if isinstance(b, Tensor) else b
    if bool((xb == 0).any()) if backend.is_array(xb) else xb == 0:
        raise RuntimeError("ZeroDivisionError")     # (torch's message)
    return True


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
    """An index with Tensors and lists replaced by arrays on ``device`` (``[]`` selects
    nothing).  Negative slice steps are kept (NumPy's; torch refuses them)."""
    if isinstance(index, tuple):
        return tuple(_raw_index(i, device) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return backend.as_array(index, dtype=None if index else _INT64, device=device)
    return index


_BASIC_INDEX_TYPES = (slice, int, type(None), type(Ellipsis))


def _torch_order(index, array):
    """The raw ``index`` rewritten, where needed, so that NumPy's indexing of ``array`` gives
    torch's layout.

    torch applies integers (and 0-d integer tensors) first, as basic indexing, then the
    advanced indices to what is left; NumPy counts the integers among the advanced indices.
    They differ when integers and index arrays are separated by a slice, None or Ellipsis
    only through the integers (``x[1, :, idx]``: torch (4, 2) for x of shape (3, 4, 5), NumPy
    (2, 4)); then the positions torch reads are gathered into one index of arrays (through a
    grid of flat positions), which also serves ``x[1, :, idx] = v``.
    """
    if type(index) is not tuple:
        return index
    for i in index:
        if type(i) not in _BASIC_INDEX_TYPES:
            break
    else:
        return index                  # (the common case, at once)
    kinds = []
    for i in index:
        if backend.is_array(i):
            kinds.append("i" if i.ndim == 0 and i.dtype.kind in "iu" else "a")
        elif isinstance(i, numbers.Integral) and not isinstance(i, bool):
            kinds.append("i")
        else:
            kinds.append("b")
    if "a" not in kinds or "i" not in kinds:
        return index
    advanced = [p for p, k in enumerate(kinds) if k != "b"]
    if "b" not in kinds[advanced[0]:advanced[-1] + 1]:
        return index                  # one group for NumPy too, at torch's place
    arrays = [p for p, k in enumerate(kinds) if k == "a"]
    if "b" in kinds[arrays[0]:arrays[-1] + 1]:
        return index                  # separated for torch too: both put them in front
    basic, rest = [], []
    for i, k in zip(index, kinds):
        if k == "i":
            basic.append(i)
        elif k == "a":
            basic.extend([slice(None)] * (i.ndim if i.dtype.kind == "b" else 1))
            rest.append(i)
        else:
            basic.append(i)
            rest.append(Ellipsis if i is Ellipsis else slice(None))
    xp = backend.get_array_module(array)
    flat = xp.arange(array.size).reshape(array.shape)[tuple(basic)][tuple(rest)]
    return xp.unravel_index(flat, array.shape)


_NOT_GIVEN = object()   # (an argument left out, where None is a value)


class _Uninitialised:
    """Marks ``Tensor(*sizes)``: allocate ``shape`` without filling it."""

    def __init__(self, shape):
        self.shape = shape


def _sizes_or_flag(data, sizes, requires_grad):
    """``Tensor(3, 4)`` (sizes, as torch) or the older ``Tensor(data, True)``."""
    if len(sizes) == 1 and isinstance(sizes[0], bool):
        return data, sizes[0]
    dims = (data,) + sizes
    if all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims):
        if any(d < 0 for d in dims):
            raise RuntimeError(f"Tensor(): negative dimension in sizes {tuple(dims)}")
        return _Uninitialised(tuple(int(d) for d in dims)), requires_grad
    raise TypeError(f"Tensor(): expected data (a sequence, array or number) or sizes (ints), "
                    f"got {tuple(type(d).__name__ for d in dims)}; pass requires_grad=, "
                    f"dtype= and device= by keyword")


def _dtype_view(t, dtype):
    """``t.view(dtype)`` (torch's checks: a different element size needs a last dim of stride
    1 whose size the ratio divides)."""
    a = t.array
    old, new = a.dtype.itemsize, dtype.itemsize
    if old != new:
        if a.ndim == 0 or a.strides[-1] != old:
            raise RuntimeError(f"self.stride(-1) must be 1 to view {a.dtype} as {dtype} "
                               f"(different element sizes), but got "
                               f"{a.strides[-1] // old if a.ndim else 'a 0-d tensor'}")
        if new > old and (a.shape[-1] * old) % new:
            raise RuntimeError(f"self.size(-1) must be divisible by {new // old} to view "
                               f"{a.dtype} as {dtype} (different element sizes), but got "
                               f"{a.shape[-1]}")
    out = Tensor.wrap(a.view(dtype))
    out._vbox = version_box(t)
    return out


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


def _reduced_axes(dim, ndim):
    """The axes a reduction over ``dim`` covers: ``_axes``'s, except that a 0-d tensor has
    none (its dim 0 or -1 is accepted, as torch)."""
    axes = _axes(dim, ndim)
    return axes if ndim else ()


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
    axis = None if dim is None or isinstance(dim, tuple) or t.ndim == 0 else _axes(dim, t.ndim)[0]
    if data.size == 0 and (axis is None or data.shape[axis] == 0):
        raise IndexError(f"{name}(): expected a reduction dim of non-zero size (shape "
                         f"{tuple(t.shape)}, dim {dim})")     # (torch's error type)
    if dim is None:
        out = getattr(data.reshape(-1), name)()
        if keepdim:
            out = backend.ensure_array(out).reshape((1,) * t.ndim)
    else:
        if isinstance(dim, tuple):
            raise TypeError(f"{name}(): argument 'dim' must be int, not tuple")
        axis = _axes(dim, t.ndim)[0]
        out = getattr(data.reshape(1) if t.ndim == 0 else data, name)(
            axis=axis, keepdims=keepdim and t.ndim > 0)
    return Tensor.wrap(backend.ensure_array(out).astype(_INT64, copy=False))


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _argsort(t, dim, descending):
    """The raw int64 indices that sort ``t`` along ``dim`` (stable; NaN as the largest)."""
    a = t.array
    xp = backend.get_array_module(a)
    if a.ndim == 0:
        _axes(dim, 0)
        return xp.zeros((), dtype=_INT64)
    d = _axes(dim, a.ndim)[0]
    if not descending:
        return xp.argsort(a, axis=d, kind="stable").astype(_INT64, copy=False)
    key = a.astype(_INT64) if a.dtype.kind in "bu" else a
    idx = xp.argsort(-key, axis=d, kind="stable")       # NaN (as -NaN) still sorts last
    if a.dtype.kind == "f":
        nan = xp.take_along_axis(xp.isnan(a), idx, axis=d)
        if bool(nan.any()):                              # torch puts NaN first when descending
            idx = xp.take_along_axis(idx, xp.argsort(~nan, axis=d, kind="stable"), axis=d)
    return idx.astype(_INT64, copy=False)


def _multinomial(t, num_samples, replacement, generator):
    """Rows of category indices drawn from the weights ``t`` (1-D or 2-D).

    With replacement: inverse-CDF sampling, all rows in one ``searchsorted`` (row r's CDF is
    shifted by r).  Without: the ``num_samples`` largest keys log(1 - u) / w (Efraimidis and
    Spirakis's weighted sampling without replacement), zero weights never drawn.
    """
    if t.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got shape "
                           f"{tuple(t.shape)}")
    if not backend.is_floating(t.dtype):
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got "
                           f"{t.dtype}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or \
            num_samples <= 0:
        raise RuntimeError(f"multinomial(): cannot sample n_sample <= 0 samples "
                           f"(got {num_samples!r})")
    xp = backend.get_array_module(t.array)
    w = t.array.reshape(-1, t.shape[-1]).astype("float64")
    rows, n = w.shape
    if not replacement and num_samples > n:
        raise RuntimeError("multinomial(): cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    if not bool(xp.isfinite(w).all()) or bool((w < 0).any()):
        raise RuntimeError("multinomial(): probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    sums = w.sum(axis=1)
    if bool((sums <= 0).any()):
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    rng = rng_of(generator, t.device)
    offsets = xp.arange(rows).reshape(-1, 1)
    if replacement:
        cdf = xp.cumsum(w, axis=1) / sums.reshape(-1, 1)
        cdf[:, -1] = 1.0
        u = rng.random((rows, num_samples))
        pos = xp.searchsorted((cdf + offsets).reshape(-1), (u + offsets).reshape(-1),
                              side="right").reshape(rows, num_samples) - offsets * n
        out = xp.clip(pos, 0, n - 1)
    else:
        if bool(((w > 0).sum(axis=1) < num_samples).any()):
            raise RuntimeError("multinomial(): invalid multinomial distribution (with "
                               "replacement=False, not enough non-negative category to sample)")
        u = rng.random((rows, n))
        keys = xp.where(w > 0, xp.log1p(-u) / xp.where(w > 0, w, 1.0), -xp.inf)
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor.wrap(out.astype(_INT64).reshape(t.shape[:-1] + (num_samples,)))


# ---- module-level functions (torch's twins) ---------------------------------------------------
def matmul(a, b):
    a = _as_tensor(a)
    b = _as_tensor(b, like=a)
    return MatMul.apply(a, b)


def maximum(a, b):
    return Maximum.apply(*_operand_tensors(a, b))


def minimum(a, b):
    return Minimum.apply(*_operand_tensors(a, b))


def _operand_tensors(a, b):
    """``a`` and ``b`` as Tensors of one promoted dtype (``_binary``'s rules; a Python
    number takes the tensor's dtype, so maximum(float32, 2) stays float32)."""
    if not isinstance(a, Tensor) and isinstance(b, Tensor):
        b, a = _operand_tensors(b, a)
        return a, b
    a, b = _binary(_as_tensor(a), b)
    if isinstance(b, numbers.Number):
        if a.array.dtype.kind == "b" and not isinstance(b, bool):
            a = a.to(_INT64)        # (as bool + int)
        return a, Tensor(b, dtype=a.dtype, device=a.device)
    if backend.is_array(b) and b.ndim == 0 and b.dtype == a.dtype:
        return a, Tensor.wrap(b)    # (a wrapped integer, _wrapped_int)
    return a, _as_tensor(b, like=a)


def where(condition, a=_NOT_GIVEN, b=_NOT_GIVEN):
    """Elementwise ``a`` where ``condition`` else ``b`` (differentiable in a and b), dtypes
    promoted as the arithmetic operators do (Python numbers weak).  ``where(condition)``
    alone is ``condition.nonzero(as_tuple=True)``, as torch."""
    if a is _NOT_GIVEN and b is _NOT_GIVEN:
        return _as_tensor(condition).nonzero(as_tuple=True)
    if a is _NOT_GIVEN or b is _NOT_GIVEN:
        raise TypeError("where(): expected where(condition) or where(condition, input, other)")
    cond = condition.array if isinstance(condition, Tensor) else condition
    device = backend.device_of(cond)
    if device == "cpu" and getattr(cond, "ndim", None) == 0:   # a CPU scalar condition
        gpu = [v.device for v in (a, b) if isinstance(v, Tensor) and v.device != "cpu"]
        if gpu:
            device = gpu[0]
            cond = backend.to_device(cond, device)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a, device=device)      # two numbers: on the condition's device
    # a 0-d CPU tensor joins a condition on the GPU (torch's CPU scalars)
    a, b = (v.to(device) if isinstance(v, Tensor) and v.device != device and v.ndim == 0
            and not v.requires_grad and v.device == "cpu" else v for v in (a, b))
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.array.dtype != b.array.dtype:
            a, b = _promoted(a, b)
    else:
        # a Python number is weak, as in the arithmetic operators (torch's result_type)
        ref, other = (a, b) if isinstance(a, Tensor) else (b, a)
        ref, other = _operand_tensors(ref, other)
        a, b = (ref, other) if isinstance(a, Tensor) else (other, ref)
    return Where.apply(cond.astype(bool, copy=False), a, b)


def cat(tensors, dim=0, *, axis=None):
    """Concatenate along an existing dim.  As torch: the dtypes promote (int64 with float32
    is float32), and 1-D empty tensors (shape (0,)) are skipped, whatever the others' shape
    (``torch.cat([torch.tensor([]), x])``, the accumulator idiom)."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat(): expected a non-empty sequence of tensors")
    dim = axis if axis is not None else dim
    floats = [t.array.dtype for t in tensors if t.array.dtype.kind == "f"]
    if floats and len(floats) < len(tensors):
        xp = backend.get_array_module(tensors[0].array)
        target = floats[0]
        for d in floats[1:]:
            target = xp.promote_types(target, d)
        tensors = [t if t.array.dtype.kind == "f" else t.to(target) for t in tensors]
    shaped = next((t for t in tensors if t.shape != (0,)), tensors[0])
    ndim = shaped.ndim
    if ndim == 0:
        raise RuntimeError("cat(): zero-dimensional tensor cannot be concatenated")
    dim = _axes(dim, ndim)[0]
    if ndim > 1:            # a (0,) tensor as an empty slab of the others' shape
        empty = shaped.shape[:dim] + (0,) + shaped.shape[dim + 1:]
        tensors = [t.reshape(empty) if t.shape == (0,) else t for t in tensors]
    for t in tensors[1:]:
        if t.ndim != ndim:
            raise RuntimeError(f"cat(): tensors must have the same number of dimensions, got "
                               f"shapes {tuple(tensors[0].shape)} and {tuple(t.shape)}")
        for d in range(ndim):
            if d != dim and t.shape[d] != tensors[0].shape[d]:
                raise RuntimeError(f"cat(): sizes must match except in dim {dim}, got shapes "
                                   f"{tuple(tensors[0].shape)} and {tuple(t.shape)}")
    return Cat.apply(*tensors, axis=dim)


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
                               f"{tuple(tensors[0].shape)} and {tuple(t.shape)}")
    dim = _axes(dim, tensors[0].ndim + 1)[0]
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller; one empty piece of an
    empty dim, as torch), or the given sizes."""
    dim = _axes(dim, tensor.ndim)[0]
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split(): split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) or [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise ValueError(f"split(): sizes {sizes} do not add up to {n} (dim {dim} of shape "
                             f"{tuple(tensor.shape)})")
    out = []
    start = 0
    lead = (slice(None),) * dim
    for s in sizes:
        out.append(tensor[lead + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(tensor, chunks, dim=0):
    """``chunks`` pieces of ceil(n / chunks) along ``dim`` (fewer when they cover n sooner;
    ``chunks`` empty pieces of an empty dim, as torch)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = tensor.shape[_axes(dim, tensor.ndim)[0]]
    if n == 0:
        return split(tensor, [0] * chunks, dim)
    return split(tensor, -(-n // chunks), dim)


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
from .autograd.function import ShapeError  # noqa: E402
from .autograd.engine import backward as _backward_into, run_backward  # noqa: E402
from .autograd.inplace import (OVERLAP_ERROR, apply_inplace,  # noqa: E402
                               arithmetic_inplace, assign_inplace, reshape_inplace)
from .autograd.versions import bump_version, share_version, version_box  # noqa: E402
from .ops.elementwise import (Abs, Add, Cast, Clamp, ClampTensor, Copy, Cos,  # noqa: E402
                              Div, DivRounded, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                              ReLU, Remainder, Sigmoid, Sin, Sqrt, Sub, Tanh, ToDevice, Where)
from .ops.linalg import MatMul  # noqa: E402
from .ops.reduction import (Extremum, ExtremumDim, Mean, Prod, Sum,  # noqa: E402
                           normalize_axes)
from .ops.shape import Cat, ConstantPad, Expand, GetItem, Permute, Reshape  # noqa: E402
from .ops.softmax import LogSoftmax, Softmax  # noqa: E402
from .ops.unary import Expm1, Log1p, Step  # noqa: E402
from .ops.scan import Cumsum  # noqa: E402
from .sparse import to_sparse  # noqa: E402
