"""torch's storage queries on a Tensor: ``nbytes``, ``itemsize``, ``storage_offset()``,
``data_ptr()``, ``pin_memory()``/``is_pinned()``.  The storage of a tensor is the memory of
the array its array views (its outermost ``base``)."""
from __future__ import annotations

from .tensor import Tensor


def _address(arr):
    """The address of an array's first element (NumPy's array interface, CuPy's CUDA one)."""
    iface = getattr(arr, "__cuda_array_interface__", None) or arr.__array_interface__
    return int(iface["data"][0])


def _owner(arr):
    """The array at the end of ``arr``'s chain of bases (the one owning the memory)."""
    while True:
        base = getattr(arr, "base", None)
        if base is None or not (hasattr(base, "__array_interface__")
                                or hasattr(base, "__cuda_array_interface__")):
            return arr
        arr = base


def nbytes(self):
    """The bytes of the elements (numel * element_size)."""
    return int(self.array.nbytes)


def itemsize(self):
    return int(self.array.itemsize)


def storage_offset(self):
    """The offset, in elements, of the first element in the storage."""
    return (_address(self.array) - _address(_owner(self.array))) // self.array.itemsize


def data_ptr(self):
    """The address of the first element."""
    return _address(self.array)


def pin_memory(self, device=None):
    """This tensor (host memory is not page-locked here; the copy to the GPU is synchronous)."""
    return self


def is_pinned(self, device=None):
    return False


Tensor.nbytes = property(nbytes)
Tensor.itemsize = property(itemsize)
Tensor.storage_offset = storage_offset
Tensor.data_ptr = data_ptr
Tensor.pin_memory = pin_memory
Tensor.is_pinned = is_pinned
