"""Only tinygrad_cv/backend.py may import numpy or cupy: everything else gets its array module
from the data (``backend.get_array_module``), so the same code runs on the CPU and the GPU."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("tinygrad_cv", "models", "classic")
ALLOWED = {pathlib.Path("tinygrad_cv/backend.py")}
FORBIDDEN = ("numpy", "cupy", "cupyx")


def _forbidden(module_name):
    return module_name is not None and module_name.split(".")[0] in FORBIDDEN


def violations(source, filename="<string>"):
    """(line, what) for each numpy/cupy import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and _forbidden(node.module):
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name in ("__import__", "import_module") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and \
                        _forbidden(arg.value):
                    found.append((node.lineno, f"{name}({arg.value!r})"))
    return found


def _python_files():
    for pkg in PACKAGES:
        base = ROOT / pkg
        if base.is_dir():
            yield from sorted(base.rglob("*.py"))


def test_only_backend_imports_numpy_or_cupy():
    bad = []
    for path in _python_files():
        rel = path.relative_to(ROOT)
        if rel in ALLOWED:
            continue
        for line, what in violations(path.read_text(encoding="utf-8"), str(rel)):
            bad.append(f"{rel}:{line}: {what}")
    assert not bad, ("use tinygrad_cv.backend.get_array_module(x) instead of importing the "
                     "array library:\n" + "\n".join(bad))


def test_the_scan_sees_the_packages():
    files = [p.relative_to(ROOT) for p in _python_files()]
    assert pathlib.Path("tinygrad_cv/tensor.py") in files
    assert pathlib.Path("tinygrad_cv/backend.py") in files


@pytest.mark.parametrize("source", [
    "import numpy", "import numpy as np", "import cupy as cp", "import cupyx.scipy",
    "import os, numpy.linalg", "from numpy import zeros", "from numpy.lib import stride_tricks",
    "from cupyx import scatter_add", "np = __import__('numpy')",
    "import importlib\nxp = importlib.import_module('cupy')",
    "def f():\n    import numpy\n    return numpy",
])
def test_detects_every_spelling(source):
    assert violations(source)


@pytest.mark.parametrize("source", [
    "from . import backend", "from .numpy_helpers import x", "import numbers",
    "from hypothesis.extra import numpy as hnp", "xp = backend.get_array_module(x)",
])
def test_allows_other_imports(source):
    assert not violations(source)
