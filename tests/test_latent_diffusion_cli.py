"""tinygrad-cv train --model vae|vqvae|ldm and tinygrad-cv sample of their checkpoints:
short runs, --class / --prompt / --guidance, classes cycling, autoencoder reconstructions,
and bad input (exit 2 with the usage line, exit 1 with one line)."""
import json

import numpy as np
import pytest

from tinygrad_cv import backend
from tinygrad_cv.cli import main
from models import load_model
from models.latent.training import cycling_classes

from tiny_ddpm import train_tiny_ddpm


def run(argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae")
    assert run(["train", "--model", "vae", "--steps", 1, "--out", out, "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def ldm_ckpt(tmp_path_factory, vae_dir):
    out = tmp_path_factory.mktemp("ldm")
    assert run(["train", "--model", "ldm", "--steps", 1, "--autoencoder",
                vae_dir / "checkpoint.safetensors", "--out", out, "--no-progress"]) == 0
    return out / "checkpoint.safetensors"


@pytest.fixture(scope="module")
def ddpm_ckpt(tmp_path_factory):
    return train_tiny_ddpm(tmp_path_factory.mktemp("ddpm"))


def test_train_vae_writes_checkpoint_metrics_and_reconstructions(vae_dir):
    metrics = json.load(open(vae_dir / "metrics.json"))
    assert metrics["model"] == "vae" and metrics["steps"] == 1
    assert metrics["scale_factor"] > 0 and np.isfinite(metrics["test_psnr"])
    for name in ("checkpoint.safetensors", "reconstruction.png", "curves.png"):
        assert (vae_dir / name).exists()


def test_train_ldm_on_a_given_autoencoder(ldm_ckpt, vae_dir):
    metrics = json.load(open(ldm_ckpt.parent / "metrics.json"))
    assert metrics["steps"] == 1 and metrics["autoencoder"]["checkpoint"] == str(
        vae_dir / "checkpoint.safetensors")
    assert list(ldm_ckpt.parent.glob("samples_step*.png"))
    ldm = load_model(ldm_ckpt)
    vae = load_model(vae_dir / "checkpoint.safetensors")
    assert not ldm.training and ldm.autoencoder.config == vae.config
    for name, value in vae.state_dict().items():      # the given autoencoder, frozen
        np.testing.assert_array_equal(ldm.autoencoder.state_dict()[name].array, value.array)


def _samples(out):
    return np.load(out / "samples.npy")


def test_sample_class_prompt_and_guidance(ldm_ckpt, tmp_path):
    ldm = load_model(ldm_ckpt)
    outs = {}
    for name, extra in [("class", ["--class", 7]), ("word", ["--class", "seven"]),
                        ("prompt", ["--prompt", "the digit seven"]),
                        ("digit", ["--prompt", "7"])]:
        outs[name] = tmp_path / name
        assert run(["sample", ldm_ckpt, "--guidance", 3, "--steps", 2, "--num", 6,
                    "--no-score", "--out", outs[name]] + extra) == 0
    samples = _samples(outs["class"])
    assert samples.shape == (6, 1, 8, 8) and samples.dtype == np.float32
    assert 0.0 <= samples.min() and samples.max() <= 1.0
    for name in ("word", "prompt", "digit"):
        np.testing.assert_array_equal(_samples(outs[name]), samples)
    x = ldm.sample(np.full(6, 7), guidance_scale=3.0, steps=2, seed=0, progress=False)
    np.testing.assert_allclose(samples, np.clip((backend.to_numpy(x.array) + 1) / 2, 0, 1),
                               atol=1e-6)


def test_sample_without_class_cycles_and_scores(ldm_ckpt, tmp_path, capsys):
    out = tmp_path / "cycle"
    assert run(["sample", ldm_ckpt, "--steps", 2, "--num", 12, "--guidance", 0,
                "--out", out]) == 0
    ldm = load_model(ldm_ckpt)
    x = ldm.sample(cycling_classes(12), guidance_scale=0.0, steps=2, seed=0, progress=False)
    np.testing.assert_allclose(_samples(out), np.clip((backend.to_numpy(x.array) + 1) / 2, 0, 1),
                               atol=1e-6)
    scores = json.load(open(out / "scores.json"))
    assert scores["model"] == "ldm" and scores["options"] == {"steps": 2, "guidance": 0.0}
    assert sum(scores["class_histogram"]) == 12 and (out / "grid.png").exists()


def test_sample_autoencoder_gives_test_reconstructions(vae_dir, tmp_path):
    from tinygrad_cv.data import load_digits

    out = tmp_path / "rec"
    assert run(["sample", vae_dir / "checkpoint.safetensors", "--num", 5, "--no-score",
                "--out", out]) == 0
    ae = load_model(vae_dir / "checkpoint.safetensors")
    images, _ = load_digits("test")
    x = ae.reconstruct(images[:5] * 2.0 - 1.0)
    np.testing.assert_allclose(_samples(out), (x.array + 1) / 2, atol=1e-6)


@pytest.mark.parametrize("argv,needle", [
    (["--class", "12"], "class 12 is outside 0-9"),
    (["--class", "-1"], "class -1 is outside 0-9"),
    (["--class", "ten"], "expected a digit class 0-9"),
    (["--guidance", "-1"], "expected a non-negative number"),
    (["--prompt", "the digit banana"], "unknown word 'banana'"),
    (["--prompt", "the digit"], "names no digit"),
    (["--class", "3", "--prompt", "7"], "give --class or --prompt, not both"),
    (["--steps", "1001"], "--steps 1001 is more than the model's 1000"),
    (["--sampler", "ddpm"], "--sampler does not apply to a ldm checkpoint"),
])
def test_bad_sample_arguments_exit_2(ldm_ckpt, tmp_path, argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["sample", ldm_ckpt, "--num", 4, "--no-score", "--out", tmp_path / "o"] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv,needle", [
    (["--class", "7"], "--class does not apply to a ddpm checkpoint"),
    (["--guidance", "3"], "--guidance does not apply to a ddpm checkpoint"),
    (["--prompt", "seven"], "--prompt does not apply to a ddpm checkpoint"),
])
def test_pixel_ddpm_rejects_conditions(ddpm_ckpt, tmp_path, argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["sample", ddpm_ckpt, "--num", 4, "--no-score", "--out", tmp_path / "o"] + argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_bad_train_arguments(vae_dir, ddpm_ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(["train", "--model", "ldm", "--autoencoder", ddpm_ckpt, "--out", tmp_path / "a"])
    assert exc.value.code == 2 and "holds a ddpm model, not an autoencoder" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        run(["train", "--model", "ldm", "--autoencoder", vae_dir / "checkpoint.safetensors",
             "--autoencoder-kind", "vq", "--out", tmp_path / "b"])
    assert exc.value.code == 2 and "--autoencoder-kind" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        run(["train", "--model", "vae", "--resume", "--out", vae_dir])
    assert exc.value.code == 2
    capsys.readouterr()
    assert run(["train", "--model", "ldm", "--autoencoder", tmp_path / "missing.safetensors",
                "--out", tmp_path / "c"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no such file" in err and err.count("\n") == 0
