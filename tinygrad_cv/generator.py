"""``tinygrad_cv.Generator``: torch.Generator's twin, a seeded random source of its own.

    g = Generator().manual_seed(42)
    randperm(10, generator=g); random_split(ds, [0.8, 0.2], generator=g)

It wraps a NumPy (or, for ``device="cuda"``, CuPy) ``Generator``; draws from it do not touch
the global generator (``tinygrad_cv.manual_seed``).  The streams are NumPy's, not torch's: the
same seed gives other numbers than in torch.
"""
from __future__ import annotations

import copy
import secrets

from . import backend
from .devices import device as _device, placement

_DEFAULT_SEED = 67280421310721   # torch's default seed for a fresh Generator


class Generator:
    """A seeded random source (``manual_seed``, ``seed``, ``initial_seed``)."""

    def __init__(self, device="cpu"):
        self._placement = placement(device)
        self.device = _device(self._placement)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns the generator (as torch)."""
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"manual_seed(): seed must be an int, got {type(seed).__name__}")
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        xp = backend.module_for_device(self._placement)
        self.rng = xp.random.default_rng(self._seed)
        return self

    def seed(self):
        """Reseed from a non-deterministic source; returns the new seed."""
        s = secrets.randbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        """The seed the stream was last started from."""
        return self._seed

    def get_state(self):
        """The stream's position (a dict: NumPy's bit-generator state; torch: a ByteTensor)."""
        return _copy_state(self.rng.bit_generator.state)

    def set_state(self, state):
        """Continue from a state returned by ``get_state``; returns the generator."""
        _set_state(self.rng, state)
        return self

    def __repr__(self):
        return f"<tinygrad_cv.Generator device={self.device} seed={self._seed}>"


def rng_of(generator, device=None):
    """The raw random generator to draw from: ``generator``'s, or the global one of ``device``."""
    if generator is None:
        return backend.get_rng(placement(device))
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tinygrad_cv.Generator, got "
                        f"{type(generator).__name__}")
    if device is not None and placement(device) != generator._placement:
        raise RuntimeError(f"a generator on {generator.device} cannot draw a tensor on "
                           f"{placement(device)}")
    return generator.rng


def _copy_state(state):
    return copy.deepcopy(state)


def _set_state(rng, state):
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise TypeError("set_state(): expected a state returned by get_state() / "
                        "get_rng_state() (a dict)")
    rng.bit_generator.state = copy.deepcopy(state)


def get_rng_state():
    """The global CPU generator's position (see ``Generator.get_state``)."""
    return _copy_state(backend.get_rng("cpu").bit_generator.state)


def set_rng_state(new_state):
    """Continue the global CPU generator from ``get_rng_state()``'s result."""
    _set_state(backend.get_rng("cpu"), new_state)
