"""``Module``, ``Parameter`` and the containers, with torch.nn's names and state_dict keys."""
from __future__ import annotations

import collections
import collections.abc
import itertools
import operator
import warnings
import weakref

from .. import backend
from ..arguments import to_host_array
from ..autograd.versions import bump_version, version_box
from ..tensor import Tensor
from .backward_hooks import BackwardHook


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """``load_state_dict``'s result: the missing and unexpected keys (torch's named tuple)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


IncompatibleKeys = _IncompatibleKeys


def _alias(t, data):
    """Initialise the new tensor ``t`` on ``data``'s memory and version counter (torch: a
    Parameter or Buffer made from a tensor shares its storage)."""
    Tensor.__init__(t, ())
    t.array = data.array
    t._vbox = version_box(data)


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight (``requires_grad=True`` by default).

    Made from a Tensor, it shares that tensor's memory and version counter (torch: the
    parameter aliases the tensor's storage); made from an array or data, it owns a copy."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.module_for_device(None).empty(0, dtype="float32")
        if isinstance(data, Tensor):
            _alias(self, data)
            self.requires_grad_(requires_grad)
            return
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """Marks a tensor to become a buffer when assigned to a module attribute
    (``self.stats = nn.Buffer(t, persistent=False)``, torch's ``nn.Buffer``); the module keeps
    a plain Tensor sharing ``t``'s memory."""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = backend.module_for_device(None).empty(0, dtype="float32")
        if isinstance(data, Tensor):
            _alias(self, data)
        else:
            super().__init__(data)
        self.persistent = bool(persistent)


def _unwrap_buffer(value):
    """An ``nn.Buffer`` as the plain Tensor a module stores (same memory and version counter)."""
    t = Tensor.__new__(Tensor)
    _alias(t, value)
    return t


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods: ``handle.remove()`` (or leaving a ``with``
    block) unregisters the hook.  Holds its dicts weakly, as torch's."""

    _ids = itertools.count()

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.id = next(RemovableHandle._ids)
        extra = extra_dict if isinstance(extra_dict, (list, tuple)) else \
            ([] if extra_dict is None else [extra_dict])
        self._refs = [weakref.ref(d) for d in (hooks_dict, *extra)]

    def remove(self):
        for ref in self._refs:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _typename(value):
    return type(value).__name__


def _check_member_name(module, name, kind, store):
    """torch's rules for a parameter/buffer/module name (``kind``) registered in ``store``."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain \".\"" + (f", got: {name}" if kind == "module" else ""))
    if name == "":
        raise KeyError(f"{kind} name can't be empty string \"\"")
    if hasattr(module, name) and name not in store:
        raise KeyError(f"attribute '{name}' already exists")


def _is_tensor_like(value):
    """A state_dict value load_state_dict can copy: a Tensor, or an array (NumPy/CuPy/torch)."""
    return isinstance(value, Tensor) or hasattr(value, "__array__") or hasattr(value, "__cuda_array_interface__")


# hook stores, created on first registration (modules saved before hooks existed load unchanged)
_FORWARD_PRE, _FORWARD_PRE_KW = "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs"
_FORWARD, _FORWARD_KW, _FORWARD_ALWAYS = ("_forward_hooks", "_forward_hooks_with_kwargs",
                                          "_forward_hooks_always_called")
_SD_PRE, _SD_POST = "_state_dict_pre_hooks", "_state_dict_hooks"
_LOAD_PRE, _LOAD_POST = "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks"
_BACKWARD, _BACKWARD_PRE = "_backward_hooks", "_backward_pre_hooks"
_EXTRA_STATE_KEY_SUFFIX = "_extra_state"
_STAGED = "_staged_writes"   # local_metadata entry: load_state_dict's deferred writes


# hooks every module runs (torch.nn.modules.module.register_module_*_hook), before its own
_global_forward_pre = collections.OrderedDict()
_global_forward = collections.OrderedDict()
_global_forward_kw = collections.OrderedDict()
_global_forward_always = collections.OrderedDict()
_global_backward = collections.OrderedDict()
_global_backward_pre = collections.OrderedDict()
_global_hooked = [False]   # set once a global hook is registered (every __call__ then checks)


def _register_hook(hooks, hook, prepend=False, flags=()):
    """``hook`` into the OrderedDict ``hooks``; ``flags``: dicts (with_kwargs, always_call)
    that also record its id.  Returns its RemovableHandle."""
    handle = RemovableHandle(hooks, extra_dict=list(flags))
    if any(hooks is g for g in (_global_forward_pre, _global_forward, _global_backward,
                                _global_backward_pre)):
        _global_hooked[0] = True
    hooks[handle.id] = hook
    for f in flags:
        f[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` before every module's forward (before the module's own
    pre-hooks); a non-None result replaces the arguments."""
    return _register_hook(_global_forward_pre, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
    ``with_kwargs``) after every module's forward, before the module's own hooks."""
    flags = ([_global_forward_kw] if with_kwargs else []) + \
        ([_global_forward_always] if always_call else [])
    return _register_hook(_global_forward, hook, flags=flags)


def register_module_full_backward_pre_hook(hook):
    """Every module's ``register_full_backward_pre_hook``, run before its own."""
    return _register_hook(_global_backward_pre, hook)


def register_module_full_backward_hook(hook):
    """Every module's ``register_full_backward_hook``, run before its own."""
    return _register_hook(_global_backward, hook)


def _write_staged(staged):
    """Make the writes ``Module._stage_load`` checked: (tensor, None, array) copies in place,
    (module, name, value) assigns, (module, "_extra_state", state) sets the extra state."""
    for target, name, value in staged:
        if name == _EXTRA_STATE_KEY_SUFFIX:
            target.set_extra_state(value)
        elif name is not None:
            setattr(target, name, value)
        elif target.array.shape == ():
            target.array = value.copy()
            bump_version(target)
        else:
            target.array[...] = value
            bump_version(target)


class Module:
    """Base class of layers and models: holds parameters, buffers and sub-modules in order.

    Subclasses define ``forward``; calling the module runs it (between its forward hooks).
    Attribute assignment of a ``Parameter`` or ``Module`` registers it under that name (torch's
    state_dict keys follow); assigning anything else to a registered name follows torch's rules
    (a parameter takes a Parameter or None, a buffer a Tensor or None, a sub-module a Module or
    None).
    """

    # buffers that keep their value when a state_dict lacks them (torch's norm layers: their
    # num_batches_tracked, absent from checkpoints written before it existed)
    _optional_state = ()
    _call_hooked = False   # set once a forward or backward hook is registered (slow __call__)

    def __init__(self):
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep=params)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep=modules)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(nn.Module or None expected)")
            modules[name] = None
        elif isinstance(value, Buffer):
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self._forget(name, keep=buffers)
            self.register_buffer(name, value, value.persistent)
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"(nn.Buffer, Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove ``name`` from every store but ``keep`` and from the plain attributes."""
        self.__dict__.pop(name, None)
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self)) + list(self._parameters) + list(self._modules) + \
            list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def _get_name(self):
        return type(self).__name__

    def register_parameter(self, name, param):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_member_name(self, name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(nn.Parameter or None required)")
        if param is not None and param.creator is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A non-learnable state tensor (e.g. BatchNorm's running mean), saved in state_dict
        unless ``persistent=False``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_member_name(self, name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(Tensor or None required)")
        self._buffers[name] = _unwrap_buffer(tensor) if isinstance(tensor, Buffer) else tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        _check_member_name(self, name, "module", self._modules)
        self._modules[name] = module

    def register_module(self, name, module):
        self.add_module(name, module)

    def get_submodule(self, target):
        """The sub-module at the dotted path ``target`` ("" is self)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at the dotted path ``target`` (its parent must exist; with
        ``strict`` the path itself must too)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if hasattr(parent, name):
            if not isinstance(getattr(parent, name), Module):
                raise AttributeError(f"`{name}` is not an nn.Module")
        elif strict:
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        setattr(parent, name, module)

    def _get_member(self, target, kind, store):
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in getattr(mod, store):
            raise AttributeError(f"`{name}` is not {kind}")
        return getattr(mod, name)

    def get_parameter(self, target):
        """The parameter at the dotted path ``target`` (e.g. ``"encoder.0.weight"``)."""
        return self._get_member(target, "an nn.Parameter", "_parameters")

    def get_buffer(self, target):
        """The buffer at the dotted path ``target``."""
        return self._get_member(target, "a buffer", "_buffers")

    # ---- forward and its hooks ---------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  f"\"forward\" function")

    def _hook_store(self, name):
        store = self.__dict__.get(name)
        if store is None:
            store = collections.OrderedDict()
            object.__setattr__(self, name, store)
        return store

    def _add_hook(self, name, hook, prepend=False, flags=()):
        """Register ``hook`` in the store ``name``; ``flags``: the stores (with_kwargs, ...)
        that also record its id."""
        if name in (_FORWARD_PRE, _FORWARD, _BACKWARD, _BACKWARD_PRE):
            object.__setattr__(self, "_call_hooked", True)
        return _register_hook(self._hook_store(name), hook, prepend,
                              [self._hook_store(f) for f in flags])

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with ``with_kwargs``) runs
        before ``forward``; a non-None result replaces the positional arguments (a non-tuple is
        wrapped in one), or with ``with_kwargs`` must be a new ``(args, kwargs)`` pair."""
        self._hook_store(_FORWARD_PRE_KW)
        return self._add_hook(_FORWARD_PRE, hook, prepend, (_FORWARD_PRE_KW,) if with_kwargs else ())

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``) runs after ``forward``; a non-None result replaces the output.  With
        ``always_call`` it also runs when ``forward`` raises (its result is then discarded)."""
        flags = ((_FORWARD_KW,) if with_kwargs else ()) + ((_FORWARD_ALWAYS,) if always_call else ())
        for f in (_FORWARD_KW, _FORWARD_ALWAYS):
            self._hook_store(f)
        return self._add_hook(_FORWARD, hook, prepend, flags)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are
        known; a non-None result (a tuple of the same length) replaces them."""
        return self._add_hook(_BACKWARD_PRE, hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients of the module's
        positional Tensor inputs are known; a non-None result replaces ``grad_input``."""
        return self._add_hook(_BACKWARD, hook, prepend)

    def __call__(self, *args, **kwargs):
        if not (self._call_hooked or _global_hooked[0]):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        """forward between the global and own hooks, in torch's order (global first)."""
        d = self.__dict__
        for hook_id, hook in list(_global_forward_pre.items()) + list(d.get(_FORWARD_PRE, {}).items()):
            if hook_id in d.get(_FORWARD_PRE_KW, ()):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        if d.get(_BACKWARD) or d.get(_BACKWARD_PRE) or _global_backward or _global_backward_pre:
            backward_hook = BackwardHook(
                self, list(_global_backward.values()) + list(d.get(_BACKWARD, {}).values()),
                list(_global_backward_pre.values()) + list(d.get(_BACKWARD_PRE, {}).values()))
            args = backward_hook.setup_inputs(args)
        hooks = list(_global_forward.items()) + list(d.get(_FORWARD, {}).items())
        with_kwargs = set(_global_forward_kw) | set(d.get(_FORWARD_KW, ()))
        always = set(_global_forward_always) | set(d.get(_FORWARD_ALWAYS, ()))
        called, output = set(), None
        try:
            output = self.forward(*args, **kwargs)
            for hook_id, hook in hooks:
                result = hook(self, args, kwargs, output) if hook_id in with_kwargs \
                    else hook(self, args, output)
                called.add(hook_id)
                if result is not None:
                    output = result
            if backward_hook is not None:
                if not isinstance(output, (Tensor, tuple)):
                    warnings.warn(f"For backward hooks to be called, module output should be a "
                                  f"Tensor or a tuple of Tensors but received {type(output)}",
                                  stacklevel=2)
                output = backward_hook.setup_outputs(output)
            return output
        except Exception:
            for hook_id, hook in hooks:
                if hook_id in always and hook_id not in called:
                    try:
                        result = hook(self, args, kwargs, output) if hook_id in with_kwargs \
                            else hook(self, args, output)
                        if result is not None:
                            output = result
                    except Exception as e:
                        warnings.warn(f"forward hook with ``always_call=True`` raised an "
                                      f"exception that was silenced as another error was "
                                      f"raised in forward: {e}", stacklevel=2)
            raise

    # ---- traversal ---------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) pairs, self first, depth-first; a module reachable twice is listed
        once unless ``remove_duplicate=False`` (as state_dict, which keeps every path)."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, child) pairs of the direct sub-modules; a child held twice is listed once."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """``fn`` on every sub-module (children first, each once) and then on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes -------------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode here and (through their own ``train``) in every child."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop the gradients, or with ``set_to_none=False`` zero them in place (each is cut
        from any graph first, as torch)."""
        for p in self.parameters():
            g = p.grad
            if g is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g.detach_()
                g.zero_()

    # ---- device / dtype ----------------------------------------------------------------------
    @staticmethod
    def _parse_to(args, kwargs):
        """``(device, dtype, memory_format)`` from torch's ``to`` forms: ``to(device)``,
        ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``, ``to(device=, dtype=,
        memory_format=)``."""
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        memory_format = kwargs.pop("memory_format", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) and a.split(":")[0] in backend.DEVICES:
                device = a
            elif isinstance(a, bool):
                continue  # to(device, dtype, non_blocking) positional
            else:
                dtype = a
        if dtype is not None:
            try:
                dtype = backend.dtype(dtype)
            except TypeError:
                raise TypeError(f"Module.to: expected a device, a dtype or a Tensor, got {dtype!r}") \
                    from None
            if not backend.is_floating(dtype):
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
        return device, dtype, memory_format

    def to(self, *args, **kwargs):
        """Move parameters, buffers and their gradients to a device and/or cast the floating
        ones to a floating dtype, in place (the Parameter objects stay the same); with
        ``memory_format`` the 4-D and 5-D ones take that layout (torch's channels_last)."""
        device, dtype, memory_format = self._parse_to(args, dict(kwargs))
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    for holder in (t, t.grad):
                        if holder is None:
                            continue
                        arr = holder.array if device is None else backend.to_device(holder.array, device)
                        if dtype is not None and backend.is_floating(arr.dtype):
                            arr = arr.astype(dtype, copy=False)
                        if memory_format is not None and arr.ndim in (4, 5):
                            arr = Tensor.wrap(arr).contiguous(memory_format=memory_format).array
                        holder.array = arr
        return self

    def _apply(self, fn, recurse=True):
        """``fn`` on every parameter, buffer and gradient (children first): a parameter keeps
        its identity and takes the result's storage (``p.data = fn(p)``, as torch), a buffer
        is replaced by the result."""
        from ..autograd.mode import no_grad
        if recurse:
            for m in self.children():
                m._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                p.data = fn(p)
                if p.grad is not None:
                    p.grad.data = fn(p.grad)
            for name, b in self._buffers.items():
                if b is not None:
                    self._buffers[name] = fn(b)
        return self

    def to_empty(self, *, device=None, recurse=True):
        """Parameters and buffers replaced by uninitialised ones of the same shapes and dtypes
        on ``device``."""
        from ..creation import empty_like
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def share_memory(self):
        """Every parameter, buffer and gradient moved to shared memory (``share_memory_``):
        worker processes (``tinygrad_cv.multiprocessing``) then train this very module in
        place; returns self."""
        return self._apply(lambda t: t.share_memory_())

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    # ---- state -------------------------------------------------------------------------------
    def get_extra_state(self):
        """Override with ``set_extra_state`` to keep a non-tensor value in the state_dict
        (under ``<prefix>_extra_state``)."""
        raise RuntimeError("Module.get_extra_state() is only called when a subclass defines it")

    def set_extra_state(self, state):
        raise RuntimeError("Module.set_extra_state() is only called when a subclass defines it")

    def _has_extra_state(self):
        return type(self).set_extra_state is not Module.set_extra_state

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before this module's ``state_dict``."""
        return self._add_hook(_SD_PRE, hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module's entries
        (and its children's) are in ``state_dict``; it changes the dict in place (returns None)."""
        def checked(module, state_dict, prefix, local_metadata):
            if hook(module, state_dict, prefix, local_metadata) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return self._add_hook(_SD_POST, checked)

    def _register_state_dict_hook(self, hook):
        """torch's older form: ``hook(module, state_dict, prefix, local_metadata)`` may return a
        new state_dict."""
        return self._add_hook(_SD_POST, hook)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module's entries are read; it may change
        ``state_dict`` (a copy of the caller's)."""
        return self._add_hook(_LOAD_PRE, hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after loading; it may edit
        ``incompatible_keys.missing_keys`` / ``.unexpected_keys`` in place (strict mode raises
        on what is left) and must return None."""
        return self._add_hook(_LOAD_POST, hook)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        if self._has_extra_state():
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """Ordered mapping of parameter and persistent-buffer names to tensors (torch's keys:
        ``prefix`` + dotted path, the prefix taken as given).  Tensors are detached (sharing
        storage) unless ``keep_vars``; entries go into ``destination`` when given."""
        if args:  # torch's deprecated positional form (destination, prefix, keep_vars)
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        if destination is None:
            destination = collections.OrderedDict()
        for hook in list(self.__dict__.get(_SD_PRE, {}).values()):
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in list(self.__dict__.get(_SD_POST, {}).values()):
            result = hook(self, destination, prefix, {})
            if result is not None:
                destination = result
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """torch's per-module step of ``load_state_dict``: this module's load pre-hooks, then
        the check of its own entries.  Subclasses may override it (e.g. to rename old keys in
        ``state_dict``, then call ``super()``).  Inside ``load_state_dict`` the writes are
        staged and made once every module is checked; called on its own, it writes at once."""
        for hook in list(self.__dict__.get(_LOAD_PRE, {}).values()):
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        staged = local_metadata.get(_STAGED)
        own = [] if staged is None else staged
        self._stage_load(state_dict, prefix, local_metadata.get("assign_to_params_buffers", False),
                         missing_keys, error_msgs, own)
        if staged is None and not error_msgs:
            _write_staged(own)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """torch's older form: ``hook(state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` (the module first with ``with_module``)."""
        return self._add_hook(_LOAD_PRE, hook if with_module else
                              (lambda module, *args: hook(*args)))

    def _stage_load(self, state_dict, prefix, assign, missing, errors, staged):
        """Check this module's own entries of ``state_dict``; append what to write to
        ``staged`` and what is wrong to ``missing``/``errors`` (nothing is written here)."""
        local = [(n, p, True) for n, p in self._parameters.items() if p is not None] + \
            [(n, b, False) for n, b in self._buffers.items()
             if b is not None and n not in self._non_persistent]
        for name, target, is_param in local:
            key = prefix + name
            if key not in state_dict:
                if name not in self._optional_state:
                    missing.append(key)
                continue
            value = state_dict[key]
            if not _is_tensor_like(value):
                errors.append(f"While copying the parameter named \"{key}\", expected Tensor or "
                              f"Tensor-like object from checkpoint but received {type(value)}")
                continue
            shape = tuple(getattr(value, "shape", ()))
            if target.ndim == 0 and shape == (1,):
                value, shape = value[0], ()
            if shape != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {shape} from "
                              f"checkpoint, the shape in current model is {tuple(target.shape)}.")
                continue
            if assign:
                new = value if isinstance(value, Tensor) else \
                    Tensor(backend.as_array(to_host_array(value), device=target.device))
                if is_param:
                    new = Parameter(new, requires_grad=target.requires_grad) \
                        if not isinstance(new, Parameter) else new.requires_grad_(target.requires_grad)
                staged.append((self, name, new))
            else:
                arr = backend.as_array(to_host_array(value), device=target.device)
                staged.append((target, None, arr.astype(target.dtype, copy=False)))
        if self._has_extra_state():
            key = prefix + _EXTRA_STATE_KEY_SUFFIX
            if key in state_dict:
                staged.append((self, _EXTRA_STATE_KEY_SUFFIX, state_dict[key]))
            else:
                missing.append(key)

    def _expected_keys(self, prefix):
        keys = [prefix + n for n, p in self._parameters.items() if p is not None]
        keys += [prefix + n for n, b in self._buffers.items()
                 if b is not None and n not in self._non_persistent]
        if self._has_extra_state():
            keys.append(prefix + _EXTRA_STATE_KEY_SUFFIX)
        return keys

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values into the existing tensors (in place, so optimizers stay attached), or
        with ``assign=True`` put the state_dict's tensors in their place (a parameter keeps
        the module's ``requires_grad``).

        Every value and shape is checked before anything is written: a wrong value or shape,
        or (when ``strict``) a missing/unexpected key, raises ``RuntimeError`` and leaves the
        module unchanged.  Hooks registered with ``register_load_state_dict_post_hook`` run
        after the writes and may clear keys from the result, as in torch; strict mode then
        raises on what they leave.  Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        state_dict = collections.OrderedDict(state_dict)
        missing, unexpected, errors, staged = [], [], [], []
        modules = list(self.named_modules(remove_duplicate=False))
        expected = set()
        for name, m in modules:
            prefix = name + "." if name else ""
            m._load_from_state_dict(state_dict, prefix,
                                    {"assign_to_params_buffers": assign, _STAGED: staged},
                                    True, missing, unexpected, errors)
            expected.update(m._expected_keys(prefix))
        unexpected.extend(k for k in state_dict if k not in expected)
        result = _IncompatibleKeys(missing, unexpected)
        post_hooks = [(m, h) for _, m in reversed(modules)
                      for h in list(m.__dict__.get(_LOAD_POST, {}).values())]
        self._raise_load_errors(result, errors, strict and not post_hooks)
        _write_staged(staged)
        for m, hook in post_hooks:
            if hook(m, result) is not None:
                raise RuntimeError("Hooks registered with ``register_load_state_dict_post_hook`` "
                                   "are not expected to return new values; change "
                                   "incompatible_keys in place")
        self._raise_load_errors(result, [], strict)
        return result

    def _raise_load_errors(self, result, errors, strict):
        messages = []
        if strict and result.missing_keys:
            messages.append("Missing key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in result.missing_keys) + ". ")
        if strict and result.unexpected_keys:
            messages.append("Unexpected key(s) in state_dict: "
                            + ", ".join(f'"{k}"' for k in result.unexpected_keys) + ". ")
        messages += errors
        if messages:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(messages))

    # ---- repr --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + repr(m).replace("\n", "\n  ")
                       for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            body = extra_lines[0] if len(extra_lines) == 1 and not child_lines \
                else "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


def _index(container, idx):
    """``idx`` (an int-like) as a position in ``container``, negative counted from the end;
    IndexError outside it (torch's message)."""
    idx, size = operator.index(idx), len(container)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size if size else idx


def _renumber(module):
    """Keys "0", "1", ... again after a deletion (torch's Sequential/ModuleList)."""
    values = list(module._modules.values())
    module._modules.clear()
    module._modules.update((str(i), m) for i, m in enumerate(values))


class Sequential(Module):
    """Modules applied in order; built from arguments or an OrderedDict (its keys name them)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, input):
        for m in self:
            input = m(input)
        return input

    def __getitem__(self, idx):
        """A module by position, or a Sequential of a slice (keeping the modules' keys)."""
        if isinstance(idx, slice):
            return type(self)(collections.OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(self, idx)]

    def __setitem__(self, idx, module):
        setattr(self, list(self._modules)[_index(self, idx)], module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(self, idx)]]):
            delattr(self, key)
        _renumber(self)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")
        return self.extend(list(other))

    def __mul__(self, times):
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(times)}")
        if times <= 0:
            raise ValueError(f"Non-positive multiplication factor {times} for {type(self)}")
        return Sequential(*(list(self) * times))

    __rmul__ = __mul__

    def __imul__(self, times):
        repeated = self * times
        self._modules.clear()
        return self.extend(list(repeated))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"module should be of type Module, got {_typename(module)}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(modules))
        return self

    def extend(self, sequential):
        for m in sequential:
            self.append(m)
        return self

    def pop(self, key):
        v = self[key]
        del self[key]
        return v


class ModuleList(Module):
    """A list of modules, registered (keys "0", "1", ...) so their parameters are found."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, idx):
        return str(_index(self, idx))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx):
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for key in keys:
            delattr(self, key)
        _renumber(self)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(itertools.chain(self, other)))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if not isinstance(modules, collections.abc.Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got "
                            f"{_typename(modules)}")
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index, module):
        """``module`` before position ``index`` (as list.insert; torch breaks on negative or
        past-the-end indices)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        modules = list(self._modules.values())
        modules.insert(operator.index(index), module)
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(modules))

    def pop(self, key=-1):
        v = self[key]
        del self[key]
        return v

    def __repr__(self):
        """Runs of equal children are collapsed into ``(i-j): n x Child(...)`` (torch)."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return f"{self._get_name()}()"
        runs = []  # [first, last, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}").replace("\n", "\n  ")
                 for a, b, r in runs]
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules, registered under their keys (insertion order kept)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def update(self, modules):
        """From a mapping (its order) or an iterable of (key, module) pairs."""
        if not isinstance(modules, collections.abc.Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value "
                            f"pairs, but got {_typename(modules)}")
        if isinstance(modules, (collections.abc.Mapping, ModuleDict)):
            for key, m in modules.items():
                self[key] = m
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, collections.abc.Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; is "
                                f"{_typename(pair)}")
            pair = list(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length "
                                 f"{len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


def _as_parameter(value):
    """A Tensor that is not yet a Parameter becomes one (ParameterList/Dict entries)."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) \
        else value


def _describe_entry(value):
    if isinstance(value, Tensor):
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        size = "x".join(str(s) for s in value.shape)
        device = f" ({value.device})" if str(value.device).startswith("cuda") else ""
        return f"{kind} containing: [{value.dtype} of size {size}{device}]"
    return f"Object of type: {_typename(value)}"


class ParameterList(Module):
    """A list of parameters registered under "0", "1", ... (a plain Tensor is made a
    Parameter; other objects are kept as attributes, as torch)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self += values

    def _key(self, idx):
        return str(_index(self, idx))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(len(self))[idx]])
        return getattr(self, self._key(idx))

    def __setitem__(self, idx, value):
        key = self._key(idx)
        setattr(self, key, _as_parameter(value))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        key = str(len(self))
        object.__setattr__(self, "_size", self._size + 1)
        self._parameters.pop(key, None)
        setattr(self, key, _as_parameter(value))
        return self

    def extend(self, values):
        if not isinstance(values, collections.abc.Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{_typename(values)}")
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({i}): {_describe_entry(v)}" for i, v in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """A dict of parameters under string keys (insertion order kept; a plain Tensor is made a
    Parameter)."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _attr(key):
        if not isinstance(key, str):
            raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not "
                            f"a string (type is '{_typename(key)}'). Open an issue on github if "
                            f"you need non-string keys.")
        return key

    def __getitem__(self, key):
        return getattr(self, self._attr(key))

    def __setitem__(self, key, value):
        attr = self._attr(key)
        self._keys[key] = None
        setattr(self, attr, _as_parameter(value))

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, self._attr(key))

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def values(self):
        return (self[k] for k in self._keys)

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def popitem(self):
        key = list(self._keys)[-1]
        return key, self.pop(key)

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def copy(self):
        return ParameterDict(collections.OrderedDict((k, self[k]) for k in self._keys))

    def update(self, parameters):
        """From a mapping (its order; a plain dict's keys sorted, as torch) or (key, value)
        pairs."""
        if not isinstance(parameters, collections.abc.Iterable):
            raise TypeError(f"ParametersDict.update should be called with an iterable of "
                            f"key/value pairs, but got {_typename(parameters)}")
        if isinstance(parameters, (collections.OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, collections.abc.Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, collections.abc.Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be "
                                    f"Iterable; is {_typename(pair)}")
                pair = list(pair)
                if len(pair) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length "
                                     f"{len(pair)}; 2 is required")
                pairs.append(pair)
        for key, value in pairs:
            self[key] = value

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_describe_entry(v)}" for k, v in self.items())

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called.")


def check_input(layer, x, ndims, what):
    """Raise a ValueError naming ``layer`` when ``x.ndim`` is not in ``ndims``.

    ``what`` describes the expected layout, e.g. "(N, C, H, W)".
    """
    if x.ndim not in ndims:
        raise ValueError(f"{type(layer).__name__}: expected input of shape {what} "
                         f"({' or '.join(str(n) for n in ndims)}-D), got shape {tuple(x.shape)}")


