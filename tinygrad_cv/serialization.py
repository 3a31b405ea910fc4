"""Saving whole objects (modules, optimizers, nested containers) with torch's ``weights_only``
semantics, without pickle.

``tinygrad_cv.save(obj, f)`` / ``tinygrad_cv.load(f)`` (``io.py``) write and read the
safetensors checkpoint format; this module is the *codec* between Python objects and that
format's structure entry (JSON, stored in the header and covered by its SHA-256), and the
*allow-list* of the classes a load may rebuild.

Why not a restricted pickle ``Unpickler`` (torch's approach)?  Pickle is a small stack machine
whose ``REDUCE``/``BUILD``/``INST``/``OBJ`` opcodes call whatever a ``find_class`` lets through,
so its safety rests on every allowed callable being harmless with any arguments -- the
history of ``weights_only`` bypasses shows how hard that is to keep.  Here the file is JSON
data: it can only *name* classes and functions, and the loader never calls any of them.
An object is rebuilt as ``object.__new__(cls)`` followed by ``obj.__dict__.update(state)``
(what pickle's default protocol does, minus ``__setstate__``/``__reduce__``): neither the
class's ``__init__``, ``__new__``, ``__setstate__`` nor any other code of it runs, and no
module is ever imported because a file names it.

Structure nodes (beside the plain ones of ``io.py``: JSON scalars, lists, ``$dict``,
``$tuple``, ``$tensor``, ``$array``, ``$float``)::

    {"$tensorx": [key, requires_grad, is_parameter]}   a Tensor that requires grad / a Parameter
    {"$uninit": [kind, dtype, requires_grad, persistent]}  a lazy module's uninitialised
                                 parameter or buffer (kind "UninitializedParameter" or
                                 "UninitializedBuffer"; no values)
    {"$sparse": [indices, values, size, coalesced]}    a sparse COO tensor
    {"$ref": n}                  the n-th tensor or object met so far (shared or cyclic refs)
    {"$object": [name, state]}   an instance of the class ``name`` ("module.QualName") whose
                                 ``__dict__`` is the ``$dict`` ``state``
    {"$global": name}            a class or function, by name (e.g. an activation function)
    {"$odict": [[k, v], ...]}    an OrderedDict (keys are nodes)
    {"$kdict": [[k, v], ...]}    a dict with keys other than str/int (e.g. Tensors)
    {"$set": [...]}, {"$frozenset": [...]}, {"$dtype": "float32"}
    {"$bytes": "<base64>"}, {"$complex": [real, imag]}   (real/imag: float nodes)

Tensors and objects are numbered in the order they are first met (depth first), so
``$ref`` keeps sharing (an optimizer's params *are* the model's parameters after a load) and
reference cycles through objects.

The allow-list (``weights_only=True``, the default): ``tinygrad_cv``'s and ``models``' own
``nn.Module``, ``optim.Optimizer``, ``optim.lr_scheduler.LRScheduler`` and ``optim.EMA``
classes, the functions of ``tinygrad_cv.nn.functional`` (pure maths), and whatever
``add_safe_globals([...])`` / ``with safe_globals([...])`` add.  ``weights_only=False`` widens
it to any class or function of an already imported module (still without running or importing
anything).  A name outside the allow-list raises ``WeightsOnlyError``.
"""
from __future__ import annotations

import base64
import collections
import math
import os
import pickle  # only for the exception class torch raises (pickle.UnpicklingError); never loads
import sys
import threading
import types

from . import backend
# save and load are also torch.serialization's
from .io import MAX_DEPTH, CheckpointError, load, save  # noqa: F401
from .tensor import Tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals", "WeightsOnlyError"]

_DTYPE_CLASS = type(backend.dtype("float32")).__mro__[-2]  # the dtype base class
_FRAMEWORK_PACKAGES = ("tinygrad_cv", "models")
_SAFE_FUNCTION_PACKAGE = "tinygrad_cv.nn.functional"


class WeightsOnlyError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint names a class or function that is not on the allow-list (as torch's
    ``weights_only`` load failure, it is a ``pickle.UnpicklingError``)."""


# ---- the allow-list -----------------------------------------------------------------------------
_lock = threading.Lock()
_user_safe = []  # objects, or (object, "module.qualname") pairs, as torch


def add_safe_globals(safe_globals):
    """Allow ``load`` to rebuild these classes (and reference these functions).

    ``safe_globals``: a list of classes/functions, or of ``(obj, "module.qualname")`` pairs for
    an object saved under another name.
    """
    items = list(safe_globals)
    for item in items:
        obj, name = item if isinstance(item, tuple) else (item, None)
        if not (isinstance(obj, type) or callable(obj)) or (
                isinstance(item, tuple) and (len(item) != 2 or not isinstance(name, str))):
            raise TypeError(f"add_safe_globals: expected classes, functions or (object, "
                            f"'module.qualname') pairs, got {item!r}")
    with _lock:
        _user_safe.extend(items)


def get_safe_globals():
    """The classes and functions added by ``add_safe_globals`` (a copy)."""
    with _lock:
        return list(_user_safe)


def clear_safe_globals():
    """Forget everything ``add_safe_globals`` added."""
    with _lock:
        _user_safe.clear()


class safe_globals:
    """Context manager: ``with safe_globals([Net]): tinygrad_cv.load(f)`` allows ``Net``
    inside the block only (the list is restored on exit)."""

    def __init__(self, safe_globals):
        self.items = list(safe_globals)

    def __enter__(self):
        self.before = get_safe_globals()
        add_safe_globals(self.items)
        return self

    def __exit__(self, *exc):
        with _lock:
            _user_safe[:] = self.before
        return False


def global_name(obj):
    """``"module.QualName"`` of a class or function, or None when it has no importable name
    (a lambda, a function defined inside another function)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    return f"{module}.{qualname}"


def _framework_bases():
    from .nn.module import Module
    from .optim.ema import EMA
    from .optim.lr_scheduler import LRScheduler
    from .optim.optimizer import Optimizer
    return (Module, Optimizer, LRScheduler, EMA)


def _is_framework(module_name):
    """True for a module of tinygrad_cv, or of the ``models`` package installed beside it (a
    user's own package called ``models`` is not the framework's)."""
    top = module_name.partition(".")[0]
    if top not in _FRAMEWORK_PACKAGES:
        return False
    package = sys.modules.get(top)
    where = os.path.dirname(os.path.abspath(getattr(package, "__file__", None) or "/"))
    return os.path.dirname(where) == os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _default_allowed():
    """{name: object} of the framework's loaded module/optimizer/scheduler classes and the
    ``nn.functional`` functions."""
    allowed = {}
    todo = list(_framework_bases())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        name = global_name(cls)
        if name and _is_framework(cls.__module__):
            allowed[name] = cls
    for modname, module in list(sys.modules.items()):
        if modname == _SAFE_FUNCTION_PACKAGE or modname.startswith(_SAFE_FUNCTION_PACKAGE + "."):
            for value in list(vars(module).values()):
                if isinstance(value, types.FunctionType) and \
                        value.__module__.startswith(_SAFE_FUNCTION_PACKAGE):
                    allowed[global_name(value)] = value
    return allowed


def _lookup_loaded(name):
    """The class or function ``name`` of an already imported module, else None (no import)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        obj = module
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None) if isinstance(obj, (types.ModuleType, type)) else None
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            return obj
        return None
    return None


def resolve(name, weights_only, path, default=None):
    """The allowed class or function saved as ``name``; raises ``WeightsOnlyError``.
    ``default``: the framework's allow-list if already computed (one load reuses it)."""
    if not isinstance(name, str):
        raise CheckpointError(path, f"structure names the global {name!r}, which is not a string")
    for item in get_safe_globals():
        obj, alias = item if isinstance(item, tuple) else (item, None)
        if name == (alias or global_name(obj)):
            return obj
    obj = (_default_allowed() if default is None else default).get(name)
    if obj is None and not weights_only:
        obj = _lookup_loaded(name)
    if obj is not None:
        return obj
    short = name.rsplit(".", 1)[-1]
    hint = ("it is not defined by any imported module" if not weights_only else
            f"if you trust the file, allow it with tinygrad_cv.serialization.add_safe_globals"
            f"([{short}]) or `with tinygrad_cv.serialization.safe_globals([{short}]):`, or load "
            "with weights_only=False (which still runs no code from the file)")
    raise WeightsOnlyError(path, f"weights-only load failed: the file names {name!r}, which "
                                 f"is not an allowed global; {hint}")


# ---- encoding -----------------------------------------------------------------------------------
def _is_lazy(tensor):
    """An uninitialised parameter or buffer of a lazy module (saved without values)."""
    from .nn.uninitialized import is_lazy
    return is_lazy(tensor)


def _custom_pickling(cls):
    """True when ``cls`` customises pickling (its state is not just its ``__dict__``)."""
    for attr in ("__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
                 "__getnewargs__", "__getnewargs_ex__"):
        impl = getattr(cls, attr, None)
        if impl is not None and impl is not getattr(object, attr, None):
            return True
    return False


class Encoder:
    """Turns an object graph into a JSON structure; tensors go into ``self.tensors`` by key."""

    def __init__(self):
        self.tensors = {}
        self.memo = {}   # id(obj) -> number
        self.alive = []  # keeps memoised objects alive, so their ids stay unique
        self.dense = []  # (node, key, array) of every dense tensor, for shared memory

    def encode(self, obj):
        structure = self.node(obj, "", "", 0)
        self._share_memory()
        return structure

    def _share_memory(self):
        """Tensors viewing the same memory (views of one another, ``t`` and ``t.detach()``)
        are stored once, as torch stores a storage: the bytes they span become one 1-D
        ``<key>.storage`` tensor and each becomes a ``$view`` node (element offset, shape and
        strides into it), so after a load they share memory again.  A tensor alone on its
        memory keeps its own ``$tensor`` (only its elements are written)."""
        groups = {}
        for node, key, arr in self.dense:
            span = backend.memory_span(arr)
            if span is not None:
                groups.setdefault(id(span[0]), []).append((node, key, arr, span))
        for members in groups.values():
            arrays = [arr for _, _, arr, _ in members]
            item = arrays[0].itemsize
            if len(members) < 2 or len({a.dtype for a in arrays}) > 1 or \
                    any(st % item for a in arrays for st in a.strides):
                continue
            first = min(span[1] for *_, span in members)
            end = max(span[2] for *_, span in members)
            if any((span[1] - first) % item for *_, span in members):
                continue
            storage = backend.flat_window(members[0][3][0], first, end, arrays[0].dtype)
            for _, key, _, _ in members:
                del self.tensors[key]
            skey = self._tensor_key(members[0][1] + ".storage", storage)
            for node, key, arr, span in members:
                start = span[1] - sum((n - 1) * st for n, st in zip(arr.shape, arr.strides)
                                      if st < 0)
                flags = node["$tensorx"][1:] if "$tensorx" in node else [False, False]
                node.clear()
                node["$view"] = [skey, (start - first) // item, [int(n) for n in arr.shape],
                                 [st // item for st in arr.strides], *flags]

    def _tensor_key(self, prefix, array):
        key = prefix or "tensor"
        base, n = key, 1
        while key in self.tensors or key == "__metadata__":
            key = f"{base}#{n}"
            n += 1
        self.tensors[key] = array
        return key

    def _remember(self, obj):
        self.memo[id(obj)] = len(self.memo)
        self.alive.append(obj)

    def node(self, obj, prefix, where, depth):
        if depth > MAX_DEPTH:
            raise ValueError(f"save: nested deeper than {MAX_DEPTH} levels at "
                             f"{where or 'top level'} (a reference cycle?)")
        if id(obj) in self.memo:
            return {"$ref": self.memo[id(obj)]}
        if isinstance(obj, Tensor) and obj.is_sparse:
            self._remember(obj)
            indices = self._tensor_key(prefix + ".indices", obj._indices().array)
            values = self.node(obj._values(), prefix + ".values", where, depth + 1)
            return {"$sparse": [{"$array": indices}, values, list(obj.shape),
                                bool(obj.is_coalesced())]}
        if isinstance(obj, Tensor) and _is_lazy(obj):
            self._remember(obj)
            return {"$uninit": [type(obj).__name__, obj.dtype.name, bool(obj.requires_grad),
                                bool(getattr(obj, "persistent", True))]}
        if isinstance(obj, Tensor):
            self._remember(obj)
            key = self._tensor_key(prefix, obj.array)
            from .nn.module import Parameter
            parameter = isinstance(obj, Parameter)
            node = {"$tensor": key} if not parameter and not obj.requires_grad else \
                {"$tensorx": [key, bool(obj.requires_grad), parameter]}
            self.dense.append((node, key, obj.array))
            return node
        if backend.is_array(obj):
            return {"$array": self._tensor_key(prefix, obj)}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$float": repr(float(obj))}
        if type(obj) is bytes:
            return {"$bytes": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, complex):
            return {"$complex": [self.node(obj.real, prefix, where, depth + 1),
                                 self.node(obj.imag, prefix, where, depth + 1)]}
        if isinstance(obj, _DTYPE_CLASS):
            return {"$dtype": obj.name}
        if hasattr(obj, "dtype") and getattr(obj, "shape", None) == () and hasattr(obj, "item"):
            return self.node(obj.item(), prefix, where, depth)  # a NumPy/CuPy scalar
        if isinstance(obj, dict):
            return self._mapping(obj, prefix, where, depth)
        if type(obj) in (list, tuple):
            out = [self.node(v, f"{prefix}.{i}" if prefix else str(i), f"{where}[{i}]",
                             depth + 1) for i, v in enumerate(obj)]
            return {"$tuple": out} if type(obj) is tuple else out
        if type(obj) in (set, frozenset):
            items = sorted(obj, key=repr)
            out = [self.node(v, f"{prefix}.{i}" if prefix else str(i), f"{where}{{{i}}}",
                             depth + 1) for i, v in enumerate(items)]
            return {"$set" if type(obj) is set else "$frozenset": out}
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            name = global_name(obj)
            if name is None or _lookup_loaded(name) is not obj:
                raise TypeError(f"save: cannot store a {type(obj).__name__} at "
                                f"{where or 'top level'} (it has no importable name: a lambda "
                                "or a local function?)")
            return {"$global": name}
        return self._object(obj, prefix, where, depth)

    def _mapping(self, obj, prefix, where, depth):
        # str/int keys: the plain $dict (an OrderedDict loads as a dict, which keeps the order)
        plain = all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in obj)
        if type(obj) not in (dict, collections.OrderedDict):
            raise TypeError(f"save: cannot store a {type(obj).__name__} at "
                            f"{where or 'top level'} (only dict and OrderedDict mappings)")
        items = []
        for i, (k, v) in enumerate(obj.items()):
            label = k if isinstance(k, (str, int)) and not isinstance(k, bool) else i
            child = f"{prefix}.{label}" if prefix else str(label)
            knode = k if plain else self.node(k, child + ".key", f"{child} (key)", depth + 1)
            items.append([int(k) if plain and isinstance(k, int) else knode,
                          self.node(v, child, child, depth + 1)])
        if plain:
            return {"$dict": items}
        return {"$odict" if type(obj) is collections.OrderedDict else "$kdict": items}

    def _object(self, obj, prefix, where, depth):
        cls = type(obj)
        name = global_name(cls)
        state = getattr(obj, "__dict__", None)
        if name is None or not isinstance(state, dict) or _custom_pickling(cls) or \
                isinstance(obj, (types.ModuleType, types.MethodType)) or \
                _lookup_loaded(name) is not cls:
            raise TypeError(f"save: cannot store a {cls.__name__} at {where or 'top level'} "
                            "(only tensors, arrays, numbers, strings, bytes, None, dicts/lists/tuples/"
                            "sets of them, and objects of importable classes whose state is "
                            "their __dict__, such as modules and optimizers)")
        self._remember(obj)
        return {"$object": [name, self._mapping(dict(state), prefix, where, depth + 1)]}


# ---- decoding -----------------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 62


class Decoder:
    """Rebuilds the objects of a structure from ``tensors`` (key -> backend array).

    Each tensor key may be used once (sharing goes through ``$ref``); classes and functions
    are resolved through the allow-list; nothing of the rebuilt classes is called.
    """

    def __init__(self, tensors, path, weights_only=True):
        self.tensors = tensors
        self.path = path
        self.weights_only = weights_only
        self.used = set()
        self.storages = {}  # key -> 1-D array that $view nodes share
        self.memo = []
        self.default_allowed = None   # computed at the first class or function named

    def fail(self, problem):
        raise CheckpointError(self.path, problem)

    def decode(self, node):
        obj = self.node(node, 0)
        unused = set(self.tensors) - self.used
        if unused:
            self.fail(f"tensors {sorted(unused)[:10]} are not part of the saved structure "
                      "(tampered header?)")
        return obj

    def node(self, node, depth):
        if depth > MAX_DEPTH:
            self.fail(f"the structure is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, list):
            return [self.node(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            if node is None or isinstance(node, (bool, int, float, str)):
                return node
            self.fail(f"structure holds an invalid value {node!r}")
        if len(node) != 1:
            self.fail(f"structure node {sorted(node)[:5]!r} is not recognised")
        (tag, value), = node.items()
        handler = _HANDLERS.get(tag)
        if handler is None:
            self.fail(f"structure node {tag!r} is not recognised")
        return handler(self, value, depth)

    def array(self, key):
        if not isinstance(key, str) or key not in self.tensors:
            self.fail(f"structure refers to tensor {key!r}, which the header does not list")
        if key in self.used:
            self.fail(f"structure refers to tensor {key!r} twice")
        self.used.add(key)
        return self.tensors[key]

    def tensor(self, value, depth):
        t = Tensor.wrap(self.array(value))
        self.memo.append(t)
        return t

    def uninit(self, value, depth):
        """An uninitialised parameter or buffer (``nn.uninitialized``)."""
        from .nn.uninitialized import UninitializedBuffer, UninitializedParameter
        kinds = {"UninitializedParameter": UninitializedParameter,
                 "UninitializedBuffer": UninitializedBuffer}
        if not (isinstance(value, list) and len(value) == 4 and value[0] in kinds
                and isinstance(value[1], str) and all(isinstance(v, bool) for v in value[2:])):
            self.fail(f"structure has a malformed uninitialised tensor node {str(value)[:80]}")
        kind, dtype, requires_grad, persistent = value
        try:
            dtype = backend.dtype(dtype)
        except (TypeError, ValueError):
            self.fail(f"structure holds the unknown dtype {dtype!r}")
        if requires_grad and not backend.is_floating(dtype):
            self.fail(f"uninitialised tensor of dtype {dtype} cannot require gradients")
        extra = {"persistent": persistent} if kind == "UninitializedBuffer" else {}
        t = kinds[kind](requires_grad, dtype=dtype, **extra)     # on the default device
        self.memo.append(t)
        return t

    def tensorx(self, value, depth):
        if not (isinstance(value, list) and len(value) == 3
                and all(isinstance(v, bool) for v in value[1:])):
            self.fail(f"structure has a malformed tensor node {value!r}")
        key, requires_grad, parameter = value
        return self._tensor_of(self.array(key), key, requires_grad, parameter)

    def view(self, value, depth):
        """A tensor on part of a shared storage (see ``Encoder._share_memory``); its
        offset, shape and strides are checked to stay inside the storage."""
        if not (isinstance(value, list) and len(value) == 6 and isinstance(value[0], str)
                and _is_int(value[1]) and all(isinstance(v, list) for v in value[2:4])
                and all(_is_int(n) for n in value[2] + value[3]) and len(value[2]) == len(value[3])
                and len(value[2]) <= 64 and all(isinstance(v, bool) for v in value[4:])):
            self.fail(f"structure has a malformed view node {str(value)[:200]}")
        key, offset, shape, strides, requires_grad, parameter = value
        if key not in self.storages:
            storage = self.array(key)
            if storage.ndim != 1:
                self.fail(f"storage {key!r} is not 1-D")
            self.storages[key] = storage
        storage = self.storages[key]
        if any(n < 0 for n in shape):
            self.fail(f"view of {key!r} has a negative size {shape}")
        if 0 not in shape:
            low = offset + sum((n - 1) * st for n, st in zip(shape, strides) if st < 0)
            high = offset + sum((n - 1) * st for n, st in zip(shape, strides) if st > 0)
            if low < 0 or high >= storage.size:
                self.fail(f"view of {key!r} (offset {offset}, shape {shape}, strides {strides}) "
                          f"reaches outside its {storage.size} elements")
        elif not 0 <= offset <= storage.size:
            self.fail(f"view of {key!r} has offset {offset} outside its {storage.size} elements")
        item = storage.itemsize
        arr = backend.as_strided(storage[offset:], tuple(shape), tuple(st * item for st in strides))
        return self._tensor_of(arr, key, requires_grad, parameter)

    def _tensor_of(self, arr, key, requires_grad, parameter):
        if requires_grad and not backend.is_floating(arr.dtype):
            self.fail(f"tensor {key!r} of dtype {arr.dtype} cannot require gradients")
        if parameter:
            from .nn.module import Parameter
            t = Parameter.wrap(arr)
        else:
            t = Tensor.wrap(arr)
        t.requires_grad = requires_grad
        self.memo.append(t)
        return t

    def sparse(self, value, depth):
        """A sparse COO tensor, rebuilt (and its indices checked) by ``sparse_coo_tensor``."""
        if not (isinstance(value, list) and len(value) == 4 and isinstance(value[2], list)
                and isinstance(value[3], bool)):
            self.fail(f"structure has a malformed sparse tensor node {str(value)[:80]}")
        from .sparse import sparse_coo_tensor
        slot = len(self.memo)
        self.memo.append(None)
        indices, values = self.node(value[0], depth + 1), self.node(value[1], depth + 1)
        if not backend.is_array(indices) or not isinstance(values, Tensor):
            self.fail("a sparse tensor's indices or values are not arrays")
        try:
            t = sparse_coo_tensor(indices, values, value[2], is_coalesced=value[3] or None)
        except (ValueError, TypeError, IndexError) as exc:
            self.fail(f"invalid sparse tensor: {exc}")
        self.memo[slot] = t
        return t

    def ref(self, value, depth):
        if not isinstance(value, int) or isinstance(value, bool) or \
                not 0 <= value < len(self.memo):
            self.fail(f"structure refers to object {value!r}, which was not defined before")
        return self.memo[value]

    def items(self, value, depth, plain):
        if not isinstance(value, list) or not all(isinstance(i, list) and len(i) == 2
                                                  for i in value):
            self.fail("structure has a malformed dict entry")
        out = []
        for k, v in value:
            if plain and (not isinstance(k, (str, int)) or isinstance(k, bool)):
                self.fail("structure has a malformed dict entry")
            key = k if plain else self.node(k, depth + 1)
            try:
                hash(key)
            except TypeError:
                self.fail(f"structure has an unhashable dict key of type {type(key).__name__}")
            out.append((key, self.node(v, depth + 1)))
        return out

    def mapping(self, value, depth, kind, plain):
        out = kind()
        for k, v in self.items(value, depth, plain):
            if k in out:
                self.fail(f"structure has the dict key {k!r} twice")
            out[k] = v
        return out

    def collection(self, value, depth, kind):
        if not isinstance(value, list):
            self.fail(f"structure has a malformed {kind.__name__}")
        items = [self.node(v, depth + 1) for v in value]
        try:
            return kind(items)
        except TypeError:
            self.fail(f"structure has an unhashable {kind.__name__} element")

    def global_(self, value, depth):
        if self.default_allowed is None:
            self.default_allowed = _default_allowed()
        obj = resolve(value, self.weights_only, self.path, self.default_allowed)
        if not isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            self.fail(f"allowed global {value!r} is not a class or function")
        return obj

    def object_(self, value, depth):
        if not isinstance(value, list) or len(value) != 2:
            self.fail("structure has a malformed object node")
        name, state_node = value
        cls = self.global_(name, depth)
        if not isinstance(cls, type) or issubclass(cls, (Tensor, type, BaseException)):
            self.fail(f"{name!r} is not a class whose objects can be rebuilt from a state dict")
        try:
            obj = object.__new__(cls)   # no __init__, __new__ or __setstate__ of cls runs
        except TypeError:
            self.fail(f"objects of {name!r} cannot be rebuilt from their state")
        if not isinstance(getattr(obj, "__dict__", None), dict):
            self.fail(f"objects of {name!r} have no __dict__ to restore")
        self.memo.append(obj)
        if not (isinstance(state_node, dict) and set(state_node) == {"$dict"}):
            self.fail(f"the state of the {name!r} object is not a dict")
        obj.__dict__.update(self.node(state_node, depth + 1))
        return obj

    def float_(self, value, depth):
        if isinstance(value, str) and value in ("inf", "-inf", "nan"):
            return float(value)
        self.fail(f"structure node '$float' holding {value!r} is not recognised")

    def bytes_(self, value, depth):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (AttributeError, ValueError):
            self.fail(f"structure node '$bytes' holding {str(value)[:50]!r} is not base64")

    def complex_(self, value, depth):
        parts = [self.node(v, depth + 1) for v in value] if isinstance(value, list) else ()
        if len(parts) != 2 or not all(isinstance(p, float) for p in parts):
            self.fail(f"structure node '$complex' holding {str(value)[:50]!r} is not [real, imag]")
        return complex(*parts)

    def dtype(self, value, depth):
        try:
            return backend.dtype(value) if isinstance(value, str) and value.isalnum() else \
                self.fail(f"structure holds the dtype {value!r}")
        except TypeError:
            self.fail(f"structure holds the unknown dtype {value!r}")

    def tuple_(self, value, depth):
        if not isinstance(value, list):
            self.fail("structure has a malformed tuple")
        return tuple(self.node(v, depth + 1) for v in value)


_HANDLERS = {
    "$tensor": Decoder.tensor,
    "$array": lambda self, value, depth: self.array(value),
    "$tensorx": Decoder.tensorx,
    "$uninit": Decoder.uninit,
    "$view": Decoder.view,
    "$sparse": Decoder.sparse,
    "$ref": Decoder.ref,
    "$dict": lambda self, value, depth: self.mapping(value, depth, dict, True),
    "$odict": lambda self, value, depth: self.mapping(value, depth, collections.OrderedDict,
                                                      False),
    "$kdict": lambda self, value, depth: self.mapping(value, depth, dict, False),
    "$tuple": Decoder.tuple_,
    "$set": lambda self, value, depth: self.collection(value, depth, set),
    "$frozenset": lambda self, value, depth: self.collection(value, depth, frozenset),
    "$float": Decoder.float_,
    "$bytes": Decoder.bytes_,
    "$complex": Decoder.complex_,
    "$dtype": Decoder.dtype,
    "$global": Decoder.global_,
    "$object": Decoder.object_,
}
