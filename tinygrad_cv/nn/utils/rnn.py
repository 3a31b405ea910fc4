"""torch.nn.utils.rnn: ``pad_sequence`` and ``unpad_sequence`` (differentiable), and the packed
sequences of ``packed_sequence.py``."""
from __future__ import annotations

from ... import backend
from ...tensor import Tensor, cat, stack
from .packed_sequence import (PackedSequence, pack_padded_sequence,  # noqa: F401
                              pack_sequence, pad_packed_sequence, unpack_sequence)

__all__ = ["pad_sequence", "unpad_sequence", "PackedSequence", "pack_padded_sequence",
           "pad_packed_sequence", "pack_sequence", "unpack_sequence"]


def _fill_value(value, dtype):
    """``value`` converted as torch's ``new_full`` does (integers truncate toward zero)."""
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return int(value)
    return float(value)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into one of shape (T, B, *) (``batch_first=False``)
    or (B, T, *), T = max L_i, filling the missing steps with ``padding_value`` after each
    sequence (``padding_side='right'``) or before it ('left').

    The result has the first sequence's dtype (the others are cast, as torch); gradients
    flow back to every sequence.  ``sequences`` may also be one Tensor, whose first axis
    indexes the sequences (as torch).
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequence {i} is a {type(s).__name__}, expected a "
                            "Tensor")
        if s.ndim == 0:
            raise RuntimeError(f"pad_sequence: sequence {i} is a 0-d tensor; each sequence "
                               "needs a length axis (shape (L, *))")
    trailing = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}, whose "
                               f"trailing dimensions differ from sequence 0's {trailing}")
    dtype = seqs[0].dtype
    fill = _fill_value(padding_value, backend.dtype(dtype))
    longest = max(int(s.shape[0]) for s in seqs)
    padded = []
    for s in seqs:
        if s.dtype != dtype:
            s = s.to(dtype)
        missing = longest - int(s.shape[0])
        if missing:
            xp = backend.get_array_module(s.array)
            filler = Tensor.wrap(xp.full((missing,) + trailing, fill, dtype=dtype))
            s = cat([s, filler] if padding_side == "right" else [filler, s], dim=0)
        padded.append(s)
    return stack(padded, dim=0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of ``pad_sequence`` for right padding: the list of
    ``padded_sequences[:lengths[i], i]`` (``batch_first=False``, shape (T, B, *)) or
    ``padded_sequences[i, :lengths[i]]`` (shape (B, T, *)).  ``lengths`` is a Tensor (as torch)
    or a sequence of ints; gradients flow back into the padded tensor."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    if isinstance(lengths, Tensor):
        lengths = lengths.tolist()
    lengths = [int(n) for n in lengths]
    if len(lengths) != padded_sequences.shape[0]:
        raise ValueError(f"unpad_sequence: {len(lengths)} lengths for a batch of "
                         f"{padded_sequences.shape[0]} sequences")
    return [padded_sequences[i, :n] for i, n in enumerate(lengths)]
