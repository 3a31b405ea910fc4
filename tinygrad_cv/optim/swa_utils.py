"""``tinygrad_cv.optim.swa_utils``: stochastic weight averaging and EMA models, torch's
``torch.optim.swa_utils``.

* ``AveragedModel(model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False)``: a
  deep copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are running
  averages of ``model``'s, updated by ``update_parameters(model)``.  The first update copies;
  the n-th after it (``n = n_averaged``, a buffer) applies

      SWA (default):  a <- a + (p - a) / (n + 1)          (the mean of the n + 1 models)
      EMA:            a <- decay * a + (1 - decay) * p      (``get_ema_multi_avg_fn(decay)``)

  Without ``use_buffers`` the buffers (BatchNorm's running statistics) are copied from
  ``model`` at each update.  Integer tensors (``num_batches_tracked``) are averaged in floating
  point and truncated back, as torch.
* ``update_bn(loader, model, device=None)``: one pass over ``loader`` in training mode with
  every BatchNorm's running statistics reset and ``momentum=None`` (a cumulative average), so
  they become the statistics of the averaged weights.
* ``SWALR(optimizer, swa_lr, anneal_epochs=10, anneal_strategy='cos')``: anneals each group's
  rate from its current value to ``swa_lr`` over ``anneal_epochs`` steps, then keeps it.
  With ``t = clamp(step / max(1, anneal_epochs), 0, 1)`` and alpha = t (linear) or
  (1 - cos(pi t)) / 2 (cos), the rate is ``swa_lr * alpha + lr0 * (1 - alpha)``, ``lr0`` the
  start value recovered from the current rate (torch's recursive form).
"""
from __future__ import annotations

import copy
import itertools
import math

from ..autograd.mode import no_grad
from ..nn import Module
from ..nn.layers.normalization import _BatchNorm
from ..tensor import Tensor
from .lr_scheduler import LRScheduler
from .lr_scheduler_more import _per_group
from .optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def _is_float(t):
    return t.dtype.kind == "f"


def get_ema_multi_avg_fn(decay=0.999):
    """In place, for lists of averaged and current tensors of one dtype:
    ``a <- a + (1 - decay) * (p - a)`` (a lerp; integer tensors: ``decay * a + (1 - decay) * p``
    truncated)."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _):
        with no_grad():
            if _is_float(ema_param_list[0]):
                for a, p in zip(ema_param_list, current_param_list):
                    a.lerp_(p, 1 - decay)
            else:
                for a, p in zip(ema_param_list, current_param_list):
                    a.copy_(a * decay + p * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """In place, for lists of averaged and current tensors of one dtype:
    ``a <- a + (p - a) / (n + 1)`` (a lerp with weight 1 / (n + 1) for floating tensors)."""
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with no_grad():
            n = int(num_averaged.item()) if isinstance(num_averaged, Tensor) else num_averaged
            if _is_float(averaged_param_list[0]):
                for a, p in zip(averaged_param_list, current_param_list):
                    a.lerp_(p, 1 / (n + 1))
            else:
                for a, p in zip(averaged_param_list, current_param_list):
                    a.copy_(a + (p - a) / (n + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """``(a, p, n) -> decay * a + (1 - decay) * p`` (a new tensor)."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """``(a, p, n) -> a + (p - a) / (n + 1)`` (a new tensor)."""
    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` holding running averages of its weights (see the module's text);
    ``forward`` runs the copy (``self.module``)."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", Tensor(0, dtype="int64", device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Average ``model``'s current weights into this copy (the first call copies them)."""
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        pairs = [(a.detach(), p.detach().to(a.device)) for a, p in zip(mine, theirs)]
        n = int(self.n_averaged.item())
        with no_grad():
            if n == 0:
                for a, p in pairs:
                    a.copy_(p)
            elif self.avg_fn is not None:
                for a, p in pairs:
                    a.copy_(self.avg_fn(a, p, self.n_averaged.to(a.device)))
            else:
                for group in _by_device_and_dtype(pairs):
                    averaged, current = [a for a, _ in group], [p for _, p in group]
                    count = self.n_averaged.to(averaged[0].device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(averaged, current, count)
                    else:
                        swa = get_swa_avg_fn()
                        for a, p in group:
                            a.copy_(swa(a, p, count))
            if not self.use_buffers:
                mine_b, theirs_b = list(self.module.buffers()), list(model.buffers())
                if len(mine_b) != len(theirs_b):
                    raise ValueError(f"update_parameters: the model has {len(theirs_b)} "
                                     f"buffers, the averaged model {len(mine_b)}")
                for b, m in zip(mine_b, theirs_b):
                    b.detach().copy_(m.detach().to(b.device))
            self.n_averaged += 1


def _by_device_and_dtype(pairs):
    """``pairs`` in groups of one (device, dtype) of the averaged tensor, order kept."""
    groups = {}
    for a, p in pairs:
        groups.setdefault((str(a.device), str(a.dtype)), []).append((a, p))
    return list(groups.values())


def update_bn(loader, model, device=None):
    """Recompute the running statistics of every BatchNorm of ``model`` by one pass over
    ``loader`` (batches: a tensor, or a list/tuple whose first item is the input); the
    momenta and the training mode are restored afterwards."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device)
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate to ``swa_lr`` (one value, or one per group) over
    ``anneal_epochs`` steps with ``anneal_strategy`` 'cos' or 'linear', then hold it."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        swa_lrs = _per_group("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) \
                or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy

    @property
    def anneal_func(self):
        """t -> alpha of the strategy (read from ``_anneal_strategy``: no function is kept in
        the scheduler's state, so the whole scheduler saves and loads)."""
        return self._cosine_anneal if self._anneal_strategy == "cos" else self._linear_anneal

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._set_anneal_func(self._anneal_strategy)
