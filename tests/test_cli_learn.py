"""The learning CLI: train (every model), eval, graph, demo, --resume, and every bad input.

Short trainings run in CI; the full default runs (issue 7's accuracies) are marked slow.
"""
import errno
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cv as tg
import tinygrad_cv.data
import tinygrad_cv.io
from tinygrad_cv import backend
from tinygrad_cv.cli import build_parser, learn_commands, main
from models import training

Image = pytest.importorskip("PIL.Image")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_DOT = shutil.which("dot") is not None  # Graphviz's renderer (optional)


def run(argv):
    return main([str(a) for a in argv])


def _is_png(path):
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 50


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """A 2-epoch CNN run shared by the eval tests."""
    out = tmp_path_factory.mktemp("cnn")
    assert run(["train", "--model", "cnn", "--epochs", 2, "--out", out, "--no-progress"]) == 0
    return out


# ---- train ------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,epochs,bar", [("linear-svm", 3, 0.85), ("softmax", 3, 0.85),
                                              ("mlp", 2, 0.9), ("knn", None, 0.975)])
def test_train_short(model, epochs, bar, tmp_path, capsys):
    argv = ["train", "--model", model, "--out", tmp_path, "--no-progress"]
    if epochs:
        argv += ["--epochs", epochs]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert f"{model}: test accuracy" in out and "checkpoint.safetensors" in out
    metrics = json.load(open(tmp_path / "metrics.json"))
    assert metrics["test_accuracy"] >= bar
    assert _is_png(tmp_path / "curves.png")
    state = tg.load(str(tmp_path / "checkpoint.safetensors"))
    assert state["config"]["model"] == model
    if epochs:
        assert len(metrics["history"]) == epochs
        assert state["trainer"]["epoch"] == epochs


def test_train_cnn_short_with_progress_bars(cnn_run, tmp_path, capsys, monkeypatch):
    metrics = json.load(open(cnn_run / "metrics.json"))
    assert metrics["test_accuracy"] >= 0.9 and len(metrics["history"]) == 2
    argv = ["train", "--model", "cnn", "--epochs", 1, "--out", tmp_path, "--optimizer",
            "momentum", "--lr", "0.05", "--batch-size", 128, "--augment", "--scheduler", "step"]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # bars on a terminal
    assert run(argv) == 0
    err = capsys.readouterr().err
    assert "loss=" in err and "acc=" in err and "epoch   1/1" in err
    settings = json.load(open(tmp_path / "metrics.json"))["settings"]
    assert settings["optimizer"] == "momentum" and settings["batch_size"] == 128
    assert settings["augment"] is True and settings["scheduler"] == "step"


def test_progress_without_a_terminal_is_one_line_per_epoch(tmp_path, capsys):
    # capsys's stderr is not a terminal, like a log file or a pipe
    assert run(["train", "--model", "softmax", "--epochs", 3, "--out", tmp_path]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.strip().split("\n")
    assert [line.split()[:2] for line in lines] == [["epoch", f"{e}/3"] for e in (1, 2, 3)]


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adamw"])
def test_train_other_optimizers(optimizer, tmp_path):
    argv = ["train", "--model", "softmax", "--epochs", 1, "--optimizer", optimizer,
            "--out", tmp_path, "--no-progress"]
    if optimizer != "sgd":
        argv += ["--lr", "0.01"]
    assert run(argv) == 0
    assert json.load(open(tmp_path / "metrics.json"))["settings"]["optimizer"] == optimizer


def test_resume_after_ctrl_c_matches_uninterrupted_run(tmp_path, monkeypatch, capsys):
    base = ["train", "--model", "mlp", "--epochs", 3, "--no-progress", "--seed", 1]
    assert run(base + ["--out", tmp_path / "full"]) == 0
    full = tg.load(str(tmp_path / "full" / "checkpoint.safetensors"))

    real_epoch = training.Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(training.Trainer, "train_epoch", interrupted)
    assert run(base + ["--out", tmp_path / "cut"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "--resume" in err
    ckpt = tmp_path / "cut" / "checkpoint.safetensors"
    assert tg.load(str(ckpt))["trainer"]["epoch"] == 2
    monkeypatch.setattr(training.Trainer, "train_epoch", real_epoch)
    assert run(["train", "--model", "mlp", "--out", tmp_path / "cut", "--resume",
                "--no-progress"]) == 0
    assert "resuming mlp from epoch 2/3" in capsys.readouterr().out
    resumed = tg.load(str(ckpt))
    for key in ("model", "best_model"):
        for name, value in full[key].items():
            np.testing.assert_array_equal(backend.to_numpy(resumed[key][name].array),
                                          backend.to_numpy(value.array), err_msg=name)
    last = resumed["trainer"]["history"][-1]
    assert last["val_loss"] == full["trainer"]["history"][-1]["val_loss"]


# ---- eval -------------------------------------------------------------------------------------
def test_eval_reports_accuracy_per_class_and_confusion(cnn_run, tmp_path, capsys):
    assert run(["eval", cnn_run / "checkpoint.safetensors", "--out", tmp_path]) == 0
    out = capsys.readouterr().out
    assert "cnn on the digits test split: accuracy" in out
    assert out.count(": 1.0000 (") + out.count(": 0.") >= 10  # ten per-class lines
    assert _is_png(tmp_path / "confusion.png")
    report = json.load(open(tmp_path / "eval.json"))
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 359
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / 359)
    metrics = json.load(open(cnn_run / "metrics.json"))
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_eval_knn_checkpoint_and_other_split(tmp_path, capsys):
    assert run(["train", "--model", "knn", "--k", 3, "--out", tmp_path, "--no-progress"]) == 0
    assert run(["eval", tmp_path / "checkpoint.safetensors", "--split", "val"]) == 0
    assert "knn on the digits val split" in capsys.readouterr().out
    assert _is_png(tmp_path / "confusion.png")


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_eval_missing_checkpoint(tmp_path, capsys):
    assert run(["eval", tmp_path / "nope.safetensors"]) == 1
    assert "no such file" in _one_error_line(capsys)
    assert run(["eval", tmp_path]) == 1
    assert "is a folder" in _one_error_line(capsys)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_eval_corrupt_checkpoint_is_one_line_and_untouched(cnn_run, tmp_path, damage, capsys):
    good = (cnn_run / "checkpoint.safetensors").read_bytes()
    bad = {"truncate": good[: len(good) // 2], "garbage": b"definitely not a checkpoint",
           "flip": good[:-5] + bytes([good[-5] ^ 0xFF]) + good[-4:]}[damage]
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(bad)
    assert run(["eval", path]) == 1
    assert "cannot load checkpoint" in _one_error_line(capsys)
    assert path.read_bytes() == bad


def test_eval_foreign_checkpoint(tmp_path, capsys):
    path = tmp_path / "weights.safetensors"
    tg.save({"weight": tg.zeros(3)}, str(path))
    assert run(["eval", path]) == 1
    assert "not a checkpoint of a registered model" in _one_error_line(capsys)


def test_resume_bad_inputs_never_overwrite(cnn_run, tmp_path, capsys):
    assert run(["train", "--model", "cnn", "--out", tmp_path / "empty", "--resume"]) == 1
    assert "no checkpoint" in _one_error_line(capsys)
    assert not (tmp_path / "empty").exists()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "checkpoint.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    assert run(["train", "--model", "cnn", "--out", corrupt, "--resume", "--no-progress"]) == 1
    assert "cannot load checkpoint" in _one_error_line(capsys)
    assert (corrupt / "checkpoint.safetensors").read_bytes() == \
        b"\x10\x00\x00\x00\x00\x00\x00\x00{}"


@pytest.mark.parametrize("argv,needle", [
    (["--model", "mlp"], "holds a cnn run, not mlp"),
    (["--model", "cnn", "--lr", "0.5"], "--lr 0.5 (the checkpoint has 0.001)"),
    (["--model", "cnn", "--seed", "4"], "--seed 4"),
    (["--model", "cnn", "--epochs", "1"], "--epochs 1 is fewer than the 2 epochs"),
])
def test_resume_with_clashing_arguments_exits_2(cnn_run, tmp_path, argv, needle, capsys):
    good = (cnn_run / "checkpoint.safetensors").read_bytes()
    (tmp_path / "checkpoint.safetensors").write_bytes(good)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(tmp_path), "--resume", "--no-progress"] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == good


def _weights(path, key="model"):
    state = tg.load(str(path))
    return {k: backend.to_numpy(v.array) for k, v in state[key].items()}, state


def test_resume_with_more_epochs_extends_a_finished_run(tmp_path, capsys):
    # Without a schedule the extended run is the uninterrupted run of the new total.
    base = ["train", "--model", "mlp", "--scheduler", "none", "--no-progress", "--seed", 2]
    assert run(base + ["--epochs", 2, "--out", tmp_path / "full"]) == 0
    assert run(base + ["--epochs", 1, "--out", tmp_path / "ext"]) == 0
    capsys.readouterr()
    assert run(["train", "--model", "mlp", "--out", tmp_path / "ext", "--resume", "--epochs", 2,
                "--no-progress"]) == 0
    assert "new total 2 epochs (was 1)" in capsys.readouterr().out
    full, full_state = _weights(tmp_path / "full" / "checkpoint.safetensors")
    ext, ext_state = _weights(tmp_path / "ext" / "checkpoint.safetensors")
    assert ext_state["trainer"]["epoch"] == 2 and ext_state["config"]["training"]["epochs"] == 2
    for name in full:
        np.testing.assert_array_equal(ext[name], full[name], err_msg=name)
    assert len(json.load(open(tmp_path / "ext" / "metrics.json"))["history"]) == 2


def test_resume_with_more_epochs_rebuilds_the_cosine_schedule(tmp_path):
    base = ["train", "--model", "softmax", "--no-progress"]
    assert run(base + ["--epochs", 5, "--out", tmp_path / "full"]) == 0
    assert run(base + ["--epochs", 2, "--out", tmp_path / "ext"]) == 0
    short = [r["lr"] for r in json.load(open(tmp_path / "ext" / "metrics.json"))["history"]]
    assert run(base + ["--out", tmp_path / "ext", "--resume", "--epochs", 5]) == 0
    full = [r["lr"] for r in json.load(open(tmp_path / "full" / "metrics.json"))["history"]]
    ext = [r["lr"] for r in json.load(open(tmp_path / "ext" / "metrics.json"))["history"]]
    # epochs 1-2 kept the 2-epoch schedule; epochs 3-5 take the 5-epoch schedule's rates
    assert ext[:2] == short and ext[2:] == full[2:]
    assert ext[2] > 0 and ext[2] != short[-1]


# ---- graph ------------------------------------------------------------------------------------
def test_graph_svg(tmp_path, capsys):
    """Rendered by dot where Graphviz is installed; the DOT source (and a warning) otherwise."""
    out = tmp_path / "graph.svg"
    assert run(["graph", "--model", "mlp", "-o", out]) == 0
    captured = capsys.readouterr()
    written = out if HAVE_DOT else tmp_path / "graph.dot"
    assert str(written) in captured.out
    text = written.read_text()
    assert "layers.0.weight" in text  # parameters are named
    if not HAVE_DOT:
        assert text.startswith("digraph") and "warning" in captured.err
        pytest.skip("Graphviz's dot is not installed: the rendered SVG cannot be checked")
    assert "<svg" in text and "warning" not in captured.err


@pytest.mark.parametrize("model", ["linear-svm", "softmax", "cnn"])
def test_graph_dot_source_for_every_model(model, tmp_path):
    out = tmp_path / "g.dot"
    assert run(["graph", "--model", model, "-o", out]) == 0
    assert out.read_text().startswith("digraph")


def test_graph_without_dot_program_writes_source_with_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(learn_commands.shutil, "which", lambda name: None)
    assert run(["graph", "--model", "mlp", "-o", tmp_path / "graph.svg"]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "dot" in captured.err
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")
    assert not (tmp_path / "graph.svg").exists()
    assert "graph.dot" in captured.out


def test_graph_unknown_extension(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["graph", "-o", tmp_path / "graph.txt"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and ".svg, .png, .pdf or .dot" in err
    assert os.listdir(tmp_path) == []


# ---- demo -------------------------------------------------------------------------------------
@pytest.mark.parametrize("hide_dot", [True, False], ids=["without-dot", "as-installed"])
def test_demo_writes_everything(hide_dot, tmp_path, monkeypatch, capsys):
    if hide_dot:  # the machine without Graphviz, even where it is installed
        monkeypatch.setattr(learn_commands.shutil, "which", lambda name: None)
    graph = "graph.svg" if HAVE_DOT and not hide_dot else "graph.dot"
    assert run(["demo", "--out", tmp_path, "--epochs", 1, "--no-progress"]) == 0
    out = capsys.readouterr().out
    for name in ("cnn/checkpoint.safetensors", "cnn/metrics.json", "cnn/curves.png",
                 "cnn/confusion.png", "canny_china.png", graph):
        assert (tmp_path / name).exists(), name
        assert str(tmp_path / name) in out
    assert "CNN test accuracy" in out
    assert _is_png(tmp_path / "canny_china.png")


# ---- bad arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize("argv,needle", [
    (["train", "--model", "resnet"], "choose from 'knn', 'linear-svm', 'softmax', 'mlp', 'cnn'"),
    (["train", "--optimizer", "adagrad"], "choose from 'sgd', 'momentum', 'rmsprop', 'adam', "
                                          "'adamw'"),
    (["train", "--epochs", "0"], "expected a positive integer"),
    (["train", "--lr", "-1"], "expected a positive number"),
    (["train", "--device", "tpu"], "choose from 'cpu', 'cuda'"),
    (["graph", "--model", "knn"], "choose from 'linear-svm', 'softmax', 'mlp', 'cnn'"),
    (["eval"], "the following arguments are required: CHECKPOINT"),
    (["train", "--model", "knn", "--epochs", "5"], "--epochs does not apply to --model knn"),
    (["train", "--model", "knn", "--resume"], "--resume does not apply to --model knn"),
    (["train", "--model", "knn", "--lr", "0.1", "--augment"],
     "--augment, --lr do not apply to --model knn"),
    (["train", "--model", "cnn", "--k", "3"], "--k does not apply to --model cnn"),
    (["train", "--lr", "nan"], "expected a positive number"),
    (["train", "--lr", "inf"], "expected a positive number"),
    (["train", "--weight-decay", "-1"], "expected a non-negative number"),
    (["train", "--batch-size", "2.5"], "expected a positive integer"),
    (["demo", "--epochs", "0"], "expected a positive integer"),
    (["eval", "x.safetensors", "--split", "holdout"], "choose from 'train', 'val', 'test'"),
])
def test_bad_arguments_exit_2_with_usage(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err


@pytest.mark.parametrize("command", ["train", "eval", "graph", "demo"])
def test_every_option_says_what_it_does_and_its_default(command):
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for action in sub.choices[command]._actions:
        if action.dest == "help":
            continue
        assert action.help and len(action.help) > 10, (command, action.dest)
        if action.option_strings:
            assert "default" in action.help, (command, action.dest, action.help)


# ---- no traceback ever: folders, disks, memory, crafted checkpoints -----------------------------
def _count_epochs(monkeypatch):
    calls = []
    real = training.Trainer.train_epoch

    def counted(self, epoch):
        calls.append(epoch)
        return real(self, epoch)

    monkeypatch.setattr(training.Trainer, "train_epoch", counted)
    return calls


def test_read_only_output_folder_fails_before_training(tmp_path, monkeypatch, capsys):
    calls = _count_epochs(monkeypatch)

    def refuse(path, parts):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(tinygrad_cv.io, "atomic_write", refuse)
    out = tmp_path / "new" / "run"
    assert run(["train", "--model", "softmax", "--epochs", 2, "--out", out]) == 1
    err = _one_error_line(capsys)
    assert "cannot write to output folder" in err and "Permission denied" in err
    assert calls == [] and not (tmp_path / "new").exists()


def test_output_folder_under_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert run(["train", "--model", "softmax", "--out", tmp_path / "file" / "run"]) == 1
    assert "cannot create output folder" in _one_error_line(capsys)


def test_full_disk_during_training_is_one_line(tmp_path, monkeypatch, capsys):
    real = tinygrad_cv.io.atomic_write

    def full(path, parts):
        if str(path).endswith("checkpoint.safetensors"):
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(path, parts)

    monkeypatch.setattr(tinygrad_cv.io, "atomic_write", full)
    assert run(["train", "--model", "softmax", "--epochs", 2, "--out", tmp_path]) == 1
    err = _one_error_line(capsys)
    assert "No space left on device" in err and "checkpoint.safetensors" in err


def test_memory_error_is_one_line(tmp_path, monkeypatch, capsys):
    def exhausted(self, epoch):
        raise MemoryError

    monkeypatch.setattr(training.Trainer, "train_epoch", exhausted)
    assert run(["train", "--model", "mlp", "--out", tmp_path / "run"]) == 1
    assert "out of memory" in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()  # nothing was written: no empty folder left


def test_failure_before_writing_leaves_no_folder(tmp_path, monkeypatch, capsys):
    def no_data(split, *args, **kwargs):
        raise ImportError("the digits need scikit-learn")

    monkeypatch.setattr(tinygrad_cv.data, "load_digits", no_data)
    for argv in (["train", "--model", "cnn"], ["train", "--model", "knn"], ["demo"]):
        assert run(argv + ["--out", tmp_path / "a" / "b"]) == 1
        assert "scikit-learn" in _one_error_line(capsys)
        assert os.listdir(tmp_path) == []


def test_unexpected_exception_is_one_line_with_a_hint(monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(learn_commands, "write_graph", lambda *a, **k: broken(None))
    assert run(["graph"]) == 1
    err = _one_error_line(capsys)
    assert "ZeroDivisionError" in err and "report" in err


def _crafted(tmp_path, cnn_run, edit):
    state = tg.load(str(cnn_run / "checkpoint.safetensors"))
    edit(state)
    path = tmp_path / "crafted.safetensors"
    tg.save(state, str(path))
    return path


@pytest.mark.parametrize("edit", [
    lambda s: s["config"].update(model_config={"conv_channels": "abc"}),
    lambda s: s["config"].update(model_config={"conv_channels": [[2 ** 40]], "fc_dims": [2 ** 40]}),
    lambda s: s["config"].update(model_config=None),
    lambda s: s["config"].pop("training"),
    lambda s: s.pop("model") and s.pop("best_model"),
    lambda s: s["config"].update(model="knn"),
    lambda s: s.update(knn={"x_train": tg.zeros(5, 64), "y_train": tg.zeros(3), "k": 3,
                            "metric": "l2"}) or s["config"].update(model="knn"),
    lambda s: s.update(knn={"x_train": tg.zeros(5, 64), "y_train": tg.zeros(5), "k": 3,
                            "metric": "cosine"}) or s["config"].update(model="knn"),
], ids=["bad-conv-channels", "huge-layers", "no-model-config", "no-training", "no-weights",
        "knn-without-state", "knn-mismatched", "knn-bad-metric"])
def test_crafted_checkpoint_is_one_line(cnn_run, tmp_path, edit, capsys):
    path = _crafted(tmp_path, cnn_run, edit)
    assert run(["eval", path, "--out", tmp_path / "eval"]) == 1
    err = _one_error_line(capsys)
    assert "checkpoint" in err and "crafted.safetensors" in err
    assert not (tmp_path / "eval").exists()


def test_crafted_checkpoint_on_resume_is_one_line(cnn_run, tmp_path, capsys):
    path = _crafted(tmp_path, cnn_run, lambda s: s["config"].update(
        model_config={"conv_channels": [[-3]]}))
    os.replace(path, tmp_path / "checkpoint.safetensors")
    assert run(["train", "--model", "cnn", "--out", tmp_path, "--resume"]) == 1
    assert "checkpoint" in _one_error_line(capsys)


def test_cuda_without_cupy_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(backend, "_load_cupy", lambda: None)
    assert run(["train", "--model", "softmax", "--device", "cuda", "--out", tmp_path]) == 1
    err = _one_error_line(capsys)
    assert "pip install" in err and "cuda12" in err
    assert not (tmp_path / "checkpoint.safetensors").exists()
    assert run(["demo", "--device", "cuda", "--out", tmp_path / "d"]) == 1
    assert "pip install" in _one_error_line(capsys)


def test_module_entry_point_lists_commands():
    res = subprocess.run([sys.executable, "-m", "tinygrad_cv", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for command in ("train", "eval", "graph", "demo"):
        assert command in res.stdout


# ---- full default runs: issue 7's accuracies (README figures) ---------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("model,bar", [("cnn", 0.99), ("mlp", 0.975), ("softmax", 0.95),
                                       ("linear-svm", 0.95), ("knn", 0.975)])
def test_default_training_reaches_issue_accuracy(model, bar, tmp_path):
    assert run(["train", "--model", model, "--out", tmp_path, "--no-progress"]) == 0
    assert json.load(open(tmp_path / "metrics.json"))["test_accuracy"] >= bar
