"""How a tensor prints: torch's layout and number formats, and ``set_printoptions``.

    tensor([[ 0.1818,  0.0284, -0.6441],
            [ 0.6515,  0.1046,  0.2473]], requires_grad=True)

Options (``set_printoptions``; the profiles ``default``, ``short`` and ``full`` as torch's):

    precision   digits after the point (4)
    threshold   elements above which each axis longer than 2 * edgeitems is cut to its first
                and last ``edgeitems`` entries with ``...`` between them (1000)
    edgeitems   entries kept at each end of a cut axis (3)
    linewidth   characters per line of a 1-D row before it wraps (80)
    sci_mode    True / False forces scientific / fixed notation; None chooses (below)

One format serves every element of a floating tensor, chosen from its finite non-zero values
(those shown, when the tensor is cut), with ``a = |value|``::

    scientific  when max(a) / min(a) > 1000, or max(a) > 1e8, or min(a) < 1e-4
    integral    when every such value is a whole number: ``12.`` (or ``1.2000e+01``)
    fixed       otherwise: ``{:.precision f}``

and each element is right-aligned to the widest.  Integer and bool tensors print their values
(``True``/``False``) right-aligned.  After the values come, as torch writes them: the device
when it is not the default device, ``dtype=`` when the dtype is not the default float dtype,
int64 or bool, ``size=`` for an empty tensor that is not 1-D, and ``grad_fn=<...>`` (the
framework's own Function names) or ``requires_grad=True``.  A suffix that would make the last
line longer than ``linewidth`` starts a new line.  Only the entries shown are copied to the
host.
"""
from __future__ import annotations

import math

from . import backend

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}
_OPTIONS = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set how tensors print (torch's ``set_printoptions``): a ``profile`` ('default',
    'short', 'full') first, then the options given; ``sci_mode`` is set every call (None
    lets the values choose)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of "
                             f"{sorted(_PROFILES)}")
        _OPTIONS.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"set_printoptions: {name} must be a non-negative int, "
                                 f"got {value!r}")
            _OPTIONS[name] = value
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                or math.isnan(threshold):
            raise ValueError(f"set_printoptions: threshold must be a number, got {threshold!r}")
        _OPTIONS["threshold"] = threshold
    if sci_mode is not None and not isinstance(sci_mode, bool):
        raise ValueError(f"set_printoptions: sci_mode must be True, False or None, got "
                         f"{sci_mode!r}")
    _OPTIONS["sci_mode"] = sci_mode


def get_printoptions():
    """The current options, a dict that ``set_printoptions(**options)`` takes back."""
    return dict(_OPTIONS)


class printoptions:
    """``with printoptions(precision=2): ...`` sets options for the block only."""

    def __init__(self, **options):
        self.options = options

    def __enter__(self):
        self.saved = get_printoptions()
        set_printoptions(**self.options)
        return self

    def __exit__(self, *exc):
        set_printoptions(**self.saved)
        return False


# ---- the entries shown ------------------------------------------------------------------------
def _shown_entries(array, cut):
    """The host array of the entries printed: along each axis longer than ``2 * edgeitems``
    (when ``cut``) its first and last ``edgeitems`` entries (on the array's device first, so
    only those cross to the host)."""
    edge = _OPTIONS["edgeitems"]
    if cut:
        xp = backend.get_array_module(array)
        for axis, size in enumerate(array.shape):
            if size > 2 * edge:
                keep = xp.asarray(list(range(edge)) + list(range(size - edge, size)),
                                  dtype="int64")
                array = xp.take(array, keep, axis=axis)
    return backend.to_numpy(array)


class _Formatter:
    """One format for every entry of a tensor, chosen from the entries shown."""

    def __init__(self, shown, floating):
        self.floating = floating
        self.sci = False
        self.integral = True
        self.width = 1
        if not floating:
            self.width = max((len(str(v)) for v in shown.reshape(-1).tolist()), default=1)
            return
        xp = backend.get_array_module(shown)
        values = shown[xp.isfinite(shown) & (shown != 0)]
        if values.size == 0:
            return
        magnitudes = xp.abs(values.astype(xp.float64))
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.integral = bool((values == xp.ceil(values)).all())
        forced = _OPTIONS["sci_mode"]
        self.sci = (largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
                    if forced is None else forced)
        self.width = max(len(self(v)) for v in values.astype(xp.float64).tolist())

    def __call__(self, value):
        if self.floating:
            precision = _OPTIONS["precision"]
            if self.sci:
                text = f"{value:{self.width}.{precision}e}"
            elif self.integral:
                text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
            else:
                text = f"{value:.{precision}f}"
        else:
            text = str(value)
        return text.rjust(self.width)


def _row(values, sizes, indent, fmt):
    """A 1-D row: entries joined by ', ', wrapped to ``linewidth``, ``...`` where cut."""
    edge = _OPTIONS["edgeitems"]
    per_line = max(1, (_OPTIONS["linewidth"] - indent) // (fmt.width + 2))
    if sizes[0] is not None and not edge:
        texts = ["..."]
    elif sizes[0] is not None:
        texts = [fmt(v) for v in values[:edge]] + [" ..."] + [fmt(v) for v in values[edge:]]
    else:
        texts = [fmt(v) for v in values]
    lines = [", ".join(texts[i:i + per_line]) for i in range(0, len(texts), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values, sizes, indent, fmt):
    """The bracketed text of nested lists ``values``; ``sizes[d]`` is None for an axis shown
    whole, else marks an axis cut to its first and last ``edgeitems`` entries."""
    if len(sizes) == 1:
        return _row(values, sizes, indent, fmt)
    edge = _OPTIONS["edgeitems"]
    parts = [_nested(v, sizes[1:], indent + 1, fmt) for v in values]
    if sizes[0] is not None:
        parts = parts[:edge] + ["..."] + parts[edge:]
    return "[" + ("," + "\n" * (len(sizes) - 1) + " " * (indent + 1)).join(parts) + "]"


def _values_text(array, indent):
    """The values part of ``tensor(...)`` for a non-empty array."""
    cut = array.size > _OPTIONS["threshold"]
    edge = _OPTIONS["edgeitems"]
    shown = _shown_entries(array, cut)
    fmt = _Formatter(shown, backend.is_floating(array.dtype))
    if array.ndim == 0:
        return fmt(shown.item())
    sizes = [size if cut and size > 2 * edge else None for size in array.shape]
    return _nested(shown.tolist(), sizes, indent, fmt)


def _with_suffixes(text, suffixes, indent, new_line=False):
    """``text`` + ', suffix' each (a new line at ``indent`` where the line would pass
    ``linewidth``, and for the first one when ``new_line``) + ')'."""
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if new_line or last + len(suffix) + 2 > _OPTIONS["linewidth"]:
            out.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
            new_line = False
        else:
            out.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(out) + ")"


def tensor_repr(t, grad_fn_name=None):
    """``repr(t)`` of a Tensor in torch's format (module docstring)."""
    from .creation import get_default_dtype
    prefix = "tensor("
    indent = len(prefix)
    array = t.array
    suffixes = []
    if str(t.device) != str(backend.get_default_device()):
        suffixes.append(f"device='{t.device}'")
    default_float = get_default_dtype()
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if array.dtype != default_float:
            suffixes.append(f"dtype={array.dtype}")
        text = "[]"
    else:
        if not _OPTIONS["edgeitems"]:
            suffixes.append(f"size={tuple(array.shape)}")
        if _shown_dtype(array.dtype):
            suffixes.append(f"dtype={array.dtype}")
        text = _values_text(array, indent)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + text, suffixes, indent)


def _shown_dtype(dtype):
    """The ``dtype=`` suffix's condition: not the default float dtype, int64 or bool."""
    from .creation import get_default_dtype
    return dtype not in (get_default_dtype(), backend.dtype("int64"), backend.dtype("bool"))


def sparse_coo_repr(indices, values, size, device, requires_grad, grad_fn_name=None):
    """``repr`` of a sparse COO tensor as torch writes it: its indices (sparse_dim, nnz) and
    values (nnz, *dense) arrays as two nested tensors, then size, nnz, dtype, layout."""
    indent = len("tensor(")
    parts = []
    for name, array in (("indices", indices), ("values", values)):
        prefix = f"{name}=tensor("
        if array.size == 0:
            body = f"[], size={tuple(array.shape)}"
        else:
            body = _values_text(array, indent + len(prefix))
        parts.append(prefix + body + ")")
    suffixes = []
    if str(device) != str(backend.get_default_device()):
        suffixes.append(f"device='{device}'")
    suffixes += [f"size={tuple(size)}", f"nnz={indices.shape[1]}"]
    if _shown_dtype(values.dtype):
        suffixes.append(f"dtype={values.dtype}")
    suffixes.append("layout=sparse_coo")
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    text = "tensor(" + (",\n" + " " * indent).join(parts)
    return _with_suffixes(text, suffixes, indent, new_line=True)
