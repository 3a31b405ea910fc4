"""The learning CLI: train (every model), eval, graph, demo, --resume, and every bad input.

Short trainings run in CI; the full default runs (issue 7's accuracies) are marked slow.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.cli import learn_commands, main
from models import training

Image = pytest.importorskip("PIL.Image")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def test_train_cnn_short_with_progress_bars(cnn_run, tmp_path, capsys):
    metrics = json.load(open(cnn_run / "metrics.json"))
    assert metrics["test_accuracy"] >= 0.9 and len(metrics["history"]) == 2
    argv = ["train", "--model", "cnn", "--epochs", 1, "--out", tmp_path, "--optimizer",
            "momentum", "--lr", "0.05", "--batch-size", 128, "--augment", "--scheduler", "step"]
    assert run(argv) == 0
    err = capsys.readouterr().err
    assert "loss=" in err and "acc=" in err and "epoch   1/1" in err
    settings = json.load(open(tmp_path / "metrics.json"))["settings"]
    assert settings["optimizer"] == "momentum" and settings["batch_size"] == 128
    assert settings["augment"] is True and settings["scheduler"] == "step"


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
            np.testing.assert_array_equal(backend.to_numpy(resumed[key][name].data),
                                          backend.to_numpy(value.data), err_msg=name)
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
    assert "not written by 'tinygrad-cv train'" in _one_error_line(capsys)


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
    good = (cnn_run / "checkpoint.safetensors").read_bytes()
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "checkpoint.safetensors").write_bytes(good)
    assert run(["train", "--model", "mlp", "--out", copy, "--resume"]) == 1
    assert "holds a cnn run, not mlp" in _one_error_line(capsys)
    assert run(["train", "--model", "cnn", "--out", copy, "--resume", "--lr", "0.5"]) == 1
    assert "--lr 0.5 (the checkpoint has 0.001)" in _one_error_line(capsys)
    assert run(["train", "--model", "cnn", "--out", copy, "--resume", "--seed", "4"]) == 1
    assert "--seed 4" in _one_error_line(capsys)
    assert (copy / "checkpoint.safetensors").read_bytes() == good


# ---- graph ------------------------------------------------------------------------------------
def test_graph_svg(tmp_path, capsys):
    out = tmp_path / "graph.svg"
    assert run(["graph", "--model", "mlp", "-o", out]) == 0
    text = out.read_text()
    assert "<svg" in text and "warning" not in capsys.readouterr().err
    assert "layers.0.weight" in text  # parameters are named


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
    assert run(["graph", "-o", tmp_path / "graph.txt"]) == 1
    assert ".svg, .png, .pdf or .dot" in _one_error_line(capsys)


# ---- demo -------------------------------------------------------------------------------------
def test_demo_writes_everything(tmp_path, capsys):
    assert run(["demo", "--out", tmp_path, "--epochs", 1, "--no-progress"]) == 0
    out = capsys.readouterr().out
    for name in ("cnn/checkpoint.safetensors", "cnn/metrics.json", "cnn/curves.png",
                 "cnn/confusion.png", "canny_china.png", "graph.svg"):
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
])
def test_bad_arguments_exit_2_with_usage(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err


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
