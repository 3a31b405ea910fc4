"""Exponential moving average of a model's parameters (for evaluation with smoothed weights).

After each optimizer step, ``ema.update()`` does, for every floating parameter p with
shadow s::

    s <- decay * s + (1 - decay) * p

and copies the buffers (e.g. BatchNorm running statistics) as they are.  Evaluate with the
averaged weights inside ``with ema.average_parameters(): ...`` (or ``store()`` /
``apply_to()`` / ``restore()``).
"""
from __future__ import annotations

import contextlib

from .. import backend
from ..tensor import Tensor


class EMA:
    """``EMA(model, decay=0.999)``: a shadow copy of ``model``'s parameters and buffers."""

    def __init__(self, model, decay=0.999):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA: decay must be in [0, 1], got {decay!r}")
        self.model = model
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow = {name: t.array.copy() for name, t in self._named_tensors(model)}
        self._backup = None

    @staticmethod
    def _named_tensors(model):
        """(name, tensor) for the parameters then the buffers of ``model``."""
        yield from model.named_parameters()
        yield from model.named_buffers()

    def _pairs(self, model):
        own = dict(self._named_tensors(model))
        missing = sorted(set(self.shadow) - set(own))
        if missing:
            raise ValueError(f"EMA: the model has no tensors named {missing}")
        return [(name, own[name]) for name in self.shadow]

    def update(self):
        """``s <- decay * s + (1 - decay) * p`` for each parameter; buffers are copied."""
        params = {id(p) for p in self.model.parameters()}
        for name, t in self._pairs(self.model):
            s = self.shadow[name]
            arr = backend.to_device(t.array, backend.device_of(s))
            if id(t) in params and backend.is_floating(s.dtype):
                s *= self.decay
                s += (1.0 - self.decay) * arr
            else:
                s[...] = arr
        self.num_updates += 1

    def apply_to(self, model=None):
        """Copy the averaged values into ``model`` (default: the tracked model), in place."""
        for name, t in self._pairs(self.model if model is None else model):
            t.array[...] = backend.to_device(self.shadow[name], t.device)

    copy_to = apply_to

    def store(self, model=None):
        """Remember ``model``'s current values (to ``restore()`` after evaluating)."""
        self._backup = {name: t.array.copy()
                        for name, t in self._pairs(self.model if model is None else model)}

    def restore(self, model=None):
        """Put back the values saved by ``store()``."""
        if self._backup is None:
            raise RuntimeError("EMA.restore() called without a matching store()")
        for name, t in self._pairs(self.model if model is None else model):
            t.array[...] = self._backup[name]
        self._backup = None

    @contextlib.contextmanager
    def average_parameters(self, model=None):
        """Context in which ``model`` holds the averaged weights (restored on exit)."""
        self.store(model)
        try:
            self.apply_to(model)
            yield self
        finally:
            self.restore(model)

    def state_dict(self):
        return {"decay": self.decay, "num_updates": self.num_updates,
                "shadow": {name: Tensor.wrap(s) for name, s in self.shadow.items()}}

    def load_state_dict(self, state_dict):
        """Restore the shadow values (names and shapes checked before anything changes)."""
        shadow = state_dict["shadow"]
        if set(shadow) != set(self.shadow):
            raise ValueError(f"EMA.load_state_dict: names differ; missing "
                             f"{sorted(set(self.shadow) - set(shadow))}, unexpected "
                             f"{sorted(set(shadow) - set(self.shadow))}")
        staged = {}
        for name, cur in self.shadow.items():
            v = shadow[name]
            arr = v.array if isinstance(v, Tensor) else v
            if tuple(arr.shape) != tuple(cur.shape):
                raise ValueError(f"EMA.load_state_dict: '{name}' has shape {tuple(arr.shape)}, "
                                 f"expected {tuple(cur.shape)}")
            staged[name] = backend.as_array(arr, device=backend.device_of(cur)).astype(
                cur.dtype, copy=True)
        self.shadow = staged
        self.decay = float(state_dict.get("decay", self.decay))
        self.num_updates = int(state_dict.get("num_updates", self.num_updates))
