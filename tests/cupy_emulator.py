"""A CPU stand-in for CuPy that is as strict as CuPy about host memory, for running the
device-parametrised tests on ``cuda`` without a GPU.

``TINYGRAD_CV_EMULATE_CUDA=1 pytest -k cuda`` (``conftest.py`` installs it): the framework's
``cuda`` device then runs on this module.  Its arrays hold NumPy arrays but behave as CuPy's
do where the two libraries differ in ways that break code written for NumPy only:

- no implicit host transfer: a NumPy array (even 0-d) given to a ufunc, a function, a method
  or a basic-index assignment raises TypeError (CuPy's ``Unsupported type``), and
  ``numpy.asarray(device_array)`` raises (CuPy's ``__array__``); ``asarray``/``array`` and
  indices take host arrays, as in CuPy;
- reductions and integer indexing give 0-d device arrays, not NumPy scalars; there is no
  ``__index__`` (``range(x.sum())`` fails as on a GPU);
- only names CuPy has (``cupy``, ``cupy.linalg``, ``cupy.random``, ``cupy.fft``,
  ``cupy.lib.stride_tricks``, ``cupyx``; the lists below are CuPy's public names) and only
  the ``ndarray`` methods CuPy defines; ``cupy.random.Generator`` has CuPy's methods only (no
  ``normal``, ``choice`` or ``permutation``);
- ``sliding_window_view(writeable=True)`` raises NotImplementedError, as in CuPy; views are
  writeable (CuPy has no read-only arrays) and ``flags`` has CuPy's three fields;
- binary operators defer to an operand with ``__array_ufunc__ = None`` (CuPy's rule), and no
  floating-point warnings are printed (a GPU has none).

It is a test tool: what it computes is NumPy's, so it checks device placement, not CUDA.
"""
from __future__ import annotations

import contextlib
import importlib.machinery
import sys
import types
import weakref

import numpy

# ---- CuPy's public names (from its package __init__ files) ----------------------------------
_TOP = set("""
AxisError ComplexWarning ElementwiseKernel ModuleDeprecationWarning NAN NINF NZERO PINF PZERO
RankWarning RawKernel RawModule ReductionKernel TooHardError VisibleDeprecationWarning abs
absolute acos acosh add all allclose alltrue amax amin angle any append apply_along_axis
apply_over_axes arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin
argpartition argsort argwhere around array array2string array_equal array_equiv array_repr
array_split array_str asanyarray asarray asarray_chkfinite ascontiguousarray asfarray
asfortranarray asin asinh asnumpy astype atan atan2 atanh atleast_1d atleast_2d atleast_3d
average bartlett base_repr binary_repr bincount bitwise_and bitwise_count bitwise_invert
bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor blackman bool_
broadcast broadcast_arrays broadcast_to byte c_ can_cast cbrt cdouble ceil cfloat choose
clip column_stack common_type complex128 complex64 complex_ complexfloating compress concat
concatenate conj conjugate convolve copy copysign copyto corrcoef correlate cos cosh
count_nonzero cov cross csingle cuda cumprod cumproduct cumsum cumulative_prod cumulative_sum
deg2rad degrees delete diag diag_indices diag_indices_from diagflat diagonal diff digitize
divide divmod dot double dsplit dstack dtype e ediff1d einsum empty empty_like equal
euler_gamma exp exp2 expand_dims expm1 extract eye fabs fft fill_diagonal finfo fix flatiter
flatnonzero flip fliplr flipud float16 float32 float64 float_ float_power floating floor
floor_divide fmax fmin fmod frexp from_dlpack frombuffer fromfile fromfunction fromiter
fromstring full full_like fuse gcd generic get_array_module get_default_memory_pool
get_default_pinned_memory_pool gradient greater greater_equal half hamming hanning heaviside
histogram histogram2d histogramdd hsplit hstack hypot i0 identity iinfo imag in1d index_exp
indices inexact inf inner int16 int32 int64 int8 int_ intc integer interp intersect1d intp
invert is_available isclose iscomplex iscomplexobj isdtype isfinite isfortran isin isinf
isnan isneginf isposinf isreal isrealobj isscalar issubdtype iterable ix_ kaiser kron lcm
ldexp left_shift less less_equal lexsort linalg linspace load loadtxt log log10 log1p log2
logaddexp logaddexp2 logical_and logical_not logical_or logical_xor logspace longlong
mask_indices matmul matrix_transpose max maximum may_share_memory mean median meshgrid mgrid
min min_scalar_type minimum mintypecode mod modf moveaxis msort multiply nan nan_to_num
nanargmax nanargmin nancumprod nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd
nansum nanvar ndarray ndim ndindex negative newaxis nextafter nonzero not_equal number ogrid
ones ones_like outer packbits pad partition percentile permute_dims pi piecewise place poly
poly1d polyadd polyfit polymul polynomial polysub polyval positive pow power printoptions
prod product promote_types ptp put put_along_axis putmask quantile r_ rad2deg radians random
ravel ravel_multi_index real real_if_close reciprocal remainder repeat require reshape resize
result_type right_shift rint roll rollaxis roots rot90 round round_ row_stack s_ save savetxt
savez savez_compressed searchsorted select set_printoptions setdiff1d setxor1d shape
shares_memory short sign signbit signedinteger sin sinc single singlecomplex sinh size
sometrue sort sort_complex split sqrt square squeeze stack std subtract sum swapaxes take
take_along_axis tan tanh tensordot tile trace transpose trapezoid trapz tri tril tril_indices
tril_indices_from trim_zeros triu triu_indices triu_indices_from true_divide trunc typename
ubyte ufunc uint uint16 uint32 uint64 uint8 uintc uintp ulonglong union1d unique unique_all
unique_counts unique_inverse unique_values unpackbits unravel_index unsignedinteger unwrap
ushort vander var vdot vectorize vsplit vstack where zeros zeros_like
""".split())
_LINALG = set("""LinAlgError cholesky cond cross det eig eigh eigvals eigvalsh inv lstsq matmul
matrix_power matrix_rank matrix_transpose norm pinv qr slogdet solve svd tensorinv
tensorsolve""".split())
_FFT = set("""fft fft2 fftfreq fftn fftshift hfft ifft ifft2 ifftn ifftshift ihfft irfft irfft2
irfftn rfft rfft2 rfftfreq rfftn""".split())
_RANDOM_FUNCTIONS = set("""beta binomial bytes chisquare choice dirichlet exponential f gamma
geometric gumbel hypergeometric laplace logistic lognormal logseries multinomial
multivariate_normal negative_binomial noncentral_chisquare noncentral_f normal pareto
permutation poisson power rand randint randn random random_integers random_sample ranf
rayleigh sample seed shuffle standard_cauchy standard_exponential standard_gamma
standard_normal standard_t triangular uniform vonmises wald weibull zipf""".split())
# cupy.random.Generator's methods (no normal, choice, permutation, shuffle, ...)
_GENERATOR_METHODS = set("""random uniform integers beta chisquare dirichlet exponential f
geometric hypergeometric logseries standard_exponential poisson power standard_normal gamma
standard_gamma binomial""".split())
# cupy.ndarray's methods and properties
_METHODS = set("""T all any argmax argmin argpartition argsort astype byteswap choose clip
compress conj conjugate copy cumprod cumsum device diagonal dot dump dumps fill flags flat
flatten get imag item itemsize mT max mean min nbytes ndim nonzero partition prod ptp put
ravel real repeat reshape round scatter_add scatter_max scatter_min searchsorted set shape
sort squeeze std strides sum swapaxes take toDlpack tobytes tofile tolist trace transpose
var view dtype size base data""".split())
# functions that take host arrays (they copy to the device)
_HOST_OK = {"array", "asarray", "asanyarray", "from_dlpack", "asnumpy", "get_array_module",
            "isscalar", "ndim", "shape", "result_type", "can_cast", "dtype", "promote_types",
            "iterable", "issubdtype", "isdtype", "min_scalar_type", "common_type"}

_NO_HOST = ("Unsupported type <class 'numpy.ndarray'>: a NumPy array reached the (emulated) "
            "GPU in {}; move it with cupy.asarray first")


class _Flags:
    """CuPy's ``flags``: c_contiguous, f_contiguous, owndata (no writeable)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a):
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)

    def __getitem__(self, key):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[key]


class _MemoryPointer:
    """``array.data``: a root host array and a byte offset into it; ``ptr`` is the address."""

    def __init__(self, root, offset):
        self._root, self._offset = root, offset

    @property
    def ptr(self):
        return self._root.__array_interface__["data"][0] + self._offset

    def __add__(self, nbytes):
        return _MemoryPointer(self._root, self._offset + int(nbytes))

    def __int__(self):
        return self.ptr


class _Device:
    id = 0

    def __init__(self, device=0):
        self.id = int(device)

    def use(self):
        return None

    def synchronize(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


_live = weakref.WeakValueDictionary()      # id(host array) -> its device array


def _owner(a):
    root = a
    while isinstance(root.base, numpy.ndarray):
        root = root.base
    return root


def _wrap(obj):
    """Host results -> device arrays (NumPy scalars become 0-d arrays, as CuPy returns)."""
    if isinstance(obj, numpy.ndarray):
        found = _live.get(id(obj))
        if found is not None and found._a is obj:
            return found
        return ndarray._of(obj)
    if isinstance(obj, numpy.generic):
        return ndarray._of(numpy.asarray(obj))
    if isinstance(obj, tuple):
        items = [_wrap(o) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if type(obj) is list:
        return [_wrap(o) for o in obj]
    return obj


def _unwrap(obj, where, host_ok=False):
    """Device arrays -> their host arrays (recursively in lists, tuples and dicts); a host
    array raises TypeError unless ``host_ok``."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, numpy.ndarray):
        if host_ok:
            return obj
        raise TypeError(_NO_HOST.format(where))
    if type(obj) in (list, tuple):
        return type(obj)(_unwrap(o, where, host_ok) for o in obj)
    if type(obj) is dict:
        return {k: _unwrap(v, where, host_ok) for k, v in obj.items()}
    if isinstance(obj, _Generator):
        return obj._g
    return obj


def _call(fn, where, args, kwargs, host_ok=False):
    args = _unwrap(tuple(args), where, host_ok)
    kwargs = _unwrap(dict(kwargs), where, host_ok)
    with numpy.errstate(all="ignore"):          # GPUs raise no floating-point warnings
        return _wrap(fn(*args, **kwargs))


def _is_basic_index(key):
    items = key if type(key) is tuple else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, numpy.integer))
               and not isinstance(k, (bool, numpy.bool_)) for k in items)


def _index(key):
    """An index for the host array (device arrays unwrapped; host arrays and lists are taken,
    as CuPy copies them to the device)."""
    if type(key) is tuple:
        return tuple(_unwrap(k, "an index", host_ok=True) for k in key)
    return _unwrap(key, "an index", host_ok=True)


def _check_ufunc_inputs(inputs, where):
    """CuPy's kernels take device arrays and scalars only: a list or tuple operand raises."""
    for x in inputs:
        if type(x) in (list, tuple):
            raise TypeError(f"Unsupported type {type(x)} given to {where}")


_MISSING = object()


def _defer(self, other):
    """CuPy's ``_should_use_rop``: an operand with ``__array_ufunc__ = None`` (or, without
    ``__array_ufunc__``, a higher ``__array_priority__``) gets the operator."""
    other_ufunc = getattr(other, "__array_ufunc__", _MISSING)
    if other_ufunc is not _MISSING:
        return other_ufunc is None
    return getattr(self, "__array_priority__", 0) < getattr(other, "__array_priority__", 0)


def _binary(ufunc, reflected=False):
    def op(self, other):
        if _defer(self, other):
            return NotImplemented
        return ufunc(other, self) if reflected else ufunc(self, other)
    return op


def _inplace(ufunc):
    def op(self, other):
        if _defer(self, other):
            return NotImplemented
        ufunc(self, other, out=self)
        return self
    return op


class ndarray:
    """A device array: a host array that refuses to mix with host arrays (see the module)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100.0
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is None:
            self._a = numpy.ndarray(shape, dtype, strides=strides, order=order)
        else:
            self._a = numpy.ndarray(shape, dtype, buffer=memptr._root, offset=memptr._offset,
                                    strides=strides, order=order)
        _live[id(self._a)] = self

    @classmethod
    def _of(cls, a):
        if not a.flags.writeable:
            try:                                   # CuPy has no read-only arrays
                a.flags.writeable = True
            except ValueError:
                pass
        obj = object.__new__(cls)
        obj._a = a
        _live[id(a)] = obj
        return obj

    # -- CuPy's conversions --------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None, blocking=True):
        if out is not None:
            out[...] = self._a
            return out
        return numpy.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        self._a[...] = arr

    def __int__(self):
        return int(self._a)

    def __float__(self):
        return float(self._a)

    def __complex__(self):
        return complex(self._a)

    def __bool__(self):
        return bool(self._a)

    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __copy__(self):
        return _wrap(self._a.copy())

    def __deepcopy__(self, memo):
        return _wrap(self._a.copy())

    def __reduce__(self):
        return (array, (self._a.copy(),))

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, *args, **kwargs):
        return self._a.__dlpack__()

    # -- attributes ------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape,
                     lambda self, value: setattr(self._a, "shape", value))
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(self._a.mT))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))
    device = property(lambda self: _Device(0))

    @property
    def base(self):
        b = self._a.base
        return _wrap(b) if isinstance(b, numpy.ndarray) else None

    @property
    def data(self):
        root = _owner(self._a)
        offset = (self._a.__array_interface__["data"][0]
                  - root.__array_interface__["data"][0])
        return _MemoryPointer(root, offset)

    def __getattr__(self, name):
        if name.startswith("__") or name not in _METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._a, name)
        where = f"ndarray.{name}"
        return lambda *args, **kwargs: _call(method, where, args, kwargs)

    # -- indexing ------------------------------------------------------------------------
    def __getitem__(self, key):
        key = _index(key)
        if type(key) is not tuple:
            key = (key,)
        if not any(k is Ellipsis for k in key):
            key = key + (Ellipsis,)                     # 0-d views, never host scalars
        return _wrap(self._a[key])

    def __setitem__(self, key, value):
        if isinstance(value, numpy.ndarray) and value.ndim > 0 and _is_basic_index(key):
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill (a NumPy "
                             "array assigned to a slice of a device array)")
        if type(value) in (list, tuple) and _is_basic_index(key):
            raise TypeError(f"Unsupported type {type(value)} assigned to a device array")
        self._a[_index(key)] = _unwrap(value, "an assignment", host_ok=True)

    # -- NumPy protocols -----------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__
        if name not in _TOP:
            return NotImplemented
        compare = name in ("greater", "greater_equal", "less", "less_equal", "equal",
                           "not_equal")
        inputs = tuple(x.item() if compare and isinstance(x, numpy.ndarray) and x.ndim == 0
                       else x for x in inputs)
        where = f"cupy.{name}"
        _check_ufunc_inputs(inputs, where)
        out = kwargs.get("out")
        with numpy.errstate(all="ignore"):
            result = getattr(ufunc, method)(*_unwrap(inputs, where), **_unwrap(kwargs, where))
        if out is not None and isinstance(result, numpy.ndarray):
            return out[0] if type(out) is tuple else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        parts = func.__module__.split(".")[1:]
        allowed = {(): _TOP, ("linalg",): _LINALG, ("fft",): _FFT}.get(
            tuple(p for p in parts if not p.startswith("_")), _TOP)
        if name not in allowed:
            return NotImplemented
        return _call(func, f"numpy.{name}", args, kwargs)

    # -- operators -----------------------------------------------------------------------
    __add__, __radd__, __iadd__ = (_binary(numpy.add), _binary(numpy.add, True),
                                   _inplace(numpy.add))
    __sub__, __rsub__, __isub__ = (_binary(numpy.subtract), _binary(numpy.subtract, True),
                                   _inplace(numpy.subtract))
    __mul__, __rmul__, __imul__ = (_binary(numpy.multiply), _binary(numpy.multiply, True),
                                   _inplace(numpy.multiply))
    __truediv__, __rtruediv__, __itruediv__ = (_binary(numpy.true_divide),
                                               _binary(numpy.true_divide, True),
                                               _inplace(numpy.true_divide))
    __floordiv__, __rfloordiv__, __ifloordiv__ = (_binary(numpy.floor_divide),
                                                  _binary(numpy.floor_divide, True),
                                                  _inplace(numpy.floor_divide))
    __mod__, __rmod__, __imod__ = (_binary(numpy.remainder), _binary(numpy.remainder, True),
                                   _inplace(numpy.remainder))
    __pow__, __rpow__, __ipow__ = (_binary(numpy.power), _binary(numpy.power, True),
                                   _inplace(numpy.power))
    __matmul__, __rmatmul__ = _binary(numpy.matmul), _binary(numpy.matmul, True)
    __and__, __rand__, __iand__ = (_binary(numpy.bitwise_and), _binary(numpy.bitwise_and, True),
                                   _inplace(numpy.bitwise_and))
    __or__, __ror__, __ior__ = (_binary(numpy.bitwise_or), _binary(numpy.bitwise_or, True),
                                _inplace(numpy.bitwise_or))
    __xor__, __rxor__, __ixor__ = (_binary(numpy.bitwise_xor), _binary(numpy.bitwise_xor, True),
                                   _inplace(numpy.bitwise_xor))
    __lshift__, __rlshift__ = _binary(numpy.left_shift), _binary(numpy.left_shift, True)
    __rshift__, __rrshift__ = _binary(numpy.right_shift), _binary(numpy.right_shift, True)
    __lt__, __le__ = _binary(numpy.less), _binary(numpy.less_equal)
    __gt__, __ge__ = _binary(numpy.greater), _binary(numpy.greater_equal)
    __eq__, __ne__ = _binary(numpy.equal), _binary(numpy.not_equal)

    def __divmod__(self, other):
        return numpy.divmod(self, other)

    def __neg__(self):
        return numpy.negative(self)

    def __pos__(self):
        return numpy.positive(self)

    def __abs__(self):
        return numpy.absolute(self)

    def __invert__(self):
        return numpy.invert(self)


class _Ufunc:
    """``cupy.<ufunc>``: the NumPy ufunc with device arrays only."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.nargs = uf.nin, uf.nout, uf.nargs
        self.identity = uf.identity
        for method in ("reduce", "accumulate", "at", "outer", "reduceat"):
            setattr(self, method, self._method(method))

    def _method(self, method):
        fn = getattr(self._uf, method)
        return lambda *a, **k: _call(fn, f"cupy.{self.__name__}.{method}", a, k)

    def __call__(self, *args, **kwargs):
        _check_ufunc_inputs(args, f"cupy.{self.__name__}")
        out = kwargs.get("out")
        result = _call(self._uf, f"cupy.{self.__name__}", args, kwargs)
        if out is not None:
            return out[0] if type(out) is tuple and len(out) == 1 else out
        return result

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"


def _function(fn, name, host_ok=False):
    def device_function(*args, **kwargs):
        return _call(fn, f"cupy.{name}", args, kwargs, host_ok)
    device_function.__name__ = name
    device_function.__doc__ = getattr(fn, "__doc__", None)
    return device_function


class _Namespace(types.ModuleType):
    """A module of the emulated CuPy: NumPy's ``source`` names that are in ``names``."""

    def __init__(self, qualname, source, names, extra=None):
        super().__init__(qualname)
        self._source, self._names = source, names
        for key, value in (extra or {}).items():
            setattr(self, key, value)

    def __getattr__(self, name):
        if name.startswith("__") or name not in self._names:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (CuPy "
                                 "does not provide it)")
        obj = getattr(self._source, name)
        if isinstance(obj, numpy.ufunc):
            obj = _Ufunc(obj)
        elif callable(obj) and not isinstance(obj, type):
            obj = _function(obj, name, host_ok=name in _HOST_OK)
        setattr(self, name, obj)
        return obj


class _BitGenerator:
    """CuPy's cuRAND bit generator: its position is the device array ``_state`` (read before
    and written after every draw; here NumPy's PCG64 state as six uint64 words)."""

    def __init__(self, g):
        self._g = g
        self._state = ndarray._of(numpy.zeros(6, dtype=numpy.uint64))
        self._save()

    def _save(self):
        st = self._g.bit_generator.state
        words = [st["state"]["state"] >> 64, st["state"]["state"] & (2 ** 64 - 1),
                 st["state"]["inc"] >> 64, st["state"]["inc"] & (2 ** 64 - 1),
                 st["has_uint32"], st["uinteger"]]
        self._state._a[...] = numpy.array(words, dtype=numpy.uint64)

    def _load(self):
        w = [int(v) for v in self._state._a]
        self._g.bit_generator.state = {
            "bit_generator": "PCG64", "state": {"state": (w[0] << 64) | w[1],
                                                "inc": (w[2] << 64) | w[3]},
            "has_uint32": w[4], "uinteger": w[5]}


class _Generator:
    """``cupy.random.Generator``: NumPy's generator with CuPy's methods only."""

    def __init__(self, g):
        self._g = g
        self.bit_generator = _BitGenerator(g)

    def __getattr__(self, name):
        if name not in _GENERATOR_METHODS:
            raise AttributeError(f"'cupy.random.Generator' has no attribute {name!r}")
        fn = getattr(self._g, name)
        bits = self.bit_generator

        def method(*args, dtype=None, out=None, **kwargs):
            bits._load()
            try:
                return draw(*args, dtype=dtype, out=out, **kwargs)
            finally:
                bits._save()

        def draw(*args, dtype=None, out=None, **kwargs):
            if dtype is not None and name not in ("uniform",):
                kwargs["dtype"] = dtype
            value = _call(fn, f"Generator.{name}", args, kwargs, host_ok=True)
            if dtype is not None and name == "uniform":
                value = value.astype(dtype)
            if out is not None:
                out[...] = value
                return out
            return value
        return method


def _asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return numpy.asarray(a, order=order)


def _get_array_module(*args):
    return cupy if any(isinstance(a, ndarray) for a in args) else numpy


def _from_dlpack(obj):
    if isinstance(obj, ndarray):
        return obj
    return _wrap(numpy.from_dlpack(obj))


class _MemoryPool:
    def free_all_blocks(self):
        return None

    def used_bytes(self):
        return sum(a._a.nbytes for a in list(_live.values()) if a._a.base is None)

    def total_bytes(self):
        return self.used_bytes()


_pool = _MemoryPool()
_legacy_state = {"rs": numpy.random.RandomState(0)}


def _random_function(name):
    def fn(*args, **kwargs):
        if name == "seed":
            seed = args[0] if args else kwargs.get("seed")
            if seed is not None and not 0 <= int(seed) < 2 ** 64:
                raise ValueError("Seed must be an integer between 0 and 2**64 - 1")
            _legacy_state["rs"] = numpy.random.RandomState(numpy.random.MT19937(
                None if seed is None else int(seed)))
            return None
        if name == "shuffle":
            (a,) = args
            a._a[...] = _legacy_state["rs"].permutation(a._a)
            return None
        source = getattr(_legacy_state["rs"], name)
        return _call(source, f"cupy.random.{name}", args, kwargs, host_ok=True)
    return fn


random = types.ModuleType("cupy.random")
for _name in _RANDOM_FUNCTIONS:
    if hasattr(numpy.random.RandomState, _name) or _name == "seed":
        setattr(random, _name, _random_function(_name))
random.default_rng = lambda seed=None: _Generator(numpy.random.default_rng(
    _unwrap(seed, "default_rng", True)))
random.Generator = _Generator


def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    if writeable:
        raise NotImplementedError("Writeable views are not supported.")
    return _wrap(numpy.lib.stride_tricks.sliding_window_view(
        _unwrap(x, "sliding_window_view"), window_shape, axis=axis, writeable=True))


def _as_strided(x, shape=None, strides=None):
    return _wrap(numpy.lib.stride_tricks.as_strided(_unwrap(x, "as_strided"), shape=shape,
                                                    strides=strides))


_stride_tricks = types.ModuleType("cupy.lib.stride_tricks")
_stride_tricks.sliding_window_view = _sliding_window_view
_stride_tricks.as_strided = _as_strided
lib = types.ModuleType("cupy.lib")
lib.stride_tricks = _stride_tricks

_stream = types.SimpleNamespace(synchronize=lambda: None)
cuda = types.SimpleNamespace(
    runtime=types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda i: {"name": b"CuPy emulated on the CPU",
                                       "totalGlobalMem": 1 << 34, "major": 9, "minor": 0,
                                       "multiProcessorCount": 1}),
    Device=_Device,
    Stream=types.SimpleNamespace(null=_stream),
    get_current_stream=lambda: _stream,
    is_available=lambda: True,
)

cupy = _Namespace("cupy", numpy, _TOP, {
    "ndarray": ndarray,
    "asnumpy": _asnumpy,
    "get_array_module": _get_array_module,
    "from_dlpack": _from_dlpack,
    "linalg": _Namespace("cupy.linalg", numpy.linalg, _LINALG),
    "fft": _Namespace("cupy.fft", numpy.fft, _FFT),
    "random": random,
    "lib": lib,
    "cuda": cuda,
    "get_default_memory_pool": lambda: _pool,
    "get_default_pinned_memory_pool": lambda: _pool,
    "is_available": lambda: True,
    "__version__": "emulated",
})


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    return _wrap(numpy.array(_unwrap(obj, "cupy.array", host_ok=True), dtype=dtype, copy=copy,
                             order=order, ndmin=ndmin))


def _scatter(ufunc):
    def scatter(a, slices, value):
        ufunc.at(_unwrap(a, "cupyx.scatter"), _index(slices),
                 _unwrap(value, "cupyx.scatter", host_ok=False))
    return scatter


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter(numpy.add)
cupyx.scatter_max = _scatter(numpy.maximum)
cupyx.scatter_min = _scatter(numpy.minimum)


def install():
    """Make ``import cupyx`` and the framework's ``cuda`` device use the emulator; returns a
    function that puts everything back as it was (``installed()`` does both)."""
    from tinygrad_cv import backend

    before = (backend._cupy, backend._cupy_checked, backend._rngs.get("cuda"),
              sys.modules.get("cupyx"), backend.get_default_device())
    cupyx.__spec__ = importlib.machinery.ModuleSpec("cupyx", None)
    sys.modules.setdefault("cupyx", cupyx)
    backend._cupy = cupy
    backend._cupy_checked = True
    backend._rngs.pop("cuda", None)

    def uninstall():
        backend._cupy, backend._cupy_checked = before[0], before[1]
        backend._rngs.pop("cuda", None)
        if before[2] is not None:
            backend._rngs["cuda"] = before[2]
        if before[3] is None:
            sys.modules.pop("cupyx", None)
        backend._default_device = before[4]
    return uninstall


@contextlib.contextmanager
def installed():
    """The emulator installed within the block, and the framework's state restored after."""
    uninstall = install()
    try:
        yield cupy
    finally:
        uninstall()
