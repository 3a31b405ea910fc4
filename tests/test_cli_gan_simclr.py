"""tinygrad-cv train/sample for the GANs and SimCLR through the registry: short runs, the
output contracts (checkpoint, metrics.json, per-epoch sample grids; samples.npy, grid.png,
scores.json; the probe accuracies and pca.png), resuming, and bad input (exit 2 with the
usage line, exit 1 with one line)."""
import json

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.cli import main
from models import load_model, registry

Image = pytest.importorskip("PIL.Image")


def run(argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def lsgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lsgan")
    assert run(["train", "--model", "lsgan", "--epochs", 1, "--out", out, "--no-progress"]) == 0
    return out


def test_the_models_are_registered():
    for name in ("gan", "lsgan", "dcgan"):
        entry = registry.get_entry(name)
        assert entry.kind == "generative" and entry.option("minutes").default == 2.5
    assert registry.get_entry("simclr").kind == "encoder"


def test_train_writes_checkpoint_metrics_and_a_grid_per_epoch(lsgan_run):
    metrics = json.load(open(lsgan_run / "metrics.json"))
    assert metrics["model"] == "lsgan" and metrics["epochs"] == 1 and metrics["steps"] == 9
    assert np.isfinite(metrics["final_d_loss"]) and np.isfinite(metrics["final_g_loss"])
    grids = sorted(lsgan_run.glob("samples_step*.png"))
    assert [g.name for g in grids] == ["samples_step000009.png"]
    assert (lsgan_run / "checkpoint.safetensors").exists()


@pytest.mark.slow
def test_train_and_sample_dcgan(tmp_path):
    out = tmp_path / "dcgan"
    assert run(["train", "--model", "dcgan", "--epochs", 1, "--out", out, "--no-progress"]) == 0
    assert json.load(open(out / "metrics.json"))["steps"] == 17
    assert run(["sample", out / "checkpoint.safetensors", "--num", 8, "--out", out / "s"]) == 0
    np.testing.assert_allclose(np.load(out / "s" / "samples.npy"), backend.to_numpy(
        load_model(out / "checkpoint.safetensors").sample(8, seed=0)), atol=1e-6)


def test_resume_continues_to_the_new_total(lsgan_run, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("checkpoint.safetensors", "metrics.json"):
        (out / name).write_bytes((lsgan_run / name).read_bytes())
    assert run(["train", "--model", "lsgan", "--epochs", 2, "--out", out, "--resume",
                "--no-progress"]) == 0
    assert "resuming lsgan from step 9" in capsys.readouterr().out
    assert json.load(open(out / "metrics.json"))["steps"] == 18
    assert [g.name for g in out.glob("samples_step*.png")] == ["samples_step000018.png"]
    with pytest.raises(SystemExit) as exc:
        run(["train", "--model", "gan", "--out", out, "--resume", "--no-progress"])
    assert exc.value.code == 2
    assert "holds a lsgan run, not gan" in capsys.readouterr().err


def test_sample_writes_the_contract_files(lsgan_run, tmp_path, capsys):
    ckpt = lsgan_run / "checkpoint.safetensors"
    out = tmp_path / "s"
    assert run(["sample", ckpt, "--num", 12, "--seed", 4, "--batch-size", 5, "--out", out]) == 0
    samples = np.load(out / "samples.npy")
    assert samples.dtype == np.float32 and samples.shape == (12, 1, 8, 8)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    expected = backend.to_numpy(load_model(ckpt).sample(12, seed=4))
    np.testing.assert_allclose(samples, expected, atol=1e-6)
    with Image.open(out / "grid.png") as im:
        assert im.format == "PNG"
    scores = json.load(open(out / "scores.json"))
    assert scores["model"] == "lsgan" and sum(scores["class_histogram"]) == 12
    assert "cFID" in capsys.readouterr().out


def test_sample_bad_input(lsgan_run, tmp_path, capsys):
    ckpt = lsgan_run / "checkpoint.safetensors"
    with pytest.raises(SystemExit) as exc:
        run(["sample", ckpt, "--num", 0, "--out", tmp_path / "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "--num" in err and "Traceback" not in err
    knn = tmp_path / "knn"
    assert run(["train", "--model", "knn", "--k", 1, "--out", knn, "--no-progress"]) == 0
    capsys.readouterr()
    assert run(["sample", knn / "checkpoint.safetensors", "--out", tmp_path / "y"]) == 1
    err = capsys.readouterr().err.strip()
    assert "holds a knn model (classifier), which cannot sample" in err and "\n" not in err
    assert not (tmp_path / "y").exists()


@pytest.mark.slow
def test_train_simclr_writes_probe_accuracies_and_pca_plot(tmp_path, capsys):
    out = tmp_path / "simclr"
    assert run(["train", "--model", "simclr", "--epochs", 1, "--out", out,
                "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "linear probe on simclr" in printed and "linear probe on raw pixels" in printed
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["steps"] == 8 and metrics["epochs"] == 1
    for name in ("simclr", "raw_pixels", "random_encoder"):
        probe = metrics["probe"][name]
        assert 0.5 < probe["all_label_accuracy"] <= 1.0
        assert len(probe["few_label_accuracies"]) == 5 and probe["labels_per_class"] == 5
        assert probe["few_label_accuracy"] == pytest.approx(np.mean(
            probe["few_label_accuracies"]))
    # the raw-pixel baseline does not depend on training
    assert metrics["probe"]["raw_pixels"]["all_label_accuracy"] > 0.9
    with Image.open(out / "pca.png") as im:
        assert im.format == "PNG" and im.size == (480, 420)
    model = load_model(out / "checkpoint.safetensors")
    features = model.encoder(tg.rand(2, 1, 8, 8))
    assert features.shape == (2, model.encoder.out_features)
    assert run(["sample", out / "checkpoint.safetensors", "--out", tmp_path / "z"]) == 1
    assert "holds a simclr model (encoder), which cannot sample" in capsys.readouterr().err


def test_simclr_probe_report_and_pca_plot(tmp_path):
    """The pieces of ``train --model simclr`` after training (its slow test runs it whole):
    the probe report on raw pixels and the PCA plot of features."""
    from tinygrad_cv import nn
    from models.simclr import digits_splits, encode, pca_2d
    from models.simclr.plot import scatter_image, write_png
    from models.simclr_entry import probe_report

    data = digits_splits()
    report = probe_report(nn.Flatten(), data)
    assert len(report["few_label_accuracies"]) == 5 and report["labels_per_class"] == 5
    assert report["few_label_accuracy"] == pytest.approx(np.mean(report["few_label_accuracies"]))
    assert 0.75 < report["few_label_accuracy"] < report["all_label_accuracy"] <= 1.0
    (_, _), (x_test, y_test) = data
    path = write_png(tmp_path / "pca.png", scatter_image(pca_2d(encode(nn.Flatten(), x_test)),
                                                         y_test))
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (480, 420)
