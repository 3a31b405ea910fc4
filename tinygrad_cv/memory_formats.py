"""torch's memory formats: ``preserve_format``, ``contiguous_format``, ``channels_last`` and
``channels_last_3d`` (instances of ``memory_format``), and the layouts they ask for.

``clone(memory_format=...)``, ``contiguous(memory_format=...)`` and
``is_contiguous(memory_format=...)`` take them (``Tensor``).  A format is a stride order:
row-major (contiguous), channels last (N, H, W, C in memory for an (N, C, H, W) tensor; N, D,
H, W, C for 5-D), or the input's own order of strides (preserve, as torch; row-major for a
broadcast input).  Imports nothing but the backend.
"""
from __future__ import annotations

from . import backend


class memory_format:
    """One memory format (compare with ``is``/``==``; ``repr`` is torch's name)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):           # (the module constants are singletons)
        return self.name


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

_CHANNELS_LAST_RANK = {channels_last: 4, channels_last_3d: 5}


def check(fmt, what):
    """``fmt`` if it is one of the formats, else TypeError naming ``what``."""
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{what}: memory_format must be a tinygrad_cv memory format "
                        f"(preserve_format, contiguous_format, channels_last, "
                        f"channels_last_3d), got {fmt!r}")
    return fmt


def channels_last_axes(fmt, ndim, what):
    """The axes order in memory of channels-last ``fmt`` for an ``ndim``-D tensor (raises as
    torch for another rank)."""
    rank = _CHANNELS_LAST_RANK[fmt]
    if ndim != rank:
        raise RuntimeError(f"{what}: required rank {rank} tensor to use {fmt.name} format")
    return (0,) + tuple(range(2, ndim)) + (1,)


def laid_out(a, fmt, what):
    """A copy of the array ``a`` in the layout of ``fmt`` (always new memory, also when ``a``
    has that layout already: ``clone`` never aliases its input)."""
    if fmt is preserve_format:      # the order of self's strides (row-major for a broadcast)
        return a.copy(order="C" if 0 in a.strides else "K")
    if fmt is contiguous_format:
        return a.copy(order="C")
    axes = channels_last_axes(fmt, a.ndim, what)
    inverse = tuple(sorted(range(a.ndim), key=axes.__getitem__))
    return a.transpose(axes).copy(order="C").transpose(inverse)


def has_layout(a, fmt, what) -> bool:
    """Whether the array ``a`` is laid out as ``fmt`` (``is_contiguous(memory_format)``)."""
    if fmt is contiguous_format:
        return bool(a.flags.c_contiguous)
    if fmt is preserve_format:
        raise RuntimeError(f"{what}: preserve memory format is unsupported")
    if a.ndim != _CHANNELS_LAST_RANK[fmt]:
        return False
    return bool(a.transpose(channels_last_axes(fmt, a.ndim, what)).flags.c_contiguous)


def like(model, values, fmt):
    """``values`` (an array of ``model``'s shape, row-major) laid out like the array
    ``model`` for ``fmt`` (the ``*_like`` factories: ``preserve_format`` keeps the order of
    model's strides, row-major for a broadcast; ``contiguous_format``; ``channels_last``)."""
    fmt = check(fmt, "memory_format")
    if fmt is contiguous_format or (fmt is preserve_format and (
            0 in model.strides or model.flags.c_contiguous)):
        return values
    if fmt is preserve_format:
        out = backend.get_array_module(values).empty_like(model, dtype=values.dtype, order="K")
        out[...] = values
        return out
    return laid_out(values, fmt, "memory_format")
