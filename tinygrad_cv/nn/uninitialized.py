"""Parameters and buffers whose shape is not known yet (torch's ``nn.UninitializedParameter``,
``nn.UninitializedBuffer``), held by the lazy modules (``nn.layers.lazy``) until their first
forward.

An uninitialised tensor keeps a dtype, a device and ``requires_grad`` but no values: its
storage is a 0-element placeholder.  ``materialize(shape, device=None, dtype=None)`` gives it
fresh (uninitialised) storage of that shape and turns the *same object* into a ``Parameter``
(a plain ``Tensor`` for a buffer), so whatever already holds it (an optimizer built before the
first forward, a list of parameters) holds the real parameter afterwards, as in torch.

Before that, as torch:

* ``.shape`` raises RuntimeError; ``repr`` is ``<UninitializedParameter>``;
* dtype and device conversions (``module.to``, ``.double()``, ``.cuda()``) change what
  ``materialize`` will make;
* math on it raises ``ValueError("Attempted to use an uninitialized parameter in <op>...")``:
  the placeholder is a 0-element NumPy array whose every operation (ufunc or array function)
  raises that error, so it surfaces from whatever op touches the values; the Tensor methods
  that would not reach NumPy (views, ``clone``, indexing, ``tolist``, fills) raise it
  directly (``size()`` is allowed, as torch).  The placeholder stays on the CPU
  whatever the tensor's device: the device (``cuda`` after ``module.cuda()``) is recorded on
  it, ``.device`` reports it and ``materialize`` allocates there; an array assigned to the
  tensor (``module.to`` moving or casting it) becomes a placeholder of that device and dtype.
  (Combined with a GPU tensor, the op's device check may speak first.)
"""
from __future__ import annotations

from .. import backend
from ..creation import get_default_dtype
from ..devices import device as _device, placement
from ..tensor import Tensor
from .module import Parameter

__all__ = ["UninitializedParameter", "UninitializedBuffer", "is_lazy"]


def _use_error(kind, op):
    return ValueError(
        f"Attempted to use an uninitialized parameter in {op}. This error happens when you are "
        f"using a `LazyModule` or explicitly manipulating `nn.parameter.{kind}` objects. When "
        f"using LazyModules call `forward` with a dummy batch to initialize the parameters "
        f"before calling torch functions")


class _Placeholder(backend.module_for_device("cpu").ndarray):
    """The 0-element CPU storage of an uninitialised tensor: any NumPy operation on it raises
    (methods that only look at it or convert it, such as ``astype``, work)."""

    def __array_finalize__(self, obj):       # casts and copies keep what it stands for
        for name in ("kind", "target", "persistent"):
            if hasattr(obj, name):
                setattr(self, name, getattr(obj, name))

    def __reduce__(self):                     # pickle keeps what it stands for too
        return (_placeholder, (self.kind, self.target, self.dtype.str, self.persistent))

    def __setitem__(self, index, value):      # writes (init.constant_, fills) too
        raise _use_error(getattr(self, "kind", "UninitializedParameter"), "__setitem__")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise _use_error(getattr(self, "kind", "UninitializedParameter"), ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        raise _use_error(getattr(self, "kind", "UninitializedParameter"), func.__name__)


_SLOT = Tensor.array     # the storage slot the placeholder occupies until materialize


def _placeholder(kind, device, dtype, persistent=True):
    """A 0-element CPU placeholder remembering the tensor's ``device`` and ``dtype``."""
    dtype = backend.dtype(dtype) if dtype is not None else get_default_dtype()
    device = placement(device) if device is not None else backend.get_default_device()
    backend.module_for_device(device)            # a GPU without CuPy raises here, as torch
    arr = backend.module_for_device("cpu").empty((0,), dtype=dtype).view(_Placeholder)
    arr.kind, arr.target, arr.persistent = kind, device, persistent
    return arr


class _Uninitialized:
    """What the two uninitialised kinds share (torch's ``UninitializedTensorMixin``)."""

    __slots__ = ()
    cls_to_become = Tensor

    @property
    def array(self):
        return _SLOT.__get__(self)

    @array.setter
    def array(self, value):
        if not isinstance(value, _Placeholder):      # moved or cast: keep a placeholder
            held = _SLOT.__get__(self) if hasattr(self, "_vbox") else None
            kind = getattr(held, "kind", type(self).__name__)
            value = _placeholder(kind, backend.device_of(value), value.dtype,
                                 getattr(held, "persistent", True))
        _SLOT.__set__(self, value)

    @property
    def device(self):
        return _device(self.array.target)

    @property
    def is_cuda(self):
        return self.array.target == "cuda"

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor storage of ``shape`` (values uninitialised) on ``device`` with
        ``dtype`` (default: the ones it holds) and make it a ``cls_to_become`` in place."""
        held = self.array
        device = held.target if device is None else placement(device)
        dtype = held.dtype if dtype is None else backend.dtype(dtype)
        shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        _SLOT.__set__(self, backend.module_for_device(device).empty(shape, dtype=dtype))
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error "
            "usually happens in `load_state_dict` when trying to load an uninitialized "
            "parameter into an initialized one. Call `forward` to initialize the parameters "
            "before accessing their attributes.")

    def size(self, dim=None):
        """The placeholder's size, ``(0,)`` (torch allows ``size()``)."""
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self):
        raise _use_error(type(self).__name__, "numel")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, device=self.device,
                                        dtype=self.dtype)
        return memo[id(self)]


def _refuse(name):
    def refused(self, *args, **kwargs):
        raise _use_error(type(self).__name__, name)
    refused.__name__ = name
    return refused


# Tensor methods that read or rearrange the values without a NumPy operation on them (views,
# copies, conversions, fills): refused as well, so no empty result escapes
for _name in ("view", "reshape", "flatten", "contiguous", "clone", "t", "transpose", "permute",
              "unsqueeze", "squeeze", "expand", "__getitem__", "__setitem__", "numpy",
              "tolist", "item", "fill_", "zero_", "normal_", "uniform_"):
    setattr(_Uninitialized, _name, _refuse(_name))
del _name


class UninitializedParameter(_Uninitialized, Parameter):
    """A parameter to be given its shape later: ``UninitializedParameter(requires_grad=True,
    device=None, dtype=None)``; ``materialize(shape)`` makes it a ``Parameter``."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        Parameter.__init__(self, None, requires_grad=False)
        self.array = _placeholder("UninitializedParameter", device, dtype)
        self.requires_grad = bool(requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer to be given its shape later: ``UninitializedBuffer(requires_grad=False,
    device=None, dtype=None, persistent=True)``; ``materialize(shape)`` makes it a Tensor."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        Tensor.__init__(self, ())
        self.array = _placeholder("UninitializedBuffer", device, dtype, bool(persistent))
        self.requires_grad = bool(requires_grad)

    @property
    def persistent(self):
        """Whether a module registering it saves it in its state_dict (default True)."""
        return self.array.persistent

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = UninitializedBuffer(self.requires_grad, device=self.device,
                                                 dtype=self.dtype, persistent=self.persistent)
        return memo[id(self)]


def is_lazy(tensor):
    """True for an uninitialised parameter or buffer (torch's ``nn.parameter.is_lazy``)."""
    return isinstance(tensor, _Uninitialized)
