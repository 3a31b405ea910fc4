"""``DataParallel(module, device_ids=None, output_device=None, dim=0)`` on one device.

torch's ``DataParallel`` scatters each batch over several GPUs of one process, runs a replica
of the module on each and gathers the outputs.  tinygrad_cv drives one GPU (``cuda`` is
CuPy's current device), so only torch's one-device cases exist here, and they behave as
torch's:

* no GPU: ``device_ids`` is ``[]`` and ``forward`` calls ``module`` directly;
* a GPU and one device id (``None`` means every device, i.e. the one): the module is moved to
  ``cuda`` when wrapped; ``forward`` checks that its parameters and buffers are still there,
  moves the tensors among the arguments (inside tuples, lists and dicts too) to it and returns
  the module's output as it is (torch does not gather with one device).

``data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
module_kwargs=None)`` is the functional form (one call, the module not moved).

More than one device id raises ``NotImplementedError`` (use ``DistributedDataParallel``, one
process per device).  The wrapped module is ``.module``, so ``state_dict()`` keys carry the
``module.`` prefix, as torch's.
"""
from __future__ import annotations

from ... import cuda
from ...devices import device as _device
from ...tensor import Tensor
from ..module import Module

__all__ = ["DataParallel", "data_parallel"]


def _device_index(value):
    """torch's ``_get_device_index``: an int, ``'cuda:1'``, ``device('cuda', 1)`` -> 1
    (a cuda device without an index is the current one, 0)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    d = _device(value)
    if d.type != "cuda":
        raise ValueError(f"DataParallel: expected a cuda device or an index, got {value!r}")
    return 0 if d.index is None else d.index


def _check_one_device(device_ids):
    ids = [_device_index(d) for d in device_ids]
    if not ids:
        raise ValueError("DataParallel: device_ids is empty (give None or one device id)")
    if len(set(ids)) > 1:
        raise NotImplementedError(
            f"DataParallel over several devices (device_ids={ids}) is not supported: "
            "tinygrad_cv has no multi-device scatter/gather. Run one process per device with "
            "nn.parallel.DistributedDataParallel instead (tinygrad_cv.distributed), or give "
            "one device id")
    return ids


def _to_device(value, dev):
    """``value`` with every Tensor inside (tuples, lists, dicts) moved to ``dev``."""
    if isinstance(value, Tensor):
        return value.to(dev)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_to_device(v, dev) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, dev) for v in value)
    if isinstance(value, dict):
        return type(value)((k, _to_device(v, dev)) for k, v in value.items())
    return value


class DataParallel(Module):
    """Runs ``module`` on the one device (see the module docstring); ``forward(*inputs,
    **kwargs)`` returns ``module(*inputs, **kwargs)``."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected an nn.Module, got {type(module).__name__}")
        if device_ids is not None:
            device_ids = _check_one_device(list(device_ids))
        if not cuda.is_available():
            self.module = module
            self.device_ids = []
            return
        self.device_ids = device_ids if device_ids is not None else \
            list(range(cuda.device_count()))
        _check_one_device(self.device_ids)
        self.dim = dim
        self.module = module
        self.output_device = self.device_ids[0] if output_device is None else \
            _device_index(output_device)
        self.src_device_obj = _device("cuda", self.device_ids[0])
        self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        return _run_on(self.module, self.src_device_obj, inputs, kwargs)


def _run_on(module, dev, inputs, kwargs):
    """``module(*inputs, **kwargs)`` with the tensors moved to ``dev``, after torch's check
    that the module's parameters and buffers are there."""
    for t in list(module.parameters()) + list(module.buffers()):
        if t.device.type != dev.type:
            raise RuntimeError(f"module must have its parameters and buffers on device {dev} "
                               f"(device_ids[0]) but found one of them on device: {t.device}")
    return module(*_to_device(tuple(inputs), dev), **_to_device(kwargs, dev))


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """torch's ``nn.parallel.data_parallel`` on one device: ``module(*inputs,
    **module_kwargs)`` (``inputs`` a tuple, or one input), on the GPU when there is one."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    module_kwargs = {} if module_kwargs is None else module_kwargs
    if device_ids is not None:
        device_ids = _check_one_device(list(device_ids))
    if not cuda.is_available():
        return module(*inputs, **module_kwargs)
    ids = device_ids if device_ids is not None else list(range(cuda.device_count()))
    _check_one_device(ids)
    return _run_on(module, _device("cuda", ids[0]), inputs, module_kwargs)
