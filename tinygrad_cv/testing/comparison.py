"""``assert_close``: torch.testing.assert_close on tinygrad_cv tensors, arrays and numbers.

Inputs are paired up recursively: two sequences (not strings) element by element (their
lengths must agree), two mappings key by key (their key sets must agree), then each pair of
leaves by kind: ``None`` with ``None``; bools (and NumPy bools) by identity; Python/NumPy
numbers; Tensors (or NumPy/CuPy arrays, both of one kind).  Any other pair (a Tensor with a
number, a Tensor with an array, strings, ...) raises ``TypeError``, as torch.

Tensors: first the attributes, in torch's order: shape, layout (dense/sparse, unless
``check_layout=False``), strides (only with ``check_stride=True``), device, dtype; then
the values (moved to the CPU, promoted to a common dtype, densified when the attributes were
allowed to differ) must satisfy, elementwise, torch's ``isclose``:

    a == e  or  (|a - e| finite and |a - e| <= atol + |rtol * e|)      (NaN == NaN with equal_nan)

The default (rtol, atol) is the loosest of the two dtypes' (float16: (1e-3, 1e-5), float32:
(1.3e-6, 1e-5), float64: (1e-7, 1e-7), integers and bool: (0, 0), i.e. equality); Python
ints, floats and complexes use int64's, float64's and complex128's.  The AssertionError names
the number and share of mismatching elements and the greatest absolute and relative
differences among them with their indices (0-d tensors and numbers: both values), then the
item of a nested input where the failure occurred; ``msg`` replaces the message (a string)
or transforms it (a callable).
"""
from __future__ import annotations

import collections.abc
import math

from .. import backend
from ..tensor import Tensor

__all__ = ["assert_close", "default_tolerances"]

_DTYPE_PRECISIONS = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5),
                     "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7),
                     "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: "int64", float: "float64", complex: "complex128"}


class _Unsupported(Exception):
    """This pair kind does not handle these inputs."""


class _ErrorMeta(Exception):
    """A failure with its exception type, message and the id (path) of the failing item."""

    def __init__(self, type_, msg, *, id=()):
        super().__init__(msg)
        self.type, self.msg, self.id = type_, msg, id

    def to_error(self, msg=None):
        if not isinstance(msg, str):
            generated = self.msg
            if self.id:
                generated += ("\n\nThe failure occurred for item "
                              + "".join(str([item]) for item in self.id))
            msg = msg(generated) if callable(msg) else generated
        return self.type(msg)


def default_tolerances(*dtypes):
    """The loosest (rtol, atol) of ``dtypes`` (dtypes or Tensors)."""
    pairs = [_DTYPE_PRECISIONS.get(str(d.dtype if isinstance(d, Tensor) else d), (0.0, 0.0))
             for d in dtypes]
    return max(r for r, _ in pairs), max(a for _, a in pairs)


def _tolerances(dtypes, rtol, atol, id):
    if (rtol is None) ^ (atol is None):
        raise _ErrorMeta(ValueError, f"Both 'rtol' and 'atol' must be either specified or "
                                     f"omitted, but got no {'rtol' if rtol is None else 'atol'}.",
                         id=id)
    if rtol is not None:
        return rtol, atol
    return default_tolerances(*dtypes)


# --- message helpers (torch's wording) ----------------------------------------------------------
def _mismatch_msg(*, default_identifier, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx,
                  rtol):
    equality = rtol == 0 and atol == 0

    def line(kind, diff, idx, tol):
        text = (f"{kind.title()} difference: {diff}" if idx is None
                else f"Greatest {kind} difference: {diff} at index {idx}")
        return text + ("" if equality else f" (up to {tol} allowed)") + "\n"

    msg = f"{default_identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += line("absolute", abs_diff, abs_idx, atol)
    msg += line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_msg(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(default_identifier="Scalars",
                         extra=f"Expected {expected} but got {actual}.", abs_diff=abs_diff,
                         abs_idx=None, atol=atol, rel_diff=rel_diff, rel_idx=None, rtol=rtol)


def _unravel(flat, shape):
    idx = []
    for size in reversed(shape):
        flat, mod = divmod(flat, size)
        idx.append(mod)
    return tuple(idx[::-1])


def _first_max(xp, values):
    """(max, flat index) with NaN propagating (the first NaN), as torch.max(dim=0)."""
    nan = xp.isnan(values)
    i = int(nan.argmax()) if bool(nan.any()) else int(values.argmax())
    return values[i].item(), i


@backend.fp_quiet
def _relative(abs_diff, expected):
    """|a - e| / |e|: integers divide into float32 (torch's default dtype), floats in their own
    dtype (x / 0 is inf, 0 / 0 nan)."""
    if abs_diff.dtype.kind not in "fc":
        return abs_diff.astype("float32") / abs(expected).astype("float32")
    return abs_diff / abs(expected)


def _tensor_msg(xp, a, e, matches, rtol, atol):
    total = int(matches.size)
    bad = total - int(matches.sum())
    extra = f"Mismatched elements: {bad} / {total} ({bad / total:.1%})"
    a_flat, e_flat, m_flat = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    if a.dtype.kind not in "fc":
        a_flat, e_flat = a_flat.astype("int64"), e_flat.astype("int64")
    abs_diff = abs(a_flat - e_flat)
    abs_diff[m_flat] = 0
    max_abs, abs_i = _first_max(xp, abs_diff)
    rel_diff = _relative(abs_diff, e_flat)
    rel_diff[m_flat] = 0
    max_rel, rel_i = _first_max(xp, rel_diff)
    return _mismatch_msg(default_identifier="Tensor-likes", extra=extra, abs_diff=max_abs,
                         abs_idx=_unravel(abs_i, a.shape), atol=atol, rel_diff=max_rel,
                         rel_idx=_unravel(rel_i, a.shape), rtol=rtol)


# --- pairs --------------------------------------------------------------------------------------
class _Pair:
    def __init__(self, actual, expected, id):
        self.actual, self.expected, self.id = actual, expected, id

    def fail(self, type_, msg):
        raise _ErrorMeta(type_, msg, id=self.id)


class _NonePair(_Pair):
    def __init__(self, actual, expected, id, **options):
        if not (actual is None or expected is None):
            raise _Unsupported
        super().__init__(actual, expected, id)

    def compare(self):
        if not (self.actual is None and self.expected is None):
            self.fail(AssertionError, f"None mismatch: {self.actual} is not {self.expected}")


def _is_array_scalar(x):
    """A NumPy scalar (``numpy.float32(1.0)``, ``numpy.float64`` (a float subclass),
    ``numpy.bool_(True)``, ...)."""
    return (not isinstance(x, Tensor) and not backend.is_array(x) and hasattr(x, "dtype")
            and hasattr(x, "item") and getattr(x, "shape", None) == ())


def _is_bool(x):
    return isinstance(x, bool) or (_is_array_scalar(x) and x.dtype.kind == "b")


class _BooleanPair(_Pair):
    def __init__(self, actual, expected, id, **options):
        if not (_is_bool(actual) and _is_bool(expected)):
            raise _Unsupported
        super().__init__(bool(actual), bool(expected), id)

    def compare(self):
        if self.actual is not self.expected:
            self.fail(AssertionError, f"Booleans mismatch: {self.actual} is not {self.expected}")


def _as_number(x):
    if _is_bool(x):
        return None
    if _is_array_scalar(x):
        return x.item()
    if isinstance(x, (int, float, complex)):
        return x
    return None


class _NumberPair(_Pair):
    def __init__(self, actual, expected, id, rtol=None, atol=None, equal_nan=False,
                 check_dtype=False, **options):
        a, e = _as_number(actual), _as_number(expected)
        if a is None or e is None:
            raise _Unsupported
        super().__init__(a, e, id)
        self.rtol, self.atol = _tolerances([_NUMBER_DTYPES[type(a)], _NUMBER_DTYPES[type(e)]],
                                           rtol, atol, id)
        self.equal_nan, self.check_dtype = equal_nan, check_dtype

    def compare(self):
        a, e = self.actual, self.expected
        if self.check_dtype and type(a) is not type(e):
            self.fail(AssertionError, f"The (d)types do not match: {type(a)} != {type(e)}.")
        if a == e:
            return
        if self.equal_nan and _isnan(a) and _isnan(e):
            return
        diff = abs(a - e)
        if _isfinite(diff) and diff <= self.atol + self.rtol * abs(e):
            return
        self.fail(AssertionError, _scalar_msg(a, e, self.rtol, self.atol))


def _isnan(x):
    return math.isnan(x.real) or math.isnan(x.imag) if isinstance(x, complex) else math.isnan(x)


def _isfinite(x):
    return math.isfinite(x) if not isinstance(x, complex) else \
        math.isfinite(x.real) and math.isfinite(x.imag)


def _layout(t):
    return "torch.sparse_coo" if getattr(t, "is_sparse", False) else "torch.strided"


class _TensorPair(_Pair):
    def __init__(self, actual, expected, id, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False):
        tensors = isinstance(actual, Tensor) and isinstance(expected, Tensor)
        arrays = (backend.is_array(actual) and backend.is_array(expected)
                  and not _is_array_scalar(actual))
        if not (tensors or arrays):
            raise _Unsupported
        if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
            raise _Unsupported
        if not allow_subclasses and type(actual) is not type(expected):
            raise _Unsupported
        if arrays:
            actual, expected = Tensor.wrap(actual), Tensor.wrap(expected)
        super().__init__(actual, expected, id)
        self.rtol, self.atol = _tolerances([actual.dtype, expected.dtype], rtol, atol, id)
        self.equal_nan, self.check_device, self.check_dtype = equal_nan, check_device, check_dtype
        self.check_layout, self.check_stride = check_layout, check_stride

    def _attribute(self, name, a, e):
        self.fail(AssertionError, f"The values for attribute '{name}' do not match: {a} != {e}.")

    def compare(self):
        a, e = self.actual, self.expected
        if tuple(a.shape) != tuple(e.shape):
            self._attribute("shape", tuple(a.shape), tuple(e.shape))
        if _layout(a) != _layout(e):
            if self.check_layout:
                self._attribute("layout", _layout(a), _layout(e))
        elif _layout(a) == "torch.strided" and self.check_stride and a.stride() != e.stride():
            self._attribute("stride()", a.stride(), e.stride())
        if self.check_device and str(a.device) != str(e.device):
            self._attribute("device", a.device, e.device)
        if self.check_dtype and a.dtype != e.dtype:
            self._attribute("dtype", a.dtype, e.dtype)
        a, e = (t.to_dense() if getattr(t, "is_sparse", False) else t for t in (a, e))
        a_arr, e_arr = a.detach().array, e.detach().array
        if backend.device_of(a_arr) != backend.device_of(e_arr):
            a_arr, e_arr = backend.to_numpy(a_arr), backend.to_numpy(e_arr)
        if a_arr.dtype != e_arr.dtype:
            from ..tensor_indexing import promote_types
            common = promote_types(a_arr.dtype, e_arr.dtype)
            a_arr, e_arr = a_arr.astype(common), e_arr.astype(common)
        self._compare_values(a_arr, e_arr)

    def _compare_values(self, a, e):
        xp = backend.get_array_module(a)
        rtol, atol = self.rtol, self.atol
        matches = _isclose(xp, a, e, rtol, atol, self.equal_nan)
        if bool(matches.all()):
            return
        if a.ndim == 0:
            msg = _scalar_msg(a.item(), e.item(), rtol, atol)
        else:
            msg = _tensor_msg(xp, a, e, matches, rtol, atol)
        self.fail(AssertionError, msg)


@backend.fp_quiet
def _isclose(xp, a, e, rtol, atol, equal_nan):
    """torch.isclose: a == e, or |a - e| finite and <= atol + |rtol * e| (in the dtype of the
    arrays; NaN equal to NaN with ``equal_nan``)."""
    matches = a == e
    if equal_nan and a.dtype.kind in "fc":
        matches |= xp.isnan(a) & xp.isnan(e)
    if rtol == 0 and atol == 0:
        return matches
    if a.dtype.kind in "biu":    # differences of unsigned integers must not wrap around
        a, e = a.astype("int64"), e.astype("int64")
    err = abs(a - e)
    return matches | (xp.isfinite(err) & (err <= atol + abs(rtol * e)))


_PAIR_TYPES = (_NonePair, _BooleanPair, _NumberPair, _TensorPair)


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, str)


def _originate_pairs(actual, expected, id, options):
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _ErrorMeta(AssertionError, f"The length of the sequences mismatch: "
                                             f"{len(actual)} != {len(expected)}", id=id)
        pairs = []
        for i in range(len(actual)):
            pairs.extend(_originate_pairs(actual[i], expected[i], (*id, i), options))
        return pairs
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected,
                                                                  collections.abc.Mapping):
        a_keys, e_keys = set(actual.keys()), set(expected.keys())
        if a_keys != e_keys:
            raise _ErrorMeta(AssertionError,
                             "The keys of the mappings do not match:\n"
                             f"Missing keys in the actual mapping: {sorted(e_keys - a_keys)}\n"
                             f"Additional keys in the actual mapping: "
                             f"{sorted(a_keys - e_keys)}", id=id)
        keys = list(a_keys)
        try:
            keys = sorted(keys)
        except TypeError:
            pass
        pairs = []
        for key in keys:
            pairs.extend(_originate_pairs(actual[key], expected[key], (*id, key), options))
        return pairs
    for pair_type in _PAIR_TYPES:
        try:
            return [pair_type(actual, expected, id, **options)]
        except _Unsupported:
            continue
    raise _ErrorMeta(TypeError, f"No comparison pair was able to handle inputs of type "
                                f"{type(actual)} and {type(expected)}.", id=id)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Assert that ``actual`` and ``expected`` are close (see the module docstring): torch's
    ``torch.testing.assert_close`` with the same arguments, defaults and errors."""
    __tracebackhide__ = True
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol,
                   equal_nan=equal_nan, check_device=check_device, check_dtype=check_dtype,
                   check_layout=check_layout, check_stride=check_stride)
    try:
        pairs = _originate_pairs(actual, expected, (), options)
        for pair in pairs:
            pair.compare()
    except _ErrorMeta as meta:
        raise meta.to_error(msg) from None
