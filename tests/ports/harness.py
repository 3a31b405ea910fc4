"""Run a ported script with tinygrad_cv and with PyTorch, on the same random numbers.

A port under ``tests/ports/<name>/`` imports tinygrad_cv in place of torch
(``import tinygrad_cv as torch``, ...).  ``run_port(name, "torch", ...)`` executes the same
files with those import lines mapped back to torch (the only difference between the runs),
``run_port(name, "tinygrad_cv", ...)`` executes them as they are.

Randomness is shared, not re-implemented: the PyTorch run *records* and the tinygrad_cv run
*replays*, in call order (each replayed event must be of the kind recorded, so the two runs
must take the same path):

* the initial weights: when an optimizer is built, and the first time a module's
  ``zero_grad`` is called (scripts that update the weights by hand), its parameters are
  recorded, and overwritten with the recording in the replay;
* random tensors the script draws itself (``torch.randn(...)``, ``randn_like``, ``rand``,
  ``randint``, ``randperm``, ``multinomial``, ... called from the port's own files);
* dropout masks (``nn.Dropout`` modules and ``F.dropout``): both runs compute
  ``x * mask * (1 / (1 - p))`` with one mask drawn by the harness; for ``Dropout1d/2d/3d``
  the mask is torch's own (its forward on ones, so its channel rule), ``x * mask`` in both;
* the indices of ``RandomSampler`` (``DataLoader(shuffle=True)``), recorded as consumed;
* the draws of ``torch.distributions`` (``Categorical(probs).sample()``, ...: every
  distribution class's own ``sample``, called from the port's files).

Each run returns the losses (every scalar ``backward()``), and the parameters captured by the
weight hooks at the end, for the test to compare.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import re
import sys
from pathlib import Path

import numpy as np

PORTS = Path(__file__).resolve().parent
RANDOM_FUNCTIONS = ("randn", "randn_like", "rand", "rand_like", "randint", "randint_like",
                    "randperm", "multinomial", "normal", "bernoulli")
_IMPORT_LINE = re.compile(r"^(\s*)(import|from)\s+tinygrad_cv\b(.*)$")


def to_torch(source):
    """``source`` with its tinygrad_cv import lines turned into the torch ones."""
    out = []
    for line in source.splitlines(keepends=True):
        m = _IMPORT_LINE.match(line)
        if m:
            line = f"{m.group(1)}{m.group(2)} torch{m.group(3)}" + ("\n" if line.endswith("\n")
                                                                   else "")
        out.append(line)
    return "".join(out)


class Tape:
    """Events recorded by the PyTorch run and replayed, in order, by the tinygrad_cv run."""

    def __init__(self):
        self.events = []
        self.position = 0

    def add(self, kind, value):
        self.events.append((kind, value))
        return value

    def next(self, kind):
        if self.position >= len(self.events):
            raise AssertionError(f"replay: the tinygrad_cv run asks for a {kind} event after the "
                                 f"{len(self.events)} the torch run recorded")
        got, value = self.events[self.position]
        if got != kind:
            raise AssertionError(f"replay: event {self.position} is {got} in the torch run but "
                                 f"{kind} in the tinygrad_cv run (the runs took different paths)")
        self.position += 1
        return value


class Result:
    def __init__(self):
        self.losses = []
        self.param_lists = []   # the parameters captured by the weight hooks
        self.stdout = ""

    def final_params(self):
        return [[_numpy(p) for p in params] for params in self.param_lists]


def _numpy(t):
    if hasattr(t, "array"):
        from tinygrad_cv import backend
        return backend.to_numpy(t.array).copy()
    return t.detach().cpu().numpy().copy()


class _PortFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the port's own modules (``model``, ``data``, ``mingpt.utils``...) from its
    folder, with the import lines translated for the framework of the run."""

    def __init__(self, root, framework):
        self.root = root
        self.framework = framework
        self.loaded = []

    def _path(self, fullname):
        base = self.root.joinpath(*fullname.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def find_spec(self, fullname, path=None, target=None):
        file = self._path(fullname)
        if file is None:
            folder = self.root.joinpath(*fullname.split("."))
            if folder.is_dir() and "." not in fullname:   # a folder without __init__.py
                spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
                spec.submodule_search_locations = [str(folder)]
                self.loaded.append(fullname)
                return spec
            return None
        spec = importlib.util.spec_from_file_location(fullname, file, loader=self,
                                                      submodule_search_locations=[
                                                          str(file.parent)]
                                                      if file.name == "__init__.py" else None)
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self.loaded.append(module.__name__)
        source = Path(module.__file__).read_text()
        if self.framework == "torch":
            source = to_torch(source)
        exec(compile(source, module.__file__, "exec"), module.__dict__)


class _Instruments:
    """The record (torch) or replay (tinygrad_cv) patches on one framework."""

    def __init__(self, framework, tape, result, port_files, seed=0):
        self.record = framework == "torch"
        if self.record:
            import torch as fw
            import torch.utils.data  # noqa: F401
        else:
            import tinygrad_cv as fw
        self.fw = fw
        self.tape = tape
        self.result = result
        self.port_files = port_files
        self.rng = np.random.default_rng(seed)
        self.quiet = 0          # > 0 while the harness itself draws (no recording)
        self.seen_modules = set()
        self.patches = []

    # ---- patching helpers ----
    def patch(self, owner, name, value):
        self.patches.append((owner, name, owner.__dict__.get(name, _MISSING)
                             if isinstance(owner, type) else getattr(owner, name, _MISSING)))
        setattr(owner, name, value)

    def undo(self):
        for owner, name, old in reversed(self.patches):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
        self.patches.clear()

    def from_port(self, depth=2):
        return self.quiet == 0 and sys._getframe(depth).f_code.co_filename in self.port_files

    def tensor(self, array):
        return self.fw.from_numpy(np.ascontiguousarray(array))

    # ---- the hooks ----
    def install(self):
        fw = self.fw
        for name in RANDOM_FUNCTIONS:
            if hasattr(fw, name):
                self.patch(fw, name, self._random(name, getattr(fw, name)))
        self.patch(fw.nn.Dropout, "forward", self._dropout_module())
        self.patch(fw.nn.functional, "dropout", self._dropout_function(fw.nn.functional.dropout))
        for name in ("Dropout1d", "Dropout2d", "Dropout3d"):
            cls = getattr(fw.nn, name)
            self.patch(cls, "forward", self._feature_dropout_module(cls.forward))
        self.patch(fw.optim.Optimizer, "__init__", self._optimizer_init(fw.optim.Optimizer))
        self.patch(fw.nn.Module, "zero_grad", self._zero_grad(fw.nn.Module))
        self.patch(fw.Tensor, "backward", self._backward(fw.Tensor))
        for cls in _distribution_classes(fw):
            self.patch(cls, "sample", self._distribution_sample(cls.__dict__["sample"]))
        sampler = fw.utils.data.RandomSampler
        self.patch(sampler, "__iter__", self._sampler_iter(sampler.__iter__))
        if not self.record and hasattr(sampler, "index_array"):  # tinygrad_cv's batched path
            self.patch(sampler, "index_array",
                       lambda s: np.asarray(self.tape.next("sampler"), dtype=np.int64))
            self.patch(sampler, "index_chunks",      # the pass in pieces: here one piece
                       lambda s: iter([np.asarray(self.tape.next("sampler"), dtype=np.int64)]))

    def _random(self, name, original):
        def draw(*args, **kwargs):
            if not self.from_port():
                return original(*args, **kwargs)
            if self.record:
                out = original(*args, **kwargs)
                self.tape.add("random " + name, _numpy(out))
                return out
            out = self.tensor(self.tape.next("random " + name))
            if kwargs.get("requires_grad"):
                out.requires_grad_()
            return out
        return draw

    def _distribution_sample(self, original):
        def sample(dist, *args, **kwargs):
            if not self.from_port():
                return original(dist, *args, **kwargs)
            if self.record:
                out = original(dist, *args, **kwargs)
                self.tape.add("distribution sample", _numpy(out))
                return out
            return self.tensor(self.tape.next("distribution sample"))
        return sample

    def _apply_dropout(self, x, p, training):
        if not training or p == 0.0:
            return x
        if self.record:
            mask = (self.rng.random(tuple(x.shape)) >= p).astype(_numpy_dtype(x))
            self.tape.add("dropout", mask)
        else:
            mask = self.tape.next("dropout")
        return x * self.tensor(mask) * (1.0 / (1.0 - p))

    def _dropout_module(self):
        instruments = self

        def forward(module, x):
            return instruments._apply_dropout(x, module.p, module.training)
        return forward

    def _dropout_function(self, original):
        def dropout(input, p=0.5, training=True, inplace=False):
            return self._apply_dropout(input, p, training)
        return dropout

    def _feature_dropout_module(self, original):
        """Dropout1d/2d (whole channels): torch's own forward on ones gives the scaled mask
        (its channel rule, including the 2-D input case); both runs multiply by it."""
        instruments = self

        def forward(module, x):
            if not module.training or module.p == 0.0:
                return x
            if instruments.record:
                instruments.quiet += 1
                try:
                    mask = _numpy(original(module, instruments.fw.ones_like(x)))
                finally:
                    instruments.quiet -= 1
                instruments.tape.add("feature dropout", mask)
            else:
                mask = instruments.tape.next("feature dropout")
            return x * instruments.tensor(mask)
        return forward

    def _capture(self, params):
        params = list(params)
        if self.record:
            self.tape.add("weights", [_numpy(p) for p in params])
        else:
            values = self.tape.next("weights")
            assert [v.shape for v in values] == [tuple(p.shape) for p in params], \
                "the modules' parameter shapes differ between the runs"
            from tinygrad_cv import backend
            for p, v in zip(params, values):
                p.array[...] = backend.to_device(v, backend.device_of(p.array))
        self.result.param_lists.append(params)

    def _optimizer_init(self, cls):
        original = cls.__init__
        instruments = self

        def __init__(opt, *args, **kwargs):
            original(opt, *args, **kwargs)
            instruments._capture(p for g in opt.param_groups for p in g["params"])
        return __init__

    def _zero_grad(self, cls):
        original = cls.zero_grad
        instruments = self

        def zero_grad(module, *args, **kwargs):
            if id(module) not in instruments.seen_modules:
                instruments.seen_modules.add(id(module))
                instruments._capture(module.parameters())
            return original(module, *args, **kwargs)
        return zero_grad

    def _backward(self, cls):
        original = cls.backward
        instruments = self

        def backward(t, *args, **kwargs):
            if t.numel() == 1:
                instruments.result.losses.append(float(_numpy(t).reshape(())))
            return original(t, *args, **kwargs)
        return backward

    def _sampler_iter(self, original):
        instruments = self

        def __iter__(sampler):
            if instruments.record:
                consumed = instruments.tape.add("sampler", [])
                source = original(sampler)
                while True:
                    instruments.quiet += 1   # the sampler's own draws are not the script's
                    try:
                        i = next(source)
                    except StopIteration:
                        return
                    finally:
                        instruments.quiet -= 1
                    consumed.append(int(i))
                    yield i
            else:
                yield from instruments.tape.next("sampler")
        return __iter__


_MISSING = object()


def _distribution_classes(fw):
    """The classes of ``fw.distributions`` that define their own ``sample``."""
    import inspect
    return [cls for cls in vars(fw.distributions).values()
            if inspect.isclass(cls) and issubclass(cls, fw.distributions.Distribution)
            and "sample" in cls.__dict__]


def _numpy_dtype(x):
    return str(x.dtype).replace("torch.", "")


def run_port(name, framework, argv, tape, workdir, main="main.py", stdin=None):
    """Run ``tests/ports/<name>/<main>`` with ``argv`` in ``workdir``; returns a ``Result``
    (``tape=None``: a plain run, without recording or replaying).  ``stdin``: the text the
    script reads with ``input()``; reading past its end ends the run (an interactive loop)."""
    root = PORTS / name
    main_path = root / main
    port_files = {str(p) for p in root.rglob("*.py")}
    source = main_path.read_text()
    if framework == "torch":
        source = to_torch(source)
    result = Result()
    finder = _PortFinder(root, framework)
    instruments = _Instruments(framework, tape, result, port_files) if tape is not None \
        else None   # tape=None: a plain run, nothing recorded or replayed
    old_argv, old_cwd, old_stdin = sys.argv, os.getcwd(), sys.stdin
    old_modules = {m: sys.modules.pop(m) for m in list(sys.modules)
                   if finder._path(m) is not None}
    out = io.StringIO()
    sys.meta_path.insert(0, finder)
    try:
        if instruments is not None:
            instruments.install()
        sys.argv = [str(main_path), *argv]
        os.chdir(workdir)
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(source, str(main_path), "exec"),
                     {"__name__": "__main__", "__file__": str(main_path)})
            except EOFError:
                if stdin is None:
                    raise
    finally:
        if instruments is not None:
            instruments.undo()
        sys.meta_path.remove(finder)
        sys.argv, sys.stdin = old_argv, old_stdin
        os.chdir(old_cwd)
        for m in finder.loaded:
            sys.modules.pop(m, None)
        sys.modules.update(old_modules)
        result.stdout = out.getvalue()
    return result
