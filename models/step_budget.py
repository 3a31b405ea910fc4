"""What the step-based training loops (diffusion, GANs, SimCLR, latent diffusion) share: the
seed of each optimizer step, the batch of each step, and the epochs (or steps) / minutes
budget (``resolve_budget``, ``StepBudget``).

A run resumed at step k draws exactly what an uninterrupted run draws at step k: every random
source is seeded with ``step_seed(seed, k)``, and the batch of step k is a slice of epoch
``k // steps_per_epoch``'s permutation of the training set, seeded by ``(seed, epoch)``.
"""
from __future__ import annotations

import math
import os
import sys

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.tensor import Tensor

__all__ = ["step_seed", "epoch_batch", "resolve_budget", "StepBudget", "resume_state",
           "report_interrupt"]

_host = backend.module_for_device("cpu")


def step_seed(seed, step):
    """The seed of every random source during optimizer step ``step``."""
    return (int(seed) * 1_000_003 + int(step) * 7919 + 54321) % (2 ** 31 - 1)


def epoch_batch(data, seed, step, batch_size, steps_per_epoch):
    """Step ``step``'s batch of ``data`` (an (N, ...) backend array): rows
    ``order[p * B:(p + 1) * B]`` of epoch e's permutation of the N rows, where
    (e, p) = divmod(step, steps_per_epoch) (ceil(N / B) keeps a last partial batch, N // B
    full batches only)."""
    epoch, position = divmod(step, steps_per_epoch)
    order = _host.random.default_rng([int(seed), epoch]).permutation(data.shape[0])
    idx = order[position * batch_size:(position + 1) * batch_size]
    return Tensor.wrap(data[backend.to_device(idx, backend.device_of(data))])


def resolve_budget(training, count, minutes, who, unit="epochs"):
    """(count, minutes) of a run, ``count`` being its ``unit`` ("epochs" or "steps"): the
    arguments, else ``training``'s entries; at least one; count a positive integer, minutes a
    positive finite number (ValueError naming ``who``)."""
    count = training.get(unit) if count is None else count
    minutes = training.get("minutes") if minutes is None else minutes
    if count is None and minutes is None:
        raise ValueError(f"{who}: give {unit} or minutes (or both)")
    if count is not None and (isinstance(count, bool) or int(count) != count or count < 1):
        raise ValueError(f"{who}: {unit} must be a positive integer, got {count!r}")
    if minutes is not None and not (float(minutes) > 0 and math.isfinite(float(minutes))):
        raise ValueError(f"{who}: minutes must be a positive number, got {minutes!r}")
    return (None if count is None else int(count)), (None if minutes is None else float(minutes))


class StepBudget:
    """When a step-based run stops, and how far along it is.

    A run limited to ``total_steps`` optimizer steps and/or ``seconds`` of training time
    (None: no such limit) is, after ``step`` steps and ``train_seconds`` seconds,

        fraction = max(0, step / total_steps, train_seconds / seconds)

    done (a missing or zero limit adds no term), and finished once either limit is reached:

        finished = step >= total_steps  or  train_seconds >= seconds

    (for positive limits exactly ``fraction >= 1``).  ``StepBudget.of_epochs(epochs, minutes,
    steps_per_epoch)`` is the epochs/minutes budget: ``epochs * steps_per_epoch`` steps,
    ``60 * minutes`` seconds.
    """

    def __init__(self, total_steps=None, seconds=None):
        self.total_steps = total_steps
        self.seconds = seconds

    @classmethod
    def of_epochs(cls, epochs, minutes, steps_per_epoch):
        return cls(None if epochs is None else epochs * steps_per_epoch,
                   None if minutes is None else 60.0 * minutes)

    def steps_reached(self, step):
        """Whether ``step`` steps use up the step limit (False without one)."""
        return self.total_steps is not None and step >= self.total_steps

    def finished(self, step, train_seconds):
        return self.steps_reached(step) or (self.seconds is not None
                                            and train_seconds >= self.seconds)

    def fraction(self, step, train_seconds):
        parts = [0.0]
        if self.total_steps:
            parts.append(step / self.total_steps)
        if self.seconds:
            parts.append(train_seconds / self.seconds)
        return max(parts)


def resume_state(ckpt_path, resume, device, who):
    """The loaded checkpoint to continue from (None unless ``resume``); FileNotFoundError
    naming ``who`` when there is none."""
    if not resume:
        return None
    if not os.path.exists(ckpt_path):
        raise FileNotFoundError(f"{who}: nothing to resume, {ckpt_path} does not exist")
    return tg.load(ckpt_path, device=device)


def report_interrupt(step, ckpt_path):
    """The line printed when Ctrl-C stops a run at ``step`` (where to resume from, if saved)."""
    where = (f"; the last complete checkpoint is {ckpt_path}, continue with --resume"
             if os.path.exists(ckpt_path) else "")
    print(f"training interrupted at step {step}{where}", file=sys.stderr)
