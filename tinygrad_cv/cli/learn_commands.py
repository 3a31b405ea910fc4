"""Learning sub-commands: ``train``, ``eval``, ``graph`` and ``demo`` on the bundled digits.

    tinygrad-cv train --model cnn --out runs/cnn          # checkpoint, metrics.json, curves.png
    tinygrad-cv train --model cnn --out runs/cnn --resume # continue an interrupted run
    tinygrad-cv eval runs/cnn/checkpoint.safetensors      # test accuracy, confusion.png
    tinygrad-cv graph --model mlp -o graph.svg            # the autograd graph of forward+loss
    tinygrad-cv demo                                      # all of the above, plus Canny

Every model's defaults (``MODEL_DEFAULTS``) reach the accuracies listed in the README on the
fixed digits test split with seed 0.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time

from tinygrad_cv.cli import CLIError, UsageError
from tinygrad_cv.cli.common import (DEVICE_NAMES, nonnegative_float, nonnegative_int,
                                    output_folder, pil_modules, positive_float, positive_int,
                                    save_png, to_pil, use_device, write_bytes)

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"
CURVES_NAME = "curves.png"
CONFUSION_NAME = "confusion.png"

MODELS = ("knn", "linear-svm", "softmax", "mlp", "cnn")
GRAPH_MODELS = ("linear-svm", "softmax", "mlp", "cnn")
OPTIMIZER_NAMES = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SCHEDULER_NAMES = ("none", "step", "cosine")

# Hyper-parameters of each model when the command line does not set them.
MODEL_DEFAULTS = {
    "knn": {"k": None, "metric": "l2"},
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
KNN_KS = (1, 3, 5, 7, 9)
# The options of `train` that belong to some models only; giving one to another model is an
# error (exit 2) rather than silently ignored.
MODEL_OPTIONS = {"knn": ("k",),
                 **{m: TRAINING_KEYS + ("patience", "resume") for m in MODELS if m != "knn"}}


# ---- shared helpers ---------------------------------------------------------------------------
def _load_digits(split):
    from tinygrad_cv.data import load_digits

    try:
        return load_digits(split)
    except ImportError as exc:
        raise CLIError(str(exc)) from None


def _model_config(model, x):
    config = {"in_features": int(math.prod(x.shape[1:])), "num_classes": 10,
              "in_channels": int(x.shape[1]), "input_size": [int(x.shape[2]), int(x.shape[3])]}
    config.update(MODEL_ARCHITECTURE.get(model, {}))
    return config


def _build_model(name, config, reg):
    from models.classifiers import build_classifier

    return build_classifier(name, reg=reg, **config)


def _read_checkpoint(path):
    """The dict saved by ``train`` at ``path``; any problem is one clear CLIError."""
    import tinygrad_cv as tg
    from tinygrad_cv.io import CheckpointError

    if not os.path.exists(path):
        raise CLIError(f"cannot read checkpoint {path!r}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"cannot read checkpoint {path!r}: it is a folder (give the "
                       f"{CHECKPOINT_NAME} file inside it)")
    try:
        state = tg.load(path)
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot read checkpoint {path!r}: {exc.strerror or exc}") from None
    config = state.get("config") if isinstance(state, dict) else None
    if not isinstance(config, dict) or config.get("model") not in MODELS:
        raise CLIError(f"cannot use checkpoint {path!r}: it was not written by "
                       "'tinygrad-cv train' (no model description inside)")
    needed = ({"knn": dict} if config["model"] == "knn" else
              {"model": dict, "trainer": dict})
    config_needed = {} if config["model"] == "knn" else {"model_config": dict, "training": dict}
    for where, keys in ((state, needed), (config, config_needed)):
        for key, kind in keys.items():
            if not isinstance(where.get(key), kind):
                raise CLIError(f"cannot use checkpoint {path!r}: its {key!r} entry is missing or "
                               "malformed (not a complete 'tinygrad-cv train' checkpoint)")
    return state


def _bad_checkpoint(path, exc):
    """One CLIError line for a checkpoint whose content does not describe a working model."""
    if isinstance(exc, MemoryError):
        return CLIError(f"cannot use checkpoint {path!r}: the model it describes does not fit "
                        "in memory (crafted or damaged configuration?)")
    return CLIError(f"cannot use checkpoint {path!r}: its model description or weights are "
                    f"invalid ({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'})")


# What building or running a model from a crafted configuration may raise.
_CONTENT_ERRORS = (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError,
                   RuntimeError, MemoryError)


def _accuracy_report(labels, predicted, num_classes):
    """(accuracy, per-class accuracies, confusion matrix as lists) from host int arrays."""
    from tinygrad_cv import backend

    xp = backend.get_array_module(labels)
    counts = xp.bincount(labels * num_classes + predicted, minlength=num_classes ** 2)
    matrix = backend.to_numpy(counts.reshape(num_classes, num_classes)).tolist()
    per_class = [(row[i] / sum(row)) if sum(row) else float("nan")
                 for i, row in enumerate(matrix)]
    total = sum(sum(row) for row in matrix)
    accuracy = sum(matrix[i][i] for i in range(num_classes)) / max(total, 1)
    return accuracy, per_class, matrix


def _predict_checkpoint(state, x, path):
    """Predicted labels for images ``x`` with the model described by a train checkpoint."""
    from models.training import KNNModel, predict

    config = state["config"]
    try:
        if config["model"] == "knn":
            return KNNModel().load_state_dict(state["knn"]).predict(x.data)
        model = _build_model(config["model"], config["model_config"],
                             config["training"].get("reg", 0.0))
    except _CONTENT_ERRORS as exc:
        raise _bad_checkpoint(path, exc) from None
    weights = state.get("best_model") or state["model"]
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as exc:
        raise CLIError(f"checkpoint weights do not fit the {config['model']} model: "
                       f"{str(exc).splitlines()[0]}") from None
    return predict(model, x)


# ---- train ------------------------------------------------------------------------------------
def _option_flag(key):
    return "--" + key.replace("_", "-")


def _check_options_apply(args):
    """Options given on the command line that the chosen model does not take -> UsageError."""
    own = MODEL_OPTIONS[args.model]
    every = {k for keys in MODEL_OPTIONS.values() for k in keys}
    wrong = [k for k in sorted(every - set(own)) if getattr(args, k, None) not in (None, False)]
    if wrong:
        flags = ", ".join(_option_flag(k) for k in wrong)
        raise UsageError(f"{flags} {'does' if len(wrong) == 1 else 'do'} not apply to --model "
                         f"{args.model} (its own options: "
                         f"{', '.join(_option_flag(k) for k in own)})")


def _training_settings(args, resumed_config, completed_epochs=0):
    """Resolve the training settings: command line over defaults, or the checkpoint's.

    With ``--resume`` every setting must match the saved run's except ``--epochs``, which may
    name a new total of at least the ``completed_epochs`` (extending a finished run, or
    changing the end of an interrupted one).
    """
    defaults = MODEL_DEFAULTS[args.model]
    given = {k: getattr(args, k) for k in TRAINING_KEYS if getattr(args, k, None) is not None}
    if resumed_config is None:
        return {k: given.get(k, defaults[k]) for k in TRAINING_KEYS}
    saved = resumed_config["training"]
    clashes = [f"{_option_flag(k)} {given[k]} (the checkpoint has {saved.get(k)})"
               for k in given if k != "epochs" and given[k] != saved.get(k)]
    if clashes:
        raise UsageError("--resume continues the saved run with its own settings; drop or "
                         "match " + ", ".join(clashes))
    settings = dict(saved)
    if "epochs" in given:
        if given["epochs"] < completed_epochs:
            raise UsageError(f"--epochs {given['epochs']} is fewer than the {completed_epochs} "
                             "epochs the saved run has already completed")
        settings["epochs"] = given["epochs"]
    return settings


def _rebuild_schedule(trainer, settings, completed):
    """A new total of epochs on resume: the learning-rate schedule is rebuilt for it.

    The optimizer's rate goes back to the initial ``lr`` and a fresh scheduler over the new
    total is stepped ``completed`` times, so epochs ``completed+1 ... epochs`` take exactly
    the rates an uninterrupted run of the new total takes at those epochs.  (The epochs
    already done keep the rates of the old total, so with ``cosine`` or ``step`` the weights
    differ from such a run; with ``--scheduler none`` they are identical.)
    """
    from models.training import make_scheduler

    for group in trainer.optimizer.param_groups:
        group["lr"] = group.get("initial_lr", settings["lr"])
    trainer.scheduler = make_scheduler(settings["scheduler"], trainer.optimizer,
                                       settings["epochs"])
    if trainer.scheduler is not None:
        for _ in range(completed):
            trainer.scheduler.step()
    trainer.stopped_early = False


def _train_knn(args, paths):
    from models.training import KNNModel, write_json
    import tinygrad_cv as tg

    x, y = _load_digits("train")
    xv, yv = _load_digits("val")
    xt, yt = _load_digits("test")
    start = time.perf_counter()
    knn = KNNModel(metric="l2", k=args.k).fit(x, y, ks=KNN_KS, folds=5, seed=args.seed)
    val_acc, _, _ = _accuracy_report(yv.data, knn.predict(xv.data), 10)
    test_acc, per_class, _ = _accuracy_report(yt.data, knn.predict(xt.data), 10)
    config = {"model": "knn", "model_config": {"metric": "l2", "k": knn.k},
              "training": {"seed": args.seed}, "data": {"dataset": "digits"}}
    tg.save({"knn": knn.state_dict(), "config": config}, paths["checkpoint"])
    metrics = {"model": "knn", "k": knn.k, "cv_accuracy": knn.cv_accuracies,
               "val_accuracy": val_acc, "test_accuracy": test_acc,
               "test_per_class_accuracy": per_class, "seconds": time.perf_counter() - start}
    write_json(metrics, paths["metrics"])
    if knn.cv_accuracies:
        from tinygrad_cv.cli.learn_plots import plot_knn_validation

        plot_knn_validation(knn.cv_accuracies, paths["curves"], "k-NN on digits: 5-fold CV")
    print(f"k-NN (L2): k = {knn.k} chosen by 5-fold cross-validation on the training split")
    return metrics


def _train_network(args, paths):
    import tinygrad_cv as tg
    from tinygrad_cv.data import DataLoader, TensorDataset
    from tinygrad_cv.data.transforms import RandomAffine
    from models.training import Trainer, evaluate, make_optimizer, make_scheduler, write_json

    resumed = _read_checkpoint(paths["checkpoint"]) if args.resume else None
    if resumed is not None and resumed["config"]["model"] != args.model:
        raise UsageError(f"--resume: {paths['checkpoint']!r} holds a "
                         f"{resumed['config']['model']} run, not {args.model}")
    completed = int(resumed["trainer"].get("epoch", 0)) if resumed else 0
    saved_epochs = resumed["config"]["training"].get("epochs") if resumed else None
    settings = _training_settings(args, resumed["config"] if resumed else None, completed)
    seed = resumed["config"].get("seed", 0) if resumed else args.seed
    if resumed and args.seed_given and args.seed != seed:
        raise UsageError(f"--resume continues the saved run with its own settings; drop or "
                         f"match --seed {args.seed} (the checkpoint has {seed})")
    x, y = _load_digits("train")
    xv, yv = _load_digits("val")
    xt, yt = _load_digits("test")
    model_config = resumed["config"]["model_config"] if resumed else _model_config(args.model, x)
    tg.manual_seed(seed)
    try:
        model = _build_model(args.model, model_config, settings["reg"])
    except _CONTENT_ERRORS as exc:
        if resumed is None:
            raise
        raise _bad_checkpoint(paths["checkpoint"], exc) from None
    optimizer = make_optimizer(settings["optimizer"], model.parameters(), settings["lr"],
                               weight_decay=settings["weight_decay"])
    scheduler = make_scheduler(settings["scheduler"], optimizer, settings["epochs"])
    augment = RandomAffine(degrees=10, translate=(0.1, 0.1)) if settings["augment"] else None
    train_loader = DataLoader(TensorDataset(x, y, transform=augment), settings["batch_size"],
                              shuffle=True, seed=seed)
    val_loader = DataLoader(TensorDataset(xv, yv), 512)
    config = {"model": args.model, "model_config": model_config, "training": settings,
              "seed": seed, "data": {"dataset": "digits"}}
    trainer = Trainer(model, optimizer, train_loader, val_loader, scheduler=scheduler,
                      epochs=settings["epochs"], seed=seed, patience=args.patience,
                      checkpoint_path=paths["checkpoint"], metrics_path=paths["metrics"],
                      config=config, progress=not args.no_progress)
    if resumed is not None:
        try:
            trainer.load_state_dict(resumed)
        except _CONTENT_ERRORS as exc:
            raise CLIError(f"cannot resume from {paths['checkpoint']!r}: "
                           f"{str(exc).splitlines()[0]}") from None
        if settings["epochs"] != saved_epochs:
            _rebuild_schedule(trainer, settings, trainer.epoch)
            print(f"resuming {args.model} from epoch {trainer.epoch}, new total "
                  f"{settings['epochs']} epochs (was {saved_epochs}); the {settings['scheduler']} "
                  f"learning-rate schedule is rebuilt for {settings['epochs']} epochs")
        else:
            print(f"resuming {args.model} from epoch {trainer.epoch}/{trainer.epochs}")
    start = time.perf_counter()
    history = trainer.fit()
    test = evaluate(model, DataLoader(TensorDataset(xt, yt), 512))
    metrics = {"model": args.model, "settings": settings, "seed": seed, "history": history,
               "best_epoch": trainer.best_epoch, "stopped_early": trainer.stopped_early,
               "val_accuracy": max((r["val_accuracy"] for r in history), default=None),
               "test_loss": test["loss"], "test_accuracy": test["accuracy"],
               "seconds": time.perf_counter() - start}
    write_json(metrics, paths["metrics"])
    if history:
        from tinygrad_cv.cli.learn_plots import plot_curves

        plot_curves(history, paths["curves"], f"{args.model} on digits")
    return metrics


def _output_paths(out):
    return {"checkpoint": os.path.join(out, CHECKPOINT_NAME),
            "metrics": os.path.join(out, METRICS_NAME),
            "curves": os.path.join(out, CURVES_NAME)}


def run_train(args):
    _check_options_apply(args)
    out = args.out or os.path.join("runs", args.model)
    use_device(args.device)
    paths = _output_paths(out)
    if args.resume and not os.path.exists(paths["checkpoint"]):
        raise CLIError(f"cannot resume: no checkpoint at {paths['checkpoint']!r}")
    with output_folder(out):
        if args.model == "knn":
            metrics = _train_knn(args, paths)
        else:
            metrics = _train_network(args, paths)
    print(f"{args.model}: test accuracy {metrics['test_accuracy']:.4f} on the digits test split")
    print(f"checkpoint: {paths['checkpoint']}")
    print(f"metrics:    {paths['metrics']}")
    if os.path.exists(paths["curves"]):
        print(f"plot:       {paths['curves']}")
    return 0


# ---- eval -------------------------------------------------------------------------------------
def evaluate_checkpoint(path, out=None, split="test"):
    """Accuracy, per-class accuracy and a confusion-matrix PNG of a train checkpoint."""
    from models.training import write_json
    from tinygrad_cv.cli.learn_plots import plot_confusion

    state = _read_checkpoint(path)
    config = state["config"]
    x, y = _load_digits(split)
    predicted = _predict_checkpoint(state, x, path)
    accuracy, per_class, matrix = _accuracy_report(y.data, predicted, 10)
    out = out or os.path.dirname(os.path.abspath(path))
    with output_folder(out):
        figure = os.path.join(out, CONFUSION_NAME)
        plot_confusion(matrix, figure, f"{config['model']} on the digits {split} split "
                                       f"(accuracy {accuracy:.4f})")
        report = {"checkpoint": os.path.abspath(path), "model": config["model"],
                  "split": split, "accuracy": accuracy, "per_class_accuracy": per_class,
                  "confusion_matrix": matrix, "confusion_png": figure}
        write_json(report, os.path.join(out, "eval.json"))
    return report


def run_eval(args):
    use_device(args.device)
    report = evaluate_checkpoint(args.checkpoint, args.out, args.split)
    n = sum(sum(row) for row in report["confusion_matrix"])
    correct = sum(report["confusion_matrix"][i][i] for i in range(10))
    print(f"{report['model']} on the digits {report['split']} split: accuracy "
          f"{report['accuracy']:.4f} ({correct}/{n})")
    print("per-class accuracy:")
    for cls, acc in enumerate(report["per_class_accuracy"]):
        row = report["confusion_matrix"][cls]
        print(f"  {cls}: {acc:.4f} ({row[cls]}/{sum(row)})")
    print(f"confusion matrix: {report['confusion_png']}")
    return 0


# ---- graph ------------------------------------------------------------------------------------
GRAPH_FORMATS = ("svg", "png", "pdf")


def write_graph(model_name, path, batch_size=4):
    """Draw one forward + loss of ``model_name`` on a digits batch; returns the written path.

    Renders with Graphviz ``dot`` in the format of ``path``'s extension (svg, png, pdf);
    ``.dot``/``.gv`` or a missing ``dot`` program writes the DOT source instead (with a
    warning in the latter case, the path's extension changed to ``.dot``).
    """
    import tinygrad_cv as tg
    from tinygrad_cv.viz import draw_graph

    base, ext = os.path.splitext(path)
    fmt = ext.lower().lstrip(".")
    if fmt not in GRAPH_FORMATS + ("dot", "gv"):
        raise UsageError(f"cannot tell the graph format from {path!r}; use a .svg, .png, .pdf "
                         "or .dot file name")
    x, y = _load_digits("train")
    tg.manual_seed(0)
    config = _model_config(model_name, x)
    model = _build_model(model_name, config, MODEL_DEFAULTS[model_name]["reg"])
    loss = model.loss(model(x[:batch_size]), y[:batch_size])
    dot = draw_graph(loss, params=model)
    if fmt in ("dot", "gv"):
        return write_bytes(path, dot.source.encode())
    import graphviz

    if shutil.which("dot") is None:
        fallback = base + ".dot"
        print(f"warning: the Graphviz 'dot' program is not installed, so {path!r} cannot be "
              f"rendered; wrote the DOT source to {fallback!r} instead (install Graphviz, "
              "e.g. apt install graphviz, and render it with: dot -Tsvg)", file=sys.stderr)
        return write_bytes(fallback, dot.source.encode())
    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        fallback = base + ".dot"
        print(f"warning: Graphviz 'dot' could not run; wrote the DOT source to {fallback!r}",
              file=sys.stderr)
        return write_bytes(fallback, dot.source.encode())
    return write_bytes(path, data)


def run_graph(args):
    written = write_graph(args.model, args.output)
    print(f"graph of one {args.model} forward + loss: {written}")
    return 0


# ---- demo -------------------------------------------------------------------------------------
DEMO_PHOTO = "china"


def _canny_demo(out):
    """Canny edges of a bundled photo; writes the side-by-side PNG and returns its path."""
    from tinygrad_cv import backend
    from tinygrad_cv.data import load_sample_image
    from classic.edges import canny

    pil_modules("the demo")
    try:
        photo = load_sample_image(DEMO_PHOTO)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    xp = backend.get_array_module(photo)
    gray = photo @ xp.asarray([0.299, 0.587, 0.114], dtype=photo.dtype)
    edges = canny(gray, sigma=2.0)
    host = backend.module_for_device("cpu")
    both = host.concatenate([backend.to_numpy(gray), backend.to_numpy(edges).astype(gray.dtype)],
                            axis=1)
    path = os.path.join(out, f"canny_{DEMO_PHOTO}.png")
    save_png(to_pil(both, rgb=False, needed_by="the demo"), path)
    return path, int(backend.to_numpy(edges).sum())


def run_demo(args):
    use_device(args.device)
    with output_folder(args.out) as out:
        return _demo(args, out)


def _demo(args, out):
    start = time.perf_counter()
    cnn_dir = os.path.join(out, "cnn")
    epochs = args.epochs or MODEL_DEFAULTS["cnn"]["epochs"]
    print(f"[1/4] training the CNN on the digits ({epochs} epochs, seed 0) ...")
    train_args = argparse.Namespace(model="cnn", out=cnn_dir, device=args.device, seed=0,
                                    seed_given=False, resume=False, patience=None,
                                    no_progress=args.no_progress, k=None,
                                    **{k: None for k in TRAINING_KEYS})
    if args.epochs is not None:
        train_args.epochs = args.epochs
    with output_folder(cnn_dir):
        paths = _output_paths(cnn_dir)
        metrics = _train_network(train_args, paths)
    print(f"      test accuracy {metrics['test_accuracy']:.4f}")
    print("[2/4] evaluating the checkpoint on the test split ...")
    report = evaluate_checkpoint(paths["checkpoint"], cnn_dir)
    print("[3/4] Canny edges of a bundled photo ...")
    canny_path, n_edges = _canny_demo(out)
    print("[4/4] drawing the autograd graph of one CNN forward + loss ...")
    graph_path = write_graph("cnn", os.path.join(out, "graph.svg"))
    print(f"\ndone in {time.perf_counter() - start:.0f}s; everything is in {os.path.abspath(out)}:")
    n_test = sum(sum(r) for r in report["confusion_matrix"])
    rows = [("CNN test accuracy", f"{metrics['test_accuracy']:.4f} (digits test split, "
                                  f"{n_test} images)"),
            ("checkpoint", paths["checkpoint"]),
            ("metrics (JSON)", paths["metrics"]),
            ("loss/accuracy curves", paths["curves"]),
            ("confusion matrix", report["confusion_png"]),
            (f"Canny edges ({n_edges} px)", canny_path),
            ("autograd graph", graph_path)]
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print(f"  {label:<{width}}{value}")
    return 0


# ---- registration -----------------------------------------------------------------------------
class _SeedAction(argparse.Action):
    """``--seed N``, remembering that it was given (``--resume`` checks it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.seed_given = True


def _per_model(key, fmt=str):
    """``'linear-svm 40, softmax 40, ...'``: a setting's default for each trained model."""
    return ", ".join(f"{m} {fmt(d[key])}" for m, d in MODEL_DEFAULTS.items() if key in d)


def register(subparsers):
    train = subparsers.add_parser(
        "train", help="train a classifier on the bundled digits",
        description="Train a classifier on scikit-learn's 8x8 digits (fixed stratified "
                    "60/20/20 split, seed 0). Writes OUT/checkpoint.safetensors after every "
                    "epoch, OUT/metrics.json and OUT/curves.png. Options left out take the "
                    "model's defaults; options of other models are an error.")
    train.add_argument("--model", choices=MODELS, default="cnn",
                       help="model to train (default: cnn)")
    train.add_argument("--epochs", type=positive_int,
                       help="number of epochs; with --resume a new total, at least the epochs "
                            "already done, that extends the run and rebuilds the learning-rate "
                            "schedule for it (default: " + _per_model("epochs") + ")")
    train.add_argument("--batch-size", type=positive_int,
                       help="training images per step (default: 64)")
    train.add_argument("--lr", type=positive_float,
                       help="initial learning rate (default: " + _per_model("lr") + ")")
    train.add_argument("--optimizer", choices=OPTIMIZER_NAMES,
                       help="optimizer; momentum is SGD with momentum 0.9 (default: "
                            + _per_model("optimizer") + ")")
    train.add_argument("--scheduler", choices=SCHEDULER_NAMES,
                       help="learning-rate schedule, stepped once per epoch: step divides it "
                            "by 10 every epochs/3 epochs, cosine anneals it to 0 over the "
                            "epochs (default: cosine)")
    train.add_argument("--weight-decay", type=nonnegative_float,
                       help="the optimizer's weight decay (default: 0)")
    train.add_argument("--reg", type=nonnegative_float,
                       help="L2 penalty reg * sum W^2 added to the loss (default: "
                            + _per_model("reg") + ")")
    train.add_argument("--augment", action="store_const", const=True, default=None,
                       help="random rotation (+-10 deg) and shift (+-10%%) of training images "
                            "(default: off)")
    train.add_argument("--patience", type=nonnegative_int, default=None,
                       help="stop after this many epochs without better validation accuracy; "
                            "0 never stops early (default: never)")
    train.add_argument("--k", type=positive_int, default=None,
                       help="knn only: number of neighbours that vote (default: chosen among "
                            f"{', '.join(map(str, KNN_KS))} by 5-fold cross-validation)")
    train.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                       help="where to train: cpu (NumPy) or cuda (CuPy) (default: cpu)")
    train.add_argument("--out", metavar="DIR", default=None,
                       help="output folder (default: runs/MODEL)")
    train.add_argument("--seed", type=int, default=0, action=_SeedAction,
                       help="seed of the initial weights, shuffling, dropout and augmentation "
                            "(default: 0)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in OUT/checkpoint.safetensors (default: "
                            "off, start afresh)")
    train.add_argument("--no-progress", action="store_true",
                       help="no progress output (default: a bar per epoch on a terminal, one "
                            "line per epoch otherwise)")
    train.set_defaults(func=run_train, seed_given=False)

    ev = subparsers.add_parser(
        "eval", help="test accuracy, per-class accuracy and confusion matrix of a checkpoint",
        description="Evaluate a checkpoint written by 'tinygrad-cv train' on the digits test "
                    "split; writes confusion.png and eval.json next to it (or in --out).")
    ev.add_argument("checkpoint", metavar="CHECKPOINT",
                    help="checkpoint.safetensors written by 'tinygrad-cv train'")
    ev.add_argument("--split", choices=("train", "val", "test"), default="test",
                    help="digits split to evaluate on (default: test)")
    ev.add_argument("--out", metavar="DIR", default=None,
                    help="folder for confusion.png and eval.json (default: the checkpoint's "
                         "folder)")
    ev.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                    help="cpu (NumPy) or cuda (CuPy) (default: cpu)")
    ev.set_defaults(func=run_eval)

    graph = subparsers.add_parser(
        "graph", help="draw the autograd graph of one forward + loss",
        description="Draw the computation graph of one forward pass and loss of a model "
                    "(Graphviz; without the 'dot' program the DOT source is written).")
    graph.add_argument("--model", choices=GRAPH_MODELS, default="mlp",
                       help="model whose forward + loss is drawn (default: mlp)")
    graph.add_argument("-o", "--output", default="graph.svg",
                       help="output file: .svg, .png, .pdf (rendered by Graphviz's dot; "
                            "without it the DOT source goes to FILE.dot) or .dot (default: "
                            "graph.svg)")
    graph.set_defaults(func=run_graph)

    demo = subparsers.add_parser(
        "demo", help="the main job: CNN on digits, Canny on a photo, plots and graph",
        description="Train the CNN on the digits and report its test accuracy, run Canny on "
                    "a bundled photo, write the plots and the autograd graph, and print where "
                    "everything went.")
    demo.add_argument("--out", metavar="DIR", default="tinygrad-cv-demo",
                      help="output folder (default: tinygrad-cv-demo)")
    demo.add_argument("--epochs", type=positive_int, default=None,
                      help=f"CNN epochs (default: {MODEL_DEFAULTS['cnn']['epochs']})")
    demo.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                      help="cpu (NumPy) or cuda (CuPy) (default: cpu)")
    demo.add_argument("--no-progress", action="store_true",
                      help="no progress output (default: a bar per epoch on a terminal, one "
                           "line per epoch otherwise)")
    demo.set_defaults(func=run_demo)
