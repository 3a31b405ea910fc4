"""Shared fixtures: the devices to run on (cpu always, cuda when CuPy sees a GPU)."""
import pytest

from tinygrad_cv import backend

DEVICES = ["cpu"] + (["cuda"] if backend.cuda_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Each test that takes ``device`` runs once per available device."""
    return request.param


@pytest.fixture
def to_device(device):
    """Move a numpy array onto the fixture's device (numpy stays numpy on cpu)."""
    return lambda a: backend.to_device(a, device)
