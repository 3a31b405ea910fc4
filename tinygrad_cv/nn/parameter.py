"""``torch.nn.parameter``'s names: ``Parameter``, ``Buffer``, ``UninitializedParameter``,
``UninitializedBuffer`` and ``is_lazy`` (the classes live in ``nn.module`` and
``nn.uninitialized``)."""
from .module import Buffer, Parameter  # noqa: F401
from .uninitialized import UninitializedBuffer, UninitializedParameter, is_lazy  # noqa: F401

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "is_lazy"]
