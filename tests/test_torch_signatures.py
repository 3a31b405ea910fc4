"""Keyword calls port unchanged: every ``nn.functional`` function and every module's
``forward`` takes torch's parameter names (``F.relu(input=x)``, ``layer(input=x)``)."""
import inspect
import warnings

import pytest
import torch
import torch.nn.functional as TF

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F

# torch names we do not take: private ones, ``out=`` buffers, and AdaptiveLogSoftmaxWithLoss's
# ``input_``/``target_`` (its forward is documented as ``(input, target)``)
IGNORED = {"out", "input_", "target_"}


def _names(fn):
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        return None


def _missing(theirs, ours):
    a, b = _names(theirs), _names(ours)
    if a is None or b is None:
        return []
    return [n for n in a if n not in b and not n.startswith("_") and n not in IGNORED]


def test_functional_parameter_names_are_torchs():
    missing = {n: _missing(getattr(TF, n), getattr(F, n)) for n in dir(TF)
               if not n.startswith("_") and callable(getattr(TF, n)) and hasattr(F, n)}
    assert {n: m for n, m in missing.items() if m} == {}


def test_module_forward_parameter_names_are_torchs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        missing = {}
        for n in dir(torch.nn):
            theirs, ours = getattr(torch.nn, n), getattr(tg.nn, n, None)
            if (n[0].isupper() and isinstance(theirs, type) and ours is not None
                    and hasattr(theirs, "forward") and hasattr(ours, "forward")):
                missing[n] = _missing(theirs.forward, ours.forward)
    assert {n: m for n, m in missing.items() if m} == {}


@pytest.mark.parametrize("call", [
    lambda m, f, x: f.relu(input=x), lambda m, f, x: f.softmax(input=x, dim=-1),
    lambda m, f, x: f.dropout(input=x, p=0.0), lambda m, f, x: f.leaky_relu(input=x),
    lambda m, f, x: m.nn.Linear(3, 2)(input=x), lambda m, f, x: m.nn.ReLU()(input=x),
    lambda m, f, x: m.nn.LayerNorm(3)(input=x), lambda m, f, x: m.nn.Flatten()(input=x)])
def test_keyword_calls_work_as_in_torch(call):
    x = tg.randn(2, 3)
    assert tuple(call(tg, F, x).shape) == tuple(call(torch, TF, torch.randn(2, 3)).shape)
