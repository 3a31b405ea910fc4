"""Packed variable-length sequences (torch.nn.utils.rnn's ``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence``, ``unpack_sequence``).

A batch of B sequences of lengths l_b, sorted by decreasing length (``sorted_indices[k]`` is
the batch entry in place k), is stored time-major without padding::

    batch_sizes[t] = #{b : l_b > t}                  (how many sequences reach step t)
    data = [x_t[sorted_indices[:batch_sizes[t]]] for t in range(max l)], concatenated

The packing and unpacking are index gathers of the padded tensor and their inverse, so
gradients flow through both.  The recurrent layers take a PackedSequence as input and return
one (``nn/layers/recurrent.py``).
"""
from __future__ import annotations

import collections

from ... import backend
from ...tensor import Tensor, _as_tensor, cat, stack

_INT64 = backend.dtype("int64")


class PackedSequence(collections.namedtuple("PackedSequence",
                                            ["data", "batch_sizes", "sorted_indices",
                                             "unsorted_indices"])):
    """(data, batch_sizes (int64 on the CPU), sorted_indices, unsorted_indices)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: t if t is None else t.to(device=data.device))
        return PackedSequence(data, self.batch_sizes, move(self.sorted_indices),
                              move(self.unsorted_indices))

    def detach(self):
        return self._replace(data=self.data.detach())

    # torch's conversions of the data (batch_sizes stays int64 on the CPU)
    def cpu(self):
        return self.to(device="cpu")

    def cuda(self, *args, **kwargs):
        return self.to(device="cuda")

    def pin_memory(self):
        return self

    def is_pinned(self):
        return False

    def double(self):
        return self.to(dtype=backend.dtype("float64"))

    def float(self):
        return self.to(dtype=backend.dtype("float32"))

    def half(self):
        return self.to(dtype=backend.dtype("float16"))

    def long(self):
        return self.to(dtype=backend.dtype("int64"))

    def int(self):
        return self.to(dtype=backend.dtype("int32"))

    def short(self):
        return self.to(dtype=backend.dtype("int16"))

    def char(self):
        return self.to(dtype=backend.dtype("int8"))

    def byte(self):
        return self.to(dtype=backend.dtype("uint8"))

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def lengths(self):
        """The length of each sequence, in the original batch order (a Python list)."""
        sizes = [int(s) for s in self.batch_sizes.tolist()]
        b = sizes[0] if sizes else 0
        lengths_sorted = [sum(1 for s in sizes if s > k) for k in range(b)]
        if self.unsorted_indices is None:
            return lengths_sorted
        return [lengths_sorted[int(i)] for i in self.unsorted_indices.tolist()]


def _invert(permutation):
    perm = _as_tensor(permutation)
    xp = backend.get_array_module(perm.array)
    inverse = xp.empty_like(perm.array)
    inverse[perm.array] = xp.arange(perm.numel(), dtype=perm.array.dtype)
    return Tensor.wrap(inverse)


def _lengths_list(lengths):
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D tensor, got {lengths.ndim}D")
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with ``batch_first``) of sequences of the
    given lengths; ``enforce_sorted`` requires decreasing lengths (else they are sorted and
    the permutation kept)."""
    x = _as_tensor(input)
    if batch_first:
        x = x.transpose(0, 1)
    lens = _lengths_list(lengths)
    b = x.shape[1]
    if len(lens) != b:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lens)} (batch_size={b})")
    if any(length <= 0 for length in lens):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if max(lens) > x.shape[0]:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to the "
                           f"longest length {max(lens)}, got {x.shape[0]}")
    if enforce_sorted:
        if any(lens[i] < lens[i + 1] for i in range(b - 1)):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order = list(range(b))
        sorted_indices = None
    else:
        order = sorted(range(b), key=lambda i: -lens[i])       # stable, as torch's sort
        sorted_indices = Tensor.wrap(backend.as_array(order, dtype="int64", device=x.device))
    sorted_lens = [lens[i] for i in order]
    batch_sizes = [sum(1 for length in sorted_lens if length > t) for t in range(sorted_lens[0])]
    times = [t for t, size in enumerate(batch_sizes) for _ in range(size)]
    entries = [order[k] for size in batch_sizes for k in range(size)]
    xp_dev = x.device
    data = x[backend.as_array(times, dtype="int64", device=xp_dev),
             backend.as_array(entries, dtype="int64", device=xp_dev)]
    sizes = Tensor.wrap(backend.as_array(batch_sizes, dtype="int64", device="cpu"))
    return PackedSequence(data, sizes, sorted_indices)


def pack_like(padded, like):
    """A padded (T, B, *) batch packed with the lengths and order of the PackedSequence
    ``like`` (its batch_sizes and sorted_indices kept)."""
    sizes = [int(s) for s in like.batch_sizes.tolist()]
    order = list(range(sizes[0])) if like.sorted_indices is None else \
        [int(i) for i in like.sorted_indices.tolist()]
    times = [t for t, size in enumerate(sizes) for _ in range(size)]
    entries = [order[k] for size in sizes for k in range(size)]
    device = padded.device
    data = padded[backend.as_array(times, dtype="int64", device=device),
                  backend.as_array(entries, dtype="int64", device=device)]
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """(padded (T, B, *) (or (B, T, *)), lengths int64): the inverse of
    ``pack_padded_sequence`` (padding ``padding_value``; T = ``total_length`` when given)."""
    data, batch_sizes = sequence.data, [int(s) for s in sequence.batch_sizes.tolist()]
    b, t_max = batch_sizes[0], len(batch_sizes)
    if total_length is not None:
        if total_length < t_max:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {t_max}")
        t_max = total_length
    rows, start = [], 0
    xp = backend.get_array_module(data.array)
    pad_row = None
    for t in range(t_max):
        size = batch_sizes[t] if t < len(batch_sizes) else 0
        step = data[start:start + size]
        start += size
        if size < b:
            if pad_row is None:
                pad_row = Tensor.wrap(xp.full((b,) + tuple(data.shape[1:]), padding_value,
                                              dtype=data.dtype))
            step = cat([step, pad_row[:b - size]], dim=0) if size else pad_row
        rows.append(step)
    padded = stack(rows, dim=0)                                 # (T, B, *) in sorted order
    lengths_sorted = [sum(1 for s in batch_sizes if s > k) for k in range(b)]
    if sequence.unsorted_indices is not None:
        padded = padded[:, sequence.unsorted_indices.array]
        lengths = [lengths_sorted[int(i)] for i in sequence.unsorted_indices.tolist()]
    else:
        lengths = lengths_sorted
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor.wrap(backend.as_array(lengths, dtype="int64", device="cpu"))


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors."""
    seqs = [_as_tensor(s) for s in sequences]
    lengths = [s.shape[0] for s in seqs]
    t_max = max(lengths)
    xp = backend.get_array_module(seqs[0].array)
    padded = []
    for s in seqs:
        if s.shape[0] < t_max:
            pad = Tensor.wrap(xp.zeros((t_max - s.shape[0],) + tuple(s.shape[1:]), dtype=s.dtype))
            s = cat([s, pad], dim=0)
        padded.append(s)
    return pack_padded_sequence(stack(padded, dim=1), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of (L_i, *) tensors of a PackedSequence (original order)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, :int(n)] for i, n in enumerate(lengths.tolist())]
