"""tinygrad-cv caption: captions of image files and of a data split through the registry
(a tiny untrained captioner here), its output contract (captions.json, grid.png), and bad
input (exit 2 with the usage line, or exit 1 with one line, never a traceback)."""
import json

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.cli import main
from tinygrad_cv.data import ShapesCaptions
from models import load_model
from models.bleu import bleu
from models.captioning.training import build_captioner, default_config

Image = pytest.importorskip("PIL.Image")


def run(argv):
    return main([str(a) for a in argv])


def _tiny_config(name):
    config = default_config(name)
    config["data"]["n"] = 30
    config["model_config"].update(channels=[4, 8, 8], feature_dim=8)
    if name == "caption-transformer":
        config["model_config"].update(dim=8, heads=2, layers=1)
    else:
        config["model_config"].update(wordvec_dim=8, hidden_dim=8)
    config["vocab"] = ShapesCaptions(2, 32, 0).vocab.idx_to_word
    return config


@pytest.fixture(scope="module", params=["caption-lstm", "caption-transformer"])
def ckpt(request, tmp_path_factory):
    tg.manual_seed(0)
    config = _tiny_config(request.param)
    model = build_captioner(config)
    path = tmp_path_factory.mktemp("caption") / "checkpoint.safetensors"
    tg.save({"model": model.state_dict(), "config": config}, path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    data = ShapesCaptions(2, 48, 1)
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i in range(2):
        arr = (backend.to_numpy(data.images.array[i]).transpose(1, 2, 0) * 255).astype(np.uint8)
        paths.append(folder / f"scene{i}.png")
        Image.fromarray(arr).save(paths[-1])
    return paths


def test_caption_split_writes_captions_json_and_grid(ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(["caption", ckpt, "--split", "test", "--out", out, "--beam", 2,
                "--grid", 3]) == 0
    records = json.load(open(out / "captions.json"))
    model = load_model(ckpt)
    test = ShapesCaptions(30, 32, 0).split("test")
    assert [r["references"] for r in records] == test.references
    assert [r["hypothesis"] for r in records] == model.caption(test.images, max_length=24,
                                                              beam=2)
    with Image.open(out / "grid.png") as im:
        assert im.format == "PNG" and im.size[0] > 3 * 32 * 4
    printed = capsys.readouterr().out
    score = bleu([r["references"] for r in records], [r["hypothesis"] for r in records])
    assert f"BLEU-4 {score:.4f}" in printed and "captions.json" in printed


def test_caption_images_prints_one_line_each(ckpt, images, capsys):
    assert run(["caption", ckpt, *images]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for path, line in zip(images, lines):
        assert line.startswith(f"{path}:")


@pytest.mark.parametrize("argv, message", [
    ([], "give IMAGE files to caption, or --split"),
    (["x.png", "--split", "test"], "give IMAGE files or --split, not both"),
    (["x.png", "--out", "d"], "--out applies to --split"),
    (["--split", "test", "--beam", "0"], "expected a positive integer"),
    (["--split", "dev"], "invalid choice: 'dev'"),
])
def test_bad_arguments_exit_2_with_usage(ckpt, argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["caption", ckpt, *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: tinygrad-cv caption" in err and message in err


def test_beam_wider_than_vocabulary_is_a_usage_error(ckpt, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["caption", ckpt, "--split", "val", "--beam", 99, "--out", "unused"])
    assert exc.value.code == 2
    assert "beam 99 is larger than the vocabulary" in capsys.readouterr().err


def _one_error_line(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err
    return err


def test_bad_files_exit_1_with_one_line(ckpt, tmp_path, capsys):
    assert run(["caption", ckpt, tmp_path / "missing.png"]) == 1
    _one_error_line(capsys, "missing.png", "no such file")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert run(["caption", ckpt, junk]) == 1
    _one_error_line(capsys, "junk.png")
    assert run(["caption", tmp_path / "none.safetensors", "--split", "test"]) == 1
    _one_error_line(capsys, "none.safetensors", "no such file")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(ckpt.read_bytes()[:100])
    assert run(["caption", broken, "--split", "test"]) == 1
    _one_error_line(capsys, "broken.safetensors")


def test_non_captioning_checkpoint_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "cnn.safetensors"
    tg.save({"model": {}, "config": {"model": "cnn"}}, path)
    assert run(["caption", path, "--split", "test"]) == 1
    _one_error_line(capsys, "holds a cnn model (classifier), which cannot caption",
                    "caption-lstm")
