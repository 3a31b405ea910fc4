"""A small training loop: optimizers and schedules by name, per-epoch metrics, early stopping,
checkpoints every epoch and exact resumption.

    trainer = Trainer(model, make_optimizer("adam", model.parameters(), 1e-3), train_loader,
                      val_loader, epochs=20, seed=0, checkpoint_path="out/checkpoint.safetensors")
    history = trainer.fit()

Determinism: at the start of epoch ``e`` every random source is re-seeded with
``epoch_seed(seed, e)`` (dropout masks, augmentations) and the loader's shuffle order is the
permutation of ``(loader.seed, e)``.  A checkpoint holds the model, optimizer, scheduler,
epoch counter, early-stopping state and history, so a run resumed from the checkpoint of
epoch ``e`` replays epochs ``e+1...`` exactly as an uninterrupted run (on the CPU, where the
array library is deterministic) and ends with the same weights.

Checkpoints are written atomically (``tinygrad_cv.save``): interrupting training (Ctrl-C)
leaves the last complete one intact.

Distributed (``tinygrad_cv.distributed``, under ``mpiexec -n R``): pass the model wrapped in
``DistributedDataParallel`` and a loader over a ``DistributedSampler`` (per-rank batch =
global batch / R).  Every rank trains; rank 0 alone writes checkpoints and metrics and
prints progress.  The checkpoint holds the bare module's weights (no ``module.`` prefix), so
it loads into an unwrapped model and resumes on any number of ranks.  Each epoch's training
loss and accuracy are summed over the ranks; at the end of an epoch the BatchNorm buffers are
broadcast from rank 0 and rank 0's validation result decides best epoch and early stopping
on every rank.  Rank ``r`` re-seeds with ``epoch_seed(seed, e) + r`` (different dropout
masks and augmentations per rank; rank 0 = a single process).
"""
from __future__ import annotations

import json
import math
import sys
import time

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import backend, optim
from tinygrad_cv import distributed as dist
from tinygrad_cv.io import atomic_write
from tinygrad_cv.tensor import Tensor

__all__ = ["OPTIMIZERS", "SCHEDULERS", "make_optimizer", "make_scheduler", "epoch_seed",
           "evaluate", "predict", "Trainer", "KNNModel", "write_json"]

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine")


def make_optimizer(name, params, lr, weight_decay=0.0, momentum=0.9):
    """An optimizer by name: ``sgd`` (plain), ``momentum`` (SGD with ``momentum``, Nesterov
    off), ``rmsprop``, ``adam``, ``adamw`` (all with torch's update rules)."""
    params = list(params)
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")


def make_scheduler(name, optimizer, epochs, step_size=None, gamma=0.1):
    """``none`` -> None; ``step``: StepLR (``step_size`` default epochs // 3, ``gamma``);
    ``cosine``: CosineAnnealingLR over ``epochs``.  Stepped once per epoch."""
    if name in (None, "none"):
        return None
    if name == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size or max(1, epochs // 3), gamma)
    if name == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, epochs))
    raise ValueError(f"unknown scheduler {name!r}; expected one of {', '.join(SCHEDULERS)}")


def epoch_seed(seed, epoch):
    """The seed of every random source during ``epoch`` (a fixed mix of run seed and epoch)."""
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 12345) % (2 ** 31 - 1)


def write_json(obj, path):
    """Write ``obj`` as indented JSON atomically (temporary file + rename)."""
    atomic_write(path, [(json.dumps(obj, indent=2) + "\n").encode("utf-8")])


def _loss_fn(model, loss_fn):
    if loss_fn is not None:
        return loss_fn
    return getattr(model, "loss", None) or F.cross_entropy


def evaluate(model, loader, loss_fn=None):
    """``{'loss', 'accuracy'}`` of ``model`` (in eval mode, without gradients) over ``loader``."""
    loss_fn = _loss_fn(model, loss_fn)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with tg.no_grad():
            for x, y in loader:
                scores = model(x)
                n = y.shape[0]
                total_loss += float(loss_fn(scores, y).item()) * n
                correct += int((scores.argmax(dim=1).array == y.array).sum())
                count += n
    finally:
        model.train(was_training)
    return {"loss": total_loss / max(count, 1), "accuracy": correct / max(count, 1)}


def predict(model, x, batch_size=512):
    """Predicted class indices (a raw int array) of ``model`` on images ``x`` in batches."""
    was_training = model.training
    model.eval()
    xp = backend.get_array_module(x)
    out = []
    try:
        with tg.no_grad():
            for start in range(0, x.shape[0], batch_size):
                out.append(model(x[start:start + batch_size]).argmax(dim=1).array)
    finally:
        model.train(was_training)
    return xp.concatenate(out) if out else xp.zeros((0,), dtype="int64")


def _unwrapped(model):
    """The module inside a ``DistributedDataParallel`` wrapper (else ``model`` itself)."""
    return model.module if isinstance(model, dist.DistributedDataParallel) else model


def _copy_state(state):
    return {k: Tensor.wrap(v.array.copy()) for k, v in state.items()}


class TrainingDiverged(RuntimeError):
    """The training loss is no longer finite (NaN or inf): the run stops before it writes
    weights that would be useless (the last finite epoch's checkpoint is kept)."""


class Trainer:
    """Train ``model`` for ``epochs`` with per-epoch validation, checkpoints and early stopping.

    Args:
        model, optimizer, train_loader: the usual; ``val_loader`` is optional.
        scheduler: an ``optim.lr_scheduler`` stepped after every epoch (or None).
        loss_fn: ``(scores, labels) -> loss``; default ``model.loss`` or ``F.cross_entropy``.
        epochs: the total number of epochs (a resumed run continues up to it).
        seed: run seed; epoch ``e`` re-seeds every random source with ``epoch_seed(seed, e)``.
        patience: stop after this many epochs without a better validation score (accuracy,
            ties broken by lower loss); None: never stop early.
        restore_best: end with the weights of the best validation epoch.
        checkpoint_path: written (atomically) after every epoch.
        metrics_path: the history as JSON, rewritten after every epoch.
        config: JSON-able description saved in the checkpoint (to rebuild the model).
        progress: one summary line per epoch on stderr, plus tqdm bars when stderr is a
            terminal (in a log file or pipe the bars' carriage-return updates would be noise).
    """

    def __init__(self, model, optimizer, train_loader, val_loader=None, scheduler=None,
                 loss_fn=None, epochs=10, seed=0, patience=None, restore_best=True,
                 checkpoint_path=None, metrics_path=None, config=None, progress=True):
        self.model = model
        self.net = _unwrapped(model)        # what is saved, evaluated and restored
        self.rank, self.world = ((dist.get_rank(), dist.get_world_size())
                                 if dist.is_initialized() else (0, 1))
        self.writes = self.rank == 0        # only rank 0 writes files and progress
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.scheduler = scheduler
        self.loss_fn = _loss_fn(self.net, loss_fn)
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.patience = None if patience in (None, 0) else int(patience)
        self.restore_best = bool(restore_best) and val_loader is not None
        self.checkpoint_path = checkpoint_path
        self.metrics_path = metrics_path
        self.config = dict(config or {})
        self.progress = bool(progress)
        self.epoch = 0              # completed epochs
        self.history = []
        self.best = None            # (accuracy, loss) of the best validation epoch
        self.best_epoch = None
        self.best_state = None
        self.bad_epochs = 0
        self.stopped_early = False

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self):
        """Everything a resumed run needs, in ``tinygrad_cv.save``'s format."""
        return {
            "model": self.net.state_dict(),
            "best_model": self.best_state,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "loader": self.train_loader.state_dict(),
            "trainer": {"epoch": self.epoch, "epochs": self.epochs, "seed": self.seed,
                        "best": None if self.best is None else list(self.best),
                        "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                        "stopped_early": self.stopped_early, "history": self.history},
            "config": self.config,
        }

    def load_state_dict(self, state):
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("loader") is not None:
            self.train_loader.load_state_dict(state["loader"])
        t = state["trainer"]
        self.epoch = int(t["epoch"])
        self.seed = int(t["seed"])
        self.best = None if t.get("best") is None else tuple(t["best"])
        self.best_epoch = t.get("best_epoch")
        self.bad_epochs = int(t.get("bad_epochs", 0))
        self.stopped_early = bool(t.get("stopped_early", False))
        self.history = list(t.get("history", []))
        best = state.get("best_model")
        self.best_state = None if best is None else _copy_state(best)

    def save_checkpoint(self, path=None):
        path = path or self.checkpoint_path
        tg.save(self.state_dict(), path)

    def resume(self, path=None):
        """Load the checkpoint at ``path`` (default ``checkpoint_path``) to continue from it."""
        path = path or self.checkpoint_path
        self.load_state_dict(tg.load(path, device=backend.device_of(
            next(iter(self.net.parameters())).array)))
        return self

    # ---- training ------------------------------------------------------------------------
    def _bars(self):
        """Live progress bars: only with ``progress`` and a terminal on stderr."""
        isatty = getattr(sys.stderr, "isatty", None)
        return self.progress and self.writes and bool(isatty and isatty())

    def _bar(self, iterable, total, desc, leave):
        if not self._bars():
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, leave=leave, file=sys.stderr,
                    dynamic_ncols=True)

    def _log(self, text):
        if self._bars():
            from tqdm.auto import tqdm

            tqdm.write(text, file=sys.stderr)
        elif self.progress and self.writes:
            print(text, file=sys.stderr, flush=True)

    def train_epoch(self, epoch):
        """One pass over the training data; returns ``{'loss', 'accuracy'}``."""
        self.model.train()
        self.train_loader.set_epoch(epoch)
        sampler = getattr(self.train_loader, "sampler", None)
        if isinstance(sampler, dist.DistributedSampler):
            sampler.set_epoch(epoch)
        total_loss, correct, count = 0.0, 0, 0
        bars = self._bars()
        bar = self._bar(self.train_loader, len(self.train_loader),
                        f"epoch {epoch + 1}/{self.epochs}", leave=False)
        for x, y in bar:
            scores = self.model(x)
            loss = self.loss_fn(scores, y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            n = y.shape[0]
            value = float(loss.item())
            total_loss += value * n
            correct += int((scores.array.argmax(axis=1) == y.array).sum())
            count += n
            if bars:
                bar.set_postfix(loss=f"{total_loss / count:.4f}", acc=f"{correct / count:.4f}")
        if self.world > 1:      # the epoch's numbers over all ranks
            sums = Tensor([total_loss, correct, count], dtype="float64")
            dist.all_reduce(sums)
            total_loss, correct, count = sums.array.tolist()
        return {"loss": total_loss / max(count, 1), "accuracy": correct / max(count, 1)}

    def _validate(self):
        """Validation metrics of rank 0's weights, the same on every rank."""
        if isinstance(self.model, dist.DistributedDataParallel):
            self.model.sync_buffers()
        val = evaluate(self.net, self.val_loader, self.loss_fn)
        if self.world > 1:
            agreed = Tensor([val["loss"], val["accuracy"]], dtype="float64")
            dist.broadcast(agreed, src=0)
            val = dict(zip(("loss", "accuracy"), agreed.array.tolist()))
        return val

    def _improved(self, val):
        score = (val["accuracy"], -val["loss"])
        if self.best is None or score > (self.best[0], -self.best[1]):
            self.best = (val["accuracy"], val["loss"])
            return True
        return False

    def fit(self):
        """Train from the current epoch up to ``epochs``; returns the history (list of dicts)."""
        bars = self._bars()
        epochs_bar = self._bar(range(self.epoch, self.epochs), self.epochs - self.epoch,
                               "training", leave=True)
        try:
            for epoch in epochs_bar:
                if self.stopped_early:
                    break
                start = time.perf_counter()
                tg.manual_seed(epoch_seed(self.seed, epoch) + self.rank)
                lr = float(self.optimizer.param_groups[0]["lr"])
                train = self.train_epoch(epoch)
                if not math.isfinite(train["loss"]):
                    raise TrainingDiverged(
                        f"training diverged: the mean training loss of epoch {epoch + 1} is "
                        f"{train['loss']} (lr {lr:g}); no later checkpoint is written, try a "
                        "lower learning rate")
                record = {"epoch": epoch + 1, "lr": lr, "train_loss": train["loss"],
                          "train_accuracy": train["accuracy"]}
                if self.val_loader is not None:
                    val = self._validate()
                    record.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
                    if self._improved(val):
                        self.best_epoch = epoch + 1
                        self.bad_epochs = 0
                        if self.restore_best:
                            self.best_state = _copy_state(self.net.state_dict())
                    else:
                        self.bad_epochs += 1
                        if self.patience is not None and self.bad_epochs >= self.patience:
                            self.stopped_early = True
                record["seconds"] = time.perf_counter() - start
                if self.scheduler is not None:
                    self.scheduler.step()
                self.history.append(record)
                self.epoch = epoch + 1
                if self.checkpoint_path and self.writes:
                    self.save_checkpoint()
                if self.metrics_path and self.writes:
                    write_json({"history": self.history, "best_epoch": self.best_epoch},
                               self.metrics_path)
                self._log(self._summary(record))
                if bars:
                    val_acc = record.get("val_accuracy", float("nan"))
                    epochs_bar.set_postfix(loss=f"{train['loss']:.4f}", val_acc=f"{val_acc:.4f}")
                if self.stopped_early:
                    self._log(f"early stop: no better validation score for {self.patience} "
                              f"epochs (best epoch {self.best_epoch})")
                    break
        except KeyboardInterrupt:
            where = (f"; the last complete checkpoint (epoch {self.epoch}) is "
                     f"{self.checkpoint_path}, continue with --resume"
                     if self.checkpoint_path and self.epoch else "")
            if self.writes:
                print(f"training interrupted during epoch {self.epoch + 1}{where}",
                      file=sys.stderr)
            raise
        finally:
            if bars:
                epochs_bar.close()
        if self.restore_best and self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        return self.history

    def _summary(self, r):
        text = (f"epoch {r['epoch']:3d}/{self.epochs}  lr {r['lr']:.2e}  "
                f"train loss {r['train_loss']:.4f} acc {r['train_accuracy']:.4f}")
        if "val_loss" in r:
            text += f"  val loss {r['val_loss']:.4f} acc {r['val_accuracy']:.4f}"
        return text + f"  ({r['seconds']:.1f}s)"


class KNNModel:
    """The notes' k-nearest-neighbour classifier (``classic.knn``) as a trainable "model".

    ``fit(x, y, ks, folds)`` stores the training images and picks ``k`` by ``folds``-fold
    cross-validation on them (``classic.knn.cross_validate_k``); ``predict(x)`` votes among
    the ``k`` nearest (L2 or L1) training images.  ``state_dict`` holds the data and ``k``.
    """

    def __init__(self, metric="l2", k=None):
        from classic.knn import KNearestNeighbor

        self.metric = metric
        self.k = k
        self.knn = KNearestNeighbor(metric=metric)
        self.cv_accuracies = None

    def fit(self, x, y, ks=(1, 3, 5, 7, 9), folds=5, seed=0):
        from classic.knn import cross_validate_k

        x = x.array if isinstance(x, Tensor) else x
        y = y.array if isinstance(y, Tensor) else y
        if self.k is None:
            self.k, acc = cross_validate_k(x, y, list(ks), folds=folds, metric=self.metric,
                                           seed=seed)
            self.k = int(self.k)
            self.cv_accuracies = {int(k): float(a) for k, a in zip(ks, acc.mean(axis=1).tolist())}
        self.knn.train(x.reshape(x.shape[0], -1), y)
        return self

    def predict(self, x, batch_size=512):
        x = x.array if isinstance(x, Tensor) else x
        xp = backend.get_array_module(x)
        flat = x.reshape(x.shape[0], -1)
        parts = [self.knn.predict(flat[s:s + batch_size], k=self.k)
                 for s in range(0, flat.shape[0], batch_size)]
        return xp.concatenate(parts)

    def state_dict(self):
        return {"x_train": Tensor.wrap(self.knn.X_train),
                "y_train": Tensor.wrap(self.knn.y_train), "k": self.k, "metric": self.metric}

    def load_state_dict(self, state):
        self.metric = state["metric"]
        self.k = int(state["k"])
        from classic.knn import KNearestNeighbor

        self.knn = KNearestNeighbor(metric=self.metric)
        self.knn.train(state["x_train"].array, state["y_train"].array)
        return self
