"""Learning sub-commands: ``train``, ``eval``, ``graph`` and ``demo`` on the bundled digits.

    tinygrad-cv train --model cnn --out runs/cnn          # checkpoint, metrics.json, curves.png
    tinygrad-cv train --model cnn --out runs/cnn --resume # continue an interrupted run
    tinygrad-cv train --model ddpm --out runs/ddpm        # + sample grids during training
    mpiexec -n 2 tinygrad-cv train --model cnn --distributed   # data parallel over 2 processes
    tinygrad-cv eval runs/cnn/checkpoint.safetensors      # test accuracy, confusion.png
    tinygrad-cv graph --model mlp -o graph.svg            # the autograd graph of forward+loss
    tinygrad-cv demo                                      # all of the above, plus Canny

Models, their options and defaults come from the registry (``models.registry``); this module
has no per-model code.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time

from tinygrad_cv.cli import CLIError, UsageError
from tinygrad_cv.cli.common import (DEVICE_NAMES, folder, nonnegative_int, output_folder,
                                    pil_modules, positive_int, save_image, to_pil, use_device,
                                    write_bytes, write_outputs)
from tinygrad_cv.cli.learn_plots import plot_metrics
from tinygrad_cv.cli.model_options import add_model_options, given_options, model_errors

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"
CURVES_NAME = "curves.png"
CONFUSION_NAME = "confusion.png"
EVAL_NAME = "eval.json"
DEFAULT_MODEL = "cnn"   # of train, graph and demo
GRID_SCALE = 4          # preview grids: each pixel drawn as a GRID_SCALE x GRID_SCALE block


def _registry():
    from models import registry

    return registry


def get_entry(name):
    return _registry().get_entry(name)


def _entries(kind=None):
    registry = _registry()
    return [registry.get_entry(n) for n in registry.model_names(kind)]


# ---- shared helpers ---------------------------------------------------------------------------
def _load_digits(split):
    from tinygrad_cv.data import load_digits

    try:
        return load_digits(split)
    except ImportError as exc:
        raise CLIError(str(exc)) from None


def _output_paths(out):
    return {"checkpoint": os.path.join(out, CHECKPOINT_NAME),
            "metrics": os.path.join(out, METRICS_NAME),
            "curves": os.path.join(out, CURVES_NAME)}


def save_grid(images, path, scale=GRID_SCALE):
    """Write images (N, C, H, W) in [0, 1] as one PNG grid (``imagegrid.make_grid``), each
    pixel a ``scale`` x ``scale`` block; returns ``path``."""
    from tinygrad_cv.imagegrid import make_grid

    grid = make_grid(images, nrow=max(1, math.ceil(math.sqrt(images.shape[0]))), padding=1)
    img = to_pil(grid[:, :, 0] if grid.shape[2] == 1 else grid, rgb=grid.shape[2] == 3)
    if scale > 1:
        img = img.resize((img.size[0] * scale, img.size[1] * scale), resample=0)  # nearest
    return save_image(img, path)


def _sample_grid_writer(out):
    """``on_samples(step, images)`` for training entry points: OUT/samples_stepNNNNNN.png."""
    written = []

    def on_samples(step, images):
        written.append(save_grid(images, os.path.join(out, f"samples_step{int(step):06d}.png")))
    on_samples.written = written
    return on_samples


# ---- train ------------------------------------------------------------------------------------
def _start_distributed(entry, device):
    """Join the MPI job's process group (nccl on cuda, else mpi); returns this rank."""
    import tinygrad_cv.distributed as dist

    if not entry.distributed:
        able = [e.name for e in _entries() if e.distributed]
        raise UsageError(f"--distributed: {entry.name} has no distributed training (models "
                         f"that have: {', '.join(able)})")
    try:
        dist.init_process_group("nccl" if device == "cuda" else "mpi")
    except (RuntimeError, ValueError) as exc:
        raise CLIError(f"--distributed: {exc}") from None
    return dist.get_rank()


def _quiet(*_args, **_kwargs):
    """The log of ranks other than 0: they print nothing."""


def run_train(args):
    entry = get_entry(args.model)
    options = given_options(args, entry, _entries(),
                            extra=[("resume", args.resume and not entry.resumable)])
    out = args.out or os.path.join("runs", args.model)
    use_device(args.device)
    paths = _output_paths(out)
    if args.resume and not os.path.exists(paths["checkpoint"]):
        raise CLIError(f"cannot resume: no checkpoint at {paths['checkpoint']!r}")
    writer = _start_distributed(entry, args.device) == 0 if args.distributed else True
    extra = {"distributed": True} if args.distributed else {}
    finished = False
    try:
        with output_folder(out) if writer else contextlib.nullcontext(out):
            on_samples = _sample_grid_writer(out)
            with model_errors():
                metrics = entry.train(options, out, seed=args.seed, resume=args.resume,
                                      device=args.device,
                                      progress=writer and not args.no_progress,
                                      on_samples=on_samples, log=print if writer else _quiet,
                                      **extra)
            if writer:
                plot_metrics(metrics, paths["curves"], f"{args.model} on digits")
        finished = True
    except BaseException as exc:
        if args.distributed:    # the other ranks may be waiting in a collective: end them too
            import tinygrad_cv.distributed as dist

            if dist.is_initialized() and dist.get_world_size() > 1:
                dist.process_group.abort_at_exit(
                    2 if isinstance(exc, UsageError) else
                    130 if isinstance(exc, KeyboardInterrupt) else 1)
        raise
    finally:
        if args.distributed:
            import tinygrad_cv.distributed as dist

            if finished:
                dist.barrier()      # every rank returns once rank 0's files are written
            dist.destroy_process_group()
    if not writer:
        return 0
    if "test_accuracy" in metrics:
        print(f"{args.model}: test accuracy {metrics['test_accuracy']:.4f} on the digits test "
              "split")
    elif metrics.get("final_loss") is not None:
        print(f"{args.model}: final training loss {metrics['final_loss']:.4f} after "
              f"{metrics.get('steps')} steps")
    print(f"checkpoint: {paths['checkpoint']}")
    print(f"metrics:    {paths['metrics']}")
    if os.path.exists(paths["curves"]):
        print(f"plot:       {paths['curves']}")
    for path in on_samples.written:
        print(f"samples:    {path}")
    return 0


# ---- eval -------------------------------------------------------------------------------------
def evaluate_checkpoint(path, out=None, split="test"):
    """Accuracy, per-class accuracy and a confusion-matrix PNG of a classifier checkpoint."""
    from models.classifier_entries import accuracy_report
    from models.registry import CONTENT_ERRORS, content_error
    from tinygrad_cv.cli.learn_plots import confusion_png

    registry = _registry()
    with model_errors():
        entry, state = registry.read_checkpoint(path)
    if entry.predict is None:
        use = ("; sample it with 'tinygrad-cv sample'" if entry.sample is not None else
               "; caption images with it by 'tinygrad-cv caption'" if entry.caption is not None
               else "")
        raise CLIError(f"{path!r} holds a {entry.name} model ({entry.kind}); eval measures "
                       f"classifiers ({', '.join(registry.model_names('classifier'))}){use}")
    x, y = _load_digits(split)
    with model_errors():
        try:
            model = entry.load(state, path)
            predicted = entry.predict(model, x)
        except CONTENT_ERRORS as exc:
            raise content_error(path, exc) from None
    accuracy, per_class, matrix = accuracy_report(y.array, predicted, 10)
    out = out or os.path.dirname(os.path.abspath(path))
    figure = os.path.join(out, CONFUSION_NAME)
    report = {"checkpoint": os.path.abspath(path), "model": entry.name,
              "split": split, "accuracy": accuracy, "per_class_accuracy": per_class,
              "confusion_matrix": matrix, "confusion_png": figure}
    files = {CONFUSION_NAME: confusion_png(matrix, f"{entry.name} on the digits {split} split "
                                                   f"(accuracy {accuracy:.4f})"),
             EVAL_NAME: (json.dumps(report, indent=2) + "\n").encode("utf-8")}
    with output_folder(out):
        write_outputs(out, files)       # both or neither
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
    from tinygrad_cv.viz import draw_graph

    base, ext = os.path.splitext(path)
    fmt = ext.lower().lstrip(".")
    if fmt not in GRAPH_FORMATS + ("dot", "gv"):
        raise UsageError(f"cannot tell the graph format from {path!r}; use a .svg, .png, .pdf "
                         "or .dot file name")
    x, y = _load_digits("train")
    loss, model = get_entry(model_name).graph(x[:batch_size], y[:batch_size])
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
DEMO_MODEL = DEFAULT_MODEL


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
    save_image(to_pil(both, rgb=False, needed_by="the demo"), path)
    return path, int(backend.to_numpy(edges).sum())


def run_demo(args):
    use_device(args.device)
    with output_folder(args.out) as out:
        return _demo(args, out)


def _demo(args, out):
    start = time.perf_counter()
    cnn_dir = os.path.join(out, "cnn")
    entry = get_entry(DEMO_MODEL)
    epochs = args.epochs or entry.option("epochs").default
    print(f"[1/4] training the CNN on the digits ({epochs} epochs, seed 0) ...")
    paths = _output_paths(cnn_dir)
    with output_folder(cnn_dir), model_errors():
        metrics = entry.train({"epochs": epochs}, cnn_dir, seed=0, resume=False,
                              device=args.device, progress=not args.no_progress, log=print)
        plot_metrics(metrics, paths["curves"], f"{DEMO_MODEL} on digits")
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
def register(subparsers):
    entries = _entries()
    names = [e.name for e in entries]
    listing = "; ".join(f"{e.name}: {e.description}" for e in entries)
    train = subparsers.add_parser(
        "train", help="train a registered model on the bundled digits",
        description="Train a model on scikit-learn's 8x8 digits (fixed stratified 60/20/20 "
                    "split, seed 0). Writes OUT/checkpoint.safetensors, OUT/metrics.json and "
                    "OUT/curves.png (generative models also OUT/samples_step*.png grids). "
                    "Options left out take the model's defaults; options of other models are "
                    f"an error. Models: {listing}.")
    train.add_argument("--model", choices=names, default=DEFAULT_MODEL,
                       help=f"model to train (default: {DEFAULT_MODEL})")
    add_model_options(train, entries)
    train.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                       help="where to train: cpu (NumPy) or cuda (CuPy) (default: cpu)")
    train.add_argument("--out", metavar="DIR", type=folder, default=None,
                       help="output folder (default: runs/MODEL)")
    train.add_argument("--seed", type=nonnegative_int, default=None,
                       help="seed of the initial weights, shuffling, dropout, augmentation and "
                            "noise (default: 0, or the resumed run's)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run saved in OUT/checkpoint.safetensors with its "
                            "settings; a larger --epochs (or --minutes) extends a finished run "
                            "(default: off, start afresh)")
    train.add_argument("--no-progress", action="store_true",
                       help="no progress output (default: live bars on a terminal, one line "
                            "per epoch otherwise)")
    train.add_argument("--distributed", action="store_true",
                       help="data-parallel training over the processes of an MPI job, started "
                            "as: mpiexec -n N tinygrad-cv train --distributed ... (--device "
                            "cuda: NCCL, one GPU per process); --batch-size is the global "
                            "batch, split over the N ranks; only rank 0 writes files and "
                            "progress; --resume reads OUT on every rank (a shared folder "
                            "across machines) (default: off, one process)")
    train.set_defaults(func=run_train)

    ev = subparsers.add_parser(
        "eval", help="test accuracy, per-class accuracy and confusion matrix of a checkpoint",
        description="Evaluate a classifier checkpoint written by 'tinygrad-cv train' on the "
                    "digits test split; writes confusion.png and eval.json next to it (or in "
                    "--out).")
    ev.add_argument("checkpoint", metavar="CHECKPOINT",
                    help="checkpoint.safetensors written by 'tinygrad-cv train'")
    ev.add_argument("--split", choices=("train", "val", "test"), default="test",
                    help="digits split to evaluate on (default: test)")
    ev.add_argument("--out", metavar="DIR", type=folder, default=None,
                    help="folder for confusion.png and eval.json (default: the checkpoint's "
                         "folder)")
    ev.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                    help="cpu (NumPy) or cuda (CuPy) (default: cpu)")
    ev.set_defaults(func=run_eval)

    graph = subparsers.add_parser(
        "graph", help="draw the autograd graph of one forward + loss",
        description="Draw the computation graph of one forward pass and loss of a model "
                    "(Graphviz; without the 'dot' program the DOT source is written).")
    graph.add_argument("--model", choices=[e.name for e in entries if e.graph is not None],
                       default=DEFAULT_MODEL,
                       help=f"model whose forward + loss is drawn (default: {DEFAULT_MODEL})")
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
    demo.add_argument("--out", metavar="DIR", type=folder, default="tinygrad-cv-demo",
                      help="output folder (default: tinygrad-cv-demo)")
    demo.add_argument("--epochs", type=positive_int, default=None,
                      help="CNN epochs (default: "
                           f"{get_entry(DEMO_MODEL).option('epochs').default})")
    demo.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                      help="cpu (NumPy) or cuda (CuPy) (default: cpu)")
    demo.add_argument("--no-progress", action="store_true",
                      help="no progress output (default: live bars on a terminal, one line "
                           "per epoch otherwise)")
    demo.set_defaults(func=run_demo)
