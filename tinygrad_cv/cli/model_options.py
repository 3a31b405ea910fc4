"""Command-line options built from the model registry (``models.registry``), and the mapping of
the registry's errors onto the CLI's exit codes.

Every model declares its own options (name, type, default, help); a command adds one
``--name`` per distinct name over the models it serves, with a help line that says which
models take it and each one's default.  An option given for a model that does not take it
is a usage error (exit 2), not silently ignored.
"""
from __future__ import annotations

import argparse
import contextlib

from tinygrad_cv.cli import CLIError, UsageError


def _format_default(value):
    if value is None:
        return "unset"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def _argparse_type(option):
    def parse(text):
        try:
            return option.type(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = getattr(option.type, "what", option.name)
    return parse


def add_model_options(parser, entries, attr="options"):
    """Add ``--name`` for every option in ``getattr(entry, attr)`` over ``entries``; the value
    is None when not given (the model then uses its own default)."""
    by_name = {}
    for entry in entries:
        for option in getattr(entry, attr):
            by_name.setdefault(option.name, []).append((entry, option))
    for name, pairs in by_name.items():
        option = pairs[0][1]
        shown = [(e, o.default_help or _format_default(o.default)) for e, o in pairs]
        if len({text for _, text in shown}) == 1:
            default = shown[0][1]
        else:
            default = ", ".join(f"{e.name} {text}" for e, text in shown)
        takers = "" if len(pairs) == len(entries) else \
            ", ".join(e.name for e, _ in pairs) + ": "
        text = f"{takers}{option.help} (default: {default})".replace("%", "%%")
        if option.flag:
            parser.add_argument(option.cli_name, action="store_const", const=True, default=None,
                                help=text)
        elif option.choices is not None:
            parser.add_argument(option.cli_name, choices=option.choices, default=None, help=text)
        else:
            parser.add_argument(option.cli_name, type=_argparse_type(option), default=None,
                                metavar=name.upper(), help=text)


def given_options(args, entry, entries, attr="options", what=None, extra=()):
    """``{name: value}`` of ``entry``'s options given on the command line.  Options of the
    other ``entries`` that were given (and ``extra`` flags, pairs of (name, given) that
    ``entry`` does not take) raise a UsageError naming them."""
    own = [o.name for o in getattr(entry, attr)]
    every = {o.name for e in entries for o in getattr(e, attr)}
    wrong = [n for n in sorted(every - set(own)) if getattr(args, n, None) is not None]
    wrong += [n for n, given in extra if given]
    if wrong:
        flags = ", ".join("--" + n.replace("_", "-") for n in sorted(wrong))
        own_flags = ", ".join("--" + n.replace("_", "-") for n in own) or "none"
        raise UsageError(f"{flags} {'does' if len(wrong) == 1 else 'do'} not apply to "
                         f"{what or '--model ' + entry.name} (its own options: {own_flags})")
    return {n: getattr(args, n) for n in own if getattr(args, n, None) is not None}


@contextlib.contextmanager
def model_errors():
    """The registry's errors as the CLI's: bad options -> UsageError (exit 2); an unusable
    checkpoint, a diverged training run, a missing extra or data set -> one CLIError line
    (exit 1)."""
    from models.registry import ModelLoadError, OptionError
    from models.training import TrainingDiverged
    from tinygrad_cv.io import CheckpointError

    try:
        yield
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    except (ModelLoadError, CheckpointError, TrainingDiverged) as exc:
        raise CLIError(str(exc)) from None
    except ImportError as exc:
        raise CLIError(str(exc)) from None
