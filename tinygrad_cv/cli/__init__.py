"""The ``tinygrad-cv`` command line (also ``python -m tinygrad_cv``).

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands; every sub-command sets ``func(args) -> int`` as its handler.
Exit codes: 0 success, 1 a clear error about a file, the data or the machine (one line on
stderr), 2 bad arguments (argparse, or a ``UsageError`` found after parsing: usage line and
message), 130 interrupted.  No traceback reaches the user: an unexpected exception is reported
as one line asking for a bug report (a backstop; every expected problem has its own message).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

COMMAND_MODULES = (
    "tinygrad_cv.cli.classic_commands",
    "tinygrad_cv.cli.learn_commands",
    "tinygrad_cv.cli.sample_commands",
    "tinygrad_cv.cli.caption_commands",
)

ISSUES_HINT = "this is a bug in tinygrad-cv: please report it with the command line you ran"


class CLIError(Exception):
    """An error reported to the user as one line on stderr with exit status 1."""


class UsageError(CLIError):
    """A bad argument value or combination found after parsing: the command's usage line and
    the message on stderr, exit status 2 (like argparse's own errors)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-cv",
                                     description="tinygrad_cv: deep learning and classic computer vision")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _command_parser(parser, command):
    """The sub-parser of ``command`` (for its usage line), else the top-level parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command, parser)
    return parser


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:     # a misspelt option: the command's own usage line shows the right ones
        _command_parser(parser, args.command).error(
            f"unrecognized arguments: {' '.join(unknown)}")
    name = f"tinygrad-cv {args.command}"
    try:
        with warnings.catch_warnings():
            # floating-point overflow inside the arrays (a learning rate far too high): the
            # run's own checks report what matters (a diverged loss, non-finite samples)
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    message="(overflow|invalid value|divide by zero) encountered")
            return int(args.func(args) or 0)
    except UsageError as exc:
        _command_parser(parser, args.command).error(str(exc))  # exits 2 with the usage line
    except CLIError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{name}: error: out of memory (try a smaller input, batch size or --num)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # backstop: every expected problem is a CLIError above
        print(f"{name}: unexpected error: {type(exc).__name__}: {_first_line(exc)} "
              f"({ISSUES_HINT})", file=sys.stderr)
        return 1
