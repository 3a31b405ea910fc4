"""Checkpoints in the safetensors format, written and read without pickle.

File layout (https://github.com/huggingface/safetensors, read and written by this module)::

    8 bytes      N, little-endian unsigned header length
    N bytes      JSON header: {"name": {"dtype": "F32", "shape": [2, 3],
                               "data_offsets": [begin, end]}, ...,
                               "__metadata__": {str: str}}
    rest         the tensors' raw little-endian bytes; offsets are relative to this section

``save(obj, path)`` accepts a state dict (name -> Tensor or array), an optimizer or
scheduler state dict (nested dicts/lists/tuples of tensors, numbers, strings, None) or a
dict of those (``{'model': ..., 'optimizer': ..., 'epoch': 3}``).  Tensors are stored under
their flattened key (``"optimizer.state.0.exp_avg"``); the nested structure with all
non-tensor values goes into ``__metadata__`` as JSON, with a SHA-256 of the data section, so
that ``load`` rebuilds exactly what was saved and detects tampering.  A file without that
structure entry (e.g. written by the ``safetensors`` package) loads as a flat
``{name: Tensor}``.  Loading never executes code, validates the whole file before building
anything and returns a fresh object; writes are atomic (temporary file in the same folder,
fsync, rename).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "load_metadata", "CheckpointError"]

DTYPE_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64",
               "int32": "I32", "int16": "I16", "int8": "I8", "uint64": "U64", "uint32": "U32",
               "uint16": "U16", "uint8": "U8", "bool": "BOOL"}
CODE_DTYPES = {code: name for name, code in DTYPE_CODES.items()}

MAX_HEADER_BYTES = 100_000_000  # the safetensors limit
_STRUCTURE_KEY = "tinygrad_cv.structure"
_DIGEST_KEY = "tinygrad_cv.sha256"
_FORMAT_KEY = "format"
_RESERVED = (_STRUCTURE_KEY, _DIGEST_KEY)


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, foreign, corrupted or tampered with."""

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"cannot load checkpoint {self.path!r}: {problem}")


# ---- flattening -------------------------------------------------------------------------------
def _is_tensor_leaf(obj):
    return isinstance(obj, Tensor) or backend.is_array(obj)


def _encode(obj, prefix, tensors, where):
    """JSON-able description of ``obj``; tensors are collected into ``tensors`` by key."""
    if _is_tensor_leaf(obj):
        key = prefix or "tensor"
        base, n = key, 1
        while key in tensors or key == "__metadata__":
            key = f"{base}#{n}"
            n += 1
        tensors[key] = obj.data if isinstance(obj, Tensor) else obj
        return {"$tensor" if isinstance(obj, Tensor) else "$array": key}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$float": repr(obj)}
    if hasattr(obj, "dtype") and getattr(obj, "shape", None) == () and hasattr(obj, "item"):
        return _encode(obj.item(), prefix, tensors, where)  # a NumPy/CuPy scalar
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} at "
                                f"{where or 'top level'}")
            child = f"{prefix}.{k}" if prefix else str(k)
            items.append([k, _encode(v, child, tensors, child)])
        return {"$dict": items}
    if isinstance(obj, (list, tuple)):
        out = [_encode(v, f"{prefix}.{i}" if prefix else str(i), tensors,
                       f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"$tuple": out} if isinstance(obj, tuple) else out
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {where or 'top level'} "
                    "(only tensors, arrays, numbers, strings, None and dicts/lists of them)")


def _decode(node, tensors, path):
    if isinstance(node, list):
        return [_decode(v, tensors, path) for v in node]
    if not isinstance(node, dict):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise CheckpointError(path, f"structure holds an invalid value {node!r}")
    if len(node) != 1:
        raise CheckpointError(path, f"structure node {sorted(node)!r} is not recognised")
    (tag, value), = node.items()
    if tag in ("$tensor", "$array"):
        if value not in tensors:
            raise CheckpointError(path, f"structure refers to tensor {value!r}, which the "
                                        "header does not list")
        arr = tensors[value]
        return Tensor._wrap(arr) if tag == "$tensor" else arr
    if tag == "$dict":
        if not isinstance(value, list) or not all(isinstance(i, list) and len(i) == 2
                                                  and isinstance(i[0], (str, int)) for i in value):
            raise CheckpointError(path, "structure has a malformed dict entry")
        return {k: _decode(v, tensors, path) for k, v in value}
    if tag == "$tuple" and isinstance(value, list):
        return tuple(_decode(v, tensors, path) for v in value)
    if tag == "$float" and value in ("inf", "-inf", "nan"):
        return float(value)
    raise CheckpointError(path, f"structure node {tag!r} is not recognised")


# ---- writing ----------------------------------------------------------------------------------
def _host_bytes(array):
    """The little-endian C-order bytes of ``array`` (copied to the host)."""
    host = backend.to_numpy(array)
    host = host.astype(host.dtype.newbyteorder("<"), copy=False)
    return host.tobytes(order="C")


def save(obj, path, metadata=None):
    """Write ``obj`` (state dict, optimizer state, or a dict of them) to ``path`` atomically.

    ``metadata``: optional ``{str: str}`` stored in the header (read back with
    ``load_metadata``).  The previous file at ``path`` stays intact if anything fails.
    """
    path = os.fspath(path)
    user_meta = dict(metadata or {})
    for k, v in user_meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save: metadata must map str to str, got {k!r}: {v!r}")
        if k in _RESERVED:
            raise ValueError(f"save: metadata key {k!r} is reserved")
    tensors = {}
    structure = _encode(obj, "", tensors, "")
    header, offset = {}, 0
    for key, arr in tensors.items():
        name = backend.dtype(arr.dtype).name
        if name not in DTYPE_CODES:
            raise TypeError(f"save: tensor {key!r} has dtype {name}, which safetensors cannot "
                            f"store (supported: {', '.join(DTYPE_CODES)})")
        nbytes = int(arr.size) * arr.dtype.itemsize
        header[key] = {"dtype": DTYPE_CODES[name], "shape": [int(s) for s in arr.shape],
                       "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    digest = hashlib.sha256()
    chunks = []
    for arr in tensors.values():
        chunk = _host_bytes(arr)
        digest.update(chunk)
        chunks.append(chunk)
    meta = {_FORMAT_KEY: "pt", **user_meta,
            _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":")),
            _DIGEST_KEY: digest.hexdigest()}
    header = {"__metadata__": meta, **header}
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # align the data section to 8 bytes, as safetensors does
    atomic_write(path, [len(blob).to_bytes(8, "little"), blob, *chunks])


def atomic_write(path, parts):
    """Write the byte strings ``parts`` to ``path`` atomically.

    A temporary file in the same folder is written, fsynced and renamed over ``path``: a reader
    (or a crash, or Ctrl-C) sees either the old file or the complete new one, never a mix.
    The file gets the usual permissions (0666 less the umask).
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible everywhere
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---- reading ----------------------------------------------------------------------------------
def _read_header(f, path, file_size):
    """Parse and validate the header; returns (entries, metadata, data_start)."""
    if file_size < 8:
        raise CheckpointError(path, f"truncated: the file has {file_size} bytes, fewer than the "
                                    "8-byte header length")
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_HEADER_BYTES or n > file_size - 8:
        raise CheckpointError(path, f"bad header length {n}: the file has only {file_size - 8} "
                                    "bytes after the length field (truncated or not a "
                                    "safetensors file)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(path, f"header is not valid JSON ({exc}); not a safetensors "
                                    "file?") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in meta.items()):
        raise CheckpointError(path, "__metadata__ must map strings to strings")
    data_size = file_size - 8 - n
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise CheckpointError(path, f"tensor {name!r}: entry must have exactly dtype, shape "
                                        "and data_offsets")
        code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if code not in CODE_DTYPES:
            raise CheckpointError(path, f"tensor {name!r}: unknown dtype {code!r} (supported: "
                                        f"{', '.join(CODE_DTYPES)})")
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                  and s >= 0 for s in shape):
            raise CheckpointError(path, f"tensor {name!r}: invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise CheckpointError(path, f"tensor {name!r}: invalid data_offsets {offsets!r}")
        if offsets[1] > data_size:
            raise CheckpointError(path, f"tensor {name!r}: data_offsets {offsets} run past the "
                                        f"end of the data section ({data_size} bytes; file "
                                        "truncated?)")
        expected = math.prod(shape) * backend.dtype(CODE_DTYPES[code]).itemsize
        if offsets[1] - offsets[0] != expected:
            raise CheckpointError(path, f"tensor {name!r}: size mismatch, {offsets[1] - offsets[0]}"
                                        f" bytes for shape {shape} of {code} ({expected} bytes)")
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            problem = "overlaps the previous tensor" if begin < position else \
                "leaves a gap before it"
            raise CheckpointError(path, f"tensor {name!r}: data_offsets {[begin, end]} {problem}")
        position = end
    if position != data_size:
        raise CheckpointError(path, f"the tensors cover {position} bytes but the data section "
                                    f"has {data_size} (truncated or trailing bytes)")
    return header, meta, 8 + n


def _read_checked(path):
    """(tensors as host arrays, metadata) after validating the whole file."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        header, meta, start = _read_header(f, path, file_size)
        f.seek(start)
        data = f.read(file_size - start)
    if len(data) != file_size - start:
        raise CheckpointError(path, "truncated while reading")
    digest = meta.get(_DIGEST_KEY)
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise CheckpointError(path, "the data section does not match its SHA-256 checksum "
                                    "(corrupted or tampered with)")
    xp = backend.module_for_device("cpu")
    tensors = {}
    for name, entry in header.items():
        dtype = backend.dtype(CODE_DTYPES[entry["dtype"]]).newbyteorder("<")
        begin, end = entry["data_offsets"]
        flat = xp.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize,
                             offset=begin)
        tensors[name] = flat.reshape(entry["shape"]).astype(dtype.newbyteorder("="))
    return tensors, meta


def load(path, device=None):
    """Read a file written by ``save`` (or any safetensors file) into a fresh object.

    Tensors are placed on ``device`` (default: the default device).  Raises
    ``CheckpointError`` (a ``ValueError``) naming the file and the problem when it is
    truncated, foreign or tampered with.
    """
    tensors, meta = _read_checked(path)
    device = backend.normalize_device(device)
    tensors = {k: backend.to_device(v, device) for k, v in tensors.items()}
    structure = meta.get(_STRUCTURE_KEY)
    if structure is None:
        return {k: Tensor._wrap(v) for k, v in tensors.items()}
    try:
        node = json.loads(structure)
    except ValueError as exc:
        raise CheckpointError(path, f"the structure entry is not valid JSON ({exc})") from None
    obj = _decode(node, tensors, os.fspath(path))
    unused = set(tensors) - _referenced(node)
    if unused:
        raise CheckpointError(path, f"tensors {sorted(unused)} are not part of the saved "
                                    "structure (tampered header?)")
    return obj


def _referenced(node):
    found = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, dict):
            for tag, value in n.items():
                if tag in ("$tensor", "$array"):
                    found.add(value)
                else:
                    stack.append(value)
    return found


def load_metadata(path):
    """The user metadata given to ``save`` (``{str: str}``), after validating the file."""
    _, meta = _read_checked(path)
    return {k: v for k, v in meta.items() if k not in _RESERVED and k != _FORMAT_KEY}
