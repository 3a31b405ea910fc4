"""``Size``: a tensor's shape, torch's ``torch.Size``: a tuple of ints (it compares, hashes and
unpacks as one) with ``numel()``; slicing, ``+`` and ``*`` give a Size again."""
from __future__ import annotations

import operator


class Size(tuple):
    """The shape of a tensor: ``Size([2, 3]) == (2, 3)``, ``Size([2, 3]).numel() == 6``."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        sizes = tuple(sizes)
        for i, s in enumerate(sizes):
            if isinstance(s, bool) or not hasattr(s, "__index__"):
                raise TypeError(f"Size() takes an iterable of 'int' (item {i} is "
                                f"'{type(s).__name__}')")
        return tuple.__new__(cls, (operator.index(s) for s in sizes))

    def numel(self):
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        count = 1
        for s in self:
            count *= s
        return count

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return tuple.__new__(Size, item) if isinstance(index, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, count):
        return tuple.__new__(Size, tuple.__mul__(self, count))

    __rmul__ = __mul__

    def __repr__(self):
        return f"Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self):
        return (Size, (tuple(self),))
