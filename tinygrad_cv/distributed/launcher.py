"""How this process was started: under an MPI launcher (``mpiexec``, ``srun``) or not, and the
``mpiexec`` command that starts ``n`` copies of a Python program (tests and benchmarks).

A launcher tells each process its place through environment variables before ``MPI_Init``:
MPICH's Hydra and Intel MPI set ``PMI_RANK``/``PMI_SIZE``, Open MPI ``OMPI_COMM_WORLD_SIZE``,
Slurm ``PMI_*`` or ``PMIX_RANK``.  Without any of them ``MPI_Init`` would quietly start a world
of one, which is never what a distributed run wants, so ``init_process_group`` checks here first.
"""
from __future__ import annotations

import os
import shutil
import sys

__all__ = ["LAUNCHER_VARIABLES", "launched_world_size", "under_launcher", "find_mpiexec",
           "mpiexec_command"]

# (variable holding the world size or rank, launcher) in the order they are looked at
LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                      "MPI_LOCALNRANKS")


def under_launcher(environ=None) -> bool:
    """True when an MPI launcher started this process."""
    env = os.environ if environ is None else environ
    return any(name in env for name in LAUNCHER_VARIABLES)


def launched_world_size(environ=None):
    """The number of processes the launcher started, when it says (else None)."""
    env = os.environ if environ is None else environ
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if env.get(name, "").isdigit():
            return int(env[name])
    return None


def find_mpiexec():
    """The ``mpiexec`` of the MPI library mpi4py uses: next to this Python first (the
    ``mpich`` wheel installs it into the virtual environment's ``bin``), then on ``PATH``;
    None when there is none."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec")


def mpiexec_command(n, argv, python=None, extra=()):
    """``[mpiexec, -n, n, *extra, python, *argv]``; RuntimeError when no ``mpiexec`` exists."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError("no 'mpiexec' found next to the Python interpreter or on PATH; "
                           "install the MPI extra: pip install 'tinygrad_cv[distributed]'")
    return [mpiexec, "-n", str(int(n)), *extra, python or sys.executable, *argv]
