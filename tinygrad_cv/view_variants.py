"""torch's variants of the view functions.

* ``X_copy(input, ...)`` (``permute_copy``, ``view_copy``, ``select_copy``, ...): the values of
  the view ``X(input, ...)`` in new, contiguous memory (torch's functionalised forms: nothing
  the result does reaches ``input``).  On the graph each is the view followed by a copy, so the
  gradient is the view's.
* ``unsafe_split``, ``unsafe_split_with_sizes``, ``unsafe_chunk`` (top level and methods):
  torch's forms of ``split``/``chunk`` that skip its checks on in-place changes of the pieces;
  here they are ``split``/``chunk`` themselves (the checks cost nothing to keep).

Each calls the framework's one implementation of the view.
"""
from __future__ import annotations

from .memory_formats import contiguous_format
from .tensor import Tensor


def _fresh(t):
    """A contiguous copy of ``t`` (on the graph when ``t`` is)."""
    return t.clone(memory_format=contiguous_format)


def _fresh_all(pieces):
    return tuple(_fresh(p) for p in pieces)


def alias_copy(input):
    return _fresh(input)


def view_copy(input, size_or_dtype):
    """``input.view(size)`` (a shape or a dtype) in new memory."""
    return _fresh(input.view(size_or_dtype))


def permute_copy(input, dims):
    return _fresh(input.permute(*dims))


def transpose_copy(input, dim0, dim1):
    return _fresh(input.transpose(dim0, dim1))


def t_copy(input):
    return _fresh(input.t())


def squeeze_copy(input, dim=None):
    return _fresh(input.squeeze() if dim is None else input.squeeze(dim))


def unsqueeze_copy(input, dim):
    return _fresh(input.unsqueeze(dim))


def expand_copy(input, size, *, implicit=False):
    return _fresh(input.expand(*size))


def select_copy(input, dim, index):
    return _fresh(input.select(dim, index))


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """``input`` sliced ``start:end:step`` along ``dim`` (ATen's ``slice``), in new memory."""
    dim = dim + input.ndim if dim < 0 else dim
    index = (slice(None),) * dim + (slice(start, end, step),)
    return _fresh(input[index])


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    return _fresh(input.diagonal(offset, dim1, dim2))


def unfold_copy(input, dimension, size, step):
    return _fresh(input.unfold(dimension, size, step))


def split_copy(tensor, split_size, dim=0):
    return _fresh_all(tensor.split(split_size, dim))


def split_with_sizes_copy(input, split_sizes, dim=0):
    return _fresh_all(input.split(list(split_sizes), dim))


def unbind_copy(input, dim=0):
    return _fresh_all(input.unbind(dim))


def unsafe_split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return input.split(list(split_sizes), dim)


def unsafe_chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


for _name in ("unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk"):
    setattr(Tensor, _name, globals()[_name])
del _name

__all__ = ["alias_copy", "view_copy", "permute_copy", "transpose_copy", "t_copy",
           "squeeze_copy", "unsqueeze_copy", "expand_copy", "select_copy", "slice_copy",
           "diagonal_copy", "unfold_copy", "split_copy", "split_with_sizes_copy", "unbind_copy",
           "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk"]
