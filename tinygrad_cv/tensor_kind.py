"""What kind of tensor this is, in torch's terms: ``layout`` (``strided`` for every dense
tensor, ``sparse_coo`` for ``tinygrad_cv.sparse``'s) and the backend and format flags that
library code tests (``is_meta``, ``is_quantized``, ``is_nested``, ``is_mps``, ...), all False:
the framework's tensors are dense, strided arrays in memory on the CPU or a CUDA GPU."""
from __future__ import annotations

from .tensor import Tensor


class layout(str):
    """A memory layout (torch's ``torch.layout``); equal to its name, as devices are."""

    __slots__ = ()

    def __repr__(self):
        return str.__str__(self)


strided = layout("strided")
sparse_coo = layout("sparse_coo")

_NEVER = ("is_meta", "is_quantized", "is_sparse_csr", "is_nested", "is_mkldnn", "is_xla",
          "is_mps", "is_vulkan", "is_ipu", "is_maia", "is_mtia")

Tensor.layout = property(lambda self: strided,
                         doc="The memory layout: ``strided`` (dense tensors).")
for _name in _NEVER:
    setattr(Tensor, _name, False)
