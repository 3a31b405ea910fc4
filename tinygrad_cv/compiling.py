"""``torch.compile``: the model or function itself, run eagerly.

torch.compile's contract is that the compiled callable computes what the eager one computes;
here there is no graph compiler, so the eager callable is returned (as a decorator too).  The
arguments are checked as torch checks them and otherwise have no effect.
"""
from __future__ import annotations

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,  # noqa: A001
            options=None, disable=False):
    """``model`` unchanged (``compile(fn)``, ``@compile`` and ``@compile(...)`` forms)."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(str(m) for m in _MODES[1:])}")
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError(f"compile: expected a callable model or function, got "
                           f"{type(model).__name__}")
    return model


def is_compiling():
    """False: nothing is ever being compiled."""
    return False
