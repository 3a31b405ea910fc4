"""models.registry: one entry per model (builder, training entry point, options, sampler),
load_model for every registered model, clear errors, and a CLI without per-model code."""
import pathlib
import re

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend
from tinygrad_cv.data import load_digits
from models import load_model, registry
from models.diffusion import DDPM
from models.registry import ModelEntry, ModelLoadError, OptionError

from tiny_ddpm import train_tiny_ddpm

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLASSIFIERS = ("knn", "linear-svm", "softmax", "mlp", "cnn")


@pytest.fixture(scope="module")
def ddpm_ckpt(tmp_path_factory):
    return train_tiny_ddpm(tmp_path_factory.mktemp("ddpm"))


def test_every_model_is_registered_with_its_kind():
    assert registry.model_names("classifier") == CLASSIFIERS
    assert "ddpm" in registry.model_names("generative")
    for name in registry.model_names():
        entry = registry.get_entry(name)
        assert entry.name == name and callable(entry.train) and callable(entry.load)
        assert (entry.predict is not None) == (entry.kind == "classifier")
        assert (entry.sample is not None) == (entry.kind == "generative")
    with pytest.raises(KeyError, match="unknown model 'resnet'; registered models: knn"):
        registry.get_entry("resnet")


def test_options_have_help_and_defaults_of_their_own_type():
    for name in registry.model_names():
        entry = registry.get_entry(name)
        for option in entry.options + entry.sample_options:
            assert len(option.help) > 10 and option.cli_name.startswith("--")
            if option.default is not None:
                assert option.parse(option.default) == option.default, (name, option.name)
            else:
                assert option.default_help, (name, option.name)
    epochs = registry.get_entry("cnn").option("epochs")
    assert epochs.parse("7") == 7
    for bad in ("0", "-1", "1.5", "x"):
        with pytest.raises(ValueError, match="positive integer"):
            epochs.parse(bad)


def test_register_rejects_duplicates_and_bad_entries():
    entry = registry.get_entry("cnn")
    assert registry.register(entry) is entry  # the same entry again is fine
    clone = ModelEntry(name="cnn", kind="classifier", description="", options=(),
                       train=entry.train, load=entry.load, predict=entry.predict)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(clone)
    with pytest.raises(ValueError, match="a classifier has predict"):
        registry.register(ModelEntry(name="x-test", kind="classifier", description="",
                                     options=(), train=entry.train, load=entry.load))
    assert "x-test" not in registry.model_names()


@pytest.mark.parametrize("name", ["softmax", "knn"])
def test_train_entry_point_and_load_model(name, tmp_path):
    entry = registry.get_entry(name)
    options = {"epochs": 1} if name != "knn" else {"k": 3}
    metrics = entry.train(options, str(tmp_path), seed=0, progress=False, log=lambda *a: None)
    assert metrics["test_accuracy"] > 0.8
    model = load_model(tmp_path / "checkpoint.safetensors")
    assert getattr(model, "training", False) is False
    x, y = load_digits("test")
    predicted = backend.to_numpy(entry.predict(model, x))
    accuracy = float((predicted == backend.to_numpy(y.array)).mean())
    assert accuracy == pytest.approx(metrics["test_accuracy"])


def test_load_model_rebuilds_the_ddpm_with_its_ema_weights(ddpm_ckpt):
    ddpm = load_model(ddpm_ckpt)
    assert isinstance(ddpm, DDPM) and not ddpm.training and not ddpm.model.training
    assert ddpm.schedule.timesteps == 20
    state = tg.load(str(ddpm_ckpt))
    for name, value in ddpm.model.state_dict().items():
        np.testing.assert_array_equal(backend.to_numpy(value.array),
                                      backend.to_numpy(state["ema_model"][name].array))


def test_training_options_are_checked(tmp_path):
    entry = registry.get_entry("mlp")
    entry.train({"epochs": 1}, str(tmp_path), seed=0, progress=False, log=lambda *a: None)
    with pytest.raises(OptionError, match="--lr 0.5"):
        entry.train({"lr": 0.5}, str(tmp_path), resume=True, progress=False)
    with pytest.raises(OptionError, match="holds a mlp run, not cnn"):
        registry.get_entry("cnn").train({}, str(tmp_path), resume=True, progress=False)


@pytest.mark.parametrize("problem", ["missing", "folder", "truncated", "foreign", "unknown",
                                     "crafted"])
def test_load_model_errors_are_clear(problem, ddpm_ckpt, tmp_path):
    path = tmp_path / "ckpt.safetensors"
    if problem == "truncated":
        data = ddpm_ckpt.read_bytes()
        path.write_bytes(data[: len(data) - 100])
    elif problem == "folder":
        path = tmp_path
    elif problem == "foreign":
        tg.save({"weight": tg.zeros(3)}, str(path))
    elif problem in ("unknown", "crafted"):
        state = tg.load(str(ddpm_ckpt))
        if problem == "unknown":
            state["config"]["model"] = "stylegan"
        else:
            state["config"]["unet"]["base_channels"] = -4
        tg.save(state, str(path))
    needle = {"missing": "no such file", "folder": "is a folder",
              "truncated": "cannot load checkpoint", "foreign": "no model description",
              "unknown": "its model 'stylegan' is not registered",
              "crafted": "its model description or weights are invalid"}[problem]
    with pytest.raises(ModelLoadError, match=re.escape(needle)) as exc:
        load_model(path)
    assert str(path) in str(exc.value) or problem == "folder"


def test_the_cli_has_no_per_model_code():
    names = [n for n in registry.model_names() if n != "cnn"]  # cnn: the demo's model
    pattern = re.compile(r"""["'](%s)["']""" % "|".join(map(re.escape, names)))
    for module in ("learn_commands.py", "sample_commands.py", "model_options.py",
                   "__init__.py"):
        source = (ROOT / "tinygrad_cv" / "cli" / module).read_text()
        assert not pattern.search(source), (module, pattern.search(source))
        assert "MODEL_DEFAULTS" not in source and "MODEL_ARCHITECTURE" not in source
