"""tinygrad-cv sample: every generative model through the registry (a tiny DDPM here), its
output contract (samples.npy, grid.png, scores.json), and every bad input (exit 2 with the
usage line, or exit 1 with one line) leaving an earlier run's files as they were."""
import json

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.cli import build_parser, main
from models import load_model
from models.diffusion import DDIMSampler

from tiny_ddpm import TIMESTEPS, train_tiny_ddpm

Image = pytest.importorskip("PIL.Image")


def run(argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def ddpm_ckpt(tmp_path_factory):
    return train_tiny_ddpm(tmp_path_factory.mktemp("ddpm"))


def _samples(out):
    return np.load(out / "samples.npy")


def test_sample_ddim_writes_samples_grid_and_scores(ddpm_ckpt, tmp_path, capsys):
    out = tmp_path / "ddim"
    assert run(["sample", ddpm_ckpt, "--sampler", "ddim", "--steps", 5, "--eta", 0.5,
                "--num", 12, "--seed", 3, "--batch-size", 5, "--out", out]) == 0
    samples = _samples(out)
    assert samples.dtype == np.float32 and samples.shape == (12, 1, 8, 8)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    # exactly the library's DDIM samples of the checkpoint's (EMA) model, mapped to [0, 1]
    ddpm = load_model(ddpm_ckpt)
    x = DDIMSampler(ddpm.schedule, steps=5, eta=0.5).sample(ddpm.model, (12, 1, 8, 8), seed=3,
                                                            progress=False)
    np.testing.assert_allclose(samples, np.clip((backend.to_numpy(x.array) + 1) / 2, 0, 1),
                               atol=1e-6)
    with Image.open(out / "grid.png") as im:
        assert im.format == "PNG" and im.size[0] >= 4 * 8 * 4
    scores = json.load(open(out / "scores.json"))
    for key in ("cfid", "inception_score", "class_histogram", "min_class_fraction",
                "mean_confidence", "precision", "recall"):
        assert key in scores
    assert scores["num_samples"] == 12 and sum(scores["class_histogram"]) == 12
    assert scores["model"] == "ddpm" and scores["options"]["steps"] == 5
    assert "cFID" in capsys.readouterr().out


def test_sample_ddpm_runs_all_steps_and_is_seeded(ddpm_ckpt, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert run(["sample", ddpm_ckpt, "--sampler", "ddpm", "--num", 6, "--seed", seed,
                    "--out", tmp_path / name, "--no-score"]) == 0
    a, b, c = (_samples(tmp_path / n) for n in "abc")
    assert a.shape == (6, 1, 8, 8) and not (tmp_path / "a" / "scores.json").exists()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ddpm = load_model(ddpm_ckpt)
    x = ddpm.sample((6, 1, 8, 8), seed=1, progress=False)
    np.testing.assert_allclose(a, np.clip((backend.to_numpy(x.array) + 1) / 2, 0, 1), atol=1e-6)


def test_progress_bar_over_the_steps_on_a_terminal(ddpm_ckpt, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert run(["sample", ddpm_ckpt, "--steps", 4, "--num", 4, "--out", tmp_path,
                "--no-score"]) == 0
    err = capsys.readouterr().err
    assert "DDIM-4" in err and "/4" in err  # tqdm over the 4 steps


def _earlier_run(out):
    out.mkdir()
    files = {"samples.npy": b"earlier samples", "grid.png": b"earlier grid",
             "scores.json": b"{\"earlier\": true}"}
    for name, data in files.items():
        (out / name).write_bytes(data)
    return files


def _unchanged(out, files):
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


@pytest.mark.parametrize("argv,needle", [
    (["--sampler", "euler"], "invalid choice: 'euler'"),
    (["--steps", "0"], "expected a positive integer"),
    (["--steps", "-3"], "expected a positive integer"),
    (["--steps", str(TIMESTEPS + 1)], f"--steps {TIMESTEPS + 1} is more than the model's "
                                      f"{TIMESTEPS} diffusion timesteps"),
    (["--sampler", "ddpm", "--steps", "5"], "--sampler ddpm runs all 20 steps"),
    (["--eta", "-0.1"], "expected a non-negative number"),
    (["--eta", "nan"], "expected a non-negative number"),
    (["--sampler", "ddpm", "--eta", "0.5"], "--eta applies to --sampler ddim only"),
    (["--num", "0"], "expected a positive integer"),
    (["--num", "2"], "--num 2 is too few to score"),
    (["--batch-size", "0"], "expected a positive integer"),
])
def test_bad_arguments_exit_2_and_overwrite_nothing(ddpm_ckpt, tmp_path, argv, needle, capsys):
    out = tmp_path / "out"
    files = _earlier_run(out)
    with pytest.raises(SystemExit) as exc:
        run(["sample", ddpm_ckpt, "--out", out] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err
    _unchanged(out, files)
    assert not (tmp_path / "fresh").exists()


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


@pytest.mark.parametrize("problem", ["missing", "folder", "truncated", "garbage", "classifier",
                                     "foreign"])
def test_bad_checkpoints_exit_1_with_one_line(problem, ddpm_ckpt, softmax_ckpt, tmp_path,
                                              capsys):
    good = ddpm_ckpt.read_bytes()
    path = tmp_path / "ckpt.safetensors"
    if problem == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif problem == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    elif problem == "folder":
        path = tmp_path
    elif problem == "classifier":
        path = softmax_ckpt
    elif problem == "foreign":
        tg.save({"weight": tg.zeros(3)}, str(path))
    needle = {"missing": "no such file", "folder": "is a folder",
              "truncated": "cannot load checkpoint", "garbage": "cannot load checkpoint",
              "classifier": "holds a softmax model (classifier), which cannot sample",
              "foreign": "not a checkpoint of a registered model"}[problem]
    out = tmp_path / "out"
    files = _earlier_run(out)
    assert run(["sample", path, "--out", out, "--num", 4]) == 1
    assert needle in _one_error_line(capsys)
    _unchanged(out, files)


def test_failed_run_creates_no_output_folder(ddpm_ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run(["sample", ddpm_ckpt, "--steps", 999, "--out", tmp_path / "new" / "dir"])
    assert not (tmp_path / "new").exists()


def test_every_sample_option_says_what_it_does_and_its_default():
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for action in sub.choices["sample"]._actions:
        if action.dest == "help":
            continue
        assert action.help and len(action.help) > 10, action.dest
        if action.option_strings:
            assert "default" in action.help, (action.dest, action.help)


# ---- train --model ddpm (the tiny configuration in place of the defaults) -----------------------
@pytest.fixture
def tiny_defaults(monkeypatch):
    import copy

    from models.diffusion import training as diffusion_training
    from tiny_ddpm import TINY_CONFIG

    real = diffusion_training.default_config

    def tiny():
        config = real()
        for section, values in copy.deepcopy(TINY_CONFIG).items():
            config[section].update(values)
        return config

    monkeypatch.setattr(diffusion_training, "default_config", tiny)


def test_train_ddpm_writes_checkpoint_metrics_curve_and_grids(tiny_defaults, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(["train", "--model", "ddpm", "--epochs", 1, "--out", out]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err  # stderr is not a terminal: no live bar
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["model"] == "ddpm" and metrics["epochs"] == 1
    grids = sorted(out.glob("samples_step*.png"))
    assert grids and str(grids[-1]) in captured.out
    for png in [out / "curves.png"] + grids:
        with Image.open(png) as im:
            assert im.format == "PNG"
    assert isinstance(load_model(out / "checkpoint.safetensors"), type(load_model(
        out / "checkpoint.safetensors")))
    steps = metrics["steps"]
    # a larger --epochs extends the finished run
    assert run(["train", "--model", "ddpm", "--epochs", 2, "--out", out, "--resume"]) == 0
    assert json.load(open(out / "metrics.json"))["steps"] == 2 * steps
    # a ddpm checkpoint is not something eval can score
    assert run(["eval", out / "checkpoint.safetensors"]) == 1
    assert "eval measures classifiers" in _one_error_line(capsys)


@pytest.mark.parametrize("argv,needle", [
    (["--k", "3"], "--k does not apply to --model ddpm"),
    (["--lr", "0.1", "--augment"], "--augment, --lr do not apply to --model ddpm"),
    (["--minutes", "0"], "expected a positive number"),
    (["--minutes", "inf"], "expected a positive number"),
    (["--sampler", "ddim"], "unrecognized arguments: --sampler ddim"),
])
def test_train_ddpm_bad_arguments_exit_2(argv, needle, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["train", "--model", "ddpm", "--out", tmp_path / "run"] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err
    assert not (tmp_path / "run").exists()


def test_train_ddpm_resume_with_another_seed_exits_2(tiny_defaults, tmp_path, capsys):
    assert run(["train", "--model", "ddpm", "--epochs", 1, "--out", tmp_path]) == 0
    good = (tmp_path / "checkpoint.safetensors").read_bytes()
    with pytest.raises(SystemExit) as exc:
        run(["train", "--model", "ddpm", "--out", tmp_path, "--resume", "--seed", 5])
    assert exc.value.code == 2 and "--seed 5 (the checkpoint has 0)" in capsys.readouterr().err
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == good


def test_train_ddpm_resume_from_a_crafted_checkpoint_is_one_line(tiny_defaults, tmp_path,
                                                                  capsys):
    assert run(["train", "--model", "ddpm", "--epochs", 1, "--out", tmp_path]) == 0
    state = tg.load(str(tmp_path / "checkpoint.safetensors"))
    state["config"]["training"]["no_such_setting"] = 1
    tg.save(state, str(tmp_path / "checkpoint.safetensors"))
    capsys.readouterr()
    assert run(["train", "--model", "ddpm", "--out", tmp_path, "--resume", "--epochs", 2]) == 1
    err = _one_error_line(capsys)
    assert "checkpoint" in err and "no_such_setting" in err and "report" not in err
