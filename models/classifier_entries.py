"""The digits classifiers in the model registry: ``knn``, ``linear-svm``, ``softmax``, ``mlp``,
``cnn`` (their options, defaults, architectures, training entry points and loaders).

Data: ``tinygrad_cv.data.load_digits`` (fixed stratified 60/20/20 split).  Every model's
defaults (``MODEL_DEFAULTS``, ``MODEL_ARCHITECTURE``) reach the accuracies listed in the
README on the test split with seed 0.

Checkpoint (``OUT/checkpoint.safetensors``): the ``Trainer``'s state (``model``,
``best_model``, ``optimizer``, ``scheduler``, ``loader``, ``trainer``) or ``{"knn": ...}``,
plus ``config = {"model": name, "model_config": {...}, "training": {...}, "seed": s,
"data": {"dataset": "digits"}}`` from which ``load`` rebuilds the model.

``--resume`` continues the saved run with its own settings; only ``epochs`` may change, to a
new total of at least the epochs already done.  Then the learning-rate schedule is rebuilt
for the new total: the rate goes back to the initial ``lr`` and a fresh scheduler over the new
total is stepped once per completed epoch, so the remaining epochs take exactly the rates an
uninterrupted run of the new total takes at those epochs.  The epochs already done keep the
rates of the old total, so with ``cosine`` or ``step`` the weights differ from such a run;
with ``scheduler='none'`` they are identical.

``distributed=True`` (``tinygrad-cv train --distributed`` under ``mpiexec -n R``, the process
group already initialised): ``batch_size`` is the global batch, split evenly over the ranks
(it must be a multiple of R); each rank trains on its ``DistributedSampler`` shard with the
model wrapped in ``DistributedDataParallel``, and rank 0 alone writes the checkpoint and
metrics.  Without BatchNorm, dropout or augmentation the weights equal those of one process
with the same global batch (up to float rounding).
"""
from __future__ import annotations

import math
import os
import time
import warnings

from .registry import (CHECKPOINT_NAME, CONTENT_ERRORS, METRICS_NAME, ModelEntry, ModelLoadError,
                       Option, OptionError, content_error, flag, nonnegative_float,
                       nonnegative_int, positive_float, positive_int, read_checkpoint, register)
from .training import OPTIMIZERS, SCHEDULERS   # the names make_optimizer/make_scheduler take

__all__ = ["MODEL_DEFAULTS", "MODEL_ARCHITECTURE", "KNN_KS", "NETWORKS", "model_config",
           "build_network", "accuracy_report"]

NETWORKS = ("linear-svm", "softmax", "mlp", "cnn")
KNN_KS = (1, 3, 5, 7, 9)

# Hyper-parameters of each network when the options do not set them.
MODEL_DEFAULTS = {
    "linear-svm": {"epochs": 40, "batch_size": 64, "lr": 0.1, "optimizer": "momentum",
                   "scheduler": "cosine", "weight_decay": 0.0, "reg": 1e-3, "augment": False},
    "softmax": {"epochs": 40, "batch_size": 64, "lr": 0.1, "optimizer": "momentum",
                "scheduler": "cosine", "weight_decay": 0.0, "reg": 1e-4, "augment": False},
    "mlp": {"epochs": 30, "batch_size": 64, "lr": 1e-3, "optimizer": "adam",
            "scheduler": "cosine", "weight_decay": 0.0, "reg": 0.0, "augment": False},
    "cnn": {"epochs": 20, "batch_size": 64, "lr": 1e-3, "optimizer": "adam",
            "scheduler": "cosine", "weight_decay": 0.0, "reg": 0.0, "augment": False},
}
MODEL_ARCHITECTURE = {
    "linear-svm": {},
    "softmax": {},
    "mlp": {"hidden_dims": [256, 128], "normalization": "batchnorm", "dropout": 0.1},
    "cnn": {"conv_channels": [[32], [64]], "fc_dims": [128], "batchnorm": True, "dropout": 0.0},
}
TRAINING_KEYS = ("epochs", "batch_size", "lr", "optimizer", "scheduler", "weight_decay", "reg",
                 "augment")


def _network_options(name):
    d = MODEL_DEFAULTS[name]
    return (
        Option("epochs", positive_int, d["epochs"],
               "number of epochs (passes over the training digits); with --resume a new total, "
               "at least the epochs already done, that extends the run (a classifier's "
               "learning-rate schedule is rebuilt for it)"),
        Option("batch_size", positive_int, d["batch_size"], "training images per step"),
        Option("lr", positive_float, d["lr"], "initial learning rate"),
        Option("optimizer", str, d["optimizer"], "optimizer; momentum is SGD with momentum 0.9",
               choices=OPTIMIZERS),
        Option("scheduler", str, d["scheduler"],
               "learning-rate schedule, stepped once per epoch: step divides it by 10 every "
               "epochs/3 epochs, cosine anneals it to 0 over the epochs",
               choices=SCHEDULERS),
        Option("weight_decay", nonnegative_float, d["weight_decay"],
               "the optimizer's weight decay"),
        Option("reg", nonnegative_float, d["reg"], "L2 penalty reg * sum W^2 added to the loss"),
        Option("augment", flag, False,
               "random rotation (+-10 deg) and shift (+-10%) of the training images"),
        Option("patience", nonnegative_int, None,
               "stop after this many epochs without better validation accuracy; 0 never "
               "stops early", default_help="never"),
    )


KNN_OPTIONS = (
    Option("k", positive_int, None,
           "number of neighbours that vote",
           default_help=f"chosen among {', '.join(map(str, KNN_KS))} by 5-fold cross-validation"),
)


# ---- shared helpers ---------------------------------------------------------------------------
def _load_digits(split):
    from tinygrad_cv.data import load_digits

    return load_digits(split)


def model_config(name, x):
    """The JSON-able constructor configuration of network ``name`` for images like ``x``."""
    config = {"in_features": int(math.prod(x.shape[1:])), "num_classes": 10,
              "in_channels": int(x.shape[1]), "input_size": [int(x.shape[2]), int(x.shape[3])]}
    config.update(MODEL_ARCHITECTURE.get(name, {}))
    return config


def build_network(name, config, reg):
    from .classifiers import build_classifier

    if not isinstance(config, dict):
        raise TypeError(f"the {name} configuration must be a dict, got {type(config).__name__}")
    return build_classifier(name, reg=reg, **config)


def accuracy_report(labels, predicted, num_classes):
    """(accuracy, per-class accuracies, confusion matrix as lists) from int arrays."""
    from tinygrad_cv import backend

    xp = backend.get_array_module(labels)
    counts = xp.bincount(labels * num_classes + predicted, minlength=num_classes ** 2)
    matrix = backend.to_numpy(counts.reshape(num_classes, num_classes)).tolist()
    per_class = [(row[i] / sum(row)) if sum(row) else float("nan")
                 for i, row in enumerate(matrix)]
    total = sum(sum(row) for row in matrix)
    accuracy = sum(matrix[i][i] for i in range(num_classes)) / max(total, 1)
    return accuracy, per_class, matrix


def _paths(out_dir):
    return os.path.join(out_dir, CHECKPOINT_NAME), os.path.join(out_dir, METRICS_NAME)


def _check_state(state, path):
    """The parts a classifier checkpoint must have, else a ModelLoadError."""
    config = state["config"]
    if config["model"] == "knn":
        needed, config_needed = {"knn": dict}, {}
    else:
        needed, config_needed = {"model": dict, "trainer": dict}, \
            {"model_config": dict, "training": dict}
    for where, keys in ((state, needed), (config, config_needed)):
        for key, kind in keys.items():
            if not isinstance(where.get(key), kind):
                raise ModelLoadError(f"cannot use checkpoint {path!r}: its {key!r} entry is "
                                     "missing or malformed (not a complete training checkpoint)")


# ---- k-NN ---------------------------------------------------------------------------------------
def _train_knn(options, out_dir, *, seed=None, resume=False, log=print, **_):
    import tinygrad_cv as tg
    from .training import KNNModel, write_json

    seed = 0 if seed is None else seed
    ckpt, metrics_path = _paths(out_dir)
    x, y = _load_digits("train")
    xv, yv = _load_digits("val")
    xt, yt = _load_digits("test")
    if options.get("k") is not None and options["k"] > x.shape[0]:
        raise OptionError(f"--k {options['k']} is more than the {x.shape[0]} training images "
                          "that can vote")
    start = time.perf_counter()
    knn = KNNModel(metric="l2", k=options.get("k")).fit(x, y, ks=KNN_KS, folds=5, seed=seed)
    val_acc, _, _ = accuracy_report(yv.array, knn.predict(xv.array), 10)
    test_acc, per_class, _ = accuracy_report(yt.array, knn.predict(xt.array), 10)
    config = {"model": "knn", "model_config": {"metric": "l2", "k": knn.k},
              "training": {"seed": seed}, "data": {"dataset": "digits"}}
    tg.save({"knn": knn.state_dict(), "config": config}, ckpt)
    metrics = {"model": "knn", "k": knn.k, "cv_accuracy": knn.cv_accuracies,
               "val_accuracy": val_acc, "test_accuracy": test_acc,
               "test_per_class_accuracy": per_class, "seconds": time.perf_counter() - start}
    write_json(metrics, metrics_path)
    if knn.cv_accuracies:
        log(f"k-NN (L2): k = {knn.k} chosen by 5-fold cross-validation on the training split")
    return metrics


def _load_knn(state, path):
    from .training import KNNModel

    _check_state(state, path)
    knn = KNNModel().load_state_dict(state["knn"])
    n = knn.knn.X_train.shape[0]
    if knn.knn.y_train.shape != (n,) or not 1 <= knn.k <= n:
        raise ModelLoadError(f"cannot use checkpoint {path!r}: its k-NN data are inconsistent "
                             f"({n} images, labels of shape {tuple(knn.knn.y_train.shape)}, "
                             f"k = {knn.k})")
    return knn


def _predict_knn(model, images):
    return model.predict(images.array if hasattr(images, "array") else images)


# ---- networks -----------------------------------------------------------------------------------
def _settings(name, options, saved, completed):
    """Training settings: options over defaults, or the saved run's (``epochs`` may change)."""
    given = {k: options[k] for k in TRAINING_KEYS if options.get(k) is not None}
    if saved is None:
        return {k: given.get(k, MODEL_DEFAULTS[name][k]) for k in TRAINING_KEYS}
    clashes = [f"--{k.replace('_', '-')} {given[k]} (the checkpoint has {saved.get(k)})"
               for k in given if k != "epochs" and given[k] != saved.get(k)]
    if clashes:
        raise OptionError("--resume continues the saved run with its own settings; drop or "
                          "match " + ", ".join(clashes))
    settings = dict(saved)
    if "epochs" in given:
        if given["epochs"] < completed:
            raise OptionError(f"--epochs {given['epochs']} is fewer than the {completed} epochs "
                              "the saved run has already completed")
        settings["epochs"] = given["epochs"]
    return settings


def _rebuild_schedule(trainer, settings, completed):
    """A new total of epochs on resume (see the module docstring)."""
    from .training import make_scheduler

    for group in trainer.optimizer.param_groups:
        group["lr"] = group.get("initial_lr", settings["lr"])
    trainer.scheduler = make_scheduler(settings["scheduler"], trainer.optimizer,
                                       settings["epochs"])
    if trainer.scheduler is not None:
        with warnings.catch_warnings():   # replaying the completed epochs' schedule: no
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step",
                                    category=UserWarning)   # optimizer step belongs before it
            for _ in range(completed):
                trainer.scheduler.step()
    trainer.stopped_early = False


def _check_batch_norm_batches(model, name, batch_size, n):
    """Batch norm over features (``BatchNorm1d``) cannot train on a batch of one image (its
    variance is undefined): refuse a ``batch_size`` that gives one, every batch or the last of
    the ``n`` training images."""
    from tinygrad_cv.nn import BatchNorm1d

    if not any(isinstance(m, BatchNorm1d) for m in model.modules()):
        return
    if batch_size == 1:
        raise OptionError(f"--batch-size 1: {name}'s batch norm needs at least 2 images per "
                          "batch")
    if n % batch_size == 1:
        nearby = [b for b in (batch_size - 1, batch_size + 1) if b > 1 and n % b != 1]
        raise OptionError(f"--batch-size {batch_size} leaves a last batch of 1 of the {n} "
                          f"training images, which {name}'s batch norm cannot train on; "
                          f"use another batch size (e.g. {' or '.join(map(str, nearby))})")


def _train_network_entry(name):
    def train(options, out_dir, *, seed=None, resume=False, progress=True, log=print,
              distributed=False, **_):
        import tinygrad_cv as tg
        from tinygrad_cv.data import DataLoader, TensorDataset
        from tinygrad_cv.data.transforms import RandomAffine
        from .training import Trainer, evaluate, make_optimizer, make_scheduler, write_json

        ckpt, metrics_path = _paths(out_dir)
        resumed = None
        if resume:
            entry, resumed = read_checkpoint(ckpt)
            if entry.name != name:
                raise OptionError(f"--resume: {ckpt!r} holds a {entry.name} run, not {name}")
            _check_state(resumed, ckpt)
        completed = int(resumed["trainer"].get("epoch", 0)) if resumed else 0
        saved_epochs = resumed["config"]["training"].get("epochs") if resumed else None
        settings = _settings(name, options, resumed["config"]["training"] if resumed else None,
                             completed)
        if resumed:
            saved_seed = resumed["config"].get("seed", 0)
            if seed is not None and seed != saved_seed:
                raise OptionError(f"--resume continues the saved run with its own settings; "
                                  f"drop or match --seed {seed} (the checkpoint has "
                                  f"{saved_seed})")
            seed = saved_seed
        seed = 0 if seed is None else seed
        x, y = _load_digits("train")
        xv, yv = _load_digits("val")
        xt, yt = _load_digits("test")
        config_m = resumed["config"]["model_config"] if resumed else model_config(name, x)
        tg.manual_seed(seed)
        try:
            model = build_network(name, config_m, settings["reg"])
        except CONTENT_ERRORS as exc:
            if resumed is None:
                raise
            raise content_error(ckpt, exc) from None
        optimizer = make_optimizer(settings["optimizer"], model.parameters(), settings["lr"],
                                   weight_decay=settings["weight_decay"])
        scheduler = make_scheduler(settings["scheduler"], optimizer, settings["epochs"])
        augment = RandomAffine(degrees=10, translate=(0.1, 0.1)) if settings["augment"] else None
        train_set = TensorDataset(x, y, transform=augment)
        if distributed:
            model, train_loader = _distributed(model, train_set, settings["batch_size"], seed)
        else:
            _check_batch_norm_batches(model, name, settings["batch_size"], len(train_set))
            train_loader = DataLoader(train_set, settings["batch_size"], shuffle=True, seed=seed)
        val_loader = DataLoader(TensorDataset(xv, yv), 512)
        config = {"model": name, "model_config": config_m, "training": settings, "seed": seed,
                  "data": {"dataset": "digits"}}
        trainer = Trainer(model, optimizer, train_loader, val_loader, scheduler=scheduler,
                          loss_fn=trainer_loss(model),
                          epochs=settings["epochs"], seed=seed, patience=options.get("patience"),
                          checkpoint_path=ckpt, metrics_path=metrics_path, config=config,
                          progress=progress)
        if resumed is not None:
            try:
                trainer.load_state_dict(resumed)
            except CONTENT_ERRORS as exc:
                raise ModelLoadError(f"cannot resume from {ckpt!r}: "
                                     f"{str(exc).splitlines()[0]}") from None
            if settings["epochs"] != saved_epochs:
                _rebuild_schedule(trainer, settings, trainer.epoch)
                log(f"resuming {name} from epoch {trainer.epoch}, new total "
                    f"{settings['epochs']} epochs (was {saved_epochs}); the "
                    f"{settings['scheduler']} learning-rate schedule is rebuilt for "
                    f"{settings['epochs']} epochs")
            else:
                log(f"resuming {name} from epoch {trainer.epoch}/{trainer.epochs}")
        start = time.perf_counter()
        history = trainer.fit()
        test = evaluate(trainer.net, DataLoader(TensorDataset(xt, yt), 512))
        metrics = {"model": name, "settings": settings, "seed": seed, "history": history,
                   "best_epoch": trainer.best_epoch, "stopped_early": trainer.stopped_early,
                   "val_accuracy": max((r["val_accuracy"] for r in history), default=None),
                   "test_loss": test["loss"], "test_accuracy": test["accuracy"],
                   "seconds": time.perf_counter() - start}
        if distributed:
            metrics["world_size"] = trainer.world
        if trainer.writes:
            write_json(metrics, metrics_path)
        return metrics
    return train


def trainer_loss(model):
    """The training loss of ``model`` (its ``loss``, L2 penalty included), also when wrapped."""
    from tinygrad_cv.distributed.ddp import DistributedDataParallel

    net = model.module if isinstance(model, DistributedDataParallel) else model
    return net.loss


def _distributed(model, train_set, batch_size, seed):
    """(``DistributedDataParallel(model)``, a loader over this rank's shard of ``train_set``
    with ``batch_size / world size`` images per step)."""
    import tinygrad_cv.distributed as dist
    from tinygrad_cv.data import DataLoader

    if not dist.is_initialized():
        raise OptionError("distributed training needs the process group: run under mpiexec "
                          "with tinygrad-cv train --distributed")
    world = dist.get_world_size()
    if batch_size % world:
        raise OptionError(f"--batch-size {batch_size} is the global batch, split evenly over "
                          f"the {world} ranks: use a multiple of {world}")
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=seed)
    return (dist.DistributedDataParallel(model),
            DataLoader(train_set, batch_size // world, sampler=sampler))


def _load_network(state, path):
    _check_state(state, path)
    config = state["config"]
    name = config["model"]
    model = build_network(name, config["model_config"], config["training"].get("reg", 0.0))
    weights = state.get("best_model") or state["model"]
    try:
        model.load_state_dict(weights)
    except CONTENT_ERRORS as exc:
        raise ModelLoadError(f"cannot use checkpoint {path!r}: its weights do not fit the "
                             f"{name} model ({str(exc).splitlines()[0]})") from None
    return model.eval()


def _predict_network(model, images):
    from .training import predict

    return predict(model, images)


def _graph_entry(name):
    def graph(images, labels):
        import tinygrad_cv as tg

        tg.manual_seed(0)
        model = build_network(name, model_config(name, images), MODEL_DEFAULTS[name]["reg"])
        return model.loss(model(images), labels), model
    return graph


_DESCRIPTIONS = {"linear-svm": "linear classifier, multiclass SVM hinge loss",
                 "softmax": "linear classifier, softmax cross-entropy",
                 "mlp": "fully connected net (256-128, batchnorm, dropout 0.1)",
                 "cnn": "convolutional net (32-64 convs, batchnorm, max-pool, fc 128)"}

register(ModelEntry(
    name="knn", kind="classifier", description="k-nearest neighbours (L2) on the pixels",
    options=KNN_OPTIONS, train=_train_knn, load=_load_knn, resumable=False,
    predict=_predict_knn))
for _name in NETWORKS:
    register(ModelEntry(
        name=_name, kind="classifier", description=_DESCRIPTIONS[_name],
        options=_network_options(_name), train=_train_network_entry(_name), load=_load_network,
        predict=_predict_network, graph=_graph_entry(_name), distributed=True))
