"""torch.nn.utils.stateless.functional_call: run a module with some of its parameters and
buffers replaced by given tensors (gradients then flow to those tensors), restoring them after.

Names are the state_dict's dotted paths ("0.weight").  With ``tie_weights`` (default) a value
given for one name of a tensor the module holds under several names replaces all of them.
With ``strict`` the names must be exactly the module's parameters and buffers.  A name the
module lacks becomes a plain attribute for the call.  Values the module assigns to a replaced
name during the call are written back into ``parameters_and_buffers``, as torch.
"""
from __future__ import annotations

from ...tensor import Tensor

_MISSING = object()


def _tied_names(module, values):
    """``values`` with each given tensor also under the other names of the same module tensor."""
    names = {}
    for name, t in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        names.setdefault(id(t), set()).add(name)
    groups = {name: group for group in names.values() if len(group) > 1 for name in group}
    given = [name for name in values if name in groups]
    for name in given:
        group = groups[name]
        if len({id(values[n]) for n in group if n in values}) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(group)}, "
                             f"which are tied. Consider using tie_weights=False")
    out = dict(values)
    for name in given:
        for tied in groups[name]:
            out[tied] = values[name]
    return out


def _swap(module, path, value):
    """Put ``value`` at ``path`` (``_MISSING``: remove it); returns what was there."""
    prefix, _, name = path.rpartition(".")
    owner = module.get_submodule(prefix)
    if value is not _MISSING and value is not None and not isinstance(value, Tensor):
        raise TypeError(f"{value} is not an instance of Tensor")
    for store in (owner._parameters, owner._buffers):
        if name in store:
            old = store[name]
            if value is _MISSING:
                del store[name]
            else:
                store[name] = value
            return old
    old = owner.__dict__.get(name, _MISSING)
    if value is _MISSING:
        owner.__dict__.pop(name, None)
    else:
        object.__setattr__(owner, name, value)
    return old


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with ``parameters_and_buffers`` (name -> Tensor) in place of
    the module's own (see the module docstring)."""
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    values = _tied_names(module, parameters_and_buffers) if tie_weights \
        else dict(parameters_and_buffers)
    if strict:
        valid = {n for n, _ in module.named_parameters(remove_duplicate=False)} | \
            {n for n, _ in module.named_buffers(remove_duplicate=False)}
        unexpected, missing = sorted(set(values) - valid), sorted(valid - set(values))
        errors = ([f"Unexpected key(s): {', '.join(map(repr, unexpected))}."] if unexpected else []) \
            + ([f"Missing key(s): {', '.join(map(repr, missing))}."] if missing else [])
        if errors:
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                               + "\n\t".join(errors))
    originals = {}
    try:
        for path, value in values.items():
            originals[path] = _swap(module, path, value)
        return module(*args, **(kwargs or {}))
    finally:
        for path, old in originals.items():
            now = _swap(module, path, old)
            if path in parameters_and_buffers and now is not _MISSING:
                parameters_and_buffers[path] = now
