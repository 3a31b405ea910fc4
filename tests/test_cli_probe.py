"""Regression tests for what a careless user ran into: an empty --out, a negative --seed, a
--k larger than the data, an option ignored in its mode, a GAN run without its curves.png, a
misleading eval message, and a failed write that replaced part of an earlier run's outputs."""
import errno
import os

import numpy as np
import pytest

from tinygrad_cv.cli import main
from models import registry

Image = pytest.importorskip("PIL.Image")


def run(argv):
    return main([str(a) for a in argv])


def _usage_error(argv, capsys, *needles):
    """``argv`` exits 2 with the usage line and a message holding ``needles``."""
    with pytest.raises(SystemExit) as exc:
        run(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def _disk_full_on(name, monkeypatch):
    """Make ``io.atomic_write`` fail with ENOSPC for the file ``name`` (others are written)."""
    import tinygrad_cv.io

    real = tinygrad_cv.io.atomic_write

    def full(path, parts):
        if name in os.path.basename(path):
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(path, parts)

    monkeypatch.setattr(tinygrad_cv.io, "atomic_write", full)


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (6, 5, 3), np.uint8)).save(path)
    return path


# ---- an empty --out is not the current folder or the default ---------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "--model", "softmax", "--epochs", 1],
    ["sample", "ckpt.safetensors", "--num", 4],
    ["caption", "ckpt.safetensors", "--split", "test"],
    ["eval", "ckpt.safetensors"],
    ["demo", "--epochs", 1],
])
@pytest.mark.parametrize("out", ["", " "])
def test_empty_out_is_a_usage_error(argv, out, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _usage_error(argv + ["--out", out], capsys, "argument --out: expected a folder path")
    assert list(tmp_path.iterdir()) == []


# ---- a negative seed is a usage error, not a crash -------------------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "--model", "softmax", "--epochs", 1, "--out", "run"],
    ["sample", "ckpt.safetensors", "--num", 4, "--out", "samples"],
    ["segment", "{image}", "out.png"],
])
def test_negative_seed_is_a_usage_error(argv, image, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [str(a).format(image=image) for a in argv]
    _usage_error(argv + ["--seed", "-1"], capsys,
                 "argument --seed: expected a non-negative integer, got '-1'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


# ---- --k larger than what there is to vote or cluster ----------------------------------------
def test_knn_k_above_the_training_images_is_a_usage_error(tmp_path, capsys):
    _usage_error(["train", "--model", "knn", "--k", 5000, "--out", tmp_path / "run"], capsys,
                 "--k 5000 is more than the 1078 training images")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("method,k,needle", [
    ("kmeans", 31, "--k 31 is more segments than the image has pixels (6x5): use at most 30"),
    ("agglomerative", 31, "use at most 30"),
])
def test_segment_k_above_the_pixels_is_a_usage_error(method, k, needle, image, tmp_path,
                                                      capsys):
    out = tmp_path / "out.png"
    _usage_error(["segment", image, out, "--method", method, "--k", k], capsys, needle)
    assert not out.exists()
    assert run(["segment", image, out, "--method", method, "--k", 30]) == 0


def test_segment_agglomerative_k_above_its_pixel_sample(tmp_path, capsys):
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (50, 50, 3), np.uint8)).save(path)
    _usage_error(["segment", path, tmp_path / "out.png", "--method", "agglomerative", "--k",
                  2001], capsys, "more segments than the 2000 sampled pixels")


# ---- train writes curves.png for every model the README promises it for ----------------------
def test_gan_train_writes_its_loss_curves(tmp_path):
    assert run(["train", "--model", "gan", "--epochs", 2, "--out", tmp_path, "--no-progress"]) == 0
    with Image.open(tmp_path / "curves.png") as im:
        assert im.format == "PNG" and im.size[0] > 100


# ---- eval of a model that is not a classifier points to the right command --------------------
@pytest.mark.parametrize("name,hint", [
    ("caption-lstm", "'tinygrad-cv caption'"),
    ("simclr", "eval measures classifiers (knn,"),
    ("dcgan", "'tinygrad-cv sample'"),
])
def test_eval_of_another_kind_names_the_right_command(name, hint, tmp_path, monkeypatch,
                                                      capsys):
    monkeypatch.setattr(registry, "read_checkpoint",
                        lambda path: (registry.get_entry(name), {}))
    assert run(["eval", tmp_path / "checkpoint.safetensors"]) == 1
    err = _one_error_line(capsys)
    assert f"holds a {name} model" in err and hint in err
    if name != "dcgan":
        assert "sample" not in err


# ---- an option that does nothing in this mode is refused, not ignored ------------------------
def test_caption_grid_without_split_is_a_usage_error(image, capsys):
    _usage_error(["caption", "ckpt.safetensors", image, "--grid", 5], capsys,
                 "--grid applies to --split")


# ---- a failed write of one output leaves every earlier output as it was ----------------------
@pytest.fixture(scope="module")
def gan_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    assert run(["train", "--model", "gan", "--epochs", 1, "--out", out, "--no-progress"]) == 0
    return out / "checkpoint.safetensors"


def _sample(ckpt, out, seed):
    return run(["sample", ckpt, "--num", 4, "--no-score", "--seed", seed, "--out", out])


def test_sample_full_disk_on_the_grid_keeps_the_earlier_samples(gan_ckpt, tmp_path,
                                                                monkeypatch, capsys):
    out = tmp_path / "out"
    assert _sample(gan_ckpt, out, 0) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    _disk_full_on("grid.png", monkeypatch)
    assert _sample(gan_ckpt, out, 1) == 1
    assert "No space left on device" in _one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_sample_with_a_folder_in_the_way_names_it_and_writes_nothing(gan_ckpt, tmp_path,
                                                                     capsys):
    out = tmp_path / "out"
    (out / "grid.png").mkdir(parents=True)
    assert _sample(gan_ckpt, out, 0) == 1
    err = _one_error_line(capsys)
    assert f"cannot write {str(out / 'grid.png')!r}" in err and "folder" in err
    assert [p.name for p in out.iterdir()] == ["grid.png"]


def test_a_checkpoint_path_taken_by_a_folder_is_named_not_the_temporary_file(tmp_path, capsys):
    (tmp_path / "checkpoint.safetensors").mkdir()
    assert run(["train", "--model", "softmax", "--epochs", 1, "--out", tmp_path,
                "--no-progress"]) == 1
    err = _one_error_line(capsys)
    assert f"cannot write {str(tmp_path / 'checkpoint.safetensors')!r}" in err
    assert ".tmp" not in err


# ---- an image or figure that fails to encode or write leaves the earlier file whole ----------
def test_classic_output_refused_by_its_encoder_keeps_the_earlier_file(image, tmp_path, capsys):
    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (2, 16400), np.uint8)).save(wide)
    out = tmp_path / "edges.webp"
    assert run(["canny", image, out]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert run(["canny", wide, out]) == 1          # WebP images are at most 16383 pixels wide
    assert "WebP" in _one_error_line(capsys)
    assert out.read_bytes() == before


def test_eval_failing_to_write_its_figure_keeps_the_earlier_one(softmax_ckpt, tmp_path,
                                                                monkeypatch, capsys):
    from matplotlib.figure import Figure

    assert run(["eval", softmax_ckpt, "--out", tmp_path]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()

    def full(self, fname, **kwargs):
        (fname.write if hasattr(fname, "write") else open(fname, "wb").write)(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    assert run(["eval", softmax_ckpt, "--out", tmp_path]) == 1
    assert "No space left on device" in _one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ---- a misspelt option is shown with the command's own usage line -------------------------
@pytest.mark.parametrize("argv,command", [
    (["train", "--modle", "cnn"], "train"),
    (["canny", "a.png", "b.png", "--sigam", "2"], "canny"),
    (["eval", "a.safetensors", "b.safetensors"], "eval"),
])
def test_unrecognized_arguments_show_the_commands_usage(argv, command, capsys):
    err = _usage_error(argv, capsys, f"usage: tinygrad-cv {command} ",
                       f"tinygrad-cv {command}: error: unrecognized arguments: ")
    assert " ".join(argv[-2:]) in err or argv[-1] in err


# ---- an output that is also an input is refused ----------------------------------------------
def test_ldm_out_holding_its_autoencoder_is_a_usage_error(tmp_path, capsys):
    vae = tmp_path / "vae"
    assert run(["train", "--model", "vae", "--steps", 1, "--out", vae, "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in vae.iterdir()}
    capsys.readouterr()
    _usage_error(["train", "--model", "ldm", "--autoencoder", vae / "checkpoint.safetensors",
                  "--out", vae, "--steps", 1, "--no-progress"], capsys,
                 "is the checkpoint this run writes")
    assert {p.name: p.read_bytes() for p in vae.iterdir()} == before


# ---- batch norm over features needs batches of 2 or more images ---------------------------
@pytest.mark.parametrize("batch_size,needle", [
    (1, "--batch-size 1: mlp's batch norm needs at least 2 images per batch"),
    (3, "--batch-size 3 leaves a last batch of 1 of the 1078 training images"),
    (1077, "use another batch size (e.g. 1076 or 1078)"),
])
def test_mlp_batch_of_one_image_is_a_usage_error(batch_size, needle, tmp_path, capsys):
    _usage_error(["train", "--model", "mlp", "--epochs", 1, "--batch-size", batch_size,
                  "--out", tmp_path / "run", "--no-progress"], capsys, needle)
    assert not (tmp_path / "run").exists()


def test_a_batch_of_one_image_is_fine_without_batch_norm_over_features(tmp_path):
    assert run(["train", "--model", "softmax", "--epochs", 1, "--batch-size", 1077, "--out",
                tmp_path, "--no-progress"]) == 0


def test_sample_no_score_removes_the_scores_of_earlier_samples(gan_ckpt, tmp_path):
    out = tmp_path / "out"
    assert run(["sample", gan_ckpt, "--num", 8, "--out", out]) == 0
    assert (out / "scores.json").exists()
    assert _sample(gan_ckpt, out, 1) == 0
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "samples.npy"]


# ---- an --out that is a file says so ---------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "--model", "softmax", "--epochs", 1, "--no-progress"],
    ["demo", "--epochs", 1, "--no-progress"],
])
@pytest.mark.parametrize("where,needle", [
    ("file", "a file of that name is in the way"),
    ("file/run", "a part of its path is a file"),
])
def test_out_that_is_a_file_says_so(argv, where, needle, tmp_path, capsys):
    (tmp_path / "file").write_text("keep")
    assert run(argv + ["--out", tmp_path / where]) == 1
    assert needle in _one_error_line(capsys)
    assert (tmp_path / "file").read_text() == "keep"


def test_seam_carve_seams_image_refused_keeps_the_earlier_output(tmp_path, capsys):
    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (3, 16390, 3), np.uint8)).save(wide)
    out = tmp_path / "out.png"
    out.write_bytes(b"an earlier output")
    assert run(["seam-carve", wide, out, "--width", 16380, "--seams",
                tmp_path / "seams.webp"]) == 1    # WebP images are at most 16383 pixels wide
    assert "WebP" in _one_error_line(capsys)
    assert out.read_bytes() == b"an earlier output" and not (tmp_path / "seams.webp").exists()


def test_eval_failing_to_write_its_report_keeps_the_earlier_figure(softmax_ckpt, tmp_path,
                                                                   monkeypatch, capsys):

    assert run(["eval", softmax_ckpt, "--out", tmp_path]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    _disk_full_on("eval.json", monkeypatch)
    assert run(["eval", softmax_ckpt, "--out", tmp_path, "--split", "val"]) == 1
    assert "No space left on device" in _one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ---- samples that diverged to NaN are refused, not written as [0, 1] images ------------------
def test_sample_refuses_samples_holding_nan(gan_ckpt, tmp_path, monkeypatch, capsys):
    import dataclasses

    entry = registry.get_entry("gan")

    def diverged(*args, **kwargs):
        images = entry.sample(*args, **kwargs)
        images[1, 0, 2, 3] = float("nan")
        return images

    monkeypatch.setitem(registry.REGISTRY, "gan", dataclasses.replace(entry, sample=diverged))
    assert _sample(gan_ckpt, tmp_path / "out", 0) == 1
    assert "sampling diverged: 1 of 4 samples hold NaN or inf" in _one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_caption_without_a_checkpoint_asks_for_the_checkpoint_only(capsys):
    err = _usage_error(["caption"], capsys, "the following arguments are required: CHECKPOINT")
    assert "IMAGE" not in err.splitlines()[-1]      # images are optional (--split)


def test_diverged_training_stops_with_one_line_and_keeps_the_earlier_run(tmp_path, capsys):
    """A learning rate far too high: the loss turns NaN in the first epoch; the run exits 1
    with one line (no NumPy overflow warnings) before writing anything over the earlier run."""
    out = tmp_path / "run"
    assert run(["train", "--model", "softmax", "--epochs", 1, "--out", out,
                "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert run(["train", "--model", "softmax", "--lr", "1e30", "--epochs", 2, "--out", out,
                "--no-progress"]) == 1
    err = _one_error_line(capsys)
    assert "training diverged" in err and "epoch 1" in err and "lower learning rate" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
