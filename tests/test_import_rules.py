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


# ---- the library never imports its applications ----------------------------------------------
APPLICATIONS = ("tinygrad_cv.cli", "models", "classic")
ENTRY_POINT = pathlib.Path("tinygrad_cv/__main__.py")   # ``python -m tinygrad_cv`` runs the CLI


def imported_modules(source, module_name, is_package=False):
    """Absolute names of every module ``source`` imports (relative imports resolved against
    ``module_name``; imports inside functions included)."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module
            names.append(target)
            names += [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) \
                in ("import_module", "__import__") and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.append(node.args[0].value)
    return names


def _is_application(name):
    return any(name == app or name.startswith(app + ".") for app in APPLICATIONS)


def test_the_library_never_imports_the_cli_models_or_classic():
    bad = []
    for path in sorted((ROOT / "tinygrad_cv").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("tinygrad_cv", "cli") or rel == ENTRY_POINT:
            continue
        module = ".".join(rel.with_suffix("").parts)
        is_package = path.name == "__init__.py"
        if is_package:
            module = module.rpartition(".")[0]
        for name in imported_modules(path.read_text(encoding="utf-8"), module, is_package):
            if _is_application(name):
                bad.append(f"{rel}: imports {name}")
    assert not bad, ("the library (tinygrad_cv outside tinygrad_cv/cli) must not import its "
                     "applications:\n" + "\n".join(bad))


@pytest.mark.parametrize("source,module,found", [
    ("from .cli import main", "tinygrad_cv.io", "tinygrad_cv.cli"),
    ("from ..cli.common import x", "tinygrad_cv.nn.module", "tinygrad_cv.cli.common"),
    ("from ... import cli", "tinygrad_cv.nn.functional.conv", "tinygrad_cv.cli"),
    ("import models.registry", "tinygrad_cv.io", "models.registry"),
    ("def f():\n    from classic import edges", "tinygrad_cv.viz", "classic"),
    ("import importlib\nm = importlib.import_module('models.training')", "tinygrad_cv.io",
     "models.training"),
])
def test_the_application_scan_resolves_every_spelling(source, module, found):
    names = imported_modules(source, module)
    assert found in names and any(_is_application(n) for n in names)


def test_the_application_scan_allows_the_library():
    names = imported_modules("from . import backend\nfrom .nn import functional", "tinygrad_cv.io")
    assert not any(_is_application(n) for n in names)
