"""Learning-rate schedules with torch's semantics.

Build the scheduler after the optimizer (that sets epoch 0's rate), then each epoch call
``optimizer.step()`` and afterwards ``scheduler.step()``.  ``get_last_lr()`` is the list of
the current rates (one per parameter group).  Each schedule is written in torch's
recursive form (the new rate from the group's current rate), so that it composes the same
way with other changes of ``group['lr']``; ``_closed_form(epoch)`` gives the rate at an
epoch directly (used when ``SequentialLR`` restarts a schedule).

``MultiplicativeLR``, ``ConstantLR``, ``PolynomialLR``, ``CosineAnnealingWarmRestarts``,
``OneCycleLR``, ``CyclicLR``, ``ReduceLROnPlateau`` and ``ChainedScheduler`` live in
``lr_scheduler_more`` and are exported from here.

A group's rate may be a Tensor (``lr=tensor(0.01)``): as torch, the schedules compute with
copies of it (so in its dtype) and fill the group's Tensor in place (``set_group_value``);
``base_lrs``, ``initial_lr`` and ``get_last_lr()`` hold copies, never the group's Tensor.
"""
from __future__ import annotations

import bisect
import functools
import math
import types
import warnings

from .optimizer import Optimizer, is_tensor_lr, native_value, value_of

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "LinearLR", "LinearWarmup", "SequentialLR", "MultiplicativeLR",
           "ConstantLR", "PolynomialLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
           "CyclicLR", "ReduceLROnPlateau", "ChainedScheduler"]

STEP_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call them in the "
    "opposite order: `optimizer.step()` before `lr_scheduler.step()`; otherwise the first "
    "value of the learning-rate schedule is skipped.")

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated; "
    "use `scheduler.step()` to step the scheduler. Given an epoch, the rate is its closed "
    "form (where the schedule has one) instead of the chainable form.")

# transient flags torch's schedulers save with their state (always False there): not loaded
TORCH_TRANSIENT_KEYS = ("_get_lr_called_within_step", "_is_initial")

GET_LR_WARNING = ("To get the last learning rate computed by the scheduler, please use "
                  "`get_last_lr()`.")


def copy_value(value):
    """A rate as a scheduler keeps it: a Tensor rate cloned (never aliasing a group's)."""
    return value.clone() if is_tensor_lr(value) else value


def group_values(optimizer, key):
    """``group[key]`` of every parameter group, Tensors cloned (torch's
    ``_param_groups_val_list``)."""
    return [copy_value(group[key]) for group in optimizer.param_groups]


def set_group_value(group, key, value):
    """``group[key] = value``, or, when the group holds a Tensor, that Tensor filled in place
    with the value (torch's ``_update_param_group_val``)."""
    if is_tensor_lr(group[key]):
        group[key].fill_(value_of(value))
    else:
        group[key] = value


class LRScheduler:
    """Base class: ``base_lrs`` (the groups' ``initial_lr``), ``last_epoch``, ``step()``.

    ``get_lr()`` computes the next rates for ``step()``; called from outside a step it warns
    (as torch: the value is not the current rate, ``get_last_lr()`` is).
    """

    _get_lr_called_within_step = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        get_lr = cls.__dict__.get("get_lr")
        if get_lr is not None and not getattr(get_lr, "_warns_outside_step", False):
            @functools.wraps(get_lr)
            def checked_get_lr(self):
                if not self._get_lr_called_within_step:
                    warnings.warn(GET_LR_WARNING, UserWarning, stacklevel=2)
                return get_lr(self)
            checked_get_lr._warns_outside_step = True
            cls.get_lr = checked_get_lr

    def _lrs_from(self, compute):
        """``compute()`` (``get_lr`` or a closed form) inside a step."""
        before = self.__dict__.get("_get_lr_called_within_step")
        self._get_lr_called_within_step = True
        try:
            return compute()
        finally:   # back to the class's False, so that no flag is saved with the scheduler
            if before is None:
                del self._get_lr_called_within_step
            else:
                self._get_lr_called_within_step = before

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", copy_value(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler with last_epoch >= 0 (load the "
                                   "optimizer's state first)")
        self.base_lrs = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        # from now on the optimizer records its steps (Optimizer._note_step)
        optimizer.__dict__.setdefault("_opt_called", False)
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The rates for the new ``last_epoch`` (one per group)."""
        raise NotImplementedError

    def _group_lrs(self):
        return group_values(self.optimizer, "lr")

    def step(self, epoch=None):
        """Advance one epoch and write the new rates into the optimizer's groups.

        The first call warns (only warns) when ``optimizer.step()`` has not run since the
        first scheduler of the optimizer was built.  ``epoch`` (deprecated, as in torch:
        a warning) jumps to that epoch through the closed form.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(STEP_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self._restart_at(epoch)
            return
        self.last_epoch += 1
        self._set_lrs(self._lrs_from(self.get_lr))

    def _undo_initial_step(self):
        """Take back the initial step (``SequentialLR`` runs its first schedule's again)."""
        self.last_epoch -= 1

    def _restart_at(self, epoch):
        """Jump to ``epoch`` using the closed form (``get_lr`` when there is none)."""
        self.last_epoch = epoch
        closed = getattr(self, "_closed_form", None)
        self._set_lrs(self._lrs_from(closed if closed is not None else self.get_lr))

    def _set_lrs(self, lrs):
        for group, lr in zip(self.optimizer.param_groups, lrs):
            set_group_value(group, "lr", lr)
        self._last_lr = self._group_lrs()

    def get_last_lr(self):
        """The rates set by the last ``step()`` (a list, one per parameter group)."""
        return list(self._last_lr)

    _not_saved = ("optimizer", "_is_initial")

    def state_dict(self):
        """Every attribute except the optimizer (numbers and lists: ``tinygrad_cv.save``-able)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
                if k not in self._not_saved}

    def load_state_dict(self, state_dict):
        """Restore a state from ``state_dict()``, ours or torch's (its transient flags are
        skipped, its Tensors become ours)."""
        state_dict = {k: v for k, v in state_dict.items() if k not in TORCH_TRANSIENT_KEYS}
        unknown = sorted(set(state_dict) - set(self.state_dict()))
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys {unknown}")
        self.__dict__.update({k: ([native_value(x) for x in v] if isinstance(v, (list, tuple))
                                  else native_value(v))
                              for k, v in state_dict.items()})


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) != step_size or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones``:
    ``lr = base_lr * gamma ** (number of milestones <= epoch)``."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        counts = {}
        for m in sorted(int(m) for m in milestones):
            counts[m] = counts.get(m, 0) + 1
        self.milestones = counts
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.get(self.last_epoch, 0)
        if not hits:
            return self._group_lrs()
        return [lr * self.gamma ** hits for lr in self._group_lrs()]

    def _closed_form(self):
        flat = sorted(m for m, n in self.milestones.items() for _ in range(n))
        return [b * self.gamma ** bisect.bisect_right(flat, self.last_epoch) for b in self.base_lrs]

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = {int(k): int(v) for k, v in self.milestones.items()}


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (SGDR without restarts), in torch's recursive form, approximating

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``

    (after ``T_max`` the cosine continues, rising again, as torch's does).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e, t, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and e > 0:
            return [lo + (b - lo) * (1 + math.cos(e * math.pi / t)) / 2 for b in self.base_lrs]
        if (e - 1 - t) % (2 * t) == 0:
            return [lr + (b - lo) * (1 - math.cos(math.pi / t)) / 2
                    for b, lr in zip(self.base_lrs, self._group_lrs())]
        ratio = (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))
        return [ratio * (lr - lo) + lo for lr in self._group_lrs()]

    def _closed_form(self):
        e, t, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (b - lo) * (1 + math.cos(math.pi * e / t)) / 2 for b in self.base_lrs]


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``; ``lr_lambda`` is one function or one per group.

    As in torch, ``state_dict`` saves a function or lambda as ``None`` and a callable object
    as a copy of its ``__dict__``, which ``load_state_dict`` puts back.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"{type(self).__name__}: expected {n} lr_lambdas, got "
                                 f"{len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * fn(self.last_epoch) for b, fn in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self):
        out = super().state_dict()
        out["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                             for fn in self.lr_lambdas]
        return out

    def load_state_dict(self, state_dict):
        saved = state_dict.get("lr_lambdas")
        state_dict = {k: v for k, v in state_dict.items() if k != "lr_lambdas"}
        super().load_state_dict(state_dict)
        for fn, attributes in zip(self.lr_lambdas, saved or ()):
            if attributes is not None:
                fn.__dict__.update(attributes)


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor * base_lr`` to ``end_factor * base_lr``
    over ``total_iters`` epochs, then keep it:
    ``lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e, s, f, n = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
        if e == 0:
            return [lr * s for lr in self._group_lrs()]
        if self._is_initial or e > n:
            return self._group_lrs()
        scale = 1.0 + (f - s) / (n * s + (e - 1) * (f - s))
        return [lr * scale for lr in self._group_lrs()]

    def _closed_form(self):
        e, s, f, n = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
        return [b * (s + (f - s) * min(n, e) / n) for b in self.base_lrs]


class LinearWarmup(LinearLR):
    """Linear warm-up: the rate rises from ``start_factor * base_lr`` at epoch 0 to
    ``base_lr`` at epoch ``warmup_epochs`` and stays there (``LinearLR`` with
    ``end_factor=1``).  Combine with another schedule through ``SequentialLR``."""

    def __init__(self, optimizer, warmup_epochs, start_factor=0.1, last_epoch=-1):
        if int(warmup_epochs) != warmup_epochs or warmup_epochs <= 0:
            raise ValueError(f"LinearWarmup: warmup_epochs must be a positive integer, got "
                             f"{warmup_epochs!r}")
        super().__init__(optimizer, start_factor=start_factor, end_factor=1.0,
                         total_iters=int(warmup_epochs), last_epoch=last_epoch)


class _NestedSchedulers(LRScheduler):
    """A scheduler made of ``self._schedulers``: their states are saved inside its own."""

    _not_saved = ("optimizer", "_is_initial", "_schedulers")

    def _undo_initial_step(self):
        """Undo the step each scheduler made when it was built, at any depth of nesting
        (this one's own ``last_epoch`` stays, as torch's)."""
        for s in self._schedulers:
            s._undo_initial_step()

    def state_dict(self):
        out = super().state_dict()
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        inner = state_dict.pop("_schedulers")
        if len(inner) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(inner)} scheduler "
                             f"states for {len(self._schedulers)} schedulers")
        super().load_state_dict(state_dict)
        for s, sd in zip(self._schedulers, inner):
            s.load_state_dict(sd)


class SequentialLR(_NestedSchedulers):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``; each later
    schedule starts from its epoch 0 at its milestone (torch's SequentialLR)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} ({type(s).__name__}) belongs to "
                                 "a different optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.base_lrs = group_values(optimizer, "initial_lr")
        for group in optimizer.param_groups:
            set_group_value(group, "lr", group["initial_lr"])
        self._undo_initial_step()
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._step_count = 1
        self._is_initial = False
        self._last_lr = first.get_last_lr()

    def step(self):
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._restart_at(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


from .lr_scheduler_more import (ChainedScheduler, ConstantLR,  # noqa: E402,F401
                                CosineAnnealingWarmRestarts, CyclicLR, MultiplicativeLR,
                                OneCycleLR, PolynomialLR, ReduceLROnPlateau)
