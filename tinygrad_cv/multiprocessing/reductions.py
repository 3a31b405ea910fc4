"""How tensors cross process boundaries (``multiprocessing``'s ``ForkingPickler``: the
arguments of a spawned ``Process``, ``Queue.put``): a host tensor is first moved to shared
memory (``share_memory_()``, as torch does) and travels as the segment's name, offset, shape,
strides and dtype; the receiving process maps the same memory.  Device tensors are pickled by
value (torch shares them through CUDA IPC).  Plain ``pickle`` (``torch.save``, ``copy.deepcopy``) is unaffected."""
from __future__ import annotations

from multiprocessing.reduction import ForkingPickler

from .. import backend
from . import shared_memory


class _SharedArray:
    """Stands for a shared host array in a pickled tensor's state."""

    def __init__(self, array):
        self.name, self.offset = shared_memory.segment_of(array)
        self.shape, self.strides, self.dtype = array.shape, array.strides, array.dtype.str

    def __reduce__(self):
        return shared_memory.attach, (self.name, self.offset, self.shape, self.strides,
                                      self.dtype)


def reduce_tensor(tensor):
    """The tensor's default reduction, with its array as a shared-memory handle when it lives
    on the host; as torch, only the values and ``requires_grad`` travel (no gradient, graph or
    hooks), and a non-leaf that requires grad is refused (autograd does not cross processes)."""
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries.  If "
                           "you just want to transfer the data, call detach() on the tensor "
                           "before serializing (e.g., putting it on the queue).")
    reduced = list(tensor.__reduce_ex__(2))
    instance_dict, slots = reduced[2]
    slots = {k: v for k, v in slots.items() if k != "_history"}
    slots.update(_grad=None, creator=None, out_index=0, hooks=(), retains_grad=False,
                 _vbox=None, _view_base=None)
    if backend.device_of(tensor.array) == "cpu":
        tensor.share_memory_()
        slots["array"] = _SharedArray(tensor.array)
    reduced[2] = (instance_dict, slots)
    return tuple(reduced)


def _tensor_classes(cls):
    yield cls
    for sub in cls.__subclasses__():
        yield from _tensor_classes(sub)


def register():
    """Install the reduction for Tensor and every subclass defined so far (Parameter,
    Buffer, ...); called on import of ``tinygrad_cv`` (through ``tinygrad_cv.multiprocessing``),
    so Python's own ``multiprocessing`` shares tensors too, as with torch."""
    from ..tensor import Tensor
    for cls in set(_tensor_classes(Tensor)):
        ForkingPickler.register(cls, reduce_tensor)

