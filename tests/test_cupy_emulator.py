"""The CuPy emulator (``cupy_emulator.py``) is as strict as CuPy where code written for NumPy
breaks on a GPU, and the framework's device-parametrised tests pass on it.

Without a GPU, ``test_the_suite_passes_with_the_emulated_gpu_as_the_default_device`` runs the
rest of the suite again with cuda (the emulator) as the default device
(``TINYGRAD_CV_EMULATE_CUDA=default``): the ``cuda`` half of every device-parametrised test, and
every other test with its tensors on the emulated GPU."""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import cupy_emulator
import tinygrad_cv as tg
from tinygrad_cv import backend
import tinygrad_cv.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def cp():
    if backend.cuda_available() and not isinstance(backend._cupy, type(cupy_emulator.cupy)):
        pytest.skip("a real GPU is present: the device tests run on it")
    with cupy_emulator.installed() as module:
        yield module


# ---- the emulator is as strict as CuPy ------------------------------------------------------
def test_host_arrays_do_not_mix_with_device_arrays(cp):
    a = cp.arange(6, dtype=np.float32).reshape(2, 3)
    host = np.ones(3, dtype=np.float32)
    for mix in (lambda: a + host, lambda: host + a, lambda: cp.add(a, host),
                lambda: cp.concatenate([a, host[None]]), lambda: a.clip(host, 5.0),
                lambda: a + np.ones((), np.float32), lambda: a + [1, 2, 3]):
        with pytest.raises(TypeError, match="Unsupported type"):
            mix()
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        a[0] = host
    # what CuPy takes: host data into asarray, scalars, host index arrays, advanced assignment
    b = cp.asarray(host)
    assert isinstance(a + b, cp.ndarray) and isinstance(a * np.float32(2), cp.ndarray)
    assert a[np.array([1, 0])].shape == (2, 3)
    a[np.array([0]), np.array([1])] = np.array([7.0], np.float32)
    assert a.get()[0, 1] == 7.0 and type(a.get()) is np.ndarray


def test_results_are_device_arrays_and_not_indexes(cp):
    a = cp.arange(4)
    for value in (a.sum(), a[1], cp.max(a), a.mean()):
        assert isinstance(value, cp.ndarray) and value.shape == ()
    assert int(a.sum()) == 6 and float(a[1]) == 1.0 and bool(a[1])
    with pytest.raises(TypeError):
        range(a.sum())
    view = a[1]
    view[...] = 9                        # a 0-d view, as CuPy's integer indexing gives
    assert int(a[1]) == 9


def test_only_names_cupy_has(cp):
    for missing in ("broadcast_shapes", "errstate", "lib.stride_tricks.foo"):
        with pytest.raises(AttributeError):
            obj = cp
            for part in missing.split("."):
                obj = getattr(obj, part)
    rng = cp.random.default_rng(0)
    for missing in ("normal", "choice", "permutation", "shuffle"):
        with pytest.raises(AttributeError):
            getattr(rng, missing)
    assert rng.standard_normal((2,), dtype=np.float32).dtype == np.float32
    with pytest.raises(NotImplementedError):
        cp.lib.stride_tricks.sliding_window_view(cp.arange(5), 2, writeable=True)
    with pytest.raises(AttributeError):
        cp.arange(3).resize                 # not a method of cupy.ndarray


def test_generator_position_is_a_device_array(cp):
    rng = cp.random.default_rng(3)
    saved = rng.bit_generator._state.copy()
    first = rng.random(4).get()
    rng.bit_generator._state[...] = saved
    np.testing.assert_array_equal(rng.random(4).get(), first)


def test_operators_defer_to_tensors(cp):
    t = tg.ones(3, device="cuda")
    out = cp.arange(3, dtype=np.float32) * t
    assert isinstance(out, tg.Tensor) and out.device == "cuda"


# ---- framework defects the emulator found ------------------------------------------------
@pytest.mark.filterwarnings("ignore:To copy construct")
def test_tensor_and_as_tensor_put_arrays_on_the_default_device_as_torch(cp):
    """torch: with a default device set, ``tensor``/``as_tensor``/``asarray`` of an array or a
    tensor go to it; ``from_numpy`` and the ``Tensor(...)`` constructor stay on the CPU."""
    host = np.ones(3, dtype=np.float32)
    torch.set_default_device("meta")
    try:
        theirs = {name: fn(host).device.type != "cpu" for name, fn in (
            ("tensor", torch.tensor), ("as_tensor", torch.as_tensor),
            ("asarray", torch.asarray), ("from_numpy", torch.from_numpy),
            ("Tensor", torch.Tensor))}
        theirs["tensor of a cpu tensor"] = torch.tensor(torch.ones(2, device="cpu")).device.type \
            != "cpu"
    finally:
        torch.set_default_device(None)
    backend.set_default_device("cuda")
    ours = {name: fn(host).device != "cpu" for name, fn in (
        ("tensor", tg.tensor), ("as_tensor", tg.as_tensor), ("asarray", tg.asarray),
        ("from_numpy", tg.from_numpy), ("Tensor", tg.Tensor))}
    ours["tensor of a cpu tensor"] = tg.tensor(tg.ones(2, device="cpu")).device != "cpu"
    assert ours == theirs
    assert tg.tensor(host, device="cpu").device == "cpu"
    model = tg.nn.Linear(3, 2)                        # parameters on the default device too
    assert model(tg.tensor(host[None])).device == "cuda"


def test_broadcasting_functions_run_on_the_device(cp):
    """cosine_similarity, cdist's matrix path and distribution shapes used the array module's
    ``broadcast_shapes``, which CuPy does not have."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 1, 5)), rng.standard_normal((1, 3, 5))
    x, y = rng.standard_normal((2, 30, 4)), rng.standard_normal((1, 26, 4))
    for fn in (lambda d: F.cosine_similarity(tg.tensor(a, device=d), tg.tensor(b, device=d),
                                             dim=-1),
               lambda d: tg.cdist(tg.tensor(x, device=d), tg.tensor(y, device=d)),
               lambda d: tg.distributions.Normal(tg.tensor(a, device=d),
                                                 tg.tensor(np.abs(b), device=d)).log_prob(
                                                     tg.tensor(b, device=d))):
        on_gpu, on_cpu = fn("cuda"), fn("cpu")
        assert on_gpu.device == "cuda"
        np.testing.assert_allclose(on_gpu.cpu().numpy(), on_cpu.numpy(), rtol=1e-12)


# ---- the whole suite on the emulated GPU -----------------------------------------------------
def test_the_suite_passes_with_the_emulated_gpu_as_the_default_device():
    """Every other test file again, with every tensor a test makes without a device on the
    emulated GPU and the ``cuda`` half of each device-parametrised test (about 3.5 minutes
    on one core)."""
    if backend.cuda_available():
        pytest.skip("a real GPU is present: the device tests run on it directly")
    env = dict(os.environ, TINYGRAD_CV_EMULATE_CUDA="default", PYTHONDONTWRITEBYTECODE="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
         "-m", "not slow", "--ignore", "tests/test_cupy_emulator.py", "tests"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 4500, summary                  # the whole suite ran


# ---- every CLI command with --device cuda ---------------------------------------------------
def _cli(*argv):
    from tinygrad_cv.cli import main

    assert main([str(a) for a in argv]) == 0, argv


@pytest.fixture
def photos(tmp_path):
    """Two overlapping crops of scikit-image's astronaut, and a small copy of it."""
    from PIL import Image
    from skimage import data

    image = Image.fromarray(data.astronaut())
    paths = [tmp_path / name for name in ("left.png", "right.png", "small.png")]
    image.crop((0, 0, 300, 256)).save(paths[0])
    image.crop((150, 0, 450, 256)).save(paths[1])
    image.resize((96, 96)).save(paths[2])
    return paths


def test_classic_commands_run_on_the_emulated_gpu(cp, photos, tmp_path):
    left, right, small = photos
    for command in ("canny", "hough", "harris", "segment"):
        _cli(command, small, tmp_path / f"{command}.png", "--device", "cuda")
    _cli("seam-carve", small, tmp_path / "carved.png", "--width", 80, "--device", "cuda")
    _cli("sift-match", left, right, tmp_path / "matches.png", "--device", "cuda")
    _cli("stitch", left, right, tmp_path / "panorama.png", "--device", "cuda")
    for name in ("canny", "hough", "harris", "segment", "carved", "matches", "panorama"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0


@pytest.mark.parametrize("model,train_args,use", [
    ("cnn", ["--epochs", 1], ["eval"]),
    ("ddpm", ["--minutes", 0.01], ["sample", "--steps", 5, "--num", 16]),
    ("gan", ["--minutes", 0.01], ["sample", "--num", 16]),
    ("vqvae", ["--steps", 3], ["sample", "--num", 16]),
    ("caption-lstm", ["--minutes", 0.01], ["caption", "--split", "test"]),
])
def test_models_train_and_run_on_the_emulated_gpu(cp, tmp_path, model, train_args, use):
    out = tmp_path / model
    _cli("train", "--model", model, *train_args, "--device", "cuda", "--no-progress",
         "--out", out)
    checkpoint = out / "checkpoint.safetensors"
    extra = ["--no-progress"] if use[0] == "sample" else []
    outputs = ["--out", tmp_path / "used"] if use[0] != "eval" else []
    _cli(use[0], checkpoint, *use[1:], *extra, *outputs, "--device", "cuda")


def test_cpu_scalars_join_gpu_tensors_in_elementwise_ops_as_torch(cp):
    """torch lets a 0-d CPU tensor take part in an elementwise op with CUDA tensors (the
    result is on the GPU); ``where(gpu_condition, 1, 0)`` makes its numbers on the
    condition's device.  Both failed on the GPU (a device error, or host arrays reaching
    CuPy)."""
    x = tg.tensor([0.2, 0.7, -1.5], device="cuda", requires_grad=True)
    s = tg.tensor(2.0)
    host = np.array([0.2, 0.7, -1.5], dtype=np.float32)
    cases = {
        "x * s + s": (lambda: x * s + s, host * 2 + 2),
        "s - x": (lambda: s - x, 2 - host),
        "maximum": (lambda: tg.maximum(x, s), np.maximum(host, 2)),
        "clamp": (lambda: x.clamp(min=-s, max=s * 0.25), np.clip(host, -2, 0.5)),
        "pow": (lambda: x.pow(s), host ** 2),
        "where numbers": (lambda: tg.where(x > 0.5, 1, 0), (host > 0.5).astype(np.int64)),
        "where scalar": (lambda: tg.where(x > 0.5, s, x), np.where(host > 0.5, 2, host)),
        "lerp": (lambda: tg.lerp(x, x * 3, tg.tensor(0.75)), host + 0.75 * 2 * host),
        "comparison": (lambda: x > s, host > 2),
    }
    for name, (fn, expected) in cases.items():
        out = fn()
        assert out.device == "cuda", name
        np.testing.assert_allclose(out.detach().cpu().numpy(), expected, rtol=1e-6, err_msg=name)
    (x * s).sum().backward()
    assert x.grad.device == "cuda"
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match="same device"):
        tg.stack([x[0], s])                           # not elementwise: torch raises too
    with pytest.raises(RuntimeError, match="same device"):
        x * tg.tensor(2.0, requires_grad=True)        # a scalar needing a gradient stays put
