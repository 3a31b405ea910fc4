"""Weight normalisation (torch.nn.utils' weight_norm / remove_weight_norm, the hook-based form).

``weight_norm(module, name, dim)`` replaces the parameter ``name`` by ``name_g`` (the norms,
||w|| over every dim but ``dim``, kept as size-1 dims) and ``name_v`` (the direction, w itself),
and recomputes ``w = v * g / ||v||`` before every forward (a forward pre-hook), so gradients
reach g and v.  ``dim=None`` (or -1) uses one norm over the whole tensor.  The state_dict keys
(``weight_g``, ``weight_v``) are torch's.
"""
from __future__ import annotations

from ..module import Parameter


def norm_except_dim(v, pow=2, dim=0):
    """||v||_pow over every dim but ``dim`` (size-1 dims kept), or over all (``dim == -1``)."""
    if dim == -1:
        return v.norm(pow)
    dim %= v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return v.norm(pow, dim=others, keepdim=True) if others else v.abs()


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g``/``<name>_v``."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, 2, self.dim))

    @staticmethod
    def apply(module, name, dim):
        for hook in module.__dict__.get("_forward_pre_hooks", {}).values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if not isinstance(weight, Parameter):
            raise TypeError(f"weight_norm: {type(module).__name__}.{name} is not a Parameter")
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrise ``module.<name>`` as ``g * v / ||v||`` (see the module docstring);
    returns ``module``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` becomes a plain Parameter again (its current value)."""
    hooks = module.__dict__.get("_forward_pre_hooks", {})
    for key, hook in list(hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
