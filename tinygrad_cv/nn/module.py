"""``Module``, ``Parameter`` and the containers, with torch.nn's names and state_dict keys."""
from __future__ import annotations

import collections

from .. import backend
from ..arguments import to_host_array
from ..autograd.versions import bump_version
from ..tensor import Tensor

IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight (``requires_grad=True`` by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.module_for_device(None).empty(0, dtype="float32")
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: holds parameters, buffers and sub-modules in order.

    Subclasses define ``forward``; calling the module runs it.  Attribute assignment of a
    ``Parameter`` or ``Module`` registers it under that name (torch's state_dict keys follow).
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"in {type(self).__name__}.__init__")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        # a name re-assigned in its own store keeps its place (torch: state_dict order)
        target = params if isinstance(value, Parameter) else \
            modules if isinstance(value, Module) else None
        for store in (params, modules, buffers):
            if store is not target and name in store and \
                    not (store is buffers and (value is None or isinstance(value, Tensor))):
                del store[name]
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        elif name in buffers:
            buffers[name] = value
        elif name in params and value is None:
            params[name] = None
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

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
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got "
                            f"{type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A non-learnable state tensor (e.g. BatchNorm's running mean), saved in state_dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): {type(module).__name__} is not a Module")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal ---------------------------------------------------------------------------
    def named_modules(self, prefix="", memo=None, remove_duplicate=True):
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
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo,
                                           remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), v

    def named_parameters(self, prefix="", recurse=True):
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes -------------------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor.wrap(backend.get_array_module(p.grad.array).zeros_like(p.grad.array))

    # ---- device / dtype ----------------------------------------------------------------------
    def to(self, *args, **kwargs):
        """Move parameters and buffers to a device and/or cast the floating ones, in place."""
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in backend.DEVICES:
                device = a
            else:
                dtype = a
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
                        holder.array = arr
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    # ---- state -------------------------------------------------------------------------------
    def state_dict(self, prefix="", keep_vars=False):
        """Ordered mapping of parameter and persistent-buffer names to tensors (torch's keys)."""
        out = collections.OrderedDict()
        for mod_prefix, m in self.named_modules(prefix.rstrip("."), remove_duplicate=False):
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the existing tensors (in place, so optimizers stay attached).

        Everything is checked before anything is written: a missing/unexpected key (when
        ``strict``) or a shape mismatch raises and leaves the module unchanged.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and (missing or unexpected):
            if missing:
                errors.append("missing keys: " + ", ".join(missing))
            if unexpected:
                errors.append("unexpected keys: " + ", ".join(unexpected))
        staged = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            value = state_dict[k]
            arr = backend.as_array(to_host_array(value), device=target.device)
            if tuple(arr.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {k}: copying a value of shape {tuple(arr.shape)}, "
                              f"the shape in the current model is {tuple(target.shape)}")
                continue
            staged.append((target, arr.astype(target.dtype, copy=False)))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for target, arr in staged:
            if target.array.shape == ():
                target.array = arr.copy()
            else:
                target.array[...] = arr
            bump_version(target)
        return IncompatibleKeys(missing, unexpected)

    # ---- repr --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (extra if extra else "")
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; built from arguments or an OrderedDict."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        return mods[idx]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules, registered so their parameters are found."""

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[idx]

    def __setitem__(self, idx, module):
        key = list(self._modules)[idx]
        self.add_module(key, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

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


def check_input(layer, x, ndims, what):
    """Raise a ValueError naming ``layer`` when ``x.ndim`` is not in ``ndims``.

    ``what`` describes the expected layout, e.g. "(N, C, H, W)".
    """
    if x.ndim not in ndims:
        raise ValueError(f"{type(layer).__name__}: expected input of shape {what} "
                         f"({' or '.join(str(n) for n in ndims)}-D), got shape {tuple(x.shape)}")


