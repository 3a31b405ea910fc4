"""One registry of the project's models: name -> builder, training entry point, options and,
for generative models, a sampler.  The command line (``tinygrad-cv train/eval/sample/graph``)
reaches models only through it and has no per-model code.

    entry = get_entry("cnn")
    metrics = entry.train({"epochs": 3}, "runs/cnn", seed=0)
    model = load_model("runs/cnn/checkpoint.safetensors")       # eval mode

A checkpoint names its model in ``state["config"]["model"]`` (every training entry point
writes the whole configuration there), so ``load_model`` can rebuild any registered model.

An entry (``ModelEntry``) holds:

- ``options``: its own training options (``Option``: name, type, default, help, choices);
  the CLI turns each into ``--name`` and reports an option given to a model that does not
  take it.  ``sample_options`` likewise for ``sample``.
- ``train(options, out_dir, *, seed, resume, device, progress, on_samples, log) -> metrics``:
  ``options`` holds only the options the user gave (the entry fills in its defaults);
  ``seed`` is None when not given.  Writes ``out_dir/checkpoint.safetensors`` and
  ``out_dir/metrics.json``; ``metrics`` may hold ``history`` (a list of per-epoch dicts) and
  whatever the model reports.  Bad option values or combinations raise ``OptionError``.
- ``load(state, path) -> model`` in eval mode, from a loaded checkpoint.
- ``predict(model, images) -> labels`` (classifiers) or ``sample(model, options, *, num, seed,
  batch_size, progress) -> float32 host array (N, C, H, W) in [0, 1]`` (generative models).
- ``graph(images, labels) -> (loss Tensor, module)``: one forward + loss to draw, if any.
- ``caption(model, images=None, *, split=None, beam=1, max_length=None) -> {"hypotheses",
  "references", "images"}`` (captioners, kind ``captioner``): captions of images (a list of
  (H, W, 3) arrays in [0, 1]) or of a data split with its references (``tinygrad-cv caption``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from typing import Any, Callable, Optional

__all__ = ["Option", "ModelEntry", "OptionError", "ModelLoadError", "REGISTRY", "register",
           "get_entry", "model_names", "read_checkpoint", "load_model", "CHECKPOINT_NAME",
           "METRICS_NAME"]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.json"


class OptionError(ValueError):
    """A bad option value or combination for a model (the CLI exits 2 with its usage line)."""


class ModelLoadError(ValueError):
    """A checkpoint that cannot be turned into a registered model (missing, foreign,
    truncated, or describing a model that cannot be built)."""


# ---- option types: text or value -> value, ValueError naming what was expected ----------------
def _number(convert, what, accept):
    def parse(value):
        try:
            number = convert(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected {what}, got {value!r}") from None
        if isinstance(value, bool) or not accept(number):
            raise ValueError(f"expected {what}, got {value!r}")
        return number
    parse.what = what
    return parse


def _int(text):
    if isinstance(text, float) and not text.is_integer():
        raise ValueError
    return int(text)


positive_int = _number(_int, "a positive integer", lambda v: v > 0)
nonnegative_int = _number(_int, "a non-negative integer", lambda v: v >= 0)
positive_float = _number(float, "a positive number", lambda v: v > 0 and math.isfinite(v))
nonnegative_float = _number(float, "a non-negative number",
                            lambda v: v >= 0 and math.isfinite(v))


def flag(value):
    """An on/off option (``--name`` turns it on)."""
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a model: ``--name`` on the command line (``_`` -> ``-``).

    ``type`` converts and checks a value (text from the command line, or a Python value) and
    raises ValueError naming what it expected; ``flag`` options take no value.  ``default``
    is what the model uses when the option is not given; ``default_help`` describes it in
    words where the value alone would not (e.g. ``None``).
    """
    name: str
    type: Callable[[Any], Any]
    default: Any
    help: str
    choices: Optional[tuple] = None
    default_help: Optional[str] = None   # how to describe the default (e.g. when it is None)

    @property
    def flag(self):
        return self.type is flag

    @property
    def cli_name(self):
        return "--" + self.name.replace("_", "-")

    def parse(self, value):
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"expected one of {', '.join(map(str, self.choices))}, "
                                 f"got {value!r}")
            return value
        return self.type(value)


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model (see the module docstring for the callables' signatures)."""
    name: str
    kind: str                      # "classifier", "generative" or "encoder" (neither)
    description: str
    options: tuple
    train: Callable
    load: Callable
    resumable: bool = True
    predict: Optional[Callable] = None
    sample: Optional[Callable] = None
    sample_options: tuple = ()
    graph: Optional[Callable] = None
    caption: Optional[Callable] = None    # captioners (kind "captioner")
    distributed: bool = False      # train accepts distributed=True (tinygrad-cv train --distributed)

    def option(self, name):
        return next((o for o in self.options if o.name == name), None)

    def defaults(self):
        return {o.name: o.default for o in self.options}


REGISTRY: dict = {}
_BUILTINS_LOADED = False


def register(entry):
    """Add ``entry`` under ``entry.name`` (a name may be registered once)."""
    if not isinstance(entry, ModelEntry):
        raise TypeError(f"register expects a ModelEntry, got {type(entry).__name__}")
    if entry.name in REGISTRY and REGISTRY[entry.name] is not entry:
        raise ValueError(f"a model named {entry.name!r} is already registered")
    if entry.kind not in ("classifier", "generative", "encoder", "captioner"):
        raise ValueError(f"model {entry.name!r}: kind must be 'classifier', 'generative', "
                         "'encoder' or 'captioner'")
    if (entry.kind == "captioner") != (entry.caption is not None):
        raise ValueError(f"model {entry.name!r}: a captioner has caption (and only it)")
    if (entry.kind == "classifier") != (entry.predict is not None) or \
            (entry.kind == "generative") != (entry.sample is not None):
        raise ValueError(f"model {entry.name!r}: a classifier has predict, a generative model "
                         "has sample")
    REGISTRY[entry.name] = entry
    return entry


def _builtins():
    """Register the project's models (on first use, so importing the registry is cheap)."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from . import (classifier_entries, diffusion_entry, gan_entry,  # noqa: F401
                       simclr_entry)                                 # (they register)
        from . import captioning_entry  # noqa: F401
        from . import latent_entry  # noqa: F401  (vae, vqvae, ldm)
    return REGISTRY


def model_names(kind=None):
    """Registered names (in registration order), optionally only ``kind``'s."""
    return tuple(n for n, e in _builtins().items() if kind is None or e.kind == kind)


def get_entry(name):
    """The entry of model ``name``; an unknown name lists the registered ones."""
    entries = _builtins()
    if name not in entries:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(entries)}")
    return entries[name]


# ---- checkpoints ------------------------------------------------------------------------------
def read_checkpoint(path, device=None):
    """``(entry, state)`` of a checkpoint written by a registered model's training entry point.

    Raises ``ModelLoadError`` naming the file and the problem: missing, a folder, truncated or
    corrupted (the checkpoint reader's message), or not a checkpoint of a registered model.
    """
    import tinygrad_cv as tg
    from tinygrad_cv.io import CheckpointError

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelLoadError(f"cannot read checkpoint {path!r}: no such file")
    if os.path.isdir(path):
        raise ModelLoadError(f"cannot read checkpoint {path!r}: it is a folder (give the "
                             f"{CHECKPOINT_NAME} file inside it)")
    try:
        state = tg.load(path, device=device)
    except CheckpointError as exc:
        raise ModelLoadError(str(exc)) from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read checkpoint {path!r}: {exc.strerror or exc}") from None
    config = state.get("config") if isinstance(state, dict) else None
    name = config.get("model") if isinstance(config, dict) else None
    entries = _builtins()
    if not isinstance(name, str) or name not in entries:
        what = "no model description inside" if not isinstance(name, str) else \
            f"its model {name!r} is not registered"
        raise ModelLoadError(f"cannot use checkpoint {path!r}: it is not a checkpoint of a "
                             f"registered model ({what}; registered: {', '.join(entries)})")
    return entries[name], state


# What building a model from a crafted or damaged configuration may raise.
CONTENT_ERRORS = (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError,
                  RuntimeError, MemoryError)


def content_error(path, exc):
    """A ``ModelLoadError`` for a checkpoint whose content does not describe a working model."""
    if isinstance(exc, ModelLoadError):
        return exc
    if isinstance(exc, MemoryError):
        return ModelLoadError(f"cannot use checkpoint {path!r}: the model it describes does not "
                              "fit in memory (crafted or damaged configuration?)")
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
    return ModelLoadError(f"cannot use checkpoint {path!r}: its model description or weights "
                          f"are invalid ({type(exc).__name__}: {detail})")


def check_resume(ckpt, name, seed, log):
    """The saved state of a ``--resume`` of model ``name`` from ``ckpt``, after checking that
    the checkpoint holds a ``name`` run and that an explicit ``seed`` matches the saved one
    (a resumed run keeps its own settings)."""
    entry, state = read_checkpoint(ckpt)
    if entry.name != name:
        raise OptionError(f"--resume: {ckpt!r} holds a {entry.name} run, not {name}")
    trainer = state.get("trainer") if isinstance(state.get("trainer"), dict) else {}
    saved_seed = trainer.get("seed")
    if seed is not None and saved_seed is not None and seed != saved_seed:
        raise OptionError(f"--resume continues the saved run with its own settings; drop or "
                          f"match --seed {seed} (the checkpoint has {saved_seed})")
    log(f"resuming {name} from step {trainer.get('step')}")
    return state


@contextlib.contextmanager
def saved_run_errors(ckpt, resume):
    """Inside a resumed training run, an error the saved run's content causes (a damaged
    configuration or state) becomes ``content_error(ckpt, ...)``; a fresh run's errors and the
    option/checkpoint errors pass unchanged."""
    from tinygrad_cv.io import CheckpointError

    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        if not resume or isinstance(exc, (OptionError, CheckpointError)):
            raise
        raise content_error(ckpt, exc) from None


def load_model(checkpoint, device=None):
    """The model saved in ``checkpoint`` (a path), rebuilt from the configuration inside it
    and put in eval mode.  Raises ``ModelLoadError`` with a clear message otherwise."""
    entry, state = read_checkpoint(checkpoint, device=device)
    try:
        return entry.load(state, os.fspath(checkpoint))
    except CONTENT_ERRORS as exc:
        raise content_error(os.fspath(checkpoint), exc) from None
