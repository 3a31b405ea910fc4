"""torch's storage objects: ``t.untyped_storage()`` (``UntypedStorage``, the bytes of the memory
a tensor lives in) and the deprecated ``t.storage()`` (``TypedStorage``, the same memory read
as the tensor's dtype).

The storage of a tensor is the memory of the array at the end of its array's chain of bases
(``tensor_storage._owner``): every view of one tensor has the same storage, with the same
``data_ptr()``, as in torch.  A storage here is a window on that memory (its bytes as a
uint8 array, no copy): writing through it changes the tensors that share it.  NumPy and CuPy
arrays cannot grow or move in place, so ``resize_`` raises (``resizable()`` is False), and a
storage cannot be re-pointed into another tensor (``Tensor.set_`` does not exist).
"""
from __future__ import annotations

import warnings

from . import backend
from .devices import device as _device
from .tensor import Tensor
from .tensor_storage import _address, _owner

_UINT8 = backend.dtype("uint8")


def _bytes_of(arr):
    """The bytes of the memory ``arr`` lives in, as a flat uint8 array sharing it (the array
    owning memory is one contiguous block)."""
    return _owner(arr).reshape(-1, order="A").view(_UINT8)


class UntypedStorage:
    """The bytes of a tensor's memory (``UntypedStorage(n, device=...)``: n new zero bytes)."""

    def __init__(self, size=0, *, device=None):
        if backend.is_array(size):                    # (internal: a window on existing bytes)
            self._bytes = size
            return
        xp = backend.module_for_device(device or "cpu")
        if isinstance(size, (list, tuple)):
            self._bytes = xp.asarray(size, dtype=_UINT8)
        else:
            self._bytes = xp.zeros(int(size), dtype=_UINT8)

    # ---- what it is ----------------------------------------------------------------------
    def nbytes(self):
        return int(self._bytes.size)

    def size(self):
        return self.nbytes()

    def __len__(self):
        return self.nbytes()

    def element_size(self):
        return 1

    @property
    def device(self):
        return _device(backend.device_of(self._bytes))

    @property
    def is_cuda(self):
        return backend.device_of(self._bytes) == "cuda"

    is_sparse = False
    is_sparse_csr = False

    def get_device(self):
        return 0 if self.is_cuda else -1

    def data_ptr(self):
        return _address(self._bytes) if self._bytes.size else 0

    def is_shared(self):
        return Tensor.wrap(self._bytes).is_shared()

    def is_pinned(self, device=None):
        return False

    def resizable(self):
        return False

    def resize_(self, size):
        raise RuntimeError("Trying to resize storage that is not resizable: the memory of a "
                           "NumPy or CuPy array cannot grow or move in place")

    def type(self, dtype=None, non_blocking=False):
        return f"torch.{'cuda.' if self.is_cuda else ''}UntypedStorage"

    def untyped(self):
        return self

    # ---- values ----------------------------------------------------------------------------
    def tolist(self):
        return [int(v) for v in backend.to_numpy(self._bytes)]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return UntypedStorage(self._bytes[index])
        return int(self._bytes[index])

    def __setitem__(self, index, value):
        self._bytes[index] = value

    def fill_(self, value):
        self._bytes[...] = value
        return self

    def copy_(self, source, non_blocking=False):
        """This storage's bytes replaced by ``source``'s (same number of bytes)."""
        src = source._bytes if isinstance(source, (UntypedStorage, TypedStorage)) else None
        if src is None:
            raise TypeError(f"copy_: expected a storage, got {type(source).__name__}")
        if src.size != self._bytes.size:
            raise RuntimeError(f"size mismatch, {self.nbytes()} vs {src.size} bytes")
        self._bytes[...] = backend.to_device(src, backend.device_of(self._bytes))
        return self

    def clone(self):
        return UntypedStorage(self._bytes.copy())

    def cpu(self):
        return self if not self.is_cuda else UntypedStorage(backend.to_device(self._bytes, "cpu"))

    def cuda(self, device=None, non_blocking=False):
        return self if self.is_cuda else UntypedStorage(backend.to_device(self._bytes, "cuda"))

    def __repr__(self):
        return f"UntypedStorage of {self.nbytes()} bytes on {self.device}"


class TypedStorage:
    """Deprecated in torch: a storage read as ``dtype`` (``t.storage()``)."""

    def __init__(self, untyped, dtype):
        self._untyped_storage, self.dtype = untyped, backend.dtype(dtype)

    def _values(self):
        b = self._untyped_storage._bytes
        n = b.size // self.dtype.itemsize
        return b[:n * self.dtype.itemsize].view(self.dtype)

    def size(self):
        return int(self._untyped_storage.nbytes() // self.dtype.itemsize)

    def __len__(self):
        return self.size()

    def nbytes(self):
        return self._untyped_storage.nbytes()

    def element_size(self):
        return int(self.dtype.itemsize)

    @property
    def device(self):
        return self._untyped_storage.device

    @property
    def is_cuda(self):
        return self._untyped_storage.is_cuda

    def data_ptr(self):
        return self._untyped_storage.data_ptr()

    def untyped(self):
        return self._untyped_storage

    def is_shared(self):
        return self._untyped_storage.is_shared()

    def tolist(self):
        return backend.to_numpy(self._values()).tolist()

    def __getitem__(self, index):
        value = self._values()[index]
        return value.item() if getattr(value, "ndim", 1) == 0 else backend.to_numpy(value).tolist()

    def __setitem__(self, index, value):
        self._values()[index] = value

    def fill_(self, value):
        self._values()[...] = value
        return self

    def copy_(self, source, non_blocking=False):
        self._untyped_storage.copy_(source.untyped() if isinstance(source, TypedStorage)
                                    else source)
        return self

    def clone(self):
        return TypedStorage(self._untyped_storage.clone(), self.dtype)

    def cpu(self):
        return TypedStorage(self._untyped_storage.cpu(), self.dtype)

    def resize_(self, size):
        self._untyped_storage.resize_(size)

    def __repr__(self):
        return f"TypedStorage(dtype={self.dtype}) of size {self.size()} on {self.device}"


def untyped_storage(self):
    """The bytes of the memory this tensor lives in (shared with every view of it)."""
    return UntypedStorage(_bytes_of(self.array))


def storage(self):
    """Deprecated in torch: ``untyped_storage()`` read as this tensor's dtype."""
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                  "UntypedStorage will be the only storage class. This should only matter to "
                  "you if you are using storages directly.  To access UntypedStorage directly, "
                  "use tensor.untyped_storage() instead of tensor.storage()", UserWarning,
                  stacklevel=2)
    return TypedStorage(self.untyped_storage(), self.dtype)


def is_storage(obj):
    return isinstance(obj, (UntypedStorage, TypedStorage))


Tensor.untyped_storage, Tensor.storage = untyped_storage, storage

__all__ = ["UntypedStorage", "TypedStorage"]
