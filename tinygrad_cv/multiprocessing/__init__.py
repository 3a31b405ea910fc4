"""``torch.multiprocessing``: Python's ``multiprocessing`` (``Process``, ``Queue``, ``Pool``,
``set_start_method``, ``get_context``, ...) with tensors that cross process boundaries through
shared memory (``reductions``): a model whose ``share_memory()`` was called and is handed to
worker processes (fork, spawn or forkserver) is one model; the workers' in-place updates are
seen by every process (Hogwild training).  ``spawn(fn, args, nprocs)`` runs ``fn(i, *args)``
in ``nprocs`` processes and raises a child's failure in the parent (``spawn.py``)."""
from __future__ import annotations

import multiprocessing

from . import reductions
from .spawn import (ProcessContext, ProcessException, ProcessExitedException,  # noqa: F401
                    ProcessRaisedException, spawn, start_processes)

# Process, Queue, Pool, set_start_method, get_context, ... as Python's
globals().update({name: getattr(multiprocessing, name) for name in multiprocessing.__all__})

__all__ = multiprocessing.__all__ + ["get_sharing_strategy", "set_sharing_strategy",
                                     "get_all_sharing_strategies", "spawn", "start_processes",
                                     "ProcessContext", "ProcessException",
                                     "ProcessRaisedException", "ProcessExitedException"]

reductions.register()

_STRATEGY = "file_system"


def get_all_sharing_strategies():
    """The ways host tensors are shared: named shared-memory segments."""
    return {"file_system"}


def get_sharing_strategy():
    return _STRATEGY


def set_sharing_strategy(new_strategy):
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"sharing strategy {new_strategy!r} is not one of "
                         f"{sorted(get_all_sharing_strategies())}")

