"""The ported PyTorch scripts (tests/ports/) run with tinygrad_cv and with PyTorch on the same
data, initial weights and random numbers (tests/ports/harness.py), in a short form; their
losses and final weights must agree.

Tolerance ("as close as float32 allows"): each loss and each weight must satisfy
``|ours - torch| <= 1e-5 * |torch| + 1e-5 * scale``, where ``scale`` is the largest loss of
the run, or the largest weight of the model.  The absolute term is needed where float32
rounding meets cancellation: a loss that falls to 1e-3 from 30 (regression) is a difference
of nearly equal numbers, and a parameter whose exact gradient is zero (the key bias of
attention: softmax ignores a constant added to a row) gets Adam steps of +-lr from rounding
noise in both frameworks, in different directions.  The measured worst differences are
printed with ``-s`` and listed in the README.
"""
import hashlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

PORTS = Path(__file__).resolve().parent / "ports"
sys.path.append(str(PORTS))   # harness, portdata
from harness import Tape, run_port  # noqa: E402

RTOL = 1e-5

# The scripts pick their device from torch.cuda / torch.accelerator: under the CuPy emulator
# (tests/cupy_emulator.py) this framework sees a GPU and torch does not, so the two runs take
# different paths by design.
pytestmark = pytest.mark.skipif(bool(os.environ.get("TINYGRAD_CV_EMULATE_CUDA")),
                                reason="ports compare runs on the same device kind")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """PyTorch on one thread: its thread pool costs far more than it gains on these small
    ops (4x slower on a loaded two-core machine), and tinygrad_cv runs on one as well."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run_both(name, argv, tmp_path, monkeypatch, main="main.py", files=(), all_events=True,
              python_seed=None):
    """``python_seed``: Python's ``random`` seeded so before each run (scripts that draw from
    it, unseeded, give both runs the same draws)."""
    monkeypatch.setenv("PORTS_SMALL", "1")
    tape = Tape()
    results = []
    for framework in ("torch", "tinygrad_cv"):
        if python_seed is not None:
            random.seed(python_seed)
        workdir = tmp_path / framework
        workdir.mkdir(exist_ok=True)
        for f in files:
            shutil.copy(PORTS / name / f, workdir)
        results.append(run_port(name, framework, argv, tape, workdir, main=main))
    if all_events:
        assert tape.position == len(tape.events), "the tinygrad_cv run used fewer events"
    return results


def _close(ours, ref, scale, tol=RTOL):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    excess = np.abs(ours - ref) - tol * (np.abs(ref) + scale)
    assert excess.max(initial=-1.0) <= 0.0, \
        f"max |diff| {np.abs(ours - ref).max():.3g} beyond {tol:g} (|ref| + {scale:.3g})"
    return float(np.abs(ours - ref).max() / scale) if ref.size else 0.0


def _compare(name, ref, ours, min_losses, loss_tol=RTOL, weight_tol=RTOL):
    assert len(ref.losses) >= min_losses and len(ours.losses) == len(ref.losses)
    loss_scale = max(abs(x) for x in ref.losses)
    loss_diff = _close(ours.losses, ref.losses, loss_scale, loss_tol)
    ref_params, our_params = ref.final_params(), ours.final_params()
    assert ref_params and len(ref_params) == len(our_params)
    weight_diff = 0.0
    for rp, op in zip(ref_params, our_params):
        scale = max(float(np.abs(r).max()) for r in rp)
        for r, o in zip(rp, op):
            weight_diff = max(weight_diff, _close(o, r, scale, weight_tol))
    print(f"{name}: {len(ref.losses)} losses, worst |diff| / scale: losses {loss_diff:.2g}, "
          f"weights {weight_diff:.2g}")


_IMPORT = re.compile(r"^\s*(import\s|from\s+\S+\s+import\s)")
_HEADER_END = ("unchanged", "imports only", "empty there too")


def _without_header(text):
    """``text`` without the port's header (from '# Ported from' to the line that ends it)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Ported from"))
    end = next(i for i in range(start, len(lines)) if any(e in lines[i] for e in _HEADER_END))
    return lines[:start] + lines[end + 1:]


def test_ports_differ_from_their_sources_only_in_imports_and_data():
    """Every ported file, without its header and import lines (and with the data lines that
    SOURCES.json names restored), hashes to the source file at the named commit without its
    import lines: nothing else was edited."""
    sources = json.loads((PORTS / "SOURCES.json").read_text())
    ported = {str(p.relative_to(PORTS)) for p in PORTS.rglob("*.py")} - {"harness.py",
                                                                        "portdata.py"}
    assert ported == set(sources)
    for name, source in sources.items():
        lines = _without_header((PORTS / name).read_text())
        assert any(line.startswith("# Ported from https://github.com/" + source["repository"])
                   for line in (PORTS / name).read_text().splitlines()[:3])
        assert source["commit"] in (PORTS / name).read_text()
        restored = [source.get("data_lines", {}).get(line, line) for line in lines]
        body = "\n".join(line for line in restored if not _IMPORT.match(line))
        assert hashlib.sha256(body.encode()).hexdigest() == source["sha256_without_imports"], \
            f"{name} differs from {source['repository']}/{source['path']} beyond its imports"


def test_mnist(tmp_path, monkeypatch):
    ref, ours = _run_both("mnist", ["--epochs", "1", "--batch-size", "32", "--test-batch-size",
                                    "32", "--log-interval", "1"], tmp_path, monkeypatch)
    _compare("mnist", ref, ours, min_losses=2)
    assert "Test set: Average loss" in ours.stdout


def test_mnist_rnn(tmp_path, monkeypatch):
    """LSTM over the image rows, BatchNorm1d, Dropout2d on 2-D input (torch's channel rule
    for it is replayed as its mask), Adadelta, a shuffled test loader."""
    ref, ours = _run_both("mnist_rnn", ["--epochs", "1", "--batch-size", "16",
                                        "--test-batch-size", "32", "--log-interval", "1"],
                          tmp_path, monkeypatch)
    _compare("mnist_rnn", ref, ours, min_losses=4)
    assert "Test set: Average loss" in ours.stdout


def test_mnist_forward_forward(tmp_path, monkeypatch):
    """Hinton's forward-forward training: two layers, each with its own Adam, trained on
    positive and negative (wrong-label) overlays; the negative labels are the script's
    unseeded torch.randint draws (replayed).  Weights at 1e-4: Adam divides each update by the
    root of its squared gradient, so a weight whose gradient is at rounding level (pixels the
    label overlay zeroes) moves by up to lr in a direction set by rounding; measured 4e-5 of
    the largest weight after 3 steps (torch seeded 0), the losses 2e-7."""
    import torch
    torch.manual_seed(0)   # the script never seeds (its --seed is unused)
    ref, ours = _run_both("mnist_forward_forward", ["--epochs", "3", "--train_size", "64",
                                                    "--test_size", "32", "--log-interval", "1"],
                          tmp_path, monkeypatch)
    _compare("mnist_forward_forward", ref, ours, min_losses=6, weight_tol=1e-4)
    assert ours.stdout.splitlines()[-1].startswith("test error:")


def test_vae(tmp_path, monkeypatch):
    for framework in ("torch", "tinygrad_cv"):
        (tmp_path / framework / "results").mkdir(parents=True)
    ref, ours = _run_both("vae", ["--epochs", "1", "--batch-size", "32", "--log-interval", "1"],
                          tmp_path, monkeypatch)
    _compare("vae", ref, ours, min_losses=2)
    assert (tmp_path / "tinygrad_cv" / "results" / "sample_1.png").exists()


def test_dcgan(tmp_path, monkeypatch):
    ref, ours = _run_both("dcgan", ["--dataset", "mnist", "--dataroot", ".", "--batchSize", "8",
                                    "--ngf", "8", "--ndf", "8", "--nz", "16", "--niter", "1",
                                    "--manualSeed", "1", "--workers", "0", "--outf", "out",
                                    "--dry-run"], tmp_path, monkeypatch)
    _compare("dcgan", ref, ours, min_losses=3)
    assert (tmp_path / "tinygrad_cv" / "out" / "netG_epoch_0.pth").exists()


def test_super_resolution(tmp_path, monkeypatch):
    """ESPCN (convolutions, PixelShuffle, orthogonal init) on digits enlarged 3x, 4 Adam steps,
    PSNR on the test set, then torch.save(model) of the whole model each epoch."""
    ref, ours = _run_both("super_resolution", ["--upscale_factor", "3", "--batchSize", "16",
                                               "--testBatchSize", "16", "--nEpochs", "1",
                                               "--threads", "0"], tmp_path, monkeypatch)
    _compare("super_resolution", ref, ours, min_losses=4)
    import tinygrad_cv as tg
    from tinygrad_cv.serialization import WeightsOnlyError
    with pytest.raises(WeightsOnlyError, match="model.Net"):   # the script's own class
        tg.load(tmp_path / "tinygrad_cv" / "model_epoch_1.pth")


def test_word_language_model(tmp_path, monkeypatch):
    """The LSTM model, one epoch of 20 steps at lr 20, then torch.save(model) / torch.load
    with the script's safe_globals list and the test evaluation."""
    data = str(PORTS / "word_language_model" / "data" / "tiny")
    ref, ours = _run_both("word_language_model",
                          ["--data", data, "--model", "LSTM", "--emsize", "16", "--nhid", "16",
                           "--nlayers", "1", "--dropout", "0.2", "--epochs", "1",
                           "--batch_size", "4", "--bptt", "8", "--log-interval", "5",
                           "--save", "model.pt"], tmp_path, monkeypatch)
    _compare("word_language_model", ref, ours, min_losses=20)
    assert "End of training | test loss" in ours.stdout


def test_word_language_model_onnx_export_matches_the_saved_model(tmp_path, monkeypatch):
    """The script's own ending: torch.save(model, f), torch.load with its safe_globals list,
    then torch.onnx.export(model, (dummy_input, hidden), path) of the 2-layer LSTM.  The
    exported graph, run by onnxruntime on other tokens and states, gives the outputs of the
    model loaded back from the saved file.  (tinygrad_cv only: torch's exporter needs the
    onnxscript package.)"""
    import importlib.util

    import onnxruntime as ort

    import tinygrad_cv as tg
    from tinygrad_cv.serialization import WeightsOnlyError, safe_globals
    monkeypatch.setenv("PORTS_SMALL", "1")
    data = str(PORTS / "word_language_model" / "data" / "tiny")
    run_port("word_language_model", "tinygrad_cv",
             ["--data", data, "--emsize", "16", "--nhid", "16", "--epochs", "1",
              "--batch_size", "4", "--bptt", "8", "--save", "model.pt",
              "--onnx-export", "model.onnx"], None, tmp_path)
    # the saved model's class is the script's model.RNNModel: loaded only when allowed
    spec = importlib.util.spec_from_file_location("model", PORTS / "word_language_model" /
                                                  "model.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "model", module)
    spec.loader.exec_module(module)
    with pytest.raises(WeightsOnlyError, match="model.RNNModel"):
        tg.load(tmp_path / "model.pt")
    with safe_globals([module.RNNModel]):
        model = tg.load(tmp_path / "model.pt")
    model.eval()
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 10, size=(8, 1)).astype(np.int64)
    h, c = rng.normal(size=(2, 2, 1, 16)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"))
    got = sess.run(None, dict(zip([i.name for i in sess.get_inputs()], [tokens, h, c])))
    with tg.no_grad():
        out, (h1, c1) = model(tg.tensor(tokens), (tg.tensor(h), tg.tensor(c)))
    for g, w in zip(got, [out.array, h1.array, c1.array], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_word_language_model_transformer_keeps_torch_parameter_order():
    """TransformerModel subclasses nn.Transformer and re-assigns ``self.decoder`` (a
    TransformerDecoder, then a Linear): the name keeps its place in the parameter order, as in
    torch, so optimizers and state dicts list the parameters alike.  (Training this variant
    is not compared: torch's attention dropout runs inside its fused kernel, out of the
    harness's reach.)"""
    import types

    from harness import to_torch
    names = []
    for framework in ("torch", "tinygrad_cv"):
        source = (PORTS / "word_language_model" / "model.py").read_text()
        module = types.ModuleType(f"wlm_model_{framework}")
        exec(compile(to_torch(source) if framework == "torch" else source, module.__name__,
                     "exec"), module.__dict__)
        model = module.TransformerModel(30, 16, 2, 16, 2, 0.0)
        names.append([(n, tuple(p.shape)) for n, p in model.named_parameters()])
    assert names[1] == names[0]


def test_gcn(tmp_path, monkeypatch):
    """A graph convolutional network on a synthetic graph in Cora's format (sparse features
    and adjacency, torch.spmm), 3 Adam steps with weight decay, validation and test."""
    ref, ours = _run_both("gcn", ["--epochs", "3", "--val-every", "1"], tmp_path, monkeypatch)
    _compare("gcn", ref, ours, min_losses=3)
    assert "Test set results" in ours.stdout



@pytest.mark.parametrize("heads", ["average", pytest.param("concat", marks=pytest.mark.slow)])
def test_gat(heads, tmp_path, monkeypatch):
    """A graph attention network on the synthetic graph in Cora's format (portdata's
    requests stand-in, as the GCN port): dense attention over the adjacency (``torch.where``
    masking, softmax, dropout on the attention), heads averaged or (slow, ~3 s more)
    concatenated (``permute(1, 0, 2).contiguous().view``), ELU, log-softmax, NLLLoss, Adam
    with weight decay; hidden size 16 and 4 heads in place of 64 and 8, 2 epochs (short)."""
    argv = ["--epochs", "2" if heads == "average" else "1", "--val-every", "1",
            "--hidden-dim", "16", "--num-heads", "4"] + (["--concat-heads"]
                                                          if heads == "concat" else [])
    ref, ours = _run_both("gat", argv, tmp_path, monkeypatch)
    _compare(f"gat ({heads})", ref, ours, min_losses=1)
    from harness import _numpy     # Adam's first step is about lr * sign(gradient): check them
    for rp, op in zip(ref.param_lists[0], ours.param_lists[0], strict=True):
        rg, og = _numpy(rp.grad), _numpy(op.grad)
        _close(og, rg, float(np.abs(rg).max()))
    results = [[line.split(")", 1)[1] if line.startswith("Epoch") else line
                for line in run.stdout.splitlines() if line.startswith(("Epoch", "Test set"))]
               for run in (ref, ours)]
    assert results[1] and results[1] == results[0]


class _InlineProcess:
    """A ``Process`` that runs its target in this process when started (the workers one
    after the other, in rank order: the deterministic form of Hogwild for the replay)."""

    def __init__(self, target, args=(), kwargs=None, **_):
        self.target, self.args, self.kwargs = target, args, kwargs or {}

    def start(self):
        self.target(*self.args, **self.kwargs)

    def join(self, timeout=None):
        pass


_HOGWILD = ["--epochs", "1", "--batch-size", "16", "--test-batch-size", "32",
            "--log-interval", "1", "--num-processes", "2"]


def _inline_workers(monkeypatch):
    import torch.multiprocessing
    import tinygrad_cv.multiprocessing
    for mp in (torch.multiprocessing, tinygrad_cv.multiprocessing):
        monkeypatch.setattr(mp, "Process", _InlineProcess)
        monkeypatch.setattr(mp, "set_start_method", lambda *a, **k: None)


def test_mnist_hogwild(tmp_path, monkeypatch):
    """Hogwild MNIST (``model.share_memory()``, workers training one model with their own SGD
    and shuffled DataLoader, Dropout2d, then the test pass on the parent's model), with the
    two workers run one after the other in this process, so the losses are comparable. The
    weights are captured at each worker's optimizer (the second capture replays torch's
    weights after the first worker: they are compared first), and compared at the end."""
    _inline_workers(monkeypatch)
    import tinygrad_cv.optim
    from harness import _numpy
    before_capture = []
    sgd_init = tinygrad_cv.optim.SGD.__init__

    def init(optimizer, params, *args, **kwargs):
        params = list(params)
        before_capture.append([_numpy(p) for p in params])
        sgd_init(optimizer, params, *args, **kwargs)
    monkeypatch.setattr(tinygrad_cv.optim.SGD, "__init__", init)
    tape = Tape()
    monkeypatch.setattr(sys.modules[__name__], "Tape", lambda: tape)
    ref, ours = _run_both("mnist_hogwild", _HOGWILD, tmp_path, monkeypatch)
    _compare("mnist_hogwild", ref, ours, min_losses=8)
    recorded = [value for kind, value in tape.events if kind == "weights"]
    assert len(recorded) == len(before_capture) == 2
    scale = max(float(np.abs(r).max()) for r in recorded[1])
    worst = max(_close(o, r, scale) for o, r in zip(before_capture[1], recorded[1], strict=True))
    print(f"mnist_hogwild: weights after the first worker, worst |diff| / scale: {worst:.2g}")
    tests = [[line for line in run.stdout.splitlines() if line.startswith("Test set:")]
             for run in (ref, ours)]
    assert tests[1] and tests[1] == tests[0]


def test_mnist_hogwild_trains_the_parent_model_from_spawned_processes(tmp_path, monkeypatch):
    """The script as it is (``set_start_method('spawn')``, real worker processes) with one
    worker: its test pass, on the parent's model after the worker trained it in shared
    memory, equals the run with the worker inline (same seeds, same draws)."""
    import subprocess
    monkeypatch.setenv("PORTS_SMALL", "1")
    argv = [a if a != "2" else "1" for a in _HOGWILD]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PORTS), str(PORTS.parent.parent)]))
    real = subprocess.run([sys.executable, str(PORTS / "mnist_hogwild" / "main.py"), *argv],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert real.returncode == 0, real.stderr[-2000:]
    _inline_workers(monkeypatch)
    inline = run_port("mnist_hogwild", "tinygrad_cv", argv, None, tmp_path)
    lines = [[line.split("\t", 1)[-1] for line in out.splitlines()
              if line.startswith("Test set:") or "Train Epoch" in line]
             for out in (real.stdout, inline.stdout)]
    assert len(lines[1]) == 5 and lines[0] == lines[1]

def test_mingpt(tmp_path, monkeypatch):
    """chargpt with minGPT's model and trainer: gpt-nano, 3 AdamW steps, the sampled
    completion at iteration 0 (multinomial draws replayed) and the state-dict save."""
    ref, ours = _run_both("mingpt", ["--trainer.max_iters=3", "--trainer.batch_size=4",
                                     "--data.block_size=16", "--model.model_type=gpt-nano",
                                     "--trainer.num_workers=0", "--system.work_dir=out"],
                          tmp_path, monkeypatch, main="chargpt.py", files=["input.txt"])
    _compare("mingpt", ref, ours, min_losses=3)
    completion = [line for line in ours.stdout.splitlines() if line.startswith("O God, O God!")]
    assert completion and completion == [line for line in ref.stdout.splitlines()
                                         if line.startswith("O God, O God!")]


@pytest.mark.slow  # ~10 s: 1000 predicted steps are fixed in the script (no shorter form)
def test_time_sequence_prediction(tmp_path, monkeypatch):
    """generate_sine_wave.py writes the data with torch.save (a NumPy array), train.py
    loads it and takes one LBFGS step (20 closure evaluations of two LSTMCells over 99 time
    steps, float64), then predicts 1000 steps ahead and plots.  float64: equal to ~1e-15."""
    # torch >= 2.6 refuses the script's own torch.load of a pickled NumPy array by default
    # (weights_only); tinygrad_cv's file holds the array as data, so it loads as it is
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    tape = Tape()
    results = []
    for framework in ("torch", "tinygrad_cv"):
        workdir = tmp_path / framework
        workdir.mkdir()
        run_port("time_sequence_prediction", framework, [], Tape(), workdir,
                 main="generate_sine_wave.py")
        results.append(run_port("time_sequence_prediction", framework, ["--steps", "1"], tape,
                                workdir, main="train.py"))
    ref, ours = results
    _compare("time_sequence_prediction", ref, ours, min_losses=20)
    assert (tmp_path / "tinygrad_cv" / "predict0.pdf").exists()
    assert ours.stdout.splitlines()[-1].startswith("test loss:")


def _polynomial(stdout, which):
    """The coefficients of the regression script's printed "==> {which} function:" line."""
    line = next(l for l in stdout.splitlines() if l.startswith(f"==> {which} function:"))
    return np.array([float(t) for t in re.findall(r"[-+]\d+\.\d+", line.split("y =")[1])])


def test_regression(tmp_path, monkeypatch):
    """Runs until the loss is below 1e-3, updating p.data in place.

    The features go up to x^4 with x ~ N(0, 1), and plain SGD at lr 0.1 crossing that
    ill-conditioned valley amplifies float32 rounding chaotically: the two runs agree to
    ~1e-7 over the first steps, then drift apart (measured up to 5e-4 of the largest loss),
    and may stop a few hundred steps apart (seeds 0-5: 334 to 830 steps, equal counts for
    some seeds only).  So: the first 20 steps are compared at 1e-5, and both runs must
    reach the script's stopping criterion and learn the same function (predictions on x ~ N(0, 1)
    as the target to 2% of its largest coefficient)."""
    import torch
    torch.manual_seed(0)   # the script draws its target polynomial unseeded
    ref, ours = _run_both("regression", [], tmp_path, monkeypatch, all_events=False)
    first = slice(0, 20)
    _close(ours.losses[first], ref.losses[first], max(ref.losses[first]))
    for result in (ref, ours):
        assert result.stdout.startswith("Loss: ") and result.losses[-1] < 1e-3
    # the same function learned: each run's printed polynomial is the target's to 2% of the
    # largest coefficient (the coefficients of the two runs need not agree closer: x^4
    # features make a flat valley whose far point depends on float32 rounding, hence on the
    # BLAS kernel; OPENBLAS_CORETYPE=Haswell moved one coefficient by 1.2% of the scale)
    for result in (ref, ours):
        learned, actual = _polynomial(result.stdout, "Learned"), _polynomial(result.stdout, "Actual")
        assert np.abs(learned - actual).max() <= 0.02 * np.abs(actual).max(), result.stdout
    np.testing.assert_array_equal(_polynomial(ours.stdout, "Actual"),
                                  _polynomial(ref.stdout, "Actual"))


@pytest.mark.parametrize("name", ["reinforce", "actor_critic"])
def test_reinforcement_learning(name, tmp_path, monkeypatch):
    """REINFORCE and actor-critic on CartPole (portdata's gymnasium stand-in, seeded by the
    script; PORTS_SMALL: 25-step episodes, solved at a running reward of 12): a policy
    network's softmax, ``Categorical(probs)`` with its ``sample`` replayed and ``log_prob``
    differentiated, discounted returns through ``torch.tensor(deque/list)`` and ``std``,
    smooth_l1_loss on ``torch.tensor([0-d tensor])`` (actor-critic), Dropout (REINFORCE), an
    Adam step per episode.  The same actions in both runs, so the same episodes."""
    ref, ours = _run_both(name, ["--log-interval", "1"], tmp_path, monkeypatch,
                          main=f"{name}.py")
    _compare(name, ref, ours, min_losses=3)
    assert ours.stdout.splitlines()[-1].startswith("Solved! Running reward is now")
    assert ours.stdout == ref.stdout


def _legendre_result(stdout):
    """a, b, c, d of the tutorial's last line 'Result: y = a + b * P3(c + d x)'."""
    match = re.fullmatch(r"Result: y = (\S+) \+ (\S+) \* P3\((\S+) \+ (\S+) x\)",
                         stdout.splitlines()[-1])
    assert match, stdout[-200:]
    return np.array([float(v) for v in match.groups()])


@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")  # its docstring
def test_polynomial_custom_function(tmp_path, monkeypatch):
    """The autograd tutorial's LegendrePolynomial3: a torch-style autograd.Function whose
    forward and backward compute on Tensors (``ctx.save_for_backward``/``saved_tensors``),
    applied in 2000 steps of hand-written gradient descent on 0-d leaves (``a -= lr * a.grad``
    under no_grad, ``a.grad = None``).  Every loss, and the learned coefficients (a and c are
    rounding noise around 0 in both: their exact gradients vanish by symmetry)."""
    ref, ours = _run_both("polynomial_custom_function", [], tmp_path, monkeypatch,
                          main="polynomial_custom_function.py")
    assert len(ref.losses) == len(ours.losses) == 2000
    loss_diff = _close(ours.losses, ref.losses, max(ref.losses))
    ref_coef, our_coef = _legendre_result(ref.stdout), _legendre_result(ours.stdout)
    assert ref_coef.shape == our_coef.shape == (4,)
    coef_diff = _close(our_coef, ref_coef, np.abs(ref_coef).max())
    print(f"polynomial_custom_function: worst |diff| / scale: losses {loss_diff:.2g}, "
          f"coefficients {coef_diff:.2g}")


def test_siamese_network(tmp_path, monkeypatch):
    """Two digits through a shared ResNet-18 (portdata's torchvision stand-in, conv1 replaced
    by a 1-channel one, the fc dropped through ``list(children())[:-1]``), their features
    concatenated, Linear-ReLU-Linear-Sigmoid, BCELoss, Adadelta, StepLR; the pairs come from
    a Dataset built on ``MNIST.data``/``targets`` tensors (``np.array(targets.clone(),
    dtype=None, copy=None)``) and Python's unseeded ``random`` (seeded alike here).
    ``--dry-run``: one training step, then the test pass (``torch.where(outputs > 0.5, 1, 0)``,
    ``eq``/``view_as``)."""
    ref, ours = _run_both("siamese_network", ["--batch-size", "4", "--test-batch-size", "16",
                                              "--epochs", "1", "--no-accel", "--dry-run"],
                          tmp_path, monkeypatch, python_seed=0)
    # The gradients are float32-sensitive here (0-255 pixels into a batch-normed ResNet,
    # batches of 4, so 4 values per channel in layer4's batch norm): in float64 by torch,
    # torch's float32 gradient is off by 4e-5 of each parameter's largest gradient, ours by
    # 7e-5 (measured); the two float32 runs differ by up to 1.6e-4.  So the gradients of the
    # step are checked at 1e-3 of each parameter's largest gradient, and the weights after
    # Adadelta's step (which moves a weight with a small gradient by about that gradient:
    # measured 1.4e-4 of the largest weight) at 5e-4; the loss at 1e-5.
    _compare("siamese_network", ref, ours, min_losses=1, weight_tol=5e-4)
    from harness import _numpy
    worst = 0.0
    for rp, op in zip(ref.param_lists[0], ours.param_lists[0], strict=True):
        rg, og = _numpy(rp.grad), _numpy(op.grad)
        worst = max(worst, float(np.abs(og - rg).max() / np.abs(rg).max()))
    assert worst <= 1e-3, f"gradients differ by {worst:.3g} of their largest value"
    print(f"siamese_network: gradients, worst |diff| / largest: {worst:.2g}")
    tests = [[line for line in run.stdout.splitlines() if line.startswith("Test set:")]
             for run in (ref, ours)]
    assert tests[1] and tests[1] == tests[0]


_TRANSLATOR = ["--batch", "8", "--attn_heads", "2", "--enc_layers", "2", "--dec_layers", "2",
               "--embed_size", "16", "--dim_feedforward", "32", "--dropout", "0",
               "--logging_dir", "logs/"]


def _translate(tmp_path, monkeypatch, epochs, lr):
    """Train the translation script's nn.Transformer in both frameworks, then translate three
    sentences with its greedy decoder (``--inference``, reading them as its prompt loop does)
    from each framework's own best checkpoint; returns the two training and inference runs."""
    import logging
    import torch
    torch.manual_seed(0)   # the script never seeds: its initial weights (recorded)
    before = list(logging.getLogger().handlers)
    try:
        ref, ours = _run_both("language_translation", ["-e", str(epochs), "--lr", str(lr)]
                              + _TRANSLATOR, tmp_path, monkeypatch)
        sentences = "Ein Mann trinkt Kaffee.\nZwei Kinder spielen im Garten.\nEin Hund\n"
        translations = [run_port("language_translation", framework,
                                 ["--inference", "--model_path", "logs/best.pt"] + _TRANSLATOR,
                                 None, tmp_path / framework, stdin=sentences)
                        for framework in ("torch", "tinygrad_cv")]
    finally:   # the script adds a console (and basicConfig's file) handler to the root logger
        for handler in list(logging.getLogger().handlers):
            if handler not in before:
                logging.getLogger().removeHandler(handler)
                handler.close()
    return ref, ours, translations


def _compare_translator(ref, ours, steps, lr, embed=16):
    """Losses and weights at 1e-5, but for the key biases of attention: softmax ignores a
    constant added to a row, so their exact gradient is 0, and Adam (eps 1e-9 here) turns the
    rounding noise each framework leaves there into steps of up to lr in either direction;
    those are checked within ``steps * lr``."""
    for run in (ref, ours):
        params = run.final_params()[0]
        in_proj_biases = [p for p in params if p.shape == (3 * embed,)]
        assert len(in_proj_biases) == 2 + 2 * 2   # encoder self, decoder self and cross
        run.key_biases = [p[embed:2 * embed].copy() for p in in_proj_biases]
        for p in in_proj_biases:
            p[embed:2 * embed] = 0.0
        run.final_params = lambda params=params: [params]
    worst = max(float(np.abs(o - r).max()) for r, o in zip(ref.key_biases, ours.key_biases))
    assert worst <= steps * lr, f"key biases differ by {worst:.3g} after {steps} steps"
    print(f"language_translation: key biases differ by {worst:.2g} ({worst / lr:.2g} lr)")
    _compare("language_translation", ref, ours, min_losses=steps)


def test_language_translation(tmp_path, monkeypatch):
    """nn.Transformer seq2seq on portdata's tiny German-English corpus (in place of
    Multi30k and spacy): 2 epochs of 3 Adam steps (batches of 8 padded sentences: key padding
    masks, a float causal mask with a bool source mask, CrossEntropyLoss(ignore_index=pad)),
    a validation pass each epoch, state_dict save, then greedy decoding of three sentences
    from the saved model (``torch.load`` + ``load_state_dict``).  Dropout 0: torch's attention
    dropout runs inside its fused kernel, where the harness cannot share the masks."""
    ref, ours, translations = _translate(tmp_path, monkeypatch, epochs=2, lr=1e-3)
    _compare_translator(ref, ours, steps=6, lr=1e-3)
    assert translations[1].stdout.count(">") == 4   # three translations, then end of input
    assert translations[1].stdout == translations[0].stdout


@pytest.mark.slow  # 2-5 s (60 steps; the short form above runs in the default suite)
def test_language_translation_learns_to_translate(tmp_path, monkeypatch):
    """20 epochs at lr 3e-3 (60 Adam steps): both frameworks' greedy decoders translate the
    first sentence, and the same way."""
    ref, ours, translations = _translate(tmp_path, monkeypatch, epochs=20, lr=3e-3)
    _compare_translator(ref, ours, steps=60, lr=3e-3)
    assert translations[1].stdout == translations[0].stdout
    assert translations[1].stdout.splitlines()[0] == ">  The man drinks coffee . "


def _neural_style_data(tmp_path, images):
    """Training photos (``data/images/<k>.png``, 40x48, so Resize and CenterCrop both act)
    and a 32x32 style image of our own (portdata.synthetic_photo)."""
    import portdata
    (tmp_path / "data" / "images").mkdir(parents=True)
    for k in range(images):
        portdata.synthetic_photo(k, 40, 48).save(tmp_path / "data" / "images" / f"{k}.png")
    portdata.synthetic_photo(100, 32, 32).save(tmp_path / "style.png")
    portdata.synthetic_photo(200, 24, 20).save(tmp_path / "content.png")


def test_fast_neural_style(tmp_path, monkeypatch):
    """The fast-neural-style script's ``train`` (TransformerNet: reflection padding, instance
    norms, nearest upsampling; portdata's VGG-16 with fixed stand-in weights in place of
    ImageNet's; gram matrices through ``bmm``; ``div_`` on the network's output; Adam) for one
    step on two 32x32 crops, then its ``eval``: the model saved by tinygrad_cv's run
    (``torch.save(state_dict)``) stylises a 24x20 image in both frameworks.

    The script's loss is float32-sensitive (style weight 1e10 on gram matrices of VGG
    features): PyTorch's float32 gradient is off by up to 1.3e-3 of each parameter's largest
    gradient from its float64 one (measured), ours by up to 8e-4, so the gradients are
    compared at 3e-3.  The convolution biases before an instance norm and the residual
    blocks' last norm biases have an exact gradient of 0 (a per-channel constant is
    normalised away): both runs' gradients there must be rounding noise.  Adam's first step
    is ``lr * sign(gradient)``, so the weights are compared at 1e-5 where the gradient is above
    1% of its parameter's largest (the sign is sure) and within 2 lr elsewhere."""
    _neural_style_data(tmp_path, images=2)
    lr = 1e-3
    ref, ours = _run_both("fast_neural_style",
                          ["train", "--dataset", "../data", "--style-image", "../style.png",
                           "--save-model-dir", "models", "--epochs", "1", "--batch-size", "2",
                           "--image-size", "32", "--log-interval", "1", "--lr", str(lr),
                           "--checkpoint-model-dir", "ckpt", "--checkpoint-interval", "1"],
                          tmp_path, monkeypatch, main="neural_style.py")
    assert len(ref.losses) == len(ours.losses) == 1
    loss_diff = _close(ours.losses, ref.losses, max(ref.losses))
    from harness import _numpy
    ref_params, our_params = ref.param_lists[0], ours.param_lists[0]
    assert len(ref_params) == len(our_params) == 62
    largest = max(float(np.abs(_numpy(p.grad)).max()) for p in ref_params)
    scale = max(float(np.abs(_numpy(p)).max()) for p in ref_params)
    worst_grad = worst_weight = 0.0
    zero_gradients = 0
    for rp, op in zip(ref_params, our_params, strict=True):
        rg, og = _numpy(rp.grad), _numpy(op.grad)
        rw, ow = _numpy(rp), _numpy(op)
        if np.abs(rg).max() < 1e-6 * largest:          # exactly 0 in exact arithmetic
            zero_gradients += 1            # (measured: below 5e-8 of the largest in both)
            assert np.abs(og).max() < 1e-6 * largest
            assert np.abs(ow - rw).max() <= 2 * lr * 1.0001
            continue
        worst_grad = max(worst_grad, float(np.abs(og - rg).max() / np.abs(rg).max()))
        sure = np.abs(rg) >= 0.01 * np.abs(rg).max()
        worst_weight = max(worst_weight, _close(ow[sure], rw[sure], scale))
        assert np.abs(ow - rw).max() <= 2 * lr * 1.0001
    assert zero_gradients == 15 + 5    # the 15 convolutions before norms, 5 residual ends
    assert worst_grad <= 3e-3, f"gradients differ by {worst_grad:.3g} of their largest value"
    print(f"fast_neural_style: 1 loss, worst |diff| / scale: loss {loss_diff:.2g}, gradients "
          f"{worst_grad:.2g}, weights (sure signs) {worst_weight:.2g}")
    lines = [[re.sub(r"^.*?\tEpoch", "Epoch", line) for line in run.stdout.splitlines()
              if "\tEpoch" in line] for run in (ref, ours)]
    assert len(lines[1]) == 1 and lines[1][0].startswith("Epoch 1:\t[2/2]")
    # eval: tinygrad_cv's saved model, also written as a torch file for the torch run
    import tinygrad_cv as tg
    import torch
    ours_model = next((tmp_path / "tinygrad_cv" / "models").glob("epoch_1_*.model"))
    state = tg.load(ours_model)
    # the checkpoint after the one batch (transformer.eval().cpu(), then .to(device).train())
    checkpoint = tg.load(tmp_path / "tinygrad_cv" / "ckpt" / "ckpt_epoch_0_batch_id_1.pth")
    assert list(checkpoint) == list(state) and len(state) == 62   # no running stats
    for key, value in state.items():
        np.testing.assert_array_equal(checkpoint[key].numpy(), value.numpy())
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()},
               tmp_path / "torch" / "ours.model")
    images = []
    for framework, model in (("torch", "ours.model"), ("tinygrad_cv", f"models/{ours_model.name}")):
        run_port("fast_neural_style", framework,
                 ["eval", "--content-image", "../content.png", "--model", model,
                  "--output-image", "out.png"], None, tmp_path / framework,
                 main="neural_style.py")
        from PIL import Image
        images.append(np.asarray(Image.open(tmp_path / framework / "out.png"), np.int16))
    # eval's ONNX path (``--model *.onnx``: onnxruntime, then ``torch.from_numpy``), on the
    # model exported by tinygrad_cv.onnx (the script's own ``torch.onnx._export`` is gone from
    # torch too) at the content image's size
    import types
    module = types.ModuleType("fast_neural_style_transformer_net")
    source = PORTS / "fast_neural_style" / "transformer_net.py"
    exec(compile(source.read_text(), str(source), "exec"), module.__dict__)
    net = module.TransformerNet()
    net.load_state_dict(state)
    net.eval()
    tg.onnx.export(net, tg.zeros(1, 3, 20, 24), tmp_path / "tinygrad_cv" / "style.onnx")
    run_port("fast_neural_style", "tinygrad_cv",
             ["eval", "--content-image", "../content.png", "--model", "style.onnx",
              "--output-image", "out_onnx.png"], None, tmp_path / "tinygrad_cv",
             main="neural_style.py")
    images.append(np.asarray(Image.open(tmp_path / "tinygrad_cv" / "out_onnx.png"), np.int16))
    assert images[1].shape == images[0].shape == images[2].shape == (20, 24, 3)
    # uint8 by truncation: a value within rounding of an integer may land on either side
    for other in images[1:]:
        assert np.abs(other - images[0]).max() <= 1 and (other == images[0]).mean() > 0.99



@pytest.mark.slow   # ~10 s: four steps of the style network and VGG-16 in both frameworks
def test_fast_neural_style_trains_for_two_epochs(tmp_path, monkeypatch):
    """Two epochs of two Adam steps on four 32x32 crops.  Adam's first step moves each
    weight by lr times the sign of its gradient, and the signs of the gradients at rounding
    level (as in the one-step test) differ between any two float32 runs; the script's
    sensitivity (style weight 1e10) turns those weights into loss differences that grow
    with the steps: measured 0, 1.7e-6, 1.7e-5 and 7.9e-5 of the largest loss, so the losses
    are compared at 2e-4, and both runs must lower the loss at every step."""
    _neural_style_data(tmp_path, images=4)
    ref, ours = _run_both("fast_neural_style",
                          ["train", "--dataset", "../data", "--style-image", "../style.png",
                           "--save-model-dir", "models", "--epochs", "2", "--batch-size", "2",
                           "--image-size", "32", "--log-interval", "1"],
                          tmp_path, monkeypatch, main="neural_style.py")
    assert len(ref.losses) == len(ours.losses) == 4
    worst = _close(ours.losses, ref.losses, max(ref.losses), tol=2e-4)
    for run in (ref, ours):
        assert all(b < a for a, b in zip(run.losses, run.losses[1:])), run.losses
    print(f"fast_neural_style (2 epochs): worst loss |diff| / largest {worst:.2g}")

_IMAGENET = ["--dummy", "-a", "resnet18", "-j", "0", "-b", "8", "-p", "1", "--no-accel",
             "--seed", "0"]


def _to_framework(value, tg):
    """A torch checkpoint's contents with each tensor made a tinygrad_cv tensor."""
    import torch
    if isinstance(value, torch.Tensor):
        return tg.from_numpy(value.detach().numpy().copy())
    if isinstance(value, dict):
        return type(value)((k, _to_framework(v, tg)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_to_framework(v, tg) for v in value)
    return value


def _checkpoint_tensors(ours, ref):
    """The (ours, torch) tensor pairs of two checkpoint entries, after checking that they
    have the same keys, types, shapes, dtypes and plain values."""
    from harness import _numpy
    if hasattr(ref, "detach"):
        assert hasattr(ours, "array") and tuple(ours.shape) == tuple(ref.shape)
        assert str(ours.dtype) == str(ref.dtype).replace("torch.", "")
        return [(_numpy(ours), _numpy(ref))]
    if isinstance(ref, dict):
        assert list(ours) == list(ref), (list(ours), list(ref))
        return [pair for k in ref for pair in _checkpoint_tensors(ours[k], ref[k])]
    if isinstance(ref, (list, tuple)):
        assert len(ours) == len(ref)
        return [pair for o, r in zip(ours, ref) for pair in _checkpoint_tensors(o, r)]
    assert ours == ref, (ours, ref)
    return []


def _compare_checkpoints(ours, ref, tols):
    """Every entry of the two checkpoints alike (``_checkpoint_tensors``); the tensors of each
    top-level entry (the weights and batch-norm statistics, the momentum buffers, ...) within
    ``tols[entry]`` (default the port tolerance) of that entry's largest value; returns the
    worst relative difference of each entry."""
    worst = {}
    assert list(ours) == list(ref)
    for key in ref:
        pairs = _checkpoint_tensors(ours[key], ref[key])
        scale = max([float(np.abs(r).max()) for _, r in pairs if r.size], default=0.0)
        worst[key] = max([_close(o, r, scale, tols.get(key, RTOL)) for o, r in pairs],
                         default=0.0)
    return worst


def _imagenet_first_epoch(tmp_path, monkeypatch):
    """One epoch of the ImageNet script in both frameworks (one SGD step, the validation
    pass, the checkpoint); compares the losses, weights, printed accuracies and every entry of
    the two checkpoints."""
    import torch
    import tinygrad_cv as tg
    ref, ours = _run_both("imagenet", _IMAGENET + ["--epochs", "1"], tmp_path, monkeypatch)
    _compare("imagenet", ref, ours, min_losses=1)
    # the progress lines (0-d tensors formatted by the meters), without their timings
    progress = [[re.sub(r"(Time|Data) +\S+ \( *\S+\)\t", "", line)
                 for line in run.stdout.splitlines() if line.startswith(("Epoch", "Test", " *"))]
                for run in (ref, ours)]
    assert len(progress[1]) == 3 and progress[1] == progress[0], progress
    checkpoints = [torch.load(tmp_path / "torch" / "checkpoint.pth.tar"),
                   tg.load(tmp_path / "tinygrad_cv" / "checkpoint.pth.tar")]
    assert checkpoints[0]["epoch"] == 1 and len(checkpoints[0]["state_dict"]) == 122
    scheduler_keys = set(checkpoints[0]["scheduler"]) - set(checkpoints[1]["scheduler"])
    assert scheduler_keys <= {"_is_initial", "_get_lr_called_within_step"}   # torch's internals
    for state in checkpoints:
        for key in scheduler_keys:
            state["scheduler"].pop(key, None)
    # the momentum buffers are the step's gradients (+ weight decay): float32 gradients of
    # a batch-normed ResNet, off from float64's by up to 3e-5 of their largest in torch too
    worst = _compare_checkpoints(checkpoints[1], checkpoints[0], {"optimizer": 1e-4})
    print("imagenet: checkpoint entries, worst |diff| / largest: " +
          ", ".join(f"{k} {v:.2g}" for k, v in worst.items() if v))


def _imagenet_evaluate(tmp_path, epoch):
    """``--evaluate --resume checkpoint.pth.tar`` in each framework from its own file: the
    printed loss (5 digits) and the accuracy summary agree."""
    evaluations = [run_port("imagenet", framework, _IMAGENET + ["--evaluate", "--resume",
                                                                "checkpoint.pth.tar"],
                            None, tmp_path / framework) for framework in ("torch", "tinygrad_cv")]
    losses = [float(re.search(r"Loss (\S+) ", run.stdout).group(1)) for run in evaluations]
    assert f"(epoch {epoch})" in evaluations[1].stdout and "Epoch:" not in evaluations[1].stdout
    assert abs(losses[1] - losses[0]) <= 1e-4 * abs(losses[0])
    assert evaluations[1].stdout.splitlines()[-1] == evaluations[0].stdout.splitlines()[-1]


def test_imagenet(tmp_path, monkeypatch):
    """The ImageNet script with ``--dummy`` (portdata's FakeData: 8 random 32x32 images,
    1000 classes), ``-a resnet18`` (looked up in portdata's ``models.__dict__``) and
    ``--seed 0``, on the CPU without distributed: one SGD step (momentum 0.9, weight decay
    1e-4, StepLR), the validation pass (top-1/top-5 accuracy through ``topk``, meters
    formatting 0-d tensors) and ``torch.save`` of its checkpoint (model, optimizer with
    momentum buffers, scheduler, ``best_acc1`` tensor): every entry of tinygrad_cv's
    checkpoint equals torch's (but the scheduler's two private flags of torch, which
    tinygrad_cv's scheduler skips when it loads torch's), the momentum buffers (the step's
    gradients) at 1e-4.  Then ``--evaluate --resume`` of each one's checkpoint
    (``torch.load``, ``load_state_dict``)."""
    _imagenet_first_epoch(tmp_path, monkeypatch)
    _imagenet_evaluate(tmp_path, epoch=1)


@pytest.mark.slow   # ~10 s on a loaded 2-core machine (the short form above runs by default)
def test_imagenet_resumes_training(tmp_path, monkeypatch):
    """After the first epoch, ``--resume`` for a second (``load_state_dict`` of the model,
    the optimizer's momentum buffers and the scheduler, then one more SGD step, validation
    and checkpoint), then ``--evaluate --resume`` of that checkpoint.

    The resumed runs start from torch's checkpoint in both frameworks (turned into a
    tinygrad_cv file): from the two frameworks' own step-1 weights, which differ by 4e-6 of
    the largest weight (float32 rounding), the step-2 loss differs by 2e-5 and the step-2
    gradients of layer 4 by up to 16% (measured without a seed: batch norms over 8 values per
    channel at 1x1, lr 0.1), while from equal weights both frameworks' gradients are within
    4e-5 of float64's (measured), so the resumed step is compared at 1e-5."""
    import torch
    import tinygrad_cv as tg
    _imagenet_first_epoch(tmp_path, monkeypatch)
    tg.save(_to_framework(torch.load(tmp_path / "torch" / "checkpoint.pth.tar"), tg),
            tmp_path / "tinygrad_cv" / "checkpoint.pth.tar")
    ref, ours = _run_both("imagenet", _IMAGENET + ["--epochs", "2", "--resume",
                                                   "checkpoint.pth.tar"], tmp_path, monkeypatch)
    _compare("imagenet (resumed)", ref, ours, min_losses=1)
    for run in (ref, ours):
        assert "=> loaded checkpoint 'checkpoint.pth.tar' (epoch 1)" in run.stdout
        assert "Epoch: [1][1/1]" in run.stdout and "Epoch: [0]" not in run.stdout
    _imagenet_evaluate(tmp_path, epoch=2)
