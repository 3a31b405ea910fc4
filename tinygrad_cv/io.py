"""Checkpoints in the safetensors format, written and read without pickle.

File layout (https://github.com/huggingface/safetensors, read and written by this module)::

    8 bytes      N, little-endian unsigned header length
    N bytes      JSON header: {"name": {"dtype": "F32", "shape": [2, 3],
                               "data_offsets": [begin, end]}, ...,
                               "__metadata__": {str: str}}
    rest         the tensors' raw little-endian bytes; offsets are relative to this section

``save(obj, f)`` accepts a state dict (name -> Tensor or array), an optimizer or
scheduler state dict (nested dicts/lists/tuples of tensors, numbers, strings, None), a
dict of those (``{'model': ..., 'optimizer': ..., 'epoch': 3}``) or whole modules and
optimizers (``serialization.py`` holds that codec and the ``weights_only`` allow-list);
``f`` is a path or a binary file object, as torch's.  Tensors are stored under
their flattened key (``"optimizer.state.0.exp_avg"``); the nested structure with all
non-tensor values goes into ``__metadata__`` as JSON, so that ``load`` rebuilds exactly what
was saved.  Writes to a path are atomic (temporary file in the same folder, fsync, rename);
loading never executes code, validates the whole file before building anything and returns a
fresh object, so a bad file changes nothing.

Integrity (format 2)
--------------------
A file written here carries three reserved ``__metadata__`` entries::

    "tinygrad_cv.format":    "2"                   the marker: written by tinygrad_cv, format 2
    "tinygrad_cv.structure": "<JSON>"              the nested structure and non-tensor values
    "tinygrad_cv.sha256":    "<64 lowercase hex>"  the digest

The digest is ``SHA-256(DOMAIN || len(C) as 8 bytes LE || C || data section)`` where ``C`` is
the *canonical header*: the parsed header (every tensor entry and all of ``__metadata__`` --
marker, structure, user metadata -- except the digest entry itself) re-serialised as JSON with
sorted keys, no spaces and ASCII escapes.  The header's length prefix is covered indirectly:
the tensors must tile the data section exactly, so any other length is rejected.

Which check applies is decided by *claims*.  A ``__metadata__`` key claims when, parsed or
as the bytes stored between its quotes, it contains ``tinygrad`` (any case) or has the length
of a reserved name and differs from it in at most ``NEAR_MISS`` bytes.  The stored form matters:
changed bytes keep the stored length (a letter turned into a backslash escape shortens only the
parsed key), so a reserved name keeps claiming until more than ``NEAR_MISS`` of its own bytes
change.  A file with no claim is foreign (e.g. written by the ``safetensors`` package) and loads
as a flat ``{name: Tensor}``.  A file with any claim must carry exactly the marker of a known
format, a well-formed digest, the structure and no other claiming key, and the digest must
match; otherwise ``CheckpointError``.  So editing the marker itself is caught: its digest and
structure entries still claim, and the marker is part of the digested header.

What this guarantees:

* A file written by ``save`` either loads to exactly what was saved (same nesting, keys and
  their types, tensor dtypes, shapes and bytes, and non-tensor values) or raises
  ``CheckpointError``, unless the change also replaces the digest by the SHA-256 of the
  altered content (a deliberate forgery) or strips every claim (see below).  In particular
  any change to a tensor's bytes, dtype, shape, name or offsets, to ``epoch``/``lr`` or any
  other saved value, to the user metadata, to the marker or to the digest is detected; so is
  removing or renaming the digest or the marker (the other reserved entries remain as
  claims).  Bytes that do not change the parsed content (a space padding the header turned
  into another JSON whitespace, say) are tolerated: the load is then identical.
* Every malformed file -- truncated, foreign, absurd header length, non-UTF-8 or non-object
  header, NaN/Infinity or duplicate keys in the JSON, unknown dtype, shapes no array can have
  (``[2**62, 2**62, 0]``), offsets that overlap, leave gaps or run past the end, nesting deeper
  than ``MAX_DEPTH`` -- raises ``CheckpointError`` (a ``ValueError`` naming the file and the
  problem), never ``MemoryError``, ``RecursionError``, ``OverflowError``, ``KeyError`` etc.
  I/O failures (missing file, permissions) are ``OSError`` as usual.

What it does not guarantee:

* It is not authentication.  There is no key: whoever can write the file can recompute the
  digest, so a deliberate forgery is indistinguishable from a genuine file.
* Deleting or renaming *every* claim (all three reserved keys, each by more than ``NEAR_MISS``
  stored bytes, keeping the JSON valid) turns the file into a plain safetensors file; it then
  loads the way any foreign file does, as a flat ``{name: Tensor}`` of the tensors its header
  lists, never as the nested checkpoint and never with the non-tensor values (``epoch``,
  ``lr``, config).  Corruption reaches this only by changing at least ``NEAR_MISS + 1`` bytes
  inside each of the three reserved names (12 in all), or by moving the quotes around them,
  which needs further changes to keep the JSON valid.
* Files written before format 2 (structure and a digest of the data only, no marker) are
  refused, since their check did not cover the header; re-save them with this version.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import tempfile

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "load_metadata", "CheckpointError"]

DTYPE_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64",
               "int32": "I32", "int16": "I16", "int8": "I8", "uint64": "U64", "uint32": "U32",
               "uint16": "U16", "uint8": "U8", "bool": "BOOL"}
CODE_DTYPES = {code: name for name, code in DTYPE_CODES.items()}

MAX_HEADER_BYTES = 100_000_000  # the safetensors limit
MAX_DEPTH = 100                 # nesting of saved dicts/lists/tuples
MAX_NDIM = 32                   # dimensions of one tensor
MAX_TENSOR_BYTES = 2 ** 62      # a shape's non-zero dimensions times the itemsize
NEAR_MISS = 3                   # a metadata key this close to a reserved name is a claim
FORMAT_VERSION = "2"

_MARKER_KEY = "tinygrad_cv.format"
_STRUCTURE_KEY = "tinygrad_cv.structure"
_DIGEST_KEY = "tinygrad_cv.sha256"
_FORMAT_KEY = "format"          # safetensors' own convention ("pt")
_RESERVED = (_MARKER_KEY, _STRUCTURE_KEY, _DIGEST_KEY)
_DIGEST_DOMAIN = b"tinygrad_cv checkpoint\x00"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
# a JSON string token (group 1: its stored contents) and, in group 2, the colon of a key
_JSON_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(\s*:)?', re.S)


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, foreign, corrupted or tampered with."""

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"cannot load checkpoint {self.path!r}: {problem}")


# ---- the integrity check ------------------------------------------------------------------------
def _claims(key):
    """True when the metadata key ``key`` says (or once said) "written by tinygrad_cv".

    ``key`` is the parsed ``str`` or the ``bytes`` stored between its quotes in the file:
    it claims when it contains ``tinygrad`` (any case) or has a reserved name's length and
    differs from it in at most ``NEAR_MISS`` bytes.
    """
    raw = key if isinstance(key, bytes) else key.encode("utf-8", "surrogatepass")
    if b"tinygrad" in raw.lower():
        return True
    for name in _RESERVED:
        ref = name.encode("ascii")
        if len(raw) == len(ref):
            diff = (int.from_bytes(raw, "big") ^ int.from_bytes(ref, "big")).to_bytes(len(raw),
                                                                                      "big")
            if len(diff) - diff.count(0) <= NEAR_MISS:
                return True
    return False


def _stored_claims(text, meta):
    """The keys of ``meta`` that claim in their stored form (as written in the header
    ``text``), e.g. a reserved name whose letter became a backslash escape: byte changes keep
    the stored length, so they cannot shorten it out of ``NEAR_MISS``'s reach."""
    found = set()
    for m in _JSON_STRING.finditer(text):
        if m.group(2) and _claims(m.group(1).encode("utf-8")):
            key = json.loads(m.group(0)[:len(m.group(1)) + 2])
            if key in meta:
                found.add(key)
    return found


def _digest(entries, meta, data_chunks):
    """Hex SHA-256 of the canonical header (``meta`` without the digest) and the data bytes."""
    header = {"__metadata__": {k: v for k, v in meta.items() if k != _DIGEST_KEY}, **entries}
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                           allow_nan=False).encode("ascii")
    h = hashlib.sha256(_DIGEST_DOMAIN)
    h.update(len(canonical).to_bytes(8, "little"))
    h.update(canonical)
    for chunk in data_chunks:
        h.update(chunk)
    return h.hexdigest()


def _verify(entries, meta, stored_claims, data, path):
    """True for a verified tinygrad_cv file, False for a foreign one; raises otherwise."""
    claims = sorted({k for k in meta if _claims(k)} | stored_claims)
    if not claims:
        return False
    marker = meta.get(_MARKER_KEY)
    if marker is None:
        raise CheckpointError(path, f"its metadata has tinygrad_cv entries {claims} but no "
                                    f"{_MARKER_KEY!r} marker (damaged or tampered with, or "
                                    "written before format 2, whose check did not cover the "
                                    "header: re-save it)")
    if marker != FORMAT_VERSION:
        raise CheckpointError(path, f"unknown tinygrad_cv format {marker!r} (this version reads "
                                    f"format {FORMAT_VERSION}; damaged, or written by a newer "
                                    "version)")
    unknown = [k for k in claims if k not in _RESERVED]
    if unknown:
        raise CheckpointError(path, f"unknown tinygrad_cv metadata entries {unknown} (damaged "
                                    "or tampered with)")
    digest = meta.get(_DIGEST_KEY)
    if digest is None or not _HEX_DIGEST.fullmatch(digest):
        raise CheckpointError(path, f"the {_DIGEST_KEY!r} entry is missing or malformed "
                                    "(damaged or tampered with)")
    if _STRUCTURE_KEY not in meta:
        raise CheckpointError(path, f"the {_STRUCTURE_KEY!r} entry is missing (damaged or "
                                    "tampered with)")
    if not hmac.compare_digest(_digest(entries, meta, [data]), digest):
        raise CheckpointError(path, "the header and data do not match their SHA-256 checksum "
                                    "(corrupted or tampered with)")
    return True


# ---- writing ----------------------------------------------------------------------------------
def _host_bytes(array):
    """The little-endian C-order bytes of ``array`` (copied to the host)."""
    host = backend.to_numpy(array)
    host = host.astype(host.dtype.newbyteorder("<"), copy=False)
    return host.tobytes(order="C")


def save(obj, f, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization=True, *, metadata=None):
    """Write ``obj`` to ``f`` (a path, written atomically, or a binary file object).

    ``obj``: tensors, arrays, numbers, strings, None, dicts/OrderedDicts/lists/tuples/sets of
    them (state dicts, ``{'epoch': 3, 'model': sd, 'optimizer': opt.state_dict()}``), or whole
    objects whose state is their ``__dict__`` (modules, optimizers, schedulers), with shared
    and cyclic references kept (see ``serialization``).  ``metadata``: optional
    ``{str: str}`` stored in the header (read back with ``load_metadata``); keys mentioning
    ``tinygrad`` or resembling the reserved names are refused.  At a path, the previous file
    stays intact if anything fails.  ``pickle_protocol`` and
    ``_use_new_zipfile_serialization`` are accepted for torch's signature and have no effect
    (no pickle is written); a ``pickle_module`` other than the standard one is refused.
    """
    if pickle_module is not None and getattr(pickle_module, "__name__", None) != "pickle":
        raise TypeError("save: pickle_module is not supported (tinygrad_cv writes "
                        "safetensors, never pickle)")
    parts = _serialize(obj, metadata)
    if hasattr(f, "write"):
        for part in parts:
            f.write(part)
        return
    atomic_write(os.fspath(f), parts)


def _serialize(obj, metadata):
    """The checkpoint's bytes (length, header, data) as a list of byte strings."""
    from .serialization import Encoder
    user_meta = dict(metadata or {})
    for k, v in user_meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save: metadata must map str to str, got {k!r}: {v!r}")
        if _claims(k) or _claims(json.dumps(k)[1:-1].encode("ascii")):
            raise ValueError(f"save: metadata key {k!r} is reserved (keys mentioning "
                             f"'tinygrad' or resembling {', '.join(_RESERVED)} mark the "
                             "format)")
    encoder = Encoder()
    structure = encoder.encode(obj)
    tensors = encoder.tensors
    entries, offset = {}, 0
    for key, arr in tensors.items():
        name = backend.dtype(arr.dtype).name
        if name not in DTYPE_CODES:
            raise TypeError(f"save: tensor {key!r} has dtype {name}, which safetensors cannot "
                            f"store (supported: {', '.join(DTYPE_CODES)})")
        nbytes = int(arr.size) * arr.dtype.itemsize
        entries[key] = {"dtype": DTYPE_CODES[name], "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    chunks = [_host_bytes(arr) for arr in tensors.values()]
    meta = {_FORMAT_KEY: "pt", **user_meta, _MARKER_KEY: FORMAT_VERSION,
            _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False)}
    meta[_DIGEST_KEY] = _digest(entries, meta, chunks)
    header = {"__metadata__": meta, **entries}
    blob = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("ascii")
    blob += b" " * (-len(blob) % 8)  # align the data section to 8 bytes, as safetensors does
    return [len(blob).to_bytes(8, "little"), blob, *chunks]


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
def _strict_json(text, path, what):
    """``json.loads`` that refuses NaN/Infinity, duplicate keys and deep nesting."""
    def unique_pairs(pairs):
        out = {}
        for k, v in pairs:
            if k in out:
                raise CheckpointError(path, f"{what} has the key {k!r} twice")
            out[k] = v
        return out

    def no_constant(name):
        raise CheckpointError(path, f"{what} holds {name}, which is not JSON")

    def finite_float(s):
        value = float(s)
        if not math.isfinite(value):
            raise CheckpointError(path, f"{what} holds the out-of-range number {s[:40]}")
        return value

    try:
        return json.loads(text, object_pairs_hook=unique_pairs, parse_constant=no_constant,
                          parse_float=finite_float)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(path, f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise CheckpointError(path, f"{what} is not valid JSON ({exc})") from None


def _check_entry(name, entry, data_size, path):
    """Validate one tensor entry; returns its (begin, end)."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise CheckpointError(path, f"tensor {name!r}: entry must have exactly dtype, shape "
                                    "and data_offsets")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in CODE_DTYPES:
        raise CheckpointError(path, f"tensor {name!r}: unknown dtype {code!r} (supported: "
                                    f"{', '.join(CODE_DTYPES)})")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                              and s >= 0 for s in shape):
        raise CheckpointError(path, f"tensor {name!r}: invalid shape {shape!r}")
    itemsize = backend.dtype(CODE_DTYPES[code]).itemsize
    nonzero = math.prod(s for s in shape if s)
    if len(shape) > MAX_NDIM or nonzero * itemsize > MAX_TENSOR_BYTES:
        raise CheckpointError(path, f"tensor {name!r}: shape {shape!r} is larger than any array "
                                    f"can be ({len(shape)} dimensions, at most {MAX_NDIM}; "
                                    f"{nonzero} elements without the zero dimensions)")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise CheckpointError(path, f"tensor {name!r}: invalid data_offsets {offsets!r}")
    if offsets[1] > data_size:
        raise CheckpointError(path, f"tensor {name!r}: data_offsets {offsets} run past the "
                                    f"end of the data section ({data_size} bytes; file "
                                    "truncated?)")
    expected = (nonzero if all(shape) else 0) * itemsize
    if offsets[1] - offsets[0] != expected:
        raise CheckpointError(path, f"tensor {name!r}: size mismatch, {offsets[1] - offsets[0]}"
                                    f" bytes for shape {shape} of {code} ({expected} bytes)")
    return offsets[0], offsets[1]


def _read_header(blob, path):
    """Parse and validate the header of the bytes ``blob``; returns (entries, metadata,
    claims, data_start)."""
    file_size = len(blob)
    if file_size < 8:
        raise CheckpointError(path, f"truncated: the file has {file_size} bytes, fewer than the "
                                    "8-byte header length")
    n = int.from_bytes(blob[:8], "little")
    if n > MAX_HEADER_BYTES or n > file_size - 8:
        raise CheckpointError(path, f"bad header length {n}: the file has only {file_size - 8} "
                                    "bytes after the length field (truncated or not a "
                                    f"safetensors file{_foreign_hint(blob)})")
    try:
        text = bytes(blob[8:8 + n]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(path, f"header is not valid JSON (not UTF-8: {exc}); not a "
                                    f"safetensors file{_foreign_hint(blob)}?") from None
    header = _strict_json(text, path, "header")
    if not isinstance(header, dict):
        raise CheckpointError(path, "header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(path, "__metadata__ must map strings to strings")
    data_size = file_size - 8 - n
    spans = sorted(_check_entry(name, entry, data_size, path) + (name,)
                   for name, entry in header.items())
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
    return header, meta, _stored_claims(text, meta), 8 + n


def _foreign_hint(blob):
    """What a file that is not safetensors looks like it is, for the error message."""
    head = bytes(blob[:4])
    if head == b"PK\x03\x04":
        return ("; it is a zip archive, like PyTorch's torch.save files, which tinygrad_cv "
                "never unpickles: re-save the state dict with safetensors")
    if head[:1] == b"\x80":
        return "; it looks like a pickle, which tinygrad_cv never loads"
    return ""


def _read_bytes(f):
    """(bytes, name for messages) of a path or a binary file object (read to its end)."""
    if hasattr(f, "read"):
        blob = f.read()
        name = getattr(f, "name", None)
        name = name if isinstance(name, (str, bytes, os.PathLike)) else "<file object>"
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise TypeError(f"load: {name!r} returned {type(blob).__name__} from read(); open "
                            "the file in binary mode ('rb')")
        return blob, name
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return fh.read(), path


def _read_checked(f):
    """(tensors as host arrays, metadata, verified tinygrad_cv file?, name) after validating
    the whole file."""
    blob, path = _read_bytes(f)
    entries, meta, stored_claims, start = _read_header(blob, path)
    data = memoryview(blob)[start:]
    ours = _verify(entries, meta, stored_claims, data, path)
    xp = backend.module_for_device("cpu")
    tensors = {}
    for name, entry in entries.items():
        dtype = backend.dtype(CODE_DTYPES[entry["dtype"]]).newbyteorder("<")
        begin, end = entry["data_offsets"]
        flat = xp.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize,
                             offset=begin)
        if dtype.kind == "b" and bool((flat.view(xp.uint8) > 1).any()):
            raise CheckpointError(path, f"tensor {name!r}: BOOL data holds bytes other than 0 "
                                        "and 1")
        tensors[name] = flat.reshape(entry["shape"]).astype(dtype.newbyteorder("="))
    return tensors, meta, ours, path


def _target_device(map_location, device):
    """The device tensors load onto, from torch's ``map_location`` or our ``device``."""
    if map_location is not None and device is not None:
        raise TypeError("load: give map_location or device, not both")
    location = map_location if map_location is not None else device
    if isinstance(location, dict) or (callable(location) and not isinstance(location, str)):
        raise NotImplementedError(
            "load: map_location as a dict or a function is not supported (a checkpoint does "
            "not record the device its tensors came from); pass a device such as 'cpu'")
    return backend.normalize_device(location)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         device=None, **pickle_load_args):
    """Read a file written by ``save`` (or any safetensors file) into a fresh object.

    ``f``: a path or a binary file object (read from its position to its end).  Tensors are
    placed on ``map_location`` (or ``device``: a device name or object; default: the default
    device).  ``weights_only`` (default True, as torch): objects are rebuilt only for the
    allow-listed classes (see ``serialization``); ``False`` allows any class of an imported
    module.  Either way no code from the file runs: it is data, never unpickled.  A file
    written by ``save`` is verified end to end (see the module docstring) and rebuilt with its
    nesting; a foreign safetensors file loads as a flat ``{name: Tensor}``.  Raises
    ``CheckpointError`` (a ``ValueError``) naming the file and the problem when it is
    truncated, malformed, corrupted or tampered with, ``serialization.WeightsOnlyError``
    (also a ``pickle.UnpicklingError``) for a class off the allow-list; nothing is built
    before the whole file is checked.  ``mmap=True``, ``pickle_module`` and pickle's load
    arguments are not supported and raise.
    """
    from .serialization import Decoder
    if pickle_module is not None:
        raise TypeError("load: pickle_module is not supported (tinygrad_cv never unpickles)")
    if mmap:
        raise NotImplementedError("load: mmap=True is not supported (the file is read and "
                                  "verified whole)")
    if pickle_load_args:
        raise TypeError(f"load: unsupported arguments {sorted(pickle_load_args)} (pickle's "
                        "load arguments; tinygrad_cv never unpickles)")
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be True, False or None, got {weights_only!r}")
    target = _target_device(map_location, device)
    tensors, meta, ours, path = _read_checked(f)
    if ours:
        node = _strict_json(meta[_STRUCTURE_KEY], path, "the structure entry")
    moved = {k: backend.to_device(v, target) for k, v in tensors.items()}
    if not ours:
        return {k: Tensor.wrap(v) for k, v in moved.items()}
    return Decoder(moved, path, weights_only is not False).decode(node)


def load_metadata(f):
    """The user metadata given to ``save`` (``{str: str}``), after validating the file."""
    _, meta, _, _ = _read_checked(f)
    return {k: v for k, v in meta.items() if k not in _RESERVED and k != _FORMAT_KEY}
