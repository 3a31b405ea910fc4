"""Unbatched inputs as torch takes them: a layer whose batched input has ``batched_ndim`` dims
(N, C, *spatial) also takes (C, *spatial), runs it as a batch of one and squeezes the batch
axis back off its output(s)."""
from __future__ import annotations


def add_batch(x, batched_ndim, op, message=None):
    """``(x as a batch, True when x was unbatched)``; another rank raises ValueError with
    ``message`` (default: torch's wording for the convolutions)."""
    if x.ndim == batched_ndim:
        return x, False
    if x.ndim == batched_ndim - 1:
        return x.unsqueeze(0), True
    raise ValueError(message or (f"Expected {batched_ndim - 1}D (unbatched) or {batched_ndim}D "
                                 f"(batched) input to {op}, but got input of size: "
                                 f"{list(x.shape)}"))


def drop_batch(y, unbatched):
    """``y`` (or each tensor of a tuple) without the batch axis ``add_batch`` put there."""
    if not unbatched:
        return y
    if isinstance(y, tuple):
        return tuple(t.squeeze(0) for t in y)
    return y.squeeze(0)
