"""``GradScaler``: dynamic loss scaling for mixed-precision training (torch.amp.GradScaler).

The loss is multiplied by a scale ``S`` (a float32 0-d tensor, created on the device of the
first scaled output) before backward, so small float16 gradients do not underflow; before the
optimizer's step every gradient is multiplied by ``inv = float32(1 / float64(S))`` and checked
for inf/NaN.  Per iteration (``update()``), with ``found`` = some gradient was not finite:

    found:      S <- S * backoff_factor,  tracker <- 0          (the optimizer step was skipped)
    otherwise:  tracker <- tracker + 1;
                if tracker == growth_interval: S <- S * growth_factor (kept only if finite),
                                               tracker <- 0

all in float32, as torch's ``_amp_update_scale_``.  Each optimizer goes through the stages
READY -> (unscale_) UNSCALED -> (step) STEPPED, and ``update()`` resets them; calling the
methods out of order raises torch's errors.  A scaler built for ``device='cuda'`` without a
GPU warns and is disabled (every method is then a no-op and ``step`` calls the optimizer),
as torch.
"""
from __future__ import annotations

import warnings
from collections import abc, defaultdict
from enum import Enum

from .. import backend
from ..autograd import no_grad
from ..autograd.versions import bump_version
from ..tensor import Tensor

__all__ = ["GradScaler", "OptState"]

_FLOAT32 = backend.dtype("float32")
_FLOAT16 = backend.dtype("float16")


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _device_type(device) -> str:
    text = str(device)
    return text.split(":", 1)[0]


class GradScaler:
    """torch.amp.GradScaler(device='cuda', init_scale=2.**16, growth_factor=2.0,
    backoff_factor=0.5, growth_interval=2000, enabled=True).

    Usage, as torch::

        scaler = GradScaler('cpu')
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)          # optional (e.g. before clipping)
        scaler.step(optimizer)              # skipped when a gradient is inf/NaN
        scaler.update()
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._device = _device_type(device)
        self._enabled = enabled
        if self._device == "cuda" and enabled and not backend.cuda_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None              # float32 0-d raw array, made by the first scale()
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None     # int, made with the scale
            self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    # --- scale -----------------------------------------------------------------------------
    def _check_scale_growth_tracker(self, funcname):
        fix = ("This may indicate your script did not use scaler.scale(loss or outputs) "
               "earlier in the iteration.")
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)

    def _lazy_init_scale_growth_tracker(self, like):
        xp = backend.get_array_module(like)
        self._scale = xp.full((), self._init_scale, dtype=_FLOAT32)
        self._growth_tracker = int(self._init_growth_tracker)

    def scale(self, outputs):
        """``outputs * scale`` for a Tensor, or for each Tensor of a (nested) list/tuple/iterable
        (lists and tuples keep their type, other iterables come back as a ``map``)."""
        if not self._enabled:
            return outputs

        def apply_scale(val):
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker(val.array)
                scale = self._scale
                if backend.device_of(scale) != backend.device_of(val.array):
                    scale = backend.to_device(scale, backend.device_of(val.array))
                return val * Tensor.wrap(scale)
            if isinstance(val, abc.Iterable):
                scaled = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(scaled)
                return scaled
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    # --- unscale ---------------------------------------------------------------------------
    @backend.fp_quiet
    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        """Multiply every gradient of ``optimizer`` by ``inv_scale`` in place; returns
        {device: 1.0 if some gradient there had an inf/NaN else 0.0} (torch's found_inf)."""
        found = {}
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(f"expected param to be Tensor, got "
                                             f"{type(param).__name__}")
                    grad = param.grad
                    if grad is None:
                        continue
                    if not allow_fp16 and grad.dtype == _FLOAT16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    if getattr(grad, "is_sparse", False):
                        raise NotImplementedError("GradScaler: sparse gradients are not "
                                                  "supported")
                    arr = grad.array
                    xp = backend.get_array_module(arr)
                    device = backend.device_of(arr)
                    bad = not bool(xp.isfinite(arr).all())
                    found[device] = max(found.get(device, 0.0), 1.0 if bad else 0.0)
                    if inv_scale != 1.0:
                        # float32 inv_scale, the product in the gradient's dtype (float64 grads:
                        # the float32 value widened exactly), as torch's kernel
                        arr *= xp.asarray(inv_scale, dtype=_FLOAT32).astype(arr.dtype)
                        bump_version(grad)
        return found

    def unscale_(self, optimizer):
        """Divide ("unscale") the optimizer's gradients by the scale, in place, and record
        whether any is inf/NaN.  At most once per optimizer between two ``update()`` calls."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        xp = backend.get_array_module(self._scale)
        inv_scale = xp.asarray(1.0 / xp.asarray(self._scale, dtype="float64"),
                               dtype=_FLOAT32)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, float(inv_scale),
                                                             allow_fp16=False)
        state["stage"] = OptState.UNSCALED

    # --- step / update ---------------------------------------------------------------------
    def step(self, optimizer, *args, **kwargs):
        """``unscale_(optimizer)`` (unless already called), then ``optimizer.step(*args,
        **kwargs)`` unless a gradient was inf/NaN; returns what ``optimizer.step`` returned
        (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        if not sum(state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Back off, grow or keep the scale (see the module docstring), or set it to
        ``new_scale`` (a float, or a one-element Tensor that does not require grad)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        xp = backend.get_array_module(self._scale)
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._scale = xp.full((), new_scale, dtype=_FLOAT32)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor "
                          "or torch.FloatTensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor):
                    raise AssertionError(reason)
                if _device_type(new_scale.device) != self._device:
                    raise AssertionError(reason)
                if new_scale.numel() != 1:
                    raise AssertionError(reason)
                if new_scale.requires_grad is True:
                    raise AssertionError(reason)
                self._scale = xp.asarray(new_scale.array.reshape(()), dtype=_FLOAT32).copy()
        else:
            found = [f for s in self._per_optimizer_states.values()
                     for f in s["found_inf_per_device"].values()]
            if len(found) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            self._update_scale(sum(found) > 0)
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    @backend.fp_quiet
    def _update_scale(self, found_inf):
        """torch's _amp_update_scale_ in float32."""
        xp = backend.get_array_module(self._scale)
        if found_inf:
            self._scale = xp.asarray(self._scale * xp.asarray(self._backoff_factor,
                                                              dtype=_FLOAT32), dtype=_FLOAT32)
            self._growth_tracker = 0
            return
        successful = self._growth_tracker + 1
        if successful == self._growth_interval:
            grown = xp.asarray(self._scale * xp.asarray(self._growth_factor, dtype=_FLOAT32),
                               dtype=_FLOAT32)
            if bool(xp.isfinite(grown)):
                self._scale = grown
            self._growth_tracker = 0
        else:
            self._growth_tracker = successful

    # --- queries and state -----------------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale as a Python float (1.0 when disabled)."""
        if self._enabled:
            return self._init_scale if self._scale is None else float(self._scale)
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if self._enabled:
            return (self._init_growth_tracker if self._growth_tracker is None
                    else int(self._growth_tracker))
        return 0

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self):
        """{'scale', 'growth_factor', 'backoff_factor', 'growth_interval', '_growth_tracker'}
        as Python numbers ({} when disabled)."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor,
                    "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict):
        """Take back what ``state_dict()`` returned (a no-op when disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            xp = backend.get_array_module(self._scale)
            self._scale = xp.full((), state_dict["scale"], dtype=_FLOAT32)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = int(state_dict["_growth_tracker"])

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the "
                                     "beginning of an iteration, or at the end after "
                                     "scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
            state["_per_optimizer_states"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.__dict__.get("_enabled"):
            self._per_optimizer_states = defaultdict(_fresh_optimizer_state)
