"""PNG figures of the learning commands (matplotlib, imported lazily: the ``data`` extra)."""
from __future__ import annotations

import io
import os

from tinygrad_cv.cli import CLIError
from tinygrad_cv.cli.common import write_file


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise CLIError("plots need matplotlib: pip install 'tinygrad_cv[data]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _render(fig, path, plt):
    """The bytes of ``fig`` in the format of ``path``'s extension (then closed)."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=os.path.splitext(path)[1].lstrip(".").lower() or "png",
                    dpi=120, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot write {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _save(fig, path, plt):
    """Render ``fig`` in memory, then write it atomically (a failure leaves an earlier figure
    at ``path`` whole)."""
    write_file(path, _render(fig, path, plt))


def plot_curves(history, path, title=""):
    """Loss (left) and accuracy (right) per epoch, train and validation."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-o"), ("val", "-s")):
        if history and f"{split}_loss" in history[0]:
            ax_loss.plot(epochs, [r[f"{split}_loss"] for r in history], style, ms=3, label=split)
            ax_acc.plot(epochs, [r[f"{split}_accuracy"] for r in history], style, ms=3,
                        label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.set_yscale("log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path, plt)


def plot_knn_validation(cv_accuracies, path, title=""):
    """Cross-validated accuracy against k (the KNN "training curve")."""
    plt = _pyplot()
    ks = sorted(cv_accuracies)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(ks, [cv_accuracies[k] for k in ks], "-o")
    ax.set(xlabel="k", ylabel="cross-validated accuracy", title=title or "k-NN: choosing k")
    ax.grid(alpha=0.3)
    _save(fig, path, plt)


def confusion_png(matrix, title=""):
    """PNG bytes of the confusion matrix (rows: true class, columns: predicted) with counts in
    the cells."""
    plt = _pyplot()
    n = len(matrix)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.55 * n))
    ax.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix) or 1
    for i in range(n):
        for j in range(n):
            if matrix[i][j]:
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i][j] > peak / 2 else "black")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true",
           title=title or "confusion matrix")
    return _render(fig, "confusion.png", plt)


def plot_loss(history, path, title="", keys=("loss",)):
    """Training losses per epoch (log scale) of a run whose history records ``keys`` (one
    curve each: ``loss``, or a GAN's ``d_loss`` and ``g_loss``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in history]
    for key in keys:
        ax.plot(epochs, [r[key] for r in history], "-o", ms=3, label=key)
    ax.set(xlabel="epoch", ylabel="training loss", title=title or "loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(keys) > 1:
        ax.legend()
    _save(fig, path, plt)


def plot_metrics(metrics, path, title=""):
    """The figure a training run's metrics call for, written to ``path`` (nothing when they
    hold no curve): train/val loss and accuracy per epoch, the training loss(es) per epoch,
    or the cross-validated accuracy against k."""
    history = metrics.get("history") or []
    losses = sorted(k for k in history[0] if k.endswith("_loss")) if history else []
    if history and "train_loss" in history[0]:
        plot_curves(history, path, title)
    elif history and "loss" in history[0]:
        plot_loss(history, path, title)
    elif losses:                                # a GAN: d_loss and g_loss
        plot_loss(history, path, title, keys=losses)
    elif metrics.get("cv_accuracy"):
        cv = {int(k): v for k, v in metrics["cv_accuracy"].items()}
        plot_knn_validation(cv, path, title + ": 5-fold CV" if title else "")
