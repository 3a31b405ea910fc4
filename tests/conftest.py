"""Shared fixtures: the devices to run on (cpu; cuda when CuPy sees a GPU), thread counts."""
import os

import pytest
from hypothesis import settings

from tinygrad_cv import backend
from tinygrad_cv.threads import get_num_threads, set_num_threads

# CI replays the same hypothesis examples on every run (derandomize); a developer's run draws
# new ones, so the search for edge cases goes on where a failure can be looked at.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# TINYGRAD_CV_EMULATE_CUDA=1: the cuda device runs on tests/cupy_emulator.py (NumPy underneath,
# CuPy's strictness about host arrays), so `-k cuda` checks device placement without a GPU;
# =default also makes it the default device, so every test's tensors live there.
if os.environ.get("TINYGRAD_CV_EMULATE_CUDA") and not backend.cuda_available():
    import cupy_emulator

    cupy_emulator.install()
    if os.environ.get("TINYGRAD_CV_EMULATE_CUDA") == "default":   # every tensor on it
        backend.set_default_device("cuda")

DEVICES = ["cpu"] + (["cuda"] if backend.cuda_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Each test that takes ``device`` runs once per available device."""
    return request.param


@pytest.fixture
def to_device(device):
    """Move a numpy array onto the fixture's device (numpy stays numpy on cpu)."""
    return lambda a: backend.to_device(a, device)


@pytest.fixture
def torch_on_one_thread():
    """Tiny tensors: torch's thread pool only adds contention on a loaded machine (modules
    comparing many small cases with torch use it through ``pytest.mark.usefixtures``)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def two_threads():
    """Two intra-op threads for the test (``tinygrad_cv.threads``), the count restored after."""
    before = get_num_threads()
    set_num_threads(2)
    yield
    set_num_threads(before)


@pytest.fixture(scope="module")
def softmax_ckpt(tmp_path_factory):
    """A softmax classifier's checkpoint from a one-epoch `tinygrad-cv train` (CLI tests)."""
    from tinygrad_cv.cli import main

    out = tmp_path_factory.mktemp("softmax")
    assert main(["train", "--model", "softmax", "--epochs", "1", "--out", str(out),
                 "--no-progress"]) == 0
    return out / "checkpoint.safetensors"


@pytest.fixture
def host_default_device():
    """The CPU as default device for one test (tests that build their data as host arrays
    and read results back through ``.array``; under TINYGRAD_CV_EMULATE_CUDA=default they
    would otherwise mix devices), the run's default restored after."""
    saved = backend.get_default_device()
    backend.set_default_device("cpu")
    yield
    backend.set_default_device(saved)


@pytest.fixture(autouse=True)
def _keep_the_default_device():
    """Every test starts on the run's default device (an in-process CLI run sets the process
    default; a test that sets it for itself must not leave it to the next)."""
    saved = backend.get_default_device()
    yield
    backend.set_default_device(saved)
