"""The NumPy/CuPy switch: the only module that names either array library.

Devices are ``"cpu"`` (NumPy) and ``"cuda"`` (CuPy).  Everything else gets its array
module from the data it is given::

    xp = get_array_module(x)      # numpy or cupy, like chainer.backend.get_array_module

CuPy is optional (extras ``cuda12`` / ``cuda13``).  Helpers whose spelling differs between
the two libraries (scatter-add, strided windows, host transfer, random generators) live here.
"""
from __future__ import annotations

import os

import numpy

_CUPY_HINT = ("install CuPy with pip install 'tinygrad_cv[cuda12]' (CUDA 12) or "
              "'tinygrad_cv[cuda13]' (CUDA 13)")

_cupy = None
_cupy_checked = False

DEVICES = ("cpu", "cuda")


def _load_cupy():
    """Import CuPy once, lazily; None when it is missing or has no usable GPU."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: WPS433 (the one place that names it)
            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
        except Exception:  # ImportError, or a CUDA runtime without a device
            _cupy = None
    return _cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _load_cupy() is not None


def _require_cupy():
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError(f"device 'cuda' is not available: no working CuPy/GPU; {_CUPY_HINT}")
    return cp


def normalize_device(device) -> str:
    """Map ``None``/``"cpu"``/``"cuda"``/``"cuda:0"`` to ``"cpu"`` or ``"cuda"``."""
    if device is None:
        return get_default_device()
    if not isinstance(device, str):
        device = str(device)
    name = device.split(":")[0].lower()
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    return name


def _validate_device(device) -> str:
    name = normalize_device(device)
    if name == "cuda":
        _require_cupy()
    return name


_default_device = "cpu"


def set_default_device(device) -> None:
    """Set the device new tensors are created on (``"cpu"`` or ``"cuda"``)."""
    global _default_device
    _default_device = _validate_device(device if device is not None else "cpu")


def get_default_device() -> str:
    return _default_device


def module_for_device(device):
    """numpy for ``"cpu"``, cupy for ``"cuda"`` (raising with install hints if missing)."""
    return _require_cupy() if normalize_device(device) == "cuda" else numpy


def _is_cupy_array(a) -> bool:
    """True for an array of the loaded CuPy (loaded here on the first array that looks like
    one, for arrays made before the framework touched the GPU)."""
    cp = _cupy if _cupy_checked else (
        _load_cupy() if type(a).__module__.partition(".")[0] == "cupy" else None)
    return cp is not None and isinstance(a, cp.ndarray)


def get_array_module(*args):
    """numpy or cupy, chosen from the arrays or Tensors given (numpy when none is on the GPU)."""
    for a in args:
        a = a.array if hasattr(a, "_tensor_marker") else a
        if isinstance(a, numpy.ndarray):
            continue
        if _is_cupy_array(a):
            return _require_cupy()
    return numpy


def device_of(array) -> str:
    """``"cuda"`` for a cupy array (or a Tensor on the GPU), else ``"cpu"``."""
    array = array.array if hasattr(array, "_tensor_marker") else array
    return "cuda" if _is_cupy_array(array) else "cpu"


def broadcast_shapes(*shapes):
    """The shape ``shapes`` broadcast to (NumPy's rules; ValueError when they do not fit)."""
    return numpy.broadcast_shapes(*shapes)


def zero_unless(g, keep, out=None):
    """``where(keep, g, 0)``: ``g`` where the bool array ``keep`` (broadcast against g) holds,
    else 0 -- also where g is inf or NaN, where the product ``g * keep`` gives NaN (a masked
    gradient is 0 there in torch: ``relu(x).sqrt()`` at x <= 0).  ``out`` (the broadcast
    shape, g's dtype) may be ``g`` itself.

    NumPy, floating g: g's bits ANDed with ``keep`` widened to all-ones words (one pass each
    for the widening, the negation and the AND; a masked copy or ``numpy.where`` is 15x slower
    on an irregular mask).  The words are built in ``out`` when it is not g's memory, so no
    other buffer is needed.  CuPy and other dtypes: ``where``."""
    shape = broadcast_shapes(g.shape, keep.shape)
    if type(g) is not numpy.ndarray or g.dtype.kind != "f":
        xp = get_array_module(g)
        result = xp.where(keep, g, xp.zeros((), dtype=g.dtype))
        if out is None:
            return result
        out[...] = result
        return out
    words = numpy.dtype(f"i{g.dtype.itemsize}")
    if out is None:
        out = numpy.empty(shape, dtype=g.dtype)
    if numpy.may_share_memory(out, g):
        bits = numpy.empty(shape, dtype=words)
    else:
        bits = out.view(words)
    numpy.copyto(bits, keep, casting="unsafe")          # 0 / 1
    numpy.negative(bits, out=bits)                       # 0 / all ones
    numpy.bitwise_and(numpy.broadcast_to(g, shape).view(words), bits, out=out.view(words))
    return out


def is_array(obj) -> bool:
    return isinstance(obj, numpy.ndarray) or (_is_cupy_array(obj) and hasattr(obj, "shape"))


def as_array(data, dtype=None, device=None, copy=False):
    """Build an array of ``data`` on ``device`` (an existing array moves across devices)."""
    device = _validate_device(device)
    if device == "cuda":
        cp = _require_cupy()
        return cp.array(data, dtype=dtype, copy=copy) if copy else cp.asarray(data, dtype=dtype)
    if device_of(data) == "cuda":
        data = data.get()
    return numpy.array(data, dtype=dtype, copy=True) if copy else numpy.asarray(data, dtype=dtype)


def to_device(array, device):
    """The same values on ``device`` (no copy when already there)."""
    device = _validate_device(device)
    if device_of(array) == device:
        return array
    return as_array(array, device=device)


def to_numpy(array):
    """A host (NumPy) array of ``array`` (a copy from the GPU; the same array on the CPU)."""
    return array.get() if device_of(array) == "cuda" else numpy.asarray(array)


def dtype(name):
    """The dtype object for a name such as ``"float32"`` (the same for both libraries)."""
    return numpy.dtype(name)


def is_floating(dt) -> bool:
    """True for float16/32/64 dtypes (``dt`` a dtype or a name)."""
    kind = getattr(dt, "kind", None)
    return (kind if kind is not None else numpy.dtype(dt).kind) == "f"


def is_integer_or_bool(dt) -> bool:
    dt = numpy.dtype(dt)
    return numpy.issubdtype(dt, numpy.integer) or dt == numpy.bool_


def scatter_add(target, indices, values):
    """``target[indices] += values`` with repeated indices accumulated (in place)."""
    if device_of(target) == "cuda":
        import cupyx  # only on the GPU path
        cupyx.scatter_add(target, indices, values)
    else:
        numpy.add.at(target, indices, values)
    return target


def scatter_reduce(name, target, indices, values):
    """``target[indices] = name(target[indices], values)`` in place, repeated indices combined
    one by one (``name``: "maximum", "minimum" or "multiply"; the ``scatter_reduce`` family)."""
    if device_of(target) == "cuda":
        import cupyx  # only on the GPU path
        if name in ("maximum", "minimum"):
            getattr(cupyx, "scatter_max" if name == "maximum" else "scatter_min")(
                target, indices, values)
            return target
        host = to_numpy(target)     # (no multiplying scatter on the GPU: through the host)
        getattr(numpy, name).at(host, tuple(to_numpy(i) if is_array(i) else i for i in indices),
                                to_numpy(values))
        target[...] = to_device(host, "cuda")
        return target
    getattr(numpy, name).at(target, indices, values)
    return target


def cupyx_distributed():
    """``cupyx.distributed`` (NCCL collectives between GPU processes, for
    ``tinygrad_cv.distributed``'s ``nccl`` backend); RuntimeError when CuPy or a GPU is missing."""
    _require_cupy()
    import cupyx.distributed  # only on the GPU path
    return cupyx.distributed


def sliding_window_view(x, window_shape, axis=None):
    """Read-only strided view of every window (numpy's ``sliding_window_view``)."""
    xp = get_array_module(x)
    return xp.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)


def as_strided(x, shape, strides):
    xp = get_array_module(x)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def diagonal_view(x, offset=0, axis1=0, axis2=1):
    """``x.diagonal(offset, axis1, axis2)`` as a view that writes through to ``x`` (torch's
    ``diagonal``; NumPy flags its diagonal read-only, CuPy's writes)."""
    d = x.diagonal(offset, axis1, axis2)
    if getattr(x.flags, "writeable", False) and not d.flags.writeable:
        d.flags.writeable = True
    return d


def unfold_view(x, axis, size, step):
    """The windows x[..., i*step : i*step + size, ...] along ``axis`` as a view of shape
    (..., n_windows, ..., size) (torch's ``unfold``); writeable when the windows do not
    overlap (step >= size)."""
    xp = get_array_module(x)
    kw = {"writeable": True} if step >= size and getattr(x.flags, "writeable", False) else {}
    windows = xp.lib.stride_tricks.sliding_window_view(x, size, axis=axis, **kw)
    return windows[(slice(None),) * axis + (slice(None, None, step),)]


def _address(array) -> int:
    return array.data.ptr if _is_cupy_array(array) else array.__array_interface__["data"][0]


def memory_span(array):
    """``(root, first_byte, end_byte)``: the contiguous array owning the memory ``array``
    views, and the bytes of it (relative to its start) that ``array`` reaches; None for an
    empty array or memory that is not such an array's (a buffer of another object)."""
    root = array
    while is_array(root.base):
        root = root.base
    if array.size == 0 or root.base is not None or \
            not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    start = _address(array) - _address(root)
    reach = [(n - 1) * st for n, st in zip(array.shape, array.strides)]
    return (root, start + sum(r for r in reach if r < 0),
            start + sum(r for r in reach if r > 0) + array.itemsize)


def flat_window(root, first_byte, end_byte, dtype):
    """The bytes ``[first_byte, end_byte)`` of the contiguous array ``root`` as a 1-D array of
    ``dtype`` sharing its memory."""
    count = (end_byte - first_byte) // numpy.dtype(dtype).itemsize
    if _is_cupy_array(root):
        cp = _require_cupy()
        return cp.ndarray((count,), dtype=dtype, memptr=root.data + first_byte)
    return numpy.ndarray((count,), dtype=dtype, buffer=root, offset=first_byte)


# ---- random sources -------------------------------------------------------------------------
_rngs: dict = {}


def manual_seed(seed: int) -> None:
    """Seed every random source: NumPy's generator and, when present, CuPy's."""
    _rngs["cpu"] = numpy.random.default_rng(seed)
    cp = _load_cupy()
    if cp is not None:
        _rngs["cuda"] = cp.random.default_rng(seed)
        cp.random.seed(seed)
    _rngs["seed"] = seed


def seed_device(device, seed: int) -> None:
    """Seed one device's generator only (``cuda.manual_seed``); a no-op for a missing GPU."""
    device = normalize_device(device)
    if device == "cpu":
        _rngs["cpu"] = numpy.random.default_rng(seed)
    elif _load_cupy() is not None:
        _rngs["cuda"] = _load_cupy().random.default_rng(seed)
        _load_cupy().random.seed(seed)


def get_rng(device=None):
    """The seeded generator of ``device`` (numpy/cupy ``Generator``); never seeded, the
    process's seed is drawn from the system's entropy once (``current_seed``)."""
    device = _validate_device(device)
    rng = _rngs.get(device)
    if rng is None:
        seed = current_seed()
        rng = (numpy.random.default_rng(seed) if device == "cpu"
               else _require_cupy().random.default_rng(seed))
        _rngs[device] = rng
    return rng


def current_seed() -> int:
    """The seed of the last ``manual_seed`` (torch's ``initial_seed``), or the one drawn from
    the system's entropy when the process has not seeded."""
    if _rngs.get("seed") is None:
        _rngs["seed"] = int(numpy.random.SeedSequence().entropy) % (1 << 63)
    return _rngs["seed"]


def from_dlpack(obj):
    """An array from any object with ``__dlpack__`` (placed on the producer's device)."""
    dev = getattr(obj, "__dlpack_device__", None)
    kind = dev()[0] if dev is not None else 1
    if kind == 1:  # kDLCPU
        return numpy.from_dlpack(obj)
    return _require_cupy().from_dlpack(obj)


def synchronize(device=None) -> None:
    """Wait for queued GPU work (a no-op on the CPU); used by benchmarks."""
    if normalize_device(device) == "cuda":
        _require_cupy().cuda.Stream.null.synchronize()


_env_device = os.environ.get("TINYGRAD_CV_DEVICE")
if _env_device:
    set_default_device(_env_device)


def ensure_array(value):
    """``value`` as an ndarray of its own library (NumPy reductions return scalars)."""
    if type(value) is numpy.ndarray or _is_cupy_array(value):
        return value
    return numpy.asarray(value)


def _quiet_state():
    """(NumPy's error-state context variable, a state ignoring every floating-point error), or
    (None, None) where this NumPy keeps them elsewhere (then ``numpy.errstate`` is used)."""
    try:
        from numpy._core import _ufunc_config as config
        return config._extobj_contextvar, config._make_extobj(all="ignore")
    except (ImportError, AttributeError, TypeError):
        return None, None


def fp_quiet(fn):
    """``fn`` with NumPy's floating-point warnings silenced (log(0), x / 0, sqrt(-1), exp
    overflow give -inf/inf/nan silently, as in torch; CuPy never warns).  Costs ~0.3 us a call:
    set and reset NumPy's error-state context variable, which ``numpy.errstate`` (~3 us) does
    after rebuilding the state each time."""
    var, quiet = _quiet_state()

    if var is None:
        def quiet_fn(*args, **kwargs):
            with numpy.errstate(all="ignore"):
                return fn(*args, **kwargs)
    else:
        def quiet_fn(*args, **kwargs):
            token = var.set(quiet)
            try:
                return fn(*args, **kwargs)
            finally:
                var.reset(token)
    quiet_fn.__name__, quiet_fn.__qualname__, quiet_fn.__doc__ = \
        fn.__name__, fn.__qualname__, fn.__doc__
    return quiet_fn


# ---- accumulating matrix product ------------------------------------------------------------
_blas_gemm = None


def _cpu_gemms():
    """{dtype: SciPy's BLAS gemm} for float32/float64, or {} without SciPy (imported once)."""
    global _blas_gemm
    if _blas_gemm is None:
        try:
            from scipy.linalg import blas  # optional: the fallback below needs nothing
            _blas_gemm = {numpy.dtype(numpy.float32): blas.sgemm,
                          numpy.dtype(numpy.float64): blas.dgemm}
            if _blas_limit["limiter"] is not None:   # SciPy's own BLAS loaded just now
                limit_blas_threads(1)
        except ImportError:
            _blas_gemm = {}
    return _blas_gemm


def _fortran_operand(m):
    """(array, trans) with ``op(array) = m`` and the array Fortran-contiguous (f2py then takes it
    without a copy), or None when ``m`` is neither C- nor Fortran-contiguous."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return None


def matmul_accumulate(a, b, out):
    """``out += a @ b`` for a (M, K), b (K, N), out (M, N); returns ``out``.

    On the CPU (NumPy float32/float64 with SciPy installed) one BLAS gemm with beta = 1 adds the
    product into ``out`` without a temporary: a C-contiguous ``out`` is the Fortran array
    ``out.T``, so ``out.T = b.T @ a.T + out.T``; ``a`` and ``b`` must each be C- or
    Fortran-contiguous (any of the two, passed with BLAS's transpose flag).  SciPy's BLAS is a
    second library with its own thread pool, so it is called only while BLAS runs one thread
    per call (``limit_blas_threads``): two pools spinning after their calls on the same cores
    made a convolution's backward 10x slower.  Everywhere else (CuPy, other dtypes or layouts,
    no SciPy, BLAS on its own threads) it is ``out += a @ b``.
    """
    gemm = None
    if (type(out) is numpy.ndarray and out.flags.c_contiguous and a.dtype == b.dtype == out.dtype
            and _blas_limit["limiter"] is not None):
        gemm = _cpu_gemms().get(out.dtype)
    if gemm is not None and (type(a) is not numpy.ndarray or type(b) is not numpy.ndarray
                             or 0 in a.shape or 0 in b.shape):
        gemm = None
    fa = _fortran_operand(a) if gemm is not None else None
    fb = _fortran_operand(b) if fa is not None else None
    if fb is None:
        out += a @ b
        return out
    # op(fb) = b.T and op(fa) = a.T: transpose flags flipped from the operands' own
    gemm(1.0, fb[0], fa[0], beta=1.0, c=out.T, overwrite_c=1, trans_a=fb[1] ^ 1,
         trans_b=fa[1] ^ 1)
    return out


# ---- BLAS threads ---------------------------------------------------------------------------
_blas_limit = {"limiter": None}


def limit_blas_threads(n):
    """Run the CPU's BLAS with ``n`` threads per call (``threads.py``'s workers ask for 1: each
    of them then owns a core), or give BLAS its own thread count back with ``n = None``.  Goes
    through threadpoolctl (every BLAS loaded into the process: NumPy's, SciPy's); returns False
    when it cannot (threadpoolctl missing), True otherwise."""
    current = _blas_limit["limiter"]
    if n is None:
        if current is not None:
            current.restore_original_limits()
            _blas_limit["limiter"] = None
        return True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    if current is not None:
        current.restore_original_limits()
    _blas_limit["limiter"] = threadpool_limits(limits=int(n), user_api="blas")
    return True


def host_array_on_buffer(buffer, shape, dtype, offset=0, strides=None):
    """A host array of ``shape``/``dtype`` over ``buffer`` (a writable buffer such as a shared
    memory segment's), starting ``offset`` bytes in, with byte ``strides`` (None: C order);
    it shares the buffer's memory."""
    return numpy.ndarray(shape, dtype=dtype, buffer=buffer, offset=offset, strides=strides)
