"""The diffusion training loop: the loss falls, checkpoints resume exactly, budgets, previews,
and a checkpoint rebuilds its DDPM from the configuration it carries."""
import json
import os

import numpy as np
import pytest

import tinygrad_cv as tg
from models.diffusion import DDPM, DDIMSampler, UNet
from models.diffusion.training import (CHECKPOINT_NAME, METRICS_NAME, _Run, _merged,
                                       build_ddpm, default_config, load_ddpm, train_diffusion)

TINY_UNET = {"base_channels": 8, "channel_mult": [1], "attention_resolutions": [], "groups": 4}
SUBSET = 80  # images; batches of 32 -> 3 steps an epoch


@pytest.fixture
def few_digits(monkeypatch):
    """The loop's mechanics on the first 80 training digits (fast)."""
    from models.diffusion import training

    real = training._load_digits

    def subset(device):
        images, labels = real(device)
        return images[:SUBSET], labels[:SUBSET]

    monkeypatch.setattr(training, "_load_digits", subset)


def tiny_config(**training):
    settings = {"batch_size": 32, "lr": 3e-3, "warmup_steps": 3, "ema_decay": 0.9,
                "previews": 2, "preview_samples": 4, "preview_steps": 3}
    settings.update(training)
    return {"unet": dict(TINY_UNET, channel_mult=[1, 2], attention_resolutions=[2]),
            "schedule": {"kind": "cosine", "timesteps": 100}, "training": settings}


def test_loss_falls_over_a_hundred_steps(device):
    config = _merged({"unet": TINY_UNET,
                      "training": {"batch_size": 16, "lr": 3e-3, "warmup_steps": 5}})
    run = _Run(config, seed=0, device=device)
    losses = [run.train_step()[0] for _ in range(100)]
    assert all(np.isfinite(losses))
    first, last = np.mean(losses[:10]), np.mean(losses[-20:])
    assert first > 0.7  # an untrained (zero-output) predictor: the noise's variance, ~1
    assert last < 0.5 * first, (first, last)


def test_checkpoint_resume_replays_the_run_exactly(tmp_path, few_digits):
    config = tiny_config()
    straight = train_diffusion(config, tmp_path / "a", epochs=3, progress=False)
    train_diffusion(config, tmp_path / "b", epochs=1, progress=False)
    resumed = train_diffusion({}, tmp_path / "b", epochs=3, resume=True, progress=False)
    assert resumed["steps"] == straight["steps"] == 3 * 3  # ceil(80 / 32) steps an epoch
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in straight["history"]]
    a = tg.load(tmp_path / "a" / CHECKPOINT_NAME)
    b = tg.load(tmp_path / "b" / CHECKPOINT_NAME)
    for part in ("model", "ema_model"):
        assert set(a[part]) == set(b[part])
        for k in a[part]:
            np.testing.assert_array_equal(a[part][k].numpy(), b[part][k].numpy(), err_msg=k)
    for index, state in a["optimizer"]["state"].items():
        for k, v in state.items():
            other = b["optimizer"]["state"][index][k]
            np.testing.assert_array_equal(np.asarray(getattr(v, "data", v)),
                                          np.asarray(getattr(other, "data", other)))
    assert a["trainer"]["step"] == b["trainer"]["step"] == 9
    assert a["ema"]["num_updates"] == b["ema"]["num_updates"] == 9


def test_checkpoint_layout_and_rebuild(tmp_path, few_digits):
    seen = []
    metrics = train_diffusion(tiny_config(), tmp_path, epochs=2, seed=3, progress=False,
                              on_samples=lambda step, images: seen.append((step, images)))
    state = tg.load(tmp_path / CHECKPOINT_NAME)
    assert tg.io.load_metadata(tmp_path / CHECKPOINT_NAME) == {"model": "ddpm"}
    assert set(state) == {"model", "ema_model", "ema", "optimizer", "scheduler", "trainer",
                          "config"}
    config = state["config"]
    assert config["model"] == "ddpm" and config["schedule"]["kind"] == "cosine"
    assert config["training"]["epochs"] == 2 and state["trainer"]["seed"] == 3
    # the EMA weights differ from the trained ones and are what load_ddpm returns
    ddpm = load_ddpm(tmp_path / CHECKPOINT_NAME)
    assert isinstance(ddpm, DDPM) and isinstance(ddpm.model, UNet) and not ddpm.training
    assert ddpm.schedule.timesteps == 100 and ddpm.schedule.kind == "cosine"
    key = "input_conv.weight"
    np.testing.assert_array_equal(ddpm.model.state_dict()[key].numpy(),
                                  state["ema_model"][key].numpy())
    assert not np.array_equal(state["ema_model"][key].numpy(), state["model"][key].numpy())
    raw = load_ddpm(state, use_ema=False)
    np.testing.assert_array_equal(raw.model.state_dict()[key].numpy(),
                                  state["model"][key].numpy())
    # previews: 2 batches, the last at the end, images in [0, 1]
    assert [s for s, _ in seen] == [3, 6]
    for _, images in seen:
        assert images.shape == (4, 1, 8, 8) and images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 1.0
    # metrics.json matches the returned metrics
    on_disk = json.loads((tmp_path / METRICS_NAME).read_text())
    assert on_disk["steps"] == metrics["steps"] == 6
    assert [h["epoch"] for h in on_disk["history"]] == [1, 2]
    assert metrics["num_parameters"] == sum(p.numel() for p in ddpm.model.parameters())
    samples = DDIMSampler(ddpm.schedule, steps=4).sample(ddpm.model, (3, 1, 8, 8), seed=0,
                                                         progress=False)
    assert samples.shape == (3, 1, 8, 8)


def test_minutes_budget_stops_after_an_epoch(tmp_path, few_digits):
    metrics = train_diffusion(tiny_config(previews=0), tmp_path, minutes=1e-4, progress=False)
    assert metrics["steps"] == 3 and metrics["epochs"] == 1
    assert metrics["config"]["training"]["minutes"] == 1e-4
    assert os.path.exists(tmp_path / CHECKPOINT_NAME)


def test_build_ddpm_from_the_default_config():
    ddpm = build_ddpm(default_config())
    config = default_config()
    assert ddpm.model.config["base_channels"] == config["unet"]["base_channels"]
    assert ddpm.variance == config["ddpm"]["variance"]
    assert ddpm.schedule.config == config["schedule"]
    json.dumps(default_config())  # JSON-able


@pytest.mark.parametrize("config, error, match", [
    ({"optimizer": {}}, ValueError, "unknown sections"),
    ({"training": {"learning_rate": 1.0}}, ValueError, "unknown training settings"),
    ({"model": "gan"}, ValueError, "not 'ddpm'"),
    ({"unet": []}, TypeError, "section 'unet'"),
    ([], TypeError, "must be a dict"),
])
def test_bad_configs_are_named(config, error, match):
    with pytest.raises(error, match=match):
        build_ddpm(config)


def test_bad_budgets_and_missing_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        train_diffusion(tiny_config(), tmp_path, epochs=0, progress=False)
    with pytest.raises(ValueError, match="minutes"):
        train_diffusion(tiny_config(), tmp_path, minutes=-1, progress=False)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train_diffusion(tiny_config(), tmp_path / "none", epochs=1, resume=True,
                        progress=False)
    classifier = tmp_path / "classifier.safetensors"
    tg.save({"model": {}, "config": {"model": "cnn"}}, classifier)
    with pytest.raises(ValueError, match="not a ddpm checkpoint"):
        load_ddpm(classifier)
