"""torch's Tensor methods that run a Python callable per element (CPU tensors only, as torch):

* ``x.apply_(fn)``: every element replaced by ``fn(element)``;
* ``x.map_(y, fn)``: every element replaced by ``fn(x_element, y_element)``, y broadcast to x;
* ``x.map2_(y, z, fn)``: ``fn(x_element, y_element, z_element)``, y and z broadcast to x.

Values go to ``fn`` as Python numbers and its results are cast to x's dtype (an int tensor
truncates a float result, as torch).  In place and off the graph: a tensor that requires grad
raises torch's error.  They are slow by nature (one Python call per element) and meant for
small tensors, as in torch.
"""
from __future__ import annotations

from . import backend
from .autograd.versions import torch_type_name
from .tensor import Tensor


def _check(self, name):
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use "
                           f"var.detach().{name}() instead.")
    if backend.device_of(self.array) != "cpu":
        raise TypeError(f"{name} is only implemented on CPU tensors")


def _broadcast_operand(self, other, name, what):
    """``other``'s values broadcast to ``self``'s shape; torch's errors for a non-Tensor, a
    different dtype or a shape that does not broadcast."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    if other.dtype != self.dtype:
        raise TypeError(f"{name}: expected tinygrad_cv.{torch_type_name(self.dtype)}Tensor for "
                        f"{what} (got tinygrad_cv.{torch_type_name(other.dtype)}Tensor)")
    arr = other.array
    try:
        return backend.get_array_module(arr).broadcast_to(arr, self.shape)
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor ({tuple(self.shape)}) must match "
                           f"the existing size ({tuple(arr.shape)}): the operand of a map_ "
                           "must broadcast to the tensor's shape") from None


def _write(self, fn, operands):
    """self[i] = fn(self[i], *(o[i] for o in operands)), element by element."""
    target = self.array
    flat = [target.reshape(-1) if target.flags.c_contiguous else target.ravel()]
    flat += [o.reshape(-1) if o.flags.c_contiguous else o.ravel() for o in operands]
    values = []
    for items in zip(*flat):
        v = fn(*(a.item() for a in items))
        if isinstance(v, Tensor):
            v = v.item()
        if isinstance(v, str) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise TypeError(f"must be real number, not {type(v).__name__}")
        values.append(v)
    out = backend.to_numpy(backend.as_array(values, dtype="float64"))
    target[...] = backend.as_array(out.astype(target.dtype).reshape(target.shape))
    return self


def apply_(self, callable):
    _check(self, "apply_")
    return _write(self, callable, ())


def map_(self, tensor, callable):
    _check(self, "map_")
    return _write(self, callable, (_broadcast_operand(self, tensor, "map_", "'other'"),))


def map2_(self, x, y, callable):
    _check(self, "map2_")
    return _write(self, callable, (_broadcast_operand(self, x, "map2_", "argument 'x'"),
                                   _broadcast_operand(self, y, "map2_", "argument 'y'")))


Tensor.apply_, Tensor.map_, Tensor.map2_ = apply_, map_, map2_
